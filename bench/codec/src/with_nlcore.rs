//! The workload on nlcore, through its public API as an ordinary user would call it:
//! [`MsgBuilder`] to encode; [`MessageIter`], a [`Policy`] (nested policy included) and the
//! typed getters to decode.

use crate::workload::*;
use nlcore::consts::NLM_F_REQUEST;
use nlcore::{AttrPolicy, Error, MessageIter, MsgBuilder, Policy, Validation, Value};

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

const STATS_POLICY: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U64,
        AttrPolicy::U64,
        AttrPolicy::U64,
        AttrPolicy::U64,
    ],
    Validation::Lenient,
);

/// Telemetry from the kernel: lenient, so a newer module's extra attributes are skipped.
const TELEMETRY_POLICY: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U32,
        AttrPolicy::U32,
        AttrPolicy::U32,
        AttrPolicy::U64,
        AttrPolicy::U64,
        AttrPolicy::U64,
        AttrPolicy::U64,
        AttrPolicy::U64,
        AttrPolicy::NulString { max_len: 0 },
        AttrPolicy::Nested(&STATS_POLICY),
    ],
    Validation::Lenient,
);

/// Every top-level type, as bits: what a message must have held.
const ALL_ATTRS: u32 = ((1 << (ATTR_STATS + 1)) - 1) & !1;
/// Every type inside STATS.
const ALL_STATS: u32 = ((1 << (STATS_COUNT + 1)) - 1) & !1;

/// Walks the batch once: every attribute is checked against the policy (the nest against
/// its own) as [`Policy::values`] reaches it, and every value is folded into the checksum.
pub fn decode_batch(batch: &[u8]) -> Result<u64, Error> {
    let mut sum = 0u64;
    for msg in MessageIter::new(batch) {
        let msg = msg?;
        let mut m = u64::from(msg.seq());
        let mut seen = 0u32;
        for item in TELEMETRY_POLICY.values(msg.genl_attrs()?) {
            let (attr, value) = item?;
            match (attr.kind(), value) {
                (ATTR_IFINDEX | ATTR_MTU | ATTR_FLAGS, Value::U32(v)) => m += u64::from(v),
                (ATTR_RX_PACKETS..=ATTR_TIMESTAMP, Value::U64(v)) => m = m.wrapping_add(v),
                (ATTR_NAME, Value::Text(name)) => {
                    let first = name.first().copied().unwrap_or(0);
                    m = m.wrapping_add(name.len() as u64 + u64::from(first));
                }
                (ATTR_STATS, Value::Nested(stats)) => {
                    let mut seen_stats = 0u32;
                    for stat in stats {
                        if let (stat, Value::U64(v)) = stat? {
                            seen_stats |= 1 << stat.kind();
                            m = m.wrapping_add(v);
                        }
                    }
                    require_all(seen_stats, ALL_STATS)?;
                }
                // The policy knows no other type: `values` skipped anything else.
                _ => {}
            }
            seen |= 1 << attr.kind();
        }
        require_all(seen, ALL_ATTRS)?;
        sum = sum.wrapping_add(m);
    }
    Ok(sum)
}

/// Fails naming the first type of `want` missing from `seen`.
fn require_all(seen: u32, want: u32) -> Result<(), Error> {
    match want & !seen {
        0 => Ok(()),
        missing => Err(Error::MissingAttr {
            attr: missing.trailing_zeros() as u16,
        }),
    }
}
