//! The exporters against the real consumers: InfluxDB 1.x, `promtool`, a mosquitto broker
//! and `mosquitto_sub`. `cargo xtask test export` starts the servers inside a network
//! namespace it creates, runs these tests there (they are `#[ignore]`d in a plain
//! `cargo test`, which has no servers) and tells them where the servers are:
//!
//! - `NLTELEM_PEER_INFLUX_HTTP` / `NLTELEM_PEER_INFLUX_UDP`: InfluxDB's HTTP API and UDP
//!   listener (database `nltelem`);
//! - `NLTELEM_PEER_MQTT`: the broker;
//! - `promtool`, `mosquitto_sub` on `PATH`.
//!
//! Every wait is bounded; every test checks values, not only that something arrived.

use super::{Exporters, Gathered, Outcome, Storage};
use crate::config::MAX_VALUE;
use crate::decode::Sample;
use nlcore::{MsgBuilder, NlMsg};
use nltelem_proto::attr::{netdev as nd, sample as k, thermal_zone as tz};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run `cargo xtask test export`"))
}

fn specs(list: &[&str]) -> Vec<heapless::String<MAX_VALUE>> {
    list.iter()
        .map(|s| heapless::String::try_from(*s).unwrap())
        .collect()
}

/// A snapshot message: `devices` interfaces with counters derived from `n`, one thermal
/// zone, part `part` of snapshot `n`.
fn snapshot(buf: &mut [u8], n: u64, part: u32, last: bool, devices: &[&str]) -> usize {
    let mut b = MsgBuilder::new(buf);
    b.begin(0x20, 0, 0, 0).unwrap();
    b.put_u64(k::SEQ, n * 10 + u64::from(part)).unwrap();
    b.put_u64(k::SNAPSHOT_SEQ, n).unwrap();
    b.put_u32(k::PART, part).unwrap();
    if last {
        b.put_flag(k::LAST_PART).unwrap();
    }
    b.put_u64(
        k::TIMESTAMP_NS,
        1_700_000_000_000_000_000 + n * 1_000_000_000,
    )
    .unwrap();
    if part == 0 {
        b.put_u64(k::UPTIME_NS, 60_000_000_000 + n).unwrap();
        b.put_u32(k::LOAD1_MILLI, 100 + n as u32).unwrap();
        b.put_u64(k::MEM_TOTAL_KIB, 262_144).unwrap();
        b.put_u64(k::MEM_AVAILABLE_KIB, 200_000 - n).unwrap();
        let cpu = b.nest_start(k::CPU).unwrap();
        b.put_u64(nltelem_proto::attr::cpu_times::USER_NS, 5_000_000_000 * n)
            .unwrap();
        b.put_u64(nltelem_proto::attr::cpu_times::IDLE_NS, 7_000_000_000 * n)
            .unwrap();
        b.nest_end(cpu).unwrap();
        let t = b.nest_start(k::THERMAL).unwrap();
        b.put_str(tz::TYPE, "acpitz").unwrap();
        b.put_i32(tz::TEMP_MDEGC, 40_000 + n as i32).unwrap();
        b.nest_end(t).unwrap();
    }
    for (i, name) in devices.iter().enumerate() {
        let d = b.nest_start(k::NETDEV).unwrap();
        b.put_u32(nd::IFINDEX, i as u32 + 1).unwrap();
        b.put_str(nd::IFNAME, name).unwrap();
        b.put_u8(nd::OPER_STATE, 6).unwrap();
        b.put_u64(nd::RX_BYTES, 1000 * n + i as u64).unwrap();
        b.put_u64(nd::TX_BYTES, 2000 * n + i as u64).unwrap();
        // Beyond InfluxDB's signed integers: must still be accepted.
        b.put_u64(nd::TX_DROPPED, u64::MAX).unwrap();
        b.nest_end(d).unwrap();
    }
    b.finish().unwrap()
}

