//! Typed, borrowed views of what the module sends: samples, events, statistics, its
//! configuration and interface counters. Each is checked against the protocol's (lenient)
//! policy first, so the field reads below cannot fail on size; unknown attributes from a
//! newer module are skipped.

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

/// The names of [`CpuTimes::ns`], in order.
pub const CPU_FIELDS: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// One interface's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Netdev<'a> {
    /// `ifindex`.
    pub ifindex: Option<u32>,
    /// `ifname`.
    pub ifname: Option<&'a str>,
    /// RFC 2863 operstate.
    pub oper_state: Option<u8>,
    /// rx/tx bytes, packets, errors, dropped, in [`NETDEV_FIELDS`] order.
    pub counters: [Option<u64>; 8],
}

/// The names of [`Netdev::counters`], in order.
pub const NETDEV_FIELDS: [&str; 8] = [
    "rx_bytes",
    "tx_bytes",
    "rx_packets",
    "tx_packets",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
];

impl<'a> Netdev<'a> {
    /// Validates and reads a `netdev` nest on its own (a dump reply).
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        policy::NETDEV.validate(attrs.clone())?;
        Ok(Netdev::read(attrs))
    }

    /// Reads a `netdev` nest that its container's policy already validated (the sample's
    /// policy checks its nests), so the hot path does not check it twice.
    fn read(attrs: AttrIter<'a>) -> Self {
        let mut n = Netdev::default();
        for a in attrs.flatten() {
            let v = int(a);
            match a.kind() {
                attr::netdev::IFINDEX => n.ifindex = Some(v as u32),
                attr::netdev::IFNAME => n.ifname = a.get_str().ok(),
                attr::netdev::OPER_STATE => n.oper_state = Some(v as u8),
                k @ attr::netdev::RX_BYTES..=attr::netdev::TX_DROPPED => {
                    n.counters[usize::from(k - attr::netdev::RX_BYTES)] = Some(v)
                }
                _ => {}
            }
        }
        n
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
    /// Load averages x1000 (1, 5, 15 minutes).
    pub load_milli: [Option<u32>; 3],
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
        let mut s = Sample {
            attrs: attrs.clone(),
            ..Sample::default()
        };
        use attr::sample as k;
        for a in attrs {
            let a = a?;
            let v = int(a);
            match a.kind() {
                k::SEQ => s.seq = Some(v),
                k::SNAPSHOT_SEQ => s.snapshot_seq = Some(v),
                k::PART => s.part = Some(v as u32),
                k::LAST_PART => s.last_part = true,
                k::TIMESTAMP_NS => s.timestamp_ns = Some(v),
                k::UPTIME_NS => s.uptime_ns = Some(v),
                i @ k::LOAD1_MILLI..=k::LOAD15_MILLI => {
                    s.load_milli[usize::from(i - k::LOAD1_MILLI)] = Some(v as u32)
                }
                i @ k::MEM_TOTAL_KIB..=k::MEM_AVAILABLE_KIB => {
                    s.mem_kib[usize::from(i - k::MEM_TOTAL_KIB)] = Some(v)
                }
                k::CPU => {
                    let mut cpu = CpuTimes::default();
                    for c in a.nested() {
                        let c = c?;
                        let i = usize::from(c.kind());
                        if (1..=8).contains(&i) {
                            cpu.ns[i - 1] = Some(int(c));
                        }
                    }
                    s.cpu = Some(cpu);
                }
                _ => {}
            }
        }
        Ok(s)
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
    /// Link events.
    pub ifindex: Option<u32>,
    /// Link events.
    pub ifname: Option<&'a str>,
    /// Threshold events: `threshold::*`.
    pub threshold: Option<u32>,
    /// Threshold events: the sampled value.
    pub value: Option<i64>,
    /// Threshold events: the limit.
    pub limit: Option<i64>,
    /// Config-changed: the requester's port.
    pub portid: Option<u32>,
    /// Config-changed: `transport::*`.
    pub transport: Option<u32>,
    /// Watchdog: ms since the last heartbeat.
    pub silence_ms: Option<u32>,
}

