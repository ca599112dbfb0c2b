//! `cargo xtask test system [--board B] [--bless]`: every scenario in `board/scenarios/` on
//! every board (or one), one qemu boot per scenario.
//!
//! The guest runs `NAME.sh` (kernel command line `nltelem_scenario=NAME`) and prints, between
//! markers, its output, its exit status, the taint flags and the kernel log, then powers off.
//! qemu exits 0 on a panic as on a poweroff, so a run is judged only by what the console
//! showed, with a timeout around the whole qemu process:
//! - the end marker must arrive (else: no boot, hang or panic);
//! - output plus `[exit N]` must equal `NAME.expected` (or `NAME.<board>.expected` where a
//!   board differs); `--bless` rewrites that file instead;
//! - the kernel log must have no `WARNING`, `BUG` (whole word), `Oops` or
//!   `general protection`, and no taint bit but out-of-tree (4096) and unsigned (8192).
//!
//! A scenario whose first lines say `# requires: kmod` (or `agent`) needs that part; while it
//! cannot be built the scenario is reported as SKIPPED (never as passed).

use crate::board::{all_boards, boards_dir, take_board_option, Board};
use crate::board_image::{build_image, scenario_files, Image};
use crate::board_qemu::{qemu_command, Console, Guest};
use crate::util::{fail, usage, Result};
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

/// Taint bits our module is expected to set: `O` (out-of-tree) and `E` (unsigned).
const ALLOWED_TAINT: u64 = 4096 | 8192;

/// Kernel log phrases that fail a run (`BUG` is matched separately, as a whole word).
const BAD_LOG_PHRASES: &[&str] = &["WARNING", "Oops", "general protection"];

#[derive(Default)]
pub struct Options {
    board: Option<String>,
    bless: bool,
    /// Only the scenarios with these names (all when empty).
    only: Vec<String>,
}

/// Takes `--board B`, `--bless` and `--scenario NAME` (repeatable) out of `cargo xtask
/// test` arguments.
pub fn take_options(args: &[String]) -> Result<(Options, Vec<String>)> {
    let (board, args) = take_board_option(args)?;
    let mut opts = Options {
        board,
        ..Options::default()
    };
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bless" => opts.bless = true,
            "--scenario" => opts.only.push(
                it.next()
                    .ok_or_else(|| usage("--scenario needs a scenario name"))?,
            ),
            _ => rest.push(a),
        }
    }
    Ok((opts, rest))
}

struct Scenario {
    name: String,
    needs_module: bool,
    needs_agent: bool,
}

enum Outcome {
    Passed,
    Blessed,
    Skipped(String),
    Failed(String),
}

pub fn run(opts: &Options) -> Result {
    let boards = match &opts.board {
        Some(b) => vec![Board::load(b)?],
        None => all_boards()?,
    };
    let mut scenarios = load_scenarios()?;
    if scenarios.is_empty() {
        return Err(fail("board/scenarios/ has no *.sh scenario"));
    }
    if let Some(unknown) = opts
        .only
        .iter()
        .find(|name| !scenarios.iter().any(|s| &s.name == *name))
    {
        return Err(usage(format!(
            "--scenario: no scenario `{unknown}` in board/scenarios/"
        )));
    }
    if !opts.only.is_empty() {
        scenarios.retain(|s| opts.only.contains(&s.name));
    }
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for board in &boards {
        let image = build_image(board)?;
        for scenario in &scenarios {
            let start = Instant::now();
            let outcome = run_scenario(board, &image, scenario, opts.bless)?;
            let secs = start.elapsed().as_secs_f64();
            let label = format!("{} {}", board.name, scenario.name);
            match outcome {
                Outcome::Passed => {
                    passed += 1;
                    println!("ok       {label} (boot to result {secs:.1} s)");
                }
                Outcome::Blessed => {
                    passed += 1;
                    println!("blessed  {label} (boot to result {secs:.1} s)");
                }
                Outcome::Skipped(why) => {
                    skipped += 1;
                    println!("SKIPPED  {label}: {why}");
                }
                Outcome::Failed(why) => {
                    failed += 1;
                    println!("FAILED   {label} ({secs:.1} s): {why}");
                    failures.push(label);
                }
            }
        }
    }
    println!("system: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        return Err(fail(format!(
            "system tests failed: {} (console logs in target/board/<board>/logs/)",
            failures.join(", ")
        )));
    }
    Ok(())
}

fn load_scenarios() -> Result<Vec<Scenario>> {
    let mut list = Vec::new();
    for script in scenario_files()? {
        let text = fs::read_to_string(&script)?;
        let requires = |part: &str| {
            text.lines()
                .take_while(|l| l.starts_with('#'))
                .any(|l| l.trim() == format!("# requires: {part}"))
        };
        let (needs_module, needs_agent) = (requires("kmod"), requires("agent"));
        let name = script
            .file_stem()
            .expect("scenario files have names")
            .to_string_lossy()
            .into_owned();
        list.push(Scenario {
            name,
            needs_module,
            needs_agent,
        });
    }
    Ok(list)
}

