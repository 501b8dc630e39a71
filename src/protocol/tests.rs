//! Ports of Go memberlist's protocol tests (the state machine, probing,
//! gossip and push/pull, and the cluster-level tests that need no sockets),
//! driving [`Membership`] directly.
//!
//! Everything runs in virtual time ([`Instant`]) with fixed RNG seeds: no
//! threads, sockets or sleeps. Tests about one node call the state-transition
//! entry points (`alive_node`, `suspect_node`, `dead_node`, …) the way the Go
//! tests call `aliveNode`, `suspectNode` and `deadNode`. Tests about several
//! nodes use [`Net`], a tiny simulated network that carries datagrams and
//! streams between machines with a fixed latency and can drop traffic to a
//! node (a node that was "never started" is simply not in the network).
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
//! suspicion, awareness and broadcast-queue tests (their own modules), and
//! `TestMemberList_Ping` (the state machine has no `Ping` API; the test is
//! skipped upstream as well).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::membership::AckHandler;
use super::node_table::NodeRecord;
use super::{Action, DialError, DialId, Instant, JoinError, JoinTarget, Membership, NotifyToken};
use crate::config::Config;
use crate::delegate::{Delegate, NoDelegate};
use crate::node::{Event, LeaveReason, Node, NodeState};
use crate::wire::{
    decode_packet, Ack, Alive, Dead, Features, Inbound, IndirectPing, Message, MessageType,
    PushNodeState, PushPull, Suspect,
};

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

    fn notify_merge(&self, _peers: &[Node]) -> Result<(), String> {
        self.log().merges += 1;
        match &self.cancel_merge {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn ack_payload(&self) -> Option<Vec<u8>> {
        self.ack_payload.clone()
    }

    fn notify_ping_complete(&self, node: &Node, rtt: Duration, payload: &[u8]) {
        self.log().pings.push((node.clone(), rtt, payload.to_vec()));
    }

    fn notify_alive(&self, node: &Node) -> Result<(), String> {
        self.log().alives += 1;
        match &self.alive_only {
            Some(name) if *name != node.name => Err("Custom alive canceled".to_owned()),
            _ => Ok(()),
        }
    }
}

/// Go's `GetMemberlist`: node "local" at 127.0.0.1:7946 with no periodic
/// tasks, nothing pending and an empty broadcast queue.
fn standalone(config: Config) -> Membership {
    standalone_with(config, Arc::new(NoDelegate))
}

fn standalone_with(config: Config, delegate: Arc<dyn Delegate>) -> Membership {
    let mut m = Membership::new(config, delegate, addr(1), [1; 32], T0).expect("valid config");
    m.clear_timers();
    m.broadcasts_mut().reset();
    m.flush_finished();
    while m.poll_action().is_some() {}
    m
}

/// Hands `m`'s queued notifications to its delegate, as a runtime does.
fn deliver(m: &mut Membership) {
    let delegate = Arc::clone(m.delegate());
    while let Some(n) = m.poll_notification() {
        n.deliver(&*delegate);
    }
}

/// Runs every timer of `m` due up to `until`, each at its own deadline.
fn advance(m: &mut Membership, until: Instant) {
    while let Some(at) = m.poll_timeout().filter(|at| *at <= until) {
        m.handle_timeout(at);
    }
}

/// Drains `m`'s actions and returns the events Go's `EventDelegate` would
/// have seen (join, leave, update).
fn go_events(m: &mut Membership) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_action())
        .filter_map(|a| match a {
            Action::Event(e) => Some(e),
            _ => None,
        })
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
    fn start(&mut self, host: u8, config: Config, delegate: Arc<dyn Delegate>) {
        self.start_at(addr(host), config, delegate);
    }

    fn start_at(&mut self, at: SocketAddr, config: Config, delegate: Arc<dyn Delegate>) {
        let seed = match at.ip() {
            IpAddr::V4(v4) => [v4.octets()[2].wrapping_mul(37).wrapping_add(v4.octets()[3]); 32],
            IpAddr::V6(_) => [0; 32],
        };
        let m = Membership::new(config, delegate, at, seed, self.now).expect("valid config");
        self.nodes.insert(at, m);
        self.pump();
    }

    /// A node built as by Go's `HostMemberlist`: no periodic tasks.
    fn start_quiet(&mut self, host: u8, config: Config) {
        self.start(host, config, Arc::new(NoDelegate));
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

    /// Takes every pending action of every machine.
    fn pump(&mut self) {
        let addrs: Vec<SocketAddr> = self.nodes.keys().copied().collect();
        for from in addrs {
            if let Some(m) = self.nodes.get_mut(&from) {
                deliver(m);
            }
            while let Some(action) = self.nodes.get_mut(&from).and_then(Membership::poll_action) {
                match action {
                    Action::Transmit { to, bytes } => {
                        self.sent.push(Datagram {
                            from,
                            to,
                            bytes: bytes.clone(),
                        });
                        self.schedule(Delivery::Packet { from, to, bytes });
                    }
                    Action::Dial {
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
                    Action::Event(e) => self.events.entry(from).or_default().push(e),
                    Action::JoinFinished { joined, errors, .. } => self.joins.push(JoinResult {
                        node: from,
                        joined,
                        errors,
                    }),
                    Action::BroadcastDone(token) => self.done.push((from, token)),
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
                let result = self.serve_stream(from, to, &bytes, expect_reply);
                if let Some(m) = self.nodes.get_mut(&from) {
                    m.handle_dial_result(now, id, result);
                }
            }
        }
    }

    /// The listener's side of a dialled stream, and the reply as the dialer
    /// reads it.
    fn serve_stream(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
        expect_reply: bool,
    ) -> Result<Option<Message>, DialError> {
        let now = self.now;
        let refused = DialError::Connect(std::io::ErrorKind::ConnectionRefused);
        if self.tcp_blocked.contains(&to) {
            return Err(refused);
        }
        let Some(listener) = self.nodes.get_mut(&to) else {
            return Err(refused);
        };
        let request = match listener.decode_stream(bytes, true) {
            Ok(Some(s)) => s.message,
            Ok(None) | Err(_) => return Err(DialError::ClosedBeforeReply),
        };
        let reply = listener.handle_stream(now, from, request);
        if !expect_reply {
            return Ok(None);
        }
        let Some(reply) = reply else {
            return Err(DialError::ClosedBeforeReply);
        };
        let dialer = self.nodes.get(&from).ok_or(DialError::Lost)?;
        match dialer.decode_stream(&reply, false) {
            Ok(Some(s)) => Ok(Some(s.message)),
            Ok(None) => Err(DialError::ClosedBeforeReply),
            Err(e) => Err(DialError::from_reply(e, &reply)),
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

// ---- state machine ------------------------------------------------------------

// TestMemberList_AliveNode_NewNode
#[test]
fn alive_node_new_node() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);

    // Go's table only held the new node; ours holds the local one too.
    assert_eq!(m.table().len(), 2, "should add node");
    let s = state(&m, "test");
    assert_eq!(s.incarnation, 1);
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.state_change, T0);

    let events = go_events(&mut m);
    assert!(
        matches!(&events[..], [Event::Join(n)] if n.name == "test"),
        "no join message: {events:?}"
    );
    assert_eq!(m.broadcasts().len(), 1, "expected queued message");
}

// TestMemberList_AliveNode_SuspectNode
#[test]
fn alive_node_suspect_node() {
    let mut m = standalone(test_config("local"));
    let mut a = alive("test", 1, 0, 1, &vsn());
    m.alive_node(T0, a.clone(), None, false);
    // Listen only after the first join.
    go_events(&mut m);

    let s = m.table_mut().get_mut("test").expect("known");
    s.state = NodeState::Suspect;
    s.state_change = an_hour_before(T0);

    // Old incarnation number: no change.
    m.alive_node(T0, a.clone(), None, false);
    assert_eq!(state(&m, "test").state, NodeState::Suspect);

    // A new incarnation clears the suspicion.
    a.incarnation = 2;
    m.alive_node(T0, a, None, false);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive, "no update with new incarnation");
    assert_eq!(s.state_change, T0);

    assert!(go_events(&mut m).is_empty(), "got bad join message");
    assert_eq!(m.broadcasts().len(), 1);
}

// TestMemberList_AliveNode_Idempotent
#[test]
fn alive_node_idempotent() {
    let mut m = standalone(test_config("local"));
    let mut a = alive("test", 1, 0, 1, &vsn());
    m.alive_node(T0, a.clone(), None, false);
    go_events(&mut m);
    let state_time = state(&m, "test").state_change;

    a.incarnation = 2;
    m.alive_node(T0 + ms(5), a, None, false);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.state_change, state_time, "should not change state");
    assert!(go_events(&mut m).is_empty(), "got bad join message");
    assert_eq!(m.broadcasts().len(), 1, "expected only one queued message");
}

