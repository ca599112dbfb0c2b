//! The workload of `shared/bench-workload.md`, shared by every implementation: what message
//! `i` holds, and the checksum a decoder must arrive at.

/// `nlmsg_type` of a telemetry message.
pub const MSG_TYPE: u16 = 0x20;
/// Generic netlink command and version.
pub const CMD: u8 = 1;
/// Generic netlink family version.
pub const VERSION: u8 = 1;
/// Bytes of one message on the wire.
pub const MSG_LEN: usize = 200;
/// Messages in the decode batch (12,800 bytes).
pub const BATCH: usize = 64;

/// Top-level attribute types.
pub const ATTR_IFINDEX: u16 = 1;
pub const ATTR_MTU: u16 = 2;
pub const ATTR_FLAGS: u16 = 3;
pub const ATTR_RX_PACKETS: u16 = 4;
pub const ATTR_TX_PACKETS: u16 = 5;
pub const ATTR_RX_BYTES: u16 = 6;
pub const ATTR_TX_BYTES: u16 = 7;
pub const ATTR_TIMESTAMP: u16 = 8;
pub const ATTR_NAME: u16 = 9;
pub const ATTR_STATS: u16 = 10;
/// Types inside `ATTR_STATS` (1 ..= 4), each a u64.
pub const STATS_COUNT: u16 = 4;

/// The interface name carried by every message (38 characters).
pub const NAME: &core::ffi::CStr = c"enp0s31f6-uplink-telemetry-collector01";

/// Every value of message `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values {
    pub seq: u32,
    pub ifindex: u32,
    pub mtu: u32,
    pub flags: u32,
    /// RX_PACKETS, TX_PACKETS, RX_BYTES, TX_BYTES, TIMESTAMP.
    pub counters: [u64; 5],
    /// The four u64s nested in STATS.
    pub stats: [u64; 4],
}

impl Values {
    #[inline(always)]
    pub fn of(i: u64) -> Values {
        let i32_ = i as u32;
        Values {
            seq: i32_,
            ifindex: 1 + (i32_ % 4096),
            mtu: 1500 + (i32_ & 7),
            flags: 0x1003 ^ (i32_ << 4),
            counters: [
                3 * i + 1,
                5 * i + 2,
                1500 * i + 3,
                1400 * i + 4,
                1_700_000_000_000_000_000 + 1000 * i,
            ],
            stats: [i + 10, i + 11, i + 12, i + 13],
        }
    }

    /// This message's share of the decode checksum: every value, the name's length and its
    /// first byte.
    pub fn checksum(&self) -> u64 {
        let name = NAME.to_bytes();
        let mut sum = u64::from(self.seq)
            + u64::from(self.ifindex)
            + u64::from(self.mtu)
            + u64::from(self.flags);
        for v in self.counters.iter().chain(&self.stats) {
            sum = sum.wrapping_add(*v);
        }
        sum.wrapping_add(name.len() as u64)
            .wrapping_add(u64::from(name[0]))
    }
}

/// The checksum of one walk over the batch `0 .. BATCH`, computed from the values alone.
pub fn expected_batch_checksum() -> u64 {
    (0..BATCH as u64).fold(0u64, |acc, i| acc.wrapping_add(Values::of(i).checksum()))
}
