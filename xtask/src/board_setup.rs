//! The boards' part of `cargo xtask setup`: qemu 10 from bookworm-backports, the cross
//! compiler, and for every board architecture the Debian kernel (image, modules, headers)
//! and a static busybox, downloaded once into `.cache/board/<arch>/` and unpacked there.
//!
//! Nothing is installed for a foreign architecture: its packages are only downloaded and
//! unpacked (installing the arm64 headers would remove the native gcc). The kernel ABI is
//! read from the metapackage for each architecture, never hard-coded: old ABIs vanish from
//! the archive, and the architectures do not always agree.

use crate::board::{all_boards, Board};
use crate::setup::dpkg_installed;
use crate::util::{exec, fail, step, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Host packages the boards need, from the default suites.
/// (Each board adds its cross compiler through `cross_packages` in its `board.toml`.)
const HOST_PACKAGES: &[&str] = &["cpio", "make", "gcc", "xz-utils"];

/// qemu 10 comes from bookworm-backports: bookworm's own qemu-system 7.2 conflicts with the
/// backports qemu-utils this image ships (apt would remove it).
const BACKPORTS_PACKAGES: &[&str] = &["qemu-system-x86", "qemu-system-arm"];
const BACKPORTS_SUITE: &str = "bookworm-backports";
const BACKPORTS_SOURCES: &str = "/etc/apt/sources.list.d/nltelem-bookworm-backports.sources";

/// The Debian series all boards use: its kbuild tools build modules for every architecture.
const KBUILD_DIR: &str = "/usr/lib/linux-kbuild-6.1";

/// Remembers whether this run already refreshed the package lists.
struct Apt {
    updated: bool,
}

impl Apt {
    fn get() -> Command {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive").args([
            "-o",
            "DPkg::Lock::Timeout=600",
            "-q",
            "-y",
        ]);
        c
    }

    /// `apt-get update`, once per setup run. A suite that fails to refresh is only a warning
    /// to apt; here it is fatal, or a stale index silently yields an ABI that is gone. A
    /// mirror caught mid-sync ("File has unexpected size", "Hash Sum mismatch") heals in
    /// seconds to minutes, so those failures are retried a few times before giving up.
    fn update(&mut self) -> Result {
        if self.updated {
            return Ok(());
        }
        let mut attempt = 1;
        loop {
            println!("refreshing package lists (apt-get update, attempt {attempt})");
            let out = Self::get().arg("update").output()?;
            let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
            let failed = !out.status.success()
                || text
                    .lines()
                    .any(|l| l.starts_with("W:") || l.starts_with("E:"));
            if !failed {
                self.updated = true;
                return Ok(());
            }
            let transient = MIRROR_SYNC_SIGNS.iter().any(|s| text.contains(s));
            if !transient || attempt == UPDATE_ATTEMPTS {
                return Err(fail(format!("apt-get update failed:\n{text}")));
            }
            println!(
                "a mirror is mid-sync; retrying in {} s",
                UPDATE_RETRY_DELAY.as_secs()
            );
            std::thread::sleep(UPDATE_RETRY_DELAY);
            attempt += 1;
        }
    }
}

/// How often `apt-get update` is tried when a mirror is caught mid-sync, and how long apart.
const UPDATE_ATTEMPTS: u32 = 4;
const UPDATE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(30);
/// What apt says when an index changed under it while downloading.
const MIRROR_SYNC_SIGNS: &[&str] = &[
    "File has unexpected size",
    "Hash Sum mismatch",
    "Mirror sync in progress",
];

pub fn run() -> Result {
    let boards = all_boards()?;
    let mut apt = Apt { updated: false };
    step(
        "board apt sources (bookworm-backports, foreign architectures)",
        || ensure_sources(&boards, &mut apt),
    )?;
    step(
        "board host packages (qemu from backports, cross gcc, cpio)",
        || install_host_packages(&boards, &mut apt),
    )?;
    let mut arches = BTreeSet::new();
    for board in &boards {
        if arches.insert(board.debian_arch.clone()) {
            step(
                &format!(
                    "Debian kernel and busybox for {} (download once, unpack)",
                    board.debian_arch
                ),
                || fetch_arch(board, &mut apt),
            )?;
        }
    }
    Ok(())
}

