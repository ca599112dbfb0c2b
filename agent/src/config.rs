//! `/etc/nltelem.conf`: one `key = value` per line, `#` starts a comment.
//!
//! Every key is listed in [`KEYS`] with its meaning (printed by `nltelem run --help`).
//! A key the agent does not know, a value it cannot use, or a key given twice is an error
//! that names the line: a typo must not silently leave a default in place.

use crate::settings::{ModuleSettings, SettingError};
use heapless::{String, Vec};
use nlcore::consts::GENL_NAMSIZ;
use nlcore::text::Text;

/// Where the configuration lives unless `-c FILE` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/nltelem.conf";

/// Largest configuration file read (bytes); a bigger one is refused, not cut.
pub const MAX_FILE_BYTES: usize = 4096;

/// Longest value kept for paths and exporter specifications (bytes).
pub const MAX_VALUE: usize = 96;

/// Most `export` lines.
pub const MAX_EXPORTS: usize = 4;

/// Every key, with what it means. The order is the order of `nltelem run --help`.
pub const KEYS: &[(&str, &str)] = &[
    (
        "transport",
        "genl (default): the generic netlink family; unit:N: the module's classic netlink unit N",
    ),
    (
        "family",
        "generic netlink family name (default nltelem)",
    ),
    (
        "groups",
        "groups to join, space separated: telemetry events (default both)",
    ),
    (
        "period_ms",
        "sampling period pushed to the module, 1..3600000 ms (default: leave the module's)",
    ),
    (
        "sources",
        "sources pushed to the module, space separated: load memory cpu netdev thermal",
    ),
    (
        "load1_milli_max",
        "threshold event above this 1-minute load x1000 (0 disables)",
    ),
    (
        "mem_available_kib_min",
        "threshold event below this much available memory, KiB (0 disables)",
    ),
    (
        "temp_mdegc_max",
        "threshold event above this temperature, millidegree C, 0..200000 (0 disables)",
    ),
    (
        "watchdog_ms",
        "the module reports an event after this long without a heartbeat, 0..3600000 ms (0 disables)",
    ),
    (
        "heartbeat_ms",
        "how often the agent sends its counters to the module, 0 (off) or 100..3600000 ms (default 1000)",
    ),
    (
        "rcvbuf_bytes",
        "receive queue size asked of the kernel, 0 (kernel default) or 4096..67108864 (default 0)",
    ),
    (
        "accept_senders",
        "kernel (default): drop data not sent by the kernel; any: accept other processes (tests on NETLINK_USERSOCK only)",
    ),
    (
        "log",
        "where defmt log frames go: stderr, none, or an absolute file path (default none)",
    ),
    (
        "log_max_bytes",
        "size cap of the log file, 1024..16777216; when full it moves to FILE.1 (default 65536)",
    ),
    (
        "export",
        "an exporter, e.g. line-protocol:stdout; the key may repeat (up to 4)",
    ),
];

/// How the agent reaches the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The generic netlink family (resolved by name through the controller).
    Genl,
    /// The module's classic netlink unit.
    Unit(u32),
}

/// Whose data the agent accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Senders {
    /// Only the kernel (port 0): the default, and the only safe choice on a device.
    Kernel,
    /// Any port: for driving the agent from a test process over `NETLINK_USERSOCK`.
    Any,
}

/// Where log frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Not written.
    None,
    /// Standard error.
    Stderr,
    /// A size-capped file.
    File(String<MAX_VALUE>),
}

/// The groups to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    /// `telemetry`: the periodic samples.
    pub telemetry: bool,
    /// `events`: link, threshold, watchdog and config events.
    pub events: bool,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How to reach the module.
    pub transport: Transport,
    /// The generic netlink family name.
    pub family: String<GENL_NAMSIZ>,
    /// Groups to join.
    pub groups: Groups,
    /// Settings pushed to the module with `SET_CONFIG` (only the ones given).
    pub module: ModuleSettings,
    /// Heartbeat period in ms, 0 = none.
    pub heartbeat_ms: u32,
    /// `SO_RCVBUF` in bytes, 0 = the kernel's default.
    pub rcvbuf_bytes: u32,
    /// Whose data is accepted.
    pub accept_senders: Senders,
    /// Where the log goes.
    pub log: LogTarget,
    /// Size cap of the log file.
    pub log_max_bytes: u32,
    /// Exporter specifications, in file order (checked by [`crate::export`]).
    pub exports: Vec<String<MAX_VALUE>, MAX_EXPORTS>,
}

