//! The exporters' sockets: a non-blocking TCP stream for MQTT and a UDP socket for line
//! protocol. Nothing here waits: a connect in progress, a full socket buffer or an absent
//! peer is reported at once and the caller drops or keeps the record.

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{connect, socket_with, SocketAddrAny, SocketFlags, SocketType};

#[cfg(feature = "mqtt")]
pub use tcp::TcpLink;

/// A peer's address as the kernel takes it, encoded once rather than at every connect or
/// datagram; `None` for a slot not in use.
pub type Peer = Option<SocketAddrAny>;

/// A non-blocking socket of `kind` connected to `peer`, or (a stream) connecting: a
/// non-blocking connect that has not finished says INPROGRESS, which a datagram socket's
/// never does. `None` when it cannot be made (no route, no address family).
fn connected(peer: &SocketAddrAny, kind: SocketType) -> Option<OwnedFd> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = socket_with(peer.address_family(), kind, flags, None).ok()?;
    match connect(&fd, peer) {
        Ok(()) | Err(Errno::INPROGRESS) => Some(fd),
        Err(_) => None,
    }
}

/// The MQTT exporter's stream (built with the `mqtt` feature).
#[cfg(feature = "mqtt")]
mod tcp {
    use super::{connected, Peer};
    use crate::export::mqtt::Link;
    use core::net::SocketAddr;
    use rustix::fd::OwnedFd;
    use rustix::io::Errno;
    use rustix::net::{recv, send, RecvFlags, SendFlags, SocketType};

    /// What a send or receive moved, as [`Link`] says it: a call that failed only because
    /// it would have to wait (a full or empty socket buffer, a connect in progress, a
    /// signal) moved nothing.
    fn moved(result: Result<usize, Errno>) -> Option<usize> {
        match result {
            Ok(n) => Some(n),
            Err(Errno::AGAIN | Errno::INPROGRESS | Errno::INTR) => Some(0),
            Err(_) => None,
        }
    }

    /// A TCP connection to an MQTT broker, non-blocking from the start.
    pub struct TcpLink {
        broker: Peer,
        fd: Option<OwnedFd>,
    }

    impl TcpLink {
        /// A link to `broker` (not connected until [`Link::open`]).
        pub fn new(broker: SocketAddr) -> Self {
            TcpLink {
                broker: Some(broker.into()),
                fd: None,
            }
        }

        /// A link to no broker, for a client slot not in use.
        pub const fn unset() -> Self {
            TcpLink {
                broker: None,
                fd: None,
            }
        }
    }

    impl Link for TcpLink {
        fn open(&mut self) -> bool {
            self.fd = self
                .broker
                .as_ref()
                .and_then(|broker| connected(broker, SocketType::STREAM));
            self.fd.is_some()
        }

        fn send(&mut self, bytes: &[u8]) -> Option<usize> {
            // NOSIGNAL: a broker that went away must not kill the agent with SIGPIPE.
            let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
            moved(send(self.fd.as_ref()?, bytes, flags))
        }

        fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
            match recv(self.fd.as_ref()?, buf, RecvFlags::DONTWAIT) {
                // The broker's end of the stream.
                Ok((0, _)) => None,
                result => moved(result.map(|(got, _)| got)),
            }
        }

        fn close(&mut self) {
            self.fd = None;
        }
    }
}

/// A UDP socket connected to `to`, so that its datagrams are written as a file's lines are;
/// it never waits. `None` when it cannot be made (no route, no address family).
pub fn udp_to(to: &SocketAddrAny) -> Option<OwnedFd> {
    connected(to, SocketType::DGRAM)
}

#[cfg(all(test, feature = "mqtt"))]
mod tests {
    use super::TcpLink;
    use crate::export::mqtt::Link;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    /// Sends `bytes` until the link takes them, for at most five seconds: a connect in
    /// progress makes the link take nothing, a refused one say `None`.
    fn send_within(link: &mut TcpLink, bytes: &[u8]) -> Option<usize> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match link.send(bytes) {
                Some(0) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    /// Receives into `buf` until something arrives or the stream ends, for at most five
    /// seconds.
    fn recv_within(link: &mut TcpLink, buf: &mut [u8]) -> Option<usize> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match link.recv(buf) {
                Some(0) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    /// The client needs no "connect finished" call: the stream takes bytes once the
    /// connect is done, and a refused connect fails the next send. A receive says how many
    /// bytes arrived, 0 for none yet, `None` at the peer's end of the stream.
    #[test]
    fn a_connect_shows_through_send() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut link = TcpLink::new(listener.local_addr().unwrap());
        assert!(link.open());
        assert_eq!(send_within(&mut link, b"hello"), Some(5));
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");

        // What the peer sends is read; its end of the stream is `None`, nothing yet 0.
        let mut buf = [0u8; 8];
        assert_eq!(link.recv(&mut buf), Some(0));
        peer.write_all(b"hi").unwrap();
        drop(peer);
        assert_eq!(recv_within(&mut link, &mut buf), Some(2));
        assert_eq!(&buf[..2], b"hi");
        assert_eq!(recv_within(&mut link, &mut buf), None);

        // A port nobody listens on any more: refused.
        let port = listener.local_addr().unwrap();
        drop(listener);
        let mut link = TcpLink::new(port);
        if link.open() {
            assert_eq!(send_within(&mut link, b"x"), None);
        }
    }
}
