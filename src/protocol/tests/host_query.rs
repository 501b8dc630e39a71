//! Questions for the host: what waits for an answer, what is asked only
//! once, and that a host answering nothing is never asked.

use super::*;
use crate::protocol::{Answer, Notification, Query, QueryId};
use crate::wire::{Ack, Ping};

/// A standalone node whose host answers every kind of question, none
/// answered yet.
fn asking() -> Membership {
    asking_with_ack_question().0
}

/// As [`asking`], with the first question: for the ack payload.
fn asking_with_ack_question() -> (Membership, QueryId) {
    let mut m = Membership::new(
        test_config("local"),
        Vec::new(),
        HostQueries::all(),
        addr(1),
        [1; 32],
        T0,
    )
    .expect("valid config");
    // The ack payload is asked for up front.
    let Some((id, Query::AckPayload)) = m.poll_query() else {
        panic!("no question for the ack payload");
    };
    assert!(m.poll_query().is_none());
    quieten(&mut m);
    (m, id)
}

fn queries(m: &mut Membership) -> Vec<(QueryId, Query)> {
    std::iter::from_fn(|| m.poll_query()).collect()
}

#[test]
fn a_new_node_waits_for_admission_and_news_meanwhile_keeps_the_newest() {
    let mut m = asking();
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    m.alive_node(T0, alive("test", 2, 0, 3, &vsn()), None, false);
    m.alive_node(T0, alive("test", 2, 0, 2, &vsn()), None, false);
    let asked = queries(&mut m);
    let [(id, Query::Alive { node })] = &asked[..] else {
        panic!("one question per node: {asked:?}");
    };
    assert_eq!(node.name, "test");
    assert!(
        m.table().get("test").is_none(),
        "not added before admission"
    );
    m.answer(T0, *id, Answer::Verdict(Ok(())));
    assert_eq!(state(&m, "test").incarnation, 3, "the newest news applies");

    // A refusal keeps the node out; the question is asked again for news.
    m.alive_node(T0, alive("other", 3, 0, 1, &vsn()), None, false);
    let asked = queries(&mut m);
    let [(id, Query::Alive { .. })] = &asked[..] else {
        panic!("{asked:?}");
    };
    m.answer(T0, *id, Answer::Verdict(Err(Refusal::new("no"))));
    assert!(m.table().get("other").is_none());
    m.alive_node(T0, alive("other", 3, 0, 1, &vsn()), None, false);
    assert_eq!(queries(&mut m).len(), 1);
}

// Beyond Go: a host that stalls under a flood of new names does not make
// the node hold unbounded news for it.
#[test]
fn news_waiting_for_admission_is_bounded() {
    use crate::protocol::MAX_WAITING_ADMISSIONS;
    let mut m = asking();
    for i in 0..=MAX_WAITING_ADMISSIONS {
        let name = format!("n{i}");
        m.alive_node(T0, alive(&name, 2, 0, 1, &vsn()), None, false);
    }
    let asked = queries(&mut m);
    assert_eq!(asked.len(), MAX_WAITING_ADMISSIONS);
    assert_eq!(m.stats().dropped.get("admission backlog"), Some(&1));
    // News about a node already waiting still replaces its news.
    m.alive_node(T0, alive("n0", 2, 0, 7, &vsn()), None, false);
    assert_eq!(m.stats().dropped.get("admission backlog"), Some(&1));
    // Once the host answers, there is room again.
    let (id, _) = asked[0].clone();
    m.answer(T0, id, Answer::Verdict(Ok(())));
    assert_eq!(state(&m, "n0").incarnation, 7);
    m.alive_node(T0, alive("late", 2, 0, 1, &vsn()), None, false);
    assert_eq!(queries(&mut m).len(), 1);
}

