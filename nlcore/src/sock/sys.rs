//! The socket options as raw system calls: `setsockopt` at every level (rustix's setters
//! of the receive timeout and buffer carried a fallback and a conversion each), `getsockopt`
//! at level `SOL_NETLINK`, which rustix does not wrap, through the `syscalls` crate;
//! `recvfrom` and `getsockname` with a `struct sockaddr_nl`; `socket` itself, for a
//! netlink socket; and the monotonic clock that timeouts and timers are measured on.
//!
//! This is the crate's only `unsafe` code. Each call passes the kernel pointers to memory
//! borrowed for the call (a local, or the caller's buffer) with its exact size, so the
//! kernel never reads or writes outside it. The `syscalls` crate knows the call numbers and
//! calling convention of every architecture we build for (x86_64, aarch64, arm EABI and
//! mips o32 all have direct socket calls, no `socketcall` multiplexer).
#![allow(unsafe_code)]

use core::ffi::c_int;
use rustix::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use syscalls::{syscall, Errno, Sysno};

/// `int socket(int domain, int type, int protocol)` for a netlink socket of unit
/// `protocol`, `type` being `SOCK_RAW` with the flags `flags` (`SOCK_CLOEXEC`...), see
/// socket(2). Raw instead of rustix's, whose typed, optional protocol cost its callers a
/// conversion of their own (80 bytes of the agent, measured).
pub(crate) fn socket(flags: u32, protocol: u32) -> Result<OwnedFd, i32> {
    let domain = rustix::net::AddressFamily::NETLINK.as_raw();
    let ty = rustix::net::SocketType::RAW.as_raw() | flags;
    // SAFETY: the call takes no pointers; it creates a descriptor or fails.
    let fd = unsafe { syscall!(Sysno::socket, domain, ty, protocol) }.map_err(errno)?;
    // SAFETY: `fd` is the descriptor the call just created, owned by nothing else: the
    // `OwnedFd` becomes its one owner and closes it when dropped.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

/// `int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)`
/// with the value `value` (an `int`, a `struct timeval`), see setsockopt(2) and netlink(7).
pub(crate) fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: &T,
) -> Result<(), i32> {
    let optval: *const T = value;
    // SAFETY: `fd` is a live descriptor for the duration of the borrow; `optval` points to
    // `value`, plain data borrowed for the call, and `optlen` is exactly its size, so the
    // kernel reads only those bytes and keeps no reference to them.
    let result = unsafe {
        syscall!(
            Sysno::setsockopt,
            fd.as_raw_fd(),
            level,
            name,
            optval,
            core::mem::size_of::<T>()
        )
    };
    result.map(|_| ()).map_err(errno)
}

/// `int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)` for an
/// `int` option, see getsockopt(2) and netlink(7).
pub(crate) fn getsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32) -> Result<c_int, i32> {
    let mut value = [0u32; 1];
    getsockopt_u32s(fd, level, name, &mut value)?;
    Ok(value[0] as c_int)
}

/// `getsockopt` for an option whose value is an array of `u32` (`NETLINK_LIST_MEMBERSHIPS`):
/// fills `out` and returns the length the kernel reports, in bytes, which may exceed what
/// `out` holds.
pub(crate) fn getsockopt_u32s(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    out: &mut [u32],
) -> Result<usize, i32> {
    let mut len: u32 = u32::try_from(core::mem::size_of_val(out)).unwrap_or(u32::MAX);
    let optval: *mut u32 = out.as_mut_ptr();
    let optlen: *mut u32 = &mut len;
    // SAFETY: `optval` points to `out`, a live exclusive slice of exactly `len` bytes (`len`
    // is its byte size, capped at what fits `u32`), and the kernel writes at most `len` bytes
    // there; `optlen` points to a local that outlives the call.
    let result = unsafe {
        syscall!(
            Sysno::getsockopt,
            fd.as_raw_fd(),
            level,
            name,
            optval,
            optlen
        )
    };
    result.map(|_| len as usize).map_err(errno)
}

