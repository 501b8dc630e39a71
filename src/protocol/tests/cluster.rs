//! Whole clusters through the public API: members, join, leave and
//! shutdown, delegates (pings, metadata, user data), messages, versions
//! of the local node, labels, moving to encryption, and the bind port.

use super::*;
use crate::wire::{IndirectPing, PushPull};

// TestMemberList_Members
#[test]
fn members() {
    let mut m = standalone(test_config("local"));
    let records = [
        ("test", NodeState::Alive),
        ("test2", NodeState::Dead),
        ("test3", NodeState::Suspect),
    ]
    .map(|(name, state)| NodeRecord {
        name: name.into(),
        addr: WireIp::new(&[127, 0, 0, 1]),
        port: PORT,
        meta: Vec::new(),
        incarnation: 1,
        state,
        state_change: T0,
        vsn: [1, 5, 2, 0, 0, 0],
        features: Features::NONE,
    });
    m.replace_table(records);
    let mut names: Vec<String> = m.members().into_iter().map(|n| n.name).collect();
    names.sort();
    assert_eq!(names, ["test", "test3"]);
    assert_eq!(m.num_members(), 2);
}

// TestMemberlist_Join
#[test]
fn join() {
    let (net, joined, errors) = joined_pair(|c| c);
    assert_eq!(joined, 1);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(net.m(2).members().len(), 2);
    assert_eq!(net.m(2).estimated_size(), 2);
}

// TestMemberlist_Leave
#[test]
fn leave() {
    let (mut net, joined, _) = joined_pair(|c| Config {
        gossip_interval: ms(1),
        ..c
    });
    assert_eq!(joined, 1);
    assert_eq!(net.m(1).members().len(), 2);
    assert_eq!(net.m(2).members().len(), 2);

    let now = net.now;
    let token = net
        .m_mut(1)
        .leave(now)
        .expect("m2 is live, so the leave must be awaited");
    // Go's Leave(time.Second) returns without error: the broadcast is done.
    let limit = now + Duration::from_secs(1);
    while !net.done.contains(&(addr(1), token)) {
        assert!(net.step(limit), "timeout waiting for leave broadcast");
    }
    net.run_for(ms(10));

    assert_eq!(net.m(1).members().len(), 1);
    assert_eq!(net.m(2).members().len(), 1);
    assert_eq!(state(net.m(2), "m1").state, NodeState::Left);
}

// TestMemberlist_JoinShutdown
#[test]
fn join_shutdown() {
    let (mut net, joined, _) = joined_pair(|c| Config {
        probe_interval: ms(1),
        probe_timeout: Duration::from_micros(100),
        suspicion_max_timeout_mult: 1,
        ..c
    });
    assert_eq!(joined, 1);
    assert_eq!(net.m(2).members().len(), 2);

    // Shutdown: m1 just disappears.
    net.nodes.remove(&addr(1));
    net.run_for(ms(10));
    assert_eq!(net.m(2).members().len(), 1);
}

// TestMemberlist_PingDelegate
#[test]
fn ping_delegate() {
    let delegates: Vec<Arc<Recorder>> = (0..2)
        .map(|_| {
            Arc::new(Recorder {
                ack_payload: Some(b"whatever".to_vec()),
                ..Recorder::default()
            })
        })
        .collect();
    let (mut net, joined, _) = joined_pair_with(
        |c| Config {
            probe_interval: ms(100),
            // Go keeps the 500 ms default; ours must not exceed the interval.
            probe_timeout: ms(50),
            ..c
        },
        |host| Some(delegates[usize::from(host) - 1].clone()),
    );
    assert_eq!(joined, 1);
    assert_eq!(net.m(1).num_members(), 2);
    assert_eq!(net.m(2).num_members(), 2);

    net.run_for(2 * ms(100));

    let log = delegates[1].log();
    let (other, rtt, payload) = log.pings.last().expect("should get notified");
    assert_eq!(Some(other), net.m(1).local_node().as_ref());
    assert!(*rtt > Duration::ZERO, "rtt should be greater than 0");
    assert_eq!(payload, b"whatever");
}

fn roles(m: &Membership) -> BTreeMap<String, String> {
    m.members()
        .into_iter()
        .map(|n| (n.name, String::from_utf8(n.meta).expect("utf-8 meta")))
        .collect()
}

fn expect_roles(net: &Net, m1: &str, m2: &str) {
    for host in [1, 2] {
        let roles = roles(net.m(host));
        assert_eq!(roles.len(), 2, "bad: {roles:?}");
        assert_eq!(roles["m1"], m1, "bad role for m1 on node {host}");
        assert_eq!(roles["m2"], m2, "bad role for m2 on node {host}");
    }
}

