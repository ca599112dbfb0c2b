use crate::consts::*;
use crate::error::count;
use crate::{align, Error};

/// One checked attribute: its raw type field and its value (without padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Attr<'a> {
    raw_type: u16,
    value: &'a [u8],
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident -> $t:ty, $conv:ident;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(&self) -> Result<$t, Error> {
            match <[u8; core::mem::size_of::<$t>()]>::try_from(self.value) {
                Ok(bytes) => Ok(<$t>::$conv(bytes)),
                Err(_) => Err(self.size_error()),
            }
        }
    )*};
}

impl<'a> Attr<'a> {
    /// An attribute made from its parts (for tests and builders of views).
    pub const fn new(raw_type: u16, value: &'a [u8]) -> Self {
        Attr { raw_type, value }
    }
    /// The type without the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits.
    #[inline(always)]
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }
    /// The type field as sent, flag bits included.
    #[inline(always)]
    pub fn raw_type(&self) -> u16 {
        self.raw_type
    }
    /// Whether the sender flagged this attribute as nested (`NLA_F_NESTED`). Old kernel
    /// code nests without the flag, so readers should not insist on it.
    #[inline]
    pub fn is_nested(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }
    /// Whether the value is in network byte order (`NLA_F_NET_BYTEORDER`).
    #[inline]
    pub fn is_net_byteorder(&self) -> bool {
        self.raw_type & NLA_F_NET_BYTEORDER != 0
    }
    /// The value bytes (`nla_len - 4` of them).
    #[inline(always)]
    pub fn value(&self) -> &'a [u8] {
        self.value
    }
    /// The attributes nested inside this one.
    #[inline]
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.value)
    }

    fn size_error(&self) -> Error {
        Error::AttrSize {
            attr: self.kind(),
            len: count(self.value.len()),
        }
    }

    getters! {
        /// The value as a `u8` (exactly 1 byte).
        get_u8 -> u8, from_ne_bytes;
        /// The value as a host-order `u16` (exactly 2 bytes).
        get_u16 -> u16, from_ne_bytes;
        /// The value as a host-order `u32` (exactly 4 bytes).
        get_u32 -> u32, from_ne_bytes;
        /// The value as a host-order `u64` (exactly 8 bytes).
        get_u64 -> u64, from_ne_bytes;
        /// The value as an `i8`.
        get_i8 -> i8, from_ne_bytes;
        /// The value as a host-order `i16`.
        get_i16 -> i16, from_ne_bytes;
        /// The value as a host-order `i32`.
        get_i32 -> i32, from_ne_bytes;
        /// The value as a host-order `i64`.
        get_i64 -> i64, from_ne_bytes;
        /// The value as a network-order (big-endian) `u16`, e.g. a port.
        get_be16 -> u16, from_be_bytes;
        /// The value as a network-order `u32`, e.g. an IPv4 address.
        get_be32 -> u32, from_be_bytes;
        /// The value as a network-order `u64`.
        get_be64 -> u64, from_be_bytes;
    }

    /// A `u16`/`u32`/`u64` value honouring `NLA_F_NET_BYTEORDER`, widened to `u64`: for
    /// readers that accept any unsigned width, as the kernel's `NLA_UINT` does.
    pub fn get_uint(&self) -> Result<u64, Error> {
        let be = self.is_net_byteorder();
        Ok(match self.value.len() {
            1 => u64::from(self.value[0]),
            2 if be => u64::from(self.get_be16()?),
            2 => u64::from(self.get_u16()?),
            4 if be => u64::from(self.get_be32()?),
            4 => u64::from(self.get_u32()?),
            8 if be => self.get_be64()?,
            8 => self.get_u64()?,
            _ => return Err(self.size_error()),
        })
    }

    /// The bytes of a NUL-terminated string, without the NUL. The NUL must be the last
    /// byte: a kernel string attribute carries nothing after it.
    #[inline]
    pub fn get_cstr_bytes(&self) -> Result<&'a [u8], Error> {
        self.cstr_bytes::<false>()
    }

    /// [`get_cstr_bytes`](Self::get_cstr_bytes), with the NUL scan inlined (`INLINE`) or
    /// called. Inlined for the policy's string rule, which a decoder of `attr_set!` runs on
    /// every string it reads (a call there cost the codec benchmark's decode about 40
    /// instructions a message); called everywhere else, one copy for all.
    #[inline(always)]
    pub(crate) fn cstr_bytes<const INLINE: bool>(&self) -> Result<&'a [u8], Error> {
        let has_nul = |text| {
            if INLINE {
                scan_nul(text)
            } else {
                contains_nul(text)
            }
        };
        match self.value.split_last() {
            Some((0, text)) if !has_nul(text) => Ok(text),
            _ => Err(Error::NotNulTerminated { attr: self.kind() }),
        }
    }

    /// A NUL-terminated UTF-8 string, without the NUL.
    #[inline]
    pub fn get_str(&self) -> Result<&'a str, Error> {
        let bytes = self.get_cstr_bytes()?;
        core::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 { attr: self.kind() })
    }

    /// A flag attribute: present with an empty value.
    #[inline]
    pub fn get_flag(&self) -> Result<(), Error> {
        if self.value.is_empty() {
            Ok(())
        } else {
            Err(self.size_error())
        }
    }
}

