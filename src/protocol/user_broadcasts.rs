//! Application broadcasts that reach every member.
//!
//! Go memberlist piggybacks an application broadcast a fixed number of
//! times on packets to random nodes and leaves the rest to the application
//! (Serf relays and deduplicates its own events). So with Go, a broadcast
//! reaches only as many random nodes as the retransmit limit allows.
//!
//! Here each broadcast remembers which members have not received it yet and
//! rides on packets to exactly those members (gossip, probes, acks) until
//! none is left. Every member alive when it was queued gets it exactly once,
//! and on the wire it is an ordinary user message, so Go nodes receive it
//! like any other. A broadcast still pending after `max_age` (members that
//! vanished, or a partition) is dropped.

use std::collections::HashSet;
use std::time::Duration;

use super::time::Instant;

struct Pending {
    name: Option<String>,
    /// The framed user message (`08 ‖ payload`).
    message: Vec<u8>,
    recipients: HashSet<String>,
    queued: Instant,
}

/// Application broadcasts awaiting delivery to each member.
#[derive(Default)]
pub(crate) struct UserBroadcasts {
    pending: Vec<Pending>,
}

impl UserBroadcasts {
    /// Queues `message` for `recipients`; a named broadcast replaces a
    /// queued one with the same name.
    pub(crate) fn queue(
        &mut self,
        name: Option<&str>,
        message: Vec<u8>,
        recipients: HashSet<String>,
        now: Instant,
    ) {
        if let Some(name) = name {
            self.pending.retain(|p| p.name.as_deref() != Some(name));
        }
        if recipients.is_empty() {
            return;
        }
        self.pending.push(Pending {
            name: name.map(str::to_owned),
            message,
            recipients,
            queued: now,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the broadcasts still due to `member` that fit in `limit` bytes
    /// (each costing `overhead` more), oldest first, and marks them sent.
    pub(crate) fn take_for(&mut self, member: &str, overhead: usize, limit: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut used = 0;
        for p in &mut self.pending {
            let cost = p.message.len() + overhead;
            if used + cost > limit || !p.recipients.contains(member) {
                continue;
            }
            p.recipients.remove(member);
            used += cost;
            out.push(p.message.clone());
        }
        self.pending.retain(|p| !p.recipients.is_empty());
        out
    }

    /// Forgets a member that is gone, and broadcasts older than `max_age`.
    pub(crate) fn prune(&mut self, gone: Option<&str>, now: Instant, max_age: Duration) {
        for p in &mut self.pending {
            if let Some(g) = gone {
                p.recipients.remove(g);
            }
        }
        self.pending.retain(|p| {
            !p.recipients.is_empty() && now.saturating_duration_since(p.queued) <= max_age
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_recipient_gets_it_once() {
        let mut q = UserBroadcasts::default();
        q.queue(None, vec![8, 1], set(&["a", "b"]), Instant::ZERO);
        assert_eq!(q.take_for("a", 2, 100), vec![vec![8, 1]]);
        assert!(q.take_for("a", 2, 100).is_empty());
        assert_eq!(q.take_for("b", 2, 100), vec![vec![8, 1]]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn budget_names_and_pruning() {
        let mut q = UserBroadcasts::default();
        q.queue(Some("x"), vec![8; 10], set(&["a", "b"]), Instant::ZERO);
        q.queue(Some("x"), vec![8; 5], set(&["a", "b"]), Instant::ZERO);
        q.queue(None, vec![8; 50], set(&["a"]), Instant::ZERO);
        assert_eq!(q.len(), 2);
        // Only the small one fits.
        assert_eq!(q.take_for("a", 2, 20), vec![vec![8; 5]]);
        q.prune(Some("b"), Instant::ZERO, Duration::from_secs(1));
        assert_eq!(q.len(), 1);
        let later = Instant::ZERO + Duration::from_secs(2);
        q.prune(None, later, Duration::from_secs(1));
        assert_eq!(q.len(), 0);
    }
}
