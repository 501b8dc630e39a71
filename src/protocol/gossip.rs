//! Dissemination (PROTOCOL §10.9–10.10): gossip rounds, the piggyback
//! budget shared between membership and application broadcasts, and the
//! random choice of peers.
//!
//! Go fills each packet with membership broadcasts first and gives the
//! application only what is left, so under membership churn in a large
//! cluster user broadcasts starve (hashicorp/memberlist#299). Here, while
//! application broadcasts wait, they are offered half of every packet first
//! and membership takes the rest: each side keeps at least half of the
//! budget whenever the other has something to send.

use std::net::SocketAddr;

use rand::seq::SliceRandom;
use rand::Rng;

use super::broadcast_queue::retransmit_limit;
use super::membership::Membership;
use super::node_table::NodeRecord;
use super::time::Instant;
use super::timers::Timer;
use crate::node::NodeState;
use crate::wire::{Context, Message};

impl Membership {
    /// One gossip round: queued broadcasts to `gossip_nodes` random peers
    /// (recently dead ones included, so they learn of it and can refute).
    pub(super) fn gossip_tick(&mut self, now: Instant) {
        self.timers
            .arm(now + self.config.gossip_interval, Timer::GossipTick);
        let local = self.config.name.clone();
        let window = self.config.gossip_to_the_dead_time;
        let peers = self.random_nodes(self.config.gossip_nodes, |n| {
            n.name != local
                && match n.state {
                    NodeState::Alive | NodeState::Suspect => true,
                    NodeState::Dead => now.saturating_duration_since(n.state_change) <= window,
                    NodeState::Left => false,
                }
        });
        // Go counts the encryption overhead here whenever a key is set.
        let budget = self
            .config
            .udp_buffer_size
            .saturating_sub(2 + self.packet_overhead(true));
        for (name, addr) in peers {
            let messages = self.take_broadcasts(2, budget);
            if messages.is_empty() {
                return;
            }
            self.transmit_compounds(addr, &name, messages);
        }
    }

    /// Takes broadcasts that fit in `limit` bytes, `overhead` extra bytes
    /// each, from both queues and then the delegate.
    pub(super) fn take_broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Vec<u8>> {
        let transmits = retransmit_limit(
            u32::try_from(self.config.retransmit_mult).unwrap_or(u32::MAX),
            self.table.estimate(),
        );
        let size = |msgs: &[Vec<u8>]| msgs.iter().map(|m| m.len() + overhead).sum::<usize>();
        let user_share = if self.user_broadcasts.is_empty() {
            0
        } else {
            limit / 2
        };
        let mut out = self
            .user_broadcasts
            .get_broadcasts(overhead, user_share, transmits);
        let used = size(&out);
        let membership = self
            .broadcasts
            .get_broadcasts(overhead, limit - used, transmits);
        out.extend(membership);
        let used = size(&out);
        let remaining = limit.saturating_sub(used);
        if remaining > overhead + 1 {
            for data in self.delegate.get_broadcasts(overhead + 1, remaining) {
                let mut msg = Vec::with_capacity(data.len() + 1);
                Message::User(data).encode(Context::Packet, &mut msg);
                out.push(msg);
            }
        }
        out
    }

    /// Up to `k` distinct random nodes matching `keep`, with addresses (Go's
    /// `kRandomNodes`, HEAD version: exhaustive for small tables).
    pub(super) fn random_nodes(
        &mut self,
        k: usize,
        keep: impl Fn(&NodeRecord) -> bool,
    ) -> Vec<(String, SocketAddr)> {
        let n = self.table.len();
        let mut chosen: Vec<(String, SocketAddr)> = Vec::with_capacity(k);
        let consider = |i: usize, chosen: &mut Vec<(String, SocketAddr)>| {
            let Some(node) = self.table.at(i) else {
                return;
            };
            if !keep(node) || chosen.iter().any(|(name, _)| *name == node.name) {
                return;
            }
            if let Some(addr) = node.socket_addr() {
                chosen.push((node.name.clone(), addr));
            }
        };
        if n < 3 * k {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut self.rng);
            for i in order {
                if chosen.len() >= k {
                    break;
                }
                consider(i, &mut chosen);
            }
        } else {
            for _ in 0..3 * n {
                if chosen.len() >= k {
                    break;
                }
                let i = self.rng.random_range(0..n);
                consider(i, &mut chosen);
            }
        }
        chosen
    }
}
