//! Push/pull and joins: the state exchange, what refuses it (protocol
//! versions, delegates, name conflicts, disallowed networks), lost dials,
//! and the catch-up sync after a join that taught new members.

use super::*;
use crate::wire::PushPull;

/// One push/pull with a random live node, as Go's `m.pushPull()`.
fn push_pull_once(m: &mut Membership, now: Instant) {
    m.push_pull_tick(now);
    m.clear_timers();
}

// TestMemberlist_PushPull. Go expects two events on m2; the second is the
// join m2 fires about itself (see `gossip` in gossip.rs). HEAD also checks
// metrics; the stream counters stand in for them.
#[test]
fn push_pull() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(
        1,
        Config {
            gossip_interval: Duration::from_secs(10),
            push_pull_interval: Some(ms(1)),
            ..config("m1")
        },
    );
    net.start_quiet(
        2,
        Config {
            gossip_interval: Duration::from_secs(10),
            ..config("m2")
        },
    );
    let now = net.now;
    net.m_mut(1)
        .alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);

    push_pull_once(net.m_mut(1), now);
    net.run_for(ms(3));

    assert_eq!(net.dialed, [(addr(1), addr(2))]);
    assert_eq!(joined_names(&net.go_events(2)), ["m1"]);
    assert_eq!(state(net.m(2), "m1").state, NodeState::Alive);
    assert_eq!(net.m(1).stats().streams_out, 1);
    assert_eq!(net.m(2).stats().streams_in, 1);
}

/// Go's `testVerifyProtocolSingle`: local nodes with versions `a`, remote
/// push/pull records (alive, names "node i") with versions `b`.
fn verify_protocol_single(a: &[[u8; 6]], b: &[[u8; 6]]) -> Result<(), JoinError> {
    let mut m = standalone(test_config("local"));
    m.replace_table(a.iter().enumerate().map(|(i, v)| NodeRecord {
        name: format!("local {i}").into(),
        addr: WireIp::new(&[127, 0, 0, 1]),
        port: PORT,
        meta: Vec::new(),
        incarnation: 0,
        state: NodeState::Alive,
        state_change: T0,
        vsn: *v,
        features: Features::NONE,
    }));
    let remote = b
        .iter()
        .enumerate()
        .map(|(i, v)| PushNodeState {
            name: format!("node {i}"),
            vsn: v.to_vec(),
            ..PushNodeState::default()
        })
        .collect();
    m.merge_remote_state(
        T0,
        false,
        PushPull {
            join: false,
            nodes: remote,
            user_state: Vec::new(),
        },
        None,
    )
    .map(drop)
}

// TestVerifyProtocol. Documented deviation (`verify_protocol` in
// src/protocol/push_pull.rs): local entries whose six versions are all zero
// never reported versions and are skipped, where Go counts them (so in Go
// such an entry makes every merge fail until it is reaped). That changes one
// direction of the "speaking outside the range" case, whose local side is
// exactly such an entry.
#[test]
fn verify_protocol() {
    type Triples = &'static [[u8; 3]];
    let cases: [(Triples, Triples, bool); 5] = [
        // Both running identical everything.
        (&[[0, 0, 0]], &[[0, 0, 0]], true),
        // One can understand newer, but speaking the same protocol.
        (&[[0, 0, 0]], &[[0, 1, 0]], true),
        // One is speaking outside the range.
        (&[[0, 0, 0]], &[[1, 1, 1]], false),
        // Transitively outside the range.
        (&[[0, 1, 0], [0, 2, 1]], &[[1, 3, 1]], false),
        // Multi-node.
        (&[[0, 3, 2], [0, 2, 0]], &[[0, 2, 1], [0, 5, 0]], true),
    ];
    let core =
        |t: Triples| -> Vec<[u8; 6]> { t.iter().map(|n| [n[0], n[1], n[2], 0, 0, 0]).collect() };
    let app =
        |t: Triples| -> Vec<[u8; 6]> { t.iter().map(|n| [0, 0, 0, n[0], n[1], n[2]]).collect() };
    for (i, (a, b, go_expected)) in cases.into_iter().enumerate() {
        for (what, a, b) in [("core", core(a), core(b)), ("app", app(a), app(b))] {
            for (local, remote) in [(&a, &b), (&b, &a)] {
                let skipped = local.iter().all(|v| *v == [0; 6]);
                let expected = go_expected || skipped;
                let result = verify_protocol_single(local, remote);
                assert_eq!(
                    result.is_ok(),
                    expected,
                    "case {i} ({what}): local {local:?}, remote {remote:?}: {result:?}"
                );
                if skipped && !go_expected {
                    // The deviation: Go refuses this one.
                    assert_eq!(i, 2, "only the out-of-range case deviates");
                }
            }
        }
    }
}

