//! Drives the `node` example (examples/node.rs) as separate processes over
//! its stdin/stdout contract: three nodes on 127.0.0.1 join, see each
//! other, exchange broadcasts, reliable and best-effort messages and
//! push/pull state, update metadata, leave and shut down; a node with an
//! encryption key and one without cannot join each other.
//!
//! `cargo test` builds the examples; with `--test node_agent` alone run
//! `cargo build --examples` first.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

/// Longest wait for any one expected line (the whole test takes ~1 s when
/// things work).
const STEP: Duration = Duration::from_secs(8);

/// The example binary next to this test's: target/<profile>/examples/node.
fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot locate the test executable");
    // target/<profile>/deps/node_agent-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is not in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("node{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the example binary {} is missing: run `cargo build --examples` (or plain `cargo test`) first",
        bin.display()
    );
    bin
}

/// A running `node` process. Dropping it kills the process (so a failing
/// test leaves nothing behind) and, when the test is failing, prints what
/// the process logged.
struct Agent {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Stdout lines as they arrive; `Err` holds a line that is not JSON.
    lines: Receiver<Result<Value, String>>,
    /// Every stdout line received so far, in order.
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Agent {
    fn spawn(bin: &Path, name: &str, args: &[&str]) -> Agent {
        let mut child = Command::new(bin)
            .arg("--name")
            .arg(name)
            .args(args)
            .env("SWIMLIST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");

        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&buf);
                let line = text.trim_end();
                let parsed = serde_json::from_str::<Value>(line)
                    .ok()
                    .filter(Value::is_object)
                    .ok_or_else(|| line.to_owned());
                if tx.send(parsed).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut chunk) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            }
        });
        Agent {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    fn describe(&self) -> String {
        let seen: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        format!(
            "stdout so far:\n  {}\nstderr so far:\n{stderr}",
            seen.join("\n  ")
        )
    }

    /// Writes one command line.
    fn send(&mut self, command: &str) {
        let name = self.name.clone();
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{name}: cannot write {command:?}: {e}"));
    }

    /// The first line at index `from` or later matching `pred`, waiting up
    /// to [`STEP`] for it.
    fn wait_from(&mut self, from: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STEP;
        let mut i = from;
        loop {
            while i < self.seen.len() {
                if pred(&self.seen[i]) {
                    return self.seen[i].clone();
                }
                i += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Ok(v)) => self.seen.push(v),
                Ok(Err(line)) => panic!(
                    "{}: stdout line is not a JSON object: {line:?}\n{}",
                    self.name,
                    self.describe()
                ),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: timed out waiting for {what}\n{}",
                    self.name,
                    self.describe()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: stdout closed while waiting for {what}\n{}",
                    self.name,
                    self.describe()
                ),
            }
        }
    }

    /// The first line ever printed that matches `pred`.
    fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, what, pred)
    }

    /// Sends `command` and waits for a line printed after it with event
    /// `ev`.
    fn command(&mut self, command: &str, ev: &str) -> Value {
        let mark = self.seen.len();
        self.send(command);
        self.wait_from(mark, &format!("{ev:?} after {command:?}"), |v| {
            v["ev"] == ev
        })
    }

    /// Waits for `ready` and returns the node's port.
    fn ready(&mut self) -> u16 {
        let name = self.name.clone();
        let ready = self.wait("ready", |v| v["ev"] == "ready");
        assert_eq!(ready["name"], name.as_str(), "{ready}");
        assert_eq!(ready["addr"], "127.0.0.1", "{ready}");
        ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p > 0)
            .unwrap_or_else(|| panic!("{name}: bad port in {ready}"))
    }

    /// Waits for the `joined` line.
    fn joined(&mut self) -> Value {
        self.wait("joined", |v| v["ev"] == "joined")
    }

    /// Waits for a membership event `ev` about node `about`.
    fn event(&mut self, ev: &str, about: &str) -> Value {
        let v = self.wait(&format!("{ev:?} about {about:?}"), |v| {
            v["ev"] == ev && v["name"] == about
        });
        assert_eq!(v["addr"], "127.0.0.1", "{v}");
        assert!(v["port"].as_u64().is_some_and(|p| p > 0), "{v}");
        assert!(v["meta"].is_string(), "{v}");
        assert!(v["t_ms"].as_f64().is_some_and(|t| t >= 0.0), "{v}");
        v
    }

    /// Waits for a user message with `data`.
    fn msg(&mut self, data: &str) {
        self.wait(&format!("message {data:?}"), |v| {
            v["ev"] == "msg" && v["data"] == data
        });
    }

    /// Closes stdin if `eof`, else sends `shutdown`; then waits for the
    /// process to exit.
    fn stop(&mut self, eof: bool) -> ExitStatus {
        if eof {
            self.stdin = None;
        } else {
            self.send("shutdown");
        }
        let deadline = Instant::now() + STEP;
        // Stdout closes when the process exits.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Ok(v)) => self.seen.push(v),
                Ok(Err(line)) => panic!("{}: stdout line is not JSON: {line:?}", self.name),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: did not exit\n{}", self.name, self.describe())
                }
            }
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: closed stdout but did not exit\n{}",
                self.name,
                self.describe()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("--- agent {} ---\n{}", self.name, self.describe());
        }
    }
}

