//! Interoperability with real Go memberlist nodes: mixed clusters of
//! `tests/agent/node.rs` processes and the Go peer of tests/interop/go-peer,
//! which speak the same JSON-lines contract.
//!
//! `tests/interop/build-go-peer.sh` builds the Go peer from Go modules, once
//! per pinned memberlist release, into `target/go-peer-VERSION` (v0.2.2,
//! v0.5.4, v0.7.0), and links the newest as `target/go-peer`. The tests run
//! against `$SWIMLIST_GO_PEER`, else `target/go-peer`; the mixed-version test
//! also needs `target/go-peer-v0.2.2` and `target/go-peer-v0.7.0`. Without
//! a peer a test says SKIPPED and passes, unless `SWIMLIST_INTEROP=1` (as in
//! CI), which makes a missing peer a failure. The label tests skip (with a
//! message) on a peer without labels (memberlist before v0.3.0). The
//! TCP-fallback test also needs root and nftables to block UDP; it skips
//! with a message where it cannot.

mod agent;
mod example_binary;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent::{assert_rust_accepted_everything, rust_agent, Agent};
use serde_json::Value;

const KEY128: &str = "AAECAwQFBgcICQoLDA0ODw==";
const KEY256: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_KEY: &str = "ERERERERERERERERERERERERERERERERERERERERERE=";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Rust,
    Go,
}

struct Bins {
    rust: PathBuf,
    go: PathBuf,
}

/// The two binaries, or `None` (after saying why) when the Go peer is not
/// built and interop is not required.
fn bins() -> Option<Bins> {
    Some(Bins {
        rust: rust_agent(),
        go: go_peer(Some("SWIMLIST_GO_PEER"), "go-peer")?,
    })
}

/// The Go peer built against memberlist `version` by build-go-peer.sh, or
/// `None` (after saying why) when it is not built and interop is not
/// required.
fn go_release(version: &str) -> Option<PathBuf> {
    go_peer(None, &format!("go-peer-{version}"))
}

fn go_peer(env_var: Option<&str>, name: &str) -> Option<PathBuf> {
    agent::built_peer(
        env_var,
        name,
        "SWIMLIST_INTEROP",
        "tests/interop/build-go-peer.sh",
    )
}

/// Starts `bin` as node `name` with Go's local timings.
fn spawn_node(bin: &Path, name: &str, args: &[&str]) -> Agent {
    let mut agent = Agent::spawn(bin, name, &[&["--config", "local"], args].concat());
    agent.step = Duration::from_secs(30);
    agent
}

/// Starts one node per `(binary, tag)`, named `<prefix>-<tag><index>`;
/// every node after the first joins the first; waits until all see all.
fn cluster_of(prefix: &str, members: &[(&Path, &str)], args: &[&str]) -> Vec<Agent> {
    let mut nodes: Vec<Agent> = Vec::new();
    let mut seed = String::new();
    for (i, (bin, tag)) in members.iter().enumerate() {
        let name = format!("{prefix}-{tag}{i}");
        let join = ["--join", seed.as_str()];
        let extra: &[&str] = if i == 0 { &[] } else { &join };
        let mut node = spawn_node(bin, &name, &[args, extra].concat());
        let port = node.ready();
        if i == 0 {
            seed = format!("127.0.0.1:{port}");
        } else {
            let joined = node.joined();
            assert_eq!(joined["n"], 1, "{name}: {joined}");
        }
        nodes.push(node);
    }
    converge(&mut nodes);
    nodes
}

impl Bins {
    fn bin(&self, side: Side) -> &Path {
        match side {
            Side::Rust => &self.rust,
            Side::Go => &self.go,
        }
    }

    fn spawn(&self, side: Side, name: &str, args: &[&str]) -> Agent {
        spawn_node(self.bin(side), name, args)
    }

    /// Starts `sides` (named `<prefix>-r0`, `<prefix>-g1`, …); every node
    /// after the first joins the first; waits until all see all.
    fn cluster(&self, prefix: &str, sides: &[Side], args: &[&str]) -> Vec<Agent> {
        let members: Vec<(&Path, &str)> = sides
            .iter()
            .map(|&side| (self.bin(side), if side == Side::Rust { "r" } else { "g" }))
            .collect();
        cluster_of(prefix, &members, args)
    }

    /// Whether the Go peer takes `--label` (memberlist v0.3.0 and later);
    /// one without labels refuses it as a usage error (exit status 2). When
    /// it does not, says that `test` is skipped.
    fn go_has_labels(&self, test: &str) -> bool {
        let mut probe = self.spawn(Side::Go, &format!("{test}-probe"), &["--label", "probe"]);
        let first = probe.wait("ready or error", |v| {
            v["ev"] == "ready" || (v["ev"] == "error" && v["cmd"] == "start")
        });
        if first["ev"] == "ready" {
            return true;
        }
        let status = probe.stop(true);
        assert_eq!(status.code(), Some(2), "{test}: {first}");
        eprintln!(
            "SKIPPED {test}: the Go peer has no labels: {}",
            first["err"]
        );
        false
    }
}

