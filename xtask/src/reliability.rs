//! `cargo xtask test reliability [--only PART,...] [--fuzz-seconds N] [--hostile-count N]
//! [--overload-interfaces N] [--overload-seconds N] [--soak-seconds N] [--board B]`:
//! the long campaign, never part of the default `cargo xtask test` (about an hour).
//!
//! Parts, in order:
//! - `fuzz`: every cargo-fuzz target for `--fuzz-seconds` (default 600), one after the
//!   other; executions, coverage and features from libFuzzer's final lines. A crash fails
//!   the part and leaves its input in `fuzz/artifacts/<target>/` (it becomes a regression
//!   test in `nlcore/tests/` by whoever fixes it).
//! - `hostile`: `nlt-hostile` in the guest, a warm-up then two batches of `--hostile-count`
//!   (default 100,000) malformed requests over both transports; the kernel log and taint
//!   clean; every reject counted by the module (GET_STATS `rejects` grows by exactly the
//!   classic unit's error answers plus the family's answers that carry the module's own
//!   message; the generic netlink core answers the rest itself); slab growth that does not
//!   follow the request count.
//! - `overload`: the agent at about twice its lossless rate for `--overload-seconds`
//!   (default 30): module broadcasts = agent received + agent lost, exactly, losses > 0.
//! - `faults`: module reload ×20 under the agent, agent kill -9 ×20 under the respawn entry,
//!   a full tmpfs under the textfile exporter.
//! - `soak`: `--soak-seconds` (default 600) of steady load: resident set flat after the
//!   first minute, exact accounting at the end.
//!
//! Each guest part is one qemu boot (`board/scenarios/reliability-*.long`, see
//! [`crate::reliability_guest`]) with a time limit around the whole qemu process.

use crate::board::{take_board_option, Board, DEFAULT_BOARD};
use crate::reliability_guest::{build_overlay_image, num, text, GuestRun};
use crate::setup::{have_cargo_fuzz, nightly_present};
use crate::util::{fail, root, step, usage, Result};
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

const PARTS: &[&str] = &["fuzz", "hostile", "overload", "faults", "soak"];

/// One part that runs in the guest.
type GuestPart = fn(&Board, &Options) -> Result;

/// Largest growth of active slab objects over one hostile batch that is not taken for a
/// leak: a few pages of caches filling and draining. A leak of one object per request
/// would be ~100,000.
const SLAB_NOISE_OBJECTS: f64 = 2000.0;

/// Largest growth of the agent's resident set after the first minute of the soak.
const RSS_GROWTH_KIB: f64 = 8.0;

pub struct Options {
    board: Option<String>,
    only: Vec<String>,
    fuzz_seconds: u64,
    hostile_count: u64,
    overload_interfaces: u64,
    overload_seconds: u64,
    soak_seconds: u64,
}

/// Takes this part's options out of `cargo xtask test` arguments (a `--board` is left for
/// the system tests unless `reliability` is named).
pub fn take_options(args: &[String]) -> Result<(Options, Vec<String>)> {
    let mut opts = Options {
        board: None,
        only: Vec::new(),
        fuzz_seconds: 600,
        hostile_count: 100_000,
        // 501 interfaces offer ~1,500 messages/s under TCG: twice what the agent takes in
        // at most with the default receive buffer (~700/s while losing; lossless at 376/s),
        // see docs/reliability.md.
        overload_interfaces: 500,
        overload_seconds: 30,
        soak_seconds: 600,
    };
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            let v = it
                .next()
                .ok_or_else(|| usage(format!("{name} needs a number")))?;
            v.parse()
                .map_err(|_| usage(format!("{name}: `{v}` is not a number")))
        };
        match a.as_str() {
            "--fuzz-seconds" => opts.fuzz_seconds = value(a)?,
            "--hostile-count" => opts.hostile_count = value(a)?,
            "--overload-interfaces" => opts.overload_interfaces = value(a)?,
            "--overload-seconds" => opts.overload_seconds = value(a)?,
            "--soak-seconds" => opts.soak_seconds = value(a)?,
            "--only" => {
                let list = it.next().ok_or_else(|| usage("--only needs parts"))?;
                for p in list.split(',') {
                    if !PARTS.contains(&p) {
                        return Err(usage(format!(
                            "--only: unknown reliability part `{p}` (parts: {})",
                            PARTS.join(", ")
                        )));
                    }
                    opts.only.push(p.to_string());
                }
            }
            _ => rest.push(a.clone()),
        }
    }
    if rest.iter().any(|a| a == "reliability") {
        let (board, others) = take_board_option(&rest)?;
        opts.board = board;
        rest = others;
    }
    Ok((opts, rest))
}

