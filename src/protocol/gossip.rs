//! Dissemination: gossip rounds, the piggyback
//! budget shared between membership and application broadcasts, and the
//! random choice of peers.
//!
//! Go fills each packet with membership broadcasts first and gives the
//! application only what is left, so under membership churn in a large
//! cluster user broadcasts starve (hashicorp/memberlist#299). Here
//! application broadcasts due to the packet's destination are offered half
//! of the packet first, membership takes what is left, and any space still
//! free goes back to the application: each side keeps at least half of the
//! budget whenever the other has something to send.

use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use smol_str::SmolStr;

use super::broadcast_queue::retransmit_limit;
use super::host_query::{Parked, Query};
use super::membership::{Membership, PeerReads};
use super::node_table::NodeRecord;
use super::time::Instant;
use super::timers::Timer;
use crate::node::NodeState;
use crate::wire::packet::{COMPOUND_HEADER_OVERHEAD, COMPOUND_OVERHEAD_PER_PART};
use crate::wire::{Context, Message};

/// Gossip rounds in which a joiner passes on the records it learned (see
/// `NewsOrigin::Seeded`); what has not gone out by then is dropped, and
/// it holds no more than its gossip can carry in them. The records help
/// while fresh: in a storm of restarts they carry refutations the seed
/// had not finished spreading (4 s at `lan` timings; in the 500-node
/// restart test, 10 rounds were too few for 2 of 4 seeds). Sent to the
/// retransmit limit instead, as Go does, they delayed the fresh news
/// behind them.
pub(super) const SEEDED_NEWS_ROUNDS: u32 = 20;

/// Bytes of an alive message as gossip packs it, about (a short name, an
/// IPv4 address, no metadata), to count what a packet carries.
const TYPICAL_ALIVE_BYTES: usize = 64;

/// A member picked at random, with what sending to it needs (read from its
/// record when picked: a lookup by name costs cache misses per packet in a
/// large table).
pub(super) struct Peer {
    pub(super) name: SmolStr,
    pub(super) addr: SocketAddr,
    pub(super) reads: PeerReads,
    /// The highest protocol version it speaks.
    pub(super) protocol_max: u8,
}

impl Membership {
    /// How many learned records a joiner holds to pass on at most: what
    /// its gossip can carry in [`SEEDED_NEWS_ROUNDS`] rounds.
    pub(super) fn seeded_news_room(&self) -> usize {
        let per_packet = self.gossip_budget() / TYPICAL_ALIVE_BYTES;
        let rounds = SEEDED_NEWS_ROUNDS as usize;
        per_packet
            .saturating_mul(self.config.gossip_nodes.max(1))
            .saturating_mul(rounds)
    }

    /// One gossip round: queued broadcasts to `gossip_nodes` random peers
    /// (recently dead ones included, so they learn of it and can refute).
    pub(super) fn gossip_tick(&mut self, now: Instant) {
        let next = now + self.config.gossip_interval;
        self.user_broadcasts
            .prune(None, now, self.config.gossip_to_the_dead_time * 10);
        let fresh = self.config.gossip_interval * SEEDED_NEWS_ROUNDS;
        self.seeded.drop_queued_before(now - fresh);
        // A settled cluster has nothing to gossip most rounds. Rather than
        // wake every interval for nothing (five times a second at `lan`
        // timings, in every member), the timer is parked until there is
        // news; Go's ticker fires regardless, to the same effect.
        if self.nothing_queued() && !self.queries.asks.broadcasts {
            self.gossip_parked = Some(next);
            return;
        }
        self.timers.arm(next, Timer::GossipTick);
        let window = self.config.gossip_to_the_dead_time;
        let peers = self.random_nodes(self.config.gossip_nodes, |n| match n.state {
            NodeState::Alive | NodeState::Suspect => true,
            NodeState::Dead => now.saturating_duration_since(n.state_change) <= window,
            NodeState::Left => false,
        });
        let budget = self.gossip_budget();
        let anyone = !peers.is_empty();
        // Unlike Go, an empty result does not end the round: application
        // broadcasts are due per member.
        for peer in peers {
            let overhead = COMPOUND_OVERHEAD_PER_PART;
            let messages = self.take_broadcasts(now, overhead, budget, &peer.name, peer.reads);
            if !messages.is_empty() {
                self.transmit_compounds(peer.addr, peer.reads, messages);
            }
        }
        if anyone
            && self.queries.asks.broadcasts
            && self.host_broadcasts.is_empty()
            && !self.queries.broadcasts_asked()
        {
            let query = Query::Broadcasts {
                overhead: COMPOUND_OVERHEAD_PER_PART + 1,
                limit: budget,
            };
            self.queries.ask(query, Parked::Broadcasts);
        }
    }

