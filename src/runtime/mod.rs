//! The threads around the protocol state machine.
//!
//! A [`Runtime`] runs a mio event loop for every socket of its nodes
//! (`swimlist-io`) and protocol workers that drive their state machines and
//! timers (`swimlist-worker-N`, see `worker.rs`), plus, once a node with a
//! delegate has something to tell it, a delegate thread
//! (`swimlist-delegate`, see `notifier.rs`). A node created with
//! [`Memberlist::create`](crate::Memberlist::create) gets a runtime of its
//! own with one worker — two threads per node. Many nodes can share one
//! runtime ([`Builder::runtime`](crate::Builder::runtime)); [`Runtime::new`]
//! gives it a worker per core.
//!
//! No async runtime is involved: the application's handle calls into the
//! node's state machine under a lock and waits on plain channels.

mod dskit;
mod memory;
#[cfg(feature = "metrics")]
mod metrics;
mod net;
pub(crate) mod notifier;
pub(crate) mod running_node;
pub(crate) mod seed_refresh;
#[cfg(feature = "dns-srv")]
mod srv;
#[cfg(not(feature = "tls"))]
#[path = "no_tls.rs"]
pub(crate) mod tls;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod transport;
mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use std::time::Duration;

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::delegate::Delegate;
use crate::node::Event;
use crate::protocol::Membership;
use running_node::{NodeParts, RunningNode};

pub use memory::{MemoryNetwork, MemoryTransport};
pub(crate) use net::IoHandle;
pub(crate) use net::NetTransport;
pub(crate) use notifier::Notifier;
pub use running_node::NodeStats;
pub use seed_refresh::{Resolver, SrvResolver};
#[cfg(feature = "dns-srv")]
pub use srv::StubResolver;
#[cfg(feature = "tls")]
pub use tls::DskitTls;
pub(crate) use transport::Clock;
pub use transport::{ConnId, DialRequest, Incoming, IncomingSink, Transport};
use worker::Lanes;
pub(crate) use worker::WorkItem;

/// Why a node could not be started on a runtime.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The transport could not start.
    Io(io::Error),
    /// The runtime has been shut down.
    Stopped,
}

/// Protocol worker threads and an I/O thread, shared by the nodes built on
/// it. Cloning is cheap; the threads stop when [`Runtime::shutdown`] is
/// called or the last clone is dropped.
///
/// [`Runtime::new`] sizes itself to the machine: one worker per core (at
/// most 8), each driving a share of the nodes. A node created alone
/// ([`Memberlist::create`](crate::Memberlist::create)) gets a runtime with
/// one worker: two threads in all.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.thread_count())
            .finish_non_exhaustive()
    }
}

struct RuntimeInner {
    clock: Clock,
    /// One per worker; a node belongs to `workers[key % len]`.
    workers: Vec<Lanes>,
    io: IoHandle,
    threads: Mutex<Vec<JoinHandle<()>>>,
    thread_ids: Vec<ThreadId>,
    notifier: Arc<Notifier>,
    stopped: AtomicBool,
    queued: Arc<AtomicUsize>,
}

