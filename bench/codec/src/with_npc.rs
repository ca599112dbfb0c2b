//! The workload on netlink-packet-core, its fastest way: the zero-copy buffer types.
//!
//! Encode: the attributes as `Nla` values in a reused array (no allocation), emitted with
//! `Emitable` after a `NetlinkHeader`, the way netlink-packet-* message types emit.
//! Decode: `NetlinkBuffer::new_checked` per message, `NlasIterator` over the attributes
//! (nested too), the `parse_*` helpers for the exact-size integers, and a NUL check on the
//! string (its `parse_string` would allocate a `String`).

use crate::workload::*;
use netlink_packet_core::{
    parse_u32, parse_u64, DecodeError, Emitable, NetlinkBuffer, NetlinkHeader, Nla, NlasIterator,
    NLA_F_NESTED, NLM_F_REQUEST,
};

const NETLINK_HEADER_LEN: usize = 16;
const GENL_HEADER_LEN: usize = 4;

#[derive(Debug, Clone, Copy)]
enum StatNla {
    Counter(u16, u64),
}

impl Nla for StatNla {
    fn value_len(&self) -> usize {
        8
    }
    fn kind(&self) -> u16 {
        let StatNla::Counter(kind, _) = *self;
        kind
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        let StatNla::Counter(_, v) = *self;
        buffer.copy_from_slice(&v.to_ne_bytes());
    }
}

#[derive(Debug, Clone, Copy)]
enum TelemetryNla {
    U32(u16, u32),
    U64(u16, u64),
    Name(&'static core::ffi::CStr),
    Stats([StatNla; 4]),
}

impl Nla for TelemetryNla {
    fn value_len(&self) -> usize {
        match self {
            TelemetryNla::U32(..) => 4,
            TelemetryNla::U64(..) => 8,
            TelemetryNla::Name(s) => s.to_bytes_with_nul().len(),
            TelemetryNla::Stats(stats) => stats.as_slice().buffer_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            TelemetryNla::U32(kind, _) | TelemetryNla::U64(kind, _) => *kind,
            TelemetryNla::Name(_) => ATTR_NAME,
            TelemetryNla::Stats(_) => ATTR_STATS | NLA_F_NESTED,
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            TelemetryNla::U32(_, v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            TelemetryNla::U64(_, v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            TelemetryNla::Name(s) => buffer.copy_from_slice(s.to_bytes_with_nul()),
            TelemetryNla::Stats(stats) => stats.as_slice().emit(buffer),
        }
    }
}

/// A reused message: its attributes are overwritten for every `i`.
pub struct Encoder {
    nlas: [TelemetryNla; 10],
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            nlas: [TelemetryNla::U32(0, 0); 10],
        }
    }
}

impl Encoder {
    /// Builds message `i` at the start of `out` (which must hold it: `Emitable` panics
    /// otherwise); returns its length.
    #[inline(always)]
    pub fn encode(&mut self, i: u64, out: &mut [u8]) -> usize {
        let v = Values::of(i);
        self.nlas = [
            TelemetryNla::U32(ATTR_IFINDEX, v.ifindex),
            TelemetryNla::U32(ATTR_MTU, v.mtu),
            TelemetryNla::U32(ATTR_FLAGS, v.flags),
            TelemetryNla::U64(ATTR_RX_PACKETS, v.counters[0]),
            TelemetryNla::U64(ATTR_TX_PACKETS, v.counters[1]),
            TelemetryNla::U64(ATTR_RX_BYTES, v.counters[2]),
            TelemetryNla::U64(ATTR_TX_BYTES, v.counters[3]),
            TelemetryNla::U64(ATTR_TIMESTAMP, v.counters[4]),
            TelemetryNla::Name(NAME),
            TelemetryNla::Stats([
                StatNla::Counter(1, v.stats[0]),
                StatNla::Counter(2, v.stats[1]),
                StatNla::Counter(3, v.stats[2]),
                StatNla::Counter(4, v.stats[3]),
            ]),
        ];
        let attrs_len = self.nlas.as_slice().buffer_len();
        let len = NETLINK_HEADER_LEN + GENL_HEADER_LEN + attrs_len;
        let mut header = NetlinkHeader::default();
        header.length = len as u32;
        header.message_type = MSG_TYPE;
        header.flags = NLM_F_REQUEST;
        header.sequence_number = v.seq;
        header.port_number = 0;
        header.emit(&mut out[..NETLINK_HEADER_LEN]);
        out[NETLINK_HEADER_LEN..NETLINK_HEADER_LEN + GENL_HEADER_LEN]
            .copy_from_slice(&[CMD, VERSION, 0, 0]);
        self.nlas
            .as_slice()
            .emit(&mut out[NETLINK_HEADER_LEN + GENL_HEADER_LEN..len]);
        len
    }
}

fn nul_terminated(value: &[u8]) -> Result<&[u8], DecodeError> {
    match value.split_last() {
        Some((0, text)) if !text.contains(&0) => Ok(text),
        _ => Err(DecodeError::from("string attribute is not NUL-terminated")),
    }
}

fn missing(what: &str) -> DecodeError {
    DecodeError::from(format!("missing attribute {what}"))
}

/// Walks the batch once: checks every message and attribute, parses every value with its
/// exact size, and folds them into the checksum.
pub fn decode_batch(batch: &[u8]) -> Result<u64, DecodeError> {
    let mut sum = 0u64;
    let mut offset = 0;
    while offset < batch.len() {
        let msg = NetlinkBuffer::new_checked(&batch[offset..])?;
        let len = msg.length() as usize;
        let payload = msg.payload();
        if payload.len() < GENL_HEADER_LEN {
            return Err(DecodeError::from("message shorter than its genl header"));
        }
        let mut u32s = [None::<u32>; 3];
        let mut u64s = [None::<u64>; 5];
        let mut stats = [None::<u64>; 4];
        let mut name = None;
        for nla in NlasIterator::new(&payload[GENL_HEADER_LEN..]) {
            let nla = nla?;
            let kind = nla.kind();
            match kind {
                ATTR_IFINDEX..=ATTR_FLAGS => {
                    u32s[usize::from(kind - ATTR_IFINDEX)] = Some(parse_u32(nla.value())?)
                }
                ATTR_RX_PACKETS..=ATTR_TIMESTAMP => {
                    u64s[usize::from(kind - ATTR_RX_PACKETS)] = Some(parse_u64(nla.value())?)
                }
                ATTR_NAME => {
                    let text = nul_terminated(nla.value())?;
                    name = Some((text.len(), text.first().copied().unwrap_or(0)));
                }
                ATTR_STATS => {
                    for inner in NlasIterator::new(nla.value()) {
                        let inner = inner?;
                        let kind = inner.kind();
                        if (1..=STATS_COUNT).contains(&kind) {
                            stats[usize::from(kind - 1)] = Some(parse_u64(inner.value())?);
                        }
                    }
                }
                _ => {}
            }
        }
        let mut m = u64::from(msg.sequence_number());
        for v in u32s {
            m += u64::from(v.ok_or_else(|| missing("u32"))?);
        }
        for v in u64s.into_iter().chain(stats) {
            m = m.wrapping_add(v.ok_or_else(|| missing("u64"))?);
        }
        let (name_len, first) = name.ok_or_else(|| missing("NAME"))?;
        m = m
            .wrapping_add(name_len as u64)
            .wrapping_add(u64::from(first));
        sum = sum.wrapping_add(m);
        offset += (len + 3) & !3;
    }
    Ok(sum)
}
