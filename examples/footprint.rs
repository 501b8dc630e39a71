//! What one idle node costs: starts N agents (`examples/node`, the
//! JSON-lines agent the tests drive) on loopback as one `lan` cluster, waits
//! until each sees every member, lets them idle, and prints their resident
//! memory and CPU time (Linux: read from `/proc`).
//!
//! ```text
//! cargo build --release --example node --example footprint
//! cargo run --release --example footprint -- [--nodes 10] [--idle 20]
//! ```
//!
//! Resident memory counts the pages of shared libraries (libc, libm, the
//! dynamic loader) that every process on the host maps; the table shows
//! them apart. A statically linked build, as Go builds its binaries, has
//! none:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo run --release \
//!     --target x86_64-unknown-linux-gnu --example footprint
//! ```
//!
//! (with `--example node` built the same way first). It runs the `node`
//! binary from its own directory, so both come from the same build.

#[path = "../tests/example_binary/mod.rs"]
mod example_binary;

use std::time::{Duration, Instant};

use example_binary::ExampleProcess;

const USAGE: &str = "usage: footprint [--nodes N (>= 2, default 10)] [--idle SECS (default 20)]";

/// Kernel clock ticks per second, as `/proc/<pid>/stat` counts CPU time
/// (`USER_HZ`, 100 on every Linux architecture the crate targets).
const TICKS_PER_SECOND: u64 = 100;

/// One agent's resident memory, in KiB, by where it comes from.
#[derive(Default, Clone, Copy)]
struct Resident {
    total: u64,
    anonymous: u64,
    own_binary: u64,
    shared_libraries: u64,
}

/// Reads `pid`'s resident memory from its `smaps`.
fn resident(pid: u32, binary: &str) -> Result<Resident, String> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))
        .map_err(|e| format!("reading /proc/{pid}/smaps: {e}"))?;
    let mut r = Resident::default();
    let mut mapping = String::new();
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields
            .first()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            mapping = fields.get(5).copied().unwrap_or_default().to_owned();
        } else if fields.first() == Some(&"Rss:") {
            let kib: u64 = fields.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            r.total += kib;
            if mapping == binary {
                r.own_binary += kib;
            } else if mapping.starts_with('/') {
                r.shared_libraries += kib;
            } else {
                r.anonymous += kib;
            }
        }
    }
    Ok(r)
}

/// User + system CPU time of `pid` so far.
fn cpu_time(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    // The fields after the command name (which may hold spaces), from
    // field 3 on: utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11..13]
        .iter()
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Ok(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn main() -> Result<(), String> {
    let (mut nodes, mut idle) = (10usize, 20u64);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match pair {
            [flag, value] if flag == "--nodes" => nodes = value.parse().map_err(|_| USAGE)?,
            [flag, value] if flag == "--idle" => idle = value.parse().map_err(|_| USAGE)?,
            _ => return Err(USAGE.into()),
        }
    }
    if nodes < 2 {
        return Err(USAGE.into());
    }
    let binary = example_binary::path("node");
    let binary_name = binary.to_string_lossy().into_owned();
    let lan = ["--config", "lan", "--bind", "127.0.0.1", "--port", "0"];
    let first = ExampleProcess::start("node", &[&lan[..], &["--name", "n0"]].concat());
    let ready = first.expect("\"ready\"");
    let ready: serde_json::Value = serde_json::from_str(&ready).map_err(|e| e.to_string())?;
    let port = ready["port"].as_u64().ok_or("no port in the ready line")?;
    let seed = format!("127.0.0.1:{port}");
    let mut agents = vec![first];
    for i in 1..nodes {
        let name = format!("n{i}");
        let args = [&lan[..], &["--name", &name, "--join", &seed]].concat();
        agents.push(ExampleProcess::start("node", &args));
    }
    // Each agent prints one join line per member it learns of, itself first.
    for agent in &agents {
        for _ in 0..nodes {
            agent.expect("\"ev\":\"join\"");
        }
    }
    eprintln!("{nodes} agents see each other; idling {idle} s");
    let before: Vec<Duration> = agents
        .iter()
        .map(|a| cpu_time(a.id()))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(idle));
    let elapsed = started.elapsed();
    let mut cpu_ms = Vec::new();
    let mut memory = Vec::new();
    for (agent, before) in agents.iter().zip(before) {
        let spent = cpu_time(agent.id())? - before;
        cpu_ms.push(spent.as_millis() as u64 * 20_000 / elapsed.as_millis().max(1) as u64);
        memory.push(resident(agent.id(), &binary_name)?);
    }
    let column = |f: fn(&Resident) -> u64| mib(median(memory.iter().map(f).collect()));
    let totals: Vec<u64> = memory.iter().map(|r| r.total).collect();
    let rss = format!(
        "{}/{}/{}",
        mib(*totals.iter().min().unwrap_or(&0)),
        mib(median(totals.clone())),
        mib(*totals.iter().max().unwrap_or(&0))
    );
    println!("agent: {binary_name}");
    println!(
        "nodes  RSS MiB min/median/max  anonymous  own binary  shared libraries  CPU ms per 20 s"
    );
    println!(
        "{nodes:<5}  {rss:<24}  {:<9}  {:<10}  {:<16}  {}",
        column(|r| r.anonymous),
        column(|r| r.own_binary),
        column(|r| r.shared_libraries),
        median(cpu_ms),
    );
    println!("MiB; columns but min/max are medians over the agents, after {idle} s idle");
    Ok(())
}
