//! Interoperability with Grafana dskit's TCP-only memberlist transport (the
//! one Loki, Mimir, Tempo and Cortex use): mixed clusters of
//! `tests/agent/node.rs` processes started with `--transport dskit` and the
//! Go peer of tests/interop/dskit-peer, built on dskit's `TCPTransport` and
//! Grafana's memberlist fork, speaking the same JSON-lines contract.
//!
//! `tests/interop/build-dskit-peer.sh` builds the peer into
//! `target/dskit-peer`; the tests run against `$SWIMLIST_DSKIT_PEER`, else
//! that. Without a peer a test says SKIPPED and passes, unless
//! `SWIMLIST_INTEROP=1` (as in CI), which makes a missing peer a failure.

mod agent;
mod example_binary;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent::{assert_rust_accepted_everything, rust_agent, Agent};

/// The Go dskit peer, or `None` (after saying why) when it is not built and
/// interop is not required.
fn dskit_peer() -> Option<PathBuf> {
    agent::built_peer(
        Some("SWIMLIST_DSKIT_PEER"),
        "dskit-peer",
        "SWIMLIST_INTEROP",
        "tests/interop/build-dskit-peer.sh",
    )
}

/// A swimlist (`r`) or dskit (`g`) node with Go's local timings on dskit's
/// transport, joining `seed` if given.
fn spawn(peer: &Path, name: &str, seed: Option<u16>, args: &[&str]) -> Agent {
    let rust = name.contains("-r");
    let bin = if rust { rust_agent() } else { peer.to_owned() };
    let target = seed.map(|port| format!("127.0.0.1:{port}"));
    let mut all = vec!["--config", "local"];
    if rust {
        all.extend(["--transport", "dskit"]);
    }
    if let Some(target) = &target {
        all.extend(["--join", target.as_str()]);
    }
    all.extend(args);
    let mut node = Agent::spawn(&bin, name, &all);
    node.step = Duration::from_secs(30);
    node
}

/// Starts the named nodes; each after the first joins the one before it
/// (so swimlist and dskit nodes both act as seeds); waits until all see all.
fn cluster(peer: &Path, names: &[&str], args: &[&str]) -> Vec<Agent> {
    let mut nodes: Vec<Agent> = Vec::new();
    let mut seed = None;
    for name in names {
        let mut node = spawn(peer, name, seed, args);
        let port = node.ready();
        if seed.is_some() {
            let joined = node.joined();
            assert_eq!(joined["n"], 1, "{name}: {joined}");
        }
        seed = Some(port);
        nodes.push(node);
    }
    for node in &mut nodes {
        for name in names {
            node.event("join", name);
        }
    }
    nodes
}

#[test]
fn swimlist_and_dskit_nodes_form_one_cluster_and_exchange_messages() {
    let Some(peer) = dskit_peer() else { return };
    // Three nodes: Go retransmits a broadcast retransmit_mult (2 with the
    // local timings) times in all, so with more peers it reaches only some.
    let mut nodes = cluster(&peer, &["dk-g0", "dk-r1", "dk-g2"], &[]);
    for node in &mut nodes {
        let members = node.command("members", "members");
        assert_eq!(members["members"].as_array().unwrap().len(), 3, "{members}");
    }
    // Streams both ways (reliable), packets both ways (best effort), gossip.
    nodes[1].send("send dk-g0 stream-from-rust");
    nodes[0].msg("stream-from-rust");
    nodes[2].send("send dk-r1 stream-from-go");
    nodes[1].msg("stream-from-go");
    nodes[1].send("sendbe dk-g2 packet-from-rust");
    nodes[2].msg("packet-from-rust");
    nodes[0].send("sendbe dk-r1 packet-from-go");
    nodes[1].msg("packet-from-go");
    gossip_from_dskit_until_seen(&mut nodes, 2, 1, "gossip-from-go");
    nodes[1].send("broadcast gossip-from-rust");
    nodes[0].msg("gossip-from-rust");
    nodes[2].msg("gossip-from-rust");
    assert_rust_accepted_everything(&mut nodes[1]);
}

/// Has dskit node `from` broadcast `text` until node `to` delivers it.
///
/// With three nodes Go sends a broadcast once to each peer, and dskit's
/// transport drops a packet, by design, when none of its writers is free
/// within its acquire timeout (on a loaded machine it is not), so a single
/// broadcast can miss a node. Each retry is a distinct broadcast.
fn gossip_from_dskit_until_seen(nodes: &mut [Agent], from: usize, to: usize, text: &str) {
    let is_it = |v: &serde_json::Value| v["ev"] == "msg" && v["data"] == text;
    for _ in 0..5 {
        nodes[from].send(&format!("broadcast {text}"));
        if nodes[to]
            .find_within(0, Duration::from_secs(5), is_it)
            .is_some()
        {
            return;
        }
    }
    nodes[to].msg(text);
}

