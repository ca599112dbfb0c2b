//! The tutorial's first user-space program (范例一), written with nlcore: bind port 100,
//! send "Hello you!" with `sendmsg` (header and payload as two iovec parts), then read the
//! answers with `recvmsg` — bounded, where the original loops forever.
//!
//! `cargo run -p nlcore --features socket --example tutorial_sendmsg` talks to a
//! NETLINK_USERSOCK peer process; `-- --unit 25` to the module's classic unit (in a guest).

mod tutorial_common;

use nlcore::consts::*;
use nlcore::sock::{Error, NlSocket};
use nlcore::{align, NlMsgHdr};
use std::time::Duration;
use tutorial_common::*;

fn client(o: &Options) -> Result<(), Error> {
    let mut sock = NlSocket::open(o.unit)?;
    sock.bind(CLIENT_PORT, 0)?; // A: the source port; taken → Error::AddrInUse
    let dest = destination(o.unit); // B: the destination
    sock.set_accept_any_sender(dest.port != 0);
    sock.set_recv_timeout(Duration::from_secs(3))?;

    let body = payload("Hello you!");
    let mut header = [0u8; NLMSG_HDRLEN];
    NlMsgHdr {
        len: (NLMSG_HDRLEN + align(body.len())) as u32,
        ty: MSG_HELLO,
        flags: NLM_F_REQUEST,
        seq: sock.next_seq(),
        pid: CLIENT_PORT, // C: the sender's port as written in the header
    }
    .emit(&mut header);
    println!("state_smg");
    let sent = sock.send_vectored(&[&header, &body], dest)?;
    println!("sent {sent} bytes with sendmsg");

    let mut buf = vec![0u8; 2 * MAX_PAYLOAD];
    println!("waiting received!");
    for _ in 0..ANSWERS {
        match sock.recv_msg(&mut buf) {
            Ok(datagram) => print_datagram(datagram.bytes)?,
            Err(Error::TimedOut) => {
                println!("no more answers");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn main() {
    main_with(client);
}
