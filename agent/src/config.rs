//! `/etc/nltelem.conf`: one `key = value` per line, `#` starts a comment.
//!
//! Every key is listed in [`keys`]; `nltelem run --help` says what each means.
//! A key the agent does not know, a value it cannot use, or a key given twice is an error
//! that names the line: a typo must not silently leave a default in place.

use crate::settings::ModuleSettings;
use heapless::{String, Vec};
use nlcore::consts::GENL_NAMSIZ;
use nlcore::text::{phrase, Arg, Text};

/// Where the configuration lives unless `-c FILE` says otherwise (config-texts.txt: the
/// help says it too).
pub const DEFAULT_PATH: &str = DEFAULT_PATH_TEXT;

/// Largest configuration file read (bytes); a bigger one is refused, not cut.
pub const MAX_FILE_BYTES: usize = 4096;

/// Longest value kept for paths and exporter specifications (bytes).
pub const MAX_VALUE: usize = 96;

/// Most `export` lines.
pub const MAX_EXPORTS: usize = 4;

// `KEYS`: every key, separated by spaces, in the order of `nltelem run --help`, which
// says what each means (build.rs takes them from that table in help/run.txt); what each
// key takes, as its errors say it, and the command line's words, from config-texts.txt
// (`FAMILY_TAKES`, ..., `COMMAND_WORDS`). All are parts of `HELP_DICTIONARY`, which the
// help texts are packed after.
include!(concat!(env!("OUT_DIR"), "/keys.rs"));

/// The keys, in order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    words(KEYS)
}

/// The words of a list separated by single spaces, in order (an empty word between two
/// spaces).
pub fn words(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(list);
    core::iter::from_fn(move || next_word(&mut rest, b' '))
}

/// The lines of a list separated by single newlines, in order.
pub fn lines(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(list);
    core::iter::from_fn(move || next_word(&mut rest, b'\n'))
}

/// Takes the first word off `rest`, up to `sep`; `rest` becomes `None` after the last.
/// Out of line: the one loop behind [`keys`], [`words`], [`lines`] and their inlined
/// callers.
#[inline(never)]
fn next_word<'a>(rest: &mut Option<&'a str>, sep: u8) -> Option<&'a str> {
    let r = (*rest)?;
    let (word, next) = split(r, sep).map_or((r, None), |(w, n)| (w, Some(n)));
    *rest = next;
    Some(word)
}

/// The `i`th of the space-separated `names`, `unknown` past the end. The lists put
/// `unknown` first, for the value 0 that protocol numbers do not use: a name by number in
/// one string instead of a table of `&str` (16 bytes an entry).
pub fn name_of(names: &'static str, i: u32) -> &'static str {
    words(names).nth(i as usize).unwrap_or("unknown")
}

/// The words `from..to` of the space-separated `list` (counted from 0), as a slice of it:
/// a list that is part of another is named as that part instead of being a second copy
/// of its bytes. For constants (a word past the end panics at compile time).
pub const fn sub_list(list: &'static str, from: usize, to: usize) -> &'static str {
    let bytes = list.as_bytes();
    let (mut i, mut word, mut start, mut end) = (0, 0, 0, bytes.len());
    while i < bytes.len() {
        if bytes[i] == b' ' {
            word += 1;
            if word == from {
                start = i + 1;
            }
            if word == to {
                end = i;
                break;
            }
        }
        i += 1;
    }
    assert!(
        from < to && to <= word + 1,
        "words past the end of the list"
    );
    list.split_at(end).0.split_at(start).1
}

/// The position of `word` in a space-separated [`words`] list.
pub fn word_index(list: &str, word: &[u8]) -> Option<usize> {
    words(list).position(|w| w.as_bytes() == word)
}

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
    pub family: String<{ GENL_NAMSIZ - 1 }>,
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

/// What is wrong with a line (or the file): the number of its phrase in
/// [`CONFIG_PHRASES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No `=` on a line that is not blank or a comment.
    MissingEquals,
    /// Nothing before the `=`.
    EmptyKey,
    /// A key not in [`keys`] (as written, cut to 32 bytes).
    UnknownKey,
    /// The value does not fit the key.
    BadValue,
    /// A key that may appear once appeared again.
    Duplicate,
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge,
    /// The file is not UTF-8.
    NotUtf8,
}

/// A configuration error, as the data its line is written from: a phrase and the words
/// that fill it, so that building one is a few stores and saying it one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError<'a> {
    /// The line (1-based; 0 for the whole file).
    pub line: u32,
    /// What is wrong.
    pub kind: ErrorKind,
    /// The key (an unknown one as written, cut to 32 bytes; empty when the kind names
    /// none).
    pub key: &'a str,
    /// What the key takes ([`ErrorKind::BadValue`]; empty otherwise).
    pub expected: &'static str,
}

