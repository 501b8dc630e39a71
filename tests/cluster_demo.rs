//! Runs the `cluster` example (six nodes, one crash) and checks its final
//! JSON line: every survivor saw the crash, nobody was falsely declared
//! dead; and that the legend explaining its terms comes before it.
//!
//! The example binary is built by a plain `cargo test` (or
//! `cargo build --example cluster`); `cargo test --test cluster_demo` alone
//! does not build it, so this test refuses a missing or out-of-date binary.

mod example_binary;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How long the demo may run before it is killed.
const DEADLINE: Duration = Duration::from_secs(60);

/// Reads a pipe to its end on a thread of its own; the text arrives on the
/// returned channel.
fn drain(mut pipe: impl Read + Send + 'static) -> crossbeam_channel::Receiver<String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

#[test]
fn six_nodes_one_crash() {
    let mut child = Command::new(example_binary::path("cluster"))
        .args(["--nodes", "6", "--kill", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the cluster example");
    let stdout = drain(child.stdout.take().expect("stdout pipe"));
    let stderr = drain(child.stderr.take().expect("stderr pipe"));

    // stdout ends when the demo exits (or closes it): wait for that, with
    // a deadline.
    let out = match stdout.recv_timeout(DEADLINE) {
        Ok(out) => out,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_default();
            panic!(
                "the cluster example ran longer than {DEADLINE:?} and was killed; stderr:\n{err}"
            );
        }
    };
    let status = child.wait().expect("waiting for the cluster example");
    let err = stderr
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(
        status.success(),
        "cluster example failed ({status})\nstdout:\n{out}\nstderr:\n{err}"
    );

    // Newcomers get the jargon explained before the summary.
    assert!(
        out.contains("what the output means:\n  sighting "),
        "no legend before the summary:\n{out}"
    );
    let last = out.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("last line of the output is not JSON ({e}): {last:?}\nstdout:\n{out}")
    });
    assert_eq!(summary["nodes"], 6, "{last}");
    assert_eq!(summary["false_deaths"], 0, "{last}\n{out}");
    assert!(
        summary["converged_ms"].is_u64(),
        "converged_ms missing: {last}"
    );
    let max = summary["detect_ms_max"]
        .as_u64()
        .unwrap_or_else(|| panic!("detect_ms_max missing: {last}"));
    assert!(max > 0, "{last}");
    let p50 = summary["detect_ms_p50"]
        .as_u64()
        .unwrap_or_else(|| panic!("detect_ms_p50 missing: {last}"));
    assert!(p50 <= max, "{last}");
    assert!(summary.get("undetected").is_none(), "{last}\n{out}");
}
