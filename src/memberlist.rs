//! The public handle: create a node, join a cluster, read membership events.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Config, ConfigError};
use crate::delegate::Delegate;
use crate::node::{Event, Node};
use crate::protocol::{DialError, HostQueries, JoinError, JoinTarget, Membership, ProtocolError};
use crate::runtime::notifier::recv_answering;
use crate::runtime::running_node::{NotStarted, Reentered, RunningNode};
use crate::runtime::seed_refresh::{
    self, NamedSeed, Resolver, Resolvers, SeedName, Seeds, SrvResolver,
};
use crate::runtime::{NetTransport, NodeStats, Runtime, StartError, Transport};
use crate::wire::KeyringError;
use crate::wire::META_MAX_SIZE;

/// Everything that can go wrong using a [`Memberlist`]. Each variant says
/// what to do about it in its `Display`; none leaves the node changed
/// unless its documentation says so.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The node's sockets could not be bound.
    Bind {
        /// The address and port asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// Starting threads or another operating-system call failed.
    Io(std::io::Error),
    /// The protocol refused the request (e.g. a message too large for the
    /// way it was to be sent).
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
    JoinFailed(Vec<JoinFailure>),
    /// Another live member already holds this node's name (seen in a
    /// join's push/pull): the node did not join; give it another name.
    NameConflict {
        /// The name.
        name: String,
        /// Where the member holding it is.
        holder: SocketAddr,
    },
    /// Waiting for something took longer than allowed.
    Timeout(Waited),
    /// A reliable message could not be delivered.
    Delivery(DialError),
    /// Bound to an unspecified address (0.0.0.0 or ::) on a host with no
    /// usable address of that family: set `advertise_addr`.
    NoAdvertiseAddress,
    /// Called from a custom [`Transport`](crate::runtime::Transport)'s
    /// method, which runs while the runtime carries out a node's step (or
    /// on its worker): a call that needs a node's state or waits for the
    /// worker would wait for itself. (Delegate hooks may call anything.)
    InTransport {
        /// The method called.
        method: &'static str,
    },
    /// A timeout of zero was given where the call must wait for something.
    ZeroTimeout {
        /// The method called.
        method: &'static str,
    },
    /// The node has left the cluster ([`Memberlist::leave`]); only reads,
    /// key changes and [`Memberlist::shutdown`] remain.
    Left,
    /// The node has been shut down.
    Shutdown,
}

/// What a call waited for when it timed out ([`Error::Timeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Waited {
    /// The push/pull exchanges of a join. A runtime too busy to report in
    /// time may still complete the join afterwards: watch the events.
    Join,
    /// The leave broadcast going out.
    LeaveBroadcast,
    /// The metadata update going out.
    UpdateBroadcast,
    /// A reliable message being written.
    ReliableMessage,
    /// The node settling ([`Memberlist::wait_settled`]).
    Settled,
}

impl fmt::Display for Waited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Join => "the join",
            Self::LeaveBroadcast => "the leave broadcast",
            Self::UpdateBroadcast => "the metadata update broadcast",
            Self::ReliableMessage => "the reliable message",
            Self::Settled => "the node to settle (a sync with a member, then a quiet period)",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid configuration: {e}"),
            Self::Bind { addr, source } => write!(
                f,
                "cannot bind UDP and TCP to {addr}: {source} (is the port in use? use port 0 to let the system pick one)"
            ),
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Protocol(e) => e.fmt(f),
            Self::Keyring(e) => write!(f, "keyring: {e}"),
            Self::InvalidAddress(a) => write!(
                f,
                "invalid address {a:?}: expected host, host:port, [v6]:port or name/host:port"
            ),
            Self::Resolve { address, reason } => {
                write!(f, "cannot resolve {address:?}: {reason}")
            }
            Self::JoinFailed(errors) => {
                f.write_str("failed to join")?;
                for e in errors {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            Self::NameConflict { name, holder } => write!(
                f,
                "the name {name:?} is already held by the member at {holder}: give this node another name"
            ),
            Self::Timeout(what) => write!(
                f,
                "timed out waiting for {what}: the peer may be down or the network slow; retry or raise the timeout"
            ),
            Self::Delivery(e) => write!(f, "message not delivered: {e}"),
            Self::NoAdvertiseAddress => f.write_str(
                "no address to advertise: set advertise_addr when binding to an unspecified address",
            ),
            Self::InTransport { method } => write!(
                f,
                "{method} cannot be called from a transport's method or a runtime worker: they \
                 run inside the runtime; call it from another thread"
            ),
            Self::ZeroTimeout { method } => write!(
                f,
                "{method} needs a timeout above zero: give the longest you are willing to wait"
            ),
            Self::Left => f.write_str(
                "the node has left the cluster: shut it down and create a new node to rejoin",
            ),
            Self::Shutdown => f.write_str("the node has been shut down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Bind { source, .. } => Some(source),
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Keyring(e) => Some(e),
            Self::Delivery(e) => Some(e),
            _ => None,
        }
    }
}