// TestMemberList_AliveNode_ChangeMeta (Serf GH-58)
#[test]
fn alive_node_change_meta() {
    let mut m = standalone(test_config("local"));
    let mut a = Alive {
        meta: Some(b"val1".to_vec()),
        ..alive("test", 1, 0, 1, &vsn())
    };
    m.alive_node(T0, a.clone(), None, false);
    go_events(&mut m);

    a.incarnation = 2;
    a.meta = Some(b"val2".to_vec());
    m.alive_node(T0, a, None, false);

    let s = state(&m, "test");
    assert_eq!(s.meta, b"val2", "meta did not update");
    let events = go_events(&mut m);
    match &events[..] {
        [Event::Update(n)] => {
            assert_eq!(Some(n), s.to_node().as_ref());
            assert_eq!(n.meta, b"val2");
        }
        other => panic!("missing update event: {other:?}"),
    }
}

// TestMemberList_AliveNode_Refute
#[test]
fn alive_node_refute() {
    // `new` applied the bootstrap alive {local, 127.0.0.1, inc 1}.
    let mut m = standalone(test_config("local"));

    let conflicting = Alive {
        meta: Some(b"foo".to_vec()),
        ..alive("local", 1, 0, 2, &vsn())
    };
    m.alive_node(T0, conflicting, None, false);

    let s = state(&m, "local");
    assert_eq!(s.state, NodeState::Alive, "should still be alive");
    assert!(s.meta.is_empty(), "meta should still be empty");
    assert_eq!(queued_types(&m), [MessageType::Alive as u8]);
}

// TestMemberList_AliveNode_Conflict
#[test]
fn alive_node_conflict() {
    let mut m = standalone(Config {
        dead_node_reclaim_time: ms(10),
        ..test_config("local")
    });
    m.alive_node(T0, alive("test", 1, 8000, 1, &vsn()), None, true);
    m.broadcasts_mut().reset();

    // Same name from another address while the node is alive.
    let conflicting = Alive {
        meta: Some(b"foo".to_vec()),
        ..alive("test", 2, 9000, 2, &vsn())
    };
    m.alive_node(T0, conflicting.clone(), None, false);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive, "should still be alive");
    assert!(s.meta.is_empty(), "meta should still be empty");
    assert_ne!(s.addr, [127, 0, 0, 2], "address should not be updated");
    assert_ne!(s.port, 9000, "port should not be updated");
    assert_eq!(m.broadcasts().len(), 0);

    m.dead_node(T0, dead("test", 2, ""), None);
    m.broadcasts_mut().reset();
    assert_eq!(state(&m, "test").state, NodeState::Dead);

    // Go sleeps DeadNodeReclaimTime (and some) before the new alive.
    let later = T0 + ms(10) + Duration::from_nanos(1);
    m.alive_node(
        later,
        Alive {
            incarnation: 3,
            ..conflicting
        },
        None,
        false,
    );
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.meta, b"foo", "meta should be updated");
    assert_eq!(s.addr, [127, 0, 0, 2], "address should be updated");
    assert_eq!(s.port, 9000, "port should be updated");
}

// TestMemberList_SuspectNode_NoNode
#[test]
fn suspect_node_no_node() {
    let mut m = standalone(test_config("local"));
    m.suspect_node(T0, suspect("test", 1, ""));
    assert_eq!(m.table().len(), 1, "only the local node");
    assert!(m.table().get("test").is_none());
}

// TestMemberList_SuspectNode
#[test]
fn suspect_node() {
    let mut m = standalone(Config {
        probe_interval: ms(1),
        // Go leaves ProbeTimeout at 500 ms; ours must not exceed the interval.
        probe_timeout: ms(1),
        suspicion_mult: 1,
        ..test_config("local")
    });
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));

    m.suspect_node(T0, suspect("test", 1, ""));
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Suspect);
    let change = s.state_change;
    assert_eq!(change, T0);
    assert_eq!(queued_types(&m), [MessageType::Suspect as u8]);

    // Wait for the timeout.
    advance(&mut m, T0 + ms(10));
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Dead);
    assert!(s.state_change > change, "should increment time");
    assert!(s.state_change <= T0 + ms(10));
    assert_eq!(queued_types(&m), [MessageType::Dead as u8]);
}

// TestMemberList_SuspectNode_DoubleSuspect
#[test]
fn suspect_node_double_suspect() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));

    let s = suspect("test", 1, "");
    m.suspect_node(T0, s.clone());
    assert_eq!(state(&m, "test").state, NodeState::Suspect);
    let change = state(&m, "test").state_change;
    assert_eq!(change, T0);
    m.broadcasts_mut().reset();

    // Suspect again.
    m.suspect_node(T0 + ms(5), s);
    assert_eq!(state(&m, "test").state_change, change);
    assert_eq!(m.broadcasts().len(), 0);
}

// TestMemberList_SuspectNode_OldSuspect
#[test]
fn suspect_node_old_suspect() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 10, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));
    m.broadcasts_mut().reset();

    m.suspect_node(T0, suspect("test", 1, ""));
    assert_eq!(state(&m, "test").state, NodeState::Alive);
    assert_eq!(m.broadcasts().len(), 0);
}

// TestMemberList_SuspectNode_Refute
#[test]
fn suspect_node_refute() {
    let mut m = standalone(test_config("local"));
    assert_eq!(m.health_score(), 0);

    m.suspect_node(T0, suspect("local", 1, ""));
    assert_eq!(state(&m, "local").state, NodeState::Alive);
    assert_eq!(queued_types(&m), [MessageType::Alive as u8]);
    assert_eq!(m.health_score(), 1, "health should have been dinged");
}

// TestMemberList_DeadNode_NoNode
#[test]
fn dead_node_no_node() {
    let mut m = standalone(test_config("local"));
    m.dead_node(T0, dead("test", 1, ""), None);
    assert_eq!(m.table().len(), 1, "only the local node");
    assert!(m.table().get("test").is_none());
}

// TestMemberList_DeadNodeLeft
#[test]
fn dead_node_left() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("node1", 1, 8000, 1, &vsn()), None, false);
    assert!(matches!(&go_events(&mut m)[..], [Event::Join(_)]));

    m.dead_node(T0, dead("node1", 1, "node1"), None);
    assert!(matches!(
        &go_events(&mut m)[..],
        [Event::Leave(n, LeaveReason::Left)] if n.name == "node1"
    ));
    assert_eq!(state(&m, "node1").state, NodeState::Left);
    assert_eq!(queued_types(&m), [MessageType::Dead as u8]);

    // A left node's name may come back from another address.
    let s2 = Alive {
        meta: Some(b"foo".to_vec()),
        ..alive("node1", 2, 9000, 3, &vsn())
    };
    m.alive_node(T0, s2, None, false);
    assert!(matches!(&go_events(&mut m)[..], [Event::Join(_)]));
    let s = state(&m, "node1");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.meta, b"foo", "meta should be updated");
    assert_eq!(s.addr, [127, 0, 0, 2], "address should be updated");
    assert_eq!(s.port, 9000, "port should be updated");
}

// TestMemberList_DeadNode
#[test]
fn dead_node() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    assert!(matches!(&go_events(&mut m)[..], [Event::Join(_)]));
    set_state_change(&mut m, "test", an_hour_before(T0));

    m.dead_node(T0, dead("test", 1, ""), None);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Dead);
    assert_eq!(s.state_change, T0);
    let events = go_events(&mut m);
    assert!(
        matches!(&events[..], [Event::Leave(n, LeaveReason::Failed)] if n.name == "test"),
        "no leave message: {events:?}"
    );
    assert_eq!(queued_types(&m), [MessageType::Dead as u8]);
}

// TestMemberList_DeadNode_Double
#[test]
fn dead_node_double() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));
    m.dead_node(T0, dead("test", 1, ""), None);
    m.broadcasts_mut().reset();
    // Listen only after the first dead.
    go_events(&mut m);

    m.dead_node(T0, dead("test", 2, ""), None);
    assert!(go_events(&mut m).is_empty(), "should not get leave");
    assert_eq!(m.broadcasts().len(), 0);
}

// TestMemberList_DeadNode_OldDead
#[test]
fn dead_node_old_dead() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 10, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));

    m.dead_node(T0, dead("test", 1, ""), None);
    assert_eq!(state(&m, "test").state, NodeState::Alive);
}

// TestMemberList_DeadNode_AliveReplay
#[test]
fn dead_node_alive_replay() {
    let mut m = standalone(test_config("local"));
    let a = alive("test", 1, 0, 10, &vsn());
    m.alive_node(T0, a.clone(), None, false);
    m.dead_node(T0, dead("test", 10, ""), None);

    // Replay the alive at the same incarnation.
    m.alive_node(T0, a, None, false);
    assert_eq!(state(&m, "test").state, NodeState::Dead);
}

// TestMemberList_DeadNode_Refute
#[test]
fn dead_node_refute() {
    let mut m = standalone(test_config("local"));
    assert_eq!(m.health_score(), 0);

    m.dead_node(T0, dead("local", 1, ""), None);
    assert_eq!(state(&m, "local").state, NodeState::Alive);
    assert_eq!(queued_types(&m), [MessageType::Alive as u8]);
    assert_eq!(m.health_score(), 1, "we should have been dinged");
}

