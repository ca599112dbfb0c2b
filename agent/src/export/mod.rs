//! Exporters: where samples go after the agent has checked and counted them.
//!
//! Each `export = KIND:TARGET` line of the configuration (see [`spec`]) makes one sink:
//! InfluxDB line protocol to standard output, a file or UDP; a Prometheus textfile; MQTT
//! 3.1.1 publishes. The daemon hands every accepted sample to [`Exporters::sample`] and
//! every event to [`Exporters::event`], and calls [`Exporters::poll`] when it wakes up
//! without one (MQTT's connect, acknowledgements and keep-alive).
//!
//! No sink ever makes the agent wait: sockets are non-blocking, a record that a sink cannot
//! take now is kept in a bounded buffer (MQTT) or dropped, and every drop is counted
//! ([`Outcome::failed`], [`Exporters::report`]).

mod line_protocol;
pub mod mqtt;
mod net;
#[cfg(test)]
mod peers;
pub mod prometheus;
pub mod spec;

pub use line_protocol::{points, write_event as write_line_protocol_event};
pub use line_protocol::{write_sample as write_line_protocol, Point};

use crate::config::MAX_VALUE;
use crate::decode::{Event, Sample};
use crate::sink::TextBuf;
use core::fmt::{self, Write};
use heapless::{String, Vec};
use mqtt::{Client, Qos};
use net::{now_ms, TcpLink, UdpSender};
use prometheus::Textfile;
use rustix::fd::OwnedFd;
use rustix::fs::{openat, Mode, OFlags, CWD};
use spec::Spec;

/// Checks one `export` value: a known exporter and target. Returns what the key takes.
pub fn check_spec(value: &str) -> Result<(), &'static str> {
    spec::parse(value).map(|_| ())
}

/// What one hand-over did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records taken by sinks.
    pub exported: u64,
    /// Records a sink could not take (full, down): dropped and counted, never waited for.
    pub failed: u64,
}

/// Most bytes of line protocol in one UDP datagram: below a 1500-byte MTU with IPv6 and
/// UDP headers, so no datagram is fragmented.
pub const UDP_DATAGRAM: usize = 1400;

/// MQTT buffer: packets not yet written or not yet acknowledged (bytes, packets).
pub const MQTT_BUFFER: usize = 8192;
/// Most MQTT packets buffered.
pub const MQTT_PACKETS: usize = 64;

/// Longest node name used in tags and topics.
pub const MAX_HOST: usize = 64;

/// An MQTT exporter: the client and its topic prefix. One slot per possible sink, in use
/// while the sink in the same position of [`Exporters`]' list is [`Sink::Mqtt`].
pub struct MqttSink {
    client: Client<TcpLink, MQTT_BUFFER, MQTT_PACKETS>,
    prefix: String<{ spec::MAX_PREFIX + 1 + MAX_HOST }>,
}

impl MqttSink {
    /// A slot not in use (all zero: see [`Exporters::empty`]).
    const fn idle() -> Self {
        MqttSink {
            client: Client::idle(TcpLink::unset()),
            prefix: String::new(),
        }
    }
}

/// Line protocol over UDP: whole lines gathered into datagrams of at most
/// [`UDP_DATAGRAM`] bytes.
pub struct UdpSink {
    sender: UdpSender,
    datagram: TextBuf<UDP_DATAGRAM>,
    /// Lines in `datagram`.
    lines: u64,
}

impl UdpSink {
    /// Adds a line, sending the datagram first when the line would not fit.
    fn push(&mut self, line: &[u8], outcome: &mut Outcome, counters: &mut SinkCounters) {
        if self.datagram.as_bytes().len() + line.len() > UDP_DATAGRAM {
            self.flush(outcome, counters);
        }
        // A line (at most 1024 bytes) fits an empty datagram.
        if self
            .datagram
            .write_str(core::str::from_utf8(line).unwrap_or(""))
            .is_ok()
        {
            self.lines += 1;
        } else {
            count(outcome, counters, false);
        }
    }

    /// Sends the gathered lines as one datagram; each counts as exported or dropped.
    fn flush(&mut self, outcome: &mut Outcome, counters: &mut SinkCounters) {
        if self.lines == 0 {
            return;
        }
        let ok = self.sender.send(self.datagram.as_bytes());
        for _ in 0..self.lines {
            count(outcome, counters, ok);
        }
        self.datagram.clear();
        self.lines = 0;
    }
}

/// One rendered line and where MQTT files it.
struct Record<'a> {
    /// The line with its newline; `None` when it did not fit the line buffer.
    line: Option<&'a [u8]>,
    measurement: &'static str,
    key: Option<&'a str>,
}

