//! NETLINK_ROUTE against this host's kernel: dumps, acks, ext-ack, receive errors, options.
#![cfg(feature = "socket")]

mod sock_util;

use nlcore::consts::*;
use nlcore::sock::{Error, NlSocket};
use nlcore::MsgBuilder;
use sock_util::*;
use std::time::Duration;

fn link_dump(sock: &mut NlSocket) -> Vec<(i32, String)> {
    let mut req = [0u8; 64];
    let len = getlink_request(&mut req, 0);
    let mut buf = vec![0u8; 32 * 1024];
    let mut links = Vec::new();
    let end = sock
        .dump(&mut req[..len], &mut buf, |msg| {
            links.push(link_of(msg)?);
            Ok(())
        })
        .unwrap_or_else(|f| panic!("link dump failed: {f}"));
    assert_eq!(end.messages as usize, links.len());
    links
}

/// `ip -o link` lines: `2: eth0@if5: <...` → (2, "eth0").
fn ip_links() -> Vec<(i32, String)> {
    run("ip", &["-o", "link"])
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, ": ");
            let index = fields.next().unwrap().trim().parse().unwrap();
            let name = fields.next().unwrap();
            let name = name.split('@').next().unwrap().to_string();
            (index, name)
        })
        .collect()
}

#[test]
fn getlink_dump_matches_ip_link() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    assert_ne!(sock.port(), 0, "the kernel chose a port");
    // Links may come and go while the test runs (other programs on the host): compare
    // snapshots taken back to back, a few times at most, until one pair agrees.
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let mut ours = link_dump(&mut sock);
        let mut theirs = ip_links();
        ours.sort();
        theirs.sort();
        assert!(!ours.is_empty());
        if ours == theirs {
            // The socket is reusable: a second dump, under a new sequence number, agrees.
            let mut again = link_dump(&mut sock);
            again.sort();
            assert_eq!(again, ours);
            return;
        }
        last = (ours, theirs);
    }
    assert_eq!(last.0, last.1, "nlcore's dump vs `ip -o link`");
}

#[test]
fn rejected_dump_carries_ext_ack_text() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    sock.set_ext_ack(true).unwrap();
    sock.set_strict_check(true).unwrap();
    let mut req = [0u8; 64];
    // Strict checking refuses a link dump filtered by index.
    let len = getlink_request(&mut req, 1);
    let mut buf = vec![0u8; 8192];
    let failed = sock
        .dump(&mut req[..len], &mut buf, |_| Ok(()))
        .expect_err("the kernel refuses an index filter on a strict link dump");
    assert_eq!(failed.error, Error::Kernel { errno: 22 }, "{failed}");
    assert_eq!(
        failed.ext_ack().msg,
        Some("Filter by device index not supported for link dumps"),
        "{failed}"
    );
}

#[test]
fn rejected_request_carries_ext_ack_text() {
    require_root("RTM_NEWLINK needs CAP_NET_ADMIN");
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    sock.set_ext_ack(true).unwrap();
    let mut req = [0u8; 128];
    let len = {
        let mut b = MsgBuilder::new(&mut req);
        b.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 0)
            .unwrap();
        b.put_raw(&ifinfomsg(0)).unwrap();
        b.put_str(IFLA_IFNAME, "nlcore-test0").unwrap();
        let info = b.nest_start(IFLA_LINKINFO).unwrap();
        b.put_str(IFLA_INFO_KIND, "no-such-link-kind").unwrap();
        b.nest_end(info).unwrap();
        b.finish().unwrap()
    };
    let mut buf = vec![0u8; 8192];
    let failed = sock
        .request(&mut req[..len], &mut buf, |_| Ok(()))
        .expect_err("the kernel has no link kind of that name");
    assert!(
        matches!(failed.error, Error::Kernel { errno } if errno > 0),
        "{failed}"
    );
    assert_eq!(
        failed.ext_ack().msg,
        Some("Unknown device type"),
        "{failed}"
    );
}

