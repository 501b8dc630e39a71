//! The transport abstraction: how datagrams and streams reach a node.
//!
//! A transport moves bytes; it never interprets messages beyond finding
//! where a stream message ends ([`stream_message_len`]), and hands the node
//! bytes, which the node decodes with its own label and keys.
//! [`NetTransport`](super::NetTransport) uses real UDP and
//! TCP sockets; [`MemoryNetwork`](super::MemoryNetwork) connects nodes in
//! one process, with loss, delay and partitions, for tests.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::worker::{Lanes, WorkItem};
use crate::protocol::{DialError, DialId, Instant};
#[cfg(doc)]
use crate::wire::stream_message_len;

/// Identifies an accepted stream awaiting its reply. A transport numbers
/// its accepted streams as it likes ([`ConnId::new`]) and gets the number
/// back in [`Transport::reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The id a transport gives an accepted stream.
    pub fn new(id: u64) -> Self {
        ConnId(id)
    }

    /// The number given to [`ConnId::new`].
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Something that arrived for a node.
#[derive(Debug)]
pub enum Incoming {
    /// A datagram.
    Packet {
        /// Its source.
        from: SocketAddr,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// The request read from an accepted stream: the bytes of one whole
    /// message as [`stream_message_len`] measured it (label header
    /// included), or, when they can never frame one, what arrived. Answer
    /// with [`Transport::reply`]: the node replies, or closes the stream
    /// when the request deserves no answer.
    Stream {
        /// The connection.
        conn: ConnId,
        /// The peer's address.
        from: SocketAddr,
        /// The request's bytes.
        bytes: Vec<u8>,
    },
    /// The outcome of [`Transport::dial`].
    DialResult {
        /// The dial.
        id: DialId,
        /// The reply's bytes, measured like a request's (`None` if no reply
        /// was expected), or why the dial failed.
        result: Result<Option<Vec<u8>>, DialError>,
    },
}

/// A stream to open: connect, write `bytes`, read one reply if
/// `expect_reply`, give up at `deadline`.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// Reported back in [`Incoming::DialResult`].
    pub id: DialId,
    /// Destination.
    pub to: SocketAddr,
    /// Everything to write.
    pub bytes: Vec<u8>,
    /// Whether to read a reply.
    pub expect_reply: bool,
    /// When to give up.
    pub deadline: std::time::Instant,
}

/// Moves a node's datagrams and streams. Implementations must not block in
/// any method: they are called from the protocol worker, which serves every
/// node of its runtime.
pub trait Transport: Send + Sync + 'static {
    /// The address the node is reachable at.
    fn local_addr(&self) -> SocketAddr;
    /// Starts delivering what arrives to `sink`.
    fn start(&self, sink: IncomingSink) -> io::Result<()>;
    /// Sends one datagram, best effort.
    fn send_packet(&self, to: SocketAddr, bytes: &[u8]) -> io::Result<()>;
    /// Opens a stream; the result arrives as [`Incoming::DialResult`].
    fn dial(&self, request: DialRequest);
    /// Answers (or, with `None`, just closes) an accepted stream.
    fn reply(&self, conn: ConnId, bytes: Option<Vec<u8>>);
    /// Stops: closes sockets and connections, delivers nothing more.
    fn shutdown(&self);
}

/// Where a transport delivers a node's incoming traffic.
#[derive(Clone)]
pub struct IncomingSink {
    pub(crate) node: u64,
    pub(crate) work: Lanes,
    pub(crate) dropped: Arc<AtomicU64>,
    /// Bytes of datagrams waiting for the worker, shared by the runtime.
    pub(crate) queued: Arc<AtomicUsize>,
}

/// Most datagram bytes that may wait for the protocol worker; beyond it
/// new datagrams are dropped (and counted), so a flood cannot grow memory.
pub(crate) const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

impl IncomingSink {
    /// Hands something over to the node's protocol worker. Returns false
    /// (and counts it) when it cannot be queued: a datagram when the
    /// worker is too far behind, anything once the runtime has stopped.
    /// Streams and dial results are never dropped for load.
    pub fn deliver(&self, incoming: Incoming) -> bool {
        let size = match &incoming {
            Incoming::Packet { bytes, .. } => bytes.len(),
            Incoming::Stream { .. } | Incoming::DialResult { .. } => 0,
        };
        let queued = self.queued.fetch_add(size, Ordering::Relaxed);
        if queued + size > MAX_QUEUED_BYTES {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if self.work.send(WorkItem::Incoming(
            self.node,
            incoming,
            std::time::Instant::now(),
        )) {
            return true;
        }
        self.queued.fetch_sub(size, Ordering::Relaxed);
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }
}

/// The runtime's clock: protocol time is the time since the runtime started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: std::time::Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            start: std::time::Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_duration(self.start.elapsed())
    }

    pub(crate) fn to_std(self, t: Instant) -> std::time::Instant {
        self.start + std::time::Duration::from_nanos(t.as_nanos())
    }
}
