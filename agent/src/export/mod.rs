//! Exporters: where samples go after the agent has checked and counted them.
//!
//! Each `export = KIND:TARGET` line of the configuration (see [`spec`]) makes one sink:
//! InfluxDB line protocol to standard output, a file or UDP; a Prometheus textfile; MQTT
//! 3.1.1 publishes. The last two are cargo features (`prometheus`, `mqtt`, both default):
//! a firmware image that needs neither can leave their code out. The daemon hands every accepted sample to [`Exporters::sample`] and
//! every event to [`Exporters::event`], and calls [`Exporters::poll`] when it wakes up
//! without one (MQTT's connect, acknowledgements and keep-alive).
//!
//! No sink ever makes the agent wait: sockets are non-blocking, a record that a sink cannot
//! take now is kept in a bounded buffer (MQTT) or dropped, and every drop is counted
//! ([`Outcome::failed`], [`Exporters::report`]).

mod line_protocol;
#[cfg(feature = "mqtt")]
pub mod mqtt;
mod net;
#[cfg(all(test, feature = "mqtt", feature = "prometheus"))]
mod peers;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod spec;

pub use line_protocol::{points, write_event as write_line_protocol_event};
pub use line_protocol::{write_sample as write_line_protocol, Point, LINE};

use crate::config::{lines, MAX_VALUE};
use crate::decode::{Event, Sample};
#[cfg(feature = "mqtt")]
use crate::now_ms;
use core::ffi::CStr;
use heapless::{String, Vec};
#[cfg(feature = "mqtt")]
use mqtt::{Client, Qos};
#[cfg(feature = "mqtt")]
use net::TcpLink;
use nlcore::text::{Fixed, Text};
#[cfg(feature = "prometheus")]
use prometheus::Textfile;
use rustix::fd::OwnedFd;
use rustix::fs::{openat, Mode, OFlags, CWD};
use spec::Kind;

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
#[cfg(feature = "mqtt")]
pub const MQTT_BUFFER: usize = 8192;
/// Most MQTT packets buffered.
#[cfg(feature = "mqtt")]
pub const MQTT_PACKETS: usize = 64;

/// Longest node name used in tags and topics.
pub const MAX_HOST: usize = 64;

/// The names of the counters a report line gives, with their spaces, one a line: a
/// sink's two, then an MQTT sink's four.
const COUNTER_NAMES: &str = " exported \n dropped \n connects \n disconnects \n resent \n backlog ";

/// The size of the buffers for MQTT names and file paths: one size, so one instance of the
/// buffer's code.
const TOPIC: usize = 160;
// A file sink's path and its NUL fit.
const _: () = assert!(MAX_VALUE < TOPIC);

/// The state of the sink in the same position of [`Exporters`]' list, kept apart from the
/// list and set up in place, so that a sink ([`Kind`]) is small to build and move and no frame
/// holds a copy: the path and batch of a [`Kind::File`], the batch of a [`Kind::Udp`], the
/// exporter of a [`Kind::Prometheus`], the client and topic prefix of a [`Kind::Mqtt`].
pub struct Slot {
    /// The file's path and a NUL (the C string the system call takes), or the MQTT topic
    /// prefix `PREFIX/HOST/`.
    name: Fixed<TOPIC>,
    batch: Batch,
    #[cfg(feature = "prometheus")]
    textfile: Textfile,
    #[cfg(feature = "mqtt")]
    client: Client<TcpLink, MQTT_BUFFER, MQTT_PACKETS>,
}

impl Slot {
    /// A slot not in use (all zero: see [`idle_slots`]).
    const fn idle() -> Self {
        Slot {
            name: Fixed::new(),
            batch: Batch::idle(),
            #[cfg(feature = "prometheus")]
            textfile: Textfile::idle(),
            #[cfg(feature = "mqtt")]
            client: Client::idle(TcpLink::unset()),
        }
    }
}

/// Line protocol to a file or over UDP: whole lines gathered, written at the end of a
/// message or when the next line would not fit (at most [`UDP_DATAGRAM`] bytes: a
/// datagram; a file takes them in as few writes).
pub struct Batch {
    /// The file or the socket, once open.
    fd: Option<OwnedFd>,
    /// Where a UDP sink sends (`None` for a file sink).
    to: net::Peer,
    lines: Fixed<UDP_DATAGRAM>,
    /// Lines in `lines`.
    count: u32,
}