/// Waits until every node has seen a join for every other node.
fn converge(nodes: &mut [Agent]) {
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    for node in nodes.iter_mut() {
        for name in &names {
            node.event("join", name);
        }
    }
}

fn spawn_join(bins: &Bins, side: Side, name: &str, seed: &Agent, args: &[&str]) -> Agent {
    let port = seed_port(seed);
    let target = format!("127.0.0.1:{port}");
    let mut node = bins.spawn(side, name, &[args, &["--join", target.as_str()]].concat());
    node.ready();
    node
}

fn seed_port(seed: &Agent) -> u64 {
    seed.seen
        .iter()
        .find(|v| v["ev"] == "ready")
        .and_then(|v| v["port"].as_u64())
        .expect("seed is ready")
}

fn layers_in(node: &mut Agent) -> Value {
    node.command("stats", "stats")["layers_in"].clone()
}

#[test]
fn three_and_three_converge_with_a_rust_seed_and_with_a_go_seed() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    for (prefix, sides) in [
        ("rseed", [Rust, Go, Rust, Go, Rust, Go]),
        ("gseed", [Go, Rust, Go, Rust, Go, Rust]),
    ] {
        let mut nodes = bins.cluster(prefix, &sides, &[]);
        for node in &mut nodes {
            let members = node.command("members", "members");
            assert_eq!(members["members"].as_array().unwrap().len(), 6, "{members}");
        }
        for node in nodes.iter_mut().filter(|n| n.name.contains("-r")) {
            assert_rust_accepted_everything(node);
        }
    }
}

/// Kills `victim` and returns how long each watcher took to report it
/// failed.
fn detection_times(nodes: &mut [Agent], victim: usize) -> Vec<(String, f64)> {
    let name = nodes[victim].name.clone();
    let killed = Instant::now();
    nodes[victim].kill();
    let mut times = Vec::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        if i == victim {
            continue;
        }
        let v = node.event("leave", &name);
        assert_eq!(v["reason"], "failed", "{}: {v}", node.name);
        times.push((node.name.clone(), killed.elapsed().as_secs_f64()));
    }
    times
}

#[test]
fn killed_nodes_are_detected_across_implementations() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("fd", &[Rust, Go, Rust, Go, Rust, Go], &[]);
    // Bound with Go's local config: a probe round (n intervals), the probe,
    // the longest suspicion (6 x 3 s x log10(n) floor 1), dissemination.
    let bound = 6.0 + 2.0 + 18.0 + 4.0;
    let go_victim = detection_times(&mut nodes, 5);
    let rust_victim = detection_times(&mut nodes[..5], 4);
    println!("killed Go node fd-g5 seen failed by: {go_victim:?}");
    println!("killed Rust node fd-r4 seen failed by: {rust_victim:?}");
    for (who, t) in go_victim.iter().chain(&rust_victim) {
        assert!(*t < bound, "{who} took {t:.2} s (bound {bound} s)");
    }
}

#[test]
fn graceful_leave_is_seen_as_left_both_ways() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("gl", &[Rust, Go, Rust, Go], &[]);
    nodes[3].command("leave", "left");
    for node in &mut nodes[..3] {
        let v = node.event("leave", "gl-g3");
        assert_eq!(v["reason"], "left", "{}: {v}", node.name);
    }
    nodes[2].command("leave", "left");
    for node in &mut nodes[..2] {
        let v = node.event("leave", "gl-r2");
        assert_eq!(v["reason"], "left", "{}: {v}", node.name);
    }
}

#[test]
fn metadata_updates_cross_both_ways() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("md", &[Rust, Go], &["--meta", "v1"]);
    nodes[0].send("meta from-rust");
    let v = nodes[1].wait("update of md-r0", |v| {
        v["ev"] == "update" && v["name"] == "md-r0" && v["meta"] == "from-rust"
    });
    assert_eq!(v["meta"], "from-rust");
    nodes[1].send("meta from-go");
    nodes[0].wait("update of md-g1", |v| {
        v["ev"] == "update" && v["name"] == "md-g1" && v["meta"] == "from-go"
    });
}

#[test]
fn broadcasts_and_messages_cross_both_ways() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("msg", &[Rust, Go, Rust], &[]);
    nodes[0].send("broadcast from rust");
    nodes[1].msg("from rust");
    nodes[2].msg("from rust");
    nodes[0].send("send msg-g1 reliable r2g");
    nodes[1].msg("reliable r2g");
    nodes[0].send("sendbe msg-g1 best-effort r2g");
    nodes[1].msg("best-effort r2g");
    nodes[1].send("send msg-r2 reliable g2r");
    nodes[2].msg("reliable g2r");
    nodes[1].send("sendbe msg-r0 best-effort g2r");
    nodes[0].msg("best-effort g2r");
    for i in [0, 2] {
        assert_rust_accepted_everything(&mut nodes[i]);
    }
    // Go v0.2.2 picks gossip targets by random sampling and sends a
    // broadcast only a few times, so with several peers it may miss one
    // With a single peer it always arrives.
    let mut pair = bins.cluster("bcgo", &[Go, Rust], &[]);
    pair[0].send("broadcast from go");
    pair[1].msg("from go");
}

