//! Starts a whole cluster in one process, crashes some of its nodes and
//! measures how fast — and how cleanly — the survivors notice.
//!
//! ```text
//! cargo run --release --example cluster -- [--nodes N] [--kill K]
//!     [--config local|lan|wan] [--timeout SECS] [--seed S] [--workers W]
//!     [--idle SECS]
//! ```
//!
//! * `--nodes N` — cluster size (default 20, at least 2).
//! * `--kill K` — how many nodes to crash once the cluster has converged
//!   (default 2; at least 1, fewer than N).
//! * `--config` — the timings: `local` (Go's `DefaultLocalConfig`, the
//!   default: fast), `lan` or `wan`.
//! * `--timeout SECS` — how long to wait for convergence, and then for the
//!   detections, before giving up (default: 60 s, or more when the chosen
//!   timings need it: the longest suspicion timeout plus ten probe
//!   intervals and ten seconds).
//! * `--idle SECS` — after the detections, and once the dead are no longer
//!   gossiped to (`gossip_to_the_dead_time`), leave the survivors alone
//!   this long and report the cores they used meanwhile (`idle_cpu_cores`
//!   in the JSON line; Linux only).
//! * `--workers W` — protocol worker threads of the shared runtime
//!   (default: one per core, as `Runtime::new`).
//! * `--seed S` — seeds the choice of join targets and victims (default:
//!   random, printed), to repeat a run's choices (not its timing).
//!
//! What it does:
//!
//! 1. Starts N nodes on 127.0.0.1, each on ports the OS picks
//!    (`bind_port = 0`), all on **one** shared [`Runtime`]: the whole
//!    cluster runs on that runtime's threads (an I/O thread and a protocol
//!    worker per core).
//! 2. Joins them: node *i* joins a random earlier node (0 ≤ *j* < *i*), so
//!    membership has to spread by gossip, not through one hub. It then
//!    waits until every node's event stream has announced all N members;
//!    `converged_ms` is measured from the first join: about half a second
//!    for 20 nodes, a few seconds for 200 (gossip, then catch-up syncs for
//!    the news it missed; see `protocol/catch_up.rs`).
//! 3. Crashes K random nodes: [`Memberlist::shutdown`] without
//!    [`Memberlist::leave`], so nobody is told.
//! 4. Watches every survivor's event stream and records when it declares
//!    each crashed node failed (`Event::Leave(node, LeaveReason::Failed)`),
//!    measured from that node's crash. A survivor declared failed by
//!    anyone (at any time) is a *false death*.
//!
//! All waiting is on the nodes' event channels (one
//! [`crossbeam_channel::Select`] over them), with a deadline; nothing
//! sleeps. Progress goes to stdout as it happens; a table, a legend of the
//! terms used and one JSON line end the output:
//!
//! ```text
//! {"nodes":20,"converged_ms":3078,"detect_ms_p50":5253,"detect_ms_max":5827,"false_deaths":0}
//! ```
//!
//! `detect_ms_p50` (nearest rank) and `detect_ms_max` are over every
//! (survivor, crashed node) detection delay. When the deadline passes
//! before every survivor has declared every crashed node failed, the line
//! also carries `"undetected":M` (the pairs that were not).
//!
//! Exit status: 0 when every survivor declared every crashed node failed
//! and no survivor was declared failed; 1 otherwise (or when nodes cannot
//! start, join or converge); 2 for bad arguments.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use swimlist::{Config, Event, LeaveReason, Memberlist, Runtime};

const USAGE: &str =
    "usage: cluster [--nodes N] [--kill K] [--config local|lan|wan] [--timeout SECS] [--seed S] [--workers W] [--idle SECS]
  --nodes N        nodes to start on 127.0.0.1, on one shared runtime (default 20, >= 2)
  --kill K         nodes to crash once converged (default 2, 1 <= K < N)
  --config NAME    timings: local (default), lan or wan
  --timeout SECS   deadline for convergence, then for detection
                   (default: 60, or longer if the timings need it)
  --seed S         seed for join targets and victims (default: random)
  --workers W      protocol worker threads (default: one per core)
  --idle SECS      then measure the idle cluster's CPU use this long
  --help           print this help";