impl Batch {
    /// An empty batch, no file or socket.
    const fn idle() -> Self {
        Batch {
            fd: None,
            to: None,
            lines: Fixed::new(),
            count: 0,
        }
    }

    /// Adds a line, writing the batch first when the line would not fit. `path` is the
    /// file's (a file sink; UDP's is empty and not read).
    fn push(
        &mut self,
        line: &[u8],
        path: &Fixed<TOPIC>,
        outcome: &mut Outcome,
        counters: &mut SinkCounters,
    ) {
        if line.len() > self.lines.room() {
            self.flush(path, outcome, counters);
        }
        // A line (at most LINE bytes) fits an empty batch.
        self.lines.bytes(line);
        self.count += 1;
    }

    /// Writes the gathered lines (one datagram over UDP); each counts as exported or
    /// dropped.
    fn flush(&mut self, path: &Fixed<TOPIC>, outcome: &mut Outcome, counters: &mut SinkCounters) {
        if self.count == 0 {
            return;
        }
        let ok = self.lines.get().is_some_and(|bytes| {
            if self.fd.is_none() {
                self.fd = open(path, &self.to);
            }
            let Some(fd) = &self.fd else {
                return false;
            };
            let ok = matches!(rustix::io::write(fd, bytes), Ok(n) if n == bytes.len());
            if !ok {
                // Opened again for the next batch: the file may have been rotated or
                // removed; a new socket starts without the old one's error.
                self.fd = None;
            }
            ok
        });
        count(outcome, counters, ok, self.count);
        self.lines.clear();
        self.count = 0;
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

/// The exporters' list: the node name, the configured sinks with their counters, and the
/// line being rendered. Small, and written for every record.
pub struct ExporterList {
    host: String<MAX_HOST>,
    sinks: Vec<(Kind, SinkCounters), { crate::config::MAX_EXPORTS }>,
    /// The line being rendered: here rather than on the stack of every sample.
    line: Fixed<LINE>,
}

impl ExporterList {
    /// No exporter. Every byte is zero, so a `static` of it takes no space in the file.
    pub const fn empty() -> Self {
        ExporterList {
            host: String::new(),
            sinks: Vec::new(),
            line: Fixed::new(),
        }
    }
}

/// The sinks' large state (MQTT buffers, batches of lines, textfiles), by position in the
/// list: written only for the kinds of sink configured.
pub type Slots = [Slot; crate::config::MAX_EXPORTS];

/// Slots not in use. Every byte is zero, so a `static` of them takes no space in the file.
pub const fn idle_slots() -> Slots {
    [const { Slot::idle() }; crate::config::MAX_EXPORTS]
}

/// The configured exporters: the list and the slots, kept apart by the agent.
///
/// Both are large together (the MQTT buffers), so the agent keeps them in static memory
/// and configures them in place ([`Exporters::configure`]): built by value they would cost
/// their size again in stack for every frame that held them, and the stack's pages stay
/// resident. Apart, because the list is written for every record and the slots mostly not
/// at all: `sys::Buffers` puts the list beside the other buffers written for every message
/// and the slots last, so those few pages stay together (one page of resident memory less
/// for an agent without MQTT than with the slots between them).
pub struct Exporters<'s> {
    list: &'s mut ExporterList,
    slots: &'s mut Slots,
}

/// A list and slots of their own, for the tests (the agent's are in `sys::Buffers`).
#[cfg(test)]
pub(crate) struct Storage {
    list: ExporterList,
    slots: Slots,
}

#[cfg(test)]
impl Storage {
    pub(crate) fn new() -> Self {
        Storage {
            list: ExporterList::empty(),
            slots: idle_slots(),
        }
    }

    /// The exporters `specs` name, with `host` as the node name.
    pub(crate) fn with_host(&mut self, specs: &[String<MAX_VALUE>], host: &str) -> Exporters<'_> {
        let mut exporters = Exporters::new(&mut self.list, &mut self.slots);
        exporters.configure_with_host(specs, host);
        exporters
    }
}

