//! `cargo xtask test kmod`: `nltelem.ko` builds against every board's Debian kernel headers
//! with no compiler warning at `W=1` and nothing from sparse (`C=1`).
//!
//! Each architecture builds in its own copy of `kmod/` under `target/kmod-check/<board>/`,
//! so objects never mix and the checkout stays clean. The headers are the ones
//! `cargo xtask setup` unpacked for the boards (the ABI derived from Debian's metapackage).

use crate::board::{all_boards, Board};
use crate::setup::apt_install;
use crate::util::{fail, have, root, step, Result};
use std::fs;
use std::path::Path;
use std::process::Command;

/// `C=1` runs sparse on every file it compiles; tshark checks the generated dissector and
/// pyroute2 is an independent client (both in `cargo xtask test gen`).
const PACKAGES: &[&str] = &["sparse", "tshark", "python3-pyroute2"];

pub fn setup() -> Result {
    step("kmod checks: sparse, tshark, pyroute2", || {
        apt_install(PACKAGES)
    })
}

pub fn check() -> Result {
    if !have("sparse", "--version") {
        return Err(fail("sparse is missing: run `cargo xtask setup`"));
    }
    for board in all_boards()? {
        step(&format!("kmod W=1 C=1 for {}", board.name), || {
            build(&board)
        })?;
    }
    Ok(())
}

/// Copies the module's sources (not its build products) into `to`.
fn copy_sources(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            copy_sources(&path, &to.join(&name))?;
        } else if name == "Kbuild"
            || name == "Makefile"
            || name.ends_with(".c")
            || name.ends_with(".h")
        {
            fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

fn build(board: &Board) -> Result {
    let copy = root().join("target/kmod-check").join(&board.name);
    if copy.exists() {
        fs::remove_dir_all(&copy)?;
    }
    copy_sources(&root().join("kmod"), &copy)?;
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(&copy)
        .arg(format!("KDIR={}", board.kdir()?.display()))
        .arg(format!("ARCH={}", board.kernel_make_arch))
        .args(["W=1", "C=1"]);
    if !board.cross_compile.is_empty() {
        make.arg(format!("CROSS_COMPILE={}", board.cross_compile));
    }
    let out = make.output()?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    // gcc and sparse both say "warning:" / "error:"; kbuild's own notes do not.
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("warning:") || l.contains("error:"))
        .collect();
    if !out.status.success() || !complaints.is_empty() {
        return Err(fail(format!(
            "{} warnings or errors building for {}:\n{text}",
            complaints.len(),
            board.name
        )));
    }
    let ko = copy.join("nltelem.ko");
    let size = fs::metadata(&ko)
        .map_err(|e| fail(format!("{}: {e}", ko.display())))?
        .len();
    println!(
        "{}: nltelem.ko {size} bytes (with debug info), 0 warnings at W=1, sparse clean",
        board.name
    );
    Ok(())
}
