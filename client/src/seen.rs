//! Where each sender's messages have been seen in a room's history during
//! this session, so a page of history cannot show an old message a second
//! time at another place.
//!
//! A device sends to a room one message at a time, each with the next
//! counter of its stream, and the node numbers messages in the order it
//! stores them; so in honest history one stream's counters rise with the
//! seq. Every page, sync and live delivery adds what it showed; a message
//! whose counter was already seen at another seq is a replay, and one whose
//! counter does not fit between its neighbours (by seq) arrived out of
//! order. This complements the per-stream counters in the vault (which
//! know *which* counters were delivered, not *where*) and lives in memory:
//! after a restart, what was seen before is not known here.

use std::collections::{BTreeMap, HashMap};

/// Messages seen in one room, by stream.
#[derive(Debug, Default)]
pub(crate) struct SeenOrder {
    streams: HashMap<(u64, u64), Stream>,
}

#[derive(Debug, Default)]
struct Stream {
    by_seq: BTreeMap<u64, u64>,
    by_counter: BTreeMap<u64, u64>,
}

/// How a message fits what was seen of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Consistent (or the same message at the same place again).
    Fits,
    /// Its counter was seen at another seq, or another message of the
    /// stream was seen at this seq: the box shows something twice.
    Replay {
        /// Where the counter (or the seq) was seen first.
        seen_at: u64,
    },
    /// Its counter is out of order with a neighbour by seq: it arrived
    /// late (or the box moved it).
    OutOfOrder,
}

impl SeenOrder {
    /// How message `counter` of `(sender, stream)` at `seq` fits.
    pub(crate) fn place(&self, sender: u64, stream: u64, seq: u64, counter: u64) -> Placement {
        let Some(s) = self.streams.get(&(sender, stream)) else {
            return Placement::Fits;
        };
        match (s.by_counter.get(&counter), s.by_seq.get(&seq)) {
            (Some(&at), _) if at == seq => return Placement::Fits,
            (Some(&at), _) => return Placement::Replay { seen_at: at },
            (None, Some(_)) => return Placement::Replay { seen_at: seq },
            (None, None) => {}
        }
        let before = s.by_seq.range(..seq).next_back().map(|(_, &c)| c);
        let after = s.by_seq.range(seq + 1..).next().map(|(_, &c)| c);
        if before.is_some_and(|c| c > counter) || after.is_some_and(|c| c < counter) {
            Placement::OutOfOrder
        } else {
            Placement::Fits
        }
    }

    /// Move what was seen of `counter` to `seq` (an earlier copy of it
    /// turned up: the later one was the replay).
    pub(crate) fn relocate(&mut self, sender: u64, stream: u64, counter: u64, seq: u64) {
        if let Some(s) = self.streams.get_mut(&(sender, stream))
            && let Some(old) = s.by_counter.insert(counter, seq)
        {
            s.by_seq.remove(&old);
            s.by_seq.insert(seq, counter);
        }
    }

    /// Remember message `counter` of `(sender, stream)` at `seq` (not for
    /// a [`Placement::Replay`]: the first place stands).
    pub(crate) fn record(&mut self, sender: u64, stream: u64, seq: u64, counter: u64) {
        let s = self.streams.entry((sender, stream)).or_default();
        if s.by_seq.contains_key(&seq) || s.by_counter.contains_key(&counter) {
            return;
        }
        s.by_seq.insert(seq, counter);
        s.by_counter.insert(counter, seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_seen_at_one_seq_is_a_replay_at_another() {
        let mut o = SeenOrder::default();
        for (seq, counter) in [(10, 1), (12, 2), (20, 3)] {
            assert_eq!(o.place(7, 1, seq, counter), Placement::Fits);
            o.record(7, 1, seq, counter);
        }
        // The same message again where it was: fine (a page loaded twice).
        assert_eq!(o.place(7, 1, 12, 2), Placement::Fits);
        // Counter 2 again, at an old seq or a new one: a replay.
        assert_eq!(o.place(7, 1, 5, 2), Placement::Replay { seen_at: 12 });
        assert_eq!(o.place(7, 1, 30, 2), Placement::Replay { seen_at: 12 });
        // Another message of the stream where counter 2 was: a replay too.
        assert_eq!(o.place(7, 1, 12, 9), Placement::Replay { seen_at: 12 });
        // Recording a replay changes nothing.
        o.record(7, 1, 5, 2);
        assert_eq!(o.place(7, 1, 5, 4), Placement::OutOfOrder);
        // An earlier copy of counter 3 turns up: it takes counter 3's place.
        assert_eq!(o.place(7, 1, 15, 3), Placement::Replay { seen_at: 20 });
        o.relocate(7, 1, 3, 15);
        assert_eq!(o.place(7, 1, 15, 3), Placement::Fits);
        assert_eq!(o.place(7, 1, 20, 3), Placement::Replay { seen_at: 15 });
        assert_eq!(o.place(7, 1, 20, 4), Placement::Fits);
        // Other streams and senders are their own.
        assert_eq!(o.place(7, 2, 5, 2), Placement::Fits);
        assert_eq!(o.place(8, 1, 5, 2), Placement::Fits);
    }

    #[test]
    fn counters_must_rise_with_the_seq() {
        let mut o = SeenOrder::default();
        o.record(7, 1, 10, 5);
        o.record(7, 1, 20, 9);
        assert_eq!(o.place(7, 1, 15, 7), Placement::Fits);
        assert_eq!(o.place(7, 1, 15, 3), Placement::OutOfOrder);
        assert_eq!(o.place(7, 1, 15, 11), Placement::OutOfOrder);
        assert_eq!(o.place(7, 1, 25, 6), Placement::OutOfOrder);
        assert_eq!(o.place(7, 1, 5, 6), Placement::OutOfOrder);
        assert_eq!(o.place(7, 1, 25, 12), Placement::Fits);
        assert_eq!(o.place(7, 1, 5, 1), Placement::Fits);
    }
}
