//! Whole nodes over the in-memory transport: the real runtime and handle,
//! with the network's loss, partitions and UDP blocking under the test's
//! control.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swimlist::runtime::MemoryNetwork;
use swimlist::{Config, Event, LeaveReason, Memberlist, Runtime};

const DEADLINE: Duration = Duration::from_secs(30);

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 9, 0, i as u8 + 1], 7946))
}

fn cluster(
    net: &MemoryNetwork,
    rt: &Runtime,
    n: usize,
    tune: impl Fn(&mut Config),
) -> Vec<Memberlist> {
    let nodes: Vec<Memberlist> = (0..n)
        .map(|i| {
            let mut config = Config::local().with_name(format!("mem-{i}"));
            tune(&mut config);
            Memberlist::builder(config)
                .runtime(rt)
                .transport(net.transport(addr(i)).unwrap())
                .build()
                .unwrap()
        })
        .collect();
    for node in &nodes[1..] {
        assert_eq!(node.join(&[addr(0).to_string()]).unwrap(), 1);
    }
    wait_all(
        &nodes,
        |n| n.num_members().unwrap() == nodes.len(),
        "convergence",
    );
    nodes
}

/// Waits on every node's events until `done` holds for all of them.
fn wait_all(nodes: &[Memberlist], done: impl Fn(&Memberlist) -> bool, what: &str) {
    let end = Instant::now() + DEADLINE;
    for node in nodes {
        let events = node.events();
        while !done(node) {
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                events.recv_timeout(left).is_ok() || done(node),
                "{}: no {what} within {DEADLINE:?}",
                node.local_node().unwrap().name
            );
        }
    }
}

#[test]
fn partition_is_detected_and_heals_by_itself() {
    let net = MemoryNetwork::new(1).unwrap();
    let rt = Runtime::new().unwrap();
    let nodes = cluster(&net, &rt, 6, |c| {
        c.partition_healing_interval = Duration::from_secs(1);
    });
    let (left, right): (Vec<SocketAddr>, Vec<SocketAddr>) =
        ((0..3).map(addr).collect(), (3..6).map(addr).collect());
    net.partition(&[&left, &right]);
    wait_all(
        &nodes,
        |n| n.num_members().unwrap() == 3,
        "split into halves",
    );
    net.heal();
    // No rejoin call: partition healing merges the halves.
    wait_all(&nodes, |n| n.num_members().unwrap() == 6, "healing");
}

#[test]
fn lossy_network_keeps_everyone_alive() {
    let net = MemoryNetwork::new(2).unwrap();
    let rt = Runtime::new().unwrap();
    let nodes = cluster(&net, &rt, 5, |_| {});
    net.set_loss(0.2);
    net.set_delay(Duration::from_millis(2));
    // Ten seconds of probing (ten rounds) at 20% loss, watched through the
    // events: nobody may be declared failed.
    let end = Instant::now() + Duration::from_secs(10);
    let events: Vec<_> = nodes.iter().map(Memberlist::events).collect();
    while Instant::now() < end {
        for rx in &events {
            if let Ok(Event::Leave(n, LeaveReason::Failed)) =
                rx.recv_timeout(Duration::from_millis(50))
            {
                panic!("{} declared failed under 20% loss", n.name);
            }
        }
    }
    net.set_loss(0.0);
    assert!(nodes.iter().all(|n| n.num_members().unwrap() == 5));
    let probes: u64 = nodes
        .iter()
        .map(|n| n.stats().unwrap().protocol.probes)
        .sum();
    assert!(probes >= 30, "only {probes} probes in 10 s");
}

#[test]
fn tcp_fallback_saves_a_node_whose_udp_is_blocked() {
    let net = MemoryNetwork::new(3).unwrap();
    let rt = Runtime::new().unwrap();
    let nodes = cluster(&net, &rt, 3, |_| {});
    net.block_udp_to(addr(2), true);
    let before = nodes[2].stats().unwrap().protocol.streams_in;
    // Others probe node 2 about once a second each; wait until several of
    // those probes went over TCP.
    let end = Instant::now() + DEADLINE;
    while nodes[2].stats().unwrap().protocol.streams_in < before + 4 {
        assert!(Instant::now() < end, "no TCP fallback pings reached node 2");
        let _ = nodes[2].events().recv_timeout(Duration::from_millis(100));
    }
    for node in &nodes[..2] {
        let suspected = node
            .events()
            .try_iter()
            .any(|e| matches!(e, Event::Suspect(n) | Event::Leave(n, _) if n.name == "mem-2"));
        assert!(
            !suspected,
            "{} suspected mem-2 despite TCP",
            node.local_node().unwrap().name
        );
    }
}