impl ConfigError<'_> {
    /// Says what is wrong and where (`line N: ...`), in one line without a newline.
    pub fn describe(&self, w: &mut dyn Text) {
        if self.line > 0 {
            w.str("line ");
            w.uint(u64::from(self.line));
            w.str(": ");
        }
        phrase(
            w,
            CONFIG_PHRASES,
            self.kind as usize,
            &[Arg::Word(self.key), Arg::Word(self.expected)],
        );
    }
}

/// What [`ConfigError::describe`] says, by [`ErrorKind`], each ended by a NUL (see
/// [`phrase`]).
const CONFIG_PHRASES: &str = "expected `key = value`\0missing key before `=`\0unknown key `\x01`\0\
    bad value for `\x01`: expected \x02\0`\x01` given twice\0file larger than 4096 bytes\0\
    file is not UTF-8\0";

/// An error of the whole file.
fn whole_file(kind: ErrorKind) -> ConfigError<'static> {
    ConfigError {
        line: 0,
        kind,
        key: "",
        expected: "",
    }
}

/// Parses the bytes of a configuration file into `into`, which holds the defaults (see
/// [`parse`]).
pub fn parse_bytes<'a>(bytes: &'a [u8], into: &mut Config) -> Result<(), ConfigError<'a>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(whole_file(ErrorKind::TooLarge));
    }
    let text = core::str::from_utf8(bytes).map_err(|_| whole_file(ErrorKind::NotUtf8))?;
    parse(text, into)
}

/// Parses the text of a configuration file into `into`, which holds the defaults
/// (`Config::default()`) on entry and is of no use after an error. In place: a `Config`
/// returned in a `Result` was a second copy of it (640 bytes) in this frame and a third
/// in the caller's; resetting `into` here would build the defaults in this frame too.
/// Blank lines and comments apply nothing; the first error ends the parse.
// Out of line: inlined into the daemon's file reader it was 64 bytes larger (measured).
#[inline(never)]
pub fn parse<'a>(text: &'a str, into: &mut Config) -> Result<(), ConfigError<'a>> {
    // One bit per key of `keys`: which single-valued keys were already given.
    let mut seen: u32 = 0;
    'lines: for (line, raw) in (1..).zip(lines(text)) {
        // What is wrong with the line, if anything: one exit builds the error.
        let (kind, key, expected) = 'wrong: {
            let content = trim(split(raw, b'#').map_or(raw, |(before, _)| before));
            if content.is_empty() {
                continue 'lines;
            }
            let Some((key, value)) = split(content, b'=') else {
                break 'wrong (ErrorKind::MissingEquals, "", "");
            };
            let key = trim(key);
            if key.is_empty() {
                break 'wrong (ErrorKind::EmptyKey, "", "");
            }
            let Some(slot) = word_index(KEYS, key.as_bytes()) else {
                // The longest prefix of at most 32 bytes that ends on a character.
                // (0 is a boundary: the search ends there at the latest.)
                let mut end = key.len().min(32);
                let prefix = loop {
                    if let Some((prefix, _)) = key.split_at_checked(end) {
                        break prefix;
                    }
                    end -= 1;
                };
                break 'wrong (ErrorKind::UnknownKey, prefix, "");
            };
            // Errors name the key as the file has it (the same word as in KEYS).
            let bit = 1u32 << slot;
            if slot != EXPORT && seen & bit != 0 {
                break 'wrong (ErrorKind::Duplicate, key, "");
            }
            seen |= bit;
            match apply(into, slot, trim(value)) {
                Ok(()) => continue 'lines,
                Err(expected) => (ErrorKind::BadValue, key, expected),
            }
        };
        return Err(ConfigError {
            line,
            kind,
            key,
            expected,
        });
    }
    Ok(())
}

