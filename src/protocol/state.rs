//! State transitions: what alive, suspect and dead messages do to the node
//! table, refutation, suspicion expiry, and the
//! merge of a push/pull's node records.
//!
//! The rules follow Go memberlist step by step, including which messages are
//! ignored, because every node must reach the same view from the same
//! messages whatever implementation it runs.
//!
//! Two rules are swimlist's own.
//!
//! **Incarnations never wrap or leap.** Only a node raises its own
//! incarnation, one step per refutation or update, so an accusation
//! (suspect or dead) about another node naming an incarnation more than
//! [`INCARNATION_LEAP`] above the one known is forged or corrupt: it is
//! dropped and counted (`implausible incarnation`) instead of evicting a
//! live node for good, which one such message does in Go, since nothing
//! can out-bid `u32::MAX` (and Go's refutation wraps to 0). A node always
//! refutes accusations about itself (after a restart it starts at 1 and
//! may truly be known far higher), saturating at `u32::MAX`; a node that
//! reaches it can no longer refute: it logs so, and restarting it (a fresh
//! process starts at 1 and is admitted once peers forget the old entry) is
//! the way back.
//!
//! **A running node hears what it is accused of** (hashicorp/memberlist#311):
//! a node that holds another as dead, suspect or left at some incarnation
//! and receives its alive at that incarnation or a lower one — it may have
//! restarted, starting again at 1 — sends the accusation straight to it (at
//! most once a probe interval), so it refutes at once if it is running. Go drops such an alive silently, and the restarted
//! node stays dead in that view until a push/pull happens to carry the
//! accusation to it; in a mass restart that can take long. Likewise a
//! suspect or dead node that pings this node is told (`probe.rs`): a node
//! whose link flaps hears of its suspicion in the moments the link is up,
//! even after the suspicion's gossip has run out during an outage.

use std::time::Duration;

use super::host_query::{Parked, Query};
use super::membership::{Membership, Suspicion};
use super::node_table::{NodeRecord, WireIp};
use super::notification::Notification;
use super::samples::{News, Sample};
use super::suspicion::SuspicionTimer;
use super::time::Instant;
use super::timers::Timer;
use crate::node::{ip_from_wire, Event, LeaveReason, Node, NodeState};
use crate::wire::{Alive, Context, Dead, Features, Message, PushNodeState, Suspect};

/// Copies the six version bytes when the message carries all of them.
fn versions(vsn: &[u8]) -> Option<[u8; 6]> {
    vsn.get(..6).map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]])
}

/// The node an alive message describes, for the host's admission.
fn alive_as_node(a: &Alive) -> Option<Node> {
    Some(Node {
        name: a.node.clone(),
        addr: ip_from_wire(&a.addr)?,
        port: a.port,
        meta: a.meta.clone().unwrap_or_default(),
        state: NodeState::Alive,
        incarnation: a.incarnation,
        versions: versions(&a.vsn).unwrap_or_default(),
    })
}

/// The largest believable rise of a node's incarnation in one accusation.
pub const INCARNATION_LEAP: u32 = 1 << 16;

/// Where a piece of membership news comes from, which says how old it is
/// (see [`crate::wire::news_age`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NewsOrigin {
    /// Made by this node, now.
    Here,
    /// From a peer that stamped its age: `age` old on arrival, so made at
    /// about `born`.
    Heard { age: Duration, born: Instant },
    /// From a peer that did not stamp it (Go, or a push/pull record).
    Unstamped,
    /// From the push/pull through which a node that knew no one else (a
    /// joiner) learned the cluster: news to almost no one, so it is sent
    /// once, behind all other news, instead of to the retransmit limit,
    /// and only while fresh (see [`SEEDED_NEWS_ROUNDS`]).
    ///
    /// [`SEEDED_NEWS_ROUNDS`]: super::gossip::SEEDED_NEWS_ROUNDS
    Seeded,
}

impl NewsOrigin {
    /// The origin of news that arrived at `now`, stamped with `age` or not.
    pub(super) fn arrived(now: Instant, age: Option<Duration>) -> Self {
        match age {
            Some(age) => NewsOrigin::Heard {
                age,
                born: now - age,
            },
            None => NewsOrigin::Unstamped,
        }
    }

