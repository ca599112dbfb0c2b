//! Typed, borrowed views of what the module sends: samples, events, statistics, its
//! configuration and interface counters. Each is checked against the protocol's (lenient)
//! policy first, so the field reads below cannot fail on size; unknown attributes from a
//! newer module are skipped.

use crate::config::name_of;
use crate::settings::ModuleSettings;
use nlcore::{Attr, AttrIter, Error};
use nltelem_proto::attr;
use nltelem_proto::policy;

/// An integer attribute, widened to 64 bits. Every reader below runs after the policy
/// checked each known type's width, so the width says the type: one read per attribute
/// instead of a typed, checked read per field. Fields narrower than 64 bits take it back
/// with `as` (a signed one gets its bit pattern back). Out of line: eight readers call it.
#[inline(never)]
fn int(a: Attr<'_>) -> u64 {
    let v = a.value();
    if let Ok(b) = <[u8; 8]>::try_from(v) {
        u64::from_ne_bytes(b)
    } else if let Ok(b) = <[u8; 4]>::try_from(v) {
        u64::from(u32::from_ne_bytes(b))
    } else {
        v.first().map_or(0, |&b| u64::from(b))
    }
}

/// CPU times summed over all CPUs, ns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user, nice, system, idle, iowait, irq, softirq, steal (ns), in that order.
    pub ns: [Option<u64>; 8],
}

/// The names of [`CpuTimes::ns`], in order, as a [`words`](crate::config::words) list
/// (one string instead of a table of `&str`, 16 bytes an entry).
pub const CPU_FIELDS: &str = "user nice system idle iowait irq softirq steal";

/// One interface's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Netdev<'a> {
    /// `ifindex` (u32 on the wire: the integers stay u64, as every writer takes them).
    pub ifindex: Option<u64>,
    /// `ifname`.
    pub ifname: Option<&'a str>,
    /// RFC 2863 operstate (u8 on the wire).
    pub oper_state: Option<u64>,
    /// rx/tx bytes, packets, errors, dropped, in [`NETDEV_FIELDS`] order.
    pub counters: [Option<u64>; 8],
}

/// The names of [`Netdev::counters`], in order, as a [`words`](crate::config::words) list.
pub const NETDEV_FIELDS: &str =
    "rx_bytes tx_bytes rx_packets tx_packets rx_errors tx_errors rx_dropped tx_dropped";

impl<'a> Netdev<'a> {
    /// Validates and reads a `netdev` nest on its own (a dump reply).
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        policy::NETDEV.validate(attrs.clone())?;
        Ok(Netdev::read(attrs))
    }

    /// Reads a `netdev` nest that its container's policy already validated (the sample's
    /// policy checks its nests), so the hot path does not check it twice.
    fn read(attrs: AttrIter<'a>) -> Self {
        use attr::netdev as k;
        // As in Event::parse: the integers by attribute type first.
        let mut v = [None; k::MAX as usize + 1];
        let mut ifname = None;
        for a in attrs.flatten() {
            if a.kind() == k::IFNAME {
                ifname = a.get_str().ok();
            } else if let Some(slot) = v.get_mut(usize::from(a.kind())) {
                *slot = Some(int(a));
            }
        }
        let mut counters = [None; 8];
        counters.copy_from_slice(&v[usize::from(k::RX_BYTES)..=usize::from(k::TX_DROPPED)]);
        Netdev {
            ifindex: v[usize::from(k::IFINDEX)],
            ifname,
            oper_state: v[usize::from(k::OPER_STATE)],
            counters,
        }
    }
}

/// One thermal zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thermal<'a> {
    /// Zone type, e.g. `x86_pkg_temp`.
    pub kind: Option<&'a str>,
    /// Temperature, m°C.
    pub temp_mdegc: Option<i32>,
}

/// One sample message (a snapshot, or one part of a large one).
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    /// Per-group sequence number of the message.
    pub seq: Option<u64>,
    /// The snapshot's number, equal in all its parts.
    pub snapshot_seq: Option<u64>,
    /// Part index, from 0.
    pub part: Option<u32>,
    /// Set on the final part.
    pub last_part: bool,
    /// Wall-clock time, ns.
    pub timestamp_ns: Option<u64>,
    /// Time since boot, ns.
    pub uptime_ns: Option<u64>,
    /// Load averages x1000 (1, 5, 15 minutes): u32 on the wire, kept as u64 like the other
    /// fields so that no reader widens them again.
    pub load_milli: [Option<u64>; 3],
    /// Memory total, free, available (KiB).
    pub mem_kib: [Option<u64>; 3],
    /// CPU times.
    pub cpu: Option<CpuTimes>,
    attrs: AttrIter<'a>,
}

