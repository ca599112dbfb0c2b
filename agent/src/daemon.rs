//! `nltelem run`: the daemon.
//!
//! ```text
//! load config ─► open log ─► loop { connect ─► serve until: signal to stop ─► exit 0
//!                                 │             module gone ─► wait (backoff, controller
//!                                 │                            notifications) ─► connect
//!                                 └ absent ─► say so once ─► wait ─► connect }
//! ```
//! One `poll` waits on the data socket, the signalfd and the controller watcher, with a
//! timeout to the next heartbeat, so every wait is bounded and a stop signal is handled
//! within one poll round (well under a second).

use crate::conn;
use crate::io::{self, Cause, Stdout};
use crate::{log, sys};
use core::ffi::CStr;
use nlcore::consts::{CTRL_CMD_DELFAMILY, CTRL_CMD_NEWFAMILY};
use nlcore::sock::{Error, FamilyChange, NlSocket};
use nlcore::text::{phrase, Arg};
use nlcore::NlMsg;
use nltelem::accounting::{Counter, Counters, SeqTracker};
use nltelem::backoff::Backoff;
use nltelem::cli::exit;
use nltelem::config::{self, Config, Transport};
use nltelem::decode::{Event, Sample};
use nltelem::export::Exporters;
use nltelem::format::{self, Style};
use nltelem::now_ms;
use nltelem::route::{CtrlFamily, Route};
use nltelem_proto::{attr, cmd};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

use crate::sys::{Buffers, RECV_BUFFER};

/// Longest wait between two `Exporters::poll` calls (their contract: at least once a
/// second).
const EXPORT_POLL_MS: u32 = 1000;

/// Datagrams read per wake-up before the other sources get a turn.
const MAX_BATCH: u32 = 64;

/// `path` and its NUL, copied to the start of `scratch`: the form the system takes. Given
/// a `&str`, rustix makes that copy itself, in a `PATH_MAX` buffer on the stack of every
/// caller.
fn c_path<'s>(path: &str, scratch: &'s mut [u8]) -> Result<&'s CStr, Errno> {
    let bytes = path.as_bytes();
    let with_nul = scratch.get_mut(..=bytes.len()).ok_or(Errno::NAMETOOLONG)?;
    let (last, text) = with_nul.split_last_mut().ok_or(Errno::INVAL)?;
    text.copy_from_slice(bytes);
    *last = 0;
    CStr::from_bytes_with_nul(with_nul).map_err(|_| Errno::INVAL)
}

/// `nltelem: <before><what>errno <n>` on standard error.
fn say_errno(before: &str, what: &str, e: Errno) {
    io::report([before, what], Cause::Errno(e), "");
}

/// Reads a configuration file (at most [`config::MAX_FILE_BYTES`]) through `scratch`
/// (at least that size and one more byte) into `into`, which holds the defaults (and is
/// of no use on failure). `None`: the default file, when it can be opened (`into` keeps
/// the defaults when it cannot); a file given must exist. An out
/// parameter, parsed in place, rather than a result: each `Result<Config, _>` would be
/// one more copy of the configuration (640 bytes) on the stack.
pub fn read_config(given: Option<&str>, scratch: &mut [u8], into: &mut Config) -> Result<(), u8> {
    let path = given.unwrap_or(config::DEFAULT_PATH);
    // Either failure of the system's is said after the path, in one place.
    let (what, e) = 'failed: {
        let opened = c_path(path, scratch).and_then(|c| {
            rustix::fs::open(c, rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty())
        });
        let fd = match opened {
            Ok(fd) => fd,
            // No default file: the defaults.
            Err(_) if given.is_none() => return Ok(()),
            Err(e) => break 'failed (": cannot open: ", e),
        };
        // One byte more than the largest file, so that a larger one is seen (and refused).
        let limit = scratch.len().min(config::MAX_FILE_BYTES + 1);
        let (bytes, _) = scratch.split_at_mut(limit);
        let mut len = 0;
        // Until the end of the file or of the room (`get_mut`: no bounds check to fail).
        while let Some(rest @ [_, ..]) = bytes.get_mut(len..) {
            match rustix::io::read(&fd, rest) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(Errno::INTR) => {}
                Err(e) => break 'failed (": cannot read: ", e),
            }
        }
        return match &config::parse_bytes(bytes.get(..len).unwrap_or_default(), into) {
            Ok(()) => Ok(()),
            Err(e) => {
                io::report([path, ": "], Cause::Config(e), "");
                Err(exit::CONFIG)
            }
        };
    };
    say_errno(path, what, e);
    Err(exit::CONFIG)
}

