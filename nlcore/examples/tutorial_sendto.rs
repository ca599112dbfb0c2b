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
use std::time::Duration;
use tutorial_common::*;

fn client(o: &Options) -> Result<(), Error> {
    let mut sock = NlSocket::open(o.unit)?;
    sock.bind(CLIENT_PORT, 0)?;
    let dest = destination(o.unit);
    sock.set_accept_any_sender(dest.port != 0);
    sock.set_recv_timeout(Duration::from_secs(3))?;

    let mut buf = vec![0u8; 2 * MAX_PAYLOAD];
    let len = {
        let mut b = MsgBuilder::new(&mut buf);
        b.begin(MSG_HELLO, NLM_F_REQUEST, sock.next_seq(), CLIENT_PORT)?;
        b.put_raw(&payload("Hello you!"))?;
        b.finish()?
    };
    println!("state_smg");
    sock.send_to(&buf[..len], dest)?;

    println!("waiting received!");
    for _ in 0..ANSWERS {
        match sock.recv_from(&mut buf) {
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

fn main() {
    main_with(client);
}
