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
//! family together. The families are therefore gathered while the parts arrive in one
//! scratch file (a `memfd`: no name in the textfile's directory, gone when closed), each
//! per-interface family in a region of its own (the file is sparse), headers included;
//! when the last part is in, the kernel copies the regions in order into the temporary
//! file. A snapshot with a missing part is dropped (and counted): the file keeps the
//! previous one.

use super::{c_str, escaped, LINE};
use crate::config::words;
use crate::decode::{Rec, Sample, CPU_FIELDS, CPU_SLOT, SLOTS};
use core::ffi::CStr;
use nlcore::text::{Fixed, Text};
use nltelem_proto::attr;
use rustix::fd::OwnedFd;
use rustix::fs::{
    memfd_create, mkdirat, openat, renameat, sendfile, unlinkat, AtFlags, MemfdFlags, Mode, OFlags,
    CWD,
};
use rustix::io::pwrite;

// `FAMILIES_PACKED` and `FAMILIES_LEN`, from prometheus-families.txt (build.rs).
include!(concat!(env!("OUT_DIR"), "/families.rs"));

/// The families of prometheus-families.txt that come once per snapshot.
const SYSTEM_FAMILIES: usize = 9;
/// The family of the thermal zones (the last).
const THERMAL: usize = 18;

/// Regions of the scratch file: the once-per-snapshot families together, then one per
/// other family.
const REGIONS: usize = THERMAL + 2 - SYSTEM_FAMILIES;
/// Room for a region: 16 MiB, over a hundred thousand interfaces; all the regions end well
/// within a 32-bit offset.
const REGION: u64 = 1 << 24;

/// A family of prometheus-families.txt (`Default`: the renderer's, before the first).
#[derive(Default)]
struct Family<'a> {
    /// Where its value is in a record.
    slot: usize,
    /// Its unit letter, as in prometheus-families.txt.
    unit: u8,
    /// `NAME HELP`.
    line: &'a [u8],
    /// `NAME`.
    name: &'a [u8],
}

impl<'a> Family<'a> {
    /// Takes the first family off the unpacked table (`rest`; see build.rs for its form).
    fn next(rest: &mut &'a [u8]) -> Option<Self> {
        let &[len, slot, name_len, unit, ref tail @ ..] = *rest else {
            return None;
        };
        let (line, tail) = tail.split_at_checked(usize::from(len))?;
        *rest = tail;
        Some(Family {
            slot: usize::from(slot),
            unit,
            line,
            name: line.get(..usize::from(name_len))?,
        })
    }
}

/// One family on its way into its region of the scratch file.
struct Render<'a, 'f> {
    family: Family<'a>,
    out: Region<'f>,
    /// Whether the records are interfaces or zones (one without its name is left out,
    /// the name is the label), not the sample's own record.
    nested: bool,
    /// Whether the records are zones: zones of the same type exist (two `acpitz`), an
    /// index tells them apart.
    thermal: bool,
    /// The HELP and TYPE lines are still to be written: they go with a family's first
    /// sample, so that a family without any has none.
    header: bool,
    /// The zones numbered so far in the snapshot.
    zones: &'f mut u32,
}

impl Render<'_, '_> {
    /// The family's samples in record `r`: one, or for the CPU times one per mode, from the
    /// first CPU slot on.
    fn record(&mut self, r: &Rec<'_>) {
        // An interface or zone without its name is left out.
        if self.nested && r.text.is_none() {
            return;
        }
        let cpu = self.family.slot == usize::from(attr::sample::CPU);
        // The CPU times fill the slots after CPU_SLOT.
        let (slot, count) = if cpu {
            (CPU_SLOT + 1, SLOTS - CPU_SLOT - 1)
        } else {
            (self.family.slot, 1)
        };
        let mut modes = words(CPU_FIELDS);
        for k in 0..count {
            let mode = modes.next();
            let text = if cpu { mode } else { r.text };
            if let Some(v) = r.get(slot + k) {
                self.sample(text, v);
            }
        }
    }

