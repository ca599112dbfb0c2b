//! The daemon as a process on the host, fed over `NETLINK_USERSOCK` (unit 2), where a test
//! can play the module: samples multicast to group 1 in the classic unit's layout. Covers
//! what needs no kernel module: the sender check, loss accounting from sequence gaps,
//! signals, configuration errors, and an absent module. (The module's side runs in the
//! qemu boards: `board/scenarios/agent-*.sh`.)
//!
//! Joining a USERSOCK group needs root, as the agent does on a device. Each test that
//! multicasts runs in a network namespace of its own (netlink is per namespace), so no other
//! process on the host, another test run included, can send into the groups its agent
//! joins; they still run one at a time, to keep the machine's load down. They wait for the
//! agent's counters to arrive where they must, never a fixed time: a loaded machine makes
//! the agent slow, not wrong.

use nlcore::consts::NETLINK_USERSOCK;
use nlcore::sock::{Addr, NlSocket};
use nlcore::MsgBuilder;
use nltelem_proto::{attr::sample as k, classic_type, cmd};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Waits for the other tests to finish, then moves this test's thread into a new network
/// namespace: the sockets it opens and the agent it starts (a child inherits its parent
/// thread's namespace) share USERSOCK groups with nothing else on the host.
fn isolated() -> MutexGuard<'static, ()> {
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: CLONE_NEWNET changes only which network namespace this thread's later
    // sockets and children belong to; unlike CLONE_FILES or CLONE_FS it changes no state
    // the rest of the process relies on, and the thread (the harness's, for this one test)
    // holds no socket yet.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare(CLONE_NEWNET): the daemon tests need root");
    one
}

struct Agent {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nltelem-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

impl Agent {
    fn start(config: &PathBuf) -> Agent {
        Agent::start_command("run", config)
    }

    /// `nltelem COMMAND -c CONFIG` with its output lines collected.
    fn start_command(command: &str, config: &PathBuf) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nltelem"))
            .arg(command)
            .arg("-c")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {l}"));
            }
        });
        Agent { child, lines }
    }

    /// The first line containing `what` within 5 s (panics otherwise, with what came).
    fn expect(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if l.contains(what) {
                return l;
            }
            seen.push(l);
        }
        panic!("no line with `{what}` within 5 s; got {seen:?}");
    }

    /// Every line that arrives within `wait`.
    fn lines_for(&self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            got.push(l);
        }
        got
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// The counters after SIGUSR1, as (name, value) pairs.
    fn counters(&self) -> Vec<(String, u64)> {
        self.signal("-USR1");
        let line = self.expect("counters ");
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        words
            .chunks(2)
            .map(|p| (p[0].to_string(), p[1].parse().unwrap()))
            .collect()
    }

    /// The counters once `reached` holds for them, asked every 20 ms for at most 20 s
    /// (then as they are, for the test's assertions to say what is missing): generous, as
    /// a machine busy with builds can hold the agent up for seconds.
    fn counters_once(&self, reached: impl Fn(&[(String, u64)]) -> bool) -> Vec<(String, u64)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.counters();
            if reached(&c) || Instant::now() >= deadline {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; the exit code and how long the exit took (SIGKILL after 3 s).
    fn stop(mut self) -> (Option<i32>, Duration) {
        let t0 = Instant::now();
        self.signal("-TERM");
        while t0.elapsed() < Duration::from_secs(3) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        (None, t0.elapsed())
    }
}

impl Drop for Agent {
    /// A test that fails midway still ends its agent, which would otherwise run on, joined
    /// to its groups, for good (bounded: `kill` is SIGKILL).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn counter(counters: &[(String, u64)], name: &str) -> u64 {
    counters
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no counter {name} in {counters:?}"))
}

