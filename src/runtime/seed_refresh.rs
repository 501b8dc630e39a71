//! Seeds that follow DNS: host names among a node's seeds, and SRV names
//! (`_service._proto.name`), are resolved again every
//! `seed_refresh_interval`, on a thread of their own, so that a seed list
//! published in DNS (a Kubernetes headless service, Consul DNS) follows the
//! pods behind it. Partition healing then tries the seeds that are not
//! members, which is how a node left alone finds its way back.
//!
//! Resolution never runs on a protocol worker, and each lookup is given
//! `timeout`: one that takes longer is abandoned (its answer ignored) and
//! the seed keeps its last addresses.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::running_node::RunningNode;

/// Turns a host name and port into addresses: the system resolver by
/// default ([`Builder::resolver`](crate::Builder::resolver) replaces it).
pub type Resolver = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// Turns an SRV name (`_service._proto.name`) into the addresses its
/// records point to: with the `dns-srv` feature, a stub resolver asking the
/// nameservers of `/etc/resolv.conf`
/// ([`Builder::srv_resolver`](crate::Builder::srv_resolver) replaces it).
pub type SrvResolver = Arc<dyn Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// The system resolver (`getaddrinfo`).
pub(crate) fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        use std::net::ToSocketAddrs;
        Ok((host, port).to_socket_addrs()?.collect())
    })
}

/// The nameservers of `/etc/resolv.conf`, each exchange limited to
/// `timeout`.
#[cfg(feature = "dns-srv")]
pub(crate) fn system_srv_resolver(timeout: Duration) -> SrvResolver {
    Arc::new(move |name| super::srv::StubResolver::system(timeout)?.lookup_srv(name))
}

/// Without the `dns-srv` feature, SRV seeds say how to get them.
#[cfg(not(feature = "dns-srv"))]
pub(crate) fn system_srv_resolver(_timeout: Duration) -> SrvResolver {
    Arc::new(|name| {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{name} is a DNS SRV name: build swimlist with the dns-srv feature, \
                 or give Builder::srv_resolver"
            ),
        ))
    })
}

/// Whether a seed names SRV records: `_service._proto.name`, without a
/// port (the records give the ports).
pub(crate) fn is_srv_name(seed: &str) -> bool {
    let mut labels = seed.split('.');
    let (service, proto, rest) = (labels.next(), labels.next(), labels.next());
    service.is_some_and(|s| s.len() > 1 && s.starts_with('_'))
        && proto.is_some_and(|p| p == "_tcp" || p == "_udp")
        && rest.is_some_and(|r| !r.is_empty())
        && !seed.contains(':')
}

/// A seed given by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeedName {
    /// A host name and port: its A/AAAA records.
    Host(String, u16),
    /// An SRV name: its records' targets and ports.
    Srv(String),
}

impl std::fmt::Display for SeedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedName::Host(host, port) => write!(f, "{host}:{port}"),
            SeedName::Srv(name) => write!(f, "{name} (SRV)"),
        }
    }
}

/// How seed names are resolved.
#[derive(Clone)]
pub(crate) struct Resolvers {
    pub(crate) host: Resolver,
    pub(crate) srv: SrvResolver,
}

impl Resolvers {
    /// Starts resolving `name` on a thread of its own.
    pub(crate) fn start(&self, name: &SeedName) -> io::Result<Lookup> {
        let lookup: Box<dyn FnOnce() -> io::Result<Vec<SocketAddr>> + Send> = match name {
            SeedName::Host(host, port) => {
                let (resolver, host, port) = (Arc::clone(&self.host), host.clone(), *port);
                Box::new(move || resolver(&host, port))
            }
            SeedName::Srv(srv) => {
                let (resolver, srv) = (Arc::clone(&self.srv), srv.clone());
                Box::new(move || resolver(&srv))
            }
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("swimlist-dns".into())
            .spawn(move || {
                let _ = tx.send(lookup());
            })?;
        Ok(Lookup(rx))
    }
}

/// A lookup running on its own thread.
pub(crate) struct Lookup(Receiver<io::Result<Vec<SocketAddr>>>);

impl Lookup {
    /// Its answer, waiting up to `timeout`; the lookup itself if it is still
    /// running then, to be waited for later rather than started again (so a
    /// resolver that hangs holds one thread per seed, not one per round).
    pub(crate) fn wait(self, timeout: Duration) -> Result<io::Result<Vec<SocketAddr>>, Lookup> {
        match self.0.recv_timeout(timeout) {
            Ok(answer) => Ok(answer),
            Err(RecvTimeoutError::Timeout) => Err(self),
            Err(RecvTimeoutError::Disconnected) => Ok(Err(io::Error::other("the lookup failed"))),
        }
    }
}

/// A seed given by name: where it last resolved to, and a lookup still
/// running from an earlier round.
pub(crate) struct NamedSeed {
    pub(crate) name: SeedName,
    pub(crate) addrs: Vec<SocketAddr>,
    pending: Option<Lookup>,
}

impl NamedSeed {
    /// Resolves the seed again (or waits for the lookup still running),
    /// up to `timeout`; keeps its last addresses when that fails.
    pub(crate) fn refresh(&mut self, resolvers: &Resolvers, timeout: Duration) {
        let lookup = match self.pending.take() {
            Some(running) => running,
            None => match resolvers.start(&self.name) {
                Ok(lookup) => lookup,
                Err(e) => {
                    log::warn!("seed {}: no thread to resolve it: {e}", self.name);
                    return;
                }
            },
        };
        match lookup.wait(timeout) {
            Ok(Ok(addrs)) => self.addrs = addrs,
            Ok(Err(e)) => log::warn!("seed {}: {e} (keeping its last addresses)", self.name),
            Err(running) => {
                log::warn!(
                    "seed {}: resolving took over {timeout:?} (keeping its last addresses)",
                    self.name
                );
                self.pending = Some(running);
            }
        }
    }

