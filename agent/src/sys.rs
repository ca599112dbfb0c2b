//! What the program needs below safe Rust: the process entry and its arguments, exit, the
//! standard descriptors, signals delivered through a `signalfd`, the monotonic clock, and
//! the defmt logger's single global state. This is the binary's only `unsafe` code;
//! everything else goes through rustix's safe wrappers.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::ffi::c_int;
#[cfg(panic = "abort")]
use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicBool, Ordering};
#[cfg(panic = "abort")]
use heapless::Vec;
use nltelem::export::{idle_slots, ExporterList, Slots};
use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd};
use syscalls::{syscall, Sysno};

/// The process entry: no C library runs before or around the program. The kernel starts
/// here with the stack pointer at `argc`, followed by the `argv` pointers; this passes
/// that address to [`start`] with the stack aligned as the ABI wants for a call. A naked
/// function rather than `global_asm!` so that the compiler marks it ARM or Thumb as it
/// does every other function (the instructions are valid in both).
#[cfg(panic = "abort")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
extern "C" fn nltelem_entry() -> ! {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {start}",
        "ud2",
        start = sym start,
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "mov x29, xzr",
        "mov x30, xzr",
        "mov x0, sp",
        "bl {start}",
        "brk #0",
        start = sym start,
    );
    #[cfg(target_arch = "arm")]
    core::arch::naked_asm!(
        "mov fp, #0",
        "mov lr, #0",
        "mov r0, sp",
        "bic r1, r0, #7",
        "mov sp, r1",
        "bl {start}",
        "udf #0",
        start = sym start,
    );
}

/// Where [`nltelem_entry`] hands over: reads the arguments, runs the program, exits with its code.
#[cfg(panic = "abort")]
extern "C" fn start(stack: *const usize) -> ! {
    // SAFETY: at process entry the kernel has put `argc` at the stack pointer `_start`
    // passed here, then `argc` pointers to NUL-terminated argument strings (then a null
    // pointer); they stay unchanged for the life of the process.
    let (argc, argv) = unsafe { (*stack, stack.add(1).cast::<*const c_char>()) };
    open_standard_descriptors();
    let mut inv = nltelem::cli::Invocation::default();
    let code = match command_line(argc, argv, &mut inv) {
        Ok(()) => crate::run(&inv),
        Err(code) => code,
    };
    exit_now(code)
}

/// The command line, parsed into `inv`; on an error (said) the exit code. Out of line, so that the
/// arguments' array (392 bytes) and the parser's frame are gone from the stack before the
/// command runs: the parsed command line is all it needs, and its strings are the
/// kernel's, which live as long as the process.
#[cfg(panic = "abort")]
#[inline(never)]
fn command_line(
    argc: usize,
    argv: *const *const c_char,
    inv: &mut nltelem::cli::Invocation<'static>,
) -> Result<(), u8> {
    let mut args = Vec::new();
    match read_args(argc, argv, &mut args) {
        Some(()) => crate::parse(&args, inv),
        None => {
            crate::io::fail("too many arguments, or one is not UTF-8");
            Err(nltelem::cli::exit::USAGE)
        }
    }
}

/// Opens `/dev/null` in place of any of descriptors 0, 1 and 2 that the program was started
/// without: otherwise the first socket the agent opens would become its standard output,
/// and its text would go into that socket. (A C run-time does this for set-uid programs
/// only; there is none here.) `open` takes the lowest free descriptor: the ones it
/// returns below 3 fill the gaps, and the first above them is closed again.
#[cfg(panic = "abort")]
fn open_standard_descriptors() {
    for _ in 0..3 {
        match rustix::fs::open(
            c"/dev/null",
            rustix::fs::OFlags::RDWR,
            rustix::fs::Mode::empty(),
        ) {
            // Kept open for the life of the process.
            Ok(null) if rustix::fd::AsRawFd::as_raw_fd(&null) < 3 => core::mem::forget(null),
            _ => return,
        }
    }
}

#[cfg(panic = "abort")]
/// Ends the process at once with `code` (`exit_group`: nothing is buffered outside the
/// program's own sinks, which their owners flush).
pub fn exit_now(code: u8) -> ! {
    // SAFETY: exit_group takes any status and does not return.
    unsafe {
        let _ = syscall!(Sysno::exit_group, usize::from(code));
    }
    // exit_group does not return; this only satisfies the type.
    loop {
        core::hint::spin_loop();
    }
}

/// Most arguments taken; more is a usage error.
#[cfg(panic = "abort")]
const MAX_ARGS: usize = 24;

