//! Unpacking text packed at build time (build.rs): the help texts, 3.6 KB of words that
//! only `help` prints, kept at under half their size. The scheme busybox uses for its usage
//! texts, at its simplest: a byte-oriented LZ77 with no entropy coding, so the unpacker is
//! one short loop.
//!
//! The packed stream is a run of tokens:
//! - a byte below `0x80` is itself (the texts are ASCII);
//! - `1LLLLOOO OOOOOOOO` copies `L + 3` bytes (3..18) from `O + 1` bytes back in what was
//!   unpacked so far; the copy goes forwards, so it may reach into the bytes it writes (a
//!   run of spaces is one space and a reference one back).
//!
//! What was unpacked so far starts with a dictionary: text the program has anyway, which
//! the packed text refers to instead of repeating it. The eleven bits of `O` reach back
//! `2048 - D` bytes, D the dictionary's length; the larger values `2048 - D + P` name
//! byte P of the dictionary, which thus stays in reach from every later byte.

/// Writes `dict` then `packed` unpacked into `out` and returns how many bytes that is.
/// Stops at the end of `packed` or when `out` is full; a reference to before the start
/// ends it too (only a corrupt stream has one): whatever the input, no panic and at most
/// `out.len()` bytes.
pub fn unpack(dict: &[u8], packed: &[u8], out: &mut [u8]) -> usize {
    // How far back a reference reaches; the offsets above name dictionary bytes.
    let window = 2048usize.saturating_sub(dict.len());
    let mut len: usize = 0;
    for (to, &from) in out.iter_mut().zip(dict) {
        *to = from;
        len += 1;
    }
    let mut input = packed.iter();
    while let Some(&b) = input.next() {
        let (mut from, count) = if b < 0x80 {
            // A literal: the byte is put where the output ends, then copied onto itself.
            let Some(to) = out.get_mut(len) else {
                break;
            };
            *to = b;
            (len, 1)
        } else {
            let Some(&low) = input.next() else {
                break;
            };
            let offset = usize::from(b & 7) << 8 | usize::from(low);
            let from = match offset.checked_sub(window) {
                Some(in_dict) => in_dict,
                None => len.wrapping_sub(offset + 1),
            };
            (from, usize::from(b >> 3 & 15) + 3)
        };
        for _ in 0..count {
            let Some(&byte) = out.get(from) else {
                return len;
            };
            let Some(to) = out.get_mut(len) else {
                return len;
            };
            *to = byte;
            len += 1;
            from = from.wrapping_add(1);
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_references() {
        let mut out = [0u8; 16];
        // "abc", then 5 bytes from 3 back (overlapping its own output), then "!".
        let packed = [b'a', b'b', b'c', 0x80 | 2 << 3, 2, b'!'];
        let n = unpack(b"", &packed, &mut out);
        assert_eq!(&out[..n], b"abcabcab!");
        // Longest reference, from the farthest back.
        let mut big = [b'x'; 2100];
        let mut packed = vec![b'y'];
        packed.extend(std::iter::repeat_n(b'.', 2047));
        packed.extend([0x80 | 15 << 3 | 7, 0xff]);
        let n = unpack(b"", &packed, &mut big);
        assert_eq!(n, 2048 + 18);
        assert_eq!(&big[2048..2049], b"y");
        assert_eq!(&big[2049..n], &[b'.'; 17][..]);
        // References reach into the dictionary; it may be all there is.
        let n = unpack(b"dict", &[b'-', 0x80 | 1 << 3, 4], &mut out);
        assert_eq!(&out[..n], b"dict-dict");
        // The offsets past the window (2048 - 4 here) name dictionary bytes, from its start.
        let n = unpack(b"dict", &[b'-', 0x80 | 7, 0xfc, 0x80 | 7, 0xff], &mut out);
        assert_eq!(&out[..n], b"dict-dict-d");
        assert_eq!(unpack(b"dictionary", b"x", &mut out[..4]), 4);
        assert_eq!(&out[..4], b"dict");
    }

    #[test]
    fn corrupt_streams_stop() {
        let mut out = [0u8; 8];
        // A reference before the start, a reference cut short, more than fits.
        assert_eq!(unpack(b"", &[b'a', 0x80, 1, b'b'], &mut out), 1);
        assert_eq!(unpack(b"", &[b'a', 0x80], &mut out), 1);
        assert_eq!(unpack(b"", &[b'a', 0xf8, 0], &mut out), 8);
        assert_eq!(out, [b'a'; 8]);
        assert_eq!(unpack(b"", &[], &mut out), 0);
    }

    /// Any bytes: no panic, no endless loop, never more than fits.
    #[test]
    fn random_input_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            // xorshift64: reproducible without a dependency.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut out = [0u8; 256];
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let packed: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let room = (next() % 257) as usize;
            assert!(unpack(b"dictionary", &packed, &mut out[..room]) <= room);
        }
        // Every pair of bytes, in room enough for any.
        for pair in 0..=u16::MAX {
            assert!(unpack(b"dict", &pair.to_be_bytes(), &mut out) <= 4 + 18);
        }
    }
}
