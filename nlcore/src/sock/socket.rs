use super::sys;
use super::Error;
use crate::consts::*;
use crate::wire::MessageIter;
use core::time::Duration;
use linux_raw_sys::net::{SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, SO_RCVTIMEO_OLD};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::{Errno, IoSlice, IoSliceMut};
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvFlags, ReturnFlags, SendAncillaryBuffer, SendFlags,
    SocketAddrAny, SocketFlags,
};

/// How long a blocking receive waits unless told otherwise: long enough for any kernel
/// reply, short enough that a lost one is noticed.
pub const DEFAULT_RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// Most parts [`NlSocket::send_vectored`] takes in one call (the iovec lives on the stack).
pub const MAX_IOV: usize = 16;

/// A netlink address (`struct sockaddr_nl`): a port id and a mask of the first 32
/// multicast groups. Port 0 is the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Addr {
    /// `nl_pid`: the port id.
    pub port: u32,
    /// `nl_groups`: bit `n - 1` stands for group `n`.
    pub groups: u32,
}

impl Addr {
    /// The kernel (port 0, no groups).
    pub const KERNEL: Addr = Addr { port: 0, groups: 0 };

    /// The socket bound to `port` (unicast).
    pub const fn port(port: u32) -> Addr {
        Addr { port, groups: 0 }
    }

    /// The members of multicast group `group` (1 to 32; others give an empty mask).
    pub const fn group(group: u32) -> Addr {
        Addr {
            port: 0,
            groups: group_mask(group),
        }
    }

    fn to_rustix(self) -> SocketAddrNetlink {
        SocketAddrNetlink::new(self.port, self.groups)
    }
}

/// The bind mask bit of multicast group `group` (groups are numbered from 1; only 1 to 32
/// fit the mask, the others are joined with [`NlSocket::join_group`]).
pub const fn group_mask(group: u32) -> u32 {
    if group >= 1 && group <= 32 {
        1 << (group - 1)
    } else {
        0
    }
}

/// One received datagram: its bytes, inside the caller's buffer, and who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The datagram (one or more netlink messages).
    pub bytes: &'a [u8],
    /// The sender: port 0 for the kernel; `groups` is non-zero for a multicast.
    pub sender: Addr,
}

impl<'a> Datagram<'a> {
    /// The messages in the datagram.
    pub fn messages(&self) -> MessageIter<'a> {
        MessageIter::new(self.bytes)
    }
}

/// An `AF_NETLINK` socket of any protocol unit.
///
/// Every blocking receive is bounded by a timeout ([`DEFAULT_RECV_TIMEOUT`] unless set), so
/// nothing waits forever. By default only datagrams from the kernel (port 0) are accepted;
/// talking to other processes (e.g. over `NETLINK_USERSOCK`) takes
/// [`set_accept_any_sender`](Self::set_accept_any_sender).
#[derive(Debug)]
pub struct NlSocket {
    fd: OwnedFd,
    protocol: i32,
    port: u32,
    seq: u32,
    nonblocking: bool,
    accept_any_sender: bool,
    peer: Addr,
    overruns: u32,
}

