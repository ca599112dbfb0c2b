//! `nltelem-watch`: a small generic netlink client for the qemu guests, built on nlcore.
//!
//! It resolves a family through the controller and either describes it (`--show`) or joins
//! one of its multicast groups and prints every message it receives, attribute by attribute,
//! until `--count` messages or `--timeout` seconds. The system-test scenarios use it to prove
//! the module's family and telemetry stream; `cargo xtask run` shows its output until the
//! agent exists.
//!
//! Exit status: 0 done, 1 error, 2 usage, 3 timed out before `--count`, 4 no such family.

use nlcore::consts::{GENL_HDRLEN, NETLINK_GENERIC};
use nlcore::genl::{build_get_family, FamilyInfo};
use nlcore::sock::{Error as SockError, Family, NlSocket};
use nlcore::{Attr, AttrIter, MsgBuilder, NlMsg};
use nltelem_proto::attr::sample::SEQ as SAMPLE_SEQ;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: nltelem-watch --family NAME --show
       nltelem-watch --family NAME --group NAME [--count N] [--timeout SECONDS] [--summary]
                     [--check-seq]

  --show        describe the family: version, number of commands, multicast groups
  --group       join this multicast group and print each message's attributes
  --count N     stop after N messages (default: run until --timeout or forever)
  --timeout S   give up after S seconds (exit 3 if --count was not reached)
  --summary     print one line at the end instead of one line per message
  --check-seq   fail unless every message's sequence attribute (nltelem's `seq`, type 1)
                is the previous one plus one
";

/// `ENOENT`: what the controller answers for a family that is not registered.
const ENOENT: i32 = 2;

/// Receive buffer: generic netlink messages are at most a page (NLMSG_GOODSIZE); twice
/// that leaves room for larger pages and several messages per datagram.
const RECV_BUFFER: usize = 16 * 1024;

/// How long one receive may block, so the overall deadline is checked at least this often.
const RECV_SLICE: Duration = Duration::from_millis(500);

struct Options {
    family: String,
    group: Option<String>,
    show: bool,
    count: Option<u64>,
    timeout: Option<Duration>,
    summary: bool,
    check_seq: bool,
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

fn sock(context: &str) -> impl FnOnce(SockError) -> Failure + '_ {
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
        check_seq: false,
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
            "--check-seq" => o.check_seq = true,
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
    let mut socket = NlSocket::open_bound(NETLINK_GENERIC).map_err(sock("netlink socket"))?;
    socket
        .set_recv_timeout(RECV_SLICE)
        .map_err(sock("receive timeout"))?;
    let mut buf = vec![0u8; RECV_BUFFER];
    let (family, commands) = resolve(&mut socket, &o.family, &mut buf)?;
    if o.show {
        show_family(&family, commands);
        return Ok(());
    }
    let group_name = o.group.as_deref().unwrap_or_default();
    let group = family.group(group_name).ok_or_else(|| {
        Failure::Other(format!(
            "family {} has no multicast group `{group_name}`",
            o.family
        ))
    })?;
    socket
        .join_group(group)
        .map_err(sock("joining the group"))?;
    watch(&mut socket, o, family.id, group_name, &mut buf)
}

/// Looks `name` up through the controller; returns the family and how many commands it has.
fn resolve(socket: &mut NlSocket, name: &str, buf: &mut [u8]) -> Result<(Family, usize), Failure> {
    let mut request = [0u8; 64];
    let len = {
        let mut b = MsgBuilder::new(&mut request[..]);
        build_get_family(&mut b, name, 0).map_err(codec("GETFAMILY request"))?;
        b.len()
    };
    let mut found = None;
    let asked = socket.request(&mut request[..len], buf, |msg| {
        let info = FamilyInfo::parse(msg)?;
        if info.name == name {
            let mut commands = 0;
            for op in info.ops() {
                op?;
                commands += 1;
            }
            found = Some((Family::from_info(&info)?, commands));
        }
        Ok(())
    });
    match asked {
        Ok(_) => found.ok_or_else(|| Failure::NoFamily(format!("no family `{name}`"))),
        Err(f) if f.error.errno() == Some(ENOENT) => {
            Err(Failure::NoFamily(format!("no family `{name}`")))
        }
        Err(f) => Err(Failure::Other(format!("resolving {name}: {f}"))),
    }
}

fn show_family(f: &Family, commands: usize) {
    let groups: Vec<&str> = f.groups.iter().map(|g| g.name.as_str()).collect();
    println!(
        "family {}: version {}, {commands} commands, multicast groups: {}",
        f.name,
        f.version,
        if groups.is_empty() {
            "none".to_string()
        } else {
            groups.join(" ")
        }
    );
}

fn watch(
    socket: &mut NlSocket,
    o: &Options,
    family_id: u16,
    group: &str,
    buf: &mut [u8],
) -> Result<(), Failure> {
    let start = Instant::now();
    let mut received = 0u64;
    let mut last_seq: Option<u64> = None;
    let done = |received: u64| o.count.is_some_and(|c| received >= c);
    while !done(received) {
        if o.timeout.is_some_and(|t| start.elapsed() >= t) {
            return Err(Failure::TimedOut(format!(
                "{received} of {} messages on {}/{group} before the timeout",
                o.count.map_or("?".into(), |c| c.to_string()),
                o.family
            )));
        }
        // The socket accepts datagrams from the kernel (port 0) only.
        let datagram = match socket.recv_from(buf) {
            Ok(d) => d,
            Err(SockError::TimedOut | SockError::WouldBlock) => continue,
            // The queue overflowed: messages were lost. nlcore counts it; go on.
            Err(SockError::Overrun) => {
                eprintln!("nltelem-watch: receive queue overrun, messages lost");
                continue;
            }
            Err(e) => return Err(Failure::Other(format!("receive: {e}"))),
        };
        for msg in datagram.messages() {
            let msg = msg.map_err(codec("telemetry message"))?;
            if msg.ty() != family_id || done(received) {
                continue;
            }
            received += 1;
            if o.check_seq {
                let seq = sequence(msg)?;
                if let Some(prev) = last_seq.filter(|&p| seq != p.wrapping_add(1)) {
                    return Err(Failure::Other(format!("sequence gap: {seq} after {prev}")));
                }
                last_seq = Some(seq);
            }
            if !o.summary {
                println!("{}", describe(msg)?);
            }
        }
    }
    if o.summary {
        println!(
            "received {received} messages on {}/{group}, all from the kernel (port 0){}",
            o.family,
            if o.check_seq {
                ", sequence numbers consecutive"
            } else {
                ""
            }
        );
    }
    if socket.overruns() > 0 {
        eprintln!("nltelem-watch: {} overruns", socket.overruns());
    }
    Ok(())
}

/// The message's sequence attribute.
fn sequence(msg: NlMsg<'_>) -> Result<u64, Failure> {
    let attrs = msg.attrs(GENL_HDRLEN).map_err(codec("attributes"))?;
    let seq = attrs
        .find(SAMPLE_SEQ)
        .map_err(codec("attributes"))?
        .ok_or_else(|| Failure::Other("a message without a seq attribute".into()))?;
    seq.get_u64().map_err(codec("seq"))
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
    } else if v.is_empty() {
        out.push_str("flag");
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
