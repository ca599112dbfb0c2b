//! `cargo xtask test export`, second half: the whole stack in the qemu guests (the
//! module sampling, the agent exporting) reaching mosquitto and InfluxDB over a tap device
//! in the test's own network namespace; the guest's Prometheus textfile is checked with
//! `promtool`. The guest runs `packaging/guest/export-peers.sh`, added to the board's
//! image as a second initramfs archive together with Debian's virtio-net modules.
//!
//! Checked: every sample the agent received reached the broker (one `nltelem_system` record
//! each, and one per interface) and InfluxDB; the agent counted no export error; the
//! retained status went `online` and, after SIGKILL, `offline` (the will).

use crate::board::Board;
use crate::board_image::build_image;
use crate::board_qemu::{qemu_command, Console, Guest};
use crate::packaging_peers::{Peers, INFLUX_HTTP, MQTT, TAP_DEVICE};
use crate::util::{fail, root, step, Result};
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Both architectures the boards emulate.
const BOARDS: &[&str] = &["qemu-x86_64", "qemu-aarch64"];
const SCENARIO: &str = "export-peers";
/// Debian's modules for the guest's network card (a virtio-net PCI device), in load order
/// (their dependencies first); those a kernel has built in (arm64: virtio, virtio_ring)
/// are left out. The scenario loads them in the order of `/usr/share/nltelem/net-modules`,
/// written from this list.
const NET_MODULES: &[&str] = &[
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/net/core/failover.ko",
    "kernel/drivers/net/net_failover.ko",
    "kernel/drivers/net/virtio_net.ko",
];
/// The agent's topic prefix in the scenario and the guest's node name.
const TOPICS: &str = "nltelem-guest/nltelem";

/// The board's image with the scenario and the network modules appended as a second
/// archive (the kernel unpacks concatenated archives in order).
fn guest_image(board: &Board, dir: &Path) -> Result<std::path::PathBuf> {
    let image = build_image(board)?;
    if !image.has_module || !image.has_agent {
        return Err(fail("the board image lacks the module or the agent"));
    }
    let overlay = dir.join("overlay");
    if overlay.exists() {
        fs::remove_dir_all(&overlay)?;
    }
    let scenarios = overlay.join("usr/share/nltelem/scenarios");
    fs::create_dir_all(&scenarios)?;
    fs::copy(
        root().join("packaging/guest/export-peers.sh"),
        scenarios.join(format!("{SCENARIO}.sh")),
    )?;
    let release = board.kernel_release()?;
    let modules = overlay.join("lib/modules").join(&release);
    fs::create_dir_all(&modules)?;
    let unpacked = board.unpacked().join("lib/modules").join(&release);
    let builtin = fs::read_to_string(unpacked.join("modules.builtin"))?;
    let mut order = String::new();
    for m in NET_MODULES {
        if builtin.lines().any(|b| b == *m) {
            continue;
        }
        let from = unpacked.join(m);
        let name = from.file_name().expect("module paths end in a file name");
        fs::copy(&from, modules.join(name))
            .map_err(|e| fail(format!("{}: {e}", from.display())))?;
        order.push_str(&name.to_string_lossy());
        order.push('\n');
    }
    fs::write(overlay.join("usr/share/nltelem/net-modules"), order)?;
    let archive = dir.join("overlay.cpio");
    let list = Command::new("find")
        .arg(".")
        .current_dir(&overlay)
        .output()?;
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "-R", "0:0", "--quiet"])
        .current_dir(&overlay)
        .stdin(Stdio::piped())
        .stdout(fs::File::create(&archive)?)
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = cpio.stdin.take().expect("stdin was piped");
        stdin.write_all(&list.stdout)?;
    }
    if !cpio.wait()?.success() {
        return Err(fail("cpio failed on the overlay"));
    }
    let combined = dir.join("initramfs.cpio");
    let mut bytes = fs::read(&image.path)?;
    bytes.extend(fs::read(&archive)?);
    fs::write(&combined, bytes)?;
    Ok(combined)
}