impl Default for Sample<'_> {
    fn default() -> Self {
        Sample {
            seq: None,
            snapshot_seq: None,
            part: None,
            last_part: false,
            timestamp_ns: None,
            uptime_ns: None,
            load_milli: [None; 3],
            mem_kib: [None; 3],
            cpu: None,
            attrs: AttrIter::new(&[]),
        }
    }
}

impl<'a> Sample<'a> {
    /// Reads a sample's attributes.
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        policy::SAMPLE.validate(attrs.clone())?;
        use attr::sample as k;
        // As in Event::parse: the integers by attribute type first.
        let mut v = [None; k::MAX as usize + 1];
        let mut cpu = None;
        for a in attrs.clone() {
            let a = a?;
            if a.kind() == k::CPU {
                let mut times = CpuTimes::default();
                for c in a.nested() {
                    let c = c?;
                    if let Some(slot) = usize::from(c.kind())
                        .checked_sub(1)
                        .and_then(|i| times.ns.get_mut(i))
                    {
                        *slot = Some(int(c));
                    }
                }
                cpu = Some(times);
            } else if let Some(slot) = v.get_mut(usize::from(a.kind())) {
                *slot = Some(int(a));
            }
        }
        let at = |t: u16| v[usize::from(t)];
        let narrow = |t: u16| at(t).map(|x| x as u32);
        Ok(Sample {
            seq: at(k::SEQ),
            snapshot_seq: at(k::SNAPSHOT_SEQ),
            part: narrow(k::PART),
            last_part: at(k::LAST_PART).is_some(),
            timestamp_ns: at(k::TIMESTAMP_NS),
            uptime_ns: at(k::UPTIME_NS),
            load_milli: [at(k::LOAD1_MILLI), at(k::LOAD5_MILLI), at(k::LOAD15_MILLI)],
            mem_kib: [
                at(k::MEM_TOTAL_KIB),
                at(k::MEM_FREE_KIB),
                at(k::MEM_AVAILABLE_KIB),
            ],
            cpu,
            attrs,
        })
    }

    /// The interfaces in this message.
    pub fn netdevs(&self) -> impl Iterator<Item = Netdev<'a>> + 'a {
        self.attrs
            .clone()
            .filter_map(Result::ok)
            .filter(|a| a.kind() == attr::sample::NETDEV)
            .map(|a| Netdev::read(a.nested()))
    }

    /// The thermal zones in this message.
    pub fn thermal(&self) -> impl Iterator<Item = Thermal<'a>> + 'a {
        self.attrs
            .clone()
            .filter_map(Result::ok)
            .filter(|a| a.kind() == attr::sample::THERMAL)
            .map(|a| {
                let mut t = Thermal::default();
                for z in a.nested().filter_map(Result::ok) {
                    match z.kind() {
                        attr::thermal_zone::TYPE => t.kind = z.get_str().ok(),
                        attr::thermal_zone::TEMP_MDEGC => t.temp_mdegc = Some(int(z) as i32),
                        _ => {}
                    }
                }
                t
            })
    }
}

/// An event notification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// Per-group sequence number.
    pub seq: Option<u64>,
    /// Wall-clock time, ns.
    pub timestamp_ns: Option<u64>,
    /// `event_kind::*`.
    pub kind: Option<u32>,
    /// Link events (u32 on the wire, as `portid` and `silence_ms`: kept as u64, as every
    /// writer takes them).
    pub ifindex: Option<u64>,
    /// Link events.
    pub ifname: Option<&'a str>,
    /// Threshold events: `threshold::*`.
    pub threshold: Option<u32>,
    /// Threshold events: the sampled value.
    pub value: Option<i64>,
    /// Threshold events: the limit.
    pub limit: Option<i64>,
    /// Config-changed: the requester's port.
    pub portid: Option<u64>,
    /// Config-changed: `transport::*`.
    pub transport: Option<u32>,
    /// Watchdog: ms since the last heartbeat.
    pub silence_ms: Option<u64>,
}

