//! `cargo xtask test export`: the exporters against the real consumers.
//!
//! Makes a network namespace with only a loopback interface, starts InfluxDB 1.x (HTTP
//! and UDP) and mosquitto inside it, and runs the agent library's `export::peers` tests
//! there with the servers' addresses; `promtool` and `mosquitto_sub` come from Debian
//! too. Then the same servers, reached by a qemu guest over a tap device
//! (`packaging_guest`). Nothing leaves the namespace, and the servers are stopped by their PIDs and the
//! namespace deleted even when a test fails.

use crate::setup::apt_install;
use crate::util::{cargo, fail, root, step, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian packages of the consumers (`prometheus` brings `promtool`).
pub const PACKAGES: &[&str] = &[
    "iproute2",
    "mosquitto",
    "mosquitto-clients",
    "influxdb",
    "prometheus",
];

pub const INFLUX_HTTP: &str = "127.0.0.1:8086";
const INFLUX_UDP: &str = "127.0.0.1:8089";
pub const MQTT: &str = "127.0.0.1:1883";
/// The host end of the tap device a qemu guest reaches the servers through.
pub const TAP_ADDRESS: &str = "192.0.2.1/24";
pub const TAP_DEVICE: &str = "tap0";

/// Longest wait for a server to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for the whole test run inside the namespace.
const TEST_TIMEOUT_SECONDS: u32 = 300;

pub fn setup() -> Result {
    step("exporter peers (influxdb, mosquitto, promtool)", || {
        apt_install(PACKAGES)
    })
}

/// The namespace and the servers in it; dropping it stops them and removes it.
pub struct Peers {
    namespace: String,
    servers: Vec<(&'static str, Child)>,
}

impl Peers {
    /// The namespace with loopback, the tap device when `tap` (for a qemu guest), InfluxDB
    /// (HTTP on loopback, UDP on every address) and mosquitto (every address).
    pub fn create(dir: &Path, tap: bool) -> Result<Peers> {
        let namespace = format!("nltelem-export-{}", std::process::id());
        run_quiet(Command::new("ip").args(["netns", "add", &namespace]))?;
        let mut peers = Peers {
            namespace,
            servers: Vec::new(),
        };
        peers.exec_quiet(&["ip", "link", "set", "lo", "up"])?;
        if tap {
            peers.exec_quiet(&["ip", "tuntap", "add", "dev", TAP_DEVICE, "mode", "tap"])?;
            peers.exec_quiet(&["ip", "addr", "add", TAP_ADDRESS, "dev", TAP_DEVICE])?;
            peers.exec_quiet(&["ip", "link", "set", TAP_DEVICE, "up"])?;
        }
        peers.start_influxd(dir)?;
        peers.start_mosquitto(dir)?;
        Ok(peers)
    }

    /// `program` to be run inside the namespace.
    pub fn in_namespace(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.namespace, program]);
        cmd
    }

    fn exec_quiet(&self, argv: &[&str]) -> Result {
        run_quiet(self.in_namespace(argv[0]).args(&argv[1..]))
    }

    /// Starts `cmd` (already `ip netns exec`, which execs the server: the child's PID is
    /// the server's) with its output in `log`.
    fn spawn(&mut self, name: &'static str, mut cmd: Command, log: &Path) -> Result {
        let out = fs::File::create(log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| fail(format!("cannot start {name}: {e}")))?;
        self.servers.push((name, child));
        Ok(())
    }

    fn start_influxd(&mut self, dir: &Path) -> Result {
        let data = dir.join("influxdb");
        if data.exists() {
            fs::remove_dir_all(&data)?;
        }
        fs::create_dir_all(&data)?;
        let d = data.display();
        let udp_port = INFLUX_UDP.rsplit_once(':').map_or("8089", |(_, p)| p);
        let conf = data.join("influxd.conf");
        fs::write(
            &conf,
            format!(
                "reporting-disabled = true\n\
                 bind-address = \"127.0.0.1:8088\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n\
                 [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                 [monitor]\n  store-enabled = false\n\
                 [subscriber]\n  enabled = false\n\
                 [continuous_queries]\n  enabled = false\n\
                 [http]\n  enabled = true\n  bind-address = \"{INFLUX_HTTP}\"\n  log-enabled = false\n\
                 [[udp]]\n  enabled = true\n  bind-address = \":{udp_port}\"\n  database = \"nltelem\"\n\
                 \x20 batch-size = 100\n  batch-timeout = \"100ms\"\n"
            ),
        )?;
        let log = data.join("influxd.log");
        let mut cmd = self.in_namespace("influxd");
        cmd.arg("-config").arg(&conf);
        self.spawn("influxd", cmd, &log)?;
        self.wait_listening("influxd", INFLUX_HTTP)?;
        // The UDP listener has no connect to probe: its log line says it is open.
        wait_for(READY_TIMEOUT, || {
            fs::read_to_string(&log).is_ok_and(|t| t.contains("Started listening on UDP"))
        })
        .then_some(())
        .ok_or_else(|| {
            fail(format!(
                "influxd's UDP listener did not open; see {}",
                log.display()
            ))
        })
    }

    fn start_mosquitto(&mut self, dir: &Path) -> Result {
        let conf = dir.join("mosquitto.conf");
        fs::write(
            &conf,
            format!(
                "listener {}\nallow_anonymous true\npersistence false\n",
                MQTT.rsplit_once(':').map_or("1883", |(_, p)| p),
            ),
        )?;
        let mut cmd = self.in_namespace("mosquitto");
        cmd.arg("-c").arg(&conf);
        self.spawn("mosquitto", cmd, &dir.join("mosquitto.log"))?;
        self.wait_listening("mosquitto", MQTT)
    }

    /// Waits until a TCP connect to `addr` inside the namespace succeeds.
    fn wait_listening(&mut self, name: &str, addr: &str) -> Result {
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        let probe = format!("exec 3<>/dev/tcp/{host}/{port}");
        let ready = wait_for(READY_TIMEOUT, || {
            self.servers
                .iter_mut()
                .all(|(_, c)| c.try_wait().is_ok_and(|s| s.is_none()))
                && self
                    .in_namespace("bash")
                    .args(["-c", &probe])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
        });
        ready
            .then_some(())
            .ok_or_else(|| fail(format!("{name} is not listening on {addr}")))
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        for (name, child) in &mut self.servers {
            // SIGTERM by PID first, so the servers shut down cleanly; SIGKILL after 5 s.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            if !wait_for(Duration::from_secs(5), || {
                child.try_wait().is_ok_and(|s| s.is_some())
            }) {
                eprintln!("{name} ignored SIGTERM; killing it");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.namespace])
            .status();
    }
}

