//! Prometheus metrics, without an async runtime: three nodes in this
//! process form a cluster, the `metrics-exporter-prometheus` recorder
//! collects what they publish (feature `metrics`), and a plain thread
//! serves it at `/metrics` until Ctrl-C.
//!
//!     cargo run --example prometheus --features metrics -- [--listen 127.0.0.1:9100]
//!     curl -s http://127.0.0.1:9100/metrics | grep memberlist_
//!
//! Series carry Go memberlist's names (`memberlist_msg_alive`,
//! `memberlist_probeNode`, …) and a `node` label; `docs/metrics.md` lists
//! them all.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use swimlist::{Config, Memberlist};

/// Answers one HTTP request: the metrics at `/metrics`, 404 elsewhere.
fn serve(mut stream: TcpStream, metrics: &PrometheusHandle) -> std::io::Result<()> {
    let mut request = String::new();
    BufReader::new(&stream).read_line(&mut request)?;
    let (status, body) = match request.split_whitespace().nth(1) {
        Some("/metrics") => ("200 OK", metrics.render()),
        _ => ("404 Not Found", "try /metrics\n".to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listen = match &args[..] {
        [] => "127.0.0.1:9100",
        [flag, addr] if flag == "--listen" => addr,
        _ => return Err("usage: prometheus [--listen ADDR]".into()),
    };
    // Installed before the nodes start, so that it sees all they publish.
    let metrics = PrometheusBuilder::new().install_recorder()?;

    let mut nodes = Vec::new();
    for i in 0..3 {
        let config = Config::local()
            .with_name(format!("prom-{i}"))
            .with_bind_addr(Ipv4Addr::LOCALHOST.into())
            .with_bind_port(0);
        let node = Memberlist::create(config)?;
        if let Some(first) = nodes.first() {
            let first: &Memberlist = first;
            node.join(&[first.local_addr().to_string()])?;
        }
        nodes.push(node);
    }
    // News for `swimlist_news_age_seconds` to time: once every node's view
    // is complete (news that arrives in a state sync carries no age),
    // prom-0 announces itself again, as after changing its metadata.
    for node in &nodes {
        node.wait_settled(Duration::from_secs(10))?;
    }
    nodes[0].update_node(Duration::from_secs(1))?;

    let listener = TcpListener::bind(listen)?;
    println!("serving http://{}/metrics", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            if let Err(e) = serve(stream, &metrics) {
                eprintln!("a scrape failed: {e}");
            }
        }
    });

    let (stop, stopped) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(());
    })?;
    let _ = stopped.recv();
    for node in &nodes {
        node.leave(Duration::from_secs(1))?;
        node.shutdown();
    }
    Ok(())
}