/// The arguments after the program name, as `&str`, into `out` (filled in place: an
/// `Option<Vec>` returned would be a second copy of its 392 bytes on the stack). `None`:
/// too many, or one is not UTF-8.
#[cfg(panic = "abort")]
fn read_args(
    argc: usize,
    argv: *const *const c_char,
    out: &mut Vec<&'static str, MAX_ARGS>,
) -> Option<()> {
    for i in 1..argc {
        // SAFETY: the kernel passes `argc` valid pointers in `argv`, each to a
        // NUL-terminated string that lives, unchanged, until the process exits.
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
        out.push(arg.to_str().ok()?).ok()?;
    }
    Some(())
}

/// Standard output.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: descriptor 1 is open for the whole run (`open_standard_descriptors` opens
    // /dev/null in its place if the program was started without it) and nothing in this
    // program closes it.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Standard error.
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: as for `stdout`, descriptor 2.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// The signals the agent handles; they are blocked and read from a `signalfd`, so no
/// handler ever runs asynchronously.
pub const HANDLED: [c_int; 4] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1];

/// Signal numbers (the same on every architecture the agent builds for).
pub const SIGHUP: c_int = 1;
/// Interrupt (Ctrl-C).
pub const SIGINT: c_int = 2;
/// User signal 1: log the counters.
pub const SIGUSR1: c_int = 10;
/// Write to a pipe with no reader.
const SIGPIPE: c_int = 13;
/// Terminate.
pub const SIGTERM: c_int = 15;

/// A kernel signal set (`sigset_t` of the system calls: 64 bits on every architecture).
/// For constants: the sets are known when the program is built.
const fn sigset(signals: &[c_int]) -> u64 {
    let (mut set, mut i) = (0, 0);
    while i < signals.len() {
        set |= 1 << (signals[i] - 1);
        i += 1;
    }
    set
}

/// Blocks [`HANDLED`] and returns a non-blocking `signalfd` that reports them. `SIGPIPE` is
/// blocked too (and never read), so that a closed pipe on stdout is an error to count, not
/// death.
pub fn signalfd() -> Result<OwnedFd, rustix::io::Errno> {
    const HANDLED_SET: u64 = sigset(&HANDLED);
    const BLOCKED_SET: u64 = HANDLED_SET | sigset(&[SIGPIPE]);
    let (handled, blocked) = (HANDLED_SET, BLOCKED_SET);
    const SIG_BLOCK: usize = 0;
    const SFD_NONBLOCK: usize = 0o4000;
    const SFD_CLOEXEC: usize = 0o2000000;
    let set_size = core::mem::size_of::<u64>();
    // SAFETY: both calls read a u64 signal set on this frame, of the size passed, and
    // keep no reference to it; the null old set tells rt_sigprocmask not to write back.
    let fd = unsafe {
        syscall!(
            Sysno::rt_sigprocmask,
            SIG_BLOCK,
            &blocked as *const u64,
            0usize,
            set_size
        )
        .and_then(|_| {
            syscall!(
                Sysno::signalfd4,
                -1isize as usize,
                &handled as *const u64,
                set_size,
                SFD_NONBLOCK | SFD_CLOEXEC
            )
        })
    }
    .map_err(|e| rustix::io::Errno::from_raw_os_error(e.into_raw()))?;
    // SAFETY: `fd` is a fresh descriptor returned by signalfd4 that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
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
/// In this order (`repr(C)`), so the pages written for every message are few and
/// together: the exporters' list first (it shares the page of the other statics before
/// it), then the output buffer (all of it), then the receive buffer, whose start (where
/// datagrams land) follows the output; the replies (heartbeats and resyncs only) and the
/// exporters' slots (written only for the kinds of sink configured; the MQTT buffers are
/// most of their size) come last. Every byte of the initial value is zero, so the static
/// takes no space in the file.
#[repr(C)]
pub struct Buffers {
    /// The daemon's exporters: their list.
    pub exporters: ExporterList,
    /// Standard output, for the command that runs (written from its start).
    pub out: crate::io::Stdout,
    /// Datagrams from the groups (and one-shot replies).
    pub recv: [u8; RECV_BUFFER],
    /// Replies to the daemon's requests.
    pub replies: [u8; REPLY_BUFFER],
    /// The daemon's exporters: the sinks' state.
    pub slots: Slots,
}

struct BuffersCell(UnsafeCell<Buffers>);

// SAFETY: `buffers` hands out the only reference, once (BUFFERS_TAKEN), so no two places
// ever reach the contents.
unsafe impl Sync for BuffersCell {}

static BUFFERS: BuffersCell = BuffersCell(UnsafeCell::new(Buffers {
    exporters: ExporterList::empty(),
    out: crate::io::stdout(),
    recv: [0; RECV_BUFFER],
    replies: [0; REPLY_BUFFER],
    slots: idle_slots(),
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
        crate::log::step(crate::log::Step::Start);
    }

    unsafe fn flush() {}

    unsafe fn release() {
        crate::log::step(crate::log::Step::End);
        LOGGER_TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        crate::log::step(crate::log::Step::Write(bytes));
    }
}
