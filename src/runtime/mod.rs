//! The threads around the protocol state machine.
//!
//! A [`Runtime`] runs two threads: a mio event loop for every socket of its
//! nodes (`swimlist-io`) and a protocol worker that drives their state
//! machines and timers (`swimlist-worker`). A node created with
//! [`Memberlist::create`](crate::Memberlist::create) gets a runtime of its
//! own — two threads per node, nothing else. Many nodes can share one
//! runtime ([`Builder::runtime`](crate::Builder::runtime)), so a process can
//! host many nodes on two threads (measured: 200 nodes joining at once with
//! `local` timings use ~19% of a core; at ~300 simultaneous joins the
//! worker falls behind the 1 s TCP timeout).
//!
//! No async runtime is involved: the application's handle calls into the
//! node's state machine under a lock and waits on plain channels.

mod memory;
#[cfg(feature = "metrics")]
mod metrics;
mod net;
mod notifier;
pub(crate) mod running_node;
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
pub(crate) use transport::Clock;
pub use transport::{ConnId, DialRequest, Incoming, IncomingSink, Transport};
pub(crate) use worker::WorkItem;

/// Why a node could not be started on a runtime.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The transport could not start.
    Io(io::Error),
    /// The runtime has been shut down.
    Stopped,
}

/// Capacity of the queue from transports to the worker; beyond it,
/// incoming traffic is dropped and counted (Go's handoff queue depth).
const WORK_QUEUE: usize = 16 * 1024;

/// A protocol worker thread and an I/O thread, shared by the nodes built
/// on it. Cloning is cheap; the threads stop when [`Runtime::shutdown`] is
/// called or the last clone is dropped.
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
    work: Sender<WorkItem>,
    io: IoHandle,
    threads: Mutex<Vec<JoinHandle<()>>>,
    thread_ids: Vec<ThreadId>,
    notifier: Arc<Notifier>,
    stopped: AtomicBool,
    queued: Arc<AtomicUsize>,
}

impl Runtime {
    /// Starts the two threads.
    pub fn new() -> io::Result<Runtime> {
        let clock = Clock::new();
        let (work, rx) = crossbeam_channel::bounded(WORK_QUEUE);
        let (io, event_loop) = net::event_loop()?;
        let queued = Arc::new(AtomicUsize::new(0));
        let for_worker = Arc::clone(&queued);
        let worker = std::thread::Builder::new()
            .name("swimlist-worker".into())
            .spawn(move || worker::run(rx, clock, for_worker))?;
        let io_thread = std::thread::Builder::new()
            .name("swimlist-io".into())
            .spawn(move || event_loop.run())?;
        let thread_ids = vec![worker.thread().id(), io_thread.thread().id()];
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                clock,
                work,
                io,
                threads: Mutex::new(vec![worker, io_thread]),
                thread_ids,
                notifier: Arc::new(Notifier::default()),
                stopped: AtomicBool::new(false),
                queued,
            }),
        })
    }

    /// Threads this runtime runs (2 until shut down).
    pub fn thread_count(&self) -> usize {
        self.inner.threads.lock().len()
    }

    /// Stops both threads and waits for them. Nodes still on the runtime
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
        let node = Arc::new(RunningNode::new(NodeParts {
            key: self.next_key(),
            machine,
            transport: Arc::clone(&transport),
            events,
            delegate,
            notifier: Arc::clone(&self.inner.notifier),
            work: self.work(),
            clock: self.inner.clock,
        }));
        transport
            .start(IncomingSink {
                node: node.key,
                work: self.work(),
                codec: Arc::clone(&node.codec),
                dropped: Arc::clone(&node.incoming_dropped),
                queued: Arc::clone(&self.inner.queued),
            })
            .map_err(StartError::Io)?;
        // Deliver what creation produced (the local join event).
        node.with_machine(|_, _| ());
        self.inner
            .work
            .send(WorkItem::Add(Arc::clone(&node)))
            .map_err(|_| StartError::Stopped)?;
        Ok(node)
    }

    /// Stops a node: closes its transport, takes it off the worker (waiting
    /// up to 5 s, unless called from the worker itself) and closes its
    /// event channel after its last events.
    pub(crate) fn stop_node(&self, node: &RunningNode) {
        node.transport.shutdown();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let on_worker = self.is_own_thread() || RunningNode::in_any_step();
        let removing = if on_worker {
            self.inner
                .work
                .try_send(WorkItem::Remove(node.key, tx))
                .is_ok()
        } else {
            self.inner
                .work
                .send_timeout(WorkItem::Remove(node.key, tx), Duration::from_secs(5))
                .is_ok()
        };
        if removing && !on_worker {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
        node.close_events();
    }

    fn work(&self) -> Sender<WorkItem> {
        self.inner.work.clone()
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
        let _ = self.work.send(WorkItem::Stop);
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
