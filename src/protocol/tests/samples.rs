//! Measurements and Go's metric counters: off until asked for, then one
//! sample per probe, push/pull and detection, with the sizes of the states
//! exchanged.

use super::*;
use crate::protocol::{News, Sample};
use crate::wire::news_age::news_age;
use crate::wire::{Ack, Context};

fn samples(m: &mut Membership) -> Vec<Sample> {
    std::iter::from_fn(|| m.poll_sample()).collect()
}

/// A node that knows "test" and has just pinged it (sequence number 1).
fn probing_test(record: bool) -> Membership {
    let mut m = standalone(test_config("local"));
    m.record_samples(T0, record);
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    m.probe_node(T0, "test");
    discard_output(&mut m);
    m
}

#[test]
fn nothing_is_recorded_unless_asked_for() {
    let mut m = probing_test(false);
    m.handle_ack(
        T0 + ms(3),
        Ack {
            seq_no: 1,
            payload: None,
        },
    );
    assert!(m.probe().is_none(), "the probe completed");
    assert_eq!(m.poll_sample(), None);
}

#[test]
fn a_probe_is_timed_to_its_ack_and_to_its_failure() {
    let mut m = probing_test(true);
    m.handle_ack(
        T0 + ms(3),
        Ack {
            seq_no: 1,
            payload: None,
        },
    );
    assert_eq!(samples(&mut m), [Sample::Probe(ms(3))]);

    let start = T0 + ms(10);
    let interval = m.config().probe_interval;
    m.probe_node(start, "test");
    advance(&mut m, start + interval);
    assert_eq!(state(&m, "test").state, NodeState::Suspect);
    assert_eq!(samples(&mut m), [Sample::Probe(interval)]);
    // Its own alive at start, and "test".
    assert_eq!(m.stats().alive_applied, 2);
}

#[test]
fn detection_is_timed_from_suspicion_to_failure() {
    let mut m = probing_test(true);
    let accused = T0 + ms(5);
    m.suspect_node(accused, suspect("test", 1, "peer"));
    let _ = samples(&mut m);
    // Another node's word ends it here before the timer does.
    m.dead_node(accused + ms(700), dead("test", 1, "peer"), None);
    assert_eq!(state(&m, "test").state, NodeState::Dead);
    assert_eq!(samples(&mut m), [Sample::Detection(ms(700))]);
    assert_eq!(m.stats().dead_applied, 1);
    assert_eq!(m.stats().suspicions, 1);
}

