//! Output for people (one line per message, `ip monitor` style, absent fields left out)
//! and for scripts (`--json`: one JSON object per line). Integers only: fixed-point values
//! (load x1000, m°C) are printed with three decimals by integer division.

use crate::accounting::Counters;
use crate::decode::{Event, Netdev, Sample, Stats, CPU_FIELDS, NETDEV_FIELDS, STATS_FIELDS};
use crate::settings::{ModuleSettings, SOURCE_NAMES};
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
    let b = s.as_bytes();
    let mut plain = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'"' || c == b'\\' || c < 0x20 {
            w.bytes(b.get(plain..i).unwrap_or_default());
            if c < 0x20 {
                w.bytes(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ]);
            } else {
                w.bytes(&[b'\\', c]);
            }
            plain = i + 1;
        }
    }
    w.bytes(b.get(plain..).unwrap_or_default());
    w.byte(b'"');
}

/// Writes a JSON object's members, commas included.
struct Obj<'w> {
    w: &'w mut dyn Text,
    first: bool,
}

impl<'w> Obj<'w> {
    fn open(w: &'w mut dyn Text) -> Self {
        w.byte(b'{');
        Obj { w, first: true }
    }
    /// `,"name":` (no comma before the first member).
    fn key(&mut self, name: &str) {
        if !self.first {
            self.w.byte(b',');
        }
        self.first = false;
        self.w.byte(b'"');
        self.w.str(name);
        self.w.bytes(b"\":");
    }
    fn uint(&mut self, name: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.key(name);
            self.w.uint(v);
        }
    }
    fn int(&mut self, name: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.key(name);
            self.w.int(v);
        }
    }
    fn str(&mut self, name: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.key(name);
            json_str(self.w, v);
        }
    }
    /// `{"type":"<kind>"` of a top-level record.
    fn record(w: &'w mut dyn Text, kind: &str) -> Self {
        let mut o = Obj::open(w);
        o.str("type", Some(kind));
        o
    }
    /// `[` of an array member.
    fn array(&mut self, name: &str) {
        self.key(name);
        self.w.byte(b'[');
    }
    fn close(self) {
        self.w.byte(b'}');
    }
    /// `}` and the newline of a top-level record.
    fn end(self) {
        self.w.bytes(b"}\n");
    }
}

/// ` name ` (the start of a text field).
fn text_key(w: &mut dyn Text, name: &str) {
    w.byte(b' ');
    w.str(name);
    w.byte(b' ');
}

/// ` name value` when present.
fn text_uint(w: &mut dyn Text, name: &str, v: Option<u64>) {
    if let Some(v) = v {
        text_key(w, name);
        w.uint(v);
    }
}

/// ` name value` when present.
fn text_int(w: &mut dyn Text, name: &str, v: Option<i64>) {
    if let Some(v) = v {
        text_key(w, name);
        w.int(v);
    }
}

/// ` name value` when present.
fn text_str(w: &mut dyn Text, name: &str, v: Option<&str>) {
    if let Some(v) = v {
        text_key(w, name);
        w.str(v);
    }
}

/// RFC 2863 operstate names (`IF_OPER_*`).
pub fn oper_state_name(state: u8) -> &'static str {
    match state {
        1 => "notpresent",
        2 => "down",
        3 => "lowerlayerdown",
        4 => "testing",
        5 => "dormant",
        6 => "up",
        _ => "unknown",
    }
}

/// One sample message, with its interfaces and thermal zones; ends with a newline.
pub fn sample(w: &mut dyn Text, s: &Sample<'_>, style: Style) {
    match style {
        Style::Text => sample_text(w, s),
        Style::Json => sample_json(w, s),
    }
}

fn sample_text(w: &mut dyn Text, s: &Sample<'_>) {
    w.str("sample");
    text_uint(w, "seq", s.seq);
    text_uint(w, "snapshot", s.snapshot_seq);
    text_uint(w, "part", s.part.map(u64::from));
    if s.last_part {
        w.str(" last");
    }
    text_uint(w, "time_ns", s.timestamp_ns);
    text_uint(w, "uptime_ns", s.uptime_ns);
    if s.load_milli.iter().any(Option::is_some) {
        w.str(" load");
        for l in s.load_milli {
            w.byte(b' ');
            match l {
                Some(l) => w.milli(i64::from(l)),
                None => w.byte(b'-'),
            }
        }
    }
    for (name, v) in ["mem_total_kib", "mem_free_kib", "mem_available_kib"]
        .iter()
        .zip(s.mem_kib)
    {
        text_uint(w, name, v);
    }
    w.byte(b'\n');
    if let Some(cpu) = &s.cpu {
        w.str("  cpu");
        for (name, v) in CPU_FIELDS.iter().zip(cpu.ns) {
            if let Some(v) = v {
                w.byte(b' ');
                w.str(name);
                w.str("_ns ");
                w.uint(v);
            }
        }
        w.byte(b'\n');
    }
    for n in s.netdevs() {
        w.str("  ");
        netdev_text(w, &n);
    }
    for t in s.thermal() {
        w.str("  thermal");
        text_str(w, "type", t.kind);
        if let Some(m) = t.temp_mdegc {
            w.str(" temp_c ");
            w.milli(i64::from(m));
        }
        w.byte(b'\n');
    }
}