/// A `struct sockaddr_nl` as the kernel writes it (`nl_family`, `nl_pad`, `nl_pid`,
/// `nl_groups`), and the length it reported (0: no address).
pub(crate) type RawAddr = ([u8; 12], u32);

/// `ssize_t recvfrom(int sockfd, void *buf, size_t len, int flags, struct sockaddr
/// *src_addr, socklen_t *addrlen)` with a `struct sockaddr_nl` for the sender, see
/// recvfrom(2): the size the kernel returns (with `MSG_TRUNC`, the datagram's whole size)
/// and the sender's address. Raw instead of rustix's: its `SocketAddrAny` is a 128-byte
/// `sockaddr_storage` copied about on every receive, for the 12 bytes netlink uses.
pub(crate) fn recvfrom(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: u32,
) -> Result<(usize, RawAddr), i32> {
    let mut addr = [0u8; 12];
    let mut len: u32 = 12;
    let (bufp, buflen): (*mut u8, usize) = (buf.as_mut_ptr(), buf.len());
    let (addrp, lenp): (*mut u8, *mut u32) = (addr.as_mut_ptr(), &mut len);
    // SAFETY: `bufp` points to `buf`, a live exclusive slice of exactly `buflen` bytes, and
    // the kernel writes at most `buflen` bytes there; `addrp` points to `addr` (12 bytes,
    // the length `lenp` gives, and the kernel writes no more than that) and `lenp` to a
    // local; all outlive the call.
    let result = unsafe {
        syscall!(
            Sysno::recvfrom,
            fd.as_raw_fd(),
            bufp,
            buflen,
            flags,
            addrp,
            lenp
        )
    };
    result.map(|n| (n, (addr, len))).map_err(errno)
}

/// `int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen)` into a
/// `struct sockaddr_nl`, see getsockname(2).
pub(crate) fn getsockname(fd: BorrowedFd<'_>) -> Result<RawAddr, i32> {
    let mut addr = [0u8; 12];
    let mut len: u32 = 12;
    let (addrp, lenp): (*mut u8, *mut u32) = (addr.as_mut_ptr(), &mut len);
    // SAFETY: `addrp` points to `addr`, 12 bytes as `lenp` says, which is all the kernel
    // writes; both are locals that outlive the call.
    let result = unsafe { syscall!(Sysno::getsockname, fd.as_raw_fd(), addrp, lenp) };
    result.map(|_| (addr, len)).map_err(errno)
}

fn errno(e: Errno) -> i32 {
    e.into_raw()
}

/// Microseconds of `CLOCK_MONOTONIC`, by a plain `clock_gettime` system call. rustix's
/// `clock_gettime` goes through the vDSO, which costs a small static program about 2 KB of
/// lookup code (the auxiliary vector, the vDSO's ELF symbols) and a mapped page, to save a
/// system call that netlink programs make a few times a second. Out of line: a program
/// that reads the clock in several places carries the call once (beside a system call, a
/// function call costs nothing).
#[inline(never)]
pub fn monotonic_us() -> u64 {
    // The 64-bit `struct timespec` (`__kernel_timespec`): what `clock_gettime` fills on
    // 64-bit architectures and `clock_gettime64` on 32-bit ones.
    // Read as unsigned: the monotonic clock's seconds and nanoseconds are never negative.
    let mut ts = [0u64; 2];
    #[cfg(target_pointer_width = "64")]
    let call = Sysno::clock_gettime;
    #[cfg(target_pointer_width = "32")]
    let call = Sysno::clock_gettime64;
    const CLOCK_MONOTONIC: usize = 1;
    // SAFETY: `ts` has the layout of `__kernel_timespec` and lives on this frame; the
    // kernel writes only its 16 bytes and keeps no reference. CLOCK_MONOTONIC always
    // exists, so the call cannot fail.
    let _ = unsafe { syscall!(call, CLOCK_MONOTONIC, ts.as_mut_ptr()) };
    let [secs, nanos] = ts;
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1000)
}
