use super::{u16_at, u32_at, AttrIter};
use crate::consts::*;
use crate::error::count;
use crate::{align, Error};

/// The fields of `struct nlmsghdr`, detached from any buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NlMsgHdr {
    /// `nlmsg_len`: the whole message, header included, without trailing padding.
    pub len: u32,
    /// `nlmsg_type`: a control type (`NLMSG_*`) or the family's own.
    pub ty: u16,
    /// `nlmsg_flags`: `NLM_F_*`.
    pub flags: u16,
    /// `nlmsg_seq`: chosen by the requester, echoed in replies.
    pub seq: u32,
    /// `nlmsg_pid`: whatever the sender wrote. Never trust it for addressing; the socket
    /// address (or `NETLINK_CB(skb).portid` in the kernel) is the truth.
    pub pid: u32,
}

impl NlMsgHdr {
    /// Reads a header from the first 16 bytes of `buf` (no check of `len` against `buf`).
    pub fn parse(buf: &[u8]) -> Result<Self, Error> {
        if buf.len() < NLMSG_HDRLEN {
            return Err(Error::Truncated {
                need: count(NLMSG_HDRLEN),
                have: count(buf.len()),
            });
        }
        Ok(NlMsgHdr {
            len: u32_at(buf, 0),
            ty: u16_at(buf, 4),
            flags: u16_at(buf, 6),
            seq: u32_at(buf, 8),
            pid: u32_at(buf, 12),
        })
    }

    /// Writes the header into `out`.
    #[inline(always)]
    pub fn emit(&self, out: &mut [u8; NLMSG_HDRLEN]) {
        out[0..4].copy_from_slice(&self.len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        out[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        out[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        out[12..16].copy_from_slice(&self.pid.to_ne_bytes());
    }
}

/// One checked netlink message: exactly `nlmsg_len` bytes, at least a header's worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NlMsg<'a> {
    bytes: &'a [u8],
}

impl<'a> NlMsg<'a> {
    /// Checks the message at the start of `buf`; returns it and what follows it (after
    /// alignment padding, which may be missing after the last message).
    pub fn parse(buf: &'a [u8]) -> Result<(NlMsg<'a>, &'a [u8]), Error> {
        if buf.len() < NLMSG_HDRLEN {
            return Err(Error::Truncated {
                need: count(NLMSG_HDRLEN),
                have: count(buf.len()),
            });
        }
        let claimed = u32_at(buf, 0);
        let len = claimed as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(Error::BadMessageLength {
                claimed,
                available: count(buf.len()),
            });
        }
        let next = align(len).min(buf.len());
        Ok((NlMsg { bytes: &buf[..len] }, &buf[next..]))
    }

    /// Checks that `buf` holds exactly one message (padding aside).
    pub fn new_checked(buf: &'a [u8]) -> Result<NlMsg<'a>, Error> {
        NlMsg::parse(buf).map(|(m, _)| m)
    }

    /// The header's fields.
    #[inline]
    pub fn header(&self) -> NlMsgHdr {
        NlMsgHdr {
            len: self.bytes.len() as u32,
            ty: self.ty(),
            flags: self.flags(),
            seq: self.seq(),
            pid: self.pid(),
        }
    }
    /// `nlmsg_type`.
    #[inline]
    pub fn ty(&self) -> u16 {
        u16_at(self.bytes, 4)
    }
    /// `nlmsg_flags`.
    #[inline]
    pub fn flags(&self) -> u16 {
        u16_at(self.bytes, 6)
    }
    /// `nlmsg_seq`.
    #[inline]
    pub fn seq(&self) -> u32 {
        u32_at(self.bytes, 8)
    }
    /// `nlmsg_pid` as the sender wrote it (see [`NlMsgHdr::pid`]).
    #[inline]
    pub fn pid(&self) -> u32 {
        u32_at(self.bytes, 12)
    }
    /// Whether `NLM_F_MULTI` is set: part of a multipart reply (a dump).
    #[inline]
    pub fn is_multi(&self) -> bool {
        self.flags() & NLM_F_MULTI != 0
    }
    /// Whether `NLM_F_DUMP_INTR` is set: the dumped set changed while it was being dumped.
    #[inline]
    pub fn is_dump_interrupted(&self) -> bool {
        self.flags() & NLM_F_DUMP_INTR != 0
    }
    /// The whole message, header included.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Everything after the 16-byte header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[NLMSG_HDRLEN..]
    }
    /// Attributes after a family header of `hdr_len` bytes (aligned to 4, as the kernel's
    /// `nlmsg_attrdata` does).
    #[inline]
    pub fn attrs(&self, hdr_len: usize) -> Result<AttrIter<'a>, Error> {
        let start = NLMSG_HDRLEN + align(hdr_len);
        match self.bytes.get(start..) {
            Some(attrs) => Ok(AttrIter::new(attrs)),
            None => Err(Error::Truncated {
                need: count(start),
                have: count(self.bytes.len()),
            }),
        }
    }
    /// The generic netlink header, when this is a generic netlink message.
    pub fn genl_header(&self) -> Result<GenlMsgHdr, Error> {
        GenlMsgHdr::parse(self.payload())
    }
    /// The attributes of a generic netlink message (after its 4-byte header).
    #[inline]
    pub fn genl_attrs(&self) -> Result<AttrIter<'a>, Error> {
        self.attrs(GENL_HDRLEN)
    }
}

/// The fields of `struct genlmsghdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GenlMsgHdr {
    /// The family's command.
    pub cmd: u8,
    /// The family's version.
    pub version: u8,
    /// Reserved, zero.
    pub reserved: u16,
}

impl GenlMsgHdr {
    /// Reads the header from the start of a message's payload.
    pub fn parse(payload: &[u8]) -> Result<Self, Error> {
        if payload.len() < GENL_HDRLEN {
            return Err(Error::Truncated {
                need: count(NLMSG_HDRLEN + GENL_HDRLEN),
                have: count(NLMSG_HDRLEN + payload.len()),
            });
        }
        Ok(GenlMsgHdr {
            cmd: payload[0],
            version: payload[1],
            reserved: u16_at(payload, 2),
        })
    }

    /// The 4 bytes on the wire.
    #[inline(always)]
    pub fn to_bytes(&self) -> [u8; GENL_HDRLEN] {
        let r = self.reserved.to_ne_bytes();
        [self.cmd, self.version, r[0], r[1]]
    }
}

/// Every message in a received datagram, in order.
///
/// Yields `Err` once for the first malformed message and then stops: after a lying length
/// nothing that follows can be trusted.
#[derive(Debug, Clone)]
pub struct MessageIter<'a> {
    rest: &'a [u8],
}

impl<'a> MessageIter<'a> {
    /// Iterates over the messages in `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        MessageIter { rest: datagram }
    }
}

impl<'a> Iterator for MessageIter<'a> {
    type Item = Result<NlMsg<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match NlMsg::parse(self.rest) {
            Ok((msg, rest)) => {
                self.rest = rest;
                Some(Ok(msg))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for MessageIter<'_> {}
