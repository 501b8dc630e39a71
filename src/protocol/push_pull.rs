//! Anti-entropy and joins: full state exchange
//! over streams, the merge of a peer's state, protocol-version checks,
//! answering stream requests, and partition healing.
//!
//! Partition healing is swimlist's own: Go memberlist only push/pulls with
//! nodes it holds as alive, so once the two halves of a partition have
//! declared each other dead they never talk again. Every
//! `partition_healing_interval` a node here picks one node it holds as dead
//! (or remembers as recently reaped) or one configured seed not currently a
//! member, pings it over a stream, and push/pulls with it once it answers.
//! Exchanging state makes each side learn it was declared dead and refute,
//! and the next exchange brings the refreshed incarnations across. The ping
//! first matters because most such nodes are truly dead: a push/pull
//! carries this node's whole state, encoded and compressed before the
//! dial, and every node would pay for it every interval. Both are ordinary
//! stream messages, so Go peers take part unchanged.

use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;

use super::dial_error::{DialError, JoinError};
use super::host_query::{Parked, Query};
use super::membership::{stream_form, Dial, JoinProgress, Membership};
use super::notification::Notification;
use super::output::{Completion, DialId, JoinId, StreamId};
use super::samples::Sample;
use super::time::Instant;
use super::timers::Timer;
use crate::node::{ip_from_wire, ip_to_wire, Node, NodeState};
use crate::wire::{
    encode_push_pull, Ack, Features, IntEncoding, Message, PushNodeState, PushNodeStateRef,
    PushPull, MAX_PUSH_STATE_BYTES,
};

/// Whether a merge is done or waits for the host (its verdict, or the
/// admission of the members it brought); a waiting join attempt is then
/// finished when the host has answered.
pub(super) enum Merged {
    Done,
    Waiting,
}

/// A dead node reaped from the table, still tried by partition healing.
#[derive(Debug)]
pub(super) struct HealContact {
    pub(super) name: String,
    pub(super) addr: SocketAddr,
    /// What it advertised, for the compression of push/pulls to it.
    pub(super) features: Features,
}

/// Most reaped dead nodes remembered for partition healing.
const HEAL_MEMORY: usize = 256;
/// Above this cluster size the push/pull interval grows logarithmically.
const PUSH_PULL_SCALE_THRESHOLD: usize = 32;

/// Go's `pushPullScale`: the interval × (⌈log2 n − log2 32⌉ + 1) above 32
/// nodes, so state exchanges do not grow with the cluster.
pub fn push_pull_scale(interval: Duration, nodes: usize) -> Duration {
    if nodes <= PUSH_PULL_SCALE_THRESHOLD {
        return interval;
    }
    let mult = ((nodes as f64).log2() - (PUSH_PULL_SCALE_THRESHOLD as f64).log2()).ceil() + 1.0;
    interval.mul_f64(mult)
}

/// A join target: an address and, optionally, the name expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTarget {
    /// Where to push/pull.
    pub addr: SocketAddr,
    /// The node's name, if known (`name/host:port` in Go's syntax).
    pub name: Option<String>,
}

impl From<SocketAddr> for JoinTarget {
    /// Whoever answers at `addr`.
    fn from(addr: SocketAddr) -> Self {
        JoinTarget { addr, name: None }
    }
}

impl Membership {
    /// This node's full state with the host's `user_state`, encoded as a
    /// push/pull message straight from the node table (a copy of every
    /// record first would cost more than the encoding).
    pub(super) fn local_state(&mut self, join: bool, mut user_state: Vec<u8>) -> Vec<u8> {
        // Peers (Go v0.6+ and swimlist) refuse a whole exchange whose
        // application state is over the limit: leave it out, so that
        // membership still syncs, and say so.
        if user_state.len() > MAX_PUSH_STATE_BYTES {
            log::error!(
                "{}: local_state returned {} bytes, peers accept at most {MAX_PUSH_STATE_BYTES}: sent without it",
                self.config.name,
                user_state.len()
            );
            self.drop_for("local state too large");
            user_state = Vec::new();
        }
        let nodes = self.table.iter().map(|n| PushNodeStateRef {
            name: &n.name,
            addr: &n.addr,
            port: n.port,
            meta: (!n.meta.is_empty()).then_some(&n.meta[..]),
            incarnation: n.incarnation,
            state: n.state.wire_value(),
            vsn: &n.vsn,
            features: n.features,
        });
        let mut plain = Vec::new();
        encode_push_pull(join, nodes, &user_state, IntEncoding::Signed, &mut plain);
        plain
    }

