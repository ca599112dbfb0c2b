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

use crate::conn::{self, ConnError};
use crate::io::{self, Stdout};
use crate::{fail, log, sys};
use core::fmt::Write as _;
use core::time::Duration;
use nlcore::sock::{Error, FamilyChange, FamilyWatcher, NlSocket};
use nlcore::{MsgBuilder, NlMsg};
use nltelem::accounting::{bump, Counters, Seen, SeqTracker};
use nltelem::backoff::Backoff;
use nltelem::cli::exit;
use nltelem::config::{self, Config, Transport};
use nltelem::decode::{Event, Sample};
use nltelem::export::Exporters;
use nltelem::format::{self, Style};
use nltelem::route::Route;
use nltelem_proto::{attr, cmd};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, OwnedFd};

use crate::sys::RECV_BUFFER;

/// Longest wait between two `Exporters::poll` calls (their contract: at least once a
/// second).
const EXPORT_POLL_MS: u64 = 1000;

/// Datagrams read per wake-up before the other sources get a turn.
const MAX_BATCH: u32 = 64;

/// Reads a configuration file (at most [`config::MAX_FILE_BYTES`]).
pub fn read_config(path: &str) -> Result<Config, u8> {
    let mut bytes = [0u8; config::MAX_FILE_BYTES + 1];
    let fd = match rustix::fs::open(path, rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            fail!("{path}: cannot open: errno {}", e.raw_os_error());
            return Err(exit::CONFIG);
        }
    };
    let mut len = 0;
    while len < bytes.len() {
        match rustix::io::read(&fd, &mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                fail!("{path}: cannot read: errno {}", e.raw_os_error());
                return Err(exit::CONFIG);
            }
        }
    }
    config::parse_bytes(&bytes[..len]).map_err(|e| {
        fail!("{path}: {e}");
        exit::CONFIG
    })
}

fn now_ms() -> u64 {
    sys::now_ms()
}

/// Waits until one of `fds` is readable or `timeout_ms` passed; a signal is no error.
fn wait(fds: &mut [PollFd<'_>], timeout_ms: u64) -> Result<(), Error> {
    let ts = Timespec {
        tv_sec: i64::try_from(timeout_ms / 1000).unwrap_or(i64::MAX),
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as _,
    };
    match poll(fds, Some(&ts)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(Error::Os(e.raw_os_error())),
    }
}

fn readable(fd: &PollFd<'_>) -> bool {
    fd.revents().intersects(PollFlags::IN | PollFlags::ERR)
}

/// How a connected session ended. (A `Config` travels by value: there is no heap, and
/// it moves once per reload.)
#[allow(clippy::large_enum_variant)]
enum End {
    /// Stop signal: exit 0.
    Stop,
    /// The module went away: wait for it.
    Gone,
    /// Try to connect again (the wait for an absent module is over).
    Retry,
    /// A reloaded configuration needs new sockets.
    Reconnect(Config),
    /// Give up with this exit code.
    Fatal(u8),
}

/// What a signal asks for.
#[allow(clippy::large_enum_variant)]
enum Asked {
    Nothing,
    Stop,
    Reload(Config),
}

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
    exporters: &'p mut Exporters,
    out: Stdout,
    signals: OwnedFd,
    watcher: Option<FamilyWatcher>,
}

/// Runs the daemon with the configuration at `path`; returns the exit code.
// Out of line: each command keeps its buffers in its own stack frame, so the peak
// stack is that of the one command that runs, not of all of them together.
#[inline(never)]
pub fn run(path: &str) -> u8 {
    let config = match read_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(log::OpenError(e)) = log::configure(&config.log, config.log_max_bytes) {
        fail!("cannot open the log file: errno {}", e.raw_os_error());
        return exit::IOERR;
    }
    let signals = match sys::signalfd() {
        Ok(fd) => fd,
        Err(e) => {
            fail!("cannot set up signals: errno {}", e.raw_os_error());
            return exit::SOFTWARE;
        }
    };
    let Some(bufs) = sys::buffers() else {
        return exit::SOFTWARE;
    };
    bufs.exporters.configure(&config.exports);
    let mut agent = Agent {
        path,
        exporters: &mut bufs.exporters,
        config,
        counters: Counters::default(),
        telemetry: SeqTracker::new(),
        events: SeqTracker::new(),
        out: io::stdout(),
        signals,
        watcher: None,
    };
    defmt::info!("nltelem {=str} starting", env!("CARGO_PKG_VERSION"));
    agent.open_watcher(&mut bufs.recv);
    let code = agent.main_loop(&mut bufs.recv, &mut bufs.replies);
    // A fatal end too stops the exporters cleanly (MQTT: retained offline, DISCONNECT):
    // they are in static memory, so nothing drops them when this returns.
    agent.exporters.clear();
    code
}

