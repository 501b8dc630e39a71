//! Publishing a node's metrics through the `metrics` crate (feature
//! `metrics`), under Go memberlist's names (`memberlist.msg.alive`, …, which
//! a Prometheus exporter writes `memberlist_msg_alive`) and swimlist's own
//! (`swimlist_…`), every series labelled with the node's name (`node`).
//! `docs/metrics.md` maps each to Go's.
//!
//! Counters and gauges are published at most once a second per node, from
//! the protocol worker; timings and sizes are histograms, recorded as the
//! protocol measures them (in seconds and bytes).

use std::time::Duration;

use crate::node::NodeState;
use crate::protocol::{Instant, Membership, Sample, TimerRun};

use super::running_node::NodeStats;

/// What a node's machine says besides its counters, read when publishing.
pub(crate) struct Gauges {
    pub(crate) health: u32,
    pub(crate) by_state: [(NodeState, usize); 4],
    /// Membership and user broadcasts waiting.
    pub(crate) queued: (usize, usize),
}

/// Publishes one snapshot.
pub(crate) fn publish(node: &str, stats: &NodeStats, gauges: &Gauges) {
    let label = [("node", node.to_owned())];
    let p = &stats.protocol;
    let counters = [
        // Go's names.
        ("memberlist.msg.alive", p.alive_applied),
        ("memberlist.msg.suspect", p.suspicions),
        ("memberlist.msg.dead", p.dead_applied),
        ("memberlist.degraded.probe", p.degraded_probes),
        ("memberlist.degraded.timeout", p.degraded_timeouts),
        ("memberlist.tcp.accept", p.streams_in),
        ("memberlist.tcp.connect", p.streams_out),
        ("memberlist.tcp.sent", p.stream_bytes_out),
        ("memberlist.udp.sent", p.packets_out.bytes),
        ("memberlist.udp.received", p.packets_in.bytes),
        // swimlist's own.
        ("swimlist_packets_in", p.packets_in.count),
        ("swimlist_packets_out", p.packets_out.count),
        ("swimlist_probes", p.probes),
        ("swimlist_failed_probes", p.failed_probes),
        ("swimlist_inconclusive_probes", p.inconclusive_probes),
        ("swimlist_refutes", p.refutes),
        ("swimlist_events_dropped", stats.events_dropped),
        (
            "swimlist_notifications_dropped",
            stats.notifications_dropped,
        ),
        ("swimlist_incoming_dropped", stats.incoming_dropped),
        ("swimlist_send_errors", stats.send_errors),
    ];
    for (name, value) in counters {
        metrics::counter!(name, &label).absolute(value);
    }
    for (kind, traffic) in &p.messages_in {
        let labels = [("node", node.to_owned()), ("type", (*kind).to_owned())];
        metrics::counter!("swimlist_messages_in", &labels).absolute(traffic.count);
        metrics::counter!("swimlist_message_bytes_in", &labels).absolute(traffic.bytes);
    }
    for (kind, traffic) in &p.messages_out {
        let labels = [("node", node.to_owned()), ("type", (*kind).to_owned())];
        metrics::counter!("swimlist_messages_out", &labels).absolute(traffic.count);
        metrics::counter!("swimlist_message_bytes_out", &labels).absolute(traffic.bytes);
    }
    for (reason, count) in &p.dropped {
        let labels = [("node", node.to_owned()), ("reason", (*reason).to_owned())];
        metrics::counter!("swimlist_dropped", &labels).absolute(*count);
    }
    metrics::gauge!("memberlist.health.score", &label).set(f64::from(gauges.health));
    for (state, count) in gauges.by_state {
        let labels = [
            ("node", node.to_owned()),
            ("node_state", state.name().to_owned()),
        ];
        metrics::gauge!("memberlist.node.instances", &labels).set(count as f64);
    }
    let (membership, user) = gauges.queued;
    metrics::gauge!("memberlist.queue.broadcasts", &label).set(membership as f64);
    metrics::gauge!("swimlist_queue_user_broadcasts", &label).set(user as f64);
}

/// Records measurements as histograms.
pub(crate) fn record(node: &str, samples: impl IntoIterator<Item = Sample>) {
    let label = [("node", node.to_owned())];
    for sample in samples {
        match sample {
            Sample::Probe(d) => {
                metrics::histogram!("memberlist.probeNode", &label).record(d.as_secs_f64());
            }
            Sample::PushPull(d) => {
                metrics::histogram!("memberlist.pushPullNode", &label).record(d.as_secs_f64());
            }
            Sample::LocalStateSize(n) => {
                metrics::histogram!("memberlist.size.local", &label).record(n as f64);
            }
            Sample::RemoteStateSize(n) => {
                metrics::histogram!("memberlist.size.remote", &label).record(n as f64);
            }
            Sample::Detection(d) => {
                metrics::histogram!("swimlist_detection_seconds", &label).record(d.as_secs_f64());
            }
            Sample::NewsAge { news, age } => {
                let labels = [("node", node.to_owned()), ("news", news.name().to_owned())];
                metrics::histogram!("swimlist_news_age_seconds", &labels).record(age.as_secs_f64());
            }
        }
    }
}

/// Runs `m`'s timers due at `now`, one at a time, and returns how long
/// each gossip round among them took.
pub(crate) fn run_timers_timing_gossip(m: &mut Membership, now: Instant) -> Vec<Duration> {
    let mut rounds = Vec::new();
    loop {
        let began = std::time::Instant::now();
        match m.handle_due_timer(now) {
            None => return rounds,
            Some(TimerRun::GossipRound) => rounds.push(began.elapsed()),
            Some(_) => {}
        }
    }
}

/// Records how long each gossip round took the protocol worker (Go's
/// `memberlist.gossip` timer; the datagrams are sent afterwards, so their
/// sending is not counted, as it is in Go).
pub(crate) fn record_gossip_rounds(node: &str, rounds: Vec<Duration>) {
    if rounds.is_empty() {
        return;
    }
    let label = [("node", node.to_owned())];
    for took in rounds {
        metrics::histogram!("memberlist.gossip", &label).record(took.as_secs_f64());
    }
}
