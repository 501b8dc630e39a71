//! Why a stream failed ([`DialError`], reported by the runtime for an
//! [`Transmit::Dial`](super::Transmit::Dial)) and why one address of a join
//! failed ([`JoinError`]).

use std::fmt;
use std::io::ErrorKind;
use std::net::SocketAddr;

use crate::wire::WireError;

/// Why a stream the machine asked for failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialError {
    /// Connecting failed (refused, unreachable, …).
    Connect(ErrorKind),
    /// Writing the request failed.
    Write(ErrorKind),
    /// Reading the reply failed.
    Read(ErrorKind),
    /// The stream made no progress for `tcp_timeout`.
    TimedOut,
    /// The peer closed the stream without a complete reply: it refused
    /// the request (another cluster label, another encryption key) or is
    /// not a memberlist node.
    ClosedBeforeReply,
    /// The reply is larger than any memberlist message may be.
    ReplyTooLarge,
    /// The peer answered with bytes that are not memberlist; the first of
    /// them are kept to say what it might be.
    NotMemberlist {
        /// Up to 16 bytes from the start of the reply.
        first_bytes: Vec<u8>,
    },
    /// The reply is memberlist but could not be read.
    BadReply(WireError),
    /// The transport never reported the stream's outcome.
    Lost,
}

impl DialError {
    /// Classifies a reply that could not be decoded: an unknown first byte
    /// means the peer does not speak memberlist at all.
    pub fn from_reply(error: WireError, reply: &[u8]) -> Self {
        match error {
            WireError::UnknownMessageType(_) => DialError::NotMemberlist {
                first_bytes: reply.iter().copied().take(16).collect(),
            },
            e => DialError::BadReply(e),
        }
    }
}

/// A guess at what answered, from the first bytes of its reply.
fn what_answered(first: &[u8]) -> Option<&'static str> {
    if first.starts_with(b"HTTP/") {
        Some("an HTTP server?")
    } else if first.starts_with(&[0x16, 0x03]) || first.starts_with(&[0x15, 0x03]) {
        Some("a TLS server?")
    } else if first.starts_with(b"SSH-") {
        Some("an SSH server?")
    } else {
        None
    }
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(kind) => write!(f, "cannot connect: {kind}"),
            Self::Write(kind) => write!(f, "sending failed: {kind}"),
            Self::Read(kind) => write!(f, "reading the reply failed: {kind}"),
            Self::TimedOut => f.write_str("timed out (no progress for tcp_timeout)"),
            Self::ClosedBeforeReply => f.write_str(
                "the peer closed the stream without answering: it may use another cluster \
                 label or encryption key, or not be a memberlist node",
            ),
            Self::ReplyTooLarge => f.write_str("the reply is larger than any memberlist message"),
            Self::NotMemberlist { first_bytes } => {
                let text: String = first_bytes
                    .iter()
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            char::from(b)
                        } else {
                            '.'
                        }
                    })
                    .collect();
                write!(f, "answered with bytes that are not memberlist ({text:?}")?;
                if let Some(guess) = what_answered(first_bytes) {
                    write!(f, ": {guess}")?;
                }
                f.write_str(")")
            }
            Self::BadReply(e) => write!(f, "unreadable reply: {e}"),
            Self::Lost => f.write_str("the transport never reported the stream"),
        }
    }
}

impl std::error::Error for DialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BadReply(e) => Some(e),
            _ => None,
        }
    }
}

/// Why joining through one address failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The push/pull could not be started (e.g. `require_node_names` and
    /// an address without a name).
    NotStarted(super::ProtocolError),
    /// The push/pull stream failed.
    Dial(DialError),
    /// The peer answered with an error message.
    Remote(String),
    /// The peer answered with another message than a push/pull.
    UnexpectedReply(&'static str),
    /// Merging would put nodes with incompatible protocol versions in one
    /// cluster.
    IncompatibleVersions(String),
    /// The host refused the peer's view ([`Query::Merge`](super::Query::Merge);
    /// the delegate's `notify_merge`).
    MergeRefused(super::host_query::Refusal),
    /// Another live member already holds this node's name.
    NameConflict {
        /// The name.
        name: String,
        /// Where the member holding it is.
        holder: SocketAddr,
    },
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotStarted(e) => write!(f, "not started: {e}"),
            Self::Dial(e) => e.fmt(f),
            Self::Remote(e) => write!(f, "the peer refused: {e}"),
            Self::UnexpectedReply(t) => write!(f, "the peer answered a push/pull with {t}"),
            Self::IncompatibleVersions(e) => write!(f, "incompatible versions: {e}"),
            Self::MergeRefused(e) => write!(f, "the merge was {e}"),
            Self::NameConflict { name, holder } => write!(
                f,
                "the name {name:?} is already held by the member at {holder}: give this node another name"
            ),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NotStarted(e) => Some(e),
            Self::Dial(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DialError> for JoinError {
    fn from(e: DialError) -> Self {
        JoinError::Dial(e)
    }
}
