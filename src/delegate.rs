//! Hooks the application implements to take part in the protocol. Every
//! method has a do-nothing default, so implement only what you need.
//!
//! Methods are called from swimlist's protocol thread, with the node's
//! state locked: keep them quick and never call back into the
//! [`Memberlist`](crate::Memberlist) handle from inside them.
//!
//! Membership events travel separately, through the channel of
//! [`Memberlist::events`](crate::Memberlist::events), so a delegate call
//! may be seen before the events of the same exchange (Go calls both from
//! one goroutine: `NotifyJoin` before `MergeRemoteState`).

use std::time::Duration;

use crate::node::Node;

/// Application hooks, mirroring Go memberlist's `Delegate`,
/// `ConflictDelegate`, `MergeDelegate`, `PingDelegate` and `AliveDelegate`
/// (membership events arrive on a channel instead of an `EventDelegate`).
pub trait Delegate: Send + Sync {
    /// Metadata to advertise for this node; at most `limit` (512) bytes are
    /// used. Called at start and by `update_node`.
    fn node_meta(&self, limit: usize) -> Vec<u8> {
        let _ = limit;
        Vec::new()
    }

    /// A user message arrived (best-effort, reliable or broadcast).
    fn notify_msg(&self, msg: &[u8]) {
        let _ = msg;
    }

    /// Broadcasts to piggyback on an outgoing packet: return messages whose
    /// sizes plus `overhead` each fit in `limit` bytes in total. (Messages
    /// queued with the handle's broadcast queue need no delegate.)
    fn get_broadcasts(&self, overhead: usize, limit: usize) -> Vec<Vec<u8>> {
        let _ = (overhead, limit);
        Vec::new()
    }

    /// State to send in a push/pull exchange (`join` tells whether it is
    /// part of a join).
    fn local_state(&self, join: bool) -> Vec<u8> {
        let _ = join;
        Vec::new()
    }

    /// State received in a push/pull exchange.
    fn merge_remote_state(&self, state: &[u8], join: bool) {
        let _ = (state, join);
    }

    /// Another node claims a known node's name from another address.
    fn notify_conflict(&self, existing: &Node, other: &Node) {
        let _ = (existing, other);
    }

    /// A join is about to merge `peers`' view; an error cancels it.
    fn notify_merge(&self, peers: &[Node]) -> Result<(), String> {
        let _ = peers;
        Ok(())
    }

    /// Payload for acks to direct pings; `None` sends none (as Go without a
    /// ping delegate).
    fn ack_payload(&self) -> Option<Vec<u8>> {
        None
    }

    /// A probe's direct ack arrived in time, after `rtt`, carrying the
    /// peer's ack payload.
    fn notify_ping_complete(&self, node: &Node, rtt: Duration, payload: &[u8]) {
        let _ = (node, rtt, payload);
    }

    /// A node is about to be accepted as alive (this node included); an
    /// error keeps it out.
    fn notify_alive(&self, node: &Node) -> Result<(), String> {
        let _ = node;
        Ok(())
    }
}

/// The delegate used when the application gives none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDelegate;

impl Delegate for NoDelegate {}
