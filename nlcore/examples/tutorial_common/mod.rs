//! What the two tutorial examples share: options, the peer that stands in for the
//! tutorial's kernel module, and printing what came back.
#![allow(dead_code)]

use nlcore::consts::*;
use nlcore::sock::{Addr, Datagram, Error, NlSocket};
use nlcore::{MessageIter, MsgBuilder, Payload};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tutorial's source port (its point A).
pub const CLIENT_PORT: u32 = 100;
/// The port of the user-space peer that answers in place of the kernel module.
pub const PEER_PORT: u32 = 101;
/// The tutorial's `MAX_PAYLOAD`.
pub const MAX_PAYLOAD: usize = 1024;
/// How many answers the peer sends (the tutorial's module sends 10, 3 s apart).
pub const ANSWERS: u32 = 3;
/// The message type of the greeting (types below `NLMSG_MIN_TYPE` are control messages).
pub const MSG_HELLO: u16 = NLMSG_MIN_TYPE;

/// Command line: `[--unit N]` (default NETLINK_USERSOCK with a peer process), or
/// `--peer` to be that peer.
pub struct Options {
    pub unit: i32,
    pub peer: bool,
}

pub fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Options {
        unit: NETLINK_USERSOCK,
        peer: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--peer" => o.peer = true,
            "--unit" => {
                o.unit = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    o
}

fn usage() -> ! {
    eprintln!(
        "usage: [--unit N]   talk to unit N (default {NETLINK_USERSOCK}, NETLINK_USERSOCK, \
         with a peer process standing in for the kernel module; 25 is the module's unit)"
    );
    std::process::exit(64)
}

/// Where the greeting goes: the kernel (port 0) on the module's unit, the peer otherwise.
pub fn destination(unit: i32) -> Addr {
    if unit == NETLINK_USERSOCK {
        Addr::port(PEER_PORT)
    } else {
        Addr::KERNEL
    }
}

/// A payload as the tutorial sends it: text, NUL-terminated, in a `MAX_PAYLOAD` area.
pub fn payload(text: &str) -> Vec<u8> {
    let mut p = vec![0u8; MAX_PAYLOAD];
    p[..text.len()].copy_from_slice(text.as_bytes());
    p
}

/// The text at the start of a payload (up to its NUL).
pub fn text_of(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

/// Starts this program again as the peer and waits until it is bound.
pub fn start_peer() -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .arg("--peer")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the peer process");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("peer stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("peer reports it is ready");
    assert_eq!(line.trim(), "ready", "peer: {line}");
    child
}

/// Waits for the peer to end, at most `limit`, killing it (by its handle) if it hangs.
pub fn wait_peer(mut child: Child, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(status.success(), "peer failed: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("peer did not finish within {limit:?}");
    std::process::exit(1);
}

/// The stand-in for the tutorial's kernel module: receives a greeting and answers the
/// sender `ANSWERS` times. It answers the address the datagram came from, never the
/// `nlmsg_pid` the sender wrote (anyone can write anything there).
pub fn run_peer() -> Result<(), Error> {
    let mut sock = NlSocket::open(NETLINK_USERSOCK)?;
    sock.bind(PEER_PORT, 0)?;
    sock.set_accept_any_sender(true);
    println!("ready");
    let mut buf = vec![0u8; 2 * MAX_PAYLOAD];
    let greeting = sock.recv_from(&mut buf)?;
    let sender = greeting.sender;
    for msg in greeting.messages() {
        eprintln!("peer: message received: {}", text_of(msg?.payload()));
    }
    let mut out = vec![0u8; 2 * MAX_PAYLOAD];
    for i in 0..ANSWERS {
        let len = {
            let mut b = MsgBuilder::new(&mut out);
            b.begin(MSG_HELLO, 0, i, 0)?;
            b.put_raw(&payload("I am from the peer!"))?;
            b.finish()?
        };
        sock.send_to(&out[..len], sender)?;
    }
    Ok(())
}

/// Prints each message of a received datagram as the tutorial does, and what netlink's
/// control messages mean.
pub fn print_datagram(bytes: &[u8]) -> Result<(), Error> {
    for msg in MessageIter::new(bytes) {
        match Payload::parse(msg?)? {
            Payload::Data(m) => println!("Received message: {}", text_of(m.payload())),
            Payload::Ack(_) => println!("Received ack"),
            Payload::Error(e) => println!(
                "Received error: errno {} {}",
                e.errno,
                e.ext_ack.msg.unwrap_or("")
            ),
            other => println!("Received control message: {other:?}"),
        }
    }
    Ok(())
}

/// The tutorial's client socket: bound to port 100 (its point A; taken → `AddrInUse`),
/// accepting answers from the peer process when there is one, waiting 3 s for each.
pub fn client_socket(unit: i32) -> Result<NlSocket, Error> {
    let mut sock = NlSocket::open(unit)?;
    sock.bind(CLIENT_PORT, 0)?;
    sock.set_accept_any_sender(destination(unit).port != 0);
    sock.set_recv_timeout(Duration::from_secs(3))?;
    Ok(sock)
}

/// Reads up to `ANSWERS` datagrams with `receive` (recvmsg or recvfrom) and prints them;
/// the wait for each is bounded by the socket's receive timeout.
pub fn print_answers(
    sock: &mut NlSocket,
    receive: for<'b> fn(&mut NlSocket, &'b mut [u8]) -> Result<Datagram<'b>, Error>,
) -> Result<(), Error> {
    let mut buf = vec![0u8; 2 * MAX_PAYLOAD];
    println!("waiting received!");
    for _ in 0..ANSWERS {
        match receive(sock, &mut buf) {
            Ok(datagram) => {
                println!("from port {}", datagram.sender.port);
                print_datagram(datagram.bytes)?;
            }
            Err(Error::TimedOut) => {
                println!("no more answers");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs `client` (with the peer started first on NETLINK_USERSOCK) and reports failures.
pub fn main_with(client: fn(&Options) -> Result<(), Error>) {
    let o = options();
    let result = if o.peer {
        run_peer()
    } else if o.unit == NETLINK_USERSOCK {
        let peer = start_peer();
        let r = client(&o);
        wait_peer(peer, Duration::from_secs(10));
        r
    } else {
        client(&o)
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
