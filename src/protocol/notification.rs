//! What the state machine has to tell the application.
//!
//! The machine never calls application code: it queues a [`Notification`]
//! and the driver takes it with
//! [`Membership::poll_notification`](super::Membership::poll_notification)
//! and passes it on once the machine is no longer borrowed. So the code
//! that handles it may call back into whatever drives the machine (the
//! runtime hands them to the [`Delegate`](crate::Delegate) on a thread of
//! their own, with no lock held).

use std::fmt;
use std::time::Duration;

use crate::node::Node;

/// One thing to tell the application (a [`Delegate`](crate::Delegate)
/// notification hook).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notification {
    /// A user message arrived: [`Delegate::notify_msg`](crate::Delegate::notify_msg).
    Message(Vec<u8>),
    /// A push/pull exchange brought the peer's application state:
    /// [`Delegate::merge_remote_state`](crate::Delegate::merge_remote_state).
    RemoteState {
        /// The peer's state.
        state: Vec<u8>,
        /// Whether the exchange was part of a join.
        join: bool,
    },
    /// Another node claims a known node's name: [`Delegate::notify_conflict`](crate::Delegate::notify_conflict).
    Conflict {
        /// The node this member knows under that name.
        existing: Node,
        /// The node claiming it.
        other: Node,
    },
    /// A probe's direct ack arrived in time:
    /// [`Delegate::notify_ping_complete`](crate::Delegate::notify_ping_complete).
    /// Made only for a host that asks
    /// ([`HostQueries::ping_complete`](super::HostQueries::ping_complete)).
    PingComplete {
        /// The probed node.
        node: Node,
        /// Round-trip time.
        rtt: Duration,
        /// The peer's ack payload.
        payload: Vec<u8>,
    },
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message(msg) => write!(f, "user message of {} bytes", msg.len()),
            Self::RemoteState { state, join } => {
                let kind = if *join { "join" } else { "periodic" };
                write!(f, "remote state of {} bytes ({kind})", state.len())
            }
            Self::Conflict { existing, other } => write!(
                f,
                "name conflict: {} is held by {} and claimed by {}",
                existing.name,
                existing.socket_addr(),
                other.socket_addr()
            ),
            Self::PingComplete { node, rtt, .. } => {
                write!(f, "ping of {} completed in {rtt:?}", node.name)
            }
        }
    }
}