impl Default for Config {
    fn default() -> Self {
        let mut family = String::new();
        // The protocol's family name is shorter than GENL_NAMSIZ.
        let _ = family.push_str(nltelem_proto::FAMILY_NAME);
        Config {
            transport: Transport::Genl,
            family,
            groups: Groups {
                telemetry: true,
                events: true,
            },
            module: ModuleSettings::default(),
            heartbeat_ms: 1000,
            rcvbuf_bytes: 0,
            accept_senders: Senders::Kernel,
            log: LogTarget::None,
            log_max_bytes: 65536,
            exports: Vec::new(),
        }
    }
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// No `=` on a line that is not blank or a comment.
    MissingEquals,
    /// Nothing before the `=`.
    EmptyKey,
    /// A key not in [`KEYS`] (as written, cut to 32 bytes).
    UnknownKey(String<32>),
    /// The value does not fit the key.
    BadValue {
        /// The key.
        key: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// A key that may appear once appeared again.
    Duplicate(&'static str),
    /// The file is larger than [`MAX_FILE_BYTES`] or not UTF-8.
    Unreadable(&'static str),
}

/// A configuration error and the line it is on (1-based; 0 for the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The line.
    pub line: u32,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl ConfigError {
    /// Says what is wrong and where (`line N: ...`), in one line without a newline.
    pub fn describe(&self, w: &mut dyn Text) {
        if self.line > 0 {
            w.str("line ");
            w.uint(u64::from(self.line));
            w.str(": ");
        }
        // (before, quoted piece, after).
        let (before, quoted, after) = match &self.kind {
            ErrorKind::MissingEquals => ("expected `key = value`", "", ""),
            ErrorKind::EmptyKey => ("missing key before `=`", "", ""),
            ErrorKind::UnknownKey(k) => ("unknown key `", k.as_str(), "`"),
            ErrorKind::BadValue { key, expected } => {
                w.str("bad value for `");
                w.str(key);
                w.str("`: expected ");
                w.str(expected);
                return;
            }
            ErrorKind::Duplicate(k) => ("`", *k, "` given twice"),
            ErrorKind::Unreadable(why) => (*why, "", ""),
        };
        w.str(before);
        w.str(quoted);
        w.str(after);
    }
}

/// Parses the bytes of a configuration file.
pub fn parse_bytes(bytes: &[u8]) -> Result<Config, ConfigError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(whole_file("file larger than 4096 bytes"));
    }
    let text = core::str::from_utf8(bytes).map_err(|_| whole_file("file is not UTF-8"))?;
    parse(text)
}

fn whole_file(why: &'static str) -> ConfigError {
    ConfigError {
        line: 0,
        kind: ErrorKind::Unreadable(why),
    }
}

/// Parses the text of a configuration file.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    // One bit per entry of KEYS: which single-valued keys were already given.
    let mut seen: u32 = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1);
        let err = |kind| ConfigError { line, kind };
        let content = match raw.split_once('#') {
            Some((before, _)) => before,
            None => raw,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        let (key, value) = content
            .split_once('=')
            .ok_or_else(|| err(ErrorKind::MissingEquals))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(err(ErrorKind::EmptyKey));
        }
        let Some(slot) = KEYS.iter().position(|(k, _)| *k == key) else {
            let mut shown = String::new();
            for c in key.chars() {
                if shown.push(c).is_err() {
                    break;
                }
            }
            return Err(err(ErrorKind::UnknownKey(shown)));
        };
        let name = KEYS[slot].0;
        let bit = 1u32 << slot;
        if name != "export" && seen & bit != 0 {
            return Err(err(ErrorKind::Duplicate(name)));
        }
        seen |= bit;
        apply(&mut config, name, value).map_err(|expected| {
            err(ErrorKind::BadValue {
                key: name,
                expected,
            })
        })?;
    }
    Ok(config)
}

