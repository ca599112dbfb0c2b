//! Typed, borrowed views of what the module sends: samples, events, statistics, its
//! configuration and interface counters. Each is checked against the protocol's (lenient)
//! policy first, so the field reads below cannot fail on size; unknown attributes from a
//! newer module are skipped.

use crate::config::name_of;
use nlcore::{Attr, AttrIter, Error, Policy};
use nltelem_proto::attr;
use nltelem_proto::policy;

/// An integer attribute, widened to 64 bits. Every reader below runs after the policy
/// checked each known type's width, so the width says the type: one read per attribute
/// instead of a typed, checked read per field. Fields narrower than 64 bits take it back
/// with `as` (a signed one gets its bit pattern back).
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

/// A record's integer attributes, by slot, and which are present: slot `t` holds attribute
/// type `t`, and a sample's CPU times (a nest) follow at [`CPU_SLOT`] + their type. Every
/// message decodes into this one shape, so that each output is a loop over a field table
/// ([`SAMPLE_FIELDS`] and the others) instead of code per field. A nest's own slot marks
/// that it was there. Values are widened to 64 bits; a signed field takes its bits back
/// where it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rec<'a> {
    v: [u64; SLOTS],
    /// Bit `i` set: slot `i` is present.
    have: u32,
    /// The record's one string attribute (interface name, zone type).
    pub text: Option<&'a str>,
}

/// Slots of a [`Rec`]: the sample's 16 attribute types, then its 8 CPU times.
pub const SLOTS: usize = 25;
// Every slot has its bit in the presence mask.
const _: () = assert!(SLOTS <= 32);

/// Where the CPU times start: `CPU_SLOT + cpu_times::*`.
pub const CPU_SLOT: usize = 16;

/// No attribute type (for [`read`]'s `text` and `nest`).
pub(crate) const NONE: u16 = u16::MAX;

impl Default for Rec<'_> {
    /// Built from a constant, not derived: the derived one was zeroed apart and then
    /// copied into place (a `rep stos` and a `rep movs` of 200 bytes, in every sample).
    fn default() -> Self {
        const EMPTY: Rec<'static> = Rec {
            v: [0; SLOTS],
            have: 0,
            text: None,
        };
        EMPTY
    }
}

impl<'a> Rec<'a> {
    /// The value in `slot`, when present.
    #[inline]
    pub fn get(&self, slot: usize) -> Option<u64> {
        match self.v.get(slot) {
            // A slot within the array has its bit in the mask.
            Some(&v) if self.have >> slot & 1 != 0 => Some(v),
            _ => None,
        }
    }

    /// Sets `slot` (nothing past the last slot: an attribute from a newer module).
    pub fn put(&mut self, slot: usize, v: u64) {
        if let Some(s) = self.v.get_mut(slot) {
            *s = v;
            self.have |= 1 << slot;
        }
    }
}

/// Validates a message's attributes against `policy`, then reads them into `r` (empty) as
/// [`read`] does. Into the caller's record, so that no record is copied on its way into
/// what holds it. Out of line: one copy for every kind of message.
#[inline(never)]
pub(crate) fn parse<'a>(
    policy: &Policy<'_>,
    attrs: AttrIter<'a>,
    text: u16,
    nest: u16,
    r: &mut Rec<'a>,
) -> Result<(), Error> {
    policy.validate(attrs.clone())?;
    read(attrs, text, nest, 0, r);
    Ok(())
}

