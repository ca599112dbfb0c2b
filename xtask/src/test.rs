//! `cargo xtask test [PART...]`: the whole suite, or named parts of it.

use crate::setup::{have_cargo_fuzz, nightly_present};
use crate::util::{cargo, exec, step, usage, Result};

const PARTS: &[&str] = &[
    "lint",
    "gen",
    "kmod",
    "unit",
    "nostd",
    "cross",
    "fuzz",
    "packaging",
    "export",
    "system",
    // Long (about an hour): only when named, never in the default run.
    "reliability",
];

/// Seconds each fuzz target runs in the short CI pass (the long campaign is separate).
const FUZZ_SECONDS: u32 = 30;

pub fn run(args: &[String]) -> Result {
    let (reliability_opts, args) = crate::reliability::take_options(args)?;
    let (system_opts, args) = crate::board_system::take_options(&args)?;
    let args = &args[..];
    for a in args {
        if !PARTS.contains(&a.as_str()) {
            return Err(usage(format!(
                "unknown test part `{a}` (parts: {})",
                PARTS.join(", ")
            )));
        }
    }
    let wanted = |p: &str| (args.is_empty() && p != "reliability") || args.iter().any(|a| a == p);
    if wanted("lint") {
        step("cargo fmt --check", || {
            exec(cargo().args(["fmt", "--all", "--", "--check"]))
        })?;
        step("cargo clippy -D warnings", || {
            exec(cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]))
        })?;
        // The optional exporters' cfg: a build without them must stay clean too.
        step(
            "cargo clippy -D warnings, the agent without optional exporters",
            || {
                exec(cargo().args([
                    "clippy",
                    "-p",
                    "nltelem",
                    "--all-targets",
                    "--no-default-features",
                    "--",
                    "-D",
                    "warnings",
                ]))
            },
        )?;
        // The agent as it ships (release: no_std, its own entry point) is other code than
        // the host's dev build that the workspace lint sees.
        step("cargo clippy -D warnings, the shipped agent", || {
            exec(cargo().args([
                "clippy",
                "--release",
                "-p",
                "nltelem",
                "--target",
                "x86_64-unknown-linux-musl",
                "--",
                "-D",
                "warnings",
            ]))
        })?;
    }
    if wanted("gen") {
        step("generated protocol files match spec/nltelem.yaml", || {
            crate::gen::run(&["--check".to_string()])
        })?;
        step(
            "Wireshark dissector decodes a capture of the module",
            crate::gen::check_dissector,
        )?;
        step(
            "pyroute2 decodes the same capture",
            crate::gen::check_pyroute2,
        )?;
    }
    if wanted("kmod") {
        step(
            "nltelem.ko: W=1 and sparse clean for every board",
            crate::kmod::check,
        )?;
    }
    if wanted("unit") {
        step("cargo test (workspace)", || {
            exec(cargo().args(["test", "--workspace", "--all-features"]))
        })?;
        step("cargo test (the agent without optional exporters)", || {
            exec(cargo().args(["test", "-p", "nltelem", "--no-default-features"]))
        })?;
    }
    if wanted("nostd") {
        step(
            "nlcore builds for thumbv7em-none-eabihf (no_std, no alloc)",
            || {
                exec(cargo().args([
                    "build",
                    "-p",
                    "nlcore",
                    "--no-default-features",
                    "--target",
                    "thumbv7em-none-eabihf",
                ]))?;
                exec(cargo().args([
                    "build",
                    "-p",
                    "nlcore",
                    "--features",
                    "defmt",
                    "--target",
                    "thumbv7em-none-eabihf",
                ]))
            },
        )?;
    }
    if wanted("cross") {
        step(
            "nlcore socket tests for aarch64 and armv7 under qemu-user",
            cross_socket_tests,
        )?;
        step(
            "the agent as it ships for aarch64 and armv7, under qemu-user",
            crate::agent::check_foreign_builds,
        )?;
    }
    if wanted("fuzz") {
        step("fuzz targets (short run each)", fuzz_short)?;
    }
    if wanted("packaging") {
        crate::packaging::test()?;
    }
    if wanted("export") {
        crate::packaging_peers::test()?;
    }
    if wanted("system") {
        step("system tests (qemu boards)", || {
            crate::board_system::run(&system_opts)
        })?;
    } else {
        crate::board_system::options_need_system(&system_opts)?;
    }
    if wanted("reliability") {
        step("reliability campaign", || {
            crate::reliability::run(&reliability_opts)
        })?;
    }
    Ok(())
}

