//! Prometheus text format for node_exporter's textfile collector (and OpenWrt's
//! `prometheus-node-exporter-lua`, which reads `/var/prometheus/*.prom`).
//!
//! The file always holds one whole snapshot: it is written to a temporary file in the same
//! directory and renamed over the old one, so a scrape never sees half a file. Names follow
//! the Prometheus conventions: base units in the name (`_bytes`, `_seconds`, `_celsius`),
//! `_total` on counters, a HELP and a TYPE line per family, no timestamps (the textfile
//! collector refuses them).
//!
//! A large snapshot arrives in several messages, and the format wants all samples of a
//! family together. The per-interface families are therefore gathered in one scratch file
//! each while the parts arrive, and joined in family order when the last part is in. A
//! snapshot with a missing part is dropped (and counted): the file keeps the previous one.

use crate::decode::{Netdev, Sample, CPU_FIELDS};
use crate::format::Milli;
use crate::sink::TextBuf;
use core::fmt::{self, Write as _};
use heapless::String;
use rustix::fd::OwnedFd;
use rustix::fs::{mkdirat, openat, renameat, unlinkat, AtFlags, Mode, OFlags, CWD};
use rustix::io::{pread, write, Errno};

/// Longest textfile path (the `export` value's limit).
pub const MAX_PATH: usize = 96;

/// One per-interface or per-zone family: name, type, help, and how to get its value.
struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
}

/// Counters of one interface, in `decode::NETDEV_FIELDS` order, under node_exporter's names.
const NETDEV_FAMILIES: [Family<'static>; 8] = [
    Family {
        name: "nltelem_network_receive_bytes_total",
        kind: "counter",
        help: "Bytes received by the interface.",
    },
    Family {
        name: "nltelem_network_transmit_bytes_total",
        kind: "counter",
        help: "Bytes transmitted by the interface.",
    },
    Family {
        name: "nltelem_network_receive_packets_total",
        kind: "counter",
        help: "Packets received by the interface.",
    },
    Family {
        name: "nltelem_network_transmit_packets_total",
        kind: "counter",
        help: "Packets transmitted by the interface.",
    },
    Family {
        name: "nltelem_network_receive_errs_total",
        kind: "counter",
        help: "Receive errors of the interface.",
    },
    Family {
        name: "nltelem_network_transmit_errs_total",
        kind: "counter",
        help: "Transmit errors of the interface.",
    },
    Family {
        name: "nltelem_network_receive_drop_total",
        kind: "counter",
        help: "Received packets the interface dropped.",
    },
    Family {
        name: "nltelem_network_transmit_drop_total",
        kind: "counter",
        help: "Packets to transmit the interface dropped.",
    },
];

const OPER_STATE: Family<'static> = Family {
    name: "nltelem_network_oper_state",
    kind: "gauge",
    help: "RFC 2863 operational state of the interface (IF_OPER_*: 6 = up, 2 = down).",
};

const THERMAL: Family<'static> = Family {
    name: "nltelem_thermal_zone_celsius",
    kind: "gauge",
    help: "Temperature of the thermal zone.",
};

/// Scratch files: the eight counters, the operational state, the thermal zones.
const SCRATCH: usize = NETDEV_FAMILIES.len() + 2;
const SCRATCH_OPER_STATE: usize = NETDEV_FAMILIES.len();
const SCRATCH_THERMAL: usize = NETDEV_FAMILIES.len() + 1;

fn family_of(index: usize) -> &'static Family<'static> {
    match index {
        SCRATCH_OPER_STATE => &OPER_STATE,
        SCRATCH_THERMAL => &THERMAL,
        i => &NETDEV_FAMILIES[i],
    }
}

fn header(w: &mut impl fmt::Write, f: &Family<'_>) -> fmt::Result {
    writeln!(w, "# HELP {} {}", f.name, f.help)?;
    writeln!(w, "# TYPE {} {}", f.name, f.kind)
}