pub fn run(opts: &Options) -> Result {
    let wanted = |p: &str| opts.only.is_empty() || opts.only.iter().any(|o| o == p);
    let mut failures = Vec::new();
    let mut record = |name: &str, r: Result| {
        if let Err(e) = r {
            failures.push(format!("{name}: {e}"));
        }
    };
    if wanted("fuzz") {
        record(
            "fuzz",
            step(
                &format!("fuzz every target for {} s", opts.fuzz_seconds),
                || fuzz(opts.fuzz_seconds),
            ),
        );
    }
    let board = Board::load(opts.board.as_deref().unwrap_or(DEFAULT_BOARD))?;
    let guest_parts: [(&str, GuestPart); 4] = [
        ("hostile", hostile),
        ("overload", overload),
        ("faults", faults),
        ("soak", soak),
    ];
    for (name, part) in guest_parts {
        if wanted(name) {
            record(
                name,
                step(&format!("reliability {name} on {}", board.name), || {
                    part(&board, opts)
                }),
            );
        }
    }
    if failures.is_empty() {
        println!("reliability: every part held");
        Ok(())
    } else {
        Err(fail(format!(
            "reliability failed:\n  {}",
            failures.join("\n  ")
        )))
    }
}

/// libFuzzer's figures for one target.
struct FuzzFigures {
    runs: u64,
    seconds: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
}

fn fuzz(seconds: u64) -> Result {
    if !nightly_present() || !have_cargo_fuzz() {
        return Err(fail(
            "fuzzing needs the nightly toolchain and cargo-fuzz: run `cargo xtask setup`",
        ));
    }
    let root = root();
    let list = Command::new("rustup")
        .args(["run", "nightly", "cargo", "fuzz", "list"])
        .current_dir(&root)
        .output()?;
    let targets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if targets.is_empty() {
        return Err(fail("`cargo fuzz list` found no targets"));
    }
    let logs = root.join("target/reliability/fuzz");
    fs::create_dir_all(&logs)?;
    let mut total_runs = 0;
    for target in &targets {
        let scratch = root.join("target/fuzz-corpus").join(target);
        fs::create_dir_all(&scratch)?;
        let log = logs.join(format!("{target}.log"));
        println!("  fuzz {target}: {seconds} s (log {})", log.display());
        // libFuzzer stops itself after -max_total_time; `timeout` bounds the build and a
        // hung run on top of that.
        let status = Command::new("timeout")
            .arg((seconds + 600).to_string())
            .args(["rustup", "run", "nightly", "cargo", "fuzz", "run", target])
            .arg(&scratch)
            .arg(root.join("fuzz/corpus").join(target))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-print_final_stats=1",
            ])
            .current_dir(&root)
            .stdout(fs::File::create(logs.join(format!("{target}.stdout")))?)
            .stderr(fs::File::create(&log)?)
            .stdin(Stdio::null())
            .status()?;
        let text = fs::read_to_string(&log)?;
        if !status.success() {
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            return Err(fail(format!(
                "fuzz target {target} failed ({status}); its input is in fuzz/artifacts/{target}/; \
                 log tail:\n    {}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
            )));
        }
        let f = fuzz_figures(&text).ok_or_else(|| {
            fail(format!(
                "fuzz {target}: no final `DONE` / `Done N runs` lines in {}",
                log.display()
            ))
        })?;
        total_runs += f.runs;
        println!(
            "fuzz_{target}_executions={} fuzz_{target}_seconds={} fuzz_{target}_exec_per_s={} \
             fuzz_{target}_cov={} fuzz_{target}_features={} fuzz_{target}_corpus={}",
            f.runs,
            f.seconds,
            f.runs / f.seconds.max(1),
            f.cov,
            f.ft,
            f.corpus
        );
        if f.seconds < seconds {
            return Err(fail(format!(
                "fuzz {target} ran {} s, not {seconds} s",
                f.seconds
            )));
        }
    }
    println!(
        "fuzz_targets={} fuzz_total_executions={total_runs}",
        targets.len()
    );
    Ok(())
}

