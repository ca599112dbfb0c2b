//! MQTT 3.1.1 publisher: the few packets a telemetry client sends and reads (CONNECT with
//! a last will, PUBLISH at QoS 0 or 1, PUBACK, PINGREQ/PINGRESP, DISCONNECT), and a client
//! that never blocks its caller.
//!
//! Packet layout (MQTT 3.1.1, OASIS standard, section 2 and 3):
//!
//! ```text
//!  byte 0          remaining length (1-4 bytes, 7 bits each, low first, bit 7 = more)
//! +---------------+---------------+----------------------+---------------------+
//! | type<<4|flags | len           | variable header      | payload             |
//! +---------------+---------------+----------------------+---------------------+
//!  PUBLISH flags: DUP 0x08, QoS 0x06, RETAIN 0x01; variable header: topic (u16 length +
//!  UTF-8), packet id (u16, QoS 1 only).
//! ```
//!
//! The client keeps every outgoing packet in one fixed arena until it is written (QoS 0)
//! or acknowledged (QoS 1). When the broker is away the arena holds the backlog; when it
//! is full, new records are refused and counted, so sampling never waits for the network.
//! After a reconnect, unacknowledged QoS 1 publishes go out again with DUP set.
//!
//! Topics (`PREFIX` from the `export` line, `HOST` the node name):
//! `PREFIX/HOST/status`: retained `online` after each connect, `offline` as the last will
//! (the broker publishes it when the connection dies) and before a clean disconnect.
//! Records go to topics the caller builds (`PREFIX/HOST/MEASUREMENT[/KEY]`).

use heapless::Vec;

/// MQTT control packet types (high nibble of the first byte).
const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const PUBLISH: u8 = 0x30;
const PUBACK: u8 = 0x40;
const PINGREQ: u8 = 0xc0;
const PINGRESP: u8 = 0xd0;
const DISCONNECT: u8 = 0xe0;

/// PUBLISH flag bits.
const PUBLISH_DUP: u8 = 0x08;
const PUBLISH_RETAIN: u8 = 0x01;

/// CONNECT flag bits.
const CONNECT_CLEAN_SESSION: u8 = 0x02;
const CONNECT_WILL: u8 = 0x04;
const CONNECT_WILL_QOS1: u8 = 0x08;
const CONNECT_WILL_RETAIN: u8 = 0x20;

/// Largest remaining length MQTT can express (4 length bytes).
const MAX_REMAINING: usize = 268_435_455;

/// Quality of service of the publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    /// At most once: written to the socket, then forgotten.
    AtMostOnce,
    /// At least once: kept until the broker's PUBACK, sent again after a reconnect.
    AtLeastOnce,
}

impl Qos {
    fn bits(self) -> u8 {
        match self {
            Qos::AtMostOnce => 0,
            Qos::AtLeastOnce => 1 << 1,
        }
    }
}

/// A packet does not fit the buffer it is written into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// Writes packets into a byte slice.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), TooLong> {
        let end = self.len.checked_add(bytes.len()).ok_or(TooLong)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(TooLong)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
    fn u16(&mut self, v: u16) -> Result<(), TooLong> {
        self.put(&v.to_be_bytes())
    }
    /// A UTF-8 string or binary field: u16 length, then the bytes.
    fn field(&mut self, bytes: &[u8]) -> Result<(), TooLong> {
        self.u16(u16::try_from(bytes.len()).map_err(|_| TooLong)?)?;
        self.put(bytes)
    }
    /// The fixed header: first byte and the remaining length.
    fn header(&mut self, first: u8, remaining: usize) -> Result<(), TooLong> {
        if remaining > MAX_REMAINING {
            return Err(TooLong);
        }
        self.put(&[first])?;
        let mut rest = remaining;
        loop {
            // Seven bits at a time, low first; bit 7 says another byte follows.
            let mut byte = (rest % 128) as u8;
            rest /= 128;
            if rest > 0 {
                byte |= 0x80;
            }
            self.put(&[byte])?;
            if rest == 0 {
                return Ok(());
            }
        }
    }
}

/// The last will: published by the broker when the connection dies without DISCONNECT.
#[derive(Debug, Clone, Copy)]
pub struct Will<'a> {
    /// Its topic.
    pub topic: &'a [u8],
    /// Its payload.
    pub payload: &'a [u8],
}

/// Writes a CONNECT packet (clean session, will at QoS 1, retained) into `buf`; returns
/// its length.
pub fn encode_connect(
    buf: &mut [u8],
    client_id: &[u8],
    keep_alive_s: u16,
    will: Option<Will<'_>>,
) -> Result<usize, TooLong> {
    let mut flags = CONNECT_CLEAN_SESSION;
    // Protocol name (2 + 4), level, flags, keep alive; then the client identifier.
    let mut remaining = 10 + 2 + client_id.len();
    if let Some(w) = will {
        flags |= CONNECT_WILL | CONNECT_WILL_QOS1 | CONNECT_WILL_RETAIN;
        remaining += 2 + w.topic.len() + 2 + w.payload.len();
    }
    let mut out = Out { buf, len: 0 };
    out.header(CONNECT, remaining)?;
    let [ka_hi, ka_lo] = keep_alive_s.to_be_bytes();
    // The protocol name as a field, level 4 (MQTT 3.1.1), the flags and the keep-alive:
    // one piece.
    out.put(&[0, 4, b'M', b'Q', b'T', b'T', 4, flags, ka_hi, ka_lo])?;
    out.field(client_id)?;
    if let Some(w) = will {
        out.field(w.topic)?;
        out.field(w.payload)?;
    }
    Ok(out.len)
}

