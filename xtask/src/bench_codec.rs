//! `cargo xtask bench codec [--quick]`: the codec workload of `shared/bench-workload.md` on
//! nlcore, on libmnl (Debian's shared library, the C program built with `cc` in this run)
//! and on netlink-packet-core's zero-copy buffer types.
//!
//! 1. Build `codec-bench` (profile `bench-speed`) and `bench/codec/c/mnl_codec.c`.
//! 2. Check: the three encoders write byte-identical 64-message batches; the three decoders
//!    reach the same checksum over that batch, equal to one computed from the values alone.
//! 3. Instructions per message: each program under callgrind for two message counts; the
//!    difference divided by the difference in messages, so start-up cost cancels.
//! 4. Wall clock: interleaved rounds (the order rotates each round); medians of ns/message.
//! 5. Allocations per message: the Rust harness counts them in its global allocator over
//!    the measured loop; libmnl's are valgrind's heap-summary allocations at two message
//!    counts, differenced the same way.
//!
//! Prints `name=value` lines, ending with the ratios and then nlcore's
//! `encode_instr_per_msg`, `decode_instr_per_msg`, `allocations`.

use crate::util::{cargo, fail, have, root, step, usage, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Messages in the encode run of the workload, and walks of the 64-message batch in the
/// decode run (1,000,000 messages).
const ENCODE_MESSAGES: u64 = 1_000_000;
const DECODE_WALKS: u64 = 15_625;
/// Messages in one batch, and bytes in one message.
const BATCH: u64 = 64;
const MSG_LEN: u64 = 200;
/// Interleaved rounds for the wall-clock medians.
const ROUNDS: usize = 11;
/// Upper bounds on each program run (valgrind is slow; native runs take well under 1 s).
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(900);
const NATIVE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Encode,
    Decode,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Encode => "encode",
            Op::Decode => "decode",
        }
    }
}

/// One implementation: its name in the output and how to start it.
struct Program {
    name: &'static str,
    exe: PathBuf,
    /// Arguments before the command (`nlcore` / `npc` for the Rust harness).
    prefix: &'static [&'static str],
}

impl Program {
    fn command(&self, args: &[String]) -> Vec<String> {
        let mut argv = vec![self.exe.display().to_string()];
        argv.extend(self.prefix.iter().map(|s| s.to_string()));
        argv.extend(args.iter().cloned());
        argv
    }

    /// The arguments for `op` over `amount` (messages to encode, or walks of the batch).
    fn op_args(&self, op: Op, amount: u64, batch: &Path) -> Vec<String> {
        match op {
            Op::Encode => self.command(&["encode".into(), amount.to_string()]),
            Op::Decode => self.command(&[
                "decode".into(),
                batch.display().to_string(),
                amount.to_string(),
            ]),
        }
    }
}

/// What a program printed about one measured loop.
struct Report {
    messages: u64,
    checksum: u64,
    ns_per_msg: f64,
    allocations: Option<u64>,
}

fn parse_report(text: &str, what: &str) -> Result<Report> {
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(|| fail(format!("{what}: no `{key}=` in its output: {text:?}")))
    };
    let num = |key: &str| -> Result<u64> {
        field(key)?
            .parse()
            .map_err(|_| fail(format!("{what}: bad `{key}` in {text:?}")))
    };
    Ok(Report {
        messages: num("messages")?,
        checksum: num("checksum")?,
        ns_per_msg: field("ns_per_msg")?
            .parse()
            .map_err(|_| fail(format!("{what}: bad ns_per_msg in {text:?}")))?,
        allocations: field("allocations").ok().and_then(|v| v.parse().ok()),
    })
}

