//! Configuration: every knob of Go memberlist that still makes sense, with
//! Go's three presets, plus swimlist's own additions (partition healing,
//! left-node reaping, LZ4).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::wire::{label::MAX_LABEL_LEN, Keyring, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN};

/// Which compression a node sends (it always reads LZW and LZ4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CompressionMode {
    /// Send uncompressed.
    None,
    /// Go's LZW to everyone, as Go memberlist does by default.
    Lzw,
    /// LZ4 to peers that advertised reading it (swimlist nodes), Go's LZW
    /// to everyone else: what Go peers receive is exactly Go's default,
    /// and swimlist nodes spend a fifth less CPU on each other. The
    /// default.
    #[default]
    Lz4,
}

impl fmt::Display for CompressionMode {
    /// The name [`FromStr`] reads: `none`, `lzw` or `lz4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Lzw => "lzw",
            Self::Lz4 => "lz4",
        })
    }
}

impl FromStr for CompressionMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "none" => Ok(Self::None),
            "lzw" => Ok(Self::Lzw),
            "lz4" => Ok(Self::Lz4),
            other => Err(ConfigError::UnknownCompression(other.to_owned())),
        }
    }
}

/// An IP network in CIDR notation, for [`Config::cidrs_allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr` with a `prefix`-bit mask.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, ConfigError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(ConfigError::InvalidCidr(format!("{addr}/{prefix}")));
        }
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is inside the network. IPv4 and IPv6 networks never
    /// match each other's addresses (as in Go: `0.0.0.0/0` is IPv4 only).
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn matches(a: &[u8], b: &[u8], prefix: u8) -> bool {
            let full = usize::from(prefix / 8);
            let rest = prefix % 8;
            a[..full] == b[..full]
                && (rest == 0 || (a[full] ^ b[full]) & (0xffu8 << (8 - rest)) == 0)
        }
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => matches(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => matches(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::InvalidCidr(s.to_owned());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        IpNet::new(addr, prefix)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A predicate deciding, per node name, whether to skip the TCP fallback ping.
pub type NodePredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Everything that configures one node. Start from [`Config::lan`],
/// [`Config::wan`] or [`Config::local`] and adjust fields or use the
/// `with_*` builders; [`Config::validate`] reports what is wrong.
///
/// ```
/// use std::time::Duration;
/// use swimlist::Config;
///
/// let config = Config::local()
///     .with_name("node-1")
///     .with_bind_port(0)
///     .with_probe_interval(Duration::from_millis(500));
/// config.validate().unwrap();
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Unique node name (Go default: the host name).
    pub name: String,
    /// Address to bind the UDP socket and TCP listener to.
    pub bind_addr: IpAddr,
    /// Port for both; 0 lets the OS choose (the chosen port is reported).
    pub bind_port: u16,
    /// Address to advertise instead of the bound one (e.g. behind NAT).
    pub advertise_addr: Option<IpAddr>,
    /// Port to advertise with `advertise_addr`.
    pub advertise_port: Option<u16>,
    /// Protocol version spoken (1–5; Go's default 2).
    pub protocol_version: u8,
    /// Deadline for dialing and completing a stream (push/pull, reliable
    /// messages).
    pub tcp_timeout: Duration,
    /// Nodes asked to probe a target that missed a direct ping.
    pub indirect_checks: usize,
    /// Retransmissions of a broadcast are `retransmit_mult × ceil(log10(n+1))`.
    pub retransmit_mult: usize,
    /// Suspicion timeout multiplier (see Lifeguard).
    pub suspicion_mult: usize,
    /// Upper bound of the suspicion timeout, as a multiple of its minimum.
    pub suspicion_max_timeout_mult: usize,
    /// Period of full state syncs with a random node; `None` turns the
    /// periodic syncs off (joins still push/pull). `Some(0)` is invalid.
    pub push_pull_interval: Option<Duration>,
    /// Period of failure-detection probes; must be above zero (failure
    /// detection cannot be turned off: it also sets the suspicion timeout).
    pub probe_interval: Duration,
    /// Time to wait for a direct ack before probing indirectly.
    pub probe_timeout: Duration,
    /// Never fall back to a TCP ping when UDP probes fail.
    pub disable_tcp_pings: bool,
    /// Skip the TCP fallback ping for the nodes this returns true for.
    pub disable_tcp_pings_for_node: Option<NodePredicate>,
    /// Lifeguard: the health score ranges over `0..awareness_max_multiplier`.
    pub awareness_max_multiplier: usize,
    /// Period of gossip rounds; must be above zero.
    pub gossip_interval: Duration,
    /// Nodes gossiped to per round; at least 1.
    pub gossip_nodes: usize,
    /// How long dead nodes are still gossiped to (so they can refute), and
    /// after which dead entries are forgotten.
    pub gossip_to_the_dead_time: Duration,
    /// Reject incoming traffic that is not encrypted (when a key is set).
    pub gossip_verify_incoming: bool,
    /// Encrypt outgoing traffic (when a key is set).
    pub gossip_verify_outgoing: bool,
    /// Compression of outgoing messages.
    pub compression: CompressionMode,
    /// Encryption keys; the first is primary. Empty disables encryption.
    pub keyring: Keyring,
    /// Cluster label: packets and streams with another label are refused.
    pub label: String,
    /// Accept unlabelled traffic as if it carried `label`.
    pub skip_inbound_label_check: bool,
    /// Application protocol version advertised to peers (opaque).
    pub delegate_protocol_version: u8,
    /// Lowest application protocol version understood.
    pub delegate_protocol_min: u8,
    /// Highest application protocol version understood.
    pub delegate_protocol_max: u8,
    /// Size budget of one outgoing UDP packet.
    pub udp_buffer_size: usize,
    /// After this long dead, a node's name may be reused from another
    /// address (a restarted pod: same name, new IP); zero never allows it
    /// (Go's default). A *live* node's name is never taken over: a second
    /// claim is reported as [`Event::Conflict`](crate::Event::Conflict).
    /// swimlist's presets allow it after 5 s (`lan`), 15 s (`wan`), 1 s
    /// (`local`): a dead node at its old address was already declared
    /// failed, so the only risk is two live processes sharing a name, one
    /// of them falsely declared dead; Go would instead refuse the restarted
    /// node until the dead entry is forgotten (`gossip_to_the_dead_time`
    /// and a probe round later).
    pub dead_node_reclaim_time: Duration,
    /// Refuse to send to nodes whose name is unknown.
    pub require_node_names: bool,
    /// If non-empty, only nodes with addresses inside these networks are
    /// admitted.
    pub cidrs_allowed: Vec<IpNet>,
    /// Seeds used to heal partitions: when `partition_healing` is on, a
    /// node periodically tries a push/pull with a seed or a member it holds
    /// as dead or left. Each is an address (`ip:port`), a host name
    /// (`host:port`, its A/AAAA records), or a DNS SRV name
    /// (`_service._proto.name`, without a port: the addresses and ports its
    /// records point to; resolved by the `dns-srv` feature's stub resolver
    /// or [`Builder::srv_resolver`](crate::Builder::srv_resolver)).
    pub seeds: Vec<String>,
    /// How often seeds given as host names are resolved again (on a thread
    /// of their own, never the protocol worker), so that a seed list
    /// published in DNS follows the hosts behind it; `None` resolves them
    /// once, at start. 30 s with `lan`, 60 s with `wan`, 15 s with `local`.
    pub seed_refresh_interval: Option<Duration>,
    /// Periodically re-contact dead/left members and seeds so the halves of
    /// a healed network partition merge again (Go memberlist never does).
    pub partition_healing: bool,
    /// Period of partition-healing attempts.
    pub partition_healing_interval: Duration,
    /// Most push/pull exchanges handled at once; more are refused.
    pub max_concurrent_push_pulls: usize,
    /// Broadcasts are retransmitted as often as a cluster of at least this
    /// many members needs (`retransmit_mult × ceil(log10(n + 1))`), however
    /// few members this node knows yet, so news made during a burst of
    /// joins does not die out (beyond Go; 0 is Go's behaviour). Default
    /// 100: at least three times `retransmit_mult`.
    pub retransmit_floor: usize,
    /// After a push/pull teaches this node members it had never seen
    /// (its own join included), sync again with another random member this
    /// long after, at most once per four delays, until a sync teaches
    /// nothing (beyond Go; `None` turns it off). Default 500 ms.
    pub catch_up_delay: Option<Duration>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("bind_addr", &self.bind_addr)
            .field("bind_port", &self.bind_port)
            .field("advertise_addr", &self.advertise_addr)
            .field("advertise_port", &self.advertise_port)
            .field("protocol_version", &self.protocol_version)
            .field("tcp_timeout", &self.tcp_timeout)
            .field("probe_interval", &self.probe_interval)
            .field("probe_timeout", &self.probe_timeout)
            .field("gossip_interval", &self.gossip_interval)
            .field("push_pull_interval", &self.push_pull_interval)
            .field("compression", &self.compression)
            .field("keyring", &self.keyring)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::lan()
    }
}