fn export(e: &mut Exporters, buf: &[u8], stdout: &mut Gathered) -> Outcome {
    let msg = NlMsg::new_checked(buf).unwrap();
    let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
    e.sample(&s, stdout)
}

/// A plain HTTP/1.0 request; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("")
        .to_string();
    (status, body)
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn influx_query(http_addr: &str, q: &str) -> String {
    let (status, body) = http(
        http_addr,
        "GET",
        &format!("/query?db=nltelem&q={}", urlencode(q)),
        "",
    );
    assert_eq!(status, 200, "{q}: {body}");
    body
}

/// Polls `f` every 100 ms for at most `secs`; true once it held.
fn within(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

#[test]
#[ignore = "needs InfluxDB: cargo xtask test export"]
fn influxdb_takes_every_point_over_udp_and_http_and_returns_the_values() {
    let http_addr = env("NLTELEM_PEER_INFLUX_HTTP");
    let udp_addr = env("NLTELEM_PEER_INFLUX_UDP");
    let (status, body) = http(
        &http_addr,
        "POST",
        "/query?q=CREATE%20DATABASE%20nltelem",
        "",
    );
    assert_eq!(status, 200, "{body}");
    // A node name of its own per run, so earlier runs' points never count.
    let host = format!("peer-udp-{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("nltelem-peer-lp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("points.lp");
    let udp_spec = format!("line-protocol:udp:{udp_addr}");
    let file_spec = format!("line-protocol:file:{}", file.display());
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[&udp_spec, &file_spec]), &host);
    // 40 interfaces: the points of one message take several datagrams.
    let names: Vec<String> = (0..40).map(|i| format!("eth{i}")).collect();
    let mut devices: Vec<&str> = names.iter().map(String::as_str).collect();
    devices.push("br lan,=x");
    let mut stdout = Gathered::default();
    let mut buf = vec![0u8; 16384];
    let snapshots = 5u64;
    for n in 1..=snapshots {
        let len = snapshot(&mut buf, n, 0, true, &devices);
        let outcome = export(&mut e, &buf[..len], &mut stdout);
        // Per sink: system + 41 interfaces + 1 zone.
        assert_eq!(
            outcome,
            Outcome {
                exported: 2 * 43,
                failed: 0
            }
        );
    }
    let points_per_host = snapshots * 43;
    let count_q = format!("SELECT count(rx_bytes) FROM nltelem_netdev WHERE host = '{host}'");
    let expected = format!("[\"1970-01-01T00:00:00Z\",{}]", snapshots * 41);
    assert!(
        within(15, || influx_query(&http_addr, &count_q)
            .contains(&expected)),
        "UDP points missing: {}",
        influx_query(&http_addr, &count_q)
    );
    let q = format!(
        "SELECT rx_bytes, tx_bytes, tx_dropped FROM nltelem_netdev WHERE host = '{host}' AND ifname = 'br lan,=x' ORDER BY time DESC LIMIT 1"
    );
    let last = influx_query(&http_addr, &q);
    assert!(
        last.contains("\"2023-11-14T22:13:25Z\",5040,10040,9223372036854775807"),
        "{last}"
    );
    let q = format!("SELECT load1_milli, cpu_user_ns, mem_available_kib FROM nltelem_system WHERE host = '{host}' ORDER BY time DESC LIMIT 1");
    let sys = influx_query(&http_addr, &q);
    assert!(sys.contains(",105,25000000000,199995]"), "{sys}");
    let q = format!("SELECT temp_mdegc FROM nltelem_thermal WHERE host = '{host}' AND zone = 'acpitz' ORDER BY time DESC LIMIT 1");
    assert!(influx_query(&http_addr, &q).contains(",40005]"));

    // The file sink's text through the HTTP API, which reports every rejected line (the
    // UDP listener only logs them): all accepted.
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count() as u64, points_per_host);
    let text = text.replace(&host, &format!("{host}-http"));
    let (status, body) = http(&http_addr, "POST", "/write?db=nltelem", &text);
    assert_eq!(status, 204, "InfluxDB refused points: {body}");
    let q = format!("SELECT count(rx_bytes) FROM nltelem_netdev WHERE host = '{host}-http'");
    assert!(influx_query(&http_addr, &q).contains(&expected));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs promtool: cargo xtask test export"]
