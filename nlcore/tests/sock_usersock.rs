//! The tutorial's process-to-process case over NETLINK_USERSOCK: two processes talking by
//! unicast and multicast, port allocation, and receive-side losses.
//!
//! Each two-process test starts this test binary again as its peer (see
//! `sock_util::spawn_peer`); the peer runs the same test function, finds its role in the
//! environment and plays the other side.
#![cfg(feature = "socket")]

mod sock_util;

use nlcore::consts::*;
use nlcore::sock::{group_mask, Addr, Error, NlSocket};
use nlcore::{MessageIter, MsgBuilder};
use sock_util::*;
use std::time::Duration;

const MSG_TYPE: u16 = NLMSG_MIN_TYPE + 1;
const ATTR_TEXT: u16 = 1;
const ATTR_PORT: u16 = 2;
const PEER_LIMIT: Duration = Duration::from_secs(30);

/// A message carrying `text` and the sender's own port.
fn message(seq: u32, text: &str, port: u32) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(MSG_TYPE, NLM_F_REQUEST, seq, port).unwrap();
    b.put_str(ATTR_TEXT, text).unwrap();
    b.put_u32(ATTR_PORT, port).unwrap();
    let len = b.finish().unwrap();
    buf[..len].to_vec()
}

fn text_and_port(bytes: &[u8]) -> (String, u32) {
    let msg = MessageIter::new(bytes).next().unwrap().unwrap();
    let (mut text, mut port) = (String::new(), 0);
    for attr in msg.attrs(0).unwrap() {
        let attr = attr.unwrap();
        match attr.kind() {
            ATTR_TEXT => text = attr.get_str().unwrap().to_string(),
            ATTR_PORT => port = attr.get_u32().unwrap(),
            _ => {}
        }
    }
    (text, port)
}

fn usersock() -> NlSocket {
    let mut s = NlSocket::open(NETLINK_USERSOCK).unwrap();
    s.set_accept_any_sender(true);
    s
}

#[test]
fn unicast_between_two_processes() {
    if peer_role().as_deref() == Some("unicast") {
        // The peer: autobind, say hello to the parent's port, wait for the answer.
        let parent: u32 = peer_var("PARENT_PORT").parse().unwrap();
        let mut sock = usersock();
        let port = sock.bind(0, 0).unwrap();
        assert_ne!(port, parent, "autobound ports differ across processes");
        // The tutorial binds an explicit port: the parent's is taken.
        let mut dup = usersock();
        assert_eq!(dup.bind(parent, 0), Err(Error::AddrInUse { port: parent }));
        sock.send_to(&message(1, "Hello you!", port), Addr::port(parent))
            .unwrap();
        let mut buf = [0u8; 1024];
        let reply = sock.recv_msg(&mut buf).unwrap();
        assert_eq!(reply.sender, Addr::port(parent));
        assert_eq!(
            text_and_port(reply.bytes),
            ("I am from the parent!".into(), parent)
        );
        return;
    }
    let mut sock = usersock();
    // The tutorial's fixed port, made unique per process so parallel runs do not collide.
    let port = 0x4e00_0000 | std::process::id();
    assert_eq!(sock.bind(port, 0).unwrap(), port);
    assert_eq!(sock.local_addr().unwrap(), Addr::port(port));
    let mut peer = spawn_peer(
        "unicast_between_two_processes",
        "unicast",
        &[("PARENT_PORT", port.to_string())],
    );
    sock.set_recv_timeout(Duration::from_secs(20)).unwrap();
    let mut buf = [0u8; 1024];
    let hello = sock.recv_from(&mut buf).unwrap();
    let (text, peer_port) = text_and_port(hello.bytes);
    assert_eq!(text, "Hello you!");
    assert_eq!(
        hello.sender,
        Addr::port(peer_port),
        "the sender address is returned"
    );
    sock.send_to(&message(1, "I am from the parent!", port), hello.sender)
        .unwrap();
    assert!(wait_bounded(&mut peer, PEER_LIMIT).success(), "peer failed");
}

#[test]
fn multicast_to_a_group_member_in_another_process() {
    const GROUP: u32 = 3;
    const HIGH_GROUP: u32 = 31;
    if peer_role().as_deref() == Some("multicast") {
        let mut sock = usersock();
        let port = sock.bind(0, 0).unwrap();
        sock.send_to(&message(0, "to the group", port), Addr::group(GROUP))
            .unwrap();
        // Several messages in one datagram with sendmsg and an iovec.
        let (a, b) = (message(0, "first", port), message(0, "second", port));
        let sent = sock
            .send_vectored(&[&a, &b], Addr::group(HIGH_GROUP))
            .unwrap();
        assert_eq!(sent, a.len() + b.len());
        return;
    }
    require_root("joining NETLINK_USERSOCK groups");
    let mut sock = usersock();
    sock.bind(0, group_mask(GROUP)).unwrap();
    sock.join_group(HIGH_GROUP).unwrap();
    sock.set_recv_timeout(Duration::from_secs(20)).unwrap();
    let mut peer = spawn_peer(
        "multicast_to_a_group_member_in_another_process",
        "multicast",
        &[],
    );
    let mut buf = [0u8; 2048];
    let first = sock.recv_from(&mut buf).unwrap();
    assert_eq!(first.sender.groups, group_mask(GROUP));
    let (text, peer_port) = text_and_port(first.bytes);
    assert_eq!(text, "to the group");
    assert_eq!(first.sender.port, peer_port);
    let batch = sock.recv_msg(&mut buf).unwrap();
    assert_eq!(batch.sender.groups, group_mask(HIGH_GROUP));
    let texts: Vec<String> = batch
        .messages()
        .map(|m| text_and_port(m.unwrap().bytes()).0)
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert!(wait_bounded(&mut peer, PEER_LIMIT).success(), "peer failed");
    // Leaving the group stops delivery.
    sock.leave_group(HIGH_GROUP).unwrap();
}