fn names(members: &Value) -> Vec<String> {
    let mut names: Vec<String> = members["members"]
        .as_array()
        .expect("members is a list")
        .iter()
        .map(|m| m["name"].as_str().expect("member name").to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn three_nodes_over_the_agent_contract() {
    let bin = agent_binary();
    let local = ["--config", "local"];

    let mut a = Agent::spawn(
        &bin,
        "a",
        &[&local[..], &["--meta", "meta-a", "--state", "state-a"]].concat(),
    );
    let port_a = a.ready();
    let seed = format!("127.0.0.1:{port_a}");

    // Different compression modes: every node reads them all.
    let mut b = Agent::spawn(
        &bin,
        "b",
        &[
            &local[..],
            &[
                "--join",
                &seed,
                "--state",
                "state-b",
                "--compression",
                "none",
            ],
        ]
        .concat(),
    );
    let mut c = Agent::spawn(
        &bin,
        "c",
        &[
            &local[..],
            &[
                "--join",
                &seed,
                "--state",
                "state-c",
                "--compression",
                "lz4",
            ],
        ]
        .concat(),
    );
    let port_b = b.ready();
    let port_c = c.ready();
    for node in [&mut b, &mut c] {
        let joined = node.joined();
        assert_eq!(joined["n"], 1, "{}: {joined}", node.name);
        assert!(joined.get("err").is_none(), "{}: {joined}", node.name);
    }

    // The joiners' push/pull state reaches the node they joined.
    for state in ["state-b", "state-c"] {
        let merge = a.wait(&format!("merge of {state:?}"), |v| {
            v["ev"] == "merge" && v["data"] == state
        });
        assert_eq!(merge["join"], true, "{merge}");
    }

    // Everyone sees everyone, itself included.
    let ports = [("a", port_a), ("b", port_b), ("c", port_c)];
    for node in [&mut a, &mut b, &mut c] {
        for (name, port) in ports {
            let join = node.event("join", name);
            assert_eq!(join["port"], port, "{}: {join}", node.name);
        }
        let members = node.command("members", "members");
        assert_eq!(names(&members), ["a", "b", "c"], "{}: {members}", node.name);
        for m in members["members"].as_array().expect("list") {
            assert_eq!(m["state"], "alive", "{}: {members}", node.name);
            assert_eq!(m["addr"], "127.0.0.1", "{}: {members}", node.name);
            let expected = ports.iter().find(|(n, _)| m["name"] == *n).map(|p| p.1);
            assert_eq!(m["port"].as_u64(), expected.map(u64::from), "{members}");
            let meta = if m["name"] == "a" { "meta-a" } else { "" };
            assert_eq!(m["meta"], meta, "{}: {members}", node.name);
        }
    }

    // A broadcast reaches the others; messages keep their spaces.
    a.send("broadcast hello everyone");
    b.msg("hello everyone");
    c.msg("hello everyone");

    // Reliable and best-effort messages reach the named node.
    b.send("send c reliable hello");
    c.msg("reliable hello");
    c.send("sendbe a best effort hello");
    a.msg("best effort hello");

    // Failing commands say so and the agent carries on.
    let err = b.command("send nobody x", "error");
    assert_eq!(err["cmd"], "send", "{err}");
    assert!(err["err"].as_str().is_some_and(|e| !e.is_empty()), "{err}");
    let err = b.command("frobnicate", "error");
    assert_eq!(err["cmd"], "frobnicate", "{err}");
    let stats = b.command("stats", "stats");
    assert!(
        stats["packets_in"]["count"].as_u64().is_some_and(|n| n > 0),
        "{stats}"
    );
    assert!(
        stats["streams_out"].as_u64().is_some_and(|n| n > 0),
        "{stats}"
    );

    // New metadata is announced as an update.
    c.send("meta meta-c2");
    for node in [&mut a, &mut b] {
        let update = node.wait("update of c", |v| {
            v["ev"] == "update" && v["name"] == "c" && v["meta"] == "meta-c2"
        });
        assert_eq!(update["port"], port_c, "{update}");
    }

    // A graceful leave.
    b.command("leave", "left");
    for node in [&mut a, &mut c] {
        let leave = node.event("leave", "b");
        assert_eq!(leave["reason"], "left", "{}: {leave}", node.name);
    }
    let members = a.command("members", "members");
    assert_eq!(names(&members), ["a", "c"], "{members}");

    // `shutdown`, or the end of input, ends the process cleanly.
    for (node, eof) in [(&mut b, false), (&mut a, false), (&mut c, true)] {
        let status = node.stop(eof);
        assert!(status.success(), "{}: exited with {status}", node.name);
    }
}

#[test]
fn nodes_with_and_without_a_key_cannot_join_each_other() {
    let bin = agent_binary();
    let key = BASE64.encode([7u8; 16]);
    let other = BASE64.encode([9u8; 32]);

    let mut keyed = Agent::spawn(&bin, "keyed", &["--config", "local", "--key", &key]);
    let keyed_seed = format!("127.0.0.1:{}", keyed.ready());
    let mut plain = Agent::spawn(&bin, "plain", &["--config", "local", "--join", &keyed_seed]);
    let plain_seed = format!("127.0.0.1:{}", plain.ready());
    let mut keyed2 = Agent::spawn(
        &bin,
        "keyed2",
        &["--config", "local", "--key", &key, "--join", &plain_seed],
    );
    // Same primary key plus another: joins the keyed node.
    let mut keyed3 = Agent::spawn(
        &bin,
        "keyed3",
        &[
            "--config",
            "local",
            "--key",
            &key,
            "--keys",
            &other,
            "--join",
            &keyed_seed,
        ],
    );

    for node in [&mut plain, &mut keyed2] {
        let joined = node.joined();
        assert_eq!(joined["n"], 0, "{}: {joined}", node.name);
        assert!(
            joined["err"].as_str().is_some_and(|e| !e.is_empty()),
            "{}: {joined}",
            node.name
        );
    }
    let joined = keyed3.joined();
    assert_eq!(joined["n"], 1, "{joined}");
    keyed.event("join", "keyed3");

    let members = plain.command("members", "members");
    assert_eq!(names(&members), ["plain"], "{members}");
    let members = keyed.command("members", "members");
    assert_eq!(names(&members), ["keyed", "keyed3"], "{members}");
}

#[test]
fn bad_flags_exit_with_status_2() {
    let bin = agent_binary();
    for args in [
        &["--port", "not-a-port"][..],
        &["--bogus"],
        &["--key", "!!!"],
        &["--key", "AAAA"],
        &["--config", "moon"],
        &["--compression", "zip"],
        &["--bind", "nowhere"],
        &["--name"],
    ] {
        let out = Command::new(&bin)
            .args(args)
            .output()
            .expect("run the example");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("usage"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}
