//! The transmit-limited broadcast queue (memberlist's
//! `TransmitLimitedQueue`).
//!
//! Gossip piggybacks queued broadcasts on packets that are sent anyway. Each
//! broadcast is sent a limited number of times ([`retransmit_limit`]: enough
//! for epidemic spread, which needs `O(log n)` rounds) and the least
//! transmitted go first, so fresh news overtakes old news. Within the same
//! transmit count the longest message goes first (it is the hardest to fit),
//! then the newest.
//!
//! Newer information makes older broadcasts pointless, so enqueuing
//! invalidates:
//!
//! * a *named* broadcast replaces the queued one with the same name (every
//!   alive/suspect/dead message is named after its node, so the queue holds
//!   at most one message per member);
//! * a *plain* broadcast removes every queued plain broadcast its predicate
//!   matches;
//! * a *unique* broadcast skips the scan; named and unique broadcasts are
//!   never removed by a plain broadcast's predicate.
//!
//! Items live in a `BTreeMap` ordered by `(transmits, longer first, newer
//! first)`, so finding the largest message that fits the remaining space is
//! a range lookup, and a name index makes replacement `O(log n)`: the queue
//! stays cheap with thousands of members.
//!
//! Being sans-IO, the queue cannot call back when a broadcast is finished
//! (sent often enough, invalidated, pruned or reset). Instead, each broadcast
//! may carry a caller-chosen notify token; tokens of finished broadcasts are
//! collected until the caller takes them with
//! [`BroadcastQueue::drain_finished`].
//!
//! [`BroadcastQueue::get_broadcasts`] takes a byte budget and never exceeds
//! it, so a caller can split one packet between several queues (for example
//! membership and user broadcasts, so that neither starves the other) by
//! giving each its share.
//!
//! One deliberate difference from Go: Go restarts its id counter whenever
//! the queue is momentarily empty, even in the middle of taking broadcasts
//! that are about to be requeued, which can hand a new broadcast the same
//! ordering key as a requeued one and silently replace it. Here ids restart
//! only when the queue is empty at the end of an operation.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use hashbrown::HashMap;
use smol_str::SmolStr;

use super::time::Instant;
use crate::wire::news_age::{stamp_news_age, NEWS_AGE_LEN};

/// How many times a broadcast is sent in a cluster of `cluster_size`
/// members: `retransmit_mult × ceil(log10(cluster_size + 1))` (0 members →
/// 0, 1–9 → `retransmit_mult`, 10–99 → twice that, …), saturating.
pub fn retransmit_limit(retransmit_mult: u32, cluster_size: usize) -> u32 {
    // ceil(log10(n + 1)) is the number of decimal digits of n (0 for n = 0);
    // counted exactly in integers.
    let digits = cluster_size
        .checked_ilog10()
        .map_or(0, |d| d.saturating_add(1));
    retransmit_mult.saturating_mul(digits)
}

/// A message's length as queue keys hold it.
fn message_len(message: &[u8]) -> u32 {
    u32::try_from(message.len()).unwrap_or(u32::MAX)
}

/// A queued broadcast's position in queue order: fewer transmits first, then
/// longer messages, then newer (higher id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct QueueKey {
    transmits: u32,
    /// The message's length (a broadcast fits a datagram: far below 4 GiB).
    len: Reverse<u32>,
    id: Reverse<u64>,
}

/// Which queued broadcasts a broadcast can invalidate, and be invalidated by.
#[derive(Debug, Clone)]
enum Invalidation {
    /// Replaces, and is replaced by, the broadcast with the same name
    /// (shared with `keys_by_name`: requeueing clones no string).
    Named(SmolStr),
    /// Never scanned for.
    Unique,
    /// Removed when a later plain broadcast's predicate matches it.
    Plain,
}

#[derive(Debug, Clone)]
struct QueuedBroadcast {
    message: Box<[u8]>,
    invalidation: Invalidation,
    notify: Option<u64>,
    /// When the news was made, for broadcasts stamped with their age.
    born: Option<Instant>,
}

