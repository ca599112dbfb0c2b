//! `cargo xtask <command>`: the project's automation, in Rust rather than shell.
//! Every command is idempotent and prints a progress line for each long step.

mod bench;
mod bench_socket;
mod gen;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
cargo xtask <command> [options]

Commands:
  setup              install what the build and tests need (rustup targets, Debian packages,
                     cargo-fuzz); idempotent, safe to re-run
  test [PART...]     run the test suite; parts: lint, unit, nostd, fuzz (default: all)
  bench [PART...]    side-by-side benchmarks (name=value lines, ratios last)
  gen [--check]      write the protocol files generated from spec/nltelem.yaml; --check
                     only fails when one is stale
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
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "gen" => gen::run(rest),
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