impl Runtime {
    /// Starts a runtime for many nodes: an I/O thread and one protocol
    /// worker per core (at most 8).
    pub fn new() -> io::Result<Runtime> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_workers(cores.min(8))
    }

    /// Starts a runtime with `workers` protocol workers (at least one) and
    /// an I/O thread.
    pub fn with_workers(workers: usize) -> io::Result<Runtime> {
        let clock = Clock::new();
        let (io, event_loop) = net::event_loop()?;
        let queued = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let mut senders = Vec::new();
        for i in 0..workers.max(1) {
            let (lanes, receivers) = worker::lanes();
            let for_worker = Arc::clone(&queued);
            let spawned = std::thread::Builder::new()
                .name(format!("swimlist-worker-{i}"))
                .spawn(move || worker::run(receivers, clock, for_worker));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // Stop the workers already started: they see their
                    // lanes close.
                    drop(senders);
                    drop(lanes);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
            senders.push(lanes);
        }
        let io_thread = std::thread::Builder::new()
            .name("swimlist-io".into())
            .spawn(move || event_loop.run())?;
        threads.push(io_thread);
        let thread_ids = threads.iter().map(|t| t.thread().id()).collect();
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                clock,
                workers: senders,
                io,
                threads: Mutex::new(threads),
                thread_ids,
                notifier: Arc::new(Notifier::default()),
                stopped: AtomicBool::new(false),
                queued,
            }),
        })
    }

    /// Threads this runtime runs (its workers and the I/O thread; 0 once
    /// shut down).
    pub fn thread_count(&self) -> usize {
        self.inner.threads.lock().len()
    }

    /// Stops the threads and waits for them. Nodes still on the runtime
    /// stop working; shut them down first.
    pub fn shutdown(&self) {
        self.inner.stop();
    }

    /// The protocol time now, for a state machine about to join.
    pub(crate) fn now(&self) -> crate::protocol::Instant {
        self.inner.clock.now()
    }

    /// Puts a state machine to work: wraps it in a running node, starts its
    /// transport and hands it to the worker.
    pub(crate) fn start_node(
        &self,
        machine: Membership,
        transport: Arc<dyn Transport>,
        events: (Sender<Event>, usize),
        delegate: Option<Arc<dyn Delegate>>,
    ) -> Result<Arc<RunningNode>, StartError> {
        let key = self.next_key();
        let lanes = self.lanes(key);
        let node = RunningNode::new(NodeParts {
            key,
            machine,
            transport: Arc::clone(&transport),
            events,
            delegate,
            notifier: Arc::clone(&self.inner.notifier),
            work: lanes.clone(),
            clock: self.inner.clock,
        });
        transport
            .start(IncomingSink {
                node: node.key,
                work: lanes.clone(),
                dropped: Arc::clone(&node.incoming_dropped),
                queued: Arc::clone(&self.inner.queued),
            })
            .map_err(StartError::Io)?;
        // Deliver what creation produced (the local join event).
        node.with_machine(|_, _| ());
        if !lanes.send(WorkItem::Add(Arc::clone(&node))) {
            return Err(StartError::Stopped);
        }
        Ok(node)
    }

    /// Stops a node: closes its transport, takes it off its worker (waiting
    /// up to 5 s for the worker to let go of it, unless called from a
    /// worker, which cannot wait for itself) and closes its event channel
    /// after its last events. The control lane is unbounded, so this never
    /// waits for a backlog of gossip to drain.
    pub(crate) fn stop_node(&self, node: &RunningNode) {
        node.transport.shutdown();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let on_worker = self.is_own_thread() || RunningNode::in_any_step();
        if self.lanes(node.key).send(WorkItem::Remove(node.key, tx)) && !on_worker {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
        node.close_events();
    }

    /// The lanes of the worker that drives the node with `key`.
    fn lanes(&self, key: u64) -> Lanes {
        let workers = &self.inner.workers;
        // `workers` is never empty; the key is spread over them.
        workers[usize::try_from(key).unwrap_or(0) % workers.len()].clone()
    }

    pub(crate) fn io(&self) -> IoHandle {
        self.inner.io.clone()
    }

    /// A key for a new node, unique in the process (a thread marks the
    /// node it is stepping by its key, whatever its runtime).
    fn next_key(&self) -> u64 {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
        NEXT_KEY.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the calling thread is this runtime's worker or I/O thread:
    /// waiting there for the worker would wait forever.
    pub(crate) fn is_own_thread(&self) -> bool {
        self.inner.thread_ids.contains(&std::thread::current().id())
    }
}

impl RuntimeInner {
    fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.notifier.stop();
        for lanes in &self.workers {
            lanes.send(WorkItem::Stop);
        }
        self.io.send(net::IoCommand::Stop);
        let current = std::thread::current().id();
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            // A delegate dropping the last handle runs on the worker: that
            // thread ends by itself once it returns.
            if t.thread().id() != current {
                let _ = t.join();
            }
        }
    }
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.stop();
    }
}