#[test]
fn get_one_link_then_ack() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    let mut req = [0u8; 64];
    let len = getlink_request(&mut req, 1);
    let mut buf = vec![0u8; 32 * 1024];
    let mut got = Vec::new();
    let ack = sock
        .request(&mut req[..len], &mut buf, |msg| {
            got.push(link_of(msg)?);
            Ok(())
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(got, vec![(1, "lo".to_string())]);
    assert_eq!(ack.request.ty, RTM_GETLINK);
    assert_eq!(ack.request.seq, sock_seq_of(&req));
}

#[test]
fn ask_sends_a_request_or_a_dump_and_reports_the_refusal() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    sock.set_ext_ack(true).unwrap();
    sock.set_strict_check(true).unwrap();
    let mut req = [0u8; 64];
    let mut buf = vec![0u8; 32 * 1024];
    let mut got = Vec::new();
    // A get of one link: its data, then the ack.
    let len = getlink_request(&mut req, 1);
    sock.ask(&mut req[..len], false, &mut buf, &mut |msg| {
        got.push(link_of(msg)?);
        Ok(())
    })
    .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(got, vec![(1, "lo".to_string())]);
    // A dump of every link, to NLMSG_DONE.
    let len = getlink_request(&mut req, 0);
    let mut links = 0;
    sock.ask(&mut req[..len], true, &mut buf, &mut |_| {
        links += 1;
        Ok(())
    })
    .unwrap_or_else(|f| panic!("{f}"));
    assert!(links >= 1);
    // Strict checking refuses a link dump filtered by index: the errno and the text.
    let len = getlink_request(&mut req, 1);
    let failed = sock
        .ask(&mut req[..len], true, &mut buf, &mut |_| Ok(()))
        .expect_err("the kernel refuses an index filter on a strict link dump");
    assert_eq!(failed.error, Error::Kernel { errno: 22 }, "{failed}");
    assert_eq!(
        failed.ext_ack().msg,
        Some("Filter by device index not supported for link dumps"),
        "{failed}"
    );
}

#[test]
fn request_on_a_socket_never_bound() {
    // The kernel binds the socket on its first send; the replies name that port.
    let mut sock = NlSocket::open(NETLINK_ROUTE).unwrap();
    assert_eq!(sock.port(), 0);
    let mut req = [0u8; 64];
    let len = getlink_request(&mut req, 1);
    let mut buf = vec![0u8; 32 * 1024];
    let ack = sock.request(&mut req[..len], &mut buf, |_| Ok(()));
    assert!(ack.is_ok(), "{ack:?}");
    assert_ne!(sock.port(), 0);
    assert_eq!(sock.port(), sock.local_addr().unwrap().port);
}

fn sock_seq_of(msg: &[u8]) -> u32 {
    u32::from_ne_bytes(msg[8..12].try_into().unwrap())
}

#[test]
fn too_small_buffer_states_the_datagram_size() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    let mut req = [0u8; 64];
    let len = getlink_request(&mut req, 1);
    sock.send(&req[..len]).unwrap();
    let mut small = [0u8; 64];
    match sock.recv_from(&mut small) {
        Err(Error::Truncated { size, capacity }) => {
            assert_eq!(capacity, 64);
            assert!(size > 64, "real size {size}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // The same through recvmsg, and through a whole dump.
    sock.send(&req[..len]).unwrap();
    assert!(matches!(
        sock.recv_msg(&mut small),
        Err(Error::Truncated { capacity: 64, size }) if size > 64
    ));
    let len = getlink_request(&mut req, 0);
    let failed = sock
        .dump(&mut req[..len], &mut small, |_| Ok(()))
        .expect_err("a link does not fit in 64 bytes");
    assert!(
        matches!(failed.error, Error::Truncated { size, .. } if size > 64),
        "{failed}"
    );
}

#[test]
fn stale_reply_is_a_sequence_mismatch() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    let mut req = [0u8; 64];
    let len = getlink_request(&mut req, 1);
    // A request sent by hand (seq 0x5eed, NLM_F_REQUEST) whose reply nobody reads...
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&0x5eedu32.to_ne_bytes());
    sock.send(&req[..len]).unwrap();
    // ...is what the next request reads first.
    let mut buf = vec![0u8; 32 * 1024];
    let failed = sock
        .request(&mut req[..len], &mut buf, |_| Ok(()))
        .expect_err("the stale reply comes first");
    assert!(
        matches!(failed.error, Error::SeqMismatch { got: 0x5eed, .. }),
        "{failed}"
    );
    // The socket dropped the rest and works again.
    let ack = sock.request(&mut req[..len], &mut buf, |_| Ok(()));
    assert!(ack.is_ok(), "{ack:?}");
}

