//! A virtual-time network of `Membership` state machines: packet loss and
//! delay, partitions, killed and paused nodes, and streams that connect,
//! time out or are refused as TCP would, and that lose segments at the
//! datagram loss rate, each loss costing a TCP retransmission timeout.
//! Deterministic for a given seed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swimlist::protocol::{
    Completion, DialError, DialId, HostQueries, Instant, JoinError, JoinTarget, Membership,
    StreamId, Transmit,
};
use swimlist::{Config, Event, LeaveReason};

/// What a simulated process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Running,
    /// Stopped (SIGSTOP) until the instant; packets wait in its socket.
    Paused(Instant),
    /// Gone: packets vanish, connections are refused.
    Killed,
}

pub struct SimNode {
    pub m: Membership,
    pub addr: SocketAddr,
    /// Its configuration, to start it again.
    config: Config,
    pub run: Run,
    backlog: Vec<Delivery>,
}

enum Delivery {
    Packet {
        to: usize,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    Stream {
        from: usize,
        to: usize,
        id: DialId,
        bytes: Vec<u8>,
        expect_reply: bool,
        deadline: Instant,
    },
    DialResult {
        node: usize,
        id: DialId,
        result: Result<Option<Vec<u8>>, DialError>,
    },
}

impl Delivery {
    fn target(&self) -> usize {
        match self {
            Delivery::Packet { to, .. } | Delivery::Stream { to, .. } => *to,
            Delivery::DialResult { node, .. } => *node,
        }
    }
}

/// A finished join: the node, how many targets it joined, the failures.
pub type JoinOutcome = (usize, usize, Vec<(SocketAddr, JoinError)>);

/// An event seen by a node, with when.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub node: usize,
    pub event: Event,
}

pub struct Sim {
    pub now: Instant,
    pub nodes: Vec<SimNode>,
    by_addr: HashMap<SocketAddr, usize>,
    queue: BTreeMap<(Instant, u64), Delivery>,
    next_seq: u64,
    rng: StdRng,
    /// Probability that a datagram, or a stream segment, is lost.
    pub loss: f64,
    /// One-way delay range.
    pub delay: (Duration, Duration),
    /// Partition group of each node; nodes in different groups cannot talk.
    groups: Option<Vec<usize>>,
    pub seen: Vec<Seen>,
    /// Which events `seen` records (all by default): a large cluster
    /// forming sees a join per node pair.
    pub keep_event: fn(&Event) -> bool,
    pub joins: Vec<JoinOutcome>,
    pub packets: u64,
    /// Accepted streams awaiting their reply.
    open: HashMap<StreamId, OpenStream>,
    next_stream: u64,
    /// Nodes' next timers, soonest (then lowest index) first; an entry is
    /// current only while it matches `scheduled`, so that finding the next
    /// timer costs a heap operation instead of a scan of every node.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The timer last queued for each node.
    scheduled: Vec<Option<Instant>>,
    /// Paused nodes, with when they resume.
    paused: Vec<(Instant, usize)>,
}

/// Who waits for the reply to an accepted stream.
struct OpenStream {
    dialer: usize,
    id: DialId,
    expect_reply: bool,
    deadline: Instant,
}

/// Nodes that join at once in [`Sim::form_through_first`].
const FORMING_BATCH: usize = 100;

pub fn addr_of(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250 + 1) as u8)),
        7946,
    )
}

pub fn name_of(i: usize) -> String {
    format!("node-{i:03}")
}

impl Sim {
    pub fn new(seed: u64) -> Self {
        Sim {
            now: Instant::ZERO,
            nodes: Vec::new(),
            by_addr: HashMap::new(),
            queue: BTreeMap::new(),
            next_seq: 0,
            rng: StdRng::seed_from_u64(seed),
            loss: 0.0,
            delay: (Duration::from_micros(200), Duration::from_millis(2)),
            groups: None,
            seen: Vec::new(),
            keep_event: |_| true,
            joins: Vec::new(),
            packets: 0,
            open: HashMap::new(),
            next_stream: 0,
            timers: BinaryHeap::new(),
            scheduled: Vec::new(),
            paused: Vec::new(),
        }
    }

    /// Adds `n` nodes with `config` (names and ports are set per node).
    pub fn add_nodes(&mut self, n: usize, config: &Config) {
        for _ in 0..n {
            self.add_node(config);
        }
    }