/// Puts the node name (the kernel's, as `uname` and `/proc/sys/kernel/hostname` give it)
/// in `name` (empty), `localhost` when it is empty or not UTF-8. At most [`MAX_HOST`]
/// bytes by construction (the kernel's limit): nothing to cut.
fn node_name(name: &mut String<MAX_HOST>) {
    let uname = rustix::system::uname();
    let text = core::str::from_utf8(uname.nodename().to_bytes().trim_ascii()).ok();
    let _ = name.push_str(text.filter(|t| !t.is_empty()).unwrap_or("localhost"));
}

/// Counts `n` records into `outcome` and the sink's counters.
// Out of line: the binary measured smaller than with it inlined.
#[inline(never)]
fn count(outcome: &mut Outcome, counters: &mut SinkCounters, ok: bool, n: u32) {
    let (total, own) = if ok {
        (&mut outcome.exported, &mut counters.exported)
    } else {
        (&mut outcome.failed, &mut counters.dropped)
    };
    *total = total.saturating_add(u64::from(n));
    *own = own.saturating_add(u64::from(n));
}

/// The C string in `path` (the system calls take one: a `&str` would be copied into a
/// stack buffer at each call); an empty one, which every call refuses, if it did not fit.
fn c_str(path: &Fixed<TOPIC>) -> &CStr {
    path.get()
        .and_then(|path| CStr::from_bytes_with_nul(path).ok())
        .unwrap_or_default()
}

/// Opens a UDP socket connected to `to` (a UDP sink's), or else the file at `path` to
/// append to it: either takes a batch by one `write`. Non-blocking: a file on a stuck
/// network mount fails instead of stopping the agent.
fn open(path: &Fixed<TOPIC>, to: &net::Peer) -> Option<OwnedFd> {
    match to {
        Some(to) => net::udp_to(to),
        None => openat(
            CWD,
            c_str(path),
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::from_raw_mode(0o644),
        )
        .ok(),
    }
}

/// Writes `s`, each byte that `escapes` lists written as its replacement instead.
/// `escapes` is rows of three bytes: the byte, then its replacement of two bytes, or of
/// one and a NUL (one table walked by one loop, not a function per escaper). The escaped
/// bytes are ASCII, so the runs between them stay whole UTF-8.
fn escaped(w: &mut dyn Text, s: &str, escapes: &[u8]) {
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(row) = escapes.chunks_exact(3).find(|row| row.first() == Some(&b)) {
            let end = if row.get(2) == Some(&0) { 2 } else { 3 };
            w.bytes(bytes.get(from..i).unwrap_or_default());
            w.bytes(row.get(1..end).unwrap_or_default());
            from = i + 1;
        }
    }
    w.bytes(bytes.get(from..).unwrap_or_default());
}

/// An MQTT topic level from a name: the wildcards `+` and `#` and the separator `/` are
/// not allowed inside a level and become `_`.
#[cfg(feature = "mqtt")]
fn topic_level(w: &mut dyn Text, s: &str) {
    escaped(w, s, b"+_\0#_\0/_\0\0_\0");
}

/// Text gathered in a `String` (the tests' writer).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Gathered(pub std::string::String);

#[cfg(test)]
impl Text for Gathered {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0
            .push_str(core::str::from_utf8(bytes).expect("whole UTF-8 pieces"));
    }
}

impl<'s> Exporters<'s> {
    /// The exporters kept in `list` and `slots` (as they are: [`configure`](Self::configure)
    /// starts them).
    pub fn new(list: &'s mut ExporterList, slots: &'s mut Slots) -> Self {
        Exporters { list, slots }
    }

    /// Ends the running exporters (see [`Exporters::clear`]) and starts those the `export`
    /// lines name (already checked by [`check_spec`]); tags and topics carry this machine's
    /// node name.
    pub fn configure(&mut self, specs: &[String<MAX_VALUE>]) {
        self.clear();
        self.list.host.clear();
        node_name(&mut self.list.host);
        self.start(specs);
    }

