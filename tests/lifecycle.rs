//! Threads and sockets: a node's own runtime is exactly two threads, which
//! shutdown joins; its ports are free again afterwards; dropping a handle
//! does not hang; a runtime for many nodes has a worker per core; and many
//! nodes share one runtime's threads.
//!
//! One test function, because threads are counted for the whole process.

use std::net::{IpAddr, TcpListener, UdpSocket};
use std::time::Duration;

use swimlist::{Config, Memberlist, Runtime};

fn swimlist_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("swimlist-"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits (bounded) until `n` swimlist threads exist: a thread names itself
/// only once it runs, so a fresh one may briefly carry its parent's name.
fn expect_threads(n: usize, why: &str) {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while swimlist_threads() != n {
        assert!(
            std::time::Instant::now() < end,
            "{why}: {} swimlist threads, expected {n}",
            swimlist_threads()
        );
        std::thread::yield_now();
    }
}

fn config(name: &str) -> Config {
    Config::local()
        .with_name(name)
        .with_bind_addr(IpAddr::from([127, 0, 0, 1]))
        .with_bind_port(0)
}

#[test]
fn threads_and_ports_are_released() {
    if std::fs::metadata("/proc/self/task").is_err() {
        eprintln!("SKIPPED: no /proc/self/task to count threads");
        return;
    }
    assert_eq!(swimlist_threads(), 0);

    let a = Memberlist::create(config("lc-a")).unwrap();
    expect_threads(2, "a node owns two threads");
    let port = a.local_addr().port();
    a.shutdown();
    a.shutdown();
    // A joined thread leaves /proc a moment after join returns.
    expect_threads(0, "shutdown joined both threads");
    TcpListener::bind(("127.0.0.1", port)).expect("TCP port free again");
    UdpSocket::bind(("127.0.0.1", port)).expect("UDP port free again");

    // Dropping without shutdown must not hang.
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let b = Memberlist::create(config("lc-b")).unwrap();
        drop(b);
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("drop returned");
    expect_threads(0, "drop joined the threads");

    // A runtime for many nodes: an I/O thread and a worker per core.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let sized = Runtime::new().unwrap();
    expect_threads(cores.min(8) + 1, "a worker per core and the I/O thread");
    sized.shutdown();
    expect_threads(0, "the sized runtime's threads are joined");

    // Fifty nodes on one shared one-worker runtime: still two threads.
    let runtime = Runtime::with_workers(1).unwrap();
    let nodes: Vec<Memberlist> = (0..50)
        .map(|i| {
            Memberlist::builder(config(&format!("shared-{i}")))
                .runtime(&runtime)
                .build()
                .unwrap()
        })
        .collect();
    expect_threads(2, "fifty nodes share two threads");
    assert_eq!(runtime.thread_count(), 2);
    let seed = nodes[0].local_addr().to_string();
    for n in &nodes[1..] {
        assert_eq!(n.join(&[seed.as_str()]).unwrap(), 1);
    }
    let events = nodes[0].events();
    let mut joined = 0;
    while joined < 50 {
        match events.recv_timeout(Duration::from_secs(20)) {
            Ok(swimlist::Event::Join(_)) => joined += 1,
            Ok(_) => {}
            Err(_) => panic!("only {joined} of 50 joins seen"),
        }
    }
    for n in &nodes {
        n.shutdown();
    }
    expect_threads(2, "the shared runtime outlives its nodes");
    assert_eq!(runtime.thread_count(), 2);
    runtime.shutdown();
    assert_eq!(runtime.thread_count(), 0);
    expect_threads(0, "the runtime's threads are joined");
}