/// Writes a PUBLISH packet into `buf`; `packet_id` is used (and required non-zero) at
/// QoS 1 only. Returns its length.
pub fn encode_publish(
    buf: &mut [u8],
    topic: &[u8],
    payload: &[u8],
    qos: Qos,
    retain: bool,
    packet_id: u16,
) -> Result<usize, TooLong> {
    let id_len = if qos == Qos::AtLeastOnce { 2 } else { 0 };
    let remaining = 2 + topic.len() + id_len + payload.len();
    let first = PUBLISH | qos.bits() | if retain { PUBLISH_RETAIN } else { 0 };
    let mut out = Out { buf, len: 0 };
    out.header(first, remaining)?;
    out.field(topic)?;
    if qos == Qos::AtLeastOnce {
        out.u16(packet_id)?;
    }
    out.put(payload)?;
    Ok(out.len)
}

/// What the broker sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// CONNACK with its return code (0 = accepted).
    ConnAck {
        /// 0 accepted; 1-5 refused (protocol version, identifier, unavailable, credentials,
        /// not authorised).
        return_code: u8,
    },
    /// PUBACK for this packet identifier.
    PubAck(u16),
    /// PINGRESP.
    PingResp,
}

/// Why the bytes from the broker make no sense to a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError;

/// Reads one packet from the front of `bytes`: `Ok(None)` when more bytes are needed,
/// else the packet and how many bytes it took.
pub fn decode(bytes: &[u8]) -> Result<Option<(Incoming, usize)>, ProtocolError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    // The three packets a publisher receives all have a remaining length below 128.
    let Some(&remaining) = bytes.get(1) else {
        return Ok(None);
    };
    let total = 2 + usize::from(remaining);
    let Some(body) = bytes.get(2..total) else {
        return if remaining < 0x80 {
            Ok(None)
        } else {
            Err(ProtocolError)
        };
    };
    let packet = match (first, body) {
        (CONNACK, [_session_present, code]) => Incoming::ConnAck { return_code: *code },
        (PUBACK, [hi, lo]) => Incoming::PubAck(u16::from_be_bytes([*hi, *lo])),
        (PINGRESP, []) => Incoming::PingResp,
        _ => return Err(ProtocolError),
    };
    Ok(Some((packet, total)))
}

/// Why a byte stream to the broker cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Nothing can be done without waiting (connect in progress, socket buffer full, no
    /// bytes to read).
    WouldBlock,
    /// The connection failed or ended.
    Closed,
}

/// A non-blocking byte stream to the broker (TCP in the agent, a script in the tests).
pub trait Link {
    /// Starts connecting (returns at once). While the connect is in progress `send` and
    /// `recv` say `WouldBlock`; a connect that failed shows as `Closed` there (as TCP
    /// sockets do), so the client needs no state of its own for it.
    fn open(&mut self) -> Result<(), LinkError>;
    /// Writes some of `bytes`; returns how many.
    fn send(&mut self, bytes: &[u8]) -> Result<usize, LinkError>;
    /// Reads what has arrived into `buf`; `WouldBlock` when nothing has.
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, LinkError>;
    /// Drops the connection.
    fn close(&mut self);
}

/// First wait before reconnecting, and the longest (the wait doubles in between).
pub const BACKOFF_MIN_MS: u64 = 1_000;
/// The longest wait before reconnecting.
pub const BACKOFF_MAX_MS: u64 = 60_000;
/// Longest time from the start of a connection to the broker's CONNACK.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// The keep-alive the client announces; it pings after half of it without traffic.
pub const KEEP_ALIVE_S: u16 = 30;

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not connected; the next attempt is due at this time (ms).
    Waiting {
        /// When to try again.
        retry_at_ms: u64,
    },
    /// Connecting: the TCP connect and the CONNECT under way, no CONNACK yet.
    AwaitingConnAck {
        /// When the attempt started.
        since_ms: u64,
    },
    /// Connected: records flow.
    Connected,
}

/// The client's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MqttCounters {
    /// Records accepted into the buffer.
    pub queued: u64,
    /// Records refused because the buffer was full (or a record too large for it).
    pub dropped: u64,
    /// Publishes fully written (QoS 0) or acknowledged (QoS 1).
    pub delivered: u64,
    /// Connections established (CONNACK accepted).
    pub connects: u64,
    /// Connections lost or refused, attempts that timed out.
    pub disconnects: u64,
    /// QoS 1 publishes sent again after a reconnect.
    pub resent: u64,
}