    /// [`Exporters::configure`] with `host` as the node name.
    pub fn configure_with_host(&mut self, specs: &[String<MAX_VALUE>], host: &str) {
        self.clear();
        self.list.host.clear();
        // Cut to MAX_HOST bytes, at a character boundary.
        let mut len = host.len().min(MAX_HOST);
        while !host.is_char_boundary(len) {
            len -= 1;
        }
        let _ = self.list.host.push_str(host.get(..len).unwrap_or_default());
        self.start(specs);
    }

    /// Starts the sinks `specs` name (after [`Exporters::clear`], with the node name set).
    fn start(&mut self, specs: &[String<MAX_VALUE>]) {
        for value in specs {
            // At most MAX_EXPORTS specs exist (the configuration refuses more).
            let Some(slot) = self.slots.get_mut(self.list.sinks.len()) else {
                break;
            };
            // The name as kept (cut to MAX_HOST), so tags and topics agree.
            let Some(sink) = Self::sink(value, &self.list.host, slot) else {
                continue;
            };
            let _ = self.list.sinks.push((sink, SinkCounters::default()));
        }
    }

    /// Ends every exporter cleanly (MQTT: retained `offline`, then DISCONNECT so the
    /// broker does not also publish the will) and forgets them. The owner calls it when
    /// done with them: their state is in static memory, which nothing drops (and the
    /// agent's one end calls it already, so no `Drop` does it again).
    pub fn clear(&mut self) {
        self.finish(&mut Outcome::default(), None, true);
        self.list.sinks.clear();
    }

    /// The sink `value` names; it starts its state (path, batch, textfile, client) in `slot`.
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    // The node name goes into MQTT's topics only.
    #[cfg_attr(not(feature = "mqtt"), allow(unused_variables))]
    fn sink(value: &str, host: &str, slot: &mut Slot) -> Option<Kind> {
        let spec = spec::parse(value).ok()?;
        // Each kind writes only the parts of the slot it uses: a part never written is never
        // resident (a stdout sink's slot not at all), and the slots' pages are most of the
        // agent's memory. The names always fit: `export` values are shorter than the buffer
        // (asserted at TOPIC).
        match spec.kind {
            Kind::Stdout => {}
            // A batch sends to its peer (UDP), or else writes to the file (below). It is
            // empty: every message ends with it written (`finish`), and its file or socket
            // was closed as the slot's last sink ended.
            Kind::Udp => slot.batch.to = spec.peer.map(Into::into),
            #[cfg(feature = "prometheus")]
            Kind::Prometheus => slot.textfile.start(spec.name),
            // A file's path or MQTT's topic prefix: the name, then what the kind adds.
            _ => {
                let name = &mut slot.name;
                name.clear();
                let w = name.text();
                w.str(spec.name);
                #[cfg(feature = "mqtt")]
                if spec.kind == Kind::Mqtt {
                    // `/HOST/`: every topic goes on with a level.
                    w.str("/");
                    topic_level(w, host);
                    w.str("/");
                    let qos = if spec.qos1 {
                        Qos::AtLeastOnce
                    } else {
                        Qos::AtMostOnce
                    };
                    let link = TcpLink::new(spec.peer?);
                    let host = host.as_bytes();
                    slot.client.restart(link, host, name.get()?, qos).ok()?;
                    return Some(spec.kind);
                }
                // The file's path as a C string.
                w.str("\0");
                slot.batch.to = None;
            }
        }
        Some(spec.kind)
    }

    /// Hands one sample message to every exporter; `stdout` is the agent's standard output.
    /// Each line-protocol point, each MQTT publish and each completed textfile counts as
    /// one record. Every point is rendered once and the same line goes to every sink.
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    pub fn sample(&mut self, s: &Sample<'_>, stdout: &mut dyn Text) -> Outcome {
        let mut outcome = Outcome::default();
        // Rendering points is most of the agent's work per sample: skip it when no sink
        // takes lines (no exporter at all, or only the textfile).
        let lines_wanted = self.list.sinks.iter().any(|(sink, _)| sink.takes_lines());
        if lines_wanted {
            points(s, &mut |p| {
                // A point without fields: nothing to send.
                if p.write(&mut self.list.line, &self.list.host, s.timestamp_ns()) {
                    self.deliver(p.measurement(), p.key(), stdout, &mut outcome);
                }
            });
        }
        self.finish(&mut outcome, Some(s), false);
        outcome
    }

