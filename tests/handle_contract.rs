//! The handle keeps its word: the event channel ends at shutdown, delegate
//! hooks may call back into the handle, sends that cannot be carried out
//! are refused with the limit they break, and calls after leave or
//! shutdown say so. Every wait has a deadline.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use swimlist::protocol::{MessageKind, ProtocolError};
use swimlist::{Config, Delegate, Error, Event, Lifecycle, Memberlist, NodeState};

const DEADLINE: Duration = Duration::from_secs(20);

fn config(name: &str) -> Config {
    Config::local()
        .with_name(name)
        .with_bind_addr(IpAddr::from([127, 0, 0, 1]))
        .with_bind_port(0)
}

fn addr(node: &Memberlist) -> String {
    node.local_addr().to_string()
}

/// Waits until `node` has seen `name` join.
fn wait_join(node: &Memberlist, name: &str) {
    let end = Instant::now() + DEADLINE;
    let events = node.events();
    loop {
        match events.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(Event::Join(n)) if n.name == name => return,
            Ok(_) => {}
            Err(e) => panic!("no join of {name}: {e}"),
        }
    }
}

fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[test]
fn the_event_channel_ends_after_shutdown() {
    let node = Memberlist::create(config("ends")).unwrap();
    let events = node.events();
    let (done_tx, done) = crossbeam_channel::bounded(1);
    // Reads as the README does: until the channel ends.
    let reader = std::thread::spawn(move || {
        let seen: Vec<Event> = events.iter().collect();
        let _ = done_tx.send(seen);
    });
    node.shutdown();
    let seen = recv(&done, "the event loop did not end after shutdown");
    reader.join().unwrap();
    // The node's own join came out before the end.
    assert!(
        matches!(&seen[..], [Event::Join(n)] if n.name == "ends"),
        "{seen:?}"
    );
    assert_eq!(
        node.events().recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Disconnected)
    );
}

/// Answers every "ping" with a reliable "pong" from inside `notify_msg`,
/// after asking the handle how many members there are; and calls the
/// handle from a query hook too.
struct Responder {
    handle: OnceLock<Arc<Memberlist>>,
    answered: Sender<Result<usize, String>>,
    from_query_hook: Sender<String>,
}

impl Delegate for Responder {
    fn notify_msg(&self, msg: &[u8]) {
        let Some(me) = self.handle.get() else { return };
        if msg != b"ping" {
            return;
        }
        let result = (|| {
            let members = me.num_members().map_err(|e| e.to_string())?;
            let peer = me
                .members()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|n| n.name == "caller")
                .ok_or("no caller")?;
            me.send_reliable(&peer, b"pong")
                .map_err(|e| e.to_string())?;
            Ok(members)
        })();
        let _ = self.answered.send(result);
    }

    fn local_state(&self, _join: bool) -> Vec<u8> {
        if let Some(me) = self.handle.get() {
            let outcome = match me.num_members() {
                Ok(n) => format!("{n} members"),
                Err(e) => e.to_string(),
            };
            let _ = self.from_query_hook.send(outcome);
        }
        Vec::new()
    }
}

struct Inbox(Sender<Vec<u8>>);

impl Delegate for Inbox {
    fn notify_msg(&self, msg: &[u8]) {
        let _ = self.0.send(msg.to_vec());
    }
}

#[test]
fn delegate_hooks_may_call_the_handle() {
    let (answered_tx, answered) = crossbeam_channel::unbounded();
    let (query_tx, from_query_hook) = crossbeam_channel::unbounded();
    let responder = Arc::new(Responder {
        handle: OnceLock::new(),
        answered: answered_tx,
        from_query_hook: query_tx,
    });
    let b = Arc::new(
        Memberlist::builder(config("responder"))
            .delegate(Arc::clone(&responder) as Arc<dyn Delegate>)
            .build()
            .unwrap(),
    );
    assert!(responder.handle.set(Arc::clone(&b)).is_ok());
    let (inbox_tx, inbox) = crossbeam_channel::unbounded();
    let a = Memberlist::builder(config("caller"))
        .delegate(Arc::new(Inbox(inbox_tx)))
        .build()
        .unwrap();
    // The join's push/pull asks the responder's local_state query hook,
    // which reads its own node.
    a.join(&[addr(&b)]).unwrap();
    let outcome = recv(&from_query_hook, "local_state was not called");
    assert!(outcome.ends_with(" members"), "{outcome}");
    wait_join(&b, "caller");

    let peer = a
        .members()
        .unwrap()
        .into_iter()
        .find(|n| n.name == "responder")
        .unwrap();
    a.send_reliable(&peer, b"ping").unwrap();
    assert_eq!(recv(&answered, "notify_msg did not answer"), Ok(2));
    assert_eq!(recv(&inbox, "no pong"), b"pong");
    // Nothing froze: both nodes still answer.
    assert_eq!(a.num_members().unwrap(), 2);
    assert_eq!(b.num_members().unwrap(), 2);
    b.shutdown();
}

