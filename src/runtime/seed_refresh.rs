//! Seeds that follow DNS: host names among a node's seeds are resolved
//! again every `seed_refresh_interval`, on a thread of their own, so that a
//! seed list published as a DNS name (a Kubernetes headless service, Consul
//! DNS) follows the pods behind it. Partition healing then tries the seeds
//! that are not members, which is how a node left alone finds its way back.
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

/// The system resolver (`getaddrinfo`).
pub(crate) fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        use std::net::ToSocketAddrs;
        Ok((host, port).to_socket_addrs()?.collect())
    })
}

/// A node's seeds: fixed addresses, and host names to resolve again with
/// the addresses they last resolved to.
pub(crate) struct Seeds {
    pub(crate) fixed: Vec<SocketAddr>,
    pub(crate) names: Vec<(String, u16, Vec<SocketAddr>)>,
}

impl Seeds {
    /// Every address, once.
    pub(crate) fn all(&self) -> Vec<SocketAddr> {
        let mut all = self.fixed.clone();
        all.extend(self.names.iter().flat_map(|(_, _, addrs)| addrs));
        all.sort();
        all.dedup();
        all
    }
}

/// Resolves `host` with `resolver`, giving up after `timeout`.
pub(crate) fn resolve_within(
    resolver: &Resolver,
    host: &str,
    port: u16,
    timeout: Duration,
) -> io::Result<Vec<SocketAddr>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let (resolver, host_owned) = (Arc::clone(resolver), host.to_owned());
    std::thread::Builder::new()
        .name("swimlist-dns".into())
        .spawn(move || {
            let _ = tx.send(resolver(&host_owned, port));
        })?;
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("resolving {host} took over {timeout:?}"),
        ))
    })
}

/// Starts the thread that keeps `node`'s seeds current. It ends when
/// `stop`'s sender is dropped or the node is gone.
pub(crate) fn spawn(
    node: Weak<RunningNode>,
    mut seeds: Seeds,
    interval: Duration,
    timeout: Duration,
    resolver: Resolver,
    stop: Receiver<()>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("swimlist-seeds".into())
        .spawn(move || loop {
            if let Err(RecvTimeoutError::Disconnected) | Ok(()) = stop.recv_timeout(interval) {
                return;
            }
            for (host, port, known) in &mut seeds.names {
                match resolve_within(&resolver, host, *port, timeout) {
                    Ok(addrs) => *known = addrs,
                    Err(e) => log::warn!("seed {host}: {e} (keeping its last addresses)"),
                }
            }
            let Some(node) = node.upgrade() else { return };
            node.set_seeds(seeds.all());
        })?;
    Ok(())
}
