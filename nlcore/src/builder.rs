//! Writes netlink messages into caller-provided memory.
//!
//! ```text
//! begin()          genl_header()  put_u32()        nest_start() put_u64() nest_end()  finish()
//!   | nlmsghdr (len=?) | genlmsghdr | nlattr | u32 | nlattr(N) | nlattr | u64 |        -> len
//! ```
//! Lengths are patched when a message or nest is closed. Every write checks the space it
//! needs first: a full buffer returns [`Error::BufferFull`] and leaves the bytes already
//! written untouched. Several messages may follow one another in one buffer (a batch).

use crate::consts::*;
use crate::error::count;
use crate::wire::{GenlMsgHdr, NlMsgHdr};
use crate::{align, Error};
use core::ffi::CStr;

/// Memory a [`MsgBuilder`] writes into: a caller's slice ([`SliceBuffer`]) or a
/// `heapless::Vec<u8, N>`.
pub trait Buffer {
    /// Bytes written so far.
    fn len(&self) -> usize;
    /// Whether nothing has been written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends `n` bytes and returns them for the caller to fill (their old contents are
    /// unspecified), or fails with [`Error::BufferFull`] and changes nothing.
    fn grow(&mut self, n: usize) -> Result<&mut [u8], Error>;
    /// The bytes written so far.
    fn written(&self) -> &[u8];
    /// The bytes written so far, to patch lengths in place.
    fn written_mut(&mut self) -> &mut [u8];
    /// Forgets everything from `len` on.
    fn truncate(&mut self, len: usize);
}

/// A caller's byte slice with a fill level.
#[derive(Debug)]
pub struct SliceBuffer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceBuffer<'a> {
    /// An empty buffer over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceBuffer { buf, len: 0 }
    }
    /// The written part, for the caller to send.
    pub fn into_written(self) -> &'a mut [u8] {
        &mut self.buf[..self.len]
    }
}

impl Buffer for SliceBuffer<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
    #[inline(always)]
    fn grow(&mut self, n: usize) -> Result<&mut [u8], Error> {
        let start = self.len;
        let free = self.buf.len() - start;
        if n > free {
            return Err(Error::BufferFull {
                need: count(n),
                free: count(free),
            });
        }
        self.len = start + n;
        Ok(&mut self.buf[start..start + n])
    }
    #[inline(always)]
    fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    #[inline(always)]
    fn written_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

impl<const N: usize> Buffer for heapless::Vec<u8, N> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    #[inline]
    fn grow(&mut self, n: usize) -> Result<&mut [u8], Error> {
        let start = self.as_slice().len();
        let free = N - start;
        if n > free {
            return Err(Error::BufferFull {
                need: count(n),
                free: count(free),
            });
        }
        // Zero-filling is the safe way to extend a heapless::Vec; the caller overwrites it.
        self.resize(start + n, 0).map_err(|_| Error::BufferFull {
            need: count(n),
            free: count(free),
        })?;
        Ok(&mut self.as_mut_slice()[start..])
    }
    #[inline(always)]
    fn written(&self) -> &[u8] {
        self.as_slice()
    }
    #[inline(always)]
    fn written_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        heapless::Vec::truncate(self, len)
    }
}

impl<B: Buffer + ?Sized> Buffer for &mut B {
    #[inline(always)]
    fn len(&self) -> usize {
        (**self).len()
    }
    #[inline(always)]
    fn grow(&mut self, n: usize) -> Result<&mut [u8], Error> {
        (**self).grow(n)
    }
    #[inline(always)]
    fn written(&self) -> &[u8] {
        (**self).written()
    }
    #[inline(always)]
    fn written_mut(&mut self) -> &mut [u8] {
        (**self).written_mut()
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        (**self).truncate(len)
    }
}

/// An open nested attribute; hand it back to [`MsgBuilder::nest_end`] or
/// [`MsgBuilder::nest_cancel`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a nest must be closed with nest_end or nest_cancel"]
pub struct Nest {
    offset: usize,
}

const NO_MESSAGE: usize = usize::MAX;

/// Builds netlink messages into a [`Buffer`].
#[derive(Debug)]
pub struct MsgBuilder<B: Buffer> {
    buf: B,
    msg_start: usize,
}

impl<'a> MsgBuilder<SliceBuffer<'a>> {
    /// A builder writing into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        MsgBuilder::new_in(SliceBuffer::new(buf))
    }
}

macro_rules! putters {
    ($($(#[$doc:meta])* $name:ident($t:ty) => $conv:ident;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(&mut self, attr: u16, value: $t) -> Result<(), Error> {
            self.put_fixed(attr, value.$conv())
        }
    )*};
}

