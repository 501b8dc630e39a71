//! Ports of Go memberlist's protocol tests (the state machine, probing,
//! gossip and push/pull, and the cluster-level tests that need no sockets),
//! and swimlist's own, driving [`Membership`] directly. This file holds the
//! shared harness; the tests are grouped by the mechanism they exercise:
//!
//! * `state.rs`: alive/suspect/dead transitions and merging remote state;
//! * `probe.rs`: sequence numbers, ack handlers, probes and the TCP
//!   fallback ping;
//! * `lifeguard.rs`: suspicion timeouts and confirmations, health
//!   awareness, a lagging host;
//! * `gossip.rs`: gossip rounds;
//! * `host_query.rs`: questions for the host and the steps that wait;
//! * `push_pull.rs`: push/pull, joins and what refuses them, catch-up syncs;
//! * `cluster.rs`: whole clusters through the public API.
//!
//! Everything runs in virtual time ([`Instant`]) with fixed RNG seeds: no
//! threads, sockets or sleeps. Tests about one node call the state-transition
//! entry points (`alive_node`, `suspect_node`, `dead_node`, …) the way the Go
//! tests call `aliveNode`, `suspectNode` and `deadNode`. Tests about several
//! nodes use [`Net`], a tiny simulated network that carries datagrams and
//! streams between machines with a fixed latency and can drop traffic to a
//! node (a node that was "never started" is simply not in the network).
//! What the tests see of a machine beyond its public API goes through the
//! accessors in `test_access.rs`.
//!
//! Differences from the Go harness, applied throughout:
//!
//! * Go's `newMemberlist` (used by `GetMemberlist`/`HostMemberlist`) builds a
//!   node without its own entry and without periodic tasks. [`Membership::new`]
//!   always bootstraps the local entry (queueing an alive about itself), so
//!   the single-node helpers clear the timers, actions and broadcast queue
//!   afterwards, and node counts include the local entry.
//! * Go's event delegate only sees join/leave/update; swimlist also reports
//!   suspect/alive transitions, which the ports filter out ([`go_events`]).
//! * Go's upstream tests wait with `time.Sleep` and retries; here time is
//!   advanced exactly, so Go's timing bounds are checked against exact
//!   virtual durations.
//!
//! Not ported here: `TestMemberlist_FailedRemote` (it classifies Go
//! `net.OpError`s; here the runtime reports a failed dial through
//! `handle_dial_result`), `TestMemberList_ResetNodes` (node_table.rs), the
//! suspicion, awareness and broadcast-queue tests (the unit tests of
//! suspicion.rs, awareness.rs and broadcast_queue.rs), and
//! `TestMemberList_Ping` (the state machine has no `Ping` API; the test is
//! skipped upstream as well).

mod cluster;
mod gossip;
mod host_query;
mod lifeguard;
mod probe;
mod push_pull;
mod samples;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::node_table::{NodeRecord, WireIp};
use super::{
    Completion, DialError, DialId, HostQueries, Instant, JoinError, JoinTarget, Membership,
    NotifyToken, StreamId, Transmit,
};
use crate::config::Config;
use crate::delegate::{Delegate, Refusal};
use crate::node::{Event, Node, NodeState};
use crate::wire::{decode_packet, Alive, Dead, Features, Inbound, Message, PushNodeState, Suspect};

// ---- fixtures ---------------------------------------------------------------

const PORT: u16 = 7946;

/// The start of every test: two hours after the epoch, so "an hour ago"
/// (Go's `StateChange.Add(-time.Hour)`) is representable.
const T0: Instant = Instant::from_nanos(7_200_000_000_000);

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ip(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, host))
}

fn addr(host: u8) -> SocketAddr {
    SocketAddr::new(ip(host), PORT)
}

fn an_hour_before(t: Instant) -> Instant {
    Instant::from_nanos(t.as_nanos() - 3_600_000_000_000)
}

/// Go's `BuildVsnArray()` for a default node: `[1, 5, 2, 0, 0, 0]`.
fn vsn() -> Vec<u8> {
    Config::lan().vsn().to_vec()
}

