//! What will my cluster do? Runs the real protocol state machines (the
//! simulator of `tests/sim`: `Membership` machines on a virtual network, in
//! virtual time, one thread) for a cluster size, configuration and network,
//! and prints how fast news spreads, how fast crashes are found, false
//! deaths, and what it costs per node.
//!
//! ```text
//! cargo run --release --example tune -- --nodes 100 [--config lan]
//!     [--set gossip_nodes=4 --set probe_interval=500ms ...]
//!     [--file tune.toml] [--joins formed|chain|random] [--join-every 10ms]
//!     [--delay 1ms] [--jitter 1ms]
//!     [--loss 0.01]
//!     [--partition 60s] [--minutes 2] [--kill 3] [--seed 1]
//!     [--compare wan [--compare-set key=value ...]] [--svg FILE]
//! ```
//!
//! The run starts from a formed cluster, as if it had run for long: every
//! node joins through node 0, which knows all members (`--joins chain`:
//! every node joins the one before it, one every `--join-every`, and the
//! cluster forms from scratch, which at a thousand nodes takes most of the
//! run's time; `--joins random`: each through a random earlier node, as
//! soon as the join before it is done, as `examples/cluster` does). Once
//! all see everyone, node 0 updates its metadata (the news whose spread is timed), `--kill`
//! nodes crash one after another (detection is timed from each crash to
//! each survivor's verdict), with `--partition` the cluster is split in
//! halves for that long and healed (the time until every node sees every
//! live one again is reported), and the cluster runs on to `--minutes` of
//! steady state, where traffic and false deaths are counted (partition
//! casualties aside). Keys for `--set`: `probe_interval`, `probe_timeout`,
//! `gossip_interval`, `push_pull_interval` (durations: `500ms`, `2s`),
//! `gossip_nodes`, `indirect_checks`, `retransmit_mult`, `suspicion_mult`,
//! `suspicion_max_timeout_mult` (numbers). `--file` reads a TOML file of
//! the same keys, with `preset = "lan"`, before the flags. `--svg` draws
//! the spread of the news and the detections over time, for each
//! configuration run.

// The simulator's restarts, pauses and partitions serve the tests.
#[allow(dead_code)]
#[path = "../tests/sim/mod.rs"]
mod sim;
// Thousands of nodes in one process churn millions of small buffers;
// glibc's allocator spent a quarter of the run searching its free lists.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant as WallClock};

use plotters::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::Sim;
use swimlist::protocol::Instant;
use swimlist::{Config, Event, LeaveReason};

const USAGE: &str = "usage: tune --nodes N [--config lan|wan|local] [--set KEY=VALUE]... \
[--file TOML] [--joins formed|chain|random] [--join-every D] [--delay D] [--jitter D] [--loss P] [--partition D] [--minutes M] [--kill K] [--seed S] \
[--compare PRESET] [--compare-set KEY=VALUE]... [--svg FILE]";

struct Scenario {
    label: String,
    config: Config,
}

struct Network {
    nodes: usize,
    delay: Duration,
    jitter: Duration,
    loss: f64,
    partition: Option<Duration>,
    /// How the cluster comes together before it is measured.
    joins: Joins,
    /// Time between chained joins.
    join_every: Duration,
    minutes: f64,
    kill: usize,
    seed: u64,
}

/// What one run measured.
struct Report {
    label: String,
    /// Seconds after the update until each other node saw it, sorted.
    spread: Vec<f64>,
    /// Seconds from each crash to each survivor's verdict, sorted.
    detection: Vec<f64>,
    undetected: usize,
    /// Seconds from healing a partition until all see all live nodes.
    healed_s: Option<f64>,
    false_deaths: usize,
    suspicions_of_live: usize,
    packets_per_node_s: f64,
    bytes_per_node_s: f64,
    formed_s: f64,
    simulated_s: f64,
    wall: Duration,
    /// Wall time spent forming the cluster (part of `wall`).
    forming_wall: Duration,
}

/// How the cluster forms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Joins {
    /// Every node joins a cluster that is already formed (through one
    /// node that knows all), as after the cluster has run for long.
    Formed,
    /// Every node joins the one before it, one every `join_every`.
    Chain,
    /// Each node joins through a random earlier one, as soon as the join
    /// before it is done.
    Random,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (e.g. 500ms, 2s)");
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    let secs: f64 = s
        .strip_suffix('s')
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

fn preset(name: &str) -> Result<Config, String> {
    match name {
        "lan" => Ok(Config::lan()),
        "wan" => Ok(Config::wan()),
        "local" => Ok(Config::local()),
        _ => Err(format!("unknown preset {name:?}: lan, wan or local")),
    }
}

