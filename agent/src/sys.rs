//! What the program needs from the C library that safe Rust cannot express: the
//! arguments `main` receives, the standard descriptors, signals delivered through a
//! `signalfd`, and the defmt logger's single global state. This is the binary's only
//! `unsafe` code; everything else goes through rustix's safe wrappers.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::ffi::c_int;
#[cfg(panic = "abort")]
use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicBool, Ordering};
#[cfg(panic = "abort")]
use heapless::Vec;
use nltelem::export::Exporters;
use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd};

/// The C runtime calls `main` (crt1's `_start` → `__libc_start_main`); the program is
/// otherwise freestanding.
#[cfg(panic = "abort")]
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let Some(args) = args(argc, argv) else {
        crate::fail!("too many arguments, or one is not UTF-8");
        return c_int::from(nltelem::cli::exit::USAGE);
    };
    c_int::from(crate::run(&args))
}

#[cfg(panic = "abort")]
/// Ends the process at once with `code` (`_exit`: no cleanup to run, nothing buffered in
/// the C library since the program writes through file descriptors).
pub fn exit_now(code: u8) -> ! {
    // SAFETY: _exit takes any status and never returns; no Rust state needs unwinding.
    unsafe { libc::_exit(c_int::from(code)) }
}

/// Most arguments taken; more is a usage error.
#[cfg(panic = "abort")]
const MAX_ARGS: usize = 24;

/// The arguments after the program name, as `&str`. `None`: too many, or one is not
/// UTF-8.
#[cfg(panic = "abort")]
fn args(argc: c_int, argv: *const *const c_char) -> Option<Vec<&'static str, MAX_ARGS>> {
    let mut out = Vec::new();
    let count = usize::try_from(argc).ok()?;
    for i in 1..count {
        // SAFETY: the C runtime passes `argc` valid pointers in `argv`, each to a
        // NUL-terminated string that lives, unchanged, until the process exits.
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
        out.push(arg.to_str().ok()?).ok()?;
    }
    Some(out)
}

/// Standard output.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: descriptor 1 is open for the whole run (the C runtime opens /dev/null in its
    // place if it was closed at exec) and nothing in this program closes it.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Standard error.
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: as for `stdout`, descriptor 2.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// The signals the agent handles; they are blocked and read from a `signalfd`, so no
/// handler ever runs asynchronously.
pub const HANDLED: [c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1];

/// Blocks [`HANDLED`] and returns a non-blocking `signalfd` that reports them. Also
/// ignores `SIGPIPE`, so that a closed pipe on stdout is an error to count, not death.
pub fn signalfd() -> Result<OwnedFd, rustix::io::Errno> {
    // SAFETY: `sigset_t` is plain data for which all-zero bytes are a valid value.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t owned by this frame; the calls only write into it
    // (sigemptyset/sigaddset) or read it (sigprocmask, signalfd), and the null `oldset`
    // tells sigprocmask not to write back. signal() with SIG_IGN installs no handler code.
    let fd = unsafe {
        libc::sigemptyset(&mut set);
        for s in HANDLED {
            libc::sigaddset(&mut set, s);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        if libc::sigprocmask(libc::SIG_BLOCK, &set, core::ptr::null_mut()) != 0 {
            return Err(rustix::io::Errno::INVAL);
        }
        libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
    };
    if fd < 0 {
        return Err(rustix::io::Errno::MFILE);
    }
    // SAFETY: `fd` is a fresh descriptor returned by signalfd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal from a `signalfd` (`None` when none is pending).
pub fn read_signal(fd: BorrowedFd<'_>) -> Option<c_int> {
    // struct signalfd_siginfo is 128 bytes; ssi_signo (u32) comes first.
    let mut info = [0u8; 128];
    match rustix::io::read(fd, &mut info) {
        Ok(128) => Some(c_int::from_ne_bytes([info[0], info[1], info[2], info[3]])),
        _ => None,
    }
}

/// A cell for the logger's global state. defmt's `acquire`/`release` protocol makes access
/// exclusive: [`LOGGER_TAKEN`] is set for the whole of a frame and the program is single
/// threaded with no asynchronous signal handlers (signals go through a `signalfd`).
pub struct LoggerCell<T>(UnsafeCell<T>);

// SAFETY: the program has one thread, and access is serialised by LOGGER_TAKEN (see
// `with`), so the state is never reached from two places at once.
unsafe impl<T> Sync for LoggerCell<T> {}

/// Set while a log frame is being written.
pub static LOGGER_TAKEN: AtomicBool = AtomicBool::new(false);

impl<T> LoggerCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        LoggerCell(UnsafeCell::new(value))
    }

    /// Runs `f` on the state. Callers hold [`LOGGER_TAKEN`] (defmt's acquire), or are the
    /// configuration code that runs outside any frame; a nested call is refused.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        static INSIDE: AtomicBool = AtomicBool::new(false);
        if INSIDE.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: INSIDE was false and is now true until this returns, so this is the only
        // live reference to the contents (single thread, no signal handlers).
        let r = f(unsafe { &mut *self.0.get() });
        INSIDE.store(false, Ordering::Release);
        Some(r)
    }
}

/// Receive buffer: a generic netlink message is at most `NLMSG_GOODSIZE` (a page, at most
/// 8 KiB); twice that leaves room.
pub const RECV_BUFFER: usize = 16 * 1024;

/// Buffer for request replies (a sample, a config, a stats message: each below a page).
pub const REPLY_BUFFER: usize = 8 * 1024;

/// The program's large buffers, in `.bss` rather than on the stack: the kernel maps their
/// pages only when a datagram is written there, so a buffer sized for the largest message
/// costs resident memory only for the messages that come.
///
/// In this order (`repr(C)`), so the pages that are written are few: the start of each
/// buffer (where the datagrams land), and the exporters' list; their MQTT slots, written
/// only when configured, come last.
#[repr(C)]
pub struct Buffers {
    /// Replies to the daemon's requests.
    pub replies: [u8; REPLY_BUFFER],
    /// Datagrams from the groups (and one-shot replies).
    pub recv: [u8; RECV_BUFFER],
    /// The daemon's exporters (their MQTT buffers are most of their size).
    pub exporters: Exporters,
}

struct BuffersCell(UnsafeCell<Buffers>);

// SAFETY: `buffers` hands out the only reference, once (BUFFERS_TAKEN), so no two places
// ever reach the contents.
unsafe impl Sync for BuffersCell {}

static BUFFERS: BuffersCell = BuffersCell(UnsafeCell::new(Buffers {
    replies: [0; REPLY_BUFFER],
    recv: [0; RECV_BUFFER],
    exporters: Exporters::empty(),
}));
static BUFFERS_TAKEN: AtomicBool = AtomicBool::new(false);

/// The buffers, for the one command that runs; `None` on a second call.
pub fn buffers() -> Option<&'static mut Buffers> {
    if BUFFERS_TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: BUFFERS_TAKEN was false, so this is the first and only reference ever made
    // to the contents, and it lives as long as the static.
    Some(unsafe { &mut *BUFFERS.0.get() })
}

#[defmt::global_logger]
struct Logger;

// SAFETY: acquire/release bracket every frame and refuse nesting through LOGGER_TAKEN;
// write/flush touch the state only through `LoggerCell::with`, which is exclusive.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        if LOGGER_TAKEN.swap(true, Ordering::Acquire) {
            // A log call inside a log call: defmt forbids it; drop the inner frame.
            return;
        }
        crate::log::start_frame();
    }

    unsafe fn flush() {}

    unsafe fn release() {
        crate::log::end_frame();
        LOGGER_TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        crate::log::write(bytes);
    }
}