impl Config {
    /// Go's `DefaultLANConfig`: tuned for a local network.
    pub fn lan() -> Self {
        Config {
            name: host_name(),
            bind_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            bind_port: 7946,
            advertise_addr: None,
            advertise_port: None,
            protocol_version: 2,
            tcp_timeout: Duration::from_secs(10),
            indirect_checks: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            push_pull_interval: Some(Duration::from_secs(30)),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            disable_tcp_pings: false,
            disable_tcp_pings_for_node: None,
            awareness_max_multiplier: 8,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            compression: CompressionMode::Lz4,
            keyring: Keyring::default(),
            label: String::new(),
            skip_inbound_label_check: false,
            delegate_protocol_version: 0,
            delegate_protocol_min: 0,
            delegate_protocol_max: 0,
            udp_buffer_size: 1400,
            dead_node_reclaim_time: Duration::from_secs(5),
            require_node_names: false,
            cidrs_allowed: Vec::new(),
            seeds: Vec::new(),
            seed_refresh_interval: Some(Duration::from_secs(30)),
            partition_healing: true,
            partition_healing_interval: Duration::from_secs(30),
            max_concurrent_push_pulls: 128,
            retransmit_floor: 100,
            catch_up_delay: Some(Duration::from_millis(500)),
        }
    }

