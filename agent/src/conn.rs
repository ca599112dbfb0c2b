//! Opening the way to the module: a request socket (unicast requests and their replies)
//! and, for the daemon and `monitor`, a data socket in the groups. Keeping them apart
//! means a request never has to skip (and lose) samples that arrive while it waits.

use crate::io::{self, Cause};
use core::time::Duration;
use nlcore::consts::{CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL, NETLINK_GENERIC};
use nlcore::sock::{Error, Failed, NlSocket};
use nlcore::{AttrIter, MsgBuilder, NlMsg, SliceBuffer};
use nltelem::cli::exit;
use nltelem::config::{Config, Senders, Transport};
use nltelem::route::{CtrlFamily, Route, CONTROLLER};
use nltelem_proto::{self as proto, cmd};
use rustix::io::Errno;

/// How long a request waits for its reply: short, so that the daemon stays responsive to
/// signals (a clean exit within 1 s) even when the module does not answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(400);

/// Whether `e` means "the module is not there": not loaded (no such family, group or
/// unit), or gone.
pub fn is_absent(e: &Error) -> bool {
    exit_code(e) == exit::UNAVAILABLE
}

/// The exit code for a socket error: 77 without the privilege, 69 when the module is not
/// there (see [`is_absent`]), 70 otherwise. One match on the errno for both questions.
pub fn exit_code(e: &Error) -> u8 {
    const PERM: i32 = Errno::PERM.raw_os_error();
    const ACCESS: i32 = Errno::ACCESS.raw_os_error();
    const NOENT: i32 = Errno::NOENT.raw_os_error();
    const PROTONOSUPPORT: i32 = Errno::PROTONOSUPPORT.raw_os_error();
    const CONNREFUSED: i32 = Errno::CONNREFUSED.raw_os_error();
    match e.errno() {
        Some(PERM | ACCESS) => exit::NOPERM,
        Some(NOENT | PROTONOSUPPORT | CONNREFUSED) => exit::UNAVAILABLE,
        _ if matches!(e, Error::NotFound) => exit::UNAVAILABLE,
        _ => exit::SOFTWARE,
    }
}

/// What a request hands each data message of its reply to. Always passed as this one
/// `dyn` type, so nlcore's generic request/dump code is compiled once for the agent, not
/// once per call site.
type OnData<'c> = &'c mut dyn FnMut(NlMsg<'_>) -> Result<(), Error>;

/// Writes the attributes of a request to the module (after its headers).
pub type Put<'p> = &'p dyn Fn(&mut MsgBuilder<SliceBuffer<'_>>) -> Result<(), nlcore::Error>;

/// The [`Put`] of a request without attributes.
pub fn no_attrs(_: &mut MsgBuilder<SliceBuffer<'_>>) -> Result<(), nlcore::Error> {
    Ok(())
}

/// What a request to the module hands each of the module's messages in its reply to: the
/// command and the attributes.
pub type OnReply<'c> = &'c mut dyn FnMut(u8, AttrIter<'_>) -> Result<(), nlcore::Error>;

/// The [`OnReply`] of a request whose reply carries nothing needed (an ack).
pub fn ignore_reply(_: u8, _: AttrIter<'_>) -> Result<(), nlcore::Error> {
    Ok(())
}

/// Sends `command`, with the attributes `put` writes, as a request to the module on `sock`
/// and hands the module's messages in the reply to `each`; a dump (`NLM_F_DUMP`, until
/// `NLMSG_DONE`) for the module's one dump command, [`cmd::DUMP_NETDEV`] (no command to the
/// controller has its number). Every request goes through here, those to the
/// controller too ([`CONTROLLER`]): one copy of the building, sending and routing code.
pub fn exchange<'b>(
    sock: &mut NlSocket,
    route: &Route,
    command: u8,
    put: Put<'_>,
    buf: &'b mut [u8],
    each: OnReply<'_>,
) -> Result<(), Failed<'b>> {
    let mut req = [0u8; 128];
    let mut b = MsgBuilder::new(&mut req);
    route.begin(&mut b, command)?;
    put(&mut b)?;
    let len = b.finish()?;
    let on_data: OnData<'_> = &mut |m| match route.open(&m) {
        Some((command, attrs)) => each(command, attrs).map_err(Error::Codec),
        None => Ok(()),
    };
    sock.ask(&mut req[..len], command == cmd::DUMP_NETDEV, buf, on_data)
}

/// What opening the module's transport needs, when it was refused for lack of privilege.
pub const NEEDS_ROOT: &str =
    " (joining the groups and changing settings need root or CAP_NET_ADMIN)";
/// What a request needs, when it was refused for lack of privilege.
pub const NEEDS_ADMIN: &str = " (needs CAP_NET_ADMIN)";

/// [`say_failed`] of a socket error, after `what`.
pub fn say_error(what: &str, e: &Error, noperm: &str) -> u8 {
    say_failed(what, &Failed::from(*e), noperm)
}

/// `nltelem: <what><failure>` on standard error, and `noperm` after it when the failure
/// is a refusal for lack of privilege; the exit code for the failure. Every failure of the
/// module's transport or of a request is said here, with the words of its place.
// Out of line: inlined, it was copied to each of its callers.
#[inline(never)]
pub fn say_failed(what: &str, f: &Failed<'_>, noperm: &str) -> u8 {
    let code = exit_code(&f.error);
    let hint = match code {
        exit::NOPERM => noperm,
        _ => "",
    };
    io::report([what, ""], Cause::Failed(f), hint);
    code
}

