//! Chat over gossip: each line a node broadcasts reaches every member, and
//! arrives at their `Delegate::notify_msg`.
//!
//! Three nodes in one process, ending by itself: `cargo run --example chat
//! -- --demo`. Or one node per terminal (type a line to send it, Ctrl-D to
//! leave):
//!
//!     cargo run --example chat -- ann 127.0.0.1:7946
//!     cargo run --example chat -- bob 127.0.0.1:7947 --join 127.0.0.1:7946

use std::error::Error;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swimlist::channel::{select, unbounded, Receiver, Sender};
use swimlist::{Config, Delegate, Event, Memberlist};

/// How long the demo waits for anything before calling the run a failure.
const PATIENCE: Duration = Duration::from_secs(10);

/// Hands the chat lines a node receives to the program's own thread.
struct Inbox(Sender<String>);

impl Delegate for Inbox {
    fn notify_msg(&self, msg: &[u8]) {
        let _ = self.0.send(String::from_utf8_lossy(msg).into_owned());
    }
}

/// Starts a node; chat lines sent to it arrive on the receiver.
fn start(name: &str, bind: SocketAddr) -> Result<(Memberlist, Receiver<String>), Box<dyn Error>> {
    let config = Config::local()
        .with_name(name)
        .with_bind_addr(bind.ip())
        .with_bind_port(bind.port());
    let (tx, inbox) = unbounded();
    let node = Memberlist::builder(config)
        .delegate(Arc::new(Inbox(tx)))
        .build()?;
    Ok((node, inbox))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["--demo"] => demo(),
        [name, bind] => chat(name, bind.parse()?, None),
        [name, bind, "--join", seed] => chat(name, bind.parse()?, Some(seed)),
        _ => Err("usage: chat --demo | chat NAME ADDR [--join ADDR]".into()),
    }
}

/// One node, talking to people: lines from stdin go out, lines from the
/// cluster and membership changes are printed.
fn chat(name: &str, bind: SocketAddr, seed: Option<&str>) -> Result<(), Box<dyn Error>> {
    let (node, inbox) = start(name, bind)?;
    let addr = node.local_addr();
    println!("{name} on {addr}: type a line to send it, Ctrl-D to leave");
    if let Some(seed) = seed {
        node.join(&[seed])?;
    }
    // Reading stdin blocks, so a thread of its own does it; the channel
    // disconnects at the end of input.
    let (line_tx, lines) = unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let events = node.events();
    loop {
        select! {
            recv(lines) -> line => match line {
                Ok(line) => {
                    if let Err(e) = node.broadcast(format!("{name}: {line}").as_bytes(), None) {
                        println!("not sent: {e}");
                    }
                }
                Err(_) => break,
            },
            recv(inbox) -> received => if let Ok(text) = received {
                println!("{text}");
            },
            recv(events) -> event => match event {
                Ok(Event::Join(member)) if member.name != name => println!("* {} joined", member.name),
                Ok(Event::Leave(member, reason)) => println!("* {} {reason}", member.name),
                Ok(_) => {}
                Err(_) => break,
            },
        }
    }
    node.leave(Duration::from_secs(5))?;
    node.shutdown();
    Ok(())
}

/// Three nodes in this process each say hello; every node must hear the
/// other two.
fn demo() -> Result<(), Box<dyn Error>> {
    let names = ["ann", "bob", "cy"];
    let mut nodes = Vec::new();
    for name in names {
        let (node, inbox) = start(name, "127.0.0.1:0".parse()?)?; // any free port
        nodes.push((name, node, inbox));
    }
    let seed = nodes[0].1.local_addr().to_string();
    for (_, node, _) in &nodes[1..] {
        node.join(&[&seed])?;
    }
    // A broadcast goes to the members its sender knows of when it is
    // sent: first wait until every node knows everyone.
    for (name, node, _) in &nodes {
        wait_for_members(node, names.len()).map_err(|e| format!("{name}: {e}"))?;
    }
    println!("all {} nodes know each other", names.len());

    for (name, node, _) in &nodes {
        node.broadcast(format!("{name}: hello from {name}").as_bytes(), None)?;
    }
    for (name, _, inbox) in &nodes {
        for _ in 1..names.len() {
            let text = inbox
                .recv_timeout(PATIENCE)
                .map_err(|_| format!("{name} missed a hello"))?;
            println!("{name} received \"{text}\"");
        }
    }
    for (_, node, _) in &nodes {
        node.leave(Duration::from_secs(5))?;
        node.shutdown();
    }
    println!("everyone heard everyone");
    Ok(())
}

/// Waits until `node` knows `count` members (itself included), reading
/// its events as they come.
fn wait_for_members(node: &Memberlist, count: usize) -> Result<(), Box<dyn Error>> {
    let deadline = Instant::now() + PATIENCE;
    while node.num_members()? < count {
        let news = node.events().recv_deadline(deadline);
        news.map_err(|_| format!("knows fewer than {count} members"))?;
    }
    Ok(())
}
