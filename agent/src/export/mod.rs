//! Exporters: where samples go after the agent has checked and counted them.
//!
//! The daemon hands every accepted sample to [`Exporters::sample`] and counts what it
//! reports. This first version speaks InfluxDB line protocol to standard output; further
//! exporters (file, UDP, Prometheus textfile, MQTT) plug in behind the same call, each
//! named by an `export = KIND:TARGET` line of the configuration.

mod line_protocol;

pub use line_protocol::write_sample as write_line_protocol;

use crate::config::MAX_VALUE;
use crate::decode::Sample;
use core::fmt::Write;
use heapless::String;

/// Checks one `export` value: a known exporter and target. Returns what the key takes.
pub fn check_spec(spec: &str) -> Result<(), &'static str> {
    match spec {
        "line-protocol:stdout" => Ok(()),
        _ => Err("line-protocol:stdout"),
    }
}

/// What one hand-over did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records taken by sinks.
    pub exported: u64,
    /// Records a sink could not take (full, down): dropped and counted, never waited for.
    pub failed: u64,
}

/// The configured exporters.
#[derive(Debug, Clone, Default)]
pub struct Exporters {
    line_protocol_stdout: bool,
}

impl Exporters {
    /// The exporters the `export` lines name (already checked by [`check_spec`]).
    pub fn new(specs: &[String<MAX_VALUE>]) -> Self {
        Exporters {
            line_protocol_stdout: specs.iter().any(|s| s == "line-protocol:stdout"),
        }
    }

    /// Whether any exporter is configured.
    pub fn is_empty(&self) -> bool {
        !self.line_protocol_stdout
    }

    /// Hands one sample to every exporter; `stdout` is the agent's standard output.
    pub fn sample(&mut self, s: &Sample<'_>, stdout: &mut impl Write) -> Outcome {
        let mut outcome = Outcome::default();
        if self.line_protocol_stdout {
            match write_line_protocol(stdout, s) {
                Ok(records) => outcome.exported += records,
                Err(_) => outcome.failed += 1,
            }
        }
        outcome
    }
}