    /// News this node makes is its own; anything else came unstamped.
    fn made_here_if(here: bool) -> Self {
        match here {
            true => NewsOrigin::Here,
            false => NewsOrigin::Unstamped,
        }
    }
}

impl Membership {
    /// Whether an accusation at `accused` about a node known at `known` is
    /// beyond belief (see the module docs); counts the drop if so.
    fn implausible(&mut self, accused: u32, known: u32, node: &str) -> bool {
        // This node always answers an accusation about itself: after a
        // restart it starts at 1 and may truly be known far higher.
        if accused.saturating_sub(known) <= INCARNATION_LEAP || node == self.config.name {
            return false;
        }
        log::debug!(
            "{}: accusation of {node} at incarnation {accused}, known at {known}: forged or corrupt",
            self.config.name
        );
        self.drop_for("implausible incarnation");
        true
    }

    /// Sends the accusation held against `node` to the node itself, which
    /// showed it is running without knowing it is accused: it announced
    /// itself alive at a lower incarnation, or pinged this node (see the
    /// module docs). At most once a probe interval per node.
    pub(super) fn remind_accused(&mut self, now: Instant, node: &str) {
        let Some(state) = self.table.get(node) else {
            return;
        };
        let Some(to) = state.socket_addr() else {
            return;
        };
        let last = self.reminded.get(node).copied();
        if last.is_some_and(|t| now.saturating_duration_since(t) < self.config.probe_interval) {
            return;
        }
        let accusation = match state.state {
            NodeState::Suspect => Message::Suspect(Suspect {
                incarnation: state.incarnation,
                node: node.to_owned(),
                from: self.config.name.clone(),
            }),
            _ => Message::Dead(Dead {
                incarnation: state.incarnation,
                node: node.to_owned(),
                from: self.config.name.clone(),
            }),
        };
        self.reminded.insert(node.to_owned(), now);
        if self.reminded.len() > self.table.len() {
            let window = self.config.probe_interval;
            self.reminded
                .retain(|_, t| now.saturating_duration_since(*t) < window);
        }
        let mut msg = Vec::new();
        accusation.encode(Context::Packet, &mut msg);
        self.send_message(now, to, node, msg, false);
    }

    /// Queues `encoded` news about `node` for gossip, remembering when it
    /// was made if known.
    fn queue_news(
        &mut self,
        now: Instant,
        node: &str,
        encoded: Vec<u8>,
        origin: NewsOrigin,
        notify: Option<u64>,
    ) {
        match origin {
            NewsOrigin::Here => self.broadcasts.queue_news(node, encoded, now, notify),
            NewsOrigin::Heard { born, .. } => {
                self.broadcasts.queue_news(node, encoded, born, notify)
            }
            // Seeded news is alive news, which `queue_seeded` takes
            // unencoded; any other is passed on in full.
            NewsOrigin::Unstamped | NewsOrigin::Seeded => {
                self.broadcasts.queue_named(node, encoded, notify)
            }
        }
        self.wake_gossip(now);
    }

    /// Queues a record a joiner learned, held at `position`, to pass on
    /// once (encoded as it is when it goes out).
    fn queue_seeded(&mut self, now: Instant, node: &str, position: usize) {
        let room = self.seeded_news_room();
        if self.seeded.queue(node, position, now, room) {
            self.wake_gossip(now);
        }
    }

    /// Records how old news that changed this node's view was on arrival.
    fn record_news_age(&mut self, news: News, origin: NewsOrigin) {
        if let NewsOrigin::Heard { age, .. } = origin {
            self.samples.record(Sample::NewsAge { news, age });
        }
    }

    /// Applies an alive message. `bootstrap` marks this node's own
    /// announcements (start, metadata update); `notify` is a token to report
    /// when the resulting broadcast is done.
    pub(super) fn alive_node(
        &mut self,
        now: Instant,
        a: Alive,
        notify: Option<u64>,
        bootstrap: bool,
    ) {
        let origin = NewsOrigin::made_here_if(a.node == self.config.name);
        self.apply_alive(now, a, notify, bootstrap, false, origin);
    }

