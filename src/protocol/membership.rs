//! [`Membership`]: one node's view of the cluster and the entry points the
//! runtime drives it through.
//!
//! Everything here is synchronous and deterministic: inputs are packets,
//! stream requests, dial results, API calls, the host's answers and the
//! passage of time (each with the current [`Instant`]); outputs are
//! one queue per consumer, each taken with its own `poll_*`: [`Transmit`]s
//! for the network, [`Event`]s for the event channel, [`Completion`]s for
//! waiting callers, [`Notification`]s and [`Query`]s for the application. The mechanisms live in their own files — state
//! transitions in `state.rs`, probing in `probe.rs`, gossip in `gossip.rs`,
//! push/pull, joins and partition healing in `push_pull.rs`, questions for
//! the host in `host_query.rs`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use smol_str::SmolStr;

use super::awareness::Awareness;
use super::broadcast_queue::BroadcastQueue;
use super::catch_up::CatchUp;
use super::dial_error::{DialError, JoinError};
use super::host_query::{HostQueries, Parked, Queries, Query};
use super::node_table::{NodeRecord, NodeTable};
use super::notification::Notification;
use super::output::{Completion, DialId, JoinId, NotifyToken, StreamId, Transmit};
use super::push_pull::HealContact;
use super::readiness::Readiness;
use super::samples::{Sample, Samples};
use super::seeded_news::SeededNews;
use super::state::NewsOrigin;
use super::stats::{Stats, TrafficByType};
use super::suspicion::SuspicionTimer;
use super::time::Instant;
use super::timers::{Timer, TimerKey, TimerQueue, TimerRun};
use super::user_broadcasts::UserBroadcasts;
use crate::config::{CompressionMode, Config, ConfigError};
use crate::node::{ip_to_wire, Event, Node, NodeState};
use crate::wire::{
    decode_packet, label::label_overhead, packet::encode_compound, read_stream,
    seal_encoded_stream, seal_packet, Alive, Compression, Context, DecodedStream, Encryption,
    EncryptionVersion, Features, Inbound, Message, Outbound, StreamOutbound, WireError,
    MAX_USER_MSG_BYTES, META_MAX_SIZE,
};

/// Why an API call could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The node's metadata is longer than 512 bytes.
    MetaTooLarge(usize),
    /// `require_node_names` is set and the destination has no name.
    NodeNameRequired,
    /// The message could not be framed (e.g. too large for a stream).
    Wire(WireError),
    /// The message is larger than what its way of sending carries.
    MessageTooLarge {
        /// How it was to be sent.
        kind: MessageKind,
        /// Its size in bytes (for a best-effort message: the datagram it
        /// makes, envelopes included).
        size: usize,
        /// The most that way carries.
        limit: usize,
    },
}

/// The ways of sending an application message, for
/// [`ProtocolError::MessageTooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageKind {
    /// One datagram to one node: at most [`MAX_DATAGRAM`] bytes once framed.
    BestEffort,
    /// A stream to one node: at most 20 MiB, what receivers accept.
    Reliable,
    /// Gossip: the message must fit a gossip packet (`udp_buffer_size`
    /// less the envelopes).
    Broadcast,
}

/// How long a stream carrying `bytes` may take in all: `tcp_timeout` to
/// connect and start, plus another `tcp_timeout` for every 64 KiB. A
/// transport gives a stream `tcp_timeout` without progress, extended by
/// each 64 KiB moved, so a large message that keeps flowing is never cut
/// short by a timeout meant for small ones.
pub fn stream_time_limit(tcp_timeout: Duration, bytes: usize) -> Duration {
    let chunks = u32::try_from(bytes / (64 * 1024)).unwrap_or(u32::MAX);
    tcp_timeout.saturating_mul(chunks.saturating_add(1))
}

/// The largest UDP datagram an IPv4 socket sends.
pub const MAX_DATAGRAM: usize = 65_507;

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid configuration: {e}"),
            Self::MetaTooLarge(n) => {
                write!(f, "node metadata is {n} bytes, at most {META_MAX_SIZE}")
            }
            Self::NodeNameRequired => f.write_str("node names are required by configuration"),
            Self::Wire(e) => write!(f, "cannot encode message: {e}"),
            Self::MessageTooLarge { kind, size, limit } => match kind {
                MessageKind::BestEffort => write!(
                    f,
                    "a best-effort message must fit one datagram of {limit} bytes once framed, \
                     this one makes {size}: send it with send_reliable"
                ),
                MessageKind::Reliable => write!(
                    f,
                    "a reliable message is {size} bytes, receivers accept at most {limit}: \
                     split it"
                ),
                MessageKind::Broadcast => write!(
                    f,
                    "a broadcast is {size} bytes, at most {limit} fit a gossip packet \
                     (udp_buffer_size less envelopes): raise udp_buffer_size or send it \
                     with send_reliable to each member"
                ),
            },
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Wire(e) => Some(e),
            _ => None,
        }
    }
}

/// A running suspicion of one node.
pub(super) struct Suspicion {
    pub(super) timer: SuspicionTimer,
    /// When the node became suspect (its `state_change` at that time).
    pub(super) started: Instant,
}

/// The probe in flight.
pub(super) struct Probe {
    pub(super) seq: u32,
    pub(super) target: SmolStr,
    /// Where the target's record was when the probe started: read there
    /// again if it still is, without a lookup by name.
    pub(super) position: usize,
    pub(super) sent: Instant,
    /// `sent` plus the awareness-scaled probe interval.
    pub(super) deadline: Instant,
    pub(super) expected_nacks: usize,
    pub(super) nacks: usize,
    /// Its timeout and deadline timers, disarmed when the ack comes.
    pub(super) timers: [TimerKey; 2],
}