#[test]
fn failures_and_leaves_are_seen_across_implementations() {
    let Some(peer) = dskit_peer() else { return };
    let names = ["fl-r0", "fl-g1", "fl-r2", "fl-g3", "fl-r4", "fl-g5"];
    let mut nodes = cluster(&peer, &names, &[]);
    // Go's local timings: a probe round, the probe, the longest suspicion,
    // dissemination.
    let bound = Duration::from_secs(30);
    // A crashed dskit node, then a crashed swimlist node, each seen failed
    // by everyone left.
    for victim in [5, 4] {
        nodes[victim].kill();
        let killed = Instant::now();
        for node in &mut nodes[..victim] {
            let v = node.event("leave", names[victim]);
            assert_eq!(v["reason"], "failed", "{}: {v}", node.name);
        }
        let took = killed.elapsed();
        assert!(took < bound, "{}: detection took {took:?}", names[victim]);
    }
    // A leave, either way, is seen as one.
    for leaver in [3, 2] {
        nodes[leaver].command("leave", "left");
        for node in &mut nodes[..2] {
            let v = node.event("leave", names[leaver]);
            assert_eq!(v["reason"], "left", "{}: {v}", node.name);
        }
    }
}

#[test]
fn labels_and_encryption_ride_inside_dskit_frames() {
    let Some(peer) = dskit_peer() else { return };
    let key = "AAECAwQFBgcICQoLDA0ODw==";
    let args = ["--label", "ring-a", "--key", key];
    let mut nodes = cluster(&peer, &["le-g0", "le-r1", "le-g2"], &args);
    nodes[0].send("send le-r1 sealed-stream");
    nodes[1].msg("sealed-stream");
    nodes[2].send("sendbe le-r1 sealed-packet");
    nodes[1].msg("sealed-packet");
    let stats = assert_rust_accepted_everything(&mut nodes[1]);
    let layers = &stats["layers_in"];
    assert!(layers["label"].as_u64() > Some(0), "{stats}");
    assert!(layers["aes-v1"].as_u64() > Some(0), "{stats}");
    // Another label is refused, by either side.
    for (name, seed) in [("le-r3", 0), ("le-g4", 1)] {
        let port = nodes[seed].ready();
        let mut outsider = spawn(
            &peer,
            name,
            Some(port),
            &["--label", "ring-b", "--key", key],
        );
        outsider.ready();
        let joined = outsider.joined();
        assert_eq!(joined["n"], 0, "{name} joined across labels: {joined}");
    }
}

#[cfg(feature = "tls")]
#[path = "certs/mod.rs"]
mod certs;

#[cfg(feature = "tls")]
#[test]
fn the_cluster_works_over_dskit_s_tls_and_refuses_plain_nodes() {
    let Some(peer) = dskit_peer() else { return };
    let pki = certs::TestPki::new("dskit");
    let (ca, cert, key) = (
        pki.ca.to_str().unwrap(),
        pki.cert.to_str().unwrap(),
        pki.key.to_str().unwrap(),
    );
    let names = ["tl-g0", "tl-r1", "tl-g2", "tl-r3"];
    let mut nodes = Vec::new();
    let mut seed = None;
    for name in names {
        let args: Vec<&str> = if name.contains("-r") {
            vec!["--tls-ca", ca, "--tls-cert", cert, "--tls-key", key]
        } else {
            vec![
                "--tls",
                "--tls-ca-path",
                ca,
                "--tls-cert-path",
                cert,
                "--tls-key-path",
                key,
            ]
        };
        let mut node = spawn(&peer, name, seed, &args);
        let port = node.ready();
        if seed.is_some() {
            assert_eq!(node.joined()["n"], 1, "{name}");
        }
        seed = Some(port);
        nodes.push(node);
    }
    for node in &mut nodes {
        for name in names {
            node.event("join", name);
        }
    }
    // Streams and packets both ways, under TLS.
    nodes[1].send("send tl-g0 tls-stream-from-rust");
    nodes[0].msg("tls-stream-from-rust");
    nodes[2].send("sendbe tl-r1 tls-packet-from-go");
    nodes[1].msg("tls-packet-from-go");
    nodes[3].send("sendbe tl-g2 tls-packet-from-rust");
    nodes[2].msg("tls-packet-from-rust");
    // Crashes are detected both ways.
    for victim in [3, 2] {
        nodes[victim].kill();
        for node in &mut nodes[..victim] {
            let v = node.event("leave", names[victim]);
            assert_eq!(v["reason"], "failed", "{}: {v}", node.name);
        }
    }
    // Plain dskit nodes, of either kind, cannot join.
    let port = nodes[0].ready();
    for name in ["tl-r8", "tl-g9"] {
        let mut plain = spawn(&peer, name, Some(port), &[]);
        plain.ready();
        assert_eq!(plain.joined()["n"], 0, "{name} joined without TLS");
    }
    assert_rust_accepted_everything(&mut nodes[1]);
}