/// From libFuzzer's last lines: `#N DONE cov: C ft: F corp: K/...` and `Done N runs in S
/// second(s)`.
fn fuzz_figures(log: &str) -> Option<FuzzFigures> {
    let done = log
        .lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains("DONE "))?;
    let after = |key: &str| -> Option<u64> {
        let at = done.find(key)? + key.len();
        done[at..]
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())?
            .parse()
            .ok()
    };
    let summary = log.lines().rev().find(|l| l.starts_with("Done "))?;
    let words: Vec<&str> = summary.split_whitespace().collect();
    Some(FuzzFigures {
        runs: words.get(1)?.parse().ok()?,
        seconds: words.get(4)?.parse().ok()?,
        cov: after("cov: ")?,
        ft: after("ft: ")?,
        corpus: after("corp: ")?,
    })
}

/// Boots `scenario` and fails unless it ended with 0 on a clean kernel.
fn guest(board: &Board, scenario: &str, extra: &str, limit: Duration) -> Result<GuestRun> {
    let image = build_overlay_image(board, scenario)?;
    let run = crate::reliability_guest::run(board, &image, scenario, extra, limit)?;
    run.require_clean(scenario)?;
    println!(
        "  {scenario}: kernel log clean ({} lines, no WARNING/BUG/Oops, taint O/E only; console log {})",
        run.dmesg_lines,
        run.log.display()
    );
    Ok(run)
}

fn field(r: &[(String, String)], key: &str, what: &str) -> Result<f64> {
    num(r, key).ok_or_else(|| fail(format!("{what}: no `{key}` in {r:?}")))
}

fn hostile(board: &Board, opts: &Options) -> Result {
    // nlt-hostile runs ~20,000 requests/s natively; under TCG a hundred times slower.
    let limit = board.boot_timeout + Duration::from_secs(300 + opts.hostile_count / 50);
    let run = guest(
        board,
        "reliability-hostile",
        &format!("nltelem_hostile_count={}", opts.hostile_count),
        limit,
    )?;
    let stats = run.records("hostile stats ");
    let rejects = |batch: usize| -> Result<f64> {
        let r = stats
            .iter()
            .find(|r| num(r, "batch") == Some(batch as f64))
            .ok_or_else(|| fail(format!("hostile: no module stats for batch {batch}")))?;
        field(r, "rejects", "hostile stats")
    };
    let mut problems = Vec::new();
    for batch in 1..=2usize {
        let lines: Vec<_> = run
            .records("hostile ")
            .into_iter()
            .filter(|r| num(r, "batch") == Some(batch as f64) && text(r, "transport").is_some())
            .collect();
        let (mut sent, mut counted_by_module) = (0.0, 0.0);
        for r in &lines {
            let t = text(r, "transport").unwrap_or("?");
            let s = field(r, "sent", "hostile")?;
            let (refused, errors, module_errors, ok, silent) = (
                field(r, "refused", "hostile")?,
                field(r, "errors", "hostile")?,
                field(r, "module_errors", "hostile")?,
                field(r, "ok", "hostile")?,
                field(r, "silent", "hostile")?,
            );
            println!(
                "hostile_batch{batch}_{t}_sent={s} refused={refused} errors={errors} \
                 errors_with_module_message={module_errors} ok={ok} unanswered={silent}"
            );
            if refused + errors + ok + silent != s {
                problems.push(format!(
                    "batch {batch} {t}: outcomes {} != sent {s}",
                    refused + errors + ok + silent
                ));
            }
            sent += s;
            counted_by_module += if t == "classic" {
                errors
            } else {
                module_errors
            };
        }
        let module = rejects(batch)? - rejects(batch - 1)?;
        println!(
            "hostile_batch{batch}_requests={sent} module_rejects_delta={module} expected_rejects={counted_by_module}"
        );
        if sent < opts.hostile_count as f64 {
            problems.push(format!(
                "batch {batch}: {sent} requests sent, not {}",
                opts.hostile_count
            ));
        }
        if module != counted_by_module {
            problems.push(format!(
                "batch {batch}: the module counted {module} rejects, the client saw {counted_by_module}"
            ));
        }
    }
    for r in run.records("hostile slab ") {
        let batch = num(&r, "batch").unwrap_or(0.0);
        let total = field(&r, "total", "hostile slab")?;
        let top: Vec<String> = r
            .iter()
            .filter(|(k, _)| k != "batch" && k != "total")
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        println!(
            "hostile_batch{batch}_slab_active_objects_delta={total} (largest: {})",
            top.join(" ")
        );
        if total > SLAB_NOISE_OBJECTS {
            problems.push(format!(
                "batch {batch}: slab caches grew by {total} objects (> {SLAB_NOISE_OBJECTS})"
            ));
        }
    }
    if !run
        .output
        .iter()
        .any(|l| l == "hostile after: get sample ok")
    {
        problems.push("the module did not answer GET_SAMPLE after the batches".into());
    }
    conclude("hostile", problems)
}