/// Bytes that do not compress, so a datagram's size is the payload's.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Joins whatever address a message names, from `notify_msg`, and tells
/// what the join's own push/pull asked of `local_state`.
struct JoinsOnRequest {
    handle: OnceLock<Arc<Memberlist>>,
    joined: Sender<Result<usize, String>>,
    states: Sender<bool>,
}

impl Delegate for JoinsOnRequest {
    fn notify_msg(&self, msg: &[u8]) {
        let (Some(me), Some(target)) = (self.handle.get(), msg.strip_prefix(b"join ")) else {
            return;
        };
        let target = String::from_utf8_lossy(target).into_owned();
        let _ = self
            .joined
            .send(me.join(&[target]).map_err(|e| e.to_string()));
    }

    fn local_state(&self, join: bool) -> Vec<u8> {
        let _ = self.states.send(join);
        Vec::new()
    }
}

#[test]
fn a_hook_may_block_on_its_own_node() {
    // The join from notify_msg waits for a push/pull that needs this very
    // delegate's local_state: the wait answers it instead of waiting for
    // itself.
    let (joined_tx, joined) = crossbeam_channel::unbounded();
    let (states_tx, states) = crossbeam_channel::unbounded();
    let joiner = Arc::new(JoinsOnRequest {
        handle: OnceLock::new(),
        joined: joined_tx,
        states: states_tx,
    });
    let runtime = swimlist::Runtime::with_workers(2).unwrap();
    let a = Arc::new(
        Memberlist::builder(config("hook-joiner"))
            .delegate(Arc::clone(&joiner) as Arc<dyn Delegate>)
            .runtime(&runtime)
            .build()
            .unwrap(),
    );
    assert!(joiner.handle.set(Arc::clone(&a)).is_ok());
    let b = Memberlist::builder(config("hook-asker"))
        .runtime(&runtime)
        .build()
        .unwrap();
    let c = Memberlist::create(config("hook-target")).unwrap();
    let peer = a.local_node().unwrap();
    b.send_best_effort(&peer, format!("join {}", addr(&c)).as_bytes())
        .unwrap();
    assert_eq!(recv(&joined, "the hook's join did not return"), Ok(1));
    assert!(recv(&states, "local_state was not asked"), "a join's state");
    wait_join(&c, "hook-joiner");
    assert_eq!(a.num_members().unwrap(), 2);
}

fn too_large(result: Result<(), Error>) -> (MessageKind, usize, usize) {
    match result {
        Err(Error::Protocol(ProtocolError::MessageTooLarge { kind, size, limit })) => {
            (kind, size, limit)
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
}

#[test]
fn sends_beyond_their_limits_are_refused_with_the_limit() {
    let a = Memberlist::create(config("limits-a")).unwrap();
    let (inbox_tx, inbox) = crossbeam_channel::unbounded();
    let b = Memberlist::builder(config("limits-b"))
        .delegate(Arc::new(Inbox(inbox_tx)))
        .build()
        .unwrap();
    a.join(&[addr(&b)]).unwrap();
    let peer = a
        .members()
        .unwrap()
        .into_iter()
        .find(|n| n.name == "limits-b")
        .unwrap();

    let (kind, size, limit) = too_large(a.send_reliable(&peer, &vec![7; 30 << 20]));
    assert_eq!(
        (kind, size, limit),
        (MessageKind::Reliable, 30 << 20, 20 << 20)
    );

    let (kind, size, limit) = too_large(a.send_best_effort(&peer, &noise(10 << 20)));
    assert_eq!(kind, MessageKind::BestEffort);
    assert!(size > 10 << 20 && limit == swimlist::protocol::MAX_DATAGRAM);

    let max = a.max_broadcast_size().unwrap();
    assert!(max < 1400 && max > 1300, "{max}");
    let (kind, size, limit) = too_large(a.broadcast(&vec![7; 2048], None));
    assert_eq!((kind, size, limit), (MessageKind::Broadcast, 2048, max));
    let message = too_large(a.broadcast(&vec![7; max + 1], None));
    assert_eq!(message.1, max + 1);

    // At the limit, everything arrives.
    a.broadcast(&vec![1; max], None).unwrap();
    assert_eq!(recv(&inbox, "largest broadcast"), vec![1; max]);
    let best_effort = noise(60_000);
    a.send_best_effort(&peer, &best_effort).unwrap();
    assert_eq!(recv(&inbox, "large datagram"), best_effort);
    let reliable = vec![3; 20 << 20];
    a.send_reliable(&peer, &reliable).unwrap();
    assert_eq!(recv(&inbox, "20 MiB message").len(), reliable.len());
}

/// A peer on a slow link: it reads a stream 128 KiB at a time with pauses,
/// so the whole transfer takes several times `tcp_timeout` while bytes
/// keep flowing. Returns how many bytes it read.
fn slow_reader(listener: std::net::TcpListener) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        use std::io::Read;
        let (mut stream, _) = listener.accept().expect("the sender dials");
        let mut buf = vec![0; 128 * 1024];
        let mut total = 0;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    })
}

