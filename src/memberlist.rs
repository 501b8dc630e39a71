//! The public handle: create a node, join a cluster, read membership events.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Config, ConfigError};
use crate::delegate::{Delegate, NoDelegate};
use crate::node::{Event, Node};
use crate::protocol::{JoinTarget, Membership, ProtocolError, Stats};
use crate::runtime::node::{RunningNode, Waiters};
use crate::runtime::{IncomingSink, NetTransport, Runtime, StreamCodec, Transport, WorkItem};
use crate::wire::KeyringError;

/// Everything that can go wrong using a [`Memberlist`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    Config(ConfigError),
    /// Binding sockets or starting threads failed.
    Io(std::io::Error),
    /// The protocol refused the request.
    Protocol(ProtocolError),
    /// A keyring change was refused.
    Keyring(KeyringError),
    /// An address could not be parsed.
    InvalidAddress(String),
    /// A host name did not resolve.
    Resolve {
        /// What was given.
        address: String,
        /// Why it failed.
        reason: String,
    },
    /// No join target could be joined; every failure, by address.
    JoinFailed(Vec<(String, String)>),
    /// Waiting for something took longer than allowed.
    Timeout(&'static str),
    /// A reliable message could not be delivered.
    Delivery(String),
    /// Bound to an unspecified address (0.0.0.0 or ::) on a host with no
    /// usable address of that family: set `advertise_addr`.
    NoAdvertiseAddress,
    /// The node has been shut down.
    Shutdown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid configuration: {e}"),
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Protocol(e) => e.fmt(f),
            Self::Keyring(e) => write!(f, "keyring: {e}"),
            Self::InvalidAddress(a) => write!(f, "invalid address {a:?}"),
            Self::Resolve { address, reason } => {
                write!(f, "cannot resolve {address:?}: {reason}")
            }
            Self::JoinFailed(errors) => {
                f.write_str("failed to join")?;
                for (addr, e) in errors {
                    write!(f, "; {addr}: {e}")?;
                }
                Ok(())
            }
            Self::Timeout(what) => write!(f, "timeout waiting for {what}"),
            Self::Delivery(e) => write!(f, "message not delivered: {e}"),
            Self::NoAdvertiseAddress => f.write_str(
                "no address to advertise: set advertise_addr when binding to an unspecified address",
            ),
            Self::Shutdown => f.write_str("the node has been shut down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Keyring(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// Counters of a running node: the protocol's, plus what the runtime
/// dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// The protocol's counters.
    pub protocol: Stats,
    /// Events dropped because the event channel was full.
    pub events_dropped: u64,
    /// Incoming datagrams and stream results dropped because the protocol
    /// worker was behind.
    pub incoming_dropped: u64,
    /// Datagrams the OS refused to send.
    pub send_errors: u64,
}

/// Builds a [`Memberlist`] with a delegate, a shared runtime or a custom
/// transport.
pub struct Builder {
    config: Config,
    delegate: Arc<dyn Delegate>,
    runtime: Option<Runtime>,
    transport: Option<Arc<dyn Transport>>,
    event_capacity: usize,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("event_capacity", &self.event_capacity)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The application hooks (default: none).
    pub fn delegate(mut self, delegate: Arc<dyn Delegate>) -> Self {
        self.delegate = delegate;
        self
    }

    /// Runs the node on a shared runtime instead of two threads of its own.
    pub fn runtime(mut self, runtime: &Runtime) -> Self {
        self.runtime = Some(runtime.clone());
        self
    }

    /// Uses `transport` instead of binding UDP and TCP sockets.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Events buffered for [`Memberlist::events`] before new ones are
    /// dropped (and counted in [`NodeStats::events_dropped`]); default 4096.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Binds, starts and announces the node.
    pub fn build(self) -> Result<Memberlist, Error> {
        let Builder {
            mut config,
            delegate,
            runtime,
            transport,
            event_capacity,
        } = self;
        config.validate().map_err(Error::Config)?;
        let owns_runtime = runtime.is_none();
        let runtime = match runtime {
            Some(rt) => rt,
            None => Runtime::new()?,
        };
        let transport: Arc<dyn Transport> = match transport {
            Some(t) => t,
            None => Arc::new(NetTransport::bind(
                runtime.io(),
                config.bind_addr,
                config.bind_port,
                config.tcp_timeout,
                config.max_concurrent_push_pulls,
            )?),
        };
        let bound = transport.local_addr();
        config.bind_port = bound.port();
        let advertise = advertise_addr(&config, bound)?;
        let seeds = resolve_seeds(&config.seeds, config.bind_port);
        let seed: [u8; 32] = StdRng::from_os_rng().random();
        let clock = runtime.clock();
        let mut machine = Membership::new(config, delegate, advertise, seed, clock.now())
            .map_err(Error::Protocol)?;
        machine.set_seeds(seeds);
        let (events_tx, events_rx) = crossbeam_channel::bounded(event_capacity);
        let node = Arc::new(RunningNode {
            key: runtime.next_key(),
            machine: Mutex::new(machine),
            transport: Arc::clone(&transport),
            codec: Arc::new(RwLock::new(StreamCodec::default())),
            events: events_tx,
            events_dropped: AtomicU64::new(0),
            incoming_dropped: Arc::new(AtomicU64::new(0)),
            send_errors: AtomicU64::new(0),
            waiters: Mutex::new(Waiters::default()),
            clock,
            #[cfg(feature = "metrics")]
            published: Mutex::new(None),
        });
        node.refresh_codec(&node.machine.lock());
        transport.start(IncomingSink {
            node: node.key,
            work: runtime.work(),
            codec: Arc::clone(&node.codec),
            dropped: Arc::clone(&node.incoming_dropped),
            queued: runtime.queued(),
        })?;
        // Deliver what creation produced (the local join event).
        node.with_machine(|_, _| ());
        runtime
            .work()
            .send(WorkItem::Add(Arc::clone(&node)))
            .map_err(|_| Error::Shutdown)?;
        Ok(Memberlist {
            node,
            runtime,
            owns_runtime,
            events: events_rx,
            shut: AtomicBool::new(false),
        })
    }
}

/// The address to advertise: configured, else the bound one, else (for an
/// unspecified bind address) an address of this host: a private one first,
/// as Go does, then any other that is neither loopback nor link-local, and
/// as a last resort what the host name resolves to.
fn advertise_addr(config: &Config, bound: SocketAddr) -> Result<SocketAddr, Error> {
    if let Some(ip) = config.advertise_addr {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        return Ok(SocketAddr::new(
            ip,
            config.advertise_port.unwrap_or(bound.port()),
        ));
    }
    if !bound.ip().is_unspecified() {
        return Ok(bound);
    }
    let interfaces: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|list| list.iter().map(if_addrs::Interface::ip).collect())
        .unwrap_or_default();
    let by_name = || {
        let host = crate::config::host_name();
        (host.as_str(), bound.port())
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    choose_advertise_ip(&interfaces, bound.is_ipv4())
        .or_else(|| choose_advertise_ip(&by_name(), bound.is_ipv4()))
        .map(|ip| SocketAddr::new(ip, bound.port()))
        .ok_or(Error::NoAdvertiseAddress)
}

/// Picks the address to advertise among this host's: of the bound family,
/// never loopback, unspecified or link-local; private ranges first.
fn choose_advertise_ip(candidates: &[IpAddr], ipv4: bool) -> Option<IpAddr> {
    let usable: Vec<IpAddr> = candidates
        .iter()
        .copied()
        .filter(|ip| ip.is_ipv4() == ipv4 && !ip.is_loopback() && !ip.is_unspecified())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
        .collect();
    let private = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    usable
        .iter()
        .copied()
        .find(private)
        .or(usable.first().copied())
}

fn resolve_seeds(seeds: &[String], default_port: u16) -> Vec<SocketAddr> {
    seeds
        .iter()
        .filter_map(|s| match resolve(s, default_port) {
            Ok(targets) => Some(targets),
            Err(e) => {
                log::warn!("seed {s:?} ignored: {e}");
                None
            }
        })
        .flatten()
        .map(|t| t.addr)
        .collect()
}

/// Splits `[name/]host[:port]` (IPv6 hosts bracketed when a port follows).
pub(crate) fn parse_address(
    s: &str,
    default_port: u16,
) -> Result<(Option<String>, String, u16), Error> {
    let bad = || Error::InvalidAddress(s.to_owned());
    let (name, rest) = match s.split_once('/') {
        Some(("", _)) => return Err(bad()),
        Some((name, rest)) => (Some(name.to_owned()), rest),
        None => (None, s),
    };
    if rest.is_empty() {
        return Err(bad());
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => default_port,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad)?,
        };
        return Ok((name, host.to_owned(), port));
    }
    // A bare IPv6 literal has several colons and no port.
    if rest.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((name, rest.to_owned(), default_port));
    }
    match rest.rsplit_once(':') {
        Some(("", _)) => Err(bad()),
        Some((host, port)) => Ok((name, host.to_owned(), port.parse().map_err(|_| bad())?)),
        None => Ok((name, rest.to_owned(), default_port)),
    }
}