fn apply(config: &mut Config, setting: &str) -> Result<(), String> {
    let (key, value) = setting.split_once('=').ok_or(USAGE)?;
    let number = || {
        value
            .parse::<usize>()
            .map_err(|_| format!("{key}: not a number"))
    };
    match key {
        "probe_interval" => config.probe_interval = parse_duration(value)?,
        "probe_timeout" => config.probe_timeout = parse_duration(value)?,
        "gossip_interval" => config.gossip_interval = parse_duration(value)?,
        "push_pull_interval" => config.push_pull_interval = Some(parse_duration(value)?),
        "gossip_nodes" => config.gossip_nodes = number()?,
        "indirect_checks" => config.indirect_checks = number()?,
        "retransmit_mult" => config.retransmit_mult = number()?,
        "suspicion_mult" => config.suspicion_mult = number()?,
        "suspicion_max_timeout_mult" => config.suspicion_max_timeout_mult = number()?,
        _ => return Err(format!("unknown key {key:?}")),
    }
    Ok(())
}

/// A TOML file of settings: `preset = "lan"` and the keys of `--set`
/// (durations as strings, counts as integers).
fn read_file(path: &str) -> Result<(Option<String>, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let table: toml::Table = text.parse().map_err(|e| format!("{path}: {e}"))?;
    let mut preset = None;
    let mut settings = Vec::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            other => {
                return Err(format!(
                    "{path}: {key} = {other}: expected a string or a number"
                ))
            }
        };
        if key == "preset" {
            preset = Some(value);
        } else {
            settings.push(format!("{key}={value}"));
        }
    }
    Ok((preset, settings))
}

fn secs_since(at: Instant, from: Instant) -> f64 {
    at.saturating_duration_since(from).as_secs_f64()
}

