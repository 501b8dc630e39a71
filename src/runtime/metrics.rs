//! Publishing node counters through the `metrics` crate (feature
//! `metrics`). Every counter of [`NodeStats`] becomes a counter named
//! `swimlist_<counter>` labelled with the node's name; membership size and
//! health score are gauges. Values are published at most once a second per
//! node, from the protocol worker.

use super::running_node::NodeStats;

/// Publishes one snapshot.
pub(crate) fn publish(node: &str, stats: &NodeStats, members: usize, health: u32) {
    let label = [("node", node.to_owned())];
    let p = &stats.protocol;
    let counters = [
        ("swimlist_packets_in", p.packets_in.count),
        ("swimlist_packets_in_bytes", p.packets_in.bytes),
        ("swimlist_packets_out", p.packets_out.count),
        ("swimlist_packets_out_bytes", p.packets_out.bytes),
        ("swimlist_streams_in", p.streams_in),
        ("swimlist_streams_out", p.streams_out),
        ("swimlist_probes", p.probes),
        ("swimlist_failed_probes", p.failed_probes),
        ("swimlist_suspicions", p.suspicions),
        ("swimlist_refutes", p.refutes),
        ("swimlist_events_dropped", stats.events_dropped),
        ("swimlist_incoming_dropped", stats.incoming_dropped),
        ("swimlist_send_errors", stats.send_errors),
    ];
    for (name, value) in counters {
        metrics::counter!(name, &label).absolute(value);
    }
    for (kind, traffic) in &p.messages_in {
        let labels = [("node", node.to_owned()), ("type", (*kind).to_owned())];
        metrics::counter!("swimlist_messages_in", &labels).absolute(traffic.count);
    }
    for (kind, traffic) in &p.messages_out {
        let labels = [("node", node.to_owned()), ("type", (*kind).to_owned())];
        metrics::counter!("swimlist_messages_out", &labels).absolute(traffic.count);
    }
    for (reason, count) in &p.dropped {
        let labels = [("node", node.to_owned()), ("reason", (*reason).to_owned())];
        metrics::counter!("swimlist_dropped", &labels).absolute(*count);
    }
    metrics::gauge!("swimlist_members", &label).set(members as f64);
    metrics::gauge!("swimlist_health_score", &label).set(f64::from(health));
}
