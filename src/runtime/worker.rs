//! The protocol workers: threads that drive the nodes' state machines.
//!
//! A runtime has one or more workers; each node belongs to one of them (by
//! its key), which receives what the node's transport delivers, hands it to
//! the node's state machine and fires its timers. Each machine keeps its
//! own timers (probe, gossip, push/pull, suspicion, healing); a worker only
//! tracks each node's next deadline in an ordered set, so one thread can
//! serve hundreds of nodes.
//!
//! Work arrives in two lanes. The **control** lane carries what must never
//! be lost or wait behind gossip: stream requests and dial results (joins,
//! push/pulls, reliable messages), node additions and removals, wake-ups.
//! It is unbounded — what fills it is itself bounded by the transports'
//! stream limits and the application's calls. The **packet** lane carries
//! datagrams, bounded in count and bytes: under overload, gossip is what
//! gets dropped (and counted), while joins, dial results and shutdowns
//! still go through. The worker takes a batch from each lane in turn, so
//! neither starves the other.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::running_node::RunningNode;
use super::transport::{Clock, Incoming};
use crate::protocol::Instant;

/// Datagrams waiting for one worker beyond which new ones are dropped and
/// counted (Go's handoff queue depth).
const PACKET_QUEUE: usize = 16 * 1024;

/// Items a worker takes from one lane before turning to the other (and to
/// its timers).
const BATCH: usize = 64;

/// Work for a protocol worker.
pub(crate) enum WorkItem {
    /// Traffic for a node, and when it was queued.
    Incoming(u64, Incoming, std::time::Instant),
    /// A node's deadlines may have changed (after an API call).
    Wake(u64),
    /// Start driving a node.
    Add(Arc<RunningNode>),
    /// Stop driving a node; acknowledged once it is forgotten.
    Remove(u64, Sender<()>),
    /// Exit the thread.
    Stop,
}

/// The sending side of a worker's two lanes.
#[derive(Clone)]
pub(crate) struct Lanes {
    control: Sender<WorkItem>,
    packets: Sender<WorkItem>,
}

/// The receiving side, for the worker thread.
pub(crate) struct LaneReceivers {
    control: Receiver<WorkItem>,
    packets: Receiver<WorkItem>,
}

/// A worker's lanes, both ends.
pub(crate) fn lanes() -> (Lanes, LaneReceivers) {
    let (control, control_rx) = crossbeam_channel::unbounded();
    // Capped by count when sending (and by bytes in `IncomingSink`): a
    // bounded channel would allocate all its slots up front, megabytes
    // per worker that an idle runtime never uses.
    let (packets, packets_rx) = crossbeam_channel::unbounded();
    (
        Lanes { control, packets },
        LaneReceivers {
            control: control_rx,
            packets: packets_rx,
        },
    )
}

impl Lanes {
    /// Queues `item`: datagrams on the packet lane (false when it is full or
    /// the worker is gone), everything else on the control lane (false only
    /// when the worker is gone).
    pub(crate) fn send(&self, item: WorkItem) -> bool {
        match item {
            WorkItem::Incoming(_, Incoming::Packet { .. }, _) => {
                self.packets.len() < PACKET_QUEUE && self.packets.send(item).is_ok()
            }
            item => self.control.send(item).is_ok(),
        }
    }
}

#[derive(Default)]
struct Schedule {
    due: BTreeSet<(Instant, u64)>,
    next: HashMap<u64, Instant>,
}

impl Schedule {
    fn set(&mut self, key: u64, at: Option<Instant>) {
        if let Some(old) = self.next.remove(&key) {
            self.due.remove(&(old, key));
        }
        if let Some(at) = at {
            self.due.insert((at, key));
            self.next.insert(key, at);
        }
    }

    fn pop_due(&mut self, now: Instant) -> Option<u64> {
        let &(at, key) = self.due.first()?;
        if at > now {
            return None;
        }
        self.due.pop_first();
        self.next.remove(&key);
        Some(key)
    }
}

/// A worker's state: the nodes it drives and when each is next due.
struct Worker {
    nodes: HashMap<u64, Arc<RunningNode>>,
    schedule: Schedule,
    clock: Clock,
    queued: Arc<AtomicUsize>,
    /// How long the last datagram waited in the packet lane (zero once the
    /// lane is found empty): the nodes' state machines are told, so that
    /// they do not blame peers for acks still waiting here.
    lag: std::time::Duration,
}

/// Whether the worker goes on after an item.
enum Flow {
    Continue,
    Stop,
}

impl Worker {
    fn fire_timers(&mut self) {
        let now = self.clock.now();
        while let Some(key) = self.schedule.pop_due(now) {
            if let Some(node) = self.nodes.get(&key) {
                self.schedule.set(key, node.on_timeout(now, self.lag));
            }
        }
    }

    fn handle(&mut self, item: WorkItem) -> Flow {
        match item {
            WorkItem::Incoming(key, incoming, queued_at) => {
                if let Incoming::Packet { bytes, .. } = &incoming {
                    self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                    self.lag = queued_at.elapsed();
                }
                if let Some(node) = self.nodes.get(&key) {
                    let next = node.on_incoming(self.clock.now(), incoming, self.lag);
                    self.schedule.set(key, next);
                }
            }
            WorkItem::Wake(key) => {
                if let Some(node) = self.nodes.get(&key) {
                    self.schedule.set(key, node.next_deadline());
                }
            }
            WorkItem::Add(node) => {
                self.schedule.set(node.key, node.next_deadline());
                self.nodes.insert(node.key, node);
            }
            WorkItem::Remove(key, ack) => {
                self.nodes.remove(&key);
                self.schedule.set(key, None);
                let _ = ack.send(());
            }
            WorkItem::Stop => return Flow::Stop,
        }
        Flow::Continue
    }

    /// How long the worker may wait for work before a timer is due.
    fn idle_time(&self) -> Option<std::time::Duration> {
        let &(at, _) = self.schedule.due.first()?;
        Some(
            self.clock
                .to_std(at)
                .saturating_duration_since(std::time::Instant::now()),
        )
    }
}

pub(crate) fn run(lanes: LaneReceivers, clock: Clock, queued: Arc<AtomicUsize>) {
    let mut worker = Worker {
        nodes: HashMap::new(),
        schedule: Schedule::default(),
        clock,
        queued,
        lag: std::time::Duration::ZERO,
    };
    let never = crossbeam_channel::never();
    loop {
        worker.fire_timers();
        // A batch from each lane in turn: neither can starve the other,
        // and timers fire between batches.
        let mut handled = 0;
        for lane in [&lanes.control, &lanes.packets] {
            for _ in 0..BATCH {
                let Ok(item) = lane.try_recv() else { break };
                if let Flow::Stop = worker.handle(item) {
                    return;
                }
                handled += 1;
            }
        }
        if lanes.packets.is_empty() {
            worker.lag = std::time::Duration::ZERO;
        }
        if handled > 0 {
            continue;
        }
        // Nothing ready: sleep until work arrives or a timer is due.
        let timeout = match worker.idle_time() {
            Some(wait) => crossbeam_channel::after(wait),
            None => never.clone(),
        };
        let item = crossbeam_channel::select! {
            recv(lanes.control) -> item => item,
            recv(lanes.packets) -> item => item,
            recv(timeout) -> _ => continue,
        };
        match item {
            Ok(item) => {
                if let Flow::Stop = worker.handle(item) {
                    return;
                }
            }
            // The runtime dropped its senders: nothing more will come.
            Err(_) => return,
        }
    }
}