/// Boots the guest inside the namespace; returns the scenario's output lines.
fn run_guest(board: &Board, peers: &Peers, initramfs: &Path, dir: &Path) -> Result<Vec<String>> {
    let qemu = qemu_command(board, initramfs, &format!("nltelem_scenario={SCENARIO}"))?;
    let mut cmd = peers.in_namespace(&qemu.get_program().to_string_lossy());
    cmd.args(qemu.get_args()).args([
        "-netdev",
        &format!("tap,id=net0,ifname={TAP_DEVICE},script=no,downscript=no"),
        "-device",
        "virtio-net-pci,netdev=net0",
    ]);
    let mut guest = Guest::start(cmd)?;
    let deadline = Instant::now() + board.boot_timeout;
    let mut console = Vec::new();
    let mut out = Vec::new();
    loop {
        match guest.next_line(deadline) {
            Console::Line(line) => {
                if let Some(text) = line.strip_prefix("@@out ") {
                    out.push(text.to_string());
                }
                let end = line.starts_with(&format!("@@nltelem end {SCENARIO}"));
                console.push(line);
                if end {
                    break;
                }
            }
            Console::Exited | Console::TimedOut => {
                fs::write(dir.join("console.txt"), console.join("\n"))?;
                return Err(fail(format!(
                    "the guest ended without finishing the scenario; console in {}",
                    dir.join("console.txt").display()
                )));
            }
        }
    }
    guest.stop();
    fs::write(dir.join("console.txt"), console.join("\n"))?;
    let tainted = console
        .iter()
        .find_map(|l| l.strip_prefix("@@nltelem tainted "))
        .and_then(|t| t.trim().parse::<u64>().ok())
        .ok_or_else(|| fail("no taint line from the guest"))?;
    // O (4096) and E (8192) are expected for an out-of-tree unsigned module; any other bit
    // means the kernel warned or worse.
    if tainted & !(4096 | 8192) != 0 {
        return Err(fail(format!("guest kernel tainted {tainted}")));
    }
    Ok(out)
}

/// An InfluxQL query through the namespace's loopback (bash's /dev/tcp: no HTTP client
/// needs to be installed).
fn influx_count(peers: &Peers, measurement: &str, field: &str) -> Result<u64> {
    let (host, port) = INFLUX_HTTP.rsplit_once(':').expect("host:port");
    let q =
        format!("SELECT%20count({field})%20FROM%20{measurement}%20WHERE%20host%3D%27nltelem%27");
    let script = format!(
        "exec 3<>/dev/tcp/{host}/{port} && printf '%s\\r\\n\\r\\n' 'GET /query?db=nltelem&q={q} HTTP/1.0' >&3 && timeout 10 cat <&3"
    );
    let out = peers.in_namespace("bash").args(["-c", &script]).output()?;
    let reply = String::from_utf8_lossy(&out.stdout);
    // {"results":[{"statement_id":0,"series":[{...,"values":[["1970-01-01T00:00:00Z",N]]}]}]}
    reply
        .rsplit_once("Z\",")
        .and_then(|(_, rest)| rest.split(']').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail(format!("no count in InfluxDB's reply: {reply}")))
}

fn counters(out: &[String]) -> Result<HashMap<String, u64>> {
    let line = out
        .iter()
        .find(|l| l.starts_with("counters "))
        .ok_or_else(|| {
            fail(format!(
                "the agent printed no counters:\n{}",
                out.join("\n")
            ))
        })?;
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    Ok(words
        .chunks(2)
        .filter_map(|kv| Some((kv[0].to_string(), kv.get(1)?.parse().ok()?)))
        .collect())
}

