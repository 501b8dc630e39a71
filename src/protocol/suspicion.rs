//! Lifeguard dynamic suspicion timeouts.
//!
//! When a node is suspected, it is declared dead only after a timeout. A
//! fixed timeout is either too short (a merely slow node is killed) or too
//! slow (a crashed node lingers). Lifeguard starts the timer at a long
//! `max` and shortens it logarithmically towards `min` each time another
//! member independently confirms the suspicion: `k` confirmations drive it
//! all the way to `min`. The member that raised the suspicion never counts,
//! because our own suspicion may be gossiped back to us.
//!
//! Being sans-IO, [`SuspicionTimer`] owns no timer. It records when the
//! suspicion started and computes [`SuspicionTimer::deadline`]; the caller
//! arms a wake-up at that instant and re-arms it whenever
//! [`SuspicionTimer::confirm`] returns `true`. A confirmation that pushes the
//! deadline to or before the current time means "fire now". Confirmations
//! move the deadline earlier, so wake-ups armed for an older deadline are
//! stale; [`SuspicionTimer::fire_if_due`] ignores them and fires at most
//! once.

use std::collections::HashSet;
use std::time::Duration;

use super::Instant;

/// The minimum suspicion timeout for a cluster of `cluster_size` members:
/// `suspicion_mult × nodeScale × probe_interval` with
/// `nodeScale = max(1, log10(max(1, cluster_size)))`.
///
/// This reproduces memberlist's integer arithmetic exactly: `nodeScale` is
/// truncated to thousandths, then everything is multiplied in nanoseconds
/// left to right and divided by 1000 last (saturating instead of wrapping).
/// For example, with multiplier 3 and a 1 s interval: 5 or 10 members →
/// 3 s, 50 → 5.094 s, 100 → 6 s, 1000 → 9 s.
pub fn suspicion_timeout(
    suspicion_mult: u32,
    cluster_size: usize,
    probe_interval: Duration,
) -> Duration {
    let node_scale = (cluster_size.max(1) as f64).log10().max(1.0);
    // Truncation towards zero, as Go's float-to-integer conversion.
    let node_scale_millis = (node_scale * 1000.0) as u64;
    let nanos = u128::from(suspicion_mult)
        .saturating_mul(u128::from(node_scale_millis))
        .saturating_mul(probe_interval.as_nanos())
        / 1000;
    duration_from_nanos(nanos)
}

/// The number of independent confirmations (`k`) that drive the timeout all
/// the way down to its minimum: `suspicion_mult − 2`, or 0 (start at the
/// minimum, accept no confirmations) when the cluster has too few other
/// members to ever provide that many (`cluster_size − 2 < k`).
fn confirmations_wanted(suspicion_mult: u32, cluster_size: usize) -> u32 {
    let wanted = suspicion_mult.saturating_sub(2);
    let cluster_size = u64::try_from(cluster_size).unwrap_or(u64::MAX);
    if cluster_size < u64::from(wanted) + 2 {
        0
    } else {
        wanted
    }
}

/// The total timeout, measured from the start of the suspicion, after
/// `confirmations` of the `wanted` confirmations have arrived:
/// `max − ln(confirmations + 1) / ln(wanted + 1) × (max − min)`, computed in
/// floating-point seconds, floored to whole milliseconds and never below
/// `min`.
fn confirmed_timeout(confirmations: u32, wanted: u32, min: Duration, max: Duration) -> Duration {
    let fraction = (f64::from(confirmations) + 1.0).ln() / (f64::from(wanted) + 1.0).ln();
    let raw_secs = max.as_secs_f64() - fraction * (max.as_secs_f64() - min.as_secs_f64());
    // The float-to-integer cast saturates; negative and NaN become 0 and are
    // then raised to `min`.
    let millis = (1000.0 * raw_secs).floor() as u64;
    Duration::from_millis(millis).max(min)
}

/// Converts nanoseconds to a `Duration`, saturating at `Duration::MAX`.
fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below one second, so it fits in `u32` and
        // `Duration::new` cannot carry into the seconds.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// The suspicion timer of one suspected member: when it should be declared