/// What a packet's destination can read, as its record says: sealing
/// adds a CRC and picks the compression by it.
#[derive(Debug, Clone, Copy)]
pub(super) struct PeerReads {
    /// It speaks protocol 5, which reads a CRC.
    crc: bool,
    /// Its capabilities (`None` for an unknown peer).
    features: Option<Features>,
}

impl PeerReads {
    /// From a member's record, or as an unknown peer without one.
    pub(super) fn of(record: Option<&NodeRecord>) -> Self {
        PeerReads {
            crc: record.is_some_and(|r| r.protocol_max() >= 5),
            features: record.map(|r| r.features),
        }
    }

    /// Whether it asked for news to be stamped with its age (see
    /// [`crate::wire::news_age`]).
    pub(super) fn asks_news_age(&self) -> bool {
        self.features
            .is_some_and(|f| f.contains(Features::NEWS_AGE))
    }

    /// For a reply to a packet that came with a CRC or without: whoever
    /// sent one reads one.
    pub(super) fn replying(request_crc: bool) -> Self {
        PeerReads {
            crc: request_crc,
            features: None,
        }
    }
}

/// Who waits for an ack with a given sequence number.
pub(super) enum AckHandler {
    /// Our own probe.
    Probe,
    /// A ping we sent for someone else's indirect probe.
    Relay {
        to: SocketAddr,
        name: String,
        seq: u32,
        nack: bool,
    },
}

/// Why a stream was dialled.
pub(super) enum Dial {
    PushPull {
        join: Option<JoinId>,
        addr: SocketAddr,
        started: Instant,
    },
    TcpPing {
        seq: u32,
    },
    /// Partition healing asks `addr` (`name`, if known) whether anyone is
    /// there before it push/pulls.
    HealPing {
        seq: u32,
        addr: SocketAddr,
        name: Option<String>,
    },
    UserMessage,
}

pub(super) struct JoinProgress {
    pub(super) pending: usize,
    pub(super) joined: usize,
    pub(super) errors: Vec<(SocketAddr, JoinError)>,
}

/// One node's protocol state machine. See the [module docs](super).
pub struct Membership {
    pub(super) config: Config,
    /// Questions for the host and the steps they hold up.
    pub(super) queries: Queries,
    /// What acks carry (the host's last answer).
    pub(super) ack_payload: Option<Vec<u8>>,
    /// The host's broadcasts, encoded, each sent once.
    pub(super) host_broadcasts: VecDeque<Vec<u8>>,
    pub(super) rng: StdRng,
    /// Advertised address.
    pub(super) local_addr: SocketAddr,
    pub(super) table: NodeTable,
    pub(super) awareness: Awareness,
    /// alive/suspect/dead broadcasts.
    pub(super) broadcasts: BroadcastQueue,
    /// Records a joiner passes on once, behind all other news.
    pub(super) seeded: SeededNews,
    /// Application broadcasts, each until every member has it.
    pub(super) user_broadcasts: UserBroadcasts,
    pub(super) suspicions: HashMap<String, Suspicion>,
    pub(super) timers: TimerQueue,
    /// When the next gossip round would have been, while the gossip timer
    /// is parked for want of anything to send (see `gossip.rs`).
    pub(super) gossip_parked: Option<Instant>,
    pub(super) seq: u32,
    pub(super) incarnation: u32,
    pub(super) leaving: bool,
    pub(super) probe_index: usize,
    pub(super) probe: Option<Probe>,
    pub(super) acks: HashMap<u32, AckHandler>,
    pub(super) dials: HashMap<DialId, Dial>,
    pub(super) joins: HashMap<JoinId, JoinProgress>,
    pub(super) next_id: u64,
    /// Dead members forgotten by the table, remembered a while longer so a
    /// healed partition can still be bridged.
    pub(super) heal_memory: VecDeque<HealContact>,
    pub(super) seeds: Vec<SocketAddr>,
    pub(super) transmits: VecDeque<Transmit>,
    pub(super) events: VecDeque<Event>,
    pub(super) completions: VecDeque<Completion>,
    pub(super) samples: Samples,
    /// Accepted streams whose request came LZ4-compressed: only a swimlist
    /// peer sends that, so the reply may be LZ4 too (much cheaper than
    /// LZW for a large push/pull).
    pub(super) lz4_streams: std::collections::HashSet<StreamId>,
    pub(super) notifications: VecDeque<Notification>,
    pub(super) catch_up: CatchUp,
    /// How far behind the host is in handing over datagrams.
    pub(super) local_lag: Duration,
    /// Claims of dead nodes' names from new addresses, applied once
    /// `dead_node_reclaim_time` has passed (the newest claim per name).
    pub(super) reclaims: HashMap<String, Alive>,
    pub(super) readiness: Readiness,
    /// When each node last had its accusation sent to it (`state.rs`).
    pub(super) reminded: HashMap<String, Instant>,
    pub(super) stats: Stats,
    /// Messages received and sent by type (shown in `stats`).
    messages_in: TrafficByType,
    messages_out: TrafficByType,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("name", &self.config.name)
            .field("local_addr", &self.local_addr)
            .field("nodes", &self.table.len())
            .field("incarnation", &self.incarnation)
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// Creates the state machine for a node reachable at `advertise`,
    /// advertising `meta` (at most 512 bytes), starting at `now`. `asks`
    /// says which [`Query`] kinds the host answers. `seed` seeds its random
    /// choices (probe order, gossip targets, encryption nonces): give it 32
    /// bytes from the OS in production, a fixed value in tests.
    pub fn new(
        config: Config,
        meta: Vec<u8>,
        asks: HostQueries,
        advertise: SocketAddr,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Self, ProtocolError> {
        config.validate().map_err(ProtocolError::Config)?;
        if meta.len() > META_MAX_SIZE {
            return Err(ProtocolError::MetaTooLarge(meta.len()));
        }
        let max_multiplier = u32::try_from(config.awareness_max_multiplier).unwrap_or(u32::MAX);
        let mut m = Membership {
            awareness: Awareness::new(max_multiplier),
            config,
            queries: Queries::new(asks),
            ack_payload: None,
            host_broadcasts: VecDeque::new(),
            rng: StdRng::from_seed(seed),
            local_addr: advertise,
            table: NodeTable::default(),
            broadcasts: BroadcastQueue::new(),
            seeded: SeededNews::default(),
            user_broadcasts: UserBroadcasts::default(),
            suspicions: HashMap::new(),
            timers: TimerQueue::default(),
            gossip_parked: None,
            seq: 0,
            incarnation: 0,
            leaving: false,
            probe_index: 0,
            probe: None,
            acks: HashMap::new(),
            dials: HashMap::new(),
            joins: HashMap::new(),
            next_id: 0,
            heal_memory: VecDeque::new(),
            seeds: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            completions: VecDeque::new(),
            samples: Samples::default(),
            lz4_streams: std::collections::HashSet::new(),
            notifications: VecDeque::new(),
            catch_up: CatchUp::default(),
            local_lag: Duration::ZERO,
            reclaims: HashMap::new(),
            readiness: Readiness::default(),
            reminded: HashMap::new(),
            stats: Stats::default(),
            messages_in: TrafficByType::default(),
            messages_out: TrafficByType::default(),
        };
        m.incarnation = 1;
        if asks.ack_payload {
            m.queries.ask(Query::AckPayload, Parked::AckPayload);
        }
        let alive = m.local_alive(1, meta);
        m.alive_node(now, alive, None, true);
        m.schedule_periodic(now);
        m.flush_finished();
        Ok(m)
    }

    /// The alive message describing this node.
    pub(super) fn local_alive(&self, incarnation: u32, meta: Vec<u8>) -> Alive {
        Alive {
            incarnation,
            node: self.config.name.clone(),
            addr: ip_to_wire(self.local_addr.ip()),
            port: self.local_addr.port(),
            meta: (!meta.is_empty()).then_some(meta),
            vsn: self.config.vsn().to_vec(),
            features: match self.samples.enabled() {
                true => Features::LZ4.with(Features::NEWS_AGE),
                false => Features::LZ4,
            },
        }
    }

    /// Each periodic task starts after a random fraction of its period, so
    /// nodes started together do not act in lockstep.
    fn schedule_periodic(&mut self, now: Instant) {
        let probe = self.config.probe_interval;
        let gossip = self.config.gossip_interval;
        let push_pull = self.config.push_pull_interval;
        let heal = self.config.partition_healing_interval;
        let at = now + self.random_fraction(probe);
        self.timers.arm(at, Timer::ProbeTick);
        let at = now + self.random_fraction(gossip);
        self.timers.arm(at, Timer::GossipTick);
        if let Some(push_pull) = push_pull {
            let at = now + self.random_fraction(push_pull);
            self.timers.arm(at, Timer::PushPullTick);
        }
        if self.config.partition_healing && !heal.is_zero() {
            let at = now + heal + self.random_fraction(heal);
            self.timers.arm(at, Timer::HealTick);
        }
    }

    pub(super) fn random_fraction(&mut self, d: Duration) -> Duration {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.rng.random_range(0..nanos))
    }

