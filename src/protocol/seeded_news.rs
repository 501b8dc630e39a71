//! The records a joiner passes on once (see `NewsOrigin::Seeded`).
//!
//! A joiner learns the whole cluster from its seed's push/pull, and almost
//! every member knew it already; each record is sent once, behind all
//! other news, and only while fresh. The queue holds names only: a record
//! is encoded from the node table when it goes out, so a joiner of an
//! n-member cluster holds n names rather than n encoded messages, and a
//! record that changed meanwhile goes out as it is then.

use std::collections::VecDeque;

use smol_str::SmolStr;

use super::time::Instant;

/// Names of learned records to pass on once, oldest first.
#[derive(Debug, Clone, Default)]
pub struct SeededNews {
    /// Every name queued since the last drop passed its time, sent or not.
    queued: VecDeque<(Instant, SmolStr)>,
    /// How many of the first `queued` have gone out (or were skipped).
    taken: usize,
}

impl SeededNews {
    /// Queues `name`, learned at `now`; refused (`false`) while `most`
    /// names queued since the last drop are held, sent or not: so `most`
    /// bounds what goes out between drops, and what waits.
    pub fn queue(&mut self, name: &str, now: Instant, most: usize) -> bool {
        if self.queued.len() >= most {
            return false;
        }
        self.queued.push_back((now, SmolStr::new(name)));
        true
    }

    /// Forgets the names queued before `cutoff`, sent or not, and stops
    /// counting them against the next ones' `most`.
    pub fn drop_queued_before(&mut self, cutoff: Instant) {
        while self.queued.front().is_some_and(|(at, _)| *at < cutoff) {
            self.queued.pop_front();
            self.taken = self.taken.saturating_sub(1);
        }
    }

    /// The next name to pass on, if any waits.
    pub fn next(&self) -> Option<&SmolStr> {
        self.queued.get(self.taken).map(|(_, name)| name)
    }

    /// Marks the name [`SeededNews::next`] returned as gone out.
    pub fn take(&mut self) {
        self.taken = (self.taken + 1).min(self.queued.len());
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
        assert!(seeded.queue("a", t0, 2));
        assert!(seeded.queue("b", t0, 2));
        assert!(!seeded.queue("c", t0, 2), "two are held");
        assert_eq!(seeded.next().map(SmolStr::as_str), Some("a"));
        seeded.take();
        assert_eq!(seeded.waiting(), 1);
        assert!(!seeded.queue("c", t1, 2), "a sent name still counts");
        seeded.drop_queued_before(t0);
        assert_eq!(seeded.waiting(), 1, "nothing older than t0");
        seeded.drop_queued_before(t1);
        assert_eq!(seeded.waiting(), 0);
        assert_eq!(seeded.next(), None);
        assert!(seeded.queue("c", t1, 2));
        assert_eq!(seeded.next().map(SmolStr::as_str), Some("c"));
    }
}