impl<'a> Event<'a> {
    /// Reads an event's attributes.
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        policy::EVENT.validate(attrs.clone())?;
        use attr::event as k;
        // The integers by attribute type, then taken into their fields: one store per
        // attribute instead of one branch per field.
        let mut v = [None; k::MAX as usize + 1];
        let mut ifname = None;
        for a in attrs {
            let a = a?;
            if a.kind() == k::IFNAME {
                ifname = a.get_str().ok();
            } else if let Some(slot) = v.get_mut(usize::from(a.kind())) {
                *slot = Some(int(a));
            }
        }
        let narrow = |t: u16| v[usize::from(t)].map(|x| x as u32);
        Ok(Event {
            seq: v[usize::from(k::SEQ)],
            timestamp_ns: v[usize::from(k::TIMESTAMP_NS)],
            kind: narrow(k::KIND),
            ifindex: v[usize::from(k::IFINDEX)],
            ifname,
            threshold: narrow(k::THRESHOLD),
            value: v[usize::from(k::VALUE)].map(|x| x as i64),
            limit: v[usize::from(k::LIMIT)].map(|x| x as i64),
            portid: v[usize::from(k::PORTID)],
            transport: narrow(k::TRANSPORT),
            silence_ms: v[usize::from(k::SILENCE_MS)],
        })
    }

    /// The kind's name.
    // Out of line: its callers inlined it into larger code (272 bytes, measured).
    #[inline(never)]
    pub fn kind_name(&self) -> &'static str {
        // `event_kind::*` from 1.
        name_of(
            "unknown link-up link-down threshold watchdog config-changed",
            self.kind.unwrap_or(0),
        )
    }

    /// The threshold's name.
    pub fn threshold_name(&self) -> Option<&'static str> {
        // `threshold::*` from 1.
        Some(name_of(
            "unknown load1 mem-available temperature",
            self.threshold?,
        ))
    }
}

/// The module's own counters (`GET_STATS`), by attribute type: index `i` holds type `i`
/// for the u64 attributes; `bcast_fail` lists (errno, count) pairs.
#[derive(Debug, Clone)]
pub struct Stats<'a> {
    /// u64 values by attribute type (`attr::stats::*`).
    pub values: [Option<u64>; attr::stats::MAX as usize + 1],
    attrs: AttrIter<'a>,
}

/// The names of the u64 statistics, separated by spaces, for attribute types 1 up (in
/// [`Stats::values`] from index 1); the gaps are the types that are not u64 statistics
/// (`bcast_fail`, `pad`). One string: a table of `(type, &str)` took 24 bytes an entry.
pub const STATS_NAMES: &str = "telemetry_sent events_sent  alloc_fail requests rejects \
    unicast_fail snapshots heartbeats heartbeat_age_ms agent_received agent_lost \
    agent_exported  agent_overruns agent_export_errors";

impl<'a> Stats<'a> {
    /// Reads a `GET_STATS` reply's attributes.
    // Out of line: inlined into its one caller, 48 bytes larger on x86_64 (the same on
    // aarch64), measured.
    #[inline(never)]
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        policy::STATS.validate(attrs.clone())?;
        let mut s = Stats {
            values: [None; attr::stats::MAX as usize + 1],
            attrs: attrs.clone(),
        };
        for a in attrs {
            let a = a?;
            if a.kind() != attr::stats::BCAST_FAIL {
                if let Some(slot) = s.values.get_mut(usize::from(a.kind())) {
                    *slot = Some(int(a));
                }
            }
        }
        Ok(s)
    }

    /// Failed broadcasts as (errno, count).
    pub fn bcast_fail(&self) -> impl Iterator<Item = (u32, u64)> + 'a {
        self.attrs
            .clone()
            .filter_map(Result::ok)
            .filter(|a| a.kind() == attr::stats::BCAST_FAIL)
            .map(|a| {
                let (mut errno, mut count) = (0, 0);
                for f in a.nested().filter_map(Result::ok) {
                    match f.kind() {
                        attr::errno_count::ERRNO => errno = int(f) as u32,
                        attr::errno_count::COUNT => count = int(f),
                        _ => {}
                    }
                }
                (errno, count)
            })
    }
}

