//! The module's settings (`SET_CONFIG` attributes), shared by the configuration file and
//! `nltelem set KEY=VALUE`. Only settings that were given are sent: the module keeps the
//! others.

use crate::config::{
    name_of, names_mask, number, sub_list, word_index, FIRST_SETTING, KEYS, SETTING_RANGES,
    SOURCES_TAKE,
};
use nlcore::{Buffer, MsgBuilder};

/// Settings to push; a setting not given leaves the module's value. By position in
/// [`SETTING_KEYS`] (period_ms, sources as a mask of `source::*`, load x1000, available
/// memory in KiB, temperature in m°C, watchdog in ms): one array and a bit mask, not six
/// typed `Option` fields with a branch each to read and write them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleSettings {
    /// The values, widened to 64 bits (the signed one as its 32-bit pattern); 0 when not
    /// given, so that equal settings compare equal.
    values: [u64; 6],
    /// Bit `i`: the `i`th was given.
    given: u8,
}

/// Why a setting was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingError {
    /// Not a module setting.
    UnknownKey,
    /// The value does not fit; what it takes.
    BadValue(&'static str),
}

/// The names of the module's settings, separated by spaces, in attribute order (help
/// texts, `get config`): the `i`th is carried by attribute `i + 1`.
/// They are keys of the configuration file, in a row there: that part of its key list.
pub const SETTING_KEYS: &str = sub_list(KEYS, FIRST_SETTING, FIRST_SETTING + SETTINGS);

/// Source names in bit order (`source::*`: bit `i` for the `i`th), separated by spaces.
/// The end of what `sources` takes (`SOURCES_TAKE`, config-texts.txt), not a second copy
/// of the names.
pub const SOURCE_NAMES: &str = SOURCES_TAKE.split_at("one or more of: ".len()).1;

/// How many settings [`SETTING_KEYS`] names.
pub const SETTINGS: usize = WATCHDOG + 1;

/// How many sources [`SOURCE_NAMES`] names.
pub const SOURCES_NAMED: u32 = 5;

/// The position of `sources` in [`SETTING_KEYS`].
const SOURCES: usize = 1;
/// The position of `mem_available_kib_min` (the one 8-byte setting).
const MEM_AVAILABLE: usize = 3;
/// The position of `temp_mdegc_max` (the one signed setting).
const TEMP: usize = 4;
/// The position of `watchdog_ms`, the last.
const WATCHDOG: usize = 5;

impl ModuleSettings {
    /// Sets `key` from its text; the ranges are the module's own (spec `checks`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let i = word_index(SETTING_KEYS, key.as_bytes()).ok_or(SettingError::UnknownKey)?;
        self.set_nth(i, value).map_err(SettingError::BadValue)
    }

    /// Sets the `i`th setting of [`SETTING_KEYS`] from its text; on failure returns what
    /// it takes.
    pub fn set_nth(&mut self, i: usize, value: &str) -> Result<(), &'static str> {
        // Past the last setting (which no caller asks for) the range is `unknown`, which
        // takes only 0, and `put_nth` ignores the value.
        // The range of each setting, as an error says it and as `number` reads it, in
        // SETTING_KEYS order and separated by spaces (config-texts.txt): the module's own
        // ranges (spec `checks`). `sources` is read by name and has none.
        let want = name_of(SETTING_RANGES, i as u32);
        let v = if i == SOURCES {
            u64::from(parse_sources(value)?)
        } else {
            let (digits, range) = match value.split_at_checked(1) {
                // The signed setting takes `-0` too (its range starts at 0).
                Some(("-", rest)) if i == TEMP => (rest, "0..0"),
                _ => (value, want),
            };
            number(digits, range).ok_or(want)?
        };
        // Every value is within its field's type: the ranges above say so.
        self.put_nth(i, v);
        Ok(())
    }

    /// Sets the `i`th setting of [`SETTING_KEYS`] to `v`, as [`nth`](Self::nth) gives it
    /// (the signed one as its 32-bit pattern).
    pub fn put_nth(&mut self, i: usize, v: u64) {
        if let Some(slot) = self.values.get_mut(i) {
            *slot = v;
            self.given |= 1 << i;
        }
    }

    /// The `i`th setting of [`SETTING_KEYS`] as given, widened to 64 bits (the signed one
    /// as its 32-bit pattern).
    pub fn nth(&self, i: usize) -> Option<u64> {
        let v = *self.values.get(i)?;
        (self.given >> i & 1 != 0).then_some(v)
    }

    /// The setting named `key` (for tests).
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<u64> {
        self.nth(word_index(SETTING_KEYS, key.as_bytes())?)
    }

    /// Whether any setting was given.
    pub fn is_empty(&self) -> bool {
        self.given == 0
    }

    /// Writes the given settings as `config` attributes into an open message, in
    /// attribute order. (One loop over the settings rather than one typed putter per setting:
    /// the agent is size-bound, and this is the only place that writes them.)
    pub fn put<B: Buffer>(&self, b: &mut MsgBuilder<B>) -> Result<(), nlcore::Error> {
        for i in 0..=WATCHDOG {
            // The `i`th setting's attribute is `i + 1`.
            let attr = i as u16 + 1;
            match self.nth(i) {
                Some(v) if i == MEM_AVAILABLE => b.put_u64(attr, v)?,
                // The others are 32-bit: `nth` widened them.
                Some(v) => b.put_u32(attr, v as u32)?,
                None => {}
            }
        }
        Ok(())
    }
}

/// Space- or comma-separated source names to their bit mask (at least one).
pub fn parse_sources(value: &str) -> Result<u32, &'static str> {
    names_mask(value, SOURCE_NAMES, true).ok_or(SOURCES_TAKE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlcore::{AttrIter, NlMsg};
    use nltelem_proto::attr::config as a;
    use nltelem_proto::source;

    #[test]
    fn the_ith_setting_is_attribute_i_plus_1() {
        let attrs = [
            a::PERIOD_MS,
            a::SOURCES,
            a::LOAD1_MILLI_MAX,
            a::MEM_AVAILABLE_KIB_MIN,
            a::TEMP_MDEGC_MAX,
            a::WATCHDOG_MS,
        ];
        assert_eq!(SETTING_KEYS.split(' ').count(), attrs.len());
        assert_eq!(SETTINGS, attrs.len());
        for (i, attr) in attrs.into_iter().enumerate() {
            assert_eq!(usize::from(attr), i + 1);
        }
        // The configuration's rendering takes each setting from that slot, by its name.
        for (i, key) in SETTING_KEYS.split(' ').enumerate() {
            assert_eq!(
                crate::decode::tests::slot_of(crate::decode::CONFIG_FIELDS, key),
                Some(i + 1),
                "{key}"
            );
        }
    }

    #[test]
    fn source_names_are_in_bit_order() {
        let bits = [
            source::LOAD,
            source::MEMORY,
            source::CPU,
            source::NETDEV,
            source::THERMAL,
        ];
        assert_eq!(SOURCE_NAMES.split(' ').count(), SOURCES_NAMED as usize);
        for (i, name) in SOURCE_NAMES.split(' ').enumerate() {
            assert_eq!(parse_sources(name), Ok(bits[i]), "{name}");
            assert_eq!(bits[i], 1 << i);
        }
    }

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
        assert_eq!(s.get("watchdog_ms"), Some(0));
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
