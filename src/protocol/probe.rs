//! Failure detection: the probe cycle and the
//! handling of received pings, indirect pings, acks and nacks.
//!
//! Each probe tick picks the next node of a shuffled round-robin list and
//! pings it. Without an ack within `probe_timeout`, `indirect_checks` other
//! nodes are asked to ping it too (and to send a nack if they also hear
//! nothing), and a TCP ping is tried in parallel. Without any ack by the
//! end of the (health-scaled) probe interval, the node becomes suspect.
//! Lifeguard's awareness score rises when probes fail in ways that point at
//! this node itself (missing nacks) and falls with every success.

use std::net::SocketAddr;

use super::host_query::{Parked, Query};
use super::membership::{stream_form, AckHandler, Dial, Membership, PeerReads, Probe};
use super::notification::Notification;
use super::push_pull::HealContact;
use super::samples::Sample;
use super::time::Instant;
use super::timers::Timer;
use crate::node::{ip_from_wire, ip_to_wire, NodeState};
use crate::wire::packet::MIN_COMPRESSIBLE;
use crate::wire::{Ack, Context, IndirectPing, Message, Nack, Ping, Suspect};

impl Membership {
    /// A ping from this node to `target` (empty: whoever answers).
    pub(super) fn local_ping(&self, seq_no: u32, target: &str) -> Ping {
        Ping {
            seq_no,
            node: target.to_owned(),
            source_addr: ip_to_wire(self.local_addr.ip()),
            source_port: self.local_addr.port(),
            source_node: self.config.name.clone(),
        }
    }

    /// Starts the next probe, unless one is still running (Go's ticker
    /// drops ticks while a probe blocks).
    pub(super) fn probe_tick(&mut self, now: Instant) {
        self.timers
            .arm(now + self.config.probe_interval, Timer::ProbeTick);
        if self.probe.is_some() {
            return;
        }
        let mut checked = 0;
        while checked < self.table.len() {
            if self.probe_index >= self.table.len() {
                self.reset_nodes(now);
                self.probe_index = 0;
                checked += 1;
                continue;
            }
            let Some(node) = self.table.at(self.probe_index) else {
                return;
            };
            self.probe_index += 1;
            if *node.name == *self.config.name || node.state.is_gone() {
                checked += 1;
                continue;
            }
            self.probe_at(now, self.probe_index - 1);
            return;
        }
    }

    /// After a full round: forget long-dead nodes and reshuffle the order.
    fn reset_nodes(&mut self, now: Instant) {
        let reaped = self.table.reap_and_shuffle(
            now,
            self.config.gossip_to_the_dead_time,
            &self.config.name,
            &mut self.rng,
        );
        for node in reaped {
            self.suspicions.remove(&*node.name);
            if node.state == NodeState::Dead && self.config.partition_healing {
                if let Some(addr) = node.socket_addr() {
                    self.remember_for_healing(HealContact {
                        name: node.name.to_string(),
                        addr,
                        features: node.features,
                    });
                }
            }
        }
    }

    /// Pings `target` and arms the timers of the probe's two phases.
    #[cfg(test)]
    pub(super) fn probe_node(&mut self, now: Instant, target: &str) {
        if let Some(i) = self.table.position(target) {
            self.probe_at(now, i);
        }
    }

    /// Pings the member at position `i` of the probe order and arms the
    /// timers of the probe's two phases. Everything the probe needs of
    /// the record is read here, once.
    fn probe_at(&mut self, now: Instant, i: usize) {
        let Some(node) = self.table.at(i) else {
            return;
        };
        let Some(to) = node.socket_addr() else {
            return;
        };
        let (state, incarnation) = (node.state, node.incarnation);
        let reads = PeerReads::of(Some(node));
        let name = node.name.clone();
        let target = name.as_str();
        let seq = self.next_seq();
        let interval = self.awareness.scale_timeout(self.config.probe_interval);
        if interval > self.config.probe_interval {
            self.stats.degraded_probes += 1;
        }
        let deadline = now + interval;
        self.stats.probes += 1;
        let timeout = now + self.config.probe_timeout;
        let timers = [
            self.timers.arm(timeout, Timer::ProbeTimeout(seq)),
            self.timers.arm(deadline, Timer::ProbeDeadline(seq)),
        ];
        self.probe = Some(Probe {
            seq,
            target: name.clone(),
            position: i,
            sent: now,
            deadline,
            expected_nacks: 0,
            nacks: 0,
            timers,
        });
        self.acks.insert(seq, AckHandler::Probe);
        let mut ping = Vec::new();
        Message::Ping(self.local_ping(seq, target)).encode(Context::Packet, &mut ping);
        if state == NodeState::Alive {
            self.send_message_reading(now, to, target, reads, ping, true);
        } else {
            // A suspect gets the accusation with the ping, so it can refute
            // at once (Lifeguard's "buddy system").
            let mut suspect = Vec::new();
            Message::Suspect(Suspect {
                incarnation,
                node: target.to_owned(),
                from: self.config.name.clone(),
            })
            .encode(Context::Packet, &mut suspect);
            self.transmit_compounds(to, reads, vec![ping, suspect]);
        }
    }

