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
//! The client keeps the records' publishes in one fixed arena, oldest first, until they are
//! written (QoS 0) or acknowledged (QoS 1; a broker acknowledges in the order it received,
//! section 4.6), and writes all it can in one go. When the broker is away the arena holds
//! the backlog; when it is full, new records are refused, so sampling never waits for the
//! network. After a reconnect, unacknowledged QoS 1 publishes go out again with DUP set.
//! The session's own packets are made once: at each connect the CONNECT and the retained
//! `online` go out together (a client need not wait for the CONNACK, section 3.1.4), the
//! records after the CONNACK.
//!
//! Topics (`PREFIX` from the `export` line, `HOST` the node name):
//! `PREFIX/HOST/status`: retained `online` after each connect, `offline` as the last will
//! (the broker publishes it when the connection dies) and before a clean disconnect.
//! Records go to topics the caller builds (`PREFIX/HOST/MEASUREMENT[/KEY]`).

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

/// Packet identifier of the retained `online`; the records' identifiers run from 2 to
/// 65535 and wrap, so an acknowledgement says which of the two it is for.
const STATUS_ID: u16 = 1;
const FIRST_RECORD_ID: u16 = 2;

/// Quality of service of the publishes; the value is its bits in a PUBLISH's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Qos {
    /// At most once: written to the socket, then forgotten.
    AtMostOnce = 0,
    /// At least once: kept until the broker's PUBACK, sent again after a reconnect.
    AtLeastOnce = 1 << 1,
}

/// A packet does not fit the buffer it is written into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// A name in two pieces (the second may be empty), so that names made of a prefix and a
/// suffix need not be gathered anywhere first.
type Pieces<'a> = [&'a [u8]; 2];

/// Writes packets into a byte slice, after its first `len` bytes.
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

    /// Every packet: the first byte, the remaining length, then `parts` in order. Each of
    /// MQTT's strings and binary fields is two parts ([`Pieces`]) after a u16 length: the
    /// part whose bit is set in `fields` (bit 0 for the first part) and the next. The
    /// buffers here are far below MQTT's 256 MiB limit, so a packet that fits never needs
    /// a fifth length byte.
    fn packet(&mut self, first: u8, parts: &[&[u8]], fields: u8) -> Result<(), TooLong> {
        let mut rest = 0;
        for (i, part) in parts.iter().enumerate() {
            rest += part.len() + 2 * usize::from(fields >> i & 1);
        }
        self.put(&[first])?;
        loop {
            // Seven bits at a time, low first; bit 7 says another byte follows.
            let low = rest as u8 & 0x7f;
            rest >>= 7;
            self.put(&[low | if rest > 0 { 0x80 } else { 0 }])?;
            if rest == 0 {
                break;
            }
        }
        for (i, part) in parts.iter().enumerate() {
            if fields >> i & 1 != 0 {
                let len = part.len() + parts.get(i + 1).map_or(0, |rest| rest.len());
                let len = u16::try_from(len).map_err(|_| TooLong)?;
                self.put(&len.to_be_bytes())?;
            }
            self.put(part)?;
        }
        Ok(())
    }

    /// A CONNECT: clean session, and a last will at QoS 1, retained.
    fn connect(
        &mut self,
        client_id: Pieces<'_>,
        keep_alive_s: u16,
        will_topic: Pieces<'_>,
        will_payload: &[u8],
    ) -> Result<(), TooLong> {
        let flags = CONNECT_CLEAN_SESSION | CONNECT_WILL | CONNECT_WILL_QOS1 | CONNECT_WILL_RETAIN;
        let [ka_hi, ka_lo] = keep_alive_s.to_be_bytes();
        // The protocol name as a field, level 4 (MQTT 3.1.1), the flags and the keep-alive:
        // one part; then the client identifier, the will's topic and payload as fields.
        let header = [0, 4, b'M', b'Q', b'T', b'T', 4, flags, ka_hi, ka_lo];
        let [id, id_rest] = client_id;
        let [topic, topic_rest] = will_topic;
        let parts = [&header, id, id_rest, topic, topic_rest, will_payload, &[]];
        self.packet(CONNECT, &parts, 0b010_1010)
    }

    /// A PUBLISH; `packet_id` is written at QoS 1 only.
    // Inline: the binary measured smaller with it inlined into its three callers.
    #[inline(always)]
    fn publish(
        &mut self,
        topic: Pieces<'_>,
        payload: &[u8],
        qos: Qos,
        retain: bool,
        packet_id: u16,
    ) -> Result<(), TooLong> {
        let id = packet_id.to_be_bytes();
        let id: &[u8] = if qos == Qos::AtLeastOnce { &id } else { &[] };
        let first = PUBLISH | qos as u8 | if retain { PUBLISH_RETAIN } else { 0 };
        let [topic, topic_rest] = topic;
        self.packet(first, &[topic, topic_rest, id, payload], 0b0001)
    }
}

