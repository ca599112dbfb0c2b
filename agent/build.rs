//! Linking the agent: static, entered at `nltelem_entry` (no C run-time), and defmt's
//! linker script made safe for an ELF executable.
//!
//! defmt's `defmt.x` describes the `.defmt` section but, passed as is, replaces the
//! default layout (the image lands at address 0). `defmt-elf.x` is a copy with
//! `INSERT AFTER .comment;` after its `SECTIONS` block, which makes it an addition to the
//! linker's default script instead (lld accepts `INSERT` only right after the `SECTIONS` it
//! applies to, so an `INCLUDE defmt.x` wrapper does not work).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=defmt-elf.x");
    println!("cargo:rerun-if-changed=no-unwind.x");
    println!("cargo:rerun-if-env-changed=DEFMT_LOG");
    // defmt keeps only `error` frames unless told otherwise at compile time; the agent's
    // log is its warnings and information. `DEFMT_LOG` set by the caller still wins.
    if env::var_os("DEFMT_LOG").is_none() {
        println!("cargo:rustc-env=DEFMT_LOG=info");
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
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
        // Two load segments instead of four: read-only data joins the code's segment and
        // the GOT joins the writable data. Each segment boundary costs a partly used page
        // of memory: 12 KiB of peak RSS on x86_64 (112 -> 100 KiB). RELRO protects nothing
        // here: making it read-only is the dynamic loader's or libc's start-up work, and
        // this program has neither.
        println!("cargo:rustc-link-arg-bins=--no-rosegment");
        println!("cargo:rustc-link-arg-bins=-znorelro");
    }
}
