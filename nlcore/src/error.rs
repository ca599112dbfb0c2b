use crate::text::{self, Text};
use core::fmt;

/// Everything that can go wrong while parsing, validating or building netlink messages.
///
/// Small and `Copy` on purpose: errors travel through hot receive loops and never allocate.
/// Attribute errors name the attribute type (`attr`) as the kernel's extack would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than a fixed header needs (`need` bytes, `have` bytes).
    Truncated {
        /// Bytes the header needs.
        need: usize,
        /// Bytes that were there.
        have: usize,
    },
    /// `nlmsg_len` is below the 16-byte header or runs past the end of the datagram.
    BadMessageLength {
        /// The length the header claims.
        claimed: u32,
        /// Bytes left in the datagram from the message's start.
        available: usize,
    },
    /// `nla_len` is below the 4-byte attribute header or runs past its container.
    BadAttrLength {
        /// The attribute's type (without flag bits).
        attr: u16,
        /// The length the attribute header claims.
        claimed: u16,
        /// Bytes left in the container from the attribute's start.
        available: usize,
    },
    /// Stray bytes after the last attribute that cannot hold an attribute header.
    TrailingBytes {
        /// How many bytes were left over.
        len: usize,
    },
    /// An attribute's payload has the wrong size for its kind (e.g. 3 bytes for a u32).
    AttrSize {
        /// The attribute's type.
        attr: u16,
        /// Its payload length.
        len: usize,
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
    /// Nesting deeper than the policy's limit.
    TooDeep,
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
    /// The output buffer cannot hold what was asked; nothing partial was left in it.
    BufferFull {
        /// Bytes the write needed.
        need: usize,
        /// Bytes that were free.
        free: usize,
    },
    /// A message or attribute would exceed the 32-bit / 16-bit length field.
    TooLong,
    /// A builder call out of order: `finish` with no open message, `begin` with one open,
    /// or a nest closed out of order.
    OutOfOrder,
    /// A string given to the builder contains a NUL byte, so a reader would see less.
    InteriorNul,
}

impl Error {
    /// Describes the error in words, for people (the phrases `Display` shows too).
    pub fn describe(&self, w: &mut dyn Text) {
        let attr = |w: &mut dyn Text, attr: u16| {
            w.str("attribute ");
            w.uint(attr.into());
            w.str(": ");
        };
        match *self {
            Error::Truncated { need, have } => {
                w.str("truncated: header needs ");
                w.uint(need as u64);
                w.str(" bytes, ");
                w.uint(have as u64);
                w.str(" present");
            }
            Error::BadMessageLength { claimed, available } => {
                w.str("bad nlmsg_len ");
                w.uint(claimed.into());
                w.str(" (minimum 16, ");
                w.uint(available as u64);
                w.str(" bytes available)");
            }
            Error::BadAttrLength {
                attr: a,
                claimed,
                available,
            } => {
                attr(w, a);
                w.str("bad nla_len ");
                w.uint(claimed.into());
                w.str(" (minimum 4, ");
                w.uint(available as u64);
                w.str(" bytes available)");
            }
            Error::TrailingBytes { len } => {
                w.uint(len as u64);
                w.str(" stray bytes after the last attribute");
            }
            Error::AttrSize { attr: a, len } => {
                attr(w, a);
                w.str("payload of ");
                w.uint(len as u64);
                w.str(" bytes has the wrong size");
            }
            Error::NotNulTerminated { attr: a } => {
                attr(w, a);
                w.str("string is not NUL-terminated");
            }
            Error::NotUtf8 { attr: a } => {
                attr(w, a);
                w.str("string is not UTF-8");
            }
            Error::UnknownAttr { attr: a } => {
                attr(w, a);
                w.str("unknown to the policy");
            }
            Error::NestedFlag { attr: a } => {
                attr(w, a);
                w.str("NLA_F_NESTED does not match its kind");
            }
            Error::TooDeep => w.str("attributes nested too deeply"),
            Error::MissingAttr { attr: a } => {
                attr(w, a);
                w.str("required but missing");
            }
            Error::UnexpectedType { nlmsg_type } => {
                w.str("unexpected message type ");
                w.uint(nlmsg_type.into());
            }
            Error::BufferFull { need, free } => {
                w.str("buffer full: need ");
                w.uint(need as u64);
                w.str(" bytes, ");
                w.uint(free as u64);
                w.str(" free");
            }
            Error::TooLong => w.str("message or attribute longer than its length field"),
            Error::OutOfOrder => w.str("builder call out of order"),
            Error::InteriorNul => w.str("string contains a NUL byte"),
        }
    }
}

impl fmt::Display for Error {
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
                    need: usize::MAX,
                    free: 0,
                },
                "buffer full: need 18446744073709551615 bytes, 0 free",
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
}