#[test]
fn a_push_pull_reply_waits_for_the_local_state() {
    let mut m = asking();
    let mut request = Vec::new();
    let remote = Message::PushPull(crate::wire::PushPull {
        join: true,
        nodes: vec![PushNodeState {
            vsn: vsn(),
            ..record("peer", 2, 1, NodeState::Alive)
        }],
        user_state: b"theirs".to_vec(),
    });
    crate::wire::seal_stream(&remote, &Default::default(), &mut request).expect("framed");
    let stream = StreamId::new(9);
    m.handle_stream_request(T0, addr(2), stream, &request);
    assert!(
        !std::iter::from_fn(|| m.poll_transmit()).any(|t| matches!(t, Transmit::Reply { .. })),
        "no reply before the local state"
    );
    let asked = queries(&mut m);
    let [(id, Query::LocalState { join: true })] = &asked[..] else {
        panic!("{asked:?}");
    };
    m.answer(T0, *id, Answer::LocalState(b"ours".to_vec()));
    let reply = std::iter::from_fn(|| m.poll_transmit()).find_map(|t| match t {
        Transmit::Reply { stream: s, bytes } if s == stream => bytes,
        _ => None,
    });
    let reply = crate::wire::read_stream(&reply.expect("a reply"), &Inbound::default(), false)
        .expect("decodable")
        .expect("whole");
    match reply.message {
        Message::PushPull(p) => assert_eq!(p.user_state, b"ours"),
        other => panic!("{other:?}"),
    }
    // The joining peer's members wait for the merge verdict.
    let asked = queries(&mut m);
    let [(id, Query::Merge { peers })] = &asked[..] else {
        panic!("{asked:?}");
    };
    assert_eq!(peers[0].name, "peer");
    assert!(m.table().get("peer").is_none());
    m.answer(T0, *id, Answer::Verdict(Ok(())));
    // Admitted as a whole, each member is still admitted on its own.
    let asked = queries(&mut m);
    let [(id, Query::Alive { .. })] = &asked[..] else {
        panic!("{asked:?}");
    };
    m.answer(T0, *id, Answer::Verdict(Ok(())));
    assert_eq!(state(&m, "peer").state, NodeState::Alive);
    assert_eq!(
        m.poll_notification(),
        Some(Notification::RemoteState {
            state: b"theirs".to_vec(),
            join: true
        })
    );
}

#[test]
fn a_refused_merge_fails_the_join_that_asked() {
    let recorder = Arc::new(Recorder {
        cancel_merge: Some("not this cluster".to_owned()),
        ..Recorder::default()
    });
    let (_, joined, errors) = joined_pair_with(
        |c| c,
        |host| match host {
            2 => Some(recorder.clone() as Arc<dyn Delegate>),
            _ => None,
        },
    );
    assert_eq!(joined, 0);
    assert!(
        matches!(&errors[..], [(_, JoinError::MergeRefused(r))] if r.reason() == "not this cluster"),
        "{errors:?}"
    );
}

#[test]
fn broadcasts_are_asked_once_per_round_and_sent_once() {
    let mut m = asking();
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    let (id, _) = queries(&mut m).remove(0);
    m.answer(T0, id, Answer::Verdict(Ok(())));
    quieten(&mut m);

    m.gossip_tick(T0);
    let asked = queries(&mut m);
    let [(id, Query::Broadcasts { overhead, limit })] = &asked[..] else {
        panic!("{asked:?}");
    };
    assert!(*overhead >= 1 && *limit <= m.config().udp_buffer_size);
    m.gossip_tick(T0 + ms(200));
    assert!(
        queries(&mut m).is_empty(),
        "not asked again while unanswered"
    );
    discard_output(&mut m);

    m.answer(
        T0 + ms(300),
        *id,
        Answer::Broadcasts(vec![b"app news".to_vec()]),
    );
    m.gossip_tick(T0 + ms(400));
    let sent: Vec<Vec<u8>> = datagrams(&mut m).into_iter().map(|(_, d)| d).collect();
    let users = |datagrams: &[Vec<u8>]| {
        datagrams
            .iter()
            .flat_map(|d| {
                decode_packet(d, &Inbound::default())
                    .expect("decodable")
                    .messages
            })
            .filter(|msg| matches!(msg, Ok(Message::User(u)) if u == b"app news"))
            .count()
    };
    assert_eq!(users(&sent), 1, "sent once");
    assert!(
        matches!(&queries(&mut m)[..], [(_, Query::Broadcasts { .. })]),
        "asked again once none are left"
    );
}

