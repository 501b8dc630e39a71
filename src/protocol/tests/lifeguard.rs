//! Lifeguard: suspicion timeouts shortened by independent confirmations,
//! the health awareness that slows a node's failure detector, and a host
//! lagging behind that blames itself instead of its peers.

use super::*;

// TestMemberList_ProbeNode_Suspect_Dogpile (also ported at the timer level
// in suspicion.rs): here through probe, suspect handling and timers.
#[test]
fn probe_node_suspect_dogpile() {
    const FUDGE: Duration = ms(25);
    // (peers, confirmations, Go's expected timeout); the cluster is the
    // peers plus the local node.
    let cases = [
        (1, 0, 500),
        (2, 0, 500),
        (3, 0, 500),
        (4, 0, 1000),
        (5, 0, 1000),
        (5, 1, 750),
        (5, 2, 604),
        (5, 3, 500),
        (5, 4, 500),
    ];
    for (peers, confirmations, expected) in cases {
        let case = format!("n={}, {confirmations} confirmations", peers + 1);
        let mut m = standalone(Config {
            suspicion_mult: 5,
            suspicion_max_timeout_mult: 2,
            ..fast_probes("local", ms(1), ms(100))
        });
        for j in 0..peers - 1 {
            let peer = alive(&format!("live{j}"), 10 + j, PORT, 1, &vsn());
            m.alive_node(T0, peer, None, false);
        }
        // The last peer never answers (nothing here does).
        m.alive_node(T0, alive("bad", 99, PORT, 1, &vsn()), None, false);

        m.probe_node(T0, "bad");
        let deadline = m.probe().expect("probe in flight").deadline;
        advance(&mut m, deadline);
        assert_eq!(state(&m, "bad").state, NodeState::Suspect, "{case}");

        for j in 0..confirmations {
            m.suspect_node(deadline, suspect("bad", 1, &format!("peer{j}")));
        }
        let expected = ms(expected);
        advance(&mut m, deadline + (expected - FUDGE));
        assert_eq!(state(&m, "bad").state, NodeState::Suspect, "{case}");
        advance(&mut m, deadline + expected + FUDGE);
        assert_eq!(state(&m, "bad").state, NodeState::Dead, "{case}");
    }
}

// TestMemberList_ProbeNode_Awareness_Degraded
#[test]
fn probe_node_awareness_degraded() {
    let mut net = probe_cluster(|n| fast_probes(n, ms(10), ms(200)));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &vsn()), None, false);
    // m4 never starts.
    m1.alive_node(
        now,
        alive("m4", 4, PORT, 1, &[1, 5, 1, 1, 1, 1]),
        None,
        false,
    );

    // Start the health in a degraded state.
    m1.awareness_mut().apply_delta(1);
    assert_eq!(m1.health_score(), 1);

    m1.probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    // The slowed-down failure detector waited for twice the interval.
    let probe_time = net.now - now;
    assert!(
        probe_time >= 2 * ms(200) - ms(50),
        "probed too quickly: {probe_time:?}"
    );
    assert!(
        net.m(2).seq() == 1 || net.m(3).seq() == 1,
        "bad seqnos {}, {}",
        net.m(2).seq(),
        net.m(3).seq()
    );
    // Both peers nacked, so the score stays where it was.
    assert_eq!(net.m(1).health_score(), 1);
}

// TestMemberList_ProbeNode_Wrong_VSN
#[test]
fn probe_node_wrong_vsn() {
    let mut net = probe_cluster(|n| fast_probes(n, ms(10), ms(200)));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m4", 4, PORT, 1, &[0; 6]), None, false);
    m1.awareness_mut().apply_delta(1);
    assert_eq!(m1.health_score(), 1);

    assert!(
        m1.table().get("m4").is_none(),
        "m4 must be ignored because of its wrong versions"
    );
}

