//! `nltelem-kmod-check`: the module's system tests, run inside the qemu guests.
//!
//! Every check talks to `nltelem.ko` over both transports (the generic netlink family and
//! the classic unit) with nlcore, and prints one line: `ok <what>` or `FAIL <what>: why`.
//! Lines hold no timings or ids, so a scenario's output is the same on every board and can
//! be compared with its `.expected` file. Exit status: 0 all passed, 1 a check failed,
//! 2 usage.
//!
//! Parts (one per scenario):
//!   requests      every command; bad requests get the right errno and an ext-ack message
//!   unprivileged  drops root: reading works, SET_CONFIG and HEARTBEAT get EPERM
//!   forged-pid    replies go to the real sender whatever nlmsg_pid says
//!   latency       sendmsg returns within 1 ms while the module samples every 1 ms
//!   scale N       broadcast and unicast snapshots carry all N interfaces, split in parts
//!   churn         dumps while interfaces come and go: DUMP_INTR or a consistent set
//!   events        config change, threshold, watchdog and link events on both transports
//!   listen S      stay subscribed to telemetry on the classic unit for S seconds
//!   capture       an nlmon capture of a genl exchange, printed as a hex pcap

use nlcore::consts::{NETLINK_GENERIC, NLM_F_ACK, NLM_F_REQUEST};
use nlcore::sock::{Error as SockError, Failed, NlSocket};
use nlcore::{AttrIter, MsgBuilder, NlMsg};
use nltelem_proto::{attr, cmd, event_kind, threshold, transport};
use nltelem_proto::{CLASSIC_DEFAULT_UNIT, FAMILY_NAME, FAMILY_VERSION};
use rustix::io::Errno;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Large enough for any datagram the module sends (NLMSG_GOODSIZE on 64 KiB pages).
const RECV_BUFFER: usize = 64 * 1024;
const REQUEST_BUFFER: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Genl,
    Classic,
}

impl Transport {
    const BOTH: [Transport; 2] = [Transport::Genl, Transport::Classic];

    fn name(self) -> &'static str {
        match self {
            Transport::Genl => "genl",
            Transport::Classic => "classic",
        }
    }
}

/// A refusal as the test sees it: the errno and the ext-ack's text and missing attribute.
#[derive(Debug)]
struct Refusal {
    errno: i32,
    msg: Option<String>,
    miss_type: Option<u32>,
}

impl Refusal {
    fn from_failed(f: Failed<'_>) -> Result<Refusal, String> {
        match f.error {
            SockError::Kernel { errno } => Ok(Refusal {
                errno,
                msg: f.ext_ack().msg.map(str::to_owned),
                miss_type: f.ext_ack().miss_type,
            }),
            other => Err(format!("{other}")),
        }
    }
}

/// One socket to the module on one transport.
struct Client {
    transport: Transport,
    family: u16,
    telemetry_group: u32,
    events_group: u32,
    sock: NlSocket,
    buf: Vec<u8>,
}

impl Client {
    fn open(transport: Transport) -> Result<Client, String> {
        let protocol = match transport {
            Transport::Genl => NETLINK_GENERIC,
            Transport::Classic => CLASSIC_DEFAULT_UNIT as i32,
        };
        let mut sock = NlSocket::open_bound(protocol)
            .map_err(|e| format!("{} socket: {e}", transport.name()))?;
        sock.set_ext_ack(true)
            .map_err(|e| format!("ext ack: {e}"))?;
        let mut buf = vec![0u8; RECV_BUFFER];
        let (family, telemetry_group, events_group) = match transport {
            Transport::Genl => {
                let f = sock
                    .resolve_family(FAMILY_NAME, &mut buf)
                    .map_err(|e| format!("resolve {FAMILY_NAME}: {}", e.error))?;
                let group = |name| f.group(name).ok_or(format!("no group {name}"));
                (
                    f.id,
                    group(nltelem_proto::MCGRP_TELEMETRY)?,
                    group(nltelem_proto::MCGRP_EVENTS)?,
                )
            }
            Transport::Classic => (
                0,
                nltelem_proto::CLASSIC_GROUP_TELEMETRY,
                nltelem_proto::CLASSIC_GROUP_EVENTS,
            ),
        };
        Ok(Client {
            transport,
            family,
            telemetry_group,
            events_group,
            sock,
            buf,
        })
    }

