//! Catch-up syncs: anti-entropy when a node has reason to think its view
//! is incomplete (beyond Go).
//!
//! Gossip spreads news about a member a fixed number of times, counted
//! from the cluster size the sender knows *then*. During a burst of joins
//! most news is made while nodes know only a handful of members, so it dies
//! out after a send or two, and the members it missed wait for the next
//! periodic push/pull — 15 s with `local` timings, 30 s with `lan`, later
//! in larger clusters. That is where the long tail of convergence after
//! joins came from.
//!
//! So a node that *learns members it had never seen* from a push/pull (its
//! own join included) syncs again, with another random live member,
//! `catch_up_delay` later (default 0.5 s), at most once per four delays,
//! and stops as soon as a sync teaches it nothing new. A settled cluster
//! never learns new members, so this costs nothing once joins are over. It
//! is an ordinary push/pull, so Go peers take part unknowingly.

use super::membership::Membership;
use super::time::Instant;
use super::timers::Timer;
use crate::node::NodeState;

/// The catch-up schedule of one node.
#[derive(Debug, Default)]
pub(crate) struct CatchUp {
    /// A catch-up sync is armed.
    armed: bool,
    /// When the last one started.
    last: Option<Instant>,
}

impl Membership {
    /// A push/pull merge taught this node `learned` members it had never
    /// seen: plan a catch-up sync, unless one is planned or turned off.
    pub(super) fn learned_from_push_pull(&mut self, now: Instant, learned: usize) {
        let Some(delay) = self.config.catch_up_delay else {
            return;
        };
        if learned == 0 || self.catch_up.armed || self.leaving {
            return;
        }
        let spacing = delay.saturating_mul(4);
        let at = match self.catch_up.last {
            Some(last) => (now + delay).max(last + spacing),
            None => now + delay,
        };
        self.catch_up.armed = true;
        self.timers.arm(at, Timer::CatchUp);
    }

    /// Syncs with a random live member other than this one.
    pub(super) fn catch_up_tick(&mut self, now: Instant) {
        self.catch_up.armed = false;
        if self.leaving {
            return;
        }
        let peer = self.random_nodes(1, |n| n.state == NodeState::Alive);
        if let Some(peer) = peer.into_iter().next() {
            self.catch_up.last = Some(now);
            self.start_push_pull(now, peer.addr, Some(&peer.name), None);
        }
    }
}
