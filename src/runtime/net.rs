//! Real UDP and TCP: one mio event loop per runtime owns every socket and
//! connection of every node on it.
//!
//! Each node has one UDP socket and one TCP listener on the same port.
//! Datagrams go out directly from the calling thread through a clone of the
//! UDP socket (no hop through the event loop); everything else — receiving,
//! accepting, dialing, reading and writing streams, deadlines — happens on
//! the loop, which hands complete messages to the protocol worker.
//!
//! With [`Framing::Dskit`] a node has no UDP socket: it speaks Grafana
//! dskit's TCP-only transport (see `dskit.rs`), posting each packet on a
//! connection of its own and telling accepted connections apart by their
//! first byte.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use parking_lot::Mutex;
use socket2::{Domain, Protocol, Socket, Type};

use super::dskit;
use super::tls::{DskitTls, TlsStream};
use super::transport::{ConnId, DialRequest, Incoming, IncomingSink, Transport};
use crate::protocol::{DialError, DialId};
use crate::wire::stream_message_len;

/// Largest stream accepted from a peer (a full 20 MiB encrypted frame, or a
/// large plaintext push/pull, fits).
const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;
/// Most bytes all unfinished streams of one event loop may hold; a stream
/// that would go beyond is closed, so many slow peers cannot exhaust memory.
const MAX_BUFFERED_BYTES: usize = 256 * 1024 * 1024;
/// Streams up to this size are decoded again on every readable event.
const SMALL_STREAM: usize = 64 * 1024;
/// Every this many bytes moved on a stream earn it another `tcp_timeout`
/// (up to its hard deadline): a large transfer that keeps flowing is not
/// cut short, while a silent or trickling peer still times out.
const PROGRESS_CHUNK: usize = 64 * 1024;
/// Larger ones wait, between tries, 40 ns per byte held by all streams:
/// re-parsing stays near 25 MB/s in total however many peers trickle.
const RETRY_NANOS_PER_BYTE: u64 = 40;
/// Receive buffer asked of the kernel for UDP (Go asks for the same).
const UDP_RECV_BUFFER: usize = 2 * 1024 * 1024;
const WAKER: Token = Token(0);
/// With dskit framing, accepted connections beyond `max_inbound` allowed
/// for packets (each packet comes on a connection of its own).
const PACKET_CONNS: usize = 1024;

/// How a node's traffic crosses the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Go memberlist's: packets as UDP datagrams, streams over TCP.
    Memberlist,
    /// Grafana dskit's: packets and streams over TCP, marked by their
    /// first byte.
    Dskit,
}

/// Commands for the event loop.
pub(crate) enum IoCommand {
    AddNode {
        node: u64,
        udp: Option<UdpSocket>,
        framing: Framing,
        tls: Option<DskitTls>,
        listener: TcpListener,
        sink: IncomingSink,
        max_inbound: usize,
        tcp_timeout: Duration,
    },
    /// Closes a node's sockets and streams, then acknowledges.
    RemoveNode(u64, Sender<()>),
    Dial(u64, DialRequest),
    /// Writes one dskit packet frame on a new connection to the address.
    Post(u64, SocketAddr, Vec<u8>),
    Reply(u64, ConnId, Option<Vec<u8>>),
    Stop,
}

/// Sends commands to the event loop and wakes it.
#[derive(Clone)]
pub(crate) struct IoHandle {
    commands: Sender<IoCommand>,
    waker: Arc<Waker>,
}

impl IoHandle {
    pub(crate) fn send(&self, command: IoCommand) {
        if self.commands.send(command).is_ok() {
            if let Err(e) = self.waker.wake() {
                log::error!("cannot wake the I/O thread: {e}");
            }
        }
    }
}

/// Creates the event loop; run it with [`run`] on its own thread.
pub(crate) fn event_loop() -> io::Result<(IoHandle, EventLoop)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = IoHandle {
        commands: tx,
        waker,
    };
    let event_loop = EventLoop {
        poll,
        commands: rx,
        sources: HashMap::new(),
        nodes: HashMap::new(),
        conns: HashMap::new(),
        next_token: 1,
        buf: vec![0; 65_536],
        buffered: 0,
    };
    Ok((handle, event_loop))
}