/// The lines the daemon says on standard output, each ended by a NUL and picked by its
/// place ([`GONE`] ...); a line about the module's transport is followed by its classic
/// unit's form (see [`Agent::say_transport`]). Data walked by one loop, not a call with
/// its strings at each place.
const LINES: &str = "module gone; waiting for it\0\
    configuration reloaded\0\
    module not loaded (no generic netlink family \x01); waiting for it\0\
    module not loaded (netlink unit \x02 absent); waiting for it\0\
    ready (genl family \x01 id \x02)\0\
    ready (netlink unit \x02)\0";
/// In [`LINES`]: the module went away.
const GONE: u8 = 0;
/// In [`LINES`]: a reload was taken.
const RELOADED: u8 = 1;
/// In [`LINES`]: the module is not there (a transport's pair).
const ABSENT: u8 = 2;
/// In [`LINES`]: a session is ready (a transport's pair).
const READY: u8 = 4;

/// Waits until one of `fds` (data, signals, watcher) is readable or `timeout_ms` passed (a
/// signal is no error); which of them are readable. `None`: `poll` failed (said on stderr).
/// `monitor` waits here too.
pub fn wait(fds: [BorrowedFd<'_>; 3], timeout_ms: u32) -> Option<[bool; 3]> {
    let ts = Timespec {
        tv_sec: (timeout_ms / 1000).into(),
        tv_nsec: (timeout_ms % 1000 * 1_000_000).into(),
    };
    let mut polled = fds.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN));
    match poll(&mut polled, Some(&ts)) {
        Ok(_) | Err(Errno::INTR) => {}
        Err(e) => {
            conn::say_error("poll failed: ", &Error::Os(e.raw_os_error()), "");
            return None;
        }
    }
    Some(polled.map(|fd| fd.revents().intersects(PollFlags::IN | PollFlags::ERR)))
}

/// The watcher's socket, or (without a watcher) `instead`: a stand-in that keeps the poll
/// set one shape; `Agent::family_event` then finds no watcher to read.
fn watched<'a>(watcher: &'a Option<NlSocket>, instead: BorrowedFd<'a>) -> BorrowedFd<'a> {
    watcher.as_ref().map_or(instead, |w| w.as_fd())
}

/// How a connected session ended.
enum End {
    /// The module went away: wait for it.
    Gone,
    /// Connect (again) at once: the wait for an absent module is over, or a reloaded
    /// configuration needs new sockets.
    Retry,
    /// The module's transport could not be opened because the module is not there: wait
    /// for it.
    Absent,
    /// Exit with this code: 0 after a stop signal, another when the agent gives up.
    Exit(u8),
}

/// The request socket and the route to the module: what every request of a session
/// takes, passed as one.
type Requests = (NlSocket, Route);

struct Agent<'p> {
    path: &'p str,
    config: Config,
    counters: Counters,
    /// Sequence trackers of the telemetry and events groups.
    telemetry: SeqTracker,
    events: SeqTracker,
    /// The exporters live in static memory (`sys::Buffers`), configured there in place:
    /// they are large (their buffers), and on the stack every frame that held them would
    /// keep their size resident.
    exporters: Exporters<'p>,
    /// Standard output, in static memory too (its buffer is 4 KiB).
    out: &'p mut Stdout,
    /// The wait before the next attempt to connect; reset once a session is ready.
    backoff: Backoff,
    signals: OwnedFd,
    /// The controller watcher: a socket in `nlctrl`'s `notify` group.
    watcher: Option<NlSocket>,
}