#[test]
fn a_large_message_that_keeps_flowing_is_not_cut_short() {
    let tcp_timeout = Duration::from_secs(1);
    let mut c = config("flowing");
    c.tcp_timeout = tcp_timeout;
    c.compression = swimlist::CompressionMode::None;
    let sender = Memberlist::create(c).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = swimlist::Node {
        name: "slow".to_owned(),
        addr: IpAddr::from([127, 0, 0, 1]),
        port: listener.local_addr().unwrap().port(),
        meta: Vec::new(),
        state: NodeState::Alive,
        incarnation: 1,
        versions: [1, 5, 2, 0, 0, 0],
    };
    let reader = slow_reader(listener);
    let message = noise(16 << 20);
    let started = Instant::now();
    sender.send_reliable(&peer, &message).unwrap();
    let took = started.elapsed();
    let read = reader.join().unwrap();
    assert!(read > message.len(), "the peer read {read} bytes");
    // The transfer really outlasted the timeout (else this proves nothing).
    assert!(took > tcp_timeout * 2, "took only {took:?}");
}

#[test]
fn after_leave_and_shutdown_calls_say_so() {
    let a = Memberlist::create(config("life-a")).unwrap();
    let b = Memberlist::create(config("life-b")).unwrap();
    assert_eq!(b.lifecycle(), Lifecycle::Created);
    b.join(&[addr(&a)]).unwrap();
    assert_eq!(b.lifecycle(), Lifecycle::Joined);
    wait_join(&a, "life-b");
    assert_eq!(a.lifecycle(), Lifecycle::Joined, "joined by a peer");

    assert!(matches!(
        b.leave(Duration::ZERO),
        Err(Error::ZeroTimeout { method: "leave" })
    ));
    b.leave(Duration::from_secs(5)).unwrap();
    assert_eq!(b.lifecycle(), Lifecycle::Left);
    assert!(matches!(b.leave(Duration::from_secs(1)), Err(Error::Left)));
    assert!(matches!(b.broadcast(b"x", None), Err(Error::Left)));
    assert!(matches!(b.join(&[addr(&a)]), Err(Error::Left)));
    assert!(matches!(
        b.update_node(Duration::from_secs(1)),
        Err(Error::Left)
    ));
    let peer = b
        .members()
        .unwrap()
        .into_iter()
        .find(|n| n.name == "life-a");
    let peer = peer.expect("a left node still answers reads");
    assert!(matches!(b.send_best_effort(&peer, b"x"), Err(Error::Left)));
    assert!(matches!(b.send_reliable(&peer, b"x"), Err(Error::Left)));
    assert_eq!(b.local_node().unwrap().state, NodeState::Left);

    b.shutdown();
    assert_eq!(b.lifecycle(), Lifecycle::ShutDown);
    assert!(matches!(b.members(), Err(Error::Shutdown)));
    assert!(matches!(b.num_members(), Err(Error::Shutdown)));
    assert!(matches!(b.local_node(), Err(Error::Shutdown)));
    assert!(matches!(b.add_key(&[0; 16]), Err(Error::Shutdown)));
    assert!(matches!(b.join(&[addr(&a)]), Err(Error::Shutdown)));
    assert!(matches!(b.broadcast(b"x", None), Err(Error::Shutdown)));
    // The counters stay readable.
    assert!(b.stats().unwrap().protocol.packets_out.count > 0);

    // A node that never left, shut down.
    a.shutdown();
    assert!(matches!(
        a.leave(Duration::from_secs(1)),
        Err(Error::Shutdown)
    ));
    assert!(matches!(a.health_score(), Err(Error::Shutdown)));
}