    pub(super) fn push_pull_tick(&mut self, now: Instant) {
        let Some(interval) = self.config.push_pull_interval else {
            return;
        };
        let next = push_pull_scale(interval, self.table.estimate());
        self.timers.arm(now + next, Timer::PushPullTick);
        let peer = self.random_nodes(1, |n| n.state == NodeState::Alive);
        if let Some(peer) = peer.into_iter().next() {
            self.start_push_pull(now, peer.addr, Some(&peer.name), None);
        }
    }

    /// Starts a push/pull with `addr` (`name`, if known), for `join` if
    /// given: at once, or once the host gives the local state. A push/pull
    /// that cannot start is logged, and fails its join attempt.
    pub(super) fn start_push_pull(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        name: Option<&str>,
        join: Option<JoinId>,
    ) {
        if self.queries.asks.local_state {
            let parked = Parked::Dial {
                addr,
                name: name.map(str::to_owned),
                join,
            };
            let query = Query::LocalState {
                join: join.is_some(),
            };
            self.queries.ask(query, parked);
        } else {
            self.dial_push_pull(now, addr, name, join, Vec::new());
        }
    }

    /// Dials a push/pull carrying `user_state`.
    pub(super) fn dial_push_pull(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        name: Option<&str>,
        join: Option<JoinId>,
        user_state: Vec<u8>,
    ) {
        let state = self.local_state(join.is_some(), user_state);
        let purpose = Dial::PushPull {
            join,
            addr,
            started: now,
        };
        if let Err(e) = self.dial(now, addr, name, state, purpose, None) {
            log::warn!(
                "{}: push/pull with {addr} not started: {e}",
                self.config.name
            );
            if let Some(join) = join {
                self.join_progress(join, addr, Err(JoinError::NotStarted(e)));
            }
        }
    }

    /// Joins a cluster through `targets`: a push/pull (with the join flag)
    /// with each. Completion comes as [`Completion::Join`].
    pub fn join(&mut self, now: Instant, targets: &[JoinTarget]) -> JoinId {
        let id = JoinId(self.next_id());
        if targets.is_empty() {
            self.completions.push_back(Completion::Join {
                id,
                joined: 0,
                errors: Vec::new(),
            });
            return id;
        }
        let progress = JoinProgress {
            pending: targets.len(),
            joined: 0,
            errors: Vec::new(),
        };
        self.joins.insert(id, progress);
        for t in targets {
            self.start_push_pull(now, t.addr, t.name.as_deref(), Some(id));
        }
        id
    }

    /// Answers one decoded stream request from `from` on `stream`.
    pub(super) fn handle_stream(
        &mut self,
        now: Instant,
        from: SocketAddr,
        stream: StreamId,
        message: Message,
    ) {
        self.stats.streams_in += 1;
        if !self.ip_allowed(from.ip()) {
            self.drop_for("address not allowed");
            self.reply(stream, None);
            return;
        }
        let bytes = match message {
            Message::Ping(p) if p.node.is_empty() || p.node == self.config.name => {
                let ack = Message::Ack(Ack {
                    seq_no: p.seq_no,
                    payload: None,
                });
                self.seal_stream_message(stream_form(&ack), None, false)
                    .ok()
            }
            Message::PushPull(remote) => {
                if self.queries.asks.local_state {
                    let join = remote.join;
                    self.queries
                        .ask(Query::LocalState { join }, Parked::Reply { stream, remote });
                } else {
                    self.reply_push_pull(now, stream, remote, Vec::new());
                }
                return;
            }
            Message::User(payload) => {
                if !payload.is_empty() {
                    self.notify(Notification::Message(payload));
                }
                None
            }
            _ => None,
        };
        self.reply(stream, bytes);
        self.flush_finished();
    }

    /// Answers a push/pull request with this node's state, `user_state`
    /// included, then merges the peer's (Go sends its own state first).
    pub(super) fn reply_push_pull(
        &mut self,
        now: Instant,
        stream: StreamId,
        remote: PushPull,
        user_state: Vec<u8>,
    ) {
        let join = remote.join;
        let state = self.local_state(join, user_state);
        let bytes = self.seal_reply(state, stream).ok();
        if let Some(b) = &bytes {
            self.samples.record(Sample::LocalStateSize(b.len()));
        }
        self.reply(stream, bytes);
        if let Err(e) = self.merge_remote_state(now, join, remote, None) {
            log::warn!("{}: failed to merge remote state: {e}", self.config.name);
        }
        self.flush_finished();
    }

