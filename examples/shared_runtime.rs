//! Many nodes on one `Runtime`: a node made with `Memberlist::create` runs
//! on two threads of its own, but any number of nodes built with
//! `Builder::runtime` share one runtime's threads: an I/O thread and a
//! protocol worker per core. This starts 50 nodes in one
//! process, joins them, and waits until every node knows every other,
//! printing the thread count and how long each phase took. It ends by
//! itself:
//!
//!     cargo run --release --example shared_runtime [-- NODES]

use std::collections::HashSet;
use std::error::Error;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use swimlist::channel::Select;
use swimlist::{Config, Event, Memberlist, Runtime};

/// How long the cluster may take to converge before the run is a failure.
const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(45);

fn main() -> Result<(), Box<dyn Error>> {
    let count: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| "usage: shared_runtime [NODES]")?,
        None => 50,
    };
    let started = Instant::now();
    let runtime = Runtime::new()?;
    let nodes = (0..count)
        .map(|i| {
            let config = Config::local()
                .with_name(format!("node-{i:02}"))
                .with_bind_addr(Ipv4Addr::LOCALHOST.into())
                .with_bind_port(0); // any free port
            Memberlist::builder(config).runtime(&runtime).build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "started {count} nodes in {:.1?}; runtime threads: {}",
        started.elapsed(),
        runtime.thread_count()
    );

    // Every node joins the first; the rest of the membership spreads by
    // gossip and periodic state exchange.
    let joining = Instant::now();
    let seed = nodes[0].local_addr().to_string();
    for node in &nodes[1..] {
        node.join(&[&seed])?;
    }
    println!("joined in {:.1?}", joining.elapsed());

    wait_for_convergence(&nodes)?;
    println!(
        "converged in {:.1?} after the first join: every node sees all {count}",
        joining.elapsed()
    );
    println!("runtime threads: {}", runtime.thread_count());
    // Linux lists a process's threads in /proc: main + the runtime's.
    if let Ok(threads) = std::fs::read_dir("/proc/self/task") {
        println!("threads in this process: {}", threads.count());
    }

    for node in &nodes {
        node.shutdown();
    }
    runtime.shutdown();
    println!("shut down; runtime threads: {}", runtime.thread_count());
    Ok(())
}

/// Reads every node's events until each has announced all the nodes
/// (itself included), or the deadline passes.
fn wait_for_convergence(nodes: &[Memberlist]) -> Result<(), String> {
    let deadline = Instant::now() + CONVERGENCE_DEADLINE;
    let events: Vec<_> = nodes.iter().map(Memberlist::events).collect();
    let mut known = vec![HashSet::new(); nodes.len()];
    let mut select = Select::new();
    for receiver in &events {
        select.recv(receiver);
    }
    let converged = |known: &[HashSet<String>]| known.iter().all(|k| k.len() == nodes.len());
    while !converged(&known) {
        let Ok(ready) = select.select_deadline(deadline) else {
            let n = nodes.len();
            let complete = known.iter().filter(|k| k.len() == n).count();
            return Err(format!(
                "no convergence in {CONVERGENCE_DEADLINE:?}: {complete} of {n} nodes know all {n}"
            ));
        };
        let i = ready.index();
        match ready.recv(&events[i]) {
            Ok(Event::Join(member)) => {
                known[i].insert(member.name);
            }
            Ok(Event::Leave(member, _)) => {
                known[i].remove(&member.name);
            }
            Ok(_) => {}
            Err(_) => return Err(format!("{} shut down", nodes[i].local_addr())),
        }
    }
    Ok(())
}
