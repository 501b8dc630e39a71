//! swimlist: cluster membership and failure detection over gossip (SWIM with
//! the Lifeguard extensions) for Rust programs that are not async, and
//! byte-exact interoperability with HashiCorp's Go `memberlist`.
//!
//! A node is a [`Memberlist`]: create it with a [`Config`] (Go's
//! [`Config::lan`], [`Config::wan`] and [`Config::local`] presets), join a
//! cluster through any one member, and read [`Event`]s from a
//! [`channel`] receiver. Everything blocks; nothing needs an async runtime.
//! Two threads run each node, or many nodes share a [`Runtime`] (an I/O
//! thread and a worker per core).
//!
//! ```no_run
//! use std::time::Duration;
//! use swimlist::{Config, Event, Memberlist};
//!
//! let node = Memberlist::create(Config::lan().with_name("node-1"))?;
//! node.join(&["10.0.0.2:7946"])?;
//! while let Ok(event) = node.events().recv_timeout(Duration::from_secs(60)) {
//!     if let Event::Leave(n, reason) = event {
//!         println!("{} is gone ({reason})", n.name);
//!     }
//! }
//! node.leave(Duration::from_secs(5))?;
//! node.shutdown();
//! # Ok::<(), swimlist::Error>(())
//! ```
//!
//! # What to call when
//!
//! | you want to | call |
//! |---|---|
//! | start a node | [`Memberlist::create`], or [`Memberlist::builder`] for a [`Delegate`], a shared [`Runtime`] or another transport |
//! | enter a cluster | [`Memberlist::join`] with any one member's address |
//! | follow membership | [`Memberlist::events`] (joins, leaves, failures, updates, suspicions, conflicts); [`Memberlist::members`] for a snapshot |
//! | talk to members | [`Memberlist::send_reliable`], [`Memberlist::send_best_effort`], [`Memberlist::broadcast`] |
//! | share state | [`Delegate::local_state`] and [`Delegate::merge_remote_state`] |
//! | change metadata | [`Delegate::node_meta`], then [`Memberlist::update_node`] |
//! | rotate keys | [`Memberlist::add_key`], [`Memberlist::use_key`], [`Memberlist::remove_key`] |
//! | stop | [`Memberlist::leave`], then [`Memberlist::shutdown`] |
//!
//! Every call either does what it says or returns an [`Error`] saying why;
//! [`Memberlist`] documents the life cycle and [`Delegate`] which thread
//! runs each hook and what it may call.
//!
//! # Layers
//!
//! ```text
//!   your code ──► Memberlist (handle) ──► runtime ──► protocol ──► wire
//!                  blocking calls,         threads,    SWIM +       bytes:
//!                  events, delegate        sockets,    Lifeguard    messages,
//!                                          timers      state        envelopes
//!                                                      machine
//! ```
//!
//! Each layer depends only on the ones to its right, and each is usable on
//! its own:
//!
//! * [`wire`] — byte-exact encoding and decoding of every memberlist packet
//!   and stream, including encryption, compression and labels; never panics,
//!   every length bounded.
//! * [`protocol`] — SWIM + Lifeguard as a deterministic state machine: time,
//!   randomness, bytes and the host's answers in; one output per consumer
//!   out: datagrams and streams for the network
//!   ([`protocol::Membership::poll_transmit`]), membership events
//!   ([`protocol::Membership::poll_event`]), finished joins and broadcasts
//!   for waiting callers ([`protocol::Membership::poll_completion`]), news
//!   for the application ([`protocol::Membership::poll_notification`]),
//!   questions for it ([`protocol::Membership::poll_query`]) and the next
//!   timer ([`protocol::Membership::poll_timeout`]). It never calls
//!   application code.
//! * [`runtime`] — the threads that drive the machines, and the
//!   [`runtime::Transport`] trait with real sockets and an in-memory network
//!   for tests.
//! * The handle: [`Memberlist`], [`Config`], [`Node`], [`Event`],
//!   [`Delegate`].
//!
//! How the presets behave at a given cluster size, and which knob moves
//! what, is in `docs/tuning.md`.

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
#[cfg(feature = "tls")]
pub use runtime::DskitTls;
pub use runtime::NodeStats;
pub use runtime::Runtime;

/// Compiles the README's Rust code blocks as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