enum Source {
    Udp(u64),
    Listener(u64),
    Conn,
}

struct IoNode {
    udp: Option<(UdpSocket, Token)>,
    framing: Framing,
    /// With dskit framing: TLS on every connection.
    tls: Option<DskitTls>,
    listener: TcpListener,
    listener_token: Token,
    sink: IncomingSink,
    inbound: usize,
    /// Connections refused for being over the limit.
    refused: u64,
    max_inbound: usize,
    tcp_timeout: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Accepted {
    /// Dskit framing: waiting for the byte that says packet or stream.
    Classifying,
    /// Dskit framing: reading a packet frame to the end of the connection.
    ReadingPacket,
    /// Reading the request.
    Reading,
    /// The request went to the worker; its reply has not come yet.
    AwaitingReply,
    /// Writing the reply; close when done.
    Replying,
}

enum Role {
    Accepted(Accepted),
    Dialed {
        id: DialId,
        expect_reply: bool,
        connected: bool,
    },
    /// Writing a dskit packet frame; closed once written (and, over TLS,
    /// once close_notify is sent), reported to nobody (as UDP).
    Posting {
        connected: bool,
        notified: bool,
    },
}

struct Conn {
    node: u64,
    stream: TcpStream,
    peer: SocketAddr,
    /// When the connection times out unless it makes progress.
    deadline: std::time::Instant,
    /// Progress never extends `deadline` beyond this.
    hard_deadline: std::time::Instant,
    /// How much each [`PROGRESS_CHUNK`] extends `deadline` by.
    idle: Duration,
    /// Bytes moved since `deadline` was last extended.
    progress: usize,
    read: Vec<u8>,
    /// Length of `read` at the last decode try that found it incomplete.
    tried_len: usize,
    /// When a skipped decode try must be made.
    retry_at: Option<std::time::Instant>,
    write: Vec<u8>,
    written: usize,
    role: Role,
    /// TLS on this connection (dskit framing with TLS).
    tls: Option<TlsStream>,
}

impl Conn {
    fn new(
        node: u64,
        stream: TcpStream,
        peer: SocketAddr,
        (idle, hard_deadline): (Duration, std::time::Instant),
        write: Vec<u8>,
        role: Role,
    ) -> Self {
        Conn {
            node,
            stream,
            peer,
            deadline: (std::time::Instant::now() + idle).min(hard_deadline),
            hard_deadline,
            idle,
            progress: 0,
            read: Vec::new(),
            tried_len: 0,
            retry_at: None,
            write,
            written: 0,
            tls: None,
            role,
        }
    }
}

impl Conn {
    /// Counts `n` bytes moved; each full [`PROGRESS_CHUNK`] pushes the
    /// deadline `idle` past now (never past the hard deadline).
    fn moved(&mut self, n: usize) {
        self.progress += n;
        if self.progress >= PROGRESS_CHUNK {
            self.progress = 0;
            let extended = (std::time::Instant::now() + self.idle).min(self.hard_deadline);
            self.deadline = self.deadline.max(extended);
        }
    }

