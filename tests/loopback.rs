//! Whole nodes on real loopback sockets: joining, failure detection, leave,
//! metadata, messages, broadcasts, push/pull state, encryption with key
//! rotation, labels, CIDR allow-lists and IPv6. Every wait is on events or
//! counters with a deadline.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use swimlist::{Config, Delegate, Error, Event, LeaveReason, Memberlist, NodeState};

const DEADLINE: Duration = Duration::from_secs(20);

fn config(name: &str) -> Config {
    Config::local()
        .with_name(name)
        .with_bind_addr(IpAddr::from([127, 0, 0, 1]))
        .with_bind_port(0)
}

fn start(config: Config) -> Memberlist {
    Memberlist::create(config).expect("node starts")
}

/// Records what the node is told, and serves metadata and state.
struct Recorder {
    meta: Mutex<Vec<u8>>,
    state: Vec<u8>,
    msgs: Sender<Vec<u8>>,
    merges: Sender<(Vec<u8>, bool)>,
}

struct Inbox {
    msgs: Receiver<Vec<u8>>,
    merges: Receiver<(Vec<u8>, bool)>,
}

fn recorder(meta: &str, state: &str) -> (Arc<Recorder>, Inbox) {
    let (msgs_tx, msgs) = crossbeam_channel::unbounded();
    let (merges_tx, merges) = crossbeam_channel::unbounded();
    let r = Recorder {
        meta: Mutex::new(meta.as_bytes().to_vec()),
        state: state.as_bytes().to_vec(),
        msgs: msgs_tx,
        merges: merges_tx,
    };
    (Arc::new(r), Inbox { msgs, merges })
}

impl Delegate for Recorder {
    fn node_meta(&self, _limit: usize) -> Vec<u8> {
        self.meta.lock().clone()
    }
    fn notify_msg(&self, msg: &[u8]) {
        let _ = self.msgs.send(msg.to_vec());
    }
    fn local_state(&self, _join: bool) -> Vec<u8> {
        self.state.clone()
    }
    fn merge_remote_state(&self, state: &[u8], join: bool) {
        let _ = self.merges.send((state.to_vec(), join));
    }
}

fn with_delegate(config: Config, delegate: Arc<Recorder>) -> Memberlist {
    Memberlist::builder(config)
        .delegate(delegate)
        .build()
        .expect("node starts")
}

/// Waits until `pred` holds for some event of `node`, returning it.
fn wait_event(node: &Memberlist, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
    let end = Instant::now() + DEADLINE;
    let events = node.events();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!(
                "{}: no {what} within {DEADLINE:?}",
                node.local_node().unwrap().name
            ),
        }
    }
}

fn wait_msg(inbox: &Receiver<Vec<u8>>, expected: &[u8]) {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(m) if m == expected => return,
            Ok(_) => {}
            Err(_) => panic!(
                "message {:?} not received",
                String::from_utf8_lossy(expected)
            ),
        }
    }
}

/// Waits until every node has seen a join for every name.
fn wait_converged(nodes: &[&Memberlist]) {
    let names: HashSet<String> = nodes.iter().map(|n| n.local_node().unwrap().name).collect();
    for node in nodes {
        let mut seen = HashSet::new();
        wait_event(node, "full membership", |e| {
            if let Event::Join(n) = e {
                seen.insert(n.name.clone());
            }
            seen == names
        });
        assert_eq!(node.num_members().unwrap(), nodes.len());
    }
}

/// What `node` knows of the member called `name`.
fn member(node: &Memberlist, name: &str) -> swimlist::Node {
    node.members()
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not a member"))
}

fn addr(node: &Memberlist) -> String {
    node.local_addr().to_string()
}

#[test]
fn nodes_join_and_converge() {
    let nodes: Vec<Memberlist> = (0..5).map(|i| start(config(&format!("n{i}")))).collect();
    for n in &nodes[1..] {
        assert_eq!(n.join(&[addr(&nodes[0])]).unwrap(), 1);
    }
    wait_converged(&nodes.iter().collect::<Vec<_>>());
    let names: HashSet<String> = nodes[3]
        .members()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names.len(), 5);
}

