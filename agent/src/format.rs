//! Output for people (one line per message, `ip monitor` style, absent fields left out)
//! and for scripts (`--json`: one JSON object per line). Integers only: fixed-point values
//! (load x1000, m°C) are printed with three decimals by integer division.
//!
//! Both styles come from one walk over each record's fields ([`Out`]): a field has a text
//! name and a JSON name, and the writer puts ` name value` or `,"name":value`. One walk per
//! record instead of one per style keeps the agent small.

use crate::accounting::Counters;
use crate::config::{name_of, split, words};
use crate::decode::{Event, Netdev, Sample, Stats, NETDEV_FIELDS, STATS_NAMES};
use crate::settings::{self, ModuleSettings, SETTING_KEYS, SOURCE_NAMES};
use nlcore::text::Text;

/// Text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string: quoted, `"` and `\` escaped, control characters as
/// `\u00XX`; other bytes (UTF-8 included) as they are.
pub fn json_str(w: &mut dyn Text, s: &str) {
    w.byte(b'"');
    // Byte by byte: names are short, and one loop is smaller than copying runs.
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => w.bytes(&[b'\\', c]),
            0..=0x1f => w.bytes(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]),
            _ => w.byte(c),
        }
    }
    w.byte(b'"');
}

/// A field's names: `name` when text and JSON call it the same, else `text:json`
/// (`:json` for a field only JSON has). One `&str` per field instead of a pair of them.
type Names = &'static str;

/// Writes one record in either style: text ` name value` pairs after a head word, or a
/// JSON object's members with their commas.
struct Out<'w> {
    w: &'w mut dyn Text,
    json: bool,
    /// No member was written in the innermost JSON object or array yet.
    first: bool,
}

impl<'w> Out<'w> {
    fn new(w: &'w mut dyn Text, style: Style) -> Self {
        Out {
            w,
            json: style == Style::Json,
            first: true,
        }
    }

    /// Starts a record or nested object: text `head`; JSON `{`, then `"type":"<kind>"`
    /// when there is a kind.
    fn open(&mut self, head: &str, kind: Option<&str>) {
        if self.json {
            self.w.byte(b'{');
            self.first = true;
            self.str(":type", kind);
        } else {
            self.w.str(head);
        }
    }

    /// Ends what [`open`](Self::open) started: text a newline; JSON `}`.
    fn close(&mut self) {
        self.w.byte(if self.json { b'}' } else { b'\n' });
        self.first = false;
    }

    /// ` name ` or `,"name":` (no comma before an object's first member).
    fn key(&mut self, names: Names) {
        let (text, json) = split(names, b':').unwrap_or((names, names));
        if self.json {
            self.comma();
            self.w.byte(b'"');
            self.w.str(json);
            self.w.bytes(b"\":");
        } else {
            self.w.byte(b' ');
            self.w.str(text);
            self.w.byte(b' ');
        }
    }

    /// `,` unless first in its object or array.
    fn comma(&mut self) {
        if !self.first {
            self.w.byte(b',');
        }
        self.first = false;
    }

    fn uint(&mut self, names: Names, v: Option<u64>) {
        if let Some(v) = v {
            self.key(names);
            self.w.uint(v);
        }
    }

    /// [`uint`](Self::uint) for each value, named by the space-separated entries of
    /// `names` in order; an empty entry is a gap in `values` that is never written.
    fn uints(&mut self, names: Names, values: &[Option<u64>]) {
        for (name, &v) in words(names).zip(values) {
            if !name.is_empty() {
                self.uint(name, v);
            }
        }
    }

    fn int(&mut self, names: Names, v: Option<i64>) {
        if let Some(v) = v {
            self.key(names);
            self.w.int(v);
        }
    }

    /// A fixed-point value x1000: `1.500` in text, the integer in JSON.
    fn milli(&mut self, names: Names, v: Option<i64>) {
        if let Some(v) = v {
            self.key(names);
            if self.json {
                self.w.int(v);
            } else {
                self.w.milli(v);
            }
        }
    }