/// Reads attributes that a policy already validated (so no read can fail on size) into
/// `r`, over what it holds: `text` is the type of the string attribute, `nest` that of the
/// CPU times, read by this same loop into the slots from `base` + their type (0 for the
/// record's own). One loop for every kind of message and for the nest (one copy of the
/// reads); out of line, as all of them call it. Into a record of the caller's, not
/// returned: a record is 200 bytes and more, each copy of it cost more than reading the
/// attributes.
#[inline(never)]
fn read<'a>(attrs: AttrIter<'a>, text: u16, nest: u16, base: usize, r: &mut Rec<'a>) {
    // Where a record with CPU times has them, its own attributes end: a newer module's
    // attribute there is skipped, not taken for a CPU time.
    let end = if nest == NONE { SLOTS } else { CPU_SLOT };
    // The policy checked every attribute: an error cannot come, but would end the walk.
    for a in attrs {
        let Ok(a) = a else { break };
        let kind = a.kind();
        if kind == text {
            // The policy (a `NulString`) checked its one NUL, at the end: only UTF-8 is
            // left to check, not the NUL scan again.
            r.text = a
                .value()
                .split_last()
                .and_then(|(_, s)| core::str::from_utf8(s).ok());
            continue;
        }
        if kind == nest {
            read(a.nested(), NONE, NONE, CPU_SLOT, r);
        }
        if usize::from(kind) < end {
            r.put(base + usize::from(kind), int(a));
        }
    }
}

/// Calls `f` with each nest of type `kind` in `attrs` (validated), read with `text` as its
/// string: a callback, and one record for all (an iterator copied each).
#[inline(never)]
pub(crate) fn nests<'a>(attrs: &AttrIter<'a>, kind: u16, text: u16, f: &mut dyn FnMut(&Rec<'a>)) {
    let mut r = Rec::default();
    for a in attrs.clone() {
        let Ok(a) = a else { break };
        if a.kind() == kind {
            r.have = 0;
            r.text = None;
            read(a.nested(), text, NONE, 0, &mut r);
            f(&r);
        }
    }
}

/// The names of the CPU times (`cpu_times::*` from 1), as a [`words`](crate::config::words)
/// list: Prometheus's `mode` label.
pub const CPU_FIELDS: &str = "user nice system idle iowait irq softirq steal";

/// One interface's counters: `netdev::*` by slot, the name as its text.
pub type Netdev<'a> = Rec<'a>;

/// One thermal zone: `thermal_zone::*` by slot, the type as its text.
pub type Thermal<'a> = Rec<'a>;

/// A field table as the walkers read it: where it is in [`TABLES`] (four bytes where a
/// slice took sixteen, in every table that names one).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    start: u16,
    end: u16,
}

impl Table {
    /// The packed entries.
    pub fn entries(self) -> &'static [u8] {
        TABLES
            .get(usize::from(self.start)..usize::from(self.end))
            .unwrap_or_default()
    }
}

/// In a packed entry, the JSON name's length when the entry has one name for both styles.
pub const SAME: u8 = u8::MAX;

/// The readable field tables, in the order of [`TABLES`].
const SPECS: [&str; 8] = [
    SAMPLE_FIELDS,
    NETDEV_FIELDS,
    THERMAL_FIELDS,
    EVENT_FIELDS,
    STATS_FIELDS,
    ERRNO_COUNT_FIELDS,
    CONFIG_FIELDS,
    COUNTERS_FIELDS,
];

/// The size of [`pack`]'s table for `spec`.
const fn packed_len(spec: &str) -> usize {
    let b = spec.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        // Slot, kind, the two lengths; the names without their colon.
        n += 4;
        i += 3;
        while i < b.len() && b[i] != b' ' {
            if b[i] != b':' {
                n += 1;
            }
            i += 1;
        }
        i += 1;
    }
    n
}

/// Where the packed table of `SPECS[i]` starts in [`TABLES`] (for `i` = 8, the end).
const fn offset(i: usize) -> u16 {
    let (mut j, mut o) = (0, 0);
    while j < i {
        o += packed_len(SPECS[j]);
        j += 1;
    }
    assert!(o <= u16::MAX as usize);
    o as u16
}

/// The packed table of `SPECS[i]`.
const fn table(i: usize) -> Table {
    Table {
        start: offset(i),
        end: offset(i + 1),
    }
}

/// Every field table packed at compile time, one after the other: what [`Table`]s point
/// into.
pub static TABLES: [u8; offset(SPECS.len()) as usize] = pack();

