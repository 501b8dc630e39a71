//! The README's quick start is `examples/quickstart.rs`, word for word, and
//! it works: two of them form a cluster, and Ctrl-C (SIGINT) makes one
//! leave gracefully (the other sees it *left*, not failed) and exit 0.

mod example_binary;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn the_readme_shows_the_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quickstart.rs");
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("README has a Quick start section");
    let block = section
        .split("```rust,no_run\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Quick start has a Rust block");
    assert_eq!(
        block, example,
        "README quick start != examples/quickstart.rs"
    );
}

/// A running quick start, its stdout lines arriving on a channel.
struct Quickstart {
    child: Child,
    lines: Receiver<String>,
}

impl Quickstart {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(example_binary::path("quickstart"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("quickstart starts");
        let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Quickstart { child, lines }
    }

    /// Waits for a line containing `needle`, returning it.
    fn expect(&self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {needle:?}: {e}"),
            }
        }
    }

    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < end, "quickstart did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctrl_c_leaves_gracefully_and_exits() {
    let mut seed = Quickstart::start(&["qs-seed", "127.0.0.1:0"]);
    let line = seed.expect("listening on");
    let addr = line.rsplit(' ').next().expect("an address").to_owned();
    let mut joiner = Quickstart::start(&["qs-joiner", "127.0.0.1:0", &addr]);
    joiner.expect("join: qs-seed");
    seed.expect("join: qs-joiner");

    joiner.interrupt();
    joiner.expect("qs-joiner left and shut down");
    assert!(joiner.wait_exit().success());
    seed.expect("leave (left): qs-joiner");

    seed.interrupt();
    seed.expect("qs-seed left and shut down");
    assert!(seed.wait_exit().success());
}
