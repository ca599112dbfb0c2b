//! The agent's automation: `cargo xtask size` (stripped size per target), `cargo xtask logs
//! FILE` (decode a defmt log with the kept ELF) and `cargo xtask bench agent` (peak RSS and
//! startup-to-ready beside a minimal static-musl C agent).

use crate::setup::apt_install;
use crate::util::{cargo, exec, fail, have, root, step, usage, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The targets the agent ships for (static, no C library run-time).
pub const TARGETS: &[&str] = &[
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    ARMV7,
];

/// 32-bit ARM: no prebuilt `core` for it, so built from source on nightly.
pub const ARMV7: &str = "armv7-unknown-linux-musleabihf";

/// Size goal per target (bytes, stripped); the goal is set for x86_64 and aarch64.
const SIZE_GOAL: u64 = 48 * 1024;

/// Cargo's output for these builds, apart from everyone else's.
fn target_dir() -> PathBuf {
    root().join("target/agent-xtask")
}

/// The agent's optional exporters (cargo features), each alone and with neither: the
/// builds `cargo xtask size` measures besides the full one.
const VARIANTS: &[(&str, &str)] = &[
    ("line-protocol-only", ""),
    ("with-mqtt", "mqtt"),
    ("with-prometheus", "prometheus"),
];

/// Builds the agent for `target` with `profile`; returns the binary.
pub fn build(target: &str, profile: &str) -> Result<PathBuf> {
    build_features(target, profile, None)
}

/// [`build`] with only the optional exporters in `features` (space-separated), in a target
/// directory of its own so the full build's binary is never replaced.
fn build_features(target: &str, profile: &str, features: Option<(&str, &str)>) -> Result<PathBuf> {
    let dir = match features {
        Some((name, _)) => target_dir().join(format!("variant-{name}")),
        None => target_dir(),
    };
    let mut cmd = if target == ARMV7 {
        if !crate::setup::nightly_present() {
            return Err(fail(
                "the armv7 agent needs the nightly toolchain (core built from source)",
            ));
        }
        // Through `rustup run`: `$CARGO` is the stable toolchain's own cargo binary. The
        // memory functions come from compiler-builtins: there is no C library to take
        // them from.
        let mut cmd = Command::new("rustup");
        cmd.args(["run", "nightly", "cargo"]).args([
            "-Zbuild-std=core",
            "-Zbuild-std-features=compiler-builtins-mem",
        ]);
        cmd
    } else {
        cargo()
    };
    exec(
        cmd.args([
            "build",
            "-p",
            "nltelem",
            "--bin",
            "nltelem",
            "--profile",
            profile,
        ])
        .args(match features {
            Some((_, list)) => vec!["--no-default-features", "--features", list],
            None => vec![],
        })
        .args(["--target", target, "--target-dir", &dir.to_string_lossy()]),
    )?;
    let bin = dir.join(target).join(profile).join("nltelem");
    if profile == "release" {
        drop_section_headers(&bin)?;
    }
    Ok(bin)
}

/// Cuts the section header table (and the unloaded sections after the last segment:
/// `.comment`, `.shstrtab`) off a stripped executable, as OpenWrt's `sstrip` does: the
/// kernel loads a program by its program headers alone. About 1.2 KB of every shipped
/// agent. (`release-syms` keeps them: defmt's decoder and debuggers read that build.)
/// Idempotent: a file without section headers is left as it is.
fn drop_section_headers(bin: &Path) -> Result {
    let mut elf = std::fs::read(bin)?;
    let bad = || {
        fail(format!(
            "{}: not a little-endian ELF executable",
            bin.display()
        ))
    };
    let field = |elf: &[u8], at: usize, len: usize| -> Option<u64> {
        let bytes = elf.get(at..at + len)?;
        Some(bytes.iter().rev().fold(0, |v, &b| (v << 8) | u64::from(b)))
    };
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(5) != Some(&1) {
        return Err(bad());
    }
    // ELF32 or ELF64: where the header's fields and a program header's offset and file
    // size are.
    let (word, phoff, shoff, phentsize, shentsize, p_offset, p_filesz) = match elf.get(4) {
        Some(1) => (4, 0x1c, 0x20, 0x2a, 0x2e, 0x04, 0x10),
        Some(2) => (8, 0x20, 0x28, 0x36, 0x3a, 0x08, 0x20),
        _ => return Err(bad()),
    };
    let table = field(&elf, phoff, word).ok_or_else(bad)? as usize;
    let entry = field(&elf, phentsize, 2).ok_or_else(bad)? as usize;
    let count = field(&elf, phentsize + 2, 2).ok_or_else(bad)? as usize;
    let mut end = table + entry * count;
    for i in 0..count {
        let ph = table + i * entry;
        let offset = field(&elf, ph + p_offset, word).ok_or_else(bad)?;
        let size = field(&elf, ph + p_filesz, word).ok_or_else(bad)?;
        end = end.max((offset + size) as usize);
    }
    if end > elf.len() {
        return Err(bad());
    }
    // e_shoff, then e_shentsize, e_shnum and e_shstrndx: no section header table.
    elf[shoff..shoff + word].fill(0);
    elf[shentsize..shentsize + 6].fill(0);
    elf.truncate(end);
    std::fs::write(bin, elf)?;
    Ok(())
}

/// Runs the shipped (release) agent for aarch64 and armv7 under qemu-user: the program
/// entry, argument handling, output and exit codes of each architecture's build. (Its
/// netlink side runs in the qemu boards' kernels: qemu-user refuses NETLINK_GENERIC.)
pub fn check_foreign_builds() -> Result {
    let runners = [
        ("aarch64-unknown-linux-musl", "qemu-aarch64"),
        (ARMV7, "qemu-arm"),
    ];
    for (target, runner) in runners {
        let bin = build(target, "release")?;
        let version = format!("nltelem {}\n", env!("CARGO_PKG_VERSION"));
        let cases: [(&[&str], u8, &str, &str); 4] = [
            (&["--version"], 0, &version, ""),
            (&["bogus"], 64, "", "nltelem: unknown command `bogus`\n"),
            (
                &["run", "-c", "/nonexistent/nltelem.conf"],
                78,
                "",
                "nltelem: /nonexistent/nltelem.conf: cannot open: errno 2\n",
            ),
            (&["help", "run"], 0, "usage: nltelem run [-c FILE]", ""),
        ];
        for (args, code, stdout, stderr) in cases {
            // Bounded: `timeout` ends a hung emulation.
            let out = Command::new("timeout")
                .args(["60", runner])
                .arg(&bin)
                .args(args)
                .output()?;
            let got_out = String::from_utf8_lossy(&out.stdout);
            let got_err = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(code.into())
                || !got_out.starts_with(stdout)
                || got_err != stderr
            {
                return Err(fail(format!(
                    "{target}: nltelem {}: expected exit {code}, stdout starting {stdout:?}, \
                     stderr {stderr:?}; got {:?}, {got_out:?}, {got_err:?}",
                    args.join(" "),
                    out.status.code()
                )));
            }
        }
        println!("{target}: entry, arguments, output and exit codes as on x86_64");
    }
    Ok(())
}

/// What the agent's tools need: musl-gcc for the C reference agent, defmt-print for logs.
pub fn setup() -> Result {
    step("agent: musl-tools (C reference agent)", || {
        apt_install(&["musl-tools"])
    })?;
    step("agent: defmt-print (log decoder)", || {
        if have("defmt-print", "--version") {
            return Ok(());
        }
        exec(cargo().args(["install", "--locked", "defmt-print"]))
    })
}

/// `cargo xtask size`: `size TARGET BYTES` per target (the release profile strips; the
/// section headers are cut off as well, see [`drop_section_headers`]), then
/// `variant NAME TARGET BYTES` for x86_64 builds with fewer exporters.
pub fn cmd_size(args: &[String]) -> Result {
    if let Some(a) = args.first() {
        return Err(usage(format!("size takes no arguments (got `{a}`)")));
    }
    let mut lines = Vec::new();
    for target in TARGETS {
        let bin = build(target, "release")?;
        lines.push((target, std::fs::metadata(&bin)?.len()));
    }
    for (target, bytes) in &lines {
        let verdict = if *bytes <= SIZE_GOAL {
            "within"
        } else {
            "over"
        };
        println!("size {target} {bytes}");
        eprintln!("  ({verdict} the {SIZE_GOAL}-byte goal)");
    }
    let target = TARGETS[0];
    for &(name, features) in VARIANTS {
        let bin = build_features(target, "release", Some((name, features)))?;
        let bytes = std::fs::metadata(&bin)?.len();
        println!("variant {name} {target} {bytes}");
    }
    Ok(())
}

/// `cargo xtask logs FILE [--target T]`: decodes a defmt log written by the agent, with the
/// unstripped ELF of the `release-syms` build (build the agent you run with that profile).
pub fn cmd_logs(args: &[String]) -> Result {
    let mut file = None;
    let mut target = TARGETS[0].to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => {
                target = it
                    .next()
                    .ok_or_else(|| usage("--target needs a value"))?
                    .clone()
            }
            f if file.is_none() && !f.starts_with('-') => file = Some(PathBuf::from(f)),
            other => return Err(usage(format!("logs: unexpected `{other}`"))),
        }
    }
    let file = file.ok_or_else(|| usage("usage: cargo xtask logs FILE [--target T]"))?;
    if !have("defmt-print", "--version") {
        return Err(fail("defmt-print is missing: run `cargo xtask setup`"));
    }
    let elf = build(&target, "release-syms")?;
    let input = std::fs::File::open(&file)
        .map_err(|e| fail(format!("cannot open {}: {e}", file.display())))?;
    let status = Command::new("defmt-print")
        .arg("-e")
        .arg(&elf)
        .arg("stdin")
        .stdin(input)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("defmt-print exited with {status}")))
    }
}

