//! `cargo xtask bench socket`: netlink socket round trips, nlcore beside C.
//!
//! - dump: an RTM_GETLINK dump of this host's links, nlcore (`nlcore/examples/socket_bench.rs`)
//!   beside libmnl as Debian ships it (`bench/socket/dump_mnl.c`, written as libmnl's own
//!   link-dump example).
//! - ping-pong: a 200-byte NETLINK_USERSOCK message to another thread's port and back,
//!   nlcore beside plain C system calls (`bench/socket/pingpong.c`).
//! - dump_201_links: the same dump in a network namespace the run makes, holding `lo` and
//!   100 veth pairs (this host has veth but no dummy devices), deleted afterwards; needs root.
//!
//! Both references are compiled in the same run; the programs run interleaved, in
//! alternating order, and each figure is the median over rounds of per-round medians.

use crate::util::{cargo, exec, fail, root, step, usage, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROUNDS: usize = 7;
const DUMP_ITERATIONS: &str = "2000";
const PINGPONG_ITERATIONS: &str = "20000";
/// libmnl 1.0.4's `MNL_SOCKET_BUFFER_SIZE` on 4 KiB pages: nlcore is also timed with it so
/// the report shows what the larger default dump buffer is worth.
const LIBMNL_BUFFER: &str = "4096";

/// veth pairs in the namespace of the large dump: 200 links and `lo`, a router's worth.
const NETNS_VETH_PAIRS: usize = 100;
const NETNS_DUMP_ITERATIONS: &str = "300";

/// One side-by-side figure: the Rust and the C program, their arguments, and whether they
/// run in the benchmark's network namespace.
struct Case {
    name: &'static str,
    rust_args: Vec<&'static str>,
    c_program: &'static str,
    c_args: Vec<&'static str>,
    in_netns: bool,
    rust_ns: Vec<f64>,
    c_ns: Vec<f64>,
}

impl Case {
    fn new(
        name: &'static str,
        rust_args: &[&'static str],
        c_program: &'static str,
        c_args: &[&'static str],
        in_netns: bool,
    ) -> Self {
        Case {
            name,
            rust_args: rust_args.to_vec(),
            c_program,
            c_args: c_args.to_vec(),
            in_netns,
            rust_ns: Vec::new(),
            c_ns: Vec::new(),
        }
    }

    /// (Rust µs, C µs, ratio) from the medians of the rounds.
    fn result(&mut self) -> (f64, f64, f64) {
        let rust = median(&mut self.rust_ns) / 1000.0;
        let c = median(&mut self.c_ns) / 1000.0;
        (rust, c, rust / c)
    }
}

pub fn run(args: &[String]) -> Result {
    if let Some(a) = args.first() {
        return Err(usage(format!("bench socket takes no options (got `{a}`)")));
    }
    let out = root().join("target/bench-socket");
    std::fs::create_dir_all(&out)?;
    step("build C references (cc, libmnl)", || build_c(&out))?;
    step("build nlcore socket_bench (profile bench-speed)", || {
        exec(cargo().args([
            "build",
            "--quiet",
            "--profile",
            "bench-speed",
            "-p",
            "nlcore",
            "--features",
            "socket",
            "--example",
            "socket_bench",
        ]))
    })?;
    let rust = target_dir().join("bench-speed/examples/socket_bench");
    let mut cases = vec![
        Case::new(
            "dump",
            &["dump", DUMP_ITERATIONS],
            "dump_mnl",
            &[DUMP_ITERATIONS],
            false,
        ),
        // nlcore with libmnl's buffer size: what the larger default buffer is worth.
        Case::new(
            "dump_4k_buffer",
            &["dump", DUMP_ITERATIONS, LIBMNL_BUFFER],
            "dump_mnl",
            &[DUMP_ITERATIONS],
            false,
        ),
        Case::new(
            "pingpong",
            &["pingpong", PINGPONG_ITERATIONS],
            "pingpong",
            &[PINGPONG_ITERATIONS],
            false,
        ),
        Case::new(
            "dump_201_links",
            &["dump", NETNS_DUMP_ITERATIONS],
            "dump_mnl",
            &[NETNS_DUMP_ITERATIONS],
            true,
        ),
    ];
    let netns = match Netns::create(&out) {
        Ok(ns) => Some(ns),
        Err(e) => {
            println!("NOT MEASURED: dump_201_links (no network namespace with veth pairs: {e})");
            cases.retain(|c| !c.in_netns);
            None
        }
    };
    step("interleaved rounds", || {
        for round in 0..ROUNDS {
            for case in cases.iter_mut() {
                let wrap = |program: &Path, args: &[&str]| {
                    let mut cmd = match (&netns, case.in_netns) {
                        (Some(ns), true) => {
                            let mut c = Command::new("ip");
                            c.args(["netns", "exec", &ns.name]).arg(program);
                            c
                        }
                        _ => Command::new(program),
                    };
                    cmd.args(args);
                    cmd
                };
                let mut rust_cmd = wrap(&rust, &case.rust_args);
                let mut c_cmd = wrap(&out.join(case.c_program), &case.c_args);
                // Alternate which side goes first so warm-up and drift favour neither.
                if round % 2 == 0 {
                    case.rust_ns.push(median_ns(&mut rust_cmd)?);
                    case.c_ns.push(median_ns(&mut c_cmd)?);
                } else {
                    case.c_ns.push(median_ns(&mut c_cmd)?);
                    case.rust_ns.push(median_ns(&mut rust_cmd)?);
                }
            }
        }
        Ok(())
    })?;
    drop(netns);
    println!("rounds={ROUNDS} dump_iterations={DUMP_ITERATIONS} pingpong_iterations={PINGPONG_ITERATIONS}");
    let mut headline = Vec::new();
    for case in cases.iter_mut() {
        let (rust_us, c_us, ratio) = case.result();
        let name = case.name;
        println!("{name}_c_us={c_us:.2}");
        let figures = format!("{name}_us={rust_us:.2} {name}_ratio_vs_c={ratio:.3}");
        match name {
            // The four figures the issue asks for, together on the last line.
            "dump" | "pingpong" => headline.push(figures),
            _ => println!("{figures}"),
        }
    }
    println!("{}", headline.join(" "));
    Ok(())
}

/// A network namespace holding `lo` and NETNS_VETH_PAIRS veth pairs, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create(out: &Path) -> Result<Netns> {
        let name = format!("nlcore-bench-{}", std::process::id());
        exec(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        let batch = out.join("veth.batch");
        let lines: String = (0..NETNS_VETH_PAIRS)
            .map(|i| format!("link add va{i} type veth peer name vb{i}\n"))
            .collect();
        std::fs::write(&batch, lines)?;
        exec(
            Command::new("ip")
                .args(["-n", &ns.name, "-batch"])
                .arg(&batch),
        )?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth pairs with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn build_c(out: &Path) -> Result {
    let src = root().join("bench/socket");
    exec(
        Command::new("cc")
            .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(out.join("dump_mnl"))
            .arg(src.join("dump_mnl.c"))
            .arg("-lmnl"),
    )?;
    exec(
        Command::new("cc")
            .args(["-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
            .arg(out.join("pingpong"))
            .arg(src.join("pingpong.c")),
    )
}

/// Where cargo puts build output (`CARGO_TARGET_DIR` or `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root().join(p) } else { p })
        .unwrap_or_else(|| root().join("target"))
}

/// Runs one benchmark program and reads its `median_ns=` figure.
fn median_ns(cmd: &mut Command) -> Result<f64> {
    let shown = format!("{cmd:?}");
    let output = cmd.current_dir(root()).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(fail(format!(
            "{shown} failed ({}): {text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("median_ns="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| fail(format!("{shown} printed no median_ns: {text}")))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
