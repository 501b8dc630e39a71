//! Probing: sequence numbers, ack handlers, direct and indirect probes,
//! accusations carried by pings, and the TCP fallback ping.

use super::*;
use crate::protocol::membership::AckHandler;
use crate::protocol::Notification;
use crate::wire::{seal_packet, Ack, IndirectPing, Layer, MessageType, Outbound, Ping};

// TestMemberList_NextSeq
#[test]
fn next_seq() {
    let mut m = standalone(test_config("local"));
    assert_eq!(m.next_seq(), 1);
    assert_eq!(m.next_seq(), 2);
}

/// A standalone node that knows "test" (127.0.0.2) and has a probe of it in
/// flight with sequence number 1; the ping is discarded.
fn probing(delegate: &dyn Delegate) -> Membership {
    let mut m = standalone_with(test_config("local"), delegate);
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    deliver(&mut m, delegate, T0);
    discard_output(&mut m);
    m.probe_node(T0, "test");
    discard_output(&mut m);
    assert!(m.probe().is_some_and(|p| p.seq == 1));
    m
}

// Beyond Go: an acked probe disarms its timeout and deadline, which would
// otherwise each wake the node for nothing, twice a probe interval.
#[test]
fn an_acked_probe_leaves_no_timer_behind() {
    let mut m = probing(&crate::NoDelegate);
    assert_eq!(m.poll_timeout(), Some(T0 + m.config().probe_timeout));
    let mut ack = Vec::new();
    Message::Ack(Ack {
        seq_no: 1,
        payload: None,
    })
    .encode(crate::wire::Context::Packet, &mut ack);
    m.handle_packet(T0 + ms(1), addr(2), &ack);
    assert!(m.probe().is_none(), "the probe succeeded");
    assert_eq!(m.poll_timeout(), None, "a timer outlived its probe");
}

// TestMemberList_setProbeChannels / TestMemberList_setAckHandler: handlers
// exist, then are reaped when they expire. Here the probe's handler lives
// until the (scaled) probe interval, a relayed ping's until `probe_timeout`.
#[test]
fn set_ack_handler() {
    let mut m = probing(&crate::NoDelegate);
    assert!(
        matches!(m.acks().get(&1), Some(AckHandler::Probe)),
        "missing handler"
    );
    let expiry = T0 + m.config().probe_interval;
    advance(&mut m, expiry);
    assert!(!m.acks().contains_key(&1), "non-reaped handler");

    let req = IndirectPing {
        seq_no: 77,
        target: vec![127, 0, 0, 9],
        port: PORT,
        node: "other".to_owned(),
        nack: false,
        source_addr: vec![127, 0, 0, 3],
        source_port: PORT,
        source_node: "requester".to_owned(),
    };
    let now = T0 + Duration::from_secs(2);
    m.handle_indirect_ping(now, addr(3), req);
    assert!(
        matches!(m.acks().get(&2), Some(AckHandler::Relay { seq: 77, .. })),
        "missing handler"
    );
    let expiry = now + m.config().probe_timeout;
    advance(&mut m, expiry);
    assert!(!m.acks().contains_key(&2), "non-reaped handler");
}

// TestMemberList_invokeAckHandler
#[test]
fn invoke_ack_handler() {
    // An ack nobody waits for does nothing.
    let mut m = standalone(test_config("local"));
    m.handle_ack(T0, Ack::default());
    assert!(m.poll_transmit().is_none());
    assert!(m.acks().is_empty());

    let mut m = probing(&crate::NoDelegate);
    m.handle_ack(T0 + ms(1), Ack::default());
    assert!(m.probe().is_some(), "an unknown sequence number is ignored");
    m.handle_ack(
        T0 + ms(1),
        Ack {
            seq_no: 1,
            payload: None,
        },
    );
    assert!(m.probe().is_none(), "the ack completes the probe");
    assert!(!m.acks().contains_key(&1), "non-reaped handler");
}

// TestMemberList_invokeAckHandler_Channel_Ack
#[test]
fn invoke_ack_handler_channel_ack() {
    let recorder = Arc::new(Recorder::default());
    let mut m = probing(&*recorder);
    let ack = Ack {
        seq_no: 1,
        payload: Some(vec![0, 0, 0]),
    };
    m.handle_ack(T0 + ms(1), ack);
    deliver(&mut m, &*recorder, T0 + ms(2));

    assert!(m.probe().is_none(), "probe should be complete");
    let log = recorder.log();
    assert!(
        matches!(&log.pings[..], [(n, rtt, payload)]
            if n.name == "test" && *rtt == ms(1) && payload == &[0, 0, 0]),
        "wrong ack delivery"
    );
    assert!(!m.acks().contains_key(&1), "non-reaped handler");
}