/// `cargo fuzz` on the nightly toolchain. Through `rustup run`: `$CARGO` is the stable
/// toolchain's own cargo binary, which does not understand `+nightly`.
fn nightly_cargo_fuzz() -> std::process::Command {
    let mut cmd = std::process::Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"]);
    cmd
}

fn fuzz_short() -> Result {
    if !nightly_present() || !have_cargo_fuzz() {
        // Not a pass: the fuzz targets are part of the suite. `cargo xtask setup` installs
        // cargo-fuzz; the nightly toolchain comes with the machine image.
        return Err(crate::util::fail(
            "fuzzing needs the nightly toolchain and cargo-fuzz: run `cargo xtask setup`",
        ));
    }
    let root = crate::util::root();
    let list = nightly_cargo_fuzz()
        .current_dir(&root)
        .arg("list")
        .output()?;
    let targets = String::from_utf8_lossy(&list.stdout).to_string();
    if !list.status.success() || targets.trim().is_empty() {
        return Err(crate::util::fail(format!(
            "`cargo fuzz list` found no targets: {}",
            String::from_utf8_lossy(&list.stderr)
        )));
    }
    for target in targets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // libFuzzer adds what it finds to the first corpus directory: a scratch one under
        // target/, so the committed seeds (fuzz/corpus/<target>) are only read.
        let scratch = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&scratch)?;
        let seeds = root.join("fuzz/corpus").join(target);
        let max_time = format!("-max_total_time={FUZZ_SECONDS}");
        exec(
            nightly_cargo_fuzz()
                .args(["run", target])
                .arg(&scratch)
                .arg(&seeds)
                .args(["--", &max_time]),
        )?;
    }
    Ok(())
}

/// Targets whose nlcore socket tests run under qemu-user (runners in .cargo/config.toml).
const CROSS_TARGETS: &[&str] = &[
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf",
];

/// nlcore's socket tests built for other architectures and run under qemu-user. qemu-user
/// lets a guest program open only NETLINK_ROUTE (and uevent/audit) sockets, so the
/// NETLINK_GENERIC and NETLINK_USERSOCK tests are built for each target here but run
/// natively (part `unit`) and in the qemu boards' real kernels (part `system`, scenario
/// `nlcore-sockets`); this says so instead of passing them silently.
fn cross_socket_tests() -> Result {
    for target in CROSS_TARGETS {
        let socket_tests = ["-p", "nlcore", "--features", "socket", "--target", target];
        exec(
            cargo()
                .arg("test")
                .args(socket_tests)
                .args(["--test", "sock_route"]),
        )?;
        exec(cargo().args(["test", "--no-run"]).args(socket_tests).args([
            "--test",
            "sock_genl",
            "--test",
            "sock_usersock",
            "--test",
            "sock_dump",
        ]))?;
    }
    println!(
        "NOT RUN under qemu-user: sock_genl, sock_usersock, sock_dump (qemu-user refuses NETLINK_GENERIC \
         and NETLINK_USERSOCK sockets: EPROTONOSUPPORT); built for {}; they run natively in `unit`, \
         and for aarch64 (and x86_64) with sock_examples and sock_route in the qemu boards' kernels \
         (`system`, scenario nlcore-sockets); for armv7 nowhere yet (no qemu-armv7 board)",
        CROSS_TARGETS.join(", ")
    );
    if !nightly_present() {
        return Err(crate::util::fail(
            "the mipsel build of nlcore's sockets needs the nightly toolchain",
        ));
    }
    // mips has no prebuilt std: build nlcore (no_std) against core built from source.
    exec(std::process::Command::new("rustup").args([
        "run",
        "nightly",
        "cargo",
        "build",
        "-Zbuild-std=core",
        "-p",
        "nlcore",
        "--features",
        "socket",
        "--target",
        "mipsel-unknown-linux-musl",
    ]))
}
