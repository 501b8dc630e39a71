//! Hooks the application implements to take part in the protocol.

use std::time::Duration;

use crate::node::Node;
pub use crate::protocol::Refusal;
use crate::protocol::{Answer, Notification, Query};

/// Application hooks, mirroring Go memberlist's `Delegate`,
/// `ConflictDelegate`, `MergeDelegate`, `PingDelegate` and `AliveDelegate`
/// (membership events arrive on a channel instead of an `EventDelegate`).
/// Every method has a do-nothing default: implement only what you need.
///
/// # Where hooks run, and what they may call
///
/// No hook runs inside the protocol or under a node's lock. Every hook but
/// `node_meta` runs on the runtime's delegate thread (`swimlist-delegate`),
/// one at a time; `node_meta` runs on the thread that creates the node or
/// calls `update_node`, before the protocol step. A hook may block and may
/// call **any** method of any [`Memberlist`](crate::Memberlist) handle:
/// answering a message with `send_reliable` from `notify_msg`, reading
/// `members()` from `local_state`, even a `join` from a hook (while it
/// waits, the delegate thread answers the questions that join needs). A
/// slow hook delays the hooks after it (of every node on the runtime), not
/// the protocol.
///
/// **Notification hooks** tell the application something:
/// [`notify_msg`](Delegate::notify_msg),
/// [`merge_remote_state`](Delegate::merge_remote_state),
/// [`notify_conflict`](Delegate::notify_conflict) and
/// [`notify_ping_complete`](Delegate::notify_ping_complete). They come in
/// the order the node produced them; beyond 16,384 waiting notifications
/// new ones are dropped and counted in
/// [`NodeStats::notifications_dropped`](crate::NodeStats).
///
/// **Query hooks** answer the protocol's questions:
/// [`get_broadcasts`](Delegate::get_broadcasts),
/// [`local_state`](Delegate::local_state),
/// [`notify_merge`](Delegate::notify_merge),
/// [`ack_payload`](Delegate::ack_payload) and
/// [`notify_alive`](Delegate::notify_alive). The protocol asks and carries
/// on; the step that needs the answer waits for it: a push/pull goes out
/// (or is answered) once `local_state` returns, a node is added once
/// `notify_alive` admits it, a join merges once `notify_merge` agrees and
/// returns once the members it brought have been admitted (or refused).
/// Questions are never dropped. Quick answers keep the cluster quick.
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
    /// Metadata to advertise for this node, at most `limit` (512) bytes.
    /// Called when the node is created and by `update_node`, on the calling
    /// thread.
    fn node_meta(&self, limit: usize) -> Vec<u8> {
        let _ = limit;
        Vec::new()
    }

    /// A user message arrived (best-effort, reliable or broadcast). A
    /// notification hook.
    fn notify_msg(&self, msg: &[u8]) {
        let _ = msg;
    }

    /// Broadcasts to piggyback on gossip: return messages whose sizes plus
    /// `overhead` each fit in `limit` bytes in total; each is sent once, in
    /// the packets that follow. (Messages queued with the handle's
    /// broadcast queue need no delegate.) A query hook, asked once per
    /// gossip round when the last answer's messages have all gone out.
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

    /// A join is about to merge `peers`' view; an error cancels it (and
    /// fails the join attempt with that peer). A query hook.
    fn notify_merge(&self, peers: &[Node]) -> Result<(), Refusal> {
        let _ = peers;
        Ok(())
    }

    /// Payload for acks to direct pings; `None` sends none (as Go without a
    /// ping delegate). A query hook: asked when the node starts and again
    /// each time an ack has carried the last answer, so an ack carries the
    /// payload as of the previous ping.
    fn ack_payload(&self) -> Option<Vec<u8>> {
        None
    }

    /// A probe's direct ack arrived in time, after `rtt`, carrying the
    /// peer's ack payload. A notification hook.
    fn notify_ping_complete(&self, node: &Node, rtt: Duration, payload: &[u8]) {
        let _ = (node, rtt, payload);
    }

    /// A node announced alive, new or changed, waits for admission; an
    /// error keeps it out (until news of it comes again). Not asked about
    /// this node itself. A query hook.
    fn notify_alive(&self, node: &Node) -> Result<(), Refusal> {
        let _ = node;
        Ok(())
    }
}

/// The delegate used when the application gives none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDelegate;

impl Delegate for NoDelegate {}

/// Makes the notification hook call `notification` stands for.
pub(crate) fn notify(delegate: &dyn Delegate, notification: Notification) {
    match notification {
        Notification::Message(msg) => delegate.notify_msg(&msg),
        Notification::RemoteState { state, join } => delegate.merge_remote_state(&state, join),
        Notification::Conflict { existing, other } => delegate.notify_conflict(&existing, &other),
        Notification::PingComplete { node, rtt, payload } => {
            delegate.notify_ping_complete(&node, rtt, &payload);
        }
    }
}

/// Answers a state machine's question with the query hook it stands for.
pub(crate) fn answer(delegate: &dyn Delegate, query: Query) -> Answer {
    match query {
        Query::LocalState { join } => Answer::LocalState(delegate.local_state(join)),
        Query::Merge { peers } => Answer::Verdict(delegate.notify_merge(&peers)),
        Query::Alive { node } => Answer::Verdict(delegate.notify_alive(&node)),
        Query::Broadcasts { overhead, limit } => {
            Answer::Broadcasts(delegate.get_broadcasts(overhead, limit))
        }
        Query::AckPayload => Answer::AckPayload(delegate.ack_payload()),
    }
}