    /// As [`Membership::alive_node`], for news that came from `origin`.
    pub(super) fn alive_heard(&mut self, now: Instant, a: Alive, origin: NewsOrigin) {
        self.apply_alive(now, a, None, false, false, origin);
    }

    /// As [`Membership::alive_heard`], for news the host admitted.
    pub(super) fn alive_node_admitted(&mut self, now: Instant, a: Alive, origin: NewsOrigin) {
        self.apply_alive(now, a, None, false, true, origin);
    }

    fn apply_alive(
        &mut self,
        now: Instant,
        mut a: Alive,
        notify: Option<u64>,
        bootstrap: bool,
        admitted: bool,
        origin: NewsOrigin,
    ) {
        let is_local = a.node == self.config.name;
        if self.leaving && is_local {
            return;
        }
        if a.vsn.len() >= 3 && (a.vsn[0] == 0 || a.vsn[1] == 0 || a.vsn[0] > a.vsn[1]) {
            self.drop_for("invalid protocol versions");
            return;
        }
        if a.port == 0 || self.config.protocol_version < 2 {
            a.port = self.config.bind_port;
        }
        // Gossip repeats every alive several times: news already applied
        // (same address, no newer incarnation) is ignored by the rules below
        // anyway, so drop it before asking the host anything. (Go would
        // still show it to its alive delegate.) The record is looked up by
        // name once, then read at its position, which only inserting and
        // reaping change.
        let mut position = self.table.position(&a.node);
        if !is_local {
            if let Some(known) = position.and_then(|i| self.table.at(i)) {
                if known.holds_alive(&a.addr, a.port, a.incarnation) {
                    if known.state != NodeState::Alive {
                        self.remind_accused(now, &a.node);
                    }
                    return;
                }
            }
        }
        // An address that is not an IP cannot be probed; Go would add it
        // and fail every send, we refuse it up front.
        let Some(candidate) = alive_as_node(&a) else {
            self.drop_for("invalid address");
            return;
        };
        // Other nodes wait for the host's admission; this one needs none.
        if !admitted && !is_local && self.queries.asks.alive {
            if self.queries.replace_waiting_alive(&a, origin) {
                return;
            }
            if !self.queries.admission_room() {
                self.drop_for("admission backlog");
                return;
            }
            self.queries
                .ask(Query::Alive { node: candidate }, Parked::Alive(a, origin));
            return;
        }

        let mut reclaim = false;
        match position.and_then(|i| self.table.at(i)) {
            None => {
                if !is_local && !self.addr_allowed(&a.addr) {
                    self.drop_for("address not allowed");
                    return;
                }
                let record = NodeRecord {
                    name: a.node.as_str().into(),
                    addr: WireIp::new(&a.addr),
                    port: a.port,
                    meta: Vec::new(),
                    incarnation: 0,
                    state: NodeState::Dead,
                    state_change: Instant::ZERO,
                    vsn: versions(&a.vsn).unwrap_or_default(),
                    features: a.features,
                };
                position = Some(self.table.insert(record, &mut self.rng));
            }
            Some(existing) if existing.addr != a.addr || existing.port != a.port => {
                if !self.addr_allowed(&a.addr) {
                    self.drop_for("address not allowed");
                    return;
                }
                let dead_long_enough = existing.state == NodeState::Dead
                    && !self.config.dead_node_reclaim_time.is_zero()
                    && now.saturating_duration_since(existing.state_change)
                        > self.config.dead_node_reclaim_time;
                let dead_too_recently = existing.state == NodeState::Dead
                    && !self.config.dead_node_reclaim_time.is_zero()
                    && !dead_long_enough;
                if existing.state == NodeState::Left || dead_long_enough {
                    log::info!(
                        "{}: updating address of {} to {:?}:{}",
                        self.config.name,
                        a.node,
                        candidate.addr,
                        a.port
                    );
                    reclaim = true;
                } else if dead_too_recently {
                    // A restarted node at a new address: it takes the name
                    // over once the dead entry is old enough, without
                    // having to claim it again then.
                    let due = existing.state_change
                        + self.config.dead_node_reclaim_time
                        + Duration::from_nanos(1);
                    log::info!(
                        "{}: {} claimed from {:?}:{}, taken over at reclaim time",
                        self.config.name,
                        a.node,
                        candidate.addr,
                        a.port
                    );
                    self.timers.arm(due, Timer::Reclaim(a.node.clone()));
                    self.reclaims.insert(a.node.clone(), a);
                    return;
                } else {
                    // The event (logged at warn) says who claims what.
                    if let Some(existing) = existing.to_node() {
                        self.emit(Event::Conflict(existing.clone(), candidate.clone()));
                        self.notify(Notification::Conflict {
                            existing,
                            other: candidate,
                        });
                    }
                    return;
                }
            }
            Some(_) => {}
        }

        let Some(i) = position else {
            return;
        };
        let Some(state) = self.table.at(i) else {
            return;
        };
        if !is_local && !reclaim && a.incarnation <= state.incarnation {
            return;
        }
        if is_local && a.incarnation < state.incarnation {
            return;
        }
        self.suspicions.remove(&a.node);

        if is_local && !bootstrap {
            let same_meta = a.meta.as_deref().unwrap_or_default() == state.meta.as_slice();
            let same_vsn = versions(&a.vsn) == Some(state.vsn);
            if a.incarnation == state.incarnation && same_meta && same_vsn {
                return;
            }
            self.refute(now, a.incarnation);
            return;
        }

        // Only merges make seeded news, and they wait on no broadcast.
        if origin == NewsOrigin::Seeded {
            self.queue_seeded(now, &a.node, i);
        } else {
            let mut encoded = Vec::new();
            Message::Alive(a.clone()).encode(Context::Packet, &mut encoded);
            self.queue_news(now, &a.node, encoded, origin, notify);
        }
        self.record_news_age(News::Alive, origin);
        self.stats.alive_applied += 1;

        let Some(state) = self.table.at_mut(i) else {
            return;
        };
        let old_state = state.state;
        let new_meta = a.meta.unwrap_or_default();
        let meta_changed = state.meta != new_meta;
        if let Some(v) = versions(&a.vsn) {
            state.vsn = v;
        }
        state.incarnation = a.incarnation;
        state.meta = new_meta;
        state.addr = WireIp::new(&a.addr);
        state.port = a.port;
        // Go re-encodes what it relays and drops the features key, so an
        // alive without it says nothing about capabilities: keep what the
        // node itself (or a swimlist relay) advertised.
        if a.features != Features::NONE || is_local {
            state.features = a.features;
        }
        if old_state != NodeState::Alive {
            self.table.set_state_at(i, NodeState::Alive, now);
        }
        let Some(record) = self.table.at(i).cloned() else {
            return;
        };
        match old_state {
            NodeState::Dead | NodeState::Left => self.emit_for(now, &record, Event::Join),
            NodeState::Suspect => {
                self.emit_for(now, &record, Event::Alive);
                if meta_changed {
                    self.emit_for(now, &record, Event::Update);
                }
            }
            NodeState::Alive if meta_changed => self.emit_for(now, &record, Event::Update),
            NodeState::Alive => {}
        }
    }

