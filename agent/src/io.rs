//! Standard output and error as `embedded-io` sinks over their file descriptors.

use crate::sys;
use embedded_io::{ErrorKind, ErrorType, Write};
use nlcore::sock::Failed;
use nltelem::cli::UsageError;
use nltelem::config::ConfigError;
use nltelem::sink::TextSink;

/// Standard output or error as an `embedded-io` sink (`write(2)`; `EINTR` retried).
/// Named rather than holding the descriptor: standard output is then all zero bytes, so
/// a buffer of it in `sys::Buffers` stays in `.bss`.
pub enum Fd {
    /// Descriptor 1.
    Stdout,
    /// Descriptor 2.
    Stderr,
}

// A failed `write(2)` is only counted (see `TextSink`): no errno is carried.
impl ErrorType for Fd {
    type Error = ErrorKind;
}

impl Write for Fd {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let fd = match self {
            Fd::Stdout => sys::stdout(),
            Fd::Stderr => sys::stderr(),
        };
        loop {
            match rustix::io::write(fd, buf) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return r.map_err(|_| ErrorKind::Other),
            }
        }
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// Standard output with a line-sized buffer: informational output and exported records.
pub type Stdout = TextSink<Fd, 4096>;

/// A fresh standard output (all zero bytes: see [`Fd`]).
pub const fn stdout() -> Stdout {
    TextSink::new(Fd::Stdout)
}

/// What a line on standard error says after its words (see [`report`]).
pub enum Cause<'a> {
    /// Nothing more.
    Nothing,
    /// `errno <n>`.
    Errno(rustix::io::Errno),
    /// A socket error or a refused request, with the kernel's explanation.
    Failed(&'a Failed<'a>),
    /// A bad command line.
    Usage(&'a UsageError<'a>),
    /// A bad configuration file.
    Config(&'a ConfigError<'a>),
}

/// `nltelem: <words><cause><tail>` on standard error: every failure the agent reports
/// goes through here, so each site passes data rather than carrying code of its own to
/// print it. Fatal errors, so that init systems show why the agent stopped, in one
/// plain line.
pub fn report(words: [&str; 2], cause: Cause<'_>, tail: &str) {
    let mut err: TextSink<Fd, 512> = TextSink::new(Fd::Stderr);
    let w = err.text();
    w.str("nltelem: ");
    w.str(words[0]);
    w.str(words[1]);
    match cause {
        Cause::Nothing => {}
        Cause::Errno(e) => {
            w.str("errno ");
            w.int(e.raw_os_error().into());
        }
        Cause::Failed(f) => f.describe(w),
        Cause::Usage(e) => e.describe(w),
        Cause::Config(e) => e.describe(w),
    }
    w.str(tail);
    w.str("\n");
    err.flush();
}

/// [`report`] of a fixed message.
pub fn fail(message: &str) {
    report([message, ""], Cause::Nothing, "");
}
