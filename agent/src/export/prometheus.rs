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

use super::{escaped, LINE};
use crate::config::{lines, words};
use crate::decode::{Sample, CPU_FIELDS, CPU_SLOT};
use core::ffi::CStr;
use heapless::String;
use nlcore::text::{Fixed, Text};
use nltelem_proto::attr;
use rustix::fd::OwnedFd;
use rustix::fs::{mkdirat, openat, renameat, sendfile, unlinkat, AtFlags, Mode, OFlags, CWD};
use rustix::io::{write, Errno};

/// Longest textfile path (the `export` value's limit).
pub const MAX_PATH: usize = 96;

/// The per-interface and per-zone families, one a line: the slot of its value in the
/// interface's or zone's record as a letter (`A` is 1, as in `decode::SAMPLE_FIELDS`), its
/// unit, then `NAME HELP` (the name ends at the first space). The eight counters under
/// node_exporter's names, then the operational state and the thermal zones (gauges). One
/// string, as [`lines`] reads it, instead of a table of `&str` (16 bytes an entry).
/// Units: `n` a number, `k` KiB written as bytes, `l` unsigned thousandths, `m` signed
/// 32-bit thousandths, `s` nanoseconds written as seconds; uppercase for a counter, else a
/// gauge.
const FAMILIES: &str = "\
DNnltelem_network_receive_bytes_total Bytes received by the interface.
ENnltelem_network_transmit_bytes_total Bytes transmitted by the interface.
FNnltelem_network_receive_packets_total Packets received by the interface.
GNnltelem_network_transmit_packets_total Packets transmitted by the interface.
HNnltelem_network_receive_errs_total Receive errors of the interface.
INnltelem_network_transmit_errs_total Transmit errors of the interface.
JNnltelem_network_receive_drop_total Received packets the interface dropped.
KNnltelem_network_transmit_drop_total Packets to transmit the interface dropped.
Cnnltelem_network_oper_state RFC 2863 operational state of the interface \
(IF_OPER_*: 6 = up, 2 = down).
Bmnltelem_thermal_zone_celsius Temperature of the thermal zone.";

/// Scratch files, one per family of [`FAMILIES`].
const SCRATCH: usize = 10;
const SCRATCH_THERMAL: usize = 9;

/// The families that come once per snapshot, as [`FAMILIES`] with the sample's slots:
/// loads, memory, CPU times (the only counter, one sample per mode), clocks.
const SYSTEM: &str = "\
Glnltelem_load1 1-minute load average.
Hlnltelem_load5 5-minute load average.
Ilnltelem_load15 15-minute load average.
Jknltelem_memory_total_bytes Usable memory (MemTotal).
Kknltelem_memory_free_bytes Unused memory (MemFree).
Lknltelem_memory_available_bytes Memory available for new work without swapping \
(MemAvailable).
MSnltelem_cpu_seconds_total CPU time spent in each mode, summed over all CPUs.
Fsnltelem_boot_uptime_seconds Time since boot, suspend included, when the snapshot was \
taken.
Esnltelem_snapshot_timestamp_seconds Wall-clock time of the snapshot, seconds since the \
epoch.";
/// The families of [`SYSTEM`].
const SYSTEM_FAMILIES: usize = 9;

/// A family of [`FAMILIES`] or [`SYSTEM`].
struct Family {
    /// Where its value is in a record.
    slot: usize,
    /// Its unit letter, as in [`FAMILIES`].
    unit: u8,
    /// `NAME HELP`.
    line: &'static str,
}

/// Family `i` of [`FAMILIES`] or [`SYSTEM`] (empty past the end). Out of line, called once
/// per family and snapshot part: iterators over the lines compiled to much more.
#[inline(never)]
fn family(list: &'static str, i: usize) -> Family {
    let line = lines(list).nth(i).unwrap_or_default();
    let b = line.as_bytes();
    Family {
        slot: usize::from(b.first().map_or(0, |s| s.wrapping_sub(b'@'))),
        unit: b.get(1).copied().unwrap_or(b'n'),
        line: line.get(2..).unwrap_or_default(),
    }
}