/// Multicasts one sample with sequence number `seq` to USERSOCK group 1.
fn send_sample(sock: &NlSocket, seq: u64) {
    let mut buf = [0u8; 128];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(classic_type(cmd::SAMPLE), 0, 0, 0).unwrap();
    b.put_u64(k::SEQ, seq).unwrap();
    b.put_u64(k::SNAPSHOT_SEQ, seq).unwrap();
    b.put_flag(k::LAST_PART).unwrap();
    b.put_u32(k::LOAD1_MILLI, 250).unwrap();
    let len = b.finish().unwrap();
    sock.send_to(&buf[..len], Addr::group(1)).unwrap();
}

fn sender() -> NlSocket {
    NlSocket::open_bound(NETLINK_USERSOCK).expect("a NETLINK_USERSOCK socket")
}

const USERSOCK_CONFIG: &str = "transport = unit:2\ngroups = telemetry\nheartbeat_ms = 0\n";

#[test]
fn samples_from_a_process_are_dropped_and_counted_as_forged() {
    let _one = isolated();
    let agent = Agent::start(&config_file("forged.conf", USERSOCK_CONFIG));
    assert_eq!(agent.expect("ready"), "nltelem: ready (netlink unit 2)");
    let s = sender();
    for seq in 1..=20 {
        send_sample(&s, seq);
    }
    let c = agent.counters_once(|c| counter(c, "forged") >= 20);
    assert_eq!(counter(&c, "forged"), 20);
    assert_eq!(counter(&c, "received"), 0);
    let (code, _) = agent.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn sequence_gaps_are_counted_as_lost() {
    let _one = isolated();
    let text = format!("{USERSOCK_CONFIG}accept_senders = any\n");
    let agent = Agent::start(&config_file("gaps.conf", &text));
    agent.expect("ready");
    let s = sender();
    // 1..=100 with 10..=19 and 50 missing: 89 received, 11 lost.
    for seq in (1..=100).filter(|n| !(10..=19).contains(n) && *n != 50) {
        send_sample(&s, seq);
    }
    let c = agent.counters_once(|c| counter(c, "received") >= 89);
    assert_eq!(counter(&c, "received"), 89);
    assert_eq!(counter(&c, "lost"), 11);
    assert_eq!(counter(&c, "forged"), 0);
    // The module restarting its numbering is no loss.
    send_sample(&s, 1);
    send_sample(&s, 2);
    let c = agent.counters_once(|c| counter(c, "received") >= 91);
    assert_eq!(counter(&c, "lost"), 11);
    assert_eq!(counter(&c, "seq_restarts"), 1);
    let (code, took) = agent.stop();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
}

#[test]
fn sighup_applies_a_good_file_and_keeps_running_on_a_bad_one() {
    let _one = isolated();
    let path = config_file("hup.conf", USERSOCK_CONFIG);
    let agent = Agent::start(&path);
    agent.expect("ready");
    std::fs::write(&path, format!("{USERSOCK_CONFIG}colour = blue\n")).unwrap();
    agent.signal("-HUP");
    let err = agent.expect("stderr:");
    assert!(err.contains("line 4: unknown key `colour`"), "{err}");
    agent.expect("configuration not reloaded");
    // A change the sockets do not see is taken without reconnecting.
    std::fs::write(&path, format!("{USERSOCK_CONFIG}log_max_bytes = 2048\n")).unwrap();
    agent.signal("-HUP");
    let first = agent.lines.recv_timeout(Duration::from_secs(5));
    assert_eq!(first.as_deref(), Ok("nltelem: configuration reloaded"));
    assert_eq!(
        agent.lines_for(Duration::from_millis(300)),
        Vec::<String>::new()
    );
    // Still running with sockets for the old senders: samples from a process stay forged.
    std::fs::write(&path, format!("{USERSOCK_CONFIG}accept_senders = any\n")).unwrap();
    agent.signal("-HUP");
    assert_eq!(agent.expect("reloaded"), "nltelem: configuration reloaded");
    agent.expect("ready");
    let s = sender();
    send_sample(&s, 7);
    let c = agent.counters_once(|c| counter(c, "received") >= 1);
    assert_eq!(counter(&c, "received"), 1);
    assert_eq!(agent.stop().0, Some(0));
}

#[test]
fn a_bad_configuration_file_exits_78_naming_the_line() {
    let path = config_file("bad.conf", "period_ms = 100\n\nperiod_ms = 200\n");
    let out = Command::new(env!("CARGO_BIN_EXE_nltelem"))
        .arg("run")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        format!(
            "nltelem: {}: line 3: `period_ms` given twice",
            path.display()
        )
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_nltelem"))
        .args(["run", "-c", "/nonexistent/nltelem.conf"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(78));
}

#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nltelem"))
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(64));
    assert_eq!(run(&["fly"]).status.code(), Some(64));
    assert_eq!(run(&["set", "period_ms=0"]).status.code(), Some(64));
    let help = run(&["run", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for key in nltelem::config::keys() {
        assert!(text.contains(key), "run --help does not document {key}");
    }
}

#[test]
fn an_absent_module_is_reported_once_and_waited_for() {
    let path = config_file("absent.conf", "family = nltelem-none\n");
    let agent = Agent::start(&path);
    let lines = agent.lines_for(Duration::from_millis(2500));
    let said: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("module not loaded"))
        .collect();
    assert_eq!(said.len(), 1, "{lines:?}");
    assert_eq!(
        said[0],
        "nltelem: module not loaded (no generic netlink family nltelem-none); waiting for it"
    );
    let (code, took) = agent.stop();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
    // One-shot commands say the module is missing with exit 69.
    let out = Command::new(env!("CARGO_BIN_EXE_nltelem"))
        .args(["status", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    let mut err = String::new();
    out.stderr.as_slice().read_to_string(&mut err).unwrap();
    assert_eq!(
        err,
        "nltelem: module not loaded (no generic netlink family `nltelem-none`)\n"
    );
}

#[test]
fn the_log_file_is_size_capped_and_moved_aside_when_full() {
    let _one = isolated();
    let log = config_file("agent.log", "");
    let rotated = PathBuf::from(format!("{}.1", log.display()));
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&rotated);
    let text = format!(
        "{USERSOCK_CONFIG}log = {}\nlog_max_bytes = 1024\n",
        log.display()
    );
    let agent = Agent::start(&config_file("log.conf", &text));
    agent.expect("ready");
    // Every forged datagram is one warning frame in the log. Sent 50 at a time, each lot
    // read before the next: 400 at once can overrun the receive queue of an agent the
    // machine's load holds up, and an overrun datagram is never counted as forged.
    let s = sender();
    for lot in (1..=400).step_by(50) {
        for seq in lot..lot + 50 {
            send_sample(&s, seq);
        }
        agent.counters_once(|c| counter(c, "forged") >= lot + 49);
    }
    let c = agent.counters_once(|c| counter(c, "forged") >= 400);
    assert_eq!(counter(&c, "forged"), 400);
    assert_eq!(agent.stop().0, Some(0));
    for file in [&log, &rotated] {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            !bytes.is_empty() && bytes.len() <= 1024,
            "{}: {} bytes",
            file.display(),
            bytes.len()
        );
        // rzCOBS frames end with a zero byte.
        assert_eq!(bytes.last(), Some(&0), "{}", file.display());
    }
}

#[test]
fn joining_the_groups_without_privilege_exits_77() {
    // An unprivileged user may not join NETLINK_USERSOCK groups: `run` and `monitor` say so
    // on stderr and exit 77. (setpriv from util-linux drops root for the child only.)
    let path = config_file("unprivileged.conf", USERSOCK_CONFIG);
    for command in ["run", "monitor"] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_nltelem"))
            .args([command, "-c"])
            .arg(&path)
            .output()
            .expect("setpriv (util-linux)");
        assert_eq!(out.status.code(), Some(77), "{command}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let what = if command == "run" {
            "cannot open the module's transport: "
        } else {
            ""
        };
        assert_eq!(
            err,
            format!(
                "nltelem: {what}system call failed: errno 1 (joining the groups and changing \
                 settings need root or CAP_NET_ADMIN)\n"
            ),
            "{command}"
        );
    }
}