/// The module's configuration (`GET_CONFIG` reply).
pub fn parse_module_config(attrs: AttrIter<'_>) -> Result<ModuleSettings, Error> {
    policy::CONFIG.validate(attrs.clone())?;
    let mut s = ModuleSettings::default();
    for a in attrs {
        let a = a?;
        if let Some(i) = ModuleSettings::of_attr(a.kind()) {
            s.put_nth(i, int(a));
        }
    }
    Ok(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nlcore::{MsgBuilder, NlMsg};
    use nltelem_proto::attr::{netdev as nd, sample as k};

    #[test]
    fn names_follow_the_protocol_numbers() {
        use nltelem_proto::{event_kind as k, threshold as t};
        let kind = |n| {
            Event {
                kind: n,
                ..Event::default()
            }
            .kind_name()
        };
        let names = [
            (k::LINK_UP, "link-up"),
            (k::LINK_DOWN, "link-down"),
            (k::THRESHOLD, "threshold"),
            (k::WATCHDOG, "watchdog"),
            (k::CONFIG_CHANGED, "config-changed"),
            (0, "unknown"),
            (6, "unknown"),
            (u32::MAX, "unknown"),
        ];
        for (n, name) in names {
            assert_eq!(kind(Some(n)), name);
        }
        assert_eq!(kind(None), "unknown");
        let threshold = |n| {
            Event {
                threshold: n,
                ..Event::default()
            }
            .threshold_name()
        };
        let names = [
            (t::LOAD1, "load1"),
            (t::MEM_AVAILABLE, "mem-available"),
            (t::TEMPERATURE, "temperature"),
            (0, "unknown"),
            (4, "unknown"),
        ];
        for (n, name) in names {
            assert_eq!(threshold(Some(n)), Some(name));
        }
        assert_eq!(threshold(None), None);
    }

    #[test]
    fn stats_names_follow_the_attribute_types() {
        use attr::stats as st;
        let names: Vec<&str> = STATS_NAMES.split(' ').collect();
        assert_eq!(names.len(), usize::from(st::MAX));
        let name = |t: u16| names[usize::from(t) - 1];
        assert_eq!(name(st::TELEMETRY_SENT), "telemetry_sent");
        assert_eq!((name(st::BCAST_FAIL), name(st::PAD)), ("", ""));
        assert_eq!(name(st::AGENT_EXPORT_ERRORS), "agent_export_errors");
    }

    /// Builds a sample message (classic layout: attributes right after the header).
    pub(crate) fn sample_bytes(buf: &mut [u8], seq: u64, ifname: &str) -> usize {
        let mut b = MsgBuilder::new(buf);
        b.begin(
            nltelem_proto::classic_type(nltelem_proto::cmd::SAMPLE),
            0,
            0,
            0,
        )
        .unwrap();
        b.put_u64(k::SEQ, seq).unwrap();
        b.put_u64(k::SNAPSHOT_SEQ, seq).unwrap();
        b.put_u32(k::PART, 0).unwrap();
        b.put_flag(k::LAST_PART).unwrap();
        b.put_u64(k::TIMESTAMP_NS, 1_700_000_000_123_456_789)
            .unwrap();
        b.put_u64(k::UPTIME_NS, 5_000_000_000).unwrap();
        b.put_u32(k::LOAD1_MILLI, 250).unwrap();
        b.put_u32(k::LOAD5_MILLI, 1500).unwrap();
        b.put_u32(k::LOAD15_MILLI, 20).unwrap();
        b.put_u64(k::MEM_TOTAL_KIB, 262_144).unwrap();
        b.put_u64(k::MEM_FREE_KIB, 100_000).unwrap();
        b.put_u64(k::MEM_AVAILABLE_KIB, 200_000).unwrap();
        let cpu = b.nest_start(k::CPU).unwrap();
        b.put_u64(nltelem_proto::attr::cpu_times::USER_NS, 11)
            .unwrap();
        b.put_u64(nltelem_proto::attr::cpu_times::IDLE_NS, 44)
            .unwrap();
        b.nest_end(cpu).unwrap();
        for i in 1..=2u32 {
            let n = b.nest_start(k::NETDEV).unwrap();
            b.put_u32(nd::IFINDEX, i).unwrap();
            b.put_str(nd::IFNAME, if i == 1 { "lo" } else { ifname })
                .unwrap();
            b.put_u8(nd::OPER_STATE, 6).unwrap();
            b.put_u64(nd::RX_BYTES, 1000 * u64::from(i)).unwrap();
            b.put_u64(nd::TX_DROPPED, u64::MAX).unwrap();
            b.nest_end(n).unwrap();
        }
        let t = b.nest_start(k::THERMAL).unwrap();
        b.put_str(nltelem_proto::attr::thermal_zone::TYPE, "cpu-thermal")
            .unwrap();
        b.put_i32(nltelem_proto::attr::thermal_zone::TEMP_MDEGC, -5500)
            .unwrap();
        b.nest_end(t).unwrap();
        // An attribute from a newer module: skipped.
        b.put_u32(200, 1).unwrap();
        b.finish().unwrap()
    }

    #[test]
    fn sample_fields_and_nests() {
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 42, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(s.seq, Some(42));
        assert!(s.last_part);
        assert_eq!(s.load_milli, [Some(250), Some(1500), Some(20)]);
        assert_eq!(s.mem_kib[2], Some(200_000));
        let cpu = s.cpu.unwrap();
        assert_eq!(
            (cpu.ns[0], cpu.ns[1], cpu.ns[3]),
            (Some(11), None, Some(44))
        );
        let devs: Vec<Netdev<'_>> = s.netdevs().collect();
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[1].ifname, Some("eth0"));
        assert_eq!(devs[1].counters[0], Some(2000));
        assert_eq!(devs[1].counters[7], Some(u64::MAX));
        let zones: Vec<Thermal<'_>> = s.thermal().collect();
        assert_eq!(zones[0].kind, Some("cpu-thermal"));
        assert_eq!(zones[0].temp_mdegc, Some(-5500));
    }

    #[test]
    fn a_wrong_size_is_refused() {
        let mut buf = [0u8; 64];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u32(k::SEQ, 1).unwrap(); // u64 expected
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        assert!(Sample::parse(msg.attrs(0).unwrap()).is_err());
    }

    #[test]
    fn stats_and_events() {
        use nltelem_proto::attr::{errno_count as ec, event as ev, stats as st};
        let mut buf = [0u8; 256];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u64(st::TELEMETRY_SENT, 1000).unwrap();
        let n = b.nest_start(st::BCAST_FAIL).unwrap();
        b.put_u32(ec::ERRNO, 105).unwrap();
        b.put_u64(ec::COUNT, 7).unwrap();
        b.nest_end(n).unwrap();
        b.put_u64(st::AGENT_LOST, 3).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Stats::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(s.values[usize::from(st::TELEMETRY_SENT)], Some(1000));
        assert_eq!(s.values[usize::from(st::AGENT_LOST)], Some(3));
        assert_eq!(s.bcast_fail().collect::<Vec<_>>(), [(105, 7)]);

        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u64(ev::SEQ, 9).unwrap();
        b.put_u32(ev::KIND, nltelem_proto::event_kind::THRESHOLD)
            .unwrap();
        b.put_u32(ev::THRESHOLD, nltelem_proto::threshold::LOAD1)
            .unwrap();
        b.put_i64(ev::VALUE, 4100).unwrap();
        b.put_i64(ev::LIMIT, 4000).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let e = Event::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(e.kind_name(), "threshold");
        assert_eq!(e.threshold_name(), Some("load1"));
        assert_eq!((e.value, e.limit), (Some(4100), Some(4000)));
    }

    #[test]
    fn signed_and_narrow_values_keep_their_bits() {
        use nltelem_proto::attr::event as ev;
        let mut buf = [0u8; 256];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_i64(ev::VALUE, i64::MIN).unwrap();
        b.put_i64(ev::LIMIT, -1).unwrap();
        b.put_u32(ev::SILENCE_MS, u32::MAX).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let e = Event::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(
            (e.value, e.limit, e.silence_ms, e.seq),
            (Some(i64::MIN), Some(-1), Some(u64::from(u32::MAX)), None)
        );
    }

    #[test]
    fn module_settings_round_trip() {
        let mut want = ModuleSettings::default();
        for (key, value) in [
            ("period_ms", "3600000"),
            ("sources", "load,thermal"),
            ("load1_milli_max", "4294967295"),
            ("mem_available_kib_min", "18446744073709551615"),
            ("temp_mdegc_max", "200000"),
            ("watchdog_ms", "0"),
        ] {
            want.set(key, value).unwrap();
        }
        let mut buf = [0u8; 256];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        want.put(&mut b).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        assert_eq!(parse_module_config(msg.attrs(0).unwrap()), Ok(want));
        // A negative temperature from a module (not settable here) reads back as sent.
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_i32(nltelem_proto::attr::config::TEMP_MDEGC_MAX, -5)
            .unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let got = parse_module_config(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(got.get("temp_mdegc_max"), Some(u64::from(-5i32 as u32)));
    }
}
