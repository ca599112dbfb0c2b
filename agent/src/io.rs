//! Standard output and error as `embedded-io` sinks over their file descriptors.

use crate::sys;
use embedded_io::{ErrorKind, ErrorType, Write};
use nlcore::text::Text;
use nltelem::sink::TextSink;
use rustix::fd::BorrowedFd;

/// A file descriptor as an `embedded-io` sink (`write(2)`; `EINTR` retried).
pub struct Fd(pub BorrowedFd<'static>);

/// A failed `write(2)`.
#[derive(Debug, Clone, Copy)]
pub struct WriteError(pub rustix::io::Errno);

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("write failed")
    }
}

impl core::error::Error for WriteError {}

impl embedded_io::Error for WriteError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            rustix::io::Errno::PIPE => ErrorKind::BrokenPipe,
            _ => ErrorKind::Other,
        }
    }
}

impl ErrorType for Fd {
    type Error = WriteError;
}

impl Write for Fd {
    fn write(&mut self, buf: &[u8]) -> Result<usize, WriteError> {
        loop {
            match rustix::io::write(self.0, buf) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return r.map_err(WriteError),
            }
        }
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        Ok(())
    }
}

/// Standard output with a line-sized buffer: informational output and exported records.
pub type Stdout = TextSink<Fd, 4096>;

/// A fresh standard output.
pub fn stdout() -> Stdout {
    TextSink::new(Fd(sys::stdout()))
}

/// Prints `nltelem: <message>` as one plain line on standard error (fatal errors, so that
/// init systems show why the agent stopped); `say` writes the message.
pub fn error_line(say: &dyn Fn(&mut dyn Text)) {
    let mut err: TextSink<Fd, 512> = TextSink::new(Fd(sys::stderr()));
    let w = err.text();
    w.str("nltelem: ");
    say(w);
    w.byte(b'\n');
    err.flush();
}

/// [`error_line`] with a fixed message.
pub fn fail(message: &str) {
    error_line(&|w| w.str(message));
}