/// Why joining through one address failed ([`Error::JoinFailed`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct JoinFailure {
    /// The address, as given or as resolved.
    pub address: String,
    /// Why.
    pub cause: JoinCause,
}

/// The cause of a [`JoinFailure`].
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinCause {
    /// The address could not be parsed or resolved.
    Address(Box<Error>),
    /// The exchange with the member failed.
    Exchange(JoinError),
}

impl fmt::Display for JoinFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            JoinCause::Address(e) => e.fmt(f),
            JoinCause::Exchange(e) => write!(f, "{}: {e}", self.address),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// Builds a [`Memberlist`] with a delegate, a shared runtime or a custom
/// transport.
///
/// ```no_run
/// use std::sync::Arc;
/// use swimlist::{Config, Delegate, Memberlist, Runtime};
///
/// struct Chat;
/// impl Delegate for Chat {
///     fn notify_msg(&self, msg: &[u8]) {
///         println!("{}", String::from_utf8_lossy(msg));
///     }
/// }
///
/// let runtime = Runtime::new()?;
/// let node = Memberlist::builder(Config::local().with_name("a"))
///     .delegate(Arc::new(Chat))
///     .runtime(&runtime)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    config: Config,
    delegate: Option<Arc<dyn Delegate>>,
    runtime: Option<Runtime>,
    transport: Option<Arc<dyn Transport>>,
    dskit: bool,
    dskit_tls: Option<crate::runtime::tls::DskitTls>,
    resolver: Option<Resolver>,
    srv_resolver: Option<SrvResolver>,
    event_capacity: usize,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("event_capacity", &self.event_capacity)
            .field("dskit", &self.dskit)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The application hooks (default: none). See [`Delegate`] for which
    /// thread calls each hook and what it may call back.
    pub fn delegate(mut self, delegate: Arc<dyn Delegate>) -> Self {
        self.delegate = Some(delegate);
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

    /// Speaks Grafana dskit's TCP-only transport instead of memberlist's
    /// UDP and TCP, to join the memberlist rings of Loki, Mimir, Tempo or
    /// Cortex: every packet goes on a TCP connection of its own, marked as
    /// such, and no UDP port is bound. Every node of a cluster must use the
    /// same transport. Labels, encryption and compression work as usual;
    /// for dskit's TLS see `dskit_tls` (feature `tls`). (Ignored with
    /// [`Builder::transport`].)
    pub fn dskit_transport(mut self) -> Self {
        self.dskit = true;
        self
    }

    /// Speaks dskit's transport ([`Builder::dskit_transport`]) over TLS,
    /// as dskit does with its `tls_enabled` option: every node of the
    /// cluster must, since a TLS node and a plain one cannot talk.
    #[cfg(feature = "tls")]
    pub fn dskit_tls(mut self, tls: crate::DskitTls) -> Self {
        self.dskit = true;
        self.dskit_tls = Some(tls);
        self
    }

    /// Resolves the host names among [`Config::seeds`] with `resolver`
    /// (host, port → addresses) instead of the system's resolver: at start
    /// and every [`Config::seed_refresh_interval`], off the protocol
    /// worker, each lookup limited to `tcp_timeout`.
    pub fn resolver(
        mut self,
        resolver: impl Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Resolves the DNS SRV names among [`Config::seeds`]
    /// (`_service._proto.name` → the addresses its records point to) with
    /// `resolver`, instead of the built-in stub resolver of the `dns-srv`
    /// feature (`runtime::StubResolver`, asking the
    /// nameservers of `/etc/resolv.conf`); without that feature, SRV seeds
    /// need this. At start and every [`Config::seed_refresh_interval`], off
    /// the protocol worker, each lookup limited to `tcp_timeout`.
    pub fn srv_resolver(
        mut self,
        resolver: impl Fn(&str) -> std::io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.srv_resolver = Some(Arc::new(resolver));
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
            dskit,
            dskit_tls,
            resolver,
            srv_resolver,
            event_capacity,
        } = self;
        config.validate().map_err(Error::Config)?;
        let owns_runtime = runtime.is_none();
        let runtime = match runtime {
            Some(rt) => rt,
            None => Runtime::with_workers(1)?,
        };
        let bind_error = |source| Error::Bind {
            addr: SocketAddr::new(config.bind_addr, config.bind_port),
            source,
        };
        // A dskit transport names the advertised address in every packet.
        let mut advertised_by: Option<Arc<NetTransport>> = None;
        let transport: Arc<dyn Transport> = match transport {
            Some(t) => t,
            None if dskit => {
                let t = NetTransport::bind_dskit(
                    runtime.io(),
                    config.bind_addr,
                    config.bind_port,
                    config.tcp_timeout,
                    config.max_concurrent_push_pulls,
                    dskit_tls,
                )
                .map_err(bind_error)?;
                let t = Arc::new(t);
                advertised_by = Some(Arc::clone(&t));
                t
            }
            None => Arc::new(
                NetTransport::bind(
                    runtime.io(),
                    config.bind_addr,
                    config.bind_port,
                    config.tcp_timeout,
                    config.max_concurrent_push_pulls,
                )
                .map_err(bind_error)?,
            ),
        };
        let bound = transport.local_addr();
        config.bind_port = bound.port();
        let advertise = advertise_addr(&config, bound)?;
        if let Some(t) = &advertised_by {
            t.set_advertise(advertise);
        }
        let resolvers = Resolvers {
            host: resolver.unwrap_or_else(seed_refresh::system_resolver),
            srv: srv_resolver
                .unwrap_or_else(|| seed_refresh::system_srv_resolver(config.tcp_timeout)),
        };
        let seeds = resolve_seeds(&config, &resolvers);
        let refresh = config.seed_refresh_interval;
        let lookup_limit = config.tcp_timeout;
        let seed: [u8; 32] = StdRng::from_os_rng().random();
        // The delegate answers the machine's questions on the delegate
        // thread; without one, the machine takes the neutral answers.
        let (meta, asks) = match &delegate {
            Some(d) => (d.node_meta(META_MAX_SIZE), HostQueries::all()),
            None => (Vec::new(), HostQueries::none()),
        };
        let mut machine = Membership::new(config, meta, asks, advertise, seed, runtime.now())
            .map_err(Error::Protocol)?;
        machine.set_seeds(seeds.all());
        // Timings and sizes are measured only when published.
        machine.record_samples(runtime.now(), cfg!(feature = "metrics"));
        // Unbounded, capped by count when sending: a bounded channel would
        // allocate all its slots up front, ~390 KiB per node by default.
        let (events_tx, events_rx) = crossbeam_channel::unbounded();
        let node = runtime
            .start_node(machine, transport, (events_tx, event_capacity), delegate)
            .map_err(|e| match e {
                StartError::Io(e) => Error::Io(e),
                StartError::Stopped => Error::Shutdown,
            })?;
        // Names among the seeds follow DNS; the thread ends with the
        // node (its sender is dropped at shutdown).
        let mut seed_refresh_stop = None;
        if let Some(interval) = refresh.filter(|_| !seeds.names.is_empty()) {
            let (stop, stopped) = crossbeam_channel::bounded(0);
            let node = Arc::downgrade(&node);
            match seed_refresh::spawn(node, seeds, interval, lookup_limit, resolvers, stopped) {
                Ok(()) => seed_refresh_stop = Some(stop),
                Err(e) => log::error!("seeds resolved once only: no thread to refresh them: {e}"),
            }
        }
        Ok(Memberlist {
            node,
            runtime,
            owns_runtime,
            events: events_rx,
            shut: AtomicBool::new(false),
            joined: AtomicBool::new(false),
            seed_refresh_stop: parking_lot::Mutex::new(seed_refresh_stop),
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

fn resolve_seeds(config: &Config, resolvers: &Resolvers) -> Seeds {
    let mut seeds = Seeds {
        fixed: Vec::new(),
        names: Vec::new(),
    };
    let resolve = |name: SeedName| {
        let mut seed = NamedSeed::new(name);
        seed.refresh(resolvers, config.tcp_timeout);
        seed
    };
    for s in &config.seeds {
        if seed_refresh::is_srv_name(s) {
            seeds.names.push(resolve(SeedName::Srv(s.clone())));
            continue;
        }
        let (host, port) = match parse_address(s, config.bind_port) {
            Ok((_, host, port)) => (host, port),
            Err(e) => {
                log::warn!("seed {s:?} ignored: {e}");
                continue;
            }
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            seeds.fixed.push(SocketAddr::new(ip, port));
            continue;
        }
        seeds.names.push(resolve(SeedName::Host(host, port)));
    }
    seeds
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

/// Where a node is in its life ([`Memberlist::lifecycle`]).
///
/// ```text
/// create ──► Created ──join / joined by a peer──► Joined
///               │                                    │
///               └────────────── leave ───────────────┴──► Left
///                                                          │
///   shutdown (from any state) ──────────────────────► ShutDown
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lifecycle {
    /// Running, and no other member known yet.
    Created,
    /// Running in a cluster: a join succeeded or a peer joined this node.
    Joined,
    /// Told the cluster it left. It still answers reads and keeps its
    /// sockets until shut down, but sends, broadcasts, joins and metadata
    /// updates return [`Error::Left`]: a node that left cannot rejoin
    /// (create a new node for that, under the same name if you like).
    Left,
    /// Shut down: every call returns [`Error::Shutdown`], and the event
    /// channel is closed after the node's last events.
    ShutDown,
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Joined => "joined",
            Self::Left => "left",
            Self::ShutDown => "shut down",
        })
    }
}

/// A running cluster member: the handle an application holds.
///
/// Its [life cycle](Lifecycle) is created → joined → left → shut down.
/// Every method either does what it says or returns an [`Error`] that
/// says why: after [`Memberlist::leave`], the calls that would talk to
/// the cluster return [`Error::Left`]; after [`Memberlist::shutdown`],
/// every call returns [`Error::Shutdown`] and [`Memberlist::events`]
/// disconnects once the last events are read.
///
/// ```no_run
/// use std::time::Duration;
/// use swimlist::{Config, Memberlist};
///
/// let node = Memberlist::create(Config::lan().with_name("node-1"))?;
/// node.join(&["10.0.0.2:7946"])?;
/// println!("{} members", node.num_members()?);
/// node.leave(Duration::from_secs(5))?;
/// node.shutdown();
/// // The channel ends after shutdown, so this loop ends.
/// for event in node.events().iter() {
///     println!("{event}");
/// }
/// # Ok::<(), swimlist::Error>(())
/// ```
pub struct Memberlist {
    node: Arc<RunningNode>,
    runtime: Runtime,
    owns_runtime: bool,
    events: Receiver<Event>,
    shut: AtomicBool,
    joined: AtomicBool,
    /// Dropped at shutdown, which ends the seed refresh thread.
    seed_refresh_stop: parking_lot::Mutex<Option<crossbeam_channel::Sender<()>>>,
}

impl fmt::Debug for Memberlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memberlist")
            .field("addr", &self.local_addr())
            .field("lifecycle", &self.lifecycle())
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
            delegate: None,
            runtime: None,
            transport: None,
            dskit: false,
            dskit_tls: None,
            resolver: None,
            srv_resolver: None,
            event_capacity: 4096,
        }
    }

    /// Runs `f` on the state machine, unless the node is shut down or the
    /// caller is a transport's method, run while a step is carried out.
    fn machine<R>(
        &self,
        method: &'static str,
        f: impl FnOnce(&mut Membership, crate::protocol::Instant) -> R,
    ) -> Result<R, Error> {
        if self.shut.load(Ordering::SeqCst) {
            return Err(Error::Shutdown);
        }
        self.node
            .try_with_machine(f)
            .map_err(|_: Reentered| Error::InTransport { method })
    }

    /// Maps why the runtime did not start a call that talks to the cluster.
    fn not_started(&self, method: &'static str, e: NotStarted) -> Error {
        match e {
            NotStarted::Reentered => Error::InTransport { method },
            NotStarted::Left => Error::Left,
            NotStarted::Protocol(e) => Error::Protocol(e),
        }
    }

    /// Refuses calls once the node is shut down.
    fn running(&self) -> Result<(), Error> {
        if self.shut.load(Ordering::SeqCst) {
            return Err(Error::Shutdown);
        }
        Ok(())
    }

    /// Refuses a blocking call from a thread that the wait would block: a
    /// runtime worker (a transport's method), which must answer the wait.
    fn may_block(&self, method: &'static str) -> Result<(), Error> {
        if RunningNode::in_any_step() || self.runtime.is_own_thread() {
            return Err(Error::InTransport { method });
        }
        Ok(())
    }

    /// Where the node is in its life.
    pub fn lifecycle(&self) -> Lifecycle {
        if self.shut.load(Ordering::SeqCst) {
            return Lifecycle::ShutDown;
        }
        let Ok((left, members)) = self
            .node
            .try_with_machine(|m, _| (m.has_left(), m.num_members()))
        else {
            // Inside a transport's method: the node is running.
            return if self.joined.load(Ordering::SeqCst) {
                Lifecycle::Joined
            } else {
                Lifecycle::Created
            };
        };
        if left {
            Lifecycle::Left
        } else if members > 1 || self.joined.load(Ordering::SeqCst) {
            Lifecycle::Joined
        } else {
            Lifecycle::Created
        }
    }

    /// Joins the cluster through the given members: `host:port`, a bare
    /// host (the local port is assumed), `[v6]:port`, or Go's `name/host:port`.
    /// Names are resolved, and every address tried. Returns how many
    /// addresses were joined; fails only if none was. Blocks for at most
    /// `tcp_timeout` plus 5 s.
    ///
    /// Errors: [`Error::Left`] after [`Memberlist::leave`] (a node that
    /// left cannot rejoin), [`Error::JoinFailed`] with every address's
    /// failure, [`Error::Timeout`].
    pub fn join<S: AsRef<str>>(&self, existing: &[S]) -> Result<usize, Error> {
        self.may_block("join")?;
        let port = self.machine("join", |m, _| m.config().bind_port)?;
        let mut targets = Vec::new();
        let mut errors = Vec::new();
        for s in existing {
            match resolve(s.as_ref(), port) {
                Ok(t) => targets.extend(t),
                Err(e) => errors.push(JoinFailure {
                    address: s.as_ref().to_owned(),
                    cause: JoinCause::Address(Box::new(e)),
                }),
            }
        }
        let pending = self
            .node
            .join(&targets)
            .map_err(|e| self.not_started("join", e))?;
        let (joined, failures) =
            recv_answering(&pending.rx, pending.limit).map_err(|_| Error::Timeout(Waited::Join))?;
        for (addr, e) in failures {
            if let JoinError::NameConflict { name, holder } = e {
                return Err(Error::NameConflict { name, holder });
            }
            errors.push(JoinFailure {
                address: addr.to_string(),
                cause: JoinCause::Exchange(e),
            });
        }
        if joined == 0 && !existing.is_empty() {
            return Err(Error::JoinFailed(errors));
        }
        if joined > 0 {
            self.joined.store(true, Ordering::SeqCst);
        }
        Ok(joined)
    }

    /// Membership events: joins, leaves (failed or left), metadata updates,
    /// suspicions and recoveries. Every call returns a handle to the same
    /// stream; read it from one place. The channel disconnects when the
    /// node shuts down, after its last events, so `for event in
    /// node.events().iter()` ends then.
    pub fn events(&self) -> Receiver<Event> {
        self.events.clone()
    }

    /// Live members (alive or suspect), this node included.
    pub fn members(&self) -> Result<Vec<Node>, Error> {
        self.machine("members", |m, _| m.members())
    }

    /// How many live members there are, this node included.
    pub fn num_members(&self) -> Result<usize, Error> {
        self.machine("num_members", |m, _| m.num_members())
    }

    /// This node as the cluster sees it (state [`NodeState::Left`] once it
    /// has left).
    ///
    /// [`NodeState::Left`]: crate::NodeState::Left
    pub fn local_node(&self) -> Result<Node, Error> {
        let addr = self.node.transport.local_addr();
        self.machine("local_node", |m, _| {
            m.local_node().unwrap_or_else(|| Node {
                name: m.name().to_owned(),
                addr: addr.ip(),
                port: addr.port(),
                meta: Vec::new(),
                state: crate::NodeState::Left,
                incarnation: 0,
                versions: m.config().vsn(),
            })
        })
    }

    /// The address the node's sockets are bound to (still known after
    /// shutdown).
    pub fn local_addr(&self) -> SocketAddr {
        self.node.transport.local_addr()
    }

    /// Lifeguard's health score: 0 is healthy.
    pub fn health_score(&self) -> Result<u32, Error> {
        self.machine("health_score", |m, _| m.health_score())
    }

    /// A snapshot of the counters. It still answers after shutdown, with
    /// the final counts.
    pub fn stats(&self) -> Result<NodeStats, Error> {
        self.node
            .stats()
            .map_err(|_: Reentered| Error::InTransport { method: "stats" })
    }

    /// Re-reads the delegate's metadata and advertises it, waiting up to
    /// `timeout` (above zero) for the news to go out.
    pub fn update_node(&self, timeout: Duration) -> Result<(), Error> {
        self.announce(
            "update_node",
            timeout,
            Waited::UpdateBroadcast,
            RunningNode::update_node,
        )
    }

    /// Whether the node's view can be trusted: it has exchanged whole state
    /// with another member (a push/pull, its join's or another) and no
    /// membership news has reached it for ten gossip intervals (2 s with
    /// `lan`); it stops being so when it loses every peer. The changes come
    /// as [`Event::Settled`] and [`Event::Unsettled`]. Use it as a
    /// readiness signal: a service that routes by membership (a ring)
    /// should wait for it before serving.
    pub fn is_settled(&self) -> Result<bool, Error> {
        self.machine("is_settled", |m, _| m.is_settled())
    }

    /// Waits up to `timeout` (above zero) for the node to settle
    /// ([`Memberlist::is_settled`]); returns at once if it is.
    ///
    /// Errors: [`Error::Timeout`] (the node is alone, or news keeps coming),
    /// [`Error::ZeroTimeout`], [`Error::Shutdown`] (also when the node shuts
    /// down while the call waits).
    pub fn wait_settled(&self, timeout: Duration) -> Result<(), Error> {
        if timeout.is_zero() {
            return Err(Error::ZeroTimeout {
                method: "wait_settled",
            });
        }
        self.may_block("wait_settled")?;
        self.running()?;
        let waiter = self
            .node
            .settled_waiter()
            .map_err(|_: Reentered| Error::InTransport {
                method: "wait_settled",
            })?;
        match waiter {
            None => Ok(()),
            Some(rx) => recv_answering(&rx, timeout).map_err(|e| match e {
                RecvTimeoutError::Timeout => Error::Timeout(Waited::Settled),
                RecvTimeoutError::Disconnected => Error::Shutdown,
            }),
        }
    }

    /// Leaves the cluster gracefully: broadcasts that this node left and
    /// waits up to `timeout` (above zero) for it to go out. The node keeps
    /// running (answering reads, refusing sends) until
    /// [`Memberlist::shutdown`]. A second call returns [`Error::Left`].
    pub fn leave(&self, timeout: Duration) -> Result<(), Error> {
        self.announce("leave", timeout, Waited::LeaveBroadcast, RunningNode::leave)
    }

    /// Starts news about this node and waits up to `timeout` for it to go
    /// out (leave, metadata update).
    fn announce(
        &self,
        method: &'static str,
        timeout: Duration,
        what: Waited,
        start: impl FnOnce(&RunningNode) -> Result<Option<Receiver<()>>, NotStarted>,
    ) -> Result<(), Error> {
        if timeout.is_zero() {
            return Err(Error::ZeroTimeout { method });
        }
        self.may_block(method)?;
        self.running()?;
        let waiter = start(&self.node).map_err(|e| self.not_started(method, e))?;
        if let Some(rx) = waiter {
            recv_answering(&rx, timeout).map_err(|_| Error::Timeout(what))?;
        }
        Ok(())
    }

    /// Sends `msg` to `node` in one datagram (no delivery guarantee). The
    /// framed datagram must fit [`MAX_DATAGRAM`](crate::protocol::MAX_DATAGRAM)
    /// bytes (about 64 KiB), else [`ProtocolError::MessageTooLarge`].
    pub fn send_best_effort(&self, node: &Node, msg: &[u8]) -> Result<(), Error> {
        self.running()?;
        self.node
            .send_best_effort(node.socket_addr(), &node.name, msg)
            .map_err(|e| self.not_started("send_best_effort", e))
    }

    /// Sends `msg` to an address in one datagram, without naming the node
    /// (refused under `require_node_names`). Limits as
    /// [`Memberlist::send_best_effort`].
    pub fn send_to_address(&self, addr: SocketAddr, msg: &[u8]) -> Result<(), Error> {
        self.running()?;
        self.node
            .send_best_effort(addr, "", msg)
            .map_err(|e| self.not_started("send_to_address", e))
    }

    /// Sends `msg` to `node` over a stream, returning once it is written.
    /// The stream may go `tcp_timeout` without progress; a large message
    /// that keeps flowing gets the time it needs
    /// ([`stream_time_limit`](crate::protocol::stream_time_limit)).
    /// At most 20 MiB ([`MAX_USER_MSG_BYTES`](crate::wire::MAX_USER_MSG_BYTES)),
    /// what receivers accept; larger is [`ProtocolError::MessageTooLarge`].
    pub fn send_reliable(&self, node: &Node, msg: &[u8]) -> Result<(), Error> {
        self.may_block("send_reliable")?;
        self.running()?;
        let pending = self
            .node
            .send_reliable(node.socket_addr(), &node.name, msg)
            .map_err(|e| self.not_started("send_reliable", e))?;
        match recv_answering(&pending.rx, pending.limit) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Delivery(e)),
            Err(_) => Err(Error::Timeout(Waited::ReliableMessage)),
        }
    }

    /// Queues `msg` to be broadcast to every member by gossip. A named
    /// broadcast replaces a queued one of the same name. It must fit one
    /// gossip packet ([`Memberlist::max_broadcast_size`]), else
    /// [`ProtocolError::MessageTooLarge`]: send larger data with
    /// [`Memberlist::send_reliable`] to each member.
    pub fn broadcast(&self, msg: &[u8], name: Option<&str>) -> Result<(), Error> {
        self.running()?;
        self.node
            .broadcast(msg, name)
            .map_err(|e| self.not_started("broadcast", e))
    }

    /// The largest message [`Memberlist::broadcast`] takes: `udp_buffer_size`
    /// less the framing and the envelopes (label, encryption).
    pub fn max_broadcast_size(&self) -> Result<usize, Error> {
        self.machine("max_broadcast_size", |m, _| m.max_broadcast_size())
    }

    /// Installs an encryption key (it decrypts at once; make it primary
    /// with [`Memberlist::use_key`] once every node has it).
    pub fn add_key(&self, key: &[u8]) -> Result<(), Error> {
        self.change_keyring("add_key", |k| k.add_key(key))
    }

    /// Makes an installed key the one that encrypts.
    pub fn use_key(&self, key: &[u8]) -> Result<(), Error> {
        self.change_keyring("use_key", |k| k.use_key(key))
    }

    /// Removes a key that is not primary.
    pub fn remove_key(&self, key: &[u8]) -> Result<(), Error> {
        self.change_keyring("remove_key", |k| k.remove_key(key))
    }

    fn change_keyring(
        &self,
        method: &'static str,
        f: impl FnOnce(&mut crate::wire::Keyring) -> Result<(), KeyringError>,
    ) -> Result<(), Error> {
        if self.shut.load(Ordering::SeqCst) {
            return Err(Error::Shutdown);
        }
        self.node
            .change_keyring(f)
            .map_err(|_: Reentered| Error::InTransport { method })?
            .map_err(Error::Keyring)
    }

    /// Stops the node without telling anyone (call [`Memberlist::leave`]
    /// first for a graceful exit): closes its sockets, closes the event
    /// channel after the last events and, if it has its own runtime, stops
    /// and joins its threads. Idempotent; may be called from any thread,
    /// delegate hooks included.
    pub fn shutdown(&self) {
        if self.shut.swap(true, Ordering::SeqCst) {
            return;
        }
        self.seed_refresh_stop.lock().take();
        self.runtime.stop_node(&self.node);
        if self.owns_runtime {
            self.runtime.shutdown();
        }
    }
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
