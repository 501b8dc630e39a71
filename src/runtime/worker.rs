//! The protocol worker: one thread that drives every node of a runtime.
//!
//! It receives what transports deliver, hands it to the nodes' state
//! machines, and fires their timers. Each machine keeps its own timers
//! (probe, gossip, push/pull, suspicion, healing); the worker only tracks
//! each node's next deadline in an ordered set, so one thread can serve
//! hundreds of nodes.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::running_node::RunningNode;
use super::transport::{Clock, Incoming};
use crate::protocol::Instant;

/// Work for the protocol thread.
pub(crate) enum WorkItem {
    /// Traffic for a node.
    Incoming(u64, Incoming),
    /// A node's deadlines may have changed (after an API call).
    Wake(u64),
    /// Start driving a node.
    Add(Arc<RunningNode>),
    /// Stop driving a node; acknowledged once it is forgotten.
    Remove(u64, Sender<()>),
    /// Exit the thread.
    Stop,
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

pub(crate) fn run(rx: Receiver<WorkItem>, clock: Clock, queued: Arc<AtomicUsize>) {
    let mut nodes: HashMap<u64, Arc<RunningNode>> = HashMap::new();
    let mut schedule = Schedule::default();
    loop {
        let now = clock.now();
        while let Some(key) = schedule.pop_due(now) {
            if let Some(node) = nodes.get(&key) {
                schedule.set(key, node.on_timeout(now));
            }
        }
        let item = match schedule.due.first() {
            Some(&(at, _)) => {
                let wait = clock
                    .to_std(at)
                    .saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(item) => item,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match rx.recv() {
                Ok(item) => item,
                Err(_) => return,
            },
        };
        match item {
            WorkItem::Incoming(key, incoming) => {
                if let Incoming::Packet { bytes, .. } = &incoming {
                    queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                }
                if let Some(node) = nodes.get(&key) {
                    let next = node.on_incoming(clock.now(), incoming);
                    schedule.set(key, next);
                }
            }
            WorkItem::Wake(key) => {
                if let Some(node) = nodes.get(&key) {
                    schedule.set(key, node.next_deadline());
                }
            }
            WorkItem::Add(node) => {
                schedule.set(node.key, node.next_deadline());
                nodes.insert(node.key, node);
            }
            WorkItem::Remove(key, ack) => {
                nodes.remove(&key);
                schedule.set(key, None);
                let _ = ack.send(());
            }
            WorkItem::Stop => return,
        }
    }
}
