//! The `export = KIND:TARGET[,OPTION...]` lines of the configuration.
//!
//! | value | what |
//! |---|---|
//! | `line-protocol:stdout` | InfluxDB line protocol on standard output |
//! | `line-protocol:file:/PATH` | appended to a file |
//! | `line-protocol:udp:ADDR:PORT` | one datagram per message to an InfluxDB UDP listener |
//! | `prometheus:/DIR/NAME.prom` | a Prometheus textfile, replaced atomically per snapshot |
//! | `mqtt:ADDR:PORT[,qos=0\|1][,prefix=TOPIC]` | MQTT 3.1.1 publishes (default qos=1, prefix=nltelem) |
//!
//! Addresses are numeric (`192.0.2.1:8089`, `[2001:db8::1]:1883`): the agent has no
//! resolver. A build without the `prometheus` or `mqtt` feature refuses that kind with
//! [`NOT_BUILT`].

use crate::config::split as split_once;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Longest MQTT topic prefix.
#[cfg(feature = "mqtt")]
pub const MAX_PREFIX: usize = 48;

/// One parsed `export` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec<'a> {
    /// Line protocol on standard output.
    LineStdout,
    /// Line protocol appended to this file.
    LineFile(&'a str),
    /// Line protocol in UDP datagrams to this address.
    LineUdp(SocketAddr),
    /// A Prometheus textfile at this path.
    #[cfg(feature = "prometheus")]
    Prometheus(&'a str),
    /// MQTT publishes.
    #[cfg(feature = "mqtt")]
    Mqtt {
        /// The broker.
        broker: SocketAddr,
        /// QoS 1 (default) or 0.
        qos1: bool,
        /// First topic level(s).
        prefix: &'a str,
    },
}

/// The kinds of exporter, in the order of [`Spec`]'s variants: how their values start (all
/// but standard output's then take `:TARGET`), and how the exporters' report names them.
pub static KINDS: [&str; 5] = [
    "line-protocol:stdout",
    "line-protocol:file",
    "line-protocol:udp",
    "prometheus",
    "mqtt",
];

/// What an `export` value takes (the configuration error message).
pub const EXPECTED: &str = "line-protocol:stdout, line-protocol:file:/PATH, \
line-protocol:udp:ADDR:PORT, prometheus:/DIR/NAME.prom or mqtt:ADDR:PORT[,qos=0|1][,prefix=P]";

/// What an `export` value of a kind this build left out gets (its cargo feature was off).
pub const NOT_BUILT: &str = "an exporter this build has (it was built without this kind)";

/// The `sep`-separated parts of a string, as `str::split` gives them (an empty string is
/// one empty part). Byte loops: core's pattern searchers are much larger.
#[cfg(feature = "mqtt")]
struct Parts<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

#[cfg(feature = "mqtt")]
impl<'a> Iterator for Parts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match split_once(rest, self.sep) {
            Some((part, after)) => {
                self.rest = Some(after);
                Some(part)
            }
            None => self.rest.take(),
        }
    }
}

#[cfg(feature = "mqtt")]
fn parts(s: &str, sep: u8) -> Parts<'_> {
    Parts { rest: Some(s), sep }
}

fn absolute_path(path: &str) -> Option<&str> {
    // Slice patterns: `starts_with` and `ends_with` are a call each.
    let ok =
        matches!(path.as_bytes(), [b'/', .., last] if *last != b'/') && !has_space_or_nul(path);
    ok.then_some(path)
}

/// NUL and the characters `char::is_whitespace` takes (Unicode's White_Space), as ranges
/// of the first three bytes of their UTF-8 (big-endian; a shorter character followed by
/// any bytes).
const SPACE_OR_NUL: [(u32, u32); 11] = [
    (0x00_0000, 0x00_ffff),
    // \t..=\r.
    (0x09_0000, 0x0d_ffff),
    (0x20_0000, 0x20_ffff),
    // U+0085, U+00A0.
    (0xc2_8500, 0xc2_85ff),
    (0xc2_a000, 0xc2_a0ff),
    // U+1680.
    (0xe1_9a80, 0xe1_9a80),
    // U+2000..=U+200A, U+2028, U+2029, U+202F; U+205F.
    (0xe2_8080, 0xe2_808a),
    (0xe2_80a8, 0xe2_80a9),
    (0xe2_80af, 0xe2_80af),
    (0xe2_819f, 0xe2_819f),
    // U+3000.
    (0xe3_8080, 0xe3_8080),
];