    /// Go's `DefaultWANConfig`: longer timeouts for high-latency links.
    pub fn wan() -> Self {
        Config {
            tcp_timeout: Duration::from_secs(30),
            suspicion_mult: 6,
            push_pull_interval: Some(Duration::from_secs(60)),
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: 4,
            gossip_to_the_dead_time: Duration::from_secs(60),
            partition_healing_interval: Duration::from_secs(60),
            dead_node_reclaim_time: Duration::from_secs(15),
            seed_refresh_interval: Some(Duration::from_secs(60)),
            ..Self::lan()
        }
    }

    /// Go's `DefaultLocalConfig`: aggressive timings for a single host or
    /// a test.
    pub fn local() -> Self {
        Config {
            tcp_timeout: Duration::from_secs(1),
            indirect_checks: 1,
            retransmit_mult: 2,
            suspicion_mult: 3,
            push_pull_interval: Some(Duration::from_secs(15)),
            probe_timeout: Duration::from_millis(200),
            gossip_interval: Duration::from_millis(100),
            gossip_to_the_dead_time: Duration::from_secs(15),
            partition_healing_interval: Duration::from_secs(15),
            dead_node_reclaim_time: Duration::from_secs(1),
            seed_refresh_interval: Some(Duration::from_secs(15)),
            ..Self::lan()
        }
    }