/// Whether `bytes` holds a NUL byte: [`scan_nul`], out of line (the string readers and
/// the builder's `put_str`).
#[inline(never)]
pub(crate) fn contains_nul(bytes: &[u8]) -> bool {
    scan_nul(bytes)
}

/// Whether `bytes` holds a NUL byte. Interface names and the like are a few dozen bytes,
/// where `memchr`'s set-up costs more than the scan: this tests sixteen bytes per step as
/// two words, without a branch per byte, the last step overlapping the one before. Word
/// arithmetic rather than a byte loop left to the vectorizer: the agent's link-time
/// optimization, for size, unrolled that into 500 bytes of byte compares.
#[inline(always)]
fn scan_nul(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Non-zero exactly when a byte of `word` is zero: subtracting 1 from a zero byte sets its
    // high bit, which `!word` keeps only where the byte's own high bit was clear.
    fn zeros(word: &[u8; 8]) -> u64 {
        let word = u64::from_ne_bytes(*word);
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    fn any_zero(block: &[u8; 16]) -> bool {
        let (halves, _) = block.as_chunks::<8>();
        halves.iter().fold(0, |z, half| z | zeros(half)) != 0
    }
    if let Some(last) = bytes.last_chunk::<16>() {
        let (blocks, _) = bytes.as_chunks::<16>();
        return blocks.iter().any(any_zero) || any_zero(last);
    }
    match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (Some(first), Some(last)) => zeros(first) | zeros(last) != 0,
        // Under eight bytes, one at a time, in place: `contains` brings a search routine of
        // its own (with it, the codec benchmark's decode, whose strings are longer, measured
        // 26 instructions a message more: the code around it compiled differently).
        #[allow(clippy::manual_contains)]
        _ => bytes.iter().any(|&b| b == 0),
    }
}

/// The attributes of a message payload or of a nested attribute, in order.
///
/// Yields `Err` once for the first malformed attribute and then stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrIter<'a> {
    rest: &'a [u8],
}

impl<'a> AttrIter<'a> {
    /// Iterates over the attributes packed in `buf`.
    #[inline]
    pub const fn new(buf: &'a [u8]) -> Self {
        AttrIter { rest: buf }
    }

    /// The bytes not yet iterated.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The first attribute of type `kind`, checking every attribute before it.
    pub fn find(self, kind: u16) -> Result<Option<Attr<'a>>, Error> {
        for attr in self {
            let attr = attr?;
            if attr.kind() == kind {
                return Ok(Some(attr));
            }
        }
        Ok(None)
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.rest;
        let Some((header, _)) = buf.split_first_chunk::<NLA_HDRLEN>() else {
            if buf.is_empty() {
                return None;
            }
            self.rest = &[];
            return Some(Err(Error::TrailingBytes {
                len: count(buf.len()),
            }));
        };
        // One 32-bit load for both fields: read as two u16s, LLVM built the type from bytes.
        let header = u32::from_ne_bytes(*header);
        let (claimed, raw_type) = if cfg!(target_endian = "little") {
            (header as u16, (header >> 16) as u16)
        } else {
            ((header >> 16) as u16, header as u16)
        };
        let len = claimed as usize;
        if len < NLA_HDRLEN || len > buf.len() {
            self.rest = &[];
            return Some(Err(Error::BadAttrLength {
                attr: raw_type & NLA_TYPE_MASK,
                claimed,
                available: count(buf.len()),
            }));
        }
        // The last attribute's padding may be missing, as the kernel's nla_ok allows.
        let next = align(len).min(buf.len());
        self.rest = &buf[next..];
        Some(Ok(Attr {
            raw_type,
            value: &buf[NLA_HDRLEN..len],
        }))
    }
}

impl core::iter::FusedIterator for AttrIter<'_> {}

#[cfg(test)]
mod tests {
    use super::contains_nul;

    /// Every length the scan splits differently (under 8, 8 to 15, whole and partial blocks
    /// of 16), with a NUL at each place or none: the same answer as a byte-by-byte look. The
    /// other bytes include those the word arithmetic could mistake for a NUL (1, which a
    /// borrow turns to 0; bytes with the high bit set).
    #[test]
    fn contains_nul_finds_a_nul_anywhere() {
        for fill in [[b'x'; 4], [1, 0x80, 0xff, 1]] {
            let mut bytes: [u8; 50] = core::array::from_fn(|i| fill[i % 4]);
            for len in 0..bytes.len() {
                assert!(!contains_nul(&bytes[..len]), "none in {len}");
                for at in 0..len {
                    let was = core::mem::replace(&mut bytes[at], 0);
                    assert!(contains_nul(&bytes[..len]), "at {at} of {len}");
                    bytes[at] = was;
                }
            }
        }
    }
}
