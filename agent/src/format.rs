//! Output for people (one line per message, `ip monitor` style, absent fields left out),
//! for scripts (`--json`: one JSON object per line) and the fields of InfluxDB line
//! protocol points. Integers only: fixed-point values (load x1000, m°C) are printed with
//! three decimals by integer division.
//!
//! Every style comes from one walk over a record's field table (`Out::fields` over
//! `decode::SAMPLE_FIELDS` and the others): a field has its slot, its kind and its names,
//! and the writer puts ` name value`, `,"name":value` or `,name=valuei`. One loop over
//! data for every record and style, instead of code per field, keeps the agent small.

use crate::accounting::Counters;
use crate::config::name_of;
use crate::decode::{
    narrow, nests, parse, Rec, Table, CONFIG, COUNTERS, ERRNO_COUNT, EVENT, EVENT_KINDS, NETDEV,
    NONE, SAME, SAMPLE, STATS, THERMAL,
};
use crate::settings::{SOURCES_NAMED, SOURCE_NAMES};
use nlcore::text::{After, Text};
use nlcore::{AttrIter, Policy};
use nltelem_proto::{attr, policy};

/// Text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// What [`Out`] writes: a [`Style`], or the fields of a line-protocol point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Text,
    Json,
    LineProtocol,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` quoted, `"` and `\` escaped; with `controls`, control characters as
/// `\u00XX` (JSON), else as they are (a line-protocol string field).
pub(crate) fn quoted(w: &mut dyn Text, s: &str, controls: bool) {
    w.str("\"");
    // Byte by byte: names are short, and one loop is smaller than copying runs.
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => w.bytes(&[b'\\', c]),
            0..=0x1f if controls => w.bytes(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                // (Below 0x20: the high digit is 0 or 1.)
                b'0' + (c >> 4),
                HEX[usize::from(c & 15)],
            ]),
            _ => w.byte(c),
        }
    }
    w.str("\"");
}

/// RFC 2863 operstate names (`IF_OPER_*`, from `IF_OPER_UNKNOWN`, 0).
const OPER_STATES: &str = "unknown notpresent down lowerlayerdown testing dormant up";
/// `transport::*` from 1.
const TRANSPORTS: &str = "unknown genl classic";
/// `threshold::*` from 1.
const THRESHOLDS: &str = "unknown load1 mem-available temperature";

/// A field's value, as it is written (an unsigned one is written where it is read).
#[derive(Clone, Copy)]
enum Value<'s> {
    Int(i64),
    Str(&'s str),
}

/// Writes records: text ` name value` pairs after a head word, a JSON object's members
/// with their commas, or a line-protocol point's fields.
pub(crate) struct Out<'w> {
    pub(crate) w: &'w mut dyn Text,
    mode: Mode,
    /// Nothing was written in the innermost JSON object or array yet, or no field of the
    /// point.
    pub(crate) first: bool,
}

impl<'w> Out<'w> {
    pub(crate) fn new(w: &'w mut dyn Text, mode: Mode) -> Self {
        Out {
            w,
            mode,
            first: true,
        }
    }

    fn json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// ` name ` (` name` for a text name `name_`), `,"name":` (no comma before an object's
    /// first member) or `,name=` (a space before the first field).
    fn key(&mut self, name: &[u8]) {
        let (before, name, after) = match (self.mode, name) {
            // A text name that ends in `_` is glued to the value, without the `_`.
            (Mode::Text, [glued @ .., b'_']) => (" ", glued, ""),
            (Mode::Text, _) => (" ", name, " "),
            (Mode::Json, _) if self.first => ("\"", name, "\":"),
            (Mode::Json, _) => (",\"", name, "\":"),
            (Mode::LineProtocol, _) if self.first => (" ", name, "="),
            (Mode::LineProtocol, _) => (",", name, "="),
        };
        // (Text has no use for `first`.)
        self.first = false;
        self.w.str(before);
        self.w.bytes(name);
        self.w.str(after);
    }

