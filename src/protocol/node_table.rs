//! The table of known nodes (Go's `nodes` slice plus `nodeMap`).
//!
//! Entries live in a vector whose order is the probe order; new entries are
//! inserted at a random position and the whole list is reshuffled after
//! every full probe round, so every node is probed once per round in an
//! order nobody can predict. A name index gives O(1) lookups.
//!
//! The index holds only positions, hashed by the name at that position:
//! every node keeps an entry for every member, so in a large cluster the
//! index's size per entry (4 bytes here, against 24 for a map from name
//! to position) is much of the memory a node uses.

use std::hash::BuildHasher;
use std::net::SocketAddr;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use rand::Rng;
use smol_str::SmolStr;

use super::time::Instant;
use crate::node::{ip_from_wire, Node, NodeState};
use crate::wire::{Alive, Features, PushNodeState};

/// What this node knows about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRecord {
    /// Held inline up to 23 bytes: every node keeps a record of every
    /// member, and a name on the heap costs an allocation each and a cache
    /// miss on every lookup and every push/pull.
    pub(crate) name: SmolStr,
    /// IP address as received (compared byte-wise, as Go does).
    pub(crate) addr: WireIp,
    pub(crate) port: u16,
    pub(crate) meta: Vec<u8>,
    pub(crate) incarnation: u32,
    /// Changed only through [`NodeTable::set_state`], which keeps counts.
    pub(crate) state: NodeState,
    /// When `state` last changed (the epoch for a placeholder).
    pub(crate) state_change: Instant,
    /// `[PMin, PMax, PCur, DMin, DMax, DCur]`, zeros until learned.
    pub(crate) vsn: [u8; 6],
    pub(crate) features: Features,
}

/// An IP address's bytes as a peer sent them (4 or 16; records are only
/// made for addresses that parse as IPs), held inline: a heap allocation
/// per member per node would cost more than the address.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WireIp {
    len: u8,
    bytes: [u8; 16],
}

impl WireIp {
    /// The first 16 bytes of `bytes` (all of any IP address).
    pub(crate) fn new(bytes: &[u8]) -> Self {
        let len = bytes.len().min(16);
        let mut ip = WireIp {
            len: len as u8,
            bytes: [0; 16],
        };
        ip.bytes[..len].copy_from_slice(&bytes[..len]);
        ip
    }
}

impl std::ops::Deref for WireIp {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl PartialEq<Vec<u8>> for WireIp {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for WireIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", &**self)
    }
}

impl NodeRecord {
    pub(crate) fn socket_addr(&self) -> Option<SocketAddr> {
        ip_from_wire(&self.addr).map(|ip| SocketAddr::new(ip, self.port))
    }

    pub(crate) fn protocol_max(&self) -> u8 {
        self.vsn[1]
    }

    /// Whether an alive message saying `addr`:`port` at `incarnation` is
    /// old news to this record: the same address, no newer incarnation.
    /// Merging and gossip both ignore such news (see `apply_alive`).
    pub(crate) fn holds_alive(&self, addr: &[u8], port: u16, incarnation: u32) -> bool {
        *self.addr == *addr && self.port == port && incarnation <= self.incarnation
    }

    /// The alive message that says what this record holds (its state
    /// aside): as push/pull sends it, metadata empty as nil, and versions
    /// never learned left out rather than sent as zeros (which receivers
    /// refuse).
    pub(crate) fn to_alive(&self) -> Alive {
        Alive {
            incarnation: self.incarnation,
            node: self.name.to_string(),
            addr: self.addr.to_vec(),
            port: self.port,
            meta: (!self.meta.is_empty()).then(|| self.meta.clone()),
            vsn: match self.vsn {
                [0, 0, 0, 0, 0, 0] => Vec::new(),
                vsn => vsn.to_vec(),
            },
            features: self.features,
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, NodeState::Alive | NodeState::Suspect)
    }

    /// The public view; `None` for an address that is not an IP address
    /// (such nodes can never be reached and are never reported).
    pub(crate) fn to_node(&self) -> Option<Node> {
        Some(Node {
            name: self.name.to_string(),
            addr: ip_from_wire(&self.addr)?,
            port: self.port,
            meta: self.meta.clone(),
            state: self.state,
            incarnation: self.incarnation,
            versions: self.vsn,
        })
    }
}