/// A queue of broadcasts waiting to be piggybacked on gossip, each sent a
/// limited number of times, least transmitted first.
#[derive(Debug, Clone, Default)]
pub struct BroadcastQueue {
    items: BTreeMap<QueueKey, QueuedBroadcast>,
    /// The key of each named item.
    keys_by_name: HashMap<SmolStr, QueueKey>,
    /// The keys of the plain items, the only ones invalidation scans.
    plain_keys: BTreeSet<QueueKey>,
    /// The id of the last enqueued item; 0 after the queue empties.
    last_id: u64,
    /// Notify tokens of finished broadcasts, oldest first.
    finished: Vec<u64>,
}

impl BroadcastQueue {
    /// An empty queue.
    pub fn new() -> Self {
        BroadcastQueue::default()
    }

    /// Enqueues `message` under `name`, replacing (and finishing) any queued
    /// broadcast with the same name. `notify` is reported by
    /// [`drain_finished`](Self::drain_finished) once this broadcast is
    /// finished.
    pub fn queue_named(&mut self, name: impl AsRef<str>, message: Vec<u8>, notify: Option<u64>) {
        self.enqueue(
            Invalidation::Named(SmolStr::new(name)),
            message,
            notify,
            0,
            None,
        );
    }

    /// As [`BroadcastQueue::queue_named`], for membership news made at
    /// `born`: sends asked to stamp ages stamp it with its age then.
    pub fn queue_news(
        &mut self,
        name: impl AsRef<str>,
        message: Vec<u8>,
        born: Instant,
        notify: Option<u64>,
    ) {
        self.enqueue(
            Invalidation::Named(SmolStr::new(name)),
            message,
            notify,
            0,
            Some(born),
        );
    }

    /// Whether a broadcast named `name` is queued.
    pub fn holds_named(&self, name: &str) -> bool {
        self.keys_by_name.contains_key(name)
    }

    /// Enqueues a `message` known to be unique: no queued broadcast is
    /// invalidated by it, and no plain broadcast will ever invalidate it.
    pub fn queue_unique(&mut self, message: Vec<u8>, notify: Option<u64>) {
        self.enqueue(Invalidation::Unique, message, notify, 0, None);
    }

    /// Enqueues a plain `message`, first finishing every queued plain
    /// broadcast whose message `invalidates` returns `true` for (in queue
    /// order). Named and unique broadcasts are not offered to `invalidates`.
    pub fn queue_plain(
        &mut self,
        message: Vec<u8>,
        notify: Option<u64>,
        mut invalidates: impl FnMut(&[u8]) -> bool,
    ) {
        let invalidated: Vec<QueueKey> = self
            .plain_keys
            .iter()
            .filter(|key| {
                self.items
                    .get(key)
                    .is_some_and(|item| invalidates(&item.message))
            })
            .copied()
            .collect();
        for key in invalidated {
            self.finish(key);
        }
        self.enqueue(Invalidation::Plain, message, notify, 0, None);
    }

    /// Takes broadcasts to piggyback on one packet, spending at most `limit`
    /// bytes where each message costs its length plus `overhead` (its
    /// framing): the returned messages' `Σ(overhead + len)` never exceeds
    /// `limit`.
    ///
    /// Transmit tiers are walked from the least transmitted; in each, the
    /// first item in queue order that fits the remaining space is taken
    /// until none fits, then the next tier is tried, until the remaining
    /// space (after one more `overhead`) is exhausted. A taken broadcast
    /// that has now been sent `transmit_limit` times is finished; the others
    /// are requeued one tier up after the walk, so none is taken twice.
    pub fn get_broadcasts(
        &mut self,
        overhead: usize,
        limit: usize,
        transmit_limit: u32,
    ) -> Vec<Vec<u8>> {
        self.get_broadcasts_notifying(overhead, limit, transmit_limit, transmit_limit, None)
    }