#[test]
fn push_pull_user_state_merges_with_the_join_flag() {
    let Some(bins) = bins() else { return };
    for (first, second) in [(Side::Rust, Side::Go), (Side::Go, Side::Rust)] {
        let prefix = format!("pp{first:?}");
        let mut a = bins.spawn(first, &format!("{prefix}-a"), &["--state", "state-a"]);
        a.ready();
        let mut b = spawn_join(
            &bins,
            second,
            &format!("{prefix}-b"),
            &a,
            &["--state", "state-b"],
        );
        assert_eq!(b.joined()["n"], 1);
        let got_a = a.wait("merge on a", |v| v["ev"] == "merge");
        assert_eq!(
            (got_a["data"].clone(), got_a["join"].clone()),
            ("state-b".into(), true.into())
        );
        let got_b = b.wait("merge on b", |v| v["ev"] == "merge");
        assert_eq!(
            (got_b["data"].clone(), got_b["join"].clone()),
            ("state-a".into(), true.into())
        );
        // A later periodic exchange carries join = false (local: every 15 s).
        let periodic = a.wait("periodic merge", |v| {
            v["ev"] == "merge" && v["join"] == false
        });
        assert_eq!(periodic["data"], "state-b");
    }
}

#[test]
fn encryption_with_aes_128_and_256_and_live_key_rotation() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    for (prefix, key) in [("aes128", KEY128), ("aes256", KEY256)] {
        let mut nodes = bins.cluster(prefix, &[Rust, Go, Rust, Go], &["--key", key]);
        // Go sends the Rust nodes encrypted datagrams.
        nodes[1].send(&format!("sendbe {prefix}-r0 sealed"));
        nodes[0].msg("sealed");
        let layers = layers_in(&mut nodes[0]);
        assert!(layers["aes-v1"].as_u64().unwrap_or(0) > 0, "{layers}");
        assert_rust_accepted_everything(&mut nodes[0]);
    }
    // Rotation while the mixed cluster runs: add, use, remove.
    let mut nodes = bins.cluster("rot", &[Rust, Go, Rust, Go], &["--key", KEY128]);
    for step in [
        format!("addkey {KEY256}"),
        format!("usekey {KEY256}"),
        format!("removekey {KEY128}"),
    ] {
        for node in &mut nodes {
            node.command(&step, "keys");
        }
        let text = format!("after {}", step.split(' ').next().unwrap_or_default());
        nodes[0].send(&format!("broadcast {text}"));
        for node in &mut nodes[1..] {
            node.msg(&text);
        }
    }
    for node in &mut nodes {
        let members = node.command("members", "members");
        assert_eq!(
            members["members"].as_array().unwrap().len(),
            4,
            "{}: {members}",
            node.name
        );
        assert!(
            !node.seen.iter().any(|v| v["ev"] == "leave"),
            "{}: lost a member during rotation",
            node.name
        );
    }
}

#[test]
fn a_wrong_key_is_refused_on_both_sides() {
    let Some(bins) = bins() else { return };
    for (seed_side, joiner_side) in [(Side::Go, Side::Rust), (Side::Rust, Side::Go)] {
        let prefix = format!("wk{seed_side:?}");
        let mut seed = bins.spawn(seed_side, &format!("{prefix}-seed"), &["--key", KEY128]);
        seed.ready();
        for (i, args) in [vec!["--key", OTHER_KEY], vec![]].into_iter().enumerate() {
            let mut joiner =
                spawn_join(&bins, joiner_side, &format!("{prefix}-j{i}"), &seed, &args);
            let joined = joiner.joined();
            assert_eq!(joined["n"], 0, "{}: {joined}", joiner.name);
            assert!(joined["err"].is_string(), "{joined}");
        }
        let members = seed.command("members", "members");
        assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");
    }
}

