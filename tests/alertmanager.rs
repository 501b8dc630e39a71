//! Interoperability with an unmodified Prometheus Alertmanager cluster: a
//! swimlist node (`tests/agent/node.rs`, `--config lan`) joins two
//! Alertmanager instances, and everything is checked through
//! Alertmanager's own HTTP API (`GET /api/v2/status`) and the agent's
//! JSON lines.
//!
//! `tests/interop/alertmanager/build-alertmanager.sh` builds Alertmanager
//! v0.31.1 from its Go module into `target/alertmanager`; the test runs
//! `$SWIMLIST_ALERTMANAGER_BIN`, else that. Without the binary it says
//! SKIPPED and passes, unless `SWIMLIST_ALERTMANAGER` is set (as in CI),
//! which makes a missing binary a failure.
//!
//! What Alertmanager's gossip is (its cluster package, v0.31.1, which
//! embeds Go memberlist v0.5.4): `DefaultLANConfig` with a ULID as the
//! node name (unless `--cluster.peer-name`), no encryption key, no label
//! unless `--cluster.label`, the default protocol version, TCP timeout 10 s,
//! probe interval 1 s and timeout 500 ms, gossip every 200 ms to
//! max(peers/2, 3) nodes, push/pull every 60 s, UDP buffer 1400 bytes;
//! empty node metadata and ack payloads. Its silences and notification log
//! travel as memberlist user messages (protobuf `Part{key, data}`,
//! broadcast through a retransmit-limited queue) and as push/pull state (a
//! protobuf `FullState` of parts keyed `sil` and `nfl`); state that does
//! not decode is only logged. It settles before it calls itself ready: it
//! counts the members every 10 gossip intervals (2 s) and is ready after
//! three counts in a row saw no change, or after `--cluster.settle-timeout`
//! (60 s). It keeps retrying failed and departed peers by address
//! (`--cluster.reconnect-interval`, 10 s).

mod agent;
mod example_binary;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent::{assert_rust_accepted_everything, rust_agent, Agent};
use serde_json::{json, Value};

/// Longest wait for Alertmanager to answer, settle, or see a change.
const WAIT: Duration = Duration::from_secs(60);

/// The Alertmanager binary, or `None` (after saying why) when it is not
/// built and the test is not required.
fn alertmanager_bin() -> Option<PathBuf> {
    agent::built_peer(
        Some("SWIMLIST_ALERTMANAGER_BIN"),
        "alertmanager",
        "SWIMLIST_ALERTMANAGER",
        "tests/interop/alertmanager/build-alertmanager.sh",
    )
}

// ---- HTTP ------------------------------------------------------------------

/// One HTTP/1.1 request (`Connection: close`) with an optional JSON body;
/// the status code and the JSON body of the reply.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(|e| e.to_string())?;

    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the reply")?;
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let mut payload = reply[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        payload = dechunk(&payload)?;
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        payload.truncate(n);
    }
    let json = if payload.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&payload).map_err(|e| {
            format!(
                "{method} {path}: HTTP {status}, body is not JSON ({e}): {}",
                String::from_utf8_lossy(&payload)
            )
        })?
    };
    Ok((status, json))
}

/// Decodes a chunked transfer encoding.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

