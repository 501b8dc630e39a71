//! Locating the example binaries that `cargo test` builds, for tests that
//! run them as processes.

#![allow(dead_code)] // not every test crate uses every helper

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `target/<profile>/examples/<name>`, next to the running test's `deps`
/// folder; fails clearly if it is missing or older than its sources.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the running test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "example binary {} is missing ({e}); build it with `cargo build --example {name}` \
                 (a plain `cargo test` builds it, `cargo test --test <one>` does not)",
                bin.display()
            )
        });
    if let Some(newer) = source_newer_than(&bin, built) {
        panic!(
            "example binary {} is older than {}; rebuild it with `cargo build --example {name}`",
            bin.display(),
            newer.display()
        );
    }
    bin
}

/// A source file the binary was built from (as its cargo dep-info file
/// `<binary>.d` lists them) that was modified after the build, if any.
pub fn source_newer_than(bin: &Path, built: SystemTime) -> Option<PathBuf> {
    let dep_info = std::fs::read_to_string(bin.with_extension("d")).ok()?;
    let (_, sources) = dep_info.lines().next()?.split_once(": ")?;
    dep_info_paths(sources).into_iter().find(|path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_or(true, |modified| modified > built)
    })
}

/// The space-separated paths of a dep-info line (`\\ ` is a space inside a
/// path).
fn dep_info_paths(line: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&' ') {
            current.push(' ');
            chars.next();
        } else if c == ' ' {
            if !current.is_empty() {
                paths.push(PathBuf::from(std::mem::take(&mut current)));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        paths.push(PathBuf::from(current));
    }
    paths
}

/// An example running as a process: its stdout lines arrive on a channel,
/// its stdin is a pipe, and it is killed when dropped.
pub struct ExampleProcess {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    /// How long each wait may take.
    deadline: std::time::Duration,
}

impl ExampleProcess {
    /// Starts example `name` with `args`.
    pub fn start(name: &str, args: &[&str]) -> Self {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(path(name))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting example {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout pipe");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ExampleProcess {
            child,
            stdin,
            lines,
            deadline: std::time::Duration::from_secs(20),
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line containing `needle`, returning it.
    pub fn expect(&self, needle: &str) -> String {
        let end = std::time::Instant::now() + self.deadline;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {needle:?}: {e}"),
            }
        }
    }

    /// Writes one line to its stdin.
    pub fn say(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("writing to the example's stdin");
    }

    /// Closes its stdin (Ctrl-D).
    pub fn hang_up(&mut self) {
        drop(self.stdin.take());
    }

    /// Sends it SIGINT (Ctrl-C).
    pub fn interrupt(&self) {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits (bounded) for it to exit.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let end = std::time::Instant::now() + self.deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the example") {
                return status;
            }
            assert!(std::time::Instant::now() < end, "the example did not exit");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
