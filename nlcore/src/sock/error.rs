use crate::consts::{
    NLMSGERR_ATTR_MISS_NEST, NLMSGERR_ATTR_MISS_TYPE, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
};
use crate::control::ExtAck;
use crate::text::{self, Arg, Text};
use core::fmt;
// Errno values differ between architectures (mips has its own), so never write them as
// numbers: rustix's constants are right for the target.
use rustix::io::Errno;

/// What can go wrong on a netlink socket: a small `Copy` value built from the errno or
/// from what the peer answered. The codec's own failures travel inside
/// ([`Error::Codec`]), so the codec's [`crate::Error`] stays free of socket concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // The variants are grouped by their fields' types (an errno, a port, two numbers,
    // none): `describe` and `errno` then tell the groups apart by ranges of the tag.
    /// A system call failed with this errno (positive, e.g. `EPERM` = 1).
    Os(i32),
    /// The peer refused the request (`NLMSG_ERROR`) or ended the dump with an error
    /// (`NLMSG_DONE`); the ext-ack travels beside it in [`Failed`].
    Kernel {
        /// The positive errno the peer sent.
        errno: i32,
    },
    /// `bind` to an explicit port that another socket of the unit holds (`EADDRINUSE`).
    AddrInUse {
        /// The port that was asked for.
        port: u32,
    },
    /// A datagram from a port other than the kernel's (0) while the socket accepts only the
    /// kernel ([`NlSocket::set_accept_any_sender`](super::NlSocket::set_accept_any_sender)),
    /// or a reply to a request from a port other than the peer's.
    ForeignSender {
        /// The sender's port id.
        port: u32,
    },
    /// The datagram was larger than the receive buffer (`MSG_TRUNC`); its tail is lost.
    /// Receive with at least `size` bytes. The sizes are `u32` (saturated; no datagram
    /// is that large) so that the error fits in 12 bytes and results carrying it are
    /// returned in registers.
    Truncated {
        /// The datagram's real size in bytes.
        size: u32,
        /// The buffer's size in bytes.
        capacity: u32,
    },
    /// A reply carried another request's sequence number.
    // The fields of this variant and the next are declared in the order their phrases say
    // them, as `Truncated`'s: the three share one load sequence in `describe`.
    SeqMismatch {
        /// The one in the reply.
        got: u32,
        /// The sequence number of the request.
        expected: u32,
    },
    /// A reply was addressed to another port (`nlmsg_pid`).
    PortMismatch {
        /// The port in the reply.
        got: u32,
        /// This socket's port.
        expected: u32,
    },
    /// The receive queue overflowed (`ENOBUFS`): messages were dropped before this read.
    /// The socket stays usable; [`NlSocket::overruns`](super::NlSocket::overruns) counts
    /// these.
    Overrun,
    /// Nothing arrived within the receive timeout.
    TimedOut,
    /// Non-blocking socket with nothing to read (`EAGAIN`).
    WouldBlock,
    /// The dumped set changed during the dump (`NLM_F_DUMP_INTR`): the data is
    /// inconsistent, start the dump again.
    DumpInterrupted,
    /// A name (family, group) the peer does not know.
    NotFound,
    /// A received message is malformed, or a buffer too small to build one.
    Codec(crate::Error),
}

// What `Truncated`'s field types are for; a field that breaks it fails the build.
const _: () = assert!(core::mem::size_of::<Error>() == 12);

impl Error {
    /// The errno this error stands for, where there is one (`ENOBUFS` for
    /// [`Error::Overrun`], the peer's errno for [`Error::Kernel`]).
    pub fn errno(&self) -> Option<i32> {
        match *self {
            Error::Os(e) | Error::Kernel { errno: e } => Some(e),
            Error::AddrInUse { .. } => Some(Errno::ADDRINUSE.raw_os_error()),
            Error::Overrun => Some(Errno::NOBUFS.raw_os_error()),
            Error::TimedOut | Error::WouldBlock => Some(Errno::AGAIN.raw_os_error()),
            _ => None,
        }
    }

    pub(crate) fn from_errno(errno: Errno) -> Self {
        Error::Os(errno.raw_os_error())
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        Error::Codec(e)
    }
}

/// What [`Error::describe`] says, in the order of the variants up to [`Error::Codec`] (whose
/// words are the codec error's own), then the offset that [`Failed::describe`] adds (see
/// [`text::phrase`]).
const PHRASES: &str = "system call failed: errno \x01\0\
request refused by the peer: errno \x01\0\
netlink port \x01 is already in use\0\
refused a datagram from port \x01 (not the kernel)\0\
datagram of \x01 bytes truncated to the \x02-byte receive buffer\0\
reply has sequence number \x01, request had \x02\0\
reply addressed to port \x01, this socket is port \x02\0\
receive queue overrun (ENOBUFS): messages were lost\0\
timed out waiting for a netlink message\0\
no message waiting (non-blocking socket)\0\
dump interrupted (NLM_F_DUMP_INTR): the set changed, dump again\0\
no such family or group\0\
\x20(attribute at offset \x01)\0";

