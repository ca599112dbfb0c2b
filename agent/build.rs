//! Linking the agent: static, entered at `nltelem_entry` (no C run-time), and defmt's
//! linker script made safe for an ELF executable.
//!
//! defmt's `defmt.x` describes the `.defmt` section but, passed as is, replaces the
//! default layout (the image lands at address 0). `defmt-elf.x` is a copy with
//! `INSERT AFTER .comment;` after its `SECTIONS` block, which makes it an addition to the
//! linker's default script instead (lld accepts `INSERT` only right after the `SECTIONS` it
//! applies to, so an `INCLUDE defmt.x` wrapper does not work).
//!
//! It also packs the help texts (`help/*.txt`) and the Prometheus exporter's families
//! (`src/export/prometheus-families.txt`) into the format `src/pack.rs` unpacks.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The help topics, in the order of `cli::Topic`: the order that packs smallest (the short
/// topics first, and `run` last, whose texts refer back to the others').
const TOPICS: [&str; 7] = ["monitor", "get", "dump", "status", "set", "main", "run"];

/// The line of help/run.txt after which each line is a configuration key and what it
/// means: `  KEY<spaces to 24>MEANING`.
const KEY_TABLE: &str = "Configuration keys (key = value, # comments):\n";

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    pack_help(&dir.join("help"), &dir.join("src/config-texts.txt"), &out);
    pack_families(&dir.join("src/export/prometheus-families.txt"), &out);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=defmt-elf.x");
    println!("cargo:rerun-if-changed=discard.x");
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
        dir.join("discard.x").display()
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
        // Two load segments instead of four: read-only data joins the code's segment and
        // the GOT joins the writable data. Each segment boundary costs a partly used page
        // of memory: 12 KiB of peak RSS on x86_64 (112 -> 100 KiB). RELRO protects nothing
        // here: making it read-only is the dynamic loader's or libc's start-up work, and
        // this program has neither.
        println!("cargo:rustc-link-arg-bins=--no-rosegment");
        println!("cargo:rustc-link-arg-bins=-znorelro");
    }
}

/// Writes `keys.rs`: `HELP_DICTIONARY`, the texts of `texts_file` (the configuration's
/// path and what each key takes, as its errors say it), then the configuration keys that
/// help/run.txt lists, separated by spaces; `KEYS`, the keys' part of it (the parser's
/// list: one statement of the keys, where they are explained); and a constant for each
/// text of `texts_file`, its part. And `help.rs`: `HELP_PACKED`, every topic's text one
/// after the other, packed after `HELP_DICTIONARY` (references reach into it: the key
/// names, path, ranges and names that the help repeats are not packed twice), and
/// `HELP_BOUNDS`, where each topic's text starts in the unpacked whole (dictionary
/// included), and where the last ends.
fn pack_help(from: &Path, texts_file: &Path, out: &Path) {
    let mut texts = Vec::new();
    for topic in TOPICS {
        let path = from.join(format!("{topic}.txt"));
        println!("cargo:rerun-if-changed={}", path.display());
        let t = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Bytes from 0x80 on mark back references (see src/pack.rs).
        assert!(t.is_ascii(), "{}: not ASCII", path.display());
        texts.push(t);
    }
    let run = texts.last().expect("run is a topic");
    let (_, table) = run.split_once(KEY_TABLE).expect("run.txt lists the keys");
    let keys = table
        .lines()
        .map(|line| {
            let key = line.get(2..24).unwrap_or_default().trim_end();
            assert!(
                !key.is_empty() && !key.contains(' ') && line.get(24..25) == Some(" "),
                "run.txt: not `  KEY  MEANING`: {line}"
            );
            key
        })
        .collect::<Vec<_>>()
        .join(" ");
    // The texts of `texts_file`, then the keys: the order that packs smallest.
    let mut dict = String::new();
    let mut rs = String::new();
    let file = texts_file.display();
    println!("cargo:rerun-if-changed={file}");
    let t = fs::read_to_string(texts_file).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(t.is_ascii(), "{file}: not ASCII");
    for line in t.lines().filter(|l| !l.starts_with('#')) {
        let (name, text) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{file}: not `NAME TEXT`: {line}"));
        let start = dict.len();
        dict.push_str(text);
        let _ = writeln!(
            rs,
            "pub(crate) const {name}: &str = part({start}, {});",
            dict.len()
        );
    }
    let start = dict.len();
    dict.push_str(&keys);
    let _ = writeln!(
        rs,
        "pub(crate) const KEYS: &str = part({start}, {});",
        dict.len()
    );
    let _ = writeln!(
        rs,
        "pub(crate) const HELP_DICTIONARY: &str = {dict:?};\n\
         /// Bytes `start..end` of [`HELP_DICTIONARY`]: the same bytes, not a copy.\n\
         const fn part(start: usize, end: usize) -> &'static str {{\n    \
         HELP_DICTIONARY.split_at(end).0.split_at(start).1\n}}"
    );
    fs::write(out.join("keys.rs"), rs).expect("OUT_DIR is writable");
    let mut text = dict.clone().into_bytes();
    let mut bounds = vec![text.len()];
    for t in &texts {
        text.extend_from_slice(t.as_bytes());
        bounds.push(text.len());
    }
    assert!(text.len() <= usize::from(u16::MAX), "help under 64 KiB");
    let packed = pack(&text, dict.len());
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
    fs::write(out.join("help.rs"), rs).expect("OUT_DIR is writable");
}