impl<B: Buffer> MsgBuilder<B> {
    /// A builder appending to `buf` (a `heapless::Vec`, `&mut` one, or a [`SliceBuffer`]).
    pub fn new_in(buf: B) -> Self {
        MsgBuilder {
            buf,
            msg_start: NO_MESSAGE,
        }
    }

    /// Opens a message: writes its header with a length patched by [`finish`](Self::finish).
    /// The message starts at the next 4-byte boundary.
    #[inline]
    pub fn begin(&mut self, ty: u16, flags: u16, seq: u32, pid: u32) -> Result<(), Error> {
        if self.msg_start != NO_MESSAGE {
            return Err(Error::OutOfOrder);
        }
        let pad = align(self.buf.len()) - self.buf.len();
        let start = self.buf.len() + pad;
        let region = self.buf.grow(pad + NLMSG_HDRLEN)?;
        let (pad_bytes, hdr) = region.split_at_mut(pad);
        pad_bytes.fill(0);
        let hdr: &mut [u8; NLMSG_HDRLEN] = hdr.try_into().map_err(|_| Error::OutOfOrder)?;
        NlMsgHdr {
            len: 0,
            ty,
            flags,
            seq,
            pid,
        }
        .emit(hdr);
        self.msg_start = start;
        Ok(())
    }

    /// Writes a generic netlink header (`cmd`, `version`).
    #[inline(always)]
    pub fn genl_header(&mut self, cmd: u8, version: u8) -> Result<(), Error> {
        let hdr = GenlMsgHdr {
            cmd,
            version,
            reserved: 0,
        };
        self.put_raw(&hdr.to_bytes())
    }

