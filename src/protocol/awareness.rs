//! Lifeguard local health awareness.
//!
//! A node that is itself slow (CPU-starved, paused, on a lossy link) misses
//! acks because of its own trouble and would otherwise wrongly accuse healthy
//! peers. Lifeguard counters this with a small integer score: failed probes
//! and refutations of accusations about ourselves raise it, successful probes
//! lower it, and probe timeouts are stretched by `score + 1`, so an unhealthy
//! node waits longer before suspecting anyone. Score 0 means healthy.
//!
//! Beyond Go, the host also tells the machine how far behind it is in
//! handing over received datagrams ([`Membership::set_local_lag`]): a
//! runtime serving many nodes under load can hold an ack in its queue
//! longer than the probe timeout. While that lag reaches half the probe
//! timeout, the node distrusts itself first: a failed probe raises its own
//! score instead of accusing the target, and a suspicion that expires is
//! put off (the refutation may be waiting in the queue) rather than turned
//! into a death.

use std::time::Duration;

use super::membership::Membership;
use super::time::Instant;
use super::timers::Timer;

impl Membership {
    /// How far behind the host is in feeding this machine its datagrams
    /// (the time the last one waited before
    /// [`handle_packet`](Membership::handle_packet)); zero when it keeps
    /// up. Call before each step; the value stands until the next call.
    pub fn set_local_lag(&mut self, lag: Duration) {
        self.local_lag = lag;
    }

    /// Whether answers may be waiting unseen in the host's queue.
    pub(super) fn lagging(&self) -> bool {
        self.local_lag.saturating_mul(2) >= self.config.probe_timeout
    }

    /// A probe failed while lagging: count it against ourselves, not the
    /// target.
    pub(super) fn inconclusive_probe(&mut self) {
        self.awareness.apply_delta(1);
        self.stats.inconclusive_probes += 1;
    }

    /// A suspicion of `name` expired while lagging: look again once the
    /// queue has had time to drain.
    pub(super) fn defer_suspicion(&mut self, now: Instant, name: &str) {
        let later = now + self.local_lag.max(self.config.probe_interval);
        self.stats.deferred_suspicions += 1;
        self.timers.arm(later, Timer::Suspicion(name.to_owned()));
    }
}

/// The local health score: an integer in `[0, max_multiplier - 1]`, starting
/// at 0 (healthy), that scales probe timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awareness {
    max_score: u32,
    score: u32,
}

impl Awareness {
    /// A healthy score whose timeout multiplier can grow to at most
    /// `max_multiplier` (memberlist's `AwarenessMaxMultiplier`, default 8).
    /// A `max_multiplier` of 0 behaves like 1: the score stays at 0.
    pub fn new(max_multiplier: u32) -> Self {
        Awareness {
            max_score: max_multiplier.saturating_sub(1),
            score: 0,
        }
    }

    /// Adds `delta` to the score, clamping the result to
    /// `[0, max_multiplier - 1]`.
    pub fn apply_delta(&mut self, delta: i32) {
        let moved = i64::from(self.score)
            .saturating_add(i64::from(delta))
            .clamp(0, i64::from(self.max_score));
        self.score = u32::try_from(moved).unwrap_or(self.max_score);
    }

    /// The current score; 0 is healthy, larger is less healthy.
    pub fn score(&self) -> u32 {
        self.score
    }

    /// `timeout × (score + 1)` (saturating): the less healthy we are, the
    /// longer we wait for others.
    pub fn scale_timeout(&self, timeout: Duration) -> Duration {
        timeout.saturating_mul(self.score.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Port of Go's `TestAwareness`.
    #[test]
    fn deltas_clamp_score_and_scale_timeout() {
        let cases: [(i32, u32, u64); 14] = [
            (0, 0, 1),
            (-1, 0, 1),
            (-10, 0, 1),
            (1, 1, 2),
            (-1, 0, 1),
            (10, 7, 8),
            (-1, 6, 7),
            (-1, 5, 6),
            (-1, 4, 5),
            (-1, 3, 4),
            (-1, 2, 3),
            (-1, 1, 2),
            (-1, 0, 1),
            (-1, 0, 1),
        ];
        let mut awareness = Awareness::new(8);
        for (i, (delta, score, timeout_secs)) in cases.into_iter().enumerate() {
            awareness.apply_delta(delta);
            assert_eq!(awareness.score(), score, "case {i}: score");
            assert_eq!(
                awareness.scale_timeout(Duration::from_secs(1)),
                Duration::from_secs(timeout_secs),
                "case {i}: scaled timeout"
            );
        }
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let mut awareness = Awareness::new(0);
        awareness.apply_delta(i32::MAX);
        assert_eq!(awareness.score(), 0);

        let mut awareness = Awareness::new(u32::MAX);
        awareness.apply_delta(i32::MAX);
        awareness.apply_delta(i32::MAX);
        awareness.apply_delta(i32::MAX);
        assert_eq!(awareness.score(), u32::MAX - 1);
        assert_eq!(awareness.scale_timeout(Duration::MAX), Duration::MAX);
        awareness.apply_delta(i32::MIN);
        assert_eq!(awareness.score(), u32::MAX - 1 - 2_147_483_648);
    }
}