/// How often to report progress while the cluster converges.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Printed before the JSON line: the output's terms, in plain words.
const LEGEND: &str = "\
what the output means:
  sighting          one node knowing of one member; converged means every
                    node knows every member (nodes x nodes sightings)
  suspected         the node stopped answering probes; survivors wait a
                    while for a sign of life before declaring it failed
  first/median/last ms
                    time from the crash until the first, the median and the
                    last survivor declared the node failed
  seen by           survivors that declared it failed, of all survivors
  suspicions        times a survivor began to suspect a node, crashed or not
  of running nodes  false alarms: nodes suspected while they were up (slow
                    answers, lost packets); the suspected node refutes them
  refutes           times a survivor heard it was suspected and announced
                    that it is alive
  dropped events    events this program did not read in time (queue full)
  dropped incoming  packets a node was too busy to take in
  send errors       datagrams the operating system refused to send
  JSON line         the results for scripts: times in ms, p50 = median,
                    false_deaths = running nodes declared failed (want 0)";

/// The command line.
struct Options {
    nodes: usize,
    kill: usize,
    config: ConfigName,
    timeout: Option<Duration>,
    seed: Option<u64>,
    workers: Option<usize>,
    idle: Option<Duration>,
}

#[derive(Clone, Copy)]
enum ConfigName {
    Local,
    Lan,
    Wan,
}

impl ConfigName {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Self::Local),
            "lan" => Some(Self::Lan),
            "wan" => Some(Self::Wan),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Lan => "lan",
            Self::Wan => "wan",
        }
    }

    fn config(self) -> Config {
        match self {
            Self::Local => Config::local(),
            Self::Lan => Config::lan(),
            Self::Wan => Config::wan(),
        }
    }
}