// TestMemberList_ProbeNode_Awareness_Improved
#[test]
fn probe_node_awareness_improved() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(10), ms(200)));
    net.start_quiet(2, config("m2"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.awareness_mut().apply_delta(1);
    assert_eq!(m1.health_score(), 1);

    m1.probe_node(now, "m2");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m2").state, NodeState::Alive);
    // A good probe improves the score.
    assert_eq!(net.m(1).health_score(), 0);
}

// TestMemberList_ProbeNode_Awareness_MissedNack
#[test]
fn probe_node_awareness_missed_nack() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(1, fast_probes("m1", ms(10), ms(200)));
    net.start_quiet(2, fast_probes("m2", ms(10), ms(200)));
    // m3 and m4 never start.
    let now = net.now;
    let m1 = net.m_mut(1);
    for (name, host) in [("m2", 2), ("m3", 3), ("m4", 4)] {
        m1.alive_node(now, alive(name, host, PORT, 1, &vsn()), None, false);
    }
    assert_eq!(m1.health_score(), 0);

    m1.probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    let probe_time = net.now - now;
    assert!(
        probe_time <= ms(200) + ms(50),
        "took too long: {probe_time:?}"
    );
    // Dinged for the nack m3 never sent.
    assert_eq!(net.m(1).health_score(), 1);
}

// TestMemberList_ProbeNode_Awareness_OldProtocol
#[test]
fn probe_node_awareness_old_protocol() {
    let mut net = probe_cluster(config);
    let now = net.now;
    let m1 = net.m_mut(1);
    // No versions anywhere: nobody is asked for nacks. m4 never starts.
    for (name, host) in [("m2", 2), ("m3", 3), ("m4", 4)] {
        m1.alive_node(now, alive(name, host, PORT, 1, &[]), None, false);
    }
    assert_eq!(m1.health_score(), 0);

    m1.probe_node(now, "m4");
    net.finish_probe(1);
    assert_eq!(state(net.m(1), "m4").state, NodeState::Suspect);
    let probe_time = net.now - now;
    assert!(
        probe_time <= ms(200) + ms(20),
        "took too long: {probe_time:?}"
    );

    net.run_for(ms(220));
    assert!(
        net.m(2).seq() == 1 || net.m(3).seq() == 1,
        "bad seqnos {}, {}",
        net.m(2).seq(),
        net.m(3).seq()
    );
    // With the old protocol a failed probe dings us.
    assert_eq!(net.m(1).health_score(), 1);
}

// Beyond Go: a node whose host lags behind in handing over datagrams
// blames itself for failed probes, and puts off expiring suspicions.
#[test]
fn a_lagging_node_blames_itself_not_its_peers() {
    let lagging = ms(400); // twice that reaches the 500 ms probe timeout
    let (mut net, joined, _) = joined_pair(|c| c);
    assert_eq!(joined, 1);
    net.nodes.remove(&addr(2));
    net.m_mut(1).set_local_lag(lagging);
    net.run_for(Duration::from_secs(5));
    let m1 = net.m(1);
    assert_eq!(m1.stats().failed_probes, 0);
    assert!(m1.stats().inconclusive_probes > 0);
    assert!(m1.health_score() > 0, "the node counts it against itself");
    assert_eq!(state(m1, "m2").state, NodeState::Alive);

    // Keeping up again, it suspects m2; lagging once more before the
    // suspicion runs out, it holds off declaring m2 dead.
    net.m_mut(1).set_local_lag(Duration::ZERO);
    while state(net.m(1), "m2").state == NodeState::Alive {
        assert!(
            net.step(net.now + Duration::from_secs(30)),
            "m2 never suspected"
        );
    }
    net.m_mut(1).set_local_lag(lagging);
    net.run_for(Duration::from_secs(120));
    assert_eq!(state(net.m(1), "m2").state, NodeState::Suspect);
    assert!(net.m(1).stats().deferred_suspicions > 0);

    net.m_mut(1).set_local_lag(Duration::ZERO);
    net.run_for(Duration::from_secs(5));
    assert_eq!(state(net.m(1), "m2").state, NodeState::Dead);
}