    pub(super) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Counts a dropped packet, message or stream by reason, and logs it
    /// at warn (the 1st, 10th, 100th, … of each reason).
    pub(super) fn drop_for(&mut self, reason: &'static str) {
        let count = self.stats.drop_for(reason);
        if super::stats::worth_logging(count) {
            log::warn!("{}: drop ({reason}): {count} so far", self.config.name);
        }
    }

    pub(super) fn notify(&mut self, notification: Notification) {
        self.notifications.push_back(notification);
    }

    /// Queues a membership event, and logs it: joins, leaves and failures
    /// at info, metadata updates, suspicions and recoveries at debug.
    pub(super) fn emit(&mut self, event: Event) {
        match &event {
            Event::Join(_) | Event::Leave(..) => log::info!("{}: {event}", self.config.name),
            Event::Conflict(..) => log::warn!("{}: {event}", self.config.name),
            _ => log::debug!("{}: {event}", self.config.name),
        }
        self.events.push_back(event);
    }

    /// Emits membership news about a node at `now`, if it has a reportable
    /// address.
    pub(super) fn emit_for(
        &mut self,
        now: Instant,
        record: &NodeRecord,
        make: impl FnOnce(Node) -> Event,
    ) {
        if let Some(node) = record.to_node() {
            let event = make(node);
            let leave = matches!(event, Event::Leave(..));
            self.emit(event);
            self.note_news(now, leave);
        }
    }

    /// Turns finished broadcasts someone waits for into completions.
    pub(super) fn flush_finished(&mut self) {
        let finished = self.broadcasts.drain_finished();
        self.completions
            .extend(finished.map(|t| Completion::Broadcast(NotifyToken(t))));
    }

    // ---- driving the machine ------------------------------------------