/// One configured sink.
// The MQTT variant is the large one (its buffer); there is no heap to box it in, and at
// most four sinks exist.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Stdout,
    File {
        path: String<MAX_VALUE>,
        fd: Option<OwnedFd>,
    },
    Udp(UdpSink),
    Prometheus(Textfile),
    /// Its client is the MQTT slot in the same position (kept apart: it is large).
    Mqtt,
}

impl Sink {
    /// Whether the sink takes rendered line-protocol points (the textfile renders its own).
    fn takes_lines(&self) -> bool {
        !matches!(self, Sink::Prometheus(_))
    }

    fn kind(&self) -> &'static str {
        match self {
            Sink::Stdout => "line-protocol:stdout",
            Sink::File { .. } => "line-protocol:file",
            Sink::Udp(_) => "line-protocol:udp",
            Sink::Prometheus(_) => "prometheus",
            Sink::Mqtt => "mqtt",
        }
    }
}

/// Counters of one sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounters {
    /// Records taken.
    pub exported: u64,
    /// Records dropped.
    pub dropped: u64,
}

/// The configured exporters.
///
/// Large (the MQTT buffers), so the agent keeps them in static memory and configures them
/// in place ([`Exporters::configure`]): built by value they would cost their size again in
/// stack for every frame that held them, and the stack's pages stay resident.
/// `repr(C)`: the list first and the MQTT slots last, so the slots' pages stay untouched
/// (and unmapped) when no MQTT exporter is configured.
#[repr(C)]
pub struct Exporters {
    host: String<MAX_HOST>,
    sinks: Vec<(Sink, SinkCounters), { crate::config::MAX_EXPORTS }>,
    /// The MQTT clients, by position in `sinks`.
    mqtt: [MqttSink; crate::config::MAX_EXPORTS],
}

impl Default for Exporters {
    fn default() -> Self {
        Self::empty()
    }
}

impl Drop for Exporters {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The node name (`/proc/sys/kernel/hostname`), `localhost` when it cannot be read.
fn node_name() -> String<MAX_HOST> {
    let mut name = String::new();
    let mut buf = [0u8; MAX_HOST];
    let read = openat(
        CWD,
        // A C string literal: a `&str` path is copied into rustix's 4 KiB stack buffer.
        c"/proc/sys/kernel/hostname",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(|fd| rustix::io::read(&fd, &mut buf[..]));
    if let Ok(n) = read {
        if let Ok(text) = core::str::from_utf8(&buf[..n]) {
            let _ = name.push_str(text.trim());
        }
    }
    if name.is_empty() {
        let _ = name.push_str("localhost");
    }
    name
}

/// Counts one record into `outcome` and the sink's counters.
fn count(outcome: &mut Outcome, counters: &mut SinkCounters, ok: bool) {
    if ok {
        outcome.exported = outcome.exported.saturating_add(1);
        counters.exported = counters.exported.saturating_add(1);
    } else {
        outcome.failed = outcome.failed.saturating_add(1);
        counters.dropped = counters.dropped.saturating_add(1);
    }
}

/// Appends to the line-protocol file, opening it first if needed. Non-blocking: a file on
/// a stuck network mount fails instead of stopping the agent.
fn append(path: &str, fd: &mut Option<OwnedFd>, bytes: &[u8]) -> bool {
    if fd.is_none() {
        *fd = openat(
            CWD,
            path,
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::from_raw_mode(0o644),
        )
        .ok();
    }
    let Some(f) = fd else {
        return false;
    };
    match rustix::io::write(&*f, bytes) {
        Ok(n) if n == bytes.len() => true,
        _ => {
            // Reopened at the next record (the file may have been rotated or removed).
            *fd = None;
            false
        }
    }
}

/// An MQTT topic level from a name: the wildcards `+` and `#` and the separator `/` are
/// not allowed inside a level and become `_`.
struct TopicLevel<'a>(&'a str);

impl fmt::Display for TopicLevel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if matches!(c, '+' | '#' | '/' | '\0') {
                '_'
            } else {
                c
            })?;
        }
        Ok(())
    }
}

impl Exporters {
    /// No exporter. Every byte is zero, so a `static` of it takes no space in the file.
    pub const fn empty() -> Self {
        Exporters {
            host: String::new(),
            sinks: Vec::new(),
            mqtt: [const { MqttSink::idle() }; crate::config::MAX_EXPORTS],
        }
    }

    /// The exporters, with `host` as the node name (built by value: for tests).
    pub fn with_host(specs: &[String<MAX_VALUE>], host: &str) -> Self {
        let mut exporters = Exporters::empty();
        exporters.configure_with_host(specs, host);
        exporters
    }