    /// A string: as it is in text, quoted and escaped in JSON.
    fn str(&mut self, names: Names, v: Option<&str>) {
        if let Some(v) = v {
            self.key(names);
            if self.json {
                json_str(self.w, v);
            } else {
                self.w.str(v);
            }
        }
    }

    /// JSON only: `,"name":[`; the text of a list is one line per element.
    fn list(&mut self, name: Names) {
        if self.json {
            self.key(name);
            self.w.byte(b'[');
            self.first = true;
        }
    }

    /// The start of a list element: JSON its comma, text its indented line.
    fn element(&mut self, head: &str) {
        if self.json {
            self.comma();
        } else {
            self.w.str("  ");
        }
        self.open(head, None);
    }

    /// JSON only: `]`.
    fn end_list(&mut self) {
        if self.json {
            self.w.byte(b']');
        }
        self.first = false;
    }

    /// The end of a top-level record: JSON `}` and a newline (text ended its lines).
    fn end(&mut self) {
        if self.json {
            self.w.bytes(b"}\n");
        }
    }

    /// The end of a one-line record: text a newline; JSON `}` and a newline.
    fn close_line(&mut self) {
        self.close();
        if self.json {
            self.w.byte(b'\n');
        }
    }
}

/// RFC 2863 operstate names (`IF_OPER_*`).
pub fn oper_state_name(state: u64) -> &'static str {
    // IF_OPER_UNKNOWN is 0.
    name_of(
        "unknown notpresent down lowerlayerdown testing dormant up",
        u32::try_from(state).unwrap_or(u32::MAX),
    )
}

/// The names of the CPU times: [`CPU_FIELDS`](crate::decode::CPU_FIELDS), with `_ns`
/// in text.
const CPU_NAMES: Names = "user_ns:user nice_ns:nice system_ns:system idle_ns:idle \
    iowait_ns:iowait irq_ns:irq softirq_ns:softirq steal_ns:steal";

/// One sample message, with its interfaces and thermal zones; ends with a newline.
pub fn sample(w: &mut dyn Text, s: &Sample<'_>, style: Style) {
    let mut o = Out::new(w, style);
    o.open("sample", Some("sample"));
    o.uints(
        "seq snapshot:snapshot_seq part",
        &[s.seq, s.snapshot_seq, s.part.map(u64::from)],
    );
    if o.json {
        o.key("last_part");
        o.w.str(if s.last_part { "true" } else { "false" });
    } else if s.last_part {
        o.w.str(" last");
    }
    o.uints(
        "time_ns:timestamp_ns uptime_ns",
        &[s.timestamp_ns, s.uptime_ns],
    );
    let load = s.load_milli;
    if o.json {
        o.uints(":load1_milli :load5_milli :load15_milli", &load);
    } else if load.iter().any(Option::is_some) {
        o.w.str(" load");
        for l in load {
            o.w.byte(b' ');
            match l {
                // Loads x1000 come from a u32: within i64.
                Some(l) => o.w.milli(l as i64),
                None => o.w.byte(b'-'),
            }
        }
    }
    o.uints("mem_total_kib mem_free_kib mem_available_kib", &s.mem_kib);
    if !o.json {
        o.w.byte(b'\n');
    }
    if let Some(cpu) = &s.cpu {
        if o.json {
            o.key("cpu_ns");
            o.open("", None);
        } else {
            o.element("cpu");
        }
        o.uints(CPU_NAMES, &cpu.ns);
        o.close();
    }
    o.list("netdev");
    for n in s.netdevs() {
        o.element("netdev");
        netdev_fields(&mut o, &n);
        o.close();
    }
    o.end_list();
    o.list("thermal");
    for t in s.thermal() {
        o.element("thermal");
        o.str("type", t.kind);
        o.milli("temp_c:temp_mdegc", t.temp_mdegc.map(i64::from));
        o.close();
    }
    o.end_list();
    o.end();
}

