//! How the whole cluster scales: runs the `cluster` example once per
//! (timings, size, seed), each time as a child process, and prints one
//! table of convergence, failure detection and cost.
//!
//! ```text
//! cargo build --release --example cluster --example scale
//! cargo run --release --example scale -- [--nodes 20,200,1000] [--seeds 5]
//!     [--config lan] [--kill 5] [--timeout 600] [--json FILE]
//! ```
//!
//! * `--nodes LIST` — cluster sizes (default `20,200,1000`).
//! * `--seeds K` — runs per size, with seeds 1..=K (default 5).
//! * `--config LIST` — timings, `local`, `lan` and/or `wan`, as a list or
//!   repeated (default `lan`).
//! * `--kill K` — nodes crashed per run (default 5, at most N/4).
//! * `--timeout SECS` — a run still going after this is killed and counts
//!   as failed (default 600).
//! * `--json FILE` — also write the table's rows there, one JSON object a
//!   line.
//!
//! Progress goes to stderr, one line a run; the table to stdout. Exit
//! status 1 if any run failed, 2 for bad arguments.
//!
//! Why an example and not a `harness = false` bench: a bench would run
//! under a plain `cargo bench` (hours, with the defaults) and, without
//! `--bench`, under `cargo test --all-targets`; `bench = false` avoids
//! both but also drops it from `cargo clippy --all-targets`. An example is
//! checked by `--all-targets` and only ever runs on request.
//!
//! It builds nothing: it runs `release/examples/cluster` from the target
//! directory its own executable lives in (wherever `CARGO_TARGET_DIR` puts
//! it, whichever profile built this program), refusing a missing or
//! out-of-date one, since timing stale code misleads.
//!
//! CPU time and peak memory come from running each child under GNU
//! `/usr/bin/time` (Debian package `time`), which reports them for the
//! exited process without any unsafe code here; without it they show as
//! `-`. Threads are the cluster's own count of its process threads.

#[path = "../tests/example_binary/mod.rs"]
mod example_binary;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const USAGE: &str =
    "usage: cargo run --release --example scale -- [--nodes 20,200,1000] [--seeds 5]
    [--config local,lan,wan] [--kill 5] [--timeout 600] [--json FILE]";

/// How `examples/cluster` joins its nodes, for the table.
const JOIN: &str = "random earlier node, all at once";

/// GNU time: the CPU time and peak memory of the process it runs.
const TIME: &str = "/usr/bin/time";

struct Options {
    nodes: Vec<usize>,
    seeds: u64,
    configs: Vec<String>,
    kill: usize,
    timeout: Duration,
    json: Option<PathBuf>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        nodes: vec![20, 200, 1000],
        seeds: 5,
        configs: Vec::new(),
        kill: 5,
        timeout: Duration::from_secs(600),
        json: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value:?} for {flag}");
        match flag.as_str() {
            "--nodes" => {
                o.nodes = value
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| bad()))
                    .collect::<Result<_, _>>()?;
            }
            "--seeds" => o.seeds = value.parse().map_err(|_| bad())?,
            "--config" => {
                for c in value.split(',') {
                    if !["local", "lan", "wan"].contains(&c) {
                        return Err(format!("--config takes local, lan or wan, not {c:?}"));
                    }
                    o.configs.push(c.to_owned());
                }
            }
            "--kill" => o.kill = value.parse().map_err(|_| bad())?,
            "--timeout" => {
                let secs: f64 = value.parse().map_err(|_| bad())?;
                o.timeout = Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|t| !t.is_zero())
                    .ok_or_else(bad)?;
            }
            "--json" => o.json = Some(value.into()),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    if o.configs.is_empty() {
        o.configs.push("lan".into());
    }
    if o.nodes.iter().any(|&n| n < 2) || o.seeds == 0 || o.kill == 0 {
        return Err("--nodes must be at least 2, --seeds and --kill at least 1".into());
    }
    Ok(o)
}

/// `<target>/release/examples/cluster`, this program being
/// `<target>/<profile>/examples/scale`, if present and newer than its
/// sources.
fn cluster_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let target = exe.ancestors().nth(3).ok_or("no target directory")?;
    let bin = target.join("release/examples/cluster");
    let build = "run `cargo build --release --example cluster` first";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{} is missing ({e}): {build}", bin.display()))?;
    if let Some(newer) = example_binary::source_newer_than(&bin, built) {
        let (bin, newer) = (bin.display(), newer.display());
        return Err(format!("{bin} is older than {newer}: {build}"));
    }
    Ok(bin)
}