    /// Ends the running exporters (see [`Exporters::clear`]) and starts those the `export`
    /// lines name (already checked by [`check_spec`]); tags and topics carry this machine's
    /// node name.
    pub fn configure(&mut self, specs: &[String<MAX_VALUE>]) {
        self.configure_with_host(specs, &node_name());
    }

    /// [`Exporters::configure`] with `host` as the node name.
    pub fn configure_with_host(&mut self, specs: &[String<MAX_VALUE>], host: &str) {
        self.clear();
        self.host.clear();
        for c in host.chars() {
            if self.host.push(c).is_err() {
                break;
            }
        }
        for value in specs {
            // At most MAX_EXPORTS specs exist (the configuration refuses more).
            let Some(mqtt) = self.mqtt.get_mut(self.sinks.len()) else {
                break;
            };
            // The name as kept (cut to MAX_HOST), so tags and topics agree.
            let Some(sink) = Self::sink(value, &self.host, mqtt) else {
                continue;
            };
            let _ = self.sinks.push((sink, SinkCounters::default()));
        }
    }

    /// Ends every exporter cleanly (MQTT: retained `offline`, then DISCONNECT so the
    /// broker does not also publish the will) and forgets them.
    pub fn clear(&mut self) {
        let now = now_ms();
        for ((sink, _), m) in self.sinks.iter_mut().zip(self.mqtt.iter_mut()) {
            if let Sink::Mqtt = sink {
                m.client.shutdown(now);
            }
        }
        self.sinks.clear();
    }

    /// The sink `value` names; an MQTT one starts its client in `mqtt`.
    fn sink(value: &str, host: &str, mqtt: &mut MqttSink) -> Option<Sink> {
        Some(match spec::parse(value).ok()? {
            Spec::LineStdout => Sink::Stdout,
            Spec::LineFile(p) => {
                let mut path = String::new();
                path.push_str(p).ok()?;
                Sink::File { path, fd: None }
            }
            Spec::LineUdp(to) => Sink::Udp(UdpSink {
                sender: UdpSender::new(to),
                datagram: TextBuf::new(),
                lines: 0,
            }),
            Spec::Prometheus(p) => Sink::Prometheus(Textfile::new(p).ok()?),
            Spec::Mqtt {
                broker,
                qos1,
                prefix,
            } => {
                let topic_prefix = &mut mqtt.prefix;
                topic_prefix.clear();
                write!(topic_prefix, "{prefix}/{}", TopicLevel(host)).ok()?;
                let mut status: String<128> = String::new();
                write!(status, "{topic_prefix}/status").ok()?;
                let mut client_id: String<{ 8 + MAX_HOST }> = String::new();
                write!(client_id, "nltelem-{host}").ok()?;
                let qos = if qos1 {
                    Qos::AtLeastOnce
                } else {
                    Qos::AtMostOnce
                };
                mqtt.client
                    .restart(TcpLink::new(broker), &client_id, &status, qos)
                    .ok()?;
                Sink::Mqtt
            }
        })
    }

    /// Whether any exporter is configured.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Hands one sample message to every exporter; `stdout` is the agent's standard output.
    /// Each line-protocol point, each MQTT publish and each completed textfile counts as
    /// one record. Every point is rendered once and the same line goes to every sink.
    pub fn sample(&mut self, s: &Sample<'_>, stdout: &mut impl Write) -> Outcome {
        let mut outcome = Outcome::default();
        let mut line = TextBuf::<1024>::new();
        // Rendering points is most of the agent's work per sample: skip it when no sink
        // takes lines (no exporter at all, or only the textfile).
        let lines_wanted = self.sinks.iter().any(|(sink, _)| sink.takes_lines());
        if lines_wanted {
            for p in points(s) {
                line.clear();
                let rendered = p.write(&mut line, &self.host, s.timestamp_ns).is_ok();
                if rendered && line.as_bytes().is_empty() {
                    // A point without fields: nothing to send.
                    continue;
                }
                let record = Record {
                    line: if rendered {
                        Some(line.as_bytes())
                    } else {
                        None
                    },
                    measurement: p.measurement(),
                    key: p.key(),
                };
                self.deliver(&record, stdout, &mut outcome);
            }
        }
        for (sink, counters) in self.sinks.iter_mut() {
            if let Sink::Prometheus(textfile) = sink {
                match textfile.sample(s) {
                    Ok(true) => count(&mut outcome, counters, true),
                    Ok(false) => {}
                    Err(_) => count(&mut outcome, counters, false),
                }
            }
        }
        self.finish(&mut outcome);
        outcome
    }