/// Runs `nltelem ARGS`; the exit code and standard error.
fn one_shot(args: &[&str], config: &PathBuf) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nltelem"))
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn failures_are_said_on_one_line_of_stderr() {
    let missing = PathBuf::from("/nonexistent/nltelem.conf");
    assert_eq!(
        one_shot(&["run"], &missing),
        (
            Some(78),
            "nltelem: /nonexistent/nltelem.conf: cannot open: errno 2\n".into()
        )
    );
    let no_log = config_file("nolog.conf", "log = /nonexistent/dir/agent.log\n");
    assert_eq!(
        one_shot(&["run"], &no_log),
        (
            Some(74),
            "nltelem: cannot open the log file: errno 2\n".into()
        )
    );
    // Unit 31: no netlink protocol of that number exists.
    let absent = config_file("unit31.conf", "transport = unit:31\n");
    assert_eq!(
        one_shot(&["status"], &absent),
        (
            Some(69),
            "nltelem: module not loaded (no netlink unit for `nltelem`)\n".into()
        )
    );
    // USERSOCK exists, but the kernel has nothing behind it to answer a request.
    let unanswered = config_file("unanswered.conf", USERSOCK_CONFIG);
    let refused = "system call failed: errno 111\n";
    for (args, what) in [
        (&["status"][..], "request failed"),
        (&["get", "config"][..], "request failed"),
        (&["get", "sample"][..], "request failed"),
        (&["dump"][..], "dump failed"),
        (&["set", "period_ms=1000"][..], "set refused"),
    ] {
        assert_eq!(
            one_shot(args, &unanswered),
            (Some(69), format!("nltelem: {what}: {refused}")),
            "{args:?}"
        );
    }
}

