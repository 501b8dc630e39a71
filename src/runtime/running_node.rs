//! A running node: its state machine, transport, event channel and the
//! waiters of blocking calls. The worker thread, the delegate thread and
//! the application's handle all act through [`RunningNode::with_machine`],
//! which runs one step of the machine under the node's lock, then carries
//! out what the step produced with the lock released: datagrams, streams
//! and replies to the transport, events to the channel, notifications and
//! questions to the delegate thread, results to waiting callers. No
//! application code runs in a step; only a custom [`Transport`]'s methods
//! run while one is carried out.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use std::net::SocketAddr;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::notifier::Notifier;
use super::transport::{Clock, ConnId, DialRequest, Incoming, Transport};
use super::worker::{Lanes, WorkItem};
use crate::delegate::Delegate;
use crate::node::Event;
use crate::protocol::Answer;
use crate::protocol::{
    stream_time_limit, Completion, DialError, DialId, Instant, JoinError, JoinId, JoinTarget,
    Membership, Notification, NotifyToken, ProtocolError, Query, QueryId, Stats, StreamId,
    Transmit,
};

/// The outcome of a join: addresses joined, and failures.
pub(crate) type JoinOutcome = (usize, Vec<(std::net::SocketAddr, JoinError)>);

/// Counters of a running node: the protocol's, plus what the runtime
/// dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// The protocol's counters.
    pub protocol: Stats,
    /// Events dropped because the event channel was full.
    pub events_dropped: u64,
    /// Delegate notifications (user messages, remote state, conflicts,
    /// completed pings) dropped because the delegate fell 16,384 behind.
    pub notifications_dropped: u64,
    /// Incoming datagrams and stream results dropped because the protocol
    /// worker was behind.
    pub incoming_dropped: u64,
    /// Datagrams the OS refused to send.
    pub send_errors: u64,
}

#[derive(Default)]
struct Waiters {
    joins: HashMap<JoinId, Sender<JoinOutcome>>,
    broadcasts: HashMap<NotifyToken, Sender<()>>,
    dials: HashMap<DialId, Sender<Result<(), DialError>>>,
    settled: Vec<Sender<()>>,
}

thread_local! {
    /// Whether this thread is stepping a state machine or carrying out a
    /// step: a custom transport's method (called while a step is carried
    /// out) that calls back into any node must get an error, not wait for
    /// a lock.
    static STEPPING: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as stepping until dropped, then restores the
/// previous mark.
struct SteppingMark(bool);

impl SteppingMark {
    fn set() -> Self {
        SteppingMark(STEPPING.with(|s| s.replace(true)))
    }
}

impl Drop for SteppingMark {
    fn drop(&mut self) {
        STEPPING.with(|s| s.set(self.0));
    }
}

/// A call into a node from a custom transport's method, which runs while a
/// step is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reentered;

/// Why a call that talks to the cluster was not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotStarted {
    /// Called from a transport's method.
    Reentered,
    /// The node has left the cluster.
    Left,
    /// The protocol refused the request.
    Protocol(ProtocolError),
}

impl From<Reentered> for NotStarted {
    fn from(_: Reentered) -> Self {
        NotStarted::Reentered
    }
}

/// The result of a started call, to be waited for: it arrives on `rx`
/// within `limit` (the caller's wait must not be shorter).
pub(crate) struct Pending<T> {
    pub(crate) rx: Receiver<T>,
    pub(crate) limit: Duration,
}

/// What one step of the machine gave out, by consumer; its buffers are
/// reused step after step.
#[derive(Default)]
struct StepOutput {
    transmits: Vec<Transmit>,
    events: Vec<Event>,
    completions: Vec<Completion>,
}

impl StepOutput {
    /// A burst's room is not kept for every later step (a transmit is about
    /// 100 bytes; a node with a few hundred of them would keep tens of KiB).
    fn shrink(&mut self) {
        self.transmits.shrink_to(8);
        self.events.shrink_to(8);
        self.completions.shrink_to(8);
    }
}

pub(crate) struct RunningNode {
    pub(crate) key: u64,
    /// This node, for the questions it asks the delegate thread.
    me: Weak<RunningNode>,
    name: String,
    machine: Mutex<Membership>,
    /// The output of the step being carried out. Taken before the
    /// machine's lock is released, so that what two threads' steps produce
    /// is carried out in the order of the steps.
    carrying_out: Mutex<StepOutput>,
    pub(crate) transport: Arc<dyn Transport>,
    /// Closed (set to `None`) when the node shuts down.
    events: Mutex<Option<Sender<Event>>>,
    /// Events waiting to be read beyond which new ones are dropped.
    event_capacity: usize,
    delegate: Option<Arc<dyn Delegate>>,
    notifier: Arc<Notifier>,
    events_dropped: AtomicU64,
    notifications_dropped: AtomicU64,
    pub(crate) incoming_dropped: Arc<AtomicU64>,
    send_errors: AtomicU64,
    waiters: Mutex<Waiters>,
    /// To tell the worker that the node's timers may have changed.
    work: Lanes,
    clock: Clock,
    /// When counters were last published (feature `metrics`).
    #[cfg(feature = "metrics")]
    published: Mutex<Option<Instant>>,
}