fn netdev_fields(o: &mut Out<'_>, n: &Netdev<'_>) {
    o.uint("ifindex", n.ifindex);
    o.str("ifname", n.ifname);
    o.str("state:oper_state", n.oper_state.map(oper_state_name));
    o.uints(NETDEV_FIELDS, &n.counters);
}

/// One interface of a `DUMP_NETDEV` reply; ends with a newline.
pub fn netdev(w: &mut dyn Text, n: &Netdev<'_>, style: Style) {
    let mut o = Out::new(w, style);
    o.open("netdev", None);
    netdev_fields(&mut o, n);
    o.close_line();
}

/// One event; ends with a newline.
// Out of line: inlined into the client, it made the binary larger (by 432 bytes). The
// statistics and the configuration are now smaller inlined (measured on both targets).
#[inline(never)]
pub fn event(w: &mut dyn Text, e: &Event<'_>, style: Style) {
    let mut o = Out::new(w, style);
    o.open("event ", Some("event"));
    if o.json {
        o.key("kind");
        json_str(o.w, e.kind_name());
    } else {
        o.w.str(e.kind_name());
    }
    o.uints(
        "seq time_ns:timestamp_ns ifindex",
        &[e.seq, e.timestamp_ns, e.ifindex],
    );
    o.str("ifname", e.ifname);
    o.str("threshold", e.threshold_name());
    o.int("value", e.value);
    o.int("limit", e.limit);
    o.uint("portid", e.portid);
    o.str("transport", e.transport.map(transport_name));
    o.uint("silence_ms", e.silence_ms);
    o.close_line();
}

fn transport_name(t: u32) -> &'static str {
    // `transport::*` from 1.
    name_of("unknown genl classic", t)
}

/// The module's statistics (`nltelem status`); ends with a newline.
pub fn stats(w: &mut dyn Text, s: &Stats<'_>, style: Style) {
    let mut o = Out::new(w, style);
    o.open("module", Some("stats"));
    o.uints(STATS_NAMES, s.values.get(1..).unwrap_or_default());
    o.list("bcast_fail");
    for (errno, count) in s.bcast_fail() {
        if o.json {
            o.comma();
            o.w.str("{\"errno\":");
            o.w.uint(u64::from(errno));
            o.w.str(",\"count\":");
            o.w.uint(count);
            o.w.byte(b'}');
        } else {
            o.w.str(" bcast_fail_errno_");
            o.w.uint(u64::from(errno));
            o.w.byte(b' ');
            o.w.uint(count);
        }
    }
    o.end_list();
    o.close_line();
}

/// The module's configuration (`nltelem get config`); ends with a newline.
pub fn module_config(w: &mut dyn Text, c: &ModuleSettings, style: Style) {
    let mut o = Out::new(w, style);
    o.open("config", Some("config"));
    for (i, name) in words(SETTING_KEYS).enumerate() {
        let Some(v) = c.nth(i) else { continue };
        o.key(name);
        match i {
            // Names for people, the mask for scripts.
            settings::SOURCES if !o.json => source_names(o.w, v as u32),
            // The signed setting comes as its 32-bit pattern.
            settings::TEMP => o.w.int(i64::from(v as u32 as i32)),
            _ => o.w.uint(v),
        }
    }
    o.close_line();
}

/// Appends a source mask as names joined by `,` (unknown bits in hex, `none` for 0).
pub fn source_names(w: &mut dyn Text, mask: u32) {
    let mut rest = mask;
    let mut first = true;
    for (i, name) in words(SOURCE_NAMES).enumerate() {
        let bit = 1 << i;
        if rest & bit != 0 {
            if !first {
                w.byte(b',');
            }
            w.str(name);
            first = false;
            rest &= !bit;
        }
    }
    if rest != 0 {
        if !first {
            w.byte(b',');
        }
        w.str("0x");
        let nibbles = (u32::BITS - rest.leading_zeros()).div_ceil(4);
        for k in (0..nibbles).rev() {
            w.byte(HEX[(rest >> (k * 4) & 15) as usize]);
        }
    } else if first {
        w.str("none");
    }
}