#[test]
fn compression_off_lzw_and_lz4_between_swimlist_nodes() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut off = bins.cluster("nocomp", &[Rust, Go, Rust], &["--compression", "none"]);
    off[1].send("sendbe nocomp-r0 plain");
    off[0].msg("plain");
    off[0].send("broadcast uncompressed");
    off[1].msg("uncompressed");
    off[2].msg("uncompressed");
    assert_rust_accepted_everything(&mut off[0]);

    // Two swimlist nodes on LZ4 with Go nodes on LZW in one cluster.
    let mut nodes = Vec::new();
    let mut a = bins.spawn(
        Rust,
        "lz-r0",
        &["--compression", "lz4", "--state", &"s".repeat(400)],
    );
    a.ready();
    let b = spawn_join(
        &bins,
        Rust,
        "lz-r1",
        &a,
        &["--compression", "lz4", "--state", &"s".repeat(400)],
    );
    let g2 = spawn_join(&bins, Go, "lz-g2", &a, &[]);
    let g3 = spawn_join(&bins, Go, "lz-g3", &a, &[]);
    nodes.push(a);
    nodes.extend([b, g2, g3]);
    converge(&mut nodes);
    // Go to each Rust node (a Go broadcast reaches only as many random
    // nodes as its retransmit limit, so address them directly).
    nodes[2].send("sendbe lz-r0 over lzw");
    nodes[0].msg("over lzw");
    nodes[3].send("send lz-r1 over tcp");
    nodes[1].msg("over tcp");
    nodes[0].send("broadcast over lz4");
    nodes[1].msg("over lz4");
    nodes[2].msg("over lz4");
    nodes[3].msg("over lz4");
    // Gossip between the Rust pair is LZ4; Go nodes never got any (they
    // would have dropped it and missed the broadcast above).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let l0 = layers_in(&mut nodes[0]);
        let l1 = layers_in(&mut nodes[1]);
        if l0["lz4"].as_u64().unwrap_or(0) + l1["lz4"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no LZ4 packet between the Rust nodes: {l0} {l1}"
        );
        nodes[0].send("broadcast more traffic to compress, more traffic to compress, more traffic");
        nodes[1].msg("more traffic to compress, more traffic to compress, more traffic");
    }
    for i in [0, 1] {
        assert_rust_accepted_everything(&mut nodes[i]);
    }
}

#[test]
fn protocol_version_1_peers_use_encryption_version_0() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    // Protocol 1 ignores advertised ports (every node is assumed to use
    // its own), so, as in Go's protocol-1 days, all nodes share one port:
    // here on three loopback addresses.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        probe.local_addr().unwrap().port().to_string()
    };
    let on = |ip: &'static str| ["--bind", ip, "--port", port.as_str(), "--key", KEY128];
    let mut seed = bins.spawn(
        Go,
        "pv1-g0",
        &[&on("127.0.0.2")[..], &["--protocol", "1"]].concat(),
    );
    seed.ready();
    let target = format!("127.0.0.2:{port}");
    let join = ["--join", target.as_str()];
    let mut r1 = bins.spawn(Rust, "pv1-r1", &[&on("127.0.0.3")[..], &join].concat());
    r1.ready();
    assert_eq!(r1.joined()["n"], 1);
    let mut r2 = bins.spawn(
        Rust,
        "pv1-r2",
        &[&on("127.0.0.4")[..], &join, &["--protocol", "1"]].concat(),
    );
    r2.ready();
    assert_eq!(r2.joined()["n"], 1);
    let mut nodes = vec![seed, r1, r2];
    converge(&mut nodes);
    // The Go node seals with envelope version 0 (PKCS#7), and so does the
    // swimlist node speaking protocol 1.
    nodes[0].send("sendbe pv1-r1 sealed by go");
    nodes[1].msg("sealed by go");
    nodes[2].send("sendbe pv1-r1 sealed by rust");
    nodes[1].msg("sealed by rust");
    let layers = layers_in(&mut nodes[1]);
    assert!(layers["aes-v0"].as_u64().unwrap_or(0) >= 2, "{layers}");
    assert_rust_accepted_everything(&mut nodes[1]);
}

#[test]
fn a_paused_swimlist_node_refutes_and_stays_alive_for_go() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("pause", &[Go, Go, Go, Rust], &[]);
    // Go's local config suspects after a failed probe (1 s) and declares
    // death 3 s after the suspicion at the earliest; a 2.5 s pause stays
    // below that. After each pause, give the node up to 10 s to hear the
    // accusation and refute (it does within ~0.2 s); only if nobody noticed
    // the pause, pause again — never back to back.
    let mut refutes = 0;
    for _ in 0..4 {
        nodes[3].signal("STOP");
        std::thread::sleep(Duration::from_millis(2500));
        nodes[3].signal("CONT");
        let deadline = Instant::now() + Duration::from_secs(10);
        while refutes == 0 && Instant::now() < deadline {
            let stats = nodes[3].command("stats", "stats");
            refutes = stats["refutes"].as_u64().unwrap_or(0);
            if refutes == 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        if refutes > 0 {
            break;
        }
    }
    assert!(refutes > 0, "no pause was ever noticed");
    // The Go nodes agree it is alive: it is still a member, never left.
    for node in &mut nodes[..3] {
        let members = node.command("members", "members");
        let names: Vec<&str> = members["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        assert!(names.contains(&"pause-r3"), "{}: {members}", node.name);
        assert!(
            !node.seen.iter().any(|v| v["ev"] == "leave"),
            "{} saw a leave",
            node.name
        );
    }
}

/// nftables rules dropping UDP to one port on loopback, removed on drop.
struct UdpBlock {
    table: String,
}

impl UdpBlock {
    fn to_port(port: u64) -> Option<UdpBlock> {
        let table = format!("swimlist_interop_{port}");
        let script = format!(
            "add table inet {table}\n\
             add chain inet {table} input {{ type filter hook input priority -10 ; }}\n\
             add rule inet {table} input udp dport {port} drop\n"
        );
        let ok = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(stdin) = child.stdin.as_mut() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait()
            })
            .is_ok_and(|s| s.success());
        ok.then_some(UdpBlock { table })
    }
}

