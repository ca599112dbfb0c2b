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
//! `i64::MAX` (a byte counter gets there after 290 years at 1 GB/s). The fields are the
//! records' field tables (`decode::SAMPLE_FIELDS` and the others) written by
//! `Out::fields`, as the text and JSON outputs are.

use super::escaped;
use crate::decode::{self, Event, Rec, Sample, Table};
use crate::format::{quoted, Mode, Out};
use nlcore::text::{Fixed, Text};
use nltelem_proto::attr;

/// A tag value: `,`, `=` and space escaped (a backslash needs none), a newline turned into
/// a space (it would end the point).
fn tag(w: &mut dyn Text, s: &str) {
    escaped(w, s, b",\\,=\\= \\ \n \0\r \0");
}

/// Longest line: a point that does not fit is dropped (and counted by the exporters).
pub const LINE: usize = 1024;

/// A kind of point.
#[derive(Debug)]
struct Kind {
    measurement: &'static str,
    /// The tag key of the record's text.
    tag: &'static str,
    fields: Table,
}

const SYSTEM: Kind = Kind {
    measurement: "nltelem_system",
    tag: "",
    fields: decode::SAMPLE,
};
const NETDEV: Kind = Kind {
    measurement: "nltelem_netdev",
    tag: ",ifname=",
    fields: decode::NETDEV,
};
const EVENT: Kind = Kind {
    measurement: "nltelem_event",
    tag: ",kind=",
    fields: decode::EVENT,
};
const THERMAL: Kind = Kind {
    measurement: "nltelem_thermal",
    tag: ",zone=",
    fields: decode::THERMAL,
};

/// One point of a sample message: the system point (load, memory, CPU times, uptime,
/// sequence numbers), an interface or a thermal zone.
#[derive(Debug, Clone, Copy)]
pub struct Point<'r, 'a> {
    kind: &'static Kind,
    rec: &'r Rec<'a>,
}

impl<'a> Point<'_, 'a> {
    /// The measurement.
    pub fn measurement(&self) -> &'static str {
        self.kind.measurement
    }

    /// What tells this point apart from the others of its measurement (interface name,
    /// zone type).
    pub fn key(&self) -> Option<&'a str> {
        self.rec.text
    }

    /// Writes the point as one line (with its newline) into `line` and returns `true`;
    /// leaves `line` empty and returns `false` when the point has no field. `host` is the
    /// `host` tag; `timestamp_ns` the snapshot's time. A point too long for the buffer
    /// leaves it overflowed (`line.get()` is `None`).
    pub fn write(&self, line: &mut Fixed<LINE>, host: &str, timestamp_ns: Option<u64>) -> bool {
        line.clear();
        let w = line.text();
        if !head_and_fields(w, self.kind, self.key(), self.rec, host) {
            // A point without fields is no point at all.
            line.clear();
            return false;
        }
        end(w, timestamp_ns);
        true
    }
}

/// Writes a point's measurement, tags (`host`, the kind's tag with `key`) and fields;
/// whether it has a field. One writer for the points of samples and events.
// Out of line: a sample's points and an event's each had a copy inlined.
#[inline(never)]
fn head_and_fields(
    w: &mut dyn Text,
    kind: &Kind,
    key: Option<&str>,
    rec: &Rec<'_>,
    host: &str,
) -> bool {
    w.str(kind.measurement);
    w.str(",host=");
    tag(w, host);
    if let Some(value) = key {
        w.str(kind.tag);
        tag(w, value);
    }
    let mut f = Out::new(w, Mode::LineProtocol);
    f.fields(kind.fields, rec);
    !f.first
}

/// Ends a point: the timestamp when there is one, the newline.
fn end(w: &mut dyn Text, timestamp_ns: Option<u64>) {
    if let Some(ts) = timestamp_ns {
        w.str(" ");
        w.uint(ts);
    }
    w.str("\n");
}

/// Calls `f` with each point of a sample message: the system point, then interfaces, then
/// zones. (A callback: a chain of iterators compiles to much more.)
pub fn points<'a>(s: &Sample<'a>, f: &mut dyn FnMut(Point<'_, 'a>)) {
    f(Point {
        kind: &SYSTEM,
        rec: &s.rec,
    });
    s.nests(attr::sample::NETDEV, attr::netdev::IFNAME, &mut |rec| {
        f(Point { kind: &NETDEV, rec });
    });
    s.nests(
        attr::sample::THERMAL,
        attr::thermal_zone::TYPE,
        &mut |rec| {
            f(Point {
                kind: &THERMAL,
                rec,
            });
        },
    );
}

/// Writes every point of a sample message; returns how many lines it wrote (a point too
/// long for a line is left out, as the exporters drop it).
pub fn write_sample(w: &mut dyn Text, s: &Sample<'_>, host: &str) -> u64 {
    let mut line = Fixed::new();
    let mut lines = 0;
    points(s, &mut |p| {
        if p.write(&mut line, host, s.timestamp_ns()) {
            if let Some(text) = line.get() {
                w.bytes(text);
                lines += 1;
            }
        }
    });
    lines
}

