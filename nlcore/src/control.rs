//! What a received message means: data, or one of netlink's control messages.
//!
//! ```text
//! NLMSG_ERROR: | nlmsghdr | error i32 | request nlmsghdr | [request payload] | [ext-ack TLVs] |
//!                                                          ^ absent with NLM_F_CAPPED
//!                                                                             ^ with NLM_F_ACK_TLVS
//! NLMSG_DONE:  | nlmsghdr | error i32 | [ext-ack TLVs] |
//! ```
//! An error of 0 is an ACK (its ext-ack message, if any, is a warning).

use crate::consts::*;
use crate::error::count;
use crate::wire::{AttrIter, NlMsg, NlMsgHdr};
use crate::{align, Error};

/// The extended ack: the kernel's explanation beside an error (or warning), borrowed from
/// the received buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ExtAck<'a> {
    /// `NLMSGERR_ATTR_MSG`: human-readable text.
    pub msg: Option<&'a str>,
    /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the request, from the
    /// start of its `nlmsghdr`.
    pub offset: Option<u32>,
    /// `NLMSGERR_ATTR_COOKIE`: opaque bytes for the requester.
    pub cookie: Option<&'a [u8]>,
    /// `NLMSGERR_ATTR_POLICY`: the policy the offending attribute broke (nested attributes,
    /// `NL_POLICY_TYPE_ATTR_*`).
    pub policy: Option<&'a [u8]>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: type of a required attribute that was missing.
    pub miss_type: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_NEST`: offset of the nest that lacked it.
    pub miss_nest: Option<u32>,
}

impl<'a> ExtAck<'a> {
    /// Reads the TLVs; unknown ones are skipped so newer kernels do not break older readers.
    pub fn parse(tlvs: &'a [u8]) -> Result<Self, Error> {
        let mut ext = ExtAck::default();
        for attr in AttrIter::new(tlvs) {
            let attr = attr?;
            match attr.kind() {
                NLMSGERR_ATTR_MSG => ext.msg = Some(attr.get_str()?),
                NLMSGERR_ATTR_OFFS => ext.offset = Some(attr.get_u32()?),
                NLMSGERR_ATTR_COOKIE => ext.cookie = Some(attr.value()),
                NLMSGERR_ATTR_POLICY => ext.policy = Some(attr.value()),
                NLMSGERR_ATTR_MISS_TYPE => ext.miss_type = Some(attr.get_u32()?),
                NLMSGERR_ATTR_MISS_NEST => ext.miss_nest = Some(attr.get_u32()?),
                _ => {}
            }
        }
        Ok(ext)
    }

    /// Whether the kernel said anything beyond the errno.
    pub fn is_empty(&self) -> bool {
        *self == ExtAck::default()
    }
}

/// A positive acknowledgement (`NLMSG_ERROR` with error 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ack<'a> {
    /// The header of the request being acknowledged (its `seq` matches it to the request).
    pub request: NlMsgHdr,
    /// Warnings, if the kernel had any.
    pub ext_ack: ExtAck<'a>,
}

/// A refused request (`NLMSG_ERROR` with a negative error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorMsg<'a> {
    /// The error as a positive errno (`EINVAL` = 22).
    pub errno: i32,
    /// The header of the request that failed.
    pub request: NlMsgHdr,
    /// The request's payload, when the kernel echoed it (not `NLM_F_CAPPED`).
    pub request_payload: Option<&'a [u8]>,
    /// The kernel's explanation.
    pub ext_ack: ExtAck<'a>,
}

/// The end of a dump (`NLMSG_DONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Done<'a> {
    /// 0, or the positive errno that ended the dump early.
    pub errno: i32,
    /// `NLM_F_DUMP_INTR`: the dumped set changed during the dump; start it again.
    pub interrupted: bool,
    /// The kernel's explanation, if any.
    pub ext_ack: ExtAck<'a>,
}

