use crate::text::{self, Arg, Text};
use core::fmt;

/// Everything that can go wrong while parsing, validating or building netlink messages.
///
/// Small and `Copy` on purpose: errors travel through hot receive loops and never allocate.
/// Attribute errors name the attribute type (`attr`) as the kernel's extack would.
///
/// Eight bytes, so that a `Result<(), Error>` (or of a `u16`, a `u32`) is returned in a
/// register, not through memory. To fit, the counts of room (`available`, `free`, a
/// header's `need`) are `u16` and saturate at 65535: a kernel datagram is smaller, and a
/// saturated count stays on the right side of the one it is compared with (a length that
/// claims more than is available, a write that needs more than is free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // The variants are grouped by their fields' types (two counts of either order, three,
    // one, an attribute type, none): `describe` then tells the groups apart by ranges of
    // the tag.
    /// Fewer bytes than a fixed header needs (`need` bytes, `have` bytes).
    Truncated {
        /// Bytes the header needs.
        need: u16,
        /// Bytes that were there.
        have: u32,
    },
    /// An attribute's payload has the wrong size for its kind (e.g. 3 bytes for a u32).
    AttrSize {
        /// The attribute's type.
        attr: u16,
        /// Its payload length.
        len: u32,
    },
    /// `nlmsg_len` is below the 16-byte header or runs past the end of the datagram.
    BadMessageLength {
        /// The length the header claims.
        claimed: u32,
        /// Bytes left in the datagram from the message's start.
        available: u16,
    },
    /// The output buffer cannot hold what was asked; nothing partial was left in it.
    BufferFull {
        /// Bytes the write needed.
        need: u32,
        /// Bytes that were free.
        free: u16,
    },
    /// `nla_len` is below the 4-byte attribute header or runs past its container.
    BadAttrLength {
        /// The attribute's type (without flag bits).
        attr: u16,
        /// The length the attribute header claims.
        claimed: u16,
        /// Bytes left in the container from the attribute's start.
        available: u16,
    },
    /// Stray bytes after the last attribute that cannot hold an attribute header.
    TrailingBytes {
        /// How many bytes were left over.
        len: u32,
    },
    /// A string attribute lacks its terminating NUL, or has bytes after it.
    NotNulTerminated {
        /// The attribute's type.
        attr: u16,
    },
    /// A string attribute is not valid UTF-8 where text was asked for.
    NotUtf8 {
        /// The attribute's type.
        attr: u16,
    },
    /// Strict validation met an attribute type the policy does not know.
    UnknownAttr {
        /// The attribute's type.
        attr: u16,
    },
    /// A nested attribute that must carry `NLA_F_NESTED` does not, or the reverse.
    NestedFlag {
        /// The attribute's type.
        attr: u16,
    },
    /// An attribute the caller requires is absent.
    MissingAttr {
        /// The attribute's type.
        attr: u16,
    },
    /// The message is not of the type the caller expected.
    UnexpectedType {
        /// Its `nlmsg_type`.
        nlmsg_type: u16,
    },
    /// Nesting deeper than the policy's limit.
    TooDeep,
    /// A message or attribute would exceed the 32-bit / 16-bit length field.
    TooLong,
    /// A builder call out of order: `finish` with no open message, `begin` with one open,
    /// or a nest closed out of order.
    OutOfOrder,
    /// A string given to the builder contains a NUL byte, so a reader would see less.
    InteriorNul,
}

// What the type's documentation promises; a new field that breaks it fails the build.
const _: () = assert!(core::mem::size_of::<Result<(), Error>>() == 8);

/// What [`Error::describe`] says, in the order of the variants (see [`text::phrase`]).
pub(crate) const PHRASES: &str = "truncated: header needs \x01 bytes, \x02 present\0\
attribute \x01: payload of \x02 bytes has the wrong size\0\
bad nlmsg_len \x01 (minimum 16, \x02 bytes available)\0\
buffer full: need \x01 bytes, \x02 free\0\
attribute \x01: bad nla_len \x02 (minimum 4, \x03 bytes available)\0\
\x01 stray bytes after the last attribute\0\
attribute \x01: string is not NUL-terminated\0\
attribute \x01: string is not UTF-8\0\
attribute \x01: unknown to the policy\0\
attribute \x01: NLA_F_NESTED does not match its kind\0\
attribute \x01: required but missing\0\
unexpected message type \x01\0\
attributes nested too deeply\0\
message or attribute longer than its length field\0\
builder call out of order\0\
string contains a NUL byte\0";

impl Error {
    /// Describes the error in words, for people (the phrases `Display` shows too).
    pub fn describe(&self, w: &mut dyn Text) {
        let (n, args) = self.phrase();
        text::phrase(w, PHRASES, n, &args);
    }