fn conclude(part: &str, problems: Vec<String>) -> Result {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(format!("{part}: {}", problems.join("; "))))
    }
}

/// `received + lost == broadcast` from a record with the agent's final counters.
fn accounting(
    r: &[(String, String)],
    what: &str,
    problems: &mut Vec<String>,
) -> Result<(f64, f64)> {
    let broadcast = field(r, "broadcast_total", what)?;
    let received = field(r, "received", what)?;
    let lost = field(r, "lost", what)?;
    println!(
        "{what}_broadcast={broadcast} {what}_received={received} {what}_lost={lost} {what}_overruns={} {what}_malformed={}",
        num(r, "overruns").unwrap_or(f64::NAN),
        num(r, "malformed").unwrap_or(f64::NAN)
    );
    if received + lost != broadcast {
        problems.push(format!(
            "module broadcast {broadcast}, agent received {received} + lost {lost} = {}",
            received + lost
        ));
    }
    Ok((received, lost))
}

fn overload(board: &Board, opts: &Options) -> Result {
    let limit = board.boot_timeout + Duration::from_secs(240 + 2 * opts.overload_seconds);
    let run = guest(
        board,
        "reliability-overload",
        &format!(
            "nltelem_overload_interfaces={} nltelem_overload_seconds={}",
            opts.overload_interfaces, opts.overload_seconds
        ),
        limit,
    )?;
    let r = run
        .records("overload ")
        .into_iter()
        .find(|r| num(r, "broadcast_total").is_some())
        .ok_or_else(|| fail("overload: no result line"))?;
    let mut problems = Vec::new();
    let during = field(&r, "broadcast_during", "overload")?;
    let (_, lost) = accounting(&r, "overload", &mut problems)?;
    println!(
        "overload_interfaces={} overload_seconds={} overload_offered_msgs_per_s={:.0}",
        field(&r, "interfaces", "overload")?,
        opts.overload_seconds,
        during / opts.overload_seconds.max(1) as f64
    );
    if lost == 0.0 {
        problems.push("nothing was lost: the load was not an overload".into());
    }
    conclude("overload", problems)
}

fn faults(board: &Board, _opts: &Options) -> Result {
    let limit = board.boot_timeout + Duration::from_secs(600);
    let run = guest(board, "reliability-faults", "", limit)?;
    let mut problems = Vec::new();
    let reload = &run.first("fault reload ", "faults")?;
    println!(
        "fault_reload_cycles=20 reconnected={} slowest_reconnect_ms={} agent_alive={} samples_after={} received={} lost={} module_lost={} seq_restarts={}",
        field(reload, "reconnected", "reload")?,
        field(reload, "slowest_reconnect_ms", "reload")?,
        text(reload, "agent_alive").unwrap_or("?"),
        text(reload, "samples_after").unwrap_or("?"),
        num(reload, "received").unwrap_or(f64::NAN),
        num(reload, "lost").unwrap_or(f64::NAN),
        num(reload, "module_lost").unwrap_or(f64::NAN),
        num(reload, "seq_restarts").unwrap_or(f64::NAN),
    );
    if num(reload, "reconnected") != Some(20.0)
        || text(reload, "agent_alive") != Some("yes")
        || text(reload, "samples_after") != Some("yes")
        || text(reload, "stopped_on_term") != Some("yes")
    {
        problems.push(format!("module reload: {reload:?}"));
    }
    let kill = &run.first("fault kill9 ", "faults")?;
    println!(
        "fault_kill9_kills=20 respawned={} slowest_respawn_ms={} module_heartbeats={}",
        field(kill, "respawned", "kill9")?,
        field(kill, "slowest_respawn_ms", "kill9")?,
        text(kill, "module_heartbeats").unwrap_or("?"),
    );
    if num(kill, "respawned") != Some(20.0) || text(kill, "respawn_loop_ended") != Some("yes") {
        problems.push(format!("kill -9: {kill:?}"));
    }
    let tmpfs = run.records("fault tmpfs ");
    let summary = tmpfs
        .iter()
        .find(|r| text(r, "file_whole_when_full").is_some())
        .ok_or_else(|| fail("faults: no tmpfs line"))?;
    let stage = |name: &str| -> Result<(f64, f64)> {
        let r = tmpfs
            .iter()
            .find(|r| text(r, "stage") == Some(name))
            .ok_or_else(|| fail(format!("faults: no tmpfs stage {name}")))?;
        Ok((
            field(r, "exported", "tmpfs")?,
            field(r, "export_errors", "tmpfs")?,
        ))
    };
    let (before, full, freed, later) = (
        stage("before")?,
        stage("full")?,
        stage("freed")?,
        stage("later")?,
    );
    println!(
        "fault_tmpfs exported/errors before_full={before:?} while_full={full:?} after_freeing={freed:?} later={later:?} \
         free_kib_when_full={} file_whole_when_full={} agent_alive={}",
        text(summary, "free_kib_when_full").unwrap_or("?"),
        text(summary, "file_whole_when_full").unwrap_or("?"),
        text(summary, "agent_alive").unwrap_or("?"),
    );
    if before.0 == 0.0 || before.1 != 0.0 {
        problems
            .push("textfile: nothing exported before the disk filled, or errors already".into());
    }
    if full.1 <= before.1 {
        problems.push("textfile: a full disk was not counted as export errors".into());
    }
    if later.1 != freed.1 || later.0 <= freed.0 {
        problems.push("textfile: exports did not resume cleanly after space came back".into());
    }
    if text(summary, "file_whole_when_full") != Some("yes")
        || text(summary, "agent_alive") != Some("yes")
    {
        problems.push(format!("textfile: {summary:?}"));
    }
    conclude("faults", problems)
}

