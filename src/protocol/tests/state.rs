//! The state transitions (alive, suspect, dead) one node applies to its
//! table, and merging a remote node's state.

use super::*;
use crate::node::LeaveReason;
use crate::protocol::INCARNATION_LEAP;
use crate::wire::{Context, MessageType, Ping};

// TestMemberList_AliveNode_NewNode
#[test]
fn alive_node_new_node() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);

    // Go's table only held the new node; ours holds the local one too.
    assert_eq!(m.table().len(), 2, "should add node");
    let s = state(&m, "test");
    assert_eq!(s.incarnation, 1);
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.state_change, T0);

    let events = go_events(&mut m);
    assert!(
        matches!(&events[..], [Event::Join(n)] if n.name == "test"),
        "no join message: {events:?}"
    );
    assert_eq!(m.broadcasts().len(), 1, "expected queued message");
}

// TestMemberList_AliveNode_SuspectNode
#[test]
fn alive_node_suspect_node() {
    let mut m = standalone(test_config("local"));
    let mut a = alive("test", 1, 0, 1, &vsn());
    m.alive_node(T0, a.clone(), None, false);
    // Listen only after the first join.
    go_events(&mut m);

    m.table_mut()
        .set_state("test", NodeState::Suspect, an_hour_before(T0));

    // Old incarnation number: no change.
    m.alive_node(T0, a.clone(), None, false);
    assert_eq!(state(&m, "test").state, NodeState::Suspect);

    // A new incarnation clears the suspicion.
    a.incarnation = 2;
    m.alive_node(T0, a, None, false);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive, "no update with new incarnation");
    assert_eq!(s.state_change, T0);

    assert!(go_events(&mut m).is_empty(), "got bad join message");
    assert_eq!(m.broadcasts().len(), 1);
}

// TestMemberList_AliveNode_Idempotent
#[test]
fn alive_node_idempotent() {
    let mut m = standalone(test_config("local"));
    let mut a = alive("test", 1, 0, 1, &vsn());
    m.alive_node(T0, a.clone(), None, false);
    go_events(&mut m);
    let state_time = state(&m, "test").state_change;

    a.incarnation = 2;
    m.alive_node(T0 + ms(5), a, None, false);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.state_change, state_time, "should not change state");
    assert!(go_events(&mut m).is_empty(), "got bad join message");
    assert_eq!(m.broadcasts().len(), 1, "expected only one queued message");
}

// TestMemberList_AliveNode_ChangeMeta (Serf GH-58)
#[test]
fn alive_node_change_meta() {
    let mut m = standalone(test_config("local"));
    let mut a = Alive {
        meta: Some(b"val1".to_vec()),
        ..alive("test", 1, 0, 1, &vsn())
    };
    m.alive_node(T0, a.clone(), None, false);
    go_events(&mut m);

    a.incarnation = 2;
    a.meta = Some(b"val2".to_vec());
    m.alive_node(T0, a, None, false);

    let s = state(&m, "test");
    assert_eq!(s.meta, b"val2", "meta did not update");
    let events = go_events(&mut m);
    match &events[..] {
        [Event::Update(n)] => {
            assert_eq!(Some(n), s.to_node().as_ref());
            assert_eq!(n.meta, b"val2");
        }
        other => panic!("missing update event: {other:?}"),
    }
}

// TestMemberList_AliveNode_Refute
#[test]
fn alive_node_refute() {
    // `new` applied the bootstrap alive {local, 127.0.0.1, inc 1}.
    let mut m = standalone(test_config("local"));

    let conflicting = Alive {
        meta: Some(b"foo".to_vec()),
        ..alive("local", 1, 0, 2, &vsn())
    };
    m.alive_node(T0, conflicting, None, false);

    let s = state(&m, "local");
    assert_eq!(s.state, NodeState::Alive, "should still be alive");
    assert!(s.meta.is_empty(), "meta should still be empty");
    assert_eq!(queued_types(&m), [MessageType::Alive as u8]);
}

