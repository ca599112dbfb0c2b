//! Long guest runs for `cargo xtask bench guest` and `cargo xtask test reliability`: the
//! board's image plus an overlay (the static C guest programs of `bench/guest/` and one
//! `board/scenarios/NAME.long` script), booted once with `nltelem_scenario=NAME`.
//!
//! The overlay is a second `newc` archive appended to the board's initramfs: the kernel
//! unpacks concatenated archives in order, so the system tests' image stays as it is and
//! `cargo xtask test system` never sees these scripts (they are not `*.sh`). The guest's
//! `run-scenario` prints the script's output, exit status, taint flags and kernel log
//! between markers, as for a system test; the script also echoes `@@progress` lines to the
//! console, which are shown as they come.

use crate::board::{boards_dir, Board};
use crate::board_image::build_image;
use crate::board_qemu::{qemu_command, Console, Guest};
use crate::util::{exec, fail, root, step, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The static C guest programs, built from `bench/guest/<name>.c`.
const C_PROGRAMS: &[&str] = &["nlt-recv", "nlt-client", "nlt-hostile"];

/// What one long guest run reported.
pub struct GuestRun {
    /// The script's output lines (`@@out`), in order.
    pub output: Vec<String>,
    pub exit: Option<i32>,
    /// Kernel log lines that show a problem (WARNING, BUG, Oops, general protection) and a
    /// taint other than O/E; empty when the kernel stayed clean.
    pub kernel_problems: Vec<String>,
    /// Number of kernel log lines the guest printed (0 means the report is incomplete).
    pub dmesg_lines: usize,
    /// Where the whole console log was saved.
    pub log: PathBuf,
}

impl GuestRun {
    /// `key=value` fields of every output line starting with `prefix`.
    pub fn records(&self, prefix: &str) -> Vec<Vec<(String, String)>> {
        self.output
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(fields)
            .collect()
    }

    /// The first record of lines starting with `prefix`; an error naming `what` if none.
    pub fn first(&self, prefix: &str, what: &str) -> Result<Vec<(String, String)>> {
        self.records(prefix).into_iter().next().ok_or_else(|| {
            fail(format!(
                "{what}: the guest printed no `{prefix}` line (console log {})",
                self.log.display()
            ))
        })
    }

    /// Fails unless the script ended with status 0 and the kernel stayed clean.
    pub fn require_clean(&self, what: &str) -> Result {
        if self.exit != Some(0) {
            let tail = self.output[self.output.len().saturating_sub(20)..].join("\n    ");
            return Err(fail(format!(
                "{what}: the guest script ended with {:?} (console log {}); last output:\n    {tail}",
                self.exit,
                self.log.display()
            )));
        }
        if self.dmesg_lines == 0 || !self.kernel_problems.is_empty() {
            return Err(fail(format!(
                "{what}: kernel not clean (console log {}): {}",
                self.log.display(),
                if self.dmesg_lines == 0 {
                    "no kernel log reported".to_string()
                } else {
                    self.kernel_problems.join("; ")
                }
            )));
        }
        Ok(())
    }
}

/// `a=1 b=x` and `a 1 b x` both give [(a, 1), (b, x)]: the guest's lines mix `key=value`
/// with the `name value` pairs the programs print.
pub fn fields(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        if let Some((k, v)) = w.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        } else if let Some(v) = words.peek().filter(|v| !v.contains('=')) {
            out.push((w.to_string(), v.to_string()));
            words.next();
        }
    }
    out
}

/// The value of `key` in a record, as a number.
pub fn num(record: &[(String, String)], key: &str) -> Option<f64> {
    record
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// The value of `key` in a record, as text.
pub fn text<'a>(record: &'a [(String, String)], key: &str) -> Option<&'a str> {
    record
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The median of `values` (the mean of the middle two for an even count); None when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Where this part's builds and logs go.
pub fn out_dir(board: &Board) -> PathBuf {
    root().join("target/reliability").join(&board.name)
}

/// Builds the C guest programs for `board`, static: with musl-gcc on the host's own
/// architecture (Debian's musl-tools is native only), else with the board's cross gcc
/// against Debian's static glibc (`libc6-dev-<arch>-cross`, there for the module's tools).
fn build_c_programs(board: &Board, dir: &Path) -> Result<Vec<PathBuf>> {
    let native = board.debian_arch == "amd64" && std::env::consts::ARCH == "x86_64";
    let compiler = if native {
        "musl-gcc".to_string()
    } else {
        format!("{}gcc", board.cross_compile)
    };
    if !native && board.cross_compile.is_empty() {
        return Err(fail(format!(
            "board {}: no cross compiler for the C guest programs",
            board.name
        )));
    }
    let src = root().join("bench/guest");
    let uapi = root().join("kmod/uapi");
    fs::create_dir_all(dir)?;
    step(
        &format!("C guest programs ({compiler} -static -O2)"),
        || {
            for p in C_PROGRAMS {
                exec(
                    Command::new(&compiler)
                        .args([
                            "-static",
                            "-O2",
                            "-Wall",
                            "-Wextra",
                            "-Werror",
                            "-D_GNU_SOURCE",
                        ])
                        .arg("-I")
                        .arg(&uapi)
                        .arg("-o")
                        .arg(dir.join(p))
                        .arg(src.join(format!("{p}.c"))),
                )?;
            }
            Ok(())
        },
    )?;
    Ok(C_PROGRAMS.iter().map(|p| dir.join(p)).collect())
}