/// Sets one key; on failure returns what the key takes.
fn apply(config: &mut Config, key: &'static str, value: &str) -> Result<(), &'static str> {
    match key {
        "transport" => config.transport = parse_transport(value)?,
        "family" => {
            const WANT: &str = "a family name of 1 to 15 characters";
            if value.is_empty() || value.contains(char::is_whitespace) {
                return Err(WANT);
            }
            config.family = String::new();
            // GENL_NAMSIZ counts the NUL: 15 characters at most.
            if value.len() >= GENL_NAMSIZ || config.family.push_str(value).is_err() {
                return Err(WANT);
            }
        }
        "groups" => config.groups = parse_groups(value)?,
        "heartbeat_ms" => {
            let ms = parse_u32(value, "0 or 100..3600000")?;
            if ms != 0 && !(100..=3_600_000).contains(&ms) {
                return Err("0 or 100..3600000");
            }
            config.heartbeat_ms = ms;
        }
        "rcvbuf_bytes" => {
            let bytes = parse_u32(value, "0 or 4096..67108864")?;
            if bytes != 0 && !(4096..=67_108_864).contains(&bytes) {
                return Err("0 or 4096..67108864");
            }
            config.rcvbuf_bytes = bytes;
        }
        "accept_senders" => {
            config.accept_senders = match value {
                "kernel" => Senders::Kernel,
                "any" => Senders::Any,
                _ => return Err("kernel or any"),
            }
        }
        "log" => config.log = parse_log(value)?,
        "log_max_bytes" => {
            let bytes = parse_u32(value, "1024..16777216")?;
            if !(1024..=16_777_216).contains(&bytes) {
                return Err("1024..16777216");
            }
            config.log_max_bytes = bytes;
        }
        "export" => {
            crate::export::check_spec(value)?;
            let spec = short(value, "an exporter specification of at most 96 bytes")?;
            config
                .exports
                .push(spec)
                .map_err(|_| "at most 4 export lines")?;
        }
        module_key => match config.module.set(module_key, value) {
            Ok(()) => {}
            Err(SettingError::BadValue(expected)) => return Err(expected),
            // Every other key of KEYS is a module setting.
            Err(SettingError::UnknownKey) => return Err("a key this agent knows"),
        },
    }
    Ok(())
}

fn short(value: &str, what: &'static str) -> Result<String<MAX_VALUE>, &'static str> {
    let mut s = String::new();
    s.push_str(value).map_err(|_| what)?;
    Ok(s)
}

/// `genl` or `unit:N` (N a netlink protocol number, 0..31).
pub fn parse_transport(value: &str) -> Result<Transport, &'static str> {
    const WANT: &str = "genl or unit:N with N in 0..31";
    if value == "genl" {
        return Ok(Transport::Genl);
    }
    let n = value.strip_prefix("unit:").ok_or(WANT)?;
    match parse_u32(n, WANT)? {
        // MAX_LINKS is 32 in the kernel: units are 0..31.
        unit @ 0..=31 => Ok(Transport::Unit(unit)),
        _ => Err(WANT),
    }
}

fn parse_groups(value: &str) -> Result<Groups, &'static str> {
    const WANT: &str = "one or both of: telemetry events";
    let mut groups = Groups {
        telemetry: false,
        events: false,
    };
    for word in value.split_whitespace() {
        match word {
            "telemetry" => groups.telemetry = true,
            "events" => groups.events = true,
            _ => return Err(WANT),
        }
    }
    if !groups.telemetry && !groups.events {
        return Err(WANT);
    }
    Ok(groups)
}

fn parse_log(value: &str) -> Result<LogTarget, &'static str> {
    match value {
        "none" => Ok(LogTarget::None),
        "stderr" => Ok(LogTarget::Stderr),
        path if path.starts_with('/') && !path.ends_with('/') => Ok(LogTarget::File(short(
            path,
            "a file path of at most 96 bytes",
        )?)),
        _ => Err("stderr, none, or an absolute file path"),
    }
}

/// A decimal `u32` (digits only: no sign, no spaces, no leading `+`).
pub fn parse_u32(value: &str, expected: &'static str) -> Result<u32, &'static str> {
    u32::try_from(parse_u64(value, expected)?).map_err(|_| expected)
}

/// A decimal `u64`.
pub fn parse_u64(value: &str, expected: &'static str) -> Result<u64, &'static str> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected);
    }
    value.parse().map_err(|_| expected)
}