/// The meaning of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Payload<'a> {
    /// A message of the family (any type that is not one of the four control types).
    Data(NlMsg<'a>),
    /// `NLMSG_NOOP`: ignore it.
    Noop,
    /// `NLMSG_OVERRUN`: data was lost.
    Overrun,
    /// `NLMSG_ERROR` with error 0.
    Ack(Ack<'a>),
    /// `NLMSG_ERROR` with an error.
    Error(ErrorMsg<'a>),
    /// `NLMSG_DONE`.
    Done(Done<'a>),
}

impl<'a> Payload<'a> {
    /// Classifies `msg`, parsing control messages fully.
    pub fn parse(msg: NlMsg<'a>) -> Result<Payload<'a>, Error> {
        match msg.ty() {
            NLMSG_NOOP => return Ok(Payload::Noop),
            NLMSG_OVERRUN => return Ok(Payload::Overrun),
            NLMSG_ERROR | NLMSG_DONE => {}
            _ => return Ok(Payload::Data(msg)),
        }
        let end = Ending::parse(&msg)?;
        let ext_ack = ExtAck::parse(end.tlvs)?;
        let errno = end.errno;
        Ok(match end.request {
            None => Payload::Done(Done {
                errno,
                interrupted: msg.is_dump_interrupted(),
                ext_ack,
            }),
            Some(header) => {
                let request = NlMsgHdr::parse(header)?;
                match errno {
                    0 => Payload::Ack(Ack { request, ext_ack }),
                    _ => Payload::Error(ErrorMsg {
                        errno,
                        request,
                        request_payload: end.request_payload,
                        ext_ack,
                    }),
                }
            }
        })
    }
}

/// The layout of an `NLMSG_ERROR` or `NLMSG_DONE` (see the module's diagram), read without
/// its ext-ack TLVs: what ends a request or a dump. [`Payload::parse`] reads the rest; a
/// program that needs only the errno (and the TLVs when it reports a failure) uses this
/// alone and carries no TLV parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending<'a> {
    /// 0 (an ack, a dump's end), or the positive errno.
    pub errno: i32,
    /// `NLMSG_ERROR`: the echoed header of the request (16 bytes); `None` for `NLMSG_DONE`.
    pub request: Option<&'a [u8]>,
    /// The request's payload, when the kernel echoed it (not `NLM_F_CAPPED`).
    pub request_payload: Option<&'a [u8]>,
    /// The ext-ack TLVs (`NLM_F_ACK_TLVS`), else empty.
    pub tlvs: &'a [u8],
}

impl<'a> Ending<'a> {
    /// Reads an `NLMSG_ERROR` or `NLMSG_DONE` (any other type reads as a `NLMSG_ERROR`).
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, Error> {
        let done = msg.ty() == NLMSG_DONE;
        let payload = msg.payload();
        let have = msg.bytes().len();
        let truncated = |need: usize| Error::Truncated {
            need: count(need),
            have: count(have),
        };
        // A peer that is not the kernel may end a dump with an empty DONE: that is success.
        let errno = match payload.first_chunk::<4>() {
            // The kernel sends -errno; i32::MIN has no positive twin, so it saturates.
            Some(raw) => i32::from_ne_bytes(*raw).saturating_neg(),
            None if done && payload.is_empty() => 0,
            None => return Err(truncated(NLMSG_HDRLEN + 4)),
        };
        let mut end = Ending {
            errno,
            request: None,
            request_payload: None,
            tlvs: &[],
        };
        let mut tlv_start = 4;
        if !done {
            let Some(header) = payload.get(4..NLMSGERR_LEN) else {
                return Err(truncated(NLMSG_HDRLEN + NLMSGERR_LEN));
            };
            end.request = Some(header);
            tlv_start = NLMSGERR_LEN;
            // Success never echoes the request's payload; kernels before NLM_F_CAPPED
            // (< 4.12) and peers other than the kernel send such an ACK without the flag.
            if msg.flags() & NLM_F_CAPPED == 0 && errno != 0 {
                // The whole request is echoed; its own length says where it ends.
                let claimed = header
                    .first_chunk::<4>()
                    .map_or(0, |len| u32::from_ne_bytes(*len));
                let echoed = claimed as usize;
                let request_end = 4usize.saturating_add(echoed);
                if echoed < NLMSG_HDRLEN || request_end > payload.len() {
                    return Err(Error::BadMessageLength {
                        claimed,
                        available: count(payload.len() - 4),
                    });
                }
                end.request_payload = payload.get(NLMSGERR_LEN..request_end);
                tlv_start = align(request_end);
            }
        }
        if msg.flags() & NLM_F_ACK_TLVS != 0 {
            end.tlvs = payload.get(tlv_start..).unwrap_or(&[]);
        }
        Ok(end)
    }
}
