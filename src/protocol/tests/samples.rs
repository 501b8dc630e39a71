//! Measurements and Go's metric counters: off until asked for, then one
//! sample per probe, push/pull and detection, with the sizes of the states
//! exchanged.

use super::*;
use crate::protocol::Sample;
use crate::wire::Ack;

fn samples(m: &mut Membership) -> Vec<Sample> {
    std::iter::from_fn(|| m.poll_sample()).collect()
}

/// A node that knows "test" and has just pinged it (sequence number 1).
fn probing_test(record: bool) -> Membership {
    let mut m = standalone(test_config("local"));
    m.record_samples(record);
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
    net.m_mut(1).record_samples(true);
    net.m_mut(2).record_samples(true);
    let now = net.now;
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
