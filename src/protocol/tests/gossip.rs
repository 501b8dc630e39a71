//! Gossip rounds: what a round sends, and to which nodes.

use super::*;
use crate::protocol::TimerRun;

/// One gossip round, as Go's `m.gossip()`. The tick re-arms itself; on a
/// quiet node that next round is dropped, so exactly one happens.
fn gossip_once(m: &mut Membership, now: Instant) {
    m.gossip_tick(now);
    m.clear_timers();
}

/// Alive messages (by node name) in the datagrams from `from` to `to`.
fn alives_sent(net: &Net, from: u8, to: u8) -> Vec<String> {
    let mut names: Vec<String> = net
        .sent_between(from, to)
        .flat_map(Datagram::messages)
        .filter_map(|m| match m {
            Message::Alive(a) => Some(a.node),
            _ => None,
        })
        .collect();
    names.sort();
    names
}

// TestMemberlist_Gossip. Go's m2 reports three joins, one of them about
// itself: built without its own entry (`newMemberlist`), it creates one from
// the gossiped alive about itself, refutes it, and Go then still fires
// NotifyJoin for the (dead) entry. Our m2 always has its own entry, so the
// alive about itself is recognised as identical and ignored; every one of
// the three broadcasts is still delivered.
#[test]
fn gossip() {
    let mut net = Net::new(LOOPBACK);
    let gossip_fast = |name: &str| Config {
        gossip_interval: ms(10),
        ..config(name)
    };
    net.start_quiet(1, gossip_fast("m1"));
    net.start_quiet(2, gossip_fast("m2"));
    // Go's m3 never listens where m1 expects it.
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);
    m1.alive_node(now, alive("m3", 3, PORT, 1, &vsn()), None, false);

    gossip_once(net.m_mut(1), now);
    net.run_for(ms(3));

    assert_eq!(alives_sent(&net, 1, 2), ["m1", "m2", "m3"]);
    assert_eq!(joined_names(&net.go_events(2)), ["m1", "m3"]);
    assert_eq!(state(net.m(2), "m2").incarnation, 1, "nothing to refute");
}

// TestMemberlist_GossipToDead. Go expects two events on m2; the second is
// the join m2 fires about itself (see `gossip`).
#[test]
fn gossip_to_dead() {
    let mut net = Net::new(LOOPBACK);
    net.start_quiet(
        1,
        Config {
            gossip_interval: ms(1),
            gossip_to_the_dead_time: ms(100),
            ..config("m1")
        },
    );
    net.start_quiet(2, config("m2"));
    let now = net.now;
    let m1 = net.m_mut(1);
    m1.alive_node(now, alive("m2", 2, PORT, 1, &vsn()), None, false);

    // Dead for twice GossipToTheDeadTime: no gossip.
    let at = Instant::from_nanos(now.as_nanos() - ms(200).as_nanos() as u64);
    m1.table_mut().set_state("m2", NodeState::Dead, at);
    gossip_once(m1, now);
    net.run_for(ms(50));
    assert_eq!(net.sent_between(1, 2).count(), 0, "shouldn't gossip");
    assert!(net.go_events(2).is_empty(), "shouldn't get gossip");

    // Died recently: gossip, so it can learn of it and refute.
    let now = net.now;
    set_state_change(
        net.m_mut(1),
        "m2",
        Instant::from_nanos(now.as_nanos() - ms(20).as_nanos() as u64),
    );
    gossip_once(net.m_mut(1), now);
    net.run_for(ms(3));
    assert_eq!(alives_sent(&net, 1, 2), ["m1", "m2"]);
    assert_eq!(joined_names(&net.go_events(2)), ["m1"]);
}

// A host that times the protocol's periodic work runs due timers one at a
// time and is told which were gossip rounds (Go's `memberlist.gossip`).
#[test]
fn due_timers_run_one_at_a_time_and_say_which_gossiped() {
    let mut m = started(test_config("local"));
    let interval = m.config().gossip_interval;
    let end = T0 + interval * 10;
    let mut runs = Vec::new();
    while let Some(at) = m.poll_timeout().filter(|at| *at <= end) {
        let run = m.handle_due_timer(at).expect("a timer was due");
        runs.push(run);
    }
    let rounds = runs.iter().filter(|r| **r == TimerRun::GossipRound).count();
    // Timers start staggered, so the first round may fall after T0.
    assert!(
        (9..=10).contains(&rounds),
        "one round per interval: {runs:?}"
    );
    assert!(runs.len() > rounds, "other timers ran too: {runs:?}");
    assert!(m.handle_due_timer(end).is_none(), "nothing left due");
}

/// The gossip rounds `m` runs up to `until`, each timer at its deadline.
fn gossip_rounds(m: &mut Membership, until: Instant) -> Vec<Instant> {
    let mut rounds = Vec::new();
    while let Some(at) = m.poll_timeout().filter(|at| *at <= until) {
        while let Some(run) = m.handle_due_timer(at) {
            if run == TimerRun::GossipRound {
                rounds.push(at);
            }
        }
        discard_output(m);
    }
    rounds
}

// Beyond Go: with nothing to send, the gossip timer stops firing (Go's
// ticker wakes every interval for nothing), and news wakes it for the round
// it would have had anyway.
#[test]
fn an_idle_node_parks_its_gossip_timer_until_there_is_news() {
    let mut m = started(config("m1"));
    m.broadcasts_mut().reset();
    discard_output(&mut m);
    let interval = m.config().gossip_interval;
    let idle = gossip_rounds(&mut m, T0 + interval * 10);
    assert_eq!(idle.len(), 1, "rounds while idle: {idle:?}");
    assert!(m.gossip_parked());

    let news_at = idle[0] + interval * 3 + interval / 3;
    m.alive_node(news_at, alive("m2", 2, PORT, 1, &vsn()), None, false);
    assert!(!m.gossip_parked(), "news woke the timer");
    let busy = gossip_rounds(&mut m, news_at + interval * 2);
    assert_eq!(busy.first(), Some(&(idle[0] + interval * 4)), "on schedule");
    assert!(
        busy.len() >= 2,
        "rounds go on while there is news: {busy:?}"
    );
}
