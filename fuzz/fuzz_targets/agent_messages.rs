//! The agent's decoders and renderings on arbitrary datagrams: every message is opened as
//! the module's (both transports) and as the controller's, and whatever decodes is printed
//! in every output format the agent has. Nothing may panic; what is printed as JSON must
//! be one well-formed line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlcore::text::Text;
use nlcore::MessageIter;
use nltelem::decode::{Event, Sample};
use nltelem::export::{write_line_protocol, write_line_protocol_event};
use nltelem::format::{self, Style};
use nltelem::route::{CtrlFamily, Route};
use nltelem_proto::cmd;

/// Text gathered in memory.
struct Gathered(Vec<u8>);

impl Text for Gathered {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// Renders with `put` in both styles; the JSON must be one line, the text valid UTF-8.
/// Nothing to check when `put` refuses the message.
fn both(put: &dyn Fn(&mut dyn Text, Style) -> Result<(), nlcore::Error>) {
    for style in [Style::Text, Style::Json] {
        let mut out = Gathered(Vec::new());
        if put(&mut out, style).is_err() {
            return;
        }
        let text = std::str::from_utf8(&out.0).expect("output is UTF-8");
        if style == Style::Json {
            assert_eq!(
                text.matches('\n').count(),
                1,
                "one JSON object per line: {text:?}"
            );
            assert!(text.starts_with('{') && text.ends_with("}\n"), "{text:?}");
        }
    }
}

const ROUTES: [Route; 2] = [
    Route::Genl {
        family: 0x20,
        telemetry: Some(3),
        events: Some(4),
    },
    Route::Classic { unit: 25 },
];

fuzz_target!(|data: &[u8]| {
    for msg in MessageIter::new(data) {
        let Ok(msg) = msg else { break };
        if let Some(family) = CtrlFamily::parse(&msg, nltelem_proto::FAMILY_NAME.as_bytes()) {
            let _ = family.group_ids(&["telemetry", "events"]);
        }
        for route in ROUTES {
            let Some((command, attrs)) = route.open(&msg) else {
                continue;
            };
            let mut line = Gathered(Vec::new());
            match command {
                cmd::SAMPLE | cmd::GET_SAMPLE => {
                    if let Ok(s) = Sample::parse(attrs.clone()) {
                        write_line_protocol(&mut line, &s, "host");
                    }
                }
                cmd::EVENT => {
                    if let Ok(e) = Event::parse(attrs.clone()) {
                        write_line_protocol_event(&mut line, &e, "host");
                    }
                }
                _ => {}
            }
            // Printed as every kind of message, whatever its command.
            for printed in [
                cmd::SAMPLE,
                cmd::EVENT,
                cmd::GET_CONFIG,
                cmd::DUMP_NETDEV,
                cmd::GET_STATS,
            ] {
                both(&|w, style| format::message(w, printed, attrs.clone(), style));
            }
            assert!(
                std::str::from_utf8(&line.0).is_ok(),
                "line protocol is UTF-8"
            );
        }
    }
});