/// `DefaultLANConfig` with a name (Go's `HostMemberlist`).
fn config(name: &str) -> Config {
    Config {
        name: name.to_owned(),
        bind_port: PORT,
        ..Config::lan()
    }
}

/// Go's `testConfig`: LAN defaults with node names required.
fn test_config(name: &str) -> Config {
    Config {
        require_node_names: true,
        ..config(name)
    }
}

fn alive(node: &str, host: u8, port: u16, incarnation: u32, vsn: &[u8]) -> Alive {
    Alive {
        incarnation,
        node: node.to_owned(),
        addr: vec![127, 0, 0, host],
        port,
        meta: None,
        vsn: vsn.to_vec(),
        features: Features::NONE,
    }
}

fn suspect(node: &str, incarnation: u32, from: &str) -> Suspect {
    Suspect {
        incarnation,
        node: node.to_owned(),
        from: from.to_owned(),
    }
}

fn dead(node: &str, incarnation: u32, from: &str) -> Dead {
    Dead {
        incarnation,
        node: node.to_owned(),
        from: from.to_owned(),
    }
}

fn record(name: &str, host: u8, incarnation: u32, state: NodeState) -> PushNodeState {
    PushNodeState {
        name: name.to_owned(),
        addr: vec![127, 0, 0, host],
        incarnation,
        state: state.wire_value(),
        ..PushNodeState::default()
    }
}

/// A delegate recording what the Go tests' mocks record.
#[derive(Default)]
struct Recorder {
    /// `PingDelegate.AckPayload` (Go's `MockPing`).
    ack_payload: Option<Vec<u8>>,
    /// Cancel every join merge with this error (Go's `CustomMergeDelegate`).
    cancel_merge: Option<String>,
    /// Refuse every alive but this node's (Go's `CustomAliveDelegate`).
    alive_only: Option<String>,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    conflicts: Vec<(Node, Node)>,
    pings: Vec<(Node, Duration, Vec<u8>)>,
    merges: usize,
    alives: usize,
    // Go's `MockDelegate`:
    meta: Vec<u8>,
    msgs: Vec<Vec<u8>>,
    /// Handed out once, all at once, by `get_broadcasts`.
    broadcasts: Vec<Vec<u8>>,
    state: Vec<u8>,
    remote_state: Vec<u8>,
}

impl Recorder {
    /// Go's `MockDelegate` with this metadata, local state and broadcasts.
    fn mock(meta: &[u8], state: &[u8], broadcasts: &[&[u8]]) -> Self {
        let log = Log {
            meta: meta.to_vec(),
            state: state.to_vec(),
            broadcasts: broadcasts.iter().map(|b| b.to_vec()).collect(),
            ..Log::default()
        };
        Recorder {
            log: Mutex::new(log),
            ..Recorder::default()
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().expect("recorder lock")
    }
}

impl Delegate for Recorder {
    fn node_meta(&self, _limit: usize) -> Vec<u8> {
        self.log().meta.clone()
    }

    fn notify_msg(&self, msg: &[u8]) {
        self.log().msgs.push(msg.to_vec());
    }

    fn get_broadcasts(&self, _overhead: usize, _limit: usize) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.log().broadcasts)
    }

    fn local_state(&self, _join: bool) -> Vec<u8> {
        self.log().state.clone()
    }

    fn merge_remote_state(&self, state: &[u8], _join: bool) {
        self.log().remote_state = state.to_vec();
    }

    fn notify_conflict(&self, existing: &Node, other: &Node) {
        self.log().conflicts.push((existing.clone(), other.clone()));
    }

    fn notify_merge(&self, _peers: &[Node]) -> Result<(), Refusal> {
        self.log().merges += 1;
        match &self.cancel_merge {
            Some(e) => Err(Refusal::new(e.clone())),
            None => Ok(()),
        }
    }

    fn ack_payload(&self) -> Option<Vec<u8>> {
        self.ack_payload.clone()
    }

    fn notify_ping_complete(&self, node: &Node, rtt: Duration, payload: &[u8]) {
        self.log().pings.push((node.clone(), rtt, payload.to_vec()));
    }

    fn notify_alive(&self, node: &Node) -> Result<(), Refusal> {
        self.log().alives += 1;
        match &self.alive_only {
            Some(name) if *name != node.name => Err(Refusal::new("Custom alive canceled")),
            _ => Ok(()),
        }
    }
}