impl Agent<'_> {
    /// The controller watcher (generic netlink only). Without it (joining `notify` needs
    /// root) the agent still finds the module again, by polling with backoff.
    fn open_watcher(&mut self, buf: &mut [u8]) {
        self.watcher = match self.config.transport {
            Transport::Genl => conn::open_watcher(buf).ok(),
            Transport::Unit(_) => None,
        };
    }

    fn main_loop(&mut self, buf: &mut [u8; RECV_BUFFER], replies: &mut [u8]) -> u8 {
        let mut backoff = Backoff::new();
        let mut said_absent = false;
        loop {
            let connected = conn::open_requests(&self.config, buf).and_then(|(ctl, route)| {
                let data = conn::open_data(&self.config, &route)?;
                Ok((ctl, data, route))
            });
            let end = match connected {
                Ok((ctl, data, route)) => {
                    backoff.reset();
                    said_absent = false;
                    self.serve(ctl, data, route, buf, replies)
                }
                Err(ConnError::Absent) => {
                    if !said_absent {
                        self.say_absent();
                        said_absent = true;
                    }
                    self.wait_for_module(backoff.next_ms(), buf)
                }
                Err(ConnError::Failed(e)) => {
                    fail!(
                        "cannot open the module's transport: {}{}",
                        e,
                        conn::hint(&e)
                    );
                    End::Fatal(conn::exit_code(&e))
                }
            };
            match end {
                End::Stop => {
                    // Dropping the exporters ends them cleanly (MQTT: retained offline,
                    // DISCONNECT), before the process exits.
                    self.exporters.clear();
                    // The final counters, so a supervisor's log shows what this run saw.
                    let c = self.counters;
                    let _ = format::counters(&mut self.out, &c, Style::Text);
                    self.out.flush();
                    defmt::info!("stopped");
                    return exit::OK;
                }
                End::Fatal(code) => {
                    self.out.flush();
                    return code;
                }
                End::Gone => {
                    bump(&mut self.counters.module_lost, 1);
                    let _ = writeln!(self.out, "nltelem: module gone; waiting for it");
                    self.out.flush();
                    defmt::warn!("module gone");
                    said_absent = true;
                }
                End::Reconnect(config) => self.apply(config, buf),
                End::Retry => {}
            }
        }
    }

    fn say_absent(&mut self) {
        match self.config.transport {
            Transport::Genl => {
                let _ = writeln!(
                    self.out,
                    "nltelem: module not loaded (no generic netlink family {}); waiting for it",
                    self.config.family.as_str()
                );
            }
            Transport::Unit(unit) => {
                let _ = writeln!(
                    self.out,
                    "nltelem: module not loaded (netlink unit {unit} absent); waiting for it"
                );
            }
        }
        self.out.flush();
        defmt::warn!("module absent; waiting");
    }

    /// Takes a new configuration (after SIGHUP).
    fn apply(&mut self, config: Config, buf: &mut [u8]) {
        let transport_changed = config.transport != self.config.transport;
        if log::configure(&config.log, config.log_max_bytes).is_err() {
            fail!("cannot open the new log file; logging stays as it was");
        }
        self.exporters.configure(&config.exports);
        self.config = config;
        if transport_changed {
            self.open_watcher(buf);
        }
        let _ = writeln!(self.out, "nltelem: configuration reloaded");
        self.out.flush();
        defmt::info!("configuration reloaded");
    }

    /// Handles pending signals.
    fn signals(&mut self) -> Asked {
        let mut asked = Asked::Nothing;
        while let Some(sig) = sys::read_signal(self.signals.as_fd()) {
            match sig {
                sys::SIGTERM | sys::SIGINT => return Asked::Stop,
                sys::SIGHUP => {
                    if let Ok(c) = read_config(self.path) {
                        asked = Asked::Reload(c);
                    } else {
                        fail!("configuration not reloaded: the running one stays");
                    }
                }
                sys::SIGUSR1 => {
                    let c = self.counters;
                    let _ = format::counters(&mut self.out, &c, Style::Text);
                    self.exporters.report(self.out.text());
                    self.out.flush();
                    defmt::info!(
                        "counters received={=u64} lost={=u64} overruns={=u64} exported={=u64} export_errors={=u64} forged={=u64} malformed={=u64}",
                        c.received, c.lost, c.overruns, c.exported, c.export_errors, c.forged, c.malformed
                    );
                }
                _ => {}
            }
        }
        asked
    }

    /// Waits `delay_ms` (or less, when the controller announces our family) before the
    /// next attempt to connect.
    fn wait_for_module(&mut self, delay_ms: u32, buf: &mut [u8]) -> End {
        let deadline = now_ms() + u64::from(delay_ms);
        loop {
            let left = deadline.saturating_sub(now_ms()).min(EXPORT_POLL_MS);
            if now_ms() >= deadline {
                return End::Retry;
            }
            let signals = self.signals.as_fd();
            let (sig_ready, watch_ready) = match &mut self.watcher {
                Some(w) => {
                    let mut fds = [
                        PollFd::new(&signals, PollFlags::IN),
                        PollFd::new(w.socket(), PollFlags::IN),
                    ];
                    if let Err(e) = wait(&mut fds, left) {
                        fail!("poll failed: {}", e);
                        return End::Fatal(exit::SOFTWARE);
                    }
                    (readable(&fds[0]), readable(&fds[1]))
                }
                None => {
                    let mut fds = [PollFd::new(&signals, PollFlags::IN)];
                    if let Err(e) = wait(&mut fds, left) {
                        fail!("poll failed: {}", e);
                        return End::Fatal(exit::SOFTWARE);
                    }
                    (readable(&fds[0]), false)
                }
            };
            if sig_ready {
                match self.signals() {
                    Asked::Stop => return End::Stop,
                    Asked::Reload(c) => return End::Reconnect(c),
                    Asked::Nothing => {}
                }
            }
            if watch_ready && self.family_event(buf) == Some(FamilyChange::Appeared) {
                return End::Retry;
            }
            self.exporters.poll();
        }
    }

    /// Reads the watcher's queued notifications; the last change of our family, if any.
    /// A lost notification (overrun) is reported as `Appeared` so the caller checks.
    fn family_event(&mut self, buf: &mut [u8]) -> Option<FamilyChange> {
        let w = self.watcher.as_mut()?;
        let name = &self.config.family;
        let mut change = None;
        for _ in 0..MAX_BATCH {
            let got = w.wait(buf, Duration::ZERO, |ev| {
                if ev.name == name.as_str() {
                    change = Some(ev.change);
                }
            });
            match got {
                Ok(0) | Err(Error::WouldBlock) => break,
                Ok(_) => {}
                Err(_) => {
                    change = Some(FamilyChange::Appeared);
                    break;
                }
            }
        }
        change
    }

    /// Serves one connection until it ends.
    fn serve(
        &mut self,
        mut ctl: NlSocket,
        mut data: NlSocket,
        route: Route,
        buf: &mut [u8; RECV_BUFFER],
        replies: &mut [u8],
    ) -> End {
        self.telemetry.reset();
        self.events.reset();
        if let Some(end) = self.push_settings(&mut ctl, &route, replies) {
            return end;
        }
        let _ = match route {
            Route::Genl { family, .. } => writeln!(
                self.out,
                "nltelem: ready (genl family {} id {family})",
                self.config.family.as_str()
            ),
            Route::Classic { unit } => writeln!(self.out, "nltelem: ready (netlink unit {unit})"),
        };
        self.out.flush();
        defmt::info!("ready");
        let heartbeat_ms = u64::from(self.config.heartbeat_ms);
        let mut next_heartbeat = now_ms() + heartbeat_ms;
        let mut heartbeat_denied = false;
        loop {
            // At least once a second: the network exporters need `poll` that often.
            let timeout = if heartbeat_ms > 0 {
                next_heartbeat.saturating_sub(now_ms()).min(EXPORT_POLL_MS)
            } else {
                EXPORT_POLL_MS
            };
            let signals = self.signals.as_fd();
            let polled = match &mut self.watcher {
                Some(w) => {
                    let mut fds = [
                        PollFd::new(&data, PollFlags::IN),
                        PollFd::new(&signals, PollFlags::IN),
                        PollFd::new(w.socket(), PollFlags::IN),
                    ];
                    wait(&mut fds, timeout)
                        .map(|()| (readable(&fds[0]), readable(&fds[1]), readable(&fds[2])))
                }
                None => {
                    let mut fds = [
                        PollFd::new(&data, PollFlags::IN),
                        PollFd::new(&signals, PollFlags::IN),
                    ];
                    wait(&mut fds, timeout).map(|()| (readable(&fds[0]), readable(&fds[1]), false))
                }
            };
            let (data_ready, sig_ready, watch_ready) = match polled {
                Ok(ready) => ready,
                Err(e) => {
                    fail!("poll failed: {}", e);
                    return End::Fatal(exit::SOFTWARE);
                }
            };
            if sig_ready {
                match self.signals() {
                    Asked::Stop => {
                        conn::leave(&self.config, &route, &data);
                        return End::Stop;
                    }
                    Asked::Reload(new) => {
                        let same_sockets = new.transport == self.config.transport
                            && new.family == self.config.family
                            && new.groups == self.config.groups
                            && new.rcvbuf_bytes == self.config.rcvbuf_bytes
                            && new.accept_senders == self.config.accept_senders;
                        if !same_sockets {
                            conn::leave(&self.config, &route, &data);
                            return End::Reconnect(new);
                        }
                        self.apply(new, buf);
                        if let Some(end) = self.push_settings(&mut ctl, &route, replies) {
                            return end;
                        }
                    }
                    Asked::Nothing => {}
                }
            }
            if data_ready {
                match self.drain(&mut data, &mut ctl, &route, buf, replies) {
                    Ok(()) => {}
                    Err(e) if conn::is_absent(&e) => return End::Gone,
                    Err(e) => {
                        fail!("receiving failed: {}", e);
                        return End::Fatal(conn::exit_code(&e));
                    }
                }
            }
            if watch_ready && self.family_event(buf) == Some(FamilyChange::Disappeared) {
                return End::Gone;
            }
            self.exporters.poll();
            if heartbeat_ms > 0 && now_ms() >= next_heartbeat {
                next_heartbeat = now_ms() + heartbeat_ms;
                match self.heartbeat(&mut ctl, &route, replies) {
                    Ok(()) => {}
                    Err(e) if conn::is_absent(&e) => return End::Gone,
                    Err(e) if conn::exit_code(&e) == exit::NOPERM => {
                        if !heartbeat_denied {
                            fail!("heartbeat refused (needs CAP_NET_ADMIN); counters stay local");
                            heartbeat_denied = true;
                        }
                    }
                    Err(_e) => defmt::warn!("heartbeat failed"),
                }
            }
        }
    }

    /// Pushes the configured module settings; `Some` ends the session.
    fn push_settings(
        &mut self,
        ctl: &mut NlSocket,
        route: &Route,
        replies: &mut [u8],
    ) -> Option<End> {
        if self.config.module.is_empty() {
            return None;
        }
        let mut req = [0u8; 128];
        let len = build(route, cmd::SET_CONFIG, &mut req, |b| {
            self.config.module.put(b)
        })
        .ok()?;
        match ctl.request(
            &mut req[..len],
            replies,
            &mut conn::ignore_data as conn::OnData<'_>,
        ) {
            Ok(_) => {
                defmt::info!("settings pushed");
                None
            }
            Err(f) if conn::is_absent(&f.error) => Some(End::Gone),
            Err(f) => {
                let code = conn::exit_code(&f.error);
                if code == exit::NOPERM {
                    fail!(
                        "the module refused the settings: {} (needs CAP_NET_ADMIN)",
                        f
                    );
                    return Some(End::Fatal(code));
                }
                // The module refused a value the agent accepted: say why, carry on with
                // the module's own settings.
                fail!("the module refused the settings: {}", f);
                None
            }
        }
    }

    fn heartbeat(
        &mut self,
        ctl: &mut NlSocket,
        route: &Route,
        replies: &mut [u8],
    ) -> Result<(), Error> {
        let c = self.counters;
        let mut req = [0u8; 96];
        let len = build(route, cmd::HEARTBEAT, &mut req, |b| {
            b.put_u64(attr::heartbeat::RECEIVED, c.received)?;
            b.put_u64(attr::heartbeat::LOST, c.lost)?;
            b.put_u64(attr::heartbeat::EXPORTED, c.exported)
        })
        .map_err(Error::Codec)?;
        ctl.request(
            &mut req[..len],
            replies,
            &mut conn::ignore_data as conn::OnData<'_>,
        )
        .map(|_| ())
        .map_err(|f| f.error)
    }

    /// Reads what is queued on the data socket (at most [`MAX_BATCH`] datagrams).
    fn drain(
        &mut self,
        data: &mut NlSocket,
        ctl: &mut NlSocket,
        route: &Route,
        buf: &mut [u8; RECV_BUFFER],
        replies: &mut [u8],
    ) -> Result<(), Error> {
        let mut resync = false;
        for _ in 0..MAX_BATCH {
            match data.recv_from(buf) {
                Ok(d) => {
                    for msg in d.messages() {
                        match msg {
                            Ok(m) => self.on_message(route, &m),
                            Err(_) => bump(&mut self.counters.malformed, 1),
                        }
                    }
                }
                Err(Error::WouldBlock) => break,
                Err(Error::Overrun) => {
                    bump(&mut self.counters.overruns, 1);
                    defmt::warn!("receive queue overrun: samples lost");
                    resync = true;
                }
                Err(Error::ForeignSender { port }) => {
                    bump(&mut self.counters.forged, 1);
                    defmt::warn!("dropped a datagram from port {=u32}", port);
                }
                Err(Error::Truncated { .. }) => bump(&mut self.counters.malformed, 1),
                Err(e) => return Err(e),
            }
        }
        self.out.flush();
        if resync {
            self.resync(ctl, route, replies)?;
        }
        Ok(())
    }

    /// After an overrun: a fresh snapshot, so the exporters have current values at once.
    /// Its messages are unicast replies, outside the group's numbering.
    fn resync(
        &mut self,
        ctl: &mut NlSocket,
        route: &Route,
        replies: &mut [u8],
    ) -> Result<(), Error> {
        let mut req = [0u8; 32];
        let len = build(route, cmd::GET_SAMPLE, &mut req, |_| Ok(())).map_err(Error::Codec)?;
        let Agent {
            exporters,
            out,
            counters,
            ..
        } = self;
        let on_data: conn::OnData<'_> = &mut |m| {
            if let Some((_, attrs)) = route.open(&m) {
                if let Ok(s) = Sample::parse(attrs) {
                    export(exporters, out, counters, &s);
                }
            }
            Ok(())
        };
        let r = ctl.request(&mut req[..len], replies, on_data);
        out.flush();
        match r {
            Ok(_) => Ok(()),
            Err(f) if conn::is_absent(&f.error) => Err(f.error),
            Err(_) => {
                defmt::warn!("resync request failed");
                Ok(())
            }
        }
    }

    fn on_message(&mut self, route: &Route, msg: &NlMsg<'_>) {
        let Some((command, attrs)) = route.open(msg) else {
            return;
        };
        match command {
            cmd::SAMPLE => match Sample::parse(attrs) {
                Ok(s) => {
                    match s.seq {
                        Some(seq) => {
                            if let Seen::Backwards { expected, got } =
                                self.counters.account(&mut self.telemetry, seq)
                            {
                                defmt::warn!(
                                    "telemetry sequence restarted: expected {=u64}, got {=u64}",
                                    expected,
                                    got
                                );
                            }
                        }
                        None => bump(&mut self.counters.received, 1),
                    }
                    export(self.exporters, &mut self.out, &mut self.counters, &s);
                }
                Err(_) => bump(&mut self.counters.malformed, 1),
            },
            cmd::EVENT => match Event::parse(attrs) {
                Ok(e) => {
                    match e.seq {
                        Some(seq) => {
                            self.counters.account(&mut self.events, seq);
                        }
                        None => bump(&mut self.counters.received, 1),
                    }
                    let outcome = self.exporters.event(&e, self.out.text());
                    bump(&mut self.counters.exported, outcome.exported);
                    bump(&mut self.counters.export_errors, outcome.failed);
                    defmt::info!("event {=str}", e.kind_name());
                }
                Err(_) => bump(&mut self.counters.malformed, 1),
            },
            _ => {}
        }
    }
}

fn export(exporters: &mut Exporters, out: &mut Stdout, counters: &mut Counters, s: &Sample<'_>) {
    let outcome = exporters.sample(s, out.text());
    bump(&mut counters.exported, outcome.exported);
    bump(&mut counters.export_errors, outcome.failed);
}

/// Builds one request for `command` with the attributes `put` writes.
pub fn build(
    route: &Route,
    command: u8,
    buf: &mut [u8],
    put: impl FnOnce(&mut MsgBuilder<nlcore::SliceBuffer<'_>>) -> Result<(), nlcore::Error>,
) -> Result<usize, nlcore::Error> {
    let mut b = MsgBuilder::new(buf);
    route.begin(&mut b, command)?;
    put(&mut b)?;
    b.finish()
}
