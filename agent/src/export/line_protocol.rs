//! InfluxDB line protocol (the 1.x write format, also what Telegraf and InfluxDB 2/3 take):
//!
//! ```text
//! nltelem_netdev,host=router1,ifname=eth0 rx_bytes=2000i,tx_bytes=10i 1700000000123456789
//! └─ measurement ┘└──── tags (escaped) ─┘ └──── fields (integers: i) ┘ └ timestamp, ns ┘
//! ```
//!
//! One point per line: `nltelem_system` (load, memory, CPU times, uptime), one
//! `nltelem_netdev` per interface, one `nltelem_thermal` per zone, and `nltelem_event` for
//! events. Values stay integers with their unit in the field name, as the module sends them.
//! InfluxDB 1.x integers are signed 64-bit: a counter above `i64::MAX` is written as
//! `i64::MAX` (a byte counter gets there after 290 years at 1 GB/s).

use crate::decode::{Event, Netdev, Sample, Thermal, CPU_FIELDS, NETDEV_FIELDS};
use core::fmt::{self, Write};

/// A tag value: `,`, `=` and space escaped (a backslash needs none), a newline turned into
/// a space (it would end the point).
struct Tag<'a>(&'a str);

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                ',' | '=' | ' ' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                '\n' | '\r' => f.write_char(' ')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A string field value: `"` and `\` escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            if matches!(c, '"' | '\\') {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('"')
    }
}

/// The field list of one point: commas between fields, nothing when no field is present.
struct Fields<'w, W: Write> {
    w: &'w mut W,
    count: usize,
}

impl<W: Write> Fields<'_, W> {
    fn sep(&mut self) -> fmt::Result {
        let sep = if self.count == 0 { ' ' } else { ',' };
        self.count += 1;
        self.w.write_char(sep)
    }
    fn int(&mut self, name: &str, v: Option<i64>) -> fmt::Result {
        match v {
            Some(v) => {
                self.sep()?;
                write!(self.w, "{name}={v}i")
            }
            None => Ok(()),
        }
    }
    fn uint(&mut self, name: &str, v: Option<u64>) -> fmt::Result {
        self.int(name, v.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn string(&mut self, name: &str, v: Option<&str>) -> fmt::Result {
        match v {
            Some(v) => {
                self.sep()?;
                write!(self.w, "{name}={}", Quoted(v))
            }
            None => Ok(()),
        }
    }
}

/// One point of a sample message.
#[derive(Debug, Clone, Copy)]
pub enum Point<'s, 'a> {
    /// Load, memory, CPU times, uptime, sequence numbers.
    System(&'s Sample<'a>),
    /// One interface.
    Netdev(Netdev<'a>),
    /// One thermal zone.
    Thermal(Thermal<'a>),
}

impl<'a> Point<'_, 'a> {
    /// The measurement.
    pub fn measurement(&self) -> &'static str {
        match self {
            Point::System(_) => "nltelem_system",
            Point::Netdev(_) => "nltelem_netdev",
            Point::Thermal(_) => "nltelem_thermal",
        }
    }

    /// What tells this point apart from the others of its measurement (interface name,
    /// zone type).
    pub fn key(&self) -> Option<&'a str> {
        match self {
            Point::System(_) => None,
            Point::Netdev(n) => n.ifname,
            Point::Thermal(t) => t.kind,
        }
    }

    /// Writes the point as one line (with its newline); nothing when it has no field.
    /// `host` is the `host` tag; `timestamp_ns` the snapshot's time.
    pub fn write(&self, w: &mut impl Write, host: &str, timestamp_ns: Option<u64>) -> fmt::Result {
        // Fields first, into a line buffer: a point without fields is no point at all.
        let mut fields = heapless::String::<768>::new();
        let mut f = Fields {
            w: &mut fields,
            count: 0,
        };
        match self {
            Point::System(s) => {
                f.uint("seq", s.seq)?;
                f.uint("snapshot_seq", s.snapshot_seq)?;
                f.uint("uptime_ns", s.uptime_ns)?;
                let loads = ["load1_milli", "load5_milli", "load15_milli"];
                for (name, v) in loads.iter().zip(s.load_milli) {
                    f.int(name, v.map(i64::from))?;
                }
                let mems = ["mem_total_kib", "mem_free_kib", "mem_available_kib"];
                for (name, v) in mems.iter().zip(s.mem_kib) {
                    f.uint(name, v)?;
                }
                if let Some(cpu) = s.cpu {
                    let mut name = heapless::String::<24>::new();
                    for (mode, v) in CPU_FIELDS.iter().zip(cpu.ns) {
                        name.clear();
                        write!(name, "cpu_{mode}_ns")?;
                        f.uint(&name, v)?;
                    }
                }
            }
            Point::Netdev(n) => {
                f.int("ifindex", n.ifindex.map(i64::from))?;
                f.int("oper_state", n.oper_state.map(i64::from))?;
                for (name, v) in NETDEV_FIELDS.iter().zip(n.counters) {
                    f.uint(name, v)?;
                }
            }
            Point::Thermal(t) => f.int("temp_mdegc", t.temp_mdegc.map(i64::from))?,
        }
        if f.count == 0 {
            return Ok(());
        }
        write!(w, "{},host={}", self.measurement(), Tag(host))?;
        let tag = match self {
            Point::System(_) => None,
            Point::Netdev(n) => n.ifname.map(|name| ("ifname", name)),
            Point::Thermal(t) => t.kind.map(|kind| ("zone", kind)),
        };
        if let Some((key, value)) = tag {
            write!(w, ",{key}={}", Tag(value))?;
        }
        w.write_str(&fields)?;
        match timestamp_ns {
            Some(ts) => writeln!(w, " {ts}"),
            None => w.write_char('\n'),
        }
    }
}

/// The points of a sample message: the system point, then interfaces, then zones.
pub fn points<'s, 'a>(s: &'s Sample<'a>) -> impl Iterator<Item = Point<'s, 'a>> + 's {
    core::iter::once(Point::System(s))
        .chain(s.netdevs().map(Point::Netdev))
        .chain(s.thermal().map(Point::Thermal))
}

/// Writes every point of a sample message; returns how many lines it wrote.
pub fn write_sample(w: &mut impl Write, s: &Sample<'_>, host: &str) -> Result<u64, fmt::Error> {
    let mut lines = 0;
    for p in points(s) {
        let mut counter = LineCounter { w, lines: 0 };
        p.write(&mut counter, host, s.timestamp_ns)?;
        lines += counter.lines;
    }
    Ok(lines)
}

/// Counts the newlines that pass through.
struct LineCounter<'w, W: Write> {
    w: &'w mut W,
    lines: u64,
}

impl<W: Write> Write for LineCounter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.lines += s.bytes().filter(|&b| b == b'\n').count() as u64;
        self.w.write_str(s)
    }
}

/// Writes an event as one `nltelem_event` point (tag `kind`).
pub fn write_event(w: &mut impl Write, e: &Event<'_>, host: &str) -> fmt::Result {
    write!(
        w,
        "nltelem_event,host={},kind={}",
        Tag(host),
        Tag(e.kind_name())
    )?;
    let mut f = Fields { w, count: 0 };
    f.uint("seq", e.seq)?;
    f.int("ifindex", e.ifindex.map(i64::from))?;
    f.string("ifname", e.ifname)?;
    f.string("threshold", e.threshold_name())?;
    f.int("value", e.value)?;
    f.int("limit", e.limit)?;
    f.int("portid", e.portid.map(i64::from))?;
    f.int("transport", e.transport.map(i64::from))?;
    f.int("silence_ms", e.silence_ms.map(i64::from))?;
    if f.count == 0 {
        // A point needs a field; an event always has its kind.
        f.string("kind", Some(e.kind_name()))?;
    }
    match e.timestamp_ns {
        Some(ts) => writeln!(w, " {ts}"),
        None => w.write_char('\n'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    #[test]
    fn sample_points() {
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "br lan,0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut out = String::new();
        assert_eq!(write_sample(&mut out, &s, "router 1"), Ok(4));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "nltelem_system,host=router\\ 1 seq=3i,snapshot_seq=3i,uptime_ns=5000000000i,\
             load1_milli=250i,load5_milli=1500i,load15_milli=20i,mem_total_kib=262144i,\
             mem_free_kib=100000i,mem_available_kib=200000i,cpu_user_ns=11i,cpu_idle_ns=44i \
             1700000000123456789"
        );
        // u64::MAX does not fit InfluxDB's signed integers: written as i64::MAX.
        assert_eq!(
            lines[2],
            "nltelem_netdev,host=router\\ 1,ifname=br\\ lan\\,0 ifindex=2i,oper_state=6i,\
             rx_bytes=2000i,tx_dropped=9223372036854775807i 1700000000123456789"
        );
        assert_eq!(
            lines[3],
            "nltelem_thermal,host=router\\ 1,zone=cpu-thermal temp_mdegc=-5500i 1700000000123456789"
        );
    }

    #[test]
    fn events_carry_their_kind_as_a_tag() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::event as ev;
        let mut buf = [0u8; 128];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u64(ev::SEQ, 9).unwrap();
        b.put_u64(ev::TIMESTAMP_NS, 5).unwrap();
        b.put_u32(ev::KIND, nltelem_proto::event_kind::LINK_DOWN)
            .unwrap();
        b.put_u32(ev::IFINDEX, 3).unwrap();
        b.put_str(ev::IFNAME, "wan\"x").unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let e = Event::parse(msg.attrs(0).unwrap()).unwrap();
        let mut out = String::new();
        write_event(&mut out, &e, "r1").unwrap();
        assert_eq!(
            out,
            "nltelem_event,host=r1,kind=link-down seq=9i,ifindex=3i,ifname=\"wan\\\"x\" 5\n"
        );
    }
}