    /// One sample line: `NAME VALUE`, or with a label text `NAME{KEY="TEXT"} VALUE` (the
    /// text escaped, and `,index="N"` after it for a zone); the value in the family's unit.
    fn sample(&mut self, text: Option<&str>, v: u64) {
        let f = &self.family;
        let w: &mut dyn Text = &mut self.out;
        let counter = f.unit.is_ascii_uppercase();
        if self.header {
            self.header = false;
            w.str("# HELP ");
            w.bytes(f.line);
            w.str("\n# TYPE ");
            w.bytes(f.name);
            w.str(if counter { " counter\n" } else { " gauge\n" });
        }
        w.bytes(f.name);
        if let Some(text) = text {
            w.str(if !self.nested {
                "{mode=\""
            } else if self.thermal {
                "{zone=\""
            } else {
                "{device=\""
            });
            label(w, text);
            if self.thermal {
                w.str("\",index=\"");
                w.uint(u64::from(*self.zones));
                *self.zones += 1;
            }
            w.str("\"}");
        }
        w.byte(b' ');
        match f.unit.to_ascii_lowercase() {
            b's' => seconds(w, v),
            // Loads x1000 come from a u32: within i64.
            unit @ (b'l' | b'm') => w.milli(if unit == b'm' {
                i64::from(v as u32 as i32)
            } else {
                v as i64
            }),
            unit => w.uint(if unit == b'k' {
                v.saturating_mul(1024)
            } else {
                v
            }),
        }
        w.byte(b'\n');
    }
}

/// A label value: backslash, double quote and newline escaped.
fn label(w: &mut dyn Text, value: &str) {
    escaped(w, value, b"\\\\\\\"\\\"\n\\n");
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

/// Room for a path and its NUL: the same size as the MQTT topics (one instance of the
/// buffer's code).
type PathText = Fixed<{ super::TOPIC }>;
// The next version's path is the textfile's (an `export` value) and 6 bytes more.
const _: () = assert!(crate::config::MAX_VALUE + 6 <= super::TOPIC);

/// Writes `parts` one after the other and a NUL into `path`: its C string.
fn c_string<'p>(path: &'p mut PathText, parts: &[&[u8]]) -> &'p CStr {
    path.clear();
    for part in parts {
        path.text().bytes(part);
    }
    path.text().byte(0);
    c_str(path)
}

/// Where a region's text ends once a write failed: past any region's room, so that the
/// check of the room after each family finds the failure too.
const FAILED: u64 = u64::MAX;

/// Text written into the scratch file from an offset on, through a line-sized buffer, so
/// that nothing of a snapshot is held in the agent's own memory (the scratch file's pages
/// are the kernel's, as a tmpfs file's are).
struct Region<'f> {
    fd: &'f OwnedFd,
    buf: &'f mut Fixed<LINE>,
    /// Where the buffered bytes go; [`FAILED`] after a failure.
    at: u64,
}

impl<'f> Region<'f> {
    /// Text for `fd` from `at` on, through `buf` (the exporters' line buffer, emptied here).
    fn new(fd: &'f OwnedFd, buf: &'f mut Fixed<LINE>, at: u64) -> Self {
        buf.clear();
        Region { fd, buf, at }
    }

    /// Writes what is buffered at `at` and moves `at` past it, or to [`FAILED`]: a piece
    /// longer than the buffer overflowed it (`get` is `None`), a write cut short ran out
    /// of memory (signals arrive through a signalfd, see sys.rs: nothing interrupts the
    /// call). A write at FAILED fails too (a negative offset), so a failure stays.
    fn flush(&mut self) {
        self.at = match self
            .buf
            .get()
            .map(|bytes| (pwrite(self.fd, bytes, self.at), bytes))
        {
            Some((Ok(n), bytes)) if n == bytes.len() => self.at + n as u64,
            _ => FAILED,
        };
        self.buf.clear();
    }
}

impl Text for Region<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        if bytes.len() > self.buf.room() {
            self.flush();
        }
        self.buf.bytes(bytes);
    }
}