    /// Which phrase of [`PHRASES`] says the error, and its arguments: apart from the
    /// writing, so that a socket error that carries a codec error writes either with one
    /// call.
    #[inline(always)]
    pub(crate) fn phrase(&self) -> (usize, [Arg<'static>; 3]) {
        // The phrase's number is the variant's, which the compiler reads off the tag. The
        // numbers: variants whose fields match in type (and so in place) share an arm,
        // one load sequence for all of them.
        let n = match self {
            Error::Truncated { .. } => 0,
            Error::AttrSize { .. } => 1,
            Error::BadMessageLength { .. } => 2,
            Error::BufferFull { .. } => 3,
            Error::BadAttrLength { .. } => 4,
            Error::TrailingBytes { .. } => 5,
            Error::NotNulTerminated { .. } => 6,
            Error::NotUtf8 { .. } => 7,
            Error::UnknownAttr { .. } => 8,
            Error::NestedFlag { .. } => 9,
            Error::MissingAttr { .. } => 10,
            Error::UnexpectedType { .. } => 11,
            Error::TooDeep => 12,
            Error::TooLong => 13,
            Error::OutOfOrder => 14,
            Error::InteriorNul => 15,
        };
        let [a, b, c]: [u32; 3] = match *self {
            Error::Truncated { need: a, have: b } | Error::AttrSize { attr: a, len: b } => {
                [a.into(), b, 0]
            }
            Error::BadMessageLength {
                claimed: a,
                available: b,
            }
            | Error::BufferFull { need: a, free: b } => [a, b.into(), 0],
            Error::BadAttrLength {
                attr,
                claimed,
                available,
            } => [attr.into(), claimed.into(), available.into()],
            Error::TrailingBytes { len } => [len, 0, 0],
            Error::NotNulTerminated { attr: a }
            | Error::NotUtf8 { attr: a }
            | Error::UnknownAttr { attr: a }
            | Error::NestedFlag { attr: a }
            | Error::MissingAttr { attr: a }
            | Error::UnexpectedType { nlmsg_type: a } => [a.into(), 0, 0],
            Error::TooDeep | Error::TooLong | Error::OutOfOrder | Error::InteriorNul => [0; 3],
        };
        let args = [a, b, c].map(|v| Arg::Num(v.into()));
        (n, args)
    }
}

/// `n` as a count field of [`Error`] (`u16` or `u32`, whichever the field is), saturated.
#[inline(always)]
pub(crate) fn count<T: TryFrom<usize> + Saturated>(n: usize) -> T {
    T::try_from(n).unwrap_or(T::MAX)
}

/// The count types of [`Error`]'s fields, and where [`count`] saturates them.
pub(crate) trait Saturated {
    const MAX: Self;
}

impl Saturated for u16 {
    const MAX: Self = u16::MAX;
}

impl Saturated for u32 {
    const MAX: Self = u32::MAX;
}

impl fmt::Display for Error {
    // Out of line: inlined into a caller's error path, it changed how the caller's hot loop
    // was compiled (the codec benchmark's decode, by 3 %).
    #[inline(never)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&text::Display(self, Self::describe), f)
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Fixed;

    // The exact phrases, one per variant: programs and logs print them as they are.
    #[test]
    fn every_error_has_its_phrase() {
        let cases = [
            (
                Error::Truncated { need: 16, have: 3 },
                "truncated: header needs 16 bytes, 3 present",
            ),
            (
                Error::BadMessageLength {
                    claimed: 8,
                    available: 40,
                },
                "bad nlmsg_len 8 (minimum 16, 40 bytes available)",
            ),
            (
                Error::BadAttrLength {
                    attr: 3,
                    claimed: 2,
                    available: 12,
                },
                "attribute 3: bad nla_len 2 (minimum 4, 12 bytes available)",
            ),
            (
                Error::TrailingBytes { len: 2 },
                "2 stray bytes after the last attribute",
            ),
            (
                Error::AttrSize {
                    attr: 65535,
                    len: 3,
                },
                "attribute 65535: payload of 3 bytes has the wrong size",
            ),
            (
                Error::NotNulTerminated { attr: 1 },
                "attribute 1: string is not NUL-terminated",
            ),
            (
                Error::NotUtf8 { attr: 2 },
                "attribute 2: string is not UTF-8",
            ),
            (
                Error::UnknownAttr { attr: 9 },
                "attribute 9: unknown to the policy",
            ),
            (
                Error::NestedFlag { attr: 4 },
                "attribute 4: NLA_F_NESTED does not match its kind",
            ),
            (Error::TooDeep, "attributes nested too deeply"),
            (
                Error::MissingAttr { attr: 0 },
                "attribute 0: required but missing",
            ),
            (
                Error::UnexpectedType { nlmsg_type: 2 },
                "unexpected message type 2",
            ),
            (
                Error::BufferFull {
                    need: u32::MAX,
                    free: 0,
                },
                "buffer full: need 4294967295 bytes, 0 free",
            ),
            (
                Error::TooLong,
                "message or attribute longer than its length field",
            ),
            (Error::OutOfOrder, "builder call out of order"),
            (Error::InteriorNul, "string contains a NUL byte"),
        ];
        for (error, phrase) in cases {
            let mut buf: Fixed<128> = Fixed::new();
            error.describe(buf.text());
            assert_eq!(buf.as_str(), Some(phrase));
        }
    }

    // A count of room past a `u16` saturates and stays below the count it is compared with.
    #[test]
    fn room_past_65535_saturates() {
        let mut buf = [0u8; 70_000];
        buf[..4].copy_from_slice(&100_000u32.to_ne_bytes());
        assert_eq!(
            crate::NlMsg::parse(&buf),
            Err(Error::BadMessageLength {
                claimed: 100_000,
                available: 65535,
            })
        );
        buf[..4].copy_from_slice(&[2, 0, 7, 0]);
        assert_eq!(
            crate::AttrIter::new(&buf).next(),
            Some(Err(Error::BadAttrLength {
                attr: 7,
                claimed: 2,
                available: 65535,
            }))
        );
        let mut b = crate::MsgBuilder::new(&mut buf[..]);
        assert_eq!(
            b.put_raw(&[0; 80_000]),
            Err(Error::BufferFull {
                need: 80_000,
                free: 65535,
            })
        );
    }
}