    /// Hands one event to every line-protocol and MQTT exporter (the textfile holds
    /// snapshots only).
    pub fn event(&mut self, e: &Event<'_>, stdout: &mut impl Write) -> Outcome {
        let mut outcome = Outcome::default();
        let mut line = TextBuf::<1024>::new();
        let rendered = line_protocol::write_event(&mut line, e, &self.host).is_ok();
        let record = Record {
            line: if rendered {
                Some(line.as_bytes())
            } else {
                None
            },
            measurement: "nltelem_event",
            key: Some(e.kind_name()),
        };
        self.deliver(&record, stdout, &mut outcome);
        self.finish(&mut outcome);
        outcome
    }

    /// Gives one line-protocol line to every sink that takes lines.
    fn deliver(&mut self, record: &Record<'_>, stdout: &mut impl Write, outcome: &mut Outcome) {
        for ((sink, counters), m) in self.sinks.iter_mut().zip(self.mqtt.iter_mut()) {
            let Some(line) = record.line else {
                // The line did not fit its buffer: lost for every line sink.
                if sink.takes_lines() {
                    count(outcome, counters, false);
                }
                continue;
            };
            let ok = match sink {
                Sink::Stdout => stdout
                    .write_str(core::str::from_utf8(line).unwrap_or(""))
                    .is_ok(),
                Sink::File { path, fd } => append(path, fd, line),
                Sink::Udp(udp) => {
                    udp.push(line, outcome, counters);
                    continue;
                }
                Sink::Prometheus(_) => continue,
                Sink::Mqtt => {
                    let mut topic: String<160> = String::new();
                    let named = match record.key {
                        Some(key) => write!(
                            topic,
                            "{}/{}/{}",
                            m.prefix,
                            record.measurement,
                            TopicLevel(key)
                        ),
                        None => write!(topic, "{}/{}", m.prefix, record.measurement),
                    };
                    let payload = line.strip_suffix(b"\n").unwrap_or(line);
                    named.is_ok() && m.client.publish(&topic, payload)
                }
            };
            count(outcome, counters, ok);
        }
    }

    /// Ends a message: sends the UDP datagrams still open, lets MQTT write.
    fn finish(&mut self, outcome: &mut Outcome) {
        let now = now_ms();
        for ((sink, counters), m) in self.sinks.iter_mut().zip(self.mqtt.iter_mut()) {
            match sink {
                Sink::Udp(udp) => udp.flush(outcome, counters),
                Sink::Mqtt => m.client.poll(now),
                _ => {}
            }
        }
    }

    /// Lets the network exporters progress (connect, flush, read acknowledgements, keep
    /// alive). Call it at least once a second; it never waits.
    pub fn poll(&mut self) {
        let now = now_ms();
        for ((sink, _), m) in self.sinks.iter_mut().zip(self.mqtt.iter_mut()) {
            if let Sink::Mqtt = sink {
                m.client.poll(now);
            }
        }
    }

    /// Whether there is an MQTT exporter and every one is connected to its broker.
    pub fn sinks_connected(&self) -> bool {
        let mut mqtt = self
            .sinks
            .iter()
            .zip(&self.mqtt)
            .filter_map(|((sink, _), m)| match sink {
                Sink::Mqtt => Some(m.client.state()),
                _ => None,
            });
        let mut any = false;
        mqtt.all(|state| {
            any = true;
            state == mqtt::State::Connected
        }) && any
    }

    /// Packets the MQTT exporters hold (not yet written, or not yet acknowledged).
    pub fn backlog(&self) -> usize {
        self.sinks
            .iter()
            .zip(&self.mqtt)
            .map(|((sink, _), m)| match sink {
                Sink::Mqtt => m.client.backlog(),
                _ => 0,
            })
            .sum()
    }

    /// The counters of each sink, in configuration order, with its kind.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, SinkCounters)> + '_ {
        self.sinks.iter().map(|(sink, c)| (sink.kind(), *c))
    }

    /// Writes one line per sink: `export KIND exported N dropped N` (MQTT adds its
    /// connection counters).
    pub fn report(&self, w: &mut impl Write) -> fmt::Result {
        for ((sink, c), m) in self.sinks.iter().zip(&self.mqtt) {
            write!(
                w,
                "export {} exported {} dropped {}",
                sink.kind(),
                c.exported,
                c.dropped
            )?;
            if let Sink::Mqtt = sink {
                let mc = m.client.counters;
                write!(
                    w,
                    " connects {} disconnects {} resent {} backlog {}",
                    mc.connects,
                    mc.disconnects,
                    mc.resent,
                    m.client.backlog()
                )?;
            }
            w.write_char('\n')?;
        }
        Ok(())
    }
}