impl Family {
    /// The family's name.
    fn name(&self) -> &'static str {
        let end = self
            .line
            .bytes()
            .position(|b| b == b' ')
            .unwrap_or(self.line.len());
        self.line.get(..end).unwrap_or(self.line)
    }

    /// The HELP and TYPE lines.
    fn header(&self, w: &mut dyn Text) {
        w.str("# HELP ");
        w.str(self.line);
        w.str("\n# TYPE ");
        w.str(self.name());
        w.str(if self.unit.is_ascii_uppercase() {
            " counter\n"
        } else {
            " gauge\n"
        });
    }

    /// One sample line: `NAME VALUE`, or `NAME{LABEL="TEXT"} VALUE` with the text escaped,
    /// and `,index="N"` after it when `index` is given; the value in the family's unit.
    fn sample(
        &self,
        w: &mut dyn Text,
        label_text: Option<(&str, &str)>,
        index: Option<u32>,
        v: u64,
    ) {
        w.str(self.name());
        if let Some((key, text)) = label_text {
            w.byte(b'{');
            w.str(key);
            w.str("=\"");
            label(w, text);
            if let Some(i) = index {
                w.str("\",index=\"");
                w.uint(u64::from(i));
            }
            w.str("\"}");
        }
        w.byte(b' ');
        match self.unit.to_ascii_lowercase() {
            b'k' => w.uint(v.saturating_mul(1024)),
            // Loads x1000 come from a u32: within i64.
            b'l' => w.milli(v as i64),
            b'm' => w.milli(i64::from(v as u32 as i32)),
            b's' => seconds(w, v),
            _ => w.uint(v),
        }
        w.byte(b'\n');
    }
}

/// A label value: backslash, double quote and newline escaped.
fn label(w: &mut dyn Text, value: &str) {
    escaped(w, value, |b| match b {
        b'\\' => b"\\\\",
        b'"' => b"\\\"",
        b'\n' => b"\\n",
        _ => b"",
    });
}

/// Nanoseconds as seconds with nine decimals.
fn seconds(w: &mut dyn Text, ns: u64) {
    w.uint(ns / 1_000_000_000);
    // The fraction digit by digit, zeros kept: smaller than another decimal conversion.
    let mut frac = ns % 1_000_000_000;
    let mut digits = [b'.'; 10];
    for d in digits.iter_mut().skip(1).rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    w.bytes(&digits);
}

/// Writes the families that come once per snapshot (load, memory, CPU, clocks), each with
/// its header when it has a sample.
pub fn write_system(w: &mut dyn Text, s: &Sample<'_>) {
    for i in 0..SYSTEM_FAMILIES {
        let f = family(SYSTEM, i);
        // The CPU times: a sample per mode, from the first CPU slot; any other family: one
        // sample without a label (the one empty word of "").
        let cpu = f.slot == usize::from(attr::sample::CPU);
        let (first, modes) = if cpu {
            (CPU_SLOT + 1, CPU_FIELDS)
        } else {
            (f.slot, "")
        };
        let mut header = true;
        for (k, mode) in words(modes).enumerate() {
            if let Some(v) = s.rec.get(first + k) {
                if header {
                    f.header(w);
                    header = false;
                }
                f.sample(w, cpu.then_some(("mode", mode)), None, v);
            }
        }
    }
}

/// Room for a path and its NUL: the same size as the MQTT topics (one instance of the
/// buffer's code).
type PathText = Fixed<{ super::TOPIC }>;

/// The files of a textfile exporter (see [`Textfile::file`]).
#[derive(Clone, Copy)]
enum File {
    Textfile,
    Dir,
    Temp,
    Scratch(usize),
}