impl<'a> Event<'a> {
    /// Reads an event's attributes.
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        policy::EVENT.validate(attrs.clone())?;
        let mut e = Event::default();
        use attr::event as k;
        for a in attrs {
            let a = a?;
            let v = int(a);
            match a.kind() {
                k::SEQ => e.seq = Some(v),
                k::TIMESTAMP_NS => e.timestamp_ns = Some(v),
                k::KIND => e.kind = Some(v as u32),
                k::IFINDEX => e.ifindex = Some(v as u32),
                k::IFNAME => e.ifname = a.get_str().ok(),
                k::THRESHOLD => e.threshold = Some(v as u32),
                k::VALUE => e.value = Some(v as i64),
                k::LIMIT => e.limit = Some(v as i64),
                k::PORTID => e.portid = Some(v as u32),
                k::TRANSPORT => e.transport = Some(v as u32),
                k::SILENCE_MS => e.silence_ms = Some(v as u32),
                _ => {}
            }
        }
        Ok(e)
    }

    /// The kind's name.
    // Out of line: its callers inlined it into larger code (272 bytes, measured).
    #[inline(never)]
    pub fn kind_name(&self) -> &'static str {
        use nltelem_proto::event_kind as k;
        match self.kind {
            Some(k::LINK_UP) => "link-up",
            Some(k::LINK_DOWN) => "link-down",
            Some(k::THRESHOLD) => "threshold",
            Some(k::WATCHDOG) => "watchdog",
            Some(k::CONFIG_CHANGED) => "config-changed",
            _ => "unknown",
        }
    }

    /// The threshold's name.
    pub fn threshold_name(&self) -> Option<&'static str> {
        use nltelem_proto::threshold as t;
        Some(match self.threshold? {
            t::LOAD1 => "load1",
            t::MEM_AVAILABLE => "mem-available",
            t::TEMPERATURE => "temperature",
            _ => "unknown",
        })
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

/// The names of the u64 statistics, by attribute type.
pub const STATS_FIELDS: &[(u16, &str)] = &[
    (attr::stats::TELEMETRY_SENT, "telemetry_sent"),
    (attr::stats::EVENTS_SENT, "events_sent"),
    (attr::stats::ALLOC_FAIL, "alloc_fail"),
    (attr::stats::REQUESTS, "requests"),
    (attr::stats::REJECTS, "rejects"),
    (attr::stats::UNICAST_FAIL, "unicast_fail"),
    (attr::stats::SNAPSHOTS, "snapshots"),
    (attr::stats::HEARTBEATS, "heartbeats"),
    (attr::stats::HEARTBEAT_AGE_MS, "heartbeat_age_ms"),
    (attr::stats::AGENT_RECEIVED, "agent_received"),
    (attr::stats::AGENT_LOST, "agent_lost"),
    (attr::stats::AGENT_EXPORTED, "agent_exported"),
];

impl<'a> Stats<'a> {
    /// Reads a `GET_STATS` reply's attributes.
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
pub fn parse_module_config(attrs: AttrIter<'_>) -> Result<crate::settings::ModuleSettings, Error> {
    policy::CONFIG.validate(attrs.clone())?;
    let mut s = crate::settings::ModuleSettings::default();
    use attr::config as k;
    for a in attrs {
        let a = a?;
        let v = int(a);
        match a.kind() {
            k::PERIOD_MS => s.period_ms = Some(v as u32),
            k::SOURCES => s.sources = Some(v as u32),
            k::LOAD1_MILLI_MAX => s.load1_milli_max = Some(v as u32),
            k::MEM_AVAILABLE_KIB_MIN => s.mem_available_kib_min = Some(v),
            k::TEMP_MDEGC_MAX => s.temp_mdegc_max = Some(v as i32),
            k::WATCHDOG_MS => s.watchdog_ms = Some(v as u32),
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nlcore::{MsgBuilder, NlMsg};
    use nltelem_proto::attr::{netdev as nd, sample as k};

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
            (Some(i64::MIN), Some(-1), Some(u32::MAX), None)
        );
    }

    #[test]
    fn module_settings_round_trip() {
        let mut want = crate::settings::ModuleSettings::default();
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
        assert_eq!(got.temp_mdegc_max, Some(-5));
    }
}
