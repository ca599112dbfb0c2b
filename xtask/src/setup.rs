//! `cargo xtask setup`: installs what builds and tests need. Idempotent: every step checks
//! first and does nothing when the thing is already there.

use crate::util::{cargo, exec, fail, have, step, usage, Result};
use std::process::Command;

/// Rust targets: the bare-metal one proves nlcore is no_std; the others are the agent's.
const TARGETS: &[&str] = &[
    "thumbv7em-none-eabihf",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    // nlcore's socket tests also run for 32-bit ARM under qemu-user (`test cross`).
    "armv7-unknown-linux-gnueabihf",
];

/// Debian packages the host-side tests and benchmarks use.
const PACKAGES: &[&str] = &[
    "valgrind",
    "iproute2",
    "libmnl-dev",
    "pkg-config",
    // Linker and libc for the armv7 cross tests.
    "gcc-arm-linux-gnueabihf",
    "libc6-dev-armhf-cross",
];

pub fn run(args: &[String]) -> Result {
    if let Some(a) = args.first() {
        return Err(usage(format!("setup takes no arguments (got `{a}`)")));
    }
    step("rustup targets", || {
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add"]).args(TARGETS);
        exec(&mut cmd)
    })?;
    step("debian packages", || apt_install(PACKAGES))?;
    crate::board_setup::run()?;
    crate::kmod::setup()?;
    crate::packaging::setup()?;
    crate::packaging_peers::setup()?;
    crate::agent::setup()?;
    if nightly_present() {
        step("cargo-fuzz (nightly fuzzing)", || {
            if have_cargo_fuzz() {
                return Ok(());
            }
            exec(cargo().args(["install", "--locked", "cargo-fuzz"]))
        })?;
    } else {
        println!("nightly toolchain absent: fuzzing will be skipped by `cargo xtask test`");
    }
    step("qemu-user (cross tests)", install_qemu_user)?;
    if nightly_present() {
        step("rust-src for nightly (mipsel build check)", || {
            exec(Command::new("rustup").args([
                "component",
                "add",
                "rust-src",
                "--toolchain",
                "nightly",
            ]))
        })?;
    }
    Ok(())
}

/// qemu-user runs the cross tests. bookworm-backports' qemu 10 matches the qemu-system the
/// boards install from there; without that suite, bookworm's own qemu-user works as well.
fn install_qemu_user() -> Result {
    if dpkg_installed("qemu-user") {
        return Ok(());
    }
    let policy = Command::new("apt-cache")
        .args(["policy", "qemu-user"])
        .output()?;
    let mut cmd = apt_get();
    cmd.args(["install", "--no-install-recommends"]);
    if String::from_utf8_lossy(&policy.stdout).contains("bookworm-backports") {
        cmd.args(["-t", "bookworm-backports"]);
    }
    exec(cmd.arg("qemu-user"))
}

pub fn nightly_present() -> bool {
    have("rustup", "--version")
        && Command::new("rustup")
            .args(["run", "nightly", "rustc", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
}

pub fn have_cargo_fuzz() -> bool {
    cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `apt-get` that never asks and waits for the dpkg lock (others may be installing).
pub fn apt_get() -> Command {
    let mut c = Command::new("apt-get");
    c.env("DEBIAN_FRONTEND", "noninteractive")
        .args(["-o", "DPkg::Lock::Timeout=600", "-q", "-y"]);
    c
}

/// Installs the Debian packages of `packages` that are missing (none missing: no apt call).
pub fn apt_install(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing: {}", missing.join(" "));
    let apt = apt_get;
    // `apt-get update` reports a failed suite only as a warning: treat it as fatal, or a
    // partial index silently yields old package versions.
    let out = apt().arg("update").output()?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    if !out.status.success()
        || text
            .lines()
            .any(|l| l.starts_with("W:") || l.starts_with("E:"))
    {
        return Err(fail(format!("apt-get update failed:\n{text}")));
    }
    exec(
        apt()
            .arg("install")
            .arg("--no-install-recommends")
            .args(&missing),
    )
}

pub fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}