/// A label value: backslash, double quote and newline escaped.
struct Label<'a>(&'a str);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Nanoseconds as seconds with nine decimals.
struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// Writes the families that come once per snapshot (load, memory, CPU, clocks).
pub fn write_system(w: &mut impl fmt::Write, s: &Sample<'_>) -> fmt::Result {
    let loads = [
        ("nltelem_load1", "1-minute load average."),
        ("nltelem_load5", "5-minute load average."),
        ("nltelem_load15", "15-minute load average."),
    ];
    for ((name, help), v) in loads.iter().zip(s.load_milli) {
        if let Some(v) = v {
            gauge(w, name, help, Milli(i64::from(v)))?;
        }
    }
    let memory = [
        ("nltelem_memory_total_bytes", "Usable memory (MemTotal)."),
        ("nltelem_memory_free_bytes", "Unused memory (MemFree)."),
        (
            "nltelem_memory_available_bytes",
            "Memory available for new work without swapping (MemAvailable).",
        ),
    ];
    for ((name, help), v) in memory.iter().zip(s.mem_kib) {
        if let Some(kib) = v {
            gauge(w, name, help, kib.saturating_mul(1024))?;
        }
    }
    if let Some(cpu) = s.cpu.filter(|c| c.ns.iter().any(Option::is_some)) {
        let name = "nltelem_cpu_seconds_total";
        header(
            w,
            &Family {
                name,
                kind: "counter",
                help: "CPU time spent in each mode, summed over all CPUs.",
            },
        )?;
        for (mode, ns) in CPU_FIELDS.iter().zip(cpu.ns) {
            if let Some(ns) = ns {
                writeln!(w, "{name}{{mode=\"{mode}\"}} {}", Seconds(ns))?;
            }
        }
    }
    let clocks = [
        (
            "nltelem_boot_uptime_seconds",
            "Time since boot, suspend included, when the snapshot was taken.",
            s.uptime_ns,
        ),
        (
            "nltelem_snapshot_timestamp_seconds",
            "Wall-clock time of the snapshot, seconds since the epoch.",
            s.timestamp_ns,
        ),
    ];
    for (name, help, v) in clocks {
        if let Some(ns) = v {
            gauge(w, name, help, Seconds(ns))?;
        }
    }
    Ok(())
}

/// A gauge family with a single sample: HELP, TYPE, value.
fn gauge(w: &mut impl fmt::Write, name: &str, help: &str, value: impl fmt::Display) -> fmt::Result {
    header(
        w,
        &Family {
            name,
            kind: "gauge",
            help,
        },
    )?;
    writeln!(w, "{name} {value}")
}

/// Writes one interface's line of family `index` (nothing when the value is absent).
fn netdev_line(w: &mut impl fmt::Write, index: usize, n: &Netdev<'_>) -> fmt::Result {
    let Some(device) = n.ifname else {
        return Ok(());
    };
    let value = match index {
        SCRATCH_OPER_STATE => n.oper_state.map(u64::from),
        i => n.counters[i],
    };
    match value {
        Some(v) => writeln!(
            w,
            "{}{{device=\"{}\"}} {v}",
            family_of(index).name,
            Label(device)
        ),
        None => Ok(()),
    }
}

/// What went wrong with the textfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextfileError {
    /// A system call failed.
    Io(Errno),
    /// A part came out of order (one was lost): the snapshot is dropped.
    MissingPart,
    /// The once-per-snapshot text did not fit its buffer.
    TooLong,
}