// TestMemberList_AliveNode_Conflict
#[test]
fn alive_node_conflict() {
    let mut m = standalone(Config {
        dead_node_reclaim_time: ms(10),
        ..test_config("local")
    });
    m.alive_node(T0, alive("test", 1, 8000, 1, &vsn()), None, true);
    m.broadcasts_mut().reset();

    // Same name from another address while the node is alive.
    let conflicting = Alive {
        meta: Some(b"foo".to_vec()),
        ..alive("test", 2, 9000, 2, &vsn())
    };
    m.alive_node(T0, conflicting.clone(), None, false);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive, "should still be alive");
    assert!(s.meta.is_empty(), "meta should still be empty");
    assert_ne!(*s.addr, [127, 0, 0, 2], "address should not be updated");
    assert_ne!(s.port, 9000, "port should not be updated");
    assert_eq!(m.broadcasts().len(), 0);

    m.dead_node(T0, dead("test", 2, ""), None);
    m.broadcasts_mut().reset();
    assert_eq!(state(&m, "test").state, NodeState::Dead);

    // Go sleeps DeadNodeReclaimTime (and some) before the new alive.
    let later = T0 + ms(10) + Duration::from_nanos(1);
    m.alive_node(
        later,
        Alive {
            incarnation: 3,
            ..conflicting
        },
        None,
        false,
    );
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.meta, b"foo", "meta should be updated");
    assert_eq!(*s.addr, [127, 0, 0, 2], "address should be updated");
    assert_eq!(s.port, 9000, "port should be updated");
}

// TestMemberList_SuspectNode_NoNode
#[test]
fn suspect_node_no_node() {
    let mut m = standalone(test_config("local"));
    m.suspect_node(T0, suspect("test", 1, ""));
    assert_eq!(m.table().len(), 1, "only the local node");
    assert!(m.table().get("test").is_none());
}

// TestMemberList_SuspectNode
#[test]
fn suspect_node() {
    let mut m = standalone(Config {
        probe_interval: ms(1),
        // Go leaves ProbeTimeout at 500 ms; ours must be shorter than the
        // interval.
        probe_timeout: Duration::from_micros(500),
        suspicion_mult: 1,
        ..test_config("local")
    });
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));

    m.suspect_node(T0, suspect("test", 1, ""));
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Suspect);
    let change = s.state_change;
    assert_eq!(change, T0);
    assert_eq!(queued_types(&m), [MessageType::Suspect as u8]);

    // Wait for the timeout.
    advance(&mut m, T0 + ms(10));
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Dead);
    assert!(s.state_change > change, "should increment time");
    assert!(s.state_change <= T0 + ms(10));
    assert_eq!(queued_types(&m), [MessageType::Dead as u8]);
}

// TestMemberList_SuspectNode_DoubleSuspect
#[test]
fn suspect_node_double_suspect() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));

    let s = suspect("test", 1, "");
    m.suspect_node(T0, s.clone());
    assert_eq!(state(&m, "test").state, NodeState::Suspect);
    let change = state(&m, "test").state_change;
    assert_eq!(change, T0);
    m.broadcasts_mut().reset();

    // Suspect again.
    m.suspect_node(T0 + ms(5), s);
    assert_eq!(state(&m, "test").state_change, change);
    assert_eq!(m.broadcasts().len(), 0);
}

// TestMemberList_SuspectNode_OldSuspect
#[test]
fn suspect_node_old_suspect() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 10, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));
    m.broadcasts_mut().reset();

    m.suspect_node(T0, suspect("test", 1, ""));
    assert_eq!(state(&m, "test").state, NodeState::Alive);
    assert_eq!(m.broadcasts().len(), 0);
}

// TestMemberList_SuspectNode_Refute
#[test]
fn suspect_node_refute() {
    let mut m = standalone(test_config("local"));
    assert_eq!(m.health_score(), 0);

    m.suspect_node(T0, suspect("local", 1, ""));
    assert_eq!(state(&m, "local").state, NodeState::Alive);
    assert_eq!(queued_types(&m), [MessageType::Alive as u8]);
    assert_eq!(m.health_score(), 1, "health should have been dinged");
}