fn sample_json(w: &mut dyn Text, s: &Sample<'_>) {
    let mut o = Obj::record(w, "sample");
    o.uint("seq", s.seq);
    o.uint("snapshot_seq", s.snapshot_seq);
    o.uint("part", s.part.map(u64::from));
    o.key("last_part");
    o.w.str(if s.last_part { "true" } else { "false" });
    o.uint("timestamp_ns", s.timestamp_ns);
    o.uint("uptime_ns", s.uptime_ns);
    for (name, v) in ["load1_milli", "load5_milli", "load15_milli"]
        .iter()
        .zip(s.load_milli)
    {
        o.uint(name, v.map(u64::from));
    }
    for (name, v) in ["mem_total_kib", "mem_free_kib", "mem_available_kib"]
        .iter()
        .zip(s.mem_kib)
    {
        o.uint(name, v);
    }
    if let Some(cpu) = &s.cpu {
        o.key("cpu_ns");
        let mut c = Obj::open(o.w);
        for (name, v) in CPU_FIELDS.iter().zip(cpu.ns) {
            c.uint(name, v);
        }
        c.close();
    }
    o.array("netdev");
    for (i, n) in s.netdevs().enumerate() {
        if i > 0 {
            o.w.byte(b',');
        }
        netdev_json_obj(o.w, &n);
    }
    o.w.byte(b']');
    o.array("thermal");
    for (i, t) in s.thermal().enumerate() {
        if i > 0 {
            o.w.byte(b',');
        }
        let mut z = Obj::open(o.w);
        z.str("type", t.kind);
        z.int("temp_mdegc", t.temp_mdegc.map(i64::from));
        z.close();
    }
    o.w.byte(b']');
    o.end();
}

fn netdev_text(w: &mut dyn Text, n: &Netdev<'_>) {
    w.str("netdev");
    text_uint(w, "ifindex", n.ifindex.map(u64::from));
    text_str(w, "ifname", n.ifname);
    text_str(w, "state", n.oper_state.map(oper_state_name));
    for (name, v) in NETDEV_FIELDS.iter().zip(n.counters) {
        text_uint(w, name, v);
    }
    w.byte(b'\n');
}

fn netdev_json_obj(w: &mut dyn Text, n: &Netdev<'_>) {
    let mut o = Obj::open(w);
    o.uint("ifindex", n.ifindex.map(u64::from));
    o.str("ifname", n.ifname);
    o.str("oper_state", n.oper_state.map(oper_state_name));
    for (name, v) in NETDEV_FIELDS.iter().zip(n.counters) {
        o.uint(name, v);
    }
    o.close();
}

/// One interface of a `DUMP_NETDEV` reply; ends with a newline.
pub fn netdev(w: &mut dyn Text, n: &Netdev<'_>, style: Style) {
    match style {
        Style::Text => netdev_text(w, n),
        Style::Json => {
            netdev_json_obj(w, n);
            w.byte(b'\n');
        }
    }
}

/// One event; ends with a newline.
pub fn event(w: &mut dyn Text, e: &Event<'_>, style: Style) {
    match style {
        Style::Text => {
            w.str("event ");
            w.str(e.kind_name());
            text_uint(w, "seq", e.seq);
            text_uint(w, "time_ns", e.timestamp_ns);
            text_uint(w, "ifindex", e.ifindex.map(u64::from));
            text_str(w, "ifname", e.ifname);
            text_str(w, "threshold", e.threshold_name());
            text_int(w, "value", e.value);
            text_int(w, "limit", e.limit);
            text_uint(w, "portid", e.portid.map(u64::from));
            text_str(w, "transport", e.transport.map(transport_name));
            text_uint(w, "silence_ms", e.silence_ms.map(u64::from));
            w.byte(b'\n');
        }
        Style::Json => {
            let mut o = Obj::record(w, "event");
            o.str("kind", Some(e.kind_name()));
            o.uint("seq", e.seq);
            o.uint("timestamp_ns", e.timestamp_ns);
            o.uint("ifindex", e.ifindex.map(u64::from));
            o.str("ifname", e.ifname);
            o.str("threshold", e.threshold_name());
            o.int("value", e.value);
            o.int("limit", e.limit);
            o.uint("portid", e.portid.map(u64::from));
            o.str("transport", e.transport.map(transport_name));
            o.uint("silence_ms", e.silence_ms.map(u64::from));
            o.end();
        }
    }
}

fn transport_name(t: u32) -> &'static str {
    match t {
        nltelem_proto::transport::GENL => "genl",
        nltelem_proto::transport::CLASSIC => "classic",
        _ => "unknown",
    }
}