/// Writes `families.rs`: `FAMILIES_PACKED`, the lines of `from` but its `#` comments
/// packed without a dictionary, and `FAMILIES_LEN`, their length unpacked. Unpacked, a
/// family is four bytes, then `NAME HELP`: that text's length, the slot (the line's
/// letter, `A` is 1), the name's length and the unit letter (in the order that packs
/// smallest: the unit joins the name's `nltelem_` in back references); so the exporter
/// reads a family without searching it for separators.
fn pack_families(from: &Path, out: &Path) {
    println!("cargo:rerun-if-changed={}", from.display());
    let t = fs::read_to_string(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    assert!(t.is_ascii(), "{}: not ASCII", from.display());
    let mut text = Vec::new();
    for line in t.lines().filter(|l| !l.starts_with('#')) {
        let (head, line) = line.split_at(2);
        let &[slot, unit] = head.as_bytes() else {
            unreachable!("split at 2")
        };
        let name = line.split(' ').next().unwrap_or_default();
        // Bytes from 0x80 on mark back references (see src/pack.rs).
        assert!(
            line.len() < 0x80,
            "{}: longer than 127: {line}",
            from.display()
        );
        assert!(slot > b'@', "{}: not a slot letter: {line}", from.display());
        text.extend_from_slice(&[line.len() as u8, slot - b'@', name.len() as u8, unit]);
        text.extend_from_slice(line.as_bytes());
    }
    let packed = pack(&text, 0);
    let rs = format!(
        "const FAMILIES_PACKED: [u8; {}] = {packed:?};\nconst FAMILIES_LEN: usize = {};\n",
        packed.len(),
        text.len()
    );
    fs::write(out.join("families.rs"), rs).expect("OUT_DIR is writable");
}

/// Shortest and longest back reference, and how many offsets one has (src/pack.rs).
const MIN_LEN: usize = 3;
const MAX_LEN: usize = MIN_LEN + 15;
const OFFSETS: usize = 2048;

/// Packs ASCII `text` after its first `dict` bytes (which the unpacker has already):
/// literal bytes and two-byte back references, chosen for the shortest result (the cost
/// of the rest from each position, computed from the end). A reference reaches
/// `OFFSETS - dict` bytes back, or anywhere in the dictionary.
fn pack(text: &[u8], dict: usize) -> Vec<u8> {
    let n = text.len();
    assert!(dict <= OFFSETS, "a dictionary within reach");
    let window = OFFSETS - dict;
    // The longest earlier match at each position, and where it starts.
    let longest: Vec<(usize, usize)> = (0..n)
        .map(|i| {
            let mut best = (0, 0);
            for from in (0..dict.min(i)).chain(i.saturating_sub(window)..i) {
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
    for i in (dict..n).rev() {
        cost[i] = 1 + cost[i + 1];
        for len in MIN_LEN..=longest[i].0 {
            if 2 + cost[i + len] < cost[i] {
                cost[i] = 2 + cost[i + len];
                step[i] = len;
            }
        }
    }
    let mut packed = Vec::with_capacity(cost[dict]);
    let mut i = dict;
    while i < n {
        let len = step[i];
        if len == 1 {
            packed.push(text[i]);
        } else {
            // Any match of up to the longest at i starts at the same place.
            let from = longest[i].1;
            let offset = match i - from - 1 {
                back if back < window => back,
                _ => window + from,
            };
            packed.push(0x80 | ((len - MIN_LEN) as u8) << 3 | (offset >> 8) as u8);
            packed.push(offset as u8);
        }
        i += len;
    }
    packed
}