/// What one run of the cluster left behind.
#[derive(Default)]
struct Run {
    ok: bool,
    /// The cluster's final JSON line, when it got that far.
    result: Option<Value>,
    /// User + system seconds, peak resident MiB (from `/usr/bin/time`).
    cpu_s: Option<f64>,
    rss_mib: Option<f64>,
    threads: Option<u64>,
}

fn run_once(bin: &Path, config: &str, n: usize, kill: usize, seed: u64, o: &Options) -> Run {
    let time_file = std::env::temp_dir().join(format!(
        "swimlist-scale-{}-{config}-{n}-{seed}.time",
        std::process::id()
    ));
    let timed = Path::new(TIME).exists();
    let mut command = if timed {
        let mut c = Command::new(TIME);
        c.args(["-f", "%U %S %M", "-o"]).arg(&time_file).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let started = Instant::now();
    let (n_arg, kill_arg, seed_arg) = (n.to_string(), kill.to_string(), seed.to_string());
    let mut child = match command
        .args(["--nodes", &n_arg, "--kill", &kill_arg, "--config", config])
        .args(["--seed", &seed_arg])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("  cannot start {}: {e}", bin.display());
            return Run::default();
        }
    };
    let stdout = read_all(child.stdout.take().expect("piped stdout"));
    let stderr = read_all(child.stderr.take().expect("piped stderr"));
    // The pipe closes when the cluster (and `time`) exit.
    let out = stdout.recv_timeout(o.timeout);
    let timed_out = out.is_err();
    if timed_out {
        // Killing `time` would orphan the cluster, which would also keep
        // its stats from being written: kill the cluster itself.
        if !(timed && kill_children_of(child.id())) {
            let _ = child.kill();
        }
    }
    let status = child.wait();
    // A timed-out run's output still tells its thread count; the grace
    // period is for a cluster that outlived the kill and holds the pipes.
    let grace = Duration::from_secs(5);
    let out = out
        .or_else(|_| stdout.recv_timeout(grace))
        .unwrap_or_default();
    let err = stderr.recv_timeout(grace).unwrap_or_default();

    let mut run = Run {
        result: out
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok()),
        threads: out.lines().find_map(|l| {
            l.split_once("(process: ")?
                .1
                .strip_suffix(')')?
                .parse()
                .ok()
        }),
        ..Run::default()
    };
    run.ok = !timed_out && run.result.is_some() && status.as_ref().is_ok_and(|s| s.success());
    if timed {
        // `time` may put a "Command exited with ..." line before its own.
        if let Ok(text) = std::fs::read_to_string(&time_file) {
            let last = text.lines().last().unwrap_or("");
            let f: Vec<f64> = last.split(' ').filter_map(|v| v.parse().ok()).collect();
            if let [user, sys, rss_kib] = f[..] {
                run.cpu_s = Some(user + sys);
                run.rss_mib = Some(rss_kib / 1024.0);
            }
        }
        let _ = std::fs::remove_file(&time_file);
    }
    let took = started.elapsed().as_secs_f64();
    let verdict = if timed_out {
        format!("killed after {took:.0} s (--timeout)")
    } else if run.ok {
        format!("ok in {took:.1} s")
    } else {
        // The cluster's error, else its JSON line (false deaths,
        // undetected).
        let why = err.lines().next().or_else(|| out.lines().last());
        format!(
            "FAILED ({}): {}",
            status.map_or_else(|e| e.to_string(), |s| s.to_string()),
            why.unwrap_or("")
        )
    };
    eprintln!("  {config} nodes={n} seed={seed}: {verdict}");
    run
}