fn promtool_accepts_the_textfile_of_a_split_snapshot() {
    let dir = std::env::temp_dir().join(format!("nltelem-peer-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nltelem.prom");
    let spec = format!("prometheus:{}", path.display());
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[&spec]), "r1");
    let mut buf = vec![0u8; 16384];
    let mut stdout = Gathered::default();
    // Three parts, awkward interface names (quote, backslash).
    let parts: [&[&str]; 3] = [&["lo", "eth0"], &["wan\"1", "br\\lan"], &["wg0"]];
    for (i, names) in parts.iter().enumerate() {
        let len = snapshot(&mut buf, 1, i as u32, i == 2, names);
        let exported = export(&mut e, &buf[..len], &mut stdout).exported;
        assert_eq!(
            exported,
            u64::from(i == 2),
            "one record per complete snapshot"
        );
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
    let rx: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("nltelem_network_receive_bytes_total{"))
        .collect();
    assert_eq!(rx.len(), 5, "{text}");
    assert!(text.contains("nltelem_network_receive_bytes_total{device=\"wan\\\"1\"} 1000\n"));
    assert!(text.contains("nltelem_network_receive_bytes_total{device=\"br\\\\lan\"} 1001\n"));
    assert!(text.contains("nltelem_thermal_zone_celsius{zone=\"acpitz\",index=\"0\"} 40.001\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mosquitto_sub` printing `topic payload` lines; stopped when dropped.
struct Subscriber {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Subscriber {
    fn start(broker: &str, filter: &str, count: usize) -> Subscriber {
        let (host, port) = broker.rsplit_once(':').unwrap();
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", host, "-p", port, "-q", "1", "-v", "-t", filter])
            .args(["-C", &count.to_string(), "-W", "30"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Subscriber { child, lines }
    }

    /// The next line, within `secs`.
    fn next(&self, secs: u64) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(secs)).ok()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mqtt_round(qos: u8) {
    let broker = env("NLTELEM_PEER_MQTT");
    let host = format!("peer-q{qos}-{}", std::process::id());
    let devices = ["eth0", "wan+x"];
    let snapshots = 20u64;
    // Per snapshot: system, two interfaces, one zone.
    let expected = snapshots as usize * 4;
    let filter = format!("nltelem-test/{host}/+/#");
    let sub = Subscriber::start(&broker, &filter, expected);
    // mosquitto_sub has subscribed once it is connected; give it a bounded moment.
    std::thread::sleep(Duration::from_millis(500));
    let spec = format!("mqtt:{broker},qos={qos},prefix=nltelem-test");
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[&spec]), &host);
    let mut buf = vec![0u8; 4096];
    let mut stdout = Gathered::default();
    for n in 1..=snapshots {
        let len = snapshot(&mut buf, n, 0, true, &devices);
        assert_eq!(
            export(&mut e, &buf[..len], &mut stdout).failed,
            0,
            "snapshot {n}"
        );
        // The next sample comes a period later (the module's period is >= 1 ms); by then
        // a broker on the same host has taken these. A burst larger than the buffer is
        // the other test's subject.
        assert!(within(5, || {
            e.poll();
            e.backlog() == 0
        }));
    }
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while got.len() < expected && Instant::now() < end {
        e.poll();
        if let Some(line) = sub.next(0) {
            got.push(line);
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(got.len(), expected, "received: {got:#?}");
    let prefix = format!("nltelem-test/{host}");
    for n in 1..=snapshots {
        let ts = 1_700_000_000_000_000_000 + n * 1_000_000_000;
        let want = format!(
            "{prefix}/nltelem_netdev/wan_x nltelem_netdev,host={host},ifname=wan+x ifindex=2i,\
             oper_state=6i,rx_bytes={}i,tx_bytes={}i,tx_dropped=9223372036854775807i {ts}",
            1000 * n + 1,
            2000 * n + 1
        );
        assert!(got.contains(&want), "missing {want}");
        let load = format!("load1_milli={}i", 100 + n);
        assert!(got
            .iter()
            .any(|l| l.starts_with(&format!("{prefix}/nltelem_system "))
                && l.contains(&load)
                && l.ends_with(&ts.to_string())));
    }
    let mut report = Gathered::default();
    e.report(&mut report);
    let report = report.0;
    assert!(
        report.starts_with(&format!("export mqtt exported {expected} dropped 0")),
        "{report}"
    );
}

#[test]
#[ignore = "needs a broker: cargo xtask test export"]
fn mosquitto_delivers_every_sample_at_qos1() {
    mqtt_round(1);
}

#[test]
#[ignore = "needs a broker: cargo xtask test export"]
fn mosquitto_delivers_every_sample_at_qos0() {
    mqtt_round(0);
}

/// The process the will test kills: connects, says it is ready on stdout, then keeps
/// polling until it is killed (bounded: 60 s).
#[test]
#[ignore = "run by the_will_says_offline_when_the_agent_is_killed"]
fn will_child() {
    if std::env::var("NLTELEM_WILL_CHILD").is_err() {
        return;
    }
    let broker = env("NLTELEM_PEER_MQTT");
    let host = env("NLTELEM_WILL_HOST");
    let spec = format!("mqtt:{broker},prefix=nltelem-test");
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[&spec]), &host);
    let end = Instant::now() + Duration::from_secs(60);
    let mut said = false;
    while Instant::now() < end {
        e.poll();
        if !said && e.sinks_connected() {
            println!("ready");
            std::io::stdout().flush().unwrap();
            said = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs a broker: cargo xtask test export"]
fn the_will_says_offline_when_the_agent_is_killed_and_a_clean_stop_says_it_too() {
    let broker = env("NLTELEM_PEER_MQTT");
    let host = format!("peer-will-{}", std::process::id());
    let status = format!("nltelem-test/{host}/status");
    let sub = Subscriber::start(&broker, &status, 4);
    std::thread::sleep(Duration::from_millis(500));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "export::peers::will_child",
            "--ignored",
            "--nocapture",
        ])
        .env("NLTELEM_WILL_CHILD", "1")
        .env("NLTELEM_WILL_HOST", &host)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    while !ready.contains("ready") {
        ready.clear();
        if out.read_line(&mut ready).unwrap() == 0 {
            break;
        }
    }
    assert!(ready.contains("ready"), "the child never connected");
    assert_eq!(
        sub.next(10).as_deref(),
        Some(format!("{status} online").as_str())
    );
    // SIGKILL: no chance to say goodbye; the broker publishes the will.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        sub.next(10).as_deref(),
        Some(format!("{status} offline").as_str())
    );

    // A clean stop (the exporters cleared, as on SIGTERM or a reload) says offline itself.
    let spec = format!("mqtt:{broker},prefix=nltelem-test");
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[&spec]), &host);
    assert!(within(10, || {
        e.poll();
        e.sinks_connected()
    }));
    assert_eq!(
        sub.next(10).as_deref(),
        Some(format!("{status} online").as_str())
    );
    e.clear();
    assert_eq!(
        sub.next(10).as_deref(),
        Some(format!("{status} offline").as_str())
    );
}

#[test]
#[ignore = "needs the test namespace: cargo xtask test export"]
fn a_broker_that_is_down_costs_nothing_and_drops_are_counted() {
    // Nothing listens on port 9 in the test's namespace: connects are refused at once.
    let spec = "mqtt:127.0.0.1:9,qos=1,prefix=nltelem-test";
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[spec]), "down");
    let mut buf = vec![0u8; 4096];
    let mut stdout = Gathered::default();
    let (mut exported, mut failed) = (0, 0);
    for n in 1..=200 {
        let len = snapshot(&mut buf, n, 0, true, &["eth0", "eth1"]);
        let o = export(&mut e, &buf[..len], &mut stdout);
        exported += o.exported;
        failed += o.failed;
    }
    // 800 records offered; what the 8 KiB buffer holds is kept for the broker's return,
    // the rest is refused and counted.
    assert_eq!(exported + failed, 800);
    assert!(
        exported > 0 && failed > 0,
        "exported {exported} failed {failed}"
    );
    let mut report = Gathered::default();
    e.report(&mut report);
    let report = report.0;
    assert!(report.contains(&format!("dropped {failed} ")), "{report}");
}

