//! The one-shot commands (`get`, `dump`, `status`, `set`) and `monitor`.

use crate::conn::{self, ConnError};
use crate::daemon::{build, read_config};
use crate::io::{self, Stdout};
use crate::{fail, sys};
use core::fmt::Write as _;
use nlcore::sock::{Error, Failed, NlSocket};
use nltelem::cli::{exit, Command};
use nltelem::config::{self, Config};
use nltelem::decode::{parse_module_config, Event, Netdev, Sample, Stats};
use nltelem::format::{self, Style};
use nltelem::route::Route;
use nltelem::settings::ModuleSettings;
use nltelem_proto::cmd;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::AsFd;

/// The configuration for a command: the given file (which must exist), or the default
/// file when it exists, or the defaults.
pub fn load(path: Option<&str>) -> Result<Config, u8> {
    match path {
        Some(p) => read_config(p),
        None => {
            let exists = rustix::fs::access(config::DEFAULT_PATH, rustix::fs::Access::READ_OK);
            if exists.is_ok() {
                read_config(config::DEFAULT_PATH)
            } else {
                Ok(Config::default())
            }
        }
    }
}

fn connect(config: &Config, buf: &mut [u8]) -> Result<(NlSocket, Route), u8> {
    conn::open_requests(config, buf).map_err(|e| report_conn(config, e))
}

fn report_conn(config: &Config, e: ConnError) -> u8 {
    match e {
        ConnError::Absent => {
            fail!(
                "module not loaded (no {} `{}`)",
                match config.transport {
                    config::Transport::Genl => "generic netlink family",
                    config::Transport::Unit(_) => "netlink unit for",
                },
                config.family.as_str()
            );
        }
        ConnError::Failed(e) => fail!("{}{}", e, conn::hint(&e)),
    }
    e.exit_code()
}

fn report(what: &str, f: &Failed<'_>) -> u8 {
    let code = conn::exit_code(&f.error);
    if code == exit::NOPERM {
        fail!("{what}: {f} (needs CAP_NET_ADMIN)");
    } else {
        fail!("{what}: {f}");
    }
    code
}

/// Runs a one-shot command; returns the exit code.
// Out of line: each command keeps its buffers in its own stack frame, so the peak
// stack is that of the one command that runs, not of all of them together.
#[inline(never)]
pub fn run(command: Command, config: &Config, style: Style) -> u8 {
    let Some(bufs) = sys::buffers() else {
        return exit::SOFTWARE;
    };
    let buf = &mut bufs.recv;
    let (mut sock, route) = match connect(config, buf) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut out = io::stdout();
    let code = match command {
        Command::GetSample => request(
            &mut sock,
            &route,
            cmd::GET_SAMPLE,
            buf,
            &mut out,
            &mut |out, attrs| {
                let s = Sample::parse(attrs)?;
                let _ = format::sample(out, &s, style);
                Ok(())
            },
        ),
        Command::GetConfig => get_config(&mut sock, &route, buf, &mut out, style),
        Command::Status => request(
            &mut sock,
            &route,
            cmd::GET_STATS,
            buf,
            &mut out,
            &mut |out, attrs| {
                let s = Stats::parse(attrs)?;
                let _ = format::stats(out, &s, style);
                Ok(())
            },
        ),
        Command::Dump => dump(&mut sock, &route, buf, &mut out, style),
        Command::Set(settings) => set(&mut sock, &route, &settings, buf, &mut out, style),
        _ => exit::SOFTWARE,
    };
    if !out.flush() && code == exit::OK {
        return exit::IOERR;
    }
    code
}

fn request(
    sock: &mut NlSocket,
    route: &Route,
    command: u8,
    buf: &mut [u8],
    out: &mut Stdout,
    each: &mut dyn FnMut(&mut Stdout, nlcore::AttrIter<'_>) -> Result<(), nlcore::Error>,
) -> u8 {
    let mut req = [0u8; 32];
    let Ok(len) = build(route, command, &mut req, |_| Ok(())) else {
        return exit::SOFTWARE;
    };
    let on_data: conn::OnData<'_> = &mut |m| match route.open(&m) {
        Some((_, attrs)) => each(out, attrs).map_err(Error::Codec),
        None => Ok(()),
    };
    let r = sock.request(&mut req[..len], buf, on_data);
    match r {
        Ok(_) => exit::OK,
        Err(f) => report("request failed", &f),
    }
}