#[test]
fn a_crashed_node_is_detected_as_failed() {
    let a = start(config("fd-a"));
    let b = start(config("fd-b"));
    let c = start(config("fd-c"));
    b.join(&[addr(&a)]).unwrap();
    c.join(&[addr(&a)]).unwrap();
    wait_converged(&[&a, &b, &c]);
    let began = Instant::now();
    c.shutdown();
    for survivor in [&a, &b] {
        let e = wait_event(
            survivor,
            "failure of fd-c",
            |e| matches!(e, Event::Leave(n, LeaveReason::Failed) if n.name == "fd-c"),
        );
        assert_eq!(e.node().state, NodeState::Dead);
    }
    println!("crash detected by both after {:?}", began.elapsed());
    assert_eq!(a.num_members().unwrap(), 2);
}

#[test]
fn a_graceful_leave_is_seen_as_left() {
    let a = start(config("gl-a"));
    let b = start(config("gl-b"));
    b.join(&[addr(&a)]).unwrap();
    wait_converged(&[&a, &b]);
    b.leave(Duration::from_secs(5)).unwrap();
    let e = wait_event(
        &a,
        "leave of gl-b",
        |e| matches!(e, Event::Leave(n, _) if n.name == "gl-b"),
    );
    assert!(matches!(e, Event::Leave(_, LeaveReason::Left)), "{e:?}");
    assert_eq!(a.num_members().unwrap(), 1);
    // Leaving twice is refused; the node keeps running until shut down.
    assert!(matches!(b.leave(Duration::from_secs(1)), Err(Error::Left)));
    assert_eq!(b.num_members().unwrap(), 1, "a left node is not live");
}

#[test]
fn metadata_updates_propagate() {
    let (da, _) = recorder("v1", "");
    let a = with_delegate(config("md-a"), Arc::clone(&da));
    let b = start(config("md-b"));
    b.join(&[addr(&a)]).unwrap();
    wait_converged(&[&a, &b]);
    let seen = member(&b, "md-a");
    assert_eq!(seen.meta, b"v1");
    *da.meta.lock() = b"v2".to_vec();
    a.update_node(Duration::from_secs(5)).unwrap();
    let e = wait_event(
        &b,
        "metadata update",
        |e| matches!(e, Event::Update(n) if n.name == "md-a"),
    );
    assert_eq!(e.node().meta, b"v2");
}

#[test]
fn best_effort_and_reliable_messages_arrive() {
    let (da, inbox) = recorder("", "");
    let a = with_delegate(config("msg-a"), da);
    let b = start(config("msg-b"));
    b.join(&[addr(&a)]).unwrap();
    wait_converged(&[&a, &b]);
    let target = member(&b, "msg-a");
    b.send_reliable(&target, b"reliable").unwrap();
    wait_msg(&inbox.msgs, b"reliable");
    b.send_best_effort(&target, b"best-effort").unwrap();
    wait_msg(&inbox.msgs, b"best-effort");
    b.send_to_address(a.local_addr(), b"by-address").unwrap();
    wait_msg(&inbox.msgs, b"by-address");
    // A reliable message to a node that is gone fails with an error.
    a.shutdown();
    assert!(matches!(
        b.send_reliable(&target, b"lost"),
        Err(Error::Delivery(_))
    ));
}

#[test]
fn broadcasts_reach_every_node() {
    let mut inboxes = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..4 {
        let (d, inbox) = recorder("", "");
        nodes.push(with_delegate(config(&format!("bc-{i}")), d));
        inboxes.push(inbox);
    }
    for n in &nodes[1..] {
        n.join(&[addr(&nodes[0])]).unwrap();
    }
    wait_converged(&nodes.iter().collect::<Vec<_>>());
    nodes[2].broadcast(b"to everyone", None).unwrap();
    for (i, inbox) in inboxes.iter().enumerate() {
        if i != 2 {
            wait_msg(&inbox.msgs, b"to everyone");
        }
    }
}

#[test]
fn push_pull_exchanges_user_state_with_the_join_flag() {
    let (da, inbox_a) = recorder("", "state-a");
    let (db, inbox_b) = recorder("", "state-b");
    let a = with_delegate(config("pp-a"), da);
    let b = with_delegate(config("pp-b"), db);
    b.join(&[addr(&a)]).unwrap();
    let got_a = inbox_a
        .merges
        .recv_timeout(DEADLINE)
        .expect("a got b's state");
    let got_b = inbox_b
        .merges
        .recv_timeout(DEADLINE)
        .expect("b got a's state");
    assert_eq!(got_a, (b"state-b".to_vec(), true));
    assert_eq!(got_b, (b"state-a".to_vec(), true));
}