/// The length of the packet at `bytes[at..end]`, fixed header included (read from its
/// remaining length); `None` unless all of it is there.
fn whole_packet(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
    let (mut rest, mut shift) = (0, 0);
    for i in 1..5 {
        let byte = *bytes.get(at + i)?;
        rest |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            let len = i + 1 + rest;
            return (at + len <= end).then_some(len);
        }
        shift += 7;
    }
    None
}

/// Why the bytes from the broker make no sense to a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError;

/// Reads one packet from the front of `bytes`: `Ok(None)` when more bytes are needed, else
/// its first byte, the 16 bits it carries and how many bytes it took. A publisher receives
/// three packets: CONNACK (session present, return code: 0 accepted, 1-5 refused), PUBACK
/// (the packet identifier) and PINGRESP (nothing: 0).
pub fn decode(bytes: &[u8]) -> Result<Option<(u8, u16, usize)>, ProtocolError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    let body_len = match first {
        CONNACK | PUBACK => 2,
        PINGRESP => 0,
        _ => return Err(ProtocolError),
    };
    match bytes.get(1) {
        None => return Ok(None),
        Some(&remaining) if usize::from(remaining) != body_len => return Err(ProtocolError),
        Some(_) => {}
    }
    let value = match bytes.get(2..2 + body_len) {
        None => return Ok(None),
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        Some(_) => 0,
    };
    Ok(Some((first, value, 2 + body_len)))
}

/// A non-blocking byte stream to the broker (TCP in the agent, a script in the tests).
/// `send` and `recv` say how many bytes they moved, 0 when that would need waiting
/// (connect in progress, socket buffer full, nothing arrived), and `None` once the
/// connection failed or ended: the one thing the client needs to know besides a count.
pub trait Link {
    /// Starts connecting (returns at once); `false` when that failed at once. A connect in
    /// progress moves nothing, one that failed shows as `None` in `send` and `recv` (as
    /// TCP sockets do), so the client needs no state of its own for it.
    fn open(&mut self) -> bool;
    /// Writes some of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Option<usize>;
    /// Reads what has arrived into `buf` (not empty); the peer's end of the stream is
    /// `None`.
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize>;
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
const KEEP_ALIVE_MS: u64 = KEEP_ALIVE_S as u64 * 1000;

/// Where the connection is. Each phase has one timer, [`Client`]'s `due_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Not connected; the next attempt is due.
    Waiting,
    /// The TCP connect, the CONNECT and `online` under way, no CONNACK yet; lost when due.
    Connecting,
    /// Records flow; a PINGREQ goes out when due.
    Connected,
    /// Records flow, a PINGREQ is unanswered; lost when due.
    Pinging,
}

/// The client's connection counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MqttCounters {
    /// Connections established (CONNACK accepted).
    pub connects: u64,
    /// Connections lost or refused, attempts that timed out.
    pub disconnects: u64,
    /// QoS 1 publishes sent again after a reconnect (counted once written whole).
    pub resent: u64,
}

/// Room for a session's own packets with the longest names the exporters make (a 64-byte
/// host, a 160-byte topic prefix: 626 bytes).
const SESSION: usize = 640;

