//! Runs the examples for people as processes and checks that each did its
//! job: exit status 0, and the lines of its output that prove it.
//!
//! The example binaries are built by a plain `cargo test` (or
//! `cargo build --examples`); `cargo test --test examples` alone does not
//! build them, so these tests refuse a missing or out-of-date binary.

mod example_binary;

use example_binary::ExampleProcess;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// How long an example may run before it is killed.
const DEADLINE: Duration = Duration::from_secs(60);

/// Reads a pipe to its end on a thread of its own; the text arrives on the
/// returned channel.
fn read_all(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Runs an example to its end and returns its stdout; fails if it runs
/// past the deadline (it is then killed) or exits with an error.
fn run(name: &str, args: &[&str]) -> String {
    let mut child = Command::new(example_binary::path(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the {name} example: {e}"));
    let stdout = read_all(child.stdout.take().expect("stdout pipe"));
    let stderr = read_all(child.stderr.take().expect("stderr pipe"));
    // stdout ends when the example exits: wait for that, with a deadline.
    let Ok(out) = stdout.recv_timeout(DEADLINE) else {
        let _ = child.kill();
        let _ = child.wait();
        let err = stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        panic!("the {name} example ran longer than {DEADLINE:?} and was killed; stderr:\n{err}");
    };
    let status = child.wait().expect("waiting for the example");
    let err = stderr
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(
        status.success(),
        "the {name} example failed ({status})\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

/// Asserts that `out` has lines containing each of `needles`, in order.
fn assert_lines_in_order(out: &str, needles: &[&str]) {
    let mut lines = out.lines();
    for needle in needles {
        assert!(
            lines.any(|line| line.contains(needle)),
            "no line with {needle:?} (after the lines before it) in:\n{out}"
        );
    }
}

#[test]
fn delegate_shares_metadata_messages_and_state() {
    let out = run("delegate", &[]);
    assert_lines_in_order(
        &out,
        &[
            "alpha sees beta join, with metadata role=reader",
            "alpha merged state (on join): colour=blue,size=large",
            "beta merged state (on join): colour=blue,size=large",
            "beta received: colour=green",
            "in the end alpha has colour=green,size=large",
            "in the end beta has colour=green,size=large",
        ],
    );
}

#[test]
fn chat_demo_reaches_everyone() {
    let out = run("chat", &["--demo"]);
    let names = ["ann", "bob", "cy"];
    for receiver in names {
        for sender in names.iter().filter(|&&s| s != receiver) {
            let line = format!("{receiver} received \"{sender}: hello from {sender}\"");
            assert_lines_in_order(&out, &[&line]);
        }
    }
    assert_lines_in_order(&out, &["everyone heard everyone"]);
}

#[test]
fn key_rotation_keeps_messages_flowing() {
    let out = run("key_rotation", &[]);
    assert_lines_in_order(
        &out,
        &[
            "before rotation (old key only): delivered (6 of 6 messages)",
            "after add_key (both keys, old one encrypts): delivered (6 of 6 messages)",
            "after use_key on n1 only (mixed keys): delivered (6 of 6 messages)",
            "after use_key everywhere (new key encrypts): delivered (6 of 6 messages)",
            "after remove_key (rotation done): delivered (6 of 6 messages)",
            "a node with only the old key is refused: failed to join",
        ],
    );
}

#[test]
fn shared_runtime_runs_fifty_nodes_on_a_worker_per_core() {
    let out = run("shared_runtime", &[]);
    // An I/O thread and a worker per core (at most 8).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(8) + 1;
    let runtime_line = format!("runtime threads: {threads}");
    assert_lines_in_order(
        &out,
        &[
            "started 50 nodes in",
            "every node sees all 50",
            &runtime_line,
            "shut down; runtime threads: 0",
        ],
    );
    if cfg!(target_os = "linux") {
        let process_line = format!("threads in this process: {}", threads + 1);
        assert_lines_in_order(&out, &[&process_line]);
    }
}

#[test]
fn sans_io_machines_join_talk_and_detect_a_crash() {
    let out = run("sans_io", &[]);
    assert_lines_in_order(
        &out,
        &[
            "b: join: a (10.0.0.1:7946, alive)",
            "b: joined 1 node",
            "b: received \"hello, b\"",
            "b: crashes",
            "a: suspect: b (10.0.0.2:7946, suspect)",
            "a: leave (failed): b (10.0.0.2:7946, dead)",
        ],
    );
    assert_lines_in_order(&out, &["a: join: b (10.0.0.2:7946, alive)"]);
}

#[test]
fn chat_between_two_processes() {
    let mut ann = ExampleProcess::start("chat", &["ann", "127.0.0.1:0"]);
    let banner = ann.expect("ann on ");
    // "ann on 127.0.0.1:PORT: type a line ..."
    let (addr, _) = banner["ann on ".len()..]
        .split_once(": ")
        .expect("the banner names the address");
    let mut bob = ExampleProcess::start("chat", &["bob", "127.0.0.1:0", "--join", addr]);
    bob.expect("* ann joined");
    ann.expect("* bob joined");

    bob.say("hi, ann");
    ann.expect("bob: hi, ann");
    ann.say("hello, bob");
    bob.expect("ann: hello, bob");

    bob.hang_up();
    let status = bob.wait_exit();
    assert!(status.success(), "bob's chat failed ({status})");
    ann.expect("* bob left");
    ann.hang_up();
    let status = ann.wait_exit();
    assert!(status.success(), "ann's chat failed ({status})");
}

/// The cells of `tune`'s row `name`, one per configuration.
fn tune_row(out: &str, name: &str) -> Vec<String> {
    let line = out
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name:?} row:\n{out}"));
    line[34..]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `tune` cell such as `5.91 s`, in seconds.
fn seconds(cell: &str) -> f64 {
    cell.trim_end_matches(" s")
        .parse()
        .unwrap_or_else(|_| panic!("not seconds: {cell}"))
}

/// `tune` runs the protocol in virtual time; its figures must be those of a
/// real cluster on sockets (`examples/cluster`, the same joins and
/// crashes): 20 `local` nodes converge within half a second of each other
/// and detect crashes within 25% (real: about 0.5 s and 5.0-5.7 s). One
/// run's median detection varies by ±10% with the nodes crashed, so the
/// simulated figure is the median over four seeds.
#[test]
fn tune_agrees_with_a_real_cluster() {
    let real = run(
        "cluster",
        &[
            "--nodes", "20", "--kill", "2", "--config", "local", "--seed", "1",
        ],
    );
    let last = real.lines().last().unwrap_or_default();
    let summary: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {last:?}\n{real}"));
    let real_converged = summary["converged_ms"].as_f64().expect("converged_ms") / 1000.0;
    let real_detection = summary["detect_ms_p50"].as_f64().expect("detect_ms_p50") / 1000.0;

    let mut converged = Vec::new();
    let mut detection = Vec::new();
    for seed in ["1", "2", "3", "4"] {
        let simulated = run(
            "tune",
            &[
                "--nodes",
                "20",
                "--config",
                "local",
                "--joins",
                "random",
                "--kill",
                "2",
                "--minutes",
                "0.5",
                "--seed",
                seed,
            ],
        );
        converged.push(seconds(&tune_row(&simulated, "formed (random joins)")[0]));
        detection.push(seconds(&tune_row(&simulated, "detection p50")[0]));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[1] + v[2]) / 2.0
    };
    let (converged, detection) = (median(&mut converged), median(&mut detection));
    assert!(
        (converged - real_converged).abs() <= 0.5,
        "converged: simulated {converged} s, real {real_converged} s\n{real}"
    );
    assert!(
        (detection / real_detection - 1.0).abs() <= 0.25,
        "detection p50: simulated {detection} s, real {real_detection} s\n{real}"
    );
}

/// `tune` (a tool, checked here so it keeps working): a small cluster under
/// loss with a comparison, every figure present and plausible, and an SVG.
#[test]
fn tune_reports_both_configurations_and_draws_them() {
    let svg = std::env::temp_dir().join(format!("swimlist-tune-{}.svg", std::process::id()));
    let out = run(
        "tune",
        &[
            "--nodes",
            "12",
            "--config",
            "local",
            "--loss",
            "0.05",
            "--minutes",
            "0.5",
            "--kill",
            "2",
            "--compare",
            "local",
            "--compare-set",
            "gossip_nodes=5",
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    let row = |name: &str| tune_row(&out, name);
    assert_eq!(
        row("configuration"),
        ["local", "local gossip_nodes=5"],
        "{out}"
    );
    for name in ["news reaches 100%", "detection p50", "detection max"] {
        let cells = row(name);
        assert_eq!(cells.len(), 2, "{name}: {cells:?}");
        for cell in cells {
            let secs = seconds(&cell);
            assert!(secs > 0.0 && secs < 60.0, "{name}: {secs}");
        }
    }
    assert_eq!(row("false deaths"), ["0", "0"], "{out}");
    assert_eq!(
        row("crashes undetected (per survivor)"),
        ["0", "0"],
        "{out}"
    );
    let drawing = std::fs::read_to_string(&svg).expect("the chart was written");
    let _ = std::fs::remove_file(&svg);
    assert!(
        drawing.starts_with("<svg") && drawing.contains("gossip_nodes=5"),
        "not a chart"
    );
}
