//! Zero-copy views over netlink bytes.
//!
//! Each view checks its lengths once when it is made; afterwards no accessor can fail or
//! read out of bounds. Meaning (acks, errors, families) lives one layer up, in
//! [`crate::control`] and [`crate::genl`].
//!
//! ```text
//! datagram:  | nlmsghdr | payload ......... |pad| nlmsghdr | payload ... |
//!            |<------ nlmsg_len ----------->|   |<--- nlmsg_len ---->|
//! payload:   | family header (e.g. genlmsghdr) | nlattr | value |pad| nlattr | ...
//! nlattr:    | nla_len u16 | nla_type u16 (N, B flag bits) | value ... |pad to 4|
//! ```

mod attr;
mod header;

pub(crate) use attr::contains_nul;
pub use attr::{Attr, AttrIter};
pub use header::{GenlMsgHdr, MessageIter, NlMsg, NlMsgHdr};

#[inline(always)]
pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

#[inline(always)]
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
