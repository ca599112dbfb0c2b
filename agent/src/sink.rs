//! Output through `embedded-io` sinks: formatted text is gathered in a fixed buffer and
//! written in one call when a line is complete or the buffer fills, so a record is never
//! split across more system calls than needed and nothing is allocated.

use core::fmt;
use embedded_io::Write;

/// Text gathered for a sink: `core::fmt::Write` in, `embedded_io::Write` out.
pub struct TextBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Bytes that did not fit and were dropped (the sink was not drained in time).
    pub dropped: u64,
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TextBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        TextBuf {
            buf: [0; N],
            len: 0,
            dropped: 0,
        }
    }

    /// The gathered text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Forgets the gathered text.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Writes everything gathered to `sink` and empties the buffer.
    pub fn drain_to<W: Write>(&mut self, sink: &mut W) -> Result<(), W::Error> {
        let r = sink.write_all(&self.buf[..self.len]);
        self.len = 0;
        r
    }
}

impl<const N: usize> fmt::Write for TextBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        if s.len() > room {
            self.dropped = self.dropped.saturating_add(s.len() as u64);
            return Err(fmt::Error);
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

/// Text written straight through to an `embedded-io` sink: gathered in a fixed buffer and
/// written when [`flush`](Self::flush) is called or the buffer fills. A sink error is
/// remembered (and the text dropped) rather than retried: output must never stall the agent.
pub struct TextSink<W: Write, const N: usize> {
    sink: W,
    text: TextBuf<N>,
    /// Whether a write to the sink failed since the last [`flush`](Self::flush).
    pub failed: bool,
}

impl<W: Write, const N: usize> TextSink<W, N> {
    /// A sink with an empty buffer.
    pub const fn new(sink: W) -> Self {
        TextSink {
            sink,
            text: TextBuf::new(),
            failed: false,
        }
    }

    /// Writes what is gathered; returns whether everything since the last flush went out.
    pub fn flush(&mut self) -> bool {
        if self.text.drain_to(&mut self.sink).is_err() {
            self.failed = true;
        }
        let _ = self.sink.flush();
        !core::mem::take(&mut self.failed)
    }
}

impl<W: Write, const N: usize> fmt::Write for TextSink<W, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.text.len + s.len() > N && self.text.drain_to(&mut self.sink).is_err() {
            self.failed = true;
        }
        if s.len() > N {
            // Longer than the whole buffer: straight through.
            if self.sink.write_all(s.as_bytes()).is_err() {
                self.failed = true;
            }
            return Ok(());
        }
        self.text.write_str(s)
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
    use core::fmt::Write as _;

    #[test]
    fn text_is_gathered_and_drained() {
        let mut t = TextBuf::<16>::new();
        write!(t, "abc {}", 12).unwrap();
        let mut out = [0u8; 32];
        let mut sink: &mut [u8] = &mut out;
        t.drain_to(&mut sink).unwrap();
        assert_eq!(&out[..6], b"abc 12");
        assert!(t.as_bytes().is_empty());
    }

    #[test]
    fn text_sink_drains_when_full() {
        let mut out = [0u8; 64];
        {
            let mut t = TextSink::<&mut [u8], 8>::new(&mut out[..]);
            write!(t, "0123456").unwrap();
            write!(t, "789").unwrap();
            t.write_str("abcdefghijkl").unwrap();
            assert!(t.flush());
        }
        assert_eq!(&out[..22], b"0123456789abcdefghijkl");
        let mut tiny = [0u8; 4];
        let mut t = TextSink::<&mut [u8], 8>::new(&mut tiny[..]);
        write!(t, "0123456").unwrap();
        assert!(!t.flush());
    }

    #[test]
    fn overflow_is_refused_and_counted() {
        let mut t = TextBuf::<4>::new();
        assert!(t.write_str("abc").is_ok());
        assert!(t.write_str("de").is_err());
        assert_eq!((t.as_bytes(), t.dropped), (&b"abc"[..], 2));
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
