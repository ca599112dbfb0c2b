//! `cargo xtask kmod --board B` and `cargo xtask image --board B`: the module built out of
//! tree against the board's Debian headers, and the board's initramfs (busybox, module,
//! overlay, agent, guest test programs, scenarios) as a `newc` cpio archive.

use crate::board::{boards_dir, take_board_option, Board};
use crate::util::{cargo, exec, fail, root, step, usage, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Modules from Debian's kernel package that scenarios may load (many test interfaces,
/// netlink capture), copied to `/lib/modules/<release>/` in the image.
const DEBIAN_MODULES: &[&str] = &["kernel/drivers/net/dummy.ko", "kernel/drivers/net/nlmon.ko"];

/// Programs of the `guest/` crate installed in `/usr/bin`.
const GUEST_PROGRAMS: &[&str] = &["nltelem-watch", "nltelem-kmod-check"];

/// What went into an image.
pub struct Image {
    pub path: PathBuf,
    pub has_module: bool,
    pub has_agent: bool,
}

fn board_from(args: &[String], command: &str) -> Result<Board> {
    let (board, rest) = take_board_option(args)?;
    if let Some(a) = rest.first() {
        return Err(usage(format!("{command}: unexpected argument `{a}`")));
    }
    let name = board.ok_or_else(|| usage(format!("{command} needs --board B")))?;
    Board::load(&name)
}

pub fn cmd_kmod(args: &[String]) -> Result {
    let board = board_from(args, "kmod")?;
    match build_kmod(&board)? {
        Some(ko) => println!("module: {}", ko.display()),
        None => {
            return Err(fail(
                "kmod/ has no Makefile or Kbuild yet: nothing to build",
            ))
        }
    }
    Ok(())
}

pub fn cmd_image(args: &[String]) -> Result {
    let board = board_from(args, "image")?;
    build_image(&board).map(|_| ())
}

/// Builds `kmod/` for `board` in a copy of its sources (each architecture in its own
/// tree, so builds for two boards never mix objects). Returns `None` while `kmod/` has no
/// build files yet.
pub fn build_kmod(board: &Board) -> Result<Option<PathBuf>> {
    let src = root().join("kmod");
    if !src.join("Makefile").is_file() && !src.join("Kbuild").is_file() {
        return Ok(None);
    }
    let out = board.out_dir();
    let copy = out.join("kmod-build");
    let kdir = board.kdir()?;
    let mut ko = None;
    step(&format!("kmod for {}", board.name), || {
        if copy.exists() {
            fs::remove_dir_all(&copy)?;
        }
        copy_tree(&src, &copy, &|name| !is_build_output(name))?;
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(&copy)
            .arg(format!("-j{}", cpus()))
            .arg(format!("KDIR={}", kdir.display()))
            .arg(format!("KERNEL_SRC={}", kdir.display()))
            .arg(format!("ARCH={}", board.kernel_make_arch));
        if !board.cross_compile.is_empty() {
            make.arg(format!("CROSS_COMPILE={}", board.cross_compile));
        }
        exec(&mut make)?;
        let built = find_file(&copy, "nltelem.ko")?.ok_or_else(|| {
            fail(format!(
                "make in {} succeeded but produced no nltelem.ko",
                copy.display()
            ))
        })?;
        let dest = out.join("nltelem.ko");
        fs::copy(&built, &dest)?;
        // Debug info is two thirds of the module; the image carries it stripped, as Debian
        // ships its own modules. The unstripped one stays in the build copy.
        let strip = format!("{}strip", board.cross_compile);
        exec(Command::new(strip).arg("--strip-debug").arg(&dest))?;
        ko = Some(dest);
        Ok(())
    })?;
    Ok(ko)
}

/// Builds what goes in the image and writes `target/board/<board>/initramfs.cpio`.
pub fn build_image(board: &Board) -> Result<Image> {
    let out = board.out_dir();
    fs::create_dir_all(&out)?;
    let module = build_kmod(board)?;
    if module.is_none() {
        println!("kmod/ has no Makefile or Kbuild yet: the image carries no module");
    }
    let programs = build_guest_programs(board)?;
    let agent = build_agent(board)?;
    let socket_tests = crate::board_sock_tests::build(board, &cargo_target_dir())?;
    let image = out.join("initramfs.cpio");
    step(&format!("initramfs for {}", board.name), || {
        let staging = out.join("rootfs");
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        for dir in [
            "bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "tmp",
        ] {
            fs::create_dir_all(staging.join(dir))?;
        }
        for dir in [
            "root",
            "var/log",
            "lib/modules",
            "usr/share/nltelem/scenarios",
        ] {
            fs::create_dir_all(staging.join(dir))?;
        }
        install(
            &board.unpacked().join("bin/busybox"),
            &staging.join("bin/busybox"),
        )?;
        copy_tree(&boards_dir().join("common/rootfs"), &staging, &|_| true)?;
        copy_tree(
            &boards_dir().join(&board.name).join("rootfs"),
            &staging,
            &|_| true,
        )?;
        if let Some(ko) = &module {
            install(ko, &staging.join("lib/modules/nltelem.ko"))?;
        }
        let release = board.kernel_release()?;
        let debian_modules = board.unpacked().join("lib/modules").join(&release);
        for m in DEBIAN_MODULES {
            let from = debian_modules.join(m);
            let name = from.file_name().expect("module paths end in a file name");
            install(
                &from,
                &staging.join("lib/modules").join(&release).join(name),
            )?;
        }
        for p in &programs {
            let name = p.file_name().expect("programs have file names");
            install(p, &staging.join("usr/bin").join(name))?;
        }
        if let Some(a) = &agent {
            install(a, &staging.join("usr/bin/nltelem"))?;
        }
        for (built, in_image) in &socket_tests {
            crate::board_sock_tests::install_stripped(board, built, &staging.join(in_image))?;
        }
        for s in scenario_files()? {
            let name = s.file_name().expect("scenarios have file names");
            install(&s, &staging.join("usr/share/nltelem/scenarios").join(name))?;
        }
        write_cpio(&staging, &image)
    })?;
    let size = fs::metadata(&image)?.len();
    println!(
        "image: {} ({} KiB; module: {}, agent: {})",
        image.display(),
        size / 1024,
        if module.is_some() {
            "yes"
        } else {
            "no, kmod/ not buildable yet"
        },
        if agent.is_some() {
            "yes"
        } else {
            "no, agent/ not built yet"
        },
    );
    Ok(Image {
        path: image,
        has_module: module.is_some(),
        has_agent: agent.is_some(),
    })
}

/// The scenario scripts (`board/scenarios/*.sh`), sorted by name.
pub fn scenario_files() -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(boards_dir().join("scenarios"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "sh"));
    files.sort();
    Ok(files)
}

