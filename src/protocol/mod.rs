//! The memberlist protocol (SWIM + Lifeguard) as a deterministic state
//! machine: no threads, sockets or clocks inside. Time is passed in as
//! [`Instant`] values and randomness through a caller-supplied RNG, so every
//! rule can be tested exactly and whole clusters simulated in virtual time.

mod time;

pub use time::Instant;
