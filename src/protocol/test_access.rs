//! What the protocol tests (`tests/`) may see and set inside a
//! [`Membership`] beyond its public API. Test builds only.

use std::collections::HashMap;

use super::awareness::Awareness;
use super::broadcast_queue::BroadcastQueue;
use super::membership::{AckHandler, Probe};
use super::node_table::{NodeRecord, NodeTable};
use super::timers::TimerQueue;
use super::Membership;
use crate::config::Config;

impl Membership {
    /// Accepted streams still to be answered with LZ4.
    pub(super) fn lz4_streams_open(&self) -> usize {
        self.lz4_streams.len()
    }

    /// The node table, local entry included.
    pub(super) fn table(&self) -> &NodeTable {
        &self.table
    }

    /// The node table, to edit records in place.
    pub(super) fn table_mut(&mut self) -> &mut NodeTable {
        &mut self.table
    }

    /// Replaces the node table with `records`, placed by the machine's RNG.
    pub(super) fn replace_table(&mut self, records: impl IntoIterator<Item = NodeRecord>) {
        self.table = NodeTable::default();
        for record in records {
            self.table.insert(record, &mut self.rng);
        }
    }

    /// The queue of alive/suspect/dead broadcasts.
    pub(super) fn broadcasts(&self) -> &BroadcastQueue {
        &self.broadcasts
    }

    /// The queue of alive/suspect/dead broadcasts, to empty it.
    pub(super) fn broadcasts_mut(&mut self) -> &mut BroadcastQueue {
        &mut self.broadcasts
    }

    /// Disarms every timer, periodic tasks included.
    pub(super) fn clear_timers(&mut self) {
        self.timers = TimerQueue::default();
        self.gossip_parked = None;
    }

    /// Whether the gossip timer is parked, nothing being left to send.
    pub(super) fn gossip_parked(&self) -> bool {
        self.gossip_parked.is_some()
    }

    /// The configuration, to change it after start.
    pub(super) fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The health awareness, to set the score directly.
    pub(super) fn awareness_mut(&mut self) -> &mut Awareness {
        &mut self.awareness
    }

    /// The ack handlers by sequence number.
    pub(super) fn acks(&self) -> &HashMap<u32, AckHandler> {
        &self.acks
    }

    /// This node's probe in flight, if any.
    pub(super) fn probe(&self) -> Option<&Probe> {
        self.probe.as_ref()
    }

    /// The last sequence number handed out.
    pub(super) fn seq(&self) -> u32 {
        self.seq
    }
}