/// One packet kept in the arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where the packet is in the arena: `u32` halves the entry on 64-bit targets (the
    /// arena is far below 4 GiB).
    start: u32,
    len: u32,
    /// Packet identifier of a QoS 1 publish; 0 for packets that need no acknowledgement.
    packet_id: u16,
    /// Completely written and waiting for its PUBACK.
    in_flight: bool,
    /// The retained status message (`online`): not a record, not counted as one.
    status: bool,
}

/// The publisher. `ARENA` bytes hold the unsent and unacknowledged packets, at most
/// `ENTRIES` of them.
pub struct Client<L: Link, const ARENA: usize, const ENTRIES: usize> {
    link: L,
    qos: Qos,
    state: State,
    backoff_ms: u64,
    arena: [u8; ARENA],
    used: usize,
    entries: Vec<Entry, ENTRIES>,
    /// Next entry to write and how much of it is already written.
    cursor: usize,
    written: usize,
    next_packet_id: u16,
    /// The CONNECT packet (rebuilt on each attempt from these).
    connect: [u8; 256],
    connect_len: usize,
    connect_written: usize,
    status_topic: Vec<u8, 128>,
    rx: [u8; 64],
    rx_len: usize,
    last_send_ms: u64,
    ping_sent_ms: Option<u64>,
    /// Counters.
    pub counters: MqttCounters,
}

/// Payloads of the status topic.
pub const ONLINE: &[u8] = b"online";
/// Payload of the last will and of a clean shutdown.
pub const OFFLINE: &[u8] = b"offline";

impl<L: Link, const ARENA: usize, const ENTRIES: usize> Client<L, ARENA, ENTRIES> {
    /// A client that will connect as `nltelem-HOST` and keep `TOPIC_PREFIX/status` up to
    /// date.
    pub fn new(link: L, host: &[u8], topic_prefix: &[u8], qos: Qos) -> Result<Self, TooLong> {
        let mut client = Self::idle(link);
        client.start(host, topic_prefix, qos)?;
        Ok(client)
    }

    /// A client that is not started: every field zero (so a static one lives in `.bss`),
    /// and no use before [`Client::restart`] or [`Client::start`].
    pub const fn idle(link: L) -> Self {
        Client {
            link,
            qos: Qos::AtMostOnce,
            state: State::Waiting { retry_at_ms: 0 },
            backoff_ms: 0,
            arena: [0; ARENA],
            used: 0,
            entries: Vec::new(),
            cursor: 0,
            written: 0,
            next_packet_id: 0,
            connect: [0; 256],
            connect_len: 0,
            connect_written: 0,
            status_topic: Vec::new(),
            rx: [0; 64],
            rx_len: 0,
            last_send_ms: 0,
            ping_sent_ms: None,
            counters: MqttCounters {
                queued: 0,
                dropped: 0,
                delivered: 0,
                connects: 0,
                disconnects: 0,
                resent: 0,
            },
        }
    }

    /// Makes this client a new one over `link`, in place: its buffers are reused, never
    /// copied (a client kept in static memory is never on the stack). The previous link
    /// is dropped, closing its connection.
    pub fn restart(
        &mut self,
        link: L,
        host: &[u8],
        topic_prefix: &[u8],
        qos: Qos,
    ) -> Result<(), TooLong> {
        self.link = link;
        self.start(host, topic_prefix, qos)
    }

    /// Every field but the link and the arena's bytes to a fresh client's value; the
    /// names made here, so no caller needs buffers of its own for them.
    fn start(&mut self, host: &[u8], topic_prefix: &[u8], qos: Qos) -> Result<(), TooLong> {
        let status = &mut self.status_topic;
        status.clear();
        status
            .extend_from_slice(topic_prefix)
            .and_then(|()| status.extend_from_slice(b"/status"))
            .map_err(|_| TooLong)?;
        // The client identifier, gathered in the arena: it holds nothing yet.
        let mut id = Out {
            buf: &mut self.arena,
            len: 0,
        };
        id.put(b"nltelem-")?;
        id.put(host)?;
        let id_len = id.len;
        let client_id = self.arena.get(..id_len).unwrap_or_default();
        let will = Will {
            topic: &self.status_topic,
            payload: OFFLINE,
        };
        self.connect_len = encode_connect(&mut self.connect, client_id, KEEP_ALIVE_S, Some(will))?;
        self.qos = qos;
        self.state = State::Waiting { retry_at_ms: 0 };
        self.backoff_ms = BACKOFF_MIN_MS;
        self.used = 0;
        self.entries.clear();
        self.cursor = 0;
        self.written = 0;
        self.next_packet_id = 1;
        self.connect_written = 0;
        self.rx_len = 0;
        self.last_send_ms = 0;
        self.ping_sent_ms = None;
        self.counters = MqttCounters::default();
        Ok(())
    }

    /// Where the connection is.
    pub fn state(&self) -> State {
        self.state
    }

    /// Packets waiting to be written or acknowledged.
    pub fn backlog(&self) -> usize {
        self.entries.len()
    }