/// Samples the benchmark sends.
const SAMPLES: u32 = 10_000;
/// Samples per burst; the driver pauses 1 ms between bursts.
const BURST: u32 = 50;
/// Startup measurements per agent (median reported).
const STARTS: usize = 21;
/// `NETLINK_USERSOCK`: two processes can multicast to each other on the host.
const USERSOCK: &str = "2";

/// `cargo xtask bench agent`.
pub fn bench(_args: &[String]) -> Result {
    if !have("musl-gcc", "--version") && !Path::new("/usr/bin/musl-gcc").exists() {
        return Err(fail("musl-gcc is missing: run `cargo xtask setup`"));
    }
    let work = target_dir().join("bench");
    std::fs::create_dir_all(&work)?;
    let agent = build(TARGETS[0], "release")?;
    let src = root().join("agent/bench");
    let reference = work.join("ref-agent");
    let driver = work.join("driver");
    step("C reference agent (musl-gcc -static -Os -s)", || {
        exec(
            Command::new("musl-gcc")
                .args(["-static", "-Os", "-s", "-Wall", "-o"])
                .arg(&reference)
                .arg(src.join("ref-agent.c")),
        )
    })?;
    step("sample driver", || {
        exec(
            Command::new("cc")
                .args(["-O2", "-Wall", "-o"])
                .arg(&driver)
                .arg(src.join("driver.c")),
        )
    })?;
    let config = work.join("bench.conf");
    std::fs::write(
        &config,
        "# cargo xtask bench agent: samples from a process on NETLINK_USERSOCK\n\
         transport = unit:2\ngroups = telemetry\naccept_senders = any\nheartbeat_ms = 0\n\
         export = line-protocol:stdout\n",
    )?;
    let rust_cmd = || {
        let mut c = Command::new(&agent);
        c.arg("run").arg("-c").arg(&config);
        c
    };
    let c_cmd = || {
        let mut c = Command::new(&reference);
        c.arg(USERSOCK);
        c
    };
    println!(
        "agent_size_bytes={} ref_agent_size_bytes={}",
        std::fs::metadata(&agent)?.len(),
        std::fs::metadata(&reference)?.len()
    );
    let rust = measure("nltelem", rust_cmd, &driver)?;
    let c = measure("ref_agent", c_cmd, &driver)?;
    println!(
        "ratio_rss_nltelem_over_ref={:.2} ratio_startup_nltelem_over_ref={:.2}",
        rust.peak_rss_kib as f64 / c.peak_rss_kib as f64,
        rust.startup_us as f64 / c.startup_us as f64
    );
    Ok(())
}