    /// The next datagram, dial or stream reply for the network. Call after
    /// every `handle_*` call and API call, until it returns `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        pop_shrinking(&mut self.transmits)
    }

    /// The next membership event for the application's event channel. Call
    /// after every `handle_*` call and API call, until it returns `None`,
    /// and before [`Membership::poll_completion`], so that a caller woken by
    /// a completion finds the events of the same step already delivered.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        pop_shrinking(&mut self.events)
    }

    /// The next finished join or awaited broadcast, for the caller waiting
    /// on it. Call after every `handle_*` call and API call (after
    /// [`Membership::poll_event`]), until it returns `None`.
    #[must_use]
    pub fn poll_completion(&mut self) -> Option<Completion> {
        pop_shrinking(&mut self.completions)
    }

    /// The next thing to tell the application (user messages, remote
    /// state, conflicts, completed pings). Call after every `handle_*`
    /// call, until it returns `None`, and pass each on once this machine is
    /// no longer borrowed.
    #[must_use]
    pub fn poll_notification(&mut self) -> Option<Notification> {
        pop_shrinking(&mut self.notifications)
    }

    /// Starts (or stops) recording [`Sample`]s for metrics; off by
    /// default, so a host without metrics pays nothing.
    ///
    /// Call it before joining: a recording node asks its peers (in its
    /// alive message) to stamp the news they send it with its age, for
    /// [`Sample::NewsAge`], and peers learn that with the node.
    pub fn record_samples(&mut self, now: Instant, on: bool) {
        if self.samples.enabled() == on {
            return;
        }
        self.samples.enable(on);
        // Not through alive_node: this is no news, and must not count as
        // an applied alive (Go's memberlist.msg.alive).
        let name = self.config.name.clone();
        let Some(local) = self.table.get(&name) else {
            return;
        };
        if self.leaving {
            return;
        }
        let alive = self.local_alive(local.incarnation, local.meta.clone());
        if let Some(local) = self.table.get_mut(&name) {
            local.features = alive.features;
        }
        let mut encoded = Vec::new();
        Message::Alive(alive).encode(Context::Packet, &mut encoded);
        self.broadcasts.queue_news(name, encoded, now, None);
        self.wake_gossip(now);
    }

    /// The next measurement, once [`Membership::record_samples`] is on.
    /// Call after every `handle_*` call, until it returns `None`; at most
    /// 4096 wait, older ones are dropped.
    #[must_use]
    pub fn poll_sample(&mut self) -> Option<Sample> {
        self.samples.take()
    }

    /// When [`Membership::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.handle_due_timer(now).is_some() {}
    }

    /// Runs the earliest timer due at `now`, if any, and says what it was;
    /// calling it until it returns `None` is
    /// [`handle_timeout`](Self::handle_timeout). A host that times each
    /// step (Go's `memberlist.gossip` timer) calls this instead. Call
    /// `poll_*` afterwards, as after `handle_timeout`.
    #[must_use]
    pub fn handle_due_timer(&mut self, now: Instant) -> Option<TimerRun> {
        let timer = self.timers.pop_due(now)?;
        let run = match timer {
            Timer::GossipTick => TimerRun::GossipRound,
            _ => TimerRun::Other,
        };
        match timer {
            Timer::ProbeTick => self.probe_tick(now),
            Timer::GossipTick => self.gossip_tick(now),
            Timer::PushPullTick => self.push_pull_tick(now),
            Timer::CatchUp => self.catch_up_tick(now),
            Timer::HealTick => self.heal_tick(now),
            Timer::Reclaim(name) => self.reclaim_due(now, &name),
            Timer::SettleCheck => self.settle_check(now),
            Timer::ProbeTimeout(seq) => self.probe_timeout(now, seq),
            Timer::ProbeDeadline(seq) => self.probe_deadline(now, seq),
            Timer::RelayExpiry(seq) => self.relay_expiry(now, seq),
            Timer::Suspicion(name) => self.suspicion_timeout(now, &name),
            Timer::DialExpiry(id) if self.dials.contains_key(&id) => {
                // The result may be waiting in a lagging host's queue.
                if self.lagging() {
                    let later = now + self.local_lag.max(Duration::from_secs(1));
                    self.timers.arm(later, Timer::DialExpiry(id));
                } else {
                    self.handle_dial_result(now, id, Err(DialError::Lost));
                }
            }
            Timer::DialExpiry(_) => {}
        }
        self.flush_finished();
        Some(run)
    }

    /// Processes one received datagram.
    pub fn handle_packet(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.stats.packets_in.add(datagram.len());
        // Beyond Go, which filters only alive messages: with an allow-list,
        // nothing from outside it is processed at all.
        if !self.ip_allowed(from.ip()) {
            self.drop_for("address not allowed");
            return;
        }
        let decoded = match decode_packet(datagram, &self.inbound()) {
            Ok(d) => d,
            Err(e) => {
                log::debug!("{}: dropping packet from {from}: {e}", self.config.name);
                self.drop_for(drop_reason(&e));
                return;
            }
        };
        let mut crc = false;
        for layer in &decoded.layers {
            crc |= matches!(layer, crate::wire::Layer::Crc(_));
            *self.stats.layers_in.entry(layer_name(layer)).or_default() += 1;
        }
        let ages = decoded.news_ages.into_iter();
        let sized = decoded.messages.into_iter().zip(decoded.message_sizes);
        for ((message, size), age) in sized.zip(ages) {
            match message {
                Ok(m) => {
                    self.messages_in.add(m.message_type() as u8, size);
                    let origin = NewsOrigin::arrived(now, age);
                    self.handle_message(now, from, m, origin, crc);
                }
                Err(e) => {
                    log::debug!("{}: dropping message from {from}: {e}", self.config.name);
                    self.drop_for(drop_reason(&e));
                }
            }
        }
        self.flush_finished();
    }

    /// Handles one message of a packet; `origin` says how old news is,
    /// `crc` whether the packet had a CRC.
    fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        message: Message,
        origin: NewsOrigin,
        crc: bool,
    ) {
        match message {
            Message::Ping(p) => self.handle_ping(now, from, p, crc),
            Message::IndirectPing(p) => self.handle_indirect_ping(now, from, p),
            Message::Ack(a) => self.handle_ack(now, a),
            Message::Nack(n) => self.handle_nack(n.seq_no),
            Message::Alive(a) => {
                if self.alive_packet_allowed(&a) {
                    self.alive_heard(now, a, origin);
                } else {
                    self.drop_for("address not allowed");
                }
            }
            Message::Suspect(s) => self.suspect_heard(now, s, origin),
            Message::Dead(d) => self.dead_heard(now, d, origin),
            Message::User(payload) => self.notify(Notification::Message(payload)),
            // Stream-only types never come out of the packet decoder.
            Message::PushPull(_) | Message::Err(_) => {}
        }
    }

    /// Go checks the advertised address of alive packets against the CIDR
    /// allow-list (the sender was checked on arrival).
    fn alive_packet_allowed(&self, a: &Alive) -> bool {
        a.addr.is_empty()
            || crate::node::ip_from_wire(&a.addr).is_some_and(|ip| self.ip_allowed(ip))
    }

    pub(super) fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.config.cidrs_allowed.is_empty()
            || self.config.cidrs_allowed.iter().any(|net| net.contains(ip))
    }

    pub(super) fn addr_allowed(&self, addr: &[u8]) -> bool {
        self.config.cidrs_allowed.is_empty()
            || crate::node::ip_from_wire(addr).is_some_and(|ip| self.ip_allowed(ip))
    }

    // ---- wire settings ---------------------------------------------------

    pub(super) fn inbound(&self) -> Inbound<'_> {
        Inbound {
            label: self.config.label.as_bytes(),
            skip_inbound_label_check: self.config.skip_inbound_label_check,
            keyring: Some(&self.config.keyring),
            verify_incoming: self.config.gossip_verify_incoming,
        }
    }

    fn encrypting(&self) -> bool {
        !self.config.keyring.is_empty() && self.config.gossip_verify_outgoing
    }

    fn encryption_version(&self) -> EncryptionVersion {
        EncryptionVersion::for_protocol(self.config.protocol_version)
    }

    /// Bytes the envelopes add to a packet, for piggyback budgets.
    pub(super) fn packet_overhead(&self, count_encryption: bool) -> usize {
        let enc = if count_encryption && !self.config.keyring.is_empty() {
            self.encryption_version().overhead()
        } else {
            0
        };
        label_overhead(self.config.label.as_bytes()) + enc
    }

    /// Compression for a message to `peer` (if known): LZ4 only to peers
    /// that advertised reading it.
    fn compression_for(&self, peer: Option<Features>) -> Option<Compression> {
        match self.config.compression {
            CompressionMode::None => None,
            CompressionMode::Lzw => Some(Compression::Lzw),
            CompressionMode::Lz4 if peer.is_some_and(|f| f.contains(Features::LZ4)) => {
                Some(Compression::Lz4)
            }
            CompressionMode::Lz4 => Some(Compression::Lzw),
        }
    }

    fn nonce(&mut self) -> [u8; 12] {
        let mut nonce = [0; 12];
        self.rng.fill_bytes(&mut nonce);
        nonce
    }

    /// Whether a send to `dest` is allowed under `require_node_names`.
    pub(super) fn name_ok(&mut self, dest: &str) -> bool {
        if self.config.require_node_names && dest.is_empty() {
            self.drop_for("node name required");
            return false;
        }
        true
    }

    /// Sends `msg` (one message with its type byte) to `to`, whose name is
    /// `dest` (empty if unknown), piggybacking queued broadcasts if asked.
    pub(super) fn send_message(
        &mut self,
        now: Instant,
        to: SocketAddr,
        dest: &str,
        msg: Vec<u8>,
        piggyback: bool,
    ) {
        let reads = self.reads_of(dest);
        self.send_message_reading(now, to, dest, reads, msg, piggyback);
    }

    /// What the member named `dest` can read, from its record (as an
    /// unknown peer's if there is none).
    pub(super) fn reads_of(&self, dest: &str) -> PeerReads {
        PeerReads::of(self.table.get(dest))
    }

    /// [`Membership::send_message`] to a destination whose record the
    /// caller has just read: a lookup by name costs cache misses per
    /// packet in a large table.
    pub(super) fn send_message_reading(
        &mut self,
        now: Instant,
        to: SocketAddr,
        dest: &str,
        reads: PeerReads,
        msg: Vec<u8>,
        piggyback: bool,
    ) {
        if !self.name_ok(dest) {
            return;
        }
        let extra = if piggyback {
            let budget = self.config.udp_buffer_size.saturating_sub(
                msg.len() + 2 + self.packet_overhead(self.config.gossip_verify_outgoing),
            );
            self.take_broadcasts(now, 2, budget, dest, reads)
        } else {
            Vec::new()
        };
        if extra.is_empty() {
            self.count_sent(&msg);
            self.transmit(to, reads, &msg);
            return;
        }
        let mut parts = Vec::with_capacity(extra.len() + 1);
        parts.push(msg);
        parts.extend(extra);
        self.transmit_compounds(to, reads, parts);
    }

    /// Sends `parts` as compound packets of at most 255 messages each (a
    /// single message goes bare).
    pub(super) fn transmit_compounds(
        &mut self,
        to: SocketAddr,
        reads: PeerReads,
        parts: Vec<Vec<u8>>,
    ) {
        for part in &parts {
            self.count_sent(part);
        }
        for chunk in parts.chunks(crate::wire::packet::MAX_COMPOUND_PARTS) {
            if let [single] = chunk {
                self.transmit(to, reads, single);
                continue;
            }
            let mut compound = Vec::new();
            match encode_compound(chunk, &mut compound) {
                Ok(()) => self.transmit(to, reads, &compound),
                Err(e) => {
                    log::warn!("{}: cannot frame compound: {e}", self.config.name);
                    self.drop_for("unsendable compound");
                }
            }
        }
    }

    /// Counts one outgoing message by its type.
    fn count_sent(&mut self, msg: &[u8]) {
        let byte = msg.first().copied().unwrap_or(u8::MAX);
        self.messages_out.add(byte, msg.len());
    }

    /// Seals one packet payload (a message or compound, already counted)
    /// for a peer that `reads` and hands it to the runtime.
    pub(super) fn transmit(&mut self, to: SocketAddr, reads: PeerReads, payload: &[u8]) {
        match self.seal(reads, payload) {
            Ok(bytes) => {
                self.stats.packets_out.add(bytes.len());
                self.transmits.push_back(Transmit::Datagram { to, bytes });
            }
            Err(e) => {
                log::warn!("{}: cannot seal packet: {e}", self.config.name);
                self.drop_for("unsendable packet");
            }
        }
    }

    /// Wraps one packet payload in the envelopes due to a peer that
    /// `reads`.
    fn seal(&mut self, reads: PeerReads, payload: &[u8]) -> Result<Vec<u8>, WireError> {
        let compression = self.compression_for(reads.features);
        let encryption = self
            .encrypting()
            .then(|| (self.nonce(), self.encryption_version()));
        let outbound = Outbound {
            label: self.config.label.as_bytes(),
            compression,
            crc: reads.crc,
            encryption: encryption.map(|(nonce, version)| Encryption {
                keyring: &self.config.keyring,
                version,
                nonce,
            }),
        };
        let mut bytes = Vec::with_capacity(payload.len() + 64);
        seal_packet(payload, &outbound, &mut bytes)?;
        Ok(bytes)
    }

    /// Frames one stream message. `peer` picks the compression; `dialer`
    /// adds the label header.
    pub(super) fn seal_stream_message(
        &mut self,
        plain: Vec<u8>,
        peer: Option<&str>,
        dialer: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        let compression = self.compression_for(peer.and_then(|p| self.features_of(p)));
        self.seal_stream_compressed(plain, compression, dialer)
    }

    /// Frames the reply to an accepted stream: LZ4 when the request came
    /// so (and LZ4 is on), else as to an unknown peer.
    pub(super) fn seal_reply(
        &mut self,
        plain: Vec<u8>,
        stream: StreamId,
    ) -> Result<Vec<u8>, ProtocolError> {
        let lz4 =
            self.config.compression == CompressionMode::Lz4 && self.lz4_streams.contains(&stream);
        let compression = if lz4 {
            Some(Compression::Lz4)
        } else {
            self.compression_for(None)
        };
        self.seal_stream_compressed(plain, compression, false)
    }

    fn seal_stream_compressed(
        &mut self,
        plain: Vec<u8>,
        compression: Option<Compression>,
        dialer: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        let nonce = self.nonce();
        let version = self.encryption_version();
        let outbound = StreamOutbound {
            label: self.config.label.as_bytes(),
            dialer,
            compression,
            encryption: self.encrypting().then_some(Encryption {
                keyring: &self.config.keyring,
                version,
                nonce,
            }),
            ints: crate::wire::IntEncoding::Signed,
        };
        let mut bytes = Vec::new();
        seal_encoded_stream(plain, &outbound, &mut bytes).map_err(ProtocolError::Wire)?;
        Ok(bytes)
    }

    /// Asks the runtime to dial `to` with one message.
    pub(super) fn dial(
        &mut self,
        now: Instant,
        to: SocketAddr,
        peer: Option<&str>,
        plain: Vec<u8>,
        purpose: Dial,
        deadline: Option<Instant>,
    ) -> Result<DialId, ProtocolError> {
        if !self.name_ok(peer.unwrap_or_default()) {
            return Err(ProtocolError::NodeNameRequired);
        }
        let bytes = self.seal_stream_message(plain, peer, true)?;
        self.stats.stream_bytes_out += bytes.len() as u64;
        if let Dial::PushPull { .. } = purpose {
            self.samples.record(Sample::LocalStateSize(bytes.len()));
        }
        let expect_reply = !matches!(purpose, Dial::UserMessage);
        let id = DialId(self.next_id());
        self.dials.insert(id, purpose);
        self.stats.streams_out += 1;
        let deadline = deadline.unwrap_or(now + self.config.tcp_timeout);
        // Transports report every dial by its deadline; should a report be
        // lost (e.g. dropped under overload), the dial still ends.
        self.timers
            .arm(deadline + Duration::from_secs(1), Timer::DialExpiry(id));
        self.transmits.push_back(Transmit::Dial {
            id,
            to,
            bytes,
            expect_reply,
            deadline,
        });
        Ok(id)
    }

    // ---- streams ---------------------------------------------------------

    /// Decodes a stream message from the bytes received so far (`Ok(None)`:
    /// need more). `listener` is true on accepted connections.
    fn decode_stream(
        &self,
        buf: &[u8],
        listener: bool,
    ) -> Result<Option<DecodedStream>, WireError> {
        read_stream(buf, &self.inbound(), listener)
    }

    /// Serves the request bytes of an accepted stream, as received (one
    /// whole message, found with [`crate::wire::stream_message_len`]):
    /// decodes them as this node reads streams and handles the request (or
    /// refuses it). The answer comes as a [`Transmit::Reply`] for `stream`,
    /// at once or, for a push/pull whose local state the host provides,
    /// once [`Membership::answer`] gives it.
    pub fn handle_stream_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        stream: StreamId,
        request: &[u8],
    ) {
        let error = match self.decode_stream(request, true) {
            Ok(Some(decoded)) => {
                if let Message::PushPull(_) = decoded.message {
                    self.samples.record(Sample::RemoteStateSize(request.len()));
                }
                let lz4 = decoded.layers.iter().any(|l| {
                    matches!(
                        l,
                        crate::wire::Layer::Compression {
                            algorithm: Compression::Lz4,
                            ..
                        }
                    )
                });
                if lz4 || joiner_reads_lz4(&decoded.message) {
                    self.lz4_streams.insert(stream);
                }
                return self.handle_stream(now, from, stream, decoded.message);
            }
            Ok(None) => WireError::Truncated,
            Err(e) => e,
        };
        let bytes = self.stream_error_reply(&error);
        self.reply(stream, bytes);
    }

    /// Answers an accepted stream (and counts what it sends).
    pub(super) fn reply(&mut self, stream: StreamId, bytes: Option<Vec<u8>>) {
        self.lz4_streams.remove(&stream);
        if let Some(b) = &bytes {
            self.stats.stream_bytes_out += b.len() as u64;
        }
        self.transmits.push_back(Transmit::Reply { stream, bytes });
    }

    /// Reports the outcome of a [`Transmit::Dial`]: the bytes of its reply
    /// (measured like a request's; `Ok(None)` when none was expected), or
    /// why the dial failed. Call it once per dial, even after its deadline.
    pub fn handle_dial_reply(
        &mut self,
        now: Instant,
        id: DialId,
        reply: Result<Option<Vec<u8>>, DialError>,
    ) {
        let result = reply.and_then(|reply| match reply {
            None => Ok(None),
            Some(bytes) => match self.decode_stream(&bytes, false) {
                Ok(Some(decoded)) => {
                    if let Message::PushPull(_) = decoded.message {
                        self.samples.record(Sample::RemoteStateSize(bytes.len()));
                    }
                    Ok(Some(decoded.message))
                }
                Ok(None) => Err(DialError::ClosedBeforeReply),
                Err(e) => Err(DialError::from_reply(e, &bytes)),
            },
        });
        self.handle_dial_result(now, id, result);
    }

    /// The error reply Go sends when a stream request cannot be read; none
    /// for label problems (Go closes silently) or an empty connection.
    fn stream_error_reply(&mut self, error: &WireError) -> Option<Vec<u8>> {
        log::debug!("{}: refusing a stream: {error}", self.config.name);
        self.drop_for(drop_reason(error));
        if error.is_label_error() {
            return None;
        }
        let reply = Message::Err(crate::wire::ErrResp {
            error: error.to_string(),
        });
        self.seal_stream_message(stream_form(&reply), None, false)
            .ok()
    }

    // ---- queries ---------------------------------------------------------

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every node that is alive or suspect, this one included.
    pub fn members(&self) -> Vec<Node> {
        self.table
            .iter()
            .filter(|n| n.is_live())
            .filter_map(NodeRecord::to_node)
            .collect()
    }

    /// Every node in the table, whatever its state.
    pub fn all_nodes(&self) -> Vec<Node> {
        self.table.iter().filter_map(NodeRecord::to_node).collect()
    }

    /// How many nodes this node holds in each state (alive, suspect, dead,
    /// left), itself included.
    pub fn count_by_state(&self) -> [(NodeState, usize); 4] {
        let [alive, suspect, dead, left] = self.table.counts();
        [
            (NodeState::Alive, alive),
            (NodeState::Suspect, suspect),
            (NodeState::Dead, dead),
            (NodeState::Left, left),
        ]
    }

    /// How many nodes are alive or suspect, this one included.
    pub fn num_members(&self) -> usize {
        let [alive, suspect, ..] = self.table.counts();
        alive + suspect
    }

    /// This node as others see it.
    pub fn local_node(&self) -> Option<Node> {
        self.table
            .get(&self.config.name)
            .and_then(NodeRecord::to_node)
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<Node> {
        self.table.get(name).and_then(NodeRecord::to_node)
    }

    /// Lifeguard's local health score: 0 is healthy; higher means this node
    /// has trouble hearing back and so slows its own probing.
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    /// The cluster-size estimate used by the protocol's formulas.
    pub fn estimated_size(&self) -> usize {
        self.table.estimate()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.messages_in = self.messages_in.by_name();
        stats.messages_out = self.messages_out.by_name();
        stats
    }

    /// Broadcasts waiting in the queues (membership, user).
    pub fn queued_broadcasts(&self) -> (usize, usize) {
        (
            self.broadcasts.len() + self.seeded.waiting(),
            self.user_broadcasts.len(),
        )
    }

    /// The keyring, to add, use or remove keys while running.
    pub fn keyring_mut(&mut self) -> &mut crate::wire::Keyring {
        &mut self.config.keyring
    }

    /// Seed addresses for partition healing (resolved by the runtime).
    pub fn set_seeds(&mut self, seeds: Vec<SocketAddr>) {
        self.seeds = seeds;
    }

    // ---- application messages --------------------------------------------

    /// Sends `payload` to one node in a datagram.
    pub fn send_best_effort(
        &mut self,
        to: SocketAddr,
        name: &str,
        payload: &[u8],
    ) -> Result<(), ProtocolError> {
        if !self.name_ok(name) {
            return Err(ProtocolError::NodeNameRequired);
        }
        let mut msg = Vec::with_capacity(payload.len() + 1);
        Message::User(payload.to_vec()).encode(Context::Packet, &mut msg);
        let bytes = self
            .seal(self.reads_of(name), &msg)
            .map_err(ProtocolError::Wire)?;
        if bytes.len() > MAX_DATAGRAM {
            return Err(ProtocolError::MessageTooLarge {
                kind: MessageKind::BestEffort,
                size: bytes.len(),
                limit: MAX_DATAGRAM,
            });
        }
        self.count_sent(&msg);
        self.stats.packets_out.add(bytes.len());
        self.transmits.push_back(Transmit::Datagram { to, bytes });
        Ok(())
    }

    /// Sends `payload` to one node over a stream.
    pub fn send_reliable(
        &mut self,
        now: Instant,
        to: SocketAddr,
        name: &str,
        payload: &[u8],
    ) -> Result<DialId, ProtocolError> {
        if payload.len() > MAX_USER_MSG_BYTES {
            return Err(ProtocolError::MessageTooLarge {
                kind: MessageKind::Reliable,
                size: payload.len(),
                limit: MAX_USER_MSG_BYTES,
            });
        }
        let msg = stream_form(&Message::User(payload.to_vec()));
        let deadline = now + stream_time_limit(self.config.tcp_timeout, payload.len());
        self.dial(now, to, Some(name), msg, Dial::UserMessage, Some(deadline))
    }

    /// Queues an application broadcast for every member alive now; it
    /// rides on packets to each of them until all have it (see
    /// `user_broadcasts.rs`). A named broadcast replaces a queued one with
    /// the same name. Refused if it cannot fit a gossip packet
    /// ([`Membership::max_broadcast_size`]).
    pub fn queue_broadcast(
        &mut self,
        now: Instant,
        payload: &[u8],
        name: Option<&str>,
    ) -> Result<(), ProtocolError> {
        let limit = self.max_broadcast_size();
        if payload.len() > limit {
            return Err(ProtocolError::MessageTooLarge {
                kind: MessageKind::Broadcast,
                size: payload.len(),
                limit,
            });
        }
        let mut msg = Vec::with_capacity(payload.len() + 1);
        Message::User(payload.to_vec()).encode(Context::Packet, &mut msg);
        let recipients = self
            .table
            .iter()
            .filter(|n| n.is_live() && *n.name != *self.config.name)
            .map(|n| n.name.to_string())
            .collect();
        self.user_broadcasts.queue(name, msg, recipients, now);
        self.wake_gossip(now);
        Ok(())
    }

    /// The largest application broadcast that fits a gossip packet:
    /// `udp_buffer_size` less the compound framing, the message type byte
    /// and the envelopes (label, encryption).
    pub fn max_broadcast_size(&self) -> usize {
        // One message alone in a gossip packet, less its type byte.
        self.gossip_budget()
            .saturating_sub(crate::wire::packet::COMPOUND_OVERHEAD_PER_PART + 1)
    }

    // ---- lifecycle -------------------------------------------------------

    /// Leaves the cluster: marks this node left and broadcasts it. Returns
    /// the token to wait for (the broadcast going out), or `None` if no
    /// other live node needs telling or the node already left.
    pub fn leave(&mut self, now: Instant) -> Option<NotifyToken> {
        if self.leaving {
            return None;
        }
        self.leaving = true;
        let token = self.next_id();
        let dead = crate::wire::Dead {
            incarnation: self.incarnation,
            node: self.config.name.clone(),
            from: self.config.name.clone(),
        };
        self.dead_node(now, dead, Some(token));
        self.flush_finished();
        self.anyone_else_live().then_some(NotifyToken(token))
    }

    /// Whether this node has left.
    pub fn has_left(&self) -> bool {
        self.leaving
    }

    /// Advertises `meta` (at most 512 bytes) with a new incarnation.
    /// Returns the token to wait for, as [`Membership::leave`].
    pub fn update_node(
        &mut self,
        now: Instant,
        meta: Vec<u8>,
    ) -> Result<Option<NotifyToken>, ProtocolError> {
        if meta.len() > META_MAX_SIZE {
            return Err(ProtocolError::MetaTooLarge(meta.len()));
        }
        // Saturating, as refutation (see `state.rs`).
        self.incarnation = self.incarnation.saturating_add(1);
        let token = self.next_id();
        let alive = self.local_alive(self.incarnation, meta);
        self.alive_node(now, alive, Some(token), true);
        self.flush_finished();
        Ok(self.anyone_else_live().then_some(NotifyToken(token)))
    }

    pub(super) fn anyone_else_live(&self) -> bool {
        self.table
            .iter()
            .any(|n| n.is_live() && *n.name != *self.config.name)
    }
}