/// The textfile exporter.
pub struct Textfile {
    /// The textfile, as a C string.
    path: PathText,
    /// Its next version `DIR/.NAME.tmp`, as a C string: renamed over the textfile when
    /// complete.
    temp: PathText,
    /// The snapshot's scratch file, from its first part to its last: none between
    /// snapshots, or after one was dropped.
    scratch: Option<OwnedFd>,
    /// Bytes in each region of the scratch file.
    lens: [u32; REGIONS],
    /// prometheus-families.txt, unpacked when the exporter starts (packed, the table is
    /// half its size in the program; unpacked once, rendering costs no more).
    families: [u8; FAMILIES_LEN],
    /// The snapshot being gathered and the part expected next.
    next: (u64, u32),
    /// Thermal zones written so far in the snapshot.
    zones: u32,
}

impl Textfile {
    /// An exporter not in use (all zero: it lives in the exporters' static slots).
    pub const fn idle() -> Self {
        Textfile {
            path: Fixed::new(),
            temp: Fixed::new(),
            scratch: None,
            lens: [0; REGIONS],
            families: [0; FAMILIES_LEN],
            next: (0, 0),
            zones: 0,
        }
    }

    /// The exporter for `path` (built by value: for tests).
    #[cfg(test)]
    pub fn new(path: &str) -> Self {
        let mut t = Textfile::idle();
        t.start(path);
        t
    }

    /// Makes this the exporter for `path` (an absolute `*.prom` path, checked by the spec
    /// parser), in place; a previous one's snapshot is dropped first ([`Textfile::end`]).
    /// A path the system refuses shows when the textfile is written.
    pub fn start(&mut self, path: &str) {
        self.end();
        let path = path.as_bytes();
        // `name` starts with the last slash.
        let slash = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
        let (dir, name) = path.split_at_checked(slash).unwrap_or_default();
        // The directory is on tmpfs and may not exist yet after a boot (OpenWrt's
        // /var/prometheus): made here (one level), as the collector expects it. A failure
        // shows when the textfile is written.
        let _ = mkdirat(
            CWD,
            c_string(&mut self.temp, &[dir]),
            Mode::from_raw_mode(0o755),
        );
        let base = name.get(1..).unwrap_or_default();
        c_string(&mut self.temp, &[dir, b"/.", base, b".tmp"]);
        c_string(&mut self.path, &[path]);
        crate::pack::unpack(b"", &FAMILIES_PACKED, &mut self.families);
    }

    /// Renders this message's families into their regions of the scratch file: the
    /// once-per-snapshot ones from the `first` part only.
    fn gather(&mut self, s: &Sample<'_>, first: bool, buf: &mut Fixed<LINE>) -> Option<()> {
        let fd = self.scratch.as_ref()?;
        let mut render = Render {
            family: Family::default(),
            out: Region::new(fd, buf, 0),
            nested: false,
            thermal: false,
            header: false,
            zones: &mut self.zones,
        };
        let mut families = &self.families[..];
        for i in 0..=THERMAL {
            let Some(family) = Family::next(&mut families) else {
                break;
            };
            let system = i < SYSTEM_FAMILIES;
            let region = i.saturating_sub(SYSTEM_FAMILIES - 1);
            let (Some(len), true) = (self.lens.get_mut(region), first || !system) else {
                continue;
            };
            let base = region as u64 * REGION;
            let thermal = i == THERMAL;
            render.family = family;
            render.out.at = base + u64::from(*len);
            render.nested = !system;
            render.thermal = thermal;
            render.header = system || *len == 0;
            if system {
                render.record(&s.rec);
            } else {
                let (kind, text) = if thermal {
                    (attr::sample::THERMAL, attr::thermal_zone::TYPE)
                } else {
                    (attr::sample::NETDEV, attr::netdev::IFNAME)
                };
                s.nests(kind, text, &mut |r| render.record(r));
            }
            render.out.flush();
            let end = render.out.at.wrapping_sub(base);
            if end > REGION {
                return None;
            }
            // Within the region's room: within a u32.
            *len = end as u32;
        }
        Some(())
    }

