//! The command line, parsed apart from the work (so it is tested on the host).

use crate::config::{split, word_index};
use crate::format::Style;
use crate::settings::{ModuleSettings, SettingError, SETTING_KEYS};
use nlcore::text::{phrase, Arg, Text};
use nltelem_proto::cmd;

/// Exit codes (sysexits.h).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A run-time failure not covered below (`EX_SOFTWARE`).
    pub const SOFTWARE: u8 = 70;
    /// Bad command line (`EX_USAGE`).
    pub const USAGE: u8 = 64;
    /// The module (family or unit) is not there (`EX_UNAVAILABLE`).
    pub const UNAVAILABLE: u8 = 69;
    /// An I/O error, e.g. the log file cannot be written (`EX_IOERR`).
    pub const IOERR: u8 = 74;
    /// Not allowed: joining groups or changing settings needs privileges (`EX_NOPERM`).
    pub const NOPERM: u8 = 77;
    /// The configuration file is missing or wrong (`EX_CONFIG`).
    pub const CONFIG: u8 = 78;
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The daemon.
    Run,
    /// Print samples and events live.
    Monitor,
    /// Ask the module (`cmd::GET_SAMPLE`, `GET_CONFIG`, `GET_STATS`, `DUMP_NETDEV`) and print
    /// its reply.
    Ask(u8),
    /// Change the module's settings (the invocation's), then print them.
    Set,
    /// Print a help text (or the version: [`Topic::Version`]).
    Help(Topic),
}

/// Which help text. In the order of the packed texts (build.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// `monitor`.
    Monitor,
    /// `get`.
    Get,
    /// `dump`.
    Dump,
    /// `status`.
    Status,
    /// `set`.
    Set,
    /// The overview.
    Main,
    /// `run`.
    Run,
    /// `--version`: the version line, not a packed text.
    Version,
}

/// A parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// The command.
    pub command: Command,
    /// `-c FILE` / `--config FILE`, when given.
    pub config: Option<&'a str>,
    /// `--json` or not.
    pub style: Style,
    /// What `set` changes.
    pub settings: ModuleSettings,
}

/// What [`parse`] starts from: `--version`, and no options.
impl Default for Invocation<'_> {
    fn default() -> Self {
        Invocation {
            command: Command::Help(Topic::Version),
            config: None,
            style: Style::Text,
            settings: ModuleSettings::default(),
        }
    }
}

/// What is wrong with the command line: the kind, and the words its phrase quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageError<'a> {
    /// What is wrong.
    pub kind: Usage,
    /// The argument at fault (empty when there is none).
    pub arg: &'a str,
    /// What the setting takes ([`Usage::BadValue`]; empty otherwise).
    pub expected: &'static str,
}

/// The kinds of [`UsageError`], in the order of [`USAGE_PHRASES`]: an error is a phrase
/// number and its words, written by one call, instead of a variant of its own to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// No command.
    NoCommand,
    /// An unknown command.
    UnknownCommand,
    /// An option the command does not take.
    UnknownOption,
    /// An option that needs a value came last.
    MissingValue,
    /// A stray argument.
    Unexpected,
    /// `set` without settings.
    NothingToSet,
    /// `set` with a value its key does not take.
    BadValue,
    /// `set` with an argument that is not `KEY=VALUE`, or an unknown key.
    UnknownSetting,
}

/// What [`UsageError::describe`] says, by [`Usage`], each ended by a NUL (see [`phrase`]).
/// The last goes on with the list of settings.
const USAGE_PHRASES: &str = "no command given (try `nltelem --help`)\0unknown command `\x01`\0\
    unknown option `\x01`\0option `\x01` needs a value\0unexpected argument `\x01`\0\
    set: give at least one KEY=VALUE\0set: bad value in `\x01`: expected \x02\0\
    set: `\x01` is not KEY=VALUE with KEY one of \0";

impl UsageError<'_> {
    /// Says what is wrong, in one line without a newline.
    pub fn describe(&self, w: &mut dyn Text) {
        phrase(
            w,
            USAGE_PHRASES,
            self.kind as usize,
            &[Arg::Word(self.arg), Arg::Word(self.expected)],
        );
        if self.kind == Usage::UnknownSetting {
            // The settings' names, separated by commas: byte by byte, an error's one line.
            for b in SETTING_KEYS.bytes() {
                match b {
                    b' ' => w.str(", "),
                    _ => w.byte(b),
                }
            }
        }
    }
}

