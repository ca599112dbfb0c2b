//! The wait between attempts to find a module that is absent: short at first (a reload
//! takes a moment), doubling up to a cap so an absent module costs almost nothing.

/// First wait, ms.
pub const FIRST_MS: u32 = 100;
/// Longest wait, ms: a module that comes back is found within this long even when its
/// announcement was missed.
pub const CAP_MS: u32 = 1000;

/// Exponential backoff between [`FIRST_MS`] and [`CAP_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next_ms: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl Backoff {
    /// Starts at [`FIRST_MS`].
    pub const fn new() -> Self {
        Backoff { next_ms: FIRST_MS }
    }

    /// The next wait, ms.
    pub fn next_ms(&mut self) -> u32 {
        let now = self.next_ms;
        self.next_ms = now.saturating_mul(2).min(CAP_MS);
        now
    }

    /// Back to the first wait (the module was found).
    pub fn reset(&mut self) {
        *self = Backoff::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new();
        let waits: Vec<u32> = (0..6).map(|_| b.next_ms()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_ms(), 100);
    }
}