fn host_arch() -> Result<String> {
    let out = Command::new("dpkg").arg("--print-architecture").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Adds the backports suite (same mirror as the system's bookworm entry, so no host name is
/// written here) and the boards' foreign architectures; refreshes the lists if either changed.
fn ensure_sources(boards: &[Board], apt: &mut Apt) -> Result {
    let mut changed = false;
    let host = host_arch()?;
    let out = Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()?;
    let foreign = String::from_utf8_lossy(&out.stdout).to_string();
    for board in boards {
        let arch = &board.debian_arch;
        if *arch != host && !foreign.lines().any(|l| l.trim() == arch) {
            println!("adding dpkg architecture {arch} (to download its kernel packages)");
            exec(Command::new("dpkg").args(["--add-architecture", arch]))?;
            changed = true;
        }
    }
    let wanted = backports_stanza()?;
    if fs::read_to_string(BACKPORTS_SOURCES).ok().as_deref() != Some(wanted.as_str()) {
        println!("adding apt source {BACKPORTS_SOURCES}");
        fs::write(BACKPORTS_SOURCES, &wanted)?;
        changed = true;
    }
    if changed {
        apt.update()?;
    }
    Ok(())
}

/// A deb822 stanza for bookworm-backports on the mirror and keyring the system already uses
/// for bookworm (read from `/etc/apt/sources.list.d/debian.sources` or `/etc/apt/sources.list`).
fn backports_stanza() -> Result<String> {
    let (uri, keyring) = system_bookworm_mirror()?;
    let mut s = format!(
        "# Added by `cargo xtask setup` (nltelem boards): qemu 10 for the qemu boards.\n\
         Types: deb\nURIs: {uri}\nSuites: {BACKPORTS_SUITE}\nComponents: main\n"
    );
    if let Some(k) = keyring {
        s.push_str(&format!("Signed-By: {k}\n"));
    }
    Ok(s)
}

fn system_bookworm_mirror() -> Result<(String, Option<String>)> {
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list.d/debian.sources") {
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza.lines().find_map(|l| {
                    l.strip_prefix(name)
                        .and_then(|r| r.strip_prefix(':'))
                        .map(|v| v.trim().to_string())
                })
            };
            let is_bookworm = field("Suites")
                .is_some_and(|s| s.split_whitespace().any(|suite| suite == "bookworm"));
            if let (true, Some(uris)) = (is_bookworm, field("URIs")) {
                let uri = uris
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                return Ok((uri, field("Signed-By")));
            }
        }
    }
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list") {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // `deb [options] URI bookworm main`
            let words: Vec<&str> = words.into_iter().filter(|w| !w.starts_with('[')).collect();
            if words.len() >= 3 && words[0] == "deb" && words[2] == "bookworm" {
                return Ok((words[1].to_string(), None));
            }
        }
    }
    Err(fail(
        "cannot find the system's apt source for bookworm to add bookworm-backports beside it",
    ))
}

fn install_host_packages(boards: &[Board], apt: &mut Apt) -> Result {
    let mut wanted: BTreeSet<&str> = HOST_PACKAGES.iter().copied().collect();
    for board in boards {
        wanted.extend(board.cross_packages.iter().map(String::as_str));
    }
    let missing: Vec<&str> = wanted.into_iter().filter(|p| !dpkg_installed(p)).collect();
    let missing_bpo: Vec<&str> = BACKPORTS_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() && missing_bpo.is_empty() {
        return Ok(());
    }
    apt.update()?;
    if !missing.is_empty() {
        println!("installing: {}", missing.join(" "));
        exec(
            Apt::get()
                .args(["install", "--no-install-recommends"])
                .args(&missing),
        )?;
    }
    if !missing_bpo.is_empty() {
        println!(
            "installing from {BACKPORTS_SUITE}: {}",
            missing_bpo.join(" ")
        );
        exec(
            Apt::get()
                .args(["install", "--no-install-recommends", "-t", BACKPORTS_SUITE])
                .args(&missing_bpo),
        )?;
    }
    Ok(())
}