/// What a word of the command line is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    /// A command's name: its help topic, and what it does unless its arguments say more.
    Command(Topic, Command),
    /// `help`.
    Help,
    /// `--help`, `-h`.
    HelpOption,
    /// `--version`, `-V`.
    Version,
    /// `-c`, `--config`.
    Config,
    /// `--json`.
    Json,
    /// `sample` or `config` (after `get`): the request it names.
    Ask(u8),
    /// Anything else.
    Other,
}

/// Every word the command line knows, separated by spaces: each argument is looked up
/// once, in one loop. One string and a table of what each is ([`WORD_OF`]): a table of
/// `(&str, Word)` took 24 bytes an entry. A part of the help's dictionary
/// (config-texts.txt), which the help's mentions of them refer to.
const WORDS: &str = crate::config::COMMAND_WORDS;

/// What each of [`WORDS`] is, in order.
static WORD_OF: [Word; 16] = [
    Word::Command(Topic::Run, Command::Run),
    Word::Command(Topic::Monitor, Command::Monitor),
    Word::Command(Topic::Get, Command::Ask(cmd::GET_SAMPLE)),
    Word::Command(Topic::Dump, Command::Ask(cmd::DUMP_NETDEV)),
    Word::Command(Topic::Status, Command::Ask(cmd::GET_STATS)),
    Word::Command(Topic::Set, Command::Set),
    Word::Help,
    Word::HelpOption,
    Word::HelpOption,
    Word::Version,
    Word::Version,
    Word::Config,
    Word::Config,
    Word::Json,
    Word::Ask(cmd::GET_SAMPLE),
    Word::Ask(cmd::GET_CONFIG),
];

/// What `arg` is, by reference: a `Word` is three bytes, which a load takes apart more
/// cheaply than a return builds them.
fn word(arg: &str) -> &'static Word {
    word_index(WORDS, arg.as_bytes())
        .and_then(|i| WORD_OF.get(i))
        .unwrap_or(&Word::Other)
}

fn is_option(arg: &str) -> bool {
    arg.as_bytes().first() == Some(&b'-')
}

/// Parses the arguments after the program name into `inv`, which holds the defaults
/// ([`Invocation::default`]). In place: a returned `Result<Invocation>` (a `set`'s
/// settings make it 80 bytes) was copied at every layer between the parser and the
/// command.
pub fn parse<'a>(args: &[&'a str], inv: &mut Invocation<'a>) -> Result<(), UsageError<'a>> {
    // Every error leaves this block with its kind and words: one exit that builds the
    // error, instead of one at each.
    let (kind, arg, expected) = 'bad: {
        let Some((&first, rest)) = args.split_first() else {
            break 'bad (Usage::NoCommand, "", "");
        };
        let topic = match *word(first) {
            Word::Command(topic, command) => {
                inv.command = command;
                topic
            }
            // `help [TOPIC]` takes one word at most, `--version` none; without a topic, each
            // prints its own text (the overview, the version line).
            w @ (Word::Help | Word::HelpOption | Word::Version) => {
                let (topic, takes) = match w {
                    Word::Version => (Topic::Version, 0),
                    _ => (Topic::Main, 1),
                };
                if let Some(extra) = rest.get(takes) {
                    break 'bad (Usage::Unexpected, extra, "");
                }
                inv.command = Command::Help(match rest.first() {
                    None => topic,
                    Some(c) => match *word(c) {
                        Word::Command(topic, _) => topic,
                        _ => break 'bad (Usage::UnknownCommand, c, ""),
                    },
                });
                return Ok(());
            }
            _ if is_option(first) => break 'bad (Usage::UnknownOption, first, ""),
            _ => break 'bad (Usage::UnknownCommand, first, ""),
        };
        // Words that are not options: `get`'s request, or `set`'s settings, counted.
        let mut positional = 0usize;
        let mut args = rest.iter();
        while let Some(&arg) = args.next() {
            match *word(arg) {
                Word::HelpOption => {
                    inv.command = Command::Help(topic);
                    return Ok(());
                }
                Word::Config => match args.next() {
                    Some(&file) => inv.config = Some(file),
                    None => break 'bad (Usage::MissingValue, arg, ""),
                },
                Word::Json if topic != Topic::Run => inv.style = Style::Json,
                _ if is_option(arg) => break 'bad (Usage::UnknownOption, arg, ""),
                w => {
                    match (topic, w) {
                        (Topic::Get, Word::Ask(ask)) if positional == 0 => {
                            inv.command = Command::Ask(ask)
                        }
                        (Topic::Set, _) => {
                            let set = match split(arg, b'=') {
                                Some((key, value)) => inv.settings.set(key, value),
                                None => Err(SettingError::UnknownKey),
                            };
                            match set {
                                Ok(()) => {}
                                Err(SettingError::BadValue(takes)) => {
                                    break 'bad (Usage::BadValue, arg, takes)
                                }
                                Err(SettingError::UnknownKey) => {
                                    break 'bad (Usage::UnknownSetting, arg, "")
                                }
                            }
                        }
                        _ => break 'bad (Usage::Unexpected, arg, ""),
                    }
                    positional += 1;
                }
            }
        }
        if topic == Topic::Set && positional == 0 {
            break 'bad (Usage::NothingToSet, "", "");
        }
        return Ok(());
    };
    Err(UsageError {
        kind,
        arg,
        expected,
    })
}