fn check(peers: &Peers, out: &[String], mqtt: &str, dir: &Path) -> Result {
    let c = counters(out)?;
    let received = c.get("received").copied().unwrap_or(0);
    let errors = c.get("export_errors").copied().unwrap_or(u64::MAX);
    println!(
        "guest agent: received {received} lost {} exported {} export_errors {errors}",
        c.get("lost").copied().unwrap_or(0),
        c.get("exported").copied().unwrap_or(0)
    );
    if received < 10 || errors != 0 {
        return Err(fail(format!("unexpected agent counters: {c:?}")));
    }
    let topic_count = |topic: &str| {
        mqtt.lines()
            .filter(|l| l.split_once(' ').is_some_and(|(t, _)| t == topic))
            .count() as u64
    };
    let system = topic_count(&format!("{TOPICS}/nltelem_system"));
    let eth0 = topic_count(&format!("{TOPICS}/nltelem_netdev/eth0"));
    println!("mosquitto_sub: nltelem_system {system}, nltelem_netdev/eth0 {eth0}");
    if system != received || eth0 != received {
        return Err(fail(format!(
            "the broker passed on {system} system and {eth0} eth0 records for {received} samples"
        )));
    }
    let status: Vec<&str> = mqtt
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{TOPICS}/status ")))
        .collect();
    if status.first() != Some(&"online") || status.last() != Some(&"offline") {
        return Err(fail(format!("status messages: {status:?}")));
    }
    println!("status: {}", status.join(" -> "));
    let influx = influx_count(peers, "nltelem_system", "load1_milli")?;
    println!("InfluxDB: {influx} nltelem_system points");
    if influx != received {
        return Err(fail(format!(
            "InfluxDB holds {influx} system points for {received} samples"
        )));
    }
    let prom: Vec<&str> = out
        .iter()
        .skip_while(|l| *l != "prometheus-begin")
        .skip(1)
        .take_while(|l| *l != "prometheus-end")
        .map(String::as_str)
        .collect();
    let prom_file = dir.join("guest.prom");
    fs::write(&prom_file, prom.join("\n") + "\n")?;
    let lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(fs::File::open(&prom_file)?)
        .output()?;
    let said = String::from_utf8_lossy(&lint.stdout) + String::from_utf8_lossy(&lint.stderr);
    if !lint.status.success()
        || !said.trim().is_empty()
        || !prom
            .iter()
            .any(|l| l.starts_with("nltelem_network_receive_bytes_total{device=\"eth0\"} "))
    {
        return Err(fail(format!(
            "the guest's textfile: {said}\n{}",
            prom.join("\n")
        )));
    }
    println!(
        "promtool: the guest's textfile ({} lines) is clean",
        prom.len()
    );
    Ok(())
}

pub fn test() -> Result {
    for name in BOARDS {
        step(
            &format!("exporters in the {name} guest, over a tap device"),
            || test_board(name),
        )?;
    }
    Ok(())
}

fn test_board(name: &str) -> Result {
    let board = Board::load(name)?;
    let dir = root().join("target/packaging/guest").join(name);
    fs::create_dir_all(&dir)?;
    let initramfs = guest_image(&board, &dir)?;
    // Fresh servers per board: the counts below are this guest's alone.
    let peers = Peers::create(&dir.join("servers"), true)?;
    let (host, port) = MQTT.rsplit_once(':').expect("host:port");
    let mqtt_file = dir.join("mqtt.txt");
    let mut sub = peers
        .in_namespace("mosquitto_sub")
        .args([
            "-h",
            host,
            "-p",
            port,
            "-q",
            "1",
            "-v",
            "-t",
            "nltelem-guest/#",
        ])
        .args(["-W", &board.boot_timeout.as_secs().to_string()])
        .stdout(fs::File::create(&mqtt_file)?)
        .spawn()?;
    // Bounded: mosquitto_sub is subscribed well within a second on loopback.
    std::thread::sleep(Duration::from_secs(1));
    let result = run_guest(&board, &peers, &initramfs, &dir).and_then(|out| {
        // The will comes when the broker sees the connection end: at once on SIGKILL
        // (the guest's kernel closes the socket), before the guest powers off.
        std::thread::sleep(Duration::from_secs(1));
        let _ = Command::new("kill").arg(sub.id().to_string()).status();
        let _ = sub.wait();
        let mqtt = fs::read_to_string(&mqtt_file)?;
        check(&peers, &out, &mqtt, &dir)
    });
    if let Ok(None) = sub.try_wait() {
        let _ = sub.kill();
        let _ = sub.wait();
    }
    drop(peers);
    result
}
