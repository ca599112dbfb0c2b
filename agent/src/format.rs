//! Output for people (one line per message, `ip monitor` style, absent fields left out)
//! and for scripts (`--json`: one JSON object per line). Integers only: fixed-point values
//! (load x1000, m°C) are printed with three decimals by integer division.

use crate::accounting::Counters;
use crate::decode::{Event, Netdev, Sample, Stats, CPU_FIELDS, NETDEV_FIELDS, STATS_FIELDS};
use crate::settings::{ModuleSettings, SOURCE_NAMES};
use core::fmt::{self, Write};

/// Text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// A value x1000 as `int.frac` (e.g. 1500 → `1.500`, -5500 → `-5.500`).
pub struct Milli(pub i64);

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

/// A JSON string: quotes and escapes (control characters as `\u00XX`).
pub struct JsonStr<'a>(pub &'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// Writes a JSON object's members, commas included.
struct Obj<'w, W: Write> {
    w: &'w mut W,
    first: bool,
}

impl<'w, W: Write> Obj<'w, W> {
    fn open(w: &'w mut W) -> Result<Self, fmt::Error> {
        w.write_char('{')?;
        Ok(Obj { w, first: true })
    }
    fn key(&mut self, name: &str) -> fmt::Result {
        if !self.first {
            self.w.write_char(',')?;
        }
        self.first = false;
        write!(self.w, "\"{name}\":")
    }
    fn raw(&mut self, name: &str, v: impl fmt::Display) -> fmt::Result {
        self.key(name)?;
        write!(self.w, "{v}")
    }
    fn opt(&mut self, name: &str, v: Option<impl fmt::Display>) -> fmt::Result {
        match v {
            Some(v) => self.raw(name, v),
            None => Ok(()),
        }
    }
    fn str(&mut self, name: &str, v: Option<&str>) -> fmt::Result {
        match v {
            Some(v) => self.raw(name, JsonStr(v)),
            None => Ok(()),
        }
    }
    fn close(self) -> fmt::Result {
        self.w.write_char('}')
    }
}

