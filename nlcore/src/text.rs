//! Text without `core::fmt`: a one-method sink trait and the few renderings a netlink tool
//! prints (decimal integers, padded columns).
//!
//! Why not `core::fmt`: every `write!` site builds an argument table and goes through
//! `core::fmt::write`, `Formatter::pad` and `pad_integral`; in a 48 KiB program that
//! machinery and its call sites cost more than the rest of the output code. Here a writer
//! has one method, callers take `&mut dyn Text` (one copy of each rendering, whatever the
//! sink), and a writer that can fail remembers the failure itself instead of returning it
//! from every call.
//!
//! `core::fmt::Display` stays available where std code wants it (tests, other programs):
//! [`Display`] adapts any `describe`-style function to it.

use core::fmt;

/// Somewhere text goes: a buffer, a file, a formatter. Infallible by contract: a writer
/// that can run out of room or fail records that and reports it when it is finished with.
pub trait Text {
    /// Appends `bytes` (UTF-8 text, or bytes the caller checked).
    fn bytes(&mut self, bytes: &[u8]);
}

impl dyn Text + '_ {
    /// Appends a string.
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Appends one ASCII byte. (A constant one is smaller written as `str` of a one-byte
    /// literal: this stores the byte on the stack to point at it, at every call.)
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.bytes(&[b]);
    }

    /// Appends `v` in decimal.
    #[inline(never)] // a jump into `number`, not its arguments at every call
    pub fn uint(&mut self, v: u64) {
        self.number(false, v, After::Nothing);
    }

    /// Appends `v` in decimal, with a `-` when negative.
    #[inline(never)]
    pub fn int(&mut self, v: i64) {
        self.number(v < 0, v.unsigned_abs(), After::Nothing);
    }

    /// Appends `v` as [`int`](Self::int) does, then what `after` says, in the same write:
    /// for a caller that picks between the forms of a signed number by data.
    #[inline(never)]
    pub fn signed(&mut self, v: i64, after: After) {
        self.number(v < 0, v.unsigned_abs(), after);
    }

    /// Appends `v / 1000` with three decimals (`1500` → `1.500`, `-5` → `-0.005`): the
    /// fixed-point values of the protocol (load ×1000, m°C) without floating point.
    #[inline(never)]
    pub fn milli(&mut self, v: i64) {
        self.number(v < 0, v.unsigned_abs(), After::Milli);
    }

    /// Appends `abs` in decimal after a `-` when `negative`, and what `after` says. The one
    /// number writer: the sign, the digits and what follows them are put in one buffer and
    /// written with one call.
    #[inline(never)]
    fn number(&mut self, negative: bool, abs: u64, after: After) {
        // A sign and 20 digits, then `.` and three decimals (or a unit).
        let mut out = [0u8; WHOLE + 4];
        let (whole, end) = match after {
            After::Nothing => (abs, WHOLE),
            After::Byte(unit) => {
                if let Some(to) = out.get_mut(WHOLE) {
                    *to = unit;
                }
                (abs, WHOLE + 1)
            }
            After::Milli => {
                let frac = abs % 1000;
                let point = [
                    b'.',
                    b'0' + (frac / 100) as u8,
                    b'0' + (frac / 10 % 10) as u8,
                    b'0' + (frac % 10) as u8,
                ];
                if let Some(decimals) = out.get_mut(WHOLE..) {
                    decimals.copy_from_slice(&point);
                }
                (abs / 1000, WHOLE + 4)
            }
        };
        let digits = out.get_mut(..WHOLE).unwrap_or_default();
        let mut start = decimal(whole, digits);
        if negative {
            // At most 20 digits: there is room for the sign before them.
            start = start.wrapping_sub(1);
            if let Some(sign) = digits.get_mut(start) {
                *sign = b'-';
            }
        }
        self.bytes(out.get(start..end).unwrap_or_default());
    }
}

/// What follows the digits of a number (see `<dyn Text>::signed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Nothing: an integer.
    Nothing,
    /// This byte: a unit (InfluxDB's `5i`).
    Byte(u8),
    /// The last three digits are decimals, after a point: thousandths (`1.500`).
    Milli,
}