// TestMemberList_MergeState
#[test]
fn merge_state() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test1", 1, 0, 1, &vsn()), None, false);
    m.alive_node(T0, alive("test2", 2, 0, 1, &vsn()), None, false);
    m.alive_node(T0, alive("test3", 3, 0, 1, &vsn()), None, false);
    m.suspect_node(T0, suspect("test1", 1, ""));
    // Listen for changes from here on.
    go_events(&mut m);

    m.merge_state(
        T0,
        vec![
            record("test1", 1, 2, NodeState::Alive),
            record("test2", 2, 1, NodeState::Suspect),
            record("test3", 3, 1, NodeState::Dead),
            record("test4", 4, 2, NodeState::Alive),
        ],
    );

    let s = state(&m, "test1");
    assert_eq!((s.state, s.incarnation), (NodeState::Alive, 2));
    let s = state(&m, "test2");
    assert_eq!((s.state, s.incarnation), (NodeState::Suspect, 1));
    assert_eq!(state(&m, "test3").state, NodeState::Suspect);
    let s = state(&m, "test4");
    assert_eq!((s.state, s.incarnation), (NodeState::Alive, 2));

    let events = go_events(&mut m);
    assert!(
        matches!(&events[..], [Event::Join(n)] if n.name == "test4"),
        "expected exactly one join, for test4: {events:?}"
    );
}

// TestMemberList_NextSeq
#[test]
fn next_seq() {
    let mut m = standalone(test_config("local"));
    assert_eq!(m.next_seq(), 1);
    assert_eq!(m.next_seq(), 2);
}

/// A standalone node that knows "test" (127.0.0.2) and has a probe of it in
/// flight with sequence number 1; the ping is discarded.
fn probing(delegate: Arc<dyn Delegate>) -> Membership {
    let mut m = standalone_with(test_config("local"), delegate);
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    while m.poll_action().is_some() {}
    m.probe_node(T0, "test");
    while m.poll_action().is_some() {}
    assert!(m.probe().is_some_and(|p| p.seq == 1));
    m
}

// TestMemberList_setProbeChannels / TestMemberList_setAckHandler: handlers
// exist, then are reaped when they expire. Here the probe's handler lives
// until the (scaled) probe interval, a relayed ping's until `probe_timeout`.
#[test]
fn set_ack_handler() {
    let mut m = probing(Arc::new(NoDelegate));
    assert!(
        matches!(m.acks().get(&1), Some(AckHandler::Probe)),
        "missing handler"
    );
    let expiry = T0 + m.config().probe_interval;
    advance(&mut m, expiry);
    assert!(!m.acks().contains_key(&1), "non-reaped handler");

    let req = IndirectPing {
        seq_no: 77,
        target: vec![127, 0, 0, 9],
        port: PORT,
        node: "other".to_owned(),
        nack: false,
        source_addr: vec![127, 0, 0, 3],
        source_port: PORT,
        source_node: "requester".to_owned(),
    };
    let now = T0 + Duration::from_secs(2);
    m.handle_indirect_ping(now, addr(3), req);
    assert!(
        matches!(m.acks().get(&2), Some(AckHandler::Relay { seq: 77, .. })),
        "missing handler"
    );
    let expiry = now + m.config().probe_timeout;
    advance(&mut m, expiry);
    assert!(!m.acks().contains_key(&2), "non-reaped handler");
}

// TestMemberList_invokeAckHandler
#[test]
fn invoke_ack_handler() {
    // An ack nobody waits for does nothing.
    let mut m = standalone(test_config("local"));
    m.handle_ack(T0, Ack::default());
    assert!(m.poll_action().is_none());
    assert!(m.acks().is_empty());

    let mut m = probing(Arc::new(NoDelegate));
    m.handle_ack(T0 + ms(1), Ack::default());
    assert!(m.probe().is_some(), "an unknown sequence number is ignored");
    m.handle_ack(
        T0 + ms(1),
        Ack {
            seq_no: 1,
            payload: None,
        },
    );
    assert!(m.probe().is_none(), "the ack completes the probe");
    assert!(!m.acks().contains_key(&1), "non-reaped handler");
}

// TestMemberList_invokeAckHandler_Channel_Ack
#[test]
fn invoke_ack_handler_channel_ack() {
    let recorder = Arc::new(Recorder::default());
    let mut m = probing(recorder.clone());
    let ack = Ack {
        seq_no: 1,
        payload: Some(vec![0, 0, 0]),
    };
    m.handle_ack(T0 + ms(1), ack);
    deliver(&mut m);

    assert!(m.probe().is_none(), "probe should be complete");
    let log = recorder.log();
    assert!(
        matches!(&log.pings[..], [(n, rtt, payload)]
            if n.name == "test" && *rtt == ms(1) && payload == &[0, 0, 0]),
        "wrong ack delivery"
    );
    assert!(!m.acks().contains_key(&1), "non-reaped handler");
}

// TestMemberList_invokeAckHandler_Channel_Nack
#[test]
fn invoke_ack_handler_channel_nack() {
    // A nack nobody waits for does nothing.
    let mut m = standalone(test_config("local"));
    m.handle_nack(1);
    assert!(m.poll_action().is_none());

    let recorder = Arc::new(Recorder::default());
    let mut m = probing(recorder.clone());
    m.handle_nack(1);
    deliver(&mut m);
    assert_eq!(m.probe().map(|p| p.nacks), Some(1), "nack not counted");
    assert!(recorder.log().pings.is_empty(), "should not get an ack");
    // The nack does not reap the handler: an ack can still come.
    assert!(m.acks().contains_key(&1), "handler should not be reaped");

    m.handle_ack(
        T0 + ms(2),
        Ack {
            seq_no: 1,
            payload: Some(vec![0, 0, 0]),
        },
    );
    deliver(&mut m);
    assert!(m.probe().is_none(), "probe should be complete");
    assert!(matches!(
        &recorder.log().pings[..],
        [(_, _, payload)] if payload == &[0, 0, 0]
    ));
    assert!(!m.acks().contains_key(&1), "non-reaped handler");
}

/// Go's `testVerifyProtocolSingle`: local nodes with versions `a`, remote
/// push/pull records (alive, names "node i") with versions `b`.
fn verify_protocol_single(a: &[[u8; 6]], b: &[[u8; 6]]) -> Result<(), JoinError> {
    let mut m = standalone(test_config("local"));
    m.replace_table(a.iter().enumerate().map(|(i, v)| NodeRecord {
        name: format!("local {i}"),
        addr: vec![127, 0, 0, 1],
        port: PORT,
        meta: Vec::new(),
        incarnation: 0,
        state: NodeState::Alive,
        state_change: T0,
        vsn: *v,
        features: Features::NONE,
    }));
    let remote = b
        .iter()
        .enumerate()
        .map(|(i, v)| PushNodeState {
            name: format!("node {i}"),
            vsn: v.to_vec(),
            ..PushNodeState::default()
        })
        .collect();
    m.merge_remote_state(
        T0,
        false,
        PushPull {
            join: false,
            nodes: remote,
            user_state: Vec::new(),
        },
    )
}

// TestVerifyProtocol. Documented deviation (push_pull.rs, `verify_protocol`):
// local entries whose six versions are all zero never reported versions and
// are skipped, where Go counts them (so in Go such an entry makes every
// merge fail until it is reaped). That changes one direction of the "speaking
// outside the range" case, whose local side is exactly such an entry.
#[test]
fn verify_protocol() {
    type Triples = &'static [[u8; 3]];
    let cases: [(Triples, Triples, bool); 5] = [
        // Both running identical everything.
        (&[[0, 0, 0]], &[[0, 0, 0]], true),
        // One can understand newer, but speaking the same protocol.
        (&[[0, 0, 0]], &[[0, 1, 0]], true),
        // One is speaking outside the range.
        (&[[0, 0, 0]], &[[1, 1, 1]], false),
        // Transitively outside the range.
        (&[[0, 1, 0], [0, 2, 1]], &[[1, 3, 1]], false),
        // Multi-node.
        (&[[0, 3, 2], [0, 2, 0]], &[[0, 2, 1], [0, 5, 0]], true),
    ];
    let core =
        |t: Triples| -> Vec<[u8; 6]> { t.iter().map(|n| [n[0], n[1], n[2], 0, 0, 0]).collect() };
    let app =
        |t: Triples| -> Vec<[u8; 6]> { t.iter().map(|n| [0, 0, 0, n[0], n[1], n[2]]).collect() };
    for (i, (a, b, go_expected)) in cases.into_iter().enumerate() {
        for (what, a, b) in [("core", core(a), core(b)), ("app", app(a), app(b))] {
            for (local, remote) in [(&a, &b), (&b, &a)] {
                let skipped = local.iter().all(|v| *v == [0; 6]);
                let expected = go_expected || skipped;
                let result = verify_protocol_single(local, remote);
                assert_eq!(
                    result.is_ok(),
                    expected,
                    "case {i} ({what}): local {local:?}, remote {remote:?}: {result:?}"
                );
                if skipped && !go_expected {
                    // The deviation: Go refuses this one.
                    assert_eq!(i, 2, "only the out-of-range case deviates");
                }
            }
        }
    }
}