    /// As [`BroadcastQueue::get_broadcasts`], but reports a broadcast's
    /// notify token as finished once it has been sent `notify_limit` times
    /// (at most `transmit_limit`), while it keeps being sent until
    /// `transmit_limit`: a caller waiting for news to go out waits as long
    /// as Go would, however often the news is then repeated.
    ///
    /// With `stamp_at`, news queued with [`BroadcastQueue::queue_news`] is
    /// stamped with its age at that instant (see [`crate::wire::news_age`]);
    /// the stamp counts against `limit`.
    pub fn get_broadcasts_notifying(
        &mut self,
        overhead: usize,
        limit: usize,
        transmit_limit: u32,
        notify_limit: u32,
        stamp_at: Option<Instant>,
    ) -> Vec<Vec<u8>> {
        // Room for a stamp is kept for every message, stamped or not: a
        // gossip packet carries news almost only.
        let overhead = match stamp_at {
            Some(_) => overhead.saturating_add(NEWS_AGE_LEN),
            None => overhead,
        };
        let mut messages = Vec::new();
        let mut requeue = Vec::new();
        let mut used = 0usize;
        let mut tier = match self.items.first_key_value() {
            Some((key, _)) => key.transmits,
            None => return messages,
        };
        loop {
            let free = limit.saturating_sub(used.saturating_add(overhead));
            if free == 0 {
                break;
            }
            // The first key at or after this one is either the first item of
            // `tier` no longer than `free`, or the first item of a later tier.
            let first_fitting = QueueKey {
                transmits: tier,
                len: Reverse(u32::try_from(free).unwrap_or(u32::MAX)),
                id: Reverse(u64::MAX),
            };
            let Some(key) = self.items.range(first_fitting..).next().map(|(k, _)| *k) else {
                break;
            };
            if key.transmits != tier {
                tier = key.transmits;
                continue;
            }
            let Some(mut item) = self.items.remove(&key) else {
                break;
            };
            used = used
                .saturating_add(overhead)
                .saturating_add(item.message.len());
            let transmits = key.transmits.saturating_add(1);
            if transmits >= notify_limit.min(transmit_limit) {
                self.finished.extend(item.notify.take());
            }
            let last = transmits >= transmit_limit;
            if last {
                self.forget(key, &item.invalidation);
            }
            let message = match (stamp_at, item.born) {
                (Some(now), Some(born)) => {
                    // Allocated once at its stamped size.
                    let mut stamped = Vec::with_capacity(item.message.len() + NEWS_AGE_LEN);
                    stamped.extend_from_slice(&item.message);
                    stamp_news_age(&mut stamped, now.saturating_duration_since(born));
                    stamped
                }
                _ if last => std::mem::take(&mut item.message).into_vec(),
                _ => item.message.to_vec(),
            };
            messages.push(message);
            if !last {
                requeue.push((key, item));
            }
        }
        for (old, item) in requeue {
            let key = QueueKey {
                transmits: old.transmits.saturating_add(1),
                ..old
            };
            // The indexes still point at the old key: moved, not rebuilt.
            match &item.invalidation {
                Invalidation::Named(name) => {
                    if let Some(slot) = self.keys_by_name.get_mut(name) {
                        *slot = key;
                    }
                }
                Invalidation::Plain => {
                    self.plain_keys.remove(&old);
                    self.plain_keys.insert(key);
                }
                Invalidation::Unique => {}
            }
            self.items.insert(key, item);
        }
        self.restart_ids_if_empty();
        messages
    }

    /// Finishes the most transmitted broadcasts (then the shortest, then the
    /// oldest) until at most `max_retain` remain.
    pub fn prune(&mut self, max_retain: usize) {
        while self.items.len() > max_retain {
            let Some(key) = self.items.last_key_value().map(|(k, _)| *k) else {
                break;
            };
            self.finish(key);
        }
        self.restart_ids_if_empty();
    }

    /// Finishes every queued broadcast, in queue order, leaving the queue
    /// empty.
    pub fn reset(&mut self) {
        let items = std::mem::take(&mut self.items);
        self.finished
            .extend(items.into_values().filter_map(|item| item.notify));
        self.keys_by_name.clear();
        self.plain_keys.clear();
        self.last_id = 0;
    }