// TestMemberList_DeadNode_NoNode
#[test]
fn dead_node_no_node() {
    let mut m = standalone(test_config("local"));
    m.dead_node(T0, dead("test", 1, ""), None);
    assert_eq!(m.table().len(), 1, "only the local node");
    assert!(m.table().get("test").is_none());
}

// TestMemberList_DeadNodeLeft
#[test]
fn dead_node_left() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("node1", 1, 8000, 1, &vsn()), None, false);
    assert!(matches!(&go_events(&mut m)[..], [Event::Join(_)]));

    m.dead_node(T0, dead("node1", 1, "node1"), None);
    assert!(matches!(
        &go_events(&mut m)[..],
        [Event::Leave(n, LeaveReason::Left)] if n.name == "node1"
    ));
    assert_eq!(state(&m, "node1").state, NodeState::Left);
    assert_eq!(queued_types(&m), [MessageType::Dead as u8]);

    // A left node's name may come back from another address.
    let s2 = Alive {
        meta: Some(b"foo".to_vec()),
        ..alive("node1", 2, 9000, 3, &vsn())
    };
    m.alive_node(T0, s2, None, false);
    assert!(matches!(&go_events(&mut m)[..], [Event::Join(_)]));
    let s = state(&m, "node1");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!(s.meta, b"foo", "meta should be updated");
    assert_eq!(*s.addr, [127, 0, 0, 2], "address should be updated");
    assert_eq!(s.port, 9000, "port should be updated");
}

// TestMemberList_DeadNode
#[test]
fn dead_node() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    assert!(matches!(&go_events(&mut m)[..], [Event::Join(_)]));
    set_state_change(&mut m, "test", an_hour_before(T0));

    m.dead_node(T0, dead("test", 1, ""), None);
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Dead);
    assert_eq!(s.state_change, T0);
    let events = go_events(&mut m);
    assert!(
        matches!(&events[..], [Event::Leave(n, LeaveReason::Failed)] if n.name == "test"),
        "no leave message: {events:?}"
    );
    assert_eq!(queued_types(&m), [MessageType::Dead as u8]);
}

// TestMemberList_DeadNode_Double
#[test]
fn dead_node_double() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 1, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));
    m.dead_node(T0, dead("test", 1, ""), None);
    m.broadcasts_mut().reset();
    // Listen only after the first dead.
    go_events(&mut m);

    m.dead_node(T0, dead("test", 2, ""), None);
    assert!(go_events(&mut m).is_empty(), "should not get leave");
    assert_eq!(m.broadcasts().len(), 0);
}

// TestMemberList_DeadNode_OldDead
#[test]
fn dead_node_old_dead() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 1, 0, 10, &vsn()), None, false);
    set_state_change(&mut m, "test", an_hour_before(T0));

    m.dead_node(T0, dead("test", 1, ""), None);
    assert_eq!(state(&m, "test").state, NodeState::Alive);
}

// TestMemberList_DeadNode_AliveReplay
#[test]
fn dead_node_alive_replay() {
    let mut m = standalone(test_config("local"));
    let a = alive("test", 1, 0, 10, &vsn());
    m.alive_node(T0, a.clone(), None, false);
    m.dead_node(T0, dead("test", 10, ""), None);

    // Replay the alive at the same incarnation.
    m.alive_node(T0, a, None, false);
    assert_eq!(state(&m, "test").state, NodeState::Dead);
}

// TestMemberList_DeadNode_Refute
#[test]
fn dead_node_refute() {
    let mut m = standalone(test_config("local"));
    assert_eq!(m.health_score(), 0);

    m.dead_node(T0, dead("local", 1, ""), None);
    assert_eq!(state(&m, "local").state, NodeState::Alive);
    assert_eq!(queued_types(&m), [MessageType::Alive as u8]);
    assert_eq!(m.health_score(), 1, "we should have been dinged");
}