    /// The CONNECT packet the client sends (the tests inspect it).
    #[cfg(test)]
    pub(crate) fn connect_packet(&self) -> &[u8] {
        &self.connect[..self.connect_len]
    }

    /// The link (the tests inspect it).
    pub fn link(&self) -> &L {
        &self.link
    }

    fn packet_id(&mut self) -> u16 {
        let id = self.next_packet_id;
        // Identifiers are 1..=65535; 0 is not allowed.
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        id
    }

    /// Queues one record for `topic`; `false` (and counted) when it does not fit.
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    pub fn publish(&mut self, topic: &[u8], payload: &[u8]) -> bool {
        let queued = self.enqueue(topic, payload, false);
        let counter = if queued {
            &mut self.counters.queued
        } else {
            &mut self.counters.dropped
        };
        *counter = counter.saturating_add(1);
        queued
    }

    /// Encodes a PUBLISH at the end of the arena and files it: a record last in line, the
    /// retained status (QoS 1, to the status topic: `topic` is not used) first, ahead of
    /// the backlog (nothing has been written since the connect then). The arena's order
    /// need not be the line's: see [`Client::remove`].
    fn enqueue(&mut self, topic: &[u8], payload: &[u8], status: bool) -> bool {
        if self.entries.is_full() {
            return false;
        }
        let qos = if status { Qos::AtLeastOnce } else { self.qos };
        let packet_id = if qos == Qos::AtLeastOnce {
            self.packet_id()
        } else {
            0
        };
        let topic = if status { &self.status_topic } else { topic };
        let start = self.used;
        let free = self.arena.get_mut(start..).unwrap_or_default();
        let Ok(len) = encode_publish(free, topic, payload, qos, status, packet_id) else {
            return false;
        };
        self.used += len;
        let entry = Entry {
            start: start as u32,
            len: len as u32,
            packet_id,
            in_flight: false,
            status,
        };
        let at = if status { 0 } else { self.entries.len() };
        // Not full: checked above.
        let _ = self.entries.insert(at, entry);
        true
    }

    /// Removes entry `i` and closes the gap it leaves in the arena.
    fn remove(&mut self, i: usize) {
        let e = self.entries.remove(i);
        let (start, len) = (e.start as usize, e.len as usize);
        self.arena.copy_within(start + len..self.used, start);
        self.used -= len;
        for other in self.entries.iter_mut() {
            if other.start > e.start {
                other.start -= e.len;
            }
        }
        if i < self.cursor {
            self.cursor -= 1;
        }
    }

    /// The one way out of a connection, whatever ended it (see [`Lost`]).
    fn lost_connection(&mut self, now_ms: u64) {
        self.link.close();
        self.counters.disconnects = self.counters.disconnects.saturating_add(1);
        self.state = State::Waiting {
            retry_at_ms: now_ms.saturating_add(self.backoff_ms),
        };
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        self.rx_len = 0;
        self.ping_sent_ms = None;
        // Unacknowledged QoS 1 publishes go again, marked as duplicates; a half-written
        // packet starts over. The old `online` is no longer news: a new one follows the
        // next CONNACK. There is at most one, and it is first: filed first at a CONNACK,
        // only records are filed after it, dropped here.
        if self.entries.first().is_some_and(|e| e.status) {
            self.remove(0);
        }
        for e in self.entries.iter_mut() {
            if e.in_flight {
                e.in_flight = false;
                if let Some(first) = self.arena.get_mut(e.start as usize) {
                    *first |= PUBLISH_DUP;
                }
                self.counters.resent = self.counters.resent.saturating_add(1);
            }
        }
        self.cursor = 0;
        self.written = 0;
    }

    /// Does whatever can be done now without waiting: connect, write, read acks, ping,
    /// time out. Call it after queueing and periodically (at least every second).
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    pub fn poll(&mut self, now_ms: u64) {
        if self.step(now_ms).is_err() {
            self.lost_connection(now_ms);
        }
    }

    /// [`Client::poll`]'s work: each state hands over to the next as soon as it is done,
    /// so a fast link goes from connect to flushing in one call. Nothing here waits.
    fn step(&mut self, now_ms: u64) -> Result<(), Lost> {
        if let State::Waiting { retry_at_ms } = self.state {
            if now_ms < retry_at_ms {
                return Ok(());
            }
            self.link.open().map_err(|_| Lost)?;
            self.connect_written = 0;
            self.rx_len = 0;
            self.state = State::AwaitingConnAck { since_ms: now_ms };
        }
        if let State::AwaitingConnAck { .. } = self.state {
            // Nothing is taken before the TCP connect is done (see `Link::open`).
            let connect = self.connect.get(..self.connect_len).unwrap_or_default();
            write_rest(&mut self.link, connect, &mut self.connect_written)?;
        }
        // The CONNACK and whatever follows it; then only a connected client goes on.
        self.read(now_ms)?;
        if let State::AwaitingConnAck { since_ms } = self.state {
            return in_time(now_ms, since_ms, CONNECT_TIMEOUT_MS);
        }
        self.flush(now_ms)?;
        self.keep_alive(now_ms)
    }