    /// Tries to find where the message read so far ends, unless that would
    /// re-parse a large buffer that has barely grown. Measuring starts from
    /// the first byte each time, so a peer trickling a large plaintext
    /// push/pull byte by byte could otherwise keep the event loop busy
    /// re-parsing it. `None`: not tried (a retry is scheduled).
    fn measure(
        &mut self,
        listener: bool,
        eof: bool,
        buffered: usize,
    ) -> Option<Result<Option<usize>, crate::wire::WireError>> {
        let now = std::time::Instant::now();
        let len = self.read.len();
        let due = eof
            || len <= SMALL_STREAM
            || len >= self.tried_len + self.tried_len / 8
            || self.retry_at.is_some_and(|t| now >= t);
        if !due {
            let wait = Duration::from_nanos(buffered as u64 * RETRY_NANOS_PER_BYTE);
            self.retry_at.get_or_insert(now + wait);
            return None;
        }
        self.retry_at = None;
        let result = stream_message_len(&self.read, listener);
        if let Ok(None) = result {
            self.tried_len = len;
        }
        Some(result)
    }
}

/// What to do with a connection after handling an event.
enum Next {
    Keep,
    Close,
}

pub(crate) struct EventLoop {
    poll: Poll,
    commands: Receiver<IoCommand>,
    sources: HashMap<Token, Source>,
    nodes: HashMap<u64, IoNode>,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    buf: Vec<u8>,
    /// Bytes held in the read buffers of all connections.
    buffered: usize,
}

impl EventLoop {
    /// Runs until [`IoCommand::Stop`].
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self
                .conns
                .values()
                .map(|c| c.retry_at.map_or(c.deadline, |r| r.min(c.deadline)))
                .min()
                .map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    log::error!("I/O poll failed: {e}");
                    return;
                }
            }
            for event in events.iter() {
                let token = event.token();
                if token == WAKER {
                    if !self.run_commands() {
                        return;
                    }
                    continue;
                }
                match self.sources.get(&token) {
                    Some(Source::Udp(node)) => {
                        let node = *node;
                        self.read_datagrams(node);
                    }
                    Some(Source::Listener(node)) => {
                        let node = *node;
                        self.accept(node);
                    }
                    Some(Source::Conn) => self.drive(token),
                    None => {}
                }
            }
            self.expire(std::time::Instant::now());
        }
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Returns false when told to stop.
    fn run_commands(&mut self) -> bool {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                IoCommand::AddNode {
                    node,
                    udp,
                    framing,
                    tls,
                    mut listener,
                    sink,
                    max_inbound,
                    tcp_timeout,
                } => {
                    let listener_token = self.token();
                    let udp = udp.map(|udp| (udp, self.token()));
                    let mut registered =
                        self.registry()
                            .register(&mut listener, listener_token, Interest::READABLE);
                    let mut udp = udp;
                    if let Some((socket, token)) = &mut udp {
                        registered = registered.and_then(|()| {
                            self.poll
                                .registry()
                                .register(socket, *token, Interest::READABLE)
                        });
                    }
                    if let Err(e) = registered {
                        log::error!("cannot register node sockets: {e}");
                        continue;
                    }
                    if let Some((_, token)) = &udp {
                        self.sources.insert(*token, Source::Udp(node));
                    }
                    self.sources.insert(listener_token, Source::Listener(node));
                    self.nodes.insert(
                        node,
                        IoNode {
                            udp,
                            framing,
                            tls,
                            listener,
                            listener_token,
                            sink,
                            inbound: 0,
                            refused: 0,
                            max_inbound,
                            tcp_timeout,
                        },
                    );
                }
                IoCommand::RemoveNode(node, done) => {
                    self.remove_node(node);
                    let _ = done.send(());
                }
                IoCommand::Dial(node, request) => self.dial(node, request),
                IoCommand::Post(node, to, frame) => self.post(node, to, frame),
                IoCommand::Reply(node, conn, bytes) => self.reply(node, conn, bytes),
                IoCommand::Stop => return false,
            }
        }
        true
    }

    fn remove_node(&mut self, node: u64) {
        if let Some(mut n) = self.nodes.remove(&node) {
            if let Some((mut udp, token)) = n.udp.take() {
                let _ = self.registry().deregister(&mut udp);
                self.sources.remove(&token);
            }
            let _ = self.registry().deregister(&mut n.listener);
            self.sources.remove(&n.listener_token);
        }
        let tokens: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.node == node)
            .map(|(t, _)| *t)
            .collect();
        for t in tokens {
            self.close(t);
        }
    }

    fn read_datagrams(&mut self, node: u64) {
        let Some((n, (udp, _))) = self
            .nodes
            .get(&node)
            .and_then(|n| n.udp.as_ref().map(|u| (n, u)))
        else {
            return;
        };
        loop {
            match udp.recv_from(&mut self.buf) {
                // Go discards empty datagrams at the transport.
                Ok((0, _)) => {}
                Ok((len, from)) => {
                    n.sink.deliver(Incoming::Packet {
                        from,
                        bytes: self.buf[..len].to_vec(),
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("UDP receive error: {e}");
                    return;
                }
            }
        }
    }

    fn accept(&mut self, node: u64) {
        loop {
            let Some(n) = self.nodes.get_mut(&node) else {
                return;
            };
            let (mut stream, peer) = match n.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("TCP accept error: {e}");
                    return;
                }
            };
            let limit = match n.framing {
                Framing::Memberlist => n.max_inbound,
                Framing::Dskit => n.max_inbound + PACKET_CONNS,
            };
            if n.inbound >= limit {
                // Under a flood (dskit peers open a connection per packet),
                // one line per refusal would flood the log too.
                n.refused += 1;
                if crate::protocol::worth_logging(n.refused) {
                    log::warn!(
                        "too many concurrent streams, refusing {peer} ({} refused so far)",
                        n.refused
                    );
                }
                continue;
            }
            let first = match n.framing {
                Framing::Memberlist => Accepted::Reading,
                Framing::Dskit => Accepted::Classifying,
            };
            n.inbound += 1;
            // However it trickles, a request ends by the time its largest
            // size would take at one chunk per tcp_timeout.
            let chunks = u32::try_from(MAX_STREAM_BYTES / PROGRESS_CHUNK).unwrap_or(u32::MAX);
            let timing = (
                n.tcp_timeout,
                std::time::Instant::now() + n.tcp_timeout * chunks,
            );
            let tls = match n.tls.as_ref().map(DskitTls::accept).transpose() {
                Ok(tls) => tls,
                Err(e) => {
                    log::warn!("cannot start TLS with {peer}: {e}");
                    n.inbound -= 1;
                    continue;
                }
            };
            // A TLS handshake writes before the request is read.
            let interest = if tls.is_some() {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let token = self.token();
            if let Err(e) = self.registry().register(&mut stream, token, interest) {
                log::warn!("cannot register stream from {peer}: {e}");
                if let Some(n) = self.nodes.get_mut(&node) {
                    n.inbound -= 1;
                }
                continue;
            }
            self.sources.insert(token, Source::Conn);
            let role = Role::Accepted(first);
            let mut conn = Conn::new(node, stream, peer, timing, Vec::new(), role);
            conn.tls = tls;
            self.conns.insert(token, conn);
        }
    }

    /// Opens an outgoing connection for `node` to `to` (over TLS if the
    /// node has it) writing `write`, in `role`, until `deadline`.
    fn connect(
        &mut self,
        node: u64,
        to: SocketAddr,
        write: Vec<u8>,
        role: Role,
        deadline: Option<std::time::Instant>,
    ) -> io::Result<()> {
        let n = self.nodes.get(&node).ok_or(ErrorKind::NotConnected)?;
        let idle = n.tcp_timeout;
        let tls = n.tls.as_ref().map(|t| t.dial(to)).transpose()?;
        let mut stream = TcpStream::connect(to)?;
        let token = self.token();
        // Readable too: a reply, or a TLS handshake before anything is sent.
        let interest = Interest::WRITABLE | Interest::READABLE;
        self.registry().register(&mut stream, token, interest)?;
        self.sources.insert(token, Source::Conn);
        let deadline = deadline.unwrap_or_else(|| std::time::Instant::now() + idle);
        let mut conn = Conn::new(node, stream, to, (idle, deadline), write, role);
        conn.tls = tls;
        self.conns.insert(token, conn);
        Ok(())
    }

    fn dial(&mut self, node: u64, request: DialRequest) {
        let Some(sink) = self.nodes.get(&node).map(|n| n.sink.clone()) else {
            return;
        };
        let role = Role::Dialed {
            id: request.id,
            expect_reply: request.expect_reply,
            connected: false,
        };
        let (id, to, deadline) = (request.id, request.to, request.deadline);
        if let Err(e) = self.connect(node, to, request.bytes, role, Some(deadline)) {
            let result = Err(DialError::Connect(e.kind()));
            sink.deliver(Incoming::DialResult { id, result });
        }
    }

    /// Opens a connection that writes one dskit packet `frame` and closes.
    fn post(&mut self, node: u64, to: SocketAddr, frame: Vec<u8>) {
        let role = Role::Posting {
            connected: false,
            notified: false,
        };
        if let Err(e) = self.connect(node, to, frame, role, None) {
            log::debug!("cannot post a packet to {to}: {e}");
        }
    }

    fn reply(&mut self, node: u64, conn: ConnId, bytes: Option<Vec<u8>>) {
        let token = Token(conn.get() as usize);
        let Some(c) = self.conns.get_mut(&token).filter(|c| c.node == node) else {
            return;
        };
        let Some(bytes) = bytes else {
            self.close(token);
            return;
        };
        c.write = bytes;
        c.written = 0;
        c.role = Role::Accepted(Accepted::Replying);
        let interest = Interest::WRITABLE | Interest::READABLE;
        if self
            .poll
            .registry()
            .reregister(&mut c.stream, token, interest)
            .is_err()
        {
            self.close(token);
            return;
        }
        self.drive(token);
    }

    /// Advances a connection, keeping the loop within its buffer budget.
    fn drive(&mut self, token: Token) {
        let before = self.conns.get(&token).map_or(0, |c| c.read.len());
        let next = self.conn_ready(token);
        let after = self.conns.get(&token).map_or(0, |c| c.read.len());
        self.buffered = (self.buffered + after).saturating_sub(before);
        if matches!(next, Next::Close) || self.buffered > MAX_BUFFERED_BYTES {
            if !matches!(next, Next::Close) {
                log::warn!("stream buffers over {MAX_BUFFERED_BYTES} bytes: closing one");
            }
            self.close(token);
        }
    }

    /// Makes whatever progress a connection allows.
    fn conn_ready(&mut self, token: Token) -> Next {
        let buffered = self.buffered;
        let Some(c) = self.conns.get_mut(&token) else {
            return Next::Keep;
        };
        let Some(sink) = self.nodes.get(&c.node).map(|n| n.sink.clone()) else {
            return Next::Close;
        };
        match c.role {
            Role::Accepted(Accepted::Classifying) => {
                let eof = match fill(c) {
                    Ok(eof) => eof,
                    Err(_) => return Next::Close,
                };
                let Some(&first) = c.read.first() else {
                    return if eof { Next::Close } else { Next::Keep };
                };
                match first {
                    dskit::STREAM => {
                        c.read.drain(..1);
                        c.role = Role::Accepted(Accepted::Reading);
                    }
                    dskit::PACKET => c.role = Role::Accepted(Accepted::ReadingPacket),
                    other => {
                        log::debug!("dskit connection from {} opened with {other:#04x}", c.peer);
                        return Next::Close;
                    }
                }
                self.conn_ready(token)
            }
            Role::Accepted(Accepted::ReadingPacket) => {
                let eof = match fill(c) {
                    Ok(eof) => eof,
                    Err(_) => return Next::Close,
                };
                if c.read.len() > dskit::MAX_PACKET_FRAME {
                    log::debug!(
                        "dskit packet from {} over {} bytes",
                        c.peer,
                        dskit::MAX_PACKET_FRAME
                    );
                    return Next::Close;
                }
                if !eof {
                    return Next::Keep;
                }
                match dskit::decode_packet(&c.read) {
                    Ok(frame) => {
                        if !frame.digest_ok {
                            // As dskit: logged, still delivered.
                            log::debug!("dskit packet from {} fails its digest", frame.from);
                        }
                        sink.deliver(Incoming::Packet {
                            from: frame.from,
                            bytes: frame.packet.to_vec(),
                        });
                    }
                    Err(e) => log::debug!("bad dskit packet frame from {}: {e:?}", c.peer),
                }
                Next::Close
            }
            Role::Posting {
                connected,
                notified,
            } => {
                if !connected {
                    if let Ok(Some(e)) | Err(e) = c.stream.take_error() {
                        log::debug!("cannot post a packet to {}: {e}", c.peer);
                        return Next::Close;
                    }
                    match c.stream.peer_addr() {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::NotConnected => return Next::Keep,
                        Err(_) => return Next::Close,
                    }
                }
                // A TLS session reads the handshake (and nothing else).
                if let Some(tls) = &mut c.tls {
                    // Nothing but the handshake is expected: a little.
                    let mut ignored = Vec::new();
                    if tls.read(&mut c.stream, &mut ignored, 0).is_err() {
                        return Next::Close;
                    }
                }
                c.role = Role::Posting {
                    connected: true,
                    notified,
                };
                match flush(c) {
                    Ok(false) => Next::Keep,
                    Err(_) => Next::Close,
                    Ok(true) => match &mut c.tls {
                        // The frame ends where the connection does: over
                        // TLS, say so before closing.
                        Some(tls) if !notified => {
                            tls.close();
                            c.role = Role::Posting {
                                connected: true,
                                notified: true,
                            };
                            match tls.flush(&mut c.stream) {
                                Ok(false) => Next::Keep,
                                Ok(true) | Err(_) => Next::Close,
                            }
                        }
                        _ => Next::Close,
                    },
                }
            }
            Role::Accepted(Accepted::AwaitingReply) => Next::Keep,
            Role::Accepted(Accepted::Replying) => match flush(c) {
                Ok(false) => Next::Keep,
                Ok(true) | Err(_) => Next::Close,
            },
            Role::Accepted(Accepted::Reading) => {
                let eof = match fill(c) {
                    Ok(eof) => eof,
                    Err(_) => return Next::Close,
                };
                let conn = ConnId::new(token.0 as u64);
                let Some(measured) = c.measure(true, eof, buffered) else {
                    return Next::Keep;
                };
                let end = match measured {
                    Ok(Some(end)) => end,
                    Ok(None) if eof || c.read.len() > MAX_STREAM_BYTES => return Next::Close,
                    Ok(None) => return Next::Keep,
                    // The node decodes what came and answers with why.
                    Err(_) => c.read.len(),
                };
                c.role = Role::Accepted(Accepted::AwaitingReply);
                c.read.truncate(end);
                sink.deliver(Incoming::Stream {
                    conn,
                    from: c.peer,
                    bytes: std::mem::take(&mut c.read),
                });
                Next::Keep
            }
            Role::Dialed {
                id,
                expect_reply,
                connected,
            } => {
                let fail = |e: DialError| {
                    sink.deliver(Incoming::DialResult { id, result: Err(e) });
                    Next::Close
                };
                if !connected {
                    if let Ok(Some(e)) | Err(e) = c.stream.take_error() {
                        return fail(DialError::Connect(e.kind()));
                    }
                    match c.stream.peer_addr() {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::NotConnected => return Next::Keep,
                        Err(e) => return fail(DialError::Connect(e.kind())),
                    }
                    c.role = Role::Dialed {
                        id,
                        expect_reply,
                        connected: true,
                    };
                }
                match flush(c) {
                    Ok(true) => {}
                    Ok(false) => return Next::Keep,
                    Err(e) => return fail(DialError::Write(e.kind())),
                }
                if !expect_reply {
                    sink.deliver(Incoming::DialResult {
                        id,
                        result: Ok(None),
                    });
                    return Next::Close;
                }
                let eof = match fill(c) {
                    Ok(eof) => eof,
                    Err(e) => return fail(DialError::Read(e.kind())),
                };
                let Some(measured) = c.measure(false, eof, buffered) else {
                    return Next::Keep;
                };
                let end = match measured {
                    Ok(Some(end)) => end,
                    Ok(None) if eof => return fail(DialError::ClosedBeforeReply),
                    Ok(None) if c.read.len() > MAX_STREAM_BYTES => {
                        return fail(DialError::ReplyTooLarge)
                    }
                    Ok(None) => return Next::Keep,
                    // The node decodes what came and reports why.
                    Err(_) => c.read.len(),
                };
                c.read.truncate(end);
                sink.deliver(Incoming::DialResult {
                    id,
                    result: Ok(Some(std::mem::take(&mut c.read))),
                });
                Next::Close
            }
        }
    }

    fn close(&mut self, token: Token) {
        self.sources.remove(&token);
        if let Some(mut c) = self.conns.remove(&token) {
            self.buffered = self.buffered.saturating_sub(c.read.len());
            let _ = self.poll.registry().deregister(&mut c.stream);
            if let Role::Accepted(_) = c.role {
                if let Some(n) = self.nodes.get_mut(&c.node) {
                    n.inbound = n.inbound.saturating_sub(1);
                }
            }
        }
    }

    /// Makes the decode tries that were put off, then enforces
    /// `tcp_timeout` (or the dial's deadline) on every connection.
    fn expire(&mut self, now: std::time::Instant) {
        let retries: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.retry_at.is_some_and(|r| r <= now))
            .map(|(t, _)| *t)
            .collect();
        for token in retries {
            self.drive(token);
        }
        let expired: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            if let Some(c) = self.conns.get(&token) {
                if let Role::Dialed { id, .. } = c.role {
                    if let Some(n) = self.nodes.get(&c.node) {
                        n.sink.deliver(Incoming::DialResult {
                            id,
                            result: Err(DialError::TimedOut),
                        });
                    }
                }
            }
            self.close(token);
        }
    }
}