    /// A seed not resolved yet.
    pub(crate) fn new(name: SeedName) -> Self {
        NamedSeed {
            name,
            addrs: Vec::new(),
            pending: None,
        }
    }
}

/// A node's seeds: fixed addresses, and names to resolve again with the
/// addresses they last resolved to.
pub(crate) struct Seeds {
    pub(crate) fixed: Vec<SocketAddr>,
    pub(crate) names: Vec<NamedSeed>,
}

impl Seeds {
    /// Every address, once.
    pub(crate) fn all(&self) -> Vec<SocketAddr> {
        let mut all = self.fixed.clone();
        all.extend(self.names.iter().flat_map(|seed| &seed.addrs));
        all.sort();
        all.dedup();
        all
    }
}

/// Starts the thread that keeps `node`'s seeds current. It ends when
/// `stop`'s sender is dropped or the node is gone.
pub(crate) fn spawn(
    node: Weak<RunningNode>,
    mut seeds: Seeds,
    interval: Duration,
    timeout: Duration,
    resolvers: Resolvers,
    stop: Receiver<()>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("swimlist-seeds".into())
        .spawn(move || loop {
            if let Err(RecvTimeoutError::Disconnected) | Ok(()) = stop.recv_timeout(interval) {
                return;
            }
            for seed in &mut seeds.names {
                seed.refresh(&resolvers, timeout);
            }
            let Some(node) = node.upgrade() else { return };
            node.set_seeds(seeds.all());
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_names_are_told_from_host_names() {
        for srv in [
            "_memberlist._tcp.swim.default.svc.cluster.local",
            "_x._udp.example",
        ] {
            assert!(is_srv_name(srv), "{srv}");
        }
        for host in [
            "seeds.cluster.test",
            "seeds.cluster.test:7946",
            "_x._tcp.example:7946",
            "_x._sctp.example",
            "_._tcp.example",
            "_x._tcp.",
            "10.0.0.1",
        ] {
            assert!(!is_srv_name(host), "{host}");
        }
    }

    #[cfg(not(feature = "dns-srv"))]
    #[test]
    fn without_the_feature_an_srv_seed_says_how_to_get_it() {
        let err = system_srv_resolver(Duration::from_secs(1))("_x._tcp.example").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("dns-srv"), "{err}");
    }

    #[test]
    fn a_lookup_that_hangs_is_waited_for_not_started_again() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (release, released) = crossbeam_channel::bounded::<()>(0);
        let counted = Arc::clone(&calls);
        let resolvers = Resolvers {
            host: Arc::new(move |_, port| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = released.recv();
                Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))])
            }),
            srv: Arc::new(|_| Ok(Vec::new())),
        };
        let mut seed = NamedSeed::new(SeedName::Host("stuck.example".into(), 7946));
        for _ in 0..3 {
            seed.refresh(&resolvers, Duration::from_millis(20));
            assert!(seed.addrs.is_empty(), "no answer yet");
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one lookup running"
        );
        release.send(()).unwrap();
        seed.refresh(&resolvers, Duration::from_secs(5));
        assert_eq!(seed.addrs, [SocketAddr::from(([10, 0, 0, 1], 7946))]);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "its answer was taken"
        );
    }
}