#[test]
fn explicit_duplicate_port_is_addr_in_use_and_autobound_ports_differ() {
    let mut a = usersock();
    let mut b = usersock();
    let pa = a.bind(0, 0).unwrap();
    let pb = b.bind(0, 0).unwrap();
    assert!(pa != 0 && pb != 0 && pa != pb, "{pa} {pb}");
    let mut c = usersock();
    assert_eq!(c.bind(pa, 0), Err(Error::AddrInUse { port: pa }));
    let errno = Error::AddrInUse { port: pa }.errno().expect("an errno");
    assert_eq!(
        std::io::Error::from_raw_os_error(errno).kind(),
        std::io::ErrorKind::AddrInUse
    );
    // The failed bind left `c` usable.
    assert_ne!(c.bind(0, 0).unwrap(), 0);
}

#[test]
fn data_from_another_process_is_refused_unless_asked_for() {
    let mut strict = NlSocket::open(NETLINK_USERSOCK).unwrap();
    let port = strict.bind(0, 0).unwrap();
    let mut other = usersock();
    let other_port = other.bind(0, 0).unwrap();
    other
        .send_to(&message(1, "not the kernel", other_port), Addr::port(port))
        .unwrap();
    let mut buf = [0u8; 512];
    assert_eq!(
        strict.recv_from(&mut buf).unwrap_err(),
        Error::ForeignSender { port: other_port }
    );
    strict.set_accept_any_sender(true);
    other
        .send_to(&message(2, "now accepted", other_port), Addr::port(port))
        .unwrap();
    let d = strict.recv_from(&mut buf).unwrap();
    assert_eq!(text_and_port(d.bytes).0, "now accepted");
}

#[test]
fn receive_buffer_too_small_states_needed_size() {
    let mut rx = usersock();
    let port = rx.bind(0, 0).unwrap();
    let tx = usersock();
    let long = "x".repeat(300);
    let msg = message(1, &long, 0);
    tx.send_to(&msg, Addr::port(port)).unwrap();
    let mut small = [0u8; 100];
    assert_eq!(
        rx.recv_from(&mut small).unwrap_err(),
        Error::Truncated {
            size: msg.len() as u32,
            capacity: 100
        }
    );
    tx.send_to(&msg, Addr::port(port)).unwrap();
    assert_eq!(
        rx.recv_msg(&mut small).unwrap_err(),
        Error::Truncated {
            size: msg.len() as u32,
            capacity: 100
        }
    );
    let text = format!(
        "{}",
        Error::Truncated {
            size: msg.len() as u32,
            capacity: 100
        }
    );
    assert!(text.contains(&msg.len().to_string()), "{text}");
}

#[test]
fn flooded_multicast_receiver_reports_counts_and_recovers() {
    require_root("joining a NETLINK_USERSOCK group");
    const GROUP: u32 = 9;
    const FLOOD: u32 = 2000;
    let mut rx = usersock();
    rx.bind(0, 0).unwrap();
    rx.join_group(GROUP).unwrap();
    rx.set_recv_buffer(1024).unwrap(); // raised to the kernel's minimum: a few messages
    let tx = usersock();
    let msg = message(0, &"y".repeat(160), 0);
    assert_eq!(msg.len(), 16 + 4 + 164 + 8, "a 192-byte message");
    for _ in 0..FLOOD {
        tx.send_to(&msg, Addr::group(GROUP)).unwrap();
    }
    let mut buf = [0u8; 512];
    // What fitted is queued; the overflow is reported once, in order, then counted.
    let mut received = 0u32;
    let mut overruns_seen = 0u32;
    rx.set_nonblocking(true).unwrap();
    for _ in 0..FLOOD + 10 {
        match rx.recv_from(&mut buf) {
            Ok(_) => received += 1,
            Err(Error::Overrun) => overruns_seen += 1,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(overruns_seen >= 1, "the flood overflowed a small queue");
    assert_eq!(rx.overruns(), overruns_seen, "every overrun is counted");
    assert!(
        received < FLOOD,
        "messages were lost: {received} of {FLOOD}"
    );
    // The socket still works.
    rx.set_nonblocking(false).unwrap();
    tx.send_to(&message(0, "after the flood", 0), Addr::group(GROUP))
        .unwrap();
    let d = rx.recv_from(&mut buf).unwrap();
    assert_eq!(text_and_port(d.bytes).0, "after the flood");
}

#[test]
fn drain_drops_every_queued_datagram_whatever_its_size() {
    let mut sock = usersock();
    let port = sock.bind(0, 0).unwrap();
    let mut sender = usersock();
    sender.bind(0, 0).unwrap();
    // One datagram longer than any buffer drain could have used, between two short ones.
    let long = "x".repeat(300);
    for text in ["short", long.as_str(), "short again"] {
        sender
            .send_to(&message(1, text, 0), Addr::port(port))
            .unwrap();
    }
    assert_eq!(sock.drain(10).unwrap(), 3);
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    assert_eq!(sock.recv_from(&mut buf).unwrap_err(), Error::WouldBlock);
    assert_eq!(sock.drain(10).unwrap(), 0, "nothing left to drop");
}
