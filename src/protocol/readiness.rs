//! Readiness: whether this node's view of the cluster can be trusted.
//!
//! A node is **settled** once both hold:
//!
//! 1. it has exchanged whole state with another member: a push/pull
//!    completed in either direction (its join, a periodic or catch-up sync,
//!    or one another node started with it), so its view is a member's
//!    whole view, not only what gossip happened to bring; and
//! 2. no membership news — a member joining, leaving, failing, suspected,
//!    recovering or changing its metadata — has reached it for
//!    [`SETTLE_ROUNDS`] gossip intervals (2 s with `lan`, 1 s with `local`,
//!    5 s with `wan`): news still arriving means the view is still moving.
//!
//! It stops being settled when no other member is left alive (it lost
//! every peer: its view is only itself), and settles again after the next
//! exchange and a quiet period. Each change comes once, as
//! [`Event::Settled`] and [`Event::Unsettled`] about this node.

use super::membership::Membership;
use super::time::Instant;
use super::timers::Timer;
use crate::node::Event;

/// Gossip intervals without membership news before a synced node counts
/// as settled: a broadcast is sent this many rounds after its news, by
/// which time news still spreading would have come.
pub const SETTLE_ROUNDS: u32 = 10;

/// What readiness needs to remember.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    /// A push/pull with another member has completed since the node was
    /// last unsettled.
    synced: bool,
    settled: bool,
    /// When membership news last arrived.
    last_news: Instant,
    /// A check is armed.
    armed: bool,
}

impl Membership {
    /// Whether the node is settled (see the module docs).
    pub fn is_settled(&self) -> bool {
        self.readiness.settled
    }

    /// Membership news arrived (just emitted; `leave`: a member left or
    /// failed): the quiet period starts again.
    pub(super) fn note_news(&mut self, now: Instant, leave: bool) {
        self.readiness.last_news = now;
        if leave && !self.anyone_else_live() {
            self.unsettle();
        }
        self.arm_settle_check();
    }

    /// A push/pull with another member completed.
    pub(super) fn note_synced(&mut self) {
        self.readiness.synced = true;
        self.arm_settle_check();
    }

    fn quiet_period(&self) -> std::time::Duration {
        self.config.gossip_interval * SETTLE_ROUNDS
    }

    fn arm_settle_check(&mut self) {
        let r = &self.readiness;
        if r.synced && !r.settled && !r.armed {
            let at = r.last_news + self.quiet_period();
            self.timers.arm(at, Timer::SettleCheck);
            self.readiness.armed = true;
        }
    }

    /// The quiet period may be over.
    pub(super) fn settle_check(&mut self, now: Instant) {
        self.readiness.armed = false;
        let r = &self.readiness;
        if !r.synced || r.settled || self.leaving {
            return;
        }
        if now < r.last_news + self.quiet_period() {
            self.arm_settle_check();
            return;
        }
        if !self.anyone_else_live() {
            return;
        }
        self.readiness.settled = true;
        self.emit_local(Event::Settled);
    }

    fn unsettle(&mut self) {
        let was = self.readiness.settled;
        self.readiness.settled = false;
        self.readiness.synced = false;
        if was {
            self.emit_local(Event::Unsettled);
        }
    }

    /// Emits an event about this node (not news: it changes no view).
    fn emit_local(&mut self, make: impl FnOnce(crate::Node) -> Event) {
        if let Some(node) = self.local_node() {
            self.emit(make(node));
        }
    }
}
