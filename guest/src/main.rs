//! `nltelem-watch`: a small generic netlink client for the qemu guests, built on nlcore.
//!
//! It resolves a family through the controller and either describes it (`--show`) or joins
//! one of its multicast groups and prints every message it receives, attribute by attribute,
//! until `--count` messages or `--timeout` seconds. The system-test scenarios use it to prove
//! the module's family and telemetry stream; `cargo xtask run` shows its output until the
//! agent exists.
//!
//! Exit status: 0 done, 1 error, 2 usage, 3 timed out before `--count`, 4 no such family.

mod sys;

use nlcore::consts::GENL_HDRLEN;
use nlcore::genl::{build_get_family, FamilyInfo};
use nlcore::{Attr, AttrIter, MessageIter, MsgBuilder, NlMsg, Payload};
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{
    bind, netlink, recvfrom, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags,
    SocketFlags, SocketType,
};
use std::fmt::Write as _;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: nltelem-watch --family NAME --show
       nltelem-watch --family NAME --group NAME [--count N] [--timeout SECONDS] [--summary]

  --show        describe the family: version, multicast groups, number of commands
  --group       join this multicast group and print each message's attributes
  --count N     stop after N messages (default: run until --timeout or forever)
  --timeout S   give up after S seconds (exit 3 if --count was not reached)
  --summary     print one line at the end instead of one line per message
";

/// Receive buffer: generic netlink messages are at most a page (NLMSG_GOODSIZE); twice
/// that leaves room for larger pages and several messages per datagram.
const RECV_BUFFER: usize = 16 * 1024;

/// How long one `recv` may block, so the overall deadline is checked at least this often.
const RECV_SLICE: Duration = Duration::from_millis(500);

struct Options {
    family: String,
    group: Option<String>,
    show: bool,
    count: Option<u64>,
    timeout: Option<Duration>,
    summary: bool,
}

enum Failure {
    Usage(String),
    NoFamily(String),
    TimedOut(String),
    Other(String),
}

impl Failure {
    fn exit(&self) -> ExitCode {
        let (msg, code) = match self {
            Failure::Usage(m) => (format!("{m}\n{USAGE}"), 2),
            Failure::Other(m) => (m.clone(), 1),
            Failure::TimedOut(m) => (m.clone(), 3),
            Failure::NoFamily(m) => (m.clone(), 4),
        };
        eprintln!("nltelem-watch: {msg}");
        ExitCode::from(code)
    }
}

fn other(context: &str) -> impl FnOnce(Errno) -> Failure + '_ {
    move |e| Failure::Other(format!("{context}: {e}"))
}

fn codec(context: &str) -> impl FnOnce(nlcore::Error) -> Failure + '_ {
    move |e| Failure::Other(format!("{context}: {e}"))
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.exit(),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, Failure> {
    let mut o = Options {
        family: String::new(),
        group: None,
        show: false,
        count: None,
        timeout: None,
        summary: false,
    };
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| Failure::Usage(format!("{name}: `{v}` is not a number")))
        };
        match a.as_str() {
            "--family" => o.family = value("--family")?,
            "--group" => o.group = Some(value("--group")?),
            "--show" => o.show = true,
            "--count" => o.count = Some(number("--count", value("--count")?)?),
            "--timeout" => {
                o.timeout = Some(Duration::from_secs(number(
                    "--timeout",
                    value("--timeout")?,
                )?))
            }
            "--summary" => o.summary = true,
            other => return Err(Failure::Usage(format!("unknown argument `{other}`"))),
        }
    }
    if o.family.is_empty() || o.show == o.group.is_some() {
        return Err(Failure::Usage(
            "give --family and one of --show, --group".into(),
        ));
    }
    Ok(o)
}

fn run(o: &Options) -> Result<(), Failure> {
    let socket = socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(netlink::GENERIC),
    )
    .map_err(other("socket(AF_NETLINK, NETLINK_GENERIC)"))?;
    bind(&socket, &SocketAddrNetlink::new(0, 0)).map_err(other("bind"))?;
    sockopt::set_socket_timeout(&socket, sockopt::Timeout::Recv, Some(RECV_SLICE))
        .map_err(other("SO_RCVTIMEO"))?;
    let mut buf = vec![0u8; RECV_BUFFER];
    let reply = request_family(&socket, &o.family, &mut buf)?;
    let family = FamilyInfo::parse(NlMsg::new_checked(&reply).map_err(codec("reply"))?)
        .map_err(codec("CTRL_CMD_GETFAMILY reply"))?;
    if o.show {
        return show_family(&family);
    }
    let group_name = o.group.as_deref().unwrap_or_default();
    let group = family
        .mcast_group(group_name)
        .map_err(codec("multicast groups"))?
        .ok_or_else(|| {
            Failure::Other(format!(
                "family {} has no multicast group `{group_name}`",
                o.family
            ))
        })?;
    let family_id = family.id;
    sys::add_membership(&socket, group)
        .map_err(|e| Failure::Other(format!("NETLINK_ADD_MEMBERSHIP {group}: {e}")))?;
    watch(&socket, o, family_id, group_name, &mut buf)
}