    /// Writes `rec` as `shape` says, and the nests in `attrs` it lists: text its head and
    /// fields, JSON an object (its comma first). Out of line: one copy for every record
    /// and listed nest.
    #[inline(never)]
    fn object(&mut self, shape: &Shape, rec: &Rec<'_>, attrs: &AttrIter<'_>) {
        let json = self.json();
        if json {
            // A comma before it unless first in its array.
            let first = core::mem::replace(&mut self.first, true);
            self.w
                .str(",{".get(usize::from(first)..).unwrap_or_default());
            if shape.kind != UNNAMED {
                self.key(b"type");
                quoted(self.w, name_of(NAMES, shape.kind.into()), true);
            }
        } else if shape.head != UNNAMED {
            if shape.head & OWN_LINE != 0 {
                self.w.str("\n  ");
            }
            self.w.str(name_of(NAMES, (shape.head & !OWN_LINE).into()));
        }
        self.fields(shape.fields, rec);
        let (from, to) = shape.lists;
        for list in LISTS
            .get(usize::from(from)..usize::from(to))
            .unwrap_or_default()
        {
            if json {
                self.key(name_of(NAMES, list.name.into()).as_bytes());
                self.w.str("[");
                self.first = true;
            }
            nests(attrs, list.nest, list.text, &mut |r| {
                self.object(&list.shape, r, &AttrIter::new(&[]));
            });
            if json {
                self.w.str("]");
                self.first = false;
            }
        }
        if json {
            self.w.str("}");
            self.first = false;
        }
    }

    /// Writes the fields of `rec` that `table` describes (`decode::SAMPLE_FIELDS` says
    /// how), in its order, those absent left out. Out of line: the one loop behind every
    /// record in every style.
    #[inline(never)]
    pub(crate) fn fields(&mut self, table: Table, rec: &Rec<'_>) {
        let lp = self.mode == Mode::LineProtocol;
        let mut nested = false;
        let mut rest = table.entries();
        while let [slot, kind, text_len, json_len, ref tail @ ..] = *rest {
            // (The tables are packed at compile time: a length past the end does not come.)
            let Some((text, tail)) = tail.split_at_checked(usize::from(text_len)) else {
                break;
            };
            let Some((json, tail)) = (match json_len {
                SAME => Some((text, tail)),
                _ => tail.split_at_checked(usize::from(json_len)),
            }) else {
                break;
            };
            rest = tail;
            let name = match self.mode {
                // A CPU time's text name is its line-protocol name without `cpu_`.
                Mode::Text if kind == b'c' => text.get(4..).unwrap_or_default(),
                Mode::LineProtocol if kind == b'c' => text,
                Mode::Text => text,
                _ => json,
            };
            if name.is_empty() || lp && kind.is_ascii_uppercase() {
                continue;
            }
            let slot = usize::from(slot);
            let v = rec.get(slot);
            let value = match (kind, v) {
                // A flag: text its name when set, JSON `true` or `false`. The CPU times' nest:
                // the fields after it in a line of their own, or a JSON object.
                (b'F', _) | (b'C', Some(_)) => {
                    let nest = kind == b'C';
                    if self.json() {
                        self.key(name);
                        self.w.str(match (nest, v) {
                            (true, _) => "{",
                            (_, Some(_)) => "true",
                            _ => "false",
                        });
                        self.first = nest;
                    } else if v.is_some() {
                        // (Their text names are glued: the key is all but the new line.)
                        if nest {
                            self.w.str("\n ");
                        }
                        self.key(name);
                    }
                    nested |= nest;
                    continue;
                }
                (b'L', _) => {
                    // Text only: the three loads after one name (glued: its key, without
                    // the space after), `-` for one missing. Read where they are written: an
                    // array of the three was 48 bytes built, and its code.
                    if (slot..slot + 3).any(|s| rec.get(s).is_some()) {
                        self.key(name);
                        for s in slot..slot + 3 {
                            self.w.str(" ");
                            match rec.get(s) {
                                // Loads x1000 come from a u32: within i64.
                                Some(l) => self.w.milli(l as i64),
                                None => self.w.str("-"),
                            }
                        }
                    }
                    continue;
                }
                // Written when absent too: `unknown`.
                (b'K', v) => Value::Str(name_of(EVENT_KINDS, narrow(v.unwrap_or(0)))),
                (b's' | b'S', _) => match rec.text {
                    Some(t) => Value::Str(t),
                    None => continue,
                },
                (_, None) => continue,
                (b'i', Some(v)) => Value::Int(v as i64),
                (b'm' | b'd', Some(v)) => Value::Int(i64::from(v as u32 as i32)),
                // A name in text and JSON, a number in the line protocol (but thresholds).
                (b'o' | b't' | b'h', Some(v)) if !lp || kind == b'h' => Value::Str(name_of(
                    match kind {
                        b'o' => OPER_STATES,
                        b't' => TRANSPORTS,
                        _ => THRESHOLDS,
                    },
                    narrow(v),
                )),
                // InfluxDB's integers are signed: a value above `i64::MAX` is written as
                // `i64::MAX`.
                (_, Some(v)) if lp => Value::Int(i64::try_from(v).unwrap_or(i64::MAX)),
                // Names for people, the mask for scripts (no line-protocol table has
                // this kind).
                (b'n', Some(v)) if self.mode == Mode::Text => {
                    self.key(name);
                    source_names(self.w, narrow(v));
                    continue;
                }
                (_, Some(v)) => {
                    self.key(name);
                    self.w.uint(v);
                    continue;
                }
            };
            self.key(name);
            match value {
                // Thousandths: `1.500` in text, the integer elsewhere; InfluxDB's integers end
                // in `i`, written with the digits.
                Value::Int(v) => self.w.signed(
                    v,
                    match self.mode {
                        Mode::Text if kind == b'm' => After::Milli,
                        Mode::LineProtocol => After::Byte(b'i'),
                        _ => After::Nothing,
                    },
                ),
                Value::Str(s) if self.mode == Mode::Text => self.w.str(s),
                Value::Str(s) => quoted(self.w, s, !lp),
            }
        }
        if nested && self.json() {
            self.w.str("}");
            self.first = false;
        }
    }
}