/// The module's statistics (`nltelem status`); ends with a newline.
pub fn stats(w: &mut dyn Text, s: &Stats<'_>, style: Style) {
    match style {
        Style::Text => {
            w.str("module");
            for &(kind, name) in STATS_FIELDS {
                text_uint(w, name, s.values[usize::from(kind)]);
            }
            for (errno, count) in s.bcast_fail() {
                w.str(" bcast_fail_errno_");
                w.uint(u64::from(errno));
                w.byte(b' ');
                w.uint(count);
            }
            w.byte(b'\n');
        }
        Style::Json => {
            let mut o = Obj::record(w, "stats");
            for &(kind, name) in STATS_FIELDS {
                o.uint(name, s.values[usize::from(kind)]);
            }
            o.array("bcast_fail");
            for (i, (errno, count)) in s.bcast_fail().enumerate() {
                if i > 0 {
                    o.w.byte(b',');
                }
                o.w.str("{\"errno\":");
                o.w.uint(u64::from(errno));
                o.w.str(",\"count\":");
                o.w.uint(count);
                o.w.byte(b'}');
            }
            o.w.byte(b']');
            o.end();
        }
    }
}

/// The module's configuration (`nltelem get config`); ends with a newline.
pub fn module_config(w: &mut dyn Text, c: &ModuleSettings, style: Style) {
    match style {
        Style::Text => {
            w.str("config");
            text_uint(w, "period_ms", c.period_ms.map(u64::from));
            if let Some(mask) = c.sources {
                text_key(w, "sources");
                source_names(w, mask);
            }
            text_uint(w, "load1_milli_max", c.load1_milli_max.map(u64::from));
            text_uint(w, "mem_available_kib_min", c.mem_available_kib_min);
            text_int(w, "temp_mdegc_max", c.temp_mdegc_max.map(i64::from));
            text_uint(w, "watchdog_ms", c.watchdog_ms.map(u64::from));
            w.byte(b'\n');
        }
        Style::Json => {
            let mut o = Obj::record(w, "config");
            o.uint("period_ms", c.period_ms.map(u64::from));
            o.uint("sources", c.sources.map(u64::from));
            o.uint("load1_milli_max", c.load1_milli_max.map(u64::from));
            o.uint("mem_available_kib_min", c.mem_available_kib_min);
            o.int("temp_mdegc_max", c.temp_mdegc_max.map(i64::from));
            o.uint("watchdog_ms", c.watchdog_ms.map(u64::from));
            o.end();
        }
    }
}

/// Appends a source mask as names joined by `,` (unknown bits in hex, `none` for 0).
pub fn source_names(w: &mut dyn Text, mask: u32) {
    let mut rest = mask;
    let mut first = true;
    for &(name, bit) in SOURCE_NAMES {
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
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        while rest != 0 {
            i -= 1;
            digits[i] = HEX[(rest & 15) as usize];
            rest >>= 4;
        }
        i -= 2;
        digits[i] = b'0';
        digits[i + 1] = b'x';
        w.bytes(digits.get(i..).unwrap_or_default());
    } else if first {
        w.str("none");
    }
}

/// The agent's counters as one line; ends with a newline.
pub fn counters(w: &mut dyn Text, c: &Counters, style: Style) {
    let fields = [
        ("received", c.received),
        ("lost", c.lost),
        ("overruns", c.overruns),
        ("exported", c.exported),
        ("export_errors", c.export_errors),
        ("forged", c.forged),
        ("malformed", c.malformed),
        ("seq_restarts", c.seq_restarts),
        ("module_lost", c.module_lost),
    ];
    match style {
        Style::Text => {
            w.str("counters");
            for (name, v) in fields {
                text_uint(w, name, Some(v));
            }
            w.byte(b'\n');
        }
        Style::Json => {
            let mut o = Obj::record(w, "counters");
            for (name, v) in fields {
                o.uint(name, Some(v));
            }
            o.end();
        }
    }
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
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Stats::parse(msg.attrs(0).unwrap()).unwrap();
        let (text, json) = both(|w, style| stats(w, &s, style));
        assert_eq!(
            text,
            "module telemetry_sent 1000 heartbeat_age_ms 0 agent_lost 3 \
             bcast_fail_errno_105 7 bcast_fail_errno_11 2\n"
        );
        assert_eq!(
            json,
            concat!(
                r#"{"type":"stats","telemetry_sent":1000,"heartbeat_age_ms":0,"agent_lost":3,"#,
                r#""bcast_fail":[{"errno":105,"count":7},{"errno":11,"count":2}]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn config_text_and_json() {
        let c = ModuleSettings {
            period_ms: Some(100),
            sources: Some(0x1f | 0x200),
            load1_milli_max: Some(4000),
            mem_available_kib_min: Some(1024),
            temp_mdegc_max: Some(-5),
            watchdog_ms: Some(3000),
        };
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
    fn json_strings() {
        let s = |v| both(|w, _| json_str(w, v)).0;
        assert_eq!(s(""), "\"\"");
        assert_eq!(s("a\"b\\c\n\x1f"), r#""a\"b\\c\u000a\u001f""#);
        assert_eq!(s("ü€"), "\"ü€\"");
    }
}