#[test]
fn key_rotation_under_traffic_loses_no_member() {
    let k1 = [1u8; 16];
    let k2 = [2u8; 32];
    let keyed = |name: &str| config(name).with_secret_key(&k1).unwrap();
    let mut inboxes = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let (d, inbox) = recorder("", "");
        nodes.push(with_delegate(keyed(&format!("kr-{i}")), d));
        inboxes.push(inbox);
    }
    for n in &nodes[1..] {
        n.join(&[addr(&nodes[0])]).unwrap();
    }
    wait_converged(&nodes.iter().collect::<Vec<_>>());
    let round = |label: &str| {
        nodes[0].broadcast(label.as_bytes(), None).unwrap();
        for inbox in &inboxes[1..] {
            wait_msg(&inbox.msgs, label.as_bytes());
        }
    };
    round("before");
    nodes.iter().for_each(|n| n.add_key(&k2).unwrap());
    round("added");
    nodes.iter().for_each(|n| n.use_key(&k2).unwrap());
    round("switched");
    nodes.iter().for_each(|n| n.remove_key(&k1).unwrap());
    round("removed");
    assert!(matches!(nodes[0].remove_key(&k2), Err(Error::Keyring(_))));
    for n in &nodes {
        assert_eq!(n.num_members().unwrap(), 3);
        let lost = n.events().try_iter().any(|e| matches!(e, Event::Leave(..)));
        assert!(!lost, "a member was lost during rotation");
    }
    // Only the new key gets in now; the old one and no key do not.
    let newcomer = start(config("kr-new").with_secret_key(&k2).unwrap());
    assert_eq!(newcomer.join(&[addr(&nodes[0])]).unwrap(), 1);
    for stale in [
        config("kr-old").with_secret_key(&k1).unwrap(),
        config("kr-none"),
    ] {
        let stale = start(stale);
        assert!(matches!(
            stale.join(&[addr(&nodes[0])]),
            Err(Error::JoinFailed(_))
        ));
    }
}

#[test]
fn mismatched_labels_cannot_join() {
    let a = start(config("lb-a").with_label("blue"));
    let b = start(config("lb-b").with_label("green"));
    let c = start(config("lb-c"));
    let d = start(config("lb-d").with_label("blue"));
    assert!(matches!(b.join(&[addr(&a)]), Err(Error::JoinFailed(_))));
    assert!(matches!(c.join(&[addr(&a)]), Err(Error::JoinFailed(_))));
    assert_eq!(d.join(&[addr(&a)]).unwrap(), 1);
    wait_converged(&[&a, &d]);
    assert_eq!(b.num_members().unwrap(), 1);
    assert_eq!(c.num_members().unwrap(), 1);
}

#[test]
fn cidr_allow_list_keeps_outsiders_out() {
    let mut strict = config("cidr-a");
    strict.cidrs_allowed = vec!["10.0.0.0/8".parse().unwrap()];
    let a = start(strict);
    let b = start(config("cidr-b"));
    // Beyond Go (which answers the push/pull and only refuses to admit b),
    // a refuses b's stream and datagrams outright.
    assert!(matches!(b.join(&[addr(&a)]), Err(Error::JoinFailed(_))));
    let refused = |a: &Memberlist| {
        a.stats()
            .unwrap()
            .protocol
            .dropped
            .get("address not allowed")
            .copied()
    };
    assert!(refused(&a) >= Some(1));
    b.send_to_address(a.local_addr(), b"let me in").unwrap();
    let end = Instant::now() + DEADLINE;
    while refused(&a) < Some(2) {
        assert!(Instant::now() < end, "a never dropped b's datagram");
        std::thread::yield_now();
    }
    assert_eq!(a.num_members().unwrap(), 1);
    assert_eq!(b.num_members().unwrap(), 1);
    assert!(a.members().unwrap().iter().all(|m| m.name != "cidr-b"));
}

