//! Lifeguard local health awareness.
//!
//! A node that is itself slow (CPU-starved, paused, on a lossy link) misses
//! acks because of its own trouble and would otherwise wrongly accuse healthy
//! peers. Lifeguard counters this with a small integer score: failed probes
//! and refutations of accusations about ourselves raise it, successful probes
//! lower it, and probe timeouts are stretched by `score + 1`, so an unhealthy
//! node waits longer before suspecting anyone. Score 0 means healthy.

use std::time::Duration;

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