    fn probe_in_flight(&self, seq: u32) -> bool {
        self.probe.as_ref().is_some_and(|p| p.seq == seq)
    }

    /// The direct ack is late: ask others to probe, and try TCP.
    pub(super) fn probe_timeout(&mut self, now: Instant, seq: u32) {
        let Some(probe) = self.probe.as_ref().filter(|p| p.seq == seq) else {
            return;
        };
        let (target, deadline) = (probe.target.clone(), probe.deadline);
        let Some(node) = self.table.get(&target) else {
            return;
        };
        let (target_addr, target_port, target_pmax) = (node.addr, node.port, node.protocol_max());
        let Some(target_socket) = node.socket_addr() else {
            return;
        };
        let helpers = self.random_nodes(self.config.indirect_checks, |n| {
            *n.name != *target && n.state == NodeState::Alive
        });
        let mut expected_nacks = 0;
        for helper in helpers {
            let nack = helper.protocol_max >= 4;
            expected_nacks += usize::from(nack);
            let mut msg = Vec::new();
            Message::IndirectPing(IndirectPing {
                seq_no: seq,
                target: target_addr.to_vec(),
                port: target_port,
                node: target.to_string(),
                nack,
                source_addr: ip_to_wire(self.local_addr.ip()),
                source_port: self.local_addr.port(),
                source_node: self.config.name.clone(),
            })
            .encode(Context::Packet, &mut msg);
            self.send_message_reading(now, helper.addr, &helper.name, helper.reads, msg, true);
        }
        if let Some(p) = self.probe.as_mut() {
            p.expected_nacks = expected_nacks;
        }
        let tcp_disabled = self.config.disable_tcp_pings
            || self
                .config
                .disable_tcp_pings_for_node
                .as_ref()
                .is_some_and(|skip| skip(&target));
        if !tcp_disabled && target_pmax >= 3 {
            let ping = stream_form(&Message::Ping(self.local_ping(seq, &target)));
            let dialed = self.dial(
                now,
                target_socket,
                Some(&target),
                ping,
                Dial::TcpPing { seq },
                Some(deadline),
            );
            if let Err(e) = dialed {
                log::debug!(
                    "{}: no TCP fallback ping to {target}: {e}",
                    self.config.name
                );
            }
        }
    }

    /// The probe ran out of time without an ack: suspect the target.
    pub(super) fn probe_deadline(&mut self, now: Instant, seq: u32) {
        if !self.probe_in_flight(seq) {
            return;
        }
        let Some(probe) = self.probe.take() else {
            return;
        };
        self.acks.remove(&seq);
        if self.lagging() {
            self.inconclusive_probe();
            return;
        }
        let delta = if probe.expected_nacks > 0 {
            probe.expected_nacks.saturating_sub(probe.nacks)
        } else {
            1
        };
        self.awareness
            .apply_delta(i32::try_from(delta).unwrap_or(i32::MAX));
        self.stats.failed_probes += 1;
        let took = now.saturating_duration_since(probe.sent);
        self.samples.record(Sample::Probe(took));
        let Some(node) = self.table.get(&probe.target) else {
            return;
        };
        log::debug!(
            "{}: suspect {} has failed, no acks received",
            self.config.name,
            probe.target
        );
        let suspect = Suspect {
            incarnation: node.incarnation,
            node: probe.target.to_string(),
            from: self.config.name.clone(),
        };
        self.suspect_node(now, suspect);
    }

    /// The probe succeeded (any ack before the deadline).
    pub(super) fn probe_succeeded(&mut self, now: Instant, seq: u32) {
        if self.probe_in_flight(seq) {
            if let Some(probe) = self.probe.take() {
                let took = now.saturating_duration_since(probe.sent);
                self.samples.record(Sample::Probe(took));
                for key in probe.timers {
                    self.timers.cancel(key);
                }
            }
            self.acks.remove(&seq);
            self.awareness.apply_delta(-1);
        }
    }