// TestMemberList_MergeState
#[test]
fn merge_state() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test1", 1, 0, 1, &vsn()), None, false);
    m.alive_node(T0, alive("test2", 2, 0, 1, &vsn()), None, false);
    m.alive_node(T0, alive("test3", 3, 0, 1, &vsn()), None, false);
    m.suspect_node(T0, suspect("test1", 1, ""));
    // Listen for changes from here on.
    go_events(&mut m);

    m.merge_state(
        T0,
        vec![
            record("test1", 1, 2, NodeState::Alive),
            record("test2", 2, 1, NodeState::Suspect),
            record("test3", 3, 1, NodeState::Dead),
            record("test4", 4, 2, NodeState::Alive),
        ],
    );

    let s = state(&m, "test1");
    assert_eq!((s.state, s.incarnation), (NodeState::Alive, 2));
    let s = state(&m, "test2");
    assert_eq!((s.state, s.incarnation), (NodeState::Suspect, 1));
    assert_eq!(state(&m, "test3").state, NodeState::Suspect);
    let s = state(&m, "test4");
    assert_eq!((s.state, s.incarnation), (NodeState::Alive, 2));

    let events = go_events(&mut m);
    assert!(
        matches!(&events[..], [Event::Join(n)] if n.name == "test4"),
        "expected exactly one join, for test4: {events:?}"
    );
}

// Not in Go: a node that knew no one else (a joiner) sends what its
// push/pull taught it once each, behind all other news, instead of to the
// retransmit limit: almost everyone knew it already. Go queues the whole
// cluster, and each member would receive every record again, up to the
// limit. A node with other members passes news on as in Go.
#[test]
fn a_joiner_sends_the_cluster_it_learned_once_and_last() {
    let cluster = || {
        vec![
            record("test1", 1, 2, NodeState::Alive),
            record("test2", 2, 1, NodeState::Alive),
        ]
    };
    let mut joiner = standalone(test_config("local"));
    joiner.merge_state(T0, cluster());
    assert_eq!(state(&joiner, "test1").state, NodeState::Alive);
    assert_eq!(state(&joiner, "test2").incarnation, 1);
    let events = go_events(&mut joiner);
    assert_eq!(joined_names(&events), ["test1", "test2"]);
    assert!(queued_types(&joiner).is_empty(), "learned, not news");
    // News made after goes first, and the alive about test1 no more.
    joiner.suspect_node(T0, suspect("test1", 2, "local"));
    let first = joiner.take_broadcasts(T0, 2, 1400, "test2", joiner.reads_of("test2"));
    let types: Vec<u8> = first.iter().map(|b| b[0]).collect();
    let (s, a) = (MessageType::Suspect as u8, MessageType::Alive as u8);
    assert_eq!(types, [s, a]);
    // The learned record goes out as the table holds it.
    let Ok(Message::Alive(learned)) = Message::decode(&first[1], Context::Packet) else {
        panic!("an alive message: {:?}", first[1]);
    };
    assert_eq!((learned.node.as_str(), learned.incarnation), ("test2", 1));
    assert!(learned.vsn.is_empty(), "versions never learned, left out");
    let again = joiner.take_broadcasts(T0, 2, 1400, "test2", joiner.reads_of("test2"));
    assert_eq!(again.iter().map(|b| b[0]).collect::<Vec<_>>(), [s]);

    let limit = 100;
    let mut member = standalone(test_config("local"));
    member.alive_node(T0, alive("peer", 9, 0, 1, &vsn()), None, false);
    member.broadcasts_mut().reset();
    member.merge_state(T0, cluster());
    for _ in 0..limit - 1 {
        member.broadcasts_mut().get_broadcasts(2, 1400, limit);
    }
    assert_eq!(queued_types(&member), [MessageType::Alive as u8; 2]);
}