/// Outputs a queue keeps room for once drained. A burst (a merge emits an
/// event per member) would otherwise leave every node holding room for
/// hundreds of outputs: megabytes across a few hundred nodes.
const OUTPUT_ROOM: usize = 32;

/// `msg` encoded as a stream carries it (what [`Membership::dial`] and the
/// stream sealers take).
pub(super) fn stream_form(msg: &Message) -> Vec<u8> {
    let mut plain = Vec::new();
    msg.encode_with(
        Context::Stream,
        crate::wire::IntEncoding::Signed,
        &mut plain,
    );
    plain
}

/// Whether `msg` is a join from a node that knows only itself and reads
/// LZ4. A joiner dials a seed whose features it cannot know, so it writes
/// LZW, which Go reads; but its push/pull holds just its own record, which
/// says what it reads, so the seed can answer with the whole cluster in
/// LZ4 (several times cheaper to compress than LZW).
fn joiner_reads_lz4(msg: &Message) -> bool {
    match msg {
        Message::PushPull(p) => {
            p.join && p.nodes.len() == 1 && p.nodes[0].features.contains(Features::LZ4)
        }
        _ => false,
    }
}

/// Takes the front of an output queue, giving back the room a burst left
/// once it is empty.
pub(super) fn pop_shrinking<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let next = queue.pop_front();
    if next.is_none() && queue.capacity() > OUTPUT_ROOM {
        queue.shrink_to(OUTPUT_ROOM);
    }
    next
}

