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
//! resolver.

use core::net::SocketAddr;

/// Longest MQTT topic prefix.
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
    Prometheus(&'a str),
    /// MQTT publishes.
    Mqtt {
        /// The broker.
        broker: SocketAddr,
        /// QoS 1 (default) or 0.
        qos1: bool,
        /// First topic level(s).
        prefix: &'a str,
    },
}

/// What an `export` value takes (the configuration error message).
pub const EXPECTED: &str = "line-protocol:stdout, line-protocol:file:/PATH, \
line-protocol:udp:ADDR:PORT, prometheus:/DIR/NAME.prom or mqtt:ADDR:PORT[,qos=0|1][,prefix=P]";

fn absolute_path(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains(char::is_whitespace)
        && !path.contains('\0');
    ok.then_some(path)
}

/// A topic prefix: non-empty, no wildcards, no empty levels at the ends.
fn topic_prefix(p: &str) -> Option<&str> {
    let ok = !p.is_empty()
        && p.len() <= MAX_PREFIX
        && !p.contains(['+', '#', '\0'])
        && !p.starts_with('/')
        && !p.ends_with('/');
    ok.then_some(p)
}

/// Parses one `export` value.
pub fn parse(spec: &str) -> Result<Spec<'_>, &'static str> {
    let (kind, target) = spec.split_once(':').ok_or(EXPECTED)?;
    match kind {
        "line-protocol" => {
            if target == "stdout" {
                return Ok(Spec::LineStdout);
            }
            if let Some(path) = target.strip_prefix("file:") {
                return absolute_path(path).map(Spec::LineFile).ok_or(EXPECTED);
            }
            if let Some(addr) = target.strip_prefix("udp:") {
                return addr.parse().map(Spec::LineUdp).map_err(|_| EXPECTED);
            }
            Err(EXPECTED)
        }
        "prometheus" => absolute_path(target)
            .filter(|p| {
                let name = p.rsplit('/').next().unwrap_or("");
                // node_exporter reads `*.prom`; the temporary file starts with a dot.
                name.len() > ".prom".len() && name.ends_with(".prom") && !name.starts_with('.')
            })
            .map(Spec::Prometheus)
            .ok_or(EXPECTED),
        "mqtt" => {
            let mut parts = target.split(',');
            let broker = parts.next().and_then(|a| a.parse().ok()).ok_or(EXPECTED)?;
            let (mut qos1, mut prefix) = (true, "nltelem");
            for option in parts {
                match option.split_once('=') {
                    Some(("qos", "0")) => qos1 = false,
                    Some(("qos", "1")) => qos1 = true,
                    Some(("prefix", p)) => prefix = topic_prefix(p).ok_or(EXPECTED)?,
                    _ => return Err(EXPECTED),
                }
            }
            Ok(Spec::Mqtt {
                broker,
                qos1,
                prefix,
            })
        }
        _ => Err(EXPECTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses() {
        assert_eq!(parse("line-protocol:stdout"), Ok(Spec::LineStdout));
        assert_eq!(
            parse("line-protocol:file:/var/log/nltelem.lp"),
            Ok(Spec::LineFile("/var/log/nltelem.lp"))
        );
        assert_eq!(
            parse("line-protocol:udp:192.0.2.1:8089"),
            Ok(Spec::LineUdp("192.0.2.1:8089".parse().unwrap()))
        );
        assert_eq!(
            parse("prometheus:/var/prometheus/nltelem.prom"),
            Ok(Spec::Prometheus("/var/prometheus/nltelem.prom"))
        );
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
    }

    #[test]
    fn mistakes_are_refused() {
        for bad in [
            "line-protocol",
            "line-protocol:stderr",
            "line-protocol:file:relative.lp",
            "line-protocol:file:/dir/",
            "line-protocol:udp:influx.example:8089",
            "line-protocol:udp:192.0.2.1",
            "prometheus:/var/prometheus/nltelem.txt",
            "prometheus:/var/prometheus/.prom",
            "prometheus:/var/prometheus/.hidden.prom",
            "mqtt:192.0.2.1",
            "mqtt:192.0.2.1:1883,qos=2",
            "mqtt:192.0.2.1:1883,prefix=a/+/b",
            "mqtt:192.0.2.1:1883,prefix=/a",
            "mqtt:192.0.2.1:1883,retain=1",
            "carrier-pigeon:stdout",
        ] {
            assert_eq!(parse(bad), Err(EXPECTED), "{bad}");
        }
    }
}