/// What the guest reported between the markers.
#[derive(Default, Debug)]
struct Report {
    began: bool,
    ended: bool,
    output: Vec<String>,
    exit: Option<i32>,
    tainted: Option<u64>,
    dmesg: Vec<String>,
}

fn run_scenario(board: &Board, image: &Image, s: &Scenario, bless: bool) -> Result<Outcome> {
    if s.needs_module && !image.has_module {
        return Ok(Outcome::Skipped(
            "needs the module; kmod/ has no Makefile or Kbuild yet".into(),
        ));
    }
    if s.needs_agent && !image.has_agent {
        return Ok(Outcome::Skipped(
            "needs the agent; agent/ is not a workspace member yet".into(),
        ));
    }
    let logs = board.out_dir().join("logs");
    fs::create_dir_all(&logs)?;
    let cmd = qemu_command(board, &image.path, &format!("nltelem_scenario={}", s.name))?;
    let mut guest = Guest::start(cmd)?;
    let deadline = Instant::now() + board.boot_timeout;
    let mut console = Vec::new();
    let mut report = Report::default();
    let mut why_stopped = None;
    while !report.ended {
        match guest.next_line(deadline) {
            Console::Line(line) => {
                parse_line(&line, &s.name, &mut report);
                console.push(line);
            }
            Console::Exited => {
                why_stopped = Some("qemu exited before the scenario's end marker".to_string());
                break;
            }
            Console::TimedOut => {
                why_stopped = Some(format!(
                    "no end marker within {} s (qemu killed)",
                    board.boot_timeout.as_secs()
                ));
                break;
            }
        }
    }
    guest.stop();
    let log_file = logs.join(format!("{}.log", s.name));
    fs::write(&log_file, console.join("\n") + "\n")?;
    if let Some(why) = why_stopped {
        let tail = console[console.len().saturating_sub(25)..].join("\n    ");
        return Ok(Outcome::Failed(format!(
            "{why}; boot {}; last console lines:\n    {tail}",
            if report.began {
                "reached the scenario"
            } else {
                "never reached the scenario"
            }
        )));
    }
    let mut problems = kernel_health(&report);
    let mut transcript = report.output.clone();
    transcript.push(format!(
        "[exit {}]",
        report.exit.map_or("missing".into(), |c| c.to_string())
    ));
    let got = transcript.join("\n") + "\n";
    let expected_file = expected_path(board, &s.name);
    let mut blessed = false;
    if bless {
        if fs::read_to_string(&expected_file).ok().as_deref() != Some(got.as_str()) {
            fs::write(&expected_file, &got)?;
            blessed = true;
        }
    } else {
        match fs::read_to_string(&expected_file) {
            Ok(want) if want == got => {}
            Ok(want) => problems.push(format!(
                "output differs from {}:\n{}",
                expected_file.display(),
                line_diff(&want, &got)
            )),
            Err(_) => problems.push(format!(
                "{} missing (run with --bless to create it); the guest printed:\n{got}",
                expected_file.display()
            )),
        }
    }
    Ok(if !problems.is_empty() {
        Outcome::Failed(format!(
            "{} (console log {})",
            problems.join("; "),
            log_file.display()
        ))
    } else if blessed {
        Outcome::Blessed
    } else {
        Outcome::Passed
    })
}

fn parse_line(line: &str, name: &str, r: &mut Report) {
    // A kernel message can be printed into the middle of a console line; markers and
    // prefixed lines are searched for anywhere in the line.
    let Some(at) = line.find("@@") else { return };
    let line = &line[at..];
    if let Some(rest) = line.strip_prefix("@@nltelem ") {
        let (what, value) = rest.split_once(' ').unwrap_or((rest, ""));
        match what {
            "begin" if value == name => r.began = true,
            "end" if value == name && r.began => r.ended = true,
            "exit" => r.exit = value.trim().parse().ok(),
            "tainted" => r.tainted = value.trim().parse().ok(),
            _ => {}
        }
    } else if let Some(out) = line.strip_prefix("@@out ") {
        r.output.push(out.to_string());
    } else if line == "@@out" {
        r.output.push(String::new());
    } else if let Some(msg) = line.strip_prefix("@@dmesg ") {
        r.dmesg.push(msg.to_string());
    }
}

/// The kernel's health after the scenario: log phrases and taint bits.
fn kernel_health(r: &Report) -> Vec<String> {
    kernel_problems(&r.dmesg, r.tainted)
}

