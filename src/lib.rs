//! swimlist: cluster membership and failure detection over gossip (SWIM with
//! the Lifeguard extensions) for Rust programs that are not async, and
//! byte-exact interoperability with HashiCorp's Go `memberlist`.
//!
//! A node is a [`Memberlist`]: create it with a [`Config`] (Go's
//! [`Config::lan`], [`Config::wan`] and [`Config::local`] presets), join a
//! cluster through any one member, and read [`Event`]s from a
//! `crossbeam-channel` receiver. Everything blocks; nothing needs an async
//! runtime. Two threads run each node, or many nodes share two threads
//! through a [`Runtime`].
//!
//! ```no_run
//! use std::time::Duration;
//! use swimlist::{Config, Event, Memberlist};
//!
//! let node = Memberlist::create(Config::lan().with_name("node-1"))?;
//! node.join(&["10.0.0.2:7946"])?;
//! while let Ok(event) = node.events().recv_timeout(Duration::from_secs(60)) {
//!     if let Event::Leave(n, reason) = event {
//!         println!("{} is gone ({reason:?})", n.name);
//!     }
//! }
//! node.leave(Duration::from_secs(5))?;
//! # Ok::<(), swimlist::Error>(())
//! ```
//!
//! Layers, each usable on its own:
//!
//! * [`wire`] — byte-exact encoding and decoding of every memberlist packet
//!   and stream, including encryption, compression and labels.
//! * [`protocol`] — SWIM + Lifeguard as a deterministic state machine: time
//!   and randomness in, actions out.
//! * [`runtime`] — the threads, and the [`runtime::Transport`] trait with
//!   real sockets and an in-memory network for tests.
//! * The handle: [`Memberlist`], [`Config`], [`Node`], [`Event`],
//!   [`Delegate`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod delegate;
mod memberlist;
mod node;
pub mod protocol;
pub mod runtime;
pub mod wire;

/// The channels events arrive on: `crossbeam-channel`, re-exported so that
/// `Receiver`, `select!` and friends match the version swimlist uses.
pub use crossbeam_channel as channel;

pub use config::{CompressionMode, Config, ConfigError, IpNet, NodePredicate};
pub use delegate::{Delegate, NoDelegate, Refusal};
pub use memberlist::{Builder, Error, JoinCause, JoinFailure, Lifecycle, Memberlist, Waited};
pub use node::{Event, LeaveReason, Node, NodeState};
pub use runtime::NodeStats;
pub use runtime::Runtime;

/// Compiles the README's Rust code blocks as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