impl NlSocket {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol)`: a socket of unit `protocol`
    /// (`NETLINK_ROUTE`, `NETLINK_GENERIC`, or a module's own number), not yet bound.
    pub fn open(protocol: i32) -> Result<Self, Error> {
        Self::open_timed(protocol, DEFAULT_RECV_TIMEOUT, false, false)
    }

    /// [`open`](Self::open) with blocking receives bounded by `timeout`, or non-blocking
    /// ones from the start (`SOCK_NONBLOCK`), and bound to a port the kernel chooses when
    /// `bound` is set.
    fn open_timed(
        protocol: i32,
        timeout: Duration,
        nonblocking: bool,
        bound: bool,
    ) -> Result<Self, Error> {
        // A negative unit is refused here, as it always was: `EINVAL`.
        let raw = u32::try_from(protocol).map_err(|_| Error::from_errno(Errno::INVAL))?;
        // The flag by arithmetic, not a branch: a branch had the compiler write the system
        // call twice.
        let flags =
            SocketFlags::CLOEXEC.bits() | (SocketFlags::NONBLOCK.bits() * nonblocking as u32);
        let fd = sys::socket(flags, raw).map_err(Error::Os)?;
        let mut sock = NlSocket {
            fd,
            protocol,
            port: 0,
            seq: 0,
            nonblocking,
            accept_any_sender: false,
            peer: Addr::KERNEL,
            overruns: 0,
        };
        // The steps after the socket call end in one result: a failure closes the socket
        // at one place, not once per step.
        let set_up = match sock.set_recv_timeout(timeout) {
            Ok(()) if bound => sock.bind(0, 0).map(drop),
            timeout_set => timeout_set,
        };
        set_up.map(|()| sock)
    }

    /// [`open`](Self::open) and [`bind`](Self::bind) to a port the kernel chooses, no
    /// groups: what a client of the kernel needs.
    pub fn open_bound(protocol: i32) -> Result<Self, Error> {
        Self::open_bound_with_timeout(protocol, DEFAULT_RECV_TIMEOUT)
    }

    /// [`open_bound`](Self::open_bound) with blocking receives bounded by `timeout`
    /// instead of [`DEFAULT_RECV_TIMEOUT`] (zero is refused, as by
    /// [`set_recv_timeout`](Self::set_recv_timeout)): the timeout set once, where setting
    /// it again after opening would carry that code twice.
    pub fn open_bound_with_timeout(protocol: i32, timeout: Duration) -> Result<Self, Error> {
        Self::open_bound_with(protocol, timeout, false)
    }

    /// [`open_bound_with_timeout`](Self::open_bound_with_timeout), and non-blocking from
    /// the start when `nonblocking` is set: as [`set_nonblocking`](Self::set_nonblocking)
    /// would make it, without a second system call (nor its code) after opening.
    pub fn open_bound_with(
        protocol: i32,
        timeout: Duration,
        nonblocking: bool,
    ) -> Result<Self, Error> {
        Self::open_timed(protocol, timeout, nonblocking, true)
    }

    /// `bind` to `port` (0: the kernel picks a free one) and the groups of the mask
    /// `groups`; returns the port now held, as `getsockname` reports it. An explicit port
    /// that another socket of the unit holds fails with [`Error::AddrInUse`].
    pub fn bind(&mut self, port: u32, groups: u32) -> Result<u32, Error> {
        match rustix::net::bind(&self.fd, &SocketAddrNetlink::new(port, groups)) {
            Ok(()) => {}
            Err(Errno::ADDRINUSE) => return Err(Error::AddrInUse { port }),
            Err(e) => return Err(Error::from_errno(e)),
        }
        self.port = self.local_addr()?.port;
        Ok(self.port)
    }

    /// The address the kernel holds for this socket (`getsockname`).
    pub fn local_addr(&self) -> Result<Addr, Error> {
        let raw = sys::getsockname(self.fd.as_fd()).map_err(Error::Os)?;
        from_raw(raw)
    }

    /// This socket's port id: 0 until bound, or until its first request (a socket that
    /// sends first is bound by the kernel; [`local_addr`](Self::local_addr) tells the port).
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Reads the port back from the kernel if it is not known yet (a socket that sends
    /// before binding is bound by the kernel then).
    pub(crate) fn learn_port(&mut self) -> Result<(), Error> {
        if self.port == 0 {
            self.port = self.local_addr()?.port;
        }
        Ok(())
    }

    /// The protocol unit the socket was opened with.
    pub fn protocol(&self) -> i32 {
        self.protocol
    }

    /// Joins multicast group `group` (`NETLINK_ADD_MEMBERSHIP`): any group number, not only
    /// the 32 of the bind mask. Needs root (or the unit's permission) for most units.
    pub fn join_group(&self, group: u32) -> Result<(), Error> {
        self.set_netlink_opt(NETLINK_ADD_MEMBERSHIP, group as i32)
    }

    /// Leaves multicast group `group` (`NETLINK_DROP_MEMBERSHIP`).
    pub fn leave_group(&self, group: u32) -> Result<(), Error> {
        self.set_netlink_opt(NETLINK_DROP_MEMBERSHIP, group as i32)
    }

    /// The groups this socket is in (`NETLINK_LIST_MEMBERSHIPS`): bit `(n - 1) % 32` of
    /// word `(n - 1) / 32` stands for group `n`. Fills `mask` (zeroing it first) and returns
    /// how many words the kernel has; more than `mask.len()` means the list was cut.
    pub fn memberships(&self, mask: &mut [u32]) -> Result<usize, Error> {
        mask.fill(0);
        let bytes =
            sys::getsockopt_u32s(self.fd.as_fd(), SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, mask)
                .map_err(Error::Os)?;
        Ok(bytes.div_ceil(4))
    }

    /// Whether this socket is in group `group` (from [`memberships`](Self::memberships),
    /// for groups up to 1024).
    pub fn is_member(&self, group: u32) -> Result<bool, Error> {
        let mut mask = [0u32; 32];
        self.memberships(&mut mask)?;
        let Some(bit) = group.checked_sub(1) else {
            return Ok(false);
        };
        Ok(mask
            .get((bit / 32) as usize)
            .is_some_and(|word| word & (1 << (bit % 32)) != 0))
    }

    /// `NETLINK_EXT_ACK`: ask the kernel to explain errors (message text, offending
    /// attribute) in extended-ack TLVs.
    pub fn set_ext_ack(&self, on: bool) -> Result<(), Error> {
        self.set_netlink_opt(NETLINK_EXT_ACK, on as i32)
    }

    /// `NETLINK_CAP_ACK`: errors echo only the request's header, not its payload.
    pub fn set_cap_ack(&self, on: bool) -> Result<(), Error> {
        self.set_netlink_opt(NETLINK_CAP_ACK, on as i32)
    }

    /// `NETLINK_GET_STRICT_CHK`: the kernel checks GET requests strictly (unknown
    /// attributes and stray header fields are errors instead of being ignored).
    pub fn set_strict_check(&self, on: bool) -> Result<(), Error> {
        self.set_netlink_opt(NETLINK_GET_STRICT_CHK, on as i32)
    }

    /// `NETLINK_NO_ENOBUFS`: do not report receive-queue overruns. Messages are still
    /// lost when the queue is full, only silently: leave it off where losses matter.
    pub fn set_no_enobufs(&self, on: bool) -> Result<(), Error> {
        self.set_netlink_opt(NETLINK_NO_ENOBUFS, on as i32)
    }

    /// `SO_RCVBUF`: the receive queue's size in bytes (the kernel doubles the value and
    /// caps it at `net.core.rmem_max`).
    pub fn set_recv_buffer(&self, bytes: usize) -> Result<(), Error> {
        self.set_socket_int(SO_RCVBUF, bytes)
    }

    /// `SO_RCVBUFFORCE`: as [`set_recv_buffer`](Self::set_recv_buffer) past
    /// `net.core.rmem_max`; needs `CAP_NET_ADMIN`.
    pub fn set_recv_buffer_force(&self, bytes: usize) -> Result<(), Error> {
        self.set_socket_int(SO_RCVBUFFORCE, bytes)
    }

    /// An `int` option at level `SOL_SOCKET`; a value past `int` is `EINVAL`.
    fn set_socket_int(&self, name: u32, value: usize) -> Result<(), Error> {
        let value = i32::try_from(value).map_err(|_| Error::from_errno(Errno::INVAL))?;
        self.set_opt(SOL_SOCKET as i32, name as i32, value)
    }

    /// The receive queue's size in bytes as the kernel reports it (`SO_RCVBUF`).
    pub fn recv_buffer(&self) -> Result<usize, Error> {
        rustix::net::sockopt::socket_recv_buffer_size(&self.fd).map_err(Error::from_errno)
    }

    /// Reads an integer `SOL_NETLINK` option (e.g. `NETLINK_EXT_ACK`) back.
    pub fn netlink_opt(&self, name: i32) -> Result<i32, Error> {
        sys::getsockopt_int(self.fd.as_fd(), SOL_NETLINK, name).map_err(Error::Os)
    }

    fn set_netlink_opt(&self, name: i32, value: i32) -> Result<(), Error> {
        self.set_opt(SOL_NETLINK, name, value)
    }

    // Out of line: a program that sets several options carries the call once.
    #[inline(never)]
    fn set_opt(&self, level: i32, name: i32, value: i32) -> Result<(), Error> {
        sys::setsockopt(self.fd.as_fd(), level, name, &value).map_err(Error::Os)
    }

    /// Switches between blocking (bounded by the receive timeout) and non-blocking receives
    /// (which fail with [`Error::WouldBlock`] when nothing is waiting).
    pub fn set_nonblocking(&mut self, on: bool) -> Result<(), Error> {
        rustix::io::ioctl_fionbio(&self.fd, on).map_err(Error::from_errno)?;
        self.nonblocking = on;
        Ok(())
    }

    /// How long a blocking receive waits before [`Error::TimedOut`]. Zero is refused
    /// (`EINVAL`): to the kernel it would mean "forever".
    pub fn set_recv_timeout(&self, timeout: Duration) -> Result<(), Error> {
        if timeout.is_zero() {
            return Err(Error::from_errno(Errno::INVAL));
        }
        // `struct timeval` of `long`s, as `SO_RCVTIMEO` (`SO_RCVTIMEO_OLD`) takes it on every
        // kernel; rustix's setter tries `SO_RCVTIMEO_NEW` first and falls back to it, two
        // calls and two conversions for what a timeout in `long` seconds says as well.
        // Less than a microsecond is one, not zero ("forever").
        let secs = timeout.as_secs().min(isize::MAX as u64) as isize;
        let micros = match (secs, timeout.subsec_micros()) {
            (0, 0) => 1,
            (_, micros) => micros as isize,
        };
        sys::setsockopt(
            self.fd.as_fd(),
            SOL_SOCKET as i32,
            SO_RCVTIMEO_OLD as i32,
            &[secs, micros],
        )
        .map_err(Error::Os)
    }

    /// Accept datagrams from any port (other processes), not only from the kernel.
    pub fn set_accept_any_sender(&mut self, on: bool) {
        self.accept_any_sender = on;
    }

    /// Waits up to `timeout` for a datagram (or an error such as an overrun) to be ready to
    /// read; `false` when none came (or a signal cut the wait short).
    pub fn poll_readable(&self, timeout: Duration) -> Result<bool, Error> {
        let ts = Timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(n) => Ok(n > 0),
            // A signal ended the wait early: nothing is ready yet. Waiting again here could
            // wait without bound under a stream of signals; the caller's loop decides.
            Err(Errno::INTR) => Ok(false),
            Err(e) => Err(Error::from_errno(e)),
        }
    }

    /// The next sequence number for a request (never 0, which notifications use).
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// How many receive-queue overruns (`ENOBUFS`) this socket has reported.
    pub fn overruns(&self) -> u32 {
        self.overruns
    }

    /// Where [`send`](Self::send), [`request`](Self::request) and [`dump`](Self::dump) go
    /// and whose replies they take: the kernel unless set otherwise (a process serving
    /// requests on `NETLINK_USERSOCK`, for instance; replies from other ports are refused).
    pub fn set_peer(&mut self, peer: Addr) {
        self.peer = peer;
    }

    /// The peer requests go to (see [`set_peer`](Self::set_peer)).
    pub fn peer(&self) -> Addr {
        self.peer
    }

    /// `sendto` one message (or batch) to the peer: the kernel unless
    /// [`set_peer`](Self::set_peer) said otherwise.
    pub fn send(&self, bytes: &[u8]) -> Result<usize, Error> {
        self.send_to(bytes, self.peer)
    }

    /// `sendto` one message (or batch) to `dest`.
    pub fn send_to(&self, bytes: &[u8], dest: Addr) -> Result<usize, Error> {
        let sent = rustix::net::sendto(&self.fd, bytes, SendFlags::empty(), &dest.to_rustix());
        sent_or_multicast_done(sent, bytes.len(), dest)
    }

    /// `sendmsg` with an iovec of `parts`: several messages (or pieces of one) sent as one
    /// datagram in one call, without copying them together first. At most [`MAX_IOV`]
    /// parts (more: `EINVAL`).
    pub fn send_vectored(&self, parts: &[&[u8]], dest: Addr) -> Result<usize, Error> {
        if parts.len() > MAX_IOV {
            return Err(Error::from_errno(Errno::INVAL));
        }
        let iov: [IoSlice<'_>; MAX_IOV] =
            core::array::from_fn(|i| IoSlice::new(parts.get(i).copied().unwrap_or(&[])));
        let total = parts.iter().map(|p| p.len()).sum();
        let sent = rustix::net::sendmsg_addr(
            &self.fd,
            &dest.to_rustix(),
            &iov[..parts.len()],
            &mut SendAncillaryBuffer::default(),
            SendFlags::empty(),
        );
        sent_or_multicast_done(sent, total, dest)
    }

    /// `recvfrom` one datagram into `buf`.
    ///
    /// Fails with [`Error::Truncated`] (stating the datagram's size) when it did not fit,
    /// [`Error::Overrun`] when the queue overflowed since the last read (counted; read
    /// again to go on), [`Error::ForeignSender`] when it came from another process and the
    /// socket accepts only the kernel, [`Error::TimedOut`] / [`Error::WouldBlock`] when
    /// nothing came.
    pub fn recv_from<'b>(&mut self, buf: &'b mut [u8]) -> Result<Datagram<'b>, Error> {
        let capacity = buf.len();
        let received = sys::recvfrom(self.fd.as_fd(), buf, RecvFlags::TRUNC.bits());
        let (size, from) = match received {
            Ok((size, raw)) => (size, from_raw(raw)?),
            Err(e) => return Err(self.recv_error(Errno::from_raw_os_error(e))),
        };
        let sender = self.check_datagram(size, capacity, from)?;
        Ok(Datagram {
            bytes: &buf[..size],
            sender,
        })
    }

    /// `recvmsg` one datagram into `buf`; the same checks as [`recv_from`](Self::recv_from).
    pub fn recv_msg<'b>(&mut self, buf: &'b mut [u8]) -> Result<Datagram<'b>, Error> {
        let capacity = buf.len();
        let mut iov = [IoSliceMut::new(&mut *buf)];
        let received = rustix::net::recvmsg(
            &self.fd,
            &mut iov,
            &mut RecvAncillaryBuffer::default(),
            RecvFlags::TRUNC,
        );
        let msg = match received {
            Ok(msg) => msg,
            Err(e) => return Err(self.recv_error(e)),
        };
        // With MSG_TRUNC in the flags, `bytes` is the datagram's full size; the returned
        // flag says the same, checked too in case a kernel reports only the flag.
        let size = if msg.flags.contains(ReturnFlags::TRUNC) {
            msg.bytes.max(capacity + 1)
        } else {
            msg.bytes
        };
        let from = match msg.address {
            Some(any) => to_addr(any)?,
            None => Addr::KERNEL,
        };
        let sender = self.check_datagram(size, capacity, from)?;
        Ok(Datagram {
            bytes: &buf[..size],
            sender,
        })
    }

    /// Throws away every datagram already queued (at most `limit`), e.g. the rest of a
    /// dump that the caller abandoned; returns how many were dropped.
    pub fn drain(&mut self, limit: u32) -> Result<u32, Error> {
        let mut dropped = 0;
        // Bounded by reads, not drops: a flood could keep reporting overruns.
        for _ in 0..limit {
            // Into no room at all: a read takes the whole datagram off the queue however
            // little of it is copied out.
            match rustix::net::recv(&self.fd, &mut [0u8; 0][..], RecvFlags::DONTWAIT) {
                Ok(_) => dropped += 1,
                Err(Errno::AGAIN) => break,
                Err(Errno::NOBUFS) => {
                    self.count_overrun();
                }
                Err(e) => return Err(Error::from_errno(e)),
            }
        }
        Ok(dropped)
    }

    /// Counts an overrun: `ENOBUFS` from the socket, or an `NLMSG_OVERRUN` from a peer.
    pub(crate) fn count_overrun(&mut self) -> Error {
        self.overruns = self.overruns.saturating_add(1);
        Error::Overrun
    }

    fn recv_error(&mut self, e: Errno) -> Error {
        match e {
            Errno::NOBUFS => self.count_overrun(),
            Errno::AGAIN if self.nonblocking => Error::WouldBlock,
            Errno::AGAIN => Error::TimedOut,
            e => Error::from_errno(e),
        }
    }

    fn check_datagram(&self, size: usize, capacity: usize, sender: Addr) -> Result<Addr, Error> {
        if size > capacity {
            return Err(Error::Truncated {
                size: crate::error::count(size),
                capacity: crate::error::count(capacity),
            });
        }
        if sender.port != 0 && !self.accept_any_sender {
            return Err(Error::ForeignSender { port: sender.port });
        }
        Ok(sender)
    }
}

impl AsFd for NlSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn to_addr(any: SocketAddrAny) -> Result<Addr, Error> {
    let nl = SocketAddrNetlink::try_from(any).map_err(Error::from_errno)?;
    Ok(Addr {
        port: nl.pid(),
        groups: nl.groups(),
    })
}

/// The address in a `struct sockaddr_nl` the kernel wrote (the kernel's, port 0, if it
/// wrote none); as rustix, another family is `EAFNOSUPPORT`.
fn from_raw((raw, len): sys::RawAddr) -> Result<Addr, Error> {
    if len == 0 {
        return Ok(Addr::KERNEL);
    }
    let word = |at: usize| u32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    if len < 12 || u16::from_ne_bytes([raw[0], raw[1]]) != AddressFamily::NETLINK.as_raw() {
        return Err(Error::from_errno(Errno::AFNOSUPPORT));
    }
    Ok(Addr {
        port: word(4),
        groups: word(8),
    })
}

/// A send to groups with port 0 is broadcast to the groups first and then also unicast to
/// port 0; on a unit without a kernel socket (`NETLINK_USERSOCK`) that second part fails
/// with `ECONNREFUSED` after the broadcast has gone out, so it is no failure.
fn sent_or_multicast_done(
    sent: Result<usize, Errno>,
    len: usize,
    dest: Addr,
) -> Result<usize, Error> {
    match sent {
        Ok(n) => Ok(n),
        Err(Errno::CONNREFUSED) if dest.groups != 0 && dest.port == 0 => Ok(len),
        Err(e) => Err(Error::from_errno(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_masks_cover_groups_1_to_32_only() {
        assert_eq!(group_mask(1), 1);
        assert_eq!(group_mask(32), 1 << 31);
        assert_eq!(group_mask(0), 0);
        assert_eq!(group_mask(33), 0, "joined with join_group instead");
        assert_eq!(Addr::group(3), Addr { port: 0, groups: 4 });
    }

    #[test]
    fn a_socket_opened_with_a_timeout_waits_that_long() {
        let mut sock =
            NlSocket::open_bound_with_timeout(NETLINK_ROUTE, Duration::from_millis(50)).unwrap();
        assert_ne!(sock.port(), 0, "bound");
        let mut buf = [0u8; 64];
        let start = sys::monotonic_us();
        assert_eq!(sock.recv_from(&mut buf).unwrap_err(), Error::TimedOut);
        let waited = Duration::from_micros(sys::monotonic_us() - start);
        assert!(waited >= Duration::from_millis(40), "{waited:?}");
        assert!(waited < DEFAULT_RECV_TIMEOUT, "{waited:?}");
        assert_eq!(
            NlSocket::open_bound_with_timeout(NETLINK_ROUTE, Duration::ZERO).unwrap_err(),
            Error::from_errno(Errno::INVAL)
        );
    }

    #[test]
    fn a_socket_is_close_on_exec_and_a_unit_out_of_range_is_refused() {
        let sock = NlSocket::open(NETLINK_ROUTE).unwrap();
        let fd_flags = rustix::io::fcntl_getfd(&sock).unwrap();
        assert!(fd_flags.contains(rustix::io::FdFlags::CLOEXEC));
        assert_eq!(
            NlSocket::open(-1).unwrap_err(),
            Error::from_errno(Errno::INVAL)
        );
        // The kernel's units are 0 to 31.
        assert_eq!(
            NlSocket::open(99).unwrap_err(),
            Error::from_errno(Errno::PROTONOSUPPORT)
        );
    }

    #[test]
    fn a_socket_opened_non_blocking_does_not_wait() {
        let mut sock =
            NlSocket::open_bound_with(NETLINK_ROUTE, Duration::from_secs(3), true).unwrap();
        assert_ne!(sock.port(), 0, "bound");
        let mut buf = [0u8; 64];
        let start = sys::monotonic_us();
        assert_eq!(sock.recv_from(&mut buf).unwrap_err(), Error::WouldBlock);
        let waited = Duration::from_micros(sys::monotonic_us() - start);
        assert!(waited < Duration::from_secs(1), "{waited:?}");
    }

    #[test]
    fn refused_unicast_part_of_a_multicast_is_no_failure() {
        let refused = Err(Errno::CONNREFUSED);
        assert_eq!(sent_or_multicast_done(refused, 10, Addr::group(3)), Ok(10));
        assert_eq!(
            sent_or_multicast_done(refused, 10, Addr::port(7)),
            Err(Error::from_errno(Errno::CONNREFUSED))
        );
    }
}