/// What a guest's kernel log and taint flags say went wrong; empty when the kernel stayed
/// clean. Every guest run (scenarios, reliability, benchmarks) is judged by this one rule.
pub fn kernel_problems(dmesg: &[String], tainted: Option<u64>) -> Vec<String> {
    let mut problems = Vec::new();
    if dmesg.is_empty() {
        problems.push("the guest reported no kernel log".to_string());
    }
    for line in dmesg {
        let bad = BAD_LOG_PHRASES.iter().any(|p| line.contains(p)) || has_word(line, "BUG");
        if bad {
            problems.push(format!("kernel log: {line}"));
        }
    }
    match tainted {
        None => problems.push("the guest reported no taint flags".into()),
        Some(t) if t & !ALLOWED_TAINT != 0 => problems.push(format!(
            "kernel tainted {t} (unexpected bits {:#x}: see Documentation/admin-guide/tainted-kernels)",
            t & !ALLOWED_TAINT
        )),
        Some(_) => {}
    }
    problems
}

/// `word` as a whole word: the x86 boot prints `DEBUGCTL`, which is not a `BUG`.
fn has_word(line: &str, word: &str) -> bool {
    let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// `NAME.<board>.expected` when a board's output differs, else the shared `NAME.expected`.
fn expected_path(board: &Board, name: &str) -> PathBuf {
    let dir = boards_dir().join("scenarios");
    let specific = dir.join(format!("{name}.{}.expected", board.name));
    if specific.is_file() {
        specific
    } else {
        dir.join(format!("{name}.expected"))
    }
}

/// Lines only in `want` (`-`) or only in `got` (`+`), in order; enough to see a change.
fn line_diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                if let Some(a) = a {
                    out.push_str(&format!("    -{a}\n"));
                }
                if let Some(b) = b {
                    out.push_str(&format!("    +{b}\n"));
                }
            }
        }
    }
    out
}

/// Checks the `--board`/`--bless` options make sense for `test` without `system`.
pub fn options_need_system(opts: &Options) -> Result {
    if opts.board.is_some() || opts.bless {
        return Err(usage("--board and --bless apply to the `system` test part"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dmesg: &[&str], tainted: u64) -> Report {
        Report {
            dmesg: dmesg.iter().map(|l| l.to_string()).collect(),
            tainted: Some(tainted),
            ..Report::default()
        }
    }

    #[test]
    fn bug_is_matched_as_a_whole_word_only() {
        assert!(has_word(
            "[    1.0] BUG: kernel NULL pointer dereference",
            "BUG"
        ));
        assert!(has_word("kernel BUG at mm/slub.c:42!", "BUG"));
        assert!(!has_word("[    0.0] x86/cpu: DEBUGCTL MSR", "BUG"));
        assert!(!has_word("CONFIG_BUGVERBOSE", "BUG"));
    }

    #[test]
    fn out_of_tree_and_unsigned_taint_is_healthy() {
        let clean = report(&["[    0.1] Linux version 6.1.0"], 4096 | 8192);
        assert_eq!(kernel_health(&clean), Vec::<String>::new());
    }

    #[test]
    fn warning_taint_or_bad_log_lines_fail() {
        let warned = report(&["[    0.1] ok"], 4096 | 8192 | 512);
        assert_eq!(kernel_health(&warned).len(), 1);
        let oops = report(
            &["[    2.0] Oops: 0002 [#1] SMP", "WARNING: CPU: 0 PID: 1"],
            0,
        );
        assert_eq!(kernel_health(&oops).len(), 2);
        let gp = report(
            &["general protection fault, probably for non-canonical address"],
            0,
        );
        assert_eq!(kernel_health(&gp).len(), 1);
    }

    #[test]
    fn a_run_without_log_or_taint_report_fails() {
        let silent = Report::default();
        assert_eq!(kernel_health(&silent).len(), 2);
    }

    #[test]
    fn markers_are_found_behind_kernel_text_on_the_same_line() {
        let mut r = Report::default();
        for line in [
            "@@nltelem begin boot",
            "[    3.1] random: crng init done@@out Linux",
            "@@out",
            "@@nltelem exit 0",
            "@@nltelem tainted 12288",
            "@@dmesg [    0.0] Linux version",
            "@@nltelem end other",
        ] {
            parse_line(line, "boot", &mut r);
        }
        assert!(
            r.began && !r.ended,
            "another scenario's end marker is not ours"
        );
        parse_line("@@nltelem end boot", "boot", &mut r);
        assert!(r.ended);
        assert_eq!(r.output, ["Linux", ""]);
        assert_eq!(
            (r.exit, r.tainted, r.dmesg.len()),
            (Some(0), Some(12288), 1)
        );
    }
}