    pub fn add_node(&mut self, config: &Config) -> usize {
        let i = self.nodes.len();
        let addr = addr_of(i);
        let config = config
            .clone()
            .with_name(name_of(i))
            .with_bind_addr(addr.ip())
            .with_bind_port(addr.port());
        let m = self.machine(&config, addr);
        self.by_addr.insert(addr, i);
        self.scheduled.push(None);
        self.nodes.push(SimNode {
            m,
            addr,
            config,
            run: Run::Running,
            backlog: Vec::new(),
        });
        self.drain(i);
        i
    }

    /// A fresh state machine (incarnation 1, knowing only itself).
    fn machine(&mut self, config: &Config, addr: SocketAddr) -> Membership {
        let mut seed = [0u8; 32];
        self.rng.fill(&mut seed);
        // No application: no metadata, no questions.
        Membership::new(
            config.clone(),
            Vec::new(),
            HostQueries::none(),
            addr,
            seed,
            self.now,
        )
        .expect("valid config")
    }

    /// Starts node `i` again, as a new process at the same address that
    /// remembers nothing, and has it join through `through`.
    pub fn restart(&mut self, i: usize, through: &[usize]) {
        let (config, addr) = (self.nodes[i].config.clone(), self.nodes[i].addr);
        self.nodes[i].m = self.machine(&config, addr);
        self.nodes[i].run = Run::Running;
        self.nodes[i].backlog.clear();
        self.drain(i);
        self.join(i, through);
    }

    /// Runs `f` on node `i`'s machine now (an API call), then routes what
    /// it asked for.
    pub fn act(&mut self, i: usize, f: impl FnOnce(&mut Membership, Instant)) {
        let now = self.now;
        f(&mut self.nodes[i].m, now);
        self.drain(i);
    }

    /// Node `i` joins through the given nodes.
    pub fn join(&mut self, i: usize, through: &[usize]) {
        let targets: Vec<JoinTarget> = through
            .iter()
            .map(|&j| JoinTarget {
                addr: addr_of(j),
                name: None,
            })
            .collect();
        let now = self.now;
        self.nodes[i].m.join(now, &targets);
        self.drain(i);
    }

    /// Starts the cluster formed, as if it had run for long: every node
    /// joins through node 0 knowing only itself, and gets the whole
    /// membership in the join's push/pull, as a node joining a formed
    /// cluster does. Node 0 first learns everyone by joining all the
    /// others at once (one small push/pull each), and they then start
    /// afresh, so that none holds news of members it learned one by one.
    /// Node 0 keeps news of its own join, which the others ignore, knowing
    /// those members. Returns whether all joins succeeded within `limit`.
    pub fn form_through_first(&mut self, limit: Duration) -> bool {
        let n = self.nodes.len();
        let deadline = self.now + limit;
        let step = Duration::from_micros(100);
        let before = self.joins.len();
        let others: Vec<usize> = (1..n).collect();
        self.join(0, &others);
        let done = |sim: &Sim| sim.joins.len() > before;
        if self.run_until_true(deadline, step, done).is_none() {
            return false;
        }
        // A batch at a time: node 0's replies, each the whole membership,
        // would otherwise all be in flight at once (gigabytes at 10,000).
        for batch in (1..n).collect::<Vec<_>>().chunks(FORMING_BATCH) {
            for &i in batch {
                self.restart(i, &[0]);
            }
            // Node 0's join, and one for each node restarted so far.
            let last = batch[batch.len() - 1];
            let done = |sim: &Sim| sim.joins.len() > before + last;
            if self.run_until_true(deadline, step, done).is_none() {
                return false;
            }
        }
        let (first, rest) = self.joins[before..].split_first().expect("joined");
        first.1 == n - 1 && rest.len() == n - 1 && rest.iter().all(|(_, joined, _)| *joined == 1)
    }

    pub fn kill(&mut self, i: usize) {
        self.nodes[i].run = Run::Killed;
        self.nodes[i].backlog.clear();
        self.scheduled[i] = None;
        self.paused.retain(|&(_, p)| p != i);
    }

    pub fn pause(&mut self, i: usize, d: Duration) {
        let until = self.now + d;
        self.nodes[i].run = Run::Paused(until);
        self.scheduled[i] = None;
        self.paused.retain(|&(_, p)| p != i);
        self.paused.push((until, i));
    }

    /// Splits the cluster: node `i` is in group `groups[i]`.
    pub fn partition(&mut self, groups: Vec<usize>) {
        self.groups = Some(groups);
    }

    pub fn heal(&mut self) {
        self.groups = None;
    }

    fn blocked(&self, a: usize, b: usize) -> bool {
        self.groups.as_ref().is_some_and(|g| g[a] != g[b])
    }