/// The publisher. `ARENA` bytes hold the unsent and unacknowledged publishes, at most
/// `ENTRIES` of them.
// In C's order, the scalars first: their offsets then fit in one byte of an x86_64
// instruction, which the binary measured smaller.
#[repr(C)]
pub struct Client<L: Link, const ARENA: usize, const ENTRIES: usize> {
    phase: Phase,
    qos: Qos,
    /// The `online` of this connection is not acknowledged yet (it counts in the backlog).
    status_unacked: bool,
    /// Packet identifiers of the publish at `head` and of the next one: both step the same
    /// way, so the oldest's is known without reading it.
    front_id: u16,
    next_id: u16,
    /// When the phase's time is up (ms): the next attempt, the CONNACK's or the PINGRESP's
    /// deadline, the next PINGREQ.
    due_ms: u64,
    backoff_ms: u64,
    /// The publishes in line, oldest first, are `arena[head..used]`: those written whole
    /// on this connection (`arena[head..in_flight_end]`, QoS 1 only: a QoS 0 publish
    /// leaves once written), then the part written of the next
    /// (`arena[in_flight_end..sent]`), then the rest.
    head: usize,
    in_flight_end: usize,
    sent: usize,
    used: usize,
    packets: usize,
    /// `session[..online_end]` goes out at each connect, `session[online_end..session_len]`
    /// at a shutdown; `session_sent` bytes of the first are written.
    session_sent: usize,
    rx_len: usize,
    /// Counters.
    pub counters: MqttCounters,
    link: L,
    online_end: usize,
    session_len: usize,
    rx: [u8; 64],
    /// The session's own packets, made once: CONNECT and the retained `online` (written at
    /// each connect), the retained `offline` and DISCONNECT (written at a shutdown).
    session: [u8; SESSION],
    arena: [u8; ARENA],
}

/// Payloads of the status topic.
pub const ONLINE: &[u8] = b"online";
/// Payload of the last will and of a clean shutdown.
pub const OFFLINE: &[u8] = b"offline";

/// The identifier after `id` (records' identifiers wrap to [`FIRST_RECORD_ID`]).
fn next_id(id: u16) -> u16 {
    id.checked_add(1).unwrap_or(FIRST_RECORD_ID)
}

impl<L: Link, const ARENA: usize, const ENTRIES: usize> Client<L, ARENA, ENTRIES> {
    /// A client that will connect as `nltelem-HOST` and keep `TOPIC_PREFIX/status` up to
    /// date; `topic_prefix` is given with its `/` (as the records' topics start).
    pub fn new(link: L, host: &[u8], topic_prefix: &[u8], qos: Qos) -> Result<Self, TooLong> {
        let mut client = Self::idle(link);
        client.start(host, topic_prefix, qos)?;
        Ok(client)
    }