    /// Applies a suspect message.
    pub(super) fn suspect_node(&mut self, now: Instant, s: Suspect) {
        let origin = NewsOrigin::made_here_if(s.from == self.config.name);
        self.suspect_heard(now, s, origin);
    }

    /// As [`Membership::suspect_node`], for news that came from `origin`.
    pub(super) fn suspect_heard(&mut self, now: Instant, s: Suspect, origin: NewsOrigin) {
        let Some(state) = self.table.get(&s.node) else {
            return;
        };
        if s.incarnation < state.incarnation {
            return;
        }
        let known = state.incarnation;
        if self.implausible(s.incarnation, known, &s.node) {
            return;
        }
        let Some(state) = self.table.get(&s.node) else {
            return;
        };
        if let Some(suspicion) = self.suspicions.get_mut(&s.node) {
            if suspicion.timer.confirm(&s.from, now) {
                let deadline = suspicion.timer.deadline();
                self.timers.arm(deadline, Timer::Suspicion(s.node.clone()));
                let mut encoded = Vec::new();
                Message::Suspect(s.clone()).encode(Context::Packet, &mut encoded);
                self.queue_news(now, &s.node, encoded, origin, None);
            }
            return;
        }
        if state.state != NodeState::Alive {
            return;
        }
        if s.node == self.config.name {
            self.refute(now, s.incarnation);
            return;
        }

        let mut encoded = Vec::new();
        Message::Suspect(s.clone()).encode(Context::Packet, &mut encoded);
        self.queue_news(now, &s.node, encoded, origin, None);
        self.record_news_age(News::Suspect, origin);

        let Some(state) = self.table.get_mut(&s.node) else {
            return;
        };
        state.incarnation = s.incarnation;
        let Some(record) = self
            .table
            .set_state(&s.node, NodeState::Suspect, now)
            .cloned()
        else {
            return;
        };
        self.stats.suspicions += 1;

        let timer = SuspicionTimer::for_cluster(
            s.from.clone(),
            now,
            self.table.estimate(),
            u32::try_from(self.config.suspicion_mult).unwrap_or(u32::MAX),
            u32::try_from(self.config.suspicion_max_timeout_mult).unwrap_or(u32::MAX),
            self.config.probe_interval,
        );
        self.timers
            .arm(timer.deadline(), Timer::Suspicion(s.node.clone()));
        self.suspicions.insert(
            s.node,
            Suspicion {
                timer,
                started: now,
            },
        );
        self.emit_for(now, &record, Event::Suspect);
    }

