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
use tutorial_common::*;

fn client(o: &Options) -> Result<(), Error> {
    let mut sock = client_socket(o.unit)?; // A: bound to the source port
    let dest = destination(o.unit); // B: the destination

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

    print_answers(&mut sock, NlSocket::recv_msg)
}

fn main() {
    main_with(client);
}
