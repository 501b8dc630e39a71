//! swimlist: cluster membership and failure detection over gossip (SWIM with
//! the Lifeguard extensions), wire-compatible with HashiCorp's Go
//! `memberlist`, for plain-threaded Rust programs.
//!
//! The crate is being built layer by layer. Available now:
//!
//! * [`wire`] — byte-exact encoding and decoding of every memberlist packet
//!   and stream, including encryption, compression and labels.
//! * [`protocol`] — the protocol as a deterministic state machine (in
//!   progress).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod delegate;
mod memberlist;
mod node;
pub mod protocol;
pub mod runtime;
pub mod wire;

pub use config::{CompressionMode, Config, ConfigError, IpNet, NodePredicate};
pub use delegate::{Delegate, NoDelegate};
pub use memberlist::{Builder, Error, Memberlist, NodeStats};
pub use node::{Event, LeaveReason, Node, NodeState};
pub use runtime::Runtime;