/// dead, shortened by independent confirmations.
#[derive(Debug, Clone)]
pub struct SuspicionTimer {
    start: Instant,
    confirmations_wanted: u32,
    min_timeout: Duration,
    max_timeout: Duration,
    /// Members whose confirmations were counted, plus the originator.
    confirmers: HashSet<String>,
    confirmations: u32,
    /// The current total timeout, measured from `start`.
    timeout: Duration,
    fired: bool,
}

impl SuspicionTimer {
    /// A suspicion raised by `originator` at `start`, wanting
    /// `confirmations_wanted` (`k`) confirmations to shrink the timeout from
    /// `max_timeout` to `min_timeout`. With `k = 0` it runs for
    /// `min_timeout` and ignores confirmations.
    pub fn new(
        originator: impl Into<String>,
        start: Instant,
        confirmations_wanted: u32,
        min_timeout: Duration,
        max_timeout: Duration,
    ) -> Self {
        let timeout = if confirmations_wanted == 0 {
            min_timeout
        } else {
            max_timeout
        };
        SuspicionTimer {
            start,
            confirmations_wanted,
            min_timeout,
            max_timeout,
            confirmers: HashSet::from([originator.into()]),
            confirmations: 0,
            timeout,
            fired: false,
        }
    }

    /// A suspicion raised by `originator` at `start` in a cluster of
    /// `cluster_size` members, with memberlist's parameters: `k =
    /// suspicion_mult − 2` (0 if the cluster is too small to supply them),
    /// `min` from [`suspicion_timeout`] (with the unscaled probe interval)
    /// and `max = max_timeout_mult × min`.
    pub fn for_cluster(
        originator: impl Into<String>,
        start: Instant,
        cluster_size: usize,
        suspicion_mult: u32,
        max_timeout_mult: u32,
        probe_interval: Duration,
    ) -> Self {
        let min_timeout = suspicion_timeout(suspicion_mult, cluster_size, probe_interval);
        SuspicionTimer::new(
            originator,
            start,
            confirmations_wanted(suspicion_mult, cluster_size),
            min_timeout,
            min_timeout.saturating_mul(max_timeout_mult),
        )
    }

    /// Records that `from` also suspects the member, at time `now`.
    ///
    /// Returns `false`, changing nothing, if enough confirmations were
    /// already counted or `from` was counted before (or raised the
    /// suspicion). Otherwise counts it, shortens the deadline unless the
    /// timer has already expired, and returns `true`: the caller re-arms its
    /// wake-up at [`deadline`](Self::deadline) (firing immediately if that is
    /// not after `now`) and re-broadcasts the suspicion.
    pub fn confirm(&mut self, from: &str, now: Instant) -> bool {
        if self.confirmations >= self.confirmations_wanted || self.confirmers.contains(from) {
            return false;
        }
        self.confirmers.insert(from.to_owned());
        self.confirmations = self.confirmations.saturating_add(1);
        // An expired timer can no longer be re-armed; it fires (or fired)
        // once at its old deadline.
        if !self.fired && now < self.deadline() {
            self.timeout = confirmed_timeout(
                self.confirmations,
                self.confirmations_wanted,
                self.min_timeout,
                self.max_timeout,
            );
        }
        true
    }

    /// When the suspected member should be declared dead.
    pub fn deadline(&self) -> Instant {
        self.start + self.timeout
    }

    /// The number of confirmations (`k`) that would drive the timeout to
    /// its minimum.
    pub fn confirmations_wanted(&self) -> u32 {
        self.confirmations_wanted
    }

    /// The number of confirmations counted so far (the originator excluded).
    pub fn confirmations(&self) -> u32 {
        self.confirmations
    }

