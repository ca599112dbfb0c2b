//! Output through `embedded-io` sinks: formatted text is gathered in a fixed buffer and
//! written in one call when a line is complete or the buffer fills, so a record is never
//! split across more system calls than needed and nothing is allocated.

use embedded_io::Write;
use nlcore::text::{Fixed, Text};

/// Text written straight through to an `embedded-io` sink: gathered in a fixed buffer and
/// written when [`flush`](Self::flush) is called or the buffer fills. A sink error is
/// remembered (and the text dropped) rather than retried: output must never stall the agent.
pub struct TextSink<W: Write, const N: usize> {
    sink: W,
    text: Fixed<N>,
    /// A write to the sink failed since the last flush.
    pub failed: bool,
}

impl<W: Write, const N: usize> TextSink<W, N> {
    /// A sink with an empty buffer.
    pub const fn new(sink: W) -> Self {
        TextSink {
            sink,
            text: Fixed::new(),
            failed: false,
        }
    }

    /// The sink, as the `dyn Text` the renderings take.
    pub fn text(&mut self) -> &mut dyn Text {
        self
    }

    /// Writes what is gathered; `false` if anything since the last flush failed.
    pub fn flush(&mut self) -> bool {
        self.drain();
        let _ = self.sink.flush();
        !core::mem::take(&mut self.failed)
    }

    fn drain(&mut self) {
        let gathered = self.text.get().unwrap_or_default();
        if self.sink.write_all(gathered).is_err() {
            self.failed = true;
        }
        self.text.clear();
    }
}

impl<W: Write, const N: usize> Text for TextSink<W, N> {
    fn bytes(&mut self, bytes: &[u8]) {
        if self.text.len() + bytes.len() > N {
            self.drain();
        }
        if bytes.len() > N {
            if self.sink.write_all(bytes).is_err() {
                self.failed = true;
            }
        } else {
            self.text.bytes(bytes);
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