#[test]
fn an_absent_unit_is_named_while_waited_for() {
    let agent = Agent::start(&config_file("unit31run.conf", "transport = unit:31\n"));
    assert_eq!(
        agent.expect("not loaded"),
        "nltelem: module not loaded (netlink unit 31 absent); waiting for it"
    );
    assert_eq!(agent.stop().0, Some(0));
}

#[test]
fn monitor_says_what_it_drops() {
    let _one = isolated();
    let agent = Agent::start_command("monitor", &config_file("monitor.conf", USERSOCK_CONFIG));
    let s = sender();
    let port = s.port();
    // Monitor says nothing when it is ready: send until a datagram is seen.
    let expected = format!("dropped: datagram from port {port}, not the kernel");
    let mut said = Vec::new();
    for seq in 1..=20 {
        send_sample(&s, seq);
        said.extend(agent.lines_for(Duration::from_millis(100)));
        if said.contains(&expected) {
            break;
        }
    }
    assert!(said.contains(&expected), "{said:?}");
    assert_eq!(agent.stop().0, Some(0));
}

#[test]
fn a_module_that_refuses_at_once_is_retried_with_backoff_and_a_stop_still_stops() {
    // Settings to push make the agent send a request at once; over USERSOCK nothing
    // answers (ECONNREFUSED: the module looks gone). That used to reconnect at once, in a
    // busy loop that printed without end and never read the stop signal.
    let _one = isolated();
    let text = format!("{USERSOCK_CONFIG}period_ms = 500\n");
    let agent = Agent::start(&config_file("refused.conf", &text));
    agent.expect("module gone");
    let lines = agent.lines_for(Duration::from_millis(1500));
    let gone = lines.iter().filter(|l| l.contains("module gone")).count();
    // Waits of 100, 200, 400, 800 ms: four or five more in 1.5 s (it was thousands).
    assert!(gone <= 8, "{gone} times gone: {lines:?}");
    let (code, took) = agent.stop();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
}
