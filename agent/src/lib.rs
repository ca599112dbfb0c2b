//! The logic of the `nltelem` agent, apart from the system: configuration, command line,
//! message decoding, loss accounting, output formats and exporters. `no_std` without an
//! allocator, like the binary; under `cargo test` it builds with std so that every part is
//! tested on the host.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod accounting;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod decode;
pub mod export;
pub mod format;
pub mod pack;
pub mod route;
pub mod settings;
pub mod sink;

/// Milliseconds of the monotonic clock: the daemon's and the exporters' timers. A system
/// call (no vDSO lookup in this program), so callers read it only where a timer runs.
pub fn now_ms() -> u64 {
    now_us() / 1000
}

/// Microseconds of the monotonic clock: [`now_ms`]'s and the log's timestamps. Out of line:
/// the system call is then in the program once, not in each of the two.
#[inline(never)]
pub fn now_us() -> u64 {
    nlcore::sock::monotonic_us()
}
