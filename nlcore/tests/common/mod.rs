//! Hand-written netlink bytes for the tests, independent of nlcore's builder so that the
//! parser is never checked only against what nlcore itself wrote.
#![allow(dead_code)]

/// `struct nlmsghdr` + payload, `nlmsg_len` set to the true length, unpadded.
pub fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    msg_with_len((16 + payload.len()) as u32, ty, flags, seq, payload)
}

/// `struct nlmsghdr` claiming `len`, whatever follows.
pub fn msg_with_len(len: u32, ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + payload.len());
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(payload);
    v
}

/// Pads `v` with zeros to a multiple of 4.
pub fn pad(mut v: Vec<u8>) -> Vec<u8> {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

/// `struct nlattr` + value, padded to 4.
pub fn attr(raw_type: u16, value: &[u8]) -> Vec<u8> {
    pad(attr_with_len((4 + value.len()) as u16, raw_type, value))
}

/// `struct nlattr` claiming `len`, then `value`, unpadded.
pub fn attr_with_len(len: u16, raw_type: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + value.len());
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&raw_type.to_ne_bytes());
    v.extend_from_slice(value);
    v
}

/// The concatenation of `parts`.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A `genlmsghdr` with `cmd`, version 1, followed by `attrs`.
pub fn genl(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    cat(&[&[cmd, 1, 0, 0], attrs])
}