    /// Hands one event to every line-protocol and MQTT exporter (the textfile holds
    /// snapshots only).
    pub fn event(&mut self, e: &Event<'_>, stdout: &mut dyn Text) -> Outcome {
        let mut outcome = Outcome::default();
        self.list.line.clear();
        line_protocol::write_event(self.list.line.text(), e, &self.list.host);
        self.deliver("nltelem_event", Some(e.kind_name()), stdout, &mut outcome);
        self.finish(&mut outcome, None, false);
        outcome
    }

    /// Gives the rendered line (`self.list.line`) to every sink that takes lines; MQTT files it
    /// under `measurement` and `key`.
    #[cfg_attr(not(feature = "mqtt"), allow(unused_variables))]
    fn deliver(
        &mut self,
        measurement: &str,
        key: Option<&str>,
        stdout: &mut dyn Text,
        outcome: &mut Outcome,
    ) {
        let line = self.list.line.get();
        for ((sink, counters), m) in self.list.sinks.iter_mut().zip(self.slots.iter_mut()) {
            let ok = match (*sink, line) {
                #[cfg(feature = "prometheus")]
                (Kind::Prometheus, _) => continue,
                // The line did not fit its buffer: lost for every line sink.
                (_, None) => false,
                (Kind::Stdout, Some(line)) => {
                    // A standard output that fails remembers it; the record was handed over.
                    stdout.bytes(line);
                    true
                }
                (Kind::File | Kind::Udp, Some(line)) => {
                    m.batch.push(line, &m.name, outcome, counters);
                    continue;
                }
                #[cfg(feature = "mqtt")]
                (Kind::Mqtt, Some(line)) => {
                    let mut topic: Fixed<TOPIC> = Fixed::new();
                    let w = topic.text();
                    w.bytes(m.name.get().unwrap_or_default());
                    w.str(measurement);
                    if let Some(key) = key {
                        w.str("/");
                        topic_level(w, key);
                    }
                    // Without the newline (a slice pattern: no call to compare one byte).
                    let payload = match line {
                        [rest @ .., b'\n'] => rest,
                        _ => line,
                    };
                    topic.get().is_some_and(|t| m.client.publish(t, payload))
                }
            };
            count(outcome, counters, ok, 1);
        }
    }

    /// Ends a message: hands a sample to the textfiles, writes the batches of lines still
    /// open (file, UDP), lets MQTT write. Or, `ending`, ends the sinks themselves (between
    /// messages): closes their files and sockets now (not when the slot is reused), MQTT
    /// says goodbye. One loop over the sinks for all of it.
    #[cfg_attr(not(feature = "prometheus"), allow(unused_variables))]
    fn finish(&mut self, outcome: &mut Outcome, sample: Option<&Sample<'_>>, ending: bool) {
        for ((sink, counters), m) in self.list.sinks.iter_mut().zip(self.slots.iter_mut()) {
            match sink {
                #[cfg(feature = "prometheus")]
                Kind::Prometheus if ending => m.textfile.end(),
                #[cfg(feature = "prometheus")]
                Kind::Prometheus => {
                    // The textfile renders its own text, in the line's buffer (free now).
                    if let Some(s) = sample {
                        if let Some(written) = m.textfile.sample(s, &mut self.list.line) {
                            count(outcome, counters, written, 1);
                        }
                    }
                }
                // No batch is open between messages.
                Kind::File | Kind::Udp if ending => m.batch.fd = None,
                Kind::File | Kind::Udp => m.batch.flush(&m.name, outcome, counters),
                // The clock only where a timer runs: a clock read is a system call (no
                // vDSO lookup in this program), and this runs for every message.
                #[cfg(feature = "mqtt")]
                Kind::Mqtt => {
                    m.client.progress(now_ms(), ending);
                }
                _ => {}
            }
        }
    }

    /// Lets the network exporters progress (connect, flush, read acknowledgements, keep
    /// alive). Call it at least once a second; it never waits.
    pub fn poll(&mut self) {
        // The end of a message without one: no batch of lines is open between messages.
        self.finish(&mut Outcome::default(), None, false);
    }