    /// Copies the regions in order into the next version of the textfile and renames it
    /// over the textfile.
    fn commit(&self) -> Option<()> {
        let scratch = self.scratch.as_ref()?;
        // Readable by the collector, which usually runs as another user.
        let temp = openat(
            CWD,
            c_str(&self.temp),
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .ok()?;
        for (region, &len) in self.lens.iter().enumerate() {
            let mut offset = region as u64 * REGION;
            // Copied by the kernel, file to file, without a buffer here; a copy cut short
            // ran out of room. A region is at most 16 MiB: within a usize.
            if len != 0
                && sendfile(&temp, scratch, Some(&mut offset), len as usize).ok()? != len as usize
            {
                return None;
            }
        }
        drop(temp);
        renameat(CWD, c_str(&self.temp), CWD, c_str(&self.path)).ok()
    }

    /// Drops the snapshot being gathered: closes the scratch file, which goes with it.
    pub fn end(&mut self) {
        self.scratch = None;
    }

    /// Takes one sample message. Returns `None` while more parts of the snapshot are
    /// expected, then whether the textfile now holds it (`Some(true)`) or it was dropped
    /// (`Some(false)`: a part missing, a write failed; the file keeps the previous one).
    /// `buf` is scratch space for the text on its way to the files.
    // Out of line: the binary measured smaller than with it inlined.
    #[inline(never)]
    pub fn sample(&mut self, s: &Sample<'_>, buf: &mut Fixed<LINE>) -> Option<bool> {
        let last = self.take(s, buf);
        if last == Some(false) {
            return None;
        }
        // Written or dropped: done with.
        self.end();
        if last.is_none() {
            // A next version the failure cut short.
            let _ = unlinkat(CWD, c_str(&self.temp), AtFlags::empty());
        }
        Some(last.is_some())
    }

    /// [`Textfile::sample`]'s work: whether the message was the snapshot's last part, or
    /// `None` when the snapshot is to be dropped (a part missing, a call failed, a family
    /// too large).
    fn take(&mut self, s: &Sample<'_>, buf: &mut Fixed<LINE>) -> Option<bool> {
        // A message without part information is a whole snapshot.
        let part = s.part();
        let last = s.last_part() || part.is_none();
        let part = part.unwrap_or(0);
        let snapshot = s.snapshot_seq().unwrap_or(0);
        if part == 0 {
            // A snapshot still being gathered never got its last part: dropped with its
            // scratch file, replaced here.
            self.scratch = Some(memfd_create(c"nltelem-prom", MemfdFlags::CLOEXEC).ok()?);
            self.lens = [0; REGIONS];
            self.zones = 0;
        } else if self.next != (snapshot, part) {
            return None;
        }
        // Without a scratch file (a part of a dropped snapshot), `gather` refuses it.
        self.next = (snapshot, part.wrapping_add(1));
        self.gather(s, part == 0, buf)?;
        if last {
            self.commit()?;
        }
        Some(last)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    /// A label value's backslash, double quote and newline escaped, the rest kept.
    #[test]
    fn a_label_escapes_backslash_quote_and_newline() {
        let mut out = crate::export::Gathered::default();
        label(&mut out, "a\\b\"é\n");
        assert_eq!(out.0, "a\\\\b\\\"é\\n");
    }

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

    /// The packed table unpacks whole into what the exporter takes it for: the
    /// once-per-snapshot families first, the thermal zones last, each a slot, a unit and a
    /// name (`_total` on the counters) then its HELP text; and packing halves it.
    #[test]
    fn the_families_unpack_into_the_table_the_exporter_reads() {
        let mut families = [0u8; FAMILIES_LEN];
        let len = crate::pack::unpack(b"", &FAMILIES_PACKED, &mut families);
        assert_eq!(len, FAMILIES_LEN);
        assert!(FAMILIES_PACKED.len() * 2 <= FAMILIES_LEN);
        let mut rest = &families[..];
        let all: Vec<Family> = (0..=THERMAL)
            .map(|_| Family::next(&mut rest).unwrap())
            .collect();
        assert!(rest.is_empty());
        let line = |i: usize| std::str::from_utf8(all[i].line).unwrap();
        assert!(!line(SYSTEM_FAMILIES - 1).contains("_network_"));
        assert!(line(SYSTEM_FAMILIES).contains("_network_"));
        assert!(line(THERMAL).contains("_thermal_zone_"));
        for (i, f) in all.iter().enumerate() {
            let line = line(i);
            assert!((1..crate::decode::SLOTS).contains(&f.slot), "{line}");
            assert!(b"nklmsNS".contains(&f.unit), "{line}");
            assert!(f.name.starts_with(b"nltelem_"), "{line}");
            assert_eq!(f.unit.is_ascii_uppercase(), f.name.ends_with(b"_total"));
            // The name is the line's first word, and a HELP text follows it.
            assert_eq!(f.line.get(f.name.len()), Some(&b' '), "{line}");
            assert!(f.line.len() > f.name.len() + 1, "{line}");
        }
    }

    #[test]
    fn a_snapshot_becomes_a_complete_file_and_nothing_else_remains() {
        let dir = scratch_dir("one");
        let path = dir.join("nltelem.prom");
        let mut t = Textfile::new(path.to_str().unwrap());
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 7, "wan \"0\"");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(t.sample(&s, &mut Fixed::new()), Some(true));
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
        let mut t = Textfile::new(path.to_str().unwrap());
        // Made when the exporter starts, not at each snapshot.
        assert!(dir.join("sub").is_dir());
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 1, "eth0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        assert_eq!(t.sample(&s, &mut Fixed::new()), Some(true));
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
        let mut t = Textfile::new(path.to_str().unwrap());
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
        assert_eq!(feed(&mut t, &mut buf, len), None);
        assert!(!path.exists(), "nothing before the last part");
        let len = part(&mut buf, 1, 1, true, &["c"]);
        assert_eq!(feed(&mut t, &mut buf, len), Some(true));
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
        assert_eq!(feed(&mut t, &mut buf, len), None);
        let len = part(&mut buf, 2, 2, true, &["z"]);
        assert_eq!(feed(&mut t, &mut buf, len), Some(false));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
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
        let mut t = Textfile::new(path.to_str().unwrap());
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
        assert_eq!(t.sample(&s, &mut Fixed::new()), Some(true));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, EXPECTED_FULL);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A region's writes land at its offset; once one fails (here a piece longer than the
    /// buffer), its end stays FAILED, which the kernel refuses as an offset, so the room
    /// check after the family drops the snapshot.
    #[test]
    fn a_failed_region_stays_failed() {
        let fd = memfd_create(c"test", MemfdFlags::CLOEXEC).unwrap();
        let mut buf = Fixed::new();
        let mut out = Region::new(&fd, &mut buf, 5);
        out.bytes(b"abc");
        out.flush();
        assert_eq!(out.at, 8);
        out.bytes(&[b'x'; LINE + 1]);
        out.flush();
        assert_eq!(out.at, FAILED);
        out.bytes(b"def");
        out.flush();
        assert_eq!(out.at, FAILED);
        let mut back = [1u8; 9];
        assert_eq!(rustix::io::pread(&fd, &mut back, 0), Ok(8));
        assert_eq!(&back[..8], b"\0\0\0\0\0abc");
    }

    /// A family larger than the gathering buffer reaches its scratch file in several writes,
    /// whole and in order.
    #[test]
    fn many_interfaces_fill_the_buffer_several_times() {
        use nlcore::MsgBuilder;
        use nltelem_proto::attr::{netdev as nd, sample as k};
        let dir = scratch_dir("many");
        let path = dir.join("many.prom");
        let mut t = Textfile::new(path.to_str().unwrap());
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
        assert_eq!(t.sample(&s, &mut Fixed::new()), Some(true));
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