/// The concrete package a metapackage depends on for `arch`, e.g. `linux-image-amd64:amd64`
/// → `linux-image-6.1.0-56-amd64`.
fn metapackage_target(meta: &str, arch: &str, prefix: &str) -> Result<Option<String>> {
    let out = Command::new("apt-cache")
        .args(["depends", &format!("{meta}:{arch}")])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends:")?.trim();
        let dep = dep
            .split(':')
            .next()?
            .trim_matches(|c| c == '<' || c == '>');
        dep.starts_with(prefix).then(|| dep.to_string())
    }))
}

/// `6.1.0-NN` for `board`'s architecture, from `linux-image-<flavour>`.
fn resolve_abi(board: &Board, apt: &mut Apt) -> Result<String> {
    let meta = format!("linux-image-{}", board.kernel_flavour);
    let suffix = format!("-{}", board.kernel_flavour);
    let mut found = metapackage_target(&meta, &board.debian_arch, "linux-image-")?;
    if found.is_none() {
        apt.update()?;
        found = metapackage_target(&meta, &board.debian_arch, "linux-image-")?;
    }
    let image = found.ok_or_else(|| {
        fail(format!(
            "apt-cache knows no {meta}:{} (is the architecture's index there?)",
            board.debian_arch
        ))
    })?;
    image
        .strip_prefix("linux-image-")
        .and_then(|s| s.strip_suffix(&suffix))
        .map(str::to_string)
        .ok_or_else(|| fail(format!("unexpected kernel package name `{image}`")))
}

/// Downloads (once) and unpacks the kernel image, its headers and busybox for one
/// architecture, then makes the unpacked headers usable for out-of-tree module builds.
fn fetch_arch(board: &Board, apt: &mut Apt) -> Result {
    let arch = &board.debian_arch;
    let abi = resolve_abi(board, apt)?;
    let release = format!("{abi}-{}", board.kernel_flavour);
    let cache = board.cache_dir();
    let debs = cache.join("debs");
    let unpacked = board.unpacked();
    let done_marker = unpacked.join(format!(".unpacked-{release}"));
    let previous_abi = fs::read_to_string(cache.join("abi")).ok();
    if done_marker.is_file() && previous_abi.as_deref().map(str::trim) == Some(abi.as_str()) {
        println!("{arch}: kernel {release} already unpacked");
        return Ok(());
    }
    println!(
        "{arch}: kernel ABI {abi} (from linux-image-{})",
        board.kernel_flavour
    );
    // The headers Makefile includes the arch-independent `-common` tree, and the module
    // tools (modpost, objtool) come from the host's kbuild package of the same series.
    let host_kbuild = format!("linux-kbuild-{}", kbuild_series(&abi)?);
    if !dpkg_installed(&host_kbuild) {
        apt.update()?;
        exec(Apt::get().args(["install", "--no-install-recommends", &host_kbuild]))?;
    }
    let packages = [
        format!("linux-image-{release}:{arch}"),
        format!("linux-headers-{release}:{arch}"),
        format!("linux-headers-{abi}-common"),
        format!("busybox-static:{arch}"),
    ];
    fs::create_dir_all(&debs)?;
    let mut files = Vec::new();
    for package in &packages {
        files.push(download_once(package, &debs, apt)?);
    }
    if unpacked.exists() {
        fs::remove_dir_all(&unpacked)?;
    }
    fs::create_dir_all(&unpacked)?;
    for deb in &files {
        println!("{arch}: unpacking {}", file_name(deb));
        exec(Command::new("dpkg").arg("-x").arg(deb).arg(&unpacked))?;
    }
    fix_headers(board, &abi, &release)?;
    if board.kernel_boot == "pvh-vmlinux" {
        let vmlinuz = unpacked.join(format!("boot/vmlinuz-{release}"));
        println!(
            "{arch}: extracting the ELF vmlinux from {} (PVH boot)",
            file_name(&vmlinuz)
        );
        extract_vmlinux(&vmlinuz, &cache.join("vmlinux"))?;
    }
    fs::write(cache.join("abi"), format!("{abi}\n"))?;
    fs::write(&done_marker, "")?;
    Ok(())
}

