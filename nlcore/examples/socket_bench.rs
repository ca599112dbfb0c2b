//! The Rust side of `cargo xtask bench socket` (the C references are in `bench/socket/`).
//!
//! `socket_bench dump ITERATIONS [BUFFER_BYTES]`: RTM_GETLINK dump round trips, every
//! attribute of every link walked, its name and MTU validated and read; `socket_bench pingpong ITERATIONS`: a
//! 200-byte NETLINK_USERSOCK message to another thread's port and back. Each prints
//! `median_ns=N` over per-iteration times, as the C programs do.

use nlcore::consts::*;
use nlcore::sock::{Addr, Error, NlSocket};
use nlcore::MsgBuilder;
use std::time::Instant;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFINFOMSG_LEN: usize = 16;
const AF_PACKET: u8 = 17;
/// The receive buffer for dumps: the kernel fills datagrams up to the size of the buffer
/// the reader offers (up to 32 KiB), so a large one means fewer round trips per dump.
const DUMP_BUFFER: usize = 32 * 1024;
const PING_LEN: usize = 200;

fn median(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn dump(iterations: usize, buffer: usize) -> Result<(), Error> {
    let mut sock = NlSocket::open_bound(NETLINK_ROUTE)?;
    let mut buf = vec![0u8; buffer];
    let mut req = [0u8; 64];
    let mut samples = Vec::with_capacity(iterations);
    let mut links = 0u32;
    let mut name_bytes = 0usize;
    let mut mtu_sum = 0u64;
    let mut last_index = 0i32;
    for _ in 0..iterations {
        let start = Instant::now();
        let len = {
            let mut b = MsgBuilder::new(&mut req);
            b.begin(RTM_GETLINK, NLM_F_REQUEST, 0, 0)?;
            let mut ifi = [0u8; IFINFOMSG_LEN];
            ifi[0] = AF_PACKET;
            b.put_raw(&ifi)?;
            b.finish()?
        };
        links = 0;
        sock.dump(&mut req[..len], &mut buf, |msg| {
            if msg.ty() != RTM_NEWLINK {
                return Ok(());
            }
            // The same work as the C reference's callback: the index from the header, every
            // attribute walked (each header checked), IFLA_MTU as a u32, IFLA_IFNAME as a
            // string.
            let index = msg.payload().get(4..8).ok_or(nlcore::Error::Truncated {
                need: (NLMSG_HDRLEN + IFINFOMSG_LEN) as u16,
                have: msg.bytes().len() as u32,
            })?;
            last_index = i32::from_ne_bytes([index[0], index[1], index[2], index[3]]);
            for attr in msg.attrs(IFINFOMSG_LEN)? {
                let attr = attr?;
                match attr.kind() {
                    IFLA_IFNAME => name_bytes += attr.get_str()?.len(),
                    IFLA_MTU => mtu_sum += u64::from(attr.get_u32()?),
                    _ => {}
                }
            }
            links += 1;
            Ok(())
        })
        .map_err(|f| f.error)?;
        samples.push(start.elapsed().as_nanos() as u64);
    }
    std::hint::black_box((name_bytes, mtu_sum, last_index));
    println!("median_ns={} links={links}", median(samples));
    Ok(())
}

fn pingpong(iterations: usize) -> Result<(), Error> {
    let mut ping = NlSocket::open(NETLINK_USERSOCK)?;
    let mut pong = NlSocket::open(NETLINK_USERSOCK)?;
    let ping_port = ping.bind(0, 0)?;
    let pong_port = pong.bind(0, 0)?;
    ping.set_accept_any_sender(true);
    pong.set_accept_any_sender(true);
    let echo = std::thread::spawn(move || -> Result<(), Error> {
        let mut buf = [0u8; 8192];
        for _ in 0..iterations {
            let d = pong.recv_from(&mut buf)?;
            assert_eq!(d.sender.port, ping_port);
            pong.send_to(d.bytes, d.sender)?;
        }
        Ok(())
    });
    let mut msg = [0u8; PING_LEN];
    let mut buf = [0u8; 8192];
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let start = Instant::now();
        {
            let mut b = MsgBuilder::new(&mut msg);
            b.begin(NLMSG_MIN_TYPE, NLM_F_REQUEST, i as u32, 0)?;
            b.put_raw(&[0u8; PING_LEN - NLMSG_HDRLEN])?;
            b.finish()?;
        }
        ping.send_to(&msg, Addr::port(pong_port))?;
        let d = ping.recv_from(&mut buf)?;
        assert!(d.sender.port == pong_port && d.bytes.len() == PING_LEN);
        samples.push(start.elapsed().as_nanos() as u64);
    }
    echo.join().expect("echo thread")?;
    println!("median_ns={}", median(samples));
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iterations = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let result = match args.first().map(String::as_str) {
        Some("dump") => {
            let buffer = args.get(2).and_then(|n| n.parse().ok());
            dump(iterations, buffer.unwrap_or(DUMP_BUFFER))
        }
        Some("pingpong") => pingpong(iterations),
        _ => {
            eprintln!("usage: socket_bench dump|pingpong ITERATIONS [BUFFER_BYTES]");
            std::process::exit(64);
        }
    };
    if let Err(e) = result {
        eprintln!("socket_bench: {e}");
        std::process::exit(1);
    }
}