/// Sends `CTRL_CMD_GETFAMILY` for `name` and returns a copy of the reply, once the
/// kernel's ack for the request has arrived too.
fn request_family(socket: &OwnedFd, name: &str, buf: &mut [u8]) -> Result<Vec<u8>, Failure> {
    let seq = 1;
    let mut request = [0u8; 64];
    let mut b = MsgBuilder::new(&mut request[..]);
    build_get_family(&mut b, name, seq).map_err(codec("building GETFAMILY"))?;
    let kernel = SocketAddrNetlink::new(0, 0);
    sendto(socket, b.as_bytes(), SendFlags::empty(), &kernel).map_err(other("send"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut reply = None;
    while Instant::now() < deadline {
        let (len, from) = match recv(socket, buf) {
            Ok(r) => r,
            Err(Errno::AGAIN) => continue,
            Err(e) => return Err(Failure::Other(format!("recv: {e}"))),
        };
        if from != Some(0) {
            continue;
        }
        for msg in MessageIter::new(&buf[..len]) {
            let msg = msg.map_err(codec("controller reply"))?;
            if msg.seq() != seq {
                continue;
            }
            match Payload::parse(msg).map_err(codec("controller reply"))? {
                Payload::Data(m) => reply = Some(m.bytes().to_vec()),
                Payload::Ack(_) => {
                    return reply.ok_or_else(|| Failure::Other("ack without a reply".into()))
                }
                Payload::Error(e) if e.errno == Errno::NOENT.raw_os_error() => {
                    return Err(Failure::NoFamily(format!("no family `{name}`")));
                }
                Payload::Error(e) => {
                    return Err(Failure::Other(format!(
                        "GETFAMILY {name}: errno {}",
                        e.errno
                    )))
                }
                _ => {}
            }
        }
    }
    Err(Failure::TimedOut(format!(
        "no controller reply for `{name}`"
    )))
}

/// Receives one datagram; returns its length and the sender's port.
fn recv(socket: &OwnedFd, buf: &mut [u8]) -> Result<(usize, Option<u32>), Errno> {
    let (_, len, from) = recvfrom(socket, &mut *buf, RecvFlags::empty())?;
    let port = from
        .and_then(|a| SocketAddrNetlink::try_from(a).ok())
        .map(|a| a.pid());
    Ok((len.min(buf.len()), port))
}

fn show_family(f: &FamilyInfo<'_>) -> Result<(), Failure> {
    let mut groups = Vec::new();
    for g in f.mcast_groups() {
        groups.push(g.map_err(codec("multicast groups"))?.name.to_string());
    }
    let mut ops = 0;
    for op in f.ops() {
        op.map_err(codec("operations"))?;
        ops += 1;
    }
    println!(
        "family {}: version {}, {} commands, multicast groups: {}",
        f.name,
        f.version,
        ops,
        if groups.is_empty() {
            "none".to_string()
        } else {
            groups.join(" ")
        }
    );
    Ok(())
}

fn watch(
    socket: &OwnedFd,
    o: &Options,
    family_id: u16,
    group: &str,
    buf: &mut [u8],
) -> Result<(), Failure> {
    let start = Instant::now();
    let mut received = 0u64;
    let mut overruns = 0u64;
    let mut foreign = 0u64;
    let done = |received: u64| o.count.is_some_and(|c| received >= c);
    while !done(received) {
        if o.timeout.is_some_and(|t| start.elapsed() >= t) {
            return Err(Failure::TimedOut(format!(
                "{received} of {} messages on {}/{group} before the timeout",
                o.count.map_or("?".into(), |c| c.to_string()),
                o.family
            )));
        }
        let (len, from) = match recv(socket, buf) {
            Ok(r) => r,
            Err(Errno::AGAIN) => continue,
            // The socket's queue overflowed: messages were lost. Count it and go on.
            Err(Errno::NOBUFS) => {
                overruns += 1;
                eprintln!("nltelem-watch: receive queue overrun, messages lost");
                continue;
            }
            Err(e) => return Err(Failure::Other(format!("recv: {e}"))),
        };
        // Only the kernel (port 0) may send telemetry; anything else is ignored and counted.
        if from != Some(0) {
            foreign += 1;
            continue;
        }
        for msg in MessageIter::new(&buf[..len]) {
            let msg = msg.map_err(codec("telemetry message"))?;
            if msg.ty() != family_id || done(received) {
                continue;
            }
            received += 1;
            if !o.summary {
                println!("{}", describe(msg)?);
            }
        }
    }
    if o.summary {
        println!(
            "received {received} messages on {}/{group}, all from the kernel (port 0)",
            o.family
        );
    }
    if overruns > 0 || foreign > 0 {
        eprintln!("nltelem-watch: {overruns} overruns, {foreign} datagrams not from the kernel");
    }
    Ok(())
}

/// One line per message: the command, then every attribute as `type=value`.
fn describe(msg: NlMsg<'_>) -> Result<String, Failure> {
    let hdr = msg.genl_header().map_err(codec("genl header"))?;
    let attrs = msg.attrs(GENL_HDRLEN).map_err(codec("attributes"))?;
    let mut line = format!("cmd={} seq={}", hdr.cmd, msg.seq());
    write_attrs(&mut line, attrs, 0)?;
    Ok(line)
}

/// Nesting deeper than this is printed as raw bytes (nothing we send nests that deep).
const MAX_NEST: usize = 4;

fn write_attrs(out: &mut String, attrs: AttrIter<'_>, depth: usize) -> Result<(), Failure> {
    for attr in attrs {
        let attr = attr.map_err(codec("attribute"))?;
        out.push(' ');
        write_attr(out, attr, depth)?;
    }
    Ok(())
}

fn write_attr(out: &mut String, a: Attr<'_>, depth: usize) -> Result<(), Failure> {
    let v = a.value();
    let _ = write!(out, "{}=", a.kind());
    if a.is_nested() && depth < MAX_NEST {
        out.push('{');
        write_attrs(out, a.nested(), depth + 1)?;
        out.push_str(" }");
    } else if matches!(v.len(), 1 | 2 | 4 | 8) {
        let _ = write!(out, "{}", a.get_uint().map_err(codec("integer"))?);
    } else if let Ok(s) = a.get_str() {
        let _ = write!(out, "{s:?}");
    } else {
        for byte in v {
            let _ = write!(out, "{byte:02x}");
        }
    }
    Ok(())
}
