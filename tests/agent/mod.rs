//! A process speaking the agent contract of tests/agent/node.rs (JSON lines
//! on stdout, commands on stdin) — the Rust example or the Go test peer —
//! driven with deadlines. Shared by the agent and interop tests.

#![allow(dead_code)] // each test crate uses part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Default longest wait for any one expected line.
pub const STEP: Duration = Duration::from_secs(8);

/// A Go program the interop tests run: `$env_var` if given and set, else
/// `target/<default>`; `None` (after saying SKIPPED and how to build it)
/// when it is not built, unless `$required` is set (as in CI), which makes
/// a missing program a failure.
pub fn built_peer(
    env_var: Option<&str>,
    default: &str,
    required: &str,
    build: &str,
) -> Option<PathBuf> {
    let path = env_var
        .and_then(std::env::var_os)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(default)
        });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os(required).is_none(),
        "{required} is set but {} is missing: run {build}",
        path.display()
    );
    eprintln!("SKIPPED: {} not built (run {build})", path.display());
    None
}

/// The agent example, `target/<profile>/examples/node`.
pub fn rust_agent() -> PathBuf {
    crate::example_binary::path("node")
}

/// A running `node` process. Dropping it kills the process (so a failing
/// test leaves nothing behind) and, when the test is failing, prints what
/// the process logged.
pub struct Agent {
    pub name: String,
    /// Longest wait for one expected line.
    pub step: Duration,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Stdout lines as they arrive; `Err` holds a line that is not JSON.
    lines: Receiver<Result<Value, String>>,
    /// Every stdout line received so far, in order.
    pub seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Agent {
    pub fn spawn(bin: &Path, name: &str, args: &[&str]) -> Agent {
        Agent::start(Command::new(bin), bin, name, args)
    }

    /// As [`Agent::spawn`], inside network namespace `netns` (`ip netns
    /// exec`, which execs the agent: the child is the agent itself).
    pub fn spawn_in(netns: &str, bin: &Path, name: &str, args: &[&str]) -> Agent {
        let mut ip = Command::new("ip");
        ip.args(["netns", "exec", netns]).arg(bin);
        Agent::start(ip, bin, name, args)
    }

    fn start(mut command: Command, bin: &Path, name: &str, args: &[&str]) -> Agent {
        let mut child = command
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
            step: STEP,
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    pub fn describe(&self) -> String {
        let seen: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        format!(
            "stdout so far:\n  {}\nstderr so far:\n{stderr}",
            seen.join("\n  ")
        )
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits up to [`Agent::step`] for `needle` to appear on stderr (the
    /// process's log), checking every 50 ms.
    pub fn wait_stderr(&self, needle: &str) {
        let deadline = Instant::now() + self.step;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{}: timed out waiting for {needle:?} on stderr\n{}",
                self.name,
                self.describe()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Takes every line printed so far into [`Agent::seen`], without
    /// waiting; false once stdout has closed.
    pub fn drain(&mut self) -> bool {
        loop {
            match self.lines.try_recv() {
                Ok(Ok(v)) => self.seen.push(v),
                Ok(Err(line)) => panic!("{}: stdout line is not JSON: {line:?}", self.name),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Kills the process at once (a crash: no leave, no shutdown).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (`STOP`, `CONT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Writes one command line.
    pub fn send(&mut self, command: &str) {
        let name = self.name.clone();
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{name}: cannot write {command:?}: {e}"));
    }

    /// The first line at index `from` or later matching `pred`, waiting up
    /// to [`STEP`] for it.
    pub fn wait_from(&mut self, from: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let step = self.step;
        self.find_within(from, step, pred).unwrap_or_else(|| {
            panic!(
                "{}: timed out waiting for {what}\n{}",
                self.name,
                self.describe()
            )
        })
    }

    /// The first line at index `from` or later matching `pred`, waiting up
    /// to `within` for it; `None` if none came by then.
    pub fn find_within(
        &mut self,
        from: usize,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + within;
        let mut i = from;
        loop {
            while i < self.seen.len() {
                if pred(&self.seen[i]) {
                    return Some(self.seen[i].clone());
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
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: stdout closed\n{}", self.name, self.describe())
                }
            }
        }
    }

    /// The first line ever printed that matches `pred`.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, what, pred)
    }

    /// Sends `command` and waits for a line printed after it with event
    /// `ev`.
    pub fn command(&mut self, command: &str, ev: &str) -> Value {
        let mark = self.seen.len();
        self.send(command);
        self.wait_from(mark, &format!("{ev:?} after {command:?}"), |v| {
            v["ev"] == ev
        })
    }

    /// Waits for `ready` and returns the node's port.
    pub fn ready(&mut self) -> u16 {
        let name = self.name.clone();
        let ready = self.wait("ready", |v| v["ev"] == "ready");
        assert_eq!(ready["name"], name.as_str(), "{ready}");
        let addr = ready["addr"].as_str().unwrap_or_default();
        assert!(addr.starts_with("127."), "{name}: not loopback: {ready}");
        ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p > 0)
            .unwrap_or_else(|| panic!("{name}: bad port in {ready}"))
    }

    /// Waits for the `joined` line.
    pub fn joined(&mut self) -> Value {
        self.wait("joined", |v| v["ev"] == "joined")
    }

    /// Waits for a membership event `ev` about node `about`.
    pub fn event(&mut self, ev: &str, about: &str) -> Value {
        let v = self.wait(&format!("{ev:?} about {about:?}"), |v| {
            v["ev"] == ev && v["name"] == about
        });
        assert!(
            v["addr"].as_str().is_some_and(|a| a.starts_with("127.")),
            "{v}"
        );
        assert!(v["port"].as_u64().is_some_and(|p| p > 0), "{v}");
        assert!(v["meta"].is_string(), "{v}");
        assert!(v["t_ms"].as_f64().is_some_and(|t| t >= 0.0), "{v}");
        v
    }

    /// Waits for a user message with `data`.
    pub fn msg(&mut self, data: &str) {
        self.wait(&format!("message {data:?}"), |v| {
            v["ev"] == "msg" && v["data"] == data
        });
    }

    /// Closes stdin if `eof`, else sends `shutdown`; then waits for the
    /// process to exit.
    pub fn stop(&mut self, eof: bool) -> ExitStatus {
        if eof {
            self.stdin = None;
        } else {
            self.send("shutdown");
        }
        let deadline = Instant::now() + self.step;
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

/// Everything a Go node sent this swimlist node was accepted: its stats
/// show no decoding-related drops. Returns the stats.
pub fn assert_rust_accepted_everything(node: &mut Agent) -> Value {
    let stats = node.command("stats", "stats");
    let dropped = stats["dropped"].as_object().cloned().unwrap_or_default();
    for reason in [
        "malformed message",
        "malformed packet",
        "unexpected message type",
        "checksum",
        "empty message",
        "decryption",
        "label",
    ] {
        assert!(
            !dropped.contains_key(reason),
            "{}: dropped {reason}: {stats}",
            node.name
        );
    }
    stats
}