// ---- probing ------------------------------------------------------------------

fn fast_probes(name: &str, timeout: Duration, interval: Duration) -> Config {
    Config {
        probe_timeout: timeout,
        probe_interval: interval,
        ..config(name)
    }
}

/// Network latency of the loopback interface the Go tests run on.
const LOOPBACK: Duration = Duration::from_micros(100);

// TestMemberList_Probe
#[test]
fn probe() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    net.m_mut(1)
        .alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);

    // Should ping m2.
    net.m_mut(1).probe_tick(now);
    net.finish_probe(1);

    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    assert_eq!(net.m(1).seq(), 1, "should increment seqno");
}

// TestMemberList_ProbeNode
#[test]
fn probe_node() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    // No Vsn.
    net.m_mut(1)
        .alive_node(now, alive("m2", 2, PORT, 1, &[]), None, false);

    net.m_mut(1).probe_node(now, "m2");
    net.finish_probe(1);

    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    assert_eq!(net.m(1).seq(), 1, "should increment seqno");
}

// TestMemberList_ProbeNode_Suspect
#[test]
fn probe_node_suspect() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    net.start_quiet(3, config("m3"));
    // m4 never starts.
    let now = net.now;
    for (name, host) in [("m2", 2), ("m3", 3), ("m4", 4)] {
        net.m_mut(1)
            .alive_node(now, alive(name, host, PORT, 1, &vsn()), None, false);
    }

    net.m_mut(1).probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);

    net.run_for(ms(10));
    // One of the peers should have attempted an indirect probe.
    assert!(
        net.m(2).seq() == 1 || net.m(3).seq() == 1,
        "bad seqnos {}, {}",
        net.m(2).seq(),
        net.m(3).seq()
    );
}

// TestMemberList_ProbeNode_Suspect_Dogpile (also ported at the timer level
// in suspicion.rs): here through probe, suspect handling and timers.
#[test]
fn probe_node_suspect_dogpile() {
    const FUDGE: Duration = ms(25);
    // (peers, confirmations, Go's expected timeout); the cluster is the
    // peers plus the local node.
    let cases = [
        (1, 0, 500),
        (2, 0, 500),
        (3, 0, 500),
        (4, 0, 1000),
        (5, 0, 1000),
        (5, 1, 750),
        (5, 2, 604),
        (5, 3, 500),
        (5, 4, 500),
    ];
    for (peers, confirmations, expected) in cases {
        let case = format!("n={}, {confirmations} confirmations", peers + 1);
        let mut m = standalone(Config {
            suspicion_mult: 5,
            suspicion_max_timeout_mult: 2,
            ..fast_probes("local", ms(1), ms(100))
        });
        for j in 0..peers - 1 {
            let peer = alive(&format!("live{j}"), 10 + j, PORT, 1, &vsn());
            m.alive_node(T0, peer, None, false);
        }
        // The last peer never answers (nothing here does).
        m.alive_node(T0, alive("bad", 99, PORT, 1, &vsn()), None, false);

        m.probe_node(T0, "bad");
        let deadline = m.probe().expect("probe in flight").deadline;
        advance(&mut m, deadline);
        assert_eq!(state(&m, "bad").state, NodeState::Suspect, "{case}");

        for j in 0..confirmations {
            m.suspect_node(deadline, suspect("bad", 1, &format!("peer{j}")));
        }
        let expected = ms(expected);
        advance(&mut m, deadline + (expected - FUDGE));
        assert_eq!(state(&m, "bad").state, NodeState::Suspect, "{case}");
        advance(&mut m, deadline + expected + FUDGE);
        assert_eq!(state(&m, "bad").state, NodeState::Dead, "{case}");
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

// TestMemberList_ProbeNode_Awareness_Degraded
#[test]
fn probe_node_awareness_degraded() {
    let mut net = probe_cluster(|n| fast_probes(n, ms(10), ms(200)));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &vsn()), None, false);
    // m4 never starts.
    m1.alive_node(
        now,
        alive("m4", 4, PORT, 1, &[1, 5, 1, 1, 1, 1]),
        None,
        false,
    );

    // Start the health in a degraded state.
    m1.awareness_mut().apply_delta(1);
    assert_eq!(m1.health_score(), 1);

    m1.probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    // The slowed-down failure detector waited for twice the interval.
    let probe_time = net.now - now;
    assert!(
        probe_time >= 2 * ms(200) - ms(50),
        "probed too quickly: {probe_time:?}"
    );
    assert!(
        net.m(2).seq() == 1 || net.m(3).seq() == 1,
        "bad seqnos {}, {}",
        net.m(2).seq(),
        net.m(3).seq()
    );
    // Both peers nacked, so the score stays where it was.
    assert_eq!(net.m(1).health_score(), 1);
}

// TestMemberList_ProbeNode_Wrong_VSN
#[test]
fn probe_node_wrong_vsn() {
    let mut net = probe_cluster(|n| fast_probes(n, ms(10), ms(200)));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m4", 4, PORT, 1, &[0; 6]), None, false);
    m1.awareness_mut().apply_delta(1);
    assert_eq!(m1.health_score(), 1);

    assert!(
        m1.table().get("m4").is_none(),
        "m4 must be ignored because of its wrong versions"
    );
}

// TestMemberList_ProbeNode_Awareness_Improved
#[test]
fn probe_node_awareness_improved() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(10), ms(200)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.awareness_mut().apply_delta(1);
    assert_eq!(m1.health_score(), 1);

    m1.probe_node(now, "m2");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    // A good probe improves the score.
    assert_eq!(net.m(1).health_score(), 0);
}

// TestMemberList_ProbeNode_Awareness_MissedNack
#[test]
fn probe_node_awareness_missed_nack() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(10), ms(200)));
    net.start_quiet(2, fast_probes("m2", ms(10), ms(200)));
    // m3 and m4 never start.
    let now = net.now;
    let m1 = net.m_mut(1);
    for (name, host) in [("m2", 2), ("m3", 3), ("m4", 4)] {
        m1.alive_node(now, alive(name, host, PORT, 1, &vsn()), None, false);
    }
    assert_eq!(m1.health_score(), 0);

    m1.probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    let probe_time = net.now - now;
    assert!(
        probe_time <= ms(200) + ms(50),
        "took too long: {probe_time:?}"
    );
    // Dinged for the nack m3 never sent.
    assert_eq!(net.m(1).health_score(), 1);
}

// TestMemberList_ProbeNode_Awareness_OldProtocol
#[test]
fn probe_node_awareness_old_protocol() {
    let mut net = probe_cluster(config);
    let now = net.now;
    let m1 = net.m_mut(1);
    // No versions anywhere: nobody is asked for nacks. m4 never starts.
    for (name, host) in [("m2", 2), ("m3", 3), ("m4", 4)] {
        m1.alive_node(now, alive(name, host, PORT, 1, &[]), None, false);
    }
    assert_eq!(m1.health_score(), 0);

    m1.probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    let probe_time = net.now - now;
    assert!(
        probe_time <= ms(200) + ms(20),
        "took too long: {probe_time:?}"
    );

    net.run_for(ms(220));
    assert!(
        net.m(2).seq() == 1 || net.m(3).seq() == 1,
        "bad seqnos {}, {}",
        net.m(2).seq(),
        net.m(3).seq()
    );
    // With the old protocol a failed probe dings us.
    assert_eq!(net.m(1).health_score(), 1);
}

// TestMemberList_ProbeNode_Buddy
#[test]
fn probe_node_buddy() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    // m2 bootstrapped its own alive in `new`.

    // Force the state to suspect so the ping carries the accusation.
    m1.table_mut().get_mut("m2").expect("known").state = NodeState::Suspect;
    m1.probe_node(now, "m2");
    net.finish_probe(1);

    assert_eq!(net.m(1).seq(), 1, "a ping must have been sent");
    let ping = net.sent_between(1, 2).next().expect("ping sent");
    assert!(matches!(
        &ping.messages()[..],
        [Message::Ping(p), Message::Suspect(s)]
            if p.seq_no == 1 && s.node == "m2" && s.from == "m1" && s.incarnation == 1
    ));
    // m2 refuted: one alive queued (replacing its own earlier alive).
    assert_eq!(queued_types(net.m(2)), [MessageType::Alive as u8]);
    assert_eq!(state(net.m(2), "m2").incarnation, 2);
    assert_eq!(state(net.m(1), "m2").state, NodeState::Suspect);
}

/// The cluster of Go's (disabled) FallbackTCP tests: m1 probing with a 10 ms
/// timeout and 200 ms interval, m2 and m3 known without versions, and m4
/// (running, with `m4_vsn`) unreachable over UDP.
fn fallback_cluster(m4_vsn: &[u8]) -> Net {
    let mut net = probe_cluster(config);
    net.start_quiet(4, config("m4"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &[]), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &[]), None, false);
    m1.alive_node(now, alive("m4", 4, PORT, 1, m4_vsn), None, false);
    net.udp_blocked.insert(addr(4));
    net
}

const PROBE_TIME_MAX: Duration = ms(200 + 20);

