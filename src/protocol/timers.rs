//! The state machine's pending timers, ordered by deadline.
//!
//! Each handler checks, when its timer fires, whether it still applies (a
//! probe that already finished, a suspicion that was refuted), so a timer
//! need not be cancelled. Only a probe's two timers are, when its ack
//! comes: they are most of a settled node's timers, and each would wake
//! the node for nothing.

use std::collections::BTreeMap;

use super::time::Instant;

/// What a due timer that [`Membership::handle_due_timer`] ran was, for a
/// host that times the protocol's periodic work.
///
/// [`Membership::handle_due_timer`]: super::Membership::handle_due_timer
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerRun {
    /// A gossip round: choosing peers and packing and sealing their
    /// packets (what Go times as `memberlist.gossip`, less the sending).
    GossipRound,
    /// Any other timer.
    Other,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Start the next probe.
    ProbeTick,
    /// Gossip to a few random nodes.
    GossipTick,
    /// Push/pull with a random node.
    PushPullTick,
    /// Push/pull with a random node, as the view may be incomplete.
    CatchUp,
    /// Try to reach a dead member or a seed, to heal a partition.
    HealTick,
    /// The direct ack of probe `seq` is late: probe indirectly.
    ProbeTimeout(u32),
    /// Probe `seq` has run out of time.
    ProbeDeadline(u32),
    /// The ack handler for relayed ping `seq` expires (nack if asked).
    RelayExpiry(u32),
    /// The suspicion of this node may have timed out.
    Suspicion(String),
    /// A dial should have been reported by now; if not, it failed.
    DialExpiry(super::output::DialId),
    /// A dead node's name may now be taken over from the new address that
    /// claimed it.
    Reclaim(String),
    /// The quiet period of readiness may be over.
    SettleCheck,
}

/// An armed timer, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey(Instant, u64);

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    timers: BTreeMap<TimerKey, Timer>,
    next_id: u64,
}

impl TimerQueue {
    pub(crate) fn arm(&mut self, at: Instant, timer: Timer) -> TimerKey {
        self.next_id += 1;
        let key = TimerKey(at, self.next_id);
        self.timers.insert(key, timer);
        key
    }

    /// Disarms the timer at `key`, if it has not fired.
    pub(crate) fn cancel(&mut self, key: TimerKey) {
        self.timers.remove(&key);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.keys().next().map(|key| key.0)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let entry = self.timers.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }
}