enum Command {
    Help,
    Run(Options),
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut options = Options {
        nodes: 20,
        kill: 2,
        config: ConfigName::Local,
        timeout: None,
        seed: None,
        workers: None,
        idle: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--nodes" => options.nodes = number(&flag, &value()?)?,
            "--kill" => options.kill = number(&flag, &value()?)?,
            "--config" => {
                let v = value()?;
                options.config = ConfigName::parse(&v)
                    .ok_or_else(|| format!("--config must be local, lan or wan, not {v:?}"))?;
            }
            "--timeout" => {
                let secs: f64 = value()?
                    .parse()
                    .map_err(|_| "--timeout needs a number of seconds".to_owned())?;
                if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
                    return Err("--timeout must be between 0 and 86400 seconds".into());
                }
                options.timeout = Some(Duration::from_secs_f64(secs));
            }
            "--seed" => options.seed = Some(number(&flag, &value()?)?),
            "--idle" => options.idle = Some(Duration::from_secs(number(&flag, &value()?)?)),
            "--workers" => {
                let w: usize = number(&flag, &value()?)?;
                if w == 0 {
                    return Err("--workers must be at least 1".to_owned());
                }
                options.workers = Some(w);
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if options.nodes < 2 {
        return Err("--nodes must be at least 2".into());
    }
    if options.kill == 0 || options.kill >= options.nodes {
        return Err(format!(
            "--kill must be at least 1 and less than --nodes ({})",
            options.nodes
        ));
    }
    Ok(Command::Run(options))
}

fn number<T: std::str::FromStr>(flag: &str, s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag} needs a non-negative integer, not {s:?}"))
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => match run(&options) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("cluster: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("cluster: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The default deadline: 60 s, or enough for the slowest detection the
/// timings allow (Lifeguard's longest suspicion timeout, plus ten probe
/// intervals to get suspected at all, plus ten seconds).
fn default_timeout(config: &Config, nodes: usize) -> Duration {
    let scale = (nodes.max(1) as f64).log10().max(1.0);
    let min_suspicion = config
        .probe_interval
        .mul_f64(config.suspicion_mult as f64 * scale);
    let max_suspicion = min_suspicion * config.suspicion_max_timeout_mult as u32;
    let slowest = max_suspicion + config.probe_interval * 10 + Duration::from_secs(10);
    slowest.max(Duration::from_secs(60))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// One node of the demo and what its event stream has told it.
struct Member {
    name: String,
    list: Memberlist,
    events: Receiver<Event>,
    /// Live members according to the events (Join adds, Leave removes),
    /// by index: a set of names per member would be the biggest thing in
    /// a large demo's memory.
    view: View,
    alive: bool,
}

/// Which members one member knows as live, and how many.
struct View {
    live: Vec<bool>,
    count: usize,
}

impl View {
    fn new(n: usize) -> Self {
        View {
            live: vec![false; n],
            count: 0,
        }
    }

    fn len(&self) -> usize {
        self.count
    }

    fn insert(&mut self, member: Option<usize>) {
        if let Some(slot) = member.and_then(|i| self.live.get_mut(i)).filter(|s| !**s) {
            *slot = true;
            self.count += 1;
        }
    }

    fn remove(&mut self, member: Option<usize>) {
        if let Some(slot) = member.and_then(|i| self.live.get_mut(i)).filter(|s| **s) {
            *slot = false;
            self.count -= 1;
        }
    }
}

/// Everything the watch records.
#[derive(Default)]
struct Record {
    /// Failures of nodes that were running when declared: (observer,
    /// victim, when).
    false_deaths: Vec<(usize, usize, Duration)>,
    /// Suspicions of running nodes (refuted by Lifeguard, but worth seeing).
    false_suspicions: u64,
}

/// Waits for the next event of any node in `watched` until `deadline`:
/// `None` once the deadline has passed.
fn next_event(members: &[Member], watched: &[usize], deadline: Instant) -> Option<(usize, Event)> {
    let mut select = Select::new();
    for &i in watched {
        select.recv(&members[i].events);
    }
    loop {
        let oper = select.select_deadline(deadline).ok()?;
        let index = oper.index();
        let i = watched[index];
        match oper.recv(&members[i].events) {
            Ok(event) => return Some((i, event)),
            // A stream that ended has nothing more to say.
            Err(_) => select.remove(index),
        }
    }
}

/// Applies an event to the observer's view, and records any node declared
/// failed while it is in fact running.
fn apply(
    members: &mut [Member],
    index: &HashMap<String, usize>,
    observer: usize,
    event: &Event,
    record: &mut Record,
    start: Instant,
) {
    let name = event.node().name.clone();
    let subject = index.get(&name).copied();
    match event {
        Event::Join(_) => {
            members[observer].view.insert(subject);
        }
        Event::Leave(_, reason) => {
            members[observer].view.remove(subject);
            if let Some(s) = subject.filter(|&s| members[s].alive) {
                let at = start.elapsed();
                if *reason == LeaveReason::Failed {
                    record.false_deaths.push((observer, s, at));
                }
                println!(
                    "  !! {} declared {} {} while it is running (at {})",
                    members[observer].name,
                    members[s].name,
                    reason,
                    secs(at)
                );
            }
        }
        Event::Suspect(_) if subject.is_some_and(|s| members[s].alive) => {
            record.false_suspicions += 1;
        }
        _ => {}
    }
}

fn run(options: &Options) -> Result<bool, String> {
    let n = options.nodes;
    let base = options.config.config();
    let timeout = options.timeout.unwrap_or_else(|| default_timeout(&base, n));
    let seed = options
        .seed
        .unwrap_or_else(|| StdRng::from_os_rng().random());
    let mut rng = StdRng::seed_from_u64(seed);

    // ---- start ----
    let runtime = match options.workers {
        Some(w) => Runtime::with_workers(w),
        None => Runtime::new(),
    }
    .map_err(|e| format!("starting the runtime: {e}"))?;
    let width = (n - 1).to_string().len().max(2);
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("node-{i:0width$}");
        let config = base
            .clone()
            .with_name(name.clone())
            .with_bind_addr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .with_bind_port(0);
        let list = Memberlist::builder(config)
            .runtime(&runtime)
            .event_capacity(4096.max(4 * n))
            .build()
            .map_err(|e| format!("starting {name}: {e}"))?;
        let events = list.events();
        members.push(Member {
            name,
            list,
            events,
            view: View::new(n),
            alive: true,
        });
    }
    let index: HashMap<String, usize> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.clone(), i))
        .collect();
    println!(
        "started {n} nodes on 127.0.0.1, ports chosen by the OS ({} on :{}, ..., {} on :{}), {} timings, seed {seed}",
        members[0].name,
        members[0].list.local_addr().port(),
        members[n - 1].name,
        members[n - 1].list.local_addr().port(),
        options.config.name(),
    );
    println!(
        "all {n} nodes share one runtime: {} threads (process: {})",
        runtime.thread_count(),
        process_threads().map_or_else(|| "unknown".to_owned(), |t| t.to_string())
    );