impl dyn Text + '_ {
    /// Appends `s`, then spaces up to `width` bytes in all (a left-aligned column).
    pub fn column(&mut self, s: &str, width: usize) {
        self.str(s);
        self.spaces(width.saturating_sub(s.len()));
    }

    /// Appends `n` spaces.
    pub fn spaces(&mut self, mut n: usize) {
        const SPACES: &[u8; 16] = b"                ";
        while n > 0 {
            let k = n.min(SPACES.len());
            self.bytes(&SPACES[..k]);
            n -= k;
        }
    }
}

/// An argument of a [`phrase`]: a number, written in decimal, or a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// A number (every count, errno, port or line a phrase says fits an `i64`).
    Num(i64),
    /// A word, as it is.
    Word(&'a str),
}

/// Marks in a phrase are the bytes below this: `\0` ends a phrase, `\x01`..`\x03` stand
/// for the argument they number.
const MARKS: u8 = 4;

/// Appends phrase `n` of `phrases` (phrases each ended by a NUL; text not ended by one is
/// no phrase), with each `\x01`, `\x02`, `\x03` in it replaced by the first, second, third
/// of `args` (one not given: nothing). Every table of words the programs say goes through
/// it (the codec's and the socket's errors, a program's own errors and lines): one table
/// format and one loop, instead of a run of `str`/`uint` calls per case.
#[inline(never)]
pub fn phrase(w: &mut dyn Text, phrases: &str, n: usize, args: &[Arg<'_>]) {
    let mut rest = phrases.as_bytes();
    let mut nth = 0;
    loop {
        let end = rest.iter().position(|&b| b < MARKS).unwrap_or(rest.len());
        let (text, tail) = rest.split_at(end);
        let Some((&mark, tail)) = tail.split_first() else {
            return;
        };
        if nth == n {
            w.bytes(text);
            match args.get(usize::from(mark).wrapping_sub(1)) {
                Some(&Arg::Num(v)) => w.int(v),
                Some(&Arg::Word(s)) => w.str(s),
                None if mark == 0 => return,
                None => {}
            }
        }
        nth += usize::from(mark == 0);
        rest = tail;
    }
}

/// Where the digits of `<dyn Text>::number` end: a sign and the 20 digits of a `u64`.
const WHOLE: usize = 21;

/// Writes the decimal digits of `v` at the end of `out` and returns where they start (`out`
/// is long enough for them: 20 bytes hold any `u64`).
pub fn decimal(mut v: u64, out: &mut [u8]) -> usize {
    // Two digits per division, from a table of "00".."99": half the divisions of a digit
    // loop, for 200 bytes of table.
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = out.len();
    loop {
        // `get` instead of indexing: with no panic exit the optimizer keeps this a small
        // loop (indexed, it unrolls it: over a kilobyte at opt-level 3).
        if v < 10 {
            i = i.wrapping_sub(1);
            if let Some(digit) = out.get_mut(i) {
                *digit = b'0' + v as u8;
            }
            return i;
        }
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i = i.wrapping_sub(2);
        if let (Some([d0, d1]), Some(&[s0, s1])) =
            (out.get_mut(i..i + 2), PAIRS.get(pair..pair + 2))
        {
            (*d0, *d1) = (s0, s1);
        }
        if v == 0 {
            return i;
        }
    }
}

/// A fixed buffer that keeps what fits and remembers whether anything did not.
#[derive(Debug)]
pub struct Fixed<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflowed: bool,
}

impl<const N: usize> Fixed<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Fixed {
            buf: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// What was written, or `None` when some of it did not fit.
    pub fn get(&self) -> Option<&[u8]> {
        written(&self.buf, self.len, self.overflowed)
    }

    /// What was written, as text, or `None` when some of it did not fit (or, which the
    /// writers here never do, it is not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.get()?).ok()
    }

    /// Bytes written so far (those that fitted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    pub fn room(&self) -> usize {
        N - self.len
    }

    /// Empties the buffer and forgets an overflow.
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// The writer, as the `dyn Text` the renderings take.
    pub fn text(&mut self) -> &mut dyn Text {
        self
    }
}

impl<const N: usize> Default for Fixed<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Text for Fixed<N> {
    fn bytes(&mut self, bytes: &[u8]) {
        append(&mut self.buf, &mut self.len, &mut self.overflowed, bytes);
    }
}