/// Builds the board's image with the C programs and `board/scenarios/NAME.long` appended.
pub fn build_overlay_image(board: &Board, name: &str) -> Result<PathBuf> {
    let base = build_image(board)?;
    if !base.has_module || !base.has_agent {
        return Err(fail(format!(
            "{name}: the image of {} lacks the module or the agent",
            board.name
        )));
    }
    let out = out_dir(board);
    let programs = build_c_programs(board, &out.join("bin"))?;
    let staging = out.join(format!("overlay-{name}"));
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    let bin = staging.join("usr/bin");
    let scenarios = staging.join("usr/share/nltelem/scenarios");
    fs::create_dir_all(&bin)?;
    fs::create_dir_all(&scenarios)?;
    for p in &programs {
        fs::copy(p, bin.join(p.file_name().expect("programs have names")))?;
    }
    let script = boards_dir().join("scenarios").join(format!("{name}.long"));
    fs::copy(&script, scenarios.join(format!("{name}.sh")))
        .map_err(|e| fail(format!("{}: {e}", script.display())))?;
    let overlay = out.join(format!("overlay-{name}.cpio"));
    let list = "./usr\n./usr/bin\n./usr/share\n./usr/share/nltelem\n./usr/share/nltelem/scenarios\n"
        .to_string()
        + &C_PROGRAMS
            .iter()
            .map(|p| format!("./usr/bin/{p}\n"))
            .collect::<String>()
        + &format!("./usr/share/nltelem/scenarios/{name}.sh\n");
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "-R", "0:0", "--quiet"])
        .current_dir(&staging)
        .stdin(std::process::Stdio::piped())
        .stdout(fs::File::create(&overlay)?)
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = cpio.stdin.take().expect("stdin was piped");
        stdin.write_all(list.as_bytes())?;
    }
    if !cpio.wait()?.success() {
        return Err(fail("cpio failed on the overlay"));
    }
    let image = out.join(format!("initramfs-{name}.cpio"));
    let mut bytes = fs::read(&base.path)?;
    // newc archives are 4-byte aligned; cpio pads its output to 512-byte blocks anyway.
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes.extend(fs::read(&overlay)?);
    fs::write(&image, bytes)?;
    Ok(image)
}

/// Boots `image` running scenario `name` with `extra` kernel arguments; gives up (kills
/// qemu) after `limit`.
pub fn run(
    board: &Board,
    image: &Path,
    name: &str,
    extra: &str,
    limit: Duration,
) -> Result<GuestRun> {
    let cmd = qemu_command(board, image, &format!("nltelem_scenario={name} {extra}"))?;
    let mut guest = Guest::start(cmd)?;
    let deadline = Instant::now() + limit;
    let (mut began, mut ended) = (false, false);
    let (mut output, mut dmesg, mut console) = (Vec::new(), Vec::new(), Vec::new());
    let (mut exit, mut tainted) = (None, None);
    let mut stopped = None;
    while !ended {
        let line = match guest.next_line(deadline) {
            Console::Line(l) => l,
            Console::Exited => {
                stopped = Some("qemu exited before the end marker");
                break;
            }
            Console::TimedOut => {
                stopped = Some("time limit reached (qemu killed)");
                break;
            }
        };
        if let Some(at) = line.find("@@") {
            let marked = &line[at..];
            if let Some(p) = marked.strip_prefix("@@progress ") {
                println!("  guest: {p}");
            } else if let Some(rest) = marked.strip_prefix("@@nltelem ") {
                let (what, value) = rest.split_once(' ').unwrap_or((rest, ""));
                match what {
                    "begin" if value == name => began = true,
                    "end" if value == name && began => ended = true,
                    "exit" => exit = value.trim().parse().ok(),
                    "tainted" => tainted = value.trim().parse::<u64>().ok(),
                    _ => {}
                }
            } else if let Some(o) = marked.strip_prefix("@@out ") {
                output.push(o.to_string());
            } else if let Some(d) = marked.strip_prefix("@@dmesg ") {
                dmesg.push(d.to_string());
            }
        }
        console.push(line);
    }
    guest.stop();
    let logs = out_dir(board).join("logs");
    fs::create_dir_all(&logs)?;
    let log = logs.join(format!("{name}.log"));
    fs::write(&log, console.join("\n") + "\n")?;
    if let Some(why) = stopped {
        let tail = console[console.len().saturating_sub(25)..].join("\n    ");
        return Err(fail(format!(
            "{name} on {}: {why}; console log {}; last lines:\n    {tail}",
            board.name,
            log.display()
        )));
    }
    let kernel_problems = crate::board_system::kernel_problems(&dmesg, tainted);
    Ok(GuestRun {
        output,
        exit,
        kernel_problems,
        dmesg_lines: dmesg.len(),
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_reads_both_forms() {
        let f = fields("run interfaces=26 receiver=c received 10 lost 0 cpu_ticks 3");
        assert_eq!(text(&f, "receiver"), Some("c"));
        assert_eq!(num(&f, "interfaces"), Some(26.0));
        assert_eq!(num(&f, "received"), Some(10.0));
        assert_eq!(num(&f, "cpu_ticks"), Some(3.0));
        assert_eq!(num(&f, "run"), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