/// Probes m4 from m1; returns how long the probe took.
fn probe_m4(net: &mut Net) -> Duration {
    let start = net.now;
    net.m_mut(1).probe_node(start, "m4");
    net.finish_probe(1);
    net.now - start
}

// TestMemberList_ProbeNode_FallbackTCP (disabled upstream)
#[test]
fn probe_node_fallback_tcp() {
    let mut net = fallback_cluster(&vsn());

    let probe_time = probe_m4(&mut net);
    assert_eq!(
        state(net.m(1), "m4").state,
        NodeState::Alive,
        "the TCP fallback ping must keep m4 alive"
    );
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    assert_eq!(net.dialed, [(addr(1), addr(4))]);
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 1 || net.m(3).seq() == 1);

    // Now TCP is gone too: the probe must fail, on time.
    net.tcp_blocked.insert(addr(4));
    let probe_time = probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 2 || net.m(3).seq() == 2);
}

// TestMemberList_ProbeNode_FallbackTCP_Disabled (disabled upstream)
#[test]
fn probe_node_fallback_tcp_disabled() {
    let mut net = fallback_cluster(&vsn());
    net.m_mut(1).config_mut().disable_tcp_pings = true;

    let probe_time = probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    assert!(net.dialed.is_empty(), "no TCP ping when disabled");
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 1 || net.m(3).seq() == 1);
}

// The per-node switch (Go's `DisableTcpPingsForNode`) behaves the same.
#[test]
fn probe_node_fallback_tcp_disabled_for_node() {
    let mut net = fallback_cluster(&vsn());
    net.m_mut(1).config_mut().disable_tcp_pings_for_node =
        Some(Arc::new(|name: &str| name == "m4"));

    probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(net.dialed.is_empty(), "no TCP ping to m4");
}

// TestMemberList_ProbeNode_FallbackTCP_OldProtocol (disabled upstream)
#[test]
fn probe_node_fallback_tcp_old_protocol() {
    // m4 understands at most protocol 2: no TCP pings.
    let mut net = fallback_cluster(&[1, 2, 2, 0, 0, 0]);

    let probe_time = probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    assert!(net.dialed.is_empty(), "no TCP ping to an old node");
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 1 || net.m(3).seq() == 1);
}

// ---- gossip and push/pull -----------------------------------------------------

/// One gossip round, as Go's `m.gossip()`. The tick re-arms itself; on a
/// quiet node that next round is dropped, so exactly one happens.
fn gossip_once(m: &mut Membership, now: Instant) {
    m.gossip_tick(now);
    m.clear_timers();
}

/// One push/pull with a random live node, as Go's `m.pushPull()`.
fn push_pull_once(m: &mut Membership, now: Instant) {
    m.push_pull_tick(now);
    m.clear_timers();
}

/// Alive messages (by node name) in the datagrams from `from` to `to`.
fn alives_sent(net: &Net, from: u8, to: u8) -> Vec<String> {
    let mut names: Vec<String> = net
        .sent_between(from, to)
        .flat_map(Datagram::messages)
        .filter_map(|m| match m {
            Message::Alive(a) => Some(a.node),
            _ => None,
        })
        .collect();
    names.sort();
    names
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

// TestMemberlist_Gossip. Go's m2 reports three joins, one of them about
// itself: built without its own entry (`newMemberlist`), it creates one from
// the gossiped alive about itself, refutes it, and Go then still fires
// NotifyJoin for the (dead) entry. Our m2 always has its own entry, so the
// alive about itself is recognised as identical and ignored; every one of
// the three broadcasts is still delivered.
#[test]
fn gossip() {
    let mut net = Net::new(LOOPBACK);
    let gossip_fast = |name: &str| Config {
        gossip_interval: ms(10),
        ..config(name)
    };
    net.start_quiet(1, gossip_fast("m1"));
    net.start_quiet(2, gossip_fast("m2"));
    // Go's m3 never listens where m1 expects it.
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &vsn()), None, false);

    gossip_once(net.m_mut(1), now);
    net.run_for(ms(3));

    assert_eq!(alives_sent(&net, 1, 2), ["m1", "m2", "m3"]);
    assert_eq!(joined_names(&net.go_events(2)), ["m1", "m3"]);
    assert_eq!(state(net.m(2), "m2").incarnation, 1, "nothing to refute");
}

// TestMemberlist_GossipToDead. Go expects two events on m2; the second is
// the join m2 fires about itself (see `gossip`).
#[test]
fn gossip_to_dead() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(
        1,
        Config {
            gossip_interval: ms(1),
            gossip_to_the_dead_time: ms(100),
            ..config("m1")
        },
    );
    net.start_quiet(2, config("m2"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);

    // Dead for twice GossipToTheDeadTime: no gossip.
    let s = m1.table_mut().get_mut("m2").expect("known");
    s.state = NodeState::Dead;
    s.state_change = Instant::from_nanos(now.as_nanos() - ms(200).as_nanos() as u64);
    gossip_once(m1, now);
    net.run_for(ms(50));
    assert_eq!(net.sent_between(1, 2).count(), 0, "shouldn't gossip");
    assert!(net.go_events(2).is_empty(), "shouldn't get gossip");

    // Died recently: gossip, so it can learn of it and refute.
    let now = net.now;
    set_state_change(
        net.m_mut(1),
        "m2",
        Instant::from_nanos(now.as_nanos() - ms(20).as_nanos() as u64),
    );
    gossip_once(net.m_mut(1), now);
    net.run_for(ms(3));
    assert_eq!(alives_sent(&net, 1, 2), ["m1", "m2"]);
    assert_eq!(joined_names(&net.go_events(2)), ["m1"]);
}

// TestMemberlist_PushPull. Go expects two events on m2; the second is the
// join m2 fires about itself (see `gossip`). HEAD also checks metrics; the
// stream counters stand in for them.
#[test]
fn push_pull() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(
        1,
        Config {
            gossip_interval: Duration::from_secs(10),
            push_pull_interval: Some(ms(1)),
            ..config("m1")
        },
    );
    net.start_quiet(
        2,
        Config {
            gossip_interval: Duration::from_secs(10),
            ..config("m2")
        },
    );
    let now = net.now;
    net.m_mut(1)
        .alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);

    push_pull_once(net.m_mut(1), now);
    net.run_for(ms(3));

    assert_eq!(net.dialed, [(addr(1), addr(2))]);
    assert_eq!(joined_names(&net.go_events(2)), ["m1"]);
    assert_eq!(state(net.m(2), "m1").state, NodeState::Alive);
    assert_eq!(net.m(1).stats().streams_out, 1);
    assert_eq!(net.m(2).stats().streams_in, 1);
}

// ---- cluster level, without sockets -------------------------------------------

// TestMemberList_Members
#[test]
fn members() {
    let mut m = standalone(test_config("local"));
    let records = [
        ("test", NodeState::Alive),
        ("test2", NodeState::Dead),
        ("test3", NodeState::Suspect),
    ]
    .map(|(name, state)| NodeRecord {
        name: name.to_owned(),
        addr: vec![127, 0, 0, 1],
        port: PORT,
        meta: Vec::new(),
        incarnation: 1,
        state,
        state_change: T0,
        vsn: [1, 5, 2, 0, 0, 0],
        features: Features::NONE,
    });
    m.replace_table(records);
    let mut names: Vec<String> = m.members().into_iter().map(|n| n.name).collect();
    names.sort();
    assert_eq!(names, ["test", "test3"]);
    assert_eq!(m.num_members(), 2);
}

/// Starts m1 and m2 (Go's `Create` with `testConfig`) and has m2 join m1 by
/// name; returns the network and the join result.
fn joined_pair(configure: impl Fn(Config) -> Config) -> (Net, usize, Vec<(SocketAddr, JoinError)>) {
    joined_pair_with(configure, |_| Arc::new(NoDelegate))
}