    /// A request for `command` with the attributes `fill` adds; `pid` is what the header's
    /// nlmsg_pid claims (the kernel must ignore it).
    fn build(
        &self,
        command: u8,
        flags: u16,
        pid: u32,
        fill: impl FnOnce(&mut MsgBuilder<nlcore::SliceBuffer<'_>>) -> Result<(), nlcore::Error>,
    ) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; REQUEST_BUFFER];
        let len = {
            let mut b = MsgBuilder::new(&mut out);
            let step = |r: Result<(), nlcore::Error>| r.map_err(|e| format!("build: {e}"));
            match self.transport {
                Transport::Genl => {
                    step(b.begin(self.family, flags, 0, pid))?;
                    step(b.genl_header(command, FAMILY_VERSION))?;
                }
                Transport::Classic => {
                    step(b.begin(nltelem_proto::classic_type(command), flags, 0, pid))?
                }
            }
            step(fill(&mut b))?;
            b.finish().map_err(|e| format!("build: {e}"))?
        };
        out.truncate(len);
        Ok(out)
    }

    fn attrs<'a>(&self, msg: NlMsg<'a>) -> Result<AttrIter<'a>, String> {
        match self.transport {
            Transport::Genl => msg.genl_attrs(),
            Transport::Classic => msg.attrs(0),
        }
        .map_err(|e| format!("reply attributes: {e}"))
    }

    /// Sends a request with an ack; returns the data messages of the reply (owned) or
    /// the refusal.
    fn request(
        &mut self,
        command: u8,
        fill: impl FnOnce(&mut MsgBuilder<nlcore::SliceBuffer<'_>>) -> Result<(), nlcore::Error>,
    ) -> Result<Result<Vec<Vec<u8>>, Refusal>, String> {
        let mut msg = self.build(command, 0, 0, fill)?;
        let mut replies = Vec::new();
        let r = self.sock.request(&mut msg, &mut self.buf, |m| {
            replies.push(m.bytes().to_vec());
            Ok(())
        });
        match r {
            Ok(_) => Ok(Ok(replies)),
            Err(f) => Ok(Err(Refusal::from_failed(f)?)),
        }
    }

    /// A dump; `Ok(Err(()))` when the kernel flagged it interrupted.
    fn dump(&mut self, command: u8) -> Result<Result<Vec<Vec<u8>>, ()>, String> {
        let mut msg = self.build(command, 0, 0, |_| Ok(()))?;
        let mut replies = Vec::new();
        let r = self.sock.dump(&mut msg, &mut self.buf, |m| {
            replies.push(m.bytes().to_vec());
            Ok(())
        });
        match r {
            Ok(_) => Ok(Ok(replies)),
            Err(f) if f.error == SockError::DumpInterrupted => Ok(Err(())),
            Err(f) => Err(format!("dump: {} {:?}", f.error, f.ext_ack().msg)),
        }
    }
}

/// A heartbeat with the given counters, then GET_STATS: the module reports what it got
/// (an absent optional counter as 0).
fn check_heartbeat(
    c: &mut Client,
    overruns: Option<u64>,
    export_errors: Option<u64>,
) -> Result<String, String> {
    accepted(c.request(cmd::HEARTBEAT, |b| {
        b.put_u64(attr::heartbeat::RECEIVED, 11)?;
        b.put_u64(attr::heartbeat::LOST, 2)?;
        b.put_u64(attr::heartbeat::EXPORTED, 9)?;
        if let Some(n) = overruns {
            b.put_u64(attr::heartbeat::OVERRUNS, n)?;
        }
        if let Some(n) = export_errors {
            b.put_u64(attr::heartbeat::EXPORT_ERRORS, n)?;
        }
        Ok(())
    }))?;
    let replies = accepted(c.request(cmd::GET_STATS, |_| Ok(())))?;
    let msg = NlMsg::new_checked(replies.first().ok_or("no reply")?).map_err(|e| e.to_string())?;
    let attrs = c.attrs(msg)?;
    let got = [
        find_u64(attrs.clone(), attr::stats::AGENT_RECEIVED)?,
        find_u64(attrs.clone(), attr::stats::AGENT_LOST)?,
        find_u64(attrs.clone(), attr::stats::AGENT_EXPORTED)?,
        find_u64(attrs.clone(), attr::stats::AGENT_OVERRUNS)?,
        find_u64(attrs.clone(), attr::stats::AGENT_EXPORT_ERRORS)?,
    ];
    let want = [
        Some(11),
        Some(2),
        Some(9),
        Some(overruns.unwrap_or(0)),
        Some(export_errors.unwrap_or(0)),
    ];
    match find_u64(attrs, attr::stats::REQUESTS)? {
        Some(r) if r > 0 && got == want => Ok(String::new()),
        requests => Err(format!(
            "stats {got:?}, requests {requests:?}; want {want:?}"
        )),
    }
}