/// Runs `argv` with a time limit; returns its stdout (its stderr goes to `stderr_to`).
/// A program past its limit is killed (by its own handle) and reported as a failure.
fn run_bounded(argv: &[String], limit: Duration, stderr_to: &Path) -> Result<Vec<u8>> {
    let shown = argv.join(" ");
    let stdout_path = stderr_to.with_extension("stdout");
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(stderr_to)?)
        .spawn()
        .map_err(|e| fail(format!("cannot start {shown}: {e}")))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "{shown}: still running after {limit:?}, killed"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read(&stdout_path)?;
    if !status.success() {
        let err = std::fs::read_to_string(stderr_to).unwrap_or_default();
        return Err(fail(format!("{shown} exited with {status}: {err}")));
    }
    Ok(out)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn run(args: &[String]) -> Result {
    let quick = match args {
        [] => false,
        [a] if a == "--quick" => true,
        [a, ..] => {
            return Err(usage(format!(
                "bench codec takes only --quick (callgrind on a tenth of the messages); got `{a}`"
            )))
        }
    };
    for (tool, arg) in [
        ("valgrind", "--version"),
        ("cc", "--version"),
        ("pkg-config", "--version"),
    ] {
        if !have(tool, arg) {
            return Err(fail(format!(
                "`{tool}` is missing: run `cargo xtask setup`"
            )));
        }
    }
    let out = target_dir().join("bench-codec");
    std::fs::create_dir_all(&out)?;
    let log = |name: &str| out.join(format!("{name}.log"));

    step("build codec-bench (cargo, profile bench-speed)", || {
        let mut argv = vec![cargo().get_program().to_string_lossy().into_owned()];
        argv.extend(
            [
                "build",
                "--quiet",
                "--profile",
                "bench-speed",
                "-p",
                "codec-bench",
            ]
            .map(String::from),
        );
        run_bounded(&argv, BUILD_TIMEOUT, &log("build-rust")).map(drop)
    })?;
    let mnl_exe = out.join("mnl_codec");
    step("build mnl_codec (cc, Debian's libmnl)", || {
        build_c(&mnl_exe, &log("build-c"))
    })?;

    let rust_exe = target_dir().join("bench-speed/codec-bench");
    let programs = [
        Program {
            name: "nlcore",
            exe: rust_exe.clone(),
            prefix: &["nlcore"],
        },
        Program {
            name: "libmnl",
            exe: mnl_exe,
            prefix: &[],
        },
        Program {
            name: "npc",
            exe: rust_exe.clone(),
            prefix: &["npc"],
        },
    ];
    let batch = out.join("batch.bin");
    step("check: identical encodings, identical checksums", || {
        check_outputs(&programs, &rust_exe, &batch, &log("check"))
    })?;

    let scale = if quick { 10 } else { 1 };
    let encode_counts = [ENCODE_MESSAGES / 2 / scale, ENCODE_MESSAGES / scale];
    let decode_counts = [DECODE_WALKS / 2 / scale, DECODE_WALKS / scale];
    let mut instr = Vec::new();
    step(
        "instructions per message (callgrind, two counts each)",
        || {
            for p in &programs {
                for (op, counts, per) in [
                    (Op::Encode, encode_counts, 1),
                    (Op::Decode, decode_counts, BATCH),
                ] {
                    let mut totals = [0u64; 2];
                    for (total, count) in totals.iter_mut().zip(counts) {
                        *total = callgrind_total(p, op, count, &batch, &out)?;
                    }
                    let messages = (counts[1] - counts[0]) * per;
                    let per_msg = totals[1].saturating_sub(totals[0]) as f64 / messages as f64;
                    println!(
                        "  {} {}: {per_msg:.1} instructions/message",
                        p.name,
                        op.name()
                    );
                    instr.push((p.name, op, per_msg));
                }
            }
            Ok(())
        },
    )?;

    let mut times: Vec<(&str, Op, Vec<f64>)> = Vec::new();
    let mut rust_allocs: Vec<(&str, Op, u64, u64)> = Vec::new();
    step("wall clock (interleaved rounds, medians)", || {
        for round in 0..ROUNDS {
            // Rotate the order so that warm-up and drift favour no one.
            for k in 0..programs.len() {
                let p = &programs[(round + k) % programs.len()];
                for (op, amount) in [(Op::Encode, ENCODE_MESSAGES), (Op::Decode, DECODE_WALKS)] {
                    let argv = p.op_args(op, amount, &batch);
                    let text = run_bounded(&argv, NATIVE_TIMEOUT, &log("native"))?;
                    let r = parse_report(&String::from_utf8_lossy(&text), &argv.join(" "))?;
                    match times.iter_mut().find(|(n, o, _)| *n == p.name && *o == op) {
                        Some((_, _, v)) => v.push(r.ns_per_msg),
                        None => times.push((p.name, op, vec![r.ns_per_msg])),
                    }
                    if let Some(a) = r.allocations {
                        match rust_allocs
                            .iter_mut()
                            .find(|(n, o, _, _)| *n == p.name && *o == op)
                        {
                            Some((_, _, allocs, msgs)) => {
                                *allocs += a;
                                *msgs += r.messages;
                            }
                            None => rust_allocs.push((p.name, op, a, r.messages)),
                        }
                    }
                }
            }
        }
        Ok(())
    })?;

    let mut allocs: Vec<(&str, Op, f64)> = rust_allocs
        .iter()
        .map(|(n, op, a, m)| (*n, *op, *a as f64 / *m as f64))
        .collect();
    step(
        "allocations of the C program (valgrind heap summary, two counts)",
        || {
            let c = &programs[1];
            for (op, counts, per) in [(Op::Encode, [1000, 2000], 1), (Op::Decode, [10, 20], BATCH)]
            {
                let mut heap = [0u64; 2];
                for (h, count) in heap.iter_mut().zip(counts) {
                    *h = heap_allocations(c, op, count, &batch, &log("memcheck"))?;
                }
                let messages = (counts[1] - counts[0]) * per;
                allocs.push((
                    c.name,
                    op,
                    heap[1].saturating_sub(heap[0]) as f64 / messages as f64,
                ));
            }
            Ok(())
        },
    )?;

    print_results(&programs, &instr, &times, &allocs)
}