/// Where the last `/` of a path is (0 when there is none).
fn last_slash(path: &str) -> usize {
    path.bytes().rposition(|b| b == b'/').unwrap_or(0)
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

/// Text appended to a file through a line-sized buffer, so that nothing of a snapshot is
/// held in memory; the first failure is kept and reported by [`FileText::finish`].
struct FileText<'f> {
    fd: &'f OwnedFd,
    buf: &'f mut Fixed<LINE>,
    /// Bytes written to the file.
    written: u64,
    failed: Option<TextfileError>,
}

impl<'f> FileText<'f> {
    /// Text for `fd` through `buf` (the exporters' line buffer, emptied here).
    fn new(fd: &'f OwnedFd, buf: &'f mut Fixed<LINE>) -> Self {
        buf.clear();
        FileText {
            fd,
            buf,
            written: 0,
            failed: None,
        }
    }

    fn flush(&mut self) {
        if self.failed.is_none() {
            self.failed = match self.buf.get() {
                // A piece longer than the buffer overflowed it.
                None => Some(TextfileError::TooLong),
                Some(bytes) => match write_all(self.fd, bytes) {
                    Ok(()) => {
                        self.written += bytes.len() as u64;
                        None
                    }
                    Err(e) => Some(e.into()),
                },
            };
        }
        self.buf.clear();
    }

    /// Writes what is buffered; the bytes written in all, or the first failure.
    fn finish(mut self) -> Result<u64, TextfileError> {
        self.flush();
        match self.failed {
            None => Ok(self.written),
            Some(e) => Err(e),
        }
    }
}

impl Text for FileText<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        if bytes.len() > self.buf.room() {
            self.flush();
        }
        self.buf.bytes(bytes);
    }
}

/// The textfile exporter.
pub struct Textfile {
    path: String<MAX_PATH>,
    scratch: [Option<OwnedFd>; SCRATCH],
    /// Bytes in each scratch file.
    scratch_len: [u64; SCRATCH],
    /// The next version of the textfile, from the snapshot's first part to its last: the
    /// once-per-snapshot families, then each scratch file under its family's header.
    temp: Option<OwnedFd>,
    /// The snapshot being gathered and the part expected next.
    snapshot: Option<(u64, u32)>,
    thermal_zones: u32,
    /// Snapshots written.
    pub written: u64,
    /// Snapshots dropped (a part missing, a write failed).
    pub dropped: u64,
}

impl Textfile {
    /// An exporter not in use (all zero: it lives in the exporters' static slots).
    pub const fn idle() -> Self {
        Textfile {
            path: String::new(),
            scratch: [const { None }; SCRATCH],
            scratch_len: [0; SCRATCH],
            temp: None,
            snapshot: None,
            thermal_zones: 0,
            written: 0,
            dropped: 0,
        }
    }

    /// The exporter for `path` (built by value: for tests).
    #[cfg(test)]
    pub fn new(path: &str) -> Result<Self, TextfileError> {
        let mut t = Textfile::idle();
        t.start(path)?;
        Ok(t)
    }

    /// Makes this the exporter for `path` (an absolute `*.prom` path, checked by the spec
    /// parser), in place; files of a previous one are closed first ([`Textfile::end`]).
    pub fn start(&mut self, path: &str) -> Result<(), TextfileError> {
        self.end();
        self.path.clear();
        self.path
            .push_str(path)
            .map_err(|_| TextfileError::TooLong)?;
        self.scratch_len = [0; SCRATCH];
        self.thermal_zones = 0;
        self.written = 0;
        self.dropped = 0;
        Ok(())
    }