    /// Appends raw bytes (a family header such as `ifinfomsg`), padded to 4.
    #[inline]
    pub fn put_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let total = align(bytes.len());
        let region = self.buf.grow(total)?;
        let (data, pad) = region.split_at_mut(bytes.len());
        data.copy_from_slice(bytes);
        pad.fill(0);
        Ok(())
    }

    /// An attribute with a fixed-size value: one bounds check, header and value in one go.
    #[inline(always)]
    fn put_fixed<const L: usize>(&mut self, attr: u16, value: [u8; L]) -> Result<(), Error> {
        let total = align(NLA_HDRLEN + L);
        let region = self.buf.grow(total)?;
        region[0..2].copy_from_slice(&((NLA_HDRLEN + L) as u16).to_ne_bytes());
        region[2..4].copy_from_slice(&attr.to_ne_bytes());
        region[NLA_HDRLEN..NLA_HDRLEN + L].copy_from_slice(&value);
        region[NLA_HDRLEN + L..].fill(0);
        Ok(())
    }

    /// An attribute whose value is the concatenation of `parts` (e.g. text and its NUL).
    #[inline(always)]
    fn put_parts(&mut self, attr: u16, head: &[u8], tail: &[u8]) -> Result<(), Error> {
        let len = NLA_HDRLEN + head.len() + tail.len();
        let nla_len = u16::try_from(len).map_err(|_| Error::TooLong)?;
        let region = self.buf.grow(align(len))?;
        let (hdr, rest) = region.split_at_mut(NLA_HDRLEN);
        hdr[0..2].copy_from_slice(&nla_len.to_ne_bytes());
        hdr[2..4].copy_from_slice(&attr.to_ne_bytes());
        let (h, rest) = rest.split_at_mut(head.len());
        h.copy_from_slice(head);
        let (t, pad) = rest.split_at_mut(tail.len());
        t.copy_from_slice(tail);
        pad.fill(0);
        Ok(())
    }

    /// A binary attribute (`NLA_BINARY`): the bytes as given.
    #[inline]
    pub fn put_bytes(&mut self, attr: u16, value: &[u8]) -> Result<(), Error> {
        self.put_parts(attr, value, &[])
    }

    /// A flag attribute (`NLA_FLAG`): present, empty.
    #[inline]
    pub fn put_flag(&mut self, attr: u16) -> Result<(), Error> {
        self.put_fixed(attr, [])
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`). A string that holds a NUL itself is
    /// refused ([`Error::InteriorNul`]): a reader would see only its first part.
    #[inline]
    pub fn put_str(&mut self, attr: u16, value: &str) -> Result<(), Error> {
        if crate::wire::contains_nul(value.as_bytes()) {
            return Err(Error::InteriorNul);
        }
        self.put_parts(attr, value.as_bytes(), &[0])
    }

    /// A NUL-terminated string from a `CStr`, which cannot hold a NUL: no scan needed.
    #[inline]
    pub fn put_cstr(&mut self, attr: u16, value: &CStr) -> Result<(), Error> {
        self.put_parts(attr, value.to_bytes_with_nul(), &[])
    }

    putters! {
        /// A `u8` attribute.
        put_u8(u8) => to_ne_bytes;
        /// A host-order `u16` attribute.
        put_u16(u16) => to_ne_bytes;
        /// A host-order `u32` attribute.
        put_u32(u32) => to_ne_bytes;
        /// A host-order `u64` attribute, 12 bytes on the wire (no pad attribute; readers
        /// must not assume 8-byte alignment of the value).
        put_u64(u64) => to_ne_bytes;
        /// An `i8` attribute.
        put_i8(i8) => to_ne_bytes;
        /// A host-order `i16` attribute.
        put_i16(i16) => to_ne_bytes;
        /// A host-order `i32` attribute.
        put_i32(i32) => to_ne_bytes;
        /// A host-order `i64` attribute.
        put_i64(i64) => to_ne_bytes;
        /// A network-order `u16` (e.g. a port). OR `NLA_F_NET_BYTEORDER` into `attr` where
        /// the family expects the flag.
        put_be16(u16) => to_be_bytes;
        /// A network-order `u32` (e.g. an IPv4 address).
        put_be32(u32) => to_be_bytes;
        /// A network-order `u64`.
        put_be64(u64) => to_be_bytes;
    }

    /// Opens a nested attribute (flagged `NLA_F_NESTED`); attributes written until
    /// [`nest_end`](Self::nest_end) go inside it.
    #[inline]
    pub fn nest_start(&mut self, attr: u16) -> Result<Nest, Error> {
        let offset = self.buf.len();
        let hdr = self.buf.grow(NLA_HDRLEN)?;
        hdr[0..2].copy_from_slice(&0u16.to_ne_bytes());
        hdr[2..4].copy_from_slice(&(attr | NLA_F_NESTED).to_ne_bytes());
        Ok(Nest { offset })
    }

    /// Closes a nest: patches its length. Fails with [`Error::TooLong`] (and removes the
    /// nest) when its contents exceed the 16-bit length field.
    #[inline]
    pub fn nest_end(&mut self, nest: Nest) -> Result<(), Error> {
        // A stale handle (its message cancelled or cleared) may point at or past the end.
        let len = self
            .buf
            .len()
            .checked_sub(nest.offset)
            .filter(|&len| len >= NLA_HDRLEN)
            .ok_or(Error::OutOfOrder)?;
        let Ok(nla_len) = u16::try_from(len) else {
            self.buf.truncate(nest.offset);
            return Err(Error::TooLong);
        };
        let written = self.buf.written_mut();
        written[nest.offset..nest.offset + 2].copy_from_slice(&nla_len.to_ne_bytes());
        Ok(())
    }

    /// Drops a nest and everything written inside it.
    pub fn nest_cancel(&mut self, nest: Nest) {
        self.buf.truncate(nest.offset);
    }

    /// Closes the open message: patches `nlmsg_len` and returns it.
    #[inline]
    pub fn finish(&mut self) -> Result<usize, Error> {
        let start = self.msg_start;
        if start == NO_MESSAGE {
            return Err(Error::OutOfOrder);
        }
        // Cancelling a nest opened in an earlier message truncates below this one's header.
        let len = self
            .buf
            .len()
            .checked_sub(start)
            .filter(|&len| len >= NLMSG_HDRLEN)
            .ok_or(Error::OutOfOrder)?;
        let nlmsg_len = u32::try_from(len).map_err(|_| Error::TooLong)?;
        self.buf.written_mut()[start..start + 4].copy_from_slice(&nlmsg_len.to_ne_bytes());
        self.msg_start = NO_MESSAGE;
        Ok(len)
    }

    /// Drops the open message and everything written in it.
    pub fn cancel(&mut self) {
        if self.msg_start != NO_MESSAGE {
            self.buf.truncate(self.msg_start);
            self.msg_start = NO_MESSAGE;
        }
    }

    /// Forgets everything written, to reuse the buffer.
    pub fn clear(&mut self) {
        self.buf.truncate(0);
        self.msg_start = NO_MESSAGE;
    }

    /// Everything written so far (finished messages and any open one).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.written()
    }

    /// Bytes written so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether a message is open.
    pub fn in_message(&self) -> bool {
        self.msg_start != NO_MESSAGE
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
}