fn build_c(exe: &Path, log: &Path) -> Result {
    let flags = run_bounded(
        &["pkg-config", "--cflags", "--libs", "libmnl"].map(String::from),
        NATIVE_TIMEOUT,
        log,
    )
    .map_err(|e| fail(format!("libmnl-dev missing? run `cargo xtask setup` ({e})")))?;
    let mut argv: Vec<String> = ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o"]
        .map(String::from)
        .to_vec();
    argv.push(exe.display().to_string());
    argv.push(
        root()
            .join("bench/codec/c/mnl_codec.c")
            .display()
            .to_string(),
    );
    argv.extend(
        String::from_utf8_lossy(&flags)
            .split_whitespace()
            .map(String::from),
    );
    run_bounded(&argv, NATIVE_TIMEOUT, log).map(drop)
}

fn check_outputs(programs: &[Program], rust_exe: &Path, batch: &Path, log: &Path) -> Result {
    let mut reference: Option<(&str, Vec<u8>)> = None;
    for p in programs {
        let bytes = run_bounded(
            &p.command(&["encode-dump".into(), BATCH.to_string()]),
            NATIVE_TIMEOUT,
            log,
        )?;
        if bytes.len() as u64 != BATCH * MSG_LEN {
            return Err(fail(format!(
                "{}: the 64-message batch is {} bytes, not {}",
                p.name,
                bytes.len(),
                BATCH * MSG_LEN
            )));
        }
        match &reference {
            None => {
                std::fs::write(batch, &bytes)?;
                reference = Some((p.name, bytes));
            }
            Some((first, want)) => {
                if let Some(at) = want.iter().zip(&bytes).position(|(a, b)| a != b) {
                    return Err(fail(format!(
                        "{} and {first} encode differently: first difference at byte {at} \
                         (message {}, offset {})",
                        p.name,
                        at as u64 / MSG_LEN,
                        at as u64 % MSG_LEN
                    )));
                }
            }
        }
    }
    println!(
        "  {} encoders: identical {}-byte batches",
        programs.len(),
        BATCH * MSG_LEN
    );

    let expected = run_bounded(
        &[
            rust_exe.display().to_string(),
            "expected".into(),
            DECODE_WALKS.to_string(),
        ],
        NATIVE_TIMEOUT,
        log,
    )?;
    let expected = String::from_utf8_lossy(&expected);
    let expected = expected
        .trim()
        .strip_prefix("checksum=")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| fail(format!("codec-bench expected: odd output {expected:?}")))?;
    for p in programs {
        let argv = p.op_args(Op::Decode, DECODE_WALKS, batch);
        let text = run_bounded(&argv, NATIVE_TIMEOUT, log)?;
        let r = parse_report(&String::from_utf8_lossy(&text), p.name)?;
        if r.checksum != expected || r.messages != DECODE_WALKS * BATCH {
            return Err(fail(format!(
                "{}: decoded {} messages to checksum {}, expected {} messages and {expected}",
                p.name,
                r.messages,
                r.checksum,
                DECODE_WALKS * BATCH
            )));
        }
        let argv = p.op_args(Op::Encode, ENCODE_MESSAGES, batch);
        let text = run_bounded(&argv, NATIVE_TIMEOUT, log)?;
        let r = parse_report(&String::from_utf8_lossy(&text), p.name)?;
        if r.checksum != ENCODE_MESSAGES * MSG_LEN {
            return Err(fail(format!(
                "{}: encoded {} bytes for {ENCODE_MESSAGES} messages",
                p.name, r.checksum
            )));
        }
    }
    println!(
        "  {} decoders: checksum {expected} over {} messages",
        programs.len(),
        DECODE_WALKS * BATCH
    );
    Ok(())
}

