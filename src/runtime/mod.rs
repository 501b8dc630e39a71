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
pub(crate) mod node;
mod notifier;
mod transport;
mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

pub use memory::{MemoryNetwork, MemoryTransport};
pub(crate) use net::IoHandle;
pub use net::NetTransport;
pub use node::NodeStats;
pub(crate) use notifier::Notifier;
pub(crate) use transport::Clock;
pub use transport::{ConnId, DialRequest, Incoming, IncomingSink, StreamCodec, Transport};
pub(crate) use worker::WorkItem;

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

    pub(crate) fn clock(&self) -> Clock {
        self.inner.clock
    }

    pub(crate) fn work(&self) -> Sender<WorkItem> {
        self.inner.work.clone()
    }

    pub(crate) fn io(&self) -> IoHandle {
        self.inner.io.clone()
    }

    pub(crate) fn queued(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.inner.queued)
    }

    /// A key for a new node, unique in the process (a thread marks the
    /// node it is stepping by its key, whatever its runtime).
    pub(crate) fn next_key(&self) -> u64 {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
        NEXT_KEY.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn notifier(&self) -> Arc<Notifier> {
        Arc::clone(&self.inner.notifier)
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
