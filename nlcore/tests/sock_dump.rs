//! The request/dump loop against a scripted peer on NETLINK_USERSOCK: what the kernel does
//! only in rare cases (a dump interrupted by a change, an error with ext-ack inside
//! NLMSG_DONE, a reply for another port, a reply from a stranger) on demand.
#![cfg(feature = "socket")]

use nlcore::consts::*;
use nlcore::sock::{Addr, Error, NlSocket};
use nlcore::{MessageIter, MsgBuilder};
use std::thread;
use std::time::Duration;

const MSG_ITEM: u16 = NLMSG_MIN_TYPE + 3;

/// One scripted reply message: type, flags, an optional errno (control messages) and an
/// optional ext-ack text.
struct Reply {
    ty: u16,
    flags: u16,
    errno: Option<i32>,
    ext_ack: Option<&'static str>,
    pid: Option<u32>,
}

fn data(flags: u16) -> Reply {
    Reply {
        ty: MSG_ITEM,
        flags: NLM_F_MULTI | flags,
        errno: None,
        ext_ack: None,
        pid: None,
    }
}

fn done(errno: i32, ext_ack: Option<&'static str>) -> Reply {
    Reply {
        ty: NLMSG_DONE,
        flags: NLM_F_MULTI | if ext_ack.is_some() { NLM_F_ACK_TLVS } else { 0 },
        errno: Some(errno),
        ext_ack,
        pid: None,
    }
}

/// Serves one request: reads it, answers with `replies` (same sequence number, addressed to
/// the requester's port unless a reply says otherwise), all in one datagram.
fn serve_once(server: NlSocket, replies: Vec<Reply>) -> thread::JoinHandle<()> {
    let mut server = server;
    thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let req = server.recv_from(&mut buf).expect("a request");
        let from = req.sender;
        let msg = MessageIter::new(req.bytes).next().unwrap().unwrap();
        let (seq, flags) = (msg.seq(), msg.flags());
        assert_ne!(flags & NLM_F_REQUEST, 0);
        let mut out = [0u8; 2048];
        let mut b = MsgBuilder::new(&mut out);
        for (i, r) in replies.iter().enumerate() {
            b.begin(r.ty, r.flags, seq, r.pid.unwrap_or(from.port))
                .unwrap();
            match r.errno {
                Some(errno) => b.put_raw(&(-errno).to_ne_bytes()).unwrap(),
                None => b.put_u32(1, i as u32).unwrap(),
            }
            if r.ty == NLMSG_ERROR {
                // An error message echoes the request's header after the errno.
                b.put_raw(&req.bytes[..NLMSG_HDRLEN]).unwrap();
            }
            if let Some(text) = r.ext_ack {
                b.put_str(NLMSGERR_ATTR_MSG, text).unwrap();
            }
            b.finish().unwrap();
        }
        let len = b.len();
        server.send_to(&out[..len], from).unwrap();
    })
}

/// A client and a server socket on NETLINK_USERSOCK, the client's peer set to the server.
fn pair() -> (NlSocket, NlSocket) {
    let mut server = NlSocket::open(NETLINK_USERSOCK).unwrap();
    let server_port = server.bind(0, 0).unwrap();
    server.set_accept_any_sender(true);
    server.set_recv_timeout(Duration::from_secs(5)).unwrap();
    let mut client = NlSocket::open(NETLINK_USERSOCK).unwrap();
    client.bind(0, 0).unwrap();
    client.set_accept_any_sender(true);
    client.set_peer(Addr::port(server_port));
    (client, server)
}

fn dump_request() -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(MSG_ITEM, NLM_F_REQUEST, 0, 0).unwrap();
    let len = b.finish().unwrap();
    buf[..len].to_vec()
}