fn run(scenario: &Scenario, net: &Network) -> Result<Report, String> {
    let began = WallClock::now();
    let n = net.nodes;
    let mut sim = Sim::new(net.seed);
    sim.loss = net.loss;
    // Updates, failures and suspicions are what is measured.
    sim.keep_event = |event| !matches!(event, Event::Join(_) | Event::Alive(_));
    sim.delay = (net.delay.saturating_sub(net.jitter), net.delay + net.jitter);
    sim.add_nodes(n, &scenario.config);
    match net.joins {
        Joins::Formed => {
            // How the cluster came to be is not what this start measures:
            // it forms without loss, which could fail a join.
            sim.loss = 0.0;
            if !sim.form_through_first(Duration::from_secs(60)) {
                return Err(format!("{}: joins through node 0 failed", scenario.label));
            }
            sim.loss = net.loss;
        }
        Joins::Random => {
            // As examples/cluster joins: each node through a random earlier
            // one, as soon as the join before it is done.
            let mut rng = StdRng::seed_from_u64(net.seed);
            for i in 1..n {
                sim.join(i, &[rng.random_range(0..i)]);
                let limit = sim.now + Duration::from_secs(30);
                let step = Duration::from_micros(100);
                sim.run_until_true(limit, step, |sim| sim.joins.len() >= i);
            }
        }
        Joins::Chain => {
            for i in 1..n {
                sim.join(i, &[i - 1]);
                let t = sim.now + net.join_every;
                sim.run_until(t);
                // Large runs take minutes to form: show they are moving.
                if n >= 2000 && (i + 1) % (n / 10) == 0 {
                    eprintln!(
                        "  {} of {n} nodes joined: {:.0} s simulated, {:.0} s wall",
                        i + 1,
                        secs_since(sim.now, Instant::ZERO),
                        began.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
    let limit = sim.now + Duration::from_secs(600);
    let step = Duration::from_millis(10);
    let formed = sim.run_until_true(limit, step, Sim::converged);
    let formed = formed.ok_or(format!("{}: {n} nodes did not converge", scenario.label))?;
    let forming_wall = began.elapsed();
    let t = sim.now + Duration::from_secs(5);
    sim.run_until(t);

    // The news: node 0's metadata.
    let news_at = sim.now;
    let first_event = sim.seen.len();
    sim.act(0, |m, now| {
        let _ = m.update_node(now, b"tuned".to_vec());
    });
    let stats_at = |sim: &Sim| -> (u64, u64) {
        let live = sim.nodes.iter().filter(|n| n.run != sim::Run::Killed);
        live.map(|n| n.m.stats().packets_out)
            .fold((0, 0), |(c, b), t| (c + t.count, b + t.bytes))
    };
    let (packets0, bytes0) = stats_at(&sim);
    let steady_from = sim.now;

    // The crashes, one every 20 s, from the last node down.
    let victims: Vec<usize> = (0..net.kill.min(n / 4)).map(|k| n - 1 - k).collect();
    let mut crashed = Vec::new();
    for &v in &victims {
        let t = sim.now + Duration::from_secs(20);
        sim.run_until(t);
        sim.kill(v);
        crashed.push((v, sim.now));
    }
    // A partition: failures declared across it are expected, not false.
    let mut healed_s = None;
    let mut partition_window = None;
    if let Some(span) = net.partition {
        let split = sim.now;
        sim.partition((0..n).map(|i| usize::from(i >= n / 2)).collect());
        let t = sim.now + span;
        sim.run_until(t);
        sim.heal();
        let healed = sim.now;
        let limit = healed + Duration::from_secs(600);
        let whole = sim.run_until_true(limit, Duration::from_millis(100), Sim::converged);
        healed_s = whole.map(|at| secs_since(at, healed));
        partition_window = Some((split, sim.now));
    }
    let end = steady_from + Duration::from_secs_f64(net.minutes * 60.0);
    let t = end.max(sim.now + Duration::from_secs(120));
    sim.run_until(t);
    let (packets1, bytes1) = stats_at(&sim);
    let span = secs_since(sim.now, steady_from);
    let live_nodes = (n - victims.len()) as f64;

    let mut spread = Vec::new();
    let mut false_deaths = 0;
    let mut suspicions_of_live = 0;
    let node0 = sim::name_of(0);
    for seen in &sim.seen[first_event..] {
        let victim = victims
            .iter()
            .any(|&v| seen.event.node().name == sim::name_of(v));
        match &seen.event {
            Event::Update(node) if node.name == node0 && seen.node != 0 => {
                spread.push(secs_since(seen.at, news_at));
            }
            _ if partition_window.is_some_and(|(from, to)| seen.at >= from && seen.at <= to) => {}
            Event::Leave(_, LeaveReason::Failed) if !victim => false_deaths += 1,
            Event::Suspect(_) if !victim => suspicions_of_live += 1,
            _ => {}
        }
    }
    let mut detection = Vec::new();
    let mut undetected = 0;
    for &(v, at) in &crashed {
        let seen = sim.failure_seen_at(v);
        let survivors = (0..n).filter(|i| !victims.contains(i));
        for s in survivors {
            match seen.get(&s) {
                Some(&when) => detection.push(secs_since(when, at)),
                None => undetected += 1,
            }
        }
    }
    spread.sort_by(f64::total_cmp);
    detection.sort_by(f64::total_cmp);
    Ok(Report {
        label: scenario.label.clone(),
        spread,
        detection,
        undetected,
        healed_s,
        false_deaths,
        suspicions_of_live,
        packets_per_node_s: (packets1 - packets0) as f64 / live_nodes / span,
        bytes_per_node_s: (bytes1 - bytes0) as f64 / live_nodes / span,
        formed_s: secs_since(formed, Instant::ZERO),
        simulated_s: secs_since(sim.now, Instant::ZERO),
        wall: began.elapsed(),
        forming_wall,
    })
}

/// The value below which `fraction` of `sorted` lies (nearest rank).
fn quantile(sorted: &[f64], fraction: f64) -> Option<f64> {
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

fn print(reports: &[Report], net: &Network) {
    let row = |what: &str, f: &dyn Fn(&Report) -> String| {
        let cells: Vec<String> = reports.iter().map(|r| format!("{:>18}", f(r))).collect();
        println!("{what:<34}{}", cells.join("  "));
    };
    let s = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2} s"));
    println!(
        "{} nodes, one-way delay {:?} ± {:?}, loss {:.1}%, seed {}",
        net.nodes,
        net.delay,
        net.jitter,
        net.loss * 100.0,
        net.seed
    );
    row("configuration", &|r| r.label.clone());
    let joins = match net.joins {
        Joins::Formed => "formed (joined a formed cluster)",
        Joins::Chain => "formed (chain of joins)",
        Joins::Random => "formed (random joins)",
    };
    row(joins, &|r| format!("{:.2} s", r.formed_s));
    row("news reaches 50%", &|r| s(quantile(&r.spread, 0.5)));
    row("news reaches 99%", &|r| s(quantile(&r.spread, 0.99)));
    row("news reaches 100%", &|r| {
        let all = r.spread.len() + 1 == net.nodes;
        s(r.spread.last().copied().filter(|_| all))
    });
    row("detection p50", &|r| s(quantile(&r.detection, 0.5)));
    row("detection p99", &|r| s(quantile(&r.detection, 0.99)));
    row("detection max", &|r| s(r.detection.last().copied()));
    row("crashes undetected (per survivor)", &|r| {
        r.undetected.to_string()
    });
    if net.partition.is_some() {
        row("partition healed after", &|r| s(r.healed_s));
    }
    row("false deaths", &|r| r.false_deaths.to_string());
    row("suspicions of live nodes", &|r| {
        r.suspicions_of_live.to_string()
    });
    row("packets per node per s", &|r| {
        format!("{:.1}", r.packets_per_node_s)
    });
    row("bytes per node per s", &|r| {
        format!("{:.0}", r.bytes_per_node_s)
    });
    row("simulated / wall time", &|r| {
        let ratio = r.simulated_s / r.wall.as_secs_f64();
        // Large clusters run slower than real time: keep their digits.
        match ratio < 10.0 {
            true => format!("{ratio:.2}x"),
            false => format!("{ratio:.0}x"),
        }
    });
    row("wall time (forming + rest)", &|r| {
        let rest = r.wall.saturating_sub(r.forming_wall);
        format!(
            "{:.1} + {:.1} s",
            r.forming_wall.as_secs_f64(),
            rest.as_secs_f64()
        )
    });
    row("wall µs per node-second", &|r| {
        let node_seconds = r.simulated_s * net.nodes as f64;
        format!("{:.1}", r.wall.as_secs_f64() * 1e6 / node_seconds)
    });
}

/// Draws the share of nodes that have the news, and of verdicts given,
/// against seconds, for each run.
fn draw(path: &str, reports: &[Report], nodes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(450);
    for (area, title, pick) in [(&left, "news spread", 0), (&right, "crash detection", 1)] {
        let series = |r: &Report| -> Vec<(f64, f64)> {
            let (values, total) = match pick {
                0 => (&r.spread, (nodes - 1) as f64),
                _ => (&r.detection, r.detection.len().max(1) as f64),
            };
            values
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, (i + 1) as f64 / total * 100.0))
                .collect()
        };
        let x_max = reports
            .iter()
            .flat_map(|r| series(r).last().map(|p| p.0))
            .fold(0.1, f64::max);
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..x_max * 1.05, 0.0..100.0)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc("% done")
            .draw()?;
        for (k, r) in reports.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(series(r), colour.stroke_width(2)))?
                .label(r.label.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
        chart.configure_series_labels().border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut net = Network {
        nodes: 0,
        delay: Duration::from_micros(500),
        jitter: Duration::from_micros(300),
        loss: 0.0,
        partition: None,
        joins: Joins::Formed,
        join_every: Duration::from_millis(10),
        minutes: 2.0,
        kill: 3,
        seed: 1,
    };
    let (mut first, mut second) = ("lan".to_owned(), None::<String>);
    let (mut sets, mut compare_sets, mut svg) = (Vec::new(), Vec::new(), None::<String>);
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(USAGE.into());
        };
        match flag.as_str() {
            "--nodes" => net.nodes = value.parse()?,
            "--config" => first = value.clone(),
            "--set" => sets.push(value.clone()),
            "--file" => {
                let (preset, settings) = read_file(value)?;
                first = preset.unwrap_or(first);
                // The file first, so that flags override it.
                sets.splice(0..0, settings);
            }
            "--partition" => net.partition = Some(parse_duration(value)?),
            "--joins" => {
                net.joins = match value.as_str() {
                    "formed" => Joins::Formed,
                    "chain" => Joins::Chain,
                    "random" => Joins::Random,
                    _ => return Err("--joins takes formed, chain or random".into()),
                }
            }
            "--join-every" => net.join_every = parse_duration(value)?,
            "--delay" => net.delay = parse_duration(value)?,
            "--jitter" => net.jitter = parse_duration(value)?,
            "--loss" => net.loss = value.parse()?,
            "--minutes" => net.minutes = value.parse()?,
            "--kill" => net.kill = value.parse()?,
            "--seed" => net.seed = value.parse()?,
            "--compare" => second = Some(value.clone()),
            "--compare-set" => compare_sets.push(value.clone()),
            "--svg" => svg = Some(value.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    if net.nodes < 2 {
        return Err(format!("--nodes must be at least 2\n{USAGE}").into());
    }
    let mut scenarios = Vec::new();
    for (name, settings) in std::iter::once((first, sets)).chain(second.map(|s| (s, compare_sets)))
    {
        let mut config = preset(&name)?;
        for setting in &settings {
            apply(&mut config, setting)?;
        }
        config.validate()?;
        let label = std::iter::once(name)
            .chain(settings)
            .collect::<Vec<_>>()
            .join(" ");
        scenarios.push(Scenario { label, config });
    }
    let mut reports = Vec::new();
    for scenario in &scenarios {
        eprintln!("running {} ...", scenario.label);
        reports.push(run(scenario, &net)?);
    }
    print(&reports, &net);
    if let Some(path) = svg {
        draw(&path, &reports, net.nodes)?;
        println!("chart: {path}");
    }
    Ok(())
}