/// Calls `probe` every 200 ms until it returns `Some`, for at most `limit`;
/// on timeout fails with `what` and the last thing `probe` reported.
fn poll<T>(what: &str, limit: Duration, mut probe: impl FnMut(&mut String) -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    loop {
        if let Some(v) = probe(&mut last) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}; last seen: {last}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

// ---- Alertmanager processes ------------------------------------------------

/// A port that is free for TCP and UDP on 127.0.0.1 (memberlist binds
/// both), or at least was a moment ago.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("swimlist-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The smallest valid configuration: one route to one receiver that
/// notifies nobody.
const CONFIG: &str = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n";

/// Lines in an Alertmanager log (debug level, which includes memberlist's
/// own log) that mean Go or Alertmanager refused or could not decode
/// something it received. Compared in lower case.
const REFUSALS: &[&str] = &[
    "failed to decode",
    "failed to receive",
    "failed to read remote state",
    "failed push/pull merge",
    "invalid msgtype",
    "not supported",
    "decrypt",
    "invalid checksum",
    "missing message type",
    "truncated messages",
    "failed to decompress",
    "ignoring alive message",
    "ignoring an alive message",
    "rejected",
    "label header",
    "unacceptable label",
    "remote node state size",
    "ping for unexpected node",
    "decode broadcast",
    "merge remote state",
    "unknown state key",
];

/// A running Alertmanager. Dropping it kills the process and, when the test
/// is failing, prints the end of its log.
struct Alertmanager {
    tag: String,
    child: Child,
    web: SocketAddr,
    cluster: SocketAddr,
    log: PathBuf,
    /// Its memberlist node name, from its status.
    name: String,
}

impl Alertmanager {
    /// Starts an instance in `dir/<tag>` that joins `peer`, and waits until
    /// its API answers. Picks free ports, and picks again if a port was
    /// taken in the meantime.
    fn start(bin: &Path, dir: &Path, tag: &str, peer: Option<SocketAddr>) -> Alertmanager {
        let home = dir.join(tag);
        fs::create_dir_all(home.join("data")).expect("create the storage directory");
        let config = home.join("alertmanager.yml");
        fs::write(&config, CONFIG).expect("write the configuration");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let cluster = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let log = home.join(format!("alertmanager-{attempt}.log"));
            let out = File::create(&log).expect("create the log file");
            let err = out.try_clone().expect("clone the log file");
            let mut cmd = Command::new(bin);
            cmd.arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", home.join("data").display()))
                .arg(format!("--web.listen-address={web}"))
                .arg(format!("--cluster.listen-address={cluster}"))
                .arg("--log.level=debug");
            if let Some(peer) = peer {
                cmd.arg(format!("--cluster.peer={peer}"));
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut am = Alertmanager {
                tag: tag.to_owned(),
                child,
                web,
                cluster,
                log,
                name: String::new(),
            };
            let deadline = Instant::now() + WAIT;
            // Ask its API only once it listens: until then the port may
            // be another process's (a parallel test's cluster port, which
            // would log our GET as an invalid message type).
            let listening = format!("msg=\"Listening on\" address={web}");
            let status = loop {
                if am.log_text().contains(&listening) {
                    if let Ok((200, status)) = am.get("/api/v2/status") {
                        break Some(status);
                    }
                }
                if let Some(exit) = am.child.try_wait().expect("try_wait") {
                    let log = am.log_text();
                    if log.contains("address already in use") && attempt < 5 {
                        break None;
                    }
                    panic!("{tag}: Alertmanager exited ({exit}) before answering:\n{log}");
                }
                assert!(
                    Instant::now() < deadline,
                    "{tag}: Alertmanager did not answer on {web} within {WAIT:?}"
                );
                thread::sleep(Duration::from_millis(100));
            };
            let Some(status) = status else { continue };
            am.name = status["cluster"]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{tag}: no cluster name in {status}"))
                .to_owned();
            return am;
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Result<(u16, Value), String> {
        http(self.web, "GET", path, None)
    }

    /// `GET /api/v2/status`, which must succeed.
    fn status(&self) -> Value {
        match self.get("/api/v2/status") {
            Ok((200, v)) => v,
            other => panic!("{}: GET /api/v2/status: {other:?}", self.tag),
        }
    }

    /// Its cluster status ("settling", "ready") and peers as
    /// `(name, address)`, itself included.
    fn cluster(&self) -> (String, Vec<(String, String)>) {
        let status = self.status();
        let cluster = &status["cluster"];
        let peers = cluster["peers"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no cluster.peers in {status}", self.tag))
            .iter()
            .map(|p| {
                let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                (field("name"), field("address"))
            })
            .collect();
        (
            cluster["status"].as_str().unwrap_or_default().to_owned(),
            peers,
        )
    }

    /// Waits until its peers are exactly `expected` (name, address) and,
    /// if `ready`, it reports the cluster ready.
    fn wait_peers(&self, expected: &[(&str, SocketAddr)], ready: bool) {
        let mut want: Vec<(String, String)> = expected
            .iter()
            .map(|(n, a)| ((*n).to_owned(), a.to_string()))
            .collect();
        want.sort();
        poll(
            &format!("{} to list peers {want:?} (ready: {ready})", self.tag),
            WAIT,
            |last| {
                let (status, mut peers) = self.cluster();
                peers.sort();
                *last = format!("status {status:?}, peers {peers:?}");
                (peers == want && (!ready || status == "ready")).then_some(())
            },
        );
    }

    /// Log lines that show something received was refused or undecodable.
    fn refusals(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| {
                let lower = l.to_ascii_lowercase();
                REFUSALS.iter().any(|r| lower.contains(r))
            })
            .map(str::to_owned)
            .collect()
    }

    /// SIGKILL: no leave, no goodbye.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(80)..];
            eprintln!(
                "--- alertmanager {} ({}, web {}, cluster {}) log tail ---\n{}",
                self.tag,
                self.name,
                self.web,
                self.cluster,
                tail.join("\n")
            );
        }
    }
}

/// Whether `name` looks like a ULID: 26 characters of Crockford's base 32.
fn is_ulid(name: &str) -> bool {
    name.len() == 26
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

/// Creates a silence through `am`'s API and returns its id.
fn create_silence(am: &Alertmanager) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "SwimlistInterop", "isRegex": false, "isEqual": true}],
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + 3600),
        "createdBy": "swimlist tests/alertmanager.rs",
        "comment": "state for Alertmanager to gossip",
    });
    let (code, reply) = http(am.web, "POST", "/api/v2/silences", Some(&silence))
        .unwrap_or_else(|e| panic!("{}: POST /api/v2/silences: {e}", am.tag));
    assert_eq!(code, 200, "{}: POST /api/v2/silences: {reply}", am.tag);
    reply["silenceID"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no silenceID in {reply}", am.tag))
        .to_owned()
}