/// The phrase of [`PHRASES`] that follows the error's: the offending attribute's offset.
const AT_OFFSET: usize = 12;

impl Error {
    /// Describes the error in words, for people (the phrases `Display` shows too).
    pub fn describe(&self, w: &mut dyn Text) {
        // The phrase's number is the variant's; the arguments are read by field type, the
        // variants whose fields match sharing an arm (one load sequence for all of them).
        let n = match self {
            Error::Os(_) => 0,
            Error::Kernel { .. } => 1,
            Error::AddrInUse { .. } => 2,
            Error::ForeignSender { .. } => 3,
            Error::Truncated { .. } => 4,
            Error::SeqMismatch { .. } => 5,
            Error::PortMismatch { .. } => 6,
            Error::Overrun => 7,
            Error::TimedOut => 8,
            Error::WouldBlock => 9,
            Error::DumpInterrupted => 10,
            Error::NotFound => 11,
            // Unused (a codec error's number is the codec's, below), but in sequence: the
            // numbers are then the tag's, less a constant, with no compare per variant.
            Error::Codec(_) => 12,
        };
        let [a, b]: [i64; 2] = match *self {
            Error::Os(a) | Error::Kernel { errno: a } => [a.into(), 0],
            Error::AddrInUse { port: a } | Error::ForeignSender { port: a } => [a.into(), 0],
            Error::Truncated {
                size: a,
                capacity: b,
            }
            | Error::SeqMismatch {
                got: a,
                expected: b,
            }
            | Error::PortMismatch {
                got: a,
                expected: b,
            } => [a.into(), b.into()],
            _ => [0; 2],
        };
        // A codec error's words are the codec's, from its table, through the same call.
        let (phrases, n, args) = match self {
            Error::Codec(e) => {
                w.str("malformed message: ");
                let (n, args) = e.phrase();
                (crate::error::PHRASES, n, args)
            }
            _ => (PHRASES, n, [Arg::Num(a), Arg::Num(b), Arg::Num(0)]),
        };
        text::phrase(w, phrases, n, &args);
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&text::Display(self, Self::describe), f)
    }
}

impl core::error::Error for Error {}

/// A failed request: the error, and beside it the kernel's extended-ack TLVs (its message
/// text, the offending attribute's offset...) borrowed from the receive buffer, never
/// copied, and read only when asked for ([`Failed::ext_ack`]): a small value to build at
/// every error exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Failed<'a> {
    /// What went wrong.
    pub error: Error,
    /// The ext-ack TLVs (`NLMSGERR_ATTR_*`) of the peer's refusal; empty unless the peer
    /// sent some.
    pub tlvs: &'a [u8],
}

impl From<Error> for Failed<'_> {
    fn from(error: Error) -> Self {
        Failed { error, tlvs: &[] }
    }
}

impl From<crate::Error> for Failed<'_> {
    fn from(e: crate::Error) -> Self {
        Error::Codec(e).into()
    }
}

impl<'a> Failed<'a> {
    /// The kernel's explanation; empty unless the peer sent one (or sent TLVs that cannot
    /// be read: the error itself is what matters).
    pub fn ext_ack(&self) -> ExtAck<'a> {
        ExtAck::parse(self.tlvs).unwrap_or_default()
    }

    /// Describes the failure: the error, then the peer's extended-ack message and offset.
    pub fn describe(&self, w: &mut dyn Text) {
        self.error.describe(w);
        let (msg, offset) = self.said().unwrap_or_default();
        if let Some(msg) = msg {
            w.str(": ");
            w.str(msg);
        }
        if let Some(offset) = offset {
            text::phrase(w, PHRASES, AT_OFFSET, &[Arg::Num(offset.into())]);
        }
    }

    /// The two fields of [`ext_ack`](Self::ext_ack) that [`describe`](Self::describe)
    /// prints, read without building the whole [`ExtAck`]; TLVs it would refuse are
    /// refused here too (the `u32` ones are checked, the bytes ones cannot be wrong).
    fn said(&self) -> Result<(Option<&'a str>, Option<u32>), crate::Error> {
        let (mut msg, mut offset) = (None, None);
        for attr in crate::AttrIter::new(self.tlvs) {
            let attr = attr?;
            match attr.kind() {
                NLMSGERR_ATTR_MSG => msg = Some(attr.get_str()?),
                NLMSGERR_ATTR_OFFS => offset = Some(attr.get_u32()?),
                NLMSGERR_ATTR_MISS_TYPE | NLMSGERR_ATTR_MISS_NEST => {
                    attr.get_u32()?;
                }
                _ => {}
            }
        }
        Ok((msg, offset))
    }
}

impl fmt::Display for Failed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&text::Display(self, Self::describe), f)
    }
}