#[test]
fn push_pulls_are_timed_and_their_states_measured() {
    let (mut net, joined, _) = joined_pair(|c| c);
    assert_eq!(joined, 1);
    let now = net.now;
    net.m_mut(1).record_samples(now, true);
    net.m_mut(2).record_samples(now, true);
    net.m_mut(2)
        .dial_push_pull(now, addr(1), Some("m1"), None, Vec::new());
    net.run_for(ms(50));
    let dialer = samples(net.m_mut(2));
    let answerer = samples(net.m_mut(1));
    let sizes = |s: &[Sample]| -> (Vec<usize>, Vec<usize>) {
        let local = s.iter().filter_map(|x| match x {
            Sample::LocalStateSize(n) => Some(*n),
            _ => None,
        });
        let remote = s.iter().filter_map(|x| match x {
            Sample::RemoteStateSize(n) => Some(*n),
            _ => None,
        });
        (local.collect(), remote.collect())
    };
    let (d_local, d_remote) = sizes(&dialer);
    let (a_local, a_remote) = sizes(&answerer);
    // What one side sent is what the other received.
    assert_eq!(
        (d_local.len(), a_remote.len()),
        (1, 1),
        "{dialer:?} {answerer:?}"
    );
    assert_eq!(d_local, a_remote);
    assert_eq!(a_local, d_remote);
    let timed: Vec<Duration> = dialer
        .iter()
        .filter_map(|x| match x {
            Sample::PushPull(d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(timed.len(), 1, "{dialer:?}");
    assert!(timed[0] > Duration::ZERO && timed[0] <= ms(50), "{timed:?}");
    assert!(net.m(2).stats().stream_bytes_out >= d_local[0] as u64);
}

#[test]
fn an_unread_backlog_of_samples_stays_bounded() {
    let mut m = probing_test(true);
    for i in 0..5000u32 {
        m.handle_ack(
            T0,
            Ack {
                seq_no: 1,
                payload: None,
            },
        );
        m.probe_node(T0 + ms(u64::from(i)), "test");
        m.handle_ack(
            T0 + ms(u64::from(i) + 1),
            Ack {
                seq_no: m.seq(),
                payload: None,
            },
        );
    }
    assert_eq!(samples(&mut m).len(), 4096);
}

/// The age stamped on each membership message of `datagram`, in order.
fn stamps(datagram: &[u8]) -> Vec<Option<Duration>> {
    let decoded = decode_packet(datagram, &Inbound::default()).expect("decodable datagram");
    let news = decoded.messages.iter().map(|m| {
        matches!(
            m,
            Ok(Message::Alive(_) | Message::Suspect(_) | Message::Dead(_))
        )
    });
    news.zip(decoded.news_ages)
        .filter_map(|(is_news, age)| is_news.then_some(age))
        .collect()
}

#[test]
fn stamped_news_is_timed_and_relayed_older_to_those_who_ask() {
    use crate::wire::news_age::stamp_news_age;
    let mut m = standalone(test_config("local"));
    m.record_samples(T0, true);
    m.alive_node(T0, alive("test", 2, 0, 1, &vsn()), None, false);
    let mut asking = alive("asking", 3, 0, 1, &vsn());
    asking.features = Features::LZ4.with(Features::NEWS_AGE);
    m.alive_node(T0, asking, None, false);
    m.alive_node(T0, alive("plain", 4, 0, 1, &vsn()), None, false);
    m.broadcasts_mut().reset();
    let _ = samples(&mut m);

    let mut packet = Vec::new();
    Message::Suspect(suspect("test", 1, "peer")).encode(Context::Packet, &mut packet);
    assert!(stamp_news_age(&mut packet, ms(300)));
    let arrived = T0 + ms(10);
    m.handle_packet(arrived, addr(5), &packet);
    let timed = Sample::NewsAge {
        news: News::Suspect,
        age: ms(300),
    };
    assert_eq!(samples(&mut m), [timed]);
    // The same news again changes nothing and is not timed again.
    m.handle_packet(arrived + ms(1), addr(5), &packet);
    assert_eq!(samples(&mut m), []);

    // Held 200 ms more, it leaves 500 ms old, stamped only for the peer
    // that asked.
    let later = arrived + ms(200);
    let budget = 1400;
    let to_asking = m.take_broadcasts(later, 2, budget, "asking", m.reads_of("asking"));
    let to_plain = m.take_broadcasts(later, 2, budget, "plain", m.reads_of("plain"));
    assert_eq!(to_asking.len(), 1);
    assert_eq!(news_age(&to_asking[0]), Some(ms(500)));
    assert_eq!(to_plain.len(), 1);
    assert_eq!(news_age(&to_plain[0]), None);
    assert_eq!(
        Message::decode(&to_asking[0], Context::Packet),
        Message::decode(&to_plain[0], Context::Packet)
    );
}

#[test]
fn recording_nodes_are_sent_news_with_its_age() {
    let mut net = Net::new(LOOPBACK);
    net.start(1, test_config("m1"), None);
    for host in [2, 3] {
        net.start(host, test_config(&format!("m{host}")), None);
        let now = net.now;
        net.m_mut(host).record_samples(now, true);
        let (joined, _) = join_at(&mut net, addr(host), vec![named("m1", addr(1))]);
        assert_eq!(joined, 1);
    }
    net.run_for(Duration::from_secs(3));
    let asks = |m: &Membership, name: &str| {
        m.table()
            .get(name)
            .is_some_and(|n| n.features.contains(Features::NEWS_AGE))
    };
    assert!(asks(net.m(1), "m2") && asks(net.m(1), "m3") && asks(net.m(2), "m3"));
    assert!(!asks(net.m(2), "m1"));
    for host in [2, 3] {
        let _ = samples(net.m_mut(host));
    }

    let sent_before = net.sent.len();
    let now = net.now;
    net.m_mut(1)
        .update_node(now, b"new".to_vec())
        .expect("small metadata");
    net.run_for(Duration::from_secs(1));
    for host in [2, 3] {
        let timed: Vec<_> = samples(net.m_mut(host))
            .into_iter()
            .filter_map(|s| match s {
                Sample::NewsAge { news, age } => Some((news, age)),
                _ => None,
            })
            .collect();
        assert_eq!(timed.len(), 1, "m{host}: {timed:?}");
        let (news, age) = timed[0];
        assert_eq!(news, News::Alive);
        assert!(age < Duration::from_secs(1), "m{host}: {age:?}");
    }
    let news_to = |host: u8| -> Vec<Option<Duration>> {
        net.sent[sent_before..]
            .iter()
            .filter(|d| d.to == addr(host))
            .flat_map(|d| stamps(&d.bytes))
            .collect()
    };
    let (to_m1, to_m2) = (news_to(1), news_to(2));
    assert!(
        !to_m2.is_empty() && to_m2.iter().all(Option::is_some),
        "{to_m2:?}"
    );
    assert!(to_m1.iter().all(Option::is_none), "{to_m1:?}");
}