/// Parses and resolves one join address; every address a name resolves to
/// is a target.
fn resolve(s: &str, default_port: u16) -> Result<Vec<JoinTarget>, Error> {
    let (name, host, port) = parse_address(s, default_port)?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| Error::Resolve {
                address: s.to_owned(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    Ok(addrs
        .into_iter()
        .map(|addr| JoinTarget {
            addr,
            name: name.clone(),
        })
        .collect())
}

/// A running cluster member.
///
/// ```no_run
/// use std::time::Duration;
/// use swimlist::{Config, Memberlist};
///
/// let node = Memberlist::create(Config::lan().with_name("node-1"))?;
/// node.join(&["10.0.0.2:7946"])?;
/// for event in node.events().iter() {
///     println!("{event:?}");
/// }
/// node.leave(Duration::from_secs(5))?;
/// node.shutdown();
/// # Ok::<(), swimlist::Error>(())
/// ```
pub struct Memberlist {
    node: Arc<RunningNode>,
    runtime: Runtime,
    owns_runtime: bool,
    events: Receiver<Event>,
    shut: AtomicBool,
}

impl fmt::Debug for Memberlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memberlist")
            .field("machine", &*self.node.machine.lock())
            .finish_non_exhaustive()
    }
}

impl Memberlist {
    /// Starts a node with `config`, no delegate, on two threads of its own.
    pub fn create(config: Config) -> Result<Memberlist, Error> {
        Self::builder(config).build()
    }

