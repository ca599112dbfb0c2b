//! Opening the way to the module: a request socket (unicast requests and their replies)
//! and, for the daemon and `monitor`, a data socket in the groups. Keeping them apart
//! means a request never has to skip (and lose) samples that arrive while it waits.

use crate::io::{self, Cause};
use core::time::Duration;
use nlcore::consts::{
    CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_CTRL_GROUP_NOTIFY, GENL_CTRL_NAME,
    GENL_ID_CTRL, NETLINK_GENERIC,
};
use nlcore::genl::CTRL_VERSION;
use nlcore::sock::{Error, Failed, NlSocket};
use nlcore::{AttrIter, MsgBuilder, NlMsg, SliceBuffer};
use nltelem::cli::exit;
use nltelem::config::{Config, Senders, Transport};
use nltelem::route::{CtrlFamily, Route};
use nltelem_proto as proto;
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
pub type OnData<'c> = &'c mut dyn FnMut(NlMsg<'_>) -> Result<(), Error>;

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
/// `NLMSG_DONE`) when `dump` is set. Every request to the module goes through here: one
/// copy of the routing code.
pub fn exchange<'b>(
    sock: &mut NlSocket,
    route: &Route,
    command: u8,
    put: Put<'_>,
    dump: bool,
    buf: &'b mut [u8],
    each: OnReply<'_>,
) -> Result<(), Failed<'b>> {
    let message: Put<'_> = &|b| {
        route.begin(b, command)?;
        put(b)
    };
    let on_data: OnData<'_> = &mut |m| match route.open(&m) {
        Some((command, attrs)) => each(command, attrs).map_err(Error::Codec),
        None => Ok(()),
    };
    ask(sock, message, dump, buf, on_data)
}

/// Sends the message `put` writes (headers and attributes) as a request on `sock`, a dump
/// when `dump` is set, and hands the data messages of the reply to `on_data`: the one
/// place where the agent's requests are built and sent.
fn ask<'b>(
    sock: &mut NlSocket,
    put: Put<'_>,
    dump: bool,
    buf: &'b mut [u8],
    on_data: OnData<'_>,
) -> Result<(), Failed<'b>> {
    let mut req = [0u8; 128];
    let mut b = MsgBuilder::new(&mut req);
    put(&mut b)?;
    let len = b.finish()?;
    sock.ask(&mut req[..len], dump, buf, on_data)
}

/// [`exchange`] for a request answered by an ack (and before it, data).
pub fn request<'b>(
    sock: &mut NlSocket,
    route: &Route,
    command: u8,
    put: Put<'_>,
    buf: &'b mut [u8],
    each: OnReply<'_>,
) -> Result<(), Failed<'b>> {
    exchange(sock, route, command, put, false, buf, each)
}

/// `nltelem: <what><error><tail>` on standard error.
pub fn say_error(what: &str, e: &Error, tail: &str) {
    io::report([what, ""], Cause::Failed(&Failed::from(*e)), tail);
}

/// Says why the module's transport could not be opened, `what` first, with what a
/// refusal for lack of privilege needs; returns the exit code for the error.
pub fn say_unreachable(what: &str, e: &Error) -> u8 {
    let code = exit_code(e);
    let hint = match code {
        exit::NOPERM => " (joining the groups and changing settings need root or CAP_NET_ADMIN)",
        _ => "",
    };
    say_error(what, e, hint);
    code
}

/// `nltelem: <what>: <failure>` on standard error, with what a refusal for lack of
/// privilege needs; returns the exit code for the failure.
pub fn say_failed(what: &str, f: &Failed<'_>) -> u8 {
    let code = exit_code(&f.error);
    let hint = match code {
        exit::NOPERM => " (needs CAP_NET_ADMIN)",
        _ => "",
    };
    io::report([what, ": "], Cause::Failed(f), hint);
    code
}

/// What sets the agent's sockets apart, as data: [`open`] and [`set_up`] are the one
/// sequence of options for all of them (requests, data, the controller watcher).
#[derive(Default)]
struct Setup {
    /// `SO_RCVBUF` in bytes; 0 keeps the system's default.
    rcvbuf: u32,
    /// Groups to join; `Some(None)` is one the module does not have ([`Error::NotFound`]).
    join: [Option<Option<u32>>; 2],
    /// Errors explained in words (`NETLINK_EXT_ACK`).
    ext_ack: bool,
    nonblocking: bool,
    any_sender: bool,
}

/// A family's id and the ids of two of its groups, as [`open`] resolves them.
type Ids = (u16, [Option<u32>; 2]);

/// Opens a socket on `protocol`, bound, whose requests wait [`REQUEST_TIMEOUT`] at most
/// for a reply; and resolves the generic netlink family `family` and two of its groups
/// through it when asked (their ids, or zeros and `None`).
fn open(
    protocol: i32,
    family: Option<(&str, [&str; 2])>,
    buf: &mut [u8],
) -> Result<(NlSocket, Ids), Error> {
    let mut sock = NlSocket::open_bound_with_timeout(protocol, REQUEST_TIMEOUT)?;
    let ids = match family {
        Some((name, groups)) => resolve(&mut sock, name, groups, buf)?,
        None => (0, [None; 2]),
    };
    Ok((sock, ids))
}