/// A broker of the test's own on `port`, stopped (by PID) when dropped.
struct Broker(Child);

impl Broker {
    fn start(port: u16) -> Broker {
        let child = Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        assert!(
            within(10, || TcpStream::connect(&addr).is_ok()),
            "mosquitto on {addr} did not start"
        );
        Broker(child)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the test namespace and mosquitto: cargo xtask test export"]
fn records_wait_for_a_broker_that_comes_back_and_go_out_once_it_does() {
    // A port of this test's own: the broker is started, killed and started again here.
    let port = 18830;
    let broker = format!("127.0.0.1:{port}");
    let host = format!("peer-back-{}", std::process::id());
    let spec = format!("mqtt:{broker},qos=1,prefix=nltelem-test");
    let mut storage = Storage::new();
    let mut e = storage.with_host(&specs(&[&spec]), &host);
    let mut buf = vec![0u8; 4096];
    let mut stdout = Gathered::default();
    let system = format!("nltelem-test/{host}/nltelem_system");
    let mut offer = |e: &mut Exporters, range: std::ops::RangeInclusive<u64>| {
        for n in range {
            let len = snapshot(&mut buf, n, 0, true, &["eth0"]);
            assert_eq!(export(e, &buf[..len], &mut stdout).failed, 0);
        }
    };
    let collect = |e: &mut Exporters, sub: &Subscriber, count: usize| {
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(20);
        while got.len() < count && Instant::now() < end {
            e.poll();
            match sub.next(0) {
                Some(line) => got.push(line),
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        got
    };
    // No broker yet: five snapshots (15 records) wait in the buffer.
    offer(&mut e, 1..=5);
    e.poll();
    assert!(!e.sinks_connected());
    assert_eq!(e.backlog(), 15);
    let first = Broker::start(port);
    let sub = Subscriber::start(&broker, &system, 5);
    std::thread::sleep(Duration::from_millis(500));
    let got = collect(&mut e, &sub, 5);
    assert_eq!(got.len(), 5, "{got:#?}");
    for (n, line) in (1..=5u64).zip(&got) {
        assert!(
            line.contains(&format!("load1_milli={}i", 100 + n)),
            "{line}"
        );
    }
    assert!(within(5, || {
        e.poll();
        e.backlog() == 0
    }));
    drop(sub);
    // The broker dies; three more snapshots wait; a new broker gets them.
    drop(first);
    offer(&mut e, 6..=8);
    let _second = Broker::start(port);
    let sub = Subscriber::start(&broker, &system, 3);
    std::thread::sleep(Duration::from_millis(500));
    let got = collect(&mut e, &sub, 3);
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].contains("load1_milli=106i") && got[2].contains("load1_milli=108i"));
    let mut report = Gathered::default();
    e.report(&mut report);
    let report = report.0;
    assert!(report.contains("connects 2 "), "{report}");
    assert!(report.contains("dropped 0 "), "{report}");
}