// A learned record too large for any gossip packet is skipped, and does
// not hold back the ones learned after it.
#[test]
fn a_learned_record_no_packet_holds_is_skipped() {
    let mut config = test_config("local");
    config.udp_buffer_size = 300;
    let mut joiner = standalone(config);
    let mut large = record("large", 1, 1, NodeState::Alive);
    large.meta = Some(vec![b'm'; 400]);
    joiner.merge_state(T0, vec![large, record("small", 2, 1, NodeState::Alive)]);
    let budget = joiner.gossip_budget();
    let reads = joiner.reads_of("small");
    let sent = joiner.take_broadcasts(T0, 2, budget, "small", reads);
    let names: Vec<String> = sent
        .iter()
        .filter_map(|m| match Message::decode(m, Context::Packet) {
            Ok(Message::Alive(a)) => Some(a.node),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["small"]);
}

// Not in Go (hashicorp/memberlist#358): one accusation at an incarnation no
// node could have reached evicts a live node for good there.
#[test]
fn an_accusation_beyond_belief_is_dropped() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 2, 0, 5, &vsn()), None, false);
    m.broadcasts_mut().reset();
    for accusation in [
        Message::Dead(dead("test", u32::MAX, "forger")),
        Message::Suspect(suspect("test", 5 + INCARNATION_LEAP + 1, "forger")),
    ] {
        match accusation {
            Message::Dead(d) => m.dead_node(T0, d, None),
            Message::Suspect(s) => m.suspect_node(T0, s),
            _ => unreachable!(),
        }
        assert_eq!(state(&m, "test").state, NodeState::Alive);
        assert_eq!(state(&m, "test").incarnation, 5);
    }
    assert_eq!(m.stats().dropped.get("implausible incarnation"), Some(&2));
    assert!(queued_types(&m).is_empty(), "nothing passed on");
    // Within the leap an accusation stands, as in Go.
    m.suspect_node(T0, suspect("test", 5 + INCARNATION_LEAP, "peer"));
    assert_eq!(state(&m, "test").state, NodeState::Suspect);
}

#[test]
fn the_local_node_never_refutes_into_a_wrapped_incarnation() {
    let mut m = standalone(test_config("local"));
    // About itself a node believes any accusation (after a restart it may
    // truly be known far higher than its own 1) and refutes, saturating.
    m.dead_node(T0, dead("local", u32::MAX - 1, "peer"), None);
    assert_eq!(state(&m, "local").incarnation, u32::MAX);
    assert_eq!(state(&m, "local").state, NodeState::Alive);
    // At the ceiling it cannot out-bid an accusation: it says so, and
    // never wraps to 0.
    m.suspect_node(T0, suspect("local", u32::MAX, "peer"));
    assert_eq!(state(&m, "local").incarnation, u32::MAX, "no wrap to 0");
    assert_eq!(m.stats().dropped.get("incarnation exhausted"), Some(&1));
}

// hashicorp/memberlist#311: a node held dead at incarnation 100 restarts at
// 1. Go drops its alive; swimlist sends it the accusation, so it refutes.
#[test]
fn a_restarted_node_is_told_what_it_is_accused_of() {
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), None);
    net.start(2, test_config("m2"), None);
    let now = net.now;
    net.m_mut(2).join(now, &[named("m1", addr(1))]);
    net.finish_join(2);
    // m1 holds m2 dead at 100, an accusation m2 never heard and that m1
    // has long finished gossiping.
    let now = net.now;
    net.m_mut(1).dead_node(now, dead("m2", 100, "m3"), None);
    net.m_mut(1).broadcasts_mut().reset();
    assert_eq!(state(net.m(1), "m2").state, NodeState::Dead);
    // m2 restarts: a fresh machine at incarnation 1 that knows m1 (as from
    // a sync with a node that never heard the accusation) and whose alive
    // reaches m1 by gossip.
    net.nodes.remove(&addr(2));
    net.start(2, test_config("m2"), None);
    let now = net.now;
    let m1 = state(net.m(1), "m1").incarnation;
    net.m_mut(2)
        .alive_node(now, alive("m1", 1, 0, m1, &vsn()), None, false);
    let mut packet = Vec::new();
    Message::Alive(alive("m2", 2, 0, 1, &vsn())).encode(crate::wire::Context::Packet, &mut packet);
    net.m_mut(1).handle_packet(now, addr(2), &packet);
    // m1 answers with the accusation; m2 refutes above it, and its next
    // gossip round tells m1.
    net.run_for(Duration::from_secs(1));
    assert!(state(net.m(2), "m2").incarnation > 100);
    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    assert!(state(net.m(1), "m2").incarnation > 100);
}