    /// The number of queued broadcasts.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no broadcast is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes the notify tokens of the broadcasts finished so far (sent
    /// `transmit_limit` times, invalidated, pruned or reset), oldest first.
    /// Tokens accumulate until taken.
    pub fn drain_finished(&mut self) -> std::vec::Drain<'_, u64> {
        self.finished.drain(..)
    }

    /// Enqueues a new broadcast with `transmits` previous transmissions
    /// (news made at `born`, if it is stamped), replacing a named broadcast
    /// with the same name.
    fn enqueue(
        &mut self,
        invalidation: Invalidation,
        message: Vec<u8>,
        notify: Option<u64>,
        transmits: u32,
        born: Option<Instant>,
    ) -> QueueKey {
        // Encoding grows a buffer by doubling; a queued message keeps only
        // its bytes (it may wait in every node's queue for a while).
        let message = message.into_boxed_slice();
        if let Invalidation::Named(name) = &invalidation {
            if let Some(&old) = self.keys_by_name.get(name) {
                self.finish(old);
            }
        }
        // Ids only order items against each other; should one ever wrap,
        // restarting above 0 keeps the empty-queue value distinct.
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        let key = QueueKey {
            transmits,
            len: Reverse(message_len(&message)),
            id: Reverse(self.last_id),
        };
        self.insert(
            key,
            QueuedBroadcast {
                message,
                invalidation,
                notify,
                born,
            },
        );
        key
    }

    fn insert(&mut self, key: QueueKey, item: QueuedBroadcast) {
        match &item.invalidation {
            Invalidation::Named(name) => {
                self.keys_by_name.insert(name.clone(), key);
            }
            Invalidation::Plain => {
                self.plain_keys.insert(key);
            }
            Invalidation::Unique => {}
        }
        self.items.insert(key, item);
    }

    fn remove(&mut self, key: QueueKey) -> Option<QueuedBroadcast> {
        let item = self.items.remove(&key)?;
        self.forget(key, &item.invalidation);
        Some(item)
    }

    /// Drops the index entry of an item taken out of `items` at `key`.
    fn forget(&mut self, key: QueueKey, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::Named(name) => {
                self.keys_by_name.remove(name);
            }
            Invalidation::Plain => {
                self.plain_keys.remove(&key);
            }
            Invalidation::Unique => {}
        }
    }

    /// Removes the item at `key` and records its notify token.
    fn finish(&mut self, key: QueueKey) {
        if let Some(item) = self.remove(key) {
            self.finished.extend(item.notify);
        }
    }

    /// At idle there is no reason to let the id counter keep growing.
    fn restart_ids_if_empty(&mut self) {
        if self.items.is_empty() {
            self.last_id = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The queue's items in queue order, reversed (most transmitted first),
    /// as Go's `orderedView(true)`: (name or message, transmits).
    fn reversed_view(queue: &BroadcastQueue) -> Vec<(String, u32)> {
        queue
            .items
            .iter()
            .rev()
            .map(|(key, item)| {
                let label = match &item.invalidation {
                    Invalidation::Named(name) => name.to_string(),
                    _ => String::from_utf8_lossy(&item.message).into_owned(),
                };
                (label, key.transmits)
            })
            .collect()
    }

    fn names(view: &[(String, u32)]) -> Vec<&str> {
        view.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn finished(queue: &mut BroadcastQueue) -> Vec<u64> {
        queue.drain_finished().collect()
    }

    /// Four named 18-byte messages, as in Go's queue tests.
    fn queue_four(queue: &mut BroadcastQueue, notify: [Option<u64>; 4]) {
        let names = ["test", "foo", "bar", "baz"];
        for (i, (name, notify)) in names.into_iter().zip(notify).enumerate() {
            let message = format!("{}. this is a test.", i + 1);
            queue.queue_named(name, message.into_bytes(), notify);
        }
    }

    /// Port of Go's `TestRetransmitLimit`.
    #[test]
    fn retransmit_limit_grows_with_decimal_digits() {
        assert_eq!(retransmit_limit(3, 0), 0);
        assert_eq!(retransmit_limit(3, 1), 3);
        assert_eq!(retransmit_limit(3, 99), 6);
        assert_eq!(retransmit_limit(1, 9), 1);
        assert_eq!(retransmit_limit(1, 10), 2);
        assert_eq!(retransmit_limit(1, 100), 3);
        assert_eq!(retransmit_limit(u32::MAX, usize::MAX), u32::MAX);
    }

    /// Port of Go's `TestLimitedBroadcastLess`.
    #[test]
    fn queue_order() {
        let key = |transmits, len, id| QueueKey {
            transmits,
            len: Reverse(len),
            id: Reverse(id),
        };
        let cases = [
            ("diff-transmits", key(0, 10, 100), key(1, 10, 100)),
            ("same-transmits--diff-len", key(0, 12, 100), key(0, 10, 100)),
            (
                "same-transmits--same-len--diff-id",
                key(0, 12, 100),
                key(0, 12, 90),
            ),
        ];
        for (name, lesser, greater) in cases {
            assert!(lesser < greater, "{name}");
            let tree = BTreeSet::from([greater, lesser]);
            assert_eq!(tree.first(), Some(&lesser), "{name}");
            assert_eq!(tree.last(), Some(&greater), "{name}");
        }
    }

    /// Port of Go's `TestTransmitLimited_Queue`.
    #[test]
    fn requeued_name_replaces_and_becomes_newest() {
        let mut queue = BroadcastQueue::new();
        queue.queue_named("test", Vec::new(), None);
        queue.queue_named("foo", Vec::new(), None);
        queue.queue_named("bar", Vec::new(), None);
        assert_eq!(queue.len(), 3);
        assert_eq!(names(&reversed_view(&queue)), ["test", "foo", "bar"]);

        queue.queue_named("test", Vec::new(), None);
        assert_eq!(queue.len(), 3);
        assert_eq!(names(&reversed_view(&queue)), ["foo", "bar", "test"]);
    }

    /// Port of Go's `TestTransmitLimited_GetBroadcasts`.
    #[test]
    fn get_broadcasts_fits_the_byte_limit() {
        let mut queue = BroadcastQueue::new();
        queue_four(&mut queue, [None; 4]);
        let transmit_limit = retransmit_limit(3, 10);

        // 4 × (2 + 18) = 80: all four fit.
        assert_eq!(queue.get_broadcasts(2, 80, transmit_limit).len(), 4);
        // 3 × (3 + 18) = 63, and 63 + 3 + 18 > 80: only three fit.
        assert_eq!(queue.get_broadcasts(3, 80, transmit_limit).len(), 3);
    }

    /// Port of Go's `TestTransmitLimited_GetBroadcasts_Limit`.
    #[test]
    fn get_broadcasts_finishes_at_the_transmit_limit() {
        let mut queue = BroadcastQueue::new();
        let transmit_limit = retransmit_limit(1, 10);
        assert_eq!(queue.last_id, 0, "the id counter starts at zero");
        assert_eq!(transmit_limit, 2);

        queue_four(&mut queue, [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(queue.last_id, 4, "four ids were handed out");

        // Largest-then-newest first: ids 4, 3, 2.
        let first = queue.get_broadcasts(3, 80, transmit_limit);
        assert_eq!(first.len(), 3);
        assert_eq!(first[0], b"4. this is a test.");
        assert_eq!(queue.last_id, 4, "the id counter only restarts when empty");
        assert!(finished(&mut queue).is_empty());

        // Id 1 (first send), then ids 4 and 3 (second send: finished).
        let second = queue.get_broadcasts(3, 80, transmit_limit);
        assert_eq!(second.len(), 3);
        assert_eq!(second[0], b"1. this is a test.");
        assert_eq!(queue.last_id, 4, "the id counter only restarts when empty");
        assert_eq!(finished(&mut queue), [4, 3]);

        // Only two were not yet finished.
        assert_eq!(queue.get_broadcasts(3, 80, transmit_limit).len(), 2);
        assert_eq!(queue.last_id, 0, "the id counter restarts when empty");
        assert_eq!(finished(&mut queue), [2, 1]);

        assert!(queue.get_broadcasts(3, 80, transmit_limit).is_empty());
        assert_eq!(queue.last_id, 0, "the id counter restarts when empty");
    }

    /// Port of Go's `TestTransmitLimited_Prune`.
    #[test]
    fn waiters_hear_at_the_notify_limit_while_sending_goes_on() {
        let mut queue = BroadcastQueue::new();
        queue.queue_named("leave", b"dead".to_vec(), Some(7));
        for sent in 1..=6 {
            let got = queue.get_broadcasts_notifying(2, 1400, 6, 2, None);
            assert_eq!(got, [b"dead".to_vec()], "send {sent}");
            let done = finished(&mut queue);
            assert_eq!(
                done,
                if sent == 2 { vec![7] } else { vec![] },
                "send {sent}"
            );
        }
        assert!(queue.is_empty());
    }

    #[test]
    fn prune_keeps_the_newest() {
        let mut queue = BroadcastQueue::new();
        queue_four(&mut queue, [Some(1), Some(2), None, None]);

        queue.prune(2);
        assert_eq!(queue.len(), 2);
        assert_eq!(finished(&mut queue), [1, 2]);
        assert_eq!(names(&reversed_view(&queue)), ["bar", "baz"]);
    }

    /// Port of Go's `TestTransmitLimited_ordering`.
    #[test]
    fn ordered_by_transmit_count() {
        let mut queue = BroadcastQueue::new();
        for (name, transmits) in [
            ("node0", 0),
            ("node1", 10),
            ("node2", 3),
            ("node3", 4),
            ("node4", 7),
        ] {
            queue.enqueue(
                Invalidation::Named(SmolStr::new(name)),
                name.as_bytes().to_vec(),
                Some(0),
                transmits,
                None,
            );
        }
        let transmits: Vec<u32> = reversed_view(&queue).into_iter().map(|(_, t)| t).collect();
        assert_eq!(transmits, [10, 7, 4, 3, 0]);
    }

    /// Port of Go's `TestMemberlistBroadcast_Invalidates`: memberlist's own
    /// broadcasts are named after their node; the same name invalidates,
    /// other names do not.
    #[test]
    fn same_name_invalidates_other_names_do_not() {
        let mut queue = BroadcastQueue::new();
        queue.queue_named("test", Vec::new(), Some(1));
        queue.queue_named("foo", Vec::new(), Some(2));
        assert_eq!(queue.len(), 2);
        assert!(finished(&mut queue).is_empty());

        queue.queue_named("test", Vec::new(), Some(3));
        assert_eq!(queue.len(), 2);
        assert_eq!(finished(&mut queue), [1]);
    }

    /// Port of Go's `TestMemberlistBroadcast_Message`.
    #[test]
    fn returns_the_stored_message() {
        let mut queue = BroadcastQueue::new();
        queue.queue_named("test", b"test".to_vec(), None);
        assert_eq!(queue.get_broadcasts(0, 100, 1), [b"test"]);
    }

    #[test]
    fn plain_predicate_only_sees_plain_broadcasts() {
        let mut queue = BroadcastQueue::new();
        queue.queue_named("node", b"x-named".to_vec(), Some(1));
        queue.queue_unique(b"x-unique".to_vec(), Some(2));
        queue.queue_plain(b"x-plain".to_vec(), Some(3), |_| false);
        queue.queue_plain(b"y-plain".to_vec(), Some(4), |_| false);

        let mut offered = Vec::new();
        queue.queue_plain(b"x-new".to_vec(), Some(5), |old| {
            offered.push(old.to_vec());
            old.starts_with(b"x")
        });
        // Queue order: equal transmits and lengths, so newest first.
        assert_eq!(offered, [b"y-plain".to_vec(), b"x-plain".to_vec()]);
        assert_eq!(finished(&mut queue), [3]);
        assert_eq!(queue.len(), 4);

        // Named and unique broadcasts never invalidate plain ones.
        queue.queue_named("y-plain", Vec::new(), Some(6));
        queue.queue_unique(b"y-plain".to_vec(), Some(7));
        assert_eq!(queue.len(), 6);
        assert!(finished(&mut queue).is_empty());
    }

    #[test]
    fn reset_finishes_everything_in_queue_order() {
        let mut queue = BroadcastQueue::new();
        queue.queue_named("a", b"1".to_vec(), Some(1));
        queue.queue_unique(b"22".to_vec(), Some(2));
        queue.queue_plain(b"333".to_vec(), None, |_| false);
        queue.reset();
        assert!(queue.is_empty());
        assert_eq!(queue.last_id, 0);
        assert_eq!(finished(&mut queue), [2, 1]);
        // The name index was cleared too: requeuing finishes nothing.
        queue.queue_named("a", b"1".to_vec(), Some(3));
        assert!(finished(&mut queue).is_empty());
    }

    #[test]
    fn budgets_can_be_split_between_queues() {
        let mut membership = BroadcastQueue::new();
        let mut user = BroadcastQueue::new();
        for i in 0..1000 {
            membership.queue_named(format!("node{i}"), vec![0; 40], None);
            user.queue_unique(vec![1; 30], None);
        }
        let (overhead, packet) = (2, 1400);
        let user_share = packet / 4;
        let from_user = user.get_broadcasts(overhead, user_share, 10);
        let user_cost: usize = from_user.iter().map(|m| overhead + m.len()).sum();
        assert!(!from_user.is_empty() && user_cost <= user_share);
        let from_membership = membership.get_broadcasts(overhead, packet - user_cost, 10);
        let membership_cost: usize = from_membership.iter().map(|m| overhead + m.len()).sum();
        assert!(user_cost + membership_cost <= packet);
        assert_eq!(from_membership.len(), (packet - user_cost) / 42);
    }

    #[test]
    fn degenerate_budgets_take_nothing() {
        let mut queue = BroadcastQueue::new();
        queue.queue_unique(vec![0; 10], Some(1));
        assert!(queue.get_broadcasts(0, 0, 3).is_empty());
        assert!(queue.get_broadcasts(usize::MAX, usize::MAX, 3).is_empty());
        assert!(queue.get_broadcasts(5, 14, 3).is_empty());
        assert_eq!(queue.get_broadcasts(5, 15, 0).len(), 1);
        assert_eq!(finished(&mut queue), [1]);
        queue.queue_unique(Vec::new(), None);
        assert_eq!(queue.get_broadcasts(0, 1, u32::MAX).len(), 1);
        assert_eq!(reversed_view(&queue), [(String::new(), 1)]);
    }

    /// A straightforward model of Go's queue: a list re-sorted on every
    /// operation, scanned tier by tier.
    #[derive(Default)]
    struct Model {
        items: Vec<(QueueKey, QueuedBroadcast)>,
        last_id: u64,
        finished: Vec<u64>,
    }

    impl Model {
        fn sort(&mut self) {
            self.items.sort_by_key(|(key, _)| *key);
        }

        fn finish_where(&mut self, mut pred: impl FnMut(&QueuedBroadcast) -> bool) {
            self.sort();
            let (gone, kept) = std::mem::take(&mut self.items)
                .into_iter()
                .partition(|(_, item)| pred(item));
            self.items = kept;
            let gone: Vec<(QueueKey, QueuedBroadcast)> = gone;
            self.finished
                .extend(gone.into_iter().filter_map(|(_, item)| item.notify));
        }

        fn push(&mut self, message: Vec<u8>, invalidation: Invalidation, notify: Option<u64>) {
            self.last_id += 1;
            let key = QueueKey {
                transmits: 0,
                len: Reverse(message_len(&message)),
                id: Reverse(self.last_id),
            };
            self.items.push((
                key,
                QueuedBroadcast {
                    message: message.into(),
                    invalidation,
                    notify,
                    born: None,
                },
            ));
        }

        fn get(&mut self, overhead: usize, limit: usize, transmit_limit: u32) -> Vec<Vec<u8>> {
            self.sort();
            let mut out = Vec::new();
            let (Some(lowest), Some(highest)) = (
                self.items.first().map(|(k, _)| k.transmits),
                self.items.last().map(|(k, _)| k.transmits),
            ) else {
                return out;
            };
            let mut used = 0i128;
            let mut requeue = Vec::new();
            let mut tier = lowest;
            while tier <= highest {
                let free = limit as i128 - used - overhead as i128;
                if free <= 0 {
                    break;
                }
                let found = self.items.iter().position(|(key, item)| {
                    key.transmits == tier && item.message.len() as i128 <= free
                });
                let Some(index) = found else {
                    tier += 1;
                    continue;
                };
                let (key, item) = self.items.remove(index);
                used += (overhead + item.message.len()) as i128;
                out.push(item.message.to_vec());
                if key.transmits + 1 >= transmit_limit {
                    self.finished.extend(item.notify);
                } else {
                    let key = QueueKey {
                        transmits: key.transmits + 1,
                        ..key
                    };
                    requeue.push((key, item));
                }
            }
            self.items.extend(requeue);
            if self.items.is_empty() {
                self.last_id = 0;
            }
            out
        }

        fn prune(&mut self, max_retain: usize) {
            self.sort();
            while self.items.len() > max_retain {
                if let Some((_, item)) = self.items.pop() {
                    self.finished.extend(item.notify);
                }
            }
            if self.items.is_empty() {
                self.last_id = 0;
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Named(u8, usize),
        Unique(usize),
        /// Invalidates queued plain broadcasts with the same length.
        Plain(usize),
        Get(usize, usize, u32),
        Prune(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, 0usize..30).prop_map(|(name, len)| Op::Named(name, len)),
            (0usize..30).prop_map(Op::Unique),
            (0usize..30).prop_map(Op::Plain),
            (0usize..4, 0usize..120, 0u32..5).prop_map(|(o, l, t)| Op::Get(o, l, t)),
            (0usize..8).prop_map(Op::Prune),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_naive_model_of_go(ops in proptest::collection::vec(op(), 1..80)) {
            let mut queue = BroadcastQueue::new();
            let mut model = Model::default();
            for (token, op) in (0u64..).zip(ops) {
                // Distinct contents, so the outputs identify the items.
                let message = |len: usize| {
                    let mut m = token.to_le_bytes().to_vec();
                    m.resize(len.max(8), b'.');
                    m.truncate(len);
                    m
                };
                let mut got = Vec::new();
                let mut expected = Vec::new();
                match op {
                    Op::Named(name, len) => {
                        let name = format!("node{name}");
                        queue.queue_named(name.clone(), message(len), Some(token));
                        model.finish_where(|item| {
                            matches!(&item.invalidation, Invalidation::Named(n) if **n == *name)
                        });
                        model.push(message(len), Invalidation::Named(SmolStr::new(name)), Some(token));
                    }
                    Op::Unique(len) => {
                        queue.queue_unique(message(len), Some(token));
                        model.push(message(len), Invalidation::Unique, Some(token));
                    }
                    Op::Plain(len) => {
                        queue.queue_plain(message(len), Some(token), |old| old.len() == len);
                        model.finish_where(|item| {
                            matches!(item.invalidation, Invalidation::Plain)
                                && item.message.len() == len
                        });
                        model.push(message(len), Invalidation::Plain, Some(token));
                    }
                    Op::Get(overhead, limit, transmit_limit) => {
                        got = queue.get_broadcasts(overhead, limit, transmit_limit);
                        expected = model.get(overhead, limit, transmit_limit);
                    }
                    Op::Prune(max_retain) => {
                        queue.prune(max_retain);
                        model.prune(max_retain);
                    }
                }
                model.sort();
                prop_assert_eq!(got, expected);
                prop_assert_eq!(finished(&mut queue), std::mem::take(&mut model.finished));
                prop_assert_eq!(queue.last_id, model.last_id);
                let keys: Vec<QueueKey> = queue.items.keys().copied().collect();
                let model_keys: Vec<QueueKey> = model.items.iter().map(|(k, _)| *k).collect();
                prop_assert_eq!(keys, model_keys);
                prop_assert_eq!(queue.keys_by_name.len() + queue.plain_keys.len()
                    + queue.items.values().filter(|i| matches!(i.invalidation, Invalidation::Unique)).count(),
                    queue.len());
            }
        }
    }
}