/// `s` before and after the first `b` (an ASCII byte, so both are text).
pub fn split(s: &str, b: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|c| c == b)?;
    // Cut by `split_at_checked`, which checks one character boundary: a range `get`
    // compiles to more (measured, here and in `trim`).
    let (head, tail) = s.split_at_checked(at)?;
    Some((head, tail.split_at_checked(1)?.1))
}

/// `s` without white space at either end (ASCII white space: see [`is_space`]).
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_space(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |i| i + 1);
    s.split_at_checked(end)
        .and_then(|(head, _)| head.split_at_checked(start))
        .map_or("", |(_, part)| part)
}

/// A decimal: digits only (no sign, no spaces, no `+`), within `u64`.
#[inline(never)] // one copy for every number read
pub fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for b in value.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(v)
}

/// A decimal in the range that `range` says: its last two numbers are the lowest and the
/// highest taken, and a third before them (`0 or MIN..MAX`) says that 0 is taken too. The
/// text an error shows is the range's only statement: no table of limits to keep in step
/// with it.
pub fn number(value: &str, range: &str) -> Option<u64> {
    // The last two numbers in `range`, and how many there are.
    let (mut limits, mut count, mut in_digits) = ([0u64; 2], 0, false);
    for b in range.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 {
            if !in_digits {
                limits = [limits[1], 0];
                count += 1;
            }
            limits[1] = limits[1].wrapping_mul(10).wrapping_add(u64::from(digit));
        }
        in_digits = digit <= 9;
    }
    let [min, max] = limits;
    decimal(value).filter(|&v| v <= max && (v >= min || (count > 2 && v == 0)))
}

/// Whether `b` is white space: the ASCII white space of Unicode (space, tab, line feed,
/// vertical tab, form feed, carriage return). Other Unicode spaces are not: the file is
/// read byte by byte, without Unicode's tables.
pub fn is_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// Positions in [`keys`] that [`apply`] treats apart.
const TRANSPORT: usize = 0;
const FAMILY: usize = 1;
const GROUPS: usize = 2;
/// The module settings are the keys from `FIRST_SETTING` on, in `SETTING_KEYS` order.
pub(crate) const FIRST_SETTING: usize = 3;
const HEARTBEAT_MS: usize = 9;
const RCVBUF_BYTES: usize = 10;
const ACCEPT_SENDERS: usize = 11;
const LOG: usize = 12;
const LOG_MAX_BYTES: usize = 13;
const EXPORT: usize = 14;

/// Sets the key at `slot` of [`keys`]; on failure returns what the key takes.
// Out of line: 280 bytes smaller than inlined into the line loop, measured.
#[inline(never)]
fn apply(config: &mut Config, slot: usize, value: &str) -> Result<(), &'static str> {
    match slot {
        TRANSPORT => config.transport = parse_transport(value)?,
        FAMILY => {
            // GENL_NAMSIZ counts the NUL: the name's capacity (15 characters) refuses a
            // longer one.
            if value.is_empty() || value.bytes().any(is_space) {
                return Err(FAMILY_TAKES);
            }
            fill(&mut config.family, value, FAMILY_TAKES)?;
        }
        GROUPS => config.groups = parse_groups(value)?,
        HEARTBEAT_MS | RCVBUF_BYTES | LOG_MAX_BYTES => {
            // One call for the three numbers of the agent's own.
            let (field, range) = match slot {
                HEARTBEAT_MS => (&mut config.heartbeat_ms, HEARTBEAT_TAKES),
                RCVBUF_BYTES => (&mut config.rcvbuf_bytes, RCVBUF_TAKES),
                _ => (&mut config.log_max_bytes, LOG_MAX_TAKES),
            };
            // The ranges are within u32.
            *field = number(value, range).ok_or(range)? as u32;
        }
        ACCEPT_SENDERS => {
            config.accept_senders = match word_index("kernel any", value.as_bytes()) {
                Some(0) => Senders::Kernel,
                Some(_) => Senders::Any,
                None => return Err(SENDERS_TAKE),
            }
        }
        LOG => parse_log(&mut config.log, value)?,
        EXPORT => {
            crate::export::check_spec(value)?;
            // Filled in place: a String<96> is not built and then moved.
            config
                .exports
                .push(String::new())
                .map_err(|_| EXPORTS_TAKE)?;
            if let Some(spec) = config.exports.last_mut() {
                fill(spec, value, EXPORT_SPEC_TAKES)?;
            }
        }
        setting => config.module.set_nth(setting - FIRST_SETTING, value)?,
    }
    Ok(())
}