    /// Whether there is an MQTT exporter and every one is connected to its broker.
    #[cfg(feature = "mqtt")]
    pub fn sinks_connected(&self) -> bool {
        let mut mqtt =
            self.list
                .sinks
                .iter()
                .zip(self.slots.iter())
                .filter_map(|((sink, _), m)| match sink {
                    Kind::Mqtt => Some(m.client.connected()),
                    _ => None,
                });
        let mut any = false;
        mqtt.all(|connected| {
            any = true;
            connected
        }) && any
    }

    /// Packets the MQTT exporters hold (not yet written, or not yet acknowledged).
    #[cfg(feature = "mqtt")]
    pub fn backlog(&self) -> usize {
        self.list
            .sinks
            .iter()
            .zip(self.slots.iter())
            .map(|((sink, _), m)| match sink {
                Kind::Mqtt => m.client.backlog(),
                _ => 0,
            })
            .sum()
    }

    /// Writes one line per sink: `export KIND exported N dropped N` (MQTT adds its
    /// connection counters).
    #[cfg_attr(not(feature = "mqtt"), allow(unused_variables))]
    pub fn report(&self, w: &mut dyn Text) {
        for ((sink, c), m) in self.list.sinks.iter().zip(self.slots.iter()) {
            w.str("export ");
            w.str(sink.name());
            let (counters, reported) = match sink {
                #[cfg(feature = "mqtt")]
                Kind::Mqtt => {
                    let mc = m.client.counters;
                    let backlog = m.client.backlog() as u64;
                    let all = [
                        c.exported,
                        c.dropped,
                        mc.connects,
                        mc.disconnects,
                        mc.resent,
                        backlog,
                    ];
                    (all, all.len())
                }
                _ => ([c.exported, c.dropped, 0, 0, 0, 0], 2),
            };
            // Each counter after its name, the names one string walked by one loop.
            for (name, value) in lines(COUNTER_NAMES).zip(counters).take(reported) {
                w.str(name);
                w.uint(value);
            }
            w.str("\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    fn specs(list: &[&str]) -> std::vec::Vec<String<MAX_VALUE>> {
        list.iter().map(|s| String::try_from(*s).unwrap()).collect()
    }

    fn report(e: &Exporters<'_>) -> std::string::String {
        let mut out = Gathered::default();
        e.report(&mut out);
        out.0
    }

    /// Every line goes to every line sink, each sink counts its own records, and a sink
    /// that fails (a textfile in a directory that cannot be made, when the build has the
    /// textfile) costs only its own.
    #[test]
    fn lines_reach_every_line_sink_and_each_sink_counts_its_records() {
        let dir = std::env::temp_dir().join(format!("nltelem-exporters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("out.lp");
        let file_spec = format!("line-protocol:file:{}", file.display());
        let prom_spec = "prometheus:/nonexistent-nltelem/a/n.prom";
        let prometheus = cfg!(feature = "prometheus");
        let mut list = specs(&["line-protocol:stdout", &file_spec]);
        if prometheus {
            list.extend(specs(&[prom_spec]));
        }
        let mut storage = Storage::new();
        let mut e = storage.with_host(&list, "r1");
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut stdout = Gathered::default();
        assert_eq!(
            e.sample(&s, &mut stdout),
            Outcome {
                exported: 8,
                failed: u64::from(prometheus)
            }
        );
        let mut lines = Gathered::default();
        assert_eq!(write_line_protocol(&mut lines, &s, "r1"), 4);
        assert_eq!(stdout.0, lines.0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), lines.0);

        let mut buf = [0u8; 128];
        let mut b = nlcore::MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u32(
            nltelem_proto::attr::event::KIND,
            nltelem_proto::event_kind::LINK_UP,
        )
        .unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let ev = Event::parse(msg.attrs(0).unwrap()).unwrap();
        let mut stdout = Gathered::default();
        assert_eq!(
            e.event(&ev, &mut stdout),
            Outcome {
                exported: 2,
                failed: 0
            }
        );
        assert_eq!(
            stdout.0,
            "nltelem_event,host=r1,kind=link-up kind=\"link-up\"\n"
        );
        let mut want = std::string::String::from(
            "export line-protocol:stdout exported 5 dropped 0\n\
             export line-protocol:file exported 5 dropped 0\n",
        );
        if prometheus {
            want.push_str("export prometheus exported 0 dropped 1\n");
        }
        assert_eq!(report(&e), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Line protocol over UDP: whole lines, gathered into datagrams of at most 1400 bytes
    /// (a message's lines fill one before the next starts), each line counted once.
    #[test]
    fn udp_datagrams_hold_whole_lines_up_to_their_size() {
        use nltelem_proto::attr::{netdev as nd, sample as k};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let spec = format!("line-protocol:udp:{}", socket.local_addr().unwrap());
        let mut storage = Storage::new();
        let mut e = storage.with_host(&specs(&[&spec]), "r1");
        let mut buf = [0u8; 4096];
        let mut want = std::vec::Vec::new();
        let mut exported = 0;
        for seq in 0..5u64 {
            let mut b = nlcore::MsgBuilder::new(&mut buf[..]);
            b.begin(0x20, 0, 0, 0).unwrap();
            b.put_u64(k::SEQ, seq).unwrap();
            for i in 0..40 {
                let n = b.nest_start(k::NETDEV).unwrap();
                b.put_str(nd::IFNAME, &format!("eth{i}")).unwrap();
                b.put_u64(nd::RX_BYTES, seq * 1_000_000 + i).unwrap();
                b.nest_end(n).unwrap();
            }
            let len = b.finish().unwrap();
            let msg = NlMsg::new_checked(&buf[..len]).unwrap();
            let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
            exported += e.sample(&s, &mut Gathered::default()).exported;
            let mut lines = Gathered::default();
            write_line_protocol(&mut lines, &s, "r1");
            // The datagrams this message should make.
            let mut datagram = std::string::String::new();
            for line in lines.0.split_inclusive('\n') {
                if datagram.len() + line.len() > UDP_DATAGRAM {
                    want.push(core::mem::take(&mut datagram));
                }
                datagram.push_str(line);
            }
            want.push(datagram);
        }
        assert_eq!(exported, 5 * 41);
        assert!(want.len() > 5, "some messages take several datagrams");
        let mut datagram = [0u8; 2048];
        for expected in &want {
            let n = socket.recv(&mut datagram).unwrap();
            assert_eq!(std::str::from_utf8(&datagram[..n]).unwrap(), expected);
        }
        assert_eq!(
            report(&e),
            "export line-protocol:udp exported 205 dropped 0\n"
        );
    }

    /// A UDP sink's socket is connected: a datagram the peer's host refused (nobody
    /// listening) fails the next write, which counts its lines as dropped, and the batch
    /// after it goes out on a new socket once a listener is back.
    #[test]
    fn a_refused_udp_datagram_is_dropped_and_the_next_goes_on_a_new_socket() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = socket.local_addr().unwrap();
        drop(socket);
        let mut storage = Storage::new();
        let mut e = storage.with_host(&specs(&[&format!("line-protocol:udp:{to}")]), "r1");
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut failed = 0;
        for _ in 0..100 {
            failed = e.sample(&s, &mut Gathered::default()).failed;
            if failed > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(failed, 4, "the refusal shows in a later write");
        let socket = std::net::UdpSocket::bind(to).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let sent = e.sample(&s, &mut Gathered::default());
        assert_eq!(
            sent,
            Outcome {
                exported: 4,
                failed: 0
            }
        );
        let mut lines = Gathered::default();
        write_line_protocol(&mut lines, &s, "r1");
        let mut datagram = [0u8; 2048];
        let n = socket.recv(&mut datagram).unwrap();
        assert_eq!(std::str::from_utf8(&datagram[..n]).unwrap(), lines.0);
    }

    /// A slot's batch is empty between messages: a file sink that takes the slot of a UDP
    /// sink writes its own lines only.
    #[test]
    fn a_batch_starts_empty_in_a_reused_slot() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = format!("line-protocol:udp:{}", socket.local_addr().unwrap());
        let file = std::env::temp_dir().join(format!("nltelem-batch-{}.lp", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut storage = Storage::new();
        let mut e = storage.with_host(&specs(&[&udp]), "r1");
        assert_eq!(e.sample(&s, &mut Gathered::default()).exported, 4);
        e.configure_with_host(
            &specs(&[&format!("line-protocol:file:{}", file.display())]),
            "r1",
        );
        assert_eq!(e.sample(&s, &mut Gathered::default()).exported, 4);
        let mut lines = Gathered::default();
        write_line_protocol(&mut lines, &s, "r1");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), lines.0);
        std::fs::remove_file(&file).unwrap();
    }

    /// The MQTT client's identity: `nltelem-HOST`, its status topic `PREFIX/LEVEL/status`
    /// with the node name as one topic level; its report line.
    #[cfg(feature = "mqtt")]
    #[test]
    fn mqtt_names_carry_the_prefix_and_the_host_as_one_level() {
        let mut storage = Storage::new();
        let e = storage.with_host(&specs(&["mqtt:127.0.0.1:1883,prefix=site/a"]), "r/1+#");
        assert_eq!(e.slots[0].name.get(), Some(&b"site/a/r_1__/"[..]));
        let connect = e.slots[0].client.connect_packet();
        let tail = b"\x00\x0dnltelem-r/1+#\x00\x13site/a/r_1__/status\x00\x07offline";
        assert!(connect.ends_with(tail), "{connect:?}");
        assert_eq!(
            report(&e),
            "export mqtt exported 0 dropped 0 connects 0 disconnects 0 resent 0 backlog 0\n"
        );
    }

    /// A topic level: the wildcards, the separator and NUL become `_`, the rest is kept.
    #[cfg(feature = "mqtt")]
    #[test]
    fn a_topic_level_replaces_wildcards_separators_and_nul() {
        let mut out = Gathered::default();
        topic_level(&mut out, "a+b#c/d\0é");
        assert_eq!(out.0, "a_b_c_d_é");
    }

    /// Sinks keep their state in the slot of their position, set up in place: a slot that
    /// held one kind of sink serves another after a reconfiguration, and a textfile that
    /// moved to another slot still completes its snapshots.
    #[cfg(feature = "prometheus")]
    #[test]
    fn a_reconfigured_slot_serves_another_kind_of_sink() {
        let dir = std::env::temp_dir().join(format!("nltelem-slots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let prom = format!("prometheus:{}", dir.join("n.prom").display());
        let file = format!("line-protocol:file:{}", dir.join("out.lp").display());
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut storage = Storage::new();
        let mut e = storage.with_host(&specs(&[&prom]), "r1");
        let one = Outcome {
            exported: 1,
            failed: 0,
        };
        assert_eq!(e.sample(&s, &mut Gathered::default()), one);
        e.configure_with_host(&specs(&[&file, &prom]), "r1");
        let five = Outcome {
            exported: 5,
            failed: 0,
        };
        assert_eq!(e.sample(&s, &mut Gathered::default()), five);
        let mut lines = Gathered::default();
        write_line_protocol(&mut lines, &s, "r1");
        let out = std::fs::read_to_string(dir.join("out.lp")).unwrap();
        assert_eq!(out, lines.0);
        assert_eq!(
            report(&e),
            "export line-protocol:file exported 4 dropped 0\n\
             export prometheus exported 1 dropped 0\n"
        );
        // Nothing but the two outputs: no scratch or temporary file of either textfile.
        assert_eq!(prometheus::tests::files_in(&dir), ["n.prom", "out.lp"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `configure` names the node as the kernel does (`uname`, which is what
    /// `/proc/sys/kernel/hostname` shows), or `localhost`.
    #[test]
    fn configure_takes_the_kernel_s_node_name() {
        let mut storage = Storage::new();
        let mut e = Exporters::new(&mut storage.list, &mut storage.slots);
        e.configure(&[]);
        let want = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let want = if want.is_empty() { "localhost" } else { &want };
        assert_eq!(e.list.host.as_str(), want);
    }

    #[test]
    fn a_long_node_name_is_cut_at_a_character_boundary() {
        let host = "é".repeat(40);
        let mut storage = Storage::new();
        let e = storage.with_host(&[], &host);
        assert_eq!(e.list.host.as_str(), &host[..64]);
        let mut storage = Storage::new();
        let e = storage.with_host(&[], &format!("x{host}"));
        assert_eq!(e.list.host.len(), 63);
    }
}