    /// Fires the timer if `now` has reached the deadline and it has not
    /// fired before, returning the number of confirmations counted;
    /// otherwise (too early, or already fired) returns `None`.
    pub fn fire_if_due(&mut self, now: Instant) -> Option<u32> {
        if self.fired || now < self.deadline() {
            return None;
        }
        self.fired = true;
        Some(self.confirmations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn millis(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn at(ms: u64) -> Instant {
        Instant::ZERO + millis(ms)
    }

    /// Port of Go's `TestSuspicionTimeout`.
    #[test]
    fn suspicion_timeout_scales_with_log_of_cluster_size() {
        let cases = [
            (5, 1000),
            (10, 1000),
            (50, 1698),
            (100, 2000),
            (500, 2698),
            (1000, 3000),
        ];
        for (cluster_size, expected_ms) in cases {
            assert_eq!(
                suspicion_timeout(3, cluster_size, Duration::from_secs(1)) / 3,
                millis(expected_ms),
                "cluster size {cluster_size}"
            );
        }
    }

    #[test]
    fn suspicion_timeout_saturates() {
        assert_eq!(suspicion_timeout(0, 0, Duration::MAX), Duration::ZERO);
        assert_eq!(
            suspicion_timeout(u32::MAX, usize::MAX, Duration::MAX),
            Duration::MAX
        );
    }

    /// Port of Go's `TestSuspicion_remainingSuspicionTime`: Go returns the
    /// remaining time (which can be negative); here the total timeout minus
    /// the elapsed time must equal it.
    #[test]
    fn remaining_suspicion_time() {
        // (confirmations, k, elapsed ms, min ms, max ms, expected remaining ms)
        let cases: [(u32, u32, i64, u64, u64, i64); 6] = [
            (0, 3, 0, 2000, 30000, 30000),
            (1, 3, 2000, 2000, 30000, 14000),
            (2, 3, 3000, 2000, 30000, 4810),
            (3, 3, 4000, 2000, 30000, -2000),
            (4, 3, 5000, 2000, 30000, -3000),
            (5, 3, 10000, 2000, 30000, -8000),
        ];
        for (i, (confirmations, k, elapsed_ms, min_ms, max_ms, expected_ms)) in
            cases.into_iter().enumerate()
        {
            let timeout = confirmed_timeout(confirmations, k, millis(min_ms), millis(max_ms));
            let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
            assert_eq!(timeout_ms - elapsed_ms, expected_ms, "case {i}");
        }
    }

    /// Port of Go's `TestSuspicion_Timer` in virtual time: confirmations
    /// arrive 25 ms apart; the timer must not have fired 25 ms before the
    /// expected timeout, must fire by 25 ms after it, reporting the number of
    /// confirmations, and a late confirmation must not fire it again.
    #[test]
    fn timer_shrinks_with_confirmations() {
        const K: u32 = 3;
        const MIN: Duration = millis(500);
        const MAX: Duration = millis(2000);
        const FUDGE: Duration = millis(25);
        // (confirmations reported on firing, confirmations as (from, new
        // information?), expected timeout)
        type Confirmations = &'static [(&'static str, bool)];
        let cases: [(u32, Confirmations, Duration); 6] = [
            (0, &[], MAX),
            (1, &[("me", false), ("foo", true)], millis(1250)),
            (
                1,
                &[("me", false), ("foo", true), ("foo", false), ("foo", false)],
                millis(1250),
            ),
            (
                2,
                &[("me", false), ("foo", true), ("bar", true)],
                millis(810),
            ),
            (
                3,
                &[("me", false), ("foo", true), ("bar", true), ("baz", true)],
                MIN,
            ),
            (
                3,
                &[
                    ("me", false),
                    ("foo", true),
                    ("bar", true),
                    ("baz", true),
                    ("zoo", false),
                ],
                MIN,
            ),
        ];
        for (i, (fired_confirmations, confirmations, expected)) in cases.into_iter().enumerate() {
            let start = at(1000);
            let mut timer = SuspicionTimer::new("me", start, K, MIN, MAX);
            let mut now = start;
            for &(from, new_information) in confirmations {
                now = now + FUDGE;
                assert_eq!(
                    timer.confirm(from, now),
                    new_information,
                    "case {i}: confirmation from {from}"
                );
            }

            assert_eq!(
                timer.fire_if_due(start + (expected - FUDGE)),
                None,
                "case {i}"
            );
            let fired_at = start + expected + FUDGE;
            assert_eq!(
                timer.fire_if_due(fired_at),
                Some(fired_confirmations),
                "case {i}"
            );

            timer.confirm("late", fired_at);
            assert_eq!(
                timer.fire_if_due(fired_at + expected + FUDGE * 2),
                None,
                "case {i}: fired again"
            );
        }
    }

    /// The exact deadlines behind `timer_shrinks_with_confirmations` (Go's
    /// table rounds the two-confirmation case, 811 ms, to 810 ms).
    #[test]
    fn timer_deadlines_are_exact() {
        let start = at(0);
        let mut timer = SuspicionTimer::new("me", start, 3, millis(500), millis(2000));
        let mut deadlines = vec![timer.deadline()];
        for from in ["foo", "bar", "baz"] {
            assert!(timer.confirm(from, start));
            deadlines.push(timer.deadline());
        }
        assert_eq!(deadlines, [at(2000), at(1250), at(811), at(500)]);
        assert_eq!(timer.confirmations(), 3);
    }

    /// Port of Go's `TestSuspicion_Timer_ZeroK`.
    #[test]
    fn zero_k_uses_min_and_ignores_confirmations() {
        let start = at(0);
        let mut timer = SuspicionTimer::new("me", start, 0, millis(25), Duration::from_secs(30));
        assert!(!timer.confirm("foo", start));
        assert_eq!(timer.deadline(), at(25));
        assert_eq!(timer.fire_if_due(at(50)), Some(0));
    }

    /// Port of Go's `TestSuspicion_Timer_Immediate`.
    #[test]
    fn confirmation_past_the_new_timeout_fires_immediately() {
        let start = at(0);
        let mut timer = SuspicionTimer::new("me", start, 1, millis(100), Duration::from_secs(30));
        let now = at(200);
        assert_eq!(timer.fire_if_due(now), None);
        assert!(timer.confirm("foo", now));
        assert!(timer.deadline() <= now);
        assert_eq!(timer.fire_if_due(now), Some(1));
    }

    /// The suspicion-timeout table of Go's
    /// `TestMemberList_ProbeNode_Suspect_Dogpile` (probe interval 100 ms,
    /// suspicion multiplier 5, max-timeout multiplier 2; the suspicion is
    /// raised by the local node after a failed probe). Go asserts the node is
    /// still suspect 25 ms before the expected timeout and dead 25 ms after;
    /// the exact deadline is checked too (Go's table rounds 603 ms to 604).
    #[test]
    fn dogpile_timeouts() {
        const FUDGE: Duration = millis(25);
        // (cluster size, confirmations, Go's expected timeout, exact timeout)
        let cases = [
            (2, 0, 500, 500),
            (3, 0, 500, 500),
            (4, 0, 500, 500),
            (5, 0, 1000, 1000),
            (6, 0, 1000, 1000),
            (6, 1, 750, 750),
            (6, 2, 604, 603),
            (6, 3, 500, 500),
            (6, 4, 500, 500),
        ];
        for (cluster_size, confirmations, expected_ms, exact_ms) in cases {
            let start = at(10_000);
            let mut timer =
                SuspicionTimer::for_cluster("local", start, cluster_size, 5, 2, millis(100));
            for peer in 0..confirmations {
                timer.confirm(&format!("peer{peer}"), start);
            }
            let case = format!("n={cluster_size}, {confirmations} confirmations");
            assert_eq!(timer.deadline(), start + millis(exact_ms), "{case}");
            let expected = millis(expected_ms);
            assert_eq!(
                timer.fire_if_due(start + (expected - FUDGE)),
                None,
                "{case}"
            );
            assert!(
                timer.fire_if_due(start + expected + FUDGE).is_some(),
                "{case}"
            );
        }
    }

    #[test]
    fn confirmations_wanted_needs_enough_other_members() {
        assert_eq!(confirmations_wanted(5, 4), 0);
        assert_eq!(confirmations_wanted(5, 5), 3);
        assert_eq!(confirmations_wanted(4, 0), 0);
        assert_eq!(confirmations_wanted(1, 100), 0);
        assert_eq!(confirmations_wanted(u32::MAX, usize::MAX), u32::MAX - 2);
    }

    #[test]
    fn extreme_timeouts_do_not_panic() {
        let start = Instant::from_nanos(u64::MAX - 1);
        let mut timer = SuspicionTimer::new("me", start, u32::MAX, Duration::MAX, Duration::MAX);
        assert_eq!(timer.deadline(), Instant::from_nanos(u64::MAX));
        assert!(timer.confirm("foo", start));
        assert_eq!(timer.deadline(), Instant::from_nanos(u64::MAX));
        assert_eq!(
            confirmed_timeout(0, 0, Duration::ZERO, Duration::MAX),
            Duration::ZERO
        );
        assert_eq!(
            confirmed_timeout(1, 1, Duration::ZERO, Duration::MAX),
            Duration::ZERO
        );
    }
}
