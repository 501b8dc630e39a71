//! The memberlist protocol (SWIM + Lifeguard) as a deterministic state
//! machine: no threads, sockets or clocks inside. Time is passed in as
//! [`Instant`] values and randomness through a caller-supplied RNG, so every
//! rule can be tested exactly and whole clusters simulated in virtual time.

mod awareness;
mod broadcast_queue;
mod suspicion;
mod time;

pub use awareness::Awareness;
pub use broadcast_queue::{retransmit_limit, BroadcastQueue};
pub use suspicion::{suspicion_timeout, SuspicionTimer};
pub use time::Instant;
