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
    /// A message without a number: counted, nothing to compare.
    Unnumbered,
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

/// The agent's own counters (sent to the module in heartbeats, logged on `SIGUSR1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages accepted from the telemetry and events groups.
    pub received: u64,
    /// Messages the sequence numbers show were never received.
    pub lost: u64,
    /// Receive-queue overruns (`ENOBUFS`).
    pub overruns: u64,
    /// Records the exporters took.
    pub exported: u64,
    /// Records the exporters failed to take.
    pub export_errors: u64,
    /// Datagrams dropped because they did not come from the kernel.
    pub forged: u64,
    /// Messages dropped because they were malformed.
    pub malformed: u64,
    /// Times the sequence went backwards (the module restarted its numbering).
    pub seq_restarts: u64,
    /// Times the module went away.
    pub module_lost: u64,
}

/// Adds without overflow: a counter that reached `u64::MAX` stays there.
pub fn bump(counter: &mut u64, by: u64) {
    *counter = counter.saturating_add(by);
}

impl Counters {
    /// Accounts for one message with sequence number `seq` (if it has one) of a group
    /// tracked by `tracker`; returns what the number said.
    pub fn account(&mut self, tracker: &mut SeqTracker, seq: Option<u64>) -> Seen {
        bump(&mut self.received, 1);
        let Some(seq) = seq else {
            return Seen::Unnumbered;
        };
        let seen = tracker.observe(seq);
        match seen {
            Seen::Gap { lost } => bump(&mut self.lost, lost),
            Seen::Backwards { .. } => bump(&mut self.seq_restarts, 1),
            Seen::Unnumbered | Seen::First | Seen::InOrder => {}
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_loses_nothing() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        assert_eq!(c.account(&mut t, Some(7)), Seen::First);
        for seq in 8..1000 {
            assert_eq!(c.account(&mut t, Some(seq)), Seen::InOrder);
        }
        assert_eq!((c.received, c.lost), (993, 0));
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
        assert_eq!(c.received + c.lost, 100);
        assert_eq!(c.lost, 94);
    }

    #[test]
    fn wraps_at_the_end_of_the_number_space() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        c.account(&mut t, Some(u64::MAX - 1));
        assert_eq!(c.account(&mut t, Some(u64::MAX)), Seen::InOrder);
        assert_eq!(c.account(&mut t, Some(0)), Seen::InOrder);
        assert_eq!(c.account(&mut t, Some(3)), Seen::Gap { lost: 2 });
        let mut t = SeqTracker::new();
        t.observe(u64::MAX);
        assert_eq!(t.observe(1), Seen::Gap { lost: 1 });
    }

    #[test]
    fn restart_is_not_a_loss() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        for seq in 1..=500 {
            c.account(&mut t, Some(seq));
        }
        assert_eq!(
            c.account(&mut t, Some(1)),
            Seen::Backwards {
                expected: 501,
                got: 1
            }
        );
        assert_eq!(c.account(&mut t, Some(2)), Seen::InOrder);
        assert_eq!((c.lost, c.seq_restarts, c.received), (0, 1, 502));
        // A duplicate is "backwards" too, never a loss of 2^64 - 1.
        assert!(matches!(c.account(&mut t, Some(2)), Seen::Backwards { .. }));
        assert_eq!(c.lost, 0);
    }

    #[test]
    fn an_unnumbered_message_is_received_and_leaves_the_numbering_alone() {
        let mut t = SeqTracker::new();
        let mut c = Counters::default();
        c.account(&mut t, Some(5));
        assert_eq!(c.account(&mut t, None), Seen::Unnumbered);
        assert_eq!(c.account(&mut t, Some(6)), Seen::InOrder);
        assert_eq!((c.received, c.lost, c.seq_restarts), (3, 0, 0));
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
        let mut c = Counters {
            lost: u64::MAX - 1,
            ..Counters::default()
        };
        bump(&mut c.lost, 5);
        assert_eq!(c.lost, u64::MAX);
        let mut t = SeqTracker::new();
        t.observe(0);
        c.account(&mut t, Some(MAX_FORWARD + 1));
        assert_eq!(c.lost, u64::MAX);
    }
}