/// A decimal `i64` with an optional leading `-`.
pub fn parse_i64(value: &str, expected: &'static str) -> Result<i64, &'static str> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let magnitude = parse_u64(digits, expected)?;
    let v = i64::try_from(magnitude).map_err(|_| expected)?;
    Ok(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(
            parse("# only a comment\n\n   \n").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn the_boards_config_parses() {
        let text = "# /etc/nltelem.conf\nfamily = nltelem\ngroups = telemetry events\n\
                    period_ms = 1000\nexport = line-protocol:stdout\n";
        let c = parse(text).unwrap();
        assert_eq!(c.family.as_str(), "nltelem");
        assert_eq!(c.module.period_ms, Some(1000));
        assert_eq!(c.exports.len(), 1);
        assert_eq!(c.exports[0].as_str(), "line-protocol:stdout");
    }

    #[test]
    fn every_key_is_accepted_with_a_good_value() {
        let text = "transport = unit:25\nfamily = other\ngroups = events\nperiod_ms = 5\n\
            sources = load cpu netdev\nload1_milli_max = 4000\nmem_available_kib_min = 1024\n\
            temp_mdegc_max = 85000\nwatchdog_ms = 3000\nheartbeat_ms = 0\n\
            rcvbuf_bytes = 1048576\naccept_senders = any\nlog = /tmp/nltelem.log\n\
            log_max_bytes = 2048\nexport = line-protocol:stdout # trailing comment\n";
        let c = parse(text).unwrap();
        assert_eq!(c.transport, Transport::Unit(25));
        assert_eq!(c.family.as_str(), "other");
        assert_eq!(
            c.groups,
            Groups {
                telemetry: false,
                events: true
            }
        );
        assert_eq!(c.module.period_ms, Some(5));
        use nltelem_proto::source;
        assert_eq!(
            c.module.sources,
            Some(source::LOAD | source::CPU | source::NETDEV)
        );
        assert_eq!(c.module.load1_milli_max, Some(4000));
        assert_eq!(c.module.mem_available_kib_min, Some(1024));
        assert_eq!(c.module.temp_mdegc_max, Some(85000));
        assert_eq!(c.module.watchdog_ms, Some(3000));
        assert_eq!(c.heartbeat_ms, 0);
        assert_eq!(c.rcvbuf_bytes, 1_048_576);
        assert_eq!(c.accept_senders, Senders::Any);
        assert_eq!(
            c.log,
            LogTarget::File(String::try_from("/tmp/nltelem.log").unwrap())
        );
        assert_eq!(c.log_max_bytes, 2048);
        // Every documented key was exercised.
        for (key, _) in KEYS {
            assert!(text.contains(key), "{key} not covered");
        }
    }

    fn error_of(text: &str) -> ConfigError {
        parse(text).unwrap_err()
    }

    fn said(e: &ConfigError) -> std::string::String {
        let mut out: nlcore::text::Fixed<256> = nlcore::text::Fixed::new();
        e.describe(out.text());
        out.as_str().expect("fits").to_owned()
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = error_of("period_ms = 10\n\nperiod = 10\n");
        assert_eq!(e.line, 3);
        assert_eq!(
            e.kind,
            ErrorKind::UnknownKey(String::try_from("period").unwrap())
        );
        assert_eq!(said(&e), "line 3: unknown key `period`");
    }

    #[test]
    fn bad_values_name_line_key_and_expectation() {
        let e = error_of("# c\nperiod_ms = 0\n");
        assert_eq!(e.line, 2);
        assert!(matches!(
            e.kind,
            ErrorKind::BadValue {
                key: "period_ms",
                ..
            }
        ));
        assert_eq!(
            said(&e),
            "line 2: bad value for `period_ms`: expected 1..3600000"
        );
        for bad in [
            "period_ms = -5",
            "period_ms = 3600001",
            "period_ms = 1e3",
            "period_ms = ",
            "period_ms = 99999999999999999999999",
            "transport = unit:32",
            "transport = udp",
            "groups = telemetry bogus",
            "groups = ",
            "sources = load gpu",
            "heartbeat_ms = 50",
            "temp_mdegc_max = 200001",
            "accept_senders = everyone",
            "log = relative/path",
            "log_max_bytes = 10",
            "family = has space",
            "family = a-name-longer-than-15",
            "export = carrier-pigeon",
        ] {
            let e = error_of(bad);
            assert_eq!(e.line, 1, "{bad}");
            assert!(matches!(e.kind, ErrorKind::BadValue { .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn structure_errors() {
        let e = error_of("x\n");
        assert_eq!(e.kind, ErrorKind::MissingEquals);
        assert_eq!(said(&e), "line 1: expected `key = value`");
        let e = error_of(" = 3\n");
        assert_eq!(e.kind, ErrorKind::EmptyKey);
        assert_eq!(said(&e), "line 1: missing key before `=`");
        let e = error_of("period_ms = 1\nperiod_ms = 2\n");
        assert_eq!(said(&e), "line 2: `period_ms` given twice");
        assert_eq!((e.line, e.kind), (2, ErrorKind::Duplicate("period_ms")));
        let e = parse_bytes(&[b'#'; MAX_FILE_BYTES + 1]).unwrap_err();
        assert_eq!(e.line, 0);
        assert_eq!(said(&e), "file larger than 4096 bytes");
        let e = parse_bytes(b"family = \xff\n").unwrap_err();
        assert_eq!(said(&e), "file is not UTF-8");
    }

    #[test]
    fn export_repeats_up_to_four_times() {
        let four = "export = line-protocol:stdout\n".repeat(4);
        assert_eq!(parse(&four).unwrap().exports.len(), 4);
        let five = "export = line-protocol:stdout\n".repeat(5);
        assert_eq!(error_of(&five).line, 5);
    }

    #[test]
    fn long_unknown_keys_are_cut_not_refused() {
        let key = "k".repeat(100);
        let e = error_of(&format!("{key} = 1"));
        assert_eq!(
            e.kind,
            ErrorKind::UnknownKey(String::try_from(&key[..32]).unwrap())
        );
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u64("18446744073709551615", "x"), Ok(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616", "x"), Err("x"));
        assert_eq!(parse_u64("+1", "x"), Err("x"));
        assert_eq!(parse_i64("-9223372036854775807", "x"), Ok(-i64::MAX));
        assert_eq!(parse_i64("--1", "x"), Err("x"));
        assert_eq!(parse_u32("4294967296", "x"), Err("x"));
    }
}