    /// Sets [`Config::name`].
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`Config::bind_addr`].
    pub fn with_bind_addr(mut self, addr: IpAddr) -> Self {
        self.bind_addr = addr;
        self
    }

    /// Sets [`Config::bind_port`].
    pub fn with_bind_port(mut self, port: u16) -> Self {
        self.bind_port = port;
        self
    }

    /// Sets [`Config::probe_interval`].
    pub fn with_probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval;
        self
    }

    /// Sets [`Config::compression`].
    pub fn with_compression(mut self, mode: CompressionMode) -> Self {
        self.compression = mode;
        self
    }

    /// Sets [`Config::label`].
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Installs `key` as primary encryption key (16, 24 or 32 bytes).
    pub fn with_secret_key(mut self, key: &[u8]) -> Result<Self, ConfigError> {
        self.keyring
            .add_key(key)
            .and_then(|()| self.keyring.use_key(key))
            .map_err(ConfigError::Keyring)?;
        Ok(self)
    }

    /// Sets [`Config::seeds`].
    pub fn with_seeds<S: Into<String>>(mut self, seeds: impl IntoIterator<Item = S>) -> Self {
        self.seeds = seeds.into_iter().map(Into::into).collect();
        self
    }

    /// The `Vsn` bytes this node advertises.
    pub fn vsn(&self) -> [u8; 6] {
        [
            PROTOCOL_VERSION_MIN,
            PROTOCOL_VERSION_MAX,
            self.protocol_version,
            self.delegate_protocol_min,
            self.delegate_protocol_max,
            self.delegate_protocol_version,
        ]
    }

    /// Checks every constraint Go checks at `Create`, and those that would
    /// otherwise make the node misbehave silently.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::EmptyName);
        }
        if !(PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION_MAX).contains(&self.protocol_version) {
            return Err(ConfigError::ProtocolVersion(self.protocol_version));
        }
        if self.label.len() > MAX_LABEL_LEN {
            return Err(ConfigError::LabelTooLong(self.label.len()));
        }
        let zero = |name: &'static str, d: Duration| {
            if d.is_zero() {
                Err(ConfigError::ZeroDuration(name))
            } else {
                Ok(())
            }
        };
        zero("tcp_timeout", self.tcp_timeout)?;
        zero("gossip_to_the_dead_time", self.gossip_to_the_dead_time)?;
        zero("probe_interval", self.probe_interval)?;
        zero("probe_timeout", self.probe_timeout)?;
        zero("gossip_interval", self.gossip_interval)?;
        if let Some(interval) = self.push_pull_interval {
            zero("push_pull_interval", interval)?;
        }
        if let Some(delay) = self.catch_up_delay {
            zero("catch_up_delay", delay)?;
        }
        if let Some(interval) = self.seed_refresh_interval {
            zero("seed_refresh_interval", interval)?;
        }
        // The indirect probes and the TCP ping run in what is left of the
        // interval after probe_timeout; with nothing left, every lost ack
        // makes a live member suspect (Go accepts it, and suffers so).
        if self.probe_timeout >= self.probe_interval {
            return Err(ConfigError::ProbeTimeoutNotBelowInterval);
        }
        if self.partition_healing {
            zero(
                "partition_healing_interval",
                self.partition_healing_interval,
            )?;
        }
        let positive = |name: &'static str, v: usize| {
            if v == 0 {
                Err(ConfigError::ZeroCount(name))
            } else {
                Ok(())
            }
        };
        positive("suspicion_mult", self.suspicion_mult)?;
        positive(
            "suspicion_max_timeout_mult",
            self.suspicion_max_timeout_mult,
        )?;
        positive("awareness_max_multiplier", self.awareness_max_multiplier)?;
        positive("retransmit_mult", self.retransmit_mult)?;
        positive("gossip_nodes", self.gossip_nodes)?;
        positive("max_concurrent_push_pulls", self.max_concurrent_push_pulls)?;
        // A packet must hold at least a ping with its envelopes.
        if self.udp_buffer_size < 128 || self.udp_buffer_size > 65_507 {
            return Err(ConfigError::UdpBufferSize(self.udp_buffer_size));
        }
        if self.delegate_protocol_min > self.delegate_protocol_max
            || !(self.delegate_protocol_min..=self.delegate_protocol_max)
                .contains(&self.delegate_protocol_version)
        {
            return Err(ConfigError::DelegateProtocolVersion {
                min: self.delegate_protocol_min,
                max: self.delegate_protocol_max,
                version: self.delegate_protocol_version,
            });
        }
        Ok(())
    }
}

/// The host name (Go's default node name), or "swimlist" if unknown.
pub(crate) fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "swimlist".to_owned())
}

