//! A `Delegate`: the hooks through which an application rides on the
//! cluster. Two nodes in one process each keep a small key/value map and
//! use three hooks:
//!
//! * `node_meta` — a few bytes every member sees with the node (a role);
//! * `notify_msg` — user messages (here: `key=value` updates);
//! * `local_state` / `merge_remote_state` — whole-state exchange (push/pull)
//!   when a node joins, and every `push_pull_interval` after that.
//!
//! It ends by itself, printing what happened: `cargo run --example delegate`

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swimlist::channel::{unbounded, Receiver, Sender};
use swimlist::{Config, Delegate, Event, Memberlist};

/// A node's key/value map, shared with the cluster through the hooks.
struct Store {
    role: &'static str,
    entries: Mutex<BTreeMap<String, String>>,
    /// Tells `main` that a notification hook ran (they run on the
    /// runtime's delegate thread, not on `main`).
    changed: Sender<String>,
}

impl Store {
    fn new(role: &'static str, entries: &str, changed: Sender<String>) -> Arc<Store> {
        let entries = Mutex::new(pairs(entries.as_bytes()).into_iter().collect());
        Arc::new(Store {
            role,
            entries,
            changed,
        })
    }

    /// The map as `key=value,key=value`: the format of messages and state.
    fn encode(&self) -> String {
        let entries = self.entries.lock().unwrap();
        let pairs: Vec<String> = entries.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join(",")
    }

    /// Sets the `key=value` pairs of `text`, as a message asks.
    fn set(&self, text: &[u8]) {
        self.entries.lock().unwrap().extend(pairs(text));
    }

    /// Adds the keys of a peer's state that this map lacks. It keeps its
    /// own value where both have one, so a periodic exchange never undoes
    /// an update; a real application would version its entries instead.
    fn merge(&self, state: &[u8]) {
        let mut entries = self.entries.lock().unwrap();
        for (key, value) in pairs(state) {
            entries.entry(key).or_insert(value);
        }
    }
}

fn pairs(text: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(text);
    let pairs = text.split(',').filter_map(|pair| pair.split_once('='));
    pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl Delegate for Store {
    // Query hooks (node_meta, local_state) answer at once from memory.
    fn node_meta(&self, _limit: usize) -> Vec<u8> {
        format!("role={}", self.role).into_bytes()
    }

    fn local_state(&self, _join: bool) -> Vec<u8> {
        self.encode().into_bytes()
    }

    // Notification hooks may take their time (and could call the handle).
    fn notify_msg(&self, msg: &[u8]) {
        self.set(msg);
        let (msg, now) = (String::from_utf8_lossy(msg), self.encode());
        let _ = self
            .changed
            .send(format!("received: {msg} (map now: {now})"));
    }

    fn merge_remote_state(&self, state: &[u8], join: bool) {
        self.merge(state);
        let now = self.encode();
        let when = if join { "on join" } else { "periodic" };
        let _ = self.changed.send(format!("merged state ({when}): {now}"));
    }
}

/// Waits up to 10 s for the first item of `rx` that `wanted` accepts.
fn expect<T>(rx: &Receiver<T>, what: &str, wanted: impl Fn(&T) -> bool) -> Result<T, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match rx.recv_deadline(deadline) {
            Ok(item) if wanted(&item) => return Ok(item),
            Ok(_) => {}
            Err(_) => return Err(format!("gave up waiting for {what}")),
        }
    }
}

fn start(name: &str, store: &Arc<Store>) -> Result<Memberlist, swimlist::Error> {
    let config = Config::local()
        .with_name(name)
        .with_bind_addr(Ipv4Addr::LOCALHOST.into())
        .with_bind_port(0); // any free port
    Memberlist::builder(config).delegate(store.clone()).build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (alpha_tx, alpha_changed) = unbounded();
    let (beta_tx, beta_changed) = unbounded();
    let alpha_store = Store::new("writer", "colour=blue", alpha_tx);
    let beta_store = Store::new("reader", "size=large", beta_tx);
    let alpha = start("alpha", &alpha_store)?;
    let beta = start("beta", &beta_store)?;
    println!("alpha starts with colour=blue, beta with size=large");

    // Joining is a push/pull: each side sends local_state, and each
    // merges the other's in merge_remote_state.
    beta.join(&[alpha.local_addr().to_string()])?;
    let beta_joined = |e: &Event| matches!(e, Event::Join(n) if n.name == "beta");
    let joined = expect(&alpha.events(), "alpha to see beta join", beta_joined)?;
    let beta_node = joined.node();
    let meta = String::from_utf8_lossy(&beta_node.meta);
    println!("alpha sees beta join, with metadata {meta}");
    let merged = |s: &String| s.starts_with("merged");
    for (name, changed) in [("alpha", &alpha_changed), ("beta", &beta_changed)] {
        println!("{name} {}", expect(changed, "the state exchange", merged)?);
    }

    // A user message: alpha updates its own map and tells beta, over TCP.
    alpha_store.set(b"colour=green");
    alpha.send_reliable(beta_node, b"colour=green")?;
    let received = |s: &String| s.starts_with("received");
    println!("beta {}", expect(&beta_changed, "the update", received)?);

    alpha.shutdown();
    beta.shutdown();
    println!("in the end alpha has {}", alpha_store.encode());
    println!("in the end beta has {}", beta_store.encode());
    Ok(())
}