#[test]
fn dump_reads_every_message_to_done() {
    let (mut client, server) = pair();
    let peer = serve_once(server, vec![data(0), data(0), data(0), done(0, None)]);
    let mut req = dump_request();
    let mut buf = [0u8; 4096];
    let mut items = Vec::new();
    let end = client
        .dump(&mut req, &mut buf, |m| {
            items.push(m.attrs(0)?.next().unwrap()?.get_u32()?);
            Ok(())
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(items, [0, 1, 2]);
    assert_eq!((end.messages, end.datagrams), (3, 1));
    let flags = u16::from_ne_bytes([req[6], req[7]]);
    assert_eq!(
        flags & NLM_F_DUMP,
        NLM_F_DUMP,
        "the socket marked it a dump"
    );
    peer.join().unwrap();
}

#[test]
fn interrupted_dump_is_surfaced_after_reading_it_all() {
    let (mut client, server) = pair();
    let peer = serve_once(
        server,
        vec![data(0), data(NLM_F_DUMP_INTR), data(0), done(0, None)],
    );
    let mut req = dump_request();
    let mut buf = [0u8; 4096];
    let mut seen = 0;
    let failed = client
        .dump(&mut req, &mut buf, |_| {
            seen += 1;
            Ok(())
        })
        .expect_err("NLM_F_DUMP_INTR must not pass as a clean dump");
    assert_eq!(failed.error, Error::DumpInterrupted);
    assert_eq!(seen, 3, "the whole dump was read, the socket is clean");
    peer.join().unwrap();
}

#[test]
fn error_and_ext_ack_inside_done_are_surfaced() {
    let (mut client, server) = pair();
    let peer = serve_once(server, vec![data(0), done(22, Some("bad dump filter"))]);
    let mut req = dump_request();
    let mut buf = [0u8; 4096];
    let failed = client
        .dump(&mut req, &mut buf, |_| Ok(()))
        .expect_err("DONE carried an error");
    assert_eq!(failed.error, Error::Kernel { errno: 22 });
    assert_eq!(failed.ext_ack().msg, Some("bad dump filter"));
    assert!(format!("{failed}").contains("bad dump filter"));
    peer.join().unwrap();
}

#[test]
fn an_ack_where_the_end_of_a_dump_is_due_is_unexpected() {
    let ack = || Reply {
        ty: NLMSG_ERROR,
        flags: 0,
        errno: Some(0),
        ext_ack: None,
        pid: None,
    };
    let unexpected = Error::Codec(nlcore::Error::UnexpectedType {
        nlmsg_type: NLMSG_ERROR,
    });
    let mut buf = [0u8; 4096];
    let (mut client, server) = pair();
    let peer = serve_once(server, vec![data(0), ack()]);
    let failed = client
        .dump(&mut dump_request(), &mut buf, |_| Ok(()))
        .expect_err("an ack does not end a dump");
    assert_eq!(failed.error, unexpected);
    peer.join().unwrap();
    // `ask` ends its dumps by the same rule; its requests end at the ack.
    let (mut client, server) = pair();
    let peer = serve_once(server, vec![data(0), ack()]);
    let failed = client
        .ask(&mut dump_request(), true, &mut buf, &mut |_| Ok(()))
        .expect_err("an ack does not end a dump");
    assert_eq!(failed.error, unexpected);
    peer.join().unwrap();
    let (mut client, server) = pair();
    let peer = serve_once(server, vec![data(0), ack()]);
    let mut seen = 0;
    client
        .ask(&mut dump_request(), false, &mut buf, &mut |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(seen, 1);
    peer.join().unwrap();
}

#[test]
fn reply_for_another_port_is_a_port_mismatch() {
    let (mut client, server) = pair();
    let mut wrong = data(0);
    wrong.pid = Some(client.port() ^ 0x5a5a);
    let peer = serve_once(server, vec![wrong, done(0, None)]);
    let mut req = dump_request();
    let mut buf = [0u8; 4096];
    let failed = client.dump(&mut req, &mut buf, |_| Ok(())).unwrap_err();
    assert_eq!(
        failed.error,
        Error::PortMismatch {
            expected: client.port(),
            got: client.port() ^ 0x5a5a
        }
    );
    peer.join().unwrap();
}

#[test]
fn reply_from_a_stranger_is_refused() {
    let (mut client, server) = pair();
    let peer = serve_once(server, vec![data(0), done(0, None)]);
    // Another process guesses the sequence number of the client's first request (1) and
    // answers before the server does.
    let mut stranger = NlSocket::open(NETLINK_USERSOCK).unwrap();
    let stranger_port = stranger.bind(0, 0).unwrap();
    let mut fake = [0u8; 64];
    let len = {
        let mut b = MsgBuilder::new(&mut fake);
        b.begin(NLMSG_DONE, NLM_F_MULTI, 1, client.port()).unwrap();
        b.put_raw(&0i32.to_ne_bytes()).unwrap();
        b.finish().unwrap()
    };
    stranger
        .send_to(&fake[..len], Addr::port(client.port()))
        .unwrap();
    let mut req = dump_request();
    let mut buf = [0u8; 4096];
    let failed = client.dump(&mut req, &mut buf, |_| Ok(())).unwrap_err();
    assert_eq!(
        failed.error,
        Error::ForeignSender {
            port: stranger_port
        }
    );
    peer.join().unwrap();
}

#[test]
fn request_without_reply_times_out() {
    let (mut client, _server) = pair();
    client.set_recv_timeout(Duration::from_millis(50)).unwrap();
    let mut req = dump_request();
    let mut buf = [0u8; 1024];
    let failed = client.request(&mut req, &mut buf, |_| Ok(())).unwrap_err();
    assert_eq!(failed.error, Error::TimedOut);
}