/// Sets `s` to `value`, or says `what` when it is too long (the caller's value is then
/// unused: the file is refused).
fn fill<const N: usize>(
    s: &mut String<N>,
    value: &str,
    what: &'static str,
) -> Result<(), &'static str> {
    s.clear();
    s.push_str(value).map_err(|_| what)
}

/// `genl` or `unit:N` (N a netlink protocol number, 0..31).
pub fn parse_transport(value: &str) -> Result<Transport, &'static str> {
    if value == "genl" {
        return Ok(Transport::Genl);
    }
    let n = value.strip_prefix("unit:").ok_or(TRANSPORT_TAKES)?;
    // MAX_LINKS is 32 in the kernel: units are 0..31.
    match decimal(n) {
        Some(n @ 0..=31) => Ok(Transport::Unit(n as u32)),
        _ => Err(TRANSPORT_TAKES),
    }
}

fn parse_groups(value: &str) -> Result<Groups, &'static str> {
    // The names are the end of what the key takes: one copy of them.
    const NAMES: &str = GROUPS_TAKE.split_at("one or both of: ".len()).1;
    let mask = names_mask(value, NAMES, false).ok_or(GROUPS_TAKE)?;
    Ok(Groups {
        telemetry: mask & 1 != 0,
        events: mask & 2 != 0,
    })
}

/// The bits of the names in `value`, separated by white space (and by commas where
/// `commas`): bit `i` for the `i`th of the space-separated `names`; `None` when a word is
/// not in `names` or there is none.
pub fn names_mask(value: &str, names: &str, commas: bool) -> Option<u32> {
    let mut mask = 0;
    for word in value
        .as_bytes()
        .split(|&b| is_space(b) || (commas && b == b','))
    {
        if !word.is_empty() {
            mask |= 1 << word_index(names, word)?;
        }
    }
    (mask != 0).then_some(mask)
}