#[test]
fn ipv6_cluster() {
    let v6 = |name: &str| config(name).with_bind_addr(IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]));
    let a = match Memberlist::create(v6("v6-a")) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("SKIPPED ipv6_cluster: cannot bind [::1] here: {e}");
            return;
        }
    };
    let b = start(v6("v6-b"));
    let target = format!("[::1]:{}", a.local_addr().port());
    assert_eq!(b.join(&[target.as_str()]).unwrap(), 1);
    wait_converged(&[&a, &b]);
    assert!(b.members().unwrap().iter().all(|m| m.addr.is_ipv6()));
}

#[test]
fn joining_nothing_reachable_fails_with_every_reason() {
    let a = start(config("nj-a"));
    // A port nobody listens on, and an unresolvable name.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    match a.join(&[
        format!("127.0.0.1:{port}"),
        "no-such-host.invalid".to_owned(),
    ]) {
        Err(Error::JoinFailed(errors)) => assert_eq!(errors.len(), 2, "{errors:?}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(a.join(&["/x"]), Err(Error::JoinFailed(_))));
    assert_eq!(a.join::<&str>(&[]).unwrap(), 0);
}

#[test]
fn silent_streams_time_out_and_excess_streams_are_refused() {
    use std::io::Read;
    let mut c = config("sl-a");
    c.tcp_timeout = Duration::from_millis(500);
    c.max_concurrent_push_pulls = 3;
    let a = start(c);
    // Slow-loris peers: connect and say nothing.
    let silent: Vec<std::net::TcpStream> = (0..5)
        .map(|_| std::net::TcpStream::connect(a.local_addr()).unwrap())
        .collect();
    let began = Instant::now();
    let readers: Vec<_> = silent
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buf = [0u8; 1];
                // The node closes without a reply: EOF (or a reset).
                let closed = matches!(s.read(&mut buf), Ok(0) | Err(_));
                (closed, began.elapsed())
            })
        })
        .collect();
    let mut closed_at: Vec<Duration> = readers
        .into_iter()
        .map(|r| {
            let (closed, at) = r.join().unwrap();
            assert!(closed, "a silent stream got data");
            at
        })
        .collect();
    closed_at.sort();
    // Two were refused at once (over the cap of three), the rest closed at
    // the stream deadline, and none lingered.
    assert!(closed_at[1] < Duration::from_millis(400), "{closed_at:?}");
    assert!(closed_at[4] >= Duration::from_millis(400), "{closed_at:?}");
    assert!(closed_at[4] < Duration::from_secs(5), "{closed_at:?}");
    // The node still serves real peers.
    let b = start(config("sl-b"));
    assert_eq!(b.join(&[addr(&a)]).unwrap(), 1);
}