    /// Re-arms a parked gossip timer, for the first round on its schedule
    /// at or after `now`: news goes out when it would have with the timer
    /// never parked. Call after queueing any broadcast.
    pub(super) fn wake_gossip(&mut self, now: Instant) {
        let Some(due) = self.gossip_parked.take() else {
            return;
        };
        let interval = self.config.gossip_interval.as_nanos().max(1);
        let late = now.saturating_duration_since(due).as_nanos();
        let rounds = late.div_ceil(interval);
        let behind = u64::try_from(rounds * interval).unwrap_or(u64::MAX);
        let at = due + Duration::from_nanos(behind);
        self.timers.arm(at, Timer::GossipTick);
    }

    /// Queues the host's broadcasts, to go out once each in the packets
    /// that follow; one no gossip packet can hold is dropped and counted.
    pub(super) fn offer_host_broadcasts(&mut self, broadcasts: Vec<Vec<u8>>) {
        let most = self
            .gossip_budget()
            .saturating_sub(COMPOUND_OVERHEAD_PER_PART);
        for data in broadcasts {
            let mut msg = Vec::with_capacity(data.len() + 1);
            Message::User(data).encode(Context::Packet, &mut msg);
            if msg.len() > most {
                self.drop_for("host broadcast too large");
                continue;
            }
            self.host_broadcasts.push_back(msg);
        }
    }

    /// Bytes of messages (with their compound framing) a gossip packet
    /// carries: `udp_buffer_size` less the compound header and the
    /// envelopes. Go counts the encryption overhead here whenever a key is
    /// set.
    pub(super) fn gossip_budget(&self) -> usize {
        self.config
            .udp_buffer_size
            .saturating_sub(COMPOUND_HEADER_OVERHEAD + self.packet_overhead(true))
    }

    /// Takes broadcasts for a packet to `dest` (which `reads` what its
    /// record says) that fit in `limit` bytes, `overhead` extra bytes each:
    /// application broadcasts due to `dest` (up to half the budget while
    /// membership news waits too), membership broadcasts, then whatever
    /// space is left to both and the host's.
    pub(super) fn take_broadcasts(
        &mut self,
        now: Instant,
        overhead: usize,
        limit: usize,
        dest: &str,
        reads: PeerReads,
    ) -> Vec<Vec<u8>> {
        // A cluster still growing is larger than this node knows yet: news
        // is sent as often as the floor's cluster size needs (beyond Go).
        // Whoever waits for news to go out (leave, update_node) waits only
        // for Go's count.
        let mult = u32::try_from(self.config.retransmit_mult).unwrap_or(u32::MAX);
        let go_transmits = retransmit_limit(mult, self.table.estimate());
        let transmits = retransmit_limit(
            mult,
            self.table.estimate().max(self.config.retransmit_floor),
        );
        let size = |msgs: &[Vec<u8>]| msgs.iter().map(|m| m.len() + overhead).sum::<usize>();
        let user_share = if self.broadcasts.is_empty() {
            limit
        } else {
            limit / 2
        };
        let mut out = self.user_broadcasts.take_for(dest, overhead, user_share);
        let stamp_at = reads.asks_news_age().then_some(now);
        let membership = self.broadcasts.get_broadcasts_notifying(
            overhead,
            limit - size(&out),
            transmits,
            go_transmits,
            stamp_at,
        );
        out.extend(membership);
        self.take_seeded(overhead, limit.saturating_sub(size(&out)), &mut out);
        let more = self
            .user_broadcasts
            .take_for(dest, overhead, limit - size(&out));
        out.extend(more);
        let mut remaining = limit.saturating_sub(size(&out));
        while self
            .host_broadcasts
            .front()
            .is_some_and(|m| m.len() + overhead <= remaining)
        {
            let Some(msg) = self.host_broadcasts.pop_front() else {
                break;
            };
            remaining -= msg.len() + overhead;
            out.push(msg);
        }
        out
    }

