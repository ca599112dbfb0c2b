//! Linking the agent: static, entered at `nltelem_entry` (no C run-time), and defmt's
//! linker script made safe for an ELF executable.
//!
//! defmt's `defmt.x` describes the `.defmt` section but, passed as is, replaces the
//! default layout (the image lands at address 0). `defmt-elf.x` is a copy with
//! `INSERT AFTER .comment;` after its `SECTIONS` block, which makes it an addition to the
//! linker's default script instead (lld accepts `INSERT` only right after the `SECTIONS` it
//! applies to, so an `INCLUDE defmt.x` wrapper does not work).
//!
//! It also packs the help texts (`help/*.txt`) into the format `src/pack.rs` unpacks.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The help topics, in the order of `cli::Topic`.
const TOPICS: [&str; 7] = ["main", "run", "monitor", "get", "dump", "status", "set"];

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    pack_help(&dir.join("help"), &out.join("help.rs"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=defmt-elf.x");
    println!("cargo:rerun-if-changed=no-unwind.x");
    println!("cargo:rerun-if-env-changed=DEFMT_LOG");
    // defmt keeps only `error` frames unless told otherwise at compile time; the agent's
    // log is its warnings and information. `DEFMT_LOG` set by the caller still wins.
    if env::var_os("DEFMT_LOG").is_none() {
        println!("cargo:rustc-env=DEFMT_LOG=info");
    }
    // Only the binary links defmt frames; the library's tests do not use the logger.
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        dir.join("defmt-elf.x").display()
    );
    // The shipped build aborts on panic (see src/main.rs); a dev build with unwinding
    // panics is an ordinary std program on the host and keeps its unwind tables. (Build
    // scripts see the target's default panic strategy, not the profile's: the release
    // profiles are the ones that abort.)
    if env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        dir.join("no-unwind.x").display()
    );
    if env::var("TARGET").unwrap_or_default().contains("musl") {
        // musl's libc.a, for `memcpy` and its kin only (rust-lld links it only when told).
        // Not bundled into the library's rlib: only the final link needs it. armv7 has no
        // prebuilt musl: its memory functions come from compiler-builtins (see
        // .cargo/config.toml).
        if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("arm") {
            println!("cargo:rustc-link-lib=static:-bundle=c");
        }
        // The program's own entry (src/sys.rs): crt1's `_start` and musl's start-up are
        // left out of the link (nothing reaches them).
        println!("cargo:rustc-link-arg-bins=--entry=nltelem_entry");
        // rust-lld (the linker of the musl targets, see .cargo/config.toml) folds
        // functions whose code is identical: generic code instantiated for different
        // types often is (about 800 bytes on x86_64).
        println!("cargo:rustc-link-arg-bins=--icf=all");
    }
}

/// Writes `HELP_PACKED` (every topic's text, one after the other, packed) and `HELP_BOUNDS`
/// (where each topic's text starts in the unpacked whole, and where the last ends) to `to`.
fn pack_help(from: &Path, to: &Path) {
    let mut text = Vec::new();
    let mut bounds = vec![0u16];
    for topic in TOPICS {
        let path = from.join(format!("{topic}.txt"));
        println!("cargo:rerun-if-changed={}", path.display());
        let t = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Bytes from 0x80 on mark back references (see src/pack.rs).
        assert!(t.is_ascii(), "{}: not ASCII", path.display());
        text.extend_from_slice(&t);
        bounds.push(u16::try_from(text.len()).expect("help under 64 KiB"));
    }
    let packed = pack(&text);
    let mut rs = String::new();
    let _ = writeln!(
        rs,
        "const HELP_PACKED: [u8; {}] = {packed:?};",
        packed.len()
    );
    let _ = writeln!(
        rs,
        "const HELP_BOUNDS: [u16; {}] = {bounds:?};",
        bounds.len()
    );
    fs::write(to, rs).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
}

/// Shortest and longest back reference, and how far back one reaches (src/pack.rs).
const MIN_LEN: usize = 3;
const MAX_LEN: usize = MIN_LEN + 15;
const MAX_OFFSET: usize = 2048;

/// Packs ASCII `text`: literal bytes and two-byte back references, chosen for the
/// shortest result (cost of the rest from each position, computed from the end).
fn pack(text: &[u8]) -> Vec<u8> {
    let n = text.len();
    // The longest earlier match at each position, and where it starts.
    let longest: Vec<(usize, usize)> = (0..n)
        .map(|i| {
            let mut best = (0, 0);
            for from in i.saturating_sub(MAX_OFFSET)..i {
                // A match may run into the bytes it produces (the unpacker copies forwards).
                let len = (0..MAX_LEN.min(n - i))
                    .take_while(|&k| text[from + k] == text[i + k])
                    .count();
                if len > best.0 {
                    best = (len, from);
                }
            }
            best
        })
        .collect();
    // cost[i]: bytes to pack text[i..]; step[i]: the length of the token taken at i.
    let mut cost = vec![0usize; n + 1];
    let mut step = vec![1usize; n];
    for i in (0..n).rev() {
        cost[i] = 1 + cost[i + 1];
        for len in MIN_LEN..=longest[i].0 {
            if 2 + cost[i + len] < cost[i] {
                cost[i] = 2 + cost[i + len];
                step[i] = len;
            }
        }
    }
    let mut packed = Vec::with_capacity(cost[0]);
    let mut i = 0;
    while i < n {
        let len = step[i];
        if len == 1 {
            packed.push(text[i]);
        } else {
            // Any match of up to the longest at i reaches back the same distance.
            let offset = i - longest[i].1 - 1;
            packed.push(0x80 | ((len - MIN_LEN) as u8) << 3 | (offset >> 8) as u8);
            packed.push(offset as u8);
        }
        i += len;
    }
    packed
}
