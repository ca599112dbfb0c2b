//! The module's settings (`SET_CONFIG` attributes), shared by the configuration file and
//! `nltelem set KEY=VALUE`. Only settings that were given are sent: the module keeps the
//! others.

use crate::config::{parse_i64, parse_u32, parse_u64};
use nlcore::{Buffer, MsgBuilder};
use nltelem_proto::{attr::config as a, source};

/// Settings to push; `None` = leave the module's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleSettings {
    /// Sampling period, ms.
    pub period_ms: Option<u32>,
    /// Bit mask of `source::*`.
    pub sources: Option<u32>,
    /// Load threshold x1000.
    pub load1_milli_max: Option<u32>,
    /// Available-memory threshold, KiB.
    pub mem_available_kib_min: Option<u64>,
    /// Temperature threshold, m°C.
    pub temp_mdegc_max: Option<i32>,
    /// Heartbeat watchdog, ms.
    pub watchdog_ms: Option<u32>,
}

/// Why a setting was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingError {
    /// Not a module setting.
    UnknownKey,
    /// The value does not fit; what it takes.
    BadValue(&'static str),
}

/// The names of the module's settings, for help texts.
pub const SETTING_KEYS: &[&str] = &[
    "period_ms",
    "sources",
    "load1_milli_max",
    "mem_available_kib_min",
    "temp_mdegc_max",
    "watchdog_ms",
];

/// Source names in bit order.
pub const SOURCE_NAMES: &[(&str, u32)] = &[
    ("load", source::LOAD),
    ("memory", source::MEMORY),
    ("cpu", source::CPU),
    ("netdev", source::NETDEV),
    ("thermal", source::THERMAL),
];

impl ModuleSettings {
    /// Sets `key` from its text; the ranges are the module's own (spec `checks`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        use SettingError::BadValue;
        match key {
            "period_ms" => {
                const WANT: &str = "1..3600000";
                let ms = parse_u32(value, WANT).map_err(BadValue)?;
                if !(1..=3_600_000).contains(&ms) {
                    return Err(BadValue(WANT));
                }
                self.period_ms = Some(ms);
            }
            "sources" => self.sources = Some(parse_sources(value).map_err(BadValue)?),
            "load1_milli_max" => {
                self.load1_milli_max = Some(parse_u32(value, "0..4294967295").map_err(BadValue)?)
            }
            "mem_available_kib_min" => {
                self.mem_available_kib_min =
                    Some(parse_u64(value, "0..18446744073709551615").map_err(BadValue)?)
            }
            "temp_mdegc_max" => {
                const WANT: &str = "0..200000";
                let t = parse_i64(value, WANT).map_err(BadValue)?;
                if !(0..=200_000).contains(&t) {
                    return Err(BadValue(WANT));
                }
                // In range, so it fits an i32.
                self.temp_mdegc_max = Some(i32::try_from(t).map_err(|_| BadValue(WANT))?);
            }
            "watchdog_ms" => {
                const WANT: &str = "0..3600000";
                let ms = parse_u32(value, WANT).map_err(BadValue)?;
                if ms > 3_600_000 {
                    return Err(BadValue(WANT));
                }
                self.watchdog_ms = Some(ms);
            }
            _ => return Err(SettingError::UnknownKey),
        }
        Ok(())
    }

    /// Whether any setting was given.
    pub fn is_empty(&self) -> bool {
        *self == ModuleSettings::default()
    }

    /// Writes the given settings as `config` attributes into an open message, in
    /// attribute order. (One loop over the values' bytes rather than one typed putter per
    /// setting: the agent is size-bound, and this is the only place that writes them.)
    pub fn put<B: Buffer>(&self, b: &mut MsgBuilder<B>) -> Result<(), nlcore::Error> {
        let fields: [(u16, Option<[u8; 8]>, usize); 6] = [
            (a::PERIOD_MS, self.period_ms.map(u32_bytes), 4),
            (a::SOURCES, self.sources.map(u32_bytes), 4),
            (a::LOAD1_MILLI_MAX, self.load1_milli_max.map(u32_bytes), 4),
            (
                a::MEM_AVAILABLE_KIB_MIN,
                self.mem_available_kib_min.map(u64::to_ne_bytes),
                8,
            ),
            (
                a::TEMP_MDEGC_MAX,
                self.temp_mdegc_max.map(|v| u32_bytes(v as u32)),
                4,
            ),
            (a::WATCHDOG_MS, self.watchdog_ms.map(u32_bytes), 4),
        ];
        for (attr, value, len) in fields {
            if let Some(bytes) = value {
                b.put_bytes(attr, &bytes[..len])?;
            }
        }
        Ok(())
    }
}