/// A node at 127.0.0.1:7946 as created at `T0`, its periodic tasks armed.
fn started(config: Config) -> Membership {
    Membership::new(
        config,
        Vec::new(),
        HostQueries::none(),
        addr(1),
        [1; 32],
        T0,
    )
    .expect("valid config")
}

/// Go's `GetMemberlist`: node "local" at 127.0.0.1:7946 with no periodic
/// tasks, nothing pending and an empty broadcast queue.
fn standalone(config: Config) -> Membership {
    let mut m = started(config);
    quieten(&mut m);
    m
}

/// As [`standalone`], with `delegate` answering every question (see
/// [`deliver`]).
fn standalone_with(config: Config, delegate: &dyn Delegate) -> Membership {
    let meta = delegate.node_meta(crate::wire::META_MAX_SIZE);
    let mut m = Membership::new(config, meta, HostQueries::all(), addr(1), [1; 32], T0)
        .expect("valid config");
    deliver(&mut m, delegate, T0);
    quieten(&mut m);
    m
}

/// Throws away everything `m` has given out for the network, the event
/// channel and waiting callers.
fn discard_output(m: &mut Membership) {
    while m.poll_transmit().is_some() {}
    while m.poll_event().is_some() {}
    while m.poll_completion().is_some() {}
}

/// Takes `m`'s datagrams, by destination, discarding its other transmits.
fn datagrams(m: &mut Membership) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| m.poll_transmit())
        .filter_map(|t| match t {
            Transmit::Datagram { to, bytes } => Some((to, bytes)),
            _ => None,
        })
        .collect()
}

/// No periodic tasks, nothing pending, an empty broadcast queue.
fn quieten(m: &mut Membership) {
    m.clear_timers();
    m.broadcasts_mut().reset();
    m.flush_finished();
    discard_output(m);
}

/// Answers `m`'s questions with `delegate` at `now` and hands it `m`'s
/// notifications, until there are none, as a runtime's delegate thread
/// does (at once, here).
fn deliver(m: &mut Membership, delegate: &dyn Delegate, now: Instant) {
    loop {
        let mut idle = true;
        while let Some((id, query)) = m.poll_query() {
            idle = false;
            m.answer(now, id, crate::delegate::answer(delegate, query));
        }
        while let Some(n) = m.poll_notification() {
            idle = false;
            crate::delegate::notify(delegate, n);
        }
        if idle {
            return;
        }
    }
}

/// Runs every timer of `m` due up to `until`, each at its own deadline.
fn advance(m: &mut Membership, until: Instant) {
    while let Some(at) = m.poll_timeout().filter(|at| *at <= until) {
        m.handle_timeout(at);
    }
}

/// Drains `m`'s events and returns those Go's `EventDelegate` would
/// have seen (join, leave, update).
fn go_events(m: &mut Membership) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event())
        .filter(is_go_event)
        .collect()
}

fn is_go_event(e: &Event) -> bool {
    matches!(e, Event::Join(_) | Event::Leave(..) | Event::Update(_))
}

/// Type bytes of the queued membership broadcasts, in queue order (Go's
/// `orderedView`), without consuming them.
fn queued_types(m: &Membership) -> Vec<u8> {
    m.broadcasts()
        .clone()
        .get_broadcasts(0, usize::MAX / 2, u32::MAX)
        .iter()
        .map(|b| b[0])
        .collect()
}

fn state(m: &Membership, name: &str) -> NodeRecord {
    m.table()
        .get(name)
        .unwrap_or_else(|| panic!("{} does not know {name}", m.name()))
        .clone()
}

fn set_state_change(m: &mut Membership, name: &str, at: Instant) {
    m.table_mut()
        .get_mut(name)
        .expect("known node")
        .state_change = at;
}