impl From<Errno> for TextfileError {
    fn from(e: Errno) -> Self {
        TextfileError::Io(e)
    }
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The textfile exporter.
pub struct Textfile {
    path: String<MAX_PATH>,
    /// `DIR/.NAME.tmp`: the next version, renamed over `path` when complete.
    temp: String<{ MAX_PATH + 8 }>,
    scratch: [Option<OwnedFd>; SCRATCH],
    /// Bytes in each scratch file.
    scratch_len: [u64; SCRATCH],
    system: TextBuf<2048>,
    /// The snapshot being gathered and the part expected next.
    snapshot: Option<(u64, u32)>,
    thermal_zones: u32,
    /// Snapshots written.
    pub written: u64,
    /// Snapshots dropped (a part missing, a write failed).
    pub dropped: u64,
}

impl Textfile {
    /// The exporter for `path` (an absolute `*.prom` path, checked by the spec parser).
    pub fn new(path: &str) -> Result<Self, TextfileError> {
        let mut p = String::new();
        p.push_str(path).map_err(|_| TextfileError::TooLong)?;
        let (dir, name) = path.rsplit_once('/').ok_or(TextfileError::TooLong)?;
        let mut temp = String::new();
        write!(temp, "{dir}/.{name}.tmp").map_err(|_| TextfileError::TooLong)?;
        Ok(Textfile {
            path: p,
            temp,
            scratch: Default::default(),
            scratch_len: [0; SCRATCH],
            system: TextBuf::new(),
            snapshot: None,
            thermal_zones: 0,
            written: 0,
            dropped: 0,
        })
    }

    fn scratch_path(&self, index: usize) -> String<{ MAX_PATH + 16 }> {
        let mut s = String::new();
        // Fits: the temporary path plus at most ".NN".
        let _ = write!(s, "{}.{index}", self.temp);
        s
    }

