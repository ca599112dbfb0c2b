//! The one socket option this program needs that rustix does not offer: joining a netlink
//! multicast group by id (`NETLINK_ADD_MEMBERSHIP`). Generic netlink group ids are assigned
//! at run time and can exceed 31, the last one a bind address's `nl_groups` bitmask can
//! name, so binding with the group bit is not enough.

use nlcore::consts::{NETLINK_ADD_MEMBERSHIP, SOL_NETLINK};
use std::io;
use std::os::fd::{AsFd, AsRawFd};

extern "C" {
    // From the C library std already links (static musl in the guest images).
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const u32, len: u32) -> i32;
}

/// Joins multicast group `group` on a netlink socket.
pub fn add_membership(socket: impl AsFd, group: u32) -> io::Result<()> {
    let fd = socket.as_fd().as_raw_fd();
    // SAFETY: `fd` is an open socket borrowed for this call, and `value`/`len` describe a
    // live u32 that the kernel only reads, which is what NETLINK_ADD_MEMBERSHIP expects.
    let rc = unsafe {
        setsockopt(
            fd,
            SOL_NETLINK,
            NETLINK_ADD_MEMBERSHIP,
            &group,
            size_of::<u32>() as u32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