    /// Appends to `out` the records a joiner passes on that fit in `limit`
    /// bytes, `overhead` extra each, encoded from the table as they are
    /// now. A record with news of its own queued goes out with that news
    /// instead; one no longer alive, not at all.
    fn take_seeded(&mut self, overhead: usize, mut limit: usize, out: &mut Vec<Vec<u8>>) {
        while let Some(seeded) = self.seeded.next() {
            let name = &seeded.name;
            let record = self
                .table
                .get_hinted(name, seeded.position)
                .filter(|r| r.state == NodeState::Alive && !self.broadcasts.holds_named(name));
            let Some(record) = record else {
                self.seeded.take();
                continue;
            };
            let mut msg = Vec::new();
            Message::Alive(record.to_alive()).encode(Context::Packet, &mut msg);
            if msg.len() + overhead > limit {
                // Left for the next packet, unless it fits no gossip packet.
                if msg.len() + overhead > self.gossip_budget() {
                    self.seeded.take();
                    continue;
                }
                break;
            }
            self.seeded.take();
            limit -= msg.len() + overhead;
            out.push(msg);
        }
    }

    /// Whether no broadcast of any kind waits to be sent.
    pub(super) fn nothing_queued(&self) -> bool {
        self.broadcasts.is_empty()
            && self.seeded.waiting() == 0
            && self.user_broadcasts.is_empty()
            && self.host_broadcasts.is_empty()
    }

    /// Up to `k` distinct random nodes other than this one matching `keep`
    /// (Go's `kRandomNodes`, HEAD version: exhaustive for small tables).
    pub(super) fn random_nodes(
        &mut self,
        k: usize,
        keep: impl Fn(&NodeRecord) -> bool,
    ) -> Vec<Peer> {
        let n = self.table.len();
        // Positions identify picks: this runs several times a second and
        // comparing names would dominate it. This node is told by name
        // from the record in hand, not looked up (cache misses in a large
        // table).
        let local = self.config.name.as_str();
        let mut picked: Vec<usize> = Vec::with_capacity(k);
        let mut chosen: Vec<Peer> = Vec::with_capacity(k);
        let mut consider = |i: usize, chosen: &mut Vec<Peer>| {
            if picked.contains(&i) {
                return;
            }
            let Some(node) = self.table.at(i).filter(|node| keep(node)) else {
                return;
            };
            if *node.name == *local {
                return;
            }
            if let Some(addr) = node.socket_addr() {
                picked.push(i);
                chosen.push(Peer {
                    name: node.name.clone(),
                    addr,
                    reads: PeerReads::of(Some(node)),
                    protocol_max: node.protocol_max(),
                });
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::{Instant, Membership};
    use crate::protocol::HostQueries;
    use crate::wire::{Alive, Features};
    use crate::Config;

    /// hashicorp/memberlist#299: with ~1000 members churning, Go fills
    /// every packet with membership broadcasts and user broadcasts wait
    /// until that queue drains (thousands of packets). Here the very first
    /// packet to a member carries the user broadcast.
    #[test]
    fn user_broadcasts_are_not_starved_by_membership_churn() {
        let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
        let config = Config::lan().with_name("local");
        let mut m = Membership::new(
            config,
            Vec::new(),
            HostQueries::none(),
            addr,
            [7; 32],
            Instant::ZERO,
        )
        .unwrap();
        for i in 0..1000u32 {
            let alive = Alive {
                incarnation: 1,
                node: format!("node-{i:04}"),
                addr: vec![10, 1, (i / 250) as u8, (i % 250) as u8],
                port: 7946,
                meta: Some(vec![b'm'; 16]),
                vsn: vec![1, 5, 2, 0, 0, 0],
                features: Features::NONE,
            };
            m.alive_node(Instant::ZERO, alive, None, false);
        }
        assert!(m.broadcasts.len() >= 1000);
        let news = vec![b'u'; 200];
        m.queue_broadcast(Instant::ZERO, &news, None)
            .expect("fits a packet");
        let budget = 1400 - 2;
        let reads = m.reads_of("node-0042");
        let first = m.take_broadcasts(Instant::ZERO, 2, budget, "node-0042", reads);
        let user: Vec<_> = first.iter().filter(|b| b[0] == 8).collect();
        assert_eq!(
            user.len(),
            1,
            "the user broadcast rides on the first packet"
        );
        let membership = first.len() - user.len();
        assert!(
            membership >= 10,
            "membership still gets most of the packet: {membership}"
        );
        let used: usize = first.iter().map(|b| b.len() + 2).sum();
        assert!(used <= budget);
        // Go's order (membership first, user with what is left) leaves less
        // room than the user message needs, packet after packet.
        let go_like = m.broadcasts.get_broadcasts(2, budget, 16);
        let go_used: usize = go_like.iter().map(|b| b.len() + 2).sum();
        assert!(budget - go_used < news.len() + 3);
    }
}