/// The words of the records' heads, JSON types and lists, by number ([`name_of`]): one
/// string, where a `&str` each took 16 bytes.
const NAMES: &str = "sample event config netdev module stats counters thermal bcast_fail";
const SAMPLE_NAME: u8 = 0;
const EVENT_NAME: u8 = 1;
const CONFIG_NAME: u8 = 2;
const NETDEV_NAME: u8 = 3;
const MODULE_NAME: u8 = 4;
const STATS_NAME: u8 = 5;
const COUNTERS_NAME: u8 = 6;
const THERMAL_NAME: u8 = 7;
const BCAST_FAIL_NAME: u8 = 8;
/// No JSON type, or no text head.
const UNNAMED: u8 = u8::MAX;
/// In a text head: it starts a line of its own, indented.
const OWN_LINE: u8 = 0x80;

/// How a record is written: its head and fields, then the nests it lists ([`LISTS`]).
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    fields: Table,
    /// The text's head word, of [`NAMES`] (maybe with [`OWN_LINE`]; [`UNNAMED`]: none).
    head: u8,
    /// The JSON object's `type`, of [`NAMES`] ([`UNNAMED`]: none).
    kind: u8,
    /// Which of [`LISTS`]: from, to.
    lists: (u8, u8),
}

/// The nests of one type that a record lists after its fields: a JSON list of objects;
/// in text each after its head.
struct List {
    /// The nests' attribute type, and that of their string ([`NONE`]: none).
    nest: u16,
    text: u16,
    /// The JSON list's name, of [`NAMES`].
    name: u8,
    shape: Shape,
}

/// The shape of a listed nest.
const fn nest_shape(fields: Table, head: u8) -> Shape {
    Shape {
        fields,
        head,
        kind: UNNAMED,
        lists: (0, 0),
    }
}