/// Packs the readable field tables (as [`SAMPLE_FIELDS`]), so that walking them scans no
/// separators: per field its slot (a number), its kind, the lengths of its text and JSON
/// names ([`SAME`] for one name), then the names.
const fn pack<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut o = 0;
    let mut t = 0;
    while t < SPECS.len() {
        let b = SPECS[t].as_bytes();
        let mut i = 0;
        while i < b.len() {
            assert!(
                i + 2 < b.len() && b[i + 2] == b' ',
                "a field: two letters, a space, names"
            );
            assert!(
                b[i] > b'@' && b[i] - b'@' < SLOTS as u8,
                "a slot is a letter from A"
            );
            out[o] = b[i] - b'@';
            out[o + 1] = b[i + 1];
            let start = i + 3;
            let (mut end, mut colon) = (start, usize::MAX);
            while end < b.len() && b[end] != b' ' {
                if b[end] == b':' {
                    colon = end;
                }
                end += 1;
            }
            if colon == usize::MAX {
                out[o + 2] = (end - start) as u8;
                out[o + 3] = SAME;
            } else {
                out[o + 2] = (colon - start) as u8;
                out[o + 3] = (end - colon - 1) as u8;
            }
            o += 4;
            let mut j = start;
            while j < end {
                if j != colon {
                    out[o] = b[j];
                    o += 1;
                }
                j += 1;
            }
            i = end + 1;
        }
        t += 1;
    }
    assert!(o == N);
    out
}

/// How the fields of each record are written: one entry per field, space-separated, in
/// the order of the text and JSON outputs. An entry is the slot as a letter (`A` is 1; the
/// CPU times, `Q` on, are [`CPU_SLOT`] + their type) and the kind, a space, then the names
/// `text:json` (one name when they are the same; an empty one leaves the field out of
/// that style; a text name that ends in `_` is glued to the value, without the `_`). The
/// line protocol uses the JSON name, in the same order; an uppercase kind is not one of its
/// fields (a tag, the point's timestamp, the text's own layout).
///
/// Kinds: `u`/`U` unsigned; `i` signed 64-bit; `m` signed 32-bit thousandths (`1.500` in
/// text); `s`/`S` the record's text; `o` operstate, `t` transport, `h` threshold: a name in
/// text and JSON, a number in the line protocol (but `h`, a string); `n` a source mask
/// (text its names, JSON the number) and `d` a signed 32-bit number, neither of them in a
/// line-protocol table; `K` an event's kind (its name from [`EVENT_KINDS`], `unknown` when
/// absent); `c` a CPU time (the first name is the line protocol's, the text's is it
/// without `cpu_`); `F` a flag (text its name when set, JSON `true` or `false`); `L`
/// the text's three loads from this slot on; `C` the CPU times' nest (the entries after
/// it: a line of their own, a JSON object). The text names of `F`, `L` and `C` are glued:
/// what follows them is not their value.
/// [`TABLES`] holds them as the walker reads them.
pub const SAMPLE_FIELDS: &str = "Au seq Bu snapshot:snapshot_seq CU part DF last_:last_part \
    EU time_ns:timestamp_ns Fu uptime_ns GL load_: Gu :load1_milli Hu :load5_milli \
    Iu :load15_milli Ju mem_total_kib Ku mem_free_kib Lu mem_available_kib MC cpu_:cpu_ns \
    Qc cpu_user_ns:user Rc cpu_nice_ns:nice Sc cpu_system_ns:system Tc cpu_idle_ns:idle \
    Uc cpu_iowait_ns:iowait Vc cpu_irq_ns:irq Wc cpu_softirq_ns:softirq \
    Xc cpu_steal_ns:steal";

/// [`SAMPLE_FIELDS`] packed.
pub const SAMPLE: Table = table(0);

/// An interface's fields, as [`SAMPLE_FIELDS`].
pub const NETDEV_FIELDS: &str = "Au ifindex BS ifname Co state:oper_state Du rx_bytes \
    Eu tx_bytes Fu rx_packets Gu tx_packets Hu rx_errors Iu tx_errors Ju rx_dropped \
    Ku tx_dropped";

/// [`NETDEV_FIELDS`] packed.
pub const NETDEV: Table = table(1);

/// A thermal zone's fields, as [`SAMPLE_FIELDS`].
pub const THERMAL_FIELDS: &str = "AS type Bm temp_c:temp_mdegc";

