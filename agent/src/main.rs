//! `nltelem`: the agent binary. `#![no_std]`, `#![no_main]`, no allocator, no C run-time:
//! `sys` has the entry point, and everything else is the `nltelem` library (logic) plus the
//! small system modules here (sockets, signals, output, defmt log).
//!
//! That is the build with `panic = "abort"` (the release profiles: what ships). A build
//! with unwinding panics (the dev profile of `cargo check`, `clippy`, `build` on the host)
//! cannot be `no_std` on a precompiled `core`, so it takes std's entry point instead and
//! runs the same code.
#![cfg_attr(panic = "abort", no_std)]
#![cfg_attr(panic = "abort", no_main)]
#![deny(unsafe_code)]

mod client;
mod conn;
mod daemon;
mod io;
mod log;
mod sys;

use nltelem::cli::{self, exit, Command, Invocation, Topic};
use nltelem::config;

/// The arguments after the program name, parsed into `inv`; on a usage error (said on
/// stderr) the exit code.
fn parse<'a>(args: &[&'a str], inv: &mut Invocation<'a>) -> Result<(), u8> {
    cli::parse(args, inv).map_err(|e| {
        io::report(["", ""], io::Cause::Usage(&e), "");
        exit::USAGE
    })
}

/// The program, from the parsed command line to the exit code.
fn run(inv: &Invocation<'_>) -> u8 {
    // One command runs per process: it has the buffers.
    let Some(bufs) = sys::buffers() else {
        return exit::SOFTWARE;
    };
    match inv.command {
        Command::Help(topic) => help(topic, &mut bufs.out),
        Command::Run => daemon::run(inv.config.unwrap_or(config::DEFAULT_PATH), bufs),
        _ => client::run(inv, bufs),
    }
}

/// `help [TOPIC]` or `--version`.
fn help(topic: Topic, out: &mut io::Stdout) -> u8 {
    cli::help(topic, out.text());
    out.flush();
    exit::OK
}

/// std's entry point, for builds with unwinding panics (see the crate documentation).
#[cfg(not(panic = "abort"))]
fn main() -> std::process::ExitCode {
    let owned: std::vec::Vec<std::string::String> = std::env::args().skip(1).collect();
    let args: std::vec::Vec<&str> = owned.iter().map(|s| s.as_str()).collect();
    let mut inv = Invocation::default();
    std::process::ExitCode::from(match parse(&args, &mut inv) {
        Ok(()) => run(&inv),
        Err(code) => code,
    })
}

#[cfg(panic = "abort")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // The message would pull in the formatting of every panic site; the defmt log and the
    // exit code say enough for a panic that must not happen.
    io::fail("internal error (panic)");
    sys::exit_now(exit::SOFTWARE)
}
