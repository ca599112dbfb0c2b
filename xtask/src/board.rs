//! Boards: `board/<name>/board.toml` describes a machine (Rust target, Debian kernel, qemu
//! command line, console). This module reads those files, knows where each board's cached
//! downloads and build outputs live, and dispatches `cargo xtask kmod / image / qemu / run`.
//!
//! `board.toml` uses a flat subset of TOML on purpose (xtask has no dependencies): one
//! `key = "string"` or `key = ["a", "b"]` per line, full-line `#` comments.

use crate::util::{fail, root, usage, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The board `run` and `qemu` use when none is named.
pub const DEFAULT_BOARD: &str = "qemu-x86_64";

/// One board, as its `board.toml` describes it.
#[derive(Debug, Clone)]
pub struct Board {
    /// Directory name under `board/`, e.g. `qemu-x86_64`.
    pub name: String,
    /// Rust target the guest programs are built for (static musl).
    pub rust_target: String,
    /// Debian architecture of the kernel packages (`amd64`, `arm64`).
    pub debian_arch: String,
    /// Debian kernel flavour: `linux-image-<flavour>` is the metapackage.
    pub kernel_flavour: String,
    /// `ARCH=` for the kernel's build system.
    pub kernel_make_arch: String,
    /// `CROSS_COMPILE=` prefix; empty for a native build.
    pub cross_compile: String,
    /// How qemu boots the kernel: `pvh-vmlinux` (the ELF inside the bzImage, x86 direct
    /// boot) or `image` (the packaged file as is).
    pub kernel_boot: String,
    /// Serial console device the guest writes to (`ttyS0`, `ttyAMA0`).
    pub console: String,
    /// The qemu system emulator.
    pub qemu: String,
    /// Machine, CPU and memory options; the harness adds kernel, initramfs, console, no NIC.
    pub qemu_args: Vec<String>,
    /// Seconds a boot-run-poweroff cycle may take before the harness kills qemu.
    pub boot_timeout: Duration,
    /// Host packages this board's builds need (cross compiler, cross libc); optional.
    pub cross_packages: Vec<String>,
}

impl Board {
    /// Reads `board/<name>/board.toml`.
    pub fn load(name: &str) -> Result<Board> {
        let path = boards_dir().join(name).join("board.toml");
        let text = fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "no board `{name}` ({}: {e}); boards: {}",
                path.display(),
                board_names().unwrap_or_default().join(", ")
            ))
        })?;
        let mut keys = parse_flat_toml(&text, &path)?;
        let cross_packages = match keys.remove("cross_packages") {
            Some(v) => v.list(&path)?,
            None => Vec::new(),
        };
        let mut take = |key: &str| -> Result<Value> {
            keys.remove(key)
                .ok_or_else(|| fail(format!("{}: missing key `{key}`", path.display())))
        };
        let board = Board {
            name: take("name")?.string(&path)?,
            rust_target: take("rust_target")?.string(&path)?,
            debian_arch: take("debian_arch")?.string(&path)?,
            kernel_flavour: take("kernel_flavour")?.string(&path)?,
            kernel_make_arch: take("kernel_make_arch")?.string(&path)?,
            cross_compile: take("cross_compile")?.string(&path)?,
            kernel_boot: take("kernel_boot")?.string(&path)?,
            console: take("console")?.string(&path)?,
            qemu: take("qemu")?.string(&path)?,
            qemu_args: take("qemu_args")?.list(&path)?,
            boot_timeout: Duration::from_secs(
                take("boot_timeout_s")?
                    .string(&path)?
                    .parse()
                    .map_err(|e| fail(format!("{}: boot_timeout_s: {e}", path.display())))?,
            ),
            cross_packages,
        };
        // Keys for people (description, hardware notes) are allowed; typos of ours are not.
        keys.retain(|k, _| k != "description");
        if let Some(k) = keys.keys().next() {
            return Err(fail(format!("{}: unknown key `{k}`", path.display())));
        }
        if board.name != name {
            return Err(fail(format!(
                "{}: name = \"{}\" but the directory is `{name}`",
                path.display(),
                board.name
            )));
        }
        if !["pvh-vmlinux", "image"].contains(&board.kernel_boot.as_str()) {
            return Err(fail(format!(
                "{}: kernel_boot must be \"pvh-vmlinux\" or \"image\"",
                path.display()
            )));
        }
        Ok(board)
    }

    /// Where this board's downloads (kernel and busybox .debs, unpacked) are cached; shared
    /// by boards of the same Debian architecture.
    pub fn cache_dir(&self) -> PathBuf {
        cache_root().join(&self.debian_arch)
    }

    /// Where this board's build outputs go.
    pub fn out_dir(&self) -> PathBuf {
        root().join("target").join("board").join(&self.name)
    }

    /// The Debian kernel ABI (`6.1.0-NN`) setup resolved for this architecture.
    pub fn kernel_abi(&self) -> Result<String> {
        let path = self.cache_dir().join("abi");
        fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|_| {
                fail(format!(
                    "{} missing: run `cargo xtask setup`",
                    path.display()
                ))
            })
    }

    /// `6.1.0-NN-<flavour>`: the kernel release, as `uname -r` in the guest prints it.
    pub fn kernel_release(&self) -> Result<String> {
        Ok(format!("{}-{}", self.kernel_abi()?, self.kernel_flavour))
    }

    /// The unpacked Debian packages (kernel image, modules, headers, busybox).
    pub fn unpacked(&self) -> PathBuf {
        self.cache_dir().join("root")
    }

    /// The file qemu's `-kernel` gets.
    pub fn kernel_file(&self) -> Result<PathBuf> {
        let file = match self.kernel_boot.as_str() {
            "pvh-vmlinux" => self.cache_dir().join("vmlinux"),
            _ => self
                .unpacked()
                .join("boot")
                .join(format!("vmlinuz-{}", self.kernel_release()?)),
        };
        if file.is_file() {
            Ok(file)
        } else {
            Err(fail(format!(
                "{} missing: run `cargo xtask setup`",
                file.display()
            )))
        }
    }

    /// The kernel build tree (headers) modules are built against.
    pub fn kdir(&self) -> Result<PathBuf> {
        Ok(self
            .unpacked()
            .join(format!("usr/src/linux-headers-{}", self.kernel_release()?)))
    }
}