fn joined_pair_with(
    configure: impl Fn(Config) -> Config,
    delegate: impl Fn(u8) -> Arc<dyn Delegate>,
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

// TestMemberlist_Join
#[test]
fn join() {
    let (net, joined, errors) = joined_pair(|c| c);
    assert_eq!(joined, 1);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(net.m(2).members().len(), 2);
    assert_eq!(net.m(2).estimated_size(), 2);
}

// TestMemberlist_Join_Cancel
#[test]
fn join_cancel() {
    let delegates: Vec<Arc<Recorder>> = (0..2)
        .map(|_| {
            Arc::new(Recorder {
                cancel_merge: Some("Custom merge canceled".to_owned()),
                ..Recorder::default()
            })
        })
        .collect();
    let (net, joined, errors) =
        joined_pair_with(|c| c, |host| delegates[usize::from(host) - 1].clone());

    assert_eq!(joined, 0);
    assert!(
        errors
            .iter()
            .any(|(_, e)| *e == JoinError::MergeRefused("Custom merge canceled".to_owned())),
        "unexpected errors: {errors:?}"
    );
    assert_eq!(net.m(2).members().len(), 1);
    assert_eq!(net.m(1).members().len(), 1);
    for d in &delegates {
        assert!(d.log().merges > 0, "should invoke delegate");
    }
}

// TestMemberlist_Join_Cancel_Passive
#[test]
fn join_cancel_passive() {
    let delegates: Vec<Arc<Recorder>> = ["m1", "m2"]
        .into_iter()
        .map(|own| {
            Arc::new(Recorder {
                alive_only: Some(own.to_owned()),
                ..Recorder::default()
            })
        })
        .collect();
    let (net, joined, errors) =
        joined_pair_with(|c| c, |host| delegates[usize::from(host) - 1].clone());

    assert_eq!(joined, 1);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(net.m(2).members().len(), 1);
    assert_eq!(net.m(1).members().len(), 1);
    for d in &delegates {
        assert!(d.log().alives > 0, "should invoke delegate");
    }
}

// TestMemberlist_Leave
#[test]
fn leave() {
    let (mut net, joined, _) = joined_pair(|c| Config {
        gossip_interval: ms(1),
        ..c
    });
    assert_eq!(joined, 1);
    assert_eq!(net.m(1).members().len(), 2);
    assert_eq!(net.m(2).members().len(), 2);

    let now = net.now;
    let token = net
        .m_mut(1)
        .leave(now)
        .expect("m2 is live, so the leave must be awaited");
    // Go's Leave(time.Second) returns without error: the broadcast is done.
    let limit = now + Duration::from_secs(1);
    while !net.done.contains(&(addr(1), token)) {
        assert!(net.step(limit), "timeout waiting for leave broadcast");
    }
    net.run_for(ms(10));

    assert_eq!(net.m(1).members().len(), 1);
    assert_eq!(net.m(2).members().len(), 1);
    assert_eq!(state(net.m(2), "m1").state, NodeState::Left);
}

// TestMemberlist_JoinShutdown
#[test]
fn join_shutdown() {
    let (mut net, joined, _) = joined_pair(|c| Config {
        probe_interval: ms(1),
        probe_timeout: Duration::from_micros(100),
        suspicion_max_timeout_mult: 1,
        ..c
    });
    assert_eq!(joined, 1);
    assert_eq!(net.m(2).members().len(), 2);

    // Shutdown: m1 just disappears.
    net.nodes.remove(&addr(1));
    net.run_for(ms(10));
    assert_eq!(net.m(2).members().len(), 1);
}

// TestMemberlist_conflictDelegate. Deliberate deviation: Go's joiner
// merges a cluster that already holds its name (join "succeeds", its own
// conflict delegate fires, and it is never admitted); here the joiner's
// join fails with the name conflict, and the holder's delegate is told.
#[test]
fn conflict_delegate() {
    let recorder = Arc::new(Recorder::default());
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), Arc::new(NoDelegate));
    // Same name, another address.
    net.start(2, test_config("m1"), recorder.clone());
    let now = net.now;
    net.m_mut(1).join(
        now,
        &[JoinTarget {
            addr: addr(2),
            name: Some("m1".to_owned()),
        }],
    );
    let result = net.finish_join(1);
    assert_eq!(result.joined, 0);
    assert_eq!(
        result.errors,
        [(
            addr(2),
            JoinError::NameConflict {
                name: "m1".to_owned(),
                holder: addr(2)
            }
        )]
    );
    net.run_for(ms(250));

    let log = recorder.log();
    let (existing, other) = log.conflicts.first().expect("should get notified");
    assert_eq!(existing.name, other.name);
    assert_eq!(existing.addr, ip(2));
    assert_eq!(other.addr, ip(1));
    assert_eq!(net.m(1).members().len(), 1, "the joiner merged nothing");
}

// TestMemberlist_PingDelegate
#[test]
fn ping_delegate() {
    let delegates: Vec<Arc<Recorder>> = (0..2)
        .map(|_| {
            Arc::new(Recorder {
                ack_payload: Some(b"whatever".to_vec()),
                ..Recorder::default()
            })
        })
        .collect();
    let (mut net, joined, _) = joined_pair_with(
        |c| Config {
            probe_interval: ms(100),
            // Go keeps the 500 ms default; ours must not exceed the interval.
            probe_timeout: ms(50),
            ..c
        },
        |host| delegates[usize::from(host) - 1].clone(),
    );
    assert_eq!(joined, 1);
    assert_eq!(net.m(1).num_members(), 2);
    assert_eq!(net.m(2).num_members(), 2);

    net.run_for(2 * ms(100));

    let log = delegates[1].log();
    let (other, rtt, payload) = log.pings.last().expect("should get notified");
    assert_eq!(Some(other), net.m(1).local_node().as_ref());
    assert!(*rtt > Duration::ZERO, "rtt should be greater than 0");
    assert_eq!(payload, b"whatever");
}

// TestMemberlist_Join_protocolVersions
#[test]
fn join_protocol_versions() {
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), Arc::new(NoDelegate));
    net.start(2, test_config("m2"), Arc::new(NoDelegate));
    net.start(
        3,
        Config {
            protocol_version: 5,
            ..test_config("m3")
        },
        Arc::new(NoDelegate),
    );
    for (host, name) in [(2, "m2"), (3, "m3")] {
        let now = net.now;
        net.m_mut(1).join(
            now,
            &[JoinTarget {
                addr: addr(host),
                name: Some(name.to_owned()),
            }],
        );
        let result = net.finish_join(1);
        assert_eq!(result.joined, 1, "joining {name}: {:?}", result.errors);
        assert!(result.errors.is_empty());
        net.joins.clear();
        // Go's yield().
        net.run_for(ms(250));
    }
    assert_eq!(net.m(1).num_members(), 3);
}

// TestMemberlist_Join_Protocol_Compatibility
#[test]
fn join_protocol_compatibility() {
    for (v1, v2) in [(2, 1), (2, 3), (3, 2), (3, 1)] {
        let (net, joined, errors) = joined_pair_with(
            |c| {
                let version = if c.name == "m1" { v1 } else { v2 };
                Config {
                    protocol_version: version,
                    ..c
                }
            },
            |_| Arc::new(NoDelegate),
        );
        assert_eq!(joined, 1, "{v1},{v2}: {errors:?}");
        assert_eq!(net.m(2).members().len(), 2, "{v1},{v2}");
        assert_eq!(net.m(1).members().len(), 2, "{v1},{v2}");
    }
}

fn roles(m: &Membership) -> BTreeMap<String, String> {
    m.members()
        .into_iter()
        .map(|n| (n.name, String::from_utf8(n.meta).expect("utf-8 meta")))
        .collect()
}

fn expect_roles(net: &Net, m1: &str, m2: &str) {
    for host in [1, 2] {
        let roles = roles(net.m(host));
        assert_eq!(roles.len(), 2, "bad: {roles:?}");
        assert_eq!(roles["m1"], m1, "bad role for m1 on node {host}");
        assert_eq!(roles["m2"], m2, "bad role for m2 on node {host}");
    }
}

/// m1 ("web") joins m2 ("lb"), both with metadata delegates; then Go's
/// `yield()`.
fn meta_pair() -> (Net, Arc<Recorder>, Arc<Recorder>) {
    let d1 = Arc::new(Recorder::mock(b"web", b"", &[]));
    let d2 = Arc::new(Recorder::mock(b"lb", b"", &[]));
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), d1.clone());
    net.start(2, test_config("m2"), d2.clone());
    let now = net.now;
    net.m_mut(1).join(
        now,
        &[JoinTarget {
            addr: addr(2),
            name: Some("m2".to_owned()),
        }],
    );
    assert_eq!(net.finish_join(1).joined, 1);
    net.run_for(ms(250));
    (net, d1, d2)
}

// TestMemberlist_delegateMeta
#[test]
fn delegate_meta() {
    let (net, _, _) = meta_pair();
    expect_roles(&net, "web", "lb");
}

// TestMemberlist_delegateMeta_Update
#[test]
fn delegate_meta_update() {
    let (mut net, d1, d2) = meta_pair();
    d1.log().meta = b"api".to_vec();
    d2.log().meta = b"db".to_vec();
    let now = net.now;
    for host in [1, 2] {
        net.m_mut(host).update_node(now).expect("metadata fits");
    }
    net.run_for(ms(250));
    expect_roles(&net, "api", "db");
}

// TestMemberlist_UserData
#[test]
fn user_data() {
    let fast = |c: Config| Config {
        gossip_interval: ms(100),
        push_pull_interval: Some(ms(100)),
        ..c
    };
    let broadcasts: [&[u8]; 2] = [b"test", b"foobar"];
    let d1 = Arc::new(Recorder::mock(b"", b"something", &[]));
    let d2 = Arc::new(Recorder::mock(b"", b"my state", &broadcasts));
    let delegates = [d1.clone(), d2.clone()];
    let (mut net, joined, _) =
        joined_pair_with(fast, |host| delegates[usize::from(host) - 1].clone());
    assert_eq!(joined, 1);
    assert_eq!(net.m(2).num_members(), 2);

    let limit = net.now + Duration::from_secs(5);
    let arrived = || {
        let mut msgs = d1.log().msgs.clone();
        msgs.sort();
        msgs == [b"foobar".to_vec(), b"test".to_vec()]
            && d1.log().remote_state == b"my state"
            && d2.log().remote_state == b"something"
    };
    while !arrived() {
        assert!(net.step(limit), "user data never arrived");
    }
}