fn soak(board: &Board, opts: &Options) -> Result {
    let limit = board.boot_timeout + Duration::from_secs(opts.soak_seconds * 3 / 2 + 240);
    let run = guest(
        board,
        "reliability-soak",
        &format!("nltelem_soak_seconds={}", opts.soak_seconds),
        limit,
    )?;
    let mut problems = Vec::new();
    let samples: Vec<(f64, f64, f64)> = run
        .records("soak ")
        .iter()
        .filter_map(|r| Some((num(r, "t")?, num(r, "rss_kib")?, num(r, "cpu_ticks")?)))
        .collect();
    let series: Vec<String> = samples
        .iter()
        .map(|(t, rss, _)| format!("{t}:{rss}"))
        .collect();
    println!("soak_rss_kib_by_second={}", series.join(","));
    let settled: Vec<f64> = samples
        .iter()
        .filter(|(t, _, _)| *t >= 60.0)
        .map(|(_, rss, _)| *rss)
        .collect();
    let end = run.first("soak end ", "soak")?;
    let (received, _) = accounting(&end, "soak", &mut problems)?;
    if let (Some(first), Some(max)) = (settled.first(), settled.iter().copied().reduce(f64::max)) {
        println!("soak_rss_growth_after_60s_kib={}", max - first);
        if max - first > RSS_GROWTH_KIB {
            problems.push(format!(
                "RSS grew by {} KiB after the first minute",
                max - first
            ));
        }
    } else {
        problems.push("fewer RSS samples than one minute's worth".into());
    }
    if let (Some(a), Some(b)) = (samples.first(), samples.last()) {
        if received > 0.0 {
            println!(
                "soak_cpu_ms_per_1000_samples={:.1}",
                (b.2 - a.2) * 10.0 / received * 1000.0
            );
        }
    }
    conclude("soak", problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_final_lines() {
        let log = "#1024\tpulse  cov: 10 ft: 20 corp: 5/100b exec/s: 512 rss: 40Mb\n\
                   #2500000\tDONE   cov: 529 ft: 2127 corp: 438/65Kb lim: 4096 exec/s: 4166 rss: 465Mb\n\
                   Done 2500000 runs in 600 second(s)\n";
        let f = fuzz_figures(log).expect("parsed");
        assert_eq!(
            (f.runs, f.seconds, f.cov, f.ft, f.corpus),
            (2_500_000, 600, 529, 2127, 438)
        );
        assert!(fuzz_figures("#1 INITED cov: 1\n").is_none());
    }

    #[test]
    fn options_are_taken_out() {
        let args: Vec<String> = ["reliability", "--fuzz-seconds", "30", "--only", "fuzz,soak"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (o, rest) = take_options(&args).expect("valid");
        assert_eq!(rest, vec!["reliability".to_string()]);
        assert_eq!(o.fuzz_seconds, 30);
        assert_eq!(o.only, vec!["fuzz".to_string(), "soak".to_string()]);
        assert!(take_options(&["--only".to_string(), "nap".to_string()]).is_err());
    }
}
