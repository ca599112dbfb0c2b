//! The tutorial's second user-space program (范例二), written with nlcore: bind port 100,
//! send "Hello you!" with `sendto`, then read the answers with `recvfrom` into one reused
//! buffer — bounded, where the original loops forever.
//!
//! `cargo run -p nlcore --features socket --example tutorial_sendto` talks to a
//! NETLINK_USERSOCK peer process; `-- --unit 25` to the module's classic unit (in a guest).

mod tutorial_common;

use nlcore::consts::*;
use nlcore::sock::{Error, NlSocket};
use nlcore::MsgBuilder;
use tutorial_common::*;

fn client(o: &Options) -> Result<(), Error> {
    let mut sock = client_socket(o.unit)?;
    let dest = destination(o.unit);

    let mut buf = vec![0u8; 2 * MAX_PAYLOAD];
    let len = {
        let mut b = MsgBuilder::new(&mut buf);
        b.begin(MSG_HELLO, NLM_F_REQUEST, sock.next_seq(), CLIENT_PORT)?;
        b.put_raw(&payload("Hello you!"))?;
        b.finish()?
    };
    println!("state_smg");
    sock.send_to(&buf[..len], dest)?;

    print_answers(&mut sock, NlSocket::recv_from)
}

fn main() {
    main_with(client);
}