/// What is wrong with a [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The node name is empty.
    EmptyName,
    /// The protocol version is outside 1–5.
    ProtocolVersion(u8),
    /// The label is longer than 255 bytes.
    LabelTooLong(usize),
    /// A duration that must be positive is zero.
    ZeroDuration(&'static str),
    /// A count that must be positive is zero.
    ZeroCount(&'static str),
    /// `probe_timeout` is not shorter than `probe_interval`, which leaves
    /// indirect probes no time.
    ProbeTimeoutNotBelowInterval,
    /// `udp_buffer_size` must be within 128..=65507.
    UdpBufferSize(usize),
    /// The delegate protocol version is outside its own min..=max.
    DelegateProtocolVersion {
        /// Minimum.
        min: u8,
        /// Maximum.
        max: u8,
        /// Version spoken.
        version: u8,
    },
    /// A key was refused by the keyring.
    Keyring(crate::wire::KeyringError),
    /// A CIDR string could not be parsed.
    InvalidCidr(String),
    /// An unknown compression name (expected none, lzw or lz4).
    UnknownCompression(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyName => f.write_str("node name must not be empty"),
            Self::ProtocolVersion(v) => write!(
                f,
                "protocol version {v} is outside {PROTOCOL_VERSION_MIN}..={PROTOCOL_VERSION_MAX}"
            ),
            Self::LabelTooLong(n) => write!(f, "label is {n} bytes, at most {MAX_LABEL_LEN}"),
            Self::ZeroDuration(name) => write!(f, "{name} must be greater than zero"),
            Self::ZeroCount(name) => write!(f, "{name} must be at least 1"),
            Self::ProbeTimeoutNotBelowInterval => f.write_str(
                "probe_timeout must be shorter than probe_interval: indirect probes run in \
                 the rest of the interval (shorten both together)",
            ),
            Self::UdpBufferSize(n) => {
                write!(f, "udp_buffer_size {n} is outside 128..=65507")
            }
            Self::DelegateProtocolVersion { min, max, version } => write!(
                f,
                "delegate protocol version {version} is outside {min}..={max}"
            ),
            Self::Keyring(e) => write!(f, "invalid key: {e}"),
            Self::InvalidCidr(s) => write!(f, "invalid CIDR {s:?}"),
            Self::UnknownCompression(s) => {
                write!(f, "unknown compression {s:?} (expected none, lzw or lz4)")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Keyring(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_turned_off_by_a_zero() {
        type Breaker = fn(&mut Config);
        let cases: [(&str, Breaker); 5] = [
            ("probe_interval", |c| c.probe_interval = Duration::ZERO),
            ("gossip_interval", |c| c.gossip_interval = Duration::ZERO),
            ("push_pull_interval", |c| {
                c.push_pull_interval = Some(Duration::ZERO)
            }),
            ("probe_timeout", |c| c.probe_timeout = Duration::ZERO),
            ("gossip_nodes", |c| c.gossip_nodes = 0),
        ];
        for (field, break_it) in cases {
            let mut c = Config::lan();
            break_it(&mut c);
            let err = c.validate().expect_err(field);
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        // Periodic push/pull is the one thing that can be turned off, and
        // only by saying so.
        let mut c = Config::lan();
        c.push_pull_interval = None;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn presets_match_go_defaults() {
        let lan = Config::lan();
        assert_eq!(lan.protocol_version, 2);
        assert_eq!(lan.vsn(), [1, 5, 2, 0, 0, 0]);
        assert_eq!(
            (lan.tcp_timeout, lan.probe_interval, lan.probe_timeout),
            (
                Duration::from_secs(10),
                Duration::from_secs(1),
                Duration::from_millis(500)
            )
        );
        let wan = Config::wan();
        assert_eq!((wan.suspicion_mult, wan.gossip_nodes), (6, 4));
        assert_eq!(wan.probe_interval, Duration::from_secs(5));
        let local = Config::local();
        assert_eq!(
            (
                local.indirect_checks,
                local.retransmit_mult,
                local.suspicion_mult
            ),
            (1, 2, 3)
        );
        assert_eq!(local.gossip_interval, Duration::from_millis(100));
        for c in [lan, wan, local] {
            c.validate().unwrap();
        }
    }

    #[test]
    fn validation_errors() {
        let c = Config::lan();
        // The trap examples/tune found: half the lan interval leaves its
        // 500 ms probe timeout nothing after it.
        let short = Config {
            probe_interval: Duration::from_millis(500),
            ..c.clone()
        };
        assert_eq!(
            short.validate(),
            Err(ConfigError::ProbeTimeoutNotBelowInterval)
        );
        Config {
            probe_timeout: Duration::from_millis(200),
            ..short
        }
        .validate()
        .unwrap();
        for v in [1, 4, 5] {
            Config {
                protocol_version: v,
                ..c.clone()
            }
            .validate()
            .unwrap();
        }
        assert_eq!(
            Config {
                protocol_version: 6,
                ..c.clone()
            }
            .validate(),
            Err(ConfigError::ProtocolVersion(6))
        );
        assert_eq!(
            Config {
                label: "x".repeat(256),
                ..c.clone()
            }
            .validate(),
            Err(ConfigError::LabelTooLong(256))
        );
        assert_eq!(
            Config {
                tcp_timeout: Duration::ZERO,
                ..c.clone()
            }
            .validate(),
            Err(ConfigError::ZeroDuration("tcp_timeout"))
        );
        assert_eq!(
            Config {
                name: String::new(),
                ..c.clone()
            }
            .validate(),
            Err(ConfigError::EmptyName)
        );
        assert!(matches!(
            c.clone().with_secret_key(&[0; 3]),
            Err(ConfigError::Keyring(
                crate::wire::KeyringError::InvalidKeyLength(3)
            ))
        ));
        let keyed = c
            .with_secret_key(&[1; 16])
            .unwrap()
            .with_secret_key(&[2; 32])
            .unwrap();
        assert_eq!(keyed.keyring.primary_key(), Some(&[2u8; 32][..]));
        assert_eq!(keyed.keyring.len(), 2);
    }

    #[test]
    fn cidr_matching_follows_go() {
        let any4: IpNet = "0.0.0.0/0".parse().unwrap();
        let any6: IpNet = "::/0".parse().unwrap();
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(any4.contains(v4) && !any4.contains(v6));
        assert!(any6.contains(v6) && !any6.contains(v4));
        let net: IpNet = "10.1.0.0/17".parse().unwrap();
        assert!(net.contains(v4));
        assert!(!net.contains("10.1.128.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
    }
}