    fn delay(&mut self) -> Duration {
        let (lo, hi) = self.delay;
        if hi <= lo {
            return lo;
        }
        lo + Duration::from_nanos(self.rng.random_range(0..(hi - lo).as_nanos() as u64))
    }

    /// What TCP's retransmissions add to a stream segment under `loss`:
    /// each loss costs a retransmission timeout of `rto`, doubling (Linux:
    /// 1 s for a SYN, at least 200 ms for data).
    fn retransmissions(&mut self, rto: Duration) -> Duration {
        let mut extra = Duration::ZERO;
        let mut timeout = rto;
        while self.loss > 0.0 && self.rng.random_bool(self.loss) && extra < Duration::from_secs(60)
        {
            extra += timeout;
            timeout *= 2;
        }
        extra
    }

    /// One-way time of a stream's first segments (the SYN, then data).
    fn dial_delay(&mut self) -> Duration {
        let syn = self.retransmissions(Duration::from_secs(1));
        let data = self.retransmissions(Duration::from_millis(200));
        self.delay() + syn + data
    }

    /// One-way time of a reply on an open stream.
    fn reply_delay(&mut self) -> Duration {
        let data = self.retransmissions(Duration::from_millis(200));
        self.delay() + data
    }

    fn schedule(&mut self, at: Instant, d: Delivery) {
        self.next_seq += 1;
        self.queue.insert((at, self.next_seq), d);
    }

