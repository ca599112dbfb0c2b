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

#[cfg(not(all(feature = "prometheus", feature = "mqtt")))]
use crate::config::split as split_once;
use crate::config::{name_of, words};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Longest MQTT topic prefix.
#[cfg(feature = "mqtt")]
pub const MAX_PREFIX: usize = 48;

/// The kinds of exporter, space-separated: how their values start (all but standard
/// output's then take `:TARGET`), and how the exporters' report names them. A [`Kind`] is
/// a position here. One string, not a table of `&str` (16 bytes an entry).
pub const KINDS: &str = "line-protocol:stdout line-protocol:file line-protocol:udp prometheus mqtt";

/// A kind of exporter, valued as its position in [`KINDS`] (whichever kinds the build has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Line protocol on standard output.
    Stdout = 0,
    /// Line protocol appended to a file.
    File = 1,
    /// Line protocol in UDP datagrams.
    Udp = 2,
    /// A Prometheus textfile.
    #[cfg(feature = "prometheus")]
    Prometheus = 3,
    /// MQTT publishes.
    #[cfg(feature = "mqtt")]
    Mqtt = 4,
}

impl Kind {
    /// Whether the sink takes rendered line-protocol points (the textfile renders its own).
    pub fn takes_lines(self) -> bool {
        #[cfg(feature = "prometheus")]
        if let Kind::Prometheus = self {
            return false;
        }
        true
    }

    /// The kind as the exporters' report names it (as its `export` value starts).
    pub fn name(self) -> &'static str {
        name_of(KINDS, self as u32)
    }
}

/// One parsed `export` value: one shape for every kind, each taking the fields it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec<'a> {
    /// The kind.
    pub kind: Kind,
    /// The path of a file or textfile, or the MQTT topic prefix; empty for the others.
    pub name: &'a str,
    /// Where UDP datagrams go, or the MQTT broker.
    pub peer: Option<SocketAddr>,
    /// MQTT's QoS: 1 (the default) or 0.
    pub qos1: bool,
}

/// What an `export` value takes (the configuration error message).
pub const EXPECTED: &str = "line-protocol:stdout, line-protocol:file:/PATH, \
line-protocol:udp:ADDR:PORT, prometheus:/DIR/NAME.prom or mqtt:ADDR:PORT[,qos=0|1][,prefix=P]";

/// What an `export` value of a kind this build left out gets (its cargo feature was off).
pub const NOT_BUILT: &str = "an exporter this build has (it was built without this kind)";

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

/// The value of a digit in base `radix` (10 or 16).
fn digit(b: u8, radix: u64) -> Option<u64> {
    let d = match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => return None,
    };
    let d = u64::from(d);
    (d < radix).then_some(d)
}

