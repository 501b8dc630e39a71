//! Counters of what a node sent, received, dropped and decided.

use std::collections::BTreeMap;

use crate::wire::MessageType;

/// Messages and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// How many.
    pub count: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

impl Traffic {
    pub(crate) fn add(&mut self, bytes: usize) {
        self.count += 1;
        self.bytes += bytes as u64;
    }
}

/// Traffic by message type, as a node counts it: an array slot per type
/// instead of a map lookup (string comparisons) for every message.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrafficByType {
    /// Types 0 to 13 at their value, `hasLabel` at 14, anything else at 15.
    slots: [Traffic; 16],
}

impl TrafficByType {
    fn slot(ty: Option<MessageType>) -> usize {
        match ty {
            Some(MessageType::HasLabel) => 14,
            Some(t) => usize::from(t as u8).min(15),
            None => 15,
        }
    }

    /// Counts one message of `bytes` whose type byte is `byte`.
    pub(crate) fn add(&mut self, byte: u8, bytes: usize) {
        self.slots[Self::slot(MessageType::from_byte(byte))].add(bytes);
    }

    /// The counts by type name (`unknown` for unknown types), as
    /// [`Stats`] shows them.
    pub(crate) fn by_name(&self) -> BTreeMap<&'static str, Traffic> {
        let name = |slot: usize| match slot {
            14 => Some(MessageType::HasLabel.name()),
            15 => Some("unknown"),
            s => u8::try_from(s)
                .ok()
                .and_then(MessageType::from_byte)
                .map(MessageType::name),
        };
        (0..self.slots.len())
            .filter(|&s| self.slots[s].count > 0)
            .filter_map(|s| Some((name(s)?, self.slots[s])))
            .collect()
    }
}

/// A snapshot of a node's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received.
    pub packets_in: Traffic,
    /// Datagrams sent.
    pub packets_out: Traffic,
    /// Messages received, by type name (`ping`, `alive`, …); sizes are
    /// those of the decoded message body.
    pub messages_in: BTreeMap<&'static str, Traffic>,
    /// Messages sent, by type name.
    pub messages_out: BTreeMap<&'static str, Traffic>,
    /// Streams opened to other nodes.
    pub streams_out: u64,
    /// Streams accepted and answered.
    pub streams_in: u64,
    /// Probes started.
    pub probes: u64,
    /// Probes that failed (the target became suspect).
    pub failed_probes: u64,
    /// Probes that failed while the host lagged behind, counted against
    /// this node's health instead of the target.
    pub inconclusive_probes: u64,
    /// Expired suspicions put off because the host lagged behind.
    pub deferred_suspicions: u64,
    /// Nodes this node started suspecting (by its own probes or gossip).
    pub suspicions: u64,
    /// Accusations about this node that it refuted.
    pub refutes: u64,
    /// Alive news applied: a new node, a newer incarnation, a recovery
    /// (Go's `memberlist.msg.alive`).
    pub alive_applied: u64,
    /// Nodes this node came to hold failed or left (Go's
    /// `memberlist.msg.dead`).
    pub dead_applied: u64,
    /// Probes started while this node's health score stretched the probe
    /// interval (Go's `memberlist.degraded.probe`).
    pub degraded_probes: u64,
    /// Suspicions that ran out before the confirmations that would have
    /// shortened them arrived (Go's `memberlist.degraded.timeout`).
    pub degraded_timeouts: u64,
    /// Bytes written on streams: requests dialled and replies (Go's
    /// `memberlist.tcp.sent`).
    pub stream_bytes_out: u64,
    /// Packets or messages dropped, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Envelopes and containers of accepted packets, by kind (`label`,
    /// `aes-v0`, `aes-v1`, `crc`, `lzw`, `lz4`, `compound`): shows what
    /// peers actually send.
    pub layers_in: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// Counts a drop; returns the new count for its reason.
    pub(crate) fn drop_for(&mut self, reason: &'static str) -> u64 {
        let count = self.dropped.entry(reason).or_default();
        *count += 1;
        *count
    }
}

/// Whether the `count`-th drop for a reason is logged: the 1st, 10th,
/// 100th, … so a flood of bad traffic cannot flood the log, yet every
/// reason shows up with its running count.
pub(crate) fn worth_logging(count: u64) -> bool {
    let mut c = count;
    while c >= 10 && c % 10 == 0 {
        c /= 10;
    }
    c == 1
}

#[cfg(test)]
mod tests {
    use super::{worth_logging, Traffic, TrafficByType};
    use crate::wire::MessageType;

    #[test]
    fn traffic_is_shown_by_type_name() {
        let mut t = TrafficByType::default();
        t.add(MessageType::Alive as u8, 90);
        t.add(MessageType::Alive as u8, 10);
        t.add(MessageType::HasLabel as u8, 5);
        t.add(200, 1);
        let shown: Vec<_> = t.by_name().into_iter().collect();
        let traffic = |count, bytes| Traffic { count, bytes };
        assert_eq!(
            shown,
            [
                ("alive", traffic(2, 100)),
                ("hasLabel", traffic(1, 5)),
                ("unknown", traffic(1, 1)),
            ]
        );
    }

    #[test]
    fn drops_are_logged_at_powers_of_ten() {
        let logged: Vec<u64> = (1..=2000).filter(|&c| worth_logging(c)).collect();
        assert_eq!(logged, [1, 10, 100, 1000]);
    }
}