/// The nests a [`Shape`] can list: a sample's two, the statistics' failed broadcasts (on
/// the record's line).
static LISTS: [List; 3] = [
    List {
        nest: attr::sample::NETDEV,
        text: attr::netdev::IFNAME,
        name: NETDEV_NAME,
        shape: nest_shape(NETDEV, NETDEV_NAME | OWN_LINE),
    },
    List {
        nest: attr::sample::THERMAL,
        text: attr::thermal_zone::TYPE,
        name: THERMAL_NAME,
        shape: nest_shape(THERMAL, THERMAL_NAME | OWN_LINE),
    },
    List {
        nest: attr::stats::BCAST_FAIL,
        text: NONE,
        name: BCAST_FAIL_NAME,
        shape: nest_shape(ERRNO_COUNT, UNNAMED),
    },
];

/// A message of the module that is printed: how it is read (its policy, the attribute
/// types of its string and of its CPU times, [`NONE`] for none) and written.
struct Message {
    policy: &'static Policy<'static>,
    text: u16,
    nest: u16,
    shape: Shape,
}

/// The messages printed: a sample, an event, the configuration, an interface (of a
/// `DUMP_NETDEV` reply) and the statistics.
static MESSAGES: [Message; 5] = [
    Message {
        policy: &policy::SAMPLE,
        text: NONE,
        nest: attr::sample::CPU,
        shape: Shape {
            fields: SAMPLE,
            head: SAMPLE_NAME,
            kind: SAMPLE_NAME,
            lists: (0, 2),
        },
    },
    Message {
        policy: &policy::EVENT,
        text: attr::event::IFNAME,
        nest: NONE,
        shape: Shape {
            fields: EVENT,
            head: EVENT_NAME,
            kind: EVENT_NAME,
            lists: (0, 0),
        },
    },
    Message {
        policy: &policy::CONFIG,
        text: NONE,
        nest: NONE,
        shape: Shape {
            fields: CONFIG,
            head: CONFIG_NAME,
            kind: CONFIG_NAME,
            lists: (0, 0),
        },
    },
    Message {
        policy: &policy::NETDEV,
        text: attr::netdev::IFNAME,
        nest: NONE,
        shape: Shape {
            fields: NETDEV,
            head: NETDEV_NAME,
            kind: UNNAMED,
            lists: (0, 0),
        },
    },
    Message {
        policy: &policy::STATS,
        text: NONE,
        nest: NONE,
        shape: Shape {
            fields: STATS,
            head: MODULE_NAME,
            kind: STATS_NAME,
            lists: (2, 3),
        },
    },
];

/// Which of [`MESSAGES`] each command's message is, by command less one (`cmd::*`:
/// `GET_SAMPLE` is answered by a sample; `SET_CONFIG` by an ack).
const BY_COMMAND: [u8; 7] = [0, 1, 0, 2, NOT_PRINTED, 3, 4];
/// In [`BY_COMMAND`]: nothing printed.
const NOT_PRINTED: u8 = u8::MAX;

/// The agent's counters (not a message of the module's).
const COUNTERS_SHAPE: Shape = Shape {
    fields: COUNTERS,
    head: COUNTERS_NAME,
    kind: COUNTERS_NAME,
    lists: (0, 0),
};

/// Prints a message of the module with command `command` (`cmd::*`) and attributes
/// `attrs` as one line (a sample's nests on lines of their own); nothing for a command
/// that carries nothing printed. The error: the attributes break the message's policy.
/// One path for every message the commands print.
pub fn message(
    w: &mut dyn Text,
    command: u8,
    attrs: AttrIter<'_>,
    style: Style,
) -> Result<(), nlcore::Error> {
    let Some(Message {
        policy,
        text,
        nest,
        shape,
    }) = BY_COMMAND
        .get(usize::from(command).wrapping_sub(1))
        .and_then(|&i| MESSAGES.get(usize::from(i)))
    else {
        return Ok(());
    };
    let mut rec = Rec::default();
    parse(policy, attrs.clone(), *text, *nest, &mut rec)?;
    record(w, shape, &rec, &attrs, style);
    Ok(())
}

/// The writer for `style`.
fn out(w: &mut dyn Text, style: Style) -> Out<'_> {
    Out::new(
        w,
        match style {
            Style::Text => Mode::Text,
            Style::Json => Mode::Json,
        },
    )
}

