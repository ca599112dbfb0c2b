//! The workload on nlcore, through its public API as an ordinary user would call it:
//! [`MsgBuilder`] to encode; [`MessageIter`], a [`Policy`] (nested policy included) and the
//! typed getters to decode.

use crate::workload::*;
use nlcore::consts::NLM_F_REQUEST;
use nlcore::{AttrPolicy, AttrTable, Error, MessageIter, MsgBuilder, Policy, Validation};

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

/// Walks the batch once: validates every message against the policy and folds every value
/// into the checksum.
pub fn decode_batch(batch: &[u8]) -> Result<u64, Error> {
    let mut sum = 0u64;
    for msg in MessageIter::new(batch) {
        let msg = msg?;
        let attrs: AttrTable<'_, 11> = TELEMETRY_POLICY.parse(msg.genl_attrs()?)?;
        let mut m = u64::from(msg.seq())
            + u64::from(attrs.require(ATTR_IFINDEX)?.get_u32()?)
            + u64::from(attrs.require(ATTR_MTU)?.get_u32()?)
            + u64::from(attrs.require(ATTR_FLAGS)?.get_u32()?);
        for kind in ATTR_RX_PACKETS..=ATTR_TIMESTAMP {
            m = m.wrapping_add(attrs.require(kind)?.get_u64()?);
        }
        let name = attrs.require(ATTR_NAME)?.get_cstr_bytes()?;
        m = m
            .wrapping_add(name.len() as u64)
            .wrapping_add(u64::from(name.first().copied().unwrap_or(0)));
        // The policy validated the nest's contents already: read them in one pass.
        let mut seen = 0u32;
        for stat in attrs.require(ATTR_STATS)?.nested() {
            let stat = stat?;
            if (1..=STATS_COUNT).contains(&stat.kind()) {
                seen |= 1 << stat.kind();
                m = m.wrapping_add(stat.get_u64()?);
            }
        }
        if seen != 0b11110 {
            return Err(Error::MissingAttr { attr: ATTR_STATS });
        }
        sum = sum.wrapping_add(m);
    }
    Ok(sum)
}