/// m1 ("web") joins m2 ("lb"), both with metadata delegates; then Go's
/// `yield()`.
fn meta_pair() -> (Net, Arc<Recorder>, Arc<Recorder>) {
    let d1 = Arc::new(Recorder::mock(b"web", b"", &[]));
    let d2 = Arc::new(Recorder::mock(b"lb", b"", &[]));
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), Some(d1.clone()));
    net.start(2, test_config("m2"), Some(d2.clone()));
    let now = net.now;
    net.m_mut(1).join(
        now,
        &[JoinTarget {
            addr: addr(2),
            name: Some("m2".to_owned()),
        }],
    );
    assert_eq!(net.finish_join(1).joined, 1);
    net.run_for(ms(250));
    (net, d1, d2)
}

// TestMemberlist_delegateMeta
#[test]
fn delegate_meta() {
    let (net, _, _) = meta_pair();
    expect_roles(&net, "web", "lb");
}

// TestMemberlist_delegateMeta_Update
#[test]
fn delegate_meta_update() {
    let (mut net, d1, d2) = meta_pair();
    d1.log().meta = b"api".to_vec();
    d2.log().meta = b"db".to_vec();
    let now = net.now;
    for (host, d) in [(1, &d1), (2, &d2)] {
        let meta = d.node_meta(crate::wire::META_MAX_SIZE);
        net.m_mut(host)
            .update_node(now, meta)
            .expect("metadata fits");
    }
    net.run_for(ms(250));
    expect_roles(&net, "api", "db");
}

// TestMemberlist_UserData
#[test]
fn user_data() {
    let fast = |c: Config| Config {
        gossip_interval: ms(100),
        push_pull_interval: Some(ms(100)),
        ..c
    };
    let broadcasts: [&[u8]; 2] = [b"test", b"foobar"];
    let d1 = Arc::new(Recorder::mock(b"", b"something", &[]));
    let d2 = Arc::new(Recorder::mock(b"", b"my state", &broadcasts));
    let delegates = [d1.clone(), d2.clone()];
    let (mut net, joined, _) =
        joined_pair_with(fast, |host| Some(delegates[usize::from(host) - 1].clone()));
    assert_eq!(joined, 1);
    assert_eq!(net.m(2).num_members(), 2);

    let limit = net.now + Duration::from_secs(5);
    let arrived = || {
        let mut msgs = d1.log().msgs.clone();
        msgs.sort();
        msgs == [b"foobar".to_vec(), b"test".to_vec()]
            && d1.log().remote_state == b"my state"
            && d2.log().remote_state == b"something"
    };
    while !arrived() {
        assert!(net.step(limit), "user data never arrived");
    }
}

// TestMemberlist_SendTo, and TestTransport_Send's best-effort and reliable
// sends.
#[test]
fn send_to() {
    let fast = |c: Config| Config {
        gossip_interval: ms(1),
        push_pull_interval: Some(ms(1)),
        ..c
    };
    let d1 = Arc::new(Recorder::mock(b"", b"", &[]));
    let d2 = Arc::new(Recorder::mock(b"", b"", &[]));
    let delegates = [d1.clone(), d2.clone()];
    let (mut net, joined, _) =
        joined_pair_with(fast, |host| Some(delegates[usize::from(host) - 1].clone()));
    assert_eq!(joined, 1);
    assert_eq!(net.m(2).num_members(), 2);

    net.m_mut(1)
        .send_best_effort(addr(2), "m2", b"ping")
        .expect("send");
    net.m_mut(2)
        .send_best_effort(addr(1), "m1", b"pong")
        .expect("send");
    net.run_for(ms(12));
    assert_eq!(d1.log().msgs, [b"pong".to_vec()]);
    assert_eq!(d2.log().msgs, [b"ping".to_vec()]);

    let now = net.now;
    net.m_mut(1)
        .send_reliable(now, addr(2), "m2", b"reliable")
        .expect("send");
    net.run_for(ms(12));
    assert_eq!(d2.log().msgs, [b"ping".to_vec(), b"reliable".to_vec()]);

    // With names required, a send without one is refused.
    assert!(net.m_mut(1).send_best_effort(addr(2), "", b"x").is_err());
}

// TestCreate: the local member carries the protocol and delegate versions.
#[test]
fn create() {
    let m = standalone(Config {
        protocol_version: 3,
        delegate_protocol_min: 1,
        delegate_protocol_max: 3,
        delegate_protocol_version: 2,
        ..test_config("local")
    });
    let local = m.local_node().expect("local node");
    assert_eq!(local.versions, [1, 5, 3, 1, 3, 2]);
}