/// Whether `s` holds a NUL or a character that `char::is_whitespace` takes, read by its
/// UTF-8 bytes: `is_whitespace` brings a 256-byte table and the decoding of every
/// character into the binary.
fn has_space_or_nul(s: &str) -> bool {
    // In valid UTF-8 a character's lead byte is never a continuation byte, so the bytes
    // from every position meet each character once. Read from the end: each position's
    // three bytes are its byte and the first two of the next position's.
    let mut window = 0u32;
    s.bytes().rev().any(|b| {
        window = u32::from(b) << 16 | window >> 8;
        SPACE_OR_NUL
            .iter()
            .any(|&(low, high)| (low..=high).contains(&window))
    })
}

/// A topic prefix: non-empty, no wildcards, no empty levels at the ends.
#[cfg(feature = "mqtt")]
fn topic_prefix(p: &str) -> Option<&str> {
    let ok = matches!(p.as_bytes(), [first, ..] if *first != b'/')
        && p.len() <= MAX_PREFIX
        && !p.bytes().any(|b| matches!(b, b'+' | b'#' | b'\0'))
        && p.as_bytes().last() != Some(&b'/');
    ok.then_some(p)
}

/// A numeric socket address, as `str::parse::<SocketAddr>` takes it (`192.0.2.1:8089`,
/// `[2001:db8::1]:1883`, `[fe80::1%2]:1883`). Written out because core's parser is general
/// (and ~3 KB of the agent): this one reads only what an address can be, the way core's
/// reads it (one cursor, each step put back when it fails).
pub fn socket_addr(s: &str) -> Option<SocketAddr> {
    let mut p = Cursor {
        s: s.as_bytes(),
        at: 0,
    };
    let addr = if p.eat(b'[') {
        let ip = Ipv6Addr::from(p.ipv6()?);
        let scope = if p.eat(b'%') {
            p.number(10, 0, u32::MAX, true)?
        } else {
            0
        };
        if !p.eat(b']') {
            return None;
        }
        SocketAddr::V6(SocketAddrV6::new(ip, p.port()?, 0, scope))
    } else {
        let ip = Ipv4Addr::from(p.ipv4()?);
        SocketAddr::V4(SocketAddrV4::new(ip, p.port()?))
    };
    (p.at == p.s.len()).then_some(addr)
}

/// The value of a digit in base `radix` (10 or 16).
fn digit(b: u8, radix: u32) -> Option<u32> {
    let d = match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => return None,
    };
    let d = u32::from(d);
    (d < radix).then_some(d)
}