    /// The outcome of a stream dialled for a [`Transmit::Dial`]: the decoded
    /// reply (`None` when none was expected), or why it failed.
    pub(super) fn handle_dial_result(
        &mut self,
        now: Instant,
        id: DialId,
        result: Result<Option<Message>, DialError>,
    ) {
        let Some(purpose) = self.dials.remove(&id) else {
            return;
        };
        match purpose {
            Dial::PushPull {
                join,
                addr,
                started,
            } => {
                if let Ok(Some(Message::PushPull(_))) = &result {
                    let took = now.saturating_duration_since(started);
                    self.samples.record(Sample::PushPull(took));
                }
                let outcome = match result {
                    Ok(Some(Message::PushPull(remote))) => {
                        let free = match join {
                            Some(_) => self.check_name_free(&remote.nodes),
                            None => Ok(()),
                        };
                        let attempt = join.map(|j| (j, addr));
                        let merged = free.and_then(|()| {
                            self.merge_remote_state(now, join.is_some(), remote, attempt)
                        });
                        match merged {
                            // The verdict decides the attempt.
                            Ok(Merged::Waiting) => {
                                self.flush_finished();
                                return;
                            }
                            Ok(Merged::Done) => Ok(()),
                            Err(e) => Err(e),
                        }
                    }
                    Ok(Some(Message::Err(e))) => Err(JoinError::Remote(e.error)),
                    Ok(Some(other)) => Err(JoinError::UnexpectedReply(other.message_type().name())),
                    Ok(None) => Err(JoinError::Dial(DialError::ClosedBeforeReply)),
                    Err(e) => Err(JoinError::Dial(e)),
                };
                if let Err(e) = &outcome {
                    log::debug!("{}: push/pull with {addr} failed: {e}", self.config.name);
                }
                if let Some(join) = join {
                    self.join_progress(join, addr, outcome);
                }
            }
            Dial::TcpPing { seq } => match result {
                Ok(Some(Message::Ack(ack))) if ack.seq_no == seq => {
                    if self.probe.as_ref().is_some_and(|p| p.seq == seq) {
                        log::warn!(
                            "{}: UDP probes failed but TCP worked; check UDP connectivity",
                            self.config.name
                        );
                    }
                    self.probe_succeeded(now, seq);
                }
                Ok(other) => log::debug!("{}: bad TCP ping reply: {other:?}", self.config.name),
                Err(e) => log::debug!("{}: TCP ping failed: {e}", self.config.name),
            },
            Dial::HealPing { seq, addr, name } => match result {
                Ok(Some(Message::Ack(ack))) if ack.seq_no == seq => {
                    log::debug!(
                        "{}: partition healing: push/pull with {addr}",
                        self.config.name
                    );
                    self.start_push_pull(now, addr, name.as_deref(), None);
                }
                Ok(other) => log::debug!("{}: bad healing ping reply: {other:?}", self.config.name),
                Err(e) => log::debug!("{}: healing ping to {addr} failed: {e}", self.config.name),
            },
            Dial::UserMessage => {
                if let Err(e) = result {
                    log::debug!("{}: reliable message not delivered: {e}", self.config.name);
                }
            }
        }
        self.flush_finished();
    }

    pub(super) fn join_progress(
        &mut self,
        id: JoinId,
        addr: SocketAddr,
        outcome: Result<(), JoinError>,
    ) {
        let Some(progress) = self.joins.get_mut(&id) else {
            return;
        };
        progress.pending -= 1;
        match outcome {
            Ok(()) => progress.joined += 1,
            Err(e) => progress.errors.push((addr, e)),
        }
        if progress.pending == 0 {
            if let Some(done) = self.joins.remove(&id) {
                self.completions.push_back(Completion::Join {
                    id,
                    joined: done.joined,
                    errors: done.errors,
                });
            }
        }
    }