/// What sets the agent's sockets apart, as data: [`open`] is the one sequence of steps
/// for all of them (requests, data, the controller watcher).
#[derive(Default)]
struct Setup {
    /// Two groups, by id: `None` is one the family does not have.
    groups: [Option<u32>; 2],
    /// Which of the two groups to join (one that does not exist: [`Error::NotFound`]).
    join: [bool; 2],
    /// `SO_RCVBUF` in bytes; 0 keeps the system's default.
    rcvbuf: u32,
    /// Errors explained in words (`NETLINK_EXT_ACK`).
    ext_ack: bool,
    nonblocking: bool,
    any_sender: bool,
}

/// Opens a socket on `protocol`, bound, whose requests wait [`REQUEST_TIMEOUT`] at most
/// for a reply, and sets it up as `setup` says. One function that returns the socket
/// alone, so that it is built in one place rather than handed along from step to step.
fn open(protocol: i32, setup: &Setup) -> Result<NlSocket, Error> {
    let mut sock = NlSocket::open_bound_with(protocol, REQUEST_TIMEOUT, setup.nonblocking)?;
    if setup.rcvbuf > 0 {
        let bytes = setup.rcvbuf as usize;
        // FORCE needs CAP_NET_ADMIN; without it the kernel's rmem_max caps the size.
        if sock.set_recv_buffer_force(bytes).is_err() {
            sock.set_recv_buffer(bytes)?;
        }
    }
    for (group, &join) in setup.groups.iter().zip(&setup.join) {
        if join {
            sock.join_group(group.ok_or(Error::NotFound)?)?;
        }
    }
    if setup.ext_ack {
        // Older kernels without the option still work.
        let _ = sock.set_ext_ack(true);
    }
    sock.set_accept_any_sender(setup.any_sender);
    Ok(sock)
}

/// Opens the request socket and resolves the route to the module: the classic unit's is
/// fixed, the generic netlink family's ids are asked of the controller through the socket.
pub fn open_requests(config: &Config, buf: &mut [u8]) -> Result<(NlSocket, Route), Error> {
    let route = match config.transport {
        Transport::Genl => CONTROLLER,
        Transport::Unit(unit) => Route::Classic { unit },
    };
    let setup = Setup {
        ext_ack: true,
        any_sender: config.accept_senders == Senders::Any,
        ..Setup::default()
    };
    let mut sock = open(route.protocol(), &setup)?;
    let route = match route {
        Route::Genl { .. } => resolve(&mut sock, &config.family, buf)?,
        classic => classic,
    };
    Ok((sock, route))
}

/// The route to the generic netlink family `name`: its id and the ids of the module's two
/// groups, asked by name (`CTRL_CMD_GETFAMILY`). Only these are read from the reply:
/// nlcore's `resolve_family` copies the whole description (every group's name), which
/// costs the agent code and stack it does not need.
fn resolve(sock: &mut NlSocket, name: &str, buf: &mut [u8]) -> Result<Route, Error> {
    let mut found = None;
    let each: OnReply<'_> = &mut |cmd, attrs| {
        if let Some(f) = CtrlFamily::read(cmd, attrs, name.as_bytes()) {
            let [telemetry, events] = f.group_ids(&[proto::MCGRP_TELEMETRY, proto::MCGRP_EVENTS]);
            found = Some(Route::Genl {
                family: f.id,
                telemetry,
                events,
            });
        }
        Ok(())
    };
    let get_family: Put<'_> = &|b| b.put_str(CTRL_ATTR_FAMILY_NAME, name);
    exchange(sock, &CONTROLLER, CTRL_CMD_GETFAMILY, get_family, buf, each).map_err(|f| f.error)?;
    found.ok_or(Error::NotFound)
}

/// The id of `nlctrl`'s one group, `notify`: the kernel gives the controller's group the
/// controller's own id, `GENL_ID_CTRL` (net/netlink/genetlink.c special-cases it, as every
/// kernel has since groups came in 2.6.23), so the watcher asks the controller nothing.
const CTRL_NOTIFY_GROUP: u32 = GENL_ID_CTRL as u32;

/// The controller's watcher: a socket in `nlctrl`'s `notify` group, non-blocking.
pub fn open_watcher() -> Result<NlSocket, Error> {
    let setup = Setup {
        groups: [Some(CTRL_NOTIFY_GROUP), None],
        join: [true, false],
        nonblocking: true,
        ..Setup::default()
    };
    open(NETLINK_GENERIC, &setup)
}

/// Opens the data socket: non-blocking, in the configured groups.
pub fn open_data(config: &Config, route: &Route) -> Result<NlSocket, Error> {
    let (telemetry, events) = route.group_ids();
    let setup = Setup {
        groups: [telemetry, events],
        join: [config.groups.telemetry, config.groups.events],
        rcvbuf: config.rcvbuf_bytes,
        nonblocking: true,
        any_sender: config.accept_senders == Senders::Any,
        ..Setup::default()
    };
    open(route.protocol(), &setup)
}