// ---- a simulated network ------------------------------------------------------

/// Network latency of the loopback interface the Go tests run on.
const LOOPBACK: Duration = Duration::from_micros(100);

enum Delivery {
    Packet {
        from: SocketAddr,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    Stream {
        from: SocketAddr,
        to: SocketAddr,
        id: DialId,
        bytes: Vec<u8>,
        expect_reply: bool,
    },
}

/// One datagram handed to the network.
struct Datagram {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl Datagram {
    fn messages(&self) -> Vec<Message> {
        decode_packet(&self.bytes, &Inbound::default())
            .expect("decodable datagram")
            .messages
            .into_iter()
            .map(|m| m.expect("valid message"))
            .collect()
    }
}

struct JoinResult {
    node: SocketAddr,
    joined: usize,
    errors: Vec<(SocketAddr, JoinError)>,
}

/// Machines by address, connected by a network with a fixed one-way
/// latency. Packets to an address with no machine (a node that never
/// started) or in `udp_blocked` are lost; dials to one without a machine or
/// in `tcp_blocked` are refused.
struct Net {
    now: Instant,
    latency: Duration,
    nodes: BTreeMap<SocketAddr, Membership>,
    /// The delegates of the nodes that have one; they answer at once.
    delegates: BTreeMap<SocketAddr, Arc<dyn Delegate>>,
    /// Replies to accepted streams, until the dialer takes them.
    replies: BTreeMap<(SocketAddr, StreamId), Option<Vec<u8>>>,
    in_flight: BTreeMap<(Instant, u64), Delivery>,
    sequence: u64,
    udp_blocked: BTreeSet<SocketAddr>,
    tcp_blocked: BTreeSet<SocketAddr>,
    events: BTreeMap<SocketAddr, Vec<Event>>,
    sent: Vec<Datagram>,
    dialed: Vec<(SocketAddr, SocketAddr)>,
    joins: Vec<JoinResult>,
    done: Vec<(SocketAddr, NotifyToken)>,
}

impl Net {
    fn new(latency: Duration) -> Self {
        Net {
            now: T0,
            latency,
            nodes: BTreeMap::new(),
            delegates: BTreeMap::new(),
            replies: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            sequence: 0,
            udp_blocked: BTreeSet::new(),
            tcp_blocked: BTreeSet::new(),
            events: BTreeMap::new(),
            sent: Vec::new(),
            dialed: Vec::new(),
            joins: Vec::new(),
            done: Vec::new(),
        }
    }

    /// A node started as by Go's `Create`: periodic tasks running.
    fn start(&mut self, host: u8, config: Config, delegate: Option<Arc<dyn Delegate>>) {
        self.start_at(addr(host), config, delegate);
    }

    fn start_at(&mut self, at: SocketAddr, config: Config, delegate: Option<Arc<dyn Delegate>>) {
        let seed = match at.ip() {
            IpAddr::V4(v4) => [v4.octets()[2].wrapping_mul(37).wrapping_add(v4.octets()[3]); 32],
            IpAddr::V6(_) => [0; 32],
        };
        let (meta, asks) = match &delegate {
            Some(d) => (d.node_meta(crate::wire::META_MAX_SIZE), HostQueries::all()),
            None => (Vec::new(), HostQueries::none()),
        };
        let m = Membership::new(config, meta, asks, at, seed, self.now).expect("valid config");
        self.nodes.insert(at, m);
        if let Some(d) = delegate {
            self.delegates.insert(at, d);
        }
        self.pump();
    }

    /// A node built as by Go's `HostMemberlist`: no periodic tasks.
    fn start_quiet(&mut self, host: u8, config: Config) {
        self.start(host, config, None);
        let m = self.m_mut(host);
        m.clear_timers();
        self.events.remove(&addr(host));
    }

    fn m(&self, host: u8) -> &Membership {
        &self.nodes[&addr(host)]
    }

    fn m_mut(&mut self, host: u8) -> &mut Membership {
        self.nodes
            .get_mut(&addr(host))
            .expect("node in the network")
    }