impl Drop for UdpBlock {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .status();
    }
}

#[test]
fn tcp_fallback_ping_keeps_a_udp_blocked_node_alive() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("tcp", &[Rust, Go, Rust, Go], &[]);
    for blocked in [1usize, 2] {
        let port = seed_port(&nodes[blocked]);
        let Some(block) = UdpBlock::to_port(port) else {
            assert!(
                std::env::var_os("SWIMLIST_INTEROP").is_none(),
                "SWIMLIST_INTEROP is set but nftables rules cannot be added (needs root and nft)"
            );
            eprintln!("SKIPPED tcp fallback: cannot add nftables rules (needs root and nft)");
            return;
        };
        let name = nodes[blocked].name.clone();
        // Wait until TCP pings have demonstrably carried the probes (the
        // streams a Rust node takes part in climb well past the occasional
        // push/pull) while nobody suspects or fails the blocked node.
        let observer = if name.contains("-r") { blocked } else { 0 };
        let start = observer_streams(&mut nodes[observer]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while observer_streams(&mut nodes[observer]) < start + 5 {
            assert!(Instant::now() < deadline, "no TCP fallback pings observed");
            std::thread::sleep(Duration::from_millis(500));
        }
        drop(block);
        for node in &nodes {
            assert!(
                !node
                    .seen
                    .iter()
                    .any(|v| (v["ev"] == "leave" || v["ev"] == "suspect") && v["name"] == name),
                "{} suspected {name} despite TCP",
                node.name
            );
        }
    }
}

/// Streams a Rust node took part in (TCP pings to or from it).
fn observer_streams(node: &mut Agent) -> u64 {
    let stats = node.command("stats", "stats");
    stats["streams_out"].as_u64().unwrap_or(0) + stats["streams_in"].as_u64().unwrap_or(0)
}

// ---- labels (Go memberlist v0.3.0 and later) ---------------------------------

/// The members `node` lists, by name.
fn member_names(node: &mut Agent) -> Vec<String> {
    let members = node.command("members", "members");
    members["members"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: {members}", node.name))
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_owned))
        .collect()
}

/// How many datagrams a Rust node dropped for their label.
fn label_drops(node: &mut Agent) -> u64 {
    node.command("stats", "stats")["dropped"]["label"]
        .as_u64()
        .unwrap_or(0)
}

