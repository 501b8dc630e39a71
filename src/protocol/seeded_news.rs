//! The records a joiner passes on once (see `NewsOrigin::Seeded`).
//!
//! A joiner learns the whole cluster from its seed's push/pull, and almost
//! every member knew it already; each record is sent once, behind all
//! other news, and only while fresh. The queue holds names only: a record
//! is encoded from the node table when it goes out, so a joiner of an
//! n-member cluster holds n names rather than n encoded messages, and a
//! record that changed meanwhile goes out as it is then. Each name keeps
//! where its record stood in the table, to be read there without a lookup
//! by name (cache misses in a large table) while the table has not moved
//! it.

use std::collections::VecDeque;

use smol_str::SmolStr;

use super::time::Instant;

/// A learned record to pass on: its name, and where its record stood.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The member's name.
    pub name: SmolStr,
    /// Its record's position in the node table when last asked; a hint,
    /// checked against the name before use.
    pub position: usize,
}

/// Names of learned records to pass on once, oldest first.
#[derive(Debug, Clone, Default)]
pub struct SeededNews {
    /// Every name queued since the last drop passed its time, sent or not.
    queued: VecDeque<(Instant, Seeded)>,
    /// How many of the first `queued` have gone out (or were skipped).
    taken: usize,
}

impl SeededNews {
    /// Queues `name`, learned at `now` and held at `position`; refused
    /// (`false`) while `most` names queued since the last drop are held,
    /// sent or not: so `most` bounds what goes out between drops, and what
    /// waits.
    pub fn queue(&mut self, name: &str, position: usize, now: Instant, most: usize) -> bool {
        if self.queued.len() >= most {
            return false;
        }
        let name = SmolStr::new(name);
        self.queued.push_back((now, Seeded { name, position }));
        true
    }

    /// Asks `position` again where each waiting name's record stands (for
    /// after a merge, whose inserts move records).
    pub fn relocate(&mut self, position: impl Fn(&str) -> Option<usize>) {
        for (_, seeded) in self.queued.iter_mut().skip(self.taken) {
            if let Some(i) = position(&seeded.name) {
                seeded.position = i;
            }
        }
    }

    /// Forgets the names queued before `cutoff`, sent or not, and stops
    /// counting them against the next ones' `most`.
    pub fn drop_queued_before(&mut self, cutoff: Instant) {
        while self.queued.front().is_some_and(|(at, _)| *at < cutoff) {
            self.queued.pop_front();
            self.taken = self.taken.saturating_sub(1);
        }
    }

    /// The next record to pass on, if any waits.
    pub fn next(&self) -> Option<&Seeded> {
        self.queued.get(self.taken).map(|(_, seeded)| seeded)
    }

    /// Marks the name [`SeededNews::next`] returned as gone out. Once all
    /// have, the queue empties: gossip parks when nothing waits, and would
    /// otherwise not drop them, holding the names and refusing a later
    /// join's.
    pub fn take(&mut self) {
        self.taken = (self.taken + 1).min(self.queued.len());
        if self.taken == self.queued.len() {
            self.queued.clear();
            self.taken = 0;
        }
    }

    /// How many names wait to go out.
    pub fn waiting(&self) -> usize {
        self.queued.len() - self.taken
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn names_go_out_in_order_and_count_against_most_until_dropped() {
        let t0 = Instant::ZERO;
        let t1 = t0 + Duration::from_secs(1);
        let mut seeded = SeededNews::default();
        assert!(seeded.queue("a", 0, t0, 2));
        assert!(seeded.queue("b", 1, t0, 2));
        assert!(!seeded.queue("c", 2, t0, 2), "two are held");
        assert_eq!(seeded.next().map(|s| s.name.as_str()), Some("a"));
        seeded.take();
        assert_eq!(seeded.waiting(), 1);
        assert!(!seeded.queue("c", 2, t1, 2), "a sent name still counts");
        seeded.relocate(|name| (name == "b").then_some(7));
        assert_eq!(seeded.next().map(|s| s.position), Some(7));
        seeded.drop_queued_before(t0);
        assert_eq!(seeded.waiting(), 1, "nothing older than t0");
        seeded.drop_queued_before(t1);
        assert_eq!(seeded.waiting(), 0);
        assert!(seeded.next().is_none());
        assert!(seeded.queue("c", 2, t1, 2));
        assert_eq!(seeded.next().map(|s| s.name.as_str()), Some("c"));
    }

    #[test]
    fn a_queue_all_gone_out_holds_nothing() {
        let t0 = Instant::ZERO;
        let mut seeded = SeededNews::default();
        assert!(seeded.queue("a", 0, t0, 2));
        assert!(seeded.queue("b", 1, t0, 2));
        seeded.take();
        seeded.take();
        assert_eq!(seeded.waiting(), 0);
        // No drop came (gossip parks when nothing waits): a later join's
        // records are still taken.
        assert!(seeded.queue("c", 2, t0, 2));
        assert!(seeded.queue("d", 3, t0, 2));
    }
}