/// A position in an address being read.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Takes `b` if it is next.
    // Out of line: the binary measured smaller than with it inlined (a dozen sites).
    #[inline(never)]
    fn eat(&mut self, b: u8) -> bool {
        let next = self.s.get(self.at) == Some(&b);
        self.at += usize::from(next);
        next
    }

    /// Digits in `radix`, at most `max_digits` of them (0: any number) and a value up to
    /// `max`; a leading zero only when `zero_prefix`. Nothing is taken when it fails.
    fn number(
        &mut self,
        radix: u32,
        max_digits: usize,
        max: u32,
        zero_prefix: bool,
    ) -> Option<u32> {
        let start = self.at;
        let mut value: u64 = 0;
        let mut count = 0;
        while let Some(d) = self.s.get(self.at).and_then(|&b| digit(b, radix)) {
            value = value * u64::from(radix) + u64::from(d);
            count += 1;
            self.at += 1;
            if value > u64::from(max) || (max_digits != 0 && count > max_digits) {
                self.at = start;
                return None;
            }
        }
        let leading_zero = count > 1 && self.s.get(start) == Some(&b'0');
        if count == 0 || (leading_zero && !zero_prefix) {
            self.at = start;
            return None;
        }
        Some(value as u32)
    }

    /// `:PORT`, decimal (leading zeros allowed).
    fn port(&mut self) -> Option<u16> {
        if !self.eat(b':') {
            return None;
        }
        self.number(10, 0, u32::from(u16::MAX), true)
            .map(|p| p as u16)
    }

    /// `a.b.c.d`: four decimal octets, no leading zeros. Nothing is taken when it fails.
    fn ipv4(&mut self) -> Option<[u8; 4]> {
        let start = self.at;
        let mut octets = [0u8; 4];
        for (i, octet) in octets.iter_mut().enumerate() {
            match (i == 0 || self.eat(b'.')).then(|| self.number(10, 3, 255, false)) {
                Some(Some(v)) => *octet = v as u8,
                _ => {
                    self.at = start;
                    return None;
                }
            }
        }
        Some(octets)
    }

    /// `:`-separated groups into `out` (big-endian, as the address holds them), an IPv4
    /// address ending them when at least two groups are left: how many groups were read
    /// and whether an IPv4 address ended them. A group that cannot be read is not taken,
    /// nor the `:` before it.
    fn groups(&mut self, out: &mut [[u8; 2]]) -> (usize, bool) {
        let limit = out.len();
        for i in 0..limit {
            let before = self.at;
            let separated = i == 0 || self.eat(b':');
            if separated && i + 1 < limit {
                if let Some([a, b, c, d]) = self.ipv4() {
                    if let Some(two) = out.get_mut(i..i + 2) {
                        two.copy_from_slice(&[[a, b], [c, d]]);
                    }
                    return (i + 2, true);
                }
            }
            match separated.then(|| self.number(16, 4, 0xffff, true)) {
                Some(Some(g)) => {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = (g as u16).to_be_bytes();
                    }
                }
                _ => {
                    self.at = before;
                    return (i, false);
                }
            }
        }
        (limit, false)
    }

    /// An IPv6 address's eight groups: hexadecimal groups of one to four digits, at most
    /// one `::` standing for at least one zero group, an IPv4 address as the last two
    /// groups (not before the `::`). Its sixteen bytes.
    fn ipv6(&mut self) -> Option<[u8; 16]> {
        let mut groups = [[0u8; 2]; 8];
        let (head, head_ipv4) = self.groups(&mut groups);
        if head < 8 {
            if head_ipv4 || !self.eat(b':') || !self.eat(b':') {
                return None;
            }
            let mut tail = [[0u8; 2]; 7];
            let (tail_len, _) = self.groups(tail.get_mut(..7 - head)?);
            groups
                .get_mut(8 - tail_len..)?
                .copy_from_slice(tail.get(..tail_len)?);
        }
        groups.as_flattened().try_into().ok()
    }
}

/// Parses one `export` value.
pub fn parse(spec: &str) -> Result<Spec<'_>, &'static str> {
    #[cfg(not(all(feature = "prometheus", feature = "mqtt")))]
    if left_out(spec) {
        return Err(NOT_BUILT);
    }
    // Every mistake gets the same message: one place makes it.
    spec_of(spec).ok_or(EXPECTED)
}

/// Whether `spec` is of a kind this build left out.
#[cfg(not(all(feature = "prometheus", feature = "mqtt")))]
fn left_out(spec: &str) -> bool {
    let (kind, _) = split_once(spec, b':').unwrap_or((spec, ""));
    (cfg!(not(feature = "prometheus")) && kind == "prometheus")
        || (cfg!(not(feature = "mqtt")) && kind == "mqtt")
}