/// `6.1.0-56` → `6.1`.
fn kbuild_series(abi: &str) -> Result<String> {
    let mut parts = abi.split(['.', '-']);
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => Ok(format!("{major}.{minor}")),
        _ => Err(fail(format!("cannot read the kernel series from `{abi}`"))),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Returns the cached .deb of `package` (`name[:arch]`), downloading it if absent.
fn download_once(package: &str, dir: &Path, apt: &mut Apt) -> Result<PathBuf> {
    let (name, arch) = match package.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (package, None),
    };
    let find = || -> Result<Option<PathBuf>> {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let f = file_name(&path);
            let arch_ok = arch.is_none_or(|a| f.ends_with(&format!("_{a}.deb")));
            if f.starts_with(&format!("{name}_")) && f.ends_with(".deb") && arch_ok {
                return Ok(Some(path));
            }
        }
        Ok(None)
    };
    if let Some(found) = find()? {
        return Ok(found);
    }
    println!("downloading {package}");
    let download = || {
        // As root, apt would drop to its `_apt` user to write here and warn that it cannot.
        Apt::get()
            .current_dir(dir)
            .args(["-o", "APT::Sandbox::User=root", "download", package])
            .status()
    };
    if !download()?.success() {
        // A stale index names a version the archive has dropped: refresh once and retry.
        apt.update()?;
        if !download()?.success() {
            return Err(fail(format!("apt-get download {package} failed")));
        }
    }
    find()?.ok_or_else(|| fail(format!("apt-get download {package} left no .deb")))
}

/// The unpacked headers point outside themselves (absolute `-common` path in the Makefile,
/// relative links to the host's kbuild tools): point them at the unpacked `-common` tree and
/// the installed kbuild package instead, so they work from `.cache` for any architecture.
fn fix_headers(board: &Board, abi: &str, release: &str) -> Result {
    let src = board.unpacked().join("usr/src");
    let headers = src.join(format!("linux-headers-{release}"));
    let common = src.join(format!("linux-headers-{abi}-common"));
    let makefile = headers.join("Makefile");
    let text = fs::read_to_string(&makefile)?;
    let absolute_common = format!("/usr/src/linux-headers-{abi}-common");
    let fixed = text.replace(&absolute_common, &common.to_string_lossy());
    fs::write(&makefile, fixed)?;
    for dir in [&headers, &common] {
        for tool in ["scripts", "tools"] {
            let link = dir.join(tool);
            if link.is_symlink() {
                fs::remove_file(&link)?;
                std::os::unix::fs::symlink(Path::new(KBUILD_DIR).join(tool), &link)?;
            }
        }
    }
    if !headers.join("scripts/mod/modpost").exists() {
        return Err(fail(format!(
            "{}: scripts/mod/modpost not found after linking to {KBUILD_DIR}",
            headers.display()
        )));
    }
    Ok(())
}

/// Finds the XZ stream inside an x86 bzImage and unpacks the ELF `vmlinux` it carries: qemu
/// boots that directly through its PVH entry, twice as fast as the bzImage under TCG.
fn extract_vmlinux(bzimage: &Path, out: &Path) -> Result {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    let data = fs::read(bzimage)?;
    let start = data
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .ok_or_else(|| fail(format!("{}: no XZ payload found", bzimage.display())))?;
    let tmp = out.with_extension("xz");
    fs::write(&tmp, &data[start..])?;
    // `xz` stops at the end of the stream and complains about the bytes the bzImage has
    // after it; the decompressed ELF is complete regardless, which the magic check confirms.
    let decoded = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .arg(&tmp)
        .output()?;
    fs::remove_file(&tmp)?;
    if !decoded.stdout.starts_with(b"\x7fELF") {
        return Err(fail(format!(
            "{}: the XZ payload is not an ELF kernel ({})",
            bzimage.display(),
            String::from_utf8_lossy(&decoded.stderr).trim()
        )));
    }
    fs::write(out, &decoded.stdout)?;
    Ok(())
}