    /// Merges a peer's push/pull (Go's `mergeRemoteState`), once the host
    /// admits it if it is part of a join; `attempt` is our own join
    /// attempt, which the verdict then decides.
    pub(super) fn merge_remote_state(
        &mut self,
        now: Instant,
        join: bool,
        mut remote: PushPull,
        attempt: Option<(JoinId, SocketAddr)>,
    ) -> Result<Merged, JoinError> {
        for r in &mut remote.nodes {
            if r.port == 0 || self.config.protocol_version < 2 {
                r.port = self.config.bind_port;
            }
        }
        self.verify_protocol(&remote.nodes)
            .map_err(JoinError::IncompatibleVersions)?;
        if join && self.queries.asks.merge {
            let peers: Vec<Node> = remote.nodes.iter().filter_map(record_as_node).collect();
            let parked = Parked::Merge {
                remote,
                join: attempt,
            };
            self.queries.ask(Query::Merge { peers }, parked);
            return Ok(Merged::Waiting);
        }
        Ok(self.merge_admitted(now, join, remote, attempt))
    }

    /// Merges a peer's push/pull that passed the checks. Our own join
    /// `attempt` is done once the members it brought are admitted (as
    /// Go's `Join` returns with them in the member list): at once, or
    /// when the host has answered for each.
    pub(super) fn merge_admitted(
        &mut self,
        now: Instant,
        join: bool,
        remote: PushPull,
        attempt: Option<(JoinId, SocketAddr)>,
    ) -> Merged {
        let known = self.table.len();
        let mark = self.queries.watch_admissions(attempt.is_some());
        self.merge_state(now, remote.nodes);
        let waiting = self.queries.wait_for_admissions(mark, attempt);
        self.learned_from_push_pull(now, self.table.len().saturating_sub(known));
        if !remote.user_state.is_empty() {
            self.notify(Notification::RemoteState {
                state: remote.user_state,
                join,
            });
        }
        self.note_synced();
        if waiting {
            Merged::Waiting
        } else {
            Merged::Done
        }
    }

    /// Refuses to join (as the joiner) a cluster where a live member
    /// already holds this node's name at another address: merging would start a refutation
    /// war, and the joiner would never be admitted (Go only logs it on the
    /// seed). A dead or left holder is not a conflict.
    fn check_name_free(&self, remote: &[PushNodeState]) -> Result<(), JoinError> {
        let own = ip_to_wire(self.local_addr.ip());
        let live = [NodeState::Alive, NodeState::Suspect].map(NodeState::wire_value);
        let holder = remote.iter().find(|r| {
            r.name == self.config.name
                && live.contains(&r.state)
                && (r.addr != own || r.port != self.local_addr.port())
        });
        match holder {
            Some(r) => Err(JoinError::NameConflict {
                name: r.name.clone(),
                holder: ip_from_wire(&r.addr)
                    .map_or(self.local_addr, |ip| SocketAddr::new(ip, r.port)),
            }),
            None => Ok(()),
        }
    }

    /// Refuses a merge when some node would speak a protocol version
    /// another node cannot understand (Go's `verifyProtocol`). Local entries
    /// that never reported versions (placeholders) are skipped, where Go
    /// would refuse every merge until they are reaped.
    fn verify_protocol(&self, remote: &[PushNodeState]) -> Result<(), String> {
        let (mut max_pmin, mut min_pmax, mut max_dmin, mut min_dmax) = (0u8, u8::MAX, 0u8, u8::MAX);
        let mut widen = |v: &[u8]| {
            max_pmin = max_pmin.max(v[0]);
            min_pmax = min_pmax.min(v[1]);
            max_dmin = max_dmin.max(v[3]);
            min_dmax = min_dmax.min(v[4]);
        };
        for r in remote
            .iter()
            .filter(|r| r.state == NodeState::Alive.wire_value())
        {
            if r.vsn.len() >= 5 {
                widen(&r.vsn);
            }
        }
        let learned = |n: &&super::node_table::NodeRecord| n.vsn != [0; 6];
        for n in self.table.iter().filter(learned) {
            if n.state == NodeState::Alive {
                widen(&n.vsn);
            }
        }
        let check = |name: &str, pcur: u8, dcur: u8| {
            if pcur < max_pmin || pcur > min_pmax {
                return Err(format!(
                    "Node '{name}' protocol version ({pcur}) is incompatible: [{max_pmin}, {min_pmax}]"
                ));
            }
            if dcur < max_dmin || dcur > min_dmax {
                return Err(format!(
                    "Node '{name}' delegate protocol version ({dcur}) is incompatible: [{max_dmin}, {min_dmax}]"
                ));
            }
            Ok(())
        };
        for r in remote {
            let (pcur, dcur) = match r.vsn.get(..6) {
                Some(v) => (v[2], v[5]),
                None => (0, 0),
            };
            check(&r.name, pcur, dcur)?;
        }
        for n in self.table.iter().filter(learned) {
            check(&n.name, n.vsn[2], n.vsn[5])?;
        }
        Ok(())
    }