/// [`THERMAL_FIELDS`] packed.
pub const THERMAL: Table = table(2);

/// The names of the events' kinds (`event_kind::*` from 1).
pub const EVENT_KINDS: &str = "unknown link-up link-down threshold watchdog config-changed";

/// An event's fields, as [`SAMPLE_FIELDS`]: its kind first.
pub const EVENT_FIELDS: &str = "CK _:kind Au seq BU time_ns:timestamp_ns Du ifindex Es ifname \
    Fh threshold Gi value Hi limit Iu portid Jt transport Ku silence_ms";

/// [`EVENT_FIELDS`] packed.
pub const EVENT: Table = table(3);

/// One sample message (a snapshot, or one part of a large one): `sample::*` by slot, the
/// CPU times from [`CPU_SLOT`].
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    /// The values.
    pub rec: Rec<'a>,
    attrs: AttrIter<'a>,
}

impl Default for Sample<'_> {
    fn default() -> Self {
        Sample {
            rec: Rec::default(),
            attrs: AttrIter::new(&[]),
        }
    }
}

impl<'a> Sample<'a> {
    /// Reads a sample's attributes.
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        let mut s = Sample {
            rec: Rec::default(),
            attrs: attrs.clone(),
        };
        parse(&policy::SAMPLE, attrs, NONE, attr::sample::CPU, &mut s.rec)?;
        Ok(s)
    }

    /// Per-group sequence number of the message.
    pub fn seq(&self) -> Option<u64> {
        self.rec.get(attr::sample::SEQ.into())
    }

    /// The snapshot's number, equal in all its parts.
    pub fn snapshot_seq(&self) -> Option<u64> {
        self.rec.get(attr::sample::SNAPSHOT_SEQ.into())
    }

    /// Part index, from 0 (u32 on the wire).
    pub fn part(&self) -> Option<u32> {
        self.rec.get(attr::sample::PART.into()).map(|p| p as u32)
    }

    /// Set on the final part.
    pub fn last_part(&self) -> bool {
        self.rec.get(attr::sample::LAST_PART.into()).is_some()
    }

    /// Wall-clock time, ns.
    pub fn timestamp_ns(&self) -> Option<u64> {
        self.rec.get(attr::sample::TIMESTAMP_NS.into())
    }

    /// Calls `f` with each nest of type `kind` in this message, read with `text` as its
    /// string.
    pub fn nests(&self, kind: u16, text: u16, f: &mut dyn FnMut(&Rec<'a>)) {
        nests(&self.attrs, kind, text, f);
    }

    /// Calls `f` with each interface in this message.
    pub fn netdevs(&self, f: &mut dyn FnMut(&Netdev<'a>)) {
        self.nests(attr::sample::NETDEV, attr::netdev::IFNAME, f);
    }
}

/// An event notification: `event::*` by slot, the interface name as its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// The values.
    pub rec: Rec<'a>,
}

impl<'a> Event<'a> {
    /// Reads an event's attributes.
    pub fn parse(attrs: AttrIter<'a>) -> Result<Self, Error> {
        let mut e = Event::default();
        parse(&policy::EVENT, attrs, attr::event::IFNAME, NONE, &mut e.rec)?;
        Ok(e)
    }

    /// Per-group sequence number.
    pub fn seq(&self) -> Option<u64> {
        self.rec.get(attr::event::SEQ.into())
    }

    /// Wall-clock time, ns.
    pub fn timestamp_ns(&self) -> Option<u64> {
        self.rec.get(attr::event::TIMESTAMP_NS.into())
    }

    /// The kind's name.
    // Out of line: its callers inlined it into larger code (272 bytes, measured).
    #[inline(never)]
    pub fn kind_name(&self) -> &'static str {
        name_of(
            EVENT_KINDS,
            narrow(self.rec.get(attr::event::KIND.into()).unwrap_or(0)),
        )
    }
}

