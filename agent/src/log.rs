//! defmt log frames to a bounded sink: standard error, or a file that is moved to
//! `FILE.1` when it reaches its size cap (so the two together never exceed twice the cap).
//! Frames are rzCOBS-encoded and zero-delimited; `cargo xtask logs FILE` decodes them with
//! the unstripped ELF of the `release-syms` profile.

use crate::sys::{stderr, LoggerCell};
use core::ffi::CStr;
use heapless::Vec;
use nltelem::config::{LogTarget, MAX_VALUE};
use nltelem::sink::{Admit, SizeCap};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Bytes of one frame gathered before it is written (longer frames go out in pieces).
const FRAME_BUFFER: usize = 256;

/// Where frames go: standard error, or a file when there is one, behind a size cap. No
/// log is standard error with a cap of 0, which every frame exceeds, and standard error's
/// cap is never reached: one path for the three targets.
struct Target {
    file: Option<LogFile>,
    cap: SizeCap,
}

/// The log file. Its path is kept with its NUL, as the system takes it: given a `&str`,
/// rustix would copy it into a `PATH_MAX` buffer on the stack of the logger, under
/// whatever logs.
struct LogFile {
    fd: OwnedFd,
    path: PathBuffer,
}

/// A log path and its NUL, with room for ".1" more: the path the file is moved to is
/// made from it only when it is moved, not kept beside it (one copy of the name in the
/// logger's state, one less in its set-up).
type PathBuffer = Vec<u8, { MAX_VALUE + 3 }>;

struct State {
    encoder: defmt::Encoder,
    target: Target,
    frame: [u8; FRAME_BUFFER],
    len: usize,
}

static STATE: LoggerCell<State> = LoggerCell::new(State {
    encoder: defmt::Encoder::new(),
    target: Target {
        file: None,
        cap: SizeCap { cap: 0, used: 0 },
    },
    frame: [0; FRAME_BUFFER],
    len: 0,
});

/// Why the log could not be opened.
pub struct OpenError(pub rustix::io::Errno);

/// Points the log at `target` (closing a previous file).
pub fn configure(target: &LogTarget, cap_bytes: u32) -> Result<(), OpenError> {
    let (file, cap) = match target {
        LogTarget::None => (None, 0),
        LogTarget::Stderr => (None, u64::MAX),
        LogTarget::File(name) => {
            // The capacity holds the name (at most MAX_VALUE bytes) and the NUL.
            let mut path = Vec::new();
            let _ = path.extend_from_slice(name.as_bytes());
            let _ = path.push(0);
            let fd = open_log(&path).map_err(OpenError)?;
            (Some(LogFile { fd, path }), u64::from(cap_bytes))
        }
    };
    // The file is opened for appending: its end is what it holds already.
    let used = file.as_ref().map_or(0, |f| {
        rustix::fs::seek(&f.fd, rustix::fs::SeekFrom::End(0)).unwrap_or(0)
    });
    STATE.with(|s| {
        s.target = Target {
            file,
            cap: SizeCap { cap, used },
        }
    });
    Ok(())
}

/// A path kept with its NUL; one with a NUL inside is refused as the system would.
fn c_path(path: &[u8]) -> Result<&CStr, Errno> {
    CStr::from_bytes_with_nul(path).map_err(|_| Errno::INVAL)
}

fn open_log(path: &[u8]) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        c_path(path)?,
        OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o640),
    )
}

/// A step of a log frame: defmt's acquire, write and release.
pub(crate) enum Step<'a> {
    Start,
    Write(&'a [u8]),
    End,
}

/// Runs one encoder step with the frame buffer as its output; the end of a frame writes
/// the frame out. One routine for the three steps: one entry into the state, one output
/// callback.
#[inline(never)]
pub(crate) fn step(step: Step<'_>) {
    STATE.with(|s| {
        let State {
            encoder,
            frame,
            len,
            target,
        } = s;
        let out: &mut dyn FnMut(&[u8]) = &mut |bytes| push(frame, len, target, bytes);
        match step {
            Step::Start => encoder.start_frame(out),
            Step::Write(bytes) => encoder.write(bytes, out),
            Step::End => {
                encoder.end_frame(out);
                emit(target, frame.get(..*len).unwrap_or_default());
                *len = 0;
            }
        }
    });
}

fn push(frame: &mut [u8; FRAME_BUFFER], len: &mut usize, target: &mut Target, bytes: &[u8]) {
    for &b in bytes {
        // `>=`, though it never passes the end: the store below then needs no bounds check.
        if *len >= FRAME_BUFFER {
            emit(target, &frame[..]);
            *len = 0;
        }
        frame[*len] = b;
        *len += 1;
    }
}

/// Writes encoded bytes to the target; a failing log never stops the agent.
fn emit(target: &mut Target, bytes: &[u8]) {
    let admit = target.cap.admit(bytes.len() as u64);
    if admit == Admit::Drop {
        return;
    }
    let fd = match &mut target.file {
        None => stderr(),
        Some(LogFile { fd, path }) => {
            if admit == Admit::RotateFirst {
                // The path with ".1" in place of its NUL (which it always ends with).
                let mut rotated = PathBuffer::new();
                let name = path.split_last().map_or(&[][..], |(_, name)| name);
                let _ = rotated.extend_from_slice(name);
                let _ = rotated.extend_from_slice(b".1\0");
                if let (Ok(from), Ok(to)) = (c_path(path), c_path(&rotated)) {
                    let _ = rustix::fs::rename(from, to);
                }
                // On failure keep writing to the moved file rather than nowhere.
                if let Ok(new) = open_log(path) {
                    *fd = new;
                }
            }
            let fd: &OwnedFd = fd;
            fd.as_fd()
        }
    };
    let _ = rustix::io::write(fd, bytes);
}

// The shipped image is a plain static executable (not PIE, see .cargo/config.toml): the
// pointer this macro keeps in the `.defmt` section needs no run-time relocation. A host
// dev build (std, PIE) would have the loader relocate inside `.defmt` and crash, so it logs
// without timestamps.
#[cfg(panic = "abort")]
defmt::timestamp!("{=u64:us}", nltelem::now_us());