// `HELP_PACKED` and `HELP_BOUNDS`, from help/*.txt (build.rs).
include!(concat!(env!("OUT_DIR"), "/help.rs"));

/// Writes the help text of a topic (help/TOPIC.txt, unpacked), or the version line.
// Out of line: its 4 KiB buffer (and the stack probe that touches each of its pages) must
// not join the frame of its caller, the start-up every command and the daemon run under.
#[inline(never)]
pub fn help(topic: Topic, w: &mut dyn Text) {
    if topic == Topic::Version {
        return w.str(concat!("nltelem ", env!("CARGO_PKG_VERSION"), "\n"));
    }
    // Every topic is unpacked, as a reference may reach into an earlier one's text. On the
    // stack: only this process, which prints the help and exits, ever touches it.
    let mut all = [0u8; HELP_BOUNDS[HELP_BOUNDS.len() - 1] as usize];
    crate::pack::unpack(
        crate::config::HELP_DICTIONARY.as_bytes(),
        &HELP_PACKED,
        &mut all,
    );
    let i = topic as usize;
    if let (Some(&start), Some(&end)) = (HELP_BOUNDS.get(i), HELP_BOUNDS.get(i + 1)) {
        w.bytes(
            all.get(usize::from(start)..usize::from(end))
                .unwrap_or_default(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A usage error of `kind` about `arg`.
    fn usage(kind: Usage, arg: &str) -> UsageError<'_> {
        UsageError {
            kind,
            arg,
            expected: "",
        }
    }

    /// [`super::parse`], the invocation returned.
    fn parse<'a>(args: &[&'a str]) -> Result<Invocation<'a>, UsageError<'a>> {
        let mut inv = Invocation::default();
        super::parse(args, &mut inv).map(|()| inv)
    }

    fn ok(args: &[&'static str]) -> Invocation<'static> {
        parse(args).unwrap()
    }

    #[test]
    fn commands_and_options() {
        let inv = ok(&["run", "-c", "/tmp/x.conf"]);
        assert_eq!(
            (inv.command, inv.config, inv.style),
            (Command::Run, Some("/tmp/x.conf"), Style::Text)
        );
        assert_eq!(ok(&["run", "--config", "/a"]).config, Some("/a"));
        assert_eq!(ok(&["monitor", "--json"]).style, Style::Json);
        assert_eq!(ok(&["get"]).command, Command::Ask(cmd::GET_SAMPLE));
        assert_eq!(
            ok(&["get", "config", "--json"]).command,
            Command::Ask(cmd::GET_CONFIG)
        );
        assert_eq!(ok(&["dump"]).command, Command::Ask(cmd::DUMP_NETDEV));
        assert_eq!(ok(&["status"]).command, Command::Ask(cmd::GET_STATS));
        assert_eq!(ok(&["status", "--json"]).style, Style::Json);
        assert_eq!(ok(&["--version"]).command, Command::Help(Topic::Version));
    }

    #[test]
    fn help_everywhere() {
        assert_eq!(ok(&["--help"]).command, Command::Help(Topic::Main));
        assert_eq!(ok(&["help", "set"]).command, Command::Help(Topic::Set));
        assert_eq!(ok(&["dump", "--help"]).command, Command::Help(Topic::Dump));
        // --help wins over what follows, even bad options.
        assert_eq!(
            ok(&["monitor", "-h", "--bogus"]).command,
            Command::Help(Topic::Monitor)
        );
        for t in [
            Topic::Main,
            Topic::Run,
            Topic::Monitor,
            Topic::Get,
            Topic::Dump,
            Topic::Status,
            Topic::Set,
        ] {
            assert!(help_text(t).starts_with("usage: nltelem"));
        }
    }

    fn help_text(topic: Topic) -> std::string::String {
        let mut out: nlcore::text::Fixed<4096> = nlcore::text::Fixed::new();
        help(topic, out.text());
        out.as_str().expect("fits").to_owned()
    }

    /// The packed help unpacks to help/*.txt, which hold the help as printed before it was
    /// packed.
    #[test]
    fn help_unpacks_to_its_source() {
        for (topic, text) in [
            (Topic::Main, include_str!("../help/main.txt")),
            (Topic::Run, include_str!("../help/run.txt")),
            (Topic::Monitor, include_str!("../help/monitor.txt")),
            (Topic::Get, include_str!("../help/get.txt")),
            (Topic::Dump, include_str!("../help/dump.txt")),
            (Topic::Status, include_str!("../help/status.txt")),
            (Topic::Set, include_str!("../help/set.txt")),
        ] {
            assert_eq!(help_text(topic), text, "{topic:?}");
        }
        // Packing pays: at most 55 % of the text.
        assert!(HELP_PACKED.len() * 100 <= usize::from(HELP_BOUNDS[7] - HELP_BOUNDS[0]) * 50);
    }

    /// `help run` lists exactly the keys the parser knows (build.rs takes them from its
    /// table), in order, each in a 22-byte column.
    #[test]
    fn run_help_lists_the_keys() {
        let text = help_text(Topic::Run);
        let (_, table) = text.split_once("# comments):\n").expect("the key table");
        let listed: Vec<&str> = table
            .lines()
            .map(|l| {
                assert_eq!(l.as_bytes()[24], b' ', "{l}");
                l[2..24].trim_end()
            })
            .collect();
        let keys: Vec<&str> = crate::config::keys().collect();
        assert_eq!(listed, keys);
    }

    #[test]
    fn set_parses_every_pair() {
        let inv = ok(&["set", "period_ms=10", "sources=load,cpu"]);
        assert_eq!(inv.command, Command::Set);
        let s = inv.settings;
        assert_eq!(s.get("period_ms"), Some(10));
        assert_eq!(
            s.get("sources"),
            Some(u64::from(
                nltelem_proto::source::LOAD | nltelem_proto::source::CPU
            ))
        );
    }

    #[test]
    fn usage_errors() {
        assert_eq!(parse(&[]), Err(usage(Usage::NoCommand, "")));
        assert_eq!(parse(&["fly"]), Err(usage(Usage::UnknownCommand, "fly")));
        assert_eq!(parse(&["-x"]), Err(usage(Usage::UnknownOption, "-x")));
        assert_eq!(
            parse(&["run", "--json"]),
            Err(usage(Usage::UnknownOption, "--json"))
        );
        assert_eq!(parse(&["run", "-c"]), Err(usage(Usage::MissingValue, "-c")));
        assert_eq!(
            parse(&["run", "extra"]),
            Err(usage(Usage::Unexpected, "extra"))
        );
        assert_eq!(
            parse(&["get", "config", "sample"]),
            Err(usage(Usage::Unexpected, "sample"))
        );
        assert_eq!(
            parse(&["get", "stats"]),
            Err(usage(Usage::Unexpected, "stats"))
        );
        assert_eq!(parse(&["set"]), Err(usage(Usage::NothingToSet, "")));
        assert_eq!(
            parse(&["set", "period_ms"]),
            Err(usage(Usage::UnknownSetting, "period_ms"))
        );
        assert_eq!(
            parse(&["set", "period_ms=0"]),
            Err(UsageError {
                kind: Usage::BadValue,
                arg: "period_ms=0",
                expected: "1..3600000"
            })
        );
        assert_eq!(
            parse(&["help", "fly"]),
            Err(usage(Usage::UnknownCommand, "fly"))
        );
    }

    #[test]
    fn usage_error_messages() {
        let said = |args: &[&str]| {
            let mut out: nlcore::text::Fixed<256> = nlcore::text::Fixed::new();
            parse(args).unwrap_err().describe(out.text());
            out.as_str().expect("fits").to_owned()
        };
        assert_eq!(said(&[]), "no command given (try `nltelem --help`)");
        assert_eq!(said(&["fly"]), "unknown command `fly`");
        assert_eq!(said(&["-x"]), "unknown option `-x`");
        assert_eq!(said(&["run", "-c"]), "option `-c` needs a value");
        assert_eq!(said(&["run", "extra"]), "unexpected argument `extra`");
        assert_eq!(said(&["set"]), "set: give at least one KEY=VALUE");
        assert_eq!(
            said(&["set", "period_ms=0"]),
            "set: bad value in `period_ms=0`: expected 1..3600000"
        );
        assert_eq!(
            said(&["set", "colour=red"]),
            "set: `colour=red` is not KEY=VALUE with KEY one of period_ms, sources, \
             load1_milli_max, mem_available_kib_min, temp_mdegc_max, watchdog_ms"
        );
    }
    #[test]
    fn words_in_every_position() {
        assert_eq!(
            parse(&["--json"]),
            Err(usage(Usage::UnknownOption, "--json"))
        );
        assert_eq!(
            parse(&["sample"]),
            Err(usage(Usage::UnknownCommand, "sample"))
        );
        assert_eq!(
            parse(&["help", "-h"]),
            Err(usage(Usage::UnknownCommand, "-h"))
        );
        assert_eq!(
            parse(&["help", "run", "x"]),
            Err(usage(Usage::Unexpected, "x"))
        );
        assert_eq!(parse(&["-V", "x"]), Err(usage(Usage::Unexpected, "x")));
        assert_eq!(ok(&["-V"]).command, Command::Help(Topic::Version));
        assert_eq!(ok(&["-h", "run"]).command, Command::Help(Topic::Run));
        assert_eq!(ok(&["help", "get"]).command, Command::Help(Topic::Get));
        assert_eq!(ok(&["run", "-c", "a", "--config", "b"]).config, Some("b"));
        assert_eq!(ok(&["get", "-c", "--json"]).config, Some("--json"));
        assert_eq!(parse(&["get", "-c"]), Err(usage(Usage::MissingValue, "-c")));
        assert_eq!(
            ok(&["get", "sample", "--json"]).command,
            Command::Ask(cmd::GET_SAMPLE)
        );
        assert_eq!(
            parse(&["get", "sample", "sample"]),
            Err(usage(Usage::Unexpected, "sample"))
        );
        assert_eq!(
            parse(&["dump", "config"]),
            Err(usage(Usage::Unexpected, "config"))
        );
        assert_eq!(
            parse(&["status", "-x"]),
            Err(usage(Usage::UnknownOption, "-x"))
        );
        assert_eq!(
            ok(&["set", "period_ms=1", "--help", "--bogus"]).command,
            Command::Help(Topic::Set)
        );
        let inv = ok(&["set", "--json", "watchdog_ms=5"]);
        assert_eq!(inv.style, Style::Json);
        assert_eq!(
            parse(&["set", "x=1=2"]),
            Err(usage(Usage::UnknownSetting, "x=1=2"))
        );
        assert_eq!(
            parse(&["set", "sources=load=cpu"]),
            Err(UsageError {
                kind: Usage::BadValue,
                arg: "sources=load=cpu",
                expected: "one or more of: load memory cpu netdev thermal"
            })
        );
        assert_eq!(
            parse(&["set", "period_ms=1", "config"]),
            Err(usage(Usage::UnknownSetting, "config"))
        );
    }
}
