//! The tutorial examples run as a user would run them, against a NETLINK_USERSOCK peer.
#![cfg(feature = "socket")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Both examples bind the tutorial's fixed ports 100 and 101: one at a time.
static FIXED_PORTS: Mutex<()> = Mutex::new(());

/// `target/<profile>/examples/<name>`, beside this test's `deps/` directory; cargo builds
/// the examples before it runs the tests.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join(name)
}

fn run_example(name: &str) -> String {
    let _ports = FIXED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let path = example(name);
    let out = Command::new("timeout")
        .arg("30")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn tutorial_sendmsg_gets_every_answer() {
    let text = run_example("tutorial_sendmsg");
    assert!(text.contains("sent 1040 bytes with sendmsg"), "{text}");
    assert_eq!(
        text.matches("Received message: I am from the peer!")
            .count(),
        3,
        "{text}"
    );
}

#[test]
fn tutorial_sendto_gets_every_answer_from_the_peer_port() {
    let text = run_example("tutorial_sendto");
    assert_eq!(text.matches("from port 101").count(), 3, "{text}");
    assert_eq!(
        text.matches("Received message: I am from the peer!")
            .count(),
        3,
        "{text}"
    );
}