    /// Starts building a node.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            delegate: Arc::new(NoDelegate),
            runtime: None,
            transport: None,
            event_capacity: 4096,
        }
    }

    fn check_running(&self) -> Result<(), Error> {
        if self.shut.load(Ordering::SeqCst) {
            return Err(Error::Shutdown);
        }
        Ok(())
    }

    /// Lets the worker re-read the node's timers after an API call.
    fn wake(&self) {
        let _ = self.runtime.work().send(WorkItem::Wake(self.node.key));
    }

    fn config<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        f(self.node.machine.lock().config())
    }

    /// Joins the cluster through the given members: `host:port`, a bare
    /// host (the local port is assumed), `[v6]:port`, or Go's `name/host:port`.
    /// Names are resolved, and every address tried. Returns how many
    /// addresses were joined; fails only if none was.
    pub fn join<S: AsRef<str>>(&self, existing: &[S]) -> Result<usize, Error> {
        self.check_running()?;
        let port = self.config(|c| c.bind_port);
        let mut targets = Vec::new();
        let mut errors = Vec::new();
        for s in existing {
            match resolve(s.as_ref(), port) {
                Ok(t) => targets.extend(t),
                Err(e) => errors.push((s.as_ref().to_owned(), e.to_string())),
            }
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.node.with_machine(|m, now| {
            let id = m.join(now, &targets);
            self.node.waiters.lock().joins.insert(id, tx);
        });
        self.wake();
        let wait = self.config(|c| c.tcp_timeout) + Duration::from_secs(5);
        let (joined, failures) = rx.recv_timeout(wait).map_err(|_| Error::Timeout("join"))?;
        errors.extend(failures.into_iter().map(|(a, e)| (a.to_string(), e)));
        if joined == 0 && !existing.is_empty() {
            return Err(Error::JoinFailed(errors));
        }
        Ok(joined)
    }

    /// Membership events: joins, leaves (failed or left), metadata updates,
    /// suspicions and recoveries. Every call returns a handle to the same
    /// stream; read it from one place.
    pub fn events(&self) -> Receiver<Event> {
        self.events.clone()
    }

    /// Live members (alive or suspect), this node included.
    pub fn members(&self) -> Vec<Node> {
        self.node.machine.lock().members()
    }

    /// How many live members there are, this node included.
    pub fn num_members(&self) -> usize {
        self.node.machine.lock().num_members()
    }

    /// This node as the cluster sees it.
    pub fn local_node(&self) -> Node {
        let m = self.node.machine.lock();
        m.local_node().unwrap_or_else(|| Node {
            name: m.name().to_owned(),
            addr: self.node.transport.local_addr().ip(),
            port: self.node.transport.local_addr().port(),
            meta: Vec::new(),
            state: crate::NodeState::Left,
            incarnation: 0,
            versions: m.config().vsn(),
        })
    }

    /// The address the node's sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.node.transport.local_addr()
    }

    /// Lifeguard's health score: 0 is healthy.
    pub fn health_score(&self) -> u32 {
        self.node.machine.lock().health_score()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> NodeStats {
        self.node.stats()
    }

    /// Re-reads the delegate's metadata and advertises it, waiting up to
    /// `timeout` for the news to go out (zero waits without limit, as Go).
    pub fn update_node(&self, timeout: Duration) -> Result<(), Error> {
        self.check_running()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiting = self.node.with_machine(|m, now| {
            let token = m.update_node(now).map_err(Error::Protocol)?;
            if let Some(t) = token {
                self.node.waiters.lock().broadcasts.insert(t, tx);
            }
            Ok::<_, Error>(token.is_some())
        })?;
        self.wake();
        if waiting {
            wait(&rx, timeout, "update broadcast")?;
        }
        Ok(())
    }

    /// Leaves the cluster gracefully: broadcasts that this node left and
    /// waits up to `timeout` for it to go out (zero: without limit). The
    /// node keeps running until [`Memberlist::shutdown`].
    pub fn leave(&self, timeout: Duration) -> Result<(), Error> {
        self.check_running()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiting = self.node.with_machine(|m, now| {
            let token = m.leave(now);
            if let Some(t) = token {
                self.node.waiters.lock().broadcasts.insert(t, tx);
            }
            token.is_some()
        });
        self.wake();
        if waiting {
            wait(&rx, timeout, "leave broadcast")?;
        }
        Ok(())
    }

    /// Sends `msg` to `node` in one datagram (no delivery guarantee).
    pub fn send_best_effort(&self, node: &Node, msg: &[u8]) -> Result<(), Error> {
        self.check_running()?;
        self.node
            .with_machine(|m, _| m.send_best_effort(node.socket_addr(), &node.name, msg))
            .map_err(Error::Protocol)
    }

    /// Sends `msg` to an address in one datagram, without naming the node
    /// (refused under `require_node_names`).
    pub fn send_to_address(&self, addr: SocketAddr, msg: &[u8]) -> Result<(), Error> {
        self.check_running()?;
        self.node
            .with_machine(|m, _| m.send_best_effort(addr, "", msg))
            .map_err(Error::Protocol)
    }

    /// Sends `msg` to `node` over a stream, returning once it is written.
    pub fn send_reliable(&self, node: &Node, msg: &[u8]) -> Result<(), Error> {
        self.check_running()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.node.with_machine(|m, now| {
            let id = m
                .send_reliable(now, node.socket_addr(), &node.name, msg)
                .map_err(Error::Protocol)?;
            self.node.waiters.lock().dials.insert(id, tx);
            Ok::<_, Error>(())
        })?;
        let wait = self.config(|c| c.tcp_timeout) + Duration::from_secs(1);
        match rx.recv_timeout(wait) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Delivery(e)),
            Err(_) => Err(Error::Timeout("reliable message")),
        }
    }

    /// Queues `msg` to be broadcast to every member by gossip. A named
    /// broadcast replaces a queued one of the same name.
    pub fn broadcast(&self, msg: &[u8], name: Option<&str>) -> Result<(), Error> {
        self.check_running()?;
        self.node
            .with_machine(|m, now| m.queue_broadcast(now, msg, name));
        Ok(())
    }

    /// Installs an encryption key (it decrypts at once; make it primary
    /// with [`Memberlist::use_key`] once every node has it).
    pub fn add_key(&self, key: &[u8]) -> Result<(), Error> {
        self.change_keyring(|k| k.add_key(key))
    }

    /// Makes an installed key the one that encrypts.
    pub fn use_key(&self, key: &[u8]) -> Result<(), Error> {
        self.change_keyring(|k| k.use_key(key))
    }

    /// Removes a key that is not primary.
    pub fn remove_key(&self, key: &[u8]) -> Result<(), Error> {
        self.change_keyring(|k| k.remove_key(key))
    }

    fn change_keyring(
        &self,
        f: impl FnOnce(&mut crate::wire::Keyring) -> Result<(), KeyringError>,
    ) -> Result<(), Error> {
        let mut m = self.node.machine.lock();
        f(m.keyring_mut()).map_err(Error::Keyring)?;
        self.node.refresh_codec(&m);
        Ok(())
    }

    /// Stops the node without telling anyone (call [`Memberlist::leave`]
    /// first for a graceful exit): closes its sockets and, if it has its
    /// own runtime, stops and joins its threads. Idempotent.
    pub fn shutdown(&self) {
        if self.shut.swap(true, Ordering::SeqCst) {
            return;
        }
        self.node.transport.shutdown();
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self
            .runtime
            .work()
            .send(WorkItem::Remove(self.node.key, tx))
            .is_ok()
            && !self.runtime.is_own_thread()
        {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
        if self.owns_runtime {
            self.runtime.shutdown();
        }
    }
}