// A Port of 0 in an indirect ping, alive, or push/pull record is always
// replaced by the receiver's own BindPort (Go: handleAlive,
// handleIndirectPing, mergeRemoteState use `m.config.BindPort`). Not a Go
// test; it only matters when the advertised port differs from the bound
// one (NAT, `advertise_port`).
#[test]
fn zero_port_means_bind_port() {
    let advertised = SocketAddr::new(ip(1), 8000);
    let mut m = Membership::new(
        test_config("local"),
        Vec::new(),
        HostQueries::none(),
        advertised,
        [1; 32],
        T0,
    )
    .expect("valid config");
    m.clear_timers();
    discard_output(&mut m);

    // An alive packet.
    let mut packet = Vec::new();
    Message::Alive(alive("test", 5, 0, 1, &vsn()))
        .encode(crate::wire::Context::Packet, &mut packet);
    m.handle_packet(T0, addr(5), &packet);
    let mut wrong = Vec::new();
    if state(&m, "test").port != PORT {
        wrong.push(("alive", state(&m, "test").port));
    }

    // An indirect ping: the relayed ping goes to the target at BindPort.
    let req = IndirectPing {
        seq_no: 7,
        target: vec![127, 0, 0, 9],
        port: 0,
        node: "target".to_owned(),
        nack: false,
        source_addr: vec![127, 0, 0, 5],
        source_port: PORT,
        source_node: "test".to_owned(),
    };
    let mut packet = Vec::new();
    Message::IndirectPing(req).encode(crate::wire::Context::Packet, &mut packet);
    m.handle_packet(T0, addr(5), &packet);
    let relayed: Vec<SocketAddr> = datagrams(&mut m).into_iter().map(|(to, _)| to).collect();
    assert_eq!(relayed.len(), 1);
    if relayed[0] != addr(9) {
        wrong.push(("indirect ping", relayed[0].port()));
    }

    // A push/pull record.
    let remote = PushPull {
        join: false,
        nodes: vec![PushNodeState {
            vsn: vsn(),
            ..record("other", 6, 1, NodeState::Alive)
        }],
        user_state: Vec::new(),
    };
    m.merge_remote_state(T0, false, remote, None)
        .expect("compatible versions");
    if state(&m, "other").port != PORT {
        wrong.push(("push/pull record", state(&m, "other").port));
    }
    assert!(wrong.is_empty(), "ports used instead of {PORT}: {wrong:?}");
}

/// Go's `waitUntilSize`: up to 15 tries 500 ms apart.
fn wait_until_size(net: &mut Net, at: SocketAddr, expected: usize) {
    let limit = net.now + ms(7_500);
    while net.nodes[&at].num_members() != expected {
        assert!(
            net.step(limit),
            "{} expected to have {expected} members but had: {:?}",
            net.nodes[&at].name(),
            net.nodes[&at].members()
        );
    }
}

// TestMemberlist_EncryptedGossipTransition: moving a two-node cluster from
// plaintext to enforced encryption one restart at a time (key installed
// without verification, then outgoing verified, then incoming too) keeps
// it joinable at every step. Each restart is a leave, a shutdown and a new
// node at the same address with the same name, which must refute the
// "left" record the other node still holds.
#[test]
fn encrypted_gossip_transition() {
    // Go passes the base64 text itself as a 24-byte AES-192 key.
    const KEY: &[u8] = b"Hi16ZXu2lNCRVwtr20khAg==";
    let (a0, a1) = (addr(10), addr(11));
    let name = |at: SocketAddr| if at == a0 { "m0" } else { "m1" };
    let stage_config = |at: SocketAddr, stage: usize| {
        let c = Config {
            gossip_interval: ms(100),
            ..config(name(at))
        };
        if stage == 0 {
            return c;
        }
        Config {
            gossip_verify_incoming: stage >= 3,
            gossip_verify_outgoing: stage >= 2,
            ..c.with_secret_key(KEY).expect("valid key")
        }
    };
    let join_ok = |net: &mut Net, src: SocketAddr, dst: SocketAddr| {
        assert_eq!(join_at(net, src, vec![named(name(dst), dst)]), (1, 0));
        wait_until_size(net, src, 2);
        wait_until_size(net, dst, 2);
        for at in [src, dst] {
            let m = &net.nodes[&at];
            assert_eq!(m.members().len(), 2, "{}: {:?}", m.name(), m.members());
            assert_eq!(m.estimated_size(), 2, "{}: {:?}", m.name(), m.members());
        }
    };
    let leave_and_shutdown = |net: &mut Net, leaver: SocketAddr, bystander: SocketAddr| {
        let now = net.now;
        let m = net.nodes.get_mut(&leaver).expect("running");
        if let Some(token) = m.leave(now) {
            let limit = now + Duration::from_secs(1);
            while !net.done.contains(&(leaver, token)) {
                assert!(net.step(limit), "timeout waiting for leave broadcast");
            }
        }
        wait_until_size(net, bystander, 1);
        net.nodes.remove(&leaver);
        wait_until_size(net, bystander, 1);
    };

    let mut net = Net::new(LOOPBACK);
    net.start_at(a0, stage_config(a0, 0), None);
    net.start_at(a1, stage_config(a1, 0), None);
    join_ok(&mut net, a1, a0);

    for stage in 1..=3 {
        leave_and_shutdown(&mut net, a0, a1);
        net.start_at(a0, stage_config(a0, stage), None);
        join_ok(&mut net, a0, a1);

        leave_and_shutdown(&mut net, a1, a0);
        net.start_at(a1, stage_config(a1, stage), None);
        join_ok(&mut net, a1, a0);
    }

    // Locked down: every datagram is now encrypted.
    net.sent.clear();
    net.run_for(Duration::from_secs(1));
    assert!(!net.sent.is_empty());
    let keyring = net.nodes[&a0].config().keyring.clone();
    let inbound = Inbound {
        keyring: Some(&keyring),
        verify_incoming: true,
        ..Inbound::default()
    };
    for d in &net.sent {
        let packet = decode_packet(&d.bytes, &inbound).expect("decryptable");
        assert!(
            matches!(
                packet.layers.first(),
                Some(crate::wire::Layer::Encryption { .. })
            ),
            "plaintext datagram from {} to {}",
            d.from,
            d.to
        );
    }
}

