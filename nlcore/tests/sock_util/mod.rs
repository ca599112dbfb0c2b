//! Shared by the `sock_*` tests: root checks, helper processes, rtnetlink requests.
#![allow(dead_code)]

use nlcore::MsgBuilder;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_INFO_KIND: u16 = 1;
/// `struct ifinfomsg`: family, pad, type, index, flags, change.
pub const IFINFOMSG_LEN: usize = 16;

/// Fails the test loudly when not root: these tests join multicast groups or force buffer
/// sizes, which the kernel allows only to root. CI runs as root.
pub fn require_root(what: &str) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("Uid line in /proc/self/status");
    assert_eq!(
        euid, "0",
        "this test needs root ({what}); run the tests as root, as CI does"
    );
}

/// An `ifinfomsg` with only the index set.
pub fn ifinfomsg(index: i32) -> [u8; IFINFOMSG_LEN] {
    let mut h = [0u8; IFINFOMSG_LEN];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// An RTM_GETLINK request for one link (`index`), or any when sent as a dump (the socket
/// adds the dump or ack flags and the sequence number).
pub fn getlink_request(buf: &mut [u8], index: i32) -> usize {
    let mut b = MsgBuilder::new(buf);
    b.begin(RTM_GETLINK, nlcore::consts::NLM_F_REQUEST, 0, 0)
        .unwrap();
    b.put_raw(&ifinfomsg(index)).unwrap();
    b.finish().unwrap()
}

/// The interface index and `IFLA_IFNAME` of an RTM_NEWLINK message.
pub fn link_of(msg: nlcore::NlMsg<'_>) -> Result<(i32, String), nlcore::sock::Error> {
    assert_eq!(msg.ty(), RTM_NEWLINK);
    let payload = msg.payload();
    let index = i32::from_ne_bytes(payload[4..8].try_into().unwrap());
    for attr in msg.attrs(IFINFOMSG_LEN)? {
        let attr = attr?;
        if attr.kind() == IFLA_IFNAME {
            return Ok((index, attr.get_str()?.to_string()));
        }
    }
    Err(nlcore::Error::MissingAttr { attr: IFLA_IFNAME }.into())
}

/// Set (to the reason) where iproute2 is missing, as in the busybox qemu guests
/// (`board/scenarios/nlcore-sockets.sh`): comparisons with its output are then reported
/// NOT RUN instead of failing on the missing tool.
pub const WITHOUT_IPROUTE2: &str = "NLCORE_SOCK_WITHOUT_IPROUTE2";

/// Why comparisons with iproute2's output cannot run here, if they cannot.
pub fn without_iproute2() -> Option<String> {
    std::env::var(WITHOUT_IPROUTE2).ok()
}

/// Reports one assertion that was not run, and why. Written to stderr directly, not through
/// `eprintln!`, which libtest would capture and hide for a passing test.
pub fn report_not_run(assertion: &str, why: &str) {
    use std::io::Write;
    let line = format!("NOT RUN: {assertion}: {why}\n");
    std::io::stderr()
        .write_all(line.as_bytes())
        .expect("write to stderr");
}

/// Runs `program args` and returns its stdout, failing the test if it cannot.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Environment variable that makes a test binary act as the peer process of a test.
pub const PEER_ROLE: &str = "NLCORE_SOCK_PEER_ROLE";

/// Starts this test binary again as a second process running only the test `test_name`,
/// with `role` and `vars` in its environment. (Under qemu-user these tests do not run:
/// qemu-user refuses NETLINK_USERSOCK sockets, see `cargo xtask test cross`.)
pub fn spawn_peer(test_name: &str, role: &str, vars: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(PEER_ROLE, role);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    // The peer's own test report would read like a second test run: keep it for failures.
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("spawn peer process")
}

/// Waits for `child` at most `limit`; kills it (by its own handle) when it overstays.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            if !status.success() {
                print_output(child);
            }
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            print_output(child);
            panic!("peer process did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn print_output(child: &mut Child) {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    eprintln!("--- peer output ---\n{text}--- end of peer output ---");
}

/// The role this process plays, if it was started by [`spawn_peer`].
pub fn peer_role() -> Option<String> {
    std::env::var(PEER_ROLE).ok()
}

/// A variable the parent passed to the peer.
pub fn peer_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("peer needs {name}"))
}