/// Writes an event as one `nltelem_event` point (tag `kind`).
pub fn write_event(w: &mut dyn Text, e: &Event<'_>, host: &str) {
    if !head_and_fields(w, &EVENT, Some(e.kind_name()), &e.rec, host) {
        // A point needs a field; an event always has its kind.
        w.str(" kind=");
        quoted(w, e.kind_name(), false);
    }
    end(w, e.timestamp_ns());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use crate::export::Gathered;
    use nlcore::NlMsg;

    /// Every byte of the tag escapes, each row of its table, and the text around them.
    #[test]
    fn a_tag_escapes_separators_and_turns_line_ends_into_spaces() {
        let mut out = Gathered::default();
        tag(&mut out, "a,b=c d\né\r");
        assert_eq!(out.0, "a\\,b\\=c\\ d é ");
    }

    #[test]
    fn sample_points() {
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "br lan,0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut out = Gathered::default();
        assert_eq!(write_sample(&mut out, &s, "router 1"), 4);
        let lines: Vec<&str> = out.0.lines().collect();
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
        let mut out = Gathered::default();
        write_event(&mut out, &e, "r1");
        assert_eq!(
            out.0,
            "nltelem_event,host=r1,kind=link-down seq=9i,ifindex=3i,ifname=\"wan\\\"x\" 5\n"
        );
    }

    /// Tag escapes, and points without fields (no system field, an interface with only its
    /// name, a zone without temperature) left out.
    #[test]
    fn tags_are_escaped_and_points_without_fields_are_left_out() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::{netdev as nd, sample as k, thermal_zone as tz};
        let mut buf = [0u8; 256];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        let n = b.nest_start(k::NETDEV).unwrap();
        b.put_str(nd::IFNAME, "a=b,c d\\").unwrap();
        b.put_u64(nd::RX_BYTES, 1).unwrap();
        b.put_u64(nd::TX_ERRORS, 0).unwrap();
        b.nest_end(n).unwrap();
        let n = b.nest_start(k::NETDEV).unwrap();
        b.put_str(nd::IFNAME, "nothing").unwrap();
        b.nest_end(n).unwrap();
        let t = b.nest_start(k::THERMAL).unwrap();
        b.put_str(tz::TYPE, "cold").unwrap();
        b.nest_end(t).unwrap();
        let t = b.nest_start(k::THERMAL).unwrap();
        b.put_i32(tz::TEMP_MDEGC, 1000).unwrap();
        b.nest_end(t).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut out = Gathered::default();
        assert_eq!(write_sample(&mut out, &s, "h=1,x y"), 2);
        assert_eq!(
            out.0,
            "nltelem_netdev,host=h\\=1\\,x\\ y,ifname=a\\=b\\,c\\ d\\ rx_bytes=1i,tx_errors=0i\n\
             nltelem_thermal,host=h\\=1\\,x\\ y temp_mdegc=1000i\n"
        );
    }

    #[test]
    fn every_event_field_and_an_event_without_any() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::event as ev;
        use nltelem_proto::{event_kind, threshold};
        let event = |put: &dyn Fn(&mut MsgBuilder<nlcore::SliceBuffer<'_>>)| {
            let mut buf = [0u8; 256];
            let mut b = MsgBuilder::new(&mut buf[..]);
            b.begin(0x20, 0, 0, 0).unwrap();
            put(&mut b);
            let len = b.finish().unwrap();
            let msg = NlMsg::new_checked(&buf[..len]).unwrap();
            let e = Event::parse(msg.attrs(0).unwrap()).unwrap();
            let mut out = Gathered::default();
            write_event(&mut out, &e, "r1");
            out.0
        };
        let all = event(&|b| {
            b.put_u64(ev::SEQ, u64::MAX).unwrap();
            b.put_u32(ev::KIND, event_kind::THRESHOLD).unwrap();
            b.put_u32(ev::IFINDEX, 7).unwrap();
            b.put_str(ev::IFNAME, "a\\b").unwrap();
            b.put_u32(ev::THRESHOLD, threshold::TEMPERATURE).unwrap();
            b.put_i64(ev::VALUE, -81_000).unwrap();
            b.put_i64(ev::LIMIT, i64::MIN).unwrap();
            b.put_u32(ev::PORTID, u32::MAX).unwrap();
            b.put_u32(ev::TRANSPORT, 2).unwrap();
            b.put_u32(ev::SILENCE_MS, 1500).unwrap();
        });
        assert_eq!(
            all,
            "nltelem_event,host=r1,kind=threshold seq=9223372036854775807i,ifindex=7i,\
             ifname=\"a\\\\b\",threshold=\"temperature\",value=-81000i,\
             limit=-9223372036854775808i,portid=4294967295i,transport=2i,silence_ms=1500i\n"
        );
        let bare = event(&|b| b.put_u32(ev::KIND, event_kind::WATCHDOG).unwrap());
        assert_eq!(
            bare,
            "nltelem_event,host=r1,kind=watchdog kind=\"watchdog\"\n"
        );
    }
}