/// All known nodes, in probe order.
#[derive(Debug, Default)]
pub(crate) struct NodeTable {
    nodes: Vec<NodeRecord>,
    /// Each entry's position in `nodes`, hashed by its name with `hasher`.
    index: HashTable<u32>,
    /// Seeded at random per table (foldhash, as hashbrown's default), so
    /// that names a peer picks cannot be made to collide in every node.
    hasher: DefaultHashBuilder,
    /// Go's `numNodes`: grows with every insertion and is only recomputed
    /// when dead entries are reaped, so it estimates the cluster size.
    estimate: usize,
    /// How many entries are in each state, indexed by [`state_slot`]: kept
    /// as states change, so that counting members costs nothing however
    /// often a host asks.
    counts: [usize; 4],
}

/// A state's place in [`NodeTable`]'s counts.
fn state_slot(state: NodeState) -> usize {
    match state {
        NodeState::Alive => 0,
        NodeState::Suspect => 1,
        NodeState::Dead => 2,
        NodeState::Left => 3,
    }
}

impl NodeTable {
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn estimate(&self) -> usize {
        self.estimate
    }

    /// How many entries are alive, suspect, dead and left, in that order.
    pub(crate) fn counts(&self) -> [usize; 4] {
        self.counts
    }

    /// Moves `name` to `state`, as of `now` (entries change state only
    /// here, so that the counts stay true), and returns its entry.
    pub(crate) fn set_state(
        &mut self,
        name: &str,
        state: NodeState,
        now: Instant,
    ) -> Option<&NodeRecord> {
        let i = self.position(name)?;
        self.set_state_at(i, state, now)
    }

    /// As [`NodeTable::set_state`], for the entry at position `i`.
    pub(crate) fn set_state_at(
        &mut self,
        i: usize,
        state: NodeState,
        now: Instant,
    ) -> Option<&NodeRecord> {
        let record = self.nodes.get_mut(i)?;
        self.counts[state_slot(record.state)] -= 1;
        self.counts[state_slot(state)] += 1;
        record.state = state;
        record.state_change = now;
        Some(record)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&NodeRecord> {
        self.position(name).map(|i| &self.nodes[i])
    }

    /// Which of a push/pull's `records` this table already holds unchanged:
    /// alive, about a live member other than `local`, at the address the
    /// table has and with no newer incarnation. Merging such a record
    /// changes nothing (a record whose name comes twice is never counted).
    ///
    /// A periodic push/pull carries every member, and a lookup by name per
    /// record costs cache misses in a large table: when the records and
    /// the table are of a size (within a factor of four), the table is
    /// walked once in memory order against a small index of the records
    /// instead. Otherwise none is reported, and merging looks each up as
    /// it goes: a few records are cheaper to look up than a table to walk,
    /// and a joiner's small table holds almost none of what it is sent.
    pub(crate) fn unchanged(&self, records: &[PushNodeState], local: &str) -> Vec<bool> {
        let mut unchanged = vec![false; records.len()];
        let (fewer, more) = if records.len() < self.nodes.len() {
            (records.len(), self.nodes.len())
        } else {
            (self.nodes.len(), records.len())
        };
        if fewer * 4 < more {
            return unchanged;
        }
        let alive = NodeState::Alive.wire_value();
        let mut by_name: HashMap<&str, Option<usize>> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            if r.state == alive && r.name != local {
                by_name
                    .entry(r.name.as_str())
                    .and_modify(|twice| *twice = None)
                    .or_insert(Some(i));
            }
        }
        for known in self.nodes.iter().filter(|n| n.state == NodeState::Alive) {
            if let Some(&Some(i)) = by_name.get(&*known.name) {
                let r = &records[i];
                unchanged[i] = known.holds_alive(&r.addr, r.port, r.incarnation);
            }
        }
        unchanged
    }

    /// Where `name` stands in probe order.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&i| *self.nodes[i as usize].name == *name)
            .map(|&i| i as usize)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut NodeRecord> {
        self.position(name).map(|i| &mut self.nodes[i])
    }

    pub(crate) fn at(&self, i: usize) -> Option<&NodeRecord> {
        self.nodes.get(i)
    }

    /// `name`'s record, read at `hint` (where it was last seen) if it is
    /// still there, looked up by name otherwise: one cache miss instead of
    /// three while the table has not moved it.
    pub(crate) fn get_hinted(&self, name: &str, hint: usize) -> Option<&NodeRecord> {
        match self.nodes.get(hint) {
            Some(record) if *record.name == *name => Some(record),
            _ => self.get(name),
        }
    }

