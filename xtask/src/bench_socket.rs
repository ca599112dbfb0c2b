//! `cargo xtask bench socket`: netlink socket round trips, nlcore beside C.
//!
//! - dump: an RTM_GETLINK dump of this host's links, nlcore (`nlcore/examples/socket_bench.rs`)
//!   beside libmnl as Debian ships it (`bench/socket/dump_mnl.c`, written as libmnl's own
//!   link-dump example).
//! - ping-pong: a 200-byte NETLINK_USERSOCK message to another thread's port and back,
//!   nlcore beside plain C system calls (`bench/socket/pingpong.c`).
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
    let dump_c = out.join("dump_mnl");
    let pingpong_c = out.join("pingpong");

    let mut dump_rs = Vec::new();
    let mut dump_rs_small = Vec::new();
    let mut dump_mnl = Vec::new();
    let mut ping_rs = Vec::new();
    let mut ping_c = Vec::new();
    step("interleaved rounds", || {
        for round in 0..ROUNDS {
            // Alternate which side goes first so warm-up and drift favour neither.
            let rust_first = round % 2 == 0;
            for rust_turn in [rust_first, !rust_first] {
                if rust_turn {
                    dump_rs.push(median_ns(
                        Command::new(&rust).args(["dump", DUMP_ITERATIONS]),
                    )?);
                    dump_rs_small.push(median_ns(Command::new(&rust).args([
                        "dump",
                        DUMP_ITERATIONS,
                        LIBMNL_BUFFER,
                    ]))?);
                    ping_rs.push(median_ns(
                        Command::new(&rust).args(["pingpong", PINGPONG_ITERATIONS]),
                    )?);
                } else {
                    dump_mnl.push(median_ns(Command::new(&dump_c).arg(DUMP_ITERATIONS))?);
                    ping_c.push(median_ns(
                        Command::new(&pingpong_c).arg(PINGPONG_ITERATIONS),
                    )?);
                }
            }
        }
        Ok(())
    })?;
    let us = |v: &mut Vec<f64>| median(v) / 1000.0;
    let (dump_rs, dump_rs_small, dump_mnl) =
        (us(&mut dump_rs), us(&mut dump_rs_small), us(&mut dump_mnl));
    let (ping_rs, ping_c) = (us(&mut ping_rs), us(&mut ping_c));
    println!("rounds={ROUNDS} dump_iterations={DUMP_ITERATIONS} pingpong_iterations={PINGPONG_ITERATIONS}");
    println!("dump_libmnl_us={dump_mnl:.2}");
    println!(
        "dump_4k_buffer_us={dump_rs_small:.2} dump_4k_buffer_ratio_vs_c={:.3}",
        dump_rs_small / dump_mnl
    );
    println!("pingpong_c_us={ping_c:.2}");
    println!(
        "dump_us={dump_rs:.2} dump_ratio_vs_c={:.3} pingpong_us={ping_rs:.2} pingpong_ratio_vs_c={:.3}",
        dump_rs / dump_mnl,
        ping_rs / ping_c
    );
    Ok(())
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
