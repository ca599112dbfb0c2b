//! Booting a board under qemu: `cargo xtask qemu` (interactive console) and `cargo xtask run`
//! (build everything, boot, show live telemetry), plus [`Guest`], the handle the system
//! tests use: a qemu process with its serial console read line by line against a deadline,
//! killed by its own PID when the handle goes away.

use crate::board::{take_board_option, Board, DEFAULT_BOARD};
use crate::board_image::build_image;
use crate::util::{fail, step, usage, Result};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Kernel command line every boot gets besides the console. `log_buf_len=8M`: the default
/// 128 KiB log overflows under load and the health check must see all of it. `panic=-1`
/// with qemu's `-no-reboot`: a panic ends qemu at once instead of hanging until the timeout.
/// `loglevel=3`: only errors reach the console, so kernel chatter rarely lands in the middle
/// of a scenario's output (the full log is read from `dmesg` in the guest).
const KERNEL_ARGS: &str = "log_buf_len=8M panic=-1 loglevel=3";

/// The qemu command line for `board` booting `initramfs`, with `extra` kernel arguments.
/// No network card (`-nic none`); the console is the first serial port.
pub fn qemu_command(board: &Board, initramfs: &Path, extra: &str) -> Result<Command> {
    // qemu dies with xtask however xtask ends (Ctrl-C, a kill, a panic): util-linux's
    // `setpriv` sets the parent-death signal and then execs qemu, so qemu keeps its PID.
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "--"])
        .arg(&board.qemu)
        .args(&board.qemu_args)
        .arg("-kernel")
        .arg(board.kernel_file()?)
        .arg("-initrd")
        .arg(initramfs)
        .arg("-append")
        .arg(format!("console={} {KERNEL_ARGS} {extra}", board.console).trim_end())
        .args(["-nic", "none", "-no-reboot", "-display", "none"]);
    Ok(cmd)
}

/// What [`Guest::next_line`] saw.
pub enum Console {
    Line(String),
    /// qemu closed its output: it exited (poweroff, panic or a qemu error).
    Exited,
    TimedOut,
}

/// A running qemu whose serial console (and qemu's own error output) arrives as lines.
pub struct Guest {
    child: Child,
    lines: Receiver<String>,
}

impl Guest {
    /// Starts `cmd` (from [`qemu_command`]) with the console on a pipe and no stdin.
    pub fn start(mut cmd: Command) -> Result<Guest> {
        cmd.args(["-monitor", "none", "-serial", "stdio"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot start {cmd:?}: {e}")))?;
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = child.stderr.take().expect("stderr was piped");
        let tx2 = tx.clone();
        thread::spawn(move || forward_lines(stdout, "", &tx));
        thread::spawn(move || forward_lines(stderr, "qemu: ", &tx2));
        Ok(Guest { child, lines })
    }

    /// The next console line, or why there is none before `deadline`.
    pub fn next_line(&mut self, deadline: Instant) -> Console {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Console::Line(line),
            Err(RecvTimeoutError::Timeout) => Console::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Console::Exited,
        }
    }

    /// Ends qemu (by its PID) and reaps it.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends each line of `from` (serial output uses `\r\n`) with `prefix`, until EOF.
fn forward_lines(from: impl Read, prefix: &str, to: &std::sync::mpsc::Sender<String>) {
    let mut reader = BufReader::new(from);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&raw);
                let line = text.trim_end_matches(['\n', '\r']);
                if to.send(format!("{prefix}{line}")).is_err() {
                    return;
                }
            }
        }
    }
}

/// `--for N`: seconds, if given.
fn take_for_option(args: &[String]) -> Result<(Option<Duration>, Vec<String>)> {
    let mut limit = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--for" {
            let n = it.next().ok_or_else(|| usage("--for needs seconds"))?;
            let secs: u64 = n
                .parse()
                .map_err(|_| usage(format!("--for: `{n}` is not a number of seconds")))?;
            limit = Some(Duration::from_secs(secs));
        } else {
            rest.push(a.clone());
        }
    }
    Ok((limit, rest))
}

fn parse_run_args(args: &[String], command: &str) -> Result<(Board, Option<Duration>)> {
    let (board, rest) = take_board_option(args)?;
    let (limit, rest) = take_for_option(&rest)?;
    if let Some(a) = rest.first() {
        return Err(usage(format!("{command}: unexpected argument `{a}`")));
    }
    Ok((
        Board::load(board.as_deref().unwrap_or(DEFAULT_BOARD))?,
        limit,
    ))
}

/// `cargo xtask qemu [--board B] [--for N]`: boots the image built last (or builds it) with
/// the console on this terminal: a shell in the guest; `Ctrl-A x` quits qemu.
pub fn cmd_qemu(args: &[String]) -> Result {
    let (board, limit) = parse_run_args(args, "qemu")?;
    let image = board.out_dir().join("initramfs.cpio");
    let image = if image.is_file() {
        image
    } else {
        build_image(&board)?.path
    };
    let mut cmd = qemu_command(&board, &image, "")?;
    if let Some(limit) = limit {
        // Bounded, non-interactive: print the console for N seconds.
        let mut guest = Guest::start(cmd)?;
        return show_console(&mut guest, Some(limit));
    }
    println!(
        "booting {} (console on this terminal; Ctrl-A x quits qemu)",
        board.name
    );
    cmd.args(["-serial", "mon:stdio"]);
    crate::util::exec(&mut cmd)
}

/// `cargo xtask run [--board B] [--for N]`: build everything, boot the board, load the
/// module, and show the live telemetry stream until Ctrl-C or N seconds.
pub fn cmd_run(args: &[String]) -> Result {
    let (board, limit) = parse_run_args(args, "run")?;
    let image = build_image(&board)?;
    if !image.has_module {
        return Err(fail(
            "kmod/ cannot be built yet, so there is no telemetry to show (`cargo xtask qemu` boots the image without it)",
        ));
    }
    let client = if image.has_agent {
        "`nltelem monitor` (the agent is started by init through /etc/init.d/nltelem)"
    } else {
        "nltelem-watch (the agent is not built yet)"
    };
    println!(
        "booting {}: module loaded at boot, telemetry shown by {client}; {}",
        board.name,
        match limit {
            Some(l) => format!("stops after {} s", l.as_secs()),
            None => "Ctrl-C stops".into(),
        }
    );
    let mut guest = Guest::start(qemu_command(&board, &image.path, "nltelem_mode=run")?)?;
    step("live telemetry", || show_console(&mut guest, limit))
}

/// Prints console lines until `limit` passes (or forever) or qemu exits; then stops qemu.
fn show_console(guest: &mut Guest, limit: Option<Duration>) -> Result {
    let start = Instant::now();
    // Without a limit the loop ends when qemu ends: Ctrl-C reaches qemu too (same process
    // group) and it exits on SIGINT. Check every second regardless.
    loop {
        let slice = Instant::now() + Duration::from_secs(1);
        let deadline = limit.map_or(slice, |l| (start + l).min(slice));
        match guest.next_line(deadline) {
            Console::Line(l) => println!("{l}"),
            Console::Exited => {
                guest.stop();
                return Err(fail("qemu exited before the time was up"));
            }
            Console::TimedOut => {
                if limit.is_some_and(|l| start.elapsed() >= l) {
                    guest.stop();
                    return Ok(());
                }
            }
        }
    }
}