/// A u32 attribute's value (the widest any name list is indexed with).
pub fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The module's own counters (`GET_STATS` reply), as [`SAMPLE_FIELDS`]: the u64
/// statistics (not `pad`); `bcast_fail`, a nest, lists (errno, count) pairs
/// ([`ERRNO_COUNT_FIELDS`]).
pub const STATS_FIELDS: &str = "Au telemetry_sent Bu events_sent Du alloc_fail Eu requests \
    Fu rejects Gu unicast_fail Hu snapshots Iu heartbeats Ju heartbeat_age_ms \
    Ku agent_received Lu agent_lost Mu agent_exported Ou agent_overruns \
    Pu agent_export_errors";

/// [`STATS_FIELDS`] packed.
pub const STATS: Table = table(4);

/// A failed broadcast's errno and count (`errno_count::*`), as [`SAMPLE_FIELDS`].
pub const ERRNO_COUNT_FIELDS: &str = "Au bcast_fail_errno__:errno Bu _:count";

/// [`ERRNO_COUNT_FIELDS`] packed.
pub const ERRNO_COUNT: Table = table(5);

/// The agent's counters (`accounting::Counters`, from slot 1 in order), as
/// [`SAMPLE_FIELDS`].
pub const COUNTERS_FIELDS: &str = "Au received Bu lost Cu overruns Du exported Eu export_errors \
    Fu forged Gu malformed Hu seq_restarts Iu module_lost";

/// [`COUNTERS_FIELDS`] packed.
pub const COUNTERS: Table = table(7);

/// The module's configuration (`GET_CONFIG` reply): `config::*` by slot, so the `i`th of
/// `settings::SETTING_KEYS` in slot `i + 1`.
pub type ModuleConfig<'a> = Rec<'a>;

/// The module's settings, as [`SAMPLE_FIELDS`]: the names of `settings::SETTING_KEYS`;
/// `sources` names in text, the mask in JSON; the temperature signed.
pub const CONFIG_FIELDS: &str = "Au period_ms Bn sources Cu load1_milli_max \
    Du mem_available_kib_min Ed temp_mdegc_max Fu watchdog_ms";

