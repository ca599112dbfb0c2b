//! Loss accounting: the module numbers every message of a group (`seq`, u64), so every
//! gap is a count of messages the agent never saw. Together with the overruns the socket
//! reports, this lets the counters add up exactly: the module's sent count equals the
//! agent's received plus lost.
//!
//! Sequence arithmetic wraps (`wrapping_sub`) as the kernel's counter would; the agent's
//! own counters saturate, so no build with overflow checks can panic on them.

/// What one sequence number says about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first message after a (re)start: nothing to compare with.
    First,
    /// The expected next message.
    InOrder,
    /// `lost` messages were skipped before this one.
    Gap {
        /// How many.
        lost: u64,
    },
    /// An older (or repeated) number: the module restarted its count (it was reloaded) or
    /// the message is stale. The tracker follows the new numbering.
    Backwards {
        /// The number that was expected.
        expected: u64,
        /// The number that came.
        got: u64,
    },
}

/// Tracks one group's sequence numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqTracker {
    next: Option<u64>,
}

/// A jump forward larger than this is taken for a restart rather than a loss: half the
/// number space, the usual serial-number rule (RFC 1982).
const MAX_FORWARD: u64 = u64::MAX / 2;

impl SeqTracker {
    /// A tracker that has seen nothing.
    pub const fn new() -> Self {
        SeqTracker { next: None }
    }

    /// Forgets the stream (the module went away; its numbering starts again).
    pub fn reset(&mut self) {
        self.next = None;
    }

    /// The number expected next, once one was seen.
    pub fn expected(&self) -> Option<u64> {
        self.next
    }

    /// Takes the next received sequence number.
    pub fn observe(&mut self, seq: u64) -> Seen {
        let seen = match self.next {
            None => Seen::First,
            Some(expected) if seq == expected => Seen::InOrder,
            Some(expected) => {
                let ahead = seq.wrapping_sub(expected);
                if ahead <= MAX_FORWARD {
                    Seen::Gap { lost: ahead }
                } else {
                    Seen::Backwards { expected, got: seq }
                }
            }
        };
        self.next = Some(seq.wrapping_add(1));
        seen
    }
}

/// One of the agent's own counters: its place in [`Counters`], in the order they are
/// reported (and the first five in the order of a heartbeat's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Messages accepted from the telemetry and events groups.
    Received,
    /// Messages the sequence numbers show were never received.
    Lost,
    /// Receive-queue overruns (`ENOBUFS`).
    Overruns,
    /// Records the exporters took.
    Exported,
    /// Records the exporters failed to take.
    ExportErrors,
    /// Datagrams dropped because they did not come from the kernel.
    Forged,
    /// Messages dropped because they were malformed.
    Malformed,
    /// Times the sequence went backwards (the module restarted its numbering).
    SeqRestarts,
    /// Times the module went away.
    ModuleLost,
}

/// How many [`Counter`]s there are.
pub const COUNTERS: usize = Counter::ModuleLost as usize + 1;

/// The agent's own counters, by [`Counter`] (sent to the module in heartbeats, logged on
/// `SIGUSR1`): an array, so that reporting them is one loop, not a line per counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters(pub [u64; COUNTERS]);

impl Counters {
    /// Adds `by` to `counter` without overflow: a counter that reached `u64::MAX` stays
    /// there.
    pub fn bump(&mut self, counter: Counter, by: u64) {
        let n = &mut self.0[counter as usize];
        *n = n.saturating_add(by);
    }

    /// The value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter as usize]
    }

    /// Accounts for one message with sequence number `seq` (if it has one) of a group
    /// tracked by `tracker`; when the number went backwards (a restart, see
    /// [`Seen::Backwards`]), the number expected and the one that came.
    pub fn account(&mut self, tracker: &mut SeqTracker, seq: Option<u64>) -> Option<(u64, u64)> {
        self.bump(Counter::Received, 1);
        match tracker.observe(seq?) {
            Seen::Gap { lost } => self.bump(Counter::Lost, lost),
            Seen::Backwards { expected, got } => {
                self.bump(Counter::SeqRestarts, 1);
                return Some((expected, got));
            }
            Seen::First | Seen::InOrder => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Counter::*;
    use super::*;

    #[test]
    fn in_order_stream_loses_nothing() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        assert_eq!(c.account(&mut t, Some(7)), None);
        for seq in 8..1000 {
            assert_eq!(t.expected(), Some(seq));
            assert_eq!(c.account(&mut t, Some(seq)), None);
        }
        assert_eq!((c.get(Received), c.get(Lost)), (993, 0));
    }

    #[test]
    fn gaps_count_exactly_what_was_sent_and_not_received() {
        // The module sends 1..=100; the agent sees a subset.
        let received: [u64; 6] = [1, 2, 10, 11, 50, 100];
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        for seq in received {
            c.account(&mut t, Some(seq));
        }
        assert_eq!(c.get(Received) + c.get(Lost), 100);
        assert_eq!(c.get(Lost), 94);
    }

    #[test]
    fn wraps_at_the_end_of_the_number_space() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        c.account(&mut t, Some(u64::MAX - 1));
        c.account(&mut t, Some(u64::MAX));
        c.account(&mut t, Some(0));
        assert_eq!(c.get(Lost), 0);
        assert_eq!(c.account(&mut t, Some(3)), None);
        assert_eq!(c.get(Lost), 2);
        let mut t = SeqTracker::new();
        t.observe(u64::MAX);
        assert_eq!(t.observe(1), Seen::Gap { lost: 1 });
        assert_eq!(t.observe(2), Seen::InOrder);
    }

    #[test]
    fn restart_is_not_a_loss() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        for seq in 1..=500 {
            c.account(&mut t, Some(seq));
        }
        assert_eq!(c.account(&mut t, Some(1)), Some((501, 1)));
        assert_eq!(c.account(&mut t, Some(2)), None);
        assert_eq!(
            (c.get(Lost), c.get(SeqRestarts), c.get(Received)),
            (0, 1, 502)
        );
        // A duplicate is "backwards" too, never a loss of 2^64 - 1.
        assert_eq!(c.account(&mut t, Some(2)), Some((3, 2)));
        assert_eq!(c.get(Lost), 0);
    }

    #[test]
    fn an_unnumbered_message_is_received_and_leaves_the_numbering_alone() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        c.account(&mut t, Some(5));
        assert_eq!(c.account(&mut t, None), None);
        assert_eq!(t.expected(), Some(6));
        c.account(&mut t, Some(6));
        assert_eq!(
            (c.get(Received), c.get(Lost), c.get(SeqRestarts)),
            (3, 0, 0)
        );
    }

    #[test]
    fn reset_starts_over() {
        let mut t = SeqTracker::new();
        t.observe(41);
        assert_eq!(t.expected(), Some(42));
        t.reset();
        assert_eq!(t.observe(1), Seen::First);
    }

    #[test]
    fn counters_saturate_instead_of_overflowing() {
        let mut c = Counters::default();
        c.bump(Lost, u64::MAX - 1);
        c.bump(Lost, 5);
        assert_eq!(c.get(Lost), u64::MAX);
        let mut t = SeqTracker::new();
        t.observe(0);
        c.account(&mut t, Some(MAX_FORWARD + 1));
        assert_eq!(c.get(Lost), u64::MAX);
    }
}
