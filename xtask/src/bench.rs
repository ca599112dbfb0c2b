//! `cargo xtask bench [PART...]`: side-by-side benchmarks. Each part prints `name=value`
//! lines, ratios last. Figures belong here, never in timed tests.

use crate::util::{usage, Result};

/// (name, what it measures, runner)
type Part = (&'static str, &'static str, fn(&[String]) -> Result);

const PARTS: &[Part] = &[
    (
        "codec",
        "encode/decode instructions, ns and allocations per message vs libmnl / netlink-packet-core",
        crate::bench_codec::run,
    ),
    (
        "socket",
        "netlink dump and USERSOCK ping-pong round trips vs libmnl / plain C",
        crate::bench_socket::run,
    ),
    (
        "agent",
        "nltelem peak RSS after 10,000 samples and startup-to-ready vs a static-musl C agent",
        crate::agent::bench,
    ),
    (
        "guest",
        "in the qemu guest: agent's highest lossless sample rate, CPU per 1,000 samples and GET_SAMPLE vs static C",
        crate::bench_guest::run,
    ),
];

pub fn run(args: &[String]) -> Result {
    let (selected, rest): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| !a.starts_with('-'));
    let rest: Vec<String> = rest.into_iter().cloned().collect();
    for name in &selected {
        if !PARTS.iter().any(|(p, _, _)| p == name) {
            let known: Vec<String> = PARTS.iter().map(|(p, d, _)| format!("{p} ({d})")).collect();
            return Err(usage(format!(
                "unknown bench part `{name}`; parts: {}",
                known.join(", ")
            )));
        }
    }
    for (name, _, runner) in PARTS {
        if selected.is_empty() || selected.iter().any(|s| s == name) {
            runner(&rest)?;
        }
    }
    Ok(())
}