/// The agent's counters as one line; ends with a newline.
pub fn counters(w: &mut dyn Text, c: &Counters, style: Style) {
    let values = [
        c.received,
        c.lost,
        c.overruns,
        c.exported,
        c.export_errors,
        c.forged,
        c.malformed,
        c.seq_restarts,
        c.module_lost,
    ]
    .map(Some);
    let mut o = Out::new(w, style);
    o.open("counters", Some("counters"));
    o.uints(
        "received lost overruns exported export_errors forged malformed seq_restarts module_lost",
        &values,
    );
    o.close_line();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::text::Fixed;
    use nlcore::{MsgBuilder, NlMsg};

    fn parsed_sample<'a>(buf: &'a mut [u8], name: &str) -> Sample<'a> {
        let len = sample_bytes(buf, 42, name);
        let buf: &'a [u8] = buf;
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        Sample::parse(msg.attrs(0).unwrap()).unwrap()
    }

    /// What `put` writes for both styles, text first.
    fn both(put: impl Fn(&mut dyn Text, Style)) -> (String, String) {
        let render = |style| {
            let mut out: Fixed<2048> = Fixed::new();
            put(out.text(), style);
            out.as_str().expect("fits").to_owned()
        };
        (render(Style::Text), render(Style::Json))
    }

    #[test]
    fn sample_text_and_json() {
        let mut buf = [0u8; 512];
        let s = parsed_sample(&mut buf, "we\"ird\\\x01");
        let (text, json) = both(|w, style| sample(w, &s, style));
        assert_eq!(
            text,
            "sample seq 42 snapshot 42 part 0 last time_ns 1700000000123456789 \
             uptime_ns 5000000000 load 0.250 1.500 0.020 mem_total_kib 262144 \
             mem_free_kib 100000 mem_available_kib 200000\n  \
             cpu user_ns 11 idle_ns 44\n  \
             netdev ifindex 1 ifname lo state up rx_bytes 1000 tx_dropped 18446744073709551615\n  \
             netdev ifindex 2 ifname we\"ird\\\x01 state up rx_bytes 2000 tx_dropped 18446744073709551615\n  \
             thermal type cpu-thermal temp_c -5.500\n"
        );
        assert_eq!(
            json,
            concat!(
                r#"{"type":"sample","seq":42,"snapshot_seq":42,"part":0,"last_part":true,"#,
                r#""timestamp_ns":1700000000123456789,"uptime_ns":5000000000,"#,
                r#""load1_milli":250,"load5_milli":1500,"load15_milli":20,"#,
                r#""mem_total_kib":262144,"mem_free_kib":100000,"mem_available_kib":200000,"#,
                r#""cpu_ns":{"user":11,"idle":44},"#,
                r#""netdev":[{"ifindex":1,"ifname":"lo","oper_state":"up","rx_bytes":1000,"#,
                r#""tx_dropped":18446744073709551615},"#,
                r#"{"ifindex":2,"ifname":"we\"ird\\\u0001","oper_state":"up","rx_bytes":2000,"#,
                r#""tx_dropped":18446744073709551615}],"#,
                r#""thermal":[{"type":"cpu-thermal","temp_mdegc":-5500}]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn sample_with_fields_missing() {
        let (text, json) = both(|w, style| sample(w, &Sample::default(), style));
        assert_eq!(text, "sample\n");
        assert_eq!(
            json,
            "{\"type\":\"sample\",\"last_part\":false,\"netdev\":[],\"thermal\":[]}\n"
        );
        let mut s = Sample::default();
        s.load_milli = [None, Some(1), None];
        let (text, json) = both(|w, style| sample(w, &s, style));
        assert_eq!(text, "sample load - 0.001 -\n");
        assert!(json.contains(",\"load5_milli\":1,\"netdev\""));
    }

    #[test]
    fn netdev_text_and_json() {
        let mut buf = [0u8; 512];
        let s = parsed_sample(&mut buf, "eth0");
        let n = s.netdevs().nth(1).unwrap();
        let (text, json) = both(|w, style| netdev(w, &n, style));
        assert_eq!(
            text,
            "netdev ifindex 2 ifname eth0 state up rx_bytes 2000 tx_dropped 18446744073709551615\n"
        );
        assert_eq!(
            json,
            "{\"ifindex\":2,\"ifname\":\"eth0\",\"oper_state\":\"up\",\"rx_bytes\":2000,\
             \"tx_dropped\":18446744073709551615}\n"
        );
        let (text, json) = both(|w, style| netdev(w, &Netdev::default(), style));
        assert_eq!((text.as_str(), json.as_str()), ("netdev\n", "{}\n"));
    }

    #[test]
    fn event_text_and_json() {
        let e = Event {
            seq: Some(9),
            timestamp_ns: Some(5),
            kind: Some(nltelem_proto::event_kind::THRESHOLD),
            ifindex: Some(3),
            ifname: Some("e\"0"),
            threshold: Some(nltelem_proto::threshold::LOAD1),
            value: Some(-4100),
            limit: Some(4000),
            portid: Some(77),
            transport: Some(nltelem_proto::transport::GENL),
            silence_ms: Some(1200),
        };
        let (text, json) = both(|w, style| event(w, &e, style));
        assert_eq!(
            text,
            "event threshold seq 9 time_ns 5 ifindex 3 ifname e\"0 threshold load1 \
             value -4100 limit 4000 portid 77 transport genl silence_ms 1200\n"
        );
        assert_eq!(
            json,
            concat!(
                r#"{"type":"event","kind":"threshold","seq":9,"timestamp_ns":5,"ifindex":3,"#,
                r#""ifname":"e\"0","threshold":"load1","value":-4100,"limit":4000,"#,
                r#""portid":77,"transport":"genl","silence_ms":1200}"#,
                "\n"
            )
        );
        let (text, json) = both(|w, style| event(w, &Event::default(), style));
        assert_eq!(text, "event unknown\n");
        assert_eq!(json, "{\"type\":\"event\",\"kind\":\"unknown\"}\n");
    }

    #[test]
    fn stats_text_and_json() {
        use nltelem_proto::attr::{errno_count as ec, stats as st};
        let mut buf = [0u8; 256];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u64(st::TELEMETRY_SENT, 1000).unwrap();
        for (errno, count) in [(105, 7), (11, 2)] {
            let n = b.nest_start(st::BCAST_FAIL).unwrap();
            b.put_u32(ec::ERRNO, errno).unwrap();
            b.put_u64(ec::COUNT, count).unwrap();
            b.nest_end(n).unwrap();
        }
        b.put_u64(st::AGENT_LOST, 3).unwrap();
        b.put_u64(st::HEARTBEAT_AGE_MS, 0).unwrap();
        b.put_u64(st::AGENT_EXPORT_ERRORS, 4).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Stats::parse(msg.attrs(0).unwrap()).unwrap();
        let (text, json) = both(|w, style| stats(w, &s, style));
        assert_eq!(
            text,
            "module telemetry_sent 1000 heartbeat_age_ms 0 agent_lost 3 agent_export_errors 4 \
             bcast_fail_errno_105 7 bcast_fail_errno_11 2\n"
        );
        assert_eq!(
            json,
            concat!(
                r#"{"type":"stats","telemetry_sent":1000,"heartbeat_age_ms":0,"agent_lost":3,"#,
                r#""agent_export_errors":4,"#,
                r#""bcast_fail":[{"errno":105,"count":7},{"errno":11,"count":2}]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn config_text_and_json() {
        let mut c = ModuleSettings::default();
        for (i, v) in [100, 0x1f | 0x200, 4000, 1024, -5i32 as u32 as u64, 3000]
            .into_iter()
            .enumerate()
        {
            c.put_nth(i, v);
        }
        let (text, json) = both(|w, style| module_config(w, &c, style));
        assert_eq!(
            text,
            "config period_ms 100 sources load,memory,cpu,netdev,thermal,0x200 \
             load1_milli_max 4000 mem_available_kib_min 1024 temp_mdegc_max -5 \
             watchdog_ms 3000\n"
        );
        assert_eq!(
            json,
            concat!(
                r#"{"type":"config","period_ms":100,"sources":543,"load1_milli_max":4000,"#,
                r#""mem_available_kib_min":1024,"temp_mdegc_max":-5,"watchdog_ms":3000}"#,
                "\n"
            )
        );
        let (text, json) = both(|w, style| module_config(w, &ModuleSettings::default(), style));
        assert_eq!(
            (text.as_str(), json.as_str()),
            ("config\n", "{\"type\":\"config\"}\n")
        );
    }

    #[test]
    fn source_mask_names() {
        let names = |mask| both(|w, _| source_names(w, mask)).0;
        assert_eq!(names(0b11), "load,memory");
        assert_eq!(names(0), "none");
        assert_eq!(names(0x100 | 1), "load,0x100");
        assert_eq!(names(0xf000_0000), "0xf0000000");
    }

    #[test]
    fn counters_text_and_json() {
        let c = Counters {
            received: 1,
            lost: 2,
            overruns: 3,
            exported: 4,
            export_errors: 5,
            forged: 6,
            malformed: 7,
            seq_restarts: 8,
            module_lost: u64::MAX,
        };
        let (text, json) = both(|w, style| counters(w, &c, style));
        assert_eq!(
            text,
            "counters received 1 lost 2 overruns 3 exported 4 export_errors 5 forged 6 \
             malformed 7 seq_restarts 8 module_lost 18446744073709551615\n"
        );
        assert_eq!(
            json,
            concat!(
                r#"{"type":"counters","received":1,"lost":2,"overruns":3,"exported":4,"#,
                r#""export_errors":5,"forged":6,"malformed":7,"seq_restarts":8,"#,
                r#""module_lost":18446744073709551615}"#,
                "\n"
            )
        );
    }

    #[test]
    fn cpu_names_are_the_decoders() {
        let names: Vec<&str> = CPU_NAMES.split(' ').collect();
        let want: Vec<String> = crate::decode::CPU_FIELDS
            .split(' ')
            .map(|f| format!("{f}_ns:{f}"))
            .collect();
        assert_eq!(names, want);
    }

    #[test]
    fn names_by_number() {
        let states = [
            "unknown",
            "notpresent",
            "down",
            "lowerlayerdown",
            "testing",
            "dormant",
            "up",
            "unknown",
        ];
        for (i, name) in states.into_iter().enumerate() {
            assert_eq!(oper_state_name(i as u64), name);
        }
        assert_eq!(oper_state_name(255), "unknown");
        use nltelem_proto::transport as t;
        assert_eq!(transport_name(t::GENL), "genl");
        assert_eq!(transport_name(t::CLASSIC), "classic");
        assert_eq!(transport_name(0), "unknown");
        assert_eq!(transport_name(3), "unknown");
    }

    #[test]
    fn json_strings() {
        let s = |v| both(|w, _| json_str(w, v)).0;
        assert_eq!(s(""), "\"\"");
        assert_eq!(s("a\"b\\c\n\x1f"), r#""a\"b\\c\u000a\u001f""#);
        assert_eq!(s("ü€"), "\"ü€\"");
    }
}