#[test]
fn acks_carry_the_payload_last_given_and_ask_for_the_next() {
    let (mut m, first) = asking_with_ack_question();
    let ping = |seq_no| {
        let mut bytes = Vec::new();
        Message::Ping(Ping {
            seq_no,
            node: "local".to_owned(),
            source_node: "test".to_owned(),
            ..Ping::default()
        })
        .encode(crate::wire::Context::Packet, &mut bytes);
        bytes
    };
    let acks = |m: &mut Membership| -> Vec<Ack> {
        datagrams(m)
            .into_iter()
            .flat_map(|(_, d)| {
                decode_packet(&d, &Inbound::default())
                    .expect("decodable")
                    .messages
            })
            .filter_map(|msg| match msg {
                Ok(Message::Ack(a)) => Some(a),
                _ => None,
            })
            .collect()
    };
    m.handle_packet(T0, addr(2), &ping(1));
    assert_eq!(acks(&mut m)[0].payload, None, "nothing given yet");
    assert!(
        queries(&mut m).is_empty(),
        "the first question is still open"
    );

    m.answer(T0, first, Answer::AckPayload(Some(b"coords 1".to_vec())));
    m.handle_packet(T0, addr(2), &ping(2));
    assert_eq!(acks(&mut m)[0].payload.as_deref(), Some(&b"coords 1"[..]));
    let asked = queries(&mut m);
    let [(next, Query::AckPayload)] = &asked[..] else {
        panic!("the used payload is refreshed: {asked:?}");
    };
    m.answer(T0, *next, Answer::AckPayload(Some(b"coords 2".to_vec())));
    m.handle_packet(T0, addr(2), &ping(3));
    assert_eq!(acks(&mut m)[0].payload.as_deref(), Some(&b"coords 2"[..]));
}

#[test]
fn a_host_that_answers_nothing_is_asked_nothing() {
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), None);
    net.start(2, test_config("m2"), None);
    let now = net.now;
    net.m_mut(2).join(now, &[named("m1", addr(1))]);
    net.run_for(Duration::from_secs(5));
    for host in [1, 2] {
        assert_eq!(net.m(host).num_members(), 2);
        assert!(net.m_mut(host).poll_query().is_none());
    }
}

#[test]
fn a_join_finishes_once_the_members_it_brought_are_admitted() {
    let mut m = asking();
    let join = m.join(T0, &[named("peer", addr(2))]);
    let (id, _) = queries(&mut m).remove(0);
    m.answer(T0, id, Answer::LocalState(Vec::new()));
    let dial = std::iter::from_fn(|| m.poll_transmit()).find_map(|t| match t {
        Transmit::Dial { id, .. } => Some(id),
        _ => None,
    });
    let reply = Message::PushPull(crate::wire::PushPull {
        join: false,
        nodes: vec![PushNodeState {
            vsn: vsn(),
            ..record("peer", 2, 1, NodeState::Alive)
        }],
        user_state: Vec::new(),
    });
    let mut bytes = Vec::new();
    crate::wire::seal_stream(&reply, &Default::default(), &mut bytes).expect("framed");
    m.handle_dial_reply(T0, dial.expect("a dial"), Ok(Some(bytes)));
    let finished = |m: &mut Membership| {
        std::iter::from_fn(|| m.poll_completion()).find_map(|c| match c {
            Completion::Join { id, joined, .. } if id == join => Some(joined),
            _ => None,
        })
    };
    for expected in ["merge", "alive"] {
        assert_eq!(
            finished(&mut m),
            None,
            "finished before the {expected} answer"
        );
        let (id, query) = queries(&mut m).remove(0);
        assert!(
            matches!(
                (expected, &query),
                ("merge", Query::Merge { .. }) | ("alive", Query::Alive { .. })
            ),
            "{query:?}"
        );
        m.answer(T0, id, Answer::Verdict(Ok(())));
    }
    assert_eq!(finished(&mut m), Some(1));
    assert_eq!(state(&m, "peer").state, NodeState::Alive);
}