/// Runs the daemon with the configuration at `path`; returns the exit code.
// Out of line: each command keeps its buffers in its own stack frame, so the peak
// stack is that of the one command that runs, not of all of them together.
#[inline(never)]
pub fn run(path: &str, bufs: &mut Buffers) -> u8 {
    // Signals first: the configuration is then read straight into the agent (a
    // configuration read before it would be a second copy in this frame).
    let signals = match sys::signalfd() {
        Ok(fd) => fd,
        Err(e) => {
            say_errno("", "cannot set up signals: ", e);
            return exit::SOFTWARE;
        }
    };
    let mut agent = Agent {
        path,
        exporters: Exporters::new(&mut bufs.exporters, &mut bufs.slots),
        config: Config::default(),
        counters: Counters::default(),
        telemetry: SeqTracker::new(),
        events: SeqTracker::new(),
        out: &mut bufs.out,
        backoff: Backoff::new(),
        signals,
        watcher: None,
    };
    if let Err(code) = read_config(Some(path), &mut bufs.recv, &mut agent.config) {
        return code;
    }
    if let Err(log::OpenError(e)) = agent.apply(true) {
        say_errno("", "cannot open the log file: ", e);
        return exit::IOERR;
    }
    defmt::info!("nltelem {=str} starting", env!("CARGO_PKG_VERSION"));
    let code = agent.main_loop(&mut bufs.recv, &mut bufs.replies);
    // Either end stops the exporters cleanly (MQTT: retained offline, DISCONNECT): they
    // are in static memory, so nothing drops them when this returns.
    agent.exporters.clear();
    // Exit 0 is a stop signal's (the other ends give up with another code).
    if code == exit::OK {
        // The final counters, so a supervisor's log shows what this run saw.
        format::counters(agent.out.text(), &agent.counters, Style::Text);
        defmt::info!("stopped");
    }
    agent.out.flush();
    code
}