struct Figures {
    peak_rss_kib: u64,
    startup_us: u64,
}

/// A started agent, its stdout lines arriving on a channel (so every wait is bounded).
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(mut cmd: Command) -> Result<(Self, Instant)> {
        let t0 = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out: ChildStdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok((Running { child, lines: rx }, t0))
    }

    /// The first line containing `what`, within `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(what) => return Ok(l),
                Ok(_) => {}
                Err(_) => return Err(fail(format!("no `{what}` line within {timeout:?}"))),
            }
        }
    }

    fn signal(&self, sig: &str) -> Result {
        exec(Command::new("kill").args([sig, &self.child.id().to_string()]))
    }

    /// SIGTERM, then a bounded wait for the exit (SIGKILL after 2 s); how long it took.
    fn stop(&mut self) -> Result<Duration> {
        let t0 = Instant::now();
        self.signal("-TERM")?;
        while t0.elapsed() < Duration::from_secs(2) {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    return Err(fail(format!("the agent exited with {status}")));
                }
                return Ok(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(fail("the agent did not exit within 2 s of SIGTERM"))
    }

    fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| fail("no VmHWM in /proc/PID/status"))
    }
}

fn measure(name: &str, cmd: impl Fn() -> Command, driver: &Path) -> Result<Figures> {
    // Startup to ready: from spawn to the "ready" line, median of several starts.
    let mut starts = Vec::new();
    for _ in 0..STARTS {
        let (mut agent, t0) = Running::start(cmd())?;
        agent.wait_for("ready", Duration::from_secs(5))?;
        starts.push(t0.elapsed().as_micros() as u64);
        agent.stop()?;
    }
    starts.sort_unstable();
    let startup_us = starts[starts.len() / 2];

    // Peak RSS after SAMPLES samples, and the agent's own count of them.
    let (mut agent, _) = Running::start(cmd())?;
    agent.wait_for("ready", Duration::from_secs(5))?;
    exec(Command::new(driver).args([USERSOCK, &SAMPLES.to_string(), &BURST.to_string()]))?;
    std::thread::sleep(Duration::from_millis(300));
    let peak_rss_kib = agent.peak_rss_kib()?;
    if name == "nltelem" {
        // nltelem prints its counters on SIGUSR1; the C agent prints them when it exits.
        agent.signal("-USR1")?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let stop_time = agent.stop()?;
    let counts = agent.wait_for("counters", Duration::from_secs(2))?;
    println!("{name}_startup_to_ready_us={startup_us} (median of {STARTS})");
    println!("{name}_peak_rss_kib={peak_rss_kib} (VmHWM after {SAMPLES} samples)");
    println!("{name}_stop_ms={}", stop_time.as_millis());
    println!("{name}_{counts} (of {SAMPLES} sent)");
    Ok(Figures {
        peak_rss_kib,
        startup_us,
    })
}