// TestMemberlist_SendTo, and TestTransport_Send's best-effort and reliable
// sends.
#[test]
fn send_to() {
    let fast = |c: Config| Config {
        gossip_interval: ms(1),
        push_pull_interval: Some(ms(1)),
        ..c
    };
    let d1 = Arc::new(Recorder::mock(b"", b"", &[]));
    let d2 = Arc::new(Recorder::mock(b"", b"", &[]));
    let delegates = [d1.clone(), d2.clone()];
    let (mut net, joined, _) =
        joined_pair_with(fast, |host| delegates[usize::from(host) - 1].clone());
    assert_eq!(joined, 1);
    assert_eq!(net.m(2).num_members(), 2);

    net.m_mut(1)
        .send_best_effort(addr(2), "m2", b"ping")
        .expect("send");
    net.m_mut(2)
        .send_best_effort(addr(1), "m1", b"pong")
        .expect("send");
    net.run_for(ms(12));
    assert_eq!(d1.log().msgs, [b"pong".to_vec()]);
    assert_eq!(d2.log().msgs, [b"ping".to_vec()]);

    let now = net.now;
    net.m_mut(1)
        .send_reliable(now, addr(2), "m2", b"reliable")
        .expect("send");
    net.run_for(ms(12));
    assert_eq!(d2.log().msgs, [b"ping".to_vec(), b"reliable".to_vec()]);

    // With names required, a send without one is refused.
    assert!(net.m_mut(1).send_best_effort(addr(2), "", b"x").is_err());
}

// TestCreate: the local member carries the protocol and delegate versions.
#[test]
fn create() {
    let m = standalone(Config {
        protocol_version: 3,
        delegate_protocol_min: 1,
        delegate_protocol_max: 3,
        delegate_protocol_version: 2,
        ..test_config("local")
    });
    let local = m.local_node().expect("local node");
    assert_eq!(local.versions, [1, 5, 3, 1, 3, 2]);
}

// A Port of 0 in an indirect ping, alive, or push/pull record is always
// replaced by the receiver's own BindPort (Go: handleAlive,
// handleIndirectPing, mergeRemoteState use `m.config.BindPort`). Not a Go
// test; it only matters when the advertised port differs from the bound
// one (NAT, `advertise_port`).
#[test]
fn zero_port_means_bind_port() {
    let advertised = SocketAddr::new(ip(1), 8000);
    let mut m = Membership::new(
        test_config("local"),
        Arc::new(NoDelegate),
        advertised,
        [1; 32],
        T0,
    )
    .expect("valid config");
    m.clear_timers();
    while m.poll_action().is_some() {}

    // An alive packet.
    let mut packet = Vec::new();
    Message::Alive(alive("test", 5, 0, 1, &vsn()))
        .encode(crate::wire::Context::Packet, &mut packet);
    m.handle_packet(T0, addr(5), &packet);
    let mut wrong = Vec::new();
    if state(&m, "test").port != PORT {
        wrong.push(("alive", state(&m, "test").port));
    }

    // An indirect ping: the relayed ping goes to the target at BindPort.
    let req = IndirectPing {
        seq_no: 7,
        target: vec![127, 0, 0, 9],
        port: 0,
        node: "target".to_owned(),
        nack: false,
        source_addr: vec![127, 0, 0, 5],
        source_port: PORT,
        source_node: "test".to_owned(),
    };
    let mut packet = Vec::new();
    Message::IndirectPing(req).encode(crate::wire::Context::Packet, &mut packet);
    m.handle_packet(T0, addr(5), &packet);
    let relayed: Vec<SocketAddr> = std::iter::from_fn(|| m.poll_action())
        .filter_map(|a| match a {
            Action::Transmit { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(relayed.len(), 1);
    if relayed[0] != addr(9) {
        wrong.push(("indirect ping", relayed[0].port()));
    }

    // A push/pull record.
    let remote = PushPull {
        join: false,
        nodes: vec![PushNodeState {
            vsn: vsn(),
            ..record("other", 6, 1, NodeState::Alive)
        }],
        user_state: Vec::new(),
    };
    m.merge_remote_state(T0, false, remote)
        .expect("compatible versions");
    if state(&m, "other").port != PORT {
        wrong.push(("push/pull record", state(&m, "other").port));
    }
    assert!(wrong.is_empty(), "ports used instead of {PORT}: {wrong:?}");
}

/// Go's `getBindAddrNet(network)`: 127.0.`network`.`host`.
fn net_addr(network: u8, host: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, network, host)), PORT)
}

fn allowing(name: &str, cidrs: &[&str]) -> Config {
    Config {
        cidrs_allowed: cidrs
            .iter()
            .map(|c| c.parse().expect("valid CIDR"))
            .collect(),
        ..test_config(name)
    }
}

// Beyond Go: a push/pull that teaches a node members it had never seen is
// followed by one catch-up sync; one that teaches nothing is not.
#[test]
fn a_join_that_teaches_members_is_followed_by_one_catch_up_sync() {
    for delay in [Some(ms(500)), None] {
        let mut net = Net::new(LOOPBACK);
        let quiet = |name: &str| Config {
            catch_up_delay: delay,
            push_pull_interval: None,
            ..test_config(name)
        };
        for (host, name) in [(1, "m1"), (2, "m2"), (3, "m3")] {
            net.start(host, quiet(name), Arc::new(NoDelegate));
        }
        assert_eq!(
            join_at(&mut net, addr(2), vec![named("m1", addr(1))]),
            (1, 0)
        );
        net.run_for(Duration::from_secs(3));
        net.dialed.clear();

        assert_eq!(
            join_at(&mut net, addr(3), vec![named("m1", addr(1))]),
            (1, 0)
        );
        net.run_for(Duration::from_secs(5));
        let by_m3: Vec<SocketAddr> = net
            .dialed
            .iter()
            .filter(|(from, _)| *from == addr(3))
            .map(|&(_, to)| to)
            .collect();
        match delay {
            // The join, then one catch-up with m1 or m2, which taught
            // nothing new, so no more.
            Some(_) => {
                assert_eq!(by_m3.len(), 2, "{by_m3:?}");
                assert!([addr(1), addr(2)].contains(&by_m3[1]), "{by_m3:?}");
            }
            None => assert_eq!(by_m3, [addr(1)]),
        }
        assert_eq!(net.m(3).num_members(), 3);
    }
}