fn get_config(
    sock: &mut NlSocket,
    route: &Route,
    buf: &mut [u8],
    out: &mut Stdout,
    style: Style,
) -> u8 {
    request(sock, route, cmd::GET_CONFIG, buf, out, &mut |out, attrs| {
        let c = parse_module_config(attrs)?;
        let _ = format::module_config(out, &c, style);
        Ok(())
    })
}

fn dump(sock: &mut NlSocket, route: &Route, buf: &mut [u8], out: &mut Stdout, style: Style) -> u8 {
    let mut req = [0u8; 32];
    let Ok(len) = build(route, cmd::DUMP_NETDEV, &mut req, |_| Ok(())) else {
        return exit::SOFTWARE;
    };
    let r = sock.dump(&mut req[..len], buf, |m| match route.open(&m) {
        Some((_, attrs)) => {
            let n = Netdev::parse(attrs)?;
            let _ = format::netdev(out, &n, style);
            Ok(())
        }
        None => Ok(()),
    });
    match r {
        Ok(_) => exit::OK,
        Err(f) => report("dump failed", &f),
    }
}

fn set(
    sock: &mut NlSocket,
    route: &Route,
    settings: &ModuleSettings,
    buf: &mut [u8],
    out: &mut Stdout,
    style: Style,
) -> u8 {
    let mut req = [0u8; 128];
    let Ok(len) = build(route, cmd::SET_CONFIG, &mut req, |b| settings.put(b)) else {
        return exit::SOFTWARE;
    };
    if let Err(f) = sock.request(
        &mut req[..len],
        buf,
        &mut conn::ignore_data as conn::OnData<'_>,
    ) {
        return report("set refused", &f);
    }
    get_config(sock, route, buf, out, style)
}

/// `nltelem monitor`: prints every sample and event until TERM/INT.
// Out of line: each command keeps its buffers in its own stack frame, so the peak
// stack is that of the one command that runs, not of all of them together.
#[inline(never)]
pub fn monitor(config: &Config, style: Style) -> u8 {
    let Some(bufs) = sys::buffers() else {
        return exit::SOFTWARE;
    };
    let buf = &mut bufs.recv;
    let (_ctl, route) = match connect(config, buf) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut data = match conn::open_data(config, &route) {
        Ok(s) => s,
        Err(e) => return report_conn(config, e),
    };
    let signals = match sys::signalfd() {
        Ok(fd) => fd,
        Err(_) => return exit::SOFTWARE,
    };
    let mut out = io::stdout();
    // A second per poll round bounds the wait; the loop ends on a signal or an error.
    let tick = Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    loop {
        let mut fds = [
            PollFd::new(&data, PollFlags::IN),
            PollFd::new(&signals, PollFlags::IN),
        ];
        match poll(&mut fds, Some(&tick)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return exit::SOFTWARE,
        }
        if fds[1].revents().contains(PollFlags::IN) {
            if let Some(sys::SIGTERM | sys::SIGINT) = sys::read_signal(signals.as_fd()) {
                conn::leave(config, &route, &data);
                out.flush();
                return exit::OK;
            }
        }
        // Bounded per round, so a flood cannot starve the signal check.
        for _ in 0..64 {
            match data.recv_from(buf) {
                Ok(d) => {
                    for m in d.messages().filter_map(Result::ok) {
                        match route.open(&m) {
                            Some((cmd::SAMPLE, attrs)) => {
                                if let Ok(s) = Sample::parse(attrs) {
                                    let _ = format::sample(&mut out, &s, style);
                                }
                            }
                            Some((cmd::EVENT, attrs)) => {
                                if let Ok(e) = Event::parse(attrs) {
                                    let _ = format::event(&mut out, &e, style);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Err(Error::WouldBlock) => break,
                Err(Error::Overrun) => {
                    let _ = writeln!(out, "overrun: messages were lost");
                }
                Err(Error::ForeignSender { port }) => {
                    let _ = writeln!(out, "dropped: datagram from port {port}, not the kernel");
                }
                Err(e) => {
                    out.flush();
                    fail!("receiving failed: {}", e);
                    return conn::exit_code(&e);
                }
            }
        }
        if !out.flush() {
            return exit::IOERR;
        }
    }
}