fn wait(rx: &Receiver<()>, timeout: Duration, what: &'static str) -> Result<(), Error> {
    let result = if timeout.is_zero() {
        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
    } else {
        rx.recv_timeout(timeout)
    };
    result.map_err(|_| Error::Timeout(what))
}

impl Drop for Memberlist {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_address_prefers_private_and_skips_loopback() {
        let ips: Vec<IpAddr> = [
            "127.0.0.1",
            "169.254.1.1",
            "192.0.2.2",
            "10.1.2.3",
            "fd00::2",
            "fe80::1",
            "2001:db8::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert_eq!(
            choose_advertise_ip(&ips, true),
            Some("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            choose_advertise_ip(&ips, false),
            Some("fd00::2".parse().unwrap())
        );
        assert_eq!(
            choose_advertise_ip(&ips[..3], true),
            Some("192.0.2.2".parse().unwrap())
        );
        assert_eq!(choose_advertise_ip(&ips[..2], true), None);
    }

    // Go's TestMemberList_ResolveAddr (parsing part).
    #[test]
    fn address_forms() {
        let p = |s| parse_address(s, 7946);
        assert_eq!(p("10.0.0.1").unwrap(), (None, "10.0.0.1".into(), 7946));
        assert_eq!(p("10.0.0.1:80").unwrap(), (None, "10.0.0.1".into(), 80));
        assert_eq!(p("::1").unwrap(), (None, "::1".into(), 7946));
        assert_eq!(p("[::1]").unwrap(), (None, "::1".into(), 7946));
        assert_eq!(p("[::1]:80").unwrap(), (None, "::1".into(), 80));
        assert_eq!(
            p("host.example").unwrap(),
            (None, "host.example".into(), 7946)
        );
        assert_eq!(
            p("n1/host:81").unwrap(),
            (Some("n1".into()), "host".into(), 81)
        );
        assert_eq!(
            p("n1/[fe80::1]:82").unwrap(),
            (Some("n1".into()), "fe80::1".into(), 82)
        );
        for bad in ["/x", ":80", "host:65536", "host:port", "[::1", "[::1]x", ""] {
            assert!(matches!(p(bad), Err(Error::InvalidAddress(_))), "{bad}");
        }
    }
}
