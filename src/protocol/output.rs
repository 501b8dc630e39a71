//! What the state machine gives out for the network and for waiting
//! callers, and the ids that tie answers back to requests.

use std::net::SocketAddr;

use super::time::Instant;

/// Identifies an outgoing stream the runtime was asked to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialId(pub(super) u64);

/// Identifies an accepted stream, as its host numbers them: given to
/// [`Membership::handle_stream_request`](super::Membership::handle_stream_request)
/// and returned in [`Transmit::Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(u64);

impl StreamId {
    /// The id of an accepted stream; any numbering that tells the host's
    /// open streams apart will do.
    pub fn new(id: u64) -> Self {
        StreamId(id)
    }

    /// The number given to [`StreamId::new`].
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Identifies a join started with [`Membership::join`](super::Membership::join).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JoinId(pub(super) u64);

/// Identifies a broadcast a caller waits for (leave, metadata update).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotifyToken(pub(super) u64);

/// Something for the network, taken with
/// [`Membership::poll_transmit`](super::Membership::poll_transmit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send one datagram.
    Datagram {
        /// Destination.
        to: SocketAddr,
        /// The whole datagram.
        bytes: Vec<u8>,
    },
    /// Open a stream to `to`, write `bytes`, then, if `expect_reply`, read
    /// one message (find its end with
    /// [`stream_message_len`](crate::wire::stream_message_len)) and report
    /// its bytes, or the failure, with
    /// [`Membership::handle_dial_reply`](super::Membership::handle_dial_reply);
    /// give up at `deadline`.
    Dial {
        /// Reported back with the result.
        id: DialId,
        /// Destination.
        to: SocketAddr,
        /// Everything to write (label header included).
        bytes: Vec<u8>,
        /// Whether a reply message is expected.
        expect_reply: bool,
        /// When to give up.
        deadline: Instant,
    },
    /// Answer an accepted stream with `bytes` and close it; `None`: close
    /// it without a reply.
    Reply {
        /// The stream, as given to
        /// [`Membership::handle_stream_request`](super::Membership::handle_stream_request).
        stream: StreamId,
        /// The reply to write.
        bytes: Option<Vec<u8>>,
    },
}

/// Work a caller waits for has finished, taken with
/// [`Membership::poll_completion`](super::Membership::poll_completion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// A join started with [`Membership::join`](super::Membership::join)
    /// finished.
    Join {
        /// The join.
        id: JoinId,
        /// Addresses whose push/pull and merge succeeded.
        joined: usize,
        /// The failures, by address.
        errors: Vec<(SocketAddr, super::JoinError)>,
    },
    /// A broadcast someone waits for (a leave, a metadata update) has been
    /// sent often enough, or was superseded.
    Broadcast(NotifyToken),
}