// TestMemberlist_Join_Cancel
#[test]
fn join_cancel() {
    let delegates: Vec<Arc<Recorder>> = (0..2)
        .map(|_| {
            Arc::new(Recorder {
                cancel_merge: Some("Custom merge canceled".to_owned()),
                ..Recorder::default()
            })
        })
        .collect();
    let (net, joined, errors) =
        joined_pair_with(|c| c, |host| Some(delegates[usize::from(host) - 1].clone()));

    assert_eq!(joined, 0);
    assert!(
        errors
            .iter()
            .any(|(_, e)| *e == JoinError::MergeRefused(Refusal::new("Custom merge canceled"))),
        "unexpected errors: {errors:?}"
    );
    assert_eq!(net.m(2).members().len(), 1);
    assert_eq!(net.m(1).members().len(), 1);
    for d in &delegates {
        assert!(d.log().merges > 0, "should invoke delegate");
    }
}

// TestMemberlist_Join_Cancel_Passive
#[test]
fn join_cancel_passive() {
    let delegates: Vec<Arc<Recorder>> = ["m1", "m2"]
        .into_iter()
        .map(|own| {
            Arc::new(Recorder {
                alive_only: Some(own.to_owned()),
                ..Recorder::default()
            })
        })
        .collect();
    let (net, joined, errors) =
        joined_pair_with(|c| c, |host| Some(delegates[usize::from(host) - 1].clone()));

    assert_eq!(joined, 1);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(net.m(2).members().len(), 1);
    assert_eq!(net.m(1).members().len(), 1);
    for d in &delegates {
        assert!(d.log().alives > 0, "should invoke delegate");
    }
}

// TestMemberlist_conflictDelegate. Deliberate deviation: Go's joiner
// merges a cluster that already holds its name (join "succeeds", its own
// conflict delegate fires, and it is never admitted); here the joiner's
// join fails with the name conflict, and the holder's delegate is told.
#[test]
fn conflict_delegate() {
    let recorder = Arc::new(Recorder::default());
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), None);
    // Same name, another address.
    net.start(2, test_config("m1"), Some(recorder.clone()));
    let now = net.now;
    net.m_mut(1).join(
        now,
        &[JoinTarget {
            addr: addr(2),
            name: Some("m1".to_owned()),
        }],
    );
    let result = net.finish_join(1);
    assert_eq!(result.joined, 0);
    assert_eq!(
        result.errors,
        [(
            addr(2),
            JoinError::NameConflict {
                name: "m1".to_owned(),
                holder: addr(2)
            }
        )]
    );
    net.run_for(ms(250));

    let log = recorder.log();
    let (existing, other) = log.conflicts.first().expect("should get notified");
    assert_eq!(existing.name, other.name);
    assert_eq!(existing.addr, ip(2));
    assert_eq!(other.addr, ip(1));
    assert_eq!(net.m(1).members().len(), 1, "the joiner merged nothing");
}

// TestMemberlist_Join_protocolVersions
#[test]
fn join_protocol_versions() {
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), None);
    net.start(2, test_config("m2"), None);
    net.start(
        3,
        Config {
            protocol_version: 5,
            ..test_config("m3")
        },
        None,
    );
    for (host, name) in [(2, "m2"), (3, "m3")] {
        let now = net.now;
        net.m_mut(1).join(
            now,
            &[JoinTarget {
                addr: addr(host),
                name: Some(name.to_owned()),
            }],
        );
        let result = net.finish_join(1);
        assert_eq!(result.joined, 1, "joining {name}: {:?}", result.errors);
        assert!(result.errors.is_empty());
        net.joins.clear();
        // Go's yield().
        net.run_for(ms(250));
    }
    assert_eq!(net.m(1).num_members(), 3);
}