/// ` name value` when present.
fn text_opt(w: &mut impl Write, name: &str, v: Option<impl fmt::Display>) -> fmt::Result {
    match v {
        Some(v) => write!(w, " {name} {v}"),
        None => Ok(()),
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
pub fn sample(w: &mut impl Write, s: &Sample<'_>, style: Style) -> fmt::Result {
    match style {
        Style::Text => sample_text(w, s),
        Style::Json => sample_json(w, s),
    }
}

fn sample_text(w: &mut impl Write, s: &Sample<'_>) -> fmt::Result {
    w.write_str("sample")?;
    text_opt(w, "seq", s.seq)?;
    text_opt(w, "snapshot", s.snapshot_seq)?;
    text_opt(w, "part", s.part)?;
    if s.last_part {
        w.write_str(" last")?;
    }
    text_opt(w, "time_ns", s.timestamp_ns)?;
    text_opt(w, "uptime_ns", s.uptime_ns)?;
    if s.load_milli.iter().any(Option::is_some) {
        w.write_str(" load")?;
        for l in s.load_milli {
            match l {
                Some(l) => write!(w, " {}", Milli(i64::from(l)))?,
                None => w.write_str(" -")?,
            }
        }
    }
    for (name, v) in ["mem_total_kib", "mem_free_kib", "mem_available_kib"]
        .iter()
        .zip(s.mem_kib)
    {
        text_opt(w, name, v)?;
    }
    w.write_char('\n')?;
    if let Some(cpu) = &s.cpu {
        w.write_str("  cpu")?;
        for (name, v) in CPU_FIELDS.iter().zip(cpu.ns) {
            if let Some(v) = v {
                write!(w, " {name}_ns {v}")?;
            }
        }
        w.write_char('\n')?;
    }
    for n in s.netdevs() {
        w.write_str("  ")?;
        netdev_text(w, &n)?;
    }
    for t in s.thermal() {
        w.write_str("  thermal")?;
        text_opt(w, "type", t.kind)?;
        if let Some(m) = t.temp_mdegc {
            write!(w, " temp_c {}", Milli(i64::from(m)))?;
        }
        w.write_char('\n')?;
    }
    Ok(())
}

fn sample_json(w: &mut impl Write, s: &Sample<'_>) -> fmt::Result {
    let mut o = Obj::open(w)?;
    o.raw("type", JsonStr("sample"))?;
    o.opt("seq", s.seq)?;
    o.opt("snapshot_seq", s.snapshot_seq)?;
    o.opt("part", s.part)?;
    o.raw("last_part", s.last_part)?;
    o.opt("timestamp_ns", s.timestamp_ns)?;
    o.opt("uptime_ns", s.uptime_ns)?;
    for (name, v) in ["load1_milli", "load5_milli", "load15_milli"]
        .iter()
        .zip(s.load_milli)
    {
        o.opt(name, v)?;
    }
    for (name, v) in ["mem_total_kib", "mem_free_kib", "mem_available_kib"]
        .iter()
        .zip(s.mem_kib)
    {
        o.opt(name, v)?;
    }
    if let Some(cpu) = &s.cpu {
        o.key("cpu_ns")?;
        let mut c = Obj::open(o.w)?;
        for (name, v) in CPU_FIELDS.iter().zip(cpu.ns) {
            c.opt(name, v)?;
        }
        c.close()?;
    }
    o.key("netdev")?;
    o.w.write_char('[')?;
    for (i, n) in s.netdevs().enumerate() {
        if i > 0 {
            o.w.write_char(',')?;
        }
        netdev_json_obj(o.w, &n)?;
    }
    o.w.write_char(']')?;
    o.key("thermal")?;
    o.w.write_char('[')?;
    for (i, t) in s.thermal().enumerate() {
        if i > 0 {
            o.w.write_char(',')?;
        }
        let mut z = Obj::open(o.w)?;
        z.str("type", t.kind)?;
        z.opt("temp_mdegc", t.temp_mdegc)?;
        z.close()?;
    }
    o.w.write_char(']')?;
    o.close()?;
    w.write_char('\n')
}

fn netdev_text(w: &mut impl Write, n: &Netdev<'_>) -> fmt::Result {
    w.write_str("netdev")?;
    text_opt(w, "ifindex", n.ifindex)?;
    text_opt(w, "ifname", n.ifname)?;
    text_opt(w, "state", n.oper_state.map(oper_state_name))?;
    for (name, v) in NETDEV_FIELDS.iter().zip(n.counters) {
        text_opt(w, name, v)?;
    }
    w.write_char('\n')
}

fn netdev_json_obj(w: &mut impl Write, n: &Netdev<'_>) -> fmt::Result {
    let mut o = Obj::open(w)?;
    o.opt("ifindex", n.ifindex)?;
    o.str("ifname", n.ifname)?;
    o.str("oper_state", n.oper_state.map(oper_state_name))?;
    for (name, v) in NETDEV_FIELDS.iter().zip(n.counters) {
        o.opt(name, v)?;
    }
    o.close()
}

/// One interface of a `DUMP_NETDEV` reply; ends with a newline.
pub fn netdev(w: &mut impl Write, n: &Netdev<'_>, style: Style) -> fmt::Result {
    match style {
        Style::Text => netdev_text(w, n),
        Style::Json => {
            netdev_json_obj(w, n)?;
            w.write_char('\n')
        }
    }
}

/// One event; ends with a newline.
pub fn event(w: &mut impl Write, e: &Event<'_>, style: Style) -> fmt::Result {
    match style {
        Style::Text => {
            write!(w, "event {}", e.kind_name())?;
            text_opt(w, "seq", e.seq)?;
            text_opt(w, "time_ns", e.timestamp_ns)?;
            text_opt(w, "ifindex", e.ifindex)?;
            text_opt(w, "ifname", e.ifname)?;
            text_opt(w, "threshold", e.threshold_name())?;
            text_opt(w, "value", e.value)?;
            text_opt(w, "limit", e.limit)?;
            text_opt(w, "portid", e.portid)?;
            text_opt(w, "transport", e.transport.map(transport_name))?;
            text_opt(w, "silence_ms", e.silence_ms)?;
            w.write_char('\n')
        }
        Style::Json => {
            let mut o = Obj::open(w)?;
            o.raw("type", JsonStr("event"))?;
            o.raw("kind", JsonStr(e.kind_name()))?;
            o.opt("seq", e.seq)?;
            o.opt("timestamp_ns", e.timestamp_ns)?;
            o.opt("ifindex", e.ifindex)?;
            o.str("ifname", e.ifname)?;
            o.str("threshold", e.threshold_name())?;
            o.opt("value", e.value)?;
            o.opt("limit", e.limit)?;
            o.opt("portid", e.portid)?;
            o.str("transport", e.transport.map(transport_name))?;
            o.opt("silence_ms", e.silence_ms)?;
            o.close()?;
            w.write_char('\n')
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
pub fn stats(w: &mut impl Write, s: &Stats<'_>, style: Style) -> fmt::Result {
    match style {
        Style::Text => {
            w.write_str("module")?;
            for &(kind, name) in STATS_FIELDS {
                text_opt(w, name, s.values[usize::from(kind)])?;
            }
            for (errno, count) in s.bcast_fail() {
                write!(w, " bcast_fail_errno_{errno} {count}")?;
            }
            w.write_char('\n')
        }
        Style::Json => {
            let mut o = Obj::open(w)?;
            o.raw("type", JsonStr("stats"))?;
            for &(kind, name) in STATS_FIELDS {
                o.opt(name, s.values[usize::from(kind)])?;
            }
            o.key("bcast_fail")?;
            o.w.write_char('[')?;
            for (i, (errno, count)) in s.bcast_fail().enumerate() {
                if i > 0 {
                    o.w.write_char(',')?;
                }
                write!(o.w, "{{\"errno\":{errno},\"count\":{count}}}")?;
            }
            o.w.write_char(']')?;
            o.close()?;
            w.write_char('\n')
        }
    }
}

/// The module's configuration (`nltelem get config`); ends with a newline.
pub fn module_config(w: &mut impl Write, c: &ModuleSettings, style: Style) -> fmt::Result {
    let sources = c.sources.map(SourceNames);
    match style {
        Style::Text => {
            w.write_str("config")?;
            text_opt(w, "period_ms", c.period_ms)?;
            text_opt(w, "sources", sources)?;
            text_opt(w, "load1_milli_max", c.load1_milli_max)?;
            text_opt(w, "mem_available_kib_min", c.mem_available_kib_min)?;
            text_opt(w, "temp_mdegc_max", c.temp_mdegc_max)?;
            text_opt(w, "watchdog_ms", c.watchdog_ms)?;
            w.write_char('\n')
        }
        Style::Json => {
            let mut o = Obj::open(w)?;
            o.raw("type", JsonStr("config"))?;
            o.opt("period_ms", c.period_ms)?;
            o.opt("sources", c.sources)?;
            o.opt("load1_milli_max", c.load1_milli_max)?;
            o.opt("mem_available_kib_min", c.mem_available_kib_min)?;
            o.opt("temp_mdegc_max", c.temp_mdegc_max)?;
            o.opt("watchdog_ms", c.watchdog_ms)?;
            o.close()?;
            w.write_char('\n')
        }
    }
}

/// A source mask as names joined by `,` (unknown bits in hex).
pub struct SourceNames(pub u32);

impl fmt::Display for SourceNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut first = true;
        for &(name, bit) in SOURCE_NAMES {
            if rest & bit != 0 {
                if !first {
                    f.write_char(',')?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !bit;
            }
        }
        if rest != 0 {
            if !first {
                f.write_char(',')?;
            }
            write!(f, "{rest:#x}")?;
        } else if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// The agent's counters as one line; ends with a newline.
pub fn counters(w: &mut impl Write, c: &Counters, style: Style) -> fmt::Result {
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
            w.write_str("counters")?;
            for (name, v) in fields {
                write!(w, " {name} {v}")?;
            }
            w.write_char('\n')
        }
        Style::Json => {
            let mut o = Obj::open(w)?;
            o.raw("type", JsonStr("counters"))?;
            for (name, v) in fields {
                o.raw(name, v)?;
            }
            o.close()?;
            w.write_char('\n')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    fn parsed_sample<'a>(buf: &'a mut [u8], name: &str) -> Sample<'a> {
        let len = sample_bytes(buf, 42, name);
        let buf: &'a [u8] = buf;
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        Sample::parse(msg.attrs(0).unwrap()).unwrap()
    }

    #[test]
    fn milli_is_integer_fixed_point() {
        assert_eq!(Milli(1500).to_string(), "1.500");
        assert_eq!(Milli(20).to_string(), "0.020");
        assert_eq!(Milli(-5500).to_string(), "-5.500");
        assert_eq!(Milli(-1).to_string(), "-0.001");
        assert_eq!(Milli(i64::MIN).to_string(), "-9223372036854775.808");
    }

    #[test]
    fn sample_as_text() {
        let mut buf = [0u8; 512];
        let s = parsed_sample(&mut buf, "eth0");
        let mut out = String::new();
        sample(&mut out, &s, Style::Text).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "sample seq 42 snapshot 42 part 0 last time_ns 1700000000123456789 \
             uptime_ns 5000000000 load 0.250 1.500 0.020 mem_total_kib 262144 \
             mem_free_kib 100000 mem_available_kib 200000"
        );
        assert_eq!(lines[1], "  cpu user_ns 11 idle_ns 44");
        assert_eq!(
            lines[3],
            "  netdev ifindex 2 ifname eth0 state up rx_bytes 2000 tx_dropped 18446744073709551615"
        );
        assert_eq!(lines[4], "  thermal type cpu-thermal temp_c -5.500");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn sample_as_json_escapes_names() {
        let mut buf = [0u8; 512];
        let s = parsed_sample(&mut buf, "we\"ird\\\x01");
        let mut out = String::new();
        sample(&mut out, &s, Style::Json).unwrap();
        assert!(out.ends_with("}\n"));
        assert_eq!(out.matches('\n').count(), 1);
        assert!(out.starts_with(
            "{\"type\":\"sample\",\"seq\":42,\"snapshot_seq\":42,\"part\":0,\"last_part\":true,"
        ));
        assert!(out.contains("\"cpu_ns\":{\"user\":11,\"idle\":44}"));
        assert!(out.contains("\"ifname\":\"we\\\"ird\\\\\\u0001\""));
        assert!(out.contains("\"thermal\":[{\"type\":\"cpu-thermal\",\"temp_mdegc\":-5500}]"));
    }

    #[test]
    fn counters_line() {
        let c = Counters {
            received: 10,
            lost: 2,
            ..Counters::default()
        };
        let mut out = String::new();
        counters(&mut out, &c, Style::Text).unwrap();
        assert_eq!(
            out,
            "counters received 10 lost 2 overruns 0 exported 0 export_errors 0 forged 0 \
             malformed 0 seq_restarts 0 module_lost 0\n"
        );
        out.clear();
        counters(&mut out, &c, Style::Json).unwrap();
        assert!(out.starts_with("{\"type\":\"counters\",\"received\":10,\"lost\":2,"));
    }

    #[test]
    fn sources_and_config() {
        assert_eq!(SourceNames(0b11).to_string(), "load,memory");
        assert_eq!(SourceNames(0).to_string(), "none");
        assert_eq!(SourceNames(0x100 | 1).to_string(), "load,0x100");
        let c = ModuleSettings {
            period_ms: Some(100),
            sources: Some(0x1f),
            ..ModuleSettings::default()
        };
        let mut out = String::new();
        module_config(&mut out, &c, Style::Text).unwrap();
        assert_eq!(
            out,
            "config period_ms 100 sources load,memory,cpu,netdev,thermal\n"
        );
    }
}