impl core::error::Error for Failed<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Fixed;

    fn words(e: Error) -> heapless::String<128> {
        let mut buf: Fixed<128> = Fixed::new();
        e.describe(buf.text());
        heapless::String::try_from(buf.as_str().expect("fits")).expect("fits")
    }

    // The exact phrases, one per variant: programs and logs print them as they are.
    #[test]
    fn every_error_has_its_phrase() {
        let cases = [
            (Error::Os(-4), "system call failed: errno -4"),
            (
                Error::AddrInUse { port: 77 },
                "netlink port 77 is already in use",
            ),
            (
                Error::Truncated {
                    size: 9000,
                    capacity: 4096,
                },
                "datagram of 9000 bytes truncated to the 4096-byte receive buffer",
            ),
            (
                Error::Overrun,
                "receive queue overrun (ENOBUFS): messages were lost",
            ),
            (Error::TimedOut, "timed out waiting for a netlink message"),
            (
                Error::WouldBlock,
                "no message waiting (non-blocking socket)",
            ),
            (
                Error::ForeignSender { port: 12 },
                "refused a datagram from port 12 (not the kernel)",
            ),
            (
                Error::Kernel { errno: 22 },
                "request refused by the peer: errno 22",
            ),
            (
                Error::DumpInterrupted,
                "dump interrupted (NLM_F_DUMP_INTR): the set changed, dump again",
            ),
            (
                Error::SeqMismatch {
                    expected: 5,
                    got: 6,
                },
                "reply has sequence number 6, request had 5",
            ),
            (
                Error::PortMismatch {
                    expected: 100,
                    got: 0,
                },
                "reply addressed to port 0, this socket is port 100",
            ),
            (Error::NotFound, "no such family or group"),
            (
                Error::Codec(crate::Error::TooDeep),
                "malformed message: attributes nested too deeply",
            ),
        ];
        for (error, phrase) in cases {
            assert_eq!(words(error), phrase);
        }
    }

    /// The ext-ack TLVs `put` writes, as they follow a message's header: laid out by the
    /// builder, not by hand.
    fn ext_ack_tlvs<'b>(
        buf: &'b mut [u8],
        put: &dyn Fn(&mut crate::MsgBuilder<crate::SliceBuffer<'_>>) -> Result<(), crate::Error>,
    ) -> &'b [u8] {
        let mut b = crate::MsgBuilder::new(&mut buf[..]);
        b.begin(crate::consts::NLMSG_ERROR, 0, 0, 0).unwrap();
        put(&mut b).unwrap();
        let len = b.finish().unwrap();
        &buf[crate::consts::NLMSG_HDRLEN..len]
    }

    #[test]
    fn a_failure_with_an_unreadable_ext_ack_says_only_the_error() {
        // NLMSGERR_ATTR_MSG "no\0", then NLMSGERR_ATTR_MISS_TYPE with 2 bytes, not 4:
        // ext_ack() refuses the whole set, and describe() says no more than it.
        let mut buf = [0u8; 64];
        let tlvs = ext_ack_tlvs(&mut buf, &|b| {
            b.put_str(NLMSGERR_ATTR_MSG, "no")?;
            b.put_u16(NLMSGERR_ATTR_MISS_TYPE, 0)
        });
        assert_eq!(tlvs.len(), 16);
        let failed = Failed {
            error: Error::Kernel { errno: 1 },
            tlvs,
        };
        assert_eq!(failed.ext_ack(), ExtAck::default());
        let mut buf: Fixed<128> = Fixed::new();
        failed.describe(buf.text());
        assert_eq!(buf.as_str(), Some("request refused by the peer: errno 1"));
        // Without the broken TLV, the message is said.
        let failed = Failed {
            tlvs: &tlvs[..8],
            ..failed
        };
        assert_eq!(failed.ext_ack().msg, Some("no"));
        let mut buf: Fixed<128> = Fixed::new();
        failed.describe(buf.text());
        assert_eq!(
            buf.as_str(),
            Some("request refused by the peer: errno 1: no")
        );
    }

    #[test]
    fn a_failure_adds_the_ext_ack() {
        // NLMSGERR_ATTR_MSG "no way\0" (padded to 12 bytes), NLMSGERR_ATTR_OFFS 20.
        let mut buf = [0u8; 64];
        let tlvs = ext_ack_tlvs(&mut buf, &|b| {
            b.put_str(NLMSGERR_ATTR_MSG, "no way")?;
            b.put_u32(NLMSGERR_ATTR_OFFS, 20)
        });
        assert_eq!(tlvs.len(), 20);
        let failed = Failed {
            error: Error::Kernel { errno: 1 },
            tlvs,
        };
        assert_eq!(failed.ext_ack().offset, Some(20));
        let mut buf: Fixed<128> = Fixed::new();
        failed.describe(buf.text());
        assert_eq!(
            buf.as_str(),
            Some("request refused by the peer: errno 1: no way (attribute at offset 20)")
        );
    }
}