// TestMemberlist_Join_with_Labels / _and_Encryption (HEAD only, from the
// catalogue): nodes with the same label join; a node without a label or
// with another label cannot, and leaves the others' state unchanged.
#[test]
fn join_with_labels() {
    for encrypted in [false, true] {
        let labelled = |name: &str, label: &str| {
            let c = Config {
                label: label.to_owned(),
                ..test_config(name)
            };
            if encrypted {
                c.with_secret_key(&[7; 16]).expect("valid key")
            } else {
                c
            }
        };
        let mut net = Net::new(LOOPBACK);
        net.start(1, labelled("m1", "blah"), None);
        net.start(2, labelled("m2", "blah"), None);
        assert_eq!(
            join_at(&mut net, addr(2), vec![named("m1", addr(1))]),
            (1, 0),
            "same label (encrypted: {encrypted})"
        );
        assert_eq!(net.m(1).num_members(), 2);
        assert_eq!(net.m(2).num_members(), 2);

        for (host, label) in [(3, ""), (4, "other")] {
            let name = format!("m{host}");
            net.start(host, labelled(&name, label), None);
            let (joined, errors) = join_at(&mut net, addr(host), vec![named("m1", addr(1))]);
            assert_eq!(
                (joined, errors),
                (0, 1),
                "label {label:?} (encrypted: {encrypted})"
            );
            assert_eq!(net.m(host).num_members(), 1);
            net.run_for(ms(250));
            assert_eq!(net.m(1).num_members(), 2);
            assert_eq!(net.m(2).num_members(), 2);
            assert!(net.m(1).table().get(&name).is_none());
        }
    }
}

/// Readiness events (`Settled`, `Unsettled`) a node has emitted, in order.
fn readiness(net: &Net, host: u8) -> Vec<&'static str> {
    net.events
        .get(&addr(host))
        .into_iter()
        .flatten()
        .filter(|e| matches!(e, Event::Settled(_) | Event::Unsettled(_)))
        .map(Event::kind)
        .collect()
}

#[test]
fn nodes_settle_after_a_sync_and_a_quiet_period_and_unsettle_alone() {
    let (mut net, joined, _) = joined_pair(|c| c);
    assert_eq!(joined, 1);
    let quiet = net.m(1).config().gossip_interval * crate::protocol::SETTLE_ROUNDS;
    // Not before the quiet period after the last news (the join)...
    net.run_for(quiet / 2);
    assert!(!net.m(2).is_settled() && readiness(&net, 2).is_empty());
    // ...both sides after it: the seed synced too (it answered the join).
    net.run_for(quiet);
    for host in [1, 2] {
        assert!(net.m(host).is_settled(), "m{host}");
        assert_eq!(readiness(&net, host), ["settled"], "m{host}");
    }
    // A lone node is never settled: m1 crashes, m2 declares it dead.
    net.nodes.remove(&addr(1));
    net.run_for(Duration::from_secs(30));
    assert!(!net.m(2).is_settled());
    assert_eq!(readiness(&net, 2), ["settled", "unsettled"]);
    // A lone node that never synced never settles.
    let mut alone = Net::new(LOOPBACK);
    alone.start(1, test_config("m1"), None);
    alone.run_for(Duration::from_secs(30));
    assert!(!alone.m(1).is_settled() && readiness(&alone, 1).is_empty());
}