/// A short name for a packet layer, for the counters.
fn layer_name(layer: &crate::wire::Layer) -> &'static str {
    use crate::wire::Layer;
    match layer {
        Layer::Label(_) => "label",
        Layer::Encryption {
            version: EncryptionVersion::V0,
            ..
        } => "aes-v0",
        Layer::Encryption { .. } => "aes-v1",
        Layer::Crc(_) => "crc",
        Layer::Compression { algorithm, .. } => algorithm.name(),
        Layer::Compound { .. } => "compound",
    }
}

/// A short, stable reason for the drop counters.
pub(super) fn drop_reason(e: &WireError) -> &'static str {
    match e {
        e if e.is_label_error() => "label",
        WireError::DecryptionFailed
        | WireError::EncryptedEmpty
        | WireError::EncryptedTooShort { .. }
        | WireError::UnsupportedEncryptionVersion(_)
        | WireError::InvalidPadding => "decryption",
        WireError::CrcMismatch { .. } => "checksum",
        WireError::Msgpack { .. } => "malformed message",
        WireError::UnknownMessageType(_) | WireError::UnexpectedMessageType { .. } => {
            "unexpected message type"
        }
        WireError::EmptyMessage => "empty message",
        _ => "malformed packet",
    }
}

impl NodeState {
    pub(crate) fn is_gone(self) -> bool {
        matches!(self, NodeState::Dead | NodeState::Left)
    }
}