/// Writes `rec` as `shape` says, and the nests in `attrs` it lists; ends with a newline.
pub(crate) fn record(
    w: &mut dyn Text,
    shape: &Shape,
    rec: &Rec<'_>,
    attrs: &AttrIter<'_>,
    style: Style,
) {
    let mut o = out(w, style);
    o.object(shape, rec, attrs);
    o.w.str("\n");
}

/// Appends a source mask as names joined by `,` (unknown bits in hex, `none` for 0).
pub fn source_names(w: &mut dyn Text, mask: u32) {
    // What goes before the next name: nothing before the first.
    let mut sep = "";
    for i in 0..SOURCES_NAMED {
        if mask >> i & 1 != 0 {
            w.str(sep);
            w.str(name_of(SOURCE_NAMES, i));
            sep = ",";
        }
    }
    let unknown = mask >> SOURCES_NAMED << SOURCES_NAMED;
    if unknown != 0 {
        w.str(sep);
        w.str("0x");
        let nibbles = (u32::BITS - unknown.leading_zeros()).div_ceil(4);
        for k in (0..nibbles).rev() {
            w.byte(HEX[(unknown >> (k * 4) & 15) as usize]);
        }
    } else if mask == 0 {
        w.str("none");
    }
}

/// The agent's counters as one line; ends with a newline.
pub fn counters(w: &mut dyn Text, c: &Counters, style: Style) {
    let mut r = Rec::default();
    for (slot, &v) in c.0.iter().enumerate() {
        r.put(slot + 1, v);
    }
    record(w, &COUNTERS_SHAPE, &r, &AttrIter::new(&[]), style);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use crate::decode::Sample;
    use nlcore::text::Fixed;
    use nlcore::{MsgBuilder, NlMsg};
    use nltelem_proto::cmd;

    fn parsed_sample<'a>(buf: &'a mut [u8], name: &str) -> Sample<'a> {
        let len = sample_bytes(buf, 42, name);
        let buf: &'a [u8] = buf;
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        Sample::parse(msg.attrs(0).unwrap()).unwrap()
    }

    /// Writes `rec` (without nests) as the messages of `command` are written.
    fn record_of(w: &mut dyn Text, command: u8, rec: &Rec<'_>, style: Style) {
        let shape = &MESSAGES[usize::from(BY_COMMAND[usize::from(command) - 1])].shape;
        record(w, shape, rec, &AttrIter::new(&[]), style);
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
        let len = sample_bytes(&mut buf, 42, "we\"ird\\\x01");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let (text, json) =
            both(|w, style| message(w, cmd::SAMPLE, msg.attrs(0).unwrap(), style).unwrap());
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
        let (text, json) = both(|w, style| record_of(w, cmd::SAMPLE, &Rec::default(), style));
        assert_eq!(text, "sample\n");
        assert_eq!(
            json,
            "{\"type\":\"sample\",\"last_part\":false,\"netdev\":[],\"thermal\":[]}\n"
        );
        let mut s = Sample::default();
        s.rec
            .put(nltelem_proto::attr::sample::LOAD5_MILLI.into(), 1);
        let (text, json) = both(|w, style| record_of(w, cmd::GET_SAMPLE, &s.rec, style));
        assert_eq!(text, "sample load - 0.001 -\n");
        assert!(json.contains(",\"load5_milli\":1,\"netdev\""));
    }

    #[test]
    fn netdev_text_and_json() {
        let mut buf = [0u8; 512];
        let s = parsed_sample(&mut buf, "eth0");
        let mut devs = Vec::new();
        s.netdevs(&mut |n| devs.push(*n));
        let n = devs[1];
        let (text, json) = both(|w, style| record_of(w, cmd::DUMP_NETDEV, &n, style));
        assert_eq!(
            text,
            "netdev ifindex 2 ifname eth0 state up rx_bytes 2000 tx_dropped 18446744073709551615\n"
        );
        assert_eq!(
            json,
            "{\"ifindex\":2,\"ifname\":\"eth0\",\"oper_state\":\"up\",\"rx_bytes\":2000,\
             \"tx_dropped\":18446744073709551615}\n"
        );
        let (text, json) = both(|w, style| record_of(w, cmd::DUMP_NETDEV, &Rec::default(), style));
        assert_eq!((text.as_str(), json.as_str()), ("netdev\n", "{}\n"));
    }

    #[test]
    fn event_text_and_json() {
        use nltelem_proto::attr::event as ev;
        let mut r = crate::decode::tests::rec(&[
            (ev::SEQ, 9),
            (ev::TIMESTAMP_NS, 5),
            (ev::KIND, nltelem_proto::event_kind::THRESHOLD.into()),
            (ev::IFINDEX, 3),
            (ev::THRESHOLD, nltelem_proto::threshold::LOAD1.into()),
            (ev::VALUE, -4100i64 as u64),
            (ev::LIMIT, 4000),
            (ev::PORTID, 77),
            (ev::TRANSPORT, nltelem_proto::transport::GENL.into()),
            (ev::SILENCE_MS, 1200),
        ]);
        r.text = Some("e\"0");
        let (text, json) = both(|w, style| record_of(w, cmd::EVENT, &r, style));
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
        let (text, json) = both(|w, style| record_of(w, cmd::EVENT, &Rec::default(), style));
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
        let (text, json) =
            both(|w, style| message(w, cmd::GET_STATS, msg.attrs(0).unwrap(), style).unwrap());
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
        let mut c = Rec::default();
        for (i, v) in [100, 0x1f | 0x200, 4000, 1024, -5i32 as u32 as u64, 3000]
            .into_iter()
            .enumerate()
        {
            c.put(i + 1, v);
        }
        let (text, json) = both(|w, style| record_of(w, cmd::GET_CONFIG, &c, style));
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
        let (text, json) = both(|w, style| record_of(w, cmd::GET_CONFIG, &Rec::default(), style));
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
        let c = Counters([1, 2, 3, 4, 5, 6, 7, 8, u64::MAX]);
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

    /// The CPU times: the decoder's names, with `cpu_` and `_ns` in the line protocol (and
    /// `_ns` in text).
    #[test]
    fn cpu_names_are_the_decoders() {
        let words: Vec<&str> = crate::decode::SAMPLE_FIELDS.split(' ').collect();
        let names: Vec<&str> = words
            .chunks(2)
            .filter(|e| e[0].as_bytes()[1] == b'c')
            .map(|e| e[1])
            .collect();
        let want: Vec<String> = crate::decode::CPU_FIELDS
            .split(' ')
            .map(|f| format!("cpu_{f}_ns:{f}"))
            .collect();
        assert_eq!(names, want);
    }

    #[test]
    fn names_by_number() {
        let name = |list, v| name_of(list, narrow(v));
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
        for (i, state) in states.into_iter().enumerate() {
            assert_eq!(name(OPER_STATES, i as u64), state);
        }
        assert_eq!(name(OPER_STATES, 255), "unknown");
        assert_eq!(name(OPER_STATES, u64::MAX), "unknown");
        use nltelem_proto::{threshold as h, transport as t};
        let transport = |v: u32| name(TRANSPORTS, v.into());
        assert_eq!(transport(t::GENL), "genl");
        assert_eq!(transport(t::CLASSIC), "classic");
        assert_eq!(transport(0), "unknown");
        assert_eq!(transport(3), "unknown");
        let threshold = |v: u32| name(THRESHOLDS, v.into());
        assert_eq!(threshold(h::LOAD1), "load1");
        assert_eq!(threshold(h::MEM_AVAILABLE), "mem-available");
        assert_eq!(threshold(h::TEMPERATURE), "temperature");
        assert_eq!(threshold(0), "unknown");
        assert_eq!(threshold(4), "unknown");
    }

    #[test]
    fn json_strings() {
        let s = |v| both(|w, _| quoted(w, v, true)).0;
        assert_eq!(s(""), "\"\"");
        assert_eq!(s("a\"b\\c\n\x1f"), r#""a\"b\\c\u000a\u001f""#);
        assert_eq!(s("ü€"), "\"ü€\"");
    }
}