// Not in Go: a claim that comes too early is kept and applied at the
// reclaim time, so a restarted node need not claim its name again.
#[test]
fn an_early_claim_on_a_dead_name_is_applied_at_the_reclaim_time() {
    let mut m = standalone(Config {
        dead_node_reclaim_time: ms(10),
        ..test_config("local")
    });
    m.alive_node(T0, alive("test", 1, 8000, 1, &vsn()), None, false);
    m.dead_node(T0, dead("test", 1, "local"), None);
    assert_eq!(state(&m, "test").state, NodeState::Dead);
    let restarted = alive("test", 2, 9000, 1, &vsn());
    m.alive_node(T0 + ms(1), restarted, None, false);
    assert_eq!(state(&m, "test").state, NodeState::Dead, "too early");
    advance(&mut m, T0 + ms(11));
    let s = state(&m, "test");
    assert_eq!(s.state, NodeState::Alive);
    assert_eq!((&*s.addr, s.port), (&[127, 0, 0, 2][..], 9000));
    // A live node's name is still never taken over.
    m.alive_node(T0 + ms(20), alive("test", 3, 7000, 5, &vsn()), None, false);
    advance(&mut m, T0 + ms(100));
    assert_eq!(state(&m, "test").port, 9000);
}

// Not in Go: a suspect that pings this node is told of the suspicion (at
// most once a probe interval), so a node whose link flaps refutes while it
// is up, even once the suspicion's gossip ran out during the outage.
#[test]
fn a_suspect_that_pings_is_told_what_it_is_accused_of() {
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    m.alive_node(T0, alive("other", 3, 0, 1, &vsn()), None, false);
    m.suspect_node(T0, suspect("test", 1, "peer"));
    m.broadcasts_mut().reset();
    discard_output(&mut m);
    let ping = |from: &str| {
        let mut bytes = Vec::new();
        Message::Ping(Ping {
            seq_no: 7,
            node: "local".to_owned(),
            source_node: from.to_owned(),
            ..Ping::default()
        })
        .encode(crate::wire::Context::Packet, &mut bytes);
        bytes
    };
    let told = |m: &mut Membership| -> Vec<(SocketAddr, Message)> {
        datagrams(m)
            .into_iter()
            .flat_map(|(to, d)| {
                let messages = decode_packet(&d, &Inbound::default())
                    .expect("decodable")
                    .messages;
                messages
                    .into_iter()
                    .map(move |msg| (to, msg.expect("valid")))
            })
            .filter(|(_, msg)| !matches!(msg, Message::Ack(_)))
            .collect()
    };
    m.handle_packet(T0 + ms(1), addr(2), &ping("test"));
    let accusation = Message::Suspect(suspect("test", 1, "local"));
    assert_eq!(told(&mut m), [(addr(2), accusation.clone())]);
    m.handle_packet(T0 + ms(2), addr(2), &ping("test"));
    assert_eq!(told(&mut m), [], "once a probe interval");
    let later = T0 + ms(2) + m.config().probe_interval;
    m.handle_packet(later, addr(2), &ping("test"));
    assert_eq!(told(&mut m), [(addr(2), accusation)]);
    // A live member's ping is only answered.
    m.handle_packet(later, addr(3), &ping("other"));
    assert_eq!(told(&mut m), []);
    // The accused refutes what it is told.
    let mut accused = standalone(test_config("test"));
    let mut bytes = Vec::new();
    Message::Suspect(suspect("test", 1, "local")).encode(crate::wire::Context::Packet, &mut bytes);
    accused.handle_packet(later, addr(1), &bytes);
    assert_eq!(state(&accused, "test").incarnation, 2);
}