fn spec_of(spec: &str) -> Option<Spec<'_>> {
    // Each kind by how its value starts (one search, not a comparison per word); its
    // position is the arm below.
    let (kind, rest) = KINDS
        .iter()
        .enumerate()
        .find_map(|(i, start)| Some((i, spec.strip_prefix(*start)?)))?;
    let target = match (kind, rest.as_bytes()) {
        (0, []) => "",
        (1.., [b':', ..]) => rest.get(1..)?,
        _ => return None,
    };
    Some(match kind {
        0 => Spec::LineStdout,
        1 => Spec::LineFile(absolute_path(target)?),
        2 => Spec::LineUdp(socket_addr(target)?),
        #[cfg(feature = "prometheus")]
        3 => {
            let path = absolute_path(target)?;
            // The name after the last slash (an absolute path has one), as bytes: no
            // character boundary to check.
            let name = path
                .as_bytes()
                .get(path.bytes().rposition(|b| b == b'/')? + 1..)?;
            // node_exporter reads `*.prom`; the temporary file starts with a dot.
            let ok = matches!(name, [first, .., b'.', b'p', b'r', b'o', b'm'] if *first != b'.');
            Spec::Prometheus(ok.then_some(path)?)
        }
        #[cfg(feature = "mqtt")]
        4 => {
            let mut parts = parts(target, b',');
            let broker = socket_addr(parts.next()?)?;
            let (mut qos1, mut prefix) = (true, "nltelem");
            for option in parts {
                match option.as_bytes() {
                    [b'q', b'o', b's', b'=', q @ (b'0' | b'1')] => qos1 = *q == b'1',
                    _ => prefix = topic_prefix(option.strip_prefix("prefix=")?)?,
                }
            }
            Spec::Mqtt {
                broker,
                qos1,
                prefix,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_protocol_parses() {
        assert_eq!(parse("line-protocol:stdout"), Ok(Spec::LineStdout));
        assert_eq!(
            parse("line-protocol:file:/var/log/nltelem.lp"),
            Ok(Spec::LineFile("/var/log/nltelem.lp"))
        );
        assert_eq!(parse("line-protocol:file:/a"), Ok(Spec::LineFile("/a")));
        assert_eq!(
            parse("line-protocol:udp:192.0.2.1:8089"),
            Ok(Spec::LineUdp("192.0.2.1:8089".parse().unwrap()))
        );
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn a_prometheus_textfile_parses() {
        assert_eq!(
            parse("prometheus:/var/prometheus/nltelem.prom"),
            Ok(Spec::Prometheus("/var/prometheus/nltelem.prom"))
        );
        assert_eq!(parse("prometheus:/a.prom"), Ok(Spec::Prometheus("/a.prom")));
    }

    #[cfg(feature = "mqtt")]
    #[test]
    fn mqtt_parses() {
        assert_eq!(
            parse("mqtt:[2001:db8::1]:1883,qos=0,prefix=site/a"),
            Ok(Spec::Mqtt {
                broker: "[2001:db8::1]:1883".parse().unwrap(),
                qos1: false,
                prefix: "site/a"
            })
        );
        assert_eq!(
            parse("mqtt:192.0.2.1:1883"),
            Ok(Spec::Mqtt {
                broker: "192.0.2.1:1883".parse().unwrap(),
                qos1: true,
                prefix: "nltelem"
            })
        );
        assert_eq!(
            parse("mqtt:192.0.2.1:1883,prefix=x,qos=0,qos=1"),
            Ok(Spec::Mqtt {
                broker: "192.0.2.1:1883".parse().unwrap(),
                qos1: true,
                prefix: "x"
            })
        );
    }

    /// The address parser agrees with core's `SocketAddr` parser, on chosen cases and on
    /// strings made of address-like pieces (a fixed pseudo-random sequence).
    #[test]
    fn socket_addresses_parse_as_core_parses_them() {
        let agree = |s: &str| {
            assert_eq!(socket_addr(s), s.parse::<SocketAddr>().ok(), "{s:?}");
        };
        for s in [
            "192.0.2.1:8089",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "1.2.3.4:65536",
            "1.2.3.4:0008089",
            "01.2.3.4:1",
            "1.2.3:1",
            "1.2.3.4.5:1",
            "256.1.1.1:1",
            "1.2.3.4:",
            ":1",
            "1.2.3.4:+1",
            "[::]:1",
            "[::1]:1883",
            "[2001:db8::1]:1883",
            "[1:2:3:4:5:6:7:8]:1",
            "[1:2:3:4:5:6:7::8]:1",
            "[1:2:3:4:5:6:7::]:1",
            "[::2:3:4:5:6:7:8]:1",
            "[1:2:3:4:5:6:1.2.3.4]:1",
            "[::ffff:192.0.2.1]:1",
            "[1.2.3.4::]:1",
            "[::1.2.3.4:1]:1",
            "[1:2:3:4:5:6:7:1.2.3.4]:1",
            "[1::2::3]:1",
            "[:::1]:1",
            "[fe80::1%2]:1",
            "[fe80::1%]:1",
            "[fe80::1%4294967296]:1",
            "[00000::1]:1",
            "[ABCD:ef01::]:9",
            "[::1]",
            "[::1]:",
            "::1:1",
        ] {
            agree(s);
        }
        let pieces = [
            "0", "1", "01", "255", "256", "ffff", "fffff", "1.2.3.4", ".", ":", "::", "[", "]",
            "]:", "%", "%7", ":80", ":65535", ":65536", "abc", "ABC", "g",
        ];
        let octets = ["0", "1", "01", "99", "255", "256", "1000", "", "a"];
        let groups = ["0", "1", "0db8", "ffff", "fffff", "ABC", "1.2.3.4", "", "g"];
        let ports = ["0", "80", "0080", "65535", "65536", "", "x"];
        let mut state: u32 = 0x2545_f491;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as usize % n
        };
        let mut parsed = 0;
        for _ in 0..200_000 {
            let mut s = std::string::String::new();
            match next(3) {
                // Pieces in any order.
                0 => {
                    for _ in 0..1 + next(9) {
                        s.push_str(pieces[next(pieces.len())]);
                    }
                }
                // IPv4-shaped, three to five octets.
                1 => {
                    for i in 0..3 + next(3) {
                        if i > 0 {
                            s.push('.');
                        }
                        s.push_str(octets[next(octets.len())]);
                    }
                    s.push(':');
                    s.push_str(ports[next(ports.len())]);
                }
                // IPv6-shaped: groups, maybe a `::`, maybe a scope.
                _ => {
                    s.push('[');
                    let count = next(10);
                    let gap = next(count + 2);
                    for i in 0..count {
                        if i == gap {
                            s.push_str("::");
                        } else if i > 0 {
                            s.push(':');
                        }
                        s.push_str(groups[next(groups.len())]);
                    }
                    // `gap` past the last group: a trailing `::`, or none at all.
                    if gap == count {
                        s.push_str("::");
                    }
                    if next(4) == 0 {
                        s.push_str("%7");
                    }
                    s.push_str("]:");
                    s.push_str(ports[next(ports.len())]);
                }
            }
            agree(&s);
            parsed += usize::from(socket_addr(&s).is_some());
        }
        // The cases above reach the accepting paths too, not only the refusals.
        assert!(parsed > 5_000, "{parsed} of the generated addresses parsed");
    }

    /// Paths are refused for exactly the characters `char::is_whitespace` and NUL.
    #[test]
    fn path_characters_are_refused_as_is_whitespace_refuses_them() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let path = format!("/a{c}b");
            let refused = c.is_whitespace() || c == '\0';
            assert_eq!(absolute_path(&path).is_none(), refused, "{c:?}");
        }
    }

    #[test]
    fn mistakes_are_refused() {
        for bad in [
            "line-protocol",
            "line-protocol:stderr",
            "line-protocol:file:relative.lp",
            "line-protocol:file:/dir/",
            "line-protocol:file:/",
            "line-protocol:file:",
            "line-protocol:file:/a b",
            "line-protocol:file:/a\u{a0}b",
            "line-protocol:file:/a\0b",
            "line-protocol:udp:influx.example:8089",
            "line-protocol:udp:192.0.2.1",
            "carrier-pigeon:stdout",
        ] {
            assert_eq!(parse(bad), Err(EXPECTED), "{bad}");
        }
        let prometheus = [
            "prometheus:/a/x\u{3000}.prom",
            "prometheus:/var/prometheus/nltelem.txt",
            "prometheus:/var/prometheus/.prom",
            "prometheus:/var/prometheus/.hidden.prom",
            "prometheus:/var/prometheus/xprom",
            "prometheus:/var/prometheus.prom/",
        ];
        let mqtt = [
            "mqtt:192.0.2.1",
            "mqtt:192.0.2.1:1883,qos=2",
            "mqtt:192.0.2.1:1883,prefix=a/+/b",
            "mqtt:192.0.2.1:1883,prefix=/a",
            "mqtt:192.0.2.1:1883,prefix=a/",
            "mqtt:192.0.2.1:1883,prefix=",
            "mqtt:192.0.2.1:1883,",
            "mqtt:192.0.2.1:1883,retain=1",
        ];
        let (built, left_out) = (Err(EXPECTED), Err(NOT_BUILT));
        let prometheus_says = if cfg!(feature = "prometheus") {
            built
        } else {
            left_out
        };
        let mqtt_says = if cfg!(feature = "mqtt") {
            built
        } else {
            left_out
        };
        for bad in prometheus {
            assert_eq!(parse(bad), prometheus_says, "{bad}");
        }
        for bad in mqtt {
            assert_eq!(parse(bad), mqtt_says, "{bad}");
        }
    }

    /// A kind this build left out is named as such, whatever follows it.
    #[test]
    fn kinds_left_out_of_the_build_say_so() {
        for (value, built) in [
            (
                "prometheus:/var/prometheus/nltelem.prom",
                cfg!(feature = "prometheus"),
            ),
            ("mqtt:192.0.2.1:1883", cfg!(feature = "mqtt")),
        ] {
            assert_eq!(parse(value).is_ok(), built, "{value}");
            if !built {
                assert_eq!(parse(value), Err(NOT_BUILT), "{value}");
            }
        }
    }
}
