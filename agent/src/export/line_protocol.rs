//! InfluxDB line protocol: `measurement[,tag=value] field=value[,...] [timestamp_ns]`.
//! Integers carry the `i` suffix; tag values escape `,`, `=` and space.

use crate::decode::{Sample, NETDEV_FIELDS};
use core::fmt::{self, Write};

/// A tag value with `,`, `=` and spaces escaped.
struct Tag<'a>(&'a str);

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if matches!(c, ',' | '=' | ' ') {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        Ok(())
    }
}

/// Writes `name=valuei`, with a comma before all but the first field.
fn field(w: &mut impl Write, first: &mut bool, name: &str, v: Option<u64>) -> fmt::Result {
    if let Some(v) = v {
        if !*first {
            w.write_char(',')?;
        }
        *first = false;
        write!(w, "{name}={v}i")?;
    }
    Ok(())
}

fn end(w: &mut impl Write, ts: Option<u64>) -> fmt::Result {
    match ts {
        Some(ts) => writeln!(w, " {ts}"),
        None => w.write_char('\n'),
    }
}

/// Writes one sample as line protocol: a `system` point and one `netdev` point per
/// interface. Returns how many points it wrote.
pub fn write_sample(w: &mut impl Write, s: &Sample<'_>) -> Result<u64, fmt::Error> {
    let mut points = 0;
    let mut first = true;
    let mut system = heapless::String::<512>::new();
    {
        let b = &mut system;
        field(b, &mut first, "seq", s.seq)?;
        field(b, &mut first, "uptime_ns", s.uptime_ns)?;
        for (name, v) in ["load1_milli", "load5_milli", "load15_milli"]
            .iter()
            .zip(s.load_milli)
        {
            field(b, &mut first, name, v.map(u64::from))?;
        }
        for (name, v) in ["mem_total_kib", "mem_free_kib", "mem_available_kib"]
            .iter()
            .zip(s.mem_kib)
        {
            field(b, &mut first, name, v)?;
        }
    }
    if !first {
        write!(w, "system {system}")?;
        end(w, s.timestamp_ns)?;
        points += 1;
    }
    for n in s.netdevs() {
        let Some(name) = n.ifname else { continue };
        let mut line = heapless::String::<512>::new();
        let mut first = true;
        for (field_name, v) in NETDEV_FIELDS.iter().zip(n.counters) {
            field(&mut line, &mut first, field_name, v)?;
        }
        if first {
            continue;
        }
        write!(w, "netdev,ifname={} {line}", Tag(name))?;
        end(w, s.timestamp_ns)?;
        points += 1;
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::sample_bytes;
    use nlcore::NlMsg;

    #[test]
    fn sample_points() {
        let mut buf = [0u8; 512];
        let len = sample_bytes(&mut buf, 3, "br lan,0");
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let s = Sample::parse(msg.attrs(0).unwrap()).unwrap();
        let mut out = String::new();
        assert_eq!(write_sample(&mut out, &s), Ok(3));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "system seq=3i,uptime_ns=5000000000i,load1_milli=250i,load5_milli=1500i,\
             load15_milli=20i,mem_total_kib=262144i,mem_free_kib=100000i,\
             mem_available_kib=200000i 1700000000123456789"
        );
        assert_eq!(
            lines[2],
            "netdev,ifname=br\\ lan\\,0 rx_bytes=2000i,tx_dropped=18446744073709551615i \
             1700000000123456789"
        );
    }
}
