//! `examples/prometheus` serves the `metrics` feature's series: the test
//! runs it, scrapes `/metrics` over HTTP and checks Go memberlist's series
//! for a three-node cluster.

mod example_binary;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use example_binary::ExampleProcess;

/// One HTTP GET: the status line and the body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("the example listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// The samples of a Prometheus text exposition, by series (name and
/// labels as written).
fn series(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// What a scrape of the three-node cluster must show, or what it lacks.
fn check(scraped: &BTreeMap<String, f64>) -> Result<(), String> {
    for node in ["prom-0", "prom-1", "prom-2"] {
        let value = |name: &str| {
            let key = format!("{name}{{node=\"{node}\"}}");
            scraped.get(&key).copied().unwrap_or(-1.0)
        };
        let alive = format!("memberlist_node_instances{{node=\"{node}\",node_state=\"alive\"}}");
        let wanted = [
            (alive.as_str(), scraped.get(&alive).copied() == Some(3.0)),
            ("memberlist_msg_alive", value("memberlist_msg_alive") >= 3.0),
            ("memberlist_udp_sent", value("memberlist_udp_sent") > 0.0),
            (
                "memberlist_udp_received",
                value("memberlist_udp_received") > 0.0,
            ),
            ("memberlist_tcp_sent", value("memberlist_tcp_sent") > 0.0),
            (
                "memberlist_probeNode_count",
                value("memberlist_probeNode_count") > 0.0,
            ),
            (
                "memberlist_gossip_count",
                value("memberlist_gossip_count") > 0.0,
            ),
            (
                "memberlist_size_local_count",
                value("memberlist_size_local_count") > 0.0,
            ),
            (
                "memberlist_size_remote_count",
                value("memberlist_size_remote_count") > 0.0,
            ),
            (
                "memberlist_health_score",
                value("memberlist_health_score") == 0.0,
            ),
            ("memberlist_msg_dead", value("memberlist_msg_dead") == 0.0),
            (
                "memberlist_queue_broadcasts",
                value("memberlist_queue_broadcasts") >= 0.0,
            ),
        ];
        if let Some((name, _)) = wanted.iter().find(|(_, ok)| !ok) {
            return Err(format!("{node}: {name} missing or wrong"));
        }
    }
    // The joining nodes dialled push/pulls and timed them.
    let timed = scraped
        .keys()
        .any(|k| k.starts_with("memberlist_pushPullNode_count"));
    if !timed {
        return Err("no memberlist_pushPullNode".to_owned());
    }
    // prom-0's news reached the others stamped with its age.
    for node in ["prom-1", "prom-2"] {
        let key = format!("swimlist_news_age_seconds_count{{node=\"{node}\",news=\"alive\"}}");
        if scraped.get(&key).copied().unwrap_or(0.0) < 1.0 {
            return Err(format!("{node}: no {key}"));
        }
    }
    Ok(())
}

#[test]
fn a_scrape_shows_go_s_series_for_every_node() {
    let mut example = ExampleProcess::start("prometheus", &["--listen", "127.0.0.1:0"]);
    let serving = example.expect("serving http://");
    let addr: SocketAddr = serving
        .trim_start_matches("serving http://")
        .trim_end_matches("/metrics")
        .parse()
        .expect("the address it serves on");

    // Counters are published once a second, measurements as they happen:
    // scrape until the cluster has formed, been probed and synced.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        let Err(missing) = check(&series(&body)) else {
            break;
        };
        assert!(Instant::now() < deadline, "{missing}; last scrape:\n{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = get(addr, "/other");
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    example.interrupt();
    assert!(
        example.wait_exit().success(),
        "Ctrl-C leaves and exits cleanly"
    );
}
