//! `nlcore` — an allocation-free netlink codec for `no_std` targets.
//!
//! Layers, bottom up:
//! - [`wire`]: zero-copy views of `nlmsghdr`, `genlmsghdr`, `nlattr` and `nlmsgerr`, and
//!   iterators over the messages of a datagram and the attributes of a message. They only
//!   make access safe: every length is checked once, so no accessor can read out of bounds.
//! - [`builder`]: writes messages into a caller's `&mut [u8]` or a `heapless::Vec`; a full
//!   buffer is an error, never a panic or a silent truncation.
//! - [`policy`]: attribute validation in the spirit of the kernel's `nla_policy`.
//! - [`control`]: the typed meaning of a message: data, ack, error, done (with the
//!   extended ack as a borrowed view).
//! - [`genl`]: the generic netlink controller (`nlctrl`): resolve families and groups.
//!
//! Everything is in host byte order, as netlink is, except attributes flagged
//! `NLA_F_NET_BYTEORDER`. Constants keep the kernel's names (see [`consts`]) so that grep
//! finds both sides.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod builder;
pub mod consts;
pub mod control;
mod error;
pub mod genl;
pub mod policy;
#[cfg(feature = "socket")]
pub mod sock;
pub mod text;
pub mod wire;

pub use builder::{Buffer, MsgBuilder, Nest, SliceBuffer};
pub use control::{Ack, Done, Ending, ErrorMsg, ExtAck, Payload};
pub use error::Error;
pub use policy::{AttrPolicy, AttrTable, Policy, Validation, Value, Values};
pub use wire::{Attr, AttrIter, GenlMsgHdr, MessageIter, NlMsg, NlMsgHdr};

/// Rounds `len` up to the netlink alignment (4 bytes), as `NLMSG_ALIGN` / `NLA_ALIGN` do.
#[inline(always)]
pub const fn align(len: usize) -> usize {
    (len + consts::NLMSG_ALIGNTO - 1) & !(consts::NLMSG_ALIGNTO - 1)
}