    /// The entry at position `i`, to change anything but its state (see
    /// [`NodeTable::set_state_at`]) or name.
    pub(crate) fn at_mut(&mut self, i: usize) -> Option<&mut NodeRecord> {
        self.nodes.get_mut(i)
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &NodeRecord> {
        self.nodes.iter()
    }

    /// Makes room for `additional` more entries at once, so that learning
    /// a whole cluster from one push/pull grows the table once instead of
    /// by repeated doubling (each step leaving a freed block behind).
    pub(crate) fn reserve(&mut self, additional: usize) {
        // Exactly: the cluster is about this size, and a doubled table
        // would hold a quarter of it empty, in every node.
        self.nodes.reserve_exact(additional);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index
            .reserve(additional, |&i| hasher.hash_one(&*nodes[i as usize].name));
    }

    /// Adds a node at a uniformly random position, and returns it.
    pub(crate) fn insert(&mut self, record: NodeRecord, rng: &mut impl Rng) -> usize {
        let last = self.nodes.len();
        if last == self.nodes.capacity() {
            // Grown by an eighth, not doubled: a table that has reached a
            // cluster's size grows one member at a time, and a doubled one
            // would stay about half empty, in every node.
            self.nodes.reserve_exact((last / 8).max(4));
        }
        self.counts[state_slot(record.state)] += 1;
        self.nodes.push(record);
        self.index_at(last);
        let j = rng.random_range(0..=last);
        self.swap(j, last);
        self.estimate += 1;
        j
    }

    /// Indexes the entry at `i` (not indexed yet).
    fn index_at(&mut self, i: usize) {
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        let hash = hasher.hash_one(&*nodes[i].name);
        // Positions fit: a table of 2³² records would not fit in memory.
        self.index.insert_unique(hash, i as u32, |&p| {
            hasher.hash_one(&*nodes[p as usize].name)
        });
    }

    /// Drops the index entry of the entry at `i` (indexed at `i`).
    fn unindex_at(&mut self, i: usize) {
        let hash = self.hasher.hash_one(&*self.nodes[i].name);
        if let Ok(entry) = self.index.find_entry(hash, |&p| p as usize == i) {
            entry.remove();
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        // Re-indexed rather than updated in place: between the two updates
        // two entries would hold the same position, and a lookup by
        // position could then find the wrong one.
        self.unindex_at(i);
        self.unindex_at(j);
        self.nodes.swap(i, j);
        self.index_at(i);
        self.index_at(j);
    }

    /// Removes every dead or left entry whose state is older than `keep`
    /// (never `local`), resets the size estimate, reshuffles the rest, and
    /// returns what was removed.
    pub(crate) fn reap_and_shuffle(
        &mut self,
        now: Instant,
        keep: std::time::Duration,
        local: &str,
        rng: &mut impl Rng,
    ) -> Vec<NodeRecord> {
        let (gone, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.nodes).into_iter().partition(|n| {
                *n.name != *local
                    && matches!(n.state, NodeState::Dead | NodeState::Left)
                    && now.saturating_duration_since(n.state_change) > keep
            });
        self.nodes = kept;
        for i in (1..self.nodes.len()).rev() {
            let j = rng.random_range(0..=i);
            self.nodes.swap(i, j);
        }
        self.index.clear();
        for i in 0..self.nodes.len() {
            self.index_at(i);
        }
        self.estimate = self.nodes.len();
        self.counts = [0; 4];
        for n in &self.nodes {
            self.counts[state_slot(n.state)] += 1;
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::time::Duration;

    fn record(name: &str, state: NodeState, changed: u64) -> NodeRecord {
        NodeRecord {
            name: name.into(),
            addr: WireIp::new(&[127, 0, 0, 1]),
            port: 7946,
            meta: Vec::new(),
            incarnation: 1,
            state,
            state_change: Instant::from_nanos(changed * 1_000_000_000),
            vsn: [1, 5, 2, 0, 0, 0],
            features: Features::NONE,
        }
    }

    // Go's TestMoveDeadNodes / TestMemberList_ResetNodes: dead and left
    // entries older than the window go, recent ones stay.
    #[test]
    fn reap_removes_only_old_dead_and_left() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut t = NodeTable::default();
        let states = [
            ("a", NodeState::Alive, 0),
            ("b", NodeState::Dead, 0),
            ("c", NodeState::Suspect, 0),
            ("d", NodeState::Dead, 25),
            ("e", NodeState::Left, 0),
            ("f", NodeState::Left, 25),
            ("g", NodeState::Alive, 0),
            ("h", NodeState::Dead, 5),
            ("i", NodeState::Alive, 0),
        ];
        for (n, s, at) in states {
            t.insert(record(n, s, at), &mut rng);
        }
        assert_eq!(t.estimate(), 9);
        let now = Instant::from_nanos(30_000_000_000);
        let gone = t.reap_and_shuffle(now, Duration::from_secs(20), "a", &mut rng);
        let mut gone: Vec<_> = gone.iter().map(|n| &*n.name).collect();
        gone.sort_unstable();
        assert_eq!(gone, ["b", "e", "h"]);
        assert_eq!(t.len(), 6);
        assert_eq!(t.estimate(), 6);
        for n in ["a", "c", "d", "f", "g", "i"] {
            assert_eq!(&*t.get(n).unwrap().name, n);
        }
        assert!(t.get("b").is_none());
    }

    #[test]
    fn counts_follow_every_change_of_state() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut t = NodeTable::default();
        let recount = |t: &NodeTable| {
            let mut c = [0; 4];
            for n in t.iter() {
                c[state_slot(n.state)] += 1;
            }
            c
        };
        for i in 0..20 {
            t.insert(record(&format!("n{i}"), NodeState::Alive, 0), &mut rng);
        }
        t.set_state("n1", NodeState::Suspect, Instant::from_nanos(1));
        t.set_state("n2", NodeState::Dead, Instant::ZERO);
        t.set_state("n3", NodeState::Left, Instant::ZERO);
        t.set_state("n1", NodeState::Alive, Instant::from_nanos(2));
        t.set_state("unknown", NodeState::Dead, Instant::ZERO);
        assert_eq!(t.counts(), [18, 0, 1, 1]);
        assert_eq!(t.counts(), recount(&t));
        assert_eq!(t.get("n1").unwrap().state_change, Instant::from_nanos(2));
        let later = Instant::from_nanos(60_000_000_000);
        t.reap_and_shuffle(later, Duration::from_secs(20), "n0", &mut rng);
        assert_eq!(t.counts(), [18, 0, 0, 0]);
        assert_eq!(t.counts(), recount(&t));
    }

    #[test]
    fn insertion_keeps_the_index_consistent() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut t = NodeTable::default();
        for i in 0..100 {
            t.insert(record(&format!("n{i}"), NodeState::Alive, 0), &mut rng);
        }
        for i in 0..100 {
            assert_eq!(*t.get(&format!("n{i}")).unwrap().name, format!("n{i}"));
        }
        let first: Vec<_> = t.iter().take(10).map(|n| n.name.to_string()).collect();
        assert_ne!(first, (0..10).map(|i| format!("n{i}")).collect::<Vec<_>>());
    }

    fn pushed(name: &str, host: u8, incarnation: u32, state: NodeState) -> PushNodeState {
        PushNodeState {
            name: name.into(),
            addr: vec![127, 0, 0, host],
            port: 7946,
            incarnation,
            state: state.wire_value(),
            vsn: vec![1, 5, 2, 0, 0, 0],
            ..PushNodeState::default()
        }
    }

    // Beyond Go: a push/pull's unchanged records are found by one walk of
    // the table; anything merging would act on is left to it.
    #[test]
    fn unchanged_records_are_those_merging_would_ignore() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut t = NodeTable::default();
        for name in ["me", "same", "older", "newer", "moved", "twice", "accused"] {
            t.insert(record(name, NodeState::Alive, 0), &mut rng);
        }
        t.set_state("accused", NodeState::Suspect, Instant::from_nanos(0));
        let records = [
            pushed("me", 1, 1, NodeState::Alive),
            pushed("same", 1, 1, NodeState::Alive),
            pushed("older", 1, 0, NodeState::Alive),
            pushed("newer", 1, 2, NodeState::Alive),
            pushed("moved", 2, 1, NodeState::Alive),
            pushed("twice", 1, 1, NodeState::Alive),
            pushed("twice", 1, 1, NodeState::Alive),
            pushed("accused", 1, 1, NodeState::Alive),
            pushed("dead", 1, 1, NodeState::Dead),
            pushed("stranger", 1, 1, NodeState::Alive),
        ];
        let unchanged = t.unchanged(&records, "me");
        let names: Vec<&str> = records
            .iter()
            .zip(&unchanged)
            .filter(|(_, &same)| same)
            .map(|(r, _)| r.name.as_str())
            .collect();
        assert_eq!(names, ["same", "older"]);
        // A few records against a large table, or many against a joiner's
        // small one: each is looked up as it is merged instead.
        assert_eq!(t.unchanged(&records[1..2], "me"), [false]);
        let mut joiner = NodeTable::default();
        joiner.insert(record("same", NodeState::Alive, 0), &mut rng);
        let many: Vec<_> = records.iter().cycle().take(5).cloned().collect();
        assert_eq!(joiner.unchanged(&many, "me"), [false; 5]);
    }
}