    // ---- join and converge ----
    let mut record = Record::default();
    let start = Instant::now();
    for i in 1..n {
        let target = rng.random_range(0..i);
        let addr = members[target].list.local_addr().to_string();
        members[i]
            .list
            .join(&[addr.as_str()])
            .map_err(|e| format!("{} joining {}: {e}", members[i].name, members[target].name))?;
    }
    let joined = start.elapsed();
    println!(
        "joined in {}: each node joined one random earlier node",
        secs(joined)
    );
    let all: Vec<usize> = (0..n).collect();
    let deadline = start + timeout;
    let mut complete = members.iter().filter(|m| m.view.len() == n).count();
    let mut next_report = start + REPORT_EVERY;
    while complete < n {
        let Some((observer, event)) = next_event(&members, &all, deadline.min(next_report)) else {
            if Instant::now() < deadline {
                let missing: usize = members.iter().map(|m| n - m.view.len().min(n)).sum();
                println!(
                    "  {}: {complete}/{n} nodes see all {n} members ({missing} sightings missing)",
                    secs(start.elapsed())
                );
                next_report += REPORT_EVERY;
                continue;
            }
            let mut msg = format!(
                "no convergence after {}: {complete} of {n} nodes see all {n} members",
                secs(timeout)
            );
            for m in members.iter().filter(|m| m.view.len() < n) {
                let live = m.list.num_members().map_err(|e| e.to_string())?;
                let _ = write!(
                    msg,
                    "\n  {} sees {} (members(): {live})",
                    m.name,
                    m.view.len()
                );
            }
            return Err(msg);
        };
        let before = members[observer].view.len() == n;
        apply(&mut members, &index, observer, &event, &mut record, start);
        let after = members[observer].view.len() == n;
        complete = complete + usize::from(after) - usize::from(before);
    }
    let converged = start.elapsed();
    println!(
        "converged in {}: every node sees all {n} members",
        secs(converged)
    );
    // The event streams and the membership tables must agree.
    for m in &members {
        let live = m.list.num_members().map_err(|e| e.to_string())?;
        if live != n {
            return Err(format!(
                "{}'s events announced {n} members, but members() has {live}",
                m.name
            ));
        }
    }