// TestMemberlist_Join_Protocol_Compatibility
#[test]
fn join_protocol_compatibility() {
    for (v1, v2) in [(2, 1), (2, 3), (3, 2), (3, 1)] {
        let (net, joined, errors) = joined_pair_with(
            |c| {
                let version = if c.name == "m1" { v1 } else { v2 };
                Config {
                    protocol_version: version,
                    ..c
                }
            },
            |_| None,
        );
        assert_eq!(joined, 1, "{v1},{v2}: {errors:?}");
        assert_eq!(net.m(2).members().len(), 2, "{v1},{v2}");
        assert_eq!(net.m(1).members().len(), 2, "{v1},{v2}");
    }
}

/// Go's `getBindAddrNet(network)`: 127.0.`network`.`host`.
fn net_addr(network: u8, host: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, network, host)), PORT)
}

fn allowing(name: &str, cidrs: &[&str]) -> Config {
    Config {
        cidrs_allowed: cidrs
            .iter()
            .map(|c| c.parse().expect("valid CIDR"))
            .collect(),
        ..test_config(name)
    }
}

// TestMemberlist_JoinDifferentNetworksUniqueMask
#[test]
fn join_different_networks_unique_mask() {
    let mut net = Net::new(LOOPBACK);
    let (a1, a2) = (net_addr(0, 10), net_addr(1, 11));
    net.start_at(a1, allowing("m1", &["127.0.0.0/8"]), None);
    net.start_at(a2, allowing("m2", &["127.0.0.0/8"]), None);

    assert_eq!(join_at(&mut net, a2, vec![named("m1", a1)]), (1, 0));
    let m2 = &net.nodes[&a2];
    assert_eq!(m2.members().len(), 2);
    assert_eq!(m2.estimated_size(), 2);
}

// TestMemberlist_JoinDifferentNetworksMultiMasks
#[test]
fn join_different_networks_multi_masks() {
    let masks = ["127.0.0.0/24", "127.0.1.0/24"];
    let mut net = Net::new(LOOPBACK);
    let (a1, a2, a3, a4) = (
        net_addr(0, 10),
        net_addr(1, 11),
        net_addr(2, 12),
        net_addr(2, 13),
    );
    net.start_at(a1, allowing("m1", &masks), None);
    net.start_at(a2, allowing("m2", &masks), None);
    assert_eq!(join_at(&mut net, a2, vec![named("m1", a1)]), (1, 0));
    assert_eq!(net.nodes[&a2].members().len(), 2);

    let others_unchanged = |net: &Net| {
        for at in [a1, a2] {
            let m = &net.nodes[&at];
            assert_eq!(m.members().len(), 2, "{} should have 2 nodes", m.name());
            assert_eq!(
                m.estimated_size(),
                2,
                "{} should have 2 est. nodes",
                m.name()
            );
        }
    };

    // A rogue node allowing every network: in Go it completes the push/pull
    // (and so sees the others) but is never admitted; swimlist goes
    // further and refuses the exchange itself, so it sees no one either.
    net.start_at(a3, allowing("m3", &["127.0.0.0/8"]), None);
    assert_eq!(join_at(&mut net, a3, vec![named("m1", a1)]), (0, 1));
    assert_eq!(net.nodes[&a3].members().len(), 1);
    others_unchanged(&net);

    // A rogue whose own mask excludes itself; joining without names fails
    // under `require_node_names` (Go ignores that error), and m1 and m2
    // still do not see it.
    net.start_at(a4, allowing("m4", &masks), None);
    let targets = [a1, a2]
        .into_iter()
        .map(|addr| JoinTarget { addr, name: None })
        .collect();
    join_at(&mut net, a4, targets);
    others_unchanged(&net);

    // And it stays that way while the nodes gossip and probe.
    net.run_for(Duration::from_secs(2));
    others_unchanged(&net);
}

