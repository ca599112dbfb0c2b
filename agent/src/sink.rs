//! Output through `embedded-io` sinks: formatted text is gathered in a fixed buffer and
//! written in one call when a line is complete or the buffer fills, so a record is never
//! split across more system calls than needed and nothing is allocated.

use embedded_io::Write;
use nlcore::text::Text;

/// Text written straight through to an `embedded-io` sink: gathered in a fixed buffer and
/// written when [`flush`](Self::flush) is called or the buffer fills. A sink error is
/// remembered (and the text dropped) rather than retried: output must never stall the agent.
pub struct TextSink<W: Write, const N: usize> {
    head: Head<W>,
    buf: [u8; N],
}

/// What a [`TextSink`] keeps beside its buffer: the work is done on the two apart (the
/// buffer as a slice), one copy per sink type, not one per buffer size as well.
struct Head<W> {
    sink: W,
    /// Bytes gathered in the buffer.
    len: usize,
    /// A write to the sink failed since the last flush.
    failed: bool,
}

impl<W: Write, const N: usize> TextSink<W, N> {
    /// A sink with an empty buffer.
    pub const fn new(sink: W) -> Self {
        TextSink {
            head: Head {
                sink,
                len: 0,
                failed: false,
            },
            buf: [0; N],
        }
    }

    /// The sink, as the `dyn Text` the renderings take.
    pub fn text(&mut self) -> &mut dyn Text {
        self
    }

    /// Writes what is gathered; `false` if anything since the last flush failed.
    pub fn flush(&mut self) -> bool {
        self.head.drain(&self.buf);
        let _ = self.head.sink.flush();
        !core::mem::take(&mut self.head.failed)
    }
}

impl<W: Write, const N: usize> Text for TextSink<W, N> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.head.gather(&mut self.buf, bytes);
    }
}

impl<W: Write> Head<W> {
    /// Appends `bytes` to `buf[..len]`, writing out what is gathered first when they do
    /// not fit, and writing them straight out when they are larger than `buf`.
    fn gather(&mut self, buf: &mut [u8], bytes: &[u8]) {
        if self.len + bytes.len() > buf.len() {
            self.drain(buf);
        }
        match buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.write(bytes),
        }
    }

    /// Writes out `buf[..len]` and empties it.
    fn drain(&mut self, buf: &[u8]) {
        self.write(buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.sink.write_all(bytes).is_err() {
            self.failed = true;
        }
    }
}

/// The size cap of a log file: what to do before writing `len` more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeCap {
    /// Most bytes in one file.
    pub cap: u64,
    /// Bytes in the current file.
    pub used: u64,
}

/// The decision of [`SizeCap::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write into the current file.
    Write,
    /// Move the current file aside (`FILE.1`) and start a new one, then write.
    RotateFirst,
    /// The piece alone is larger than the cap: drop it.
    Drop,
}

impl SizeCap {
    /// Decides for `len` bytes and accounts for them.
    pub fn admit(&mut self, len: u64) -> Admit {
        if len > self.cap {
            return Admit::Drop;
        }
        if self.used.saturating_add(len) > self.cap {
            self.used = len;
            return Admit::RotateFirst;
        }
        self.used += len;
        Admit::Write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_sink_drains_when_full() {
        let mut out = [0u8; 64];
        {
            let mut t = TextSink::<&mut [u8], 8>::new(&mut out[..]);
            t.text().str("0123456");
            t.text().uint(789);
            t.text().str("abcdefghijkl");
            assert!(t.flush());
        }
        assert_eq!(&out[..22], b"0123456789abcdefghijkl");
        let mut tiny = [0u8; 4];
        let mut t = TextSink::<&mut [u8], 8>::new(&mut tiny[..]);
        t.text().str("0123456");
        assert!(!t.flush());
    }

    #[test]
    fn size_cap_rotates_before_overflowing() {
        let mut c = SizeCap { cap: 10, used: 0 };
        assert_eq!(c.admit(6), Admit::Write);
        assert_eq!(c.admit(4), Admit::Write);
        assert_eq!(c.admit(1), Admit::RotateFirst);
        assert_eq!(c.used, 1);
        assert_eq!(c.admit(11), Admit::Drop);
        assert_eq!(c.used, 1);
    }
}
