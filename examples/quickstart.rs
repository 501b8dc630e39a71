//! The README's quick start: a node that joins a cluster through one known
//! member, prints membership events until Ctrl-C, then leaves and shuts down.
//! Run two, each in its own terminal:
//!
//!     cargo run --example quickstart -- node-1 127.0.0.1:7946
//!     cargo run --example quickstart -- node-2 127.0.0.1:7947 127.0.0.1:7946

use std::net::SocketAddr;
use std::time::Duration;

use swimlist::channel::{select, unbounded};
use swimlist::{Config, Memberlist};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "node-1".to_owned());
    let bind: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:7946").parse()?;
    let seed = args.next(); // any one member of the cluster, if there is one

    let config = Config::local()
        .with_name(&name)
        .with_bind_addr(bind.ip())
        .with_bind_port(bind.port());
    let node = Memberlist::create(config)?;
    println!("{name} listening on {}", node.local_addr());
    if let Some(seed) = seed {
        node.join(&[seed])?;
    }

    // Ctrl-C runs this handler on a thread of its own: it only tells the
    // loop below to stop, so the node can leave before the program ends.
    let (stop_tx, stop) = unbounded();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;

    let events = node.events();
    loop {
        select! {
            recv(events) -> event => match event {
                Ok(event) => println!("{event}"),
                Err(_) => break, // the node shut down
            },
            recv(stop) -> _ => break,
        }
    }
    node.leave(Duration::from_secs(5))?;
    node.shutdown();
    println!("{name} left and shut down");
    Ok(())
}