// Beyond Go: a push/pull that teaches a node members it had never seen is
// followed by one catch-up sync; one that teaches nothing is not.
#[test]
fn a_join_that_teaches_members_is_followed_by_one_catch_up_sync() {
    for delay in [Some(ms(500)), None] {
        let mut net = Net::new(LOOPBACK);
        let quiet = |name: &str| Config {
            catch_up_delay: delay,
            push_pull_interval: None,
            ..test_config(name)
        };
        for (host, name) in [(1, "m1"), (2, "m2"), (3, "m3")] {
            net.start(host, quiet(name), None);
        }
        assert_eq!(
            join_at(&mut net, addr(2), vec![named("m1", addr(1))]),
            (1, 0)
        );
        net.run_for(Duration::from_secs(3));
        net.dialed.clear();

        assert_eq!(
            join_at(&mut net, addr(3), vec![named("m1", addr(1))]),
            (1, 0)
        );
        net.run_for(Duration::from_secs(5));
        let by_m3: Vec<SocketAddr> = net
            .dialed
            .iter()
            .filter(|(from, _)| *from == addr(3))
            .map(|&(_, to)| to)
            .collect();
        match delay {
            // The join, then one catch-up with m1 or m2, which taught
            // nothing new, so no more.
            Some(_) => {
                assert_eq!(by_m3.len(), 2, "{by_m3:?}");
                assert!([addr(1), addr(2)].contains(&by_m3[1]), "{by_m3:?}");
            }
            None => assert_eq!(by_m3, [addr(1)]),
        }
        assert_eq!(net.m(3).num_members(), 3);
    }
}

/// Not from Go: a dial whose result never comes (a transport that lost it)
/// still ends, so a join cannot hang on it.
#[test]
fn a_dial_never_reported_expires() {
    let (mut m, id, timeout) = joining_nobody("lonely");
    assert!(matches!(m.poll_transmit(), Some(Transmit::Dial { .. })));
    m.handle_timeout(Instant::ZERO + timeout);
    assert!(m.poll_completion().is_none(), "not before the grace period");
    m.handle_timeout(Instant::ZERO + timeout + Duration::from_secs(2));
    let finished = m.poll_completion().map(|c| match c {
        Completion::Join {
            id: done,
            joined,
            errors,
        } => (done, joined, errors),
        other => panic!("{other:?}"),
    });
    let (done, joined, errors) = finished.expect("the join finished");
    assert_eq!((done, joined), (id, 0));
    assert_eq!(errors[0].1, JoinError::Dial(DialError::Lost), "{errors:?}");
}

/// A lone machine that has just asked to join 10.0.0.2, whose dial no
/// transport will ever report; with the join and the dial timeout.
fn joining_nobody(name: &str) -> (Membership, crate::protocol::JoinId, Duration) {
    let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let config = Config::lan().with_name(name);
    let timeout = config.tcp_timeout;
    let mut m = Membership::new(
        config,
        Vec::new(),
        HostQueries::none(),
        addr,
        [3; 32],
        Instant::ZERO,
    )
    .unwrap();
    discard_output(&mut m);
    let target = JoinTarget {
        addr: "10.0.0.2:7946".parse().unwrap(),
        name: None,
    };
    let id = m.join(Instant::ZERO, &[target]);
    (m, id, timeout)
}

// Beyond Go: a host lagging behind its datagrams may hold the dial's
// result in its queue, so the dial does not expire while it lags.
#[test]
fn a_lagging_host_does_not_give_up_on_a_dial() {
    let (mut m, _, timeout) = joining_nobody("busy");
    let finished = |m: &mut Membership| {
        std::iter::from_fn(|| m.poll_completion()).any(|c| matches!(c, Completion::Join { .. }))
    };
    m.set_local_lag(ms(400));
    let expiry = Instant::ZERO + timeout + Duration::from_secs(2);
    m.handle_timeout(expiry);
    assert!(!finished(&mut m), "expired while lagging");
    m.set_local_lag(Duration::ZERO);
    m.handle_timeout(expiry + Duration::from_secs(2));
    assert!(finished(&mut m), "expired once the host kept up");
}

// Beyond Go: application state over what any peer accepts (20 MiB) is left
// out of the exchange and counted, so that membership still syncs instead
// of every push/pull being refused.
#[test]
fn local_state_beyond_the_peers_limit_is_left_out() {
    let big = vec![7u8; crate::wire::MAX_PUSH_STATE_BYTES + 1];
    let delegates = [
        Arc::new(Recorder::mock(b"", b"small", &[])),
        Arc::new(Recorder::mock(b"", &big, &[])),
    ];
    let (net, joined, errors) =
        joined_pair_with(|c| c, |host| Some(delegates[usize::from(host) - 1].clone()));
    assert_eq!(joined, 1, "{errors:?}");
    assert_eq!(net.m(2).members().len(), 2);
    assert!(
        delegates[0].log().remote_state.is_empty(),
        "m1 got m2's state"
    );
    assert_eq!(delegates[1].log().remote_state, b"small");
    assert_eq!(
        net.m(2).stats().dropped.get("local state too large"),
        Some(&1)
    );
}