/// The attributes of a reply or notification, by type, for the checks.
fn find_u64(attrs: AttrIter<'_>, kind: u16) -> Result<Option<u64>, String> {
    match attrs.find(kind).map_err(|e| e.to_string())? {
        Some(a) => a.get_uint().map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

fn errno_name(errno: i32) -> String {
    for (e, name) in [
        (Errno::INVAL, "EINVAL"),
        (Errno::RANGE, "ERANGE"),
        (Errno::PERM, "EPERM"),
        (Errno::OPNOTSUPP, "EOPNOTSUPP"),
        (Errno::NOENT, "ENOENT"),
        (Errno::MSGSIZE, "EMSGSIZE"),
    ] {
        if e.raw_os_error() == errno {
            return name.into();
        }
    }
    format!("errno {errno}")
}

/// A line for the log (stderr) in one write: scenarios send stderr to /dev/kmsg, where
/// every write is a record of its own.
fn log_line(mut line: String) {
    use std::io::Write as _;
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Adds a request's attributes.
type Filler = dyn Fn(&mut MsgBuilder<nlcore::SliceBuffer<'_>>) -> Result<(), nlcore::Error>;

/// Counts and prints results.
struct Report {
    failed: u32,
}

impl Report {
    fn check(&mut self, what: &str, result: Result<String, String>) {
        match result {
            Ok(detail) if detail.is_empty() => println!("ok {what}"),
            Ok(detail) => println!("ok {what}: {detail}"),
            Err(why) => {
                println!("FAIL {what}: {why}");
                self.failed += 1;
            }
        }
    }
}

/// A refusal with `want` errno and an ext-ack message; returns "ERRNO \"message\"".
fn expect_refusal(
    r: Result<Result<Vec<Vec<u8>>, Refusal>, String>,
    want: Errno,
) -> Result<String, String> {
    match r? {
        Ok(_) => Err("accepted".into()),
        Err(refusal) if refusal.errno != want.raw_os_error() => Err(format!(
            "got {} ({:?}), wanted {}",
            errno_name(refusal.errno),
            refusal.msg,
            errno_name(want.raw_os_error())
        )),
        Err(Refusal {
            msg: None, errno, ..
        }) => Err(format!("{} without an ext-ack message", errno_name(errno))),
        Err(Refusal {
            msg: Some(m),
            errno,
            ..
        }) => Ok(format!("{} \"{m}\"", errno_name(errno))),
    }
}

fn accepted(r: Result<Result<Vec<Vec<u8>>, Refusal>, String>) -> Result<Vec<Vec<u8>>, String> {
    match r? {
        Ok(replies) => Ok(replies),
        Err(refusal) => Err(format!(
            "refused: {} {:?}",
            errno_name(refusal.errno),
            refusal.msg
        )),
    }
}

fn set_period(c: &mut Client, ms: u32) -> Result<(), String> {
    accepted(c.request(cmd::SET_CONFIG, |b| b.put_u32(attr::config::PERIOD_MS, ms))).map(|_| ())
}

fn config_period(c: &mut Client) -> Result<u64, String> {
    let replies = accepted(c.request(cmd::GET_CONFIG, |_| Ok(())))?;
    let first = replies.first().ok_or("no reply")?;
    let msg = NlMsg::new_checked(first).map_err(|e| e.to_string())?;
    find_u64(c.attrs(msg)?, attr::config::PERIOD_MS)?.ok_or_else(|| "no period-ms".into())
}

/// Interface names in a list of netdev nests / netdev messages.
fn netdev_names(attrs: AttrIter<'_>, out: &mut Vec<(u32, String)>) -> Result<(), String> {
    let ifindex = attrs
        .clone()
        .find(attr::netdev::IFINDEX)
        .map_err(|e| e.to_string())?
        .ok_or("netdev without ifindex")?
        .get_u32()
        .map_err(|e| e.to_string())?;
    let name = attrs
        .find(attr::netdev::IFNAME)
        .map_err(|e| e.to_string())?
        .ok_or("netdev without ifname")?
        .get_str()
        .map_err(|e| e.to_string())?;
    out.push((ifindex, name.to_owned()));
    Ok(())
}

/// What one snapshot (all its parts) held.
#[derive(Default)]
struct Snapshot {
    parts: u32,
    netdevs: Vec<(u32, String)>,
    has_scalars: bool,
    complete: bool,
}

/// Adds one part; errors when parts come out of order or disagree on the snapshot.
fn add_part(
    snap: &mut Snapshot,
    attrs: AttrIter<'_>,
    snapshot_seq: &mut Option<u64>,
) -> Result<(), String> {
    let seq = find_u64(attrs.clone(), attr::sample::SNAPSHOT_SEQ)?.ok_or("no snapshot-seq")?;
    let part = find_u64(attrs.clone(), attr::sample::PART)?.ok_or("no part")?;
    if *snapshot_seq.get_or_insert(seq) != seq {
        return Err(format!(
            "part {part} of snapshot {seq} inside snapshot {snapshot_seq:?}"
        ));
    }
    if part != u64::from(snap.parts) {
        return Err(format!("part {part} where {} was due", snap.parts));
    }
    snap.parts += 1;
    for a in attrs {
        let a = a.map_err(|e| e.to_string())?;
        match a.kind() {
            attr::sample::NETDEV => netdev_names(a.nested(), &mut snap.netdevs)?,
            attr::sample::CPU if part == 0 => {
                snap.has_scalars = find_u64(a.nested(), attr::cpu_times::USER_NS)?.is_some()
            }
            attr::sample::LAST_PART => snap.complete = true,
            _ => {}
        }
    }
    Ok(())
}

fn check_sample(c: &mut Client, expect_netdevs: Option<usize>) -> Result<String, String> {
    let replies = accepted(c.request(cmd::GET_SAMPLE, |_| Ok(())))?;
    let mut snap = Snapshot::default();
    let mut snapshot_seq = None;
    for r in &replies {
        let msg = NlMsg::new_checked(r).map_err(|e| e.to_string())?;
        let attrs = c.attrs(msg)?;
        if snap.parts == 0 {
            for needed in [
                attr::sample::TIMESTAMP_NS,
                attr::sample::UPTIME_NS,
                attr::sample::LOAD1_MILLI,
                attr::sample::MEM_TOTAL_KIB,
                attr::sample::MEM_AVAILABLE_KIB,
            ] {
                find_u64(attrs.clone(), needed)?.ok_or(format!("no attribute {needed}"))?;
            }
        }
        add_part(&mut snap, attrs, &mut snapshot_seq)?;
    }
    check_snapshot(&snap, expect_netdevs)
}

fn check_snapshot(snap: &Snapshot, expect_netdevs: Option<usize>) -> Result<String, String> {
    if !snap.complete {
        return Err(format!("no last-part marker after {} parts", snap.parts));
    }
    if !snap.has_scalars {
        return Err("no CPU times".into());
    }
    if !snap.netdevs.iter().any(|(_, n)| n == "lo") {
        return Err("no interface lo".into());
    }
    let unique: HashSet<u32> = snap.netdevs.iter().map(|(i, _)| *i).collect();
    if unique.len() != snap.netdevs.len() {
        return Err("an interface appears twice".into());
    }
    match expect_netdevs {
        Some(n) if n != snap.netdevs.len() => {
            Err(format!("{} interfaces, expected {n}", snap.netdevs.len()))
        }
        Some(n) if n > 100 && snap.parts < 2 => Err(format!("{n} interfaces in one part")),
        Some(n) => Ok(format!("{n} interfaces")),
        None => Ok(String::new()),
    }
}

fn requests(report: &mut Report) -> Result<(), String> {
    for t in Transport::BOTH {
        let name = t.name();
        let mut c = Client::open(t)?;
        report.check(
            &format!("{name} get-config"),
            config_period(&mut c).map(|_| String::new()),
        );
        report.check(
            &format!("{name} set-config period 500 then get-config"),
            set_period(&mut c, 500)
                .and_then(|()| config_period(&mut c))
                .and_then(|p| {
                    if p == 500 {
                        Ok(String::new())
                    } else {
                        Err(format!("period {p}"))
                    }
                }),
        );
        set_period(&mut c, 1000)?;
        report.check(&format!("{name} get-sample"), check_sample(&mut c, None));
        // All five counters, then only the three a first-release agent sent (the two added
        // later read 0).
        for (overruns, export_errors, what) in [
            (Some(3), Some(4), "all five counters"),
            (None, None, "the first three counters"),
        ] {
            report.check(
                &format!("{name} heartbeat with {what} then get-stats"),
                check_heartbeat(&mut c, overruns, export_errors),
            );
        }
        report.check(
            &format!("{name} dump-netdev"),
            c.dump(cmd::DUMP_NETDEV).and_then(|r| {
                let replies = r.map_err(|()| "interrupted without any change".to_string())?;
                let mut names = Vec::new();
                for m in &replies {
                    let msg = NlMsg::new_checked(m).map_err(|e| e.to_string())?;
                    netdev_names(c.attrs(msg)?, &mut names)?;
                }
                if names.iter().any(|(_, n)| n == "lo") {
                    Ok(String::new())
                } else {
                    Err(format!("no lo in {names:?}"))
                }
            }),
        );
        rejections(report, &mut c)?;
    }
    Ok(())
}

fn rejections(report: &mut Report, c: &mut Client) -> Result<(), String> {
    let name = c.transport.name();
    let r = c.request(cmd::HEARTBEAT, |b| {
        b.put_u64(attr::heartbeat::RECEIVED, 1)?;
        b.put_u64(attr::heartbeat::EXPORTED, 1)
    });
    report.check(
        &format!("{name} heartbeat without lost"),
        match r? {
            Err(Refusal {
                miss_type: Some(t), ..
            }) if u32::from(attr::heartbeat::LOST) != t => Err(format!("missing type {t}")),
            Err(Refusal {
                miss_type: None, ..
            }) => Err("no missing-attribute type".into()),
            other => expect_refusal(Ok(other), Errno::INVAL),
        },
    );
    let cases: [(&str, Errno, &Filler); 4] = [
        ("set-config period-ms as u8", Errno::INVAL, &|b| {
            b.put_u8(attr::config::PERIOD_MS, 5)
        }),
        ("set-config period-ms 0", Errno::RANGE, &|b| {
            b.put_u32(attr::config::PERIOD_MS, 0)
        }),
        ("set-config unknown attribute", Errno::INVAL, &|b| {
            b.put_u32(30, 1)
        }),
        ("set-config without settings", Errno::INVAL, &|_| Ok(())),
    ];
    for (what, errno, fill) in cases {
        let r = c.request(cmd::SET_CONFIG, |b| fill(b));
        report.check(&format!("{name} {what}"), expect_refusal(r, errno));
    }
    let r = c.request(cmd::GET_CONFIG, |b| b.put_u32(attr::config::PERIOD_MS, 5));
    report.check(
        &format!("{name} get-config with an attribute"),
        expect_refusal(r, Errno::INVAL),
    );
    let r = c.request(99, |_| Ok(()));
    let unknown = match (c.transport, r) {
        // The genl core refuses unknown commands itself, without an ext-ack message.
        (Transport::Genl, Ok(Err(Refusal { errno, .. })))
            if errno == Errno::OPNOTSUPP.raw_os_error() =>
        {
            Ok("EOPNOTSUPP".to_string())
        }
        (_, r) => expect_refusal(r, Errno::OPNOTSUPP),
    };
    report.check(&format!("{name} unknown command"), unknown);
    Ok(())
}

fn drop_root() -> Result<(), String> {
    // nobody; the capabilities go with uid 0 (no SECBIT_KEEP_CAPS).
    let nobody = rustix::thread::Uid::from_raw(65534);
    rustix::thread::set_thread_res_uid(nobody, nobody, nobody)
        .map_err(|e| format!("setresuid: {e}"))
}

fn unprivileged(report: &mut Report) -> Result<(), String> {
    drop_root()?;
    for t in Transport::BOTH {
        let name = t.name();
        let mut c = Client::open(t)?;
        report.check(
            &format!("{name} get-config as nobody"),
            config_period(&mut c).map(|_| String::new()),
        );
        report.check(
            &format!("{name} set-config as nobody"),
            match c.request(cmd::SET_CONFIG, |b| b.put_u32(attr::config::PERIOD_MS, 200))? {
                Ok(_) => Err("accepted".into()),
                Err(r) if r.errno == Errno::PERM.raw_os_error() => Ok("EPERM".into()),
                Err(r) => Err(format!("{} {:?}", errno_name(r.errno), r.msg)),
            },
        );
        report.check(
            &format!("{name} heartbeat as nobody"),
            match c.request(cmd::HEARTBEAT, |b| {
                b.put_u64(attr::heartbeat::RECEIVED, 1)?;
                b.put_u64(attr::heartbeat::LOST, 1)?;
                b.put_u64(attr::heartbeat::EXPORTED, 1)
            })? {
                Ok(_) => Err("accepted".into()),
                Err(r) if r.errno == Errno::PERM.raw_os_error() => Ok("EPERM".into()),
                Err(r) => Err(format!("{} {:?}", errno_name(r.errno), r.msg)),
            },
        );
    }
    Ok(())
}

/// Sends GET_CONFIG from `from` claiming `claimed_pid`; the reply must reach `from` and
/// carry its real port, and `bystander` must get nothing.
fn forged_once(
    from: &mut Client,
    bystander: &mut Client,
    claimed_pid: u32,
) -> Result<String, String> {
    let msg = from.build(
        cmd::GET_CONFIG,
        NLM_F_REQUEST | NLM_F_ACK,
        claimed_pid,
        |_| Ok(()),
    )?;
    from.sock.send(&msg).map_err(|e| format!("send: {e}"))?;
    let d = from
        .sock
        .recv_from(&mut from.buf)
        .map_err(|e| format!("no reply: {e}"))?;
    let first = d
        .messages()
        .next()
        .ok_or("empty datagram")?
        .map_err(|e| e.to_string())?;
    if first.pid() != from.sock.port() {
        return Err(format!("reply addressed to port {}", first.pid()));
    }
    if bystander
        .sock
        .poll_readable(Duration::from_millis(300))
        .map_err(|e| e.to_string())?
    {
        return Err("the claimed port received something".into());
    }
    from.sock.drain(16).map_err(|e| e.to_string())?;
    Ok(String::new())
}

fn forged_pid(report: &mut Report) -> Result<(), String> {
    for t in Transport::BOTH {
        let name = t.name();
        let mut a = Client::open(t)?;
        let mut b = Client::open(t)?;
        report.check(
            &format!("{name} nlmsg_pid 0 answered to the sender"),
            forged_once(&mut a, &mut b, 0),
        );
        let victim = b.sock.port();
        report.check(
            &format!("{name} nlmsg_pid of another socket answered to the sender"),
            forged_once(&mut a, &mut b, victim),
        );
    }
    Ok(())
}

/// This thread's context switches so far: (voluntary, involuntary).
fn context_switches() -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .map_err(|e| format!("/proc/thread-self/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or(format!("no {name} in /proc/thread-self/status"))
    };
    Ok((
        field("voluntary_ctxt_switches:")?,
        field("nonvoluntary_ctxt_switches:")?,
    ))
}

/// What `rounds` GET_CONFIG sendmsg calls did (the reply is read after the clock stops).
struct SendTimes {
    /// Wall-clock time of each call, sorted.
    sorted: Vec<Duration>,
    /// Calls during which the thread went to sleep (a voluntary context switch): the
    /// sender waited for something.
    slept: u32,
    /// Calls over 1 ms without having been preempted: slow for no outside reason.
    slow_unpreempted: u32,
    /// Calls over 1 ms during which the scheduler preempted the thread (one CPU, shared
    /// with the sampler's work and everything else).
    slow_preempted: u32,
}

fn send_times(c: &mut Client, rounds: usize) -> Result<SendTimes, String> {
    let msg = c.build(cmd::GET_CONFIG, NLM_F_REQUEST, 0, |_| Ok(()))?;
    let mut t = SendTimes {
        sorted: Vec::with_capacity(rounds),
        slept: 0,
        slow_unpreempted: 0,
        slow_preempted: 0,
    };
    for _ in 0..rounds {
        let (voluntary, involuntary) = context_switches()?;
        let start = Instant::now();
        c.sock.send(&msg).map_err(|e| format!("send: {e}"))?;
        let took = start.elapsed();
        let (voluntary_after, involuntary_after) = context_switches()?;
        t.sorted.push(took);
        if voluntary_after > voluntary {
            t.slept += 1;
        }
        if took > Duration::from_millis(1) {
            if involuntary_after > involuntary {
                t.slow_preempted += 1;
            } else {
                t.slow_unpreempted += 1;
            }
        }
        c.sock
            .recv_from(&mut c.buf)
            .map_err(|e| format!("reply: {e}"))?;
    }
    t.sorted.sort();
    Ok(t)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// sendmsg must not wait for the sampler: while it samples every 1 ms, no call may sleep
/// (a voluntary context switch of the sending thread). The times, with the sampler idle
/// and busy, go to the log: under TCG on one emulated CPU some calls take milliseconds
/// even with the sampler idle (preemption, interrupts, code translation), so a wall-clock
/// bound would test the emulator, not the module.
fn latency(report: &mut Report) -> Result<(), String> {
    const ROUNDS: usize = 500;
    let mut listeners = Vec::new();
    for t in Transport::BOTH {
        let c = Client::open(t)?;
        c.sock
            .join_group(c.telemetry_group)
            .map_err(|e| format!("join: {e}"))?;
        listeners.push(c);
    }
    let mut admin = Client::open(Transport::Genl)?;
    for t in Transport::BOTH {
        let mut c = Client::open(t)?;
        set_period(&mut admin, 1000)?;
        let idle = send_times(&mut c, ROUNDS)?;
        set_period(&mut admin, 1)?;
        let busy = send_times(&mut c, ROUNDS)?;
        let us = |d: Duration| d.as_micros();
        let figures = |s: &SendTimes| {
            format!(
                "p50 {} p99 {} max {} us, {} slept, {} over 1 ms preempted, {} over 1 ms not",
                us(percentile(&s.sorted, 50)),
                us(percentile(&s.sorted, 99)),
                us(percentile(&s.sorted, 100)),
                s.slept,
                s.slow_preempted,
                s.slow_unpreempted
            )
        };
        log_line(format!(
            "{} sendmsg, period 1 s: {}; period 1 ms: {}",
            t.name(),
            figures(&idle),
            figures(&busy)
        ));
        report.check(
            &format!(
                "{} sendmsg never sleeps while the module samples every 1 ms",
                t.name()
            ),
            if busy.slept == 0 {
                Ok(String::new())
            } else {
                Err(figures(&busy))
            },
        );
    }
    set_period(&mut admin, 1000)?;
    Ok(())
}

/// Reads broadcasts until one whole snapshot (part 0 to the last part) has arrived.
fn broadcast_snapshot(c: &mut Client) -> Result<Snapshot, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut snap = Snapshot::default();
    let mut snapshot_seq = None;
    let mut last_seq: Option<u64> = None;
    while Instant::now() < deadline {
        let d = match c.sock.recv_from(&mut c.buf) {
            Ok(d) => d,
            Err(SockError::TimedOut) => continue,
            Err(SockError::Overrun) => {
                // Lost broadcasts: start over with the next snapshot.
                snap = Snapshot::default();
                snapshot_seq = None;
                last_seq = None;
                continue;
            }
            Err(e) => return Err(format!("receive: {e}")),
        };
        let buf = d.bytes.to_vec();
        for m in nlcore::MessageIter::new(&buf) {
            let m = m.map_err(|e| e.to_string())?;
            let attrs = c.attrs(m)?;
            let seq = find_u64(attrs.clone(), attr::sample::SEQ)?.ok_or("broadcast without seq")?;
            if let Some(prev) = last_seq {
                if seq != prev + 1 {
                    return Err(format!("group sequence jumped from {prev} to {seq}"));
                }
            }
            last_seq = Some(seq);
            let part = find_u64(attrs.clone(), attr::sample::PART)?.ok_or("no part")?;
            if snap.parts == 0 && part != 0 {
                continue; // joined mid-snapshot
            }
            add_part(&mut snap, attrs, &mut snapshot_seq)?;
            if snap.complete {
                return Ok(snap);
            }
        }
    }
    Err("no whole snapshot within 30 s".into())
}

fn scale(report: &mut Report, interfaces: usize) -> Result<(), String> {
    for t in Transport::BOTH {
        let name = t.name();
        let mut listener = Client::open(t)?;
        listener
            .sock
            .set_recv_buffer(4 << 20)
            .map_err(|e| format!("receive buffer: {e}"))?;
        listener
            .sock
            .join_group(listener.telemetry_group)
            .map_err(|e| format!("join: {e}"))?;
        report.check(
            &format!("{name} broadcast snapshot"),
            broadcast_snapshot(&mut listener).and_then(|s| check_snapshot(&s, Some(interfaces))),
        );
        let mut c = Client::open(t)?;
        report.check(
            &format!("{name} get-sample"),
            check_sample(&mut c, Some(interfaces)),
        );
        report.check(
            &format!("{name} dump-netdev"),
            c.dump(cmd::DUMP_NETDEV).and_then(|r| match r {
                Ok(replies) if replies.len() == interfaces => {
                    Ok(format!("{interfaces} interfaces"))
                }
                Ok(replies) => Err(format!("{} interfaces", replies.len())),
                Err(()) => Err("interrupted without any change".into()),
            }),
        );
    }
    Ok(())
}

fn churn(report: &mut Report) -> Result<(), String> {
    const ROUNDS: u32 = 40;
    for t in Transport::BOTH {
        let mut c = Client::open(t)?;
        let mut result = Ok(String::new());
        let (mut interrupted, mut consistent) = (0u32, 0u32);
        for _ in 0..ROUNDS {
            match c.dump(cmd::DUMP_NETDEV) {
                Ok(Err(())) => interrupted += 1,
                Ok(Ok(replies)) => {
                    let mut seen = HashSet::new();
                    for m in &replies {
                        let msg = NlMsg::new_checked(m).map_err(|e| e.to_string())?;
                        let mut names = Vec::new();
                        netdev_names(c.attrs(msg)?, &mut names)?;
                        if !seen.insert(names[0].0) {
                            result = Err(format!(
                                "ifindex {} twice in a dump not flagged DUMP_INTR",
                                names[0].0
                            ));
                        }
                    }
                    consistent += 1;
                }
                Err(e) => result = Err(e),
            }
        }
        log_line(format!(
            "{}: {interrupted} dumps interrupted, {consistent} consistent",
            t.name()
        ));
        report.check(
            &format!("{} dumps under churn: DUMP_INTR or consistent", t.name()),
            result,
        );
    }
    Ok(())
}

/// One event notification, reduced to what the checks compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    ConfigChanged { portid: u64, transport: u64 },
    Threshold { which: u64 },
    Watchdog,
    Link { up: bool, ifname: String },
}

fn parse_event(c: &Client, m: NlMsg<'_>) -> Result<Event, String> {
    let attrs = c.attrs(m)?;
    find_u64(attrs.clone(), attr::event::SEQ)?.ok_or("event without seq")?;
    let kind = find_u64(attrs.clone(), attr::event::KIND)?.ok_or("event without kind")?;
    let get = |a| find_u64(attrs.clone(), a)?.ok_or(format!("event {kind} without attribute {a}"));
    let ifname = || -> Result<String, String> {
        Ok(attrs
            .clone()
            .find(attr::event::IFNAME)
            .map_err(|e| e.to_string())?
            .ok_or("link event without ifname")?
            .get_str()
            .map_err(|e| e.to_string())?
            .to_owned())
    };
    Ok(match kind as u32 {
        event_kind::CONFIG_CHANGED => Event::ConfigChanged {
            portid: get(attr::event::PORTID)?,
            transport: get(attr::event::TRANSPORT)?,
        },
        event_kind::THRESHOLD => Event::Threshold {
            which: get(attr::event::THRESHOLD)?,
        },
        event_kind::WATCHDOG => {
            get(attr::event::SILENCE_MS)?;
            Event::Watchdog
        }
        event_kind::LINK_UP => Event::Link {
            up: true,
            ifname: ifname()?,
        },
        event_kind::LINK_DOWN => Event::Link {
            up: false,
            ifname: ifname()?,
        },
        other => return Err(format!("unknown event kind {other}")),
    })
}

/// Reads events for up to 10 s until each of `wants` has arrived, in any order; returns
/// which arrived.
fn wait_events(c: &mut Client, wants: &[Event]) -> Result<Vec<bool>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = vec![false; wants.len()];
    while Instant::now() < deadline && seen.contains(&false) {
        let d = match c.sock.recv_from(&mut c.buf) {
            Ok(d) => d,
            Err(SockError::TimedOut) => continue,
            Err(e) => return Err(format!("receive: {e}")),
        };
        let buf = d.bytes.to_vec();
        for m in nlcore::MessageIter::new(&buf) {
            let event = parse_event(c, m.map_err(|e| e.to_string())?)?;
            for (want, seen) in wants.iter().zip(seen.iter_mut()) {
                *seen |= *want == event;
            }
        }
    }
    Ok(seen)
}

fn report_events(
    report: &mut Report,
    c: &mut Client,
    wants: &[(&str, Event)],
) -> Result<(), String> {
    let events: Vec<Event> = wants.iter().map(|(_, e)| e.clone()).collect();
    let seen = wait_events(c, &events)?;
    for ((what, event), seen) in wants.iter().zip(seen) {
        report.check(
            &format!("{} {what}", c.transport.name()),
            if seen {
                Ok(String::new())
            } else {
                Err(format!("no {event:?} within 10 s"))
            },
        );
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<(), String> {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .map_err(|e| format!("ip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {args:?}: {status}"))
    }
}

fn events(report: &mut Report) -> Result<(), String> {
    let mut listeners = Vec::new();
    for t in Transport::BOTH {
        let c = Client::open(t)?;
        c.sock
            .join_group(c.events_group)
            .map_err(|e| format!("join: {e}"))?;
        listeners.push(c);
    }
    let mut admin = Client::open(Transport::Classic)?;
    let admin_port = u64::from(admin.sock.port());
    // Less memory available than all of it: the threshold is crossed at the next sample.
    accepted(admin.request(cmd::SET_CONFIG, |b| {
        b.put_u32(attr::config::PERIOD_MS, 100)?;
        b.put_u64(attr::config::MEM_AVAILABLE_KIB_MIN, u64::MAX >> 12)?;
        b.put_u32(attr::config::WATCHDOG_MS, 300)
    }))?;
    for l in &mut listeners {
        let changed = Event::ConfigChanged {
            portid: admin_port,
            transport: u64::from(transport::CLASSIC),
        };
        let crossed = Event::Threshold {
            which: u64::from(threshold::MEM_AVAILABLE),
        };
        report_events(
            report,
            l,
            &[
                ("config-changed event names the classic port", changed),
                ("mem-available threshold event", crossed),
                ("watchdog event without heartbeats", Event::Watchdog),
            ],
        )?;
    }
    accepted(admin.request(cmd::SET_CONFIG, |b| {
        b.put_u32(attr::config::PERIOD_MS, 1000)?;
        b.put_u64(attr::config::MEM_AVAILABLE_KIB_MIN, 0)?;
        b.put_u32(attr::config::WATCHDOG_MS, 0)
    }))?;
    ip(&["link", "add", "evtest0", "type", "dummy"])?;
    ip(&["link", "set", "evtest0", "up"])?;
    ip(&["link", "set", "evtest0", "down"])?;
    for l in &mut listeners {
        let link = |up| Event::Link {
            up,
            ifname: "evtest0".into(),
        };
        report_events(
            report,
            l,
            &[
                ("link-up event", link(true)),
                ("link-down event", link(false)),
            ],
        )?;
    }
    ip(&["link", "del", "evtest0"])
}

fn listen(seconds: u64) -> Result<(), String> {
    let c = Client::open(Transport::Classic)?;
    c.sock
        .join_group(c.telemetry_group)
        .map_err(|e| format!("join: {e}"))?;
    println!("listening on the classic unit");
    std::thread::sleep(Duration::from_secs(seconds));
    Ok(())
}

/// Records, through an nlmon device that is up, the generic netlink traffic of one
/// exchange (family lookup, GET_SAMPLE, GET_STATS, one telemetry broadcast) and prints it
/// as a pcap file (LINKTYPE_NETLINK), in hex, between `pcap begin` and `pcap end`: the
/// fixture the Wireshark dissector is tested against on the host.
fn capture() -> Result<(), String> {
    use rustix::net::{AddressFamily, Protocol, RecvFlags, SocketType};
    // Taps see nlmon's transmissions only through ETH_P_ALL. The guest has no other
    // traffic, and of the netlink copies only generic netlink ones are kept (below).
    const ETH_P_ALL: u16 = 3;
    let all = u32::from(ETH_P_ALL.to_be());
    let proto = Protocol::from_raw(std::num::NonZeroU32::new(all).ok_or("protocol 0")?);
    let tap = rustix::net::socket(AddressFamily::PACKET, SocketType::RAW, Some(proto))
        .map_err(|e| format!("packet socket: {e}"))?;
    let mut c = Client::open(Transport::Genl)?;
    accepted(c.request(cmd::GET_SAMPLE, |_| Ok(())))?;
    accepted(c.request(cmd::GET_STATS, |_| Ok(())))?;
    let mut listener = Client::open(Transport::Genl)?;
    listener
        .sock
        .join_group(listener.telemetry_group)
        .map_err(|e| format!("join: {e}"))?;
    listener
        .sock
        .recv_from(&mut listener.buf)
        .map_err(|e| format!("broadcast: {e}"))?;
    let mut pcap: Vec<u8> = Vec::new();
    // Global header: magic, version 2.4, zone 0, sigfigs 0, snaplen, LINKTYPE_NETLINK.
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 253] {
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    let mut packet = vec![0u8; RECV_BUFFER];
    let mut count = 0u32;
    loop {
        let n = match rustix::net::recv(&tap, &mut packet[..], RecvFlags::DONTWAIT) {
            Ok((n, _)) => n,
            Err(Errno::AGAIN) => break,
            Err(e) => return Err(format!("packet socket: {e}")),
        };
        // Without the sender address the netlink family is not known: keep the messages
        // of the controller and of our family, which are generic netlink.
        let ty = packet.get(4..6).map(|t| u16::from_ne_bytes([t[0], t[1]]));
        if ty != Some(nlcore::consts::GENL_ID_CTRL) && ty != Some(c.family) {
            continue;
        }
        // libpcap's header for netlink: packet type, ARPHRD_NETLINK (824), no address,
        // the netlink family; all big-endian.
        let mut header = [0u8; 16];
        header[2..4].copy_from_slice(&824u16.to_be_bytes());
        header[14..16].copy_from_slice(&(NETLINK_GENERIC as u16).to_be_bytes());
        let len = (16 + n) as u32;
        for word in [0u32, count, len, len] {
            pcap.extend_from_slice(&word.to_le_bytes());
        }
        pcap.extend_from_slice(&header);
        pcap.extend_from_slice(&packet[..n]);
        count += 1;
    }
    if count == 0 {
        return Err("nothing captured (is an nlmon device up?)".into());
    }
    println!("pcap begin");
    for chunk in pcap.chunks(64) {
        println!(
            "{}",
            chunk.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
    }
    println!("pcap end");
    Ok(())
}

/// `forge-samples N`: as root, sends N well-formed telemetry samples from this process to
/// the running agent: half to the telemetry group (as the module broadcasts them), half
/// unicast to the agent's own socket in that group, found in /proc/net/netlink. The agent
/// must take none of them (the sender is not the kernel) and count each as forged; the
/// scenario reads its counters.
fn forge_samples(n: u64) -> Result<(), String> {
    let c = Client::open(Transport::Genl)?;
    let group = c.telemetry_group;
    let member = group_member_port(group)?;
    let mut sent = 0;
    for i in 0..n {
        let seq = 1_000_000 + i;
        let msg = c.build(cmd::SAMPLE, 0, c.sock.port(), |b| {
            b.put_u64(attr::sample::SEQ, seq)?;
            b.put_u64(attr::sample::SNAPSHOT_SEQ, seq)?;
            b.put_flag(attr::sample::LAST_PART)?;
            b.put_u32(attr::sample::LOAD1_MILLI, 99_000)
        })?;
        let to = if i % 2 == 0 {
            nlcore::sock::Addr::group(group)
        } else {
            nlcore::sock::Addr::port(member)
        };
        c.sock
            .send_to(&msg, to)
            .map_err(|e| format!("send forged sample {i}: {e}"))?;
        sent += 1;
    }
    println!("forged samples sent {sent}: half to the group, half to its member's port");
    Ok(())
}

/// The port of the one generic netlink socket in group `group` (from /proc/net/netlink:
/// `sk Eth Pid Groups ...`, Groups being the first 32 groups' bits).
fn group_member_port(group: u32) -> Result<u32, String> {
    let table = std::fs::read_to_string("/proc/net/netlink")
        .map_err(|e| format!("/proc/net/netlink: {e}"))?;
    let mask = nlcore::sock::group_mask(group);
    if mask == 0 {
        return Err(format!(
            "group {group} is beyond the 32 that /proc/net/netlink shows"
        ));
    }
    let members: Vec<u32> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let protocol = f.get(1)?.parse::<i32>().ok()?;
            let port = f.get(2)?.parse::<u32>().ok()?;
            let groups = u32::from_str_radix(f.get(3)?, 16).ok()?;
            (protocol == NETLINK_GENERIC && groups & mask != 0).then_some(port)
        })
        .collect();
    match members[..] {
        [port] => Ok(port),
        _ => Err(format!(
            "expected one member of group {group}, found {members:?}"
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut report = Report { failed: 0 };
    let number = |i: usize| args.get(i).and_then(|v| v.parse::<u64>().ok());
    let result = match (args.first().map(String::as_str), number(1)) {
        (Some("requests"), _) => requests(&mut report),
        (Some("unprivileged"), _) => unprivileged(&mut report),
        (Some("forged-pid"), _) => forged_pid(&mut report),
        (Some("latency"), _) => latency(&mut report),
        (Some("scale"), Some(n)) => scale(&mut report, n as usize),
        (Some("churn"), _) => churn(&mut report),
        (Some("events"), _) => events(&mut report),
        (Some("capture"), _) => capture(),
        (Some("listen"), Some(s)) => listen(s.min(600)),
        (Some("forge-samples"), Some(n)) => forge_samples(n.min(100_000)),
        _ => {
            eprintln!("usage: nltelem-kmod-check requests|unprivileged|forged-pid|latency|scale N|churn|events|capture|listen SECONDS|forge-samples N");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = result {
        println!("FAIL {e}");
        return ExitCode::from(1);
    }
    if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