    /// One of the textfile's files, as the C string the system calls take (a `&str` would
    /// be copied into a stack buffer at each call): the textfile, its directory, the next
    /// version `DIR/.NAME.tmp` (renamed over the textfile when complete) or the scratch
    /// file `DIR/.NAME.tmp.N` of family `N`.
    fn file<'b>(&self, buf: &'b mut PathText, file: File) -> Result<&'b CStr, TextfileError> {
        let slash = last_slash(&self.path);
        let (dir, name) = self.path.split_at_checked(slash).unwrap_or_default();
        buf.clear();
        let w = buf.text();
        match file {
            File::Textfile => w.str(&self.path),
            File::Dir => w.str(dir),
            File::Temp | File::Scratch(_) => {
                // `name` starts with the slash.
                w.str(dir);
                w.str("/.");
                w.str(name.get(1..).unwrap_or_default());
                w.str(".tmp");
                if let File::Scratch(i) = file {
                    // Fewer than ten scratch files: one digit.
                    w.bytes(&[b'.', b'0' + i as u8]);
                }
            }
        }
        w.byte(0);
        buf.get()
            .and_then(|path| CStr::from_bytes_with_nul(path).ok())
            .ok_or(TextfileError::TooLong)
    }

    /// Creates `file` empty (making the directory first when it is missing).
    fn create(&self, file: File, flags: OFlags, mode: u32) -> Result<OwnedFd, TextfileError> {
        let mut buf = PathText::new();
        let path = self.file(&mut buf, file)?;
        let open = || {
            openat(
                CWD,
                path,
                flags | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
                Mode::from_raw_mode(mode),
            )
        };
        Ok(match open() {
            // The directory is on tmpfs and may not exist yet after a boot (OpenWrt's
            // /var/prometheus): make it (one level), as the collector expects it.
            Err(Errno::NOENT) => {
                let mut dir = PathText::new();
                match mkdirat(
                    CWD,
                    self.file(&mut dir, File::Dir)?,
                    Mode::from_raw_mode(0o755),
                ) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open()?
            }
            r => r?,
        })
    }

    /// Starts a snapshot: the next version of the textfile with the system families in
    /// it, empty scratch files.
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    fn begin(&mut self, s: &Sample<'_>, buf: &mut Fixed<LINE>) -> Result<(), TextfileError> {
        // Readable by the collector, which usually runs as another user.
        let temp = self.create(File::Temp, OFlags::WRONLY, 0o644)?;
        let mut out = FileText::new(&temp, buf);
        write_system(&mut out, s);
        out.finish()?;
        self.temp = Some(temp);
        for i in 0..SCRATCH {
            self.scratch[i] = Some(self.create(File::Scratch(i), OFlags::RDWR, 0o600)?);
            self.scratch_len[i] = 0;
        }
        self.thermal_zones = 0;
        Ok(())
    }

    /// Appends this message's interfaces and zones to the scratch files.
    fn gather(&mut self, s: &Sample<'_>, buf: &mut Fixed<LINE>) -> Result<(), TextfileError> {
        for (i, (fd, len)) in self.scratch.iter().zip(&mut self.scratch_len).enumerate() {
            let f = family(FAMILIES, i);
            let fd = fd.as_ref().ok_or(TextfileError::MissingPart)?;
            let mut out = FileText::new(fd, buf);
            let thermal = i == SCRATCH_THERMAL;
            let (nest, text, key) = if thermal {
                (attr::sample::THERMAL, attr::thermal_zone::TYPE, "zone")
            } else {
                (attr::sample::NETDEV, attr::netdev::IFNAME, "device")
            };
            let zones = &mut self.thermal_zones;
            s.nests(nest, text, &mut |r| {
                if let (Some(name), Some(v)) = (r.text, r.get(f.slot)) {
                    // Zones of the same type exist (two `acpitz`): the index tells them
                    // apart.
                    let index = thermal.then_some(*zones);
                    f.sample(&mut out, Some((key, name)), index, v);
                    *zones += u32::from(thermal);
                }
            });
            *len += out.finish()?;
        }
        Ok(())
    }

    /// Appends the families to the next version of the textfile and renames it over the
    /// textfile.
    fn commit(&mut self, buf: &mut Fixed<LINE>) -> Result<(), TextfileError> {
        let temp = self.temp.take().ok_or(TextfileError::MissingPart)?;
        let mut out = FileText::new(&temp, buf);
        for (i, (fd, &len)) in self.scratch.iter().zip(&self.scratch_len).enumerate() {
            if len == 0 {
                continue;
            }
            family(FAMILIES, i).header(&mut out);
            // The header goes first; the family's lines are copied by the kernel, file to
            // file, without a buffer here.
            out.flush();
            let fd = fd.as_ref().ok_or(TextfileError::MissingPart)?;
            let mut offset = 0u64;
            while offset < len {
                let want = usize::try_from(len - offset).unwrap_or(usize::MAX);
                if sendfile(&temp, fd, Some(&mut offset), want)? == 0 {
                    return Err(TextfileError::Io(Errno::IO));
                }
            }
        }
        out.finish()?;
        drop(temp);
        let (mut from, mut to) = (PathText::new(), PathText::new());
        let from = self.file(&mut from, File::Temp)?;
        renameat(CWD, from, CWD, self.file(&mut to, File::Textfile)?)?;
        Ok(())
    }

    /// Closes and removes the scratch files; closes an unfinished next version (the next
    /// snapshot starts it over; a failed one removes it).
    pub fn end(&mut self) {
        self.temp = None;
        let mut buf = PathText::new();
        for i in 0..SCRATCH {
            if self.scratch[i].take().is_some() {
                if let Ok(path) = self.file(&mut buf, File::Scratch(i)) {
                    let _ = unlinkat(CWD, path, AtFlags::empty());
                }
            }
        }
        self.snapshot = None;
    }

    /// Takes one sample message. Returns `Ok(true)` when it completed a snapshot and the
    /// textfile now holds it, `Ok(false)` when more parts are expected.
    /// `buf` is scratch space for the text on its way to the files.
    pub fn sample(&mut self, s: &Sample<'_>, buf: &mut Fixed<LINE>) -> Result<bool, TextfileError> {
        // A message without part information is a whole snapshot.
        let snapshot = s.snapshot_seq().unwrap_or(0);
        let part = s.part();
        let last = s.last_part() || part.is_none();
        let part = part.unwrap_or(0);
        let r = self.take(s, snapshot, part, last, buf);
        match r {
            Ok(false) => {}
            Ok(true) => {
                self.written = self.written.saturating_add(1);
                self.end();
            }
            Err(_) => {
                self.dropped = self.dropped.saturating_add(1);
                self.end();
                let mut buf = PathText::new();
                if let Ok(temp) = self.file(&mut buf, File::Temp) {
                    let _ = unlinkat(CWD, temp, AtFlags::empty());
                }
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
        buf: &mut Fixed<LINE>,
    ) -> Result<bool, TextfileError> {
        if part == 0 {
            if self.snapshot.is_some() {
                // The previous snapshot never got its last part.
                self.dropped = self.dropped.saturating_add(1);
                self.end();
            }
            self.begin(s, buf)?;
        } else if self.snapshot != Some((snapshot, part)) {
            return Err(TextfileError::MissingPart);
        }
        self.snapshot = Some((snapshot, part.saturating_add(1)));
        self.gather(s, buf)?;
        if last {
            self.commit(buf)?;
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    /// The names of the files in `dir`, sorted: what a test left behind.
    pub(crate) fn files_in(dir: &std::path::Path) -> Vec<std::string::String> {
        let mut names: Vec<std::string::String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

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
        assert_eq!(t.sample(&s, &mut Fixed::new()), Ok(true));
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
        assert_eq!(files_in(&dir), ["nltelem.prom"]);
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
        assert_eq!(t.sample(&s, &mut Fixed::new()), Ok(true));
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
            t.sample(&s, &mut Fixed::new())
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
        // Neither the dropped snapshot's next version nor its scratch files remain.
        assert_eq!(files_in(&dir), ["p.prom"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The whole file for a snapshot with every family: each HELP and TYPE line, label
    /// escapes, seconds with nine decimals, zones of the same type told apart.
    #[test]
    fn the_textfile_of_a_full_snapshot_is_exactly_this() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::{cpu_times as ct, netdev as nd, sample as k, thermal_zone as tz};
        let dir = scratch_dir("full");
        let path = dir.join("full.prom");
        let mut t = Textfile::new(path.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 1024];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        b.put_u64(k::TIMESTAMP_NS, 1_700_000_000_000_000_001)
            .unwrap();
        b.put_u64(k::UPTIME_NS, 999_999_999).unwrap();
        b.put_u32(k::LOAD1_MILLI, 0).unwrap();
        b.put_u32(k::LOAD5_MILLI, 4_294_967_295).unwrap();
        b.put_u32(k::LOAD15_MILLI, 1001).unwrap();
        b.put_u64(k::MEM_TOTAL_KIB, u64::MAX).unwrap();
        b.put_u64(k::MEM_FREE_KIB, 0).unwrap();
        b.put_u64(k::MEM_AVAILABLE_KIB, 3).unwrap();
        let cpu = b.nest_start(k::CPU).unwrap();
        for (i, ns) in [1u64, 0, 123_456_789_012, 5, 6, 7, 8, u64::MAX]
            .iter()
            .enumerate()
        {
            b.put_u64(ct::USER_NS + i as u16, *ns).unwrap();
        }
        b.nest_end(cpu).unwrap();
        let n = b.nest_start(k::NETDEV).unwrap();
        b.put_str(nd::IFNAME, "a\\b\"c\nd").unwrap();
        b.put_u8(nd::OPER_STATE, 2).unwrap();
        for i in 0..8u16 {
            b.put_u64(nd::RX_BYTES + i, u64::from(i) * 11).unwrap();
        }
        b.nest_end(n).unwrap();
        let n = b.nest_start(k::NETDEV).unwrap();
        b.put_u64(nd::RX_BYTES, 5).unwrap();
        b.nest_end(n).unwrap();
        for (kind, temp) in [
            ("acpitz", Some(-1)),
            ("acpitz", Some(45_500)),
            ("x\"", None),
        ] {
            let z = b.nest_start(k::THERMAL).unwrap();
            b.put_str(tz::TYPE, kind).unwrap();
            if let Some(temp) = temp {
                b.put_i32(tz::TEMP_MDEGC, temp).unwrap();
            }
            b.nest_end(z).unwrap();
        }
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(t.sample(&s, &mut Fixed::new()), Ok(true));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, EXPECTED_FULL);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A family larger than the gathering buffer reaches its scratch file in several writes,
    /// whole and in order.
    #[test]
    fn many_interfaces_fill_the_buffer_several_times() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::{netdev as nd, sample as k};
        let dir = scratch_dir("many");
        let path = dir.join("many.prom");
        let mut t = Textfile::new(path.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 8192];
        let mut b = MsgBuilder::new(&mut buf[..]);
        b.begin(0x20, 0, 0, 0).unwrap();
        for i in 0..100u64 {
            let n = b.nest_start(k::NETDEV).unwrap();
            b.put_str(nd::IFNAME, &format!("veth{i:04}")).unwrap();
            b.put_u64(nd::RX_BYTES, i * 1000).unwrap();
            b.nest_end(n).unwrap();
        }
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(t.sample(&s, &mut Fixed::new()), Ok(true));
        let mut want = std::string::String::from(
            "# HELP nltelem_network_receive_bytes_total Bytes received by the interface.\n\
             # TYPE nltelem_network_receive_bytes_total counter\n",
        );
        for i in 0..100 {
            want.push_str(&format!(
                "nltelem_network_receive_bytes_total{{device=\"veth{i:04}\"}} {}\n",
                i * 1000
            ));
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What the agent wrote before it rendered without `core::fmt`.
    const EXPECTED_FULL: &str = r##"# HELP nltelem_load1 1-minute load average.
# TYPE nltelem_load1 gauge
nltelem_load1 0.000
# HELP nltelem_load5 5-minute load average.
# TYPE nltelem_load5 gauge
nltelem_load5 4294967.295
# HELP nltelem_load15 15-minute load average.
# TYPE nltelem_load15 gauge
nltelem_load15 1.001
# HELP nltelem_memory_total_bytes Usable memory (MemTotal).
# TYPE nltelem_memory_total_bytes gauge
nltelem_memory_total_bytes 18446744073709551615
# HELP nltelem_memory_free_bytes Unused memory (MemFree).
# TYPE nltelem_memory_free_bytes gauge
nltelem_memory_free_bytes 0
# HELP nltelem_memory_available_bytes Memory available for new work without swapping (MemAvailable).
# TYPE nltelem_memory_available_bytes gauge
nltelem_memory_available_bytes 3072
# HELP nltelem_cpu_seconds_total CPU time spent in each mode, summed over all CPUs.
# TYPE nltelem_cpu_seconds_total counter
nltelem_cpu_seconds_total{mode="user"} 0.000000001
nltelem_cpu_seconds_total{mode="nice"} 0.000000000
nltelem_cpu_seconds_total{mode="system"} 123.456789012
nltelem_cpu_seconds_total{mode="idle"} 0.000000005
nltelem_cpu_seconds_total{mode="iowait"} 0.000000006
nltelem_cpu_seconds_total{mode="irq"} 0.000000007
nltelem_cpu_seconds_total{mode="softirq"} 0.000000008
nltelem_cpu_seconds_total{mode="steal"} 18446744073.709551615
# HELP nltelem_boot_uptime_seconds Time since boot, suspend included, when the snapshot was taken.
# TYPE nltelem_boot_uptime_seconds gauge
nltelem_boot_uptime_seconds 0.999999999
# HELP nltelem_snapshot_timestamp_seconds Wall-clock time of the snapshot, seconds since the epoch.
# TYPE nltelem_snapshot_timestamp_seconds gauge
nltelem_snapshot_timestamp_seconds 1700000000.000000001
# HELP nltelem_network_receive_bytes_total Bytes received by the interface.
# TYPE nltelem_network_receive_bytes_total counter
nltelem_network_receive_bytes_total{device="a\\b\"c\nd"} 0
# HELP nltelem_network_transmit_bytes_total Bytes transmitted by the interface.
# TYPE nltelem_network_transmit_bytes_total counter
nltelem_network_transmit_bytes_total{device="a\\b\"c\nd"} 11
# HELP nltelem_network_receive_packets_total Packets received by the interface.
# TYPE nltelem_network_receive_packets_total counter
nltelem_network_receive_packets_total{device="a\\b\"c\nd"} 22
# HELP nltelem_network_transmit_packets_total Packets transmitted by the interface.
# TYPE nltelem_network_transmit_packets_total counter
nltelem_network_transmit_packets_total{device="a\\b\"c\nd"} 33
# HELP nltelem_network_receive_errs_total Receive errors of the interface.
# TYPE nltelem_network_receive_errs_total counter
nltelem_network_receive_errs_total{device="a\\b\"c\nd"} 44
# HELP nltelem_network_transmit_errs_total Transmit errors of the interface.
# TYPE nltelem_network_transmit_errs_total counter
nltelem_network_transmit_errs_total{device="a\\b\"c\nd"} 55
# HELP nltelem_network_receive_drop_total Received packets the interface dropped.
# TYPE nltelem_network_receive_drop_total counter
nltelem_network_receive_drop_total{device="a\\b\"c\nd"} 66
# HELP nltelem_network_transmit_drop_total Packets to transmit the interface dropped.
# TYPE nltelem_network_transmit_drop_total counter
nltelem_network_transmit_drop_total{device="a\\b\"c\nd"} 77
# HELP nltelem_network_oper_state RFC 2863 operational state of the interface (IF_OPER_*: 6 = up, 2 = down).
# TYPE nltelem_network_oper_state gauge
nltelem_network_oper_state{device="a\\b\"c\nd"} 2
# HELP nltelem_thermal_zone_celsius Temperature of the thermal zone.
# TYPE nltelem_thermal_zone_celsius gauge
nltelem_thermal_zone_celsius{zone="acpitz",index="0"} -0.001
nltelem_thermal_zone_celsius{zone="acpitz",index="1"} 45.500
"##;
}