    // ---- crash ----
    let victims: Vec<usize> = {
        let mut v = sample(&mut rng, n, options.kill).into_vec();
        v.sort_unstable();
        v
    };
    let mut killed_at = vec![None; n];
    for &v in &victims {
        killed_at[v] = Some(Instant::now());
        members[v].list.shutdown();
        members[v].alive = false;
    }
    let survivors: Vec<usize> = (0..n).filter(|&i| members[i].alive).collect();
    println!(
        "killed {} (shutdown without leave); watching {} survivor(s)",
        victims
            .iter()
            .map(|&v| members[v].name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        survivors.len()
    );

    // ---- watch ----
    // detected[victim][survivor]: the delay from the crash.
    let mut detected: Vec<Vec<Option<Duration>>> = vec![vec![None; n]; n];
    let mut first_suspect = vec![false; n];
    let mut pending = victims.len() * survivors.len();
    let kill_start = Instant::now();
    let deadline = kill_start + timeout;
    while pending > 0 {
        let Some((observer, event)) = next_event(&members, &survivors, deadline) else {
            break;
        };
        let victim = index
            .get(&event.node().name)
            .copied()
            .filter(|&v| killed_at[v].is_some());
        match (victim, &event) {
            (Some(v), Event::Leave(_, LeaveReason::Failed)) => {
                members[observer].view.remove(Some(v));
                if detected[v][observer].is_some() {
                    continue;
                }
                let delay = killed_at[v].map_or(Duration::ZERO, |t| t.elapsed());
                detected[v][observer] = Some(delay);
                pending -= 1;
                let count = detected[v].iter().flatten().count();
                if count == 1 || count == survivors.len() {
                    println!(
                        "  {} saw {} fail after {} ({}/{} survivors{})",
                        members[observer].name,
                        members[v].name,
                        secs(delay),
                        count,
                        survivors.len(),
                        match (count == 1, count == survivors.len()) {
                            (true, true) => ", the only one",
                            (true, false) => ", first",
                            _ => ", last",
                        }
                    );
                }
            }
            (Some(v), Event::Suspect(_)) => {
                if !first_suspect[v] {
                    first_suspect[v] = true;
                    let delay = killed_at[v].map_or(Duration::ZERO, |t| t.elapsed());
                    println!(
                        "  {} suspected {} after {}",
                        members[observer].name,
                        members[v].name,
                        secs(delay)
                    );
                }
            }
            (Some(v), Event::Leave(_, LeaveReason::Left)) => {
                members[observer].view.remove(Some(v));
                println!(
                    "  !! {} says {} left gracefully, but it crashed",
                    members[observer].name, members[v].name
                );
            }
            (Some(_), _) => {}
            (None, _) => apply(&mut members, &index, observer, &event, &mut record, start),
        }
    }
    let watched = kill_start.elapsed();

    // ---- report ----
    println!();
    println!(
        "{:<name$}  {:>9}  {:>9}  {:>9}  {:>9}",
        "killed",
        "first ms",
        "median ms",
        "last ms",
        "seen by",
        name = width + 5
    );
    let mut all_delays = Vec::new();
    for &v in &victims {
        let mut delays: Vec<Duration> = detected[v].iter().flatten().copied().collect();
        delays.sort_unstable();
        let cell = |d: Option<&Duration>| d.map_or_else(|| "-".to_owned(), |d| ms(*d).to_string());
        println!(
            "{:<name$}  {:>9}  {:>9}  {:>9}  {:>9}",
            members[v].name,
            cell(delays.first()),
            cell(nearest_rank(&delays, 50)),
            cell(delays.last()),
            format!("{}/{}", delays.len(), survivors.len()),
            name = width + 5
        );
        all_delays.extend(delays);
    }
    all_delays.sort_unstable();

    let mut stats = (0, 0, 0, 0, 0);
    for &s in &survivors {
        let st = members[s].list.stats().map_err(|e| e.to_string())?;
        stats.0 += st.protocol.suspicions;
        stats.1 += st.protocol.refutes;
        stats.2 += st.events_dropped;
        stats.3 += st.incoming_dropped;
        stats.4 += st.send_errors;
    }
    println!();
    println!(
        "survivors: {} suspicions in all, {} of running nodes, {} refutes; dropped: {} events, {} incoming; {} send errors",
        stats.0, record.false_suspicions, stats.1, stats.2, stats.3, stats.4
    );
    let false_deaths = record.false_deaths.len();
    if pending > 0 {
        println!(
            "gave up after {}: {pending} detections missing",
            secs(watched)
        );
        for &v in &victims {
            let missing: Vec<&str> = survivors
                .iter()
                .filter(|&&s| detected[v][s].is_none())
                .map(|&s| members[s].name.as_str())
                .collect();
            if !missing.is_empty() {
                println!(
                    "  {} not declared failed by: {}",
                    members[v].name,
                    missing.join(", ")
                );
            }
        }
    }

    // The idle cluster's appetite: process CPU over a quiet window, once
    // the dead are no longer gossiped to.
    let idle_cores = match options.idle {
        Some(window) => {
            std::thread::sleep(base.gossip_to_the_dead_time);
            let before = process_cpu();
            std::thread::sleep(window);
            before
                .zip(process_cpu())
                .map(|(a, b)| b.saturating_sub(a).as_secs_f64() / window.as_secs_f64())
        }
        None => None,
    };
    if let Some(cores) = idle_cores {
        println!(
            "idle for {}: {cores:.3} cores",
            secs(options.idle.unwrap_or_default())
        );
    }

    println!();
    println!("{LEGEND}");

    // Stop everything before the final line: a clean shutdown is part of
    // the demo.
    for &s in &survivors {
        members[s].list.shutdown();
    }
    runtime.shutdown();

    let num = |d: Option<&Duration>| d.map_or_else(|| "null".to_owned(), |d| ms(*d).to_string());
    let mut json = format!(
        "{{\"nodes\":{n},\"converged_ms\":{},\"detect_ms_p50\":{},\"detect_ms_max\":{},\"false_deaths\":{false_deaths}",
        ms(converged),
        num(nearest_rank(&all_delays, 50)),
        num(all_delays.last()),
    );
    if pending > 0 {
        let _ = write!(json, ",\"undetected\":{pending}");
    }
    if let Some(cores) = idle_cores {
        let _ = write!(json, ",\"idle_cpu_cores\":{cores:.3}");
    }
    json.push('}');
    debug_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    println!("{json}");
    Ok(pending == 0 && false_deaths == 0)
}

/// The `p`th percentile of sorted values, by nearest rank.
fn nearest_rank<T>(sorted: &[T], p: usize) -> Option<&T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1)
}

/// CPU time this process has used, where the OS tells (Linux: user and
/// system time in /proc/self/stat, in clock ticks of 1/100 s, the value
/// Linux reports to user space on every architecture it runs on).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) in brackets.
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13
    // after the name and state.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Threads of this process, where the OS tells (Linux).
fn process_threads() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(|dir| dir.count())
}