    /// Go-visible events seen by a node so far.
    fn go_events(&self, host: u8) -> Vec<Event> {
        self.events
            .get(&addr(host))
            .map(|e| e.iter().filter(|e| is_go_event(e)).cloned().collect())
            .unwrap_or_default()
    }

    fn sent_between(&self, from: u8, to: u8) -> impl Iterator<Item = &Datagram> {
        self.sent
            .iter()
            .filter(move |d| d.from == addr(from) && d.to == addr(to))
    }

    fn schedule(&mut self, delivery: Delivery) {
        self.sequence += 1;
        self.in_flight
            .insert((self.now + self.latency, self.sequence), delivery);
    }

    /// Takes every pending action of every machine, having their
    /// delegates answer every question first.
    fn pump(&mut self) {
        let addrs: Vec<SocketAddr> = self.nodes.keys().copied().collect();
        let now = self.now;
        for from in addrs {
            if let (Some(m), Some(d)) = (self.nodes.get_mut(&from), self.delegates.get(&from)) {
                deliver(m, &**d, now);
            }
            let Some(m) = self.nodes.get_mut(&from) else {
                continue;
            };
            let transmits: Vec<Transmit> = std::iter::from_fn(|| m.poll_transmit()).collect();
            self.events
                .entry(from)
                .or_default()
                .extend(std::iter::from_fn(|| m.poll_event()));
            for completion in std::iter::from_fn(|| m.poll_completion()).collect::<Vec<_>>() {
                match completion {
                    Completion::Join { joined, errors, .. } => self.joins.push(JoinResult {
                        node: from,
                        joined,
                        errors,
                    }),
                    Completion::Broadcast(token) => self.done.push((from, token)),
                }
            }
            for transmit in transmits {
                match transmit {
                    Transmit::Datagram { to, bytes } => {
                        self.sent.push(Datagram {
                            from,
                            to,
                            bytes: bytes.clone(),
                        });
                        self.schedule(Delivery::Packet { from, to, bytes });
                    }
                    Transmit::Dial {
                        id,
                        to,
                        bytes,
                        expect_reply,
                        ..
                    } => {
                        self.dialed.push((from, to));
                        self.schedule(Delivery::Stream {
                            from,
                            to,
                            id,
                            bytes,
                            expect_reply,
                        });
                    }
                    Transmit::Reply { stream, bytes } => {
                        self.replies.insert((from, stream), bytes);
                    }
                }
            }
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::Packet { from, to, bytes } => {
                if self.udp_blocked.contains(&to) {
                    return;
                }
                if let Some(m) = self.nodes.get_mut(&to) {
                    m.handle_packet(now, from, &bytes);
                }
            }
            Delivery::Stream {
                from,
                to,
                id,
                bytes,
                expect_reply,
            } => {
                let reply = self.serve_stream(from, to, &bytes, expect_reply);
                if let Some(m) = self.nodes.get_mut(&from) {
                    m.handle_dial_reply(now, id, reply);
                }
            }
        }
    }

    /// The listener's side of a dialled stream: the reply bytes the dialer
    /// gets (`Ok(None)` when it expects none).
    fn serve_stream(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
        expect_reply: bool,
    ) -> Result<Option<Vec<u8>>, DialError> {
        let now = self.now;
        let refused = DialError::Connect(std::io::ErrorKind::ConnectionRefused);
        if self.tcp_blocked.contains(&to) {
            return Err(refused);
        }
        let listener = self.nodes.get_mut(&to).ok_or(refused)?;
        self.sequence += 1;
        let stream = StreamId::new(self.sequence);
        listener.handle_stream_request(now, from, stream, bytes);
        self.pump();
        let reply = self.replies.remove(&(to, stream)).flatten();
        match reply {
            _ if !expect_reply => Ok(None),
            Some(reply) => Ok(Some(reply)),
            None => Err(DialError::ClosedBeforeReply),
        }
    }

