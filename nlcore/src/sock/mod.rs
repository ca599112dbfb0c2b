//! `AF_NETLINK` sockets on top of the codec: no heap, every wait bounded.
//!
//! - [`NlSocket`]: open any protocol unit, bind (port 0: the kernel picks), join and leave
//!   groups beyond the 32-bit mask, the `SOL_NETLINK` options (ext-ack, capped acks,
//!   strict checking, no-ENOBUFS), receive-buffer size, blocking or non-blocking use,
//!   poll with a timeout; `sendto` / `sendmsg` (iovec) and `recvfrom` / `recvmsg` into the
//!   caller's buffer.
//! - [`NlSocket::request`] and [`NlSocket::dump`]: sequence numbers, reply checks, the
//!   ack, the dump loop to `NLMSG_DONE`; errors carry the kernel's ext-ack beside them
//!   ([`Failed`]), borrowed from the receive buffer.
//! - [`Family`], [`FamilyWatcher`]: generic netlink families and groups by name; families
//!   that appear and disappear.
//!
//! Receiving is where netlink loses data: a datagram larger than the buffer is cut
//! (reported as [`Error::Truncated`] with its real size), and a full receive queue drops
//! messages (reported once as [`Error::Overrun`] and counted). Neither is silent.
//!
//! rustix covers the sockets; `setsockopt` (every option, one call each), the
//! `SOL_NETLINK` options rustix lacks, `recvfrom` / `getsockname` into a 12-byte
//! `sockaddr_nl` (rustix's address type is a 128-byte `sockaddr_storage`) and the `socket`
//! call go through one small module of raw system calls, the crate's only `unsafe` code.

mod error;
mod family;
mod request;
mod socket;
mod sys;

pub use error::{Error, Failed};
pub use family::{Family, FamilyChange, FamilyEvent, FamilyWatcher, Group, MAX_GROUPS};
pub use request::DumpEnd;
pub use socket::{group_mask, Addr, Datagram, NlSocket, DEFAULT_RECV_TIMEOUT, MAX_IOV};
pub use sys::monotonic_us;