    /// Reads and handles what the broker sent.
    fn read(&mut self, now_ms: u64) -> Result<(), Lost> {
        loop {
            match self
                .link
                .recv(self.rx.get_mut(self.rx_len..).unwrap_or_default())
            {
                Ok(0) | Err(LinkError::Closed) => return Err(Lost),
                Ok(n) => self.rx_len += n,
                Err(LinkError::WouldBlock) => return Ok(()),
            }
            while let Some((packet, used)) =
                decode(self.rx.get(..self.rx_len).unwrap_or_default()).map_err(|_| Lost)?
            {
                self.rx.copy_within(used..self.rx_len, 0);
                self.rx_len -= used;
                self.handle(packet, now_ms)?;
            }
        }
    }

    fn handle(&mut self, packet: Incoming, now_ms: u64) -> Result<(), Lost> {
        match (packet, self.state) {
            (Incoming::ConnAck { return_code: 0 }, State::AwaitingConnAck { .. }) => {
                self.state = State::Connected;
                self.backoff_ms = BACKOFF_MIN_MS;
                self.counters.connects = self.counters.connects.saturating_add(1);
                self.last_send_ms = now_ms;
                // The retained `online` first in line. Without room the backlog goes first
                // and the broker keeps the old retained status; the next connect tries
                // again.
                self.enqueue(&[], ONLINE, true);
            }
            (Incoming::PubAck(id), State::Connected) => {
                if let Some(i) = self
                    .entries
                    .iter()
                    .position(|e| e.in_flight && e.packet_id == id)
                {
                    if self.entries.get(i).is_some_and(|e| !e.status) {
                        self.counters.delivered = self.counters.delivered.saturating_add(1);
                    }
                    self.remove(i);
                }
                // An acknowledgement for nothing in flight (a duplicate) is harmless.
            }
            (Incoming::PingResp, State::Connected) => self.ping_sent_ms = None,
            // A refused CONNECT, or a packet out of place.
            _ => return Err(Lost),
        }
        Ok(())
    }

    /// Writes queued packets until the socket takes no more.
    fn flush(&mut self, now_ms: u64) -> Result<(), Lost> {
        while let Some(&e) = self.entries.get(self.cursor) {
            let (start, len) = (e.start as usize, e.len as usize);
            let packet = self.arena.get(start..start + len).unwrap_or_default();
            let before = self.written;
            let done = write_rest(&mut self.link, packet, &mut self.written)?;
            if self.written != before {
                self.last_send_ms = now_ms;
            }
            if !done {
                return Ok(());
            }
            self.written = 0;
            if e.packet_id == 0 {
                self.counters.delivered = self.counters.delivered.saturating_add(1);
                self.remove(self.cursor);
            } else {
                if let Some(e) = self.entries.get_mut(self.cursor) {
                    e.in_flight = true;
                }
                self.cursor += 1;
            }
        }
        Ok(())
    }

    fn keep_alive(&mut self, now_ms: u64) -> Result<(), Lost> {
        let keep_alive_ms = u64::from(KEEP_ALIVE_S) * 1000;
        if let Some(sent) = self.ping_sent_ms {
            // No PINGRESP within the keep-alive: the connection is dead.
            return in_time(now_ms, sent, keep_alive_ms);
        }
        if now_ms.saturating_sub(self.last_send_ms) >= keep_alive_ms / 2 && self.written == 0 {
            let mut written = 0;
            // Half a PINGREQ cannot be taken back: a broken stream (so is a closed one).
            if write_rest(&mut self.link, &[PINGREQ, 0], &mut written)? {
                self.last_send_ms = now_ms;
                self.ping_sent_ms = Some(now_ms);
            } else if written != 0 {
                return Err(Lost);
            }
        }
        Ok(())
    }

    /// Ends the session cleanly, as far as the socket takes it without waiting: retained
    /// `offline`, then DISCONNECT (which tells the broker not to publish the will).
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    pub fn shutdown(&mut self, now_ms: u64) {
        // Finish a half-written packet first so the stream stays well-formed.
        if self.state == State::Connected && self.flush(now_ms).is_ok() && self.written == 0 {
            let mut packet = [0u8; 160];
            let topic = &self.status_topic;
            if let Ok(len) = encode_publish(&mut packet, topic, OFFLINE, Qos::AtMostOnce, true, 0) {
                // Both packets in one write.
                if let Some(end) = packet.get_mut(len..len + 2) {
                    end.copy_from_slice(&[DISCONNECT, 0]);
                    let _ = self.link.send(packet.get(..len + 2).unwrap_or_default());
                }
            }
        }
        self.link.close();
        self.state = State::Waiting {
            retry_at_ms: u64::MAX,
        };
    }
}

/// The connection is over: closed, refused, garbled or timed out. Every step returns it
/// with `?`, and [`Client::poll`] alone acts on it.
struct Lost;

/// `Err(Lost)` once more than `limit_ms` have passed since `since_ms`.
// Out of line: the binary measured smaller than with it inlined.
#[inline(never)]
fn in_time(now_ms: u64, since_ms: u64, limit_ms: u64) -> Result<(), Lost> {
    if now_ms.saturating_sub(since_ms) > limit_ms {
        return Err(Lost);
    }
    Ok(())
}