    /// Advances to the next delivery or timer at or before `end` and
    /// processes everything due then; false if there is none.
    fn step(&mut self, end: Instant) -> bool {
        self.pump();
        let next_delivery = self.in_flight.keys().next().map(|&(at, _)| at);
        let next_timer = self
            .nodes
            .values()
            .filter_map(Membership::poll_timeout)
            .min();
        let Some(next) = next_delivery.into_iter().chain(next_timer).min() else {
            return false;
        };
        if next > end {
            return false;
        }
        self.now = self.now.max(next);
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let delivery = entry.remove();
            self.deliver(delivery);
            self.pump();
        }
        let now = self.now;
        for m in self.nodes.values_mut() {
            if m.poll_timeout().is_some_and(|at| at <= now) {
                m.handle_timeout(now);
            }
        }
        self.pump();
        true
    }

    fn run_until(&mut self, end: Instant) {
        while self.step(end) {}
        self.now = self.now.max(end);
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs until `host`'s probe has finished (Go's `probeNode` returning).
    fn finish_probe(&mut self, host: u8) {
        while self.m(host).probe().is_some() {
            assert!(
                self.step(Instant::from_nanos(u64::MAX)),
                "a probe always ends by its deadline"
            );
        }
    }

    /// Runs until `host`'s join has finished; returns its result.
    fn finish_join(&mut self, host: u8) -> &JoinResult {
        let limit = self.now + Duration::from_secs(1);
        while !self.joins.iter().any(|j| j.node == addr(host)) {
            assert!(self.step(limit), "join did not finish");
        }
        self.joins
            .iter()
            .find(|j| j.node == addr(host))
            .expect("join result")
    }
}

// ---- set-ups and checks shared by several files -----------------------------

fn fast_probes(name: &str, timeout: Duration, interval: Duration) -> Config {
    Config {
        probe_timeout: timeout,
        probe_interval: interval,
        ..config(name)
    }
}

/// m1 probing with Go's timings (10 ms timeout, 200 ms interval) plus
/// running peers m2 and m3 configured by `peer`.
fn probe_cluster(peer: impl Fn(&str) -> Config) -> Net {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(10), ms(200)));
    net.start_quiet(2, peer("m2"));
    net.start_quiet(3, peer("m3"));
    net
}

/// Starts m1 and m2 (Go's `Create` with `testConfig`) and has m2 join m1 by
/// name; returns the network and the join result.
fn joined_pair(configure: impl Fn(Config) -> Config) -> (Net, usize, Vec<(SocketAddr, JoinError)>) {
    joined_pair_with(configure, |_| None)
}

fn joined_pair_with(
    configure: impl Fn(Config) -> Config,
    delegate: impl Fn(u8) -> Option<Arc<dyn Delegate>>,
) -> (Net, usize, Vec<(SocketAddr, JoinError)>) {
    let mut net = Net::new(LOOPBACK);
    net.start(1, configure(test_config("m1")), delegate(1));
    net.start(2, configure(test_config("m2")), delegate(2));
    let now = net.now;
    net.m_mut(2).join(
        now,
        &[JoinTarget {
            addr: addr(1),
            name: Some("m1".to_owned()),
        }],
    );
    let result = net.finish_join(2);
    let (joined, errors) = (result.joined, result.errors.clone());
    (net, joined, errors)
}

/// Has the node at `from` join `targets` and runs until the join is done.
fn join_at(net: &mut Net, from: SocketAddr, targets: Vec<JoinTarget>) -> (usize, usize) {
    let now = net.now;
    net.nodes
        .get_mut(&from)
        .expect("node in the network")
        .join(now, &targets);
    let limit = now + Duration::from_secs(1);
    while !net.joins.iter().any(|j| j.node == from) {
        assert!(net.step(limit), "join did not finish");
    }
    let i = net
        .joins
        .iter()
        .position(|j| j.node == from)
        .expect("join result");
    let result = net.joins.remove(i);
    (result.joined, result.errors.len())
}

fn named(name: &str, at: SocketAddr) -> JoinTarget {
    JoinTarget {
        addr: at,
        name: Some(name.to_owned()),
    }
}

fn joined_names(events: &[Event]) -> Vec<String> {
    let mut names: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Join(n) => Some(n.name.clone()),
            _ => None,
        })
        .collect();
    names.sort();
    names
}