/// The instructions `p` executes for `op` over `amount`, as callgrind counts them.
fn callgrind_total(p: &Program, op: Op, amount: u64, batch: &Path, out: &Path) -> Result<u64> {
    let file = out.join(format!("callgrind.{}.{}.{amount}", p.name, op.name()));
    let mut argv: Vec<String> = vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", file.display()),
    ];
    argv.extend(p.op_args(op, amount, batch));
    run_bounded(&argv, VALGRIND_TIMEOUT, &file.with_extension("log"))?;
    let text = std::fs::read_to_string(&file)?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| fail(format!("{}: no instruction total", file.display())))
}

/// The allocations valgrind's heap summary reports for `p` doing `op` over `amount`.
fn heap_allocations(p: &Program, op: Op, amount: u64, batch: &Path, log: &Path) -> Result<u64> {
    let mut argv: Vec<String> = vec!["valgrind".into(), "--tool=memcheck".into()];
    argv.extend(p.op_args(op, amount, batch));
    run_bounded(&argv, VALGRIND_TIMEOUT, log)?;
    let text = std::fs::read_to_string(log)?;
    // "total heap usage: 1 allocs, 1 frees, 4,096 bytes allocated"
    text.lines()
        .find_map(|l| l.split("total heap usage:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .ok_or_else(|| fail(format!("no heap summary in {}", log.display())))
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn print_results(
    programs: &[Program],
    instr: &[(&str, Op, f64)],
    times: &[(&str, Op, Vec<f64>)],
    allocs: &[(&str, Op, f64)],
) -> Result {
    let get = |table: &[(&str, Op, f64)], name: &str, op: Op| {
        table
            .iter()
            .find(|(n, o, _)| *n == name && *o == op)
            .map(|(_, _, v)| *v)
            .ok_or_else(|| fail(format!("no figure for {name} {}", op.name())))
    };
    let ns: Vec<(&str, Op, f64)> = times.iter().map(|(n, o, v)| (*n, *o, median(v))).collect();

    println!("codec_cpu={}", cpu_model());
    println!(
        "codec_nproc={}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("codec_rounds={ROUNDS}");
    for op in [Op::Encode, Op::Decode] {
        for p in programs {
            println!(
                "{}_{}_instr_per_msg={:.0}",
                p.name,
                op.name(),
                get(instr, p.name, op)?
            );
        }
    }
    for op in [Op::Encode, Op::Decode] {
        for p in programs {
            println!(
                "{}_{}_ns_per_msg={:.1}",
                p.name,
                op.name(),
                get(&ns, p.name, op)?
            );
        }
    }
    for op in [Op::Encode, Op::Decode] {
        for p in programs {
            println!(
                "{}_{}_allocations_per_msg={}",
                p.name,
                op.name(),
                get(allocs, p.name, op)?
            );
        }
    }
    for (what, table) in [("instr", instr), ("ns", &ns[..])] {
        for op in [Op::Encode, Op::Decode] {
            let ours = get(table, "nlcore", op)?;
            for peer in ["libmnl", "npc"] {
                println!(
                    "{}_{what}_ratio_vs_{peer}={:.3}",
                    op.name(),
                    ours / get(table, peer, op)?
                );
            }
        }
    }
    let nlcore_allocations: f64 = allocs
        .iter()
        .filter(|(n, _, _)| *n == "nlcore")
        .map(|(_, _, v)| v)
        .sum();
    println!(
        "encode_instr_per_msg={:.0}",
        get(instr, "nlcore", Op::Encode)?
    );
    println!(
        "decode_instr_per_msg={:.0}",
        get(instr, "nlcore", Op::Decode)?
    );
    println!("allocations={nlcore_allocations}");
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().replace(' ', "_"))
        })
        .unwrap_or_else(|| "unknown".into())
}