/// [`Fixed`]'s append. Inline: it runs for every piece of every rendered record, and a
/// call per piece cost more than its copies.
#[inline]
fn append(buf: &mut [u8], len: &mut usize, overflowed: &mut bool, bytes: &[u8]) {
    match buf.get_mut(*len..*len + bytes.len()) {
        Some(room) if !*overflowed => {
            if bytes.len() <= 8 {
                // Most pieces are a few bytes (a name, a separator, digits): a call to
                // `memcpy` for each cost more than the copy.
                for (to, from) in room.iter_mut().zip(bytes) {
                    *to = *from;
                }
            } else {
                room.copy_from_slice(bytes);
            }
            *len += bytes.len();
        }
        _ => *overflowed = true,
    }
}

/// [`Fixed::get`] on the buffer as a slice: one copy for every size of buffer.
#[inline(never)]
fn written(buf: &[u8], len: usize, overflowed: bool) -> Option<&[u8]> {
    buf.get(..len).filter(|_| !overflowed)
}

/// `core::fmt::Display` for anything that describes itself into a [`Text`].
pub struct Display<'a, T: ?Sized>(pub &'a T, pub fn(&T, &mut dyn Text));

impl<T: ?Sized> fmt::Display for Display<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Adapter<'f, 'g> {
            f: &'f mut fmt::Formatter<'g>,
            result: fmt::Result,
        }
        impl Text for Adapter<'_, '_> {
            fn bytes(&mut self, bytes: &[u8]) {
                // Every `describe` writes text: a non-UTF-8 piece is shown lossily, not
                // dropped.
                let s = core::str::from_utf8(bytes).unwrap_or("\u{fffd}");
                if self.result.is_ok() {
                    self.result = self.f.write_str(s);
                }
            }
        }
        let mut adapter = Adapter { f, result: Ok(()) };
        (self.1)(self.0, &mut adapter);
        adapter.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(put: impl FnOnce(&mut dyn Text)) -> heapless::String<64> {
        let mut buf: Fixed<64> = Fixed::new();
        put(buf.text());
        heapless::String::try_from(buf.as_str().expect("fits")).expect("fits")
    }

    #[test]
    fn integers() {
        assert_eq!(render(|t| t.uint(0)), "0");
        assert_eq!(render(|t| t.uint(u64::MAX)), "18446744073709551615");
        assert_eq!(render(|t| t.int(i64::MIN)), "-9223372036854775808");
        assert_eq!(render(|t| t.int(-7)), "-7");
        assert_eq!(render(|t| t.signed(-7, After::Byte(b'i'))), "-7i");
        assert_eq!(
            render(|t| t.signed(i64::MAX, After::Byte(b'i'))),
            "9223372036854775807i"
        );
        assert_eq!(render(|t| t.signed(-1500, After::Milli)), "-1.500");
    }

    #[test]
    fn milli_values() {
        assert_eq!(render(|t| t.milli(1500)), "1.500");
        assert_eq!(render(|t| t.milli(-5)), "-0.005");
        assert_eq!(render(|t| t.milli(-5500)), "-5.500");
        assert_eq!(render(|t| t.milli(0)), "0.000");
        assert_eq!(render(|t| t.milli(i64::MIN)), "-9223372036854775.808");
    }

    #[test]
    fn columns() {
        assert_eq!(render(|t| t.column("ab", 5)), "ab   ");
        assert_eq!(render(|t| t.column("abcdef", 3)), "abcdef");
        assert_eq!(render(|t| t.spaces(40)).len(), 40);
    }

    #[test]
    fn phrases_by_number() {
        let args = [Arg::Word("x"), Arg::Num(-7), Arg::Word("z")];
        let say = |n, args: &[Arg<'_>]| {
            render(|t| phrase(t, "a\0b `\x01` c \x02\0\x03\x01\x03\0last", n, args))
        };
        assert_eq!(say(0, &args), "a");
        assert_eq!(say(1, &args), "b `x` c -7");
        assert_eq!(say(2, &args), "zxz");
        // An argument not given is left out.
        assert_eq!(say(1, &args[..1]), "b `x` c ");
        // Text not ended by a NUL is no phrase; past the last, nothing.
        assert_eq!(say(3, &args), "");
        assert_eq!(say(4, &args), "");
    }

    #[test]
    fn overflow_is_remembered() {
        let mut buf: Fixed<4> = Fixed::new();
        buf.text().str("abc");
        buf.text().str("de");
        assert_eq!(buf.get(), None);
        buf.clear();
        buf.text().str("abcd");
        assert_eq!(buf.as_str(), Some("abcd"));
    }
}
