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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { need, have } => {
                write!(f, "truncated: header needs {need} bytes, {have} present")
            }
            Error::BadMessageLength { claimed, available } => write!(
                f,
                "bad nlmsg_len {claimed} (minimum 16, {available} bytes available)"
            ),
            Error::BadAttrLength {
                attr,
                claimed,
                available,
            } => write!(
                f,
                "attribute {attr}: bad nla_len {claimed} (minimum 4, {available} bytes available)"
            ),
            Error::TrailingBytes { len } => write!(f, "{len} stray bytes after the last attribute"),
            Error::AttrSize { attr, len } => {
                write!(
                    f,
                    "attribute {attr}: payload of {len} bytes has the wrong size"
                )
            }
            Error::NotNulTerminated { attr } => {
                write!(f, "attribute {attr}: string is not NUL-terminated")
            }
            Error::NotUtf8 { attr } => write!(f, "attribute {attr}: string is not UTF-8"),
            Error::UnknownAttr { attr } => write!(f, "attribute {attr}: unknown to the policy"),
            Error::NestedFlag { attr } => {
                write!(f, "attribute {attr}: NLA_F_NESTED does not match its kind")
            }
            Error::TooDeep => write!(f, "attributes nested too deeply"),
            Error::MissingAttr { attr } => write!(f, "attribute {attr}: required but missing"),
            Error::UnexpectedType { nlmsg_type } => {
                write!(f, "unexpected message type {nlmsg_type}")
            }
            Error::BufferFull { need, free } => {
                write!(f, "buffer full: need {need} bytes, {free} free")
            }
            Error::TooLong => write!(f, "message or attribute longer than its length field"),
            Error::OutOfOrder => write!(f, "builder call out of order"),
            Error::InteriorNul => write!(f, "string contains a NUL byte"),
        }
    }
}

impl core::error::Error for Error {}