    /// A client that is not started: every field zero (so a static one lives in `.bss`),
    /// and no use before [`Client::restart`].
    pub const fn idle(link: L) -> Self {
        Client {
            link,
            qos: Qos::AtMostOnce,
            phase: Phase::Waiting,
            due_ms: 0,
            backoff_ms: 0,
            arena: [0; ARENA],
            head: 0,
            in_flight_end: 0,
            sent: 0,
            used: 0,
            packets: 0,
            front_id: 0,
            next_id: 0,
            session: [0; SESSION],
            online_end: 0,
            session_len: 0,
            session_sent: 0,
            status_unacked: false,
            rx: [0; 64],
            rx_len: 0,
            counters: MqttCounters {
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
    /// session's packets made here, with the names in pieces, so nobody needs buffers for
    /// them.
    fn start(&mut self, host: &[u8], topic_prefix: &[u8], qos: Qos) -> Result<(), TooLong> {
        let status = [topic_prefix, b"status"];
        let mut out = Out {
            buf: &mut self.session,
            len: 0,
        };
        out.connect([b"nltelem-", host], KEEP_ALIVE_S, status, OFFLINE)?;
        out.publish(status, ONLINE, Qos::AtLeastOnce, true, STATUS_ID)?;
        self.online_end = out.len;
        out.publish(status, OFFLINE, Qos::AtMostOnce, true, 0)?;
        out.packet(DISCONNECT, &[], 0)?;
        self.session_len = out.len;
        self.qos = qos;
        self.phase = Phase::Waiting;
        self.due_ms = 0;
        self.backoff_ms = BACKOFF_MIN_MS;
        self.head = 0;
        self.in_flight_end = 0;
        self.sent = 0;
        self.used = 0;
        self.packets = 0;
        self.front_id = FIRST_RECORD_ID;
        self.next_id = FIRST_RECORD_ID;
        self.status_unacked = false;
        self.counters = MqttCounters::default();
        Ok(())
    }

    /// The CONNECT packet the client sends (the tests inspect it).
    #[cfg(test)]
    pub(crate) fn connect_packet(&self) -> &[u8] {
        &self.session[..whole_packet(&self.session, 0, SESSION).unwrap()]
    }

    /// Whether the broker accepted the connection and it has not been lost since.
    pub fn connected(&self) -> bool {
        self.phase >= Phase::Connected
    }

    /// Packets waiting to be written or acknowledged.
    pub fn backlog(&self) -> usize {
        self.packets + usize::from(self.status_unacked)
    }

    /// Queues one record for `topic`; `false` when it does not fit.
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    pub fn publish(&mut self, topic: &[u8], payload: &[u8]) -> bool {
        if self.packets >= ENTRIES {
            return false;
        }
        let head = self.head;
        if head > 0 {
            // Written or acknowledged publishes left room at the front: close it up.
            self.arena.copy_within(head..self.used, 0);
            self.in_flight_end -= head;
            self.sent -= head;
            self.used -= head;
            self.head = 0;
        }
        let mut out = Out {
            buf: &mut self.arena,
            len: self.used,
        };
        if out
            .publish([topic, &[]], payload, self.qos, false, self.next_id)
            .is_err()
        {
            return false;
        }
        self.used = out.len;
        self.packets += 1;
        self.next_id = next_id(self.next_id);
        true
    }

    /// Forgets the oldest publish in flight: written, and at QoS 1 acknowledged.
    fn pop(&mut self) {
        let Some(len) = whole_packet(&self.arena, self.head, self.in_flight_end) else {
            return;
        };
        self.head += len;
        self.packets -= 1;
        self.front_id = next_id(self.front_id);
    }

    /// The one way out of a connection, whatever ended it (see [`Lost`]).
    fn lost_connection(&mut self, now_ms: u64) {
        self.link.close();
        self.counters.disconnects += 1;
        self.phase = Phase::Waiting;
        self.due_ms = now_ms + self.backoff_ms;
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        // The old `online` is no longer news: a new one follows the next connect.
        self.status_unacked = false;
        // The publishes in flight go again (marked as duplicates as they were written); a
        // half-written one starts over.
        self.in_flight_end = self.head;
        self.sent = self.head;
    }

    /// [`Client::shutdown`] when `ending`, else [`Client::poll`]: the exporters' one call
    /// after each message (one function for both: the binary measured smaller).
    #[inline(never)]
    pub fn progress(&mut self, now_ms: u64, ending: bool) {
        if ending {
            self.shutdown(now_ms);
        } else {
            self.poll(now_ms);
        }
    }

    /// Does whatever can be done now without waiting: connect, write, read acks, ping,
    /// time out. Call it after queueing and periodically (at least every second).
    pub fn poll(&mut self, now_ms: u64) {
        if self.step(now_ms).is_err() {
            self.lost_connection(now_ms);
        }
    }

    /// [`Client::poll`]'s work, the same in every phase but waiting: read, write, then act
    /// on the phase's timer. A fast link goes from connect to flushing in one call.
    fn step(&mut self, now_ms: u64) -> Result<(), Lost> {
        if self.phase == Phase::Waiting {
            if now_ms < self.due_ms {
                return Ok(());
            }
            if !self.link.open() {
                return Err(Lost);
            }
            self.phase = Phase::Connecting;
            self.due_ms = now_ms + CONNECT_TIMEOUT_MS + 1;
            self.session_sent = 0;
            self.rx_len = 0;
        }
        self.read(now_ms)?;
        let all_written = self.write(now_ms)?;
        if now_ms < self.due_ms {
            return Ok(());
        }
        // Time is up: no CONNACK, no PINGRESP, or a PINGREQ is due.
        if self.phase != Phase::Connected {
            return Err(Lost);
        }
        if all_written {
            match self.link.send(&[PINGREQ, 0]) {
                Some(2) => {
                    self.phase = Phase::Pinging;
                    self.due_ms = now_ms + KEEP_ALIVE_MS + 1;
                }
                Some(0) => {}
                // Half a PINGREQ cannot be taken back: a broken stream, as is a closed one.
                _ => return Err(Lost),
            }
        }
        Ok(())
    }

    /// Reads and handles what the broker sent.
    fn read(&mut self, now_ms: u64) -> Result<(), Lost> {
        loop {
            // Never empty: what stays in `rx` is a part of one packet (at most 4 bytes).
            let free = self.rx.get_mut(self.rx_len..).unwrap_or_default();
            match self.link.recv(free).ok_or(Lost)? {
                0 => return Ok(()),
                n => self.rx_len += n,
            }
            while let Some((first, value, len)) =
                decode(self.rx.get(..self.rx_len).unwrap_or_default()).map_err(|_| Lost)?
            {
                self.rx.copy_within(len..self.rx_len, 0);
                self.rx_len -= len;
                self.handle(first, value, now_ms)?;
            }
        }
    }

    /// Acts on one packet from the broker (see [`decode`]).
    fn handle(&mut self, first: u8, value: u16, now_ms: u64) -> Result<(), Lost> {
        let connected = self.connected();
        match first {
            // Accepted: return code 0.
            CONNACK if !connected && value as u8 == 0 => {
                self.backoff_ms = BACKOFF_MIN_MS;
                self.counters.connects += 1;
                self.status_unacked = true;
            }
            PUBACK if connected => {
                if value == STATUS_ID {
                    self.status_unacked = false;
                } else if value == self.front_id {
                    self.pop();
                }
                // An acknowledgement for nothing in flight (a duplicate) is harmless.
                return Ok(());
            }
            // The answer to the PINGREQ; one not asked for changes nothing.
            PINGRESP if self.phase == Phase::Pinging => {}
            PINGRESP if connected => return Ok(()),
            // A refused CONNECT, or a packet out of place.
            _ => return Err(Lost),
        }
        // Connected now, or again known to be: the next PINGREQ is due after half the
        // keep-alive.
        self.phase = Phase::Connected;
        self.due_ms = now_ms + KEEP_ALIVE_MS / 2;
        Ok(())
    }

    /// Writes what the socket takes: the rest of the CONNECT and `online`, then, once
    /// connected, the publishes in line (all in one write). `true` once all is written.
    fn write(&mut self, now_ms: u64) -> Result<bool, Lost> {
        let session_written = write_rest(
            &mut self.link,
            &self.session,
            self.online_end,
            &mut self.session_sent,
        )?;
        if !session_written || !self.connected() {
            return Ok(false);
        }
        let before = self.sent;
        let all_written = write_rest(&mut self.link, &self.arena, self.used, &mut self.sent)?;
        if self.sent != before && self.phase == Phase::Connected {
            self.due_ms = now_ms + KEEP_ALIVE_MS / 2;
        }
        // Each publish now written whole: in flight, and a duplicate if it is ever written
        // again (one already marked was sent again); at QoS 0 done with at once.
        while let Some(len) = whole_packet(&self.arena, self.in_flight_end, self.sent) {
            if let Some(first) = self.arena.get_mut(self.in_flight_end) {
                self.counters.resent += u64::from(*first & PUBLISH_DUP != 0);
                *first |= PUBLISH_DUP;
            }
            self.in_flight_end += len;
            if self.qos == Qos::AtMostOnce {
                self.pop();
            }
        }
        Ok(all_written)
    }

    /// Ends the session cleanly, as far as the socket takes it without waiting: retained
    /// `offline`, then DISCONNECT (which tells the broker not to publish the will).
    pub fn shutdown(&mut self, now_ms: u64) {
        // Only once connected and all that is queued is written, so the stream stays
        // well-formed.
        if matches!(self.write(now_ms), Ok(true)) {
            // Both packets in one write.
            let mut from = self.online_end;
            let _ = write_rest(&mut self.link, &self.session, self.session_len, &mut from);
        }
        self.link.close();
        self.phase = Phase::Waiting;
        self.due_ms = u64::MAX;
    }
}

/// The connection is over: closed, refused, garbled or timed out. Every step returns it
/// with `?`, and [`Client::poll`] alone acts on it.
struct Lost;

/// Writes what the socket takes of `bytes[*written..end]`; `true` once all of it is
/// written.
fn write_rest<L: Link>(
    link: &mut L,
    bytes: &[u8],
    end: usize,
    written: &mut usize,
) -> Result<bool, Lost> {
    let rest = bytes.get(*written..end).unwrap_or_default();
    if !rest.is_empty() {
        *written += link.send(rest).ok_or(Lost)?;
    }
    Ok(*written >= end)
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
        fn open(&mut self) -> bool {
            self.opens += 1;
            self.up = !self.connect_fails;
            self.up
        }
        fn send(&mut self, bytes: &[u8]) -> Option<usize> {
            if !self.up || self.eof {
                return None;
            }
            if self.connecting {
                return Some(0);
            }
            let n = self.window.map_or(bytes.len(), |w| w.min(bytes.len()));
            self.written.extend_from_slice(&bytes[..n]);
            if let Some(w) = &mut self.window {
                *w -= n;
            }
            Some(n)
        }
        fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
            assert!(!buf.is_empty());
            if self.eof {
                return None;
            }
            let n = if self.connecting {
                0
            } else {
                buf.len().min(self.inbound.len())
            };
            for b in buf.iter_mut().take(n) {
                *b = self.inbound.pop_front().unwrap();
            }
            Some(n)
        }
        fn close(&mut self) {
            self.up = false;
            self.eof = false;
        }
    }

    type TestClient = Client<Script, 512, 8>;

    fn client(qos: Qos) -> TestClient {
        Client::new(Script::default(), b"router1", b"nltelem/router1/", qos).unwrap()
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

    /// The phase and its timer.
    fn at(c: &TestClient) -> (Phase, u64) {
        (c.phase, c.due_ms)
    }

    /// What the client writes at each connect: the CONNECT and the retained `online`.
    fn connect_packets(c: &TestClient) -> &[u8] {
        &c.session[..c.online_end]
    }

    fn connect_now(c: &mut TestClient, now: u64) {
        c.poll(now);
        assert_eq!(at(c), (Phase::Connecting, now + CONNECT_TIMEOUT_MS + 1));
        c.link.inbound.extend([0x20, 0x02, 0x00, 0x00]);
        c.poll(now);
        assert_eq!(c.phase, Phase::Connected);
    }

    #[test]
    fn connect_packet_matches_the_standard_layout() {
        let mut buf = [0u8; 64];
        let mut out = Out {
            buf: &mut buf,
            len: 0,
        };
        out.connect([b"i", b"d"], 30, [b"t/s", b""], b"offline")
            .unwrap();
        let expected: &[u8] = &[
            0x10, 28, // CONNECT, remaining length: 10 (variable header) + 18 (payload)
            0, 4, b'M', b'Q', b'T', b'T', 4,    // protocol name, level 4 (3.1.1)
            0x2e, // clean session | will | will QoS 1 | will retain
            0, 30, // keep alive
            0, 2, b'i', b'd', // client identifier
            0, 3, b't', b'/', b's', // will topic
            0, 7, b'o', b'f', b'f', b'l', b'i', b'n', b'e', // will message
        ];
        assert_eq!(&out.buf[..out.len], expected);
    }

    /// One PUBLISH written into `buf`; its length.
    fn publish_into(
        buf: &mut [u8],
        topic: &[u8],
        payload: &[u8],
        qos: Qos,
        retain: bool,
        packet_id: u16,
    ) -> Result<usize, TooLong> {
        let mut out = Out { buf, len: 0 };
        out.publish([topic, b""], payload, qos, retain, packet_id)?;
        Ok(out.len)
    }

    #[test]
    fn publish_packets_and_long_remaining_lengths() {
        let mut buf = [0u8; 400];
        let n = publish_into(&mut buf, b"a/b", b"xy", Qos::AtLeastOnce, false, 0x1234).unwrap();
        assert_eq!(
            &buf[..n],
            &[0x32, 9, 0, 3, b'a', b'/', b'b', 0x12, 0x34, b'x', b'y']
        );
        let n = publish_into(&mut buf, b"a", b"z", Qos::AtMostOnce, true, 0).unwrap();
        assert_eq!(&buf[..n], &[0x31, 4, 0, 1, b'a', b'z']);
        // 321 bytes remaining: two length bytes, 0xc1 0x02 (65 + 2 * 128).
        let payload = [b'p'; 318];
        let n = publish_into(&mut buf, b"a", &payload, Qos::AtMostOnce, false, 0).unwrap();
        assert_eq!(&buf[..3], &[0x30, 0xc1, 0x02]);
        assert_eq!(n, 3 + 321);
        // The client finds a packet's end from the same length bytes.
        assert_eq!(whole_packet(&buf, 0, n), Some(n));
        assert_eq!(whole_packet(&buf, 0, n - 1), None);
        assert_eq!(whole_packet(&[0x30, 0x80], 0, 2), None);
        assert_eq!(whole_packet(&[0xff, 0xc0, 0], 1, 3), Some(2));
        assert_eq!(
            publish_into(&mut buf[..10], b"a", &payload, Qos::AtMostOnce, false, 0),
            Err(TooLong)
        );
    }

    #[test]
    fn incoming_packets_decode_and_garbage_is_refused() {
        assert_eq!(decode(&[0x20, 2, 0, 5, 0xff]), Ok(Some((CONNACK, 5, 4))));
        assert_eq!(
            decode(&[0x40, 2, 0xab, 0xcd]),
            Ok(Some((PUBACK, 0xabcd, 4)))
        );
        assert_eq!(decode(&[0xd0, 0]), Ok(Some((PINGRESP, 0, 2))));
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
        let ack = |c: &mut TestClient, id: Option<u16>| {
            let id = id.unwrap().to_be_bytes();
            c.link.inbound.extend([0x40, 2, id[0], id[1]]);
        };
        ack(&mut c, online_id);
        c.poll(1);
        assert_eq!(c.backlog(), 2, "the status message is not a record");
        ack(&mut c, id1);
        ack(&mut c, id2);
        c.poll(1);
        assert_eq!(c.backlog(), 0);
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
        // The broker never answers: still nothing blocks, the state machine times out.
        c.poll(0);
        c.poll(CONNECT_TIMEOUT_MS + 1);
        assert_eq!(
            at(&c),
            (Phase::Waiting, CONNECT_TIMEOUT_MS + 1 + BACKOFF_MIN_MS)
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
        assert_eq!(at(&c), (Phase::Waiting, 2 + BACKOFF_MIN_MS));
        assert_eq!(
            c.counters.resent, 0,
            "counted when sent again, not when lost"
        );
        c.link.connect_fails = true;
        c.poll(2 + BACKOFF_MIN_MS);
        assert_eq!(at(&c), (Phase::Waiting, 2 + 3 * BACKOFF_MIN_MS));
        c.poll(2 + 3 * BACKOFF_MIN_MS);
        assert_eq!(at(&c), (Phase::Waiting, 2 + 7 * BACKOFF_MIN_MS));
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
        assert_eq!(at(&c), (Phase::Waiting, t + 1 + BACKOFF_MIN_MS));
    }

    /// Publishes longer than 127 bytes (two length bytes) are found whole in the line: sent
    /// again with DUP after a reconnect, then freed as the broker acknowledges them, in
    /// the order it received them.
    #[test]
    fn long_publishes_are_resent_and_freed_in_order() {
        let mut c = client(Qos::AtLeastOnce);
        connect_now(&mut c, 0);
        assert!(c.publish(b"t", &[b'x'; 200]));
        assert!(c.publish(b"t", b"b"));
        c.poll(1);
        c.link.written.clear();
        c.link.eof = true;
        c.poll(2);
        connect_now(&mut c, 2 + BACKOFF_MIN_MS);
        let p = packets(&c.link.written);
        assert_eq!(p.len(), 4, "CONNECT, online, two records");
        let ids: std::vec::Vec<u16> = p[2..]
            .iter()
            .map(|(first, body)| {
                assert_eq!(first & PUBLISH_DUP, PUBLISH_DUP);
                publish_parts(*first, body).1.unwrap()
            })
            .collect();
        assert_eq!(c.counters.resent, 2);
        assert_eq!(c.backlog(), 3);
        let ack = |c: &mut TestClient, id: u16| {
            let [hi, lo] = id.to_be_bytes();
            c.link.inbound.extend([0x40, 2, hi, lo]);
        };
        // The second record's acknowledgement ahead of the first's is out of order: not
        // taken for it.
        ack(&mut c, ids[1]);
        c.poll(3);
        assert_eq!(c.backlog(), 3);
        for id in [STATUS_ID, ids[0], ids[1]] {
            ack(&mut c, id);
        }
        c.poll(4);
        assert_eq!(c.backlog(), 0);
    }

    /// At QoS 0 a publish the connection lost halfway goes again whole, without DUP.
    #[test]
    fn a_half_written_publish_starts_over_after_a_reconnect() {
        let mut c = client(Qos::AtMostOnce);
        connect_now(&mut c, 0);
        c.link.written.clear();
        c.link.window = Some(5);
        assert!(c.publish(b"topic", b"payload"));
        c.poll(1);
        c.link.eof = true;
        c.poll(2);
        c.link.window = None;
        c.link.written.clear();
        connect_now(&mut c, 2 + BACKOFF_MIN_MS);
        let p = packets(&c.link.written);
        assert_eq!(p.len(), 3, "CONNECT, online, the record");
        assert_eq!(
            (p[2].0, publish_parts(p[2].0, &p[2].1)),
            (PUBLISH, ("topic".into(), None, b"payload".to_vec()))
        );
        assert_eq!((c.counters.resent, c.backlog()), (0, 1));
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
        assert_eq!(c.backlog(), 0);
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
        assert_eq!(at(&c), (Phase::Connected, 2 * half + 1));
        c.poll(2 * half + 1);
        assert_eq!(c.phase, Phase::Pinging);
        // No answer to this one within the keep-alive: reconnect.
        c.poll(2 * half + 1 + 2 * half);
        assert_eq!(c.phase, Phase::Pinging);
        c.poll(2 * half + 1 + 2 * half + 1);
        assert_eq!(c.phase, Phase::Waiting);
    }

    #[test]
    fn a_refused_connect_backs_off() {
        let mut c = client(Qos::AtMostOnce);
        c.poll(0);
        c.link.inbound.extend([0x20, 2, 0, 5]);
        c.poll(0);
        assert_eq!(at(&c), (Phase::Waiting, BACKOFF_MIN_MS));
        assert_eq!(c.counters.connects, 0);
    }

    /// A TCP connect in progress: nothing is written until the link takes bytes, then the
    /// whole CONNECT (and the `online` after it); a connect that never completes times out like a missing CONNACK.
    #[test]
    fn a_slow_connect_sends_connect_once_up_and_times_out_when_never_up() {
        let mut c = client(Qos::AtMostOnce);
        c.link.connecting = true;
        c.poll(0);
        assert_eq!(at(&c), (Phase::Connecting, CONNECT_TIMEOUT_MS + 1));
        assert!(c.link.written.is_empty());
        c.link.connecting = false;
        c.poll(1);
        assert_eq!(c.link.written, connect_packets(&c));
        c.link.inbound.extend([0x20, 2, 0, 0]);
        c.poll(2);
        assert_eq!(c.phase, Phase::Connected);

        let mut c = client(Qos::AtMostOnce);
        c.link.connecting = true;
        c.poll(0);
        c.poll(CONNECT_TIMEOUT_MS);
        assert_eq!(c.phase, Phase::Connecting);
        c.poll(CONNECT_TIMEOUT_MS + 1);
        assert_eq!(
            at(&c),
            (Phase::Waiting, CONNECT_TIMEOUT_MS + 1 + BACKOFF_MIN_MS)
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