/// A position in an `export` value being read.
struct Cursor<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next byte.
    // Inlined: out of line, its calls took more than the load it is (measured: -56 bytes
    // x86_64, -112 aarch64).
    #[inline(always)]
    fn next(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    /// Takes `b` if it is next.
    // Out of line: the binary measured smaller than with it inlined (a dozen sites).
    #[inline(never)]
    fn eat(&mut self, b: u8) -> bool {
        let next = self.next() == Some(b);
        self.at += usize::from(next);
        next
    }

    /// Takes the text up to the next `b` or the end.
    #[cfg(feature = "mqtt")]
    fn until(&mut self, b: u8) -> Option<&'a str> {
        let start = self.at;
        while self.next().is_some_and(|c| c != b) {
            self.at += 1;
        }
        self.s.get(start..self.at)
    }

    /// A numeric socket address, as `str::parse::<SocketAddr>` takes it (`192.0.2.1:8089`,
    /// `[2001:db8::1]:1883`, `[fe80::1%2]:1883`). Written out because core's parser is
    /// general (and ~3 KB of the agent): this one reads only what an address can be, the
    /// way core's reads it (each step put back when it fails).
    fn socket_addr(&mut self) -> Option<SocketAddr> {
        Some(if self.eat(b'[') {
            let ip = Ipv6Addr::from(self.ipv6()?);
            let scope = if self.eat(b'%') {
                self.number(10, u32::MAX, true)?
            } else {
                0
            };
            if !self.eat(b']') {
                return None;
            }
            SocketAddr::V6(SocketAddrV6::new(ip, self.port()?, 0, scope))
        } else {
            let ip = Ipv4Addr::from(self.ipv4()?);
            SocketAddr::V4(SocketAddrV4::new(ip, self.port()?))
        })
    }

    /// Digits in `radix` (hexadecimal: at most four, a group's) up to the value `max`; a
    /// leading zero only when `zero_prefix`. Nothing is taken when it fails.
    fn number(&mut self, radix: u32, max: u32, zero_prefix: bool) -> Option<u32> {
        let start = self.at;
        let (radix, max) = (u64::from(radix), u64::from(max));
        let mut value = 0;
        while let Some(d) = self.next().and_then(|b| digit(b, radix)) {
            // Held at max + 1 once past it: no overflow however many digits follow.
            value = (value * radix + d).min(max + 1);
            self.at += 1;
        }
        let count = self.at - start;
        let leading_zero = count > 1 && self.s.as_bytes().get(start) == Some(&b'0');
        if count == 0 || value > max || (radix == 16 && count > 4) || (leading_zero && !zero_prefix)
        {
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
        self.number(10, u32::from(u16::MAX), true).map(|p| p as u16)
    }

    /// `a.b.c.d`: four decimal octets, no leading zeros. Nothing is taken when it fails.
    fn ipv4(&mut self) -> Option<[u8; 4]> {
        let start = self.at;
        let mut octets = [0u8; 4];
        for (i, octet) in octets.iter_mut().enumerate() {
            match (i == 0 || self.eat(b'.')).then(|| self.number(10, 255, false)) {
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
            match separated.then(|| self.number(16, 0xffff, true)) {
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

fn spec_of(value: &str) -> Option<Spec<'_>> {
    // Each kind by how its value starts (one search, not a comparison per word).
    let (i, rest) = words(KINDS)
        .enumerate()
        .find_map(|(i, start)| Some((i, value.strip_prefix(start)?)))?;
    let kind = match i {
        0 => Kind::Stdout,
        1 => Kind::File,
        2 => Kind::Udp,
        #[cfg(feature = "prometheus")]
        3 => Kind::Prometheus,
        #[cfg(feature = "mqtt")]
        4 => Kind::Mqtt,
        _ => return None,
    };
    let mut spec = Spec {
        kind,
        name: "",
        peer: None,
        qos1: true,
    };
    let target = match rest.strip_prefix(':') {
        None if kind == Kind::Stdout && rest.is_empty() => return Some(spec),
        Some(target) if kind != Kind::Stdout => target,
        _ => return None,
    };
    match kind {
        Kind::File => spec.name = absolute_path(target)?,
        #[cfg(feature = "prometheus")]
        Kind::Prometheus => {
            spec.name = absolute_path(target)?;
            let path = target.as_bytes();
            // The name after the last slash (an absolute path has one), as bytes: no
            // character boundary to check.
            let name = path.get(path.iter().rposition(|&b| b == b'/')? + 1..)?;
            // node_exporter reads `*.prom`; the temporary file starts with a dot.
            // The suffix compared as one five-byte array (a load or two, not a branch a byte).
            let ok = matches!(name, [first, rest @ ..]
                if *first != b'.' && rest.last_chunk() == Some(b".prom"));
            return ok.then_some(spec);
        }
        // UDP and MQTT: the address, MQTT's options, the end, read by one cursor.
        _ => {
            let mut p = Cursor { s: target, at: 0 };
            spec.peer = Some(p.socket_addr()?);
            #[cfg(feature = "mqtt")]
            if kind == Kind::Mqtt {
                spec.name = "nltelem";
                while p.eat(b',') {
                    let option = p.until(b',')?;
                    match option.as_bytes() {
                        [b'q', b'o', b's', b'=', q @ (b'0' | b'1')] => spec.qos1 = *q == b'1',
                        _ => spec.name = topic_prefix(option.strip_prefix("prefix=")?)?,
                    }
                }
            }
            if p.next().is_some() {
                return None;
            }
        }
    }
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole string read as a socket address.
    fn socket_addr(s: &str) -> Option<SocketAddr> {
        let mut p = Cursor { s, at: 0 };
        let addr = p.socket_addr()?;
        (p.at == s.len()).then_some(addr)
    }

    /// A value of `kind` with `name`, at `peer` (the default QoS).
    fn spec<'a>(kind: Kind, name: &'a str, peer: Option<&str>) -> Spec<'a> {
        Spec {
            kind,
            name,
            peer: peer.map(|p| p.parse().unwrap()),
            qos1: true,
        }
    }

    #[test]
    fn line_protocol_parses() {
        assert_eq!(
            parse("line-protocol:stdout"),
            Ok(spec(Kind::Stdout, "", None))
        );
        assert_eq!(
            parse("line-protocol:file:/var/log/nltelem.lp"),
            Ok(spec(Kind::File, "/var/log/nltelem.lp", None))
        );
        assert_eq!(
            parse("line-protocol:file:/a"),
            Ok(spec(Kind::File, "/a", None))
        );
        assert_eq!(
            parse("line-protocol:udp:192.0.2.1:8089"),
            Ok(spec(Kind::Udp, "", Some("192.0.2.1:8089")))
        );
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn a_prometheus_textfile_parses() {
        assert_eq!(
            parse("prometheus:/var/prometheus/nltelem.prom"),
            Ok(spec(Kind::Prometheus, "/var/prometheus/nltelem.prom", None))
        );
        assert_eq!(
            parse("prometheus:/a.prom"),
            Ok(spec(Kind::Prometheus, "/a.prom", None))
        );
    }

    #[cfg(feature = "mqtt")]
    #[test]
    fn mqtt_parses() {
        assert_eq!(
            parse("mqtt:[2001:db8::1]:1883,qos=0,prefix=site/a"),
            Ok(Spec {
                qos1: false,
                ..spec(Kind::Mqtt, "site/a", Some("[2001:db8::1]:1883"))
            })
        );
        assert_eq!(
            parse("mqtt:192.0.2.1:1883"),
            Ok(spec(Kind::Mqtt, "nltelem", Some("192.0.2.1:1883")))
        );
        assert_eq!(
            parse("mqtt:192.0.2.1:1883,prefix=x,qos=0,qos=1"),
            Ok(spec(Kind::Mqtt, "x", Some("192.0.2.1:1883")))
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
            "line-protocol:udp:192.0.2.1:8089x",
            "line-protocol:udp:192.0.2.1:8089,qos=1",
            "line-protocol:stdout:",
            "line-protocol:stdoutx",
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
            "mqtt:192.0.2.1:1883x,qos=1",
            "mqtt:192.0.2.1:1883,qos=1x",
            "mqtt:192.0.2.1:1883,qos=1,",
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