    /// Starts a snapshot: empty scratch files, the system families rendered.
    fn begin(&mut self, s: &Sample<'_>) -> Result<(), TextfileError> {
        self.system.clear();
        write_system(&mut self.system, s).map_err(|_| TextfileError::TooLong)?;
        for i in 0..SCRATCH {
            let path = self.scratch_path(i);
            let open = || {
                openat(
                    CWD,
                    path.as_str(),
                    OFlags::RDWR | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
            };
            let fd = match open() {
                // The directory is on tmpfs and may not exist yet after a boot (OpenWrt's
                // /var/prometheus): make it (one level), as the collector expects it.
                Err(Errno::NOENT) if i == 0 => {
                    let dir = self.path.rsplit_once('/').map_or("", |(d, _)| d);
                    match mkdirat(CWD, dir, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    open()?
                }
                r => r?,
            };
            self.scratch[i] = Some(fd);
            self.scratch_len[i] = 0;
        }
        self.thermal_zones = 0;
        Ok(())
    }

    /// Appends this message's interfaces and zones to the scratch files.
    fn gather(&mut self, s: &Sample<'_>) -> Result<(), TextfileError> {
        let mut text = TextBuf::<2048>::new();
        for i in 0..SCRATCH {
            let Some(fd) = &self.scratch[i] else {
                return Err(TextfileError::MissingPart);
            };
            let put = |text: &mut TextBuf<2048>, len: &mut u64| -> Result<(), Errno> {
                *len += text.as_bytes().len() as u64;
                let r = write_all(fd, text.as_bytes());
                text.clear();
                r
            };
            if i == SCRATCH_THERMAL {
                for zone in s.thermal() {
                    let (Some(kind), Some(mdegc)) = (zone.kind, zone.temp_mdegc) else {
                        continue;
                    };
                    // One line is short; the buffer holds at least one after a flush.
                    if text.as_bytes().len() > 1536 {
                        put(&mut text, &mut self.scratch_len[i])?;
                    }
                    // Zones of the same type exist (two `acpitz`): the index tells them apart.
                    let _ = writeln!(
                        text,
                        "{}{{zone=\"{}\",index=\"{}\"}} {}",
                        THERMAL.name,
                        Label(kind),
                        self.thermal_zones,
                        Milli(i64::from(mdegc))
                    );
                    self.thermal_zones += 1;
                }
            } else {
                for n in s.netdevs() {
                    if text.as_bytes().len() > 1536 {
                        put(&mut text, &mut self.scratch_len[i])?;
                    }
                    let _ = netdev_line(&mut text, i, &n);
                }
            }
            put(&mut text, &mut self.scratch_len[i])?;
        }
        Ok(())
    }

    /// Joins the parts into the temporary file and renames it over the textfile.
    fn commit(&mut self) -> Result<(), TextfileError> {
        let out = openat(
            CWD,
            self.temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
            // Readable by the collector, which usually runs as another user.
            Mode::from_raw_mode(0o644),
        )?;
        write_all(&out, self.system.as_bytes())?;
        let mut chunk = [0u8; 1024];
        for i in 0..SCRATCH {
            if self.scratch_len[i] == 0 {
                continue;
            }
            let mut head = TextBuf::<256>::new();
            header(&mut head, family_of(i)).map_err(|_| TextfileError::TooLong)?;
            write_all(&out, head.as_bytes())?;
            let Some(fd) = &self.scratch[i] else {
                return Err(TextfileError::MissingPart);
            };
            let mut offset = 0u64;
            while offset < self.scratch_len[i] {
                let got = pread(fd, &mut chunk[..], offset)?;
                if got == 0 {
                    return Err(TextfileError::Io(Errno::IO));
                }
                write_all(&out, &chunk[..got])?;
                offset += got as u64;
            }
        }
        drop(out);
        renameat(CWD, self.temp.as_str(), CWD, self.path.as_str())?;
        Ok(())
    }

    /// Closes and removes the scratch files.
    fn end(&mut self) {
        for i in 0..SCRATCH {
            if self.scratch[i].take().is_some() {
                let _ = unlinkat(CWD, self.scratch_path(i).as_str(), AtFlags::empty());
            }
        }
        self.snapshot = None;
    }

    /// Takes one sample message. Returns `Ok(true)` when it completed a snapshot and the
    /// textfile now holds it, `Ok(false)` when more parts are expected.
    pub fn sample(&mut self, s: &Sample<'_>) -> Result<bool, TextfileError> {
        // A message without part information is a whole snapshot.
        let snapshot = s.snapshot_seq.unwrap_or(0);
        let part = s.part.unwrap_or(0);
        let last = s.last_part || s.part.is_none();
        let r = self.take(s, snapshot, part, last);
        match r {
            Ok(false) => {}
            Ok(true) => {
                self.written = self.written.saturating_add(1);
                self.end();
            }
            Err(_) => {
                self.dropped = self.dropped.saturating_add(1);
                self.end();
                let _ = unlinkat(CWD, self.temp.as_str(), AtFlags::empty());
            }
        }
        r
    }

    fn take(
        &mut self,
        s: &Sample<'_>,
        snapshot: u64,
        part: u32,
        last: bool,
    ) -> Result<bool, TextfileError> {
        if part == 0 {
            if self.snapshot.is_some() {
                // The previous snapshot never got its last part.
                self.dropped = self.dropped.saturating_add(1);
                self.end();
            }
            self.begin(s)?;
        } else if self.snapshot != Some((snapshot, part)) {
            return Err(TextfileError::MissingPart);
        }
        self.snapshot = Some((snapshot, part.saturating_add(1)));
        self.gather(s)?;
        if last {
            self.commit()?;
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nltelem-prom-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_snapshot_becomes_a_complete_file_and_nothing_else_remains() {
        let dir = scratch_dir("one");
        let path = dir.join("nltelem.prom");
        let mut t = Textfile::new(path.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 7, "wan \"0\"");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(t.sample(&s), Ok(true));
        let text = std::fs::read_to_string(&path).unwrap();
        for line in [
            "# TYPE nltelem_load1 gauge",
            "nltelem_load1 0.250",
            "nltelem_load5 1.500",
            "nltelem_memory_available_bytes 204800000",
            "nltelem_cpu_seconds_total{mode=\"user\"} 0.000000011",
            "nltelem_boot_uptime_seconds 5.000000000",
            "# TYPE nltelem_network_receive_bytes_total counter",
            "nltelem_network_receive_bytes_total{device=\"lo\"} 1000",
            "nltelem_network_receive_bytes_total{device=\"wan \\\"0\\\"\"} 2000",
            "nltelem_network_transmit_drop_total{device=\"lo\"} 18446744073709551615",
            "nltelem_network_oper_state{device=\"lo\"} 6",
            "nltelem_thermal_zone_celsius{zone=\"cpu-thermal\",index=\"0\"} -5.500",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        // Every family once, and its samples right after its TYPE line.
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let mut names: Vec<&str> = types.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
        // Absent counters (tx_bytes here) leave no empty family behind.
        assert!(!text.contains("nltelem_network_transmit_bytes_total"));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["nltelem.prom"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_made() {
        let dir = scratch_dir("mkdir");
        let path = dir.join("sub").join("n.prom");
        let mut t = Textfile::new(path.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 1, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(t.sample(&s), Ok(true));
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("nltelem_load1 0.250\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parts_are_joined_by_family_and_a_lost_part_keeps_the_old_file() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::{netdev as nd, sample as k};
        let dir = scratch_dir("parts");
        let path = dir.join("p.prom");
        let mut t = Textfile::new(path.to_str().unwrap()).unwrap();
        let part = |buf: &mut [u8], snapshot: u64, index: u32, last: bool, names: &[&str]| {
            let mut b = MsgBuilder::new(buf);
            b.begin(0x20, 0, 0, 0).unwrap();
            b.put_u64(k::SNAPSHOT_SEQ, snapshot).unwrap();
            b.put_u32(k::PART, index).unwrap();
            if last {
                b.put_flag(k::LAST_PART).unwrap();
            }
            if index == 0 {
                b.put_u32(k::LOAD1_MILLI, 1).unwrap();
            }
            for name in names {
                let n = b.nest_start(k::NETDEV).unwrap();
                b.put_str(nd::IFNAME, name).unwrap();
                b.put_u64(nd::RX_BYTES, 1).unwrap();
                b.put_u64(nd::TX_BYTES, 2).unwrap();
                b.nest_end(n).unwrap();
            }
            b.finish().unwrap()
        };
        let mut buf = [0u8; 512];
        let feed = |t: &mut Textfile, buf: &mut [u8; 512], len: usize| {
            let msg = NlMsg::new_checked(&buf[..len]).unwrap();
            let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
            t.sample(&s)
        };
        let len = part(&mut buf, 1, 0, false, &["a", "b"]);
        assert_eq!(feed(&mut t, &mut buf, len), Ok(false));
        assert!(!path.exists(), "nothing before the last part");
        let len = part(&mut buf, 1, 1, true, &["c"]);
        assert_eq!(feed(&mut t, &mut buf, len), Ok(true));
        let text = std::fs::read_to_string(&path).unwrap();
        let rx: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("nltelem_network_receive_bytes_total{"))
            .collect();
        assert_eq!(rx.len(), 3);
        let tx_type = text
            .find("# TYPE nltelem_network_transmit_bytes_total")
            .unwrap();
        let last_rx = text.rfind("nltelem_network_receive_bytes_total{").unwrap();
        assert!(last_rx < tx_type, "families are not interleaved:\n{text}");

        // Snapshot 2 loses its part 1: part 2 is refused, the file keeps snapshot 1.
        let len = part(&mut buf, 2, 0, false, &["x"]);
        assert_eq!(feed(&mut t, &mut buf, len), Ok(false));
        let len = part(&mut buf, 2, 2, true, &["z"]);
        assert_eq!(feed(&mut t, &mut buf, len), Err(TextfileError::MissingPart));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!((t.written, t.dropped), (1, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
