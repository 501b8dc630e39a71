//! An in-process network for tests: nodes get a [`MemoryTransport`] from a
//! shared [`MemoryNetwork`] whose loss, delay, partitions and per-node UDP
//! blocking can be changed while the cluster runs.
//!
//! Bytes are exactly what real sockets would carry (labels, encryption and
//! compression included); one thread delivers them after the configured
//! delay. Streams behave like TCP: a node that is gone refuses connections,
//! a partition makes them time out at their deadline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::transport::{ConnId, DialRequest, Incoming, IncomingSink, Transport};
use crate::protocol::{DialError, DialId};

enum Delivery {
    Packet {
        to: SocketAddr,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    Request {
        to: SocketAddr,
        from: SocketAddr,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Result {
        to: SocketAddr,
        id: DialId,
        result: Result<Option<Vec<u8>>, DialError>,
    },
    /// The dial of this accepted stream gives up if still unanswered.
    Deadline(ConnId),
}

struct OpenStream {
    dialer: SocketAddr,
    id: DialId,
    expect_reply: bool,
}

struct State {
    sinks: HashMap<SocketAddr, Option<IncomingSink>>,
    queue: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    loss: f64,
    delay: Duration,
    groups: HashMap<SocketAddr, usize>,
    udp_blocked: HashSet<SocketAddr>,
    open: HashMap<ConnId, OpenStream>,
    rng: StdRng,
    stopped: bool,
}

impl State {
    fn schedule(&mut self, at: Instant, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    fn partitioned(&self, a: SocketAddr, b: SocketAddr) -> bool {
        match (self.groups.get(&a), self.groups.get(&b)) {
            (Some(x), Some(y)) => x != y,
            _ => false,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// An in-memory network connecting nodes of one process.
pub struct MemoryNetwork {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNetwork").finish_non_exhaustive()
    }
}

impl MemoryNetwork {
    /// A network with no loss and 100 µs of delay; `seed` drives the loss.
    pub fn new(seed: u64) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                sinks: HashMap::new(),
                queue: BTreeMap::new(),
                seq: 0,
                loss: 0.0,
                delay: Duration::from_micros(100),
                groups: HashMap::new(),
                udp_blocked: HashSet::new(),
                open: HashMap::new(),
                rng: StdRng::seed_from_u64(seed),
                stopped: false,
            }),
            wake: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("swimlist-memnet".into())
            .spawn(move || deliver_loop(&for_thread))?;
        Ok(MemoryNetwork {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// A transport for a node at `addr` (any address; it only names the
    /// node on this network).
    pub fn transport(&self, addr: SocketAddr) -> io::Result<Arc<MemoryTransport>> {
        let mut state = self.shared.state.lock();
        if state.sinks.contains_key(&addr) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        state.sinks.insert(addr, None);
        Ok(Arc::new(MemoryTransport {
            shared: Arc::clone(&self.shared),
            addr,
        }))
    }

    /// Probability that a datagram is lost.
    pub fn set_loss(&self, loss: f64) {
        self.shared.state.lock().loss = loss.clamp(0.0, 1.0);
    }

    /// One-way delay of datagrams and stream messages.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.state.lock().delay = delay;
    }

    /// Splits the network: nodes in different groups cannot reach each
    /// other; nodes in no group reach everyone.
    pub fn partition(&self, groups: &[&[SocketAddr]]) {
        let mut state = self.shared.state.lock();
        state.groups = groups
            .iter()
            .enumerate()
            .flat_map(|(g, addrs)| addrs.iter().map(move |a| (*a, g)))
            .collect();
    }

    /// Removes the partition.
    pub fn heal(&self) {
        self.shared.state.lock().groups.clear();
    }

    /// Drops (or stops dropping) every datagram sent to `addr`; its streams
    /// still work.
    pub fn block_udp_to(&self, addr: SocketAddr, blocked: bool) {
        let mut state = self.shared.state.lock();
        if blocked {
            state.udp_blocked.insert(addr);
        } else {
            state.udp_blocked.remove(&addr);
        }
    }
}

impl Drop for MemoryNetwork {
    fn drop(&mut self) {
        self.shared.state.lock().stopped = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

fn deliver_loop(shared: &Shared) {
    let mut state = shared.state.lock();
    loop {
        if state.stopped {
            return;
        }
        let now = Instant::now();
        let Some((&(at, seq), _)) = state.queue.first_key_value() else {
            shared.wake.wait(&mut state);
            continue;
        };
        if at > now {
            shared.wake.wait_until(&mut state, at);
            continue;
        }
        let Some(delivery) = state.queue.remove(&(at, seq)) else {
            continue;
        };
        // Deliver without the lock: sinks call back into transports.
        let target = route(&mut state, delivery);
        if let Some((sink, incoming)) = target {
            drop(state);
            sink.deliver(incoming);
            state = shared.state.lock();
        }
    }
}

/// Turns a due delivery into what its node receives.
fn route(state: &mut State, d: Delivery) -> Option<(IncomingSink, Incoming)> {
    match d {
        Delivery::Packet { to, from, bytes } => {
            let sink = state.sinks.get(&to)?.clone()?;
            Some((sink, Incoming::Packet { from, bytes }))
        }
        Delivery::Request {
            to,
            from,
            conn,
            bytes,
        } => {
            let Some(sink) = state.sinks.get(&to).cloned().flatten() else {
                let open = state.open.remove(&conn)?;
                let at = Instant::now();
                let result = Err(DialError::Read(std::io::ErrorKind::ConnectionReset));
                state.schedule(
                    at,
                    Delivery::Result {
                        to: open.dialer,
                        id: open.id,
                        result,
                    },
                );
                return None;
            };
            Some((sink, Incoming::Stream { conn, from, bytes }))
        }
        Delivery::Result { to, id, result } => {
            let sink = state.sinks.get(&to)?.clone()?;
            Some((sink, Incoming::DialResult { id, result }))
        }
        Delivery::Deadline(conn) => {
            let open = state.open.remove(&conn)?;
            let sink = state.sinks.get(&open.dialer)?.clone()?;
            Some((
                sink,
                Incoming::DialResult {
                    id: open.id,
                    result: Err(DialError::TimedOut),
                },
            ))
        }
    }
}

/// One node's attachment to a [`MemoryNetwork`].
pub struct MemoryTransport {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MemoryTransport {
    fn with_state(&self, f: impl FnOnce(&mut State)) {
        let mut state = self.shared.state.lock();
        f(&mut state);
        drop(state);
        self.shared.wake.notify_all();
    }
}

impl Transport for MemoryTransport {
    fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn start(&self, sink: IncomingSink) -> io::Result<()> {
        self.with_state(|s| {
            s.sinks.insert(self.addr, Some(sink));
        });
        Ok(())
    }

    fn send_packet(&self, to: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        let from = self.addr;
        self.with_state(|s| {
            if s.partitioned(from, to) || s.udp_blocked.contains(&to) {
                return;
            }
            let loss = s.loss;
            if loss > 0.0 && s.rng.random_bool(loss) {
                return;
            }
            let at = Instant::now() + s.delay;
            s.schedule(
                at,
                Delivery::Packet {
                    to,
                    from,
                    bytes: bytes.to_vec(),
                },
            );
        });
        Ok(())
    }

    fn dial(&self, request: DialRequest) {
        let dialer = self.addr;
        self.with_state(|s| {
            let at = Instant::now() + s.delay;
            let reachable = matches!(s.sinks.get(&request.to), Some(Some(_)));
            if s.partitioned(dialer, request.to) {
                let result = Err(DialError::TimedOut);
                s.schedule(
                    request.deadline,
                    Delivery::Result {
                        to: dialer,
                        id: request.id,
                        result,
                    },
                );
                return;
            }
            if !reachable {
                let result = Err(DialError::Connect(std::io::ErrorKind::ConnectionRefused));
                s.schedule(
                    at,
                    Delivery::Result {
                        to: dialer,
                        id: request.id,
                        result,
                    },
                );
                return;
            }
            s.seq += 1;
            let conn = ConnId::new(s.seq);
            s.open.insert(
                conn,
                OpenStream {
                    dialer,
                    id: request.id,
                    expect_reply: request.expect_reply,
                },
            );
            s.schedule(
                at,
                Delivery::Request {
                    to: request.to,
                    from: dialer,
                    conn,
                    bytes: request.bytes,
                },
            );
            s.schedule(request.deadline, Delivery::Deadline(conn));
        });
    }

    fn reply(&self, conn: ConnId, bytes: Option<Vec<u8>>) {
        self.with_state(|s| {
            let Some(open) = s.open.remove(&conn) else {
                return;
            };
            let at = Instant::now() + s.delay;
            let result = match (open.expect_reply, bytes) {
                (false, _) => Ok(None),
                (true, Some(reply)) => Ok(Some(reply)),
                (true, None) => Err(DialError::ClosedBeforeReply),
            };
            s.schedule(
                at,
                Delivery::Result {
                    to: open.dialer,
                    id: open.id,
                    result,
                },
            );
        });
    }

    fn shutdown(&self) {
        self.with_state(|s| {
            s.sinks.remove(&self.addr);
        });
    }
}