/// Waits (up to the node's step) until a Rust node has dropped a datagram
/// for its label.
fn wait_label_drop(node: &mut Agent) {
    let deadline = Instant::now() + node.step;
    while label_drops(node) == 0 {
        assert!(
            Instant::now() < deadline,
            "{}: no datagram dropped for its label\n{}",
            node.name,
            node.describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn matching_labels_form_a_mixed_cluster() {
    let Some(bins) = bins() else { return };
    if !bins.go_has_labels("matching_labels_form_a_mixed_cluster") {
        return;
    }
    use Side::{Go, Rust};
    // With a key, the label is also GCM additional data on both sides.
    for (prefix, args) in [
        ("lbl", vec!["--label", "blue"]),
        ("lblkey", vec!["--label", "blue", "--key", KEY128]),
    ] {
        let mut nodes = bins.cluster(prefix, &[Go, Rust, Go, Rust], &args);
        for node in &mut nodes {
            assert_eq!(member_names(node).len(), 4, "{}", node.name);
        }
        // Labelled datagrams and streams, Go to Rust and back.
        for (from, to) in [(0, 1), (2, 3), (1, 2), (3, 0)] {
            let target = nodes[to].name.clone();
            for (cmd, kind) in [("sendbe", "datagram"), ("send", "stream")] {
                let text = format!("{kind} to {target}");
                nodes[from].send(&format!("{cmd} {target} {text}"));
                nodes[to].msg(&text);
            }
        }
        for i in [1, 3] {
            let layers = layers_in(&mut nodes[i]);
            assert!(layers["label"].as_u64().unwrap_or(0) > 0, "{layers}");
            if args.contains(&"--key") {
                assert!(layers["aes-v1"].as_u64().unwrap_or(0) > 0, "{layers}");
            }
            assert_rust_accepted_everything(&mut nodes[i]);
        }
    }
}

#[test]
fn mismatched_labels_are_refused_both_ways() {
    let Some(bins) = bins() else { return };
    if !bins.go_has_labels("mismatched_labels_are_refused_both_ways") {
        return;
    }
    use Side::{Go, Rust};
    // Joins (push/pull streams) across a label mismatch fail, whichever
    // side seeds: another label, no label against a label, a label against
    // none. Go says why in its log; swimlist closes such streams silently.
    for (seed_side, joiner_side) in [(Go, Rust), (Rust, Go)] {
        for (i, (seed_label, joiner_label)) in [("blue", "red"), ("blue", ""), ("", "blue")]
            .into_iter()
            .enumerate()
        {
            let prefix = format!("lblx{seed_side:?}{i}");
            let label = |l: &'static str| {
                if l.is_empty() {
                    vec![]
                } else {
                    vec!["--label", l]
                }
            };
            let mut seed = bins.spawn(seed_side, &format!("{prefix}-seed"), &label(seed_label));
            seed.ready();
            let mut joiner = spawn_join(
                &bins,
                joiner_side,
                &format!("{prefix}-joiner"),
                &seed,
                &label(joiner_label),
            );
            let joined = joiner.joined();
            assert_eq!(joined["n"], 0, "{}: {joined}", joiner.name);
            assert!(joined["err"].is_string(), "{joined}");
            if seed_side == Go {
                seed.wait_stderr(&format!(
                    "discarding stream with unacceptable label {joiner_label:?}"
                ));
            }
            assert_eq!(member_names(&mut seed), [seed.name.clone()]);
            assert_eq!(member_names(&mut joiner), [joiner.name.clone()]);
        }
    }

    // Datagrams: a member crashes and a node with another label starts at
    // its address (what labels guard against). The survivor keeps probing
    // that address with its own label; the newcomer drops every probe, so
    // the survivor declares the member failed and nobody admits anyone.
    // A Go cluster "blue", and a swimlist node "red" in its member's place:
    // swimlist counts the drops.
    let mut go = bins.cluster("lblgo", &[Go, Go], &["--label", "blue"]);
    let port = seed_port(&go[1]).to_string();
    go[1].kill();
    let mut rust = bins.spawn(Rust, "lblgo-red", &["--label", "red", "--port", &port]);
    rust.ready();
    wait_label_drop(&mut rust);
    let v = go[0].event("leave", "lblgo-g1");
    assert_eq!(v["reason"], "failed", "{v}");
    assert_eq!(member_names(&mut rust), ["lblgo-red"]);
    assert_eq!(member_names(&mut go[0]), ["lblgo-g0"]);
    // A swimlist cluster "red", and a Go node "blue" in its member's place:
    // Go logs the drops.
    let mut rs = bins.cluster("lblrs", &[Rust, Rust], &["--label", "red"]);
    let port = seed_port(&rs[1]).to_string();
    rs[1].kill();
    let mut go = bins.spawn(Go, "lblrs-blue", &["--label", "blue", "--port", &port]);
    go.ready();
    go.wait_stderr("discarding packet with unacceptable label \"red\"");
    let v = rs[0].event("leave", "lblrs-r1");
    assert_eq!(v["reason"], "failed", "{v}");
    assert_eq!(member_names(&mut go), ["lblrs-blue"]);
    assert_eq!(member_names(&mut rs[0]), ["lblrs-r0"]);
}

#[test]
fn skip_inbound_label_check_admits_unlabelled_traffic_but_go_still_labels_its_own() {
    let Some(bins) = bins() else { return };
    let test = "skip_inbound_label_check_admits_unlabelled_traffic_but_go_still_labels_its_own";
    if !bins.go_has_labels(test) {
        return;
    }
    use Side::{Go, Rust};
    // memberlist's SkipInboundLabelCheck: inbound packets and streams must
    // carry no label and count as carrying the configured one; what the
    // node sends (datagrams, and streams it dials) still carries its label.
    let mut go = bins.spawn(
        Go,
        "skip-g0",
        &["--label", "blue", "--skip-inbound-label-check"],
    );
    go.ready();
    // A labelled node is refused, even with the same label.
    let mut labelled = spawn_join(&bins, Rust, "skip-blue", &go, &["--label", "blue"]);
    let joined = labelled.joined();
    assert_eq!(joined["n"], 0, "{joined}");
    go.wait_stderr("unexpected double stream label header");
    drop(labelled);
    // An unlabelled node is let in: its join stream is accepted, and the
    // reply on that stream has no label header, so both sides admit each
    // other.
    let mut rust = spawn_join(&bins, Rust, "skip-r1", &go, &[]);
    assert_eq!(rust.joined()["n"], 1);
    go.event("join", "skip-r1");
    rust.event("join", "skip-g0");
    // But Go's own datagrams are labelled "blue", which the unlabelled node
    // drops; Go's probes of it (UDP, then the TCP fallback ping it dials
    // with the label) all fail, so Go declares it failed. (It comes back
    // when it refutes; the two keep flapping.)
    wait_label_drop(&mut rust);
    let v = go.event("leave", "skip-r1");
    assert_eq!(v["reason"], "failed", "{v}");
    // Meanwhile swimlist's probes of Go lose only the labelled UDP acks:
    // its TCP fallback ping is unlabelled and answered on the same stream,
    // so it never suspects Go.
    assert!(
        !rust
            .seen
            .iter()
            .any(|v| (v["ev"] == "suspect" || v["ev"] == "leave") && v["name"] == "skip-g0"),
        "swimlist suspected Go: {}",
        rust.describe()
    );
    assert!(member_names(&mut rust).contains(&"skip-g0".to_owned()));
}

#[test]
fn a_swimlist_node_that_skips_the_inbound_label_check_admits_an_unlabelled_go_node() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    // The mirror image of the test above, on swimlist's side: Go sends no
    // label (any release), swimlist takes it as carrying "blue".
    let mut rust = bins.spawn(
        Rust,
        "rskip-r0",
        &["--label", "blue", "--skip-inbound-label-check"],
    );
    rust.ready();
    let mut go = spawn_join(&bins, Go, "rskip-g1", &rust, &[]);
    assert_eq!(go.joined()["n"], 1);
    go.event("join", "rskip-r0");
    rust.event("join", "rskip-g1");
    assert_eq!(label_drops(&mut rust), 0, "{}", rust.describe());
}

#[test]
fn a_left_swimlist_node_cannot_rejoin_and_stays_left_for_go() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("rejoin", &[Go, Rust], &[]);
    let seed = format!("127.0.0.1:{}", seed_port(&nodes[0]));
    nodes[1].send("leave");
    let v = nodes[0].event("leave", "rejoin-r1");
    assert_eq!(v["reason"], "left", "{v}");
    // swimlist's choice: a node that left cannot rejoin; create a new one.
    let joined = nodes[1].command(&format!("join {seed}"), "joined");
    assert_eq!(joined["n"], 0, "{joined}");
    assert!(
        joined["err"]
            .as_str()
            .is_some_and(|e| e.contains("has left")),
        "{joined}"
    );
    // A fresh node under the same name (from a new port) is admitted by Go.
    drop(nodes.pop());
    let mark = nodes[0].seen.len();
    let mut again = spawn_join(&bins, Rust, "rejoin-r1", &nodes[0], &[]);
    assert_eq!(again.joined()["n"], 1);
    nodes[0].wait_from(mark, "the fresh node's join", |v| {
        v["ev"] == "join" && v["name"] == "rejoin-r1"
    });
}

