//! `codec-bench <nlcore|npc> <command>`: one run of the codec workload, driven by
//! `cargo xtask bench codec` (the same command line as the libmnl program in `c/`).
//!
//! - `encode N`: builds messages `0 .. N` into one reused buffer;
//! - `encode-dump N`: the same, writing every message to stdout (for the byte comparison);
//! - `decode FILE WALKS`: walks the batch in FILE `WALKS` times.
//!
//! `codec-bench expected WALKS` prints the checksum a decoder must reach, computed from the
//! workload's values alone (no encoder, no decoder involved).
//!
//! Prints `messages=… checksum=… ns_per_msg=… allocations=…`: the time and the allocations
//! are those of the measured loop only.

use codec_bench::workload::{expected_batch_checksum, MSG_LEN};
use codec_bench::{with_nlcore, with_npc};
use std::hint::black_box;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

mod counting_alloc;

use counting_alloc::allocations;

const USAGE: &str = "usage: codec-bench <nlcore|npc> (encode N | encode-dump N | decode FILE WALKS)
       codec-bench expected WALKS";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Codec {
    Nlcore,
    Npc,
}

/// What one measured loop did.
struct Run {
    messages: u64,
    checksum: u64,
    nanos: u128,
    allocations: u64,
}

/// Times `work` and counts the allocations it makes.
fn measure(messages: u64, work: impl FnOnce() -> Result<u64, String>) -> Result<Run, String> {
    let allocations_before = allocations();
    let start = Instant::now();
    let checksum = work()?;
    let nanos = start.elapsed().as_nanos();
    let allocations = allocations() - allocations_before;
    Ok(Run {
        messages,
        checksum,
        nanos,
        allocations,
    })
}

/// Encodes messages `0 .. count` into one reused buffer, handing each to `sink`.
/// The checksum is the sum of the message lengths.
fn encode(codec: Codec, count: u64, mut sink: impl FnMut(&[u8])) -> Result<u64, String> {
    let mut buf = [0u8; 256];
    let mut total = 0u64;
    match codec {
        Codec::Nlcore => {
            for i in 0..count {
                let len = with_nlcore::encode(i, &mut buf).map_err(|e| e.to_string())?;
                sink(black_box(&buf[..len]));
                total += len as u64;
            }
        }
        Codec::Npc => {
            let mut encoder = with_npc::Encoder::default();
            for i in 0..count {
                let len = encoder.encode(i, &mut buf);
                sink(black_box(&buf[..len]));
                total += len as u64;
            }
        }
    }
    Ok(total)
}

/// Walks `batch` `walks` times; the checksum is the sum over all walks.
fn decode(codec: Codec, batch: &[u8], walks: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for _ in 0..walks {
        // black_box: the batch is the same every walk; the walk must not be hoisted.
        let walk = match codec {
            Codec::Nlcore => with_nlcore::decode_batch(black_box(batch)).map_err(|e| e.to_string()),
            Codec::Npc => with_npc::decode_batch(black_box(batch)).map_err(|e| e.to_string()),
        }?;
        sum = sum.wrapping_add(walk);
    }
    Ok(sum)
}

fn number(arg: Option<&String>) -> Result<u64, String> {
    arg.and_then(|a| a.parse().ok())
        .ok_or_else(|| USAGE.to_string())
}

fn run(args: &[String]) -> Result<Option<Run>, String> {
    if args.first().map(String::as_str) == Some("expected") {
        let walks = number(args.get(1))?;
        let sum = expected_batch_checksum().wrapping_mul(walks);
        println!("checksum={sum}");
        return Ok(None);
    }
    let codec = match args.first().map(String::as_str) {
        Some("nlcore") => Codec::Nlcore,
        Some("npc") => Codec::Npc,
        _ => return Err(USAGE.into()),
    };
    match args.get(1).map(String::as_str) {
        Some("encode") => {
            let count = number(args.get(2))?;
            measure(count, || encode(codec, count, |_| ())).map(Some)
        }
        Some("encode-dump") => {
            let count = number(args.get(2))?;
            let mut out = Vec::with_capacity(count as usize * MSG_LEN);
            encode(codec, count, |msg| out.extend_from_slice(msg))?;
            std::io::stdout()
                .write_all(&out)
                .map_err(|e| e.to_string())?;
            Ok(None)
        }
        Some("decode") => {
            let path = args.get(2).ok_or(USAGE)?;
            let walks = number(args.get(3))?;
            let batch = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            let messages = walks * (batch.len() / MSG_LEN) as u64;
            measure(messages, || decode(codec, &batch, walks)).map(Some)
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(Some(r)) => {
            let per_msg = r.nanos as f64 / r.messages.max(1) as f64;
            println!(
                "messages={} checksum={} ns_per_msg={per_msg:.2} allocations={}",
                r.messages, r.checksum, r.allocations
            );
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codec-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