/// A 32-bit value's host-order bytes in the first four of eight.
fn u32_bytes(v: u32) -> [u8; 8] {
    let mut out = [0; 8];
    out[..4].copy_from_slice(&v.to_ne_bytes());
    out
}

/// Space- or comma-separated source names to their bit mask (at least one).
pub fn parse_sources(value: &str) -> Result<u32, &'static str> {
    const WANT: &str = "one or more of: load memory cpu netdev thermal";
    let mut mask = 0;
    for word in value.split(|c: char| c == ',' || c.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        let (_, bit) = SOURCE_NAMES
            .iter()
            .find(|(name, _)| *name == word)
            .ok_or(WANT)?;
        mask |= bit;
    }
    if mask == 0 {
        return Err(WANT);
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlcore::{AttrIter, NlMsg};

    #[test]
    fn only_given_settings_are_sent() {
        let mut s = ModuleSettings::default();
        assert!(s.is_empty());
        s.set("period_ms", "250").unwrap();
        s.set("temp_mdegc_max", "85000").unwrap();
        s.set("mem_available_kib_min", "18446744073709551615")
            .unwrap();
        let mut buf = [0u8; 128];
        let mut b = MsgBuilder::new(&mut buf);
        b.begin(0x20, 0, 1, 0).unwrap();
        s.put(&mut b).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let mut seen = [0u16; 3];
        for (i, attr) in AttrIter::new(msg.payload()).enumerate() {
            let attr = attr.unwrap();
            seen[i] = attr.kind();
            match attr.kind() {
                a::PERIOD_MS => assert_eq!(attr.get_u32(), Ok(250)),
                a::TEMP_MDEGC_MAX => assert_eq!(attr.get_i32(), Ok(85000)),
                a::MEM_AVAILABLE_KIB_MIN => assert_eq!(attr.get_u64(), Ok(u64::MAX)),
                other => panic!("unexpected attribute {other}"),
            }
        }
        assert_eq!(
            seen,
            [a::PERIOD_MS, a::MEM_AVAILABLE_KIB_MIN, a::TEMP_MDEGC_MAX]
        );
    }

    #[test]
    fn ranges_follow_the_spec() {
        let mut s = ModuleSettings::default();
        assert_eq!(
            s.set("period_ms", "0"),
            Err(SettingError::BadValue("1..3600000"))
        );
        assert_eq!(
            s.set("watchdog_ms", "3600001"),
            Err(SettingError::BadValue("0..3600000"))
        );
        assert_eq!(
            s.set("temp_mdegc_max", "-1"),
            Err(SettingError::BadValue("0..200000"))
        );
        assert_eq!(s.set("nope", "1"), Err(SettingError::UnknownKey));
        assert!(s.is_empty());
        s.set("watchdog_ms", "0").unwrap();
        assert_eq!(s.watchdog_ms, Some(0));
    }

    #[test]
    fn sources_by_name() {
        assert_eq!(
            parse_sources("load,memory"),
            Ok(source::LOAD | source::MEMORY)
        );
        assert_eq!(
            parse_sources("thermal  netdev cpu"),
            Ok(source::THERMAL | source::NETDEV | source::CPU)
        );
        assert!(parse_sources("").is_err());
        assert!(parse_sources("disk").is_err());
    }
}
