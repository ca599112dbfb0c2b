//! `cargo xtask <command>`: the project's automation, in Rust rather than shell.
//! Every command is idempotent and prints a progress line for each long step.

mod agent;
mod bench;
mod bench_codec;
mod bench_guest;
mod bench_socket;
mod board;
mod board_image;
mod board_qemu;
mod board_setup;
mod board_sock_tests;
mod board_system;
mod gen;
mod kmod;
mod packaging;
mod packaging_guest;
mod packaging_peers;
mod reliability;
mod reliability_guest;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
cargo xtask <command> [options]

Commands:
  setup              install what the build and tests need (rustup targets, Debian packages,
                     cargo-fuzz); idempotent, safe to re-run
  test [PART...]     install what is missing (as `setup`), then run the test suite;
                     parts: lint, gen, kmod, unit, nostd, cross, fuzz, packaging, export,
                     system (default: all of these); for system: --board B,
                     --scenario NAME (repeatable), --bless (write .expected files)
                     `test reliability` (long, never by default): fuzz ≥ 10 min per
                     target, hostile client, overload, faults, soak in the qemu guest
  bench [PART...]    side-by-side benchmarks (name=value lines, ratios last)
  kmod --board B     build kmod/ against board B's Debian kernel headers
  image --board B    assemble board B's initramfs (busybox, module, overlay, test programs)
  qemu [--board B]   boot board B's image (no network card); Ctrl-C ends it
  run [--board B] [--for N]
                     install what is missing (as `setup`), build everything, boot the board (default qemu-x86_64), load the module,
                     show live telemetry until Ctrl-C or N seconds
  gen [--check]      write the protocol files generated from spec/nltelem.yaml; --check
                     only fails when one is stale
  size               the agent's stripped size per target: `size TARGET BYTES`
  logs FILE [--target T]
                     decode an agent defmt log with the kept release-syms ELF
  help               this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(64);
    };
    let result = match cmd.as_str() {
        "setup" => setup::run(rest),
        // A newcomer's two commands must work on a fresh machine: both install what is
        // missing first (setup is idempotent and quick when nothing is).
        "test" => setup::run(&[]).and_then(|()| test::run(rest)),
        "bench" => bench::run(rest),
        "gen" => gen::run(rest),
        "size" => agent::cmd_size(rest),
        "logs" => agent::cmd_logs(rest),
        "kmod" => board_image::cmd_kmod(rest),
        "image" => board_image::cmd_image(rest),
        "qemu" => board_qemu::cmd_qemu(rest),
        "run" => setup::run(&[]).and_then(|()| board_qemu::cmd_run(rest)),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(util::usage(format!("unknown command `{other}`\n\n{USAGE}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(e.code)
        }
    }
}