/// Reads a pipe to its end on a thread of its own.
fn read_all(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Kills (with the `kill` command: std can only kill its own children)
/// every process whose parent is `pid`, found in /proc; false if none.
fn kill_children_of(pid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    let parent = pid.to_string();
    let children: Vec<String> = dir
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and ')'.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (ppid == parent).then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    !children.is_empty()
        && Command::new("kill")
            .arg("-KILL")
            .args(&children)
            .status()
            .is_ok_and(|s| s.success())
}

/// The `p`th percentile by nearest rank, as the cluster example computes it.
fn nearest_rank(mut values: Vec<f64>, p: usize) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

fn max(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().reduce(f64::max)
}

/// One table row: the runs of one (config, N), summarised.
fn summarise(config: &str, n: usize, kill: usize, runs: &[Run]) -> Value {
    let results: Vec<&Value> = runs.iter().filter_map(|r| r.result.as_ref()).collect();
    let secs = |key: &str| -> Vec<f64> {
        results
            .iter()
            .filter_map(|r| r[key].as_f64())
            .map(|ms| ms / 1000.0)
            .collect()
    };
    let sum = |key: &str| -> u64 { results.iter().filter_map(|r| r[key].as_u64()).sum() };
    json!({
        "config": config,
        "nodes": n,
        "kill": kill,
        "join": JOIN,
        "runs": runs.len(),
        "ok": runs.iter().filter(|r| r.ok).count(),
        "converged_s_p50": nearest_rank(secs("converged_ms"), 50),
        "converged_s_max": max(secs("converged_ms")),
        // The median run's median, and the slowest detection of all.
        "detect_s_p50": nearest_rank(secs("detect_ms_p50"), 50),
        "detect_s_max": max(secs("detect_ms_max")),
        "false_deaths": sum("false_deaths"),
        "undetected": sum("undetected"),
        "cpu_s_median": nearest_rank(runs.iter().filter_map(|r| r.cpu_s).collect(), 50),
        "peak_rss_mib": max(runs.iter().filter_map(|r| r.rss_mib)),
        "threads": runs.iter().filter_map(|r| r.threads).max(),
    })
}

fn print_table(rows: &[Value]) {
    let head: Vec<&str> = "config|nodes|kill|join|ok/runs|conv p50|conv max|det p50|det max\
        |false deaths|undetected|CPU s|RSS MiB|threads"
        .split('|')
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let num = |k: &str, places: usize| {
                r[k].as_f64()
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.places$}"))
            };
            vec![
                r["config"].as_str().unwrap_or("").to_owned(),
                num("nodes", 0),
                num("kill", 0),
                JOIN.to_owned(),
                format!("{}/{}", r["ok"], r["runs"]),
                num("converged_s_p50", 2),
                num("converged_s_max", 2),
                num("detect_s_p50", 2),
                num("detect_s_max", 2),
                num("false_deaths", 0),
                num("undetected", 0),
                num("cpu_s_median", 2),
                num("peak_rss_mib", 1),
                num("threads", 0),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: Vec<&str>| {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(head);
    for c in &cells {
        line(c.iter().map(String::as_str).collect());
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let o = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scale: {e}");
            return ExitCode::from(2);
        }
    };
    let bin = match cluster_binary() {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("scale: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !Path::new(TIME).exists() {
        eprintln!("scale: no {TIME} (Debian package `time`): CPU and RSS will show as -");
    }
    let mut rows = Vec::new();
    for config in &o.configs {
        for &n in &o.nodes {
            let kill = o.kill.min(n / 4).max(1);
            let runs: Vec<Run> = (1..=o.seeds)
                .map(|seed| run_once(&bin, config, n, kill, seed, &o))
                .collect();
            rows.push(summarise(config, n, kill, &runs));
        }
    }
    println!();
    print_table(&rows);
    let nodes: Vec<String> = o.nodes.iter().map(usize::to_string).collect();
    println!(
        "times in seconds (p50 = nearest-rank median over seeds; det p50 = median of the runs' medians); \
         CPU s = user+sys, median run; RSS = peak resident, max run"
    );
    println!(
        "reproduce: cargo build --release --example cluster --example scale && cargo run --release --example scale -- --nodes {} --seeds {} --config {} --kill {} --timeout {}",
        nodes.join(","),
        o.seeds,
        o.configs.join(","),
        o.kill,
        o.timeout.as_secs_f64()
    );
    if let Some(path) = &o.json {
        let lines: String = rows.iter().map(|r| format!("{r}\n")).collect();
        if let Err(e) = std::fs::write(path, lines) {
            eprintln!("scale: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if rows.iter().all(|r| r["ok"] == r["runs"]) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
