//! The memberlist protocol (SWIM + Lifeguard) as a deterministic state
//! machine: no threads, sockets or clocks inside. Time is passed in as
//! [`Instant`] values and randomness through a caller-supplied RNG, so every
//! rule can be tested exactly and whole clusters simulated in virtual time.

mod awareness;
mod broadcast_queue;
mod catch_up;
mod dial_error;
mod gossip;
mod host_query;
mod membership;
mod node_table;
mod notification;
mod output;
mod probe;
mod push_pull;
mod readiness;
mod samples;
mod seeded_news;
mod state;
mod stats;
mod suspicion;
#[cfg(test)]
mod test_access;
#[cfg(test)]
mod tests;
mod time;
mod timers;
mod user_broadcasts;

pub use awareness::Awareness;
pub use broadcast_queue::{retransmit_limit, BroadcastQueue};
pub use dial_error::{DialError, JoinError};
pub use host_query::{Answer, HostQueries, Query, QueryId, Refusal, MAX_WAITING_ADMISSIONS};
pub use membership::{stream_time_limit, Membership, MessageKind, ProtocolError, MAX_DATAGRAM};
pub use notification::Notification;
pub use output::{Completion, DialId, JoinId, NotifyToken, StreamId, Transmit};
pub use push_pull::{push_pull_scale, JoinTarget};
pub use readiness::SETTLE_ROUNDS;
pub use samples::{News, Sample};
pub use state::INCARNATION_LEAP;
pub(crate) use stats::worth_logging;
pub use stats::{Stats, Traffic};
pub use suspicion::{suspicion_timeout, SuspicionTimer};
pub use time::Instant;
pub use timers::TimerRun;
