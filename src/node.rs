//! What the library tells you about a member.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A member's state as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Answering probes.
    Alive,
    /// Missed a probe; will be declared dead unless it refutes in time.
    Suspect,
    /// Declared dead by the failure detector.
    Dead,
    /// Left the cluster on purpose.
    Left,
}

impl NodeState {
    /// The state number Go memberlist uses on the wire (0–3).
    pub fn wire_value(self) -> i64 {
        match self {
            Self::Alive => 0,
            Self::Suspect => 1,
            Self::Dead => 2,
            Self::Left => 3,
        }
    }

    /// The state for a wire number, if it is one.
    pub fn from_wire(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::Alive,
            1 => Self::Suspect,
            2 => Self::Dead,
            3 => Self::Left,
            _ => return None,
        })
    }

    /// Lower-case name, for logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Suspect => "suspect",
            Self::Dead => "dead",
            Self::Left => "left",
        }
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique name.
    pub name: String,
    /// Gossip address.
    pub addr: IpAddr,
    /// Gossip port (UDP and TCP).
    pub port: u16,
    /// Application metadata (at most 512 bytes).
    pub meta: Vec<u8>,
    /// State as seen by this node (unlike Go, always up to date).
    pub state: NodeState,
    /// Incarnation number: bumped by the node to refute suspicion or
    /// announce new metadata.
    pub incarnation: u32,
    /// `[PMin, PMax, PCur, DMin, DMax, DCur]`: protocol versions understood
    /// and spoken, then the application's (delegate) versions.
    pub versions: [u8; 6],
}

impl fmt::Display for Node {
    /// `name (addr:port, state)`, e.g. `node-1 (10.0.0.1:7946, alive)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.socket_addr(), self.state)
    }
}

impl Node {
    /// The address to send to.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// Reads an IP address from its 4- or 16-byte wire form. IPv4-mapped IPv6
/// addresses (what default Go nodes advertise) become IPv4, as Go dials them.
pub(crate) fn ip_from_wire(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(bytes);
            let v6 = Ipv6Addr::from(b);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// The wire form of an address: 4 bytes for IPv4, 16 for IPv6.
pub(crate) fn ip_to_wire(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Why a member left the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaveReason {
    /// Declared dead by the failure detector.
    Failed,
    /// Left gracefully.
    Left,
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Failed => "failed",
            Self::Left => "left",
        })
    }
}

/// A membership change, read from
/// [`Memberlist::events`](crate::Memberlist::events).
///
/// ```no_run
/// use swimlist::{Config, Event, LeaveReason, Memberlist};
///
/// let node = Memberlist::create(Config::lan().with_name("watcher"))?;
/// for event in node.events().iter() {
///     match event {
///         Event::Join(n) => println!("{} joined from {}", n.name, n.socket_addr()),
///         Event::Leave(n, LeaveReason::Failed) => println!("{} failed", n.name),
///         other => println!("{other}"),
///     }
/// }
/// # Ok::<(), swimlist::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A node joined (or came back after being dead or left).
    Join(Node),
    /// A node failed or left.
    Leave(Node, LeaveReason),
    /// A node's metadata changed.
    Update(Node),
    /// A node missed its probes and is suspected (Go has no such event).
    Suspect(Node),
    /// A suspected node proved it is alive (Go has no such event).
    Alive(Node),
    /// A node at another address claims the name of a live member: the
    /// member this node knows (first) keeps it, the claimant (second) is
    /// refused. The claimant's `join` fails with
    /// [`Error::NameConflict`](crate::Error::NameConflict).
    Conflict(Node, Node),
    /// This node's view can now be trusted: it has exchanged whole state
    /// with a member and no membership news has come for a quiet period
    /// (see [`Memberlist::wait_settled`](crate::Memberlist::wait_settled)).
    /// About this node.
    Settled(Node),
    /// This node's view is doubtful again: it lost every peer. About this
    /// node.
    Unsettled(Node),
}

impl fmt::Display for Event {
    /// E.g. `join: node-1 (10.0.0.1:7946, alive)`, `leave (failed): …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Join(n) => write!(f, "join: {n}"),
            Self::Leave(n, reason) => write!(f, "leave ({reason}): {n}"),
            Self::Update(n) => write!(f, "update: {n}"),
            Self::Suspect(n) => write!(f, "suspect: {n}"),
            Self::Alive(n) => write!(f, "alive again: {n}"),
            Self::Conflict(holder, claimant) => write!(
                f,
                "name conflict: {} at {} claims the name of {holder}",
                claimant.name,
                claimant.socket_addr()
            ),
            Self::Settled(n) => write!(f, "settled: {} trusts its view", n.name),
            Self::Unsettled(n) => write!(f, "unsettled: {} lost every peer", n.name),
        }
    }
}

impl Event {
    /// A short name of the kind of event: `join`, `leave`, `update`,
    /// `suspect`, `alive`, `conflict`, `settled` or `unsettled`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Join(_) => "join",
            Self::Leave(..) => "leave",
            Self::Update(_) => "update",
            Self::Suspect(_) => "suspect",
            Self::Alive(_) => "alive",
            Self::Conflict(..) => "conflict",
            Self::Settled(_) => "settled",
            Self::Unsettled(_) => "unsettled",
        }
    }

    /// The node the event is about (for a conflict, the member holding
    /// the name; for readiness, this node).
    pub fn node(&self) -> &Node {
        match self {
            Self::Join(n)
            | Self::Leave(n, _)
            | Self::Update(n)
            | Self::Suspect(n)
            | Self::Alive(n)
            | Self::Conflict(n, _)
            | Self::Settled(n)
            | Self::Unsettled(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_addresses() {
        assert_eq!(
            ip_from_wire(&[10, 0, 0, 1]),
            Some("10.0.0.1".parse().unwrap())
        );
        let mapped = Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().octets();
        assert_eq!(ip_from_wire(&mapped), Some("127.0.0.1".parse().unwrap()));
        let v6: IpAddr = "fe80::1".parse().unwrap();
        assert_eq!(ip_from_wire(&ip_to_wire(v6)), Some(v6));
        assert_eq!(ip_from_wire(&[1, 2, 3]), None);
    }
}