// Beyond Go's delegate-less check: a host that does not ask for ping
// notifications gets none.
#[test]
fn ping_notifications_only_when_asked() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    discard_output(&mut m);
    m.probe_node(T0, "test");
    discard_output(&mut m);
    m.handle_ack(
        T0 + ms(1),
        Ack {
            seq_no: 1,
            payload: None,
        },
    );
    assert!(m.probe().is_none(), "probe should be complete");
    assert!(m.poll_notification().is_none());

    let mut m = probing(&crate::NoDelegate);
    m.handle_ack(
        T0 + ms(1),
        Ack {
            seq_no: 1,
            payload: None,
        },
    );
    assert!(matches!(
        m.poll_notification(),
        Some(Notification::PingComplete { node, .. }) if node.name == "test"
    ));
}

// TestMemberList_invokeAckHandler_Channel_Nack
#[test]
fn invoke_ack_handler_channel_nack() {
    // A nack nobody waits for does nothing.
    let mut m = standalone(test_config("local"));
    m.handle_nack(1);
    assert!(m.poll_transmit().is_none());

    let recorder = Arc::new(Recorder::default());
    let mut m = probing(&*recorder);
    m.handle_nack(1);
    deliver(&mut m, &*recorder, T0 + ms(2));
    assert_eq!(m.probe().map(|p| p.nacks), Some(1), "nack not counted");
    assert!(recorder.log().pings.is_empty(), "should not get an ack");
    // The nack does not reap the handler: an ack can still come.
    assert!(m.acks().contains_key(&1), "handler should not be reaped");

    m.handle_ack(
        T0 + ms(2),
        Ack {
            seq_no: 1,
            payload: Some(vec![0, 0, 0]),
        },
    );
    deliver(&mut m, &*recorder, T0 + ms(2));
    assert!(m.probe().is_none(), "probe should be complete");
    assert!(matches!(
        &recorder.log().pings[..],
        [(_, _, payload)] if payload == &[0, 0, 0]
    ));
    assert!(!m.acks().contains_key(&1), "non-reaped handler");
}

// TestMemberList_Probe
#[test]
fn probe() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    net.m_mut(1)
        .alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);

    // Should ping m2.
    net.m_mut(1).probe_tick(now);
    net.finish_probe(1);

    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    assert_eq!(net.m(1).seq(), 1, "should increment seqno");
}

// TestMemberList_ProbeNode
#[test]
fn probe_node() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    // No Vsn.
    net.m_mut(1)
        .alive_node(now, alive("m2", 2, PORT, 1, &[]), None, false);

    net.m_mut(1).probe_node(now, "m2");
    net.finish_probe(1);

    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    assert_eq!(net.m(1).seq(), 1, "should increment seqno");
}

// TestMemberList_ProbeNode_Suspect
#[test]
fn probe_node_suspect() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    net.start_quiet(3, config("m3"));
    // m4 never starts.
    let now = net.now;
    for (name, host) in [("m2", 2), ("m3", 3), ("m4", 4)] {
        net.m_mut(1)
            .alive_node(now, alive(name, host, PORT, 1, &vsn()), None, false);
    }

    net.m_mut(1).probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);

    net.run_for(ms(10));
    // One of the peers should have attempted an indirect probe.
    assert!(
        net.m(2).seq() == 1 || net.m(3).seq() == 1,
        "bad seqnos {}, {}",
        net.m(2).seq(),
        net.m(3).seq()
    );
}

// TestMemberList_ProbeNode_Buddy
#[test]
fn probe_node_buddy() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(1), ms(10)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    // m2 bootstrapped its own alive in `new`.

    // Force the state to suspect so the ping carries the accusation.
    let changed = m1.table().get("m2").expect("known").state_change;
    m1.table_mut().set_state("m2", NodeState::Suspect, changed);
    m1.probe_node(now, "m2");
    net.finish_probe(1);

    assert_eq!(net.m(1).seq(), 1, "a ping must have been sent");
    let ping = net.sent_between(1, 2).next().expect("ping sent");
    assert!(matches!(
        &ping.messages()[..],
        [Message::Ping(p), Message::Suspect(s)]
            if p.seq_no == 1 && s.node == "m2" && s.from == "m1" && s.incarnation == 1
    ));
    // m2 refuted: one alive queued (replacing its own earlier alive).
    assert_eq!(queued_types(net.m(2)), [MessageType::Alive as u8]);
    assert_eq!(state(net.m(2), "m2").incarnation, 2);
    assert_eq!(state(net.m(1), "m2").state, NodeState::Suspect);
}

/// The cluster of Go's (disabled) FallbackTCP tests: m1 probing with a 10 ms
/// timeout and 200 ms interval, m2 and m3 known without versions, and m4
/// (running, with `m4_vsn`) unreachable over UDP.
fn fallback_cluster(m4_vsn: &[u8]) -> Net {
    let mut net = probe_cluster(config);
    net.start_quiet(4, config("m4"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &[]), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &[]), None, false);
    m1.alive_node(now, alive("m4", 4, PORT, 1, m4_vsn), None, false);
    net.udp_blocked.insert(addr(4));
    net
}