#[test]
fn unspecified_bind_advertises_a_real_address() {
    // Bound to 0.0.0.0 the node advertises one of the host's addresses (as
    // Go picks a private IP). It stays alone: nothing is sent there.
    let c = config("any-a").with_bind_addr(IpAddr::from([0, 0, 0, 0]));
    match Memberlist::create(c) {
        Ok(a) => {
            let ip = a.local_node().unwrap().addr;
            assert!(
                ip.is_ipv4() && !ip.is_unspecified() && !ip.is_loopback(),
                "{ip}"
            );
            assert!(a.local_addr().ip().is_unspecified());
            assert_eq!(a.local_node().unwrap().port, a.local_addr().port());
        }
        Err(Error::NoAdvertiseAddress) => {
            eprintln!("SKIPPED: this host has no non-loopback IPv4 address");
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_large_plaintext_stream_arriving_in_pieces_is_delivered() {
    // Large plaintext streams are not re-decoded on every read (that would
    // let a trickling peer keep the event loop busy); a try put off must
    // still happen once the last bytes are in.
    let plain = |name: &str| {
        config(name)
            .with_compression(swimlist::CompressionMode::None)
            .with_bind_port(0)
    };
    let (da, inbox) = recorder("", "");
    let a = with_delegate(plain("big-a"), da);
    let b = start(plain("big-b"));
    b.join(&[addr(&a)]).unwrap();
    wait_converged(&[&a, &b]);
    let target = member(&b, "big-a");
    let big: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    b.send_reliable(&target, &big).unwrap();
    let got = inbox
        .msgs
        .recv_timeout(DEADLINE)
        .expect("the 6 MiB message arrives");
    assert_eq!(got.len(), big.len());
    assert!(got == big);
}

/// Sends `request` on a fresh stream to `node` and reads until it closes.
fn raw_stream(node: &Memberlist, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(node.local_addr()).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(request).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    reply
}

#[test]
fn unreadable_streams_get_go_s_error_reply_and_are_counted() {
    // The transport only measures streams; the node decodes them. A request
    // that can never be a message still reaches the node, which answers
    // with the error reply Go sends and counts the drop by reason.
    use swimlist::wire::{read_stream, Inbound, Message};
    let a = start(config("unread-a"));
    let dropped = |reason: &str| a.stats().unwrap().protocol.dropped.get(reason).copied();
    for (request, reason, says) in [
        (
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            "unexpected message type",
            "unknown message type",
        ),
        // An encrypted frame sent to a node without keys.
        (
            &[0x0a, 0, 0, 0, 3, 1, 2, 3][..],
            "malformed packet",
            "encryption",
        ),
    ] {
        let reply = raw_stream(&a, request);
        let decoded = read_stream(&reply, &Inbound::default(), false)
            .expect("the reply is memberlist")
            .expect("the reply is whole");
        match decoded.message {
            Message::Err(e) => assert!(e.error.contains(says), "{}", e.error),
            other => panic!("expected an error reply, got {other:?}"),
        }
        assert_eq!(
            dropped(reason),
            Some(1),
            "{:?}",
            a.stats().unwrap().protocol.dropped
        );
    }
    // A request cut short gets no reply, and the node serves real peers.
    assert!(raw_stream(&a, &[0x06]).is_empty());
    let b = start(config("unread-b"));
    assert_eq!(b.join(&[addr(&a)]).unwrap(), 1);
}

#[test]
fn nodes_on_dskit_s_transport_form_a_cluster_without_udp() {
    // Grafana dskit's TCP-only framing: packets (probes, gossip, best-effort
    // messages) go on TCP connections of their own, streams as usual.
    let dskit = |name: &str| {
        Memberlist::builder(config(name))
            .dskit_transport()
            .build()
            .expect("node starts")
    };
    let (da, inbox) = recorder("", "");
    let a = Memberlist::builder(config("dskit-a"))
        .dskit_transport()
        .delegate(da)
        .build()
        .unwrap();
    let b = dskit("dskit-b");
    let c = dskit("dskit-c");
    // No UDP socket is bound on the node's port.
    assert!(std::net::UdpSocket::bind(a.local_addr()).is_ok());
    assert_eq!(b.join(&[addr(&a)]).unwrap(), 1);
    assert_eq!(c.join(&[addr(&b)]).unwrap(), 1);
    wait_converged(&[&a, &b, &c]);
    let to_a = member(&b, "dskit-a");
    b.send_best_effort(&to_a, b"by packet").unwrap();
    wait_msg(&inbox.msgs, b"by packet");
    b.send_reliable(&to_a, b"by stream").unwrap();
    wait_msg(&inbox.msgs, b"by stream");
    c.broadcast(b"by gossip", None).unwrap();
    wait_msg(&inbox.msgs, b"by gossip");
    // Probes travel as dskit packets too: a crash is detected.
    c.shutdown();
    wait_event(
        &a,
        "dskit-c failed",
        |e| matches!(e, Event::Leave(n, LeaveReason::Failed) if n.name == "dskit-c"),
    );
}

#[cfg(feature = "tls")]
#[path = "certs/mod.rs"]
mod certs;

#[cfg(feature = "tls")]
#[test]
fn dskit_transport_over_tls_refuses_plain_peers() {
    let pki = certs::TestPki::new("loopback");
    let tls = || swimlist::DskitTls::from_pem_files(&pki.ca, &pki.cert, &pki.key).unwrap();
    let (da, inbox) = recorder("", "");
    let a = Memberlist::builder(config("tls-a"))
        .dskit_tls(tls())
        .delegate(da)
        .build()
        .unwrap();
    let b = Memberlist::builder(config("tls-b"))
        .dskit_tls(tls())
        .build()
        .unwrap();
    assert_eq!(b.join(&[addr(&a)]).unwrap(), 1);
    wait_converged(&[&a, &b]);
    let to_a = member(&b, "tls-a");
    b.send_best_effort(&to_a, b"sealed packet").unwrap();
    wait_msg(&inbox.msgs, b"sealed packet");
    b.send_reliable(&to_a, b"sealed stream").unwrap();
    wait_msg(&inbox.msgs, b"sealed stream");
    // A plain dskit node cannot join a TLS one.
    let plain = Memberlist::builder(config("tls-plain"))
        .dskit_transport()
        .build()
        .unwrap();
    assert!(matches!(plain.join(&[addr(&a)]), Err(Error::JoinFailed(_))));
}

#[test]
fn a_restarted_node_comes_back_under_its_name_from_a_new_address() {
    // The Kubernetes pod-restart case: a node crashes and comes back with
    // the same name at another address. Once the old one is declared dead
    // (and dead_node_reclaim_time has passed: 1 s with `local`), the new one
    // is admitted; Go's default (reclaim never) would refuse it until the
    // dead entry is forgotten.
    let a = start(config("pod-a"));
    let old = start(config("pod-x"));
    old.join(&[addr(&a)]).unwrap();
    wait_converged(&[&a, &old]);
    let old_port = old.local_addr().port();
    old.shutdown();
    wait_event(
        &a,
        "pod-x failed",
        |e| matches!(e, Event::Leave(n, LeaveReason::Failed) if n.name == "pod-x"),
    );
    let new = start(config("pod-x"));
    assert_ne!(new.local_addr().port(), old_port);
    // The seed holds the name as dead: the claim waits for the reclaim
    // time, then takes over, with no second join needed.
    assert_eq!(new.join(&[addr(&a)]).unwrap(), 1);
    wait_event(
        &a,
        "pod-x back",
        |e| matches!(e, Event::Join(n) if n.name == "pod-x" && n.port == new.local_addr().port()),
    );
    let x = member(&a, "pod-x");
    assert_eq!(x.port, new.local_addr().port());
}

#[test]
fn seeds_that_follow_dns_lead_a_lone_node_to_its_cluster() {
    // A seed given as a host name is resolved again every
    // seed_refresh_interval (here by a resolver the test controls, as a
    // DNS record that changes when pods move); partition healing then
    // brings the lone node to whatever the name points to now.
    let b = start(config("dns-b"));
    let answer: Arc<Mutex<Vec<std::net::SocketAddr>>> = Arc::default();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let (answer_for_resolver, asked_by_resolver) = (Arc::clone(&answer), Arc::clone(&asked));
    let mut c = config("dns-a").with_seeds(["seeds.cluster.test:7946"]);
    c.seed_refresh_interval = Some(Duration::from_millis(100));
    c.partition_healing_interval = Duration::from_millis(200);
    let a = Memberlist::builder(c)
        .resolver(move |host, port| {
            asked_by_resolver.lock().push((host.to_owned(), port));
            Ok(answer_for_resolver.lock().clone())
        })
        .build()
        .unwrap();
    assert_eq!(a.num_members().unwrap(), 1, "the name points nowhere yet");
    *answer.lock() = vec![b.local_addr()];
    wait_event(
        &a,
        "dns-b found through the seed",
        |e| matches!(e, Event::Join(n) if n.name == "dns-b"),
    );
    assert!(asked
        .lock()
        .iter()
        .all(|(host, port)| host == "seeds.cluster.test" && *port == 7946));
    assert!(asked.lock().len() >= 2, "resolved at start and again");
}

#[test]
fn a_seed_lookup_that_hangs_is_abandoned_at_its_limit() {
    let hang = Duration::from_secs(10);
    let mut c = config("dns-hang").with_seeds(["stuck.cluster.test"]);
    c.tcp_timeout = Duration::from_millis(200);
    let began = Instant::now();
    let a = Memberlist::builder(c)
        .resolver(move |_, _| {
            std::thread::sleep(hang);
            Ok(Vec::new())
        })
        .build()
        .unwrap();
    assert!(
        began.elapsed() < hang / 2,
        "start waited {:?}",
        began.elapsed()
    );
    assert_eq!(a.num_members().unwrap(), 1);
}
