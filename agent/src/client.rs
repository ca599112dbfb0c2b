//! The one-shot commands (`get`, `dump`, `status`, `set`) and `monitor`.

use crate::conn;
use crate::daemon::{read_config, wait};
use crate::io::{self, Cause, Stdout};
use crate::sys::{self, Buffers};
use nlcore::sock::Error;
use nltelem::cli::{exit, Command, Invocation};
use nltelem::config::{self, Config};
use nltelem::format::{self, Style};
use nltelem::route::Route;
use nltelem_proto::cmd;
use rustix::fd::AsFd;

/// Says why the module cannot be reached; the exit code.
fn say_conn(config: &Config, e: Error) -> u8 {
    if conn::is_absent(&e) {
        let words = match config.transport {
            config::Transport::Genl => "module not loaded (no generic netlink family `",
            config::Transport::Unit(_) => "module not loaded (no netlink unit for `",
        };
        io::report([words, &config.family], Cause::Nothing, "`)");
        exit::UNAVAILABLE
    } else {
        conn::say_error("", &e, conn::NEEDS_ROOT)
    }
}

/// Runs a one-shot command or `monitor` with the configuration given, or the default file
/// when it can be read, or the defaults (see [`read_config`]);
/// returns the exit code.
// Out of line: each command keeps its locals in its own stack frame, so the peak stack
// is that of the one command that runs, not of all of them together.
#[inline(never)]
pub fn run(inv: &Invocation<'_>, bufs: &mut Buffers) -> u8 {
    let (command, style) = (&inv.command, inv.style);
    let buf = &mut bufs.recv;
    let mut config = Config::default();
    if let Err(code) = read_config(inv.config, buf, &mut config) {
        return code;
    }
    let config = &config;
    // Every command asks through a request socket first (`monitor` its groups' ids).
    let (mut sock, route) = match conn::open_requests(config, buf) {
        Ok(opened) => opened,
        Err(e) => return say_conn(config, e),
    };
    if *command == Command::Monitor {
        return monitor(config, &route, style, buf, &mut bufs.out);
    }
    // What to ask; every reply's messages are printed by their command.
    let ask = match *command {
        Command::Ask(ask) => ask,
        Command::Set => {
            let set = conn::exchange(
                &mut sock,
                &route,
                cmd::SET_CONFIG,
                &|b| inv.settings.put(b),
                buf,
                &mut conn::ignore_reply,
            );
            if let Err(f) = set {
                return conn::say_failed("set refused: ", &f, conn::NEEDS_ADMIN);
            }
            // The module's settings as they now are.
            cmd::GET_CONFIG
        }
        _ => return exit::SOFTWARE,
    };
    let out = &mut bufs.out;
    let w = out.text();
    let asked = conn::exchange(
        &mut sock,
        &route,
        ask,
        &conn::no_attrs,
        buf,
        &mut |command, attrs| format::message(w, command, attrs, style),
    );
    let code = match asked {
        Ok(()) => exit::OK,
        Err(f) => {
            let what = match ask {
                cmd::DUMP_NETDEV => "dump failed: ",
                _ => "request failed: ",
            };
            conn::say_failed(what, &f, conn::NEEDS_ADMIN)
        }
    };
    if !out.flush() && code == exit::OK {
        return exit::IOERR;
    }
    code
}

/// `nltelem monitor`: prints every sample and event until TERM/INT. The caller's request
/// socket stays open meanwhile.
fn monitor(config: &Config, route: &Route, style: Style, buf: &mut [u8], out: &mut Stdout) -> u8 {
    let mut data = match conn::open_data(config, route) {
        Ok(s) => s,
        Err(e) => return say_conn(config, e),
    };
    let signals = match sys::signalfd() {
        Ok(fd) => fd,
        Err(_) => return exit::SOFTWARE,
    };
    loop {
        // A second per poll round bounds the wait; the loop ends on a signal or an error.
        // The daemon's wait: the signalfd stands in for its third descriptor.
        let fds = [data.as_fd(), signals.as_fd(), signals.as_fd()];
        let Some([_, sig_ready, _]) = wait(fds, 1000) else {
            return exit::SOFTWARE;
        };
        if sig_ready {
            if let Some(sys::SIGTERM | sys::SIGINT) = sys::read_signal(signals.as_fd()) {
                // Closed first: that leaves the groups, so the kernel stops queueing for
                // this socket at once, while the output is flushed.
                drop(data);
                out.flush();
                return exit::OK;
            }
        }
        // Bounded per round, so a flood cannot starve the signal check.
        for _ in 0..64 {
            let w = out.text();
            match data.recv_from(buf) {
                Ok(d) => {
                    for m in d.messages().filter_map(Result::ok) {
                        // Samples and events: what the groups carry.
                        if let Some((command, attrs)) = route.open(&m) {
                            let _ = format::message(w, command, attrs, style);
                        }
                    }
                }
                Err(Error::WouldBlock) => break,
                Err(Error::Overrun) => w.str("overrun: messages were lost\n"),
                Err(Error::ForeignSender { port }) => {
                    w.str("dropped: datagram from port ");
                    w.uint(port.into());
                    w.str(", not the kernel\n");
                }
                Err(e) => {
                    out.flush();
                    return conn::say_error("receiving failed: ", &e, "");
                }
            }
        }
        if !out.flush() {
            return exit::IOERR;
        }
    }
}
