//! `cargo xtask bench guest [--board=B] [--quick]`: the agent against a static C receiver
//! and a static C client inside one qemu guest (`board/scenarios/bench-guest.long`).
//!
//! Loss: for every interface count (more interfaces = more message parts per snapshot at
//! the module's fastest period, one jiffy), each receiver runs the same number of seconds in
//! rotating order; a level is lossless for a receiver when no run there lost a sample (no
//! sequence gap, no ENOBUFS). Its highest lossless rate is the median received rate
//! (messages/s) of the busiest lossless level. CPU time per 1,000 samples is the median
//! over that level's runs (utime + stime from `/proc/PID/stat`, 10 ms ticks).
//! Round trip: one GET_SAMPLE as a whole command (`nltelem get` vs `nlt-client once`), the
//! median of 50 runs per round, then the median over rounds; the C client's in-process
//! round trip is printed for scale.
//! TCG guests are slow and noisy: every figure is a median of interleaved runs.

use crate::board::{take_board_option, Board, DEFAULT_BOARD};
use crate::reliability_guest::{build_overlay_image, median, num, text, GuestRun};
use crate::util::{fail, usage, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// Interface counts besides `lo` (dummy.ko numdummies) and the run length, full and quick.
const LEVELS: &str = "0,25,50,100,250,500,1000";
const QUICK_LEVELS: &str = "0,250";
const SECONDS: u32 = 4;
const ROUNDS: u32 = 3;

/// Receivers compared: (name, receive buffer label in the guest's output).
const RECEIVERS: &[(&str, &str)] = &[
    ("agent", "0"),
    ("c", "0"),
    ("agent", "4194304"),
    ("c", "4194304"),
];

pub fn run(args: &[String]) -> Result {
    let (board, rest) = take_board_option(args)?;
    let quick = rest.iter().any(|a| a == "--quick");
    if let Some(a) = rest.iter().find(|a| *a != "--quick") {
        return Err(usage(format!("bench guest: unexpected argument `{a}`")));
    }
    let board = Board::load(board.as_deref().unwrap_or(DEFAULT_BOARD))?;
    let (levels, seconds, rounds) = if quick {
        (QUICK_LEVELS, 2, 1)
    } else {
        (LEVELS, SECONDS, ROUNDS)
    };
    let image = build_overlay_image(&board, "bench-guest")?;
    let runs = levels.split(',').count() as u64 * u64::from(rounds) * RECEIVERS.len() as u64;
    // Each run: its seconds plus start/stop, plus ~20 s to create 1,000 interfaces per level
    // under TCG, plus the round trips; doubled for a busy host.
    let limit = board.boot_timeout
        + Duration::from_secs(
            2 * (runs * u64::from(seconds + 8) + 40 * levels.split(',').count() as u64 + 300),
        );
    println!(
        "bench guest on {} (TCG, one vCPU): levels {levels} extra interfaces, {rounds} round(s) of {seconds} s per receiver, limit {} s",
        board.name,
        limit.as_secs()
    );
    let result = crate::reliability_guest::run(
        &board,
        &image,
        "bench-guest",
        &format!("nltelem_bench_seconds={seconds} nltelem_bench_rounds={rounds} nltelem_bench_levels={levels}"),
        limit,
    )?;
    result.require_clean("bench guest")?;
    report(&board, &result)
}

/// One receiver's figures at one interface count.
#[derive(Default)]
struct Level {
    rates: Vec<f64>,
    cpu_ms_per_1000: Vec<f64>,
    parts: f64,
    lossy_runs: u32,
    lost: f64,
}

fn report(board: &Board, run: &GuestRun) -> Result {
    // (receiver, rcvbuf) -> interfaces -> figures
    let mut table: BTreeMap<(String, String), BTreeMap<u64, Level>> = BTreeMap::new();
    for r in run.records("bench run ") {
        let (Some(who), Some(buf)) = (text(&r, "receiver"), text(&r, "rcvbuf")) else {
            continue;
        };
        let (Some(ifs), Some(secs), Some(received), Some(lost), Some(overruns), Some(ticks)) = (
            num(&r, "interfaces"),
            num(&r, "seconds"),
            num(&r, "received"),
            num(&r, "lost"),
            num(&r, "overruns"),
            num(&r, "cpu_ticks"),
        ) else {
            return Err(fail(format!(
                "bench guest: incomplete run record {r:?} (log {})",
                run.log.display()
            )));
        };
        let level = table
            .entry((who.to_string(), buf.to_string()))
            .or_default()
            .entry(ifs as u64)
            .or_default();
        level.parts = num(&r, "parts").unwrap_or(0.0);
        level.rates.push(received / secs);
        if received > 0.0 {
            level.cpu_ms_per_1000.push(ticks * 10.0 / received * 1000.0);
        }
        level.lost += lost;
        if lost > 0.0 || overruns > 0.0 {
            level.lossy_runs += 1;
        }
    }
    if table.is_empty() {
        return Err(fail(format!(
            "bench guest: no run records (log {})",
            run.log.display()
        )));
    }
    println!("per level (median received messages/s; runs with a loss; CPU ms per 1,000 samples):");
    let mut best: BTreeMap<(String, String), (f64, f64, bool)> = BTreeMap::new();
    for ((who, buf), levels) in &mut table {
        let buf_name = if buf == "0" { "default" } else { "tuned" };
        let mut top = (0.0, 0.0, true);
        let highest = levels.keys().max().copied();
        for (ifs, l) in levels.iter_mut() {
            let rate = median(&mut l.rates).unwrap_or(0.0);
            let cpu = median(&mut l.cpu_ms_per_1000).unwrap_or(f64::NAN);
            println!(
                "  {who:<5} rcvbuf={buf_name:<7} interfaces={ifs:<5} parts/snapshot={:<3} rate={rate:.0}/s lossy_runs={} lost={} cpu_ms_per_1000={cpu:.1}",
                l.parts, l.lossy_runs, l.lost
            );
            if l.lossy_runs == 0 && rate > top.0 {
                top = (rate, cpu, Some(*ifs) == highest);
            }
        }
        best.insert((who.clone(), buf_name.to_string()), top);
    }
    let mut rtt: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in run.records("bench rtt ") {
        let who = text(&r, "receiver").unwrap_or("?").to_string();
        if let Some(v) = num(&r, "cmd_us_median").or_else(|| num(&r, "rtt_us_median")) {
            rtt.entry(who).or_default().push(v);
        }
    }
    println!("guest_board={}", board.name);
    for ((who, buf), (rate, cpu, at_top)) in &best {
        println!("{who}_{buf}_rcvbuf_lossless_rate_msgs_per_s={rate:.0}");
        println!("{who}_{buf}_rcvbuf_cpu_ms_per_1000_samples={cpu:.1}");
        if *at_top {
            println!(
                "{who}_{buf}_rcvbuf_note=lossless at the busiest level offered: the module's rate, not the receiver, bounds this figure"
            );
        }
    }
    let mut rtt_median = |who: &str| rtt.get_mut(who).and_then(|v| median(v));
    let (agent_cmd, c_cmd, c_inproc) = (
        rtt_median("agent"),
        rtt_median("c"),
        rtt_median("c-inprocess"),
    );
    let show = |v: Option<f64>| v.map_or("missing".to_string(), |v| format!("{v:.0}"));
    println!("agent_get_sample_command_us={}", show(agent_cmd));
    println!("c_get_sample_command_us={}", show(c_cmd));
    println!("c_get_sample_in_process_rtt_us={}", show(c_inproc));
    let pick = |who: &str, buf: &str| best.get(&(who.to_string(), buf.to_string())).map(|b| b.0);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "missing".to_string(),
    };
    println!(
        "lossless_rate_ratio_vs_c_default_rcvbuf={}",
        ratio(pick("agent", "default"), pick("c", "default"))
    );
    println!(
        "lossless_rate_ratio_vs_c_tuned_rcvbuf={}",
        ratio(pick("agent", "tuned"), pick("c", "tuned"))
    );
    let max = |who: &str| match (pick(who, "default"), pick(who, "tuned")) {
        (Some(d), Some(t)) => Some(d.max(t)),
        (d, t) => d.or(t),
    };
    println!("lossless_rate_ratio_vs_c={}", ratio(max("agent"), max("c")));
    println!("rtt_ratio_vs_c={}", ratio(agent_cmd, c_cmd));
    Ok(())
}
