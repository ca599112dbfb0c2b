//! `nlcore::sock::monotonic_us`, the clock of the sockets' users, against the host's
//! kernel.
#![cfg(feature = "socket")]

use nlcore::sock::monotonic_us;
use std::time::Duration;

#[test]
fn the_monotonic_clock_advances_with_time() {
    let before = monotonic_us();
    std::thread::sleep(Duration::from_millis(20));
    let after = monotonic_us();
    assert!(after - before >= 20_000, "{before} -> {after}");
    // CLOCK_MONOTONIC counts from boot: not zero on a running system.
    assert!(before > 0);
}