#[test]
fn a_name_held_in_a_go_cluster_is_refused_to_a_swimlist_joiner() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("taken", &[Go, Go], &[]);
    // A swimlist node claiming the second Go node's name.
    let mut claimant = spawn_join(&bins, Rust, "taken-g1", &nodes[0], &[]);
    let joined = claimant.joined();
    assert_eq!(joined["n"], 0, "{joined}");
    let err = joined["err"].as_str().unwrap_or_default();
    let holder = format!("127.0.0.1:{}", seed_port(&nodes[1]));
    assert!(
        err.contains("already held") && err.contains(&holder),
        "{joined}"
    );
    // The holder keeps its name in the Go cluster.
    let members = nodes[0].command("members", "members");
    let held = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "taken-g1")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        held["port"].as_u64(),
        Some(u64::from(seed_port(&nodes[1]) as u16)),
        "{members}"
    );
}

#[test]
fn a_reliable_message_at_go_s_limit_arrives_and_a_larger_one_is_refused_before_sending() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    // Go memberlist (v0.7.0 and earlier) buffers at most 20 MiB of a user
    // message off a stream; swimlist's send_reliable checks the same.
    const LIMIT: usize = 20 * 1024 * 1024;
    let mut nodes = bins.cluster("limit", &[Go, Rust], &[]);
    let text = "m".repeat(LIMIT);
    let mark = nodes[0].seen.len();
    nodes[1].send(&format!("send limit-g0 {text}"));
    nodes[0].wait_from(mark, "the 20 MiB message", |v| {
        v["ev"] == "msg" && v["data"].as_str().is_some_and(|d| d.len() == LIMIT)
    });
    let refused = nodes[1].command(&format!("send limit-g0 {text}m"), "error");
    let err = refused["err"].as_str().unwrap_or_default();
    assert!(err.contains(&format!("at most {LIMIT}")), "{refused}");
    assert_rust_accepted_everything(&mut nodes[1]);
}

// ---- several memberlist releases at once --------------------------------

#[test]
fn one_cluster_of_swimlist_and_go_v0_2_2_and_v0_7_0_detects_crashes() {
    let (Some(old), Some(new)) = (go_release("v0.2.2"), go_release("v0.7.0")) else {
        return;
    };
    let rust = rust_agent();
    let members = [
        (rust.as_path(), "r"),
        (old.as_path(), "old"),
        (new.as_path(), "new"),
        (rust.as_path(), "r"),
        (old.as_path(), "old"),
        (new.as_path(), "new"),
    ];
    let mut nodes = cluster_of("mix", &members, &[]);
    for (node, (_, tag)) in nodes.iter_mut().zip(&members) {
        let ready = node.wait("ready", |v| v["ev"] == "ready");
        let want = match *tag {
            "old" => Value::from("v0.2.2"),
            "new" => Value::from("v0.7.0"),
            _ => Value::Null, // swimlist's ready has no "memberlist"
        };
        assert_eq!(ready["memberlist"], want, "{}: {ready}", node.name);
        assert_eq!(member_names(node).len(), 6, "{}", node.name);
    }
    // Local config bound, as in killed_nodes_are_detected_across_implementations.
    let bound = 6.0 + 2.0 + 18.0 + 4.0;
    let mut all = Vec::new();
    for victim in [5, 4, 3] {
        let name = nodes[victim].name.clone();
        let times = detection_times(&mut nodes[..=victim], victim);
        println!("killed {name} seen failed by: {times:?}");
        all.extend(times);
    }
    for (who, t) in &all {
        assert!(*t < bound, "{who} took {t:.2} s (bound {bound} s)");
    }
    for node in &mut nodes[..3] {
        assert_eq!(member_names(node).len(), 3, "{}", node.name);
    }
}