/// `secs` since the Unix epoch as an RFC 3339 UTC time.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from a day count (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn rfc3339_formats_utc_times() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
}

#[test]
fn swimlist_node_joins_an_alertmanager_cluster() {
    let Some(am_bin) = alertmanager_bin() else {
        return;
    };
    let node_bin = rust_agent();
    let started = Instant::now();
    let dir = TempDir::new("alertmanager");

    let mut am1 = Alertmanager::start(&am_bin, &dir.0, "am1", None);
    let am2 = Alertmanager::start(&am_bin, &dir.0, "am2", Some(am1.cluster));
    for am in [&am1, &am2] {
        assert!(is_ulid(&am.name), "{}: name {:?}", am.tag, am.name);
    }
    println!(
        "alertmanagers: am1 {} (cluster {}), am2 {} (cluster {})",
        am1.name, am1.cluster, am2.name, am2.cluster
    );

    // A swimlist node with default LAN settings joins through am1.
    let seed = am1.cluster.to_string();
    let mut node = Agent::spawn(
        &node_bin,
        "swim-am",
        &["--config", "lan", "--join", seed.as_str()],
    );
    node.step = WAIT;
    let port = node.ready();
    let joined = node.joined();
    assert_eq!(joined["n"], 1, "{joined}");
    let node_addr = SocketAddr::from(([127, 0, 0, 1], port));

    // (a) Both Alertmanagers list the swimlist node and settle.
    let everyone = [
        (am1.name.as_str(), am1.cluster),
        (am2.name.as_str(), am2.cluster),
        ("swim-am", node_addr),
    ];
    am1.wait_peers(&everyone, true);
    am2.wait_peers(&everyone, true);
    println!(
        "both Alertmanagers list swim-am and are ready after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // (b) The swimlist node lists both Alertmanagers, alive, at their
    // cluster addresses.
    for am in [&am1, &am2] {
        let ev = node.event("join", &am.name);
        assert_eq!(ev["port"], am.cluster.port(), "{ev}");
        assert_eq!(ev["meta"], "", "Alertmanager advertises no metadata: {ev}");
    }
    let members = node.command("members", "members");
    let mut listed: Vec<(String, u64, String)> = members["members"]
        .as_array()
        .expect("members list")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["port"].as_u64().unwrap_or_default(),
                m["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    listed.sort();
    let mut want = vec![
        (
            am1.name.clone(),
            u64::from(am1.cluster.port()),
            "alive".to_owned(),
        ),
        (
            am2.name.clone(),
            u64::from(am2.cluster.port()),
            "alive".to_owned(),
        ),
        ("swim-am".to_owned(), u64::from(port), "alive".to_owned()),
    ];
    want.sort();
    assert_eq!(listed, want, "{members}");

    // (e) Alertmanager's own state reaches the swimlist node and decodes
    // cleanly: a silence created on am2 travels as a user message (or, if
    // the gossip missed it, in later push/pull state).
    let silence = create_silence(&am2);
    let carried = node.wait(
        &format!("a message or state carrying silence {silence}"),
        |v| {
            (v["ev"] == "msg" || v["ev"] == "merge")
                && v["data"].as_str().is_some_and(|d| d.contains(&silence))
        },
    );
    println!(
        "silence {silence} reached swim-am as {} after {:.1} s",
        carried["ev"],
        started.elapsed().as_secs_f64()
    );
    // Alertmanager's own replication still works with swimlist in the
    // cluster.
    poll(
        &format!("silence {silence} to reach am1"),
        WAIT,
        |last| match am1.get(&format!("/api/v2/silence/{silence}")) {
            Ok((200, v)) => Some(v),
            other => {
                *last = format!("{other:?}");
                None
            }
        },
    );
    // The join's push/pull brought Alertmanager's full state: its
    // notification log and silences parts.
    let join_state = node.wait("remote state merged on join", |v| {
        v["ev"] == "merge" && v["join"] == true
    });
    let data = join_state["data"].as_str().unwrap_or_default();
    assert!(
        data.contains("nfl") && data.contains("sil"),
        "join state without nfl and sil parts: {join_state}"
    );
    let stats = assert_rust_accepted_everything(&mut node);
    let user_in = stats["messages_in"]["user"]["count"].as_u64().unwrap_or(0);
    let merges = node.seen.iter().filter(|v| v["ev"] == "merge").count();
    println!("swim-am received {user_in} user messages and {merges} remote states: {stats}");
    // And Go accepted everything swimlist sent.
    for am in [&am1, &am2] {
        let refused = am.refusals();
        assert!(
            refused.is_empty(),
            "{} refused or could not decode:\n{}",
            am.tag,
            refused.join("\n")
        );
    }

    // (c) A killed Alertmanager is seen failed by the swimlist node.
    let killed = Instant::now();
    am1.kill();
    let left = node.event("leave", &am1.name);
    assert_eq!(left["reason"], "failed", "{left}");
    println!(
        "swim-am saw am1 failed {:.1} s after SIGKILL",
        killed.elapsed().as_secs_f64()
    );

    // (d) The swimlist node leaves gracefully and disappears from am2's
    // peers.
    let left_at = Instant::now();
    node.command("leave", "left");
    let status = node.stop(false);
    assert!(status.success(), "swim-am exited with {status}");
    poll("am2 to drop swim-am from its peers", WAIT, |last| {
        let (status, peers) = am2.cluster();
        *last = format!("status {status:?}, peers {peers:?}");
        (!peers.iter().any(|(n, _)| n == "swim-am")).then_some(())
    });
    // Through the leave, not by failure detection.
    let marked: Vec<String> = am2
        .log_text()
        .lines()
        .filter(|l| l.contains("Marking swim-am as failed"))
        .map(str::to_owned)
        .collect();
    assert!(
        marked.is_empty(),
        "am2 declared swim-am failed instead of seeing it leave:\n{}",
        marked.join("\n")
    );
    println!(
        "am2 dropped swim-am {:.1} s after its leave; whole test {:.1} s",
        left_at.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn alertmanagers_form_their_cluster_through_a_swimlist_seed() {
    let Some(am_bin) = alertmanager_bin() else {
        return;
    };
    let dir = TempDir::new("alertmanager-seed");
    // The swimlist node comes first; both Alertmanagers are given only it
    // as their --cluster.peer.
    let mut node = Agent::spawn(&rust_agent(), "swim-seed", &["--config", "lan"]);
    node.step = WAIT;
    let port = node.ready();
    let seed = SocketAddr::from(([127, 0, 0, 1], port));
    let am1 = Alertmanager::start(&am_bin, &dir.0, "am1", Some(seed));
    let am2 = Alertmanager::start(&am_bin, &dir.0, "am2", Some(seed));
    // They find each other through it, and report the cluster ready.
    let everyone = [
        (am1.name.as_str(), am1.cluster),
        (am2.name.as_str(), am2.cluster),
        ("swim-seed", seed),
    ];
    am1.wait_peers(&everyone, true);
    am2.wait_peers(&everyone, true);
    for am in [&am1, &am2] {
        let ev = node.event("join", &am.name);
        assert_eq!(ev["port"], am.cluster.port(), "{ev}");
    }
    // Alertmanager's replication works across the swimlist seed's cluster.
    let silence = create_silence(&am1);
    poll(
        &format!("silence {silence} to reach am2"),
        WAIT,
        |last| match am2.get(&format!("/api/v2/silence/{silence}")) {
            Ok((200, v)) => Some(v),
            other => {
                *last = format!("{other:?}");
                None
            }
        },
    );
    assert_rust_accepted_everything(&mut node);
    for am in [&am1, &am2] {
        let refused = am.refusals();
        assert!(
            refused.is_empty(),
            "{} refused:\n{}",
            am.tag,
            refused.join("\n")
        );
    }
}