    /// The reclaim time of a dead node claimed from a new address has
    /// passed: the claim is applied (and checked) as if it came now.
    pub(super) fn reclaim_due(&mut self, now: Instant, name: &str) {
        if let Some(claim) = self.reclaims.remove(name) {
            self.alive_node(now, claim, None, false);
        }
    }

    /// A suspicion timer fired: declare the node dead if it is still the
    /// same suspicion and its (possibly shortened) timeout has passed.
    pub(super) fn suspicion_timeout(&mut self, now: Instant, name: &str) {
        let Some(due) = self.suspicions.get(name).map(|s| now >= s.timer.deadline()) else {
            return;
        };
        if due && self.lagging() {
            self.defer_suspicion(now, name);
            return;
        }
        let Some(suspicion) = self.suspicions.get_mut(name) else {
            return;
        };
        let Some(confirmations) = suspicion.timer.fire_if_due(now) else {
            return;
        };
        let wanted = suspicion.timer.confirmations_wanted();
        let started = suspicion.started;
        self.suspicions.remove(name);
        let Some(state) = self.table.get(name) else {
            return;
        };
        if state.state != NodeState::Suspect || state.state_change != started {
            return;
        }
        log::debug!(
            "{}: marking {name} as failed, suspect timeout reached \
             ({confirmations} of {wanted} confirmations)",
            self.config.name
        );
        if wanted > 0 && confirmations < wanted {
            self.stats.degraded_timeouts += 1;
        }
        let dead = Dead {
            incarnation: state.incarnation,
            node: name.to_owned(),
            from: self.config.name.clone(),
        };
        self.dead_node(now, dead, None);
    }

    /// Applies a dead message (`from == node` means a graceful leave).
    pub(super) fn dead_node(&mut self, now: Instant, d: Dead, notify: Option<u64>) {
        let origin = NewsOrigin::made_here_if(d.from == self.config.name);
        self.apply_dead(now, d, notify, origin);
    }

    /// As [`Membership::dead_node`], for news that came from `origin`.
    pub(super) fn dead_heard(&mut self, now: Instant, d: Dead, origin: NewsOrigin) {
        self.apply_dead(now, d, None, origin);
    }