/// [`CONFIG_FIELDS`] packed.
pub const CONFIG: Table = table(6);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nlcore::{MsgBuilder, NlMsg};
    use nltelem_proto::attr::{event as ev, netdev as nd, sample as k};

    /// A record with `values` (attribute type, value) in it.
    pub(crate) fn rec(values: &[(u16, u64)]) -> Rec<'static> {
        let mut r = Rec::default();
        for &(t, v) in values {
            r.put(usize::from(t), v);
        }
        r
    }

    /// The slot of the field whose JSON name is `name` in `spec`.
    pub(crate) fn slot_of(spec: &str, name: &str) -> Option<usize> {
        let words: Vec<&str> = spec.split(' ').collect();
        words.chunks(2).find_map(|e| {
            let json = e[1].split_once(':').map_or(e[1], |(_, j)| j);
            (json == name).then(|| usize::from(e[0].as_bytes()[0] - b'@'))
        })
    }

    #[test]
    fn names_follow_the_protocol_numbers() {
        use nltelem_proto::event_kind as k;
        let kind = |n: Option<u32>| {
            let r = rec(n.map(|n| (ev::KIND, u64::from(n))).as_slice());
            Event { rec: r }.kind_name()
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
    }

    /// Each field table names its fields by the slots their attributes fill.
    #[test]
    fn every_field_is_in_its_attributes_slot() {
        use nltelem_proto::attr::{
            cpu_times as ct, errno_count as ec, stats as st, thermal_zone as tz,
        };
        let tables = [
            (SAMPLE_FIELDS, "seq", k::SEQ),
            (SAMPLE_FIELDS, "snapshot_seq", k::SNAPSHOT_SEQ),
            (SAMPLE_FIELDS, "part", k::PART),
            (SAMPLE_FIELDS, "last_part", k::LAST_PART),
            (SAMPLE_FIELDS, "timestamp_ns", k::TIMESTAMP_NS),
            (SAMPLE_FIELDS, "uptime_ns", k::UPTIME_NS),
            (SAMPLE_FIELDS, "load1_milli", k::LOAD1_MILLI),
            (SAMPLE_FIELDS, "load15_milli", k::LOAD15_MILLI),
            (SAMPLE_FIELDS, "mem_total_kib", k::MEM_TOTAL_KIB),
            (SAMPLE_FIELDS, "mem_available_kib", k::MEM_AVAILABLE_KIB),
            (SAMPLE_FIELDS, "cpu_ns", k::CPU),
            (NETDEV_FIELDS, "ifindex", nd::IFINDEX),
            (NETDEV_FIELDS, "oper_state", nd::OPER_STATE),
            (NETDEV_FIELDS, "rx_bytes", nd::RX_BYTES),
            (NETDEV_FIELDS, "tx_errors", nd::TX_ERRORS),
            (NETDEV_FIELDS, "tx_dropped", nd::TX_DROPPED),
            (THERMAL_FIELDS, "temp_mdegc", tz::TEMP_MDEGC),
            (EVENT_FIELDS, "kind", ev::KIND),
            (EVENT_FIELDS, "seq", ev::SEQ),
            (EVENT_FIELDS, "timestamp_ns", ev::TIMESTAMP_NS),
            (EVENT_FIELDS, "ifindex", ev::IFINDEX),
            (EVENT_FIELDS, "threshold", ev::THRESHOLD),
            (EVENT_FIELDS, "value", ev::VALUE),
            (EVENT_FIELDS, "limit", ev::LIMIT),
            (EVENT_FIELDS, "portid", ev::PORTID),
            (EVENT_FIELDS, "transport", ev::TRANSPORT),
            (EVENT_FIELDS, "silence_ms", ev::SILENCE_MS),
            (STATS_FIELDS, "telemetry_sent", st::TELEMETRY_SENT),
            (STATS_FIELDS, "alloc_fail", st::ALLOC_FAIL),
            (STATS_FIELDS, "agent_exported", st::AGENT_EXPORTED),
            (STATS_FIELDS, "agent_overruns", st::AGENT_OVERRUNS),
            (STATS_FIELDS, "agent_export_errors", st::AGENT_EXPORT_ERRORS),
            (ERRNO_COUNT_FIELDS, "errno", ec::ERRNO),
            (ERRNO_COUNT_FIELDS, "count", ec::COUNT),
        ];
        for (spec, name, t) in tables {
            assert_eq!(slot_of(spec, name), Some(usize::from(t)), "{name}");
        }
        // The CPU times, in the order of their names, after CPU_SLOT.
        for (i, mode) in CPU_FIELDS.split(' ').enumerate() {
            let t = ct::USER_NS + i as u16;
            assert_eq!(
                slot_of(SAMPLE_FIELDS, mode),
                Some(CPU_SLOT + usize::from(t))
            );
        }
        assert_eq!(ct::STEAL_NS as usize + CPU_SLOT, SLOTS - 1);
        // Fourteen u64 statistics: all but `bcast_fail` (a nest) and `pad`.
        assert_eq!(
            STATS_FIELDS.split(' ').count(),
            2 * (usize::from(st::MAX) - 2)
        );
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
        use nltelem_proto::attr::thermal_zone as tz;
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 42, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(s.seq(), Some(42));
        assert!(s.last_part());
        let at = |t: u16| s.rec.get(usize::from(t));
        assert_eq!(
            [at(k::LOAD1_MILLI), at(k::LOAD5_MILLI), at(k::LOAD15_MILLI)],
            [Some(250), Some(1500), Some(20)]
        );
        assert_eq!(at(k::MEM_AVAILABLE_KIB), Some(200_000));
        assert!(at(k::CPU).is_some(), "the CPU nest is marked present");
        let cpu = |t: u16| s.rec.get(CPU_SLOT + usize::from(t));
        use nltelem_proto::attr::cpu_times as ct;
        assert_eq!(
            (cpu(ct::USER_NS), cpu(ct::NICE_NS), cpu(ct::IDLE_NS)),
            (Some(11), None, Some(44))
        );
        // The unknown attribute (type 200) is skipped.
        assert_eq!(s.rec.get(200), None);
        // Of the CPU times, only the two sent are present.
        let sent = (CPU_SLOT..SLOTS)
            .filter(|&i| s.rec.get(i).is_some())
            .count();
        assert_eq!(sent, 2);
        let mut devs: Vec<Netdev<'_>> = Vec::new();
        s.netdevs(&mut |n| devs.push(*n));
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[1].text, Some("eth0"));
        assert_eq!(devs[1].get(nd::RX_BYTES.into()), Some(2000));
        assert_eq!(devs[1].get(nd::TX_DROPPED.into()), Some(u64::MAX));
        assert_eq!(devs[1].get(nd::TX_BYTES.into()), None);
        let mut zones: Vec<Thermal<'_>> = Vec::new();
        s.nests(k::THERMAL, tz::TYPE, &mut |z| zones.push(*z));
        assert_eq!(zones[0].text, Some("cpu-thermal"));
        // Signed values keep their bits: the 32-bit pattern, sign-extended where written.
        let temp = zones[0].get(tz::TEMP_MDEGC.into());
        assert_eq!(temp.map(|v| v as u32 as i32), Some(-5500));
    }

    /// A newer module's sample attribute past the known ones lands in no CPU time's slot.
    #[test]
    fn a_newer_sample_attribute_is_no_cpu_time() {
        let mut buf = [0u8; 64];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u64(k::SEQ, 1).unwrap();
        b.put_u64(CPU_SLOT as u16 + 1, 77).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(s.seq(), Some(1));
        assert_eq!((CPU_SLOT..SLOTS).find(|&i| s.rec.get(i).is_some()), None);
    }

    /// A name the policy passes (NUL-terminated) that is not UTF-8 is no text; a name
    /// with a NUL inside is refused by the policy.
    #[test]
    fn a_name_is_text_only_when_utf8() {
        let mut buf = [0u8; 64];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_bytes(ev::IFNAME, b"e\xff0\0").unwrap();
        b.put_u64(ev::SEQ, 3).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let e = Event::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!((e.rec.text, e.seq()), (None, Some(3)));
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_bytes(ev::IFNAME, &[b'e', 0, b'0', 0]).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        assert!(Event::parse(msg.attrs(0).unwrap()).is_err());
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
        let attrs = msg.attrs(0).unwrap();
        let mut s = Rec::default();
        parse(&policy::STATS, attrs.clone(), NONE, NONE, &mut s).unwrap();
        assert_eq!(s.get(st::TELEMETRY_SENT.into()), Some(1000));
        assert_eq!(s.get(st::AGENT_LOST.into()), Some(3));
        let mut fails = Vec::new();
        nests(&attrs, st::BCAST_FAIL, NONE, &mut |r| {
            fails.push((r.get(ec::ERRNO.into()), r.get(ec::COUNT.into())))
        });
        assert_eq!(fails, [(Some(105), Some(7))]);

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
        let at = |t: u16| e.rec.get(usize::from(t));
        assert_eq!(
            at(ev::THRESHOLD),
            Some(u64::from(nltelem_proto::threshold::LOAD1))
        );
        assert_eq!((at(ev::VALUE), at(ev::LIMIT)), (Some(4100), Some(4000)));
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
        let at = |t: u16| e.rec.get(usize::from(t));
        assert_eq!(
            (
                at(ev::VALUE).map(|v| v as i64),
                at(ev::LIMIT).map(|v| v as i64),
                at(ev::SILENCE_MS),
                e.seq()
            ),
            (Some(i64::MIN), Some(-1), Some(u64::from(u32::MAX)), None)
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
        let mut got = Rec::default();
        parse(&policy::CONFIG, msg.attrs(0).unwrap(), NONE, NONE, &mut got).unwrap();
        for i in 0..crate::settings::SETTINGS {
            assert_eq!(got.get(i + 1), want.nth(i), "setting {i}");
        }
        // A negative temperature from a module (not settable here) reads back as sent.
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_i32(nltelem_proto::attr::config::TEMP_MDEGC_MAX, -5)
            .unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let mut got = Rec::default();
        parse(&policy::CONFIG, msg.attrs(0).unwrap(), NONE, NONE, &mut got).unwrap();
        assert_eq!(
            got.get(nltelem_proto::attr::config::TEMP_MDEGC_MAX.into()),
            Some(u64::from(-5i32 as u32))
        );
    }
}