/// `none`, `stderr` or an absolute file path into `log`.
fn parse_log(log: &mut LogTarget, value: &str) -> Result<(), &'static str> {
    let b = value.as_bytes();
    *log = match word_index("none stderr", b) {
        Some(0) => LogTarget::None,
        Some(_) => LogTarget::Stderr,
        None if b.first() == Some(&b'/') && b.last() != Some(&b'/') => {
            // Filled in place, as the exporters are.
            *log = LogTarget::File(String::new());
            if let LogTarget::File(path) = log {
                fill(path, value, LOG_PATH_TAKES)?;
            }
            return Ok(());
        }
        None => return Err(LOG_TAKES),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::parse`], the configuration returned.
    fn parse(text: &str) -> Result<Config, ConfigError<'_>> {
        let mut config = Config::default();
        super::parse(text, &mut config).map(|()| config)
    }

    /// [`super::parse_bytes`], the configuration returned.
    fn parse_bytes(bytes: &[u8]) -> Result<Config, ConfigError<'_>> {
        let mut config = Config::default();
        super::parse_bytes(bytes, &mut config).map(|()| config)
    }

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
        assert_eq!(c.module.get("period_ms"), Some(1000));
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
        assert_eq!(c.module.get("period_ms"), Some(5));
        use nltelem_proto::source;
        assert_eq!(
            c.module.get("sources"),
            Some(u64::from(source::LOAD | source::CPU | source::NETDEV))
        );
        assert_eq!(c.module.get("load1_milli_max"), Some(4000));
        assert_eq!(c.module.get("mem_available_kib_min"), Some(1024));
        assert_eq!(c.module.get("temp_mdegc_max"), Some(85000));
        assert_eq!(c.module.get("watchdog_ms"), Some(3000));
        assert_eq!(c.heartbeat_ms, 0);
        assert_eq!(c.rcvbuf_bytes, 1_048_576);
        assert_eq!(c.accept_senders, Senders::Any);
        assert_eq!(
            c.log,
            LogTarget::File(String::try_from("/tmp/nltelem.log").unwrap())
        );
        assert_eq!(c.log_max_bytes, 2048);
        // Every documented key was exercised.
        for key in keys() {
            assert!(text.contains(key), "{key} not covered");
        }
    }

    fn error_of(text: &str) -> ConfigError<'_> {
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
        assert_eq!((e.kind, e.key), (ErrorKind::UnknownKey, "period"));
        assert_eq!(said(&e), "line 3: unknown key `period`");
    }

    #[test]
    fn bad_values_name_line_key_and_expectation() {
        let e = error_of("# c\nperiod_ms = 0\n");
        assert_eq!(e.line, 2);
        assert_eq!((e.kind, e.key), (ErrorKind::BadValue, "period_ms"));
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
            assert_eq!(e.kind, ErrorKind::BadValue, "{bad}: {e:?}");
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
        assert_eq!(
            (e.line, e.kind, e.key),
            (2, ErrorKind::Duplicate, "period_ms")
        );
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
        let text = format!("{key} = 1");
        let e = error_of(&text);
        assert_eq!((e.kind, e.key), (ErrorKind::UnknownKey, &key[..32]));
    }

    #[test]
    fn sub_lists_are_slices_of_the_list() {
        static LIST: &str = "a bb c dd";
        assert_eq!(sub_list(LIST, 0, 1), "a");
        assert_eq!(sub_list(LIST, 1, 3), "bb c");
        assert_eq!(sub_list(LIST, 3, 4), "dd");
        assert_eq!(sub_list(LIST, 0, 4), LIST);
        // The same bytes, not a copy.
        assert_eq!(sub_list(LIST, 2, 4).as_ptr(), LIST[5..].as_ptr());
        assert_eq!(
            crate::settings::SETTING_KEYS,
            "period_ms sources load1_milli_max mem_available_kib_min temp_mdegc_max watchdog_ms"
        );
    }

    #[test]
    fn integers() {
        assert_eq!(decimal("18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal("18446744073709551616"), None);
        assert_eq!(decimal("+1"), None);
        assert_eq!(decimal("-1"), None);
        assert_eq!(decimal(""), None);
        assert_eq!(decimal("09"), Some(9));
        assert_eq!(number("10", "0..9"), None);
        assert_eq!(number("0", "1..9"), None);
        assert_eq!(number("09", "1..9"), Some(9));
        assert_eq!(number("0", "0 or 5..9"), Some(0));
        assert_eq!(number("4", "0 or 5..9"), None);
        assert_eq!(number("5", "0 or 5..9"), Some(5));
        assert_eq!(number("1", "0..0"), None);
        assert_eq!(
            number("18446744073709551615", "0..18446744073709551615"),
            Some(u64::MAX)
        );
    }

    #[test]
    fn line_ends_comments_and_spaces() {
        let c = parse("period_ms = 5\r\nfamily=\tfam # comment = x\r\n\x0bgroups = events \x0c\n")
            .unwrap();
        assert_eq!(c.module.get("period_ms"), Some(5));
        assert_eq!(c.family.as_str(), "fam");
        assert!(!c.groups.telemetry && c.groups.events);
        let c = parse("groups = \t telemetry\t\tevents  \nsources = load,\tcpu , thermal").unwrap();
        assert!(c.groups.telemetry && c.groups.events);
        use nltelem_proto::source;
        assert_eq!(
            c.module.get("sources"),
            Some(u64::from(source::LOAD | source::CPU | source::THERMAL))
        );
        // A comment may hold anything; a line of spaces and a comment is blank.
        assert_eq!(parse("  # x = y\n\t\n#\n").unwrap(), Config::default());
        assert_eq!(error_of("=\n").kind, ErrorKind::EmptyKey);
        let e = error_of("\n\nperiod ms = 1");
        assert_eq!(
            (e.line, e.kind, e.key),
            (3, ErrorKind::UnknownKey, "period ms")
        );
        // White space is ASCII's (as `is_space` says): other Unicode spaces are part of
        // the value, so a no-break space after a number makes it a bad value.
        assert_eq!(error_of("period_ms = 10\u{a0}").kind, ErrorKind::BadValue);
        // The first error wins, and a key that failed still counts as given.
        assert_eq!(error_of("period_ms = 0\nperiod_ms = x\n").line, 1);
    }

    #[test]
    fn edges_of_ranges() {
        for good in [
            "heartbeat_ms = 0",
            "heartbeat_ms = 100",
            "heartbeat_ms = 3600000",
            "rcvbuf_bytes = 4096",
            "rcvbuf_bytes = 67108864",
            "log_max_bytes = 1024",
            "log_max_bytes = 16777216",
            "transport = unit:0",
            "transport = unit:31",
            "transport = unit:007",
            "temp_mdegc_max = -0",
            "temp_mdegc_max = 200000",
            "load1_milli_max = 4294967295",
            "mem_available_kib_min = 18446744073709551615",
            "family = fifteen-chars-x",
            "log = /a",
            "log = stderr",
            "log = none",
            "period_ms = 0001",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for (bad, expected) in [
            ("heartbeat_ms = 99", "0 or 100..3600000"),
            ("heartbeat_ms = 3600001", "0 or 100..3600000"),
            ("rcvbuf_bytes = 4095", "0 or 4096..67108864"),
            ("rcvbuf_bytes = 67108865", "0 or 4096..67108864"),
            ("log_max_bytes = 1023", "1024..16777216"),
            ("log_max_bytes = 16777217", "1024..16777216"),
            ("log_max_bytes = 4294967296", "1024..16777216"),
            ("transport = unit:", "genl or unit:N with N in 0..31"),
            ("transport = unit:+1", "genl or unit:N with N in 0..31"),
            ("transport = UNIT:1", "genl or unit:N with N in 0..31"),
            ("temp_mdegc_max = -1", "0..200000"),
            ("temp_mdegc_max = --0", "0..200000"),
            ("temp_mdegc_max = -", "0..200000"),
            ("load1_milli_max = 4294967296", "0..4294967295"),
            (
                "mem_available_kib_min = 18446744073709551616",
                "0..18446744073709551615",
            ),
            ("watchdog_ms = -0", "0..3600000"),
            ("period_ms = 1 0", "1..3600000"),
            (
                "family = sixteen-chars-xy",
                "a family name of 1 to 15 characters",
            ),
            ("family = a\tb", "a family name of 1 to 15 characters"),
            ("family =", "a family name of 1 to 15 characters"),
            ("log = /var/", "stderr, none, or an absolute file path"),
            ("log = /", "stderr, none, or an absolute file path"),
            ("log = ", "stderr, none, or an absolute file path"),
            (
                "groups = telemetry,events",
                "one or both of: telemetry events",
            ),
            (
                "sources = ,",
                "one or more of: load memory cpu netdev thermal",
            ),
            ("accept_senders = Kernel", "kernel or any"),
        ] {
            let e = error_of(bad);
            assert_eq!(
                (e.kind, e.expected),
                (ErrorKind::BadValue, expected),
                "{bad}"
            );
        }
        let long = format!("log = /{}", "p".repeat(96));
        let e = error_of(&long);
        assert_eq!(
            (e.kind, e.expected),
            (ErrorKind::BadValue, "a file path of at most 96 bytes")
        );
    }

    #[test]
    fn unknown_keys_are_cut_on_a_character_boundary() {
        let key = format!("{}é", "k".repeat(31));
        let text = format!("{key} = 1");
        let e = error_of(&text);
        assert_eq!((e.kind, e.key), (ErrorKind::UnknownKey, &key[..31]));
        let e = error_of("pé = 1");
        assert_eq!((e.kind, e.key), (ErrorKind::UnknownKey, "pé"));
    }
}