/// What a [`RunningNode`] is made of.
pub(crate) struct NodeParts {
    pub(crate) key: u64,
    pub(crate) machine: Membership,
    pub(crate) transport: Arc<dyn Transport>,
    /// The channel, and how many unread events it may hold.
    pub(crate) events: (Sender<Event>, usize),
    pub(crate) delegate: Option<Arc<dyn Delegate>>,
    pub(crate) notifier: Arc<Notifier>,
    pub(crate) work: Lanes,
    pub(crate) clock: Clock,
}

impl RunningNode {
    pub(crate) fn new(parts: NodeParts) -> Arc<Self> {
        Arc::new_cyclic(|me| RunningNode {
            key: parts.key,
            me: Weak::clone(me),
            name: parts.machine.name().to_owned(),
            machine: Mutex::new(parts.machine),
            carrying_out: Mutex::new(StepOutput::default()),
            transport: parts.transport,
            events: Mutex::new(Some(parts.events.0)),
            event_capacity: parts.events.1,
            delegate: parts.delegate,
            notifier: parts.notifier,
            events_dropped: AtomicU64::new(0),
            notifications_dropped: AtomicU64::new(0),
            incoming_dropped: Arc::new(AtomicU64::new(0)),
            send_errors: AtomicU64::new(0),
            waiters: Mutex::new(Waiters::default()),
            work: parts.work,
            clock: parts.clock,
            #[cfg(feature = "metrics")]
            published: Mutex::new(None),
        })
    }

    /// Runs `f` on the state machine at the current time, then carries out
    /// everything the step produced, with the machine unlocked.
    pub(crate) fn with_machine<R>(&self, f: impl FnOnce(&mut Membership, Instant) -> R) -> R {
        let _mark = SteppingMark::set();
        let mut m = self.machine.lock();
        let r = f(&mut m, self.clock.now());
        // Taken before the machine is released, so that steps are carried
        // out in order; its buffer is reused, step after step.
        let mut out = self.carrying_out.lock();
        out.transmits
            .extend(std::iter::from_fn(|| m.poll_transmit()));
        out.events.extend(std::iter::from_fn(|| m.poll_event()));
        out.completions
            .extend(std::iter::from_fn(|| m.poll_completion()));
        let notifications: Vec<Notification> =
            std::iter::from_fn(|| m.poll_notification()).collect();
        let queries: Vec<(QueryId, Query)> = std::iter::from_fn(|| m.poll_query()).collect();
        #[cfg(feature = "metrics")]
        let samples: Vec<crate::protocol::Sample> =
            std::iter::from_fn(|| m.poll_sample()).collect();
        drop(m);
        #[cfg(feature = "metrics")]
        if !samples.is_empty() {
            super::metrics::record(&self.name, samples);
        }
        self.carry_out(&mut out);
        if let Some(d) = &self.delegate {
            if !notifications.is_empty() {
                self.notifier
                    .send(d, notifications, &self.notifications_dropped);
            }
            if !queries.is_empty() {
                self.notifier.ask(&self.me, d, queries);
            }
        }
        drop(out);
        r
    }

    /// Resumes the step the delegate's answer was awaited for, then lets
    /// the worker re-read the node's timers.
    pub(crate) fn answer(&self, id: QueryId, answer: Answer) {
        self.with_machine(|m, now| m.answer(now, id, answer));
        self.work.send(WorkItem::Wake(self.key));
    }

    /// As [`RunningNode::with_machine`], unless the calling thread is in
    /// the middle of a step (a transport's method calling back). For its
    /// own node it would wait for itself; for another node, whose worker
    /// may be calling back the other way, the two would wait for each
    /// other.
    pub(crate) fn try_with_machine<R>(
        &self,
        f: impl FnOnce(&mut Membership, Instant) -> R,
    ) -> Result<R, Reentered> {
        if Self::in_any_step() {
            return Err(Reentered);
        }
        Ok(self.with_machine(f))
    }

    /// Whether the calling thread is inside a step of any node (a
    /// transport's method): it must not wait for the worker.
    pub(crate) fn in_any_step() -> bool {
        STEPPING.with(Cell::get)
    }