#[test]
fn netlink_options_read_back() {
    let sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    for (name, set) in [
        (
            NETLINK_EXT_ACK,
            NlSocket::set_ext_ack as fn(&NlSocket, bool) -> _,
        ),
        (NETLINK_CAP_ACK, NlSocket::set_cap_ack),
        (NETLINK_GET_STRICT_CHK, NlSocket::set_strict_check),
        (NETLINK_NO_ENOBUFS, NlSocket::set_no_enobufs),
    ] {
        assert_eq!(
            sock.netlink_opt(name).unwrap(),
            0,
            "option {name} starts off"
        );
        set(&sock, true).unwrap();
        assert_eq!(sock.netlink_opt(name).unwrap(), 1, "option {name} on");
        set(&sock, false).unwrap();
        assert_eq!(
            sock.netlink_opt(name).unwrap(),
            0,
            "option {name} off again"
        );
    }
}

#[test]
fn receive_buffer_size_and_force() {
    let sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    sock.set_recv_buffer(4096).unwrap();
    let small = sock.recv_buffer().unwrap();
    assert!((4096..=2 * 4096).contains(&small), "{small}");
    require_root("SO_RCVBUFFORCE needs CAP_NET_ADMIN");
    let big = 8 << 20;
    sock.set_recv_buffer_force(big).unwrap();
    assert!(sock.recv_buffer().unwrap() >= big);
}

#[test]
fn nonblocking_timeout_and_poll() {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    let mut buf = [0u8; 256];
    sock.set_recv_timeout(Duration::from_millis(30)).unwrap();
    assert_eq!(sock.recv_from(&mut buf).unwrap_err(), Error::TimedOut);
    assert!(
        sock.set_recv_timeout(Duration::ZERO).is_err(),
        "zero = forever"
    );
    assert!(!sock.poll_readable(Duration::from_millis(10)).unwrap());
    sock.set_nonblocking(true).unwrap();
    assert_eq!(sock.recv_from(&mut buf).unwrap_err(), Error::WouldBlock);
    // A request makes it readable; poll sees it without blocking.
    let mut req = [0u8; 64];
    let len = getlink_request(&mut req, 1);
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    sock.send(&req[..len]).unwrap();
    assert!(sock.poll_readable(Duration::from_secs(2)).unwrap());
    let mut big = vec![0u8; 32 * 1024];
    let datagram = sock.recv_from(&mut big).unwrap();
    assert_eq!(datagram.sender.port, 0, "from the kernel");
    sock.set_nonblocking(false).unwrap();
}

#[test]
fn join_and_leave_groups_beyond_the_bind_mask() {
    require_root("joining rtnetlink groups");
    // RTNLGRP_STATS (36) and RTNLGRP_LINK (1): one beyond the 32-bit bind mask, one inside.
    const RTNLGRP_LINK: u32 = 1;
    const RTNLGRP_STATS: u32 = 36;
    let sock = NlSocket::open_bound(NETLINK_ROUTE).unwrap();
    assert!(!sock.is_member(RTNLGRP_STATS).unwrap());
    sock.join_group(RTNLGRP_STATS).unwrap();
    sock.join_group(RTNLGRP_LINK).unwrap();
    let mut mask = [0u32; 4];
    let words = sock.memberships(&mut mask).unwrap();
    assert!(words >= 2, "the kernel lists more than 32 groups: {words}");
    assert_eq!(mask[0], 1 << (RTNLGRP_LINK - 1));
    assert_eq!(mask[1], 1 << (RTNLGRP_STATS - 33));
    sock.leave_group(RTNLGRP_STATS).unwrap();
    assert!(!sock.is_member(RTNLGRP_STATS).unwrap());
    assert!(sock.is_member(RTNLGRP_LINK).unwrap());
    // A group the unit does not have is refused.
    assert!(matches!(sock.join_group(100_000), Err(Error::Os(_))));
}
