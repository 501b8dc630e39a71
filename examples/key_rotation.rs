//! Rotating the encryption key of a running cluster without a pause:
//!
//! 1. `add_key(new)` on every node: each can now decrypt both keys, and
//!    still encrypts with the old one;
//! 2. `use_key(new)` on every node: each encrypts with the new key (one
//!    node first, to show that a cluster half-way through still talks);
//! 3. `remove_key(old)` on every node: the old key is no longer accepted.
//!
//! After each step every node broadcasts a line and every other node must
//! receive it. At the end a node that knows only the old key tries to
//! join, and is refused. It ends by itself:
//!
//!     cargo run --example key_rotation

use std::collections::HashSet;
use std::error::Error;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swimlist::channel::{unbounded, Receiver, Sender};
use swimlist::{Config, Delegate, Event, Memberlist};

// Fixed keys keep the example short; real keys are 16, 24 or 32 random
// bytes, kept secret.
const OLD_KEY: &[u8; 16] = b"old-key-16-bytes";
const NEW_KEY: &[u8; 32] = b"new-key-of-thirty-two-bytes-long";

/// How long to wait for anything before calling the run a failure.
const PATIENCE: Duration = Duration::from_secs(10);

/// Hands the messages a node receives to the main thread.
struct Inbox(Sender<String>);

impl Delegate for Inbox {
    fn notify_msg(&self, msg: &[u8]) {
        let _ = self.0.send(String::from_utf8_lossy(msg).into_owned());
    }
}

struct Node {
    name: String,
    list: Memberlist,
    inbox: Receiver<String>,
}

/// Starts a node on a free port of 127.0.0.1, encrypting with `key`.
fn start(name: &str, key: &[u8]) -> Result<Node, Box<dyn Error>> {
    let config = Config::local()
        .with_name(name)
        .with_bind_addr(Ipv4Addr::LOCALHOST.into())
        .with_bind_port(0)
        .with_secret_key(key)?;
    let (tx, inbox) = unbounded();
    let list = Memberlist::builder(config)
        .delegate(Arc::new(Inbox(tx)))
        .build()?;
    Ok(Node {
        name: name.to_owned(),
        list,
        inbox,
    })
}

/// Every node broadcasts one line; every node must receive all the others'.
fn check_delivery(nodes: &[Node], step: &str) -> Result<(), Box<dyn Error>> {
    for node in nodes {
        let line = format!("{step}: hello from {}", node.name);
        node.list.broadcast(line.as_bytes(), None)?;
    }
    for node in nodes {
        for _ in 1..nodes.len() {
            let line = node
                .inbox
                .recv_timeout(PATIENCE)
                .map_err(|_| format!("{step}: {} missed a message", node.name))?;
            if !line.starts_with(step) {
                return Err(format!("{step}: {} received {line:?}", node.name).into());
            }
        }
    }
    let pairs = nodes.len() * (nodes.len() - 1);
    println!("{step}: delivered ({pairs} of {pairs} messages)");
    Ok(())
}

/// Waits until the node's events have announced `count` members (itself
/// included).
fn wait_for_members(node: &Node, count: usize) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    let mut members = HashSet::new();
    while members.len() < count {
        match node.list.events().recv_deadline(deadline) {
            Ok(Event::Join(member)) => {
                members.insert(member.name);
            }
            Ok(_) => {}
            Err(_) => return Err(format!("{} knows {} of {count}", node.name, members.len())),
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let nodes = ["n1", "n2", "n3"]
        .into_iter()
        .map(|name| start(name, OLD_KEY))
        .collect::<Result<Vec<_>, _>>()?;
    let seed = nodes[0].list.local_addr().to_string();
    for node in &nodes[1..] {
        node.list.join(&[&seed])?;
    }
    // A broadcast goes to the members its sender knows of when it is
    // sent: first wait until every node knows everyone.
    for node in &nodes {
        wait_for_members(node, nodes.len())?;
    }
    check_delivery(&nodes, "before rotation (old key only)")?;

    for node in &nodes {
        node.list.add_key(NEW_KEY)?;
    }
    check_delivery(&nodes, "after add_key (both keys, old one encrypts)")?;

    nodes[0].list.use_key(NEW_KEY)?;
    check_delivery(&nodes, "after use_key on n1 only (mixed keys)")?;
    for node in &nodes[1..] {
        node.list.use_key(NEW_KEY)?;
    }
    check_delivery(&nodes, "after use_key everywhere (new key encrypts)")?;

    for node in &nodes {
        node.list.remove_key(OLD_KEY)?;
    }
    check_delivery(&nodes, "after remove_key (rotation done)")?;

    let outsider = start("outsider", OLD_KEY)?;
    match outsider.list.join(&[&seed]) {
        Err(e) => println!("a node with only the old key is refused: {e}"),
        Ok(_) => return Err("a node with the removed key could join".into()),
    }
    for node in nodes.iter().chain([&outsider]) {
        node.list.shutdown();
    }
    Ok(())
}