    /// Remembers a reaped dead node as a partition-healing contact.
    pub(super) fn remember_for_healing(&mut self, contact: HealContact) {
        self.heal_memory.retain(|c| c.name != contact.name);
        if self.heal_memory.len() >= HEAL_MEMORY {
            self.heal_memory.pop_front();
        }
        self.heal_memory.push_back(contact);
    }

    /// What `name` advertised, as a member or as a remembered healing
    /// contact: a node reaped from the table still gets LZ4, which costs
    /// far less than LZW to compress a whole state with, every healing
    /// interval, in every node that remembers it.
    pub(super) fn features_of(&self, name: &str) -> Option<Features> {
        match self.table.get(name) {
            Some(record) => Some(record.features),
            None => self
                .heal_memory
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.features),
        }
    }

    /// Push/pulls with one node held as dead, or a seed that is not a live
    /// member, so a healed partition merges back.
    pub(super) fn heal_tick(&mut self, now: Instant) {
        self.timers.arm(
            now + self.config.partition_healing_interval,
            Timer::HealTick,
        );
        if self.leaving {
            return;
        }
        self.heal_memory
            .retain(|c| !self.table.get(&c.name).is_some_and(|n| n.is_live()));
        let mut candidates: Vec<(Option<String>, SocketAddr)> = self
            .heal_memory
            .iter()
            .map(|c| (Some(c.name.clone()), c.addr))
            .collect();
        // The table is scanned only when it can hold a candidate: every
        // member runs this, and in a large settled cluster a scan of every
        // record per interval would be most of the cost of being idle.
        let [_, _, dead, _] = self.table.counts();
        if dead > 0 {
            candidates.extend(
                self.table
                    .iter()
                    .filter(|n| n.state == NodeState::Dead && *n.name != *self.config.name)
                    .filter_map(|n| n.socket_addr().map(|a| (Some(n.name.to_string()), a))),
            );
        }
        // Seeds no live member answers at: one pass over the table, ending
        // as soon as every seed is accounted for.
        let mut unanswered = self.seeds.clone();
        for n in self.table.iter().filter(|n| n.is_live()) {
            if unanswered.is_empty() {
                break;
            }
            if let Some(addr) = n.socket_addr() {
                unanswered.retain(|s| *s != addr);
            }
        }
        candidates.extend(unanswered.into_iter().map(|s| (None, s)));
        if candidates.is_empty() {
            return;
        }
        let (name, addr) = candidates.swap_remove(self.rng.random_range(0..candidates.len()));
        log::debug!("{}: partition healing: pinging {addr}", self.config.name);
        // Any node at the address will do to bridge a partition: the ping
        // names none, so whoever answers is asked for its state.
        let seq = self.next_seq();
        let ping = Message::Ping(self.local_ping(seq, ""));
        let peer = name.clone();
        let purpose = Dial::HealPing { seq, addr, name };
        if let Err(e) = self.dial(
            now,
            addr,
            peer.as_deref(),
            stream_form(&ping),
            purpose,
            None,
        ) {
            log::debug!("{}: no healing ping to {addr}: {e}", self.config.name);
        }
    }
}

fn record_as_node(r: &PushNodeState) -> Option<Node> {
    let mut versions = [0u8; 6];
    if let Some(v) = r.vsn.get(..6) {
        versions.copy_from_slice(v);
    }
    Some(Node {
        name: r.name.clone(),
        addr: ip_from_wire(&r.addr)?,
        port: r.port,
        meta: r.meta.clone().unwrap_or_default(),
        state: NodeState::from_wire(r.state)?,
        incarnation: r.incarnation,
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go's TestPushPullScale.
    #[test]
    fn push_pull_interval_scales_above_32_nodes() {
        let s = Duration::from_secs(1);
        for n in [0, 1, 32] {
            assert_eq!(push_pull_scale(s, n), s);
        }
        for n in [33, 64] {
            assert_eq!(push_pull_scale(s, n), 2 * s);
        }
        for n in [65, 128] {
            assert_eq!(push_pull_scale(s, n), 3 * s);
        }
    }
}