impl Agent<'_> {
    /// The controller watcher follows the transport: generic netlink only, opened when
    /// there is none yet (again on a reload, when it could not be opened before). Without
    /// it (joining `notify` needs root) the agent still finds the module again, by polling
    /// with backoff.
    fn follow_transport(&mut self) {
        match self.config.transport {
            Transport::Genl if self.watcher.is_none() => self.watcher = conn::open_watcher().ok(),
            Transport::Genl => {}
            Transport::Unit(_) => self.watcher = None,
        }
    }

    /// Connects and serves until a stop signal or a fatal end; the exit code.
    fn main_loop(&mut self, buf: &mut [u8; RECV_BUFFER], replies: &mut [u8]) -> u8 {
        // An absent module is said once, until a session opens its sockets again.
        let mut said_absent = false;
        loop {
            let end = self.serve(buf, replies);
            match end {
                End::Gone => {
                    self.counters.bump(Counter::ModuleLost, 1);
                    self.say(GONE, 0);
                    defmt::warn!("module gone");
                }
                End::Absent if !said_absent => {
                    self.say_transport(ABSENT, 0);
                    defmt::warn!("module absent; waiting");
                }
                _ => {}
            }
            said_absent = matches!(end, End::Gone | End::Absent);
            let end = match end {
                // Not straight back after a module that went: one that is there but
                // refuses at once (before the session is ready, which resets the backoff)
                // would be connected to again and again in a loop that never reads the
                // signals.
                End::Gone | End::Absent => self.wait_for_module(buf),
                end => end,
            };
            match end {
                End::Exit(code) => return code,
                End::Gone | End::Absent | End::Retry => {}
            }
        }
    }

    /// Says line `line` of [`LINES`] about the module's transport: for generic netlink
    /// (the family's name, and `id`), or the next, for the classic unit (its number).
    fn say_transport(&mut self, line: u8, id: u32) {
        match self.config.transport {
            Transport::Genl => self.say(line, id),
            Transport::Unit(number) => self.say(line + 1, number),
        }
    }

    /// Writes `nltelem: ` and line `line` of [`LINES`] as one line on standard output,
    /// with the family's name in place of `\x01` and `number` (decimal) in place of `\x02`
    /// ([`phrase`]).
    fn say(&mut self, line: u8, number: u32) {
        let w = self.out.text();
        w.str("nltelem: ");
        let args = [Arg::Word(&self.config.family), Arg::Num(number.into())];
        phrase(w, LINES, line.into(), &args);
        w.byte(b'\n');
        self.out.flush();
    }

    /// After SIGHUP: reads the file again and applies it; whether it needs new sockets, or
    /// `None` when the file is bad (said; nothing changes). New sockets end the session at
    /// once: closing its sockets leaves their groups. `buf` is free for reading the file.
    fn reload(&mut self, buf: &mut [u8]) -> Option<bool> {
        let Some(same_sockets) = self.take_config(buf) else {
            io::fail("configuration not reloaded: the running one stays");
            return None;
        };
        if self.apply(false).is_err() {
            io::fail("cannot open the new log file; logging stays as it was");
        }
        self.say(RELOADED, 0);
        defmt::info!("configuration reloaded");
        Some(!same_sockets)
    }

    /// Sets up what follows the configuration (log, exporters, watcher), at the start and
    /// after a reload. `Err`: the log cannot be opened; the rest is then set up after a
    /// reload, and not at the start (the agent exits).
    #[inline(never)]
    fn apply(&mut self, starting: bool) -> Result<(), log::OpenError> {
        let config = &self.config;
        let logged = log::configure(&config.log, config.log_max_bytes);
        if starting && logged.is_err() {
            return logged;
        }
        self.exporters.configure(&config.exports);
        self.follow_transport();
        logged
    }

    /// [`reload`](Self::reload)'s reading: the file into a configuration of its own, then in
    /// place of the running one; whether the sockets stay, or `None` when the file is bad
    /// (said).
    #[inline(never)]
    fn take_config(&mut self, buf: &mut [u8]) -> Option<bool> {
        let mut config = Config::default();
        read_config(Some(self.path), buf, &mut config).ok()?;
        let old = &self.config;
        let same_sockets = config.transport == old.transport
            && config.family == old.family
            && config.groups == old.groups
            && config.rcvbuf_bytes == old.rcvbuf_bytes
            && config.accept_senders == old.accept_senders;
        self.config = config;
        Some(same_sockets)
    }

    /// Handles the pending signals but a reload, which is the caller's: whether one is
    /// asked for. `Err`: a stop signal.
    fn signals(&mut self) -> Result<bool, End> {
        let mut reload = false;
        while let Some(sig) = sys::read_signal(self.signals.as_fd()) {
            match sig {
                sys::SIGTERM | sys::SIGINT => return Err(End::Exit(exit::OK)),
                sys::SIGHUP => reload = true,
                sys::SIGUSR1 => {
                    format::counters(self.out.text(), &self.counters, Style::Text);
                    self.exporters.report(self.out.text());
                    self.out.flush();
                    let [received, lost, overruns, exported, export_errors, forged, malformed, ..] =
                        &self.counters.0;
                    defmt::info!(
                        "counters received={=u64} lost={=u64} overruns={=u64} exported={=u64} export_errors={=u64} forged={=u64} malformed={=u64}",
                        received, lost, overruns, exported, export_errors, forged, malformed
                    );
                }
                _ => {}
            }
        }
        Ok(reload)
    }

    /// Waits the next backoff delay (or less, when the controller announces our family)
    /// before the next attempt to connect.
    fn wait_for_module(&mut self, buf: &mut [u8]) -> End {
        let deadline = now_ms() + u64::from(self.backoff.next_ms());
        loop {
            // A reloaded configuration is tried at once, whether it keeps the sockets or not.
            let [_, reloaded, watch_ready] = match self.round(deadline, buf, None) {
                Ok(ready) => ready,
                Err(end) => return end,
            };
            if reloaded
                || (watch_ready && self.family_event(buf) == Some(FamilyChange::Appeared))
                || now_ms() >= deadline
            {
                return End::Retry;
            }
        }
    }

    /// One wait, until `until` (monotonic ms) or a second at most, of a session (its `data`
    /// socket) or for the module (`None`: the signalfd stands in for the data socket), and
    /// the signals it brought: `[data readable, configuration reloaded with the sockets
    /// kept, watcher readable]`, or how the session or the wait ends. The session's loop
    /// and the wait for the module share it, so the signals are answered in one place. A
    /// session that ends closes its sockets at once, which leaves their groups.
    fn round(
        &mut self,
        until: u64,
        buf: &mut [u8],
        data: Option<BorrowedFd<'_>>,
    ) -> Result<[bool; 3], End> {
        let signals = self.signals.as_fd();
        let data = data.unwrap_or(signals);
        // At least once a second: the network exporters need `poll` that often. At most
        // EXPORT_POLL_MS: the cast keeps the value.
        let timeout_ms = until.saturating_sub(now_ms()).min(EXPORT_POLL_MS.into()) as u32;
        let ready = wait([data, signals, watched(&self.watcher, signals)], timeout_ms);
        let Some([data_ready, sig_ready, watch_ready]) = ready else {
            return Err(End::Exit(exit::SOFTWARE));
        };
        let mut kept = false;
        if sig_ready && self.signals()? {
            match self.reload(buf) {
                Some(true) => return Err(End::Retry),
                Some(false) => kept = true,
                None => {}
            }
        }
        // Every round, at least once a second: what the network exporters need.
        self.exporters.poll();
        Ok([data_ready, kept, watch_ready])
    }

    /// Reads the watcher's queued notifications; the last change of our family, if any.
    /// A lost or unreadable notification is reported as `Appeared` so the caller checks.
    fn family_event(&mut self, buf: &mut [u8]) -> Option<FamilyChange> {
        let w = self.watcher.as_mut()?;
        let name = self.config.family.as_bytes();
        let mut change = None;
        for _ in 0..MAX_BATCH {
            let datagram = match w.recv_from(buf) {
                Ok(d) => d,
                Err(Error::WouldBlock) => break,
                Err(_) => {
                    change = Some(FamilyChange::Appeared);
                    break;
                }
            };
            for msg in datagram.messages() {
                // A message that cannot be read may have been ours.
                let Ok(msg) = msg else {
                    change = Some(FamilyChange::Appeared);
                    continue;
                };
                // The name compared once, then the command.
                match CtrlFamily::parse(&msg, name).map(|f| f.cmd) {
                    Some(CTRL_CMD_NEWFAMILY) => change = Some(FamilyChange::Appeared),
                    Some(CTRL_CMD_DELFAMILY) => change = Some(FamilyChange::Disappeared),
                    _ => {}
                }
            }
        }
        change
    }

    /// Connects and serves the connection until it ends. The sockets are opened here,
    /// where they are used: handed from the opening to the session, they were moved
    /// through a tuple and a `Result` (copies, and their code).
    fn serve(&mut self, buf: &mut [u8; RECV_BUFFER], replies: &mut [u8]) -> End {
        let mut requests = match conn::open_requests(&self.config, buf) {
            Ok(opened) => opened,
            Err(e) => return unreachable(&e),
        };
        let route = requests.1;
        let mut data = match conn::open_data(&self.config, &route) {
            Ok(data) => data,
            Err(e) => return unreachable(&e),
        };
        self.telemetry.reset();
        self.events.reset();
        if let Some(end) = self.push_settings(&mut requests, replies) {
            return end;
        }
        self.backoff.reset();
        let id = match route {
            Route::Genl { family, .. } => family.into(),
            Route::Classic { .. } => 0,
        };
        self.say_transport(READY, id);
        defmt::info!("ready");
        let heartbeat_ms = u64::from(self.config.heartbeat_ms);
        // Without heartbeats, a time never reached.
        let mut next_heartbeat = match heartbeat_ms {
            0 => u64::MAX,
            ms => now_ms() + ms,
        };
        loop {
            let [data_ready, reloaded, watch_ready] =
                match self.round(next_heartbeat, buf, Some(data.as_fd())) {
                    Ok(ready) => ready,
                    Err(end) => return end,
                };
            if reloaded {
                if let Some(end) = self.push_settings(&mut requests, replies) {
                    return end;
                }
            }
            if data_ready {
                match self.drain(&mut data, &mut requests, buf, replies) {
                    Ok(()) => {}
                    Err(e) if conn::is_absent(&e) => return End::Gone,
                    Err(e) => return End::Exit(conn::say_error("receiving failed: ", &e, "")),
                }
            }
            if watch_ready && self.family_event(buf) == Some(FamilyChange::Disappeared) {
                return End::Gone;
            }
            let now = now_ms();
            if now >= next_heartbeat {
                next_heartbeat = now + heartbeat_ms;
                match self.heartbeat(&mut requests, replies) {
                    Ok(()) => {}
                    Err(e) => match conn::exit_code(&e) {
                        exit::UNAVAILABLE => return End::Gone,
                        // Said once: no further heartbeat in this session (a refusal for lack
                        // of privilege stays one).
                        exit::NOPERM => {
                            io::fail(
                                "heartbeat refused (needs CAP_NET_ADMIN); counters stay local",
                            );
                            next_heartbeat = u64::MAX;
                        }
                        _ => defmt::warn!("heartbeat failed"),
                    },
                }
            }
        }
    }

    /// Pushes the configured module settings; `Some` ends the session.
    fn push_settings(&mut self, (ctl, route): &mut Requests, replies: &mut [u8]) -> Option<End> {
        let settings = &self.config.module;
        if settings.is_empty() {
            return None;
        }
        let pushed = conn::exchange(
            ctl,
            route,
            cmd::SET_CONFIG,
            &|b| settings.put(b),
            replies,
            &mut conn::ignore_reply,
        );
        match &pushed {
            Ok(()) => {
                defmt::info!("settings pushed");
                None
            }
            Err(f) if conn::is_absent(&f.error) => Some(End::Gone),
            // Without the privilege the agent cannot run as configured; any other refusal
            // is of a value the agent accepted: said, and the module keeps its own settings.
            Err(f) => {
                match conn::say_failed("the module refused the settings: ", f, conn::NEEDS_ADMIN) {
                    exit::NOPERM => Some(End::Exit(exit::NOPERM)),
                    _ => None,
                }
            }
        }
    }

    fn heartbeat(&mut self, (ctl, route): &mut Requests, replies: &mut [u8]) -> Result<(), Error> {
        let c = &self.counters;
        conn::exchange(
            ctl,
            route,
            cmd::HEARTBEAT,
            &|b| {
                use attr::heartbeat as h;
                use Counter as C;
                // Each attribute and its counter, as constant data, in the message's order.
                const SENT: [(u16, Counter); 5] = [
                    (h::RECEIVED, C::Received),
                    (h::LOST, C::Lost),
                    (h::EXPORTED, C::Exported),
                    (h::OVERRUNS, C::Overruns),
                    (h::EXPORT_ERRORS, C::ExportErrors),
                ];
                SENT.iter()
                    .try_for_each(|&(kind, counter)| b.put_u64(kind, c.get(counter)))
            },
            replies,
            &mut conn::ignore_reply,
        )
        .map_err(|f| f.error)
    }

    /// Reads what is queued on the data socket (at most [`MAX_BATCH`] datagrams).
    // Left to the compiler, which puts it in `run` (its one caller): 48 bytes smaller, and
    // the per-sample stack 80 bytes shallower, than out of line.
    fn drain(
        &mut self,
        data: &mut NlSocket,
        requests: &mut Requests,
        buf: &mut [u8; RECV_BUFFER],
        replies: &mut [u8],
    ) -> Result<(), Error> {
        let mut resync = false;
        for _ in 0..MAX_BATCH {
            // A datagram's messages are read; anything else is counted, by what it was.
            let refused = match data.recv_from(buf) {
                Ok(d) => {
                    for msg in d.messages() {
                        match msg {
                            Ok(m) => self.on_message(&requests.1, &m),
                            Err(_) => self.counters.bump(Counter::Malformed, 1),
                        }
                    }
                    continue;
                }
                Err(Error::WouldBlock) => break,
                Err(Error::Overrun) => {
                    defmt::warn!("receive queue overrun: samples lost");
                    resync = true;
                    Counter::Overruns
                }
                Err(Error::ForeignSender { port }) => {
                    defmt::warn!("dropped a datagram from port {=u32}", port);
                    Counter::Forged
                }
                Err(Error::Truncated { .. }) => Counter::Malformed,
                Err(e) => return Err(e),
            };
            self.counters.bump(refused, 1);
        }
        let resynced = match resync {
            true => self.resync(requests, replies),
            false => Ok(()),
        };
        // What the batch and the snapshot printed, in one flush.
        self.out.flush();
        resynced
    }

    /// After an overrun: a fresh snapshot, so the exporters have current values at once.
    /// Its messages are unicast replies, outside the group's numbering.
    fn resync(&mut self, (ctl, route): &mut Requests, replies: &mut [u8]) -> Result<(), Error> {
        let Agent {
            exporters,
            out,
            counters,
            ..
        } = self;
        let r = conn::exchange(
            ctl,
            route,
            cmd::GET_SAMPLE,
            &conn::no_attrs,
            replies,
            &mut |_, attrs| {
                if let Ok(s) = &Sample::parse(attrs) {
                    export(exporters, out, counters, s);
                }
                Ok(())
            },
        );
        match r {
            Ok(()) => Ok(()),
            Err(f) if conn::is_absent(&f.error) => Err(f.error),
            Err(_) => {
                defmt::warn!("resync request failed");
                Ok(())
            }
        }
    }

    // Out of line: the binary measured smaller (48 bytes, again in this round).
    #[inline(never)]
    fn on_message(&mut self, route: &Route, msg: &NlMsg<'_>) {
        let Some((command, attrs)) = route.open(msg) else {
            return;
        };
        // Parsed values are matched by reference: moved out of their `Result`, each was
        // copied (300 bytes and more) in this frame. The exporters' outcome is counted
        // once, for either kind.
        let outcome = match command {
            cmd::SAMPLE => match &Sample::parse(attrs) {
                Ok(s) => {
                    if let Some((expected, got)) =
                        self.counters.account(&mut self.telemetry, s.seq())
                    {
                        defmt::warn!(
                            "telemetry sequence restarted: expected {=u64}, got {=u64}",
                            expected,
                            got
                        );
                    }
                    self.exporters.sample(s, self.out.text())
                }
                Err(_) => return self.counters.bump(Counter::Malformed, 1),
            },
            cmd::EVENT => match &Event::parse(attrs) {
                Ok(e) => {
                    self.counters.account(&mut self.events, e.seq());
                    let outcome = self.exporters.event(e, self.out.text());
                    defmt::info!("event {=str}", e.kind_name());
                    outcome
                }
                Err(_) => return self.counters.bump(Counter::Malformed, 1),
            },
            _ => return,
        };
        self.counters.bump(Counter::Exported, outcome.exported);
        self.counters.bump(Counter::ExportErrors, outcome.failed);
    }
}

/// How a session ends whose transport could not be opened: waiting for a module that is
/// absent, or giving up (said).
fn unreachable(e: &Error) -> End {
    match conn::exit_code(e) {
        exit::UNAVAILABLE => End::Absent,
        _ => {
            let what = "cannot open the module's transport: ";
            End::Exit(conn::say_error(what, e, conn::NEEDS_ROOT))
        }
    }
}

fn export(
    exporters: &mut Exporters<'_>,
    out: &mut Stdout,
    counters: &mut Counters,
    s: &Sample<'_>,
) {
    let outcome = exporters.sample(s, out.text());
    counters.bump(Counter::Exported, outcome.exported);
    counters.bump(Counter::ExportErrors, outcome.failed);
}