    fn apply_dead(&mut self, now: Instant, d: Dead, notify: Option<u64>, origin: NewsOrigin) {
        let Some(state) = self.table.get(&d.node) else {
            return;
        };
        if d.incarnation < state.incarnation {
            return;
        }
        let known = state.incarnation;
        if self.implausible(d.incarnation, known, &d.node) {
            return;
        }
        let Some(state) = self.table.get(&d.node) else {
            return;
        };
        self.suspicions.remove(&d.node);
        if state.state.is_gone() {
            return;
        }
        if d.node == self.config.name && !self.leaving {
            self.refute(now, d.incarnation);
            return;
        }
        let mut encoded = Vec::new();
        Message::Dead(d.clone()).encode(Context::Packet, &mut encoded);
        self.queue_news(now, &d.node, encoded, origin, notify);
        self.record_news_age(News::Dead, origin);

        let Some(state) = self.table.get_mut(&d.node) else {
            return;
        };
        let left = d.node == d.from;
        if state.state == NodeState::Suspect && !left {
            let took = now.saturating_duration_since(state.state_change);
            self.samples.record(Sample::Detection(took));
        }
        self.stats.dead_applied += 1;
        state.incarnation = d.incarnation;
        let new_state = if left {
            NodeState::Left
        } else {
            NodeState::Dead
        };
        let Some(record) = self.table.set_state(&d.node, new_state, now).cloned() else {
            return;
        };
        let reason = if left {
            LeaveReason::Left
        } else {
            LeaveReason::Failed
        };
        self.emit_for(now, &record, |n| Event::Leave(n, reason));
    }

    /// Answers an accusation about this node with a higher incarnation.
    pub(super) fn refute(&mut self, now: Instant, accused: u32) {
        // Saturating: a wrapped incarnation would lose to every view.
        let inc = self
            .incarnation
            .saturating_add(1)
            .max(accused.saturating_add(1));
        if inc <= accused {
            log::error!(
                "{}: incarnation exhausted ({accused}): cannot refute; restart this node",
                self.config.name
            );
            self.drop_for("incarnation exhausted");
            return;
        }
        self.incarnation = inc;
        self.awareness.apply_delta(1);
        self.stats.refutes += 1;
        let name = self.config.name.clone();
        let Some(state) = self.table.get_mut(&name) else {
            return;
        };
        state.incarnation = inc;
        let meta = state.meta.clone();
        let alive = self.local_alive(inc, meta);
        let mut encoded = Vec::new();
        Message::Alive(alive).encode(Context::Packet, &mut encoded);
        self.broadcasts.queue_news(name, encoded, now, None);
        self.wake_gossip(now);
    }

    /// Applies the node records of a push/pull (Go's `mergeState`): a remote
    /// "dead" is only believed as a suspicion raised by this node.
    pub(super) fn merge_state(&mut self, now: Instant, records: Vec<PushNodeState>) {
        // A node that knows no one else (a joiner) learns the whole cluster
        // here, and almost everyone knew it already (accusations about
        // nodes it does not know are ignored anyway). Go gossips it all to
        // the retransmit limit: a joiner of an n-node cluster queues n
        // alive messages, sends each up to that limit, and every member
        // decodes and discards them. Sending each once still carries what
        // the seed had not finished spreading (in a storm of restarts,
        // other nodes' refutations) a step further.
        let origin = match self.table.len() <= 1 {
            true => Some(NewsOrigin::Seeded),
            false => None,
        };
        // At least this many are new when the peer knows more than we do
        // (a join); counted without a lookup per record.
        self.table
            .reserve(records.len().saturating_sub(self.table.len()));
        let unchanged = self.table.unchanged(&records, &self.config.name);
        for (r, _) in records.into_iter().zip(unchanged).filter(|(_, same)| !same) {
            match NodeState::from_wire(r.state) {
                Some(NodeState::Alive) => {
                    let alive = Alive {
                        incarnation: r.incarnation,
                        node: r.name,
                        addr: r.addr,
                        port: r.port,
                        meta: r.meta,
                        vsn: r.vsn,
                        features: r.features,
                    };
                    match origin {
                        Some(origin) => self.alive_heard(now, alive, origin),
                        None => self.alive_node(now, alive, None, false),
                    }
                }
                Some(NodeState::Left) => {
                    let dead = Dead {
                        incarnation: r.incarnation,
                        node: r.name.clone(),
                        from: r.name,
                    };
                    self.dead_node(now, dead, None);
                }
                Some(NodeState::Dead | NodeState::Suspect) => {
                    let suspect = Suspect {
                        incarnation: r.incarnation,
                        node: r.name,
                        from: self.config.name.clone(),
                    };
                    self.suspect_node(now, suspect);
                }
                None => {}
            }
        }
        // Each insert moved a record: where the learned ones stand now,
        // asked while the table is still in cache.
        if origin.is_some() {
            let table = &self.table;
            self.seeded.relocate(|name| table.position(name));
        }
    }
}