// Beyond Go: a node whose host lags behind in handing over datagrams
// blames itself for failed probes, and puts off expiring suspicions.
#[test]
fn a_lagging_node_blames_itself_not_its_peers() {
    let lagging = ms(400); // twice that reaches the 500 ms probe timeout
    let (mut net, joined, _) = joined_pair(|c| c);
    assert_eq!(joined, 1);
    net.nodes.remove(&addr(2));
    net.m_mut(1).set_local_lag(lagging);
    net.run_for(Duration::from_secs(5));
    let m1 = net.m(1);
    assert_eq!(m1.stats().failed_probes, 0);
    assert!(m1.stats().inconclusive_probes > 0);
    assert!(m1.health_score() > 0, "the node counts it against itself");
    assert_eq!(state(m1, "m2").state, NodeState::Alive);

    // Keeping up again, it suspects m2; lagging once more before the
    // suspicion runs out, it holds off declaring m2 dead.
    net.m_mut(1).set_local_lag(Duration::ZERO);
    while state(net.m(1), "m2").state == NodeState::Alive {
        assert!(
            net.step(net.now + Duration::from_secs(30)),
            "m2 never suspected"
        );
    }
    net.m_mut(1).set_local_lag(lagging);
    net.run_for(Duration::from_secs(120));
    assert_eq!(state(net.m(1), "m2").state, NodeState::Suspect);
    assert!(net.m(1).stats().deferred_suspicions > 0);

    net.m_mut(1).set_local_lag(Duration::ZERO);
    net.run_for(Duration::from_secs(5));
    assert_eq!(state(net.m(1), "m2").state, NodeState::Dead);
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

// TestMemberlist_JoinDifferentNetworksUniqueMask
#[test]
fn join_different_networks_unique_mask() {
    let mut net = Net::new(LOOPBACK);
    let (a1, a2) = (net_addr(0, 10), net_addr(1, 11));
    net.start_at(a1, allowing("m1", &["127.0.0.0/8"]), Arc::new(NoDelegate));
    net.start_at(a2, allowing("m2", &["127.0.0.0/8"]), Arc::new(NoDelegate));

    assert_eq!(join_at(&mut net, a2, vec![named("m1", a1)]), (1, 0));
    let m2 = &net.nodes[&a2];
    assert_eq!(m2.members().len(), 2);
    assert_eq!(m2.estimated_size(), 2);
}

// TestMemberlist_JoinDifferentNetworksMultiMasks
#[test]
fn join_different_networks_multi_masks() {
    let masks = ["127.0.0.0/24", "127.0.1.0/24"];
    let mut net = Net::new(LOOPBACK);
    let (a1, a2, a3, a4) = (
        net_addr(0, 10),
        net_addr(1, 11),
        net_addr(2, 12),
        net_addr(2, 13),
    );
    net.start_at(a1, allowing("m1", &masks), Arc::new(NoDelegate));
    net.start_at(a2, allowing("m2", &masks), Arc::new(NoDelegate));
    assert_eq!(join_at(&mut net, a2, vec![named("m1", a1)]), (1, 0));
    assert_eq!(net.nodes[&a2].members().len(), 2);

    let others_unchanged = |net: &Net| {
        for at in [a1, a2] {
            let m = &net.nodes[&at];
            assert_eq!(m.members().len(), 2, "{} should have 2 nodes", m.name());
            assert_eq!(
                m.estimated_size(),
                2,
                "{} should have 2 est. nodes",
                m.name()
            );
        }
    };

    // A rogue node allowing every network: in Go it completes the push/pull
    // (and so sees the others) but is never admitted; swimlist goes
    // further and refuses the exchange itself, so it sees no one either.
    net.start_at(a3, allowing("m3", &["127.0.0.0/8"]), Arc::new(NoDelegate));
    assert_eq!(join_at(&mut net, a3, vec![named("m1", a1)]), (0, 1));
    assert_eq!(net.nodes[&a3].members().len(), 1);
    others_unchanged(&net);

    // A rogue whose own mask excludes itself; joining without names fails
    // under `require_node_names` (Go ignores that error), and m1 and m2
    // still do not see it.
    net.start_at(a4, allowing("m4", &masks), Arc::new(NoDelegate));
    let targets = [a1, a2]
        .into_iter()
        .map(|addr| JoinTarget { addr, name: None })
        .collect();
    join_at(&mut net, a4, targets);
    others_unchanged(&net);

    // And it stays that way while the nodes gossip and probe.
    net.run_for(Duration::from_secs(2));
    others_unchanged(&net);
}

/// Go's `waitUntilSize`: up to 15 tries 500 ms apart.
fn wait_until_size(net: &mut Net, at: SocketAddr, expected: usize) {
    let limit = net.now + ms(7_500);
    while net.nodes[&at].num_members() != expected {
        assert!(
            net.step(limit),
            "{} expected to have {expected} members but had: {:?}",
            net.nodes[&at].name(),
            net.nodes[&at].members()
        );
    }
}

// TestMemberlist_EncryptedGossipTransition: moving a two-node cluster from
// plaintext to enforced encryption one restart at a time (key installed
// without verification, then outgoing verified, then incoming too) keeps
// it joinable at every step. Each restart is a leave, a shutdown and a new
// node at the same address with the same name, which must refute the
// "left" record the other node still holds.
#[test]
fn encrypted_gossip_transition() {
    // Go passes the base64 text itself as a 24-byte AES-192 key.
    const KEY: &[u8] = b"Hi16ZXu2lNCRVwtr20khAg==";
    let (a0, a1) = (addr(10), addr(11));
    let name = |at: SocketAddr| if at == a0 { "m0" } else { "m1" };
    let stage_config = |at: SocketAddr, stage: usize| {
        let c = Config {
            gossip_interval: ms(100),
            ..config(name(at))
        };
        if stage == 0 {
            return c;
        }
        Config {
            gossip_verify_incoming: stage >= 3,
            gossip_verify_outgoing: stage >= 2,
            ..c.with_secret_key(KEY).expect("valid key")
        }
    };
    let join_ok = |net: &mut Net, src: SocketAddr, dst: SocketAddr| {
        assert_eq!(join_at(net, src, vec![named(name(dst), dst)]), (1, 0));
        wait_until_size(net, src, 2);
        wait_until_size(net, dst, 2);
        for at in [src, dst] {
            let m = &net.nodes[&at];
            assert_eq!(m.members().len(), 2, "{}: {:?}", m.name(), m.members());
            assert_eq!(m.estimated_size(), 2, "{}: {:?}", m.name(), m.members());
        }
    };
    let leave_and_shutdown = |net: &mut Net, leaver: SocketAddr, bystander: SocketAddr| {
        let now = net.now;
        let m = net.nodes.get_mut(&leaver).expect("running");
        if let Some(token) = m.leave(now) {
            let limit = now + Duration::from_secs(1);
            while !net.done.contains(&(leaver, token)) {
                assert!(net.step(limit), "timeout waiting for leave broadcast");
            }
        }
        wait_until_size(net, bystander, 1);
        net.nodes.remove(&leaver);
        wait_until_size(net, bystander, 1);
    };

    let mut net = Net::new(LOOPBACK);
    net.start_at(a0, stage_config(a0, 0), Arc::new(NoDelegate));
    net.start_at(a1, stage_config(a1, 0), Arc::new(NoDelegate));
    join_ok(&mut net, a1, a0);

    for stage in 1..=3 {
        leave_and_shutdown(&mut net, a0, a1);
        net.start_at(a0, stage_config(a0, stage), Arc::new(NoDelegate));
        join_ok(&mut net, a0, a1);

        leave_and_shutdown(&mut net, a1, a0);
        net.start_at(a1, stage_config(a1, stage), Arc::new(NoDelegate));
        join_ok(&mut net, a1, a0);
    }

    // Locked down: every datagram is now encrypted.
    net.sent.clear();
    net.run_for(Duration::from_secs(1));
    assert!(!net.sent.is_empty());
    let keyring = net.nodes[&a0].config().keyring.clone();
    let inbound = Inbound {
        keyring: Some(&keyring),
        verify_incoming: true,
        ..Inbound::default()
    };
    for d in &net.sent {
        let packet = decode_packet(&d.bytes, &inbound).expect("decryptable");
        assert!(
            matches!(
                packet.layers.first(),
                Some(crate::wire::Layer::Encryption { .. })
            ),
            "plaintext datagram from {} to {}",
            d.from,
            d.to
        );
    }
}

// TestMemberlist_Join_with_Labels / _and_Encryption (HEAD only, from the
// catalogue): nodes with the same label join; a node without a label or
// with another label cannot, and leaves the others' state unchanged.
#[test]
fn join_with_labels() {
    for encrypted in [false, true] {
        let labelled = |name: &str, label: &str| {
            let c = Config {
                label: label.to_owned(),
                ..test_config(name)
            };
            if encrypted {
                c.with_secret_key(&[7; 16]).expect("valid key")
            } else {
                c
            }
        };
        let mut net = Net::new(LOOPBACK);
        net.start(1, labelled("m1", "blah"), Arc::new(NoDelegate));
        net.start(2, labelled("m2", "blah"), Arc::new(NoDelegate));
        assert_eq!(
            join_at(&mut net, addr(2), vec![named("m1", addr(1))]),
            (1, 0),
            "same label (encrypted: {encrypted})"
        );
        assert_eq!(net.m(1).num_members(), 2);
        assert_eq!(net.m(2).num_members(), 2);

        for (host, label) in [(3, ""), (4, "other")] {
            let name = format!("m{host}");
            net.start(host, labelled(&name, label), Arc::new(NoDelegate));
            let (joined, errors) = join_at(&mut net, addr(host), vec![named("m1", addr(1))]);
            assert_eq!(
                (joined, errors),
                (0, 1),
                "label {label:?} (encrypted: {encrypted})"
            );
            assert_eq!(net.m(host).num_members(), 1);
            net.run_for(ms(250));
            assert_eq!(net.m(1).num_members(), 2);
            assert_eq!(net.m(2).num_members(), 2);
            assert!(net.m(1).table().get(&name).is_none());
        }
    }
}

/// Not from Go: a dial whose result never comes (a transport that lost it)
/// still ends, so a join cannot hang on it.
#[test]
fn a_dial_never_reported_expires() {
    let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let config = Config::lan().with_name("lonely");
    let timeout = config.tcp_timeout;
    let mut m =
        Membership::new(config, Arc::new(NoDelegate), addr, [3; 32], Instant::ZERO).unwrap();
    while m.poll_action().is_some() {}
    let target = JoinTarget {
        addr: "10.0.0.2:7946".parse().unwrap(),
        name: None,
    };
    let id = m.join(Instant::ZERO, &[target]);
    assert!(matches!(m.poll_action(), Some(Action::Dial { .. })));
    m.handle_timeout(Instant::ZERO + timeout);
    assert!(
        !std::iter::from_fn(|| m.poll_action()).any(|a| matches!(a, Action::JoinFinished { .. })),
        "not before the grace period"
    );
    m.handle_timeout(Instant::ZERO + timeout + Duration::from_secs(2));
    let finished = std::iter::from_fn(|| m.poll_action()).find_map(|a| match a {
        Action::JoinFinished {
            id: done,
            joined,
            errors,
        } => Some((done, joined, errors)),
        _ => None,
    });
    let (done, joined, errors) = finished.expect("the join finished");
    assert_eq!((done, joined), (id, 0));
    assert_eq!(errors[0].1, JoinError::Dial(DialError::Lost), "{errors:?}");
}