/// Cargo's output for the board builds: outside the default target dir so that they never
/// wait on another build's lock.
fn cargo_target_dir() -> PathBuf {
    root().join("target/board/cargo")
}

fn build_guest_programs(board: &Board) -> Result<Vec<PathBuf>> {
    step(&format!("guest programs for {}", board.rust_target), || {
        exec(
            cargo()
                .args(["build", "--release", "-p", "nltelem-guest", "--target"])
                .args([
                    board.rust_target.as_str(),
                    "--target-dir",
                    &cargo_target_dir().to_string_lossy(),
                ]),
        )
    })?;
    let dir = cargo_target_dir().join(&board.rust_target).join("release");
    Ok(GUEST_PROGRAMS.iter().map(|p| dir.join(p)).collect())
}

/// The agent, once `agent/` is a workspace member with an `nltelem` binary; `None` until
/// then (a crate still being written outside the workspace is not built).
fn build_agent(board: &Board) -> Result<Option<PathBuf>> {
    let workspace = fs::read_to_string(root().join("Cargo.toml"))?;
    let is_member = workspace
        .lines()
        .any(|l| l.trim_start().starts_with("members") && l.contains("\"agent\""));
    if !is_member {
        return Ok(None);
    }
    let mut agent = PathBuf::new();
    step(&format!("agent for {}", board.rust_target), || {
        agent = crate::agent::build(&board.rust_target, "release")?;
        Ok(())
    })?;
    Ok(Some(agent))
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Kbuild's products, which must not travel from one architecture's build to another's.
fn is_build_output(name: &str) -> bool {
    let suffixes = [
        ".o", ".ko", ".mod", ".mod.c", ".cmd", ".symvers", ".order", ".a",
    ];
    suffixes.iter().any(|s| name.ends_with(s)) || name == ".tmp_versions"
}

fn find_file(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            if let Some(found) = find_file(&path, name)? {
                return Ok(Some(found));
            }
        } else if path.file_name().is_some_and(|f| f == name) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Copies `from` into `to` (merging into existing directories), keeping file modes and
/// symlinks, skipping names `keep` rejects.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&str) -> bool) -> Result {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep(&name) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            if dst.is_symlink() || dst.exists() {
                fs::remove_file(&dst)?;
            }
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            copy_tree(&src, &dst, keep)?;
        } else {
            fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

fn install(from: &Path, to: &Path) -> Result {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| fail(format!("copy {} -> {}: {e}", from.display(), to.display())))
}

/// Packs `dir` as a `newc` cpio (what the kernel unpacks as initramfs), owned by root,
/// in sorted order so the same inputs give the same archive.
fn write_cpio(dir: &Path, out: &Path) -> Result {
    let list = Command::new("find").arg(".").current_dir(dir).output()?;
    let mut names: Vec<&str> = std::str::from_utf8(&list.stdout)
        .map_err(|_| fail("non-UTF-8 file name in the image"))?
        .lines()
        .collect();
    names.sort_unstable();
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "-R", "0:0", "--quiet"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(fs::File::create(out)?)
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = cpio.stdin.take().expect("stdin was piped");
        stdin.write_all((names.join("\n") + "\n").as_bytes())?;
    }
    let status = cpio.wait()?;
    if !status.success() {
        return Err(fail(format!("cpio exited with {status}")));
    }
    Ok(())
}