    /// Sends the step's transmits, then its events, then wakes the callers
    /// waiting for its completions, who thus find the events delivered.
    fn carry_out(&self, out: &mut StepOutput) {
        for transmit in out.transmits.drain(..) {
            self.transmit(transmit);
        }
        for event in out.events.drain(..) {
            self.deliver(event);
        }
        for completion in out.completions.drain(..) {
            self.complete(completion);
        }
        out.shrink();
    }

    fn transmit(&self, transmit: Transmit) {
        match transmit {
            Transmit::Datagram { to, bytes } => {
                if let Err(e) = self.transport.send_packet(to, &bytes) {
                    log::debug!("{}: send to {to} failed: {e}", self.name);
                    self.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Transmit::Dial {
                id,
                to,
                bytes,
                expect_reply,
                deadline,
            } => self.transport.dial(DialRequest {
                id,
                to,
                bytes,
                expect_reply,
                deadline: self.clock.to_std(deadline),
            }),
            Transmit::Reply { stream, bytes } => {
                self.transport.reply(ConnId::new(stream.get()), bytes);
            }
        }
    }

    fn deliver(&self, event: Event) {
        if let Event::Settled(_) = event {
            for w in self.waiters.lock().settled.drain(..) {
                let _ = w.send(());
            }
        }
        let sent = match &*self.events.lock() {
            Some(tx) if tx.len() < self.event_capacity => tx.try_send(event).is_ok(),
            Some(_) => false,
            // Shut down: nobody is owed events any more.
            None => true,
        };
        if !sent {
            self.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn complete(&self, completion: Completion) {
        match completion {
            Completion::Join { id, joined, errors } => {
                if let Some(w) = self.waiters.lock().joins.remove(&id) {
                    let _ = w.send((joined, errors));
                }
            }
            Completion::Broadcast(token) => {
                if let Some(w) = self.waiters.lock().broadcasts.remove(&token) {
                    let _ = w.send(());
                }
            }
        }
    }

    /// Runs an API call that talks to the cluster (refused once the node
    /// has left), then lets the worker re-read the node's timers.
    fn act<R>(
        &self,
        f: impl FnOnce(&mut Membership, Instant) -> Result<R, ProtocolError>,
    ) -> Result<R, NotStarted> {
        let r = self.try_with_machine(|m, now| {
            if m.has_left() {
                return Err(NotStarted::Left);
            }
            f(m, now).map_err(NotStarted::Protocol)
        })??;
        self.work.send(WorkItem::Wake(self.key));
        Ok(r)
    }

    /// Starts joining through `targets`.
    pub(crate) fn join(&self, targets: &[JoinTarget]) -> Result<Pending<JoinOutcome>, NotStarted> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let limit = self.act(|m, now| {
            let id = m.join(now, targets);
            self.waiters.lock().joins.insert(id, tx);
            // Every dial ends by tcp_timeout, and its expiry a second later.
            Ok(m.config().tcp_timeout + Duration::from_secs(2))
        })?;
        Ok(Pending { rx, limit })
    }

    /// Leaves; the receiver hears when the news has gone out (`None`:
    /// nobody needs telling).
    pub(crate) fn leave(&self) -> Result<Option<Receiver<()>>, NotStarted> {
        self.announce(|m, now| Ok(m.leave(now)))
    }

    /// Advertises the delegate's metadata with a new incarnation, as
    /// [`RunningNode::leave`]. The delegate is asked before the step.
    pub(crate) fn update_node(&self) -> Result<Option<Receiver<()>>, NotStarted> {
        let meta = self
            .delegate
            .as_ref()
            .map_or_else(Vec::new, |d| d.node_meta(crate::wire::META_MAX_SIZE));
        self.announce(|m, now| m.update_node(now, meta))
    }

    fn announce(
        &self,
        f: impl FnOnce(&mut Membership, Instant) -> Result<Option<NotifyToken>, ProtocolError>,
    ) -> Result<Option<Receiver<()>>, NotStarted> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let token = self.act(|m, now| {
            let token = f(m, now)?;
            // Before the step's output is carried out, which may finish it.
            if let Some(t) = token {
                self.waiters.lock().broadcasts.insert(t, tx);
            }
            Ok(token)
        })?;
        Ok(token.map(|_| rx))
    }

    /// A receiver told when the node settles, or `None` if it is settled.
    pub(crate) fn settled_waiter(&self) -> Result<Option<Receiver<()>>, Reentered> {
        self.try_with_machine(|m, _| {
            if m.is_settled() {
                return None;
            }
            let (tx, rx) = crossbeam_channel::bounded(1);
            self.waiters.lock().settled.push(tx);
            Some(rx)
        })
    }

    /// Replaces the seeds partition healing tries.
    pub(crate) fn set_seeds(&self, seeds: Vec<SocketAddr>) {
        self.with_machine(|m, _| m.set_seeds(seeds));
    }

    /// Sends a user message over a stream.
    pub(crate) fn send_reliable(
        &self,
        to: SocketAddr,
        name: &str,
        msg: &[u8],
    ) -> Result<Pending<Result<(), DialError>>, NotStarted> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let limit = self.act(|m, now| {
            let id = m.send_reliable(now, to, name, msg)?;
            self.waiters.lock().dials.insert(id, tx);
            Ok(stream_time_limit(m.config().tcp_timeout, msg.len()) + Duration::from_secs(1))
        })?;
        Ok(Pending { rx, limit })
    }

    /// Sends a user message in one datagram.
    pub(crate) fn send_best_effort(
        &self,
        to: SocketAddr,
        name: &str,
        msg: &[u8],
    ) -> Result<(), NotStarted> {
        self.act(|m, _| m.send_best_effort(to, name, msg))
    }

    /// Queues an application broadcast.
    pub(crate) fn broadcast(&self, msg: &[u8], name: Option<&str>) -> Result<(), NotStarted> {
        self.act(|m, now| m.queue_broadcast(now, msg, name))
    }

    /// Closes the event channel: after the node's last events, readers see
    /// it disconnected.
    pub(crate) fn close_events(&self) {
        let _order = self.carrying_out.lock();
        *self.events.lock() = None;
        // A stopped node never settles: its waiters hear so at once.
        self.waiters.lock().settled.clear();
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.machine.lock().poll_timeout()
    }

    /// Runs due timers, the worker lagging `lag` behind its datagrams;
    /// returns the next deadline (read under the same lock).
    pub(crate) fn on_timeout(&self, now: Instant, lag: Duration) -> Option<Instant> {
        #[cfg(feature = "metrics")]
        let mut gossip_rounds = Vec::new();
        let next = self.with_machine(|m, _| {
            m.set_local_lag(lag);
            #[cfg(feature = "metrics")]
            {
                gossip_rounds = super::metrics::run_timers_timing_gossip(m, now);
            }
            #[cfg(not(feature = "metrics"))]
            m.handle_timeout(now);
            m.poll_timeout()
        });
        #[cfg(feature = "metrics")]
        {
            super::metrics::record_gossip_rounds(&self.name, gossip_rounds);
            self.publish_metrics(now);
        }
        next
    }

    /// The node's counters, the protocol's and the runtime's.
    pub(crate) fn stats(&self) -> Result<NodeStats, Reentered> {
        let protocol = self.try_with_machine(|m, _| m.stats())?;
        Ok(NodeStats {
            protocol,
            events_dropped: self.events_dropped.load(Ordering::Relaxed),
            notifications_dropped: self.notifications_dropped.load(Ordering::Relaxed),
            incoming_dropped: self.incoming_dropped.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
        })
    }

    #[cfg(feature = "metrics")]
    fn publish_metrics(&self, now: Instant) {
        {
            let mut last = self.published.lock();
            if last.is_some_and(|t| {
                now.saturating_duration_since(t) < std::time::Duration::from_secs(1)
            }) {
                return;
            }
            *last = Some(now);
        }
        let Ok(stats) = self.stats() else { return };
        let gauges = {
            let m = self.machine.lock();
            super::metrics::Gauges {
                health: m.health_score(),
                by_state: m.count_by_state(),
                queued: m.queued_broadcasts(),
            }
        };
        super::metrics::publish(&self.name, &stats, &gauges);
    }

    /// Handles what arrived, the worker lagging `lag` behind its
    /// datagrams; returns the next deadline.
    pub(crate) fn on_incoming(
        &self,
        now: Instant,
        incoming: Incoming,
        lag: Duration,
    ) -> Option<Instant> {
        match incoming {
            Incoming::Packet { from, bytes } => self.with_machine(|m, _| {
                m.set_local_lag(lag);
                m.handle_packet(now, from, &bytes);
                m.poll_timeout()
            }),
            Incoming::Stream { conn, from, bytes } => self.with_machine(|m, _| {
                m.handle_stream_request(now, from, StreamId::new(conn.get()), &bytes);
                m.poll_timeout()
            }),
            Incoming::DialResult { id, result } => {
                if let Some(w) = self.waiters.lock().dials.remove(&id) {
                    let _ = w.send(result.as_ref().map(|_| ()).map_err(Clone::clone));
                }
                self.with_machine(|m, _| {
                    m.handle_dial_reply(now, id, result);
                    m.poll_timeout()
                })
            }
        }
    }

    /// Changes the keyring.
    pub(crate) fn change_keyring<E>(
        &self,
        f: impl FnOnce(&mut crate::wire::Keyring) -> Result<(), E>,
    ) -> Result<Result<(), E>, Reentered> {
        if Self::in_any_step() {
            return Err(Reentered);
        }
        Ok(f(self.machine.lock().keyring_mut()))
    }
}