/// Writes what the socket takes of `packet` past its first `*written` bytes (CONNECT,
/// PUBLISH and PINGREQ all go out here); `true` once all of it is written.
fn write_rest<L: Link>(link: &mut L, packet: &[u8], written: &mut usize) -> Result<bool, Lost> {
    let rest = packet.get(*written..).unwrap_or_default();
    if !rest.is_empty() {
        match link.send(rest) {
            Ok(n) => *written += n,
            Err(LinkError::WouldBlock) => {}
            Err(LinkError::Closed) => return Err(Lost),
        }
    }
    Ok(*written >= packet.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted broker end: records what the client wrote, hands it what the test put.
    #[derive(Default)]
    struct Script {
        up: bool,
        connect_fails: bool,
        /// The connect is still in progress: sending and receiving would block.
        connecting: bool,
        written: std::vec::Vec<u8>,
        /// Bytes the socket takes per send call (None: all).
        window: Option<usize>,
        inbound: VecDeque<u8>,
        eof: bool,
        opens: u32,
    }

    impl Link for Script {
        fn open(&mut self) -> Result<(), LinkError> {
            self.opens += 1;
            if self.connect_fails {
                return Err(LinkError::Closed);
            }
            self.up = true;
            Ok(())
        }
        fn send(&mut self, bytes: &[u8]) -> Result<usize, LinkError> {
            if !self.up || self.eof {
                return Err(LinkError::Closed);
            }
            if self.connecting {
                return Err(LinkError::WouldBlock);
            }
            let n = self.window.map_or(bytes.len(), |w| w.min(bytes.len()));
            if n == 0 {
                return Err(LinkError::WouldBlock);
            }
            self.written.extend_from_slice(&bytes[..n]);
            if let Some(w) = &mut self.window {
                *w -= n;
            }
            Ok(n)
        }
        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
            if self.eof {
                return Ok(0);
            }
            if self.connecting || self.inbound.is_empty() {
                return Err(LinkError::WouldBlock);
            }
            let n = buf.len().min(self.inbound.len());
            for b in buf.iter_mut().take(n) {
                *b = self.inbound.pop_front().unwrap();
            }
            Ok(n)
        }
        fn close(&mut self) {
            self.up = false;
            self.eof = false;
        }
    }

    type TestClient = Client<Script, 512, 8>;

    fn client(qos: Qos) -> TestClient {
        Client::new(Script::default(), b"router1", b"nltelem/router1", qos).unwrap()
    }

    /// Splits the written bytes into packets: (first byte, body).
    fn packets(bytes: &[u8]) -> std::vec::Vec<(u8, std::vec::Vec<u8>)> {
        let mut out = std::vec::Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let first = bytes[i];
            let (mut len, mut shift, mut j) = (0usize, 0, i + 1);
            loop {
                let b = bytes[j];
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                j += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
            out.push((first, bytes[j..j + len].to_vec()));
            i = j + len;
        }
        out
    }

    /// A PUBLISH body as (topic, packet id, payload).
    fn publish_parts(first: u8, body: &[u8]) -> (String, Option<u16>, std::vec::Vec<u8>) {
        let tlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
        let topic = String::from_utf8(body[2..2 + tlen].to_vec()).unwrap();
        let mut rest = &body[2 + tlen..];
        let id = if first & 0x06 != 0 {
            let id = u16::from_be_bytes([rest[0], rest[1]]);
            rest = &rest[2..];
            Some(id)
        } else {
            None
        };
        (topic, id, rest.to_vec())
    }

    fn connect_now(c: &mut TestClient, now: u64) {
        c.poll(now);
        assert_eq!(c.state(), State::AwaitingConnAck { since_ms: now });
        c.link.inbound.extend([0x20, 0x02, 0x00, 0x00]);
        c.poll(now);
        assert_eq!(c.state(), State::Connected);
    }

    #[test]
    fn connect_packet_matches_the_standard_layout() {
        let mut buf = [0u8; 64];
        let will = Will {
            topic: b"t/s",
            payload: b"offline",
        };
        let n = encode_connect(&mut buf, b"id", 30, Some(will)).unwrap();
        let expected: &[u8] = &[
            0x10, 28, // CONNECT, remaining length: 10 (variable header) + 18 (payload)
            0, 4, b'M', b'Q', b'T', b'T', 4,    // protocol name, level 4 (3.1.1)
            0x2e, // clean session | will | will QoS 1 | will retain
            0, 30, // keep alive
            0, 2, b'i', b'd', // client identifier
            0, 3, b't', b'/', b's', // will topic
            0, 7, b'o', b'f', b'f', b'l', b'i', b'n', b'e', // will message
        ];
        assert_eq!(&buf[..n], expected);
    }

    #[test]
    fn publish_packets_and_long_remaining_lengths() {
        let mut buf = [0u8; 400];
        let n = encode_publish(&mut buf, b"a/b", b"xy", Qos::AtLeastOnce, false, 0x1234).unwrap();
        assert_eq!(
            &buf[..n],
            &[0x32, 9, 0, 3, b'a', b'/', b'b', 0x12, 0x34, b'x', b'y']
        );
        let n = encode_publish(&mut buf, b"a", b"z", Qos::AtMostOnce, true, 0).unwrap();
        assert_eq!(&buf[..n], &[0x31, 4, 0, 1, b'a', b'z']);
        // 321 bytes remaining: two length bytes, 0xc1 0x02 (65 + 2 * 128).
        let payload = [b'p'; 318];
        let n = encode_publish(&mut buf, b"a", &payload, Qos::AtMostOnce, false, 0).unwrap();
        assert_eq!(&buf[..3], &[0x30, 0xc1, 0x02]);
        assert_eq!(n, 3 + 321);
        assert_eq!(
            encode_publish(&mut buf[..10], b"a", &payload, Qos::AtMostOnce, false, 0),
            Err(TooLong)
        );
    }

    #[test]
    fn incoming_packets_decode_and_garbage_is_refused() {
        assert_eq!(
            decode(&[0x20, 2, 0, 5, 0xff]),
            Ok(Some((Incoming::ConnAck { return_code: 5 }, 4)))
        );
        assert_eq!(
            decode(&[0x40, 2, 0xab, 0xcd]),
            Ok(Some((Incoming::PubAck(0xabcd), 4)))
        );
        assert_eq!(decode(&[0xd0, 0]), Ok(Some((Incoming::PingResp, 2))));
        assert_eq!(decode(&[0x40, 2, 0xab]), Ok(None));
        assert_eq!(decode(&[0x40]), Ok(None));
        assert_eq!(decode(&[0x30, 0x85, 1]), Err(ProtocolError));
        assert_eq!(decode(&[0x40, 3, 0, 1, 2]), Err(ProtocolError));
    }

    #[test]
    fn online_goes_first_then_the_backlog_then_acks_free_the_arena() {
        let mut c = client(Qos::AtLeastOnce);
        // Queued while not connected yet: kept.
        assert!(c.publish(b"nltelem/router1/system", b"one"));
        assert!(c.publish(b"nltelem/router1/system", b"two"));
        connect_now(&mut c, 0);
        let written = core::mem::take(&mut c.link.written);
        let p = packets(&written);
        assert_eq!(p[0].0, 0x10, "CONNECT first");
        assert_eq!(p[1].0, 0x33, "retained QoS 1 status next");
        let (topic, online_id, payload) = publish_parts(p[1].0, &p[1].1);
        assert_eq!(
            (topic.as_str(), payload.as_slice()),
            ("nltelem/router1/status", ONLINE)
        );
        let (_, id1, payload1) = publish_parts(p[2].0, &p[2].1);
        let (_, id2, payload2) = publish_parts(p[3].0, &p[3].1);
        assert_eq!(
            (payload1.as_slice(), payload2.as_slice()),
            (&b"one"[..], &b"two"[..])
        );
        assert_eq!(c.backlog(), 3);
        for id in [online_id, id1, id2] {
            let id = id.unwrap().to_be_bytes();
            c.link.inbound.extend([0x40, 2, id[0], id[1]]);
        }
        c.poll(1);
        assert_eq!(c.backlog(), 0);
        assert_eq!(
            c.counters.delivered, 2,
            "the status message is not a record"
        );
        assert_eq!(c.counters.queued, 2);
    }

    #[test]
    fn a_full_arena_refuses_and_counts_instead_of_waiting() {
        let mut c = client(Qos::AtLeastOnce);
        let payload = [b'x'; 100];
        let mut accepted = 0;
        for _ in 0..10 {
            if c.publish(b"t", &payload) {
                accepted += 1;
            }
        }
        // 107-byte packets in a 512-byte arena.
        assert_eq!(accepted, 4);
        assert_eq!(c.counters.dropped, 6);
        // The broker never answers: still nothing blocks, the state machine times out.
        c.poll(0);
        c.poll(CONNECT_TIMEOUT_MS + 1);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: CONNECT_TIMEOUT_MS + 1 + BACKOFF_MIN_MS
            }
        );
        assert_eq!(c.backlog(), 4, "the backlog survives the failed attempt");
    }

    #[test]
    fn reconnect_waits_with_doubling_backoff_and_resends_with_dup() {
        let mut c = client(Qos::AtLeastOnce);
        connect_now(&mut c, 0);
        assert!(c.publish(b"t", b"a"));
        c.poll(1);
        let ids: std::vec::Vec<u16> = packets(&c.link.written)
            .iter()
            .filter(|(first, _)| first & 0xf0 == PUBLISH)
            .filter_map(|(first, body)| publish_parts(*first, body).1)
            .collect();
        assert_eq!(ids.len(), 2, "online and the record, both in flight");
        c.link.written.clear();
        // The broker goes away, and stays away for three attempts.
        c.link.eof = true;
        c.poll(2);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: 2 + BACKOFF_MIN_MS
            }
        );
        c.link.connect_fails = true;
        c.poll(2 + BACKOFF_MIN_MS);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: 2 + 3 * BACKOFF_MIN_MS
            }
        );
        c.poll(2 + 3 * BACKOFF_MIN_MS);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: 2 + 7 * BACKOFF_MIN_MS
            }
        );
        // Nothing is tried before the wait is over.
        let opens = c.link.opens;
        c.poll(2 + 6 * BACKOFF_MIN_MS);
        assert_eq!(c.link.opens, opens);
        c.link.connect_fails = false;
        let t = 2 + 7 * BACKOFF_MIN_MS;
        connect_now(&mut c, t);
        let p = packets(&c.link.written);
        // CONNECT, a fresh online, then the unacknowledged record again with DUP.
        assert_eq!(p[0].0, 0x10);
        assert_eq!(publish_parts(p[1].0, &p[1].1).2, ONLINE);
        assert_eq!(p[2].0, 0x30 | PUBLISH_DUP | 0x02);
        assert_eq!(publish_parts(p[2].0, &p[2].1).2, b"a");
        assert_eq!(c.counters.resent, 1);
        assert_eq!(c.counters.disconnects, 3);
        // A successful connect resets the backoff.
        c.link.eof = true;
        c.poll(t + 1);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: t + 1 + BACKOFF_MIN_MS
            }
        );
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut c = client(Qos::AtMostOnce);
        connect_now(&mut c, 0);
        c.link.written.clear();
        // Acknowledge the online status so only the record remains.
        let online_id = 1u16.to_be_bytes();
        c.link.inbound.extend([0x40, 2, online_id[0], online_id[1]]);
        c.poll(0);
        c.link.window = Some(5);
        assert!(c.publish(b"topic", b"payload"));
        c.poll(1);
        assert_eq!(c.link.written.len(), 5);
        c.link.window = Some(100);
        c.poll(2);
        let p = packets(&c.link.written);
        assert_eq!(p.len(), 1);
        assert_eq!(
            publish_parts(p[0].0, &p[0].1),
            ("topic".into(), None, b"payload".to_vec())
        );
        assert_eq!((c.counters.delivered, c.backlog()), (1, 0));
    }

    #[test]
    fn a_silent_broker_is_pinged_then_dropped() {
        let mut c = client(Qos::AtMostOnce);
        connect_now(&mut c, 0);
        c.link.written.clear();
        let half = u64::from(KEEP_ALIVE_S) * 500;
        c.poll(half);
        assert_eq!(c.link.written, [PINGREQ, 0]);
        c.link.inbound.extend([PINGRESP, 0]);
        c.poll(half + 1);
        assert_eq!(c.state(), State::Connected);
        c.poll(2 * half + 1);
        // No answer to this one within the keep-alive: reconnect.
        c.poll(2 * half + 1 + 2 * half + 1);
        assert!(matches!(c.state(), State::Waiting { .. }));
    }

    #[test]
    fn a_refused_connect_backs_off() {
        let mut c = client(Qos::AtMostOnce);
        c.poll(0);
        c.link.inbound.extend([0x20, 2, 0, 5]);
        c.poll(0);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: BACKOFF_MIN_MS
            }
        );
        assert_eq!(c.counters.connects, 0);
    }

    /// A TCP connect in progress: nothing is written until the link takes bytes, then the
    /// whole CONNECT; a connect that never completes times out like a missing CONNACK.
    #[test]
    fn a_slow_connect_sends_connect_once_up_and_times_out_when_never_up() {
        let mut c = client(Qos::AtMostOnce);
        c.link.connecting = true;
        c.poll(0);
        assert_eq!(c.state(), State::AwaitingConnAck { since_ms: 0 });
        assert!(c.link.written.is_empty());
        c.link.connecting = false;
        c.poll(1);
        assert_eq!(c.link.written, c.connect_packet());
        c.link.inbound.extend([0x20, 2, 0, 0]);
        c.poll(2);
        assert_eq!(c.state(), State::Connected);

        let mut c = client(Qos::AtMostOnce);
        c.link.connecting = true;
        c.poll(0);
        c.poll(CONNECT_TIMEOUT_MS);
        assert_eq!(c.state(), State::AwaitingConnAck { since_ms: 0 });
        c.poll(CONNECT_TIMEOUT_MS + 1);
        assert_eq!(
            c.state(),
            State::Waiting {
                retry_at_ms: CONNECT_TIMEOUT_MS + 1 + BACKOFF_MIN_MS
            }
        );
        assert!(c.link.written.is_empty());
        assert_eq!(c.counters.disconnects, 1);
    }

    #[test]
    fn shutdown_publishes_offline_then_disconnects() {
        let mut c = client(Qos::AtMostOnce);
        connect_now(&mut c, 0);
        c.link.written.clear();
        c.shutdown(1);
        let p = packets(&c.link.written);
        let last = p.len() - 1;
        assert_eq!(p[last], (DISCONNECT, vec![]));
        assert_eq!(p[last - 1].0, 0x31);
        assert_eq!(publish_parts(p[last - 1].0, &p[last - 1].1).2, OFFLINE);
    }
}
