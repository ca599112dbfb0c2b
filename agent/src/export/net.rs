//! The exporters' sockets: a non-blocking TCP stream for MQTT and a UDP socket for line
//! protocol. Nothing here waits: a connect in progress, a full socket buffer or an absent
//! peer is reported at once and the caller drops or keeps the record.

use core::net::SocketAddr;
use rustix::fd::OwnedFd;
use rustix::net::{connect, socket_with, AddressFamily, SocketFlags, SocketType};

#[cfg(feature = "mqtt")]
pub use tcp::TcpLink;

fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// The MQTT exporter's stream (built with the `mqtt` feature).
#[cfg(feature = "mqtt")]
mod tcp {
    use super::family;
    use crate::export::mqtt::{Link, LinkError};
    use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use rustix::fd::OwnedFd;
    use rustix::io::Errno;
    use rustix::net::{
        connect, recv, send, socket_with, RecvFlags, SendFlags, SocketFlags, SocketType,
    };

    fn link_error(e: Errno) -> LinkError {
        if e == Errno::AGAIN || e == Errno::INPROGRESS || e == Errno::ALREADY || e == Errno::INTR {
            LinkError::WouldBlock
        } else {
            LinkError::Closed
        }
    }

    /// A TCP connection to an MQTT broker, non-blocking from the start.
    pub struct TcpLink {
        broker: SocketAddr,
        fd: Option<OwnedFd>,
    }

    impl TcpLink {
        /// A link to `broker` (not connected until [`Link::open`]).
        pub fn new(broker: SocketAddr) -> Self {
            TcpLink { broker, fd: None }
        }

        /// A link to no broker, for a client slot not in use (`0.0.0.0:0`).
        pub const fn unset() -> Self {
            TcpLink {
                broker: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
                fd: None,
            }
        }

        fn fd(&self) -> Result<&OwnedFd, LinkError> {
            self.fd.as_ref().ok_or(LinkError::Closed)
        }
    }

    impl Link for TcpLink {
        fn open(&mut self) -> Result<(), LinkError> {
            self.fd = None;
            let fd = socket_with(
                family(&self.broker),
                SocketType::STREAM,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                None,
            )
            .map_err(|_| LinkError::Closed)?;
            match connect(&fd, &self.broker) {
                Ok(()) => {}
                Err(e) if link_error(e) == LinkError::WouldBlock => {}
                Err(_) => return Err(LinkError::Closed),
            }
            self.fd = Some(fd);
            Ok(())
        }

        fn send(&mut self, bytes: &[u8]) -> Result<usize, LinkError> {
            // NOSIGNAL: a broker that went away must not kill the agent with SIGPIPE.
            send(self.fd()?, bytes, SendFlags::NOSIGNAL | SendFlags::DONTWAIT).map_err(link_error)
        }

        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
            if buf.is_empty() {
                return Err(LinkError::WouldBlock);
            }
            recv(self.fd()?, buf, RecvFlags::DONTWAIT)
                .map(|(got, _)| got)
                .map_err(link_error)
        }

        fn close(&mut self) {
            self.fd = None;
        }
    }
}

/// A UDP socket connected to `to`, so that its datagrams are written as a file's lines are;
/// it never waits. `None` when it cannot be made (no route, no address family).
pub fn udp_to(to: &SocketAddr) -> Option<OwnedFd> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = socket_with(family(to), SocketType::DGRAM, flags, None).ok()?;
    connect(&fd, to).ok()?;
    Some(fd)
}

#[cfg(all(test, feature = "mqtt"))]
mod tests {
    use super::TcpLink;
    use crate::export::mqtt::{Link, LinkError};
    use std::io::Read;
    use std::time::{Duration, Instant};

    /// Sends `bytes` until the link takes them, for at most five seconds: a connect in
    /// progress makes the link say `WouldBlock`, a refused one `Closed`.
    fn send_within(link: &mut TcpLink, bytes: &[u8]) -> Result<usize, LinkError> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match link.send(bytes) {
                Err(LinkError::WouldBlock) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    /// The client needs no "connect finished" call: the stream takes bytes once the
    /// connect is done, and a refused connect fails the next send.
    #[test]
    fn a_connect_shows_through_send() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut link = TcpLink::new(listener.local_addr().unwrap());
        link.open().unwrap();
        assert_eq!(send_within(&mut link, b"hello"), Ok(5));
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");

        // A port nobody listens on any more: refused.
        let port = listener.local_addr().unwrap();
        drop((peer, listener));
        let mut link = TcpLink::new(port);
        if link.open().is_ok() {
            assert_eq!(send_within(&mut link, b"x"), Err(LinkError::Closed));
        }
    }
}