/// Reads what is available; returns whether the peer closed its side.
fn fill(c: &mut Conn) -> io::Result<bool> {
    if let Some(tls) = &mut c.tls {
        let (n, eof) = tls.read(&mut c.stream, &mut c.read, MAX_STREAM_BYTES)?;
        c.moved(n);
        return Ok(eof);
    }
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                c.read.extend_from_slice(&chunk[..n]);
                c.moved(n);
                if c.read.len() > MAX_STREAM_BYTES {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes what is pending; returns whether everything is written.
fn flush(c: &mut Conn) -> io::Result<bool> {
    if let Some(tls) = &mut c.tls {
        let mut read = 0;
        if tls.is_handshaking() {
            // The peer's handshake messages move it on; what else it
            // sends (nothing, before the handshake ends) is kept.
            read = tls.read(&mut c.stream, &mut c.read, MAX_STREAM_BYTES)?.0;
        }
        let mut n = 0;
        if c.written < c.write.len() {
            n = tls.write(&mut c.stream, &c.write[c.written..])?;
        }
        let sent = tls.flush(&mut c.stream)?;
        c.written += n;
        c.moved(n + read);
        return Ok(c.written == c.write.len() && sent);
    }
    while c.written < c.write.len() {
        match c.stream.write(&c.write[c.written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.written += n;
                c.moved(n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A node's UDP socket and TCP listener on one port (or, with dskit
/// framing, its TCP listener alone), served by a runtime's event loop.
pub struct NetTransport {
    local: SocketAddr,
    framing: Framing,
    /// Where this node says it is, in dskit packet frames.
    advertise: parking_lot::RwLock<SocketAddr>,
    /// A clone of the UDP socket for sending from any thread; taken (and so
    /// closed) at shutdown.
    sender: parking_lot::RwLock<Option<std::net::UdpSocket>>,
    io: IoHandle,
    node: OnceLock<u64>,
    unstarted: Mutex<Option<(Option<UdpSocket>, TcpListener)>>,
    /// With dskit framing: TLS on every connection.
    tls: Option<DskitTls>,
    /// Set at shutdown: with dskit framing there is no socket to take away,
    /// and packets must be refused as they are with UDP.
    closed: std::sync::atomic::AtomicBool,
    max_inbound: usize,
    tcp_timeout: Duration,
}

impl std::fmt::Debug for NetTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetTransport")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl NetTransport {
    /// Binds `ip:port` for TCP and UDP (port 0: the OS picks one, used for
    /// both). `tcp_timeout` bounds every stream; at most `max_inbound`
    /// accepted streams are served at once.
    pub(crate) fn bind(
        io: IoHandle,
        ip: IpAddr,
        port: u16,
        tcp_timeout: Duration,
        max_inbound: usize,
    ) -> io::Result<Self> {
        // With port 0 the TCP port may be taken for UDP; Go retries too.
        let attempts = if port == 0 { 10 } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let listener = bind_listener(SocketAddr::new(ip, port))?;
            let bound = listener.local_addr()?;
            match bind_udp(bound) {
                Ok(udp) => {
                    let sender = udp.try_clone()?;
                    return Ok(NetTransport {
                        local: bound,
                        framing: Framing::Memberlist,
                        advertise: parking_lot::RwLock::new(bound),
                        sender: parking_lot::RwLock::new(Some(sender)),
                        io,
                        node: OnceLock::new(),
                        unstarted: Mutex::new(Some((
                            Some(UdpSocket::from_std(udp)),
                            TcpListener::from_std(listener),
                        ))),
                        tls: None,
                        closed: std::sync::atomic::AtomicBool::new(false),
                        max_inbound,
                        tcp_timeout,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ErrorKind::AddrInUse.into()))
    }

    /// Binds `ip:port` for TCP alone and speaks Grafana dskit's TCP-only
    /// framing, over `tls` if given. Packets name the bound address as
    /// their sender until [`NetTransport::set_advertise`] says otherwise.
    pub(crate) fn bind_dskit(
        io: IoHandle,
        ip: IpAddr,
        port: u16,
        tcp_timeout: Duration,
        max_inbound: usize,
        tls: Option<DskitTls>,
    ) -> io::Result<Self> {
        let listener = bind_listener(SocketAddr::new(ip, port))?;
        let bound = listener.local_addr()?;
        Ok(NetTransport {
            local: bound,
            framing: Framing::Dskit,
            advertise: parking_lot::RwLock::new(bound),
            sender: parking_lot::RwLock::new(None),
            io,
            node: OnceLock::new(),
            unstarted: Mutex::new(Some((None, TcpListener::from_std(listener)))),
            tls,
            closed: std::sync::atomic::AtomicBool::new(false),
            max_inbound,
            tcp_timeout,
        })
    }

    /// The address dskit packet frames give as their sender: where peers
    /// answer (the node's advertised address).
    pub(crate) fn set_advertise(&self, addr: SocketAddr) {
        *self.advertise.write() = addr;
    }
}

fn bind_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    // Best effort: the kernel caps it silently.
    let _ = socket.set_recv_buffer_size(UDP_RECV_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl Transport for NetTransport {
    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn start(&self, sink: IncomingSink) -> io::Result<()> {
        let (udp, listener) = self
            .unstarted
            .lock()
            .take()
            .ok_or_else(|| io::Error::other("transport already started"))?;
        let _ = self.node.set(sink.node);
        self.io.send(IoCommand::AddNode {
            node: sink.node,
            udp,
            framing: self.framing,
            tls: self.tls.clone(),
            listener,
            sink,
            max_inbound: self.max_inbound,
            tcp_timeout: self.tcp_timeout,
        });
        Ok(())
    }

    fn send_packet(&self, to: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        if self.framing == Framing::Dskit {
            let closed = self.closed.load(std::sync::atomic::Ordering::Relaxed);
            let Some(&node) = self.node.get().filter(|_| !closed) else {
                return Err(ErrorKind::NotConnected.into());
            };
            let frame = dskit::encode_packet(*self.advertise.read(), bytes);
            self.io.send(IoCommand::Post(node, to, frame));
            return Ok(());
        }
        match &*self.sender.read() {
            Some(socket) => socket.send_to(bytes, to).map(|_| ()),
            None => Err(ErrorKind::NotConnected.into()),
        }
    }

    fn dial(&self, mut request: DialRequest) {
        if self.framing == Framing::Dskit {
            request.bytes.insert(0, dskit::STREAM);
        }
        if let Some(&node) = self.node.get() {
            self.io.send(IoCommand::Dial(node, request));
        }
    }

    fn reply(&self, conn: ConnId, bytes: Option<Vec<u8>>) {
        if let Some(&node) = self.node.get() {
            self.io.send(IoCommand::Reply(node, conn, bytes));
        }
    }

    fn shutdown(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.sender.write().take();
        self.unstarted.lock().take();
        if let Some(&node) = self.node.get() {
            let (done, wait) = crossbeam_channel::bounded(1);
            self.io.send(IoCommand::RemoveNode(node, done));
            // Bounded: the event loop may already be gone.
            let _ = wait.recv_timeout(Duration::from_secs(5));
        }
    }
}