/// Applies `setup` to `sock`.
fn set_up(mut sock: NlSocket, setup: Setup) -> Result<NlSocket, Error> {
    if setup.rcvbuf > 0 {
        let bytes = setup.rcvbuf as usize;
        // FORCE needs CAP_NET_ADMIN; without it the kernel's rmem_max caps the size.
        if sock.set_recv_buffer_force(bytes).is_err() {
            sock.set_recv_buffer(bytes)?;
        }
    }
    for group in setup.join.into_iter().flatten() {
        sock.join_group(group.ok_or(Error::NotFound)?)?;
    }
    if setup.ext_ack {
        // Older kernels without the option still work.
        let _ = sock.set_ext_ack(true);
    }
    if setup.nonblocking {
        sock.set_nonblocking(true)?;
    }
    sock.set_accept_any_sender(setup.any_sender);
    Ok(sock)
}

/// Opens the request socket and resolves the route to the module.
pub fn open_requests(config: &Config, buf: &mut [u8]) -> Result<(NlSocket, Route), Error> {
    let (protocol, family, route) = match config.transport {
        Transport::Genl => (
            NETLINK_GENERIC,
            Some((
                config.family.as_str(),
                [proto::MCGRP_TELEMETRY, proto::MCGRP_EVENTS],
            )),
            None,
        ),
        Transport::Unit(unit) => {
            let route = Route::Classic { unit };
            (route.protocol(), None, Some(route))
        }
    };
    let (sock, (family, [telemetry, events])) = open(protocol, family, buf)?;
    let route = route.unwrap_or(Route::Genl {
        family,
        telemetry,
        events,
    });
    let setup = Setup {
        ext_ack: true,
        any_sender: config.accept_senders == Senders::Any,
        ..Setup::default()
    };
    Ok((set_up(sock, setup)?, route))
}

/// A family's id and the ids of two of its groups, by name (`CTRL_CMD_GETFAMILY`). Only
/// these are read from the reply: nlcore's `resolve_family` copies the whole description
/// (every group's name), which costs the agent code and stack it does not need.
fn resolve(
    sock: &mut NlSocket,
    name: &str,
    groups: [&str; 2],
    buf: &mut [u8],
) -> Result<Ids, Error> {
    let mut found = None;
    let on_data: OnData<'_> = &mut |msg| {
        match CtrlFamily::parse(&msg) {
            Some(f) if f.name == name.as_bytes() => {
                found = Some((f.id, groups.map(|g| f.group_id(g))));
            }
            _ => {}
        }
        Ok(())
    };
    let get_family: Put<'_> = &|b| {
        b.begin(GENL_ID_CTRL, 0, 0, 0)?;
        b.genl_header(CTRL_CMD_GETFAMILY, CTRL_VERSION)?;
        b.put_str(CTRL_ATTR_FAMILY_NAME, name)
    };
    ask(sock, get_family, false, buf, on_data).map_err(|f| f.error)?;
    found.ok_or(Error::NotFound)
}

/// The controller's watcher: a socket in `nlctrl`'s `notify` group, non-blocking.
pub fn open_watcher(buf: &mut [u8]) -> Result<NlSocket, Error> {
    let family = (GENL_CTRL_NAME, [GENL_CTRL_GROUP_NOTIFY, ""]);
    let (sock, (_, [notify, _])) = open(NETLINK_GENERIC, Some(family), buf)?;
    let setup = Setup {
        join: [Some(notify), None],
        nonblocking: true,
        ..Setup::default()
    };
    set_up(sock, setup)
}

/// Opens the data socket: non-blocking, in the configured groups.
pub fn open_data(config: &Config, route: &Route) -> Result<NlSocket, Error> {
    let (telemetry, events) = route.group_ids();
    let (sock, _) = open(route.protocol(), None, &mut [])?;
    let setup = Setup {
        rcvbuf: config.rcvbuf_bytes,
        join: [
            config.groups.telemetry.then_some(telemetry),
            config.groups.events.then_some(events),
        ],
        nonblocking: true,
        any_sender: config.accept_senders == Senders::Any,
        ..Setup::default()
    };
    set_up(sock, setup)
}

/// Leaves the groups (on exit: the kernel stops queueing for this socket at once).
pub fn leave(config: &Config, route: &Route, sock: &NlSocket) {
    let (telemetry, events) = route.group_ids();
    if let (true, Some(g)) = (config.groups.telemetry, telemetry) {
        let _ = sock.leave_group(g);
    }
    if let (true, Some(g)) = (config.groups.events, events) {
        let _ = sock.leave_group(g);
    }
}