const PROBE_TIME_MAX: Duration = ms(200 + 20);

/// Probes m4 from m1; returns how long the probe took.
fn probe_m4(net: &mut Net) -> Duration {
    let start = net.now;
    net.m_mut(1).probe_node(start, "m4");
    net.finish_probe(1);
    net.now - start
}

// TestMemberList_ProbeNode_FallbackTCP (disabled upstream)
#[test]
fn probe_node_fallback_tcp() {
    let mut net = fallback_cluster(&vsn());

    let probe_time = probe_m4(&mut net);
    assert_eq!(
        state(net.m(1), "m4").state,
        NodeState::Alive,
        "the TCP fallback ping must keep m4 alive"
    );
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    assert_eq!(net.dialed, [(addr(1), addr(4))]);
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 1 || net.m(3).seq() == 1);

    // Now TCP is gone too: the probe must fail, on time.
    net.tcp_blocked.insert(addr(4));
    let probe_time = probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 2 || net.m(3).seq() == 2);
}

// TestMemberList_ProbeNode_FallbackTCP_Disabled (disabled upstream)
#[test]
fn probe_node_fallback_tcp_disabled() {
    let mut net = fallback_cluster(&vsn());
    net.m_mut(1).config_mut().disable_tcp_pings = true;

    let probe_time = probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    assert!(net.dialed.is_empty(), "no TCP ping when disabled");
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 1 || net.m(3).seq() == 1);
}

// The per-node switch (Go's `DisableTcpPingsForNode`) behaves the same.
#[test]
fn probe_node_fallback_tcp_disabled_for_node() {
    let mut net = fallback_cluster(&vsn());
    net.m_mut(1).config_mut().disable_tcp_pings_for_node =
        Some(Arc::new(|name: &str| name == "m4"));

    probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(net.dialed.is_empty(), "no TCP ping to m4");
}

// TestMemberList_ProbeNode_FallbackTCP_OldProtocol (disabled upstream)
#[test]
fn probe_node_fallback_tcp_old_protocol() {
    // m4 understands at most protocol 2: no TCP pings.
    let mut net = fallback_cluster(&[1, 2, 2, 0, 0, 0]);

    let probe_time = probe_m4(&mut net);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    assert!(
        probe_time <= PROBE_TIME_MAX,
        "took too long: {probe_time:?}"
    );
    assert!(net.dialed.is_empty(), "no TCP ping to an old node");
    net.run_for(PROBE_TIME_MAX);
    assert!(net.m(2).seq() == 1 || net.m(3).seq() == 1);
}

/// The ack `m` sends to a ping from "test" (127.0.0.2), sealed with a CRC
/// or not: whether the ack has one, and whether it carries more than the
/// ack.
fn ack_to_ping(m: &mut Membership, now: Instant, crc: bool) -> (bool, bool) {
    let mut ping = Vec::new();
    Message::Ping(Ping {
        seq_no: 9,
        node: "local".into(),
        source_addr: vec![127, 0, 0, 2],
        source_port: PORT,
        source_node: "test".into(),
    })
    .encode(crate::wire::Context::Packet, &mut ping);
    let outbound = Outbound {
        crc,
        ..Outbound::default()
    };
    let mut datagram = Vec::new();
    seal_packet(&ping, &outbound, &mut datagram).unwrap();
    m.handle_packet(now, addr(2), &datagram);
    let sent = datagrams(m);
    assert_eq!(sent.len(), 1, "one ack");
    let decoded = decode_packet(&sent[0].1, &Inbound::default()).unwrap();
    let has_crc = decoded.layers.iter().any(|l| matches!(l, Layer::Crc(_)));
    let acked = decoded
        .messages
        .iter()
        .any(|m| matches!(m, Ok(Message::Ack(a)) if a.seq_no == 9));
    assert!(acked, "{decoded:?}");
    (has_crc, decoded.messages.len() > 1)
}

// Beyond Go: an ack alone is sealed as its ping came, without a lookup of
// the pinger (whose record says it reads a CRC); one carrying news is
// sealed as that record says.
#[test]
fn an_ack_alone_is_sealed_as_its_ping_came() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 2, PORT, 1, &vsn()), None, false);
    quieten(&mut m);
    assert_eq!(ack_to_ping(&mut m, T0, false), (false, false));
    assert_eq!(ack_to_ping(&mut m, T0, true), (true, false));
    m.alive_node(T0, alive("news", 3, PORT, 1, &vsn()), None, false);
    discard_output(&mut m);
    assert_eq!(ack_to_ping(&mut m, T0, false), (true, true));
}