#[test]
fn a_forged_accusation_at_the_top_incarnation_evicts_no_swimlist_node() {
    // hashicorp/memberlist#358: a dead message at u32::MAX, as a buggy or
    // hostile node would gossip it. Go believes it (and its refutation
    // would wrap to 0); swimlist nodes drop it, and Go takes the accused
    // node back once it has forgotten it.
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    let mut nodes = bins.cluster("ov", &[Rust, Go, Rust], &[]);
    let mut forged = Vec::new();
    swimlist::wire::Message::Dead(swimlist::wire::Dead {
        incarnation: u32::MAX,
        node: "ov-r2".to_owned(),
        from: "ov-g1".to_owned(),
    })
    .encode(swimlist::wire::Context::Packet, &mut forged);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for node in &nodes {
        let port = seed_port(node);
        socket
            .send_to(&forged, ("127.0.0.1", u16::try_from(port).unwrap()))
            .unwrap();
    }
    // Go declares it dead, then, once it has forgotten the entry, learns
    // it again from a push/pull.
    let gone = nodes[1].event("leave", "ov-r2");
    assert_eq!(gone["reason"], "failed", "{gone}");
    let after = nodes[1].seen.iter().position(|v| *v == gone).unwrap() + 1;
    nodes[1].step = Duration::from_secs(120);
    nodes[1].wait_from(after, "ov-r2 back", |v| {
        v["ev"] == "join" && v["name"] == "ov-r2"
    });
    // The other swimlist node dropped the forgery (and Go's gossip of it)
    // and never saw the node leave; the accused one refuted (at the
    // ceiling, with nothing above it, it then says it cannot any more).
    let stats = assert_rust_accepted_everything(&mut nodes[0]);
    assert!(
        stats["dropped"]["implausible incarnation"].as_u64() >= Some(1),
        "{stats}"
    );
    assert_rust_accepted_everything(&mut nodes[2]);
    for i in [0, 2] {
        let left = nodes[i]
            .seen
            .iter()
            .any(|v| v["ev"] == "leave" && v["name"] == "ov-r2");
        assert!(!left, "{} saw ov-r2 leave", nodes[i].name);
    }
    let members = nodes[1].command("members", "members");
    assert_eq!(members["members"].as_array().unwrap().len(), 3, "{members}");
}

#[test]
fn swimlist_nodes_settle_with_go_seeds_and_unsettle_when_alone() {
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    // A swimlist node joining a Go seed settles (its join's push/pull,
    // then a quiet period); so does a swimlist seed a Go node joins.
    let mut nodes = bins.cluster("st", &[Go, Rust], &[]);
    nodes[1].event("settled", "st-r1");
    let mut seeded = bins.cluster("ss", &[Rust, Go], &[]);
    seeded[0].event("settled", "ss-r0");
    // Alone again (its only peer crashed and was declared failed), it
    // says its view is doubtful.
    seeded[1].kill();
    seeded[0].event("leave", "ss-g1");
    seeded[0].event("unsettled", "ss-r0");
    for node in [&mut nodes[1], &mut seeded[0]] {
        assert_rust_accepted_everything(node);
    }
}

#[test]
fn push_pull_state_at_go_s_limit_is_accepted_and_a_larger_one_left_out() {
    // Go (v0.6.0 and later) refuses a whole push/pull whose user state is
    // over 20 MiB. swimlist sends state up to the limit, and leaves larger
    // state out (counted) so that membership still syncs.
    let Some(bins) = bins() else { return };
    use Side::{Go, Rust};
    const LIMIT: usize = 20 * 1024 * 1024;
    let mut seed = bins.spawn(Go, "ps-g0", &[]);
    seed.ready();
    let at_limit = (LIMIT - 1024).to_string();
    let mut big = spawn_join(&bins, Rust, "ps-r1", &seed, &["--state-size", &at_limit]);
    assert_eq!(big.joined()["n"], 1);
    let merged = seed.wait("the state at the limit", |v| {
        v["ev"] == "merge"
            && v["join"] == true
            && v["data"].as_str().is_some_and(|d| d.len() > 1024)
    });
    assert_eq!(merged["data"].as_str().unwrap().len(), LIMIT - 1024);
    let over = (LIMIT + 1).to_string();
    let mut bigger = spawn_join(&bins, Rust, "ps-r2", &seed, &["--state-size", &over]);
    assert_eq!(
        bigger.joined()["n"],
        1,
        "membership syncs without the state"
    );
    seed.event("join", "ps-r2");
    let stats = assert_rust_accepted_everything(&mut bigger);
    assert!(
        stats["dropped"]["local state too large"].as_u64() >= Some(1),
        "{stats}"
    );
    assert_rust_accepted_everything(&mut big);
}