/// `board/` in the checkout.
pub fn boards_dir() -> PathBuf {
    root().join("board")
}

/// Cached downloads for every board: `.cache/board/<debian arch>/`.
pub fn cache_root() -> PathBuf {
    root().join(".cache").join("board")
}

/// Every directory under `board/` that has a `board.toml`, sorted.
pub fn board_names() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(boards_dir())? {
        let entry = entry?;
        if entry.path().join("board.toml").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Every board, loaded.
pub fn all_boards() -> Result<Vec<Board>> {
    board_names()?.iter().map(|n| Board::load(n)).collect()
}

#[derive(Debug)]
enum Value {
    Str(String),
    List(Vec<String>),
}

impl Value {
    fn string(self, path: &Path) -> Result<String> {
        match self {
            Value::Str(s) => Ok(s),
            Value::List(_) => Err(fail(format!("{}: expected a string", path.display()))),
        }
    }

    fn list(self, path: &Path) -> Result<Vec<String>> {
        match self {
            Value::List(l) => Ok(l),
            Value::Str(_) => Err(fail(format!("{}: expected a list", path.display()))),
        }
    }
}

fn parse_flat_toml(text: &str, path: &Path) -> Result<BTreeMap<String, Value>> {
    let mut keys = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| fail(format!("{}:{}: {why}: {line}", path.display(), n + 1));
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| bad("expected key = value"))?;
        let value = value.trim();
        let parsed = if let Some(items) = value.strip_prefix('[') {
            let items = items
                .strip_suffix(']')
                .ok_or_else(|| bad("list not closed"))?;
            Value::List(quoted_items(items).ok_or_else(|| bad("list items must be quoted"))?)
        } else {
            Value::Str(unquote(value).ok_or_else(|| bad("value must be quoted"))?)
        };
        if keys.insert(key.trim().to_string(), parsed).is_some() {
            return Err(bad("key given twice"));
        }
    }
    Ok(keys)
}

/// `"a", "b,c"` → `["a", "b,c"]` (commas inside quotes belong to the item).
fn quoted_items(mut rest: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(items);
        }
        let (item, after) = rest.strip_prefix('"')?.split_once('"')?;
        items.push(item.to_string());
        rest = after.trim_start();
        if !rest.is_empty() {
            rest = rest.strip_prefix(',')?;
        }
    }
}

fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"')).then(|| inner.to_string())
}

/// Splits `--board B` out of `args`; the rest is returned for the caller to check.
pub fn take_board_option(args: &[String]) -> Result<(Option<String>, Vec<String>)> {
    let mut board = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--board" {
            let b = it
                .next()
                .ok_or_else(|| usage("--board needs a board name"))?;
            board = Some(b.clone());
        } else if let Some(b) = a.strip_prefix("--board=") {
            board = Some(b.to_string());
        } else {
            rest.push(a.clone());
        }
    }
    Ok((board, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_toml_lists_keep_commas_inside_quotes() {
        let text = "# comment\nname = \"x\"\nargs = [\"-M\", \"virt,highmem=off\", ]\n";
        let keys = parse_flat_toml(text, Path::new("t.toml")).expect("parses");
        match &keys["args"] {
            Value::List(l) => assert_eq!(l, &["-M", "virt,highmem=off"]),
            other => panic!("not a list: {other:?}"),
        }
        assert!(parse_flat_toml("a = [x]\n", Path::new("t")).is_err());
        assert!(parse_flat_toml("a = [\"x\" \"y\"]\n", Path::new("t")).is_err());
        assert!(parse_flat_toml("a = \"x\"\na = \"y\"\n", Path::new("t")).is_err());
    }
}