    /// Acks a ping that came in a packet with a CRC (`crc`) or without.
    pub(super) fn handle_ping(&mut self, now: Instant, from: SocketAddr, p: Ping, crc: bool) {
        if !p.node.is_empty() && p.node != self.config.name {
            self.drop_for("ping for another node");
            return;
        }
        let ack = Ack {
            seq_no: p.seq_no,
            payload: self.ack_payload.clone(),
        };
        // The host refreshes the payload for the acks that follow.
        if self.queries.asks.ack_payload && !self.queries.ack_payload_asked() {
            self.queries.ask(Query::AckPayload, Parked::AckPayload);
        }
        let to = reply_address(&p.source_addr, p.source_port).unwrap_or(from);
        let mut msg = Vec::new();
        Message::Ack(ack).encode(Context::Packet, &mut msg);
        // Every member answers a ping a second, and in a large table a
        // lookup of the pinger costs cache misses: an ack alone and too
        // short to compress is sealed as the ping came (a CRC if it had
        // one); one carrying news or a long payload, as the pinger's record
        // says (which compression it reads).
        let reads = if self.nothing_queued() && msg.len() < MIN_COMPRESSIBLE {
            PeerReads::replying(crc)
        } else {
            self.reads_of(&p.source_node)
        };
        self.send_message_reading(now, to, &p.source_node, reads, msg, true);
        // A node that pings is running: if it is held suspect or dead, it
        // is told, so that it refutes now (see state.rs). The counts say
        // whether anyone is, without a lookup.
        let [_, suspect, dead, _] = self.table.counts();
        let accused = suspect + dead > 0
            && self
                .table
                .get(&p.source_node)
                .is_some_and(|n| matches!(n.state, NodeState::Suspect | NodeState::Dead));
        if accused {
            self.remind_accused(now, &p.source_node);
        }
    }

    pub(super) fn handle_indirect_ping(
        &mut self,
        now: Instant,
        from: SocketAddr,
        req: IndirectPing,
    ) {
        let port = if req.port == 0 || self.config.protocol_version < 2 {
            self.config.bind_port
        } else {
            req.port
        };
        let Some(target_ip) = ip_from_wire(&req.target) else {
            self.drop_for("invalid address");
            return;
        };
        let seq = self.next_seq();
        let requester = reply_address(&req.source_addr, req.source_port).unwrap_or(from);
        self.acks.insert(
            seq,
            AckHandler::Relay {
                to: requester,
                name: req.source_node,
                seq: req.seq_no,
                nack: req.nack,
            },
        );
        self.timers
            .arm(now + self.config.probe_timeout, Timer::RelayExpiry(seq));
        let mut ping = Vec::new();
        Message::Ping(self.local_ping(seq, &req.node)).encode(Context::Packet, &mut ping);
        self.send_message(now, SocketAddr::new(target_ip, port), &req.node, ping, true);
    }

    /// No ack came for a relayed ping: tell the requester if it asked.
    pub(super) fn relay_expiry(&mut self, now: Instant, seq: u32) {
        if let Some(AckHandler::Relay {
            to,
            name,
            seq: requester_seq,
            nack: true,
        }) = self.acks.remove(&seq)
        {
            let mut msg = Vec::new();
            Message::Nack(Nack {
                seq_no: requester_seq,
            })
            .encode(Context::Packet, &mut msg);
            self.send_message(now, to, &name, msg, true);
        }
    }

    pub(super) fn handle_ack(&mut self, now: Instant, ack: Ack) {
        match self.acks.remove(&ack.seq_no) {
            Some(AckHandler::Probe) => {
                let Some(probe) = self.probe.as_ref().filter(|p| p.seq == ack.seq_no) else {
                    return;
                };
                // Go reports the round trip only for an ack within the
                // direct phase.
                let rtt = now.saturating_duration_since(probe.sent);
                if rtt <= self.config.probe_timeout && self.queries.asks.ping_complete {
                    let record = self.table.get_hinted(&probe.target, probe.position);
                    if let Some(node) = record.and_then(|n| n.to_node()) {
                        let payload = ack.payload.unwrap_or_default();
                        self.notify(Notification::PingComplete { node, rtt, payload });
                    }
                }
                self.probe_succeeded(now, ack.seq_no);
            }
            Some(AckHandler::Relay { to, name, seq, .. }) => {
                let mut msg = Vec::new();
                Message::Ack(Ack {
                    seq_no: seq,
                    payload: None,
                })
                .encode(Context::Packet, &mut msg);
                self.send_message(now, to, &name, msg, true);
            }
            None => self.drop_for("ack for unknown sequence number"),
        }
    }

    pub(super) fn handle_nack(&mut self, seq: u32) {
        match self.probe.as_mut().filter(|p| p.seq == seq) {
            Some(probe) if self.acks.contains_key(&seq) => probe.nacks += 1,
            _ => self.drop_for("nack for unknown sequence number"),
        }
    }
}

/// `SourceAddr:SourcePort` when both are set (Go replies there rather than
/// to the datagram's source).
fn reply_address(addr: &[u8], port: u16) -> Option<SocketAddr> {
    if addr.is_empty() || port == 0 {
        return None;
    }
    ip_from_wire(addr).map(|ip| SocketAddr::new(ip, port))
}