/// The compression of `m`'s reply to `request`, sent with `sent`.
fn reply_compression(
    m: &mut Membership,
    request: &Message,
    sent: crate::wire::Compression,
) -> Option<crate::wire::Compression> {
    use crate::wire::{Layer, StreamOutbound};
    let outbound = StreamOutbound {
        dialer: true,
        compression: Some(sent),
        ..StreamOutbound::default()
    };
    let mut bytes = Vec::new();
    crate::wire::seal_stream(request, &outbound, &mut bytes).expect("framed");
    let stream = StreamId::new(7);
    m.handle_stream_request(T0, addr(2), stream, &bytes);
    let reply = std::iter::from_fn(|| m.poll_transmit())
        .find_map(|t| match t {
            Transmit::Reply { stream: s, bytes } if s == stream => bytes,
            _ => None,
        })
        .expect("a reply");
    let decoded = crate::wire::read_stream(&reply, &Inbound::default(), false)
        .expect("decodable")
        .expect("whole");
    assert_eq!(m.lz4_streams_open(), 0, "forgotten once answered");
    decoded.layers.iter().find_map(|l| match l {
        Layer::Compression { algorithm, .. } => Some(*algorithm),
        _ => None,
    })
}

// Beyond Go: a push/pull request that came LZ4-compressed (only swimlist
// peers send LZ4) is answered with LZ4, far cheaper than LZW for a large
// state; any other request is answered as Go would be.
#[test]
fn a_push_pull_reply_is_lz4_only_to_an_lz4_request() {
    use crate::wire::Compression;
    let mut m = standalone(test_config("local"));
    m.alive_node(T0, alive("peer", 2, 0, 1, &vsn()), None, false);
    discard_output(&mut m);
    let request = Message::PushPull(PushPull {
        join: false,
        nodes: vec![PushNodeState {
            vsn: vsn(),
            ..record("peer", 2, 1, NodeState::Alive)
        }],
        user_state: Vec::new(),
    });
    for (sent, expected) in [
        (Compression::Lz4, Compression::Lz4),
        (Compression::Lzw, Compression::Lzw),
    ] {
        let used = reply_compression(&mut m, &request, sent);
        assert_eq!(used, Some(expected), "reply to a {sent:?} request");
    }
}

// Beyond Go: a joiner writes LZW to a seed it knows nothing of, but its
// join carries its own record alone, which says whether it reads LZ4; the
// seed answers with the whole cluster in LZ4 only then. A join carrying
// other records, or from a node that does not advertise LZ4 (every Go
// node), is answered as Go would be.
#[test]
fn a_join_from_a_node_that_reads_lz4_is_answered_with_lz4() {
    use crate::wire::Compression;
    let joiner = |features: Features, others: usize| {
        let mut nodes = vec![PushNodeState {
            vsn: vsn(),
            features,
            ..record("joiner", 2, 1, NodeState::Alive)
        }];
        for k in 0..others {
            nodes.push(PushNodeState {
                vsn: vsn(),
                features,
                ..record(&format!("other-{k}"), 10 + k as u8, 1, NodeState::Alive)
            });
        }
        Message::PushPull(PushPull {
            join: true,
            nodes,
            user_state: Vec::new(),
        })
    };
    for (request, expected, what) in [
        (joiner(Features::LZ4, 0), Compression::Lz4, "an LZ4 joiner"),
        (joiner(Features::NONE, 0), Compression::Lzw, "a Go joiner"),
        (
            joiner(Features::LZ4, 1),
            Compression::Lzw,
            "a joiner that knows others",
        ),
    ] {
        let mut m = standalone(test_config("local"));
        let used = reply_compression(&mut m, &request, Compression::Lzw);
        assert_eq!(used, Some(expected), "{what}");
    }
}