fn run_quiet(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| fail(format!("cannot start {shown}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Polls `f` every 100 ms until it holds or `limit` passed.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Builds the agent library's unit-test binary and returns its path.
fn test_binary(target_dir: &Path) -> Result<PathBuf> {
    let out = cargo()
        .current_dir(root())
        .args([
            "test",
            "--package",
            "nltelem",
            "--lib",
            "--no-run",
            "--message-format=json-render-diagnostics",
            "--target-dir",
        ])
        .arg(target_dir)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(fail("building the agent's tests failed"));
    }
    // One JSON object per line; the test binary is the artifact with an "executable".
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\"") && l.contains("\"test\":true"))
        .find_map(|l| {
            let (_, rest) = l.split_once("\"executable\":\"")?;
            rest.split_once('"').map(|(path, _)| PathBuf::from(path))
        })
        .ok_or_else(|| fail("cargo reported no test executable for the agent library"))
}

pub fn test() -> Result {
    step("exporters against InfluxDB, promtool and mosquitto", || {
        let dir = root().join("target/packaging/peers");
        fs::create_dir_all(&dir)?;
        let binary = test_binary(&root().join("target/packaging/cargo"))?;
        let peers = Peers::create(&dir, false)?;
        let status = peers
            .in_namespace("timeout")
            .arg(TEST_TIMEOUT_SECONDS.to_string())
            .arg(&binary)
            .args(["export::peers", "--ignored", "--test-threads=1"])
            .env("NLTELEM_PEER_INFLUX_HTTP", INFLUX_HTTP)
            .env("NLTELEM_PEER_INFLUX_UDP", INFLUX_UDP)
            .env("NLTELEM_PEER_MQTT", MQTT)
            .status()?;
        drop(peers);
        if status.success() {
            Ok(())
        } else {
            Err(fail(format!(
                "export peer tests failed ({status}); server logs in {}",
                dir.display()
            )))
        }
    })?;
    crate::packaging_guest::test()
}
