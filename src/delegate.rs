//! Hooks the application implements to take part in the protocol.

use std::time::Duration;

use crate::node::Node;

/// Application hooks, mirroring Go memberlist's `Delegate`,
/// `ConflictDelegate`, `MergeDelegate`, `PingDelegate` and `AliveDelegate`
/// (membership events arrive on a channel instead of an `EventDelegate`).
/// Every method has a do-nothing default: implement only what you need.
///
/// # Two kinds of hooks, two threads
///
/// **Notification hooks** tell the application something and return
/// nothing: [`notify_msg`](Delegate::notify_msg),
/// [`merge_remote_state`](Delegate::merge_remote_state),
/// [`notify_conflict`](Delegate::notify_conflict) and
/// [`notify_ping_complete`](Delegate::notify_ping_complete). They run on
/// the runtime's delegate thread (`swimlist-delegate`), one at a time, in
/// the order the node produced them, with no lock held. They may block and
/// may call **any** method of any [`Memberlist`](crate::Memberlist) handle:
/// answering a message with `send_reliable` from `notify_msg` is fine. A
/// slow hook delays the hooks after it (of every node on the runtime), not
/// the protocol; beyond 16,384 waiting notifications new ones are dropped
/// and counted in [`NodeStats::notifications_dropped`](crate::NodeStats).
///
/// **Query hooks** return a value the protocol needs at once:
/// [`node_meta`](Delegate::node_meta),
/// [`get_broadcasts`](Delegate::get_broadcasts),
/// [`local_state`](Delegate::local_state),
/// [`notify_merge`](Delegate::notify_merge),
/// [`ack_payload`](Delegate::ack_payload) and
/// [`notify_alive`](Delegate::notify_alive). They run on the protocol
/// worker while the node is being updated, so they must be quick and must
/// not block. A handle method that reads or changes a node's state
/// (that is, all but `events` and `local_addr`), called from one, returns
/// [`Error::InQueryHook`](crate::Error::InQueryHook) at once, whichever
/// node it is for: two workers stepping two nodes whose hooks called each
/// other would wait for each other forever. Keep what a query hook needs
/// in the delegate itself.
///
/// # Ordering
///
/// Membership events travel separately, through
/// [`Memberlist::events`](crate::Memberlist::events), so a notification
/// may be seen before or after the events of the same exchange (Go calls
/// both from one goroutine: `NotifyJoin` before `MergeRemoteState`).
///
/// ```
/// use std::sync::Mutex;
/// use swimlist::Delegate;
///
/// /// Advertises a role, keeps the last message, shares a counter.
/// struct App {
///     last: Mutex<Vec<u8>>,
///     counter: Mutex<u64>,
/// }
///
/// impl Delegate for App {
///     fn node_meta(&self, _limit: usize) -> Vec<u8> {
///         b"role=cache".to_vec()
///     }
///     fn notify_msg(&self, msg: &[u8]) {
///         *self.last.lock().unwrap() = msg.to_vec();
///     }
///     fn local_state(&self, _join: bool) -> Vec<u8> {
///         self.counter.lock().unwrap().to_be_bytes().to_vec()
///     }
///     fn merge_remote_state(&self, state: &[u8], _join: bool) {
///         if let Ok(bytes) = <[u8; 8]>::try_from(state) {
///             let theirs = u64::from_be_bytes(bytes);
///             let mut ours = self.counter.lock().unwrap();
///             *ours = (*ours).max(theirs);
///         }
///     }
/// }
/// ```
pub trait Delegate: Send + Sync {
    /// Metadata to advertise for this node; at most `limit` (512) bytes are
    /// used. Called at start and by `update_node`. A query hook.
    fn node_meta(&self, limit: usize) -> Vec<u8> {
        let _ = limit;
        Vec::new()
    }

    /// A user message arrived (best-effort, reliable or broadcast). A
    /// notification hook.
    fn notify_msg(&self, msg: &[u8]) {
        let _ = msg;
    }

    /// Broadcasts to piggyback on an outgoing packet: return messages whose
    /// sizes plus `overhead` each fit in `limit` bytes in total. (Messages
    /// queued with the handle's broadcast queue need no delegate.) A query
    /// hook, called for every outgoing packet with room to spare.
    fn get_broadcasts(&self, overhead: usize, limit: usize) -> Vec<Vec<u8>> {
        let _ = (overhead, limit);
        Vec::new()
    }

    /// State to send in a push/pull exchange (`join` tells whether it is
    /// part of a join). A query hook.
    fn local_state(&self, join: bool) -> Vec<u8> {
        let _ = join;
        Vec::new()
    }

    /// State received in a push/pull exchange. A notification hook.
    fn merge_remote_state(&self, state: &[u8], join: bool) {
        let _ = (state, join);
    }

    /// Another node claims a known node's name from another address. A
    /// notification hook.
    fn notify_conflict(&self, existing: &Node, other: &Node) {
        let _ = (existing, other);
    }

    /// A join is about to merge `peers`' view; an error cancels it. A
    /// query hook.
    fn notify_merge(&self, peers: &[Node]) -> Result<(), Refusal> {
        let _ = peers;
        Ok(())
    }

    /// Payload for acks to direct pings; `None` sends none (as Go without a
    /// ping delegate). A query hook, called for every ping received.
    fn ack_payload(&self) -> Option<Vec<u8>> {
        None
    }

    /// A probe's direct ack arrived in time, after `rtt`, carrying the
    /// peer's ack payload. A notification hook.
    fn notify_ping_complete(&self, node: &Node, rtt: Duration, payload: &[u8]) {
        let _ = (node, rtt, payload);
    }

    /// A node is about to be accepted as alive (this node included); an
    /// error keeps it out. A query hook.
    fn notify_alive(&self, node: &Node) -> Result<(), Refusal> {
        let _ = node;
        Ok(())
    }
}

/// A delegate's refusal of a merge ([`Delegate::notify_merge`]) or of a
/// node ([`Delegate::notify_alive`]), with the reason reported to whoever
/// asked (a refused join's [`JoinError::MergeRefused`]) and logged.
///
/// [`JoinError::MergeRefused`]: crate::protocol::JoinError::MergeRefused
///
/// ```
/// use swimlist::{Delegate, Node, Refusal};
///
/// struct OnlyCaches;
/// impl Delegate for OnlyCaches {
///     fn notify_alive(&self, node: &Node) -> Result<(), Refusal> {
///         if node.meta.starts_with(b"role=cache") {
///             Ok(())
///         } else {
///             Err(Refusal::new(format!("{} is not a cache", node.name)))
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    reason: String,
}

impl Refusal {
    /// A refusal for `reason` (shown to whoever is refused).
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
        }
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused by the application: {}", self.reason)
    }
}

impl std::error::Error for Refusal {}

/// The delegate used when the application gives none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDelegate;

impl Delegate for NoDelegate {}