// Beyond Go: partition healing keeps push/pulling with dead nodes after the
// table forgets them. One that advertised LZ4 still gets LZ4: each attempt
// carries the whole state, in every node that remembers the dead one, and
// LZW costs several times more to compress it.
#[test]
fn a_reaped_node_is_healed_with_the_compression_it_advertised() {
    use crate::wire::{Compression, Layer};
    let mut c = test_config("local");
    c.partition_healing = true;
    c.gossip_to_the_dead_time = Duration::from_secs(1);
    let mut m = standalone(c);
    for (name, host, features) in [("lz4", 2, Features::LZ4), ("plain", 3, Features::NONE)] {
        m.alive_node(
            T0,
            Alive {
                features,
                ..alive(name, host, 0, 1, &vsn())
            },
            None,
            false,
        );
        m.dead_node(T0, dead(name, 1, "local"), None);
    }
    discard_output(&mut m);
    let later = T0 + Duration::from_secs(5);
    // The first tick finds no one to probe; the next ends the round.
    m.probe_tick(later);
    m.probe_tick(later);
    assert!(m.table().get("lz4").is_none(), "reaped at the round's end");
    let mut used = std::collections::HashMap::new();
    for _ in 0..50 {
        m.heal_tick(later);
        while let Some(t) = m.poll_transmit() {
            let Transmit::Dial { id, to, bytes, .. } = t else {
                continue;
            };
            let decoded = crate::wire::read_stream(&bytes, &Inbound::default(), true)
                .expect("decodable")
                .expect("whole");
            match decoded.message {
                // Healing asks whether anyone is there first.
                Message::Ping(ping) => {
                    let ack = Message::Ack(crate::wire::Ack {
                        seq_no: ping.seq_no,
                        payload: None,
                    });
                    let mut reply = Vec::new();
                    crate::wire::seal_stream(&ack, &Default::default(), &mut reply)
                        .expect("framed");
                    m.handle_dial_reply(later, id, Ok(Some(reply)));
                }
                _ => {
                    let algorithm = decoded.layers.iter().find_map(|l| match l {
                        Layer::Compression { algorithm, .. } => Some(*algorithm),
                        _ => None,
                    });
                    used.insert(to, algorithm);
                }
            }
        }
    }
    assert_eq!(used.get(&addr(2)), Some(&Some(Compression::Lz4)));
    assert_eq!(used.get(&addr(3)), Some(&Some(Compression::Lzw)));
}

// Beyond Go: healing pings before it push/pulls. Most nodes it tries are
// truly dead, and a push/pull carries this node's whole state, encoded and
// compressed before the dial; only a node that answers is sent it.
#[test]
fn healing_sends_state_only_to_a_node_that_answers_its_ping() {
    use crate::protocol::DialError;
    let mut c = test_config("local");
    c.partition_healing = true;
    let mut m = standalone(c);
    m.alive_node(T0, alive("gone", 2, 0, 1, &vsn()), None, false);
    m.dead_node(T0, dead("gone", 1, "local"), None);
    discard_output(&mut m);
    let dials = |m: &mut Membership| -> Vec<(DialId, Message)> {
        std::iter::from_fn(|| m.poll_transmit())
            .filter_map(|t| match t {
                Transmit::Dial { id, bytes, .. } => {
                    let decoded = crate::wire::read_stream(&bytes, &Inbound::default(), true)
                        .expect("decodable")
                        .expect("whole");
                    Some((id, decoded.message))
                }
                _ => None,
            })
            .collect()
    };
    m.heal_tick(T0);
    let sent = dials(&mut m);
    let [(id, Message::Ping(ping))] = &sent[..] else {
        panic!("expected one ping: {sent:?}");
    };
    assert!(ping.node.is_empty(), "whoever is there may answer");
    let refused = DialError::Connect(std::io::ErrorKind::ConnectionRefused);
    m.handle_dial_reply(T0, *id, Err(refused));
    assert!(dials(&mut m).is_empty(), "no state for a dead node");

    m.heal_tick(T0);
    let sent = dials(&mut m);
    let [(id, Message::Ping(ping))] = &sent[..] else {
        panic!("expected one ping: {sent:?}");
    };
    let ack = Message::Ack(crate::wire::Ack {
        seq_no: ping.seq_no,
        payload: None,
    });
    let mut reply = Vec::new();
    crate::wire::seal_stream(&ack, &Default::default(), &mut reply).expect("framed");
    m.handle_dial_reply(T0, *id, Ok(Some(reply)));
    let sent = dials(&mut m);
    assert!(
        matches!(&sent[..], [(_, Message::PushPull(p))] if !p.join),
        "a push/pull once answered: {sent:?}"
    );
}