    /// Routes everything node `i` asked for.
    /// Queues node `i`'s next timer if it changed.
    fn schedule_timer(&mut self, i: usize) {
        let next = match self.nodes[i].run {
            Run::Running => self.nodes[i].m.poll_timeout(),
            Run::Paused(_) | Run::Killed => None,
        };
        if next != self.scheduled[i] {
            self.scheduled[i] = next;
            if let Some(t) = next {
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    /// The soonest current timer of a running node.
    fn next_timer(&mut self) -> Option<(Instant, usize)> {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if self.scheduled[i] == Some(t) && self.nodes[i].run == Run::Running {
                return Some((t, i));
            }
            self.timers.pop();
        }
        None
    }

    fn drain(&mut self, i: usize) {
        // The simulated nodes have no delegate to tell.
        while self.nodes[i].m.poll_notification().is_some() {}
        while let Some(event) = self.nodes[i].m.poll_event() {
            if !(self.keep_event)(&event) {
                continue;
            }
            self.seen.push(Seen {
                at: self.now,
                node: i,
                event,
            });
        }
        while let Some(completion) = self.nodes[i].m.poll_completion() {
            if let Completion::Join { joined, errors, .. } = completion {
                self.joins.push((i, joined, errors));
            }
        }
        while let Some(transmit) = self.nodes[i].m.poll_transmit() {
            match transmit {
                Transmit::Datagram { to, bytes } => {
                    self.packets += 1;
                    let Some(&j) = self.by_addr.get(&to) else {
                        continue;
                    };
                    if self.blocked(i, j) || self.rng.random_bool(self.loss) {
                        continue;
                    }
                    let at = self.now + self.delay();
                    let from = self.nodes[i].addr;
                    self.schedule(at, Delivery::Packet { to: j, from, bytes });
                }
                Transmit::Dial {
                    id,
                    to,
                    bytes,
                    expect_reply,
                    deadline,
                } => {
                    let target = self.by_addr.get(&to).copied();
                    let refused = target.is_none_or(|j| self.nodes[j].run == Run::Killed);
                    let unreachable = target.is_some_and(|j| self.blocked(i, j));
                    let at = self.now + self.dial_delay();
                    if unreachable {
                        let result = Err(DialError::TimedOut);
                        self.schedule(
                            deadline,
                            Delivery::DialResult {
                                node: i,
                                id,
                                result,
                            },
                        );
                    } else if refused {
                        let result = Err(DialError::Connect(std::io::ErrorKind::ConnectionRefused));
                        self.schedule(
                            at,
                            Delivery::DialResult {
                                node: i,
                                id,
                                result,
                            },
                        );
                    } else if let Some(j) = target {
                        self.schedule(
                            at,
                            Delivery::Stream {
                                from: i,
                                to: j,
                                id,
                                bytes,
                                expect_reply,
                                deadline,
                            },
                        );
                    }
                }
                Transmit::Reply { stream, bytes } => {
                    let Some(open) = self.open.remove(&stream) else {
                        continue;
                    };
                    let result = match (open.expect_reply, bytes) {
                        (false, _) => Ok(None),
                        (true, Some(reply)) => Ok(Some(reply)),
                        (true, None) => Err(DialError::ClosedBeforeReply),
                    };
                    let at = (self.now + self.reply_delay()).min(open.deadline);
                    self.schedule(
                        at,
                        Delivery::DialResult {
                            node: open.dialer,
                            id: open.id,
                            result,
                        },
                    );
                }
            }
        }
        self.schedule_timer(i);
    }

    fn deliver(&mut self, d: Delivery) {
        let target = d.target();
        match self.nodes[target].run {
            Run::Killed => {
                if let Delivery::Stream { from, id, .. } = d {
                    let result = Err(DialError::Read(std::io::ErrorKind::ConnectionReset));
                    let at = self.now + self.delay();
                    self.schedule(
                        at,
                        Delivery::DialResult {
                            node: from,
                            id,
                            result,
                        },
                    );
                }
                return;
            }
            Run::Paused(_) => {
                self.nodes[target].backlog.push(d);
                return;
            }
            Run::Running => {}
        }
        let now = self.now;
        match d {
            Delivery::Packet { to, from, bytes } => {
                self.nodes[to].m.handle_packet(now, from, &bytes);
                self.drain(to);
            }
            Delivery::Stream {
                from,
                to,
                id,
                bytes,
                expect_reply,
                deadline,
            } => {
                let peer = self.nodes[from].addr;
                self.next_stream += 1;
                let stream = StreamId::new(self.next_stream);
                let open = OpenStream {
                    dialer: from,
                    id,
                    expect_reply,
                    deadline,
                };
                self.open.insert(stream, open);
                self.nodes[to]
                    .m
                    .handle_stream_request(now, peer, stream, &bytes);
                self.drain(to);
            }
            Delivery::DialResult { node, id, result } => {
                self.nodes[node].m.handle_dial_reply(now, id, result);
                self.drain(node);
            }
        }
    }

    /// Runs the network until `end`.
    pub fn run_until(&mut self, end: Instant) {
        // Every call into a machine (`act`, `join`, deliveries, timers)
        // queues its next timer, so the heap is current here.
        loop {
            let delivery = self.queue.keys().next().map(|&(at, _)| at);
            let timer = self.next_timer();
            let resume = self.paused.iter().copied().min();
            let next = [delivery, timer.map(|t| t.0), resume.map(|r| r.0)]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|&t| t <= end) else {
                self.now = self.now.max(end);
                return;
            };
            self.now = self.now.max(next);
            if delivery == Some(next) {
                let (_, d) = self.queue.pop_first().expect("a delivery is due");
                self.deliver(d);
            } else if let Some((_, i)) = resume.filter(|r| r.0 == next) {
                self.nodes[i].run = Run::Running;
                self.paused.retain(|&(_, p)| p != i);
                for d in std::mem::take(&mut self.nodes[i].backlog) {
                    self.deliver(d);
                }
                self.schedule_timer(i);
            } else if let Some((_, i)) = timer {
                let now = self.now;
                self.nodes[i].m.handle_timeout(now);
                self.drain(i);
            }
        }
    }

    /// Runs in `step`s until `done` holds (returns when) or `limit` passes.
    pub fn run_until_true(
        &mut self,
        limit: Instant,
        step: Duration,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> Option<Instant> {
        while self.now < limit {
            if done(self) {
                return Some(self.now);
            }
            let next = (self.now + step).min(limit);
            self.run_until(next);
        }
        done(self).then_some(self.now)
    }

    /// Whether every running node sees exactly the running nodes as live.
    pub fn converged(&self) -> bool {
        let live = self.nodes.iter().filter(|n| n.run != Run::Killed).count();
        self.nodes
            .iter()
            .filter(|n| n.run == Run::Running)
            .all(|n| n.m.num_members() == live)
    }

    /// Events about node `about` seen by others.
    pub fn events_about(&self, about: usize) -> impl Iterator<Item = &Seen> {
        let name = name_of(about);
        self.seen
            .iter()
            .filter(move |s| s.node != about && s.event.node().name == name)
    }

    /// Earliest time each other node saw `about` fail.
    pub fn failure_seen_at(&self, about: usize) -> HashMap<usize, Instant> {
        let mut out = HashMap::new();
        for s in self.events_about(about) {
            if matches!(s.event, Event::Leave(_, LeaveReason::Failed)) {
                out.entry(s.node).or_insert(s.at);
            }
        }
        out
    }
}
