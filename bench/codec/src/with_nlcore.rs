//! The workload on nlcore, through its public API as an ordinary user would call it:
//! [`MsgBuilder`] to encode; [`MessageIter`] and an [`attr_set!`] struct (the message's
//! attributes, the nest's in a struct of its own, every one required) to decode.

use crate::workload::*;
use nlcore::consts::NLM_F_REQUEST;
use nlcore::{attr_set, Error, MessageIter, MsgBuilder};

/// Builds message `i` at the start of `out`; returns its length.
#[inline(always)]
pub fn encode(i: u64, out: &mut [u8]) -> Result<usize, Error> {
    let v = Values::of(i);
    let mut b = MsgBuilder::new(out);
    b.begin(MSG_TYPE, NLM_F_REQUEST, v.seq, 0)?;
    b.genl_header(CMD, VERSION)?;
    b.put_u32(ATTR_IFINDEX, v.ifindex)?;
    b.put_u32(ATTR_MTU, v.mtu)?;
    b.put_u32(ATTR_FLAGS, v.flags)?;
    b.put_u64(ATTR_RX_PACKETS, v.counters[0])?;
    b.put_u64(ATTR_TX_PACKETS, v.counters[1])?;
    b.put_u64(ATTR_RX_BYTES, v.counters[2])?;
    b.put_u64(ATTR_TX_BYTES, v.counters[3])?;
    b.put_u64(ATTR_TIMESTAMP, v.counters[4])?;
    b.put_cstr(ATTR_NAME, NAME)?;
    let stats = b.nest_start(ATTR_STATS)?;
    for (kind, value) in (1..=STATS_COUNT).zip(v.stats) {
        b.put_u64(kind, value)?;
    }
    b.nest_end(stats)?;
    b.finish()
}

attr_set! {
    /// The counters nested in `ATTR_STATS`.
    struct Stats<'a>: Lenient {
        1 => rx: U64 required,
        2 => tx: U64 required,
        3 => rx_bytes: U64 required,
        4 => tx_bytes: U64 required,
    }
}

attr_set! {
    /// Telemetry from the kernel: lenient, so a newer module's extra attributes are skipped.
    struct Telemetry<'a>: Lenient {
        ATTR_IFINDEX => ifindex: U32 required,
        ATTR_MTU => mtu: U32 required,
        ATTR_FLAGS => flags: U32 required,
        ATTR_RX_PACKETS => rx_packets: U64 required,
        ATTR_TX_PACKETS => tx_packets: U64 required,
        ATTR_RX_BYTES => rx_bytes: U64 required,
        ATTR_TX_BYTES => tx_bytes: U64 required,
        ATTR_TIMESTAMP => timestamp: U64 required,
        ATTR_NAME => name: NulString required,
        ATTR_STATS => stats: Nested(Stats) required,
    }
}

/// Walks the batch once: every attribute is checked against its type's rule (the nest's
/// against its own) and read into a [`Telemetry`], whose values are folded into the checksum.
pub fn decode_batch(batch: &[u8]) -> Result<u64, Error> {
    let mut sum = 0u64;
    for msg in MessageIter::new(batch) {
        let msg = msg?;
        let t = Telemetry::parse(msg.genl_attrs()?)?;
        let first = t.name.first().copied().unwrap_or(0);
        let stats = &t.stats;
        let m = u64::from(msg.seq())
            + u64::from(t.ifindex)
            + u64::from(t.mtu)
            + u64::from(t.flags)
            + t.name.len() as u64
            + u64::from(first);
        let m = m
            .wrapping_add(t.rx_packets)
            .wrapping_add(t.tx_packets)
            .wrapping_add(t.rx_bytes)
            .wrapping_add(t.tx_bytes)
            .wrapping_add(t.timestamp)
            .wrapping_add(stats.rx)
            .wrapping_add(stats.tx)
            .wrapping_add(stats.rx_bytes)
            .wrapping_add(stats.tx_bytes);
        sum = sum.wrapping_add(m);
    }
    Ok(sum)
}