#[test]
fn a_duplicate_name_is_refused_on_join_and_reported_by_the_holder() {
    let holder = Memberlist::create(config("dup")).unwrap();
    let other = Memberlist::create(config("other")).unwrap();
    other.join(&[addr(&holder)]).unwrap();
    wait_join(&holder, "other");

    let claimant = Memberlist::create(config("dup")).unwrap();
    for seed in [&holder, &other] {
        match claimant.join(&[addr(seed)]) {
            Err(Error::NameConflict { name, holder: at }) => {
                assert_eq!(name, "dup");
                assert_eq!(at, holder.local_addr());
            }
            result => panic!("joining through {}: {result:?}", addr(seed)),
        }
    }
    assert_eq!(claimant.lifecycle(), Lifecycle::Created);
    // The seeds saw the claim and kept the holder.
    for seed in [&holder, &other] {
        let end = Instant::now() + DEADLINE;
        let events = seed.events();
        let (known, claimant_node) = loop {
            match events.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(Event::Conflict(known, by)) => break (known, by),
                Ok(_) => {}
                Err(e) => panic!("no conflict event: {e}"),
            }
        };
        assert_eq!(known.socket_addr(), holder.local_addr());
        assert_eq!(claimant_node.socket_addr(), claimant.local_addr());
        assert_eq!(seed.num_members().unwrap(), 2);
    }
}

#[test]
fn joining_something_that_is_not_memberlist_says_so() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0; 1024];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let node = Memberlist::create(config("prober")).unwrap();
    let err = node.join(&[target.to_string()]).unwrap_err();
    server.join().unwrap();
    let Error::JoinFailed(failures) = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(
            &failures[..],
            [swimlist::JoinFailure {
                cause: swimlist::JoinCause::Exchange(swimlist::protocol::JoinError::Dial(
                    swimlist::protocol::DialError::NotMemberlist { .. }
                )),
                ..
            }]
        ),
        "{failures:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&target.to_string())
            && text.contains("not memberlist")
            && text.contains("HTTP"),
        "{text}"
    );
}

#[test]
fn events_beyond_the_capacity_are_counted_not_queued() {
    let full = Memberlist::builder(config("full"))
        .event_capacity(1)
        .build()
        .unwrap();
    // Its own join takes the only place.
    let other = Memberlist::create(config("other-full")).unwrap();
    other.join(&[addr(&full)]).unwrap();
    let end = Instant::now() + DEADLINE;
    while full.stats().unwrap().events_dropped == 0 {
        assert!(Instant::now() < end, "the second join was not dropped");
        std::thread::sleep(Duration::from_millis(5));
    }
    let events = full.events();
    assert_eq!(events.len(), 1);
    assert!(matches!(events.try_recv(), Ok(Event::Join(n)) if n.name == "full"));
}

#[test]
fn wait_settled_returns_once_the_view_is_trustworthy() {
    let a = Memberlist::create(config("settle-a")).unwrap();
    // Alone, a node never settles: the wait says so in time.
    assert!(!a.is_settled().unwrap());
    assert!(matches!(
        a.wait_settled(Duration::from_millis(300)),
        Err(Error::Timeout(swimlist::Waited::Settled))
    ));
    assert!(matches!(
        a.wait_settled(Duration::ZERO),
        Err(Error::ZeroTimeout { .. })
    ));
    let b = Memberlist::create(config("settle-b")).unwrap();
    b.join(&[addr(&a)]).unwrap();
    b.wait_settled(DEADLINE).unwrap();
    a.wait_settled(DEADLINE).unwrap();
    assert!(b.is_settled().unwrap());
    let settled = std::iter::from_fn(|| b.events().try_recv().ok())
        .filter(|e| matches!(e, Event::Settled(n) if n.name == "settle-b"))
        .count();
    assert_eq!(settled, 1);
    b.shutdown();
    assert!(matches!(b.wait_settled(DEADLINE), Err(Error::Shutdown)));
    // A wait in progress ends when the node shuts down, not at its limit.
    let alone = Arc::new(Memberlist::create(config("settle-alone")).unwrap());
    let waiter = {
        let alone = Arc::clone(&alone);
        std::thread::spawn(move || {
            let began = Instant::now();
            (alone.wait_settled(Duration::from_secs(60)), began.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    alone.shutdown();
    let (result, waited) = waiter.join().unwrap();
    assert!(matches!(result, Err(Error::Shutdown)), "{result:?}");
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");
}
