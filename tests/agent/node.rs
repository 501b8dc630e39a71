//! A one-node agent driven over stdin/stdout: start a node, optionally join
//! a cluster, print every event as one line of JSON and obey commands read
//! one per line. The same contract is implemented by an equivalent Go
//! program, so an interop test can drive either.
//!
//! ```text
//! node [--name N] [--bind IP] [--port P] [--join H:P,H:P,...]
//!      [--config lan|local|wan] [--key B64] [--keys B64,B64,...]
//!      [--label L] [--compression none|lzw|lz4] [--meta S] [--state S]
//! ```
//!
//! ```text
//! $ cargo run --example node -- --name a --port 7946 --config local
//! {"ev":"ready","name":"a","addr":"127.0.0.1","port":7946}
//! {"ev":"join","name":"a","addr":"127.0.0.1","port":7946,"meta":"","t_ms":1.2}
//! ```
//!
//! Output, one JSON object per line (`t_ms` is milliseconds since the
//! process started):
//!
//! * `{"ev":"ready","name","addr","port"}` once the node runs (the bound
//!   address and the actual port);
//! * `{"ev":"joined","n"}` after `--join`, or `{"ev":"joined","n":0,"err"}`;
//! * `{"ev":"join"|"leave"|"update"|"suspect"|"alive","name","addr","port","meta","t_ms"}`
//!   for membership events (`leave` adds `"reason":"failed"|"left"`);
//! * `{"ev":"msg","data"}` for each user message received;
//! * `{"ev":"merge","join","data"}` for remote state received by push/pull.
//!
//! Commands: `members`, `join H:P,H:P` (answered by a `joined` line),
//! `broadcast TEXT`, `send NAME TEXT` (reliable), `sendbe NAME TEXT` (best
//! effort), `meta TEXT`, `leave`, `stats` and `shutdown` (also on end of
//! input). A failing command prints
//! `{"ev":"error","cmd","arg","err"}` (`arg`: the rest of its line).
//!
//! Logs go to stderr at the level named by `SWIMLIST_LOG`
//! (`error`, `warn` — the default —, `info`, `debug`, `trace` or `off`).
//! Bad arguments print the usage to stderr and exit with status 2.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use crossbeam_channel::{select, Receiver, Sender};
use serde_json::{json, Map, Value};
use swimlist::protocol::Traffic;
use swimlist::wire::Keyring;
use swimlist::{CompressionMode, Config, Delegate, Event, Memberlist, Node, NodeStats};

const USAGE: &str = "usage: node [--name N] [--bind IP] [--port P] [--join H:P,H:P,...]
            [--config lan|local|wan] [--key B64] [--keys B64,B64,...] [--label L]
            [--skip-inbound-label-check] [--compression none|lzw|lz4] [--meta S] [--state S] [--protocol V]
            [--transport memberlist|dskit] [--tls-ca PEM --tls-cert PEM --tls-key PEM]
            [--state-size N]
  --name N         node name (default: the host name)
  --bind IP        address to bind (default 127.0.0.1)
  --port P         port to bind, 0 for any (default 0)
  --join LIST      comma-separated members to join
  --config PRESET  lan, local or wan timings (default lan)
  --key B64        primary encryption key (base64 of 16, 24 or 32 bytes)
  --keys LIST      further keys, comma-separated (the first is primary without --key)
  --label L        cluster label
  --skip-inbound-label-check
                   accept unlabelled traffic as if it carried the label
  --compression C  none, lzw or lz4 (default lz4: LZ4 to swimlist peers, LZW to Go)
  --meta S         node metadata (at most 512 bytes)
  --state S        user state sent in push/pull exchanges
  --state-size N   instead, N bytes of state (the digits 0-9 repeated), for limits
  --protocol V     protocol version spoken, 1-5 (default 2; 1 = encryption v0)
  --transport T    memberlist (UDP and TCP, the default) or dskit (Grafana
                   dskit's TCP-only transport)
  --tls-ca PEM, --tls-cert PEM, --tls-key PEM
                   dskit's transport over TLS (built with the tls feature)
commands on stdin: members | join H:P,H:P | broadcast TEXT | send NAME TEXT | sendbe NAME TEXT
                   | meta TEXT | addkey B64 | usekey B64 | removekey B64
                   | leave | stats | shutdown
log level: SWIMLIST_LOG=error|warn|info|debug (default warn)";

/// Most metadata bytes a node may advertise (as Go's `MetaMaxSize`).
const META_MAX: usize = 512;

/// How long `leave` and `meta` wait for their broadcast to go out.
const BROADCAST_WAIT: Duration = Duration::from_secs(5);

static START: OnceLock<Instant> = OnceLock::new();

/// Milliseconds since the process started.
fn elapsed_ms() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// Prints one JSON object as one line and flushes it, holding stdout's lock
/// so concurrent lines never interleave. A closed stdout is ignored.
fn emit(value: &Value) {
    let line = value.to_string();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// ---- logging ---------------------------------------------------------------

/// A minimal `log` backend: one line per record on stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "{:>10.3} {:<5} {}: {}",
                elapsed_ms(),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

static LOGGER: StderrLogger = StderrLogger;

fn init_logging() {
    let level = match std::env::var("SWIMLIST_LOG") {
        Ok(v) if !v.trim().is_empty() => match log::LevelFilter::from_str(v.trim()) {
            Ok(level) => level,
            Err(_) => {
                eprintln!("node: SWIMLIST_LOG={v:?} is not a log level; using warn");
                log::LevelFilter::Warn
            }
        },
        _ => log::LevelFilter::Warn,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

// ---- command line ----------------------------------------------------------

/// What the command line asks for.
struct Options {
    config: Config,
    join: Vec<String>,
    meta: Vec<u8>,
    state: Vec<u8>,
    /// Grafana dskit's TCP-only transport instead of memberlist's.
    dskit: bool,
    /// TLS on dskit's transport.
    tls: Option<Tls>,
}

#[cfg(feature = "tls")]
type Tls = swimlist::DskitTls;
#[cfg(not(feature = "tls"))]
type Tls = std::convert::Infallible;

#[cfg(feature = "tls")]
fn load_tls(ca: &str, cert: &str, key: &str) -> Result<Tls, String> {
    swimlist::DskitTls::from_pem_files(ca, cert, key).map_err(|e| format!("--tls-*: {e}"))
}

#[cfg(not(feature = "tls"))]
fn load_tls(_ca: &str, _cert: &str, _key: &str) -> Result<Tls, String> {
    Err("--tls-*: this agent is built without the tls feature".into())
}

/// Parses the arguments; `Ok(None)` asks for the usage text.
fn parse_args(args: Vec<String>) -> Result<Option<Options>, String> {
    let mut name = None;
    let mut bind: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut port: u16 = 0;
    let mut join = Vec::new();
    let mut preset = "lan".to_owned();
    let mut key: Option<Vec<u8>> = None;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut label = String::new();
    let mut skip_inbound_label_check = false;
    let mut compression = None;
    let mut protocol: Option<u8> = None;
    let mut meta = Vec::new();
    let mut state = Vec::new();
    let mut dskit = false;
    let mut tls_files: [Option<String>; 3] = [None, None, None];

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        if arg == "--skip-inbound-label-check" {
            skip_inbound_label_check = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if !flag.starts_with('-') {
            return Err(format!("unexpected argument {arg:?}"));
        }
        let known = [
            "--name",
            "--bind",
            "--port",
            "--join",
            "--config",
            "--key",
            "--keys",
            "--label",
            "--compression",
            "--meta",
            "--state",
            "--protocol",
            "--transport",
            "--state-size",
            "--tls-ca",
            "--tls-cert",
            "--tls-key",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown flag {flag:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        match flag.as_str() {
            "--name" => name = Some(value),
            "--bind" => {
                bind = value
                    .parse()
                    .map_err(|_| format!("--bind: {value:?} is not an IP address"))?;
            }
            "--port" => {
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number"))?;
            }
            "--join" => {
                join = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--config" => match value.as_str() {
                "lan" | "local" | "wan" => preset = value,
                _ => return Err(format!("--config: {value:?} is not lan, local or wan")),
            },
            "--key" => key = Some(decode_key("--key", &value)?),
            "--keys" => {
                keys = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| decode_key("--keys", s))
                    .collect::<Result<_, _>>()?;
            }
            "--label" => label = value,
            "--compression" => {
                compression = Some(
                    CompressionMode::from_str(&value).map_err(|e| format!("--compression: {e}"))?,
                );
            }
            "--meta" => {
                if value.len() > META_MAX {
                    return Err(format!("--meta: {} bytes, at most {META_MAX}", value.len()));
                }
                meta = value.into_bytes();
            }
            "--state" => state = value.into_bytes(),
            "--state-size" => {
                let size: usize = value
                    .parse()
                    .map_err(|_| format!("--state-size: {value:?} is not a size"))?;
                state = b"0123456789".iter().copied().cycle().take(size).collect();
            }
            "--protocol" => {
                protocol = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--protocol: {value:?} is not a version"))?,
                );
            }
            "--transport" => match value.as_str() {
                "memberlist" => dskit = false,
                "dskit" => dskit = true,
                _ => return Err(format!("--transport: {value:?} is not memberlist or dskit")),
            },
            "--tls-ca" => tls_files[0] = Some(value),
            "--tls-cert" => tls_files[1] = Some(value),
            "--tls-key" => tls_files[2] = Some(value),
            _ => unreachable!("flag checked against the known list"),
        }
    }

    let mut config = match preset.as_str() {
        "local" => Config::local(),
        "wan" => Config::wan(),
        _ => Config::lan(),
    };
    if let Some(name) = name {
        config = config.with_name(name);
    }
    config = config
        .with_bind_addr(bind)
        .with_bind_port(port)
        .with_label(label);
    config.skip_inbound_label_check = skip_inbound_label_check;
    if let Some(mode) = compression {
        config = config.with_compression(mode);
    }
    if let Some(version) = protocol {
        config.protocol_version = version;
    }
    // The primary key first: --key, else the first of --keys.
    let mut all_keys: Vec<Vec<u8>> = key.into_iter().collect();
    all_keys.extend(keys);
    if let Some((primary, rest)) = all_keys.split_first() {
        let rest: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
        config.keyring = Keyring::new(&rest, Some(primary)).map_err(|e| format!("keys: {e}"))?;
    }
    config.validate().map_err(|e| e.to_string())?;
    let tls = match tls_files {
        [None, None, None] => None,
        [Some(ca), Some(cert), Some(key)] => Some(load_tls(&ca, &cert, &key)?),
        _ => return Err("--tls-ca, --tls-cert and --tls-key go together".into()),
    };
    Ok(Some(Options {
        config,
        join,
        meta,
        state,
        dskit,
        tls,
    }))
}

// ---- delegate --------------------------------------------------------------

/// What the printer thread prints besides membership events.
enum Out {
    /// A line to print.
    Line(Value),
    /// Print what is pending, then stop.
    Stop,
}

/// The application side: metadata, push/pull state, and received messages
/// and state handed to the printer thread (never printed from the
/// protocol thread, which must not block on stdout).
struct Agent {
    meta: Mutex<Vec<u8>>,
    state: Vec<u8>,
    out: Sender<Out>,
}

impl Delegate for Agent {
    fn node_meta(&self, limit: usize) -> Vec<u8> {
        let meta = self.meta.lock().unwrap_or_else(PoisonError::into_inner);
        meta[..meta.len().min(limit)].to_vec()
    }

    fn notify_msg(&self, msg: &[u8]) {
        let line = json!({"ev": "msg", "data": String::from_utf8_lossy(msg)});
        self.say(line);
    }

    fn local_state(&self, _join: bool) -> Vec<u8> {
        self.state.clone()
    }

    fn merge_remote_state(&self, state: &[u8], join: bool) {
        let line = json!({
            "ev": "merge",
            "join": join,
            "data": String::from_utf8_lossy(state),
        });
        self.say(line);
    }
}

impl Agent {
    /// Hands a line to the printer thread.
    fn say(&self, line: Value) {
        let _ = self.out.send(Out::Line(line));
    }
}

// ---- output ----------------------------------------------------------------

/// The fields every node description carries.
fn node_fields(node: &Node) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), node.name.clone().into());
    m.insert("addr".into(), node.addr.to_string().into());
    m.insert("port".into(), node.port.into());
    m.insert(
        "meta".into(),
        String::from_utf8_lossy(&node.meta).into_owned().into(),
    );
    m
}

fn event_json(event: &Event) -> Value {
    let mut m = node_fields(event.node());
    m.insert("ev".into(), event.kind().into());
    if let Event::Leave(_, reason) = event {
        m.insert("reason".into(), reason.to_string().into());
    }
    m.insert("t_ms".into(), json!(elapsed_ms()));
    Value::Object(m)
}

fn members_json(members: &[Node]) -> Value {
    let list: Vec<Value> = members
        .iter()
        .map(|n| {
            let mut m = node_fields(n);
            m.insert("state".into(), n.state.name().into());
            Value::Object(m)
        })
        .collect();
    json!({"ev": "members", "members": list})
}

fn stats_json(stats: &NodeStats) -> Value {
    fn traffic(t: &Traffic) -> Value {
        json!({"count": t.count, "bytes": t.bytes})
    }
    fn by_type(m: &BTreeMap<&'static str, Traffic>) -> Value {
        Value::Object(
            m.iter()
                .map(|(k, v)| ((*k).to_owned(), traffic(v)))
                .collect(),
        )
    }
    let p = &stats.protocol;
    json!({
        "ev": "stats",
        "packets_in": traffic(&p.packets_in),
        "packets_out": traffic(&p.packets_out),
        "messages_in": by_type(&p.messages_in),
        "messages_out": by_type(&p.messages_out),
        "streams_in": p.streams_in,
        "streams_out": p.streams_out,
        "probes": p.probes,
        "failed_probes": p.failed_probes,
        "suspicions": p.suspicions,
        "refutes": p.refutes,
        "dropped": p.dropped,
        "layers_in": p.layers_in,
        "events_dropped": stats.events_dropped,
        "incoming_dropped": stats.incoming_dropped,
        "send_errors": stats.send_errors,
    })
}

/// Prints membership events and every other line until told to stop, then
/// prints whatever is still pending.
///
/// Before any other line it prints the events already queued, so output
/// follows cause and effect as Go's synchronous callbacks do: the events a
/// join produced come before `joined`, a node's own leave before `left`.
fn printer(mut events: Receiver<Event>, out: &Receiver<Out>) {
    let drain = |events: &Receiver<Event>| {
        for ev in events.try_iter() {
            emit(&event_json(&ev));
        }
    };
    loop {
        select! {
            recv(events) -> ev => match ev {
                Ok(ev) => emit(&event_json(&ev)),
                Err(_) => events = crossbeam_channel::never(),
            },
            recv(out) -> line => match line {
                Ok(Out::Line(v)) => {
                    drain(&events);
                    emit(&v);
                }
                Ok(Out::Stop) | Err(_) => break,
            },
        }
    }
    drain(&events);
    for line in out.try_iter() {
        if let Out::Line(v) = line {
            emit(&v);
        }
    }
}

// ---- commands --------------------------------------------------------------

/// What the command loop does after a command.
enum Next {
    Continue,
    Shutdown,
}

fn find_member(ml: &Memberlist, name: &str) -> Result<Node, String> {
    ml.members()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|n| n.name == name)
        .ok_or_else(|| format!("no member named {name:?}"))
}

/// Decodes a base64 key of a valid AES size; `what` names it in errors.
fn decode_key(what: &str, s: &str) -> Result<Vec<u8>, String> {
    let bytes = BASE64
        .decode(s.trim())
        .map_err(|e| format!("{what}: {s:?} is not base64: {e}"))?;
    // Let the keyring judge the size (16, 24 or 32 bytes).
    Keyring::with_primary(&bytes).map_err(|e| format!("{what}: {e}"))?;
    Ok(bytes)
}

/// Joins `targets` and says how it went, as a `joined` line.
fn joined_json<S: AsRef<str>>(ml: &Memberlist, targets: &[S]) -> Value {
    match ml.join(targets) {
        Ok(n) => json!({"ev": "joined", "n": n}),
        Err(e) => json!({"ev": "joined", "n": 0, "err": e.to_string()}),
    }
}

/// Runs one command line; `Err` is the message of a failed command.
fn run_command(ml: &Memberlist, agent: &Agent, cmd: &str, arg: &str) -> Result<Next, String> {
    match cmd {
        "members" => agent.say(members_json(&ml.members().map_err(|e| e.to_string())?)),
        "join" => {
            let targets: Vec<&str> = arg
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            agent.say(joined_json(ml, &targets));
        }
        "broadcast" => ml
            .broadcast(arg.as_bytes(), None)
            .map_err(|e| e.to_string())?,
        "send" | "sendbe" => {
            let (name, text) = arg.split_once(' ').unwrap_or((arg, ""));
            if name.is_empty() {
                return Err(format!("usage: {cmd} NAME TEXT"));
            }
            let node = find_member(ml, name)?;
            let sent = if cmd == "send" {
                ml.send_reliable(&node, text.as_bytes())
            } else {
                ml.send_best_effort(&node, text.as_bytes())
            };
            sent.map_err(|e| e.to_string())?;
        }
        "meta" => {
            if arg.len() > META_MAX {
                return Err(format!(
                    "metadata is {} bytes, at most {META_MAX}",
                    arg.len()
                ));
            }
            *agent.meta.lock().unwrap_or_else(PoisonError::into_inner) = arg.as_bytes().to_vec();
            ml.update_node(BROADCAST_WAIT).map_err(|e| e.to_string())?;
        }
        "leave" => {
            ml.leave(BROADCAST_WAIT).map_err(|e| e.to_string())?;
            agent.say(json!({"ev": "left"}));
        }
        "addkey" | "usekey" | "removekey" => {
            let key = decode_key(cmd, arg)?;
            let changed = match cmd {
                "addkey" => ml.add_key(&key),
                "usekey" => ml.use_key(&key),
                _ => ml.remove_key(&key),
            };
            changed.map_err(|e| e.to_string())?;
            agent.say(json!({"ev": "keys", "cmd": cmd}));
        }
        "stats" => agent.say(stats_json(&ml.stats().map_err(|e| e.to_string())?)),
        "shutdown" => return Ok(Next::Shutdown),
        _ => return Err("unknown command".to_owned()),
    }
    Ok(Next::Continue)
}

/// Reads and runs commands until `shutdown` or the end of input.
fn command_loop(ml: &Memberlist, agent: &Agent) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match stdin.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::error!("reading stdin: {e}");
                return;
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']).trim_start();
        if line.trim().is_empty() {
            continue;
        }
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        match run_command(ml, agent, cmd, arg) {
            Ok(Next::Continue) => {}
            Ok(Next::Shutdown) => return,
            Err(err) => agent.say(json!({"ev": "error", "cmd": cmd, "arg": arg, "err": err})),
        }
    }
}

fn main() -> ExitCode {
    START.get_or_init(Instant::now);
    init_logging();

    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(OsString::into_string)
        .collect();
    let parsed = match args {
        Ok(args) => parse_args(args),
        Err(bad) => Err(format!("argument {bad:?} is not UTF-8")),
    };
    let options = match parsed {
        Ok(Some(options)) => options,
        Ok(None) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("node: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let Options {
        config,
        join,
        meta,
        state,
        dskit,
        tls,
    } = options;
    let name = config.name.clone();
    let (out_tx, out_rx) = crossbeam_channel::unbounded();
    let agent = Arc::new(Agent {
        meta: Mutex::new(meta),
        state,
        out: out_tx.clone(),
    });
    let mut builder = Memberlist::builder(config).delegate(Arc::clone(&agent) as Arc<dyn Delegate>);
    if dskit {
        builder = builder.dskit_transport();
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        builder = builder.dskit_tls(tls);
    }
    #[cfg(not(feature = "tls"))]
    if let Some(never) = tls {
        match never {}
    }
    let ml = match builder.build() {
        Ok(ml) => ml,
        Err(e) => {
            eprintln!("node: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = ml.local_addr();
    emit(&json!({
        "ev": "ready",
        "name": name,
        "addr": bound.ip().to_string(),
        "port": bound.port(),
    }));

    // Started after `ready` so that it is always the first line.
    let events = ml.events();
    let printer = thread::Builder::new()
        .name("printer".into())
        .spawn(move || printer(events, &out_rx));
    let printer = match printer {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("node: cannot start the printer thread: {e}");
            ml.shutdown();
            return ExitCode::FAILURE;
        }
    };

    if !join.is_empty() {
        agent.say(joined_json(&ml, &join));
    }

    command_loop(&ml, &agent);

    ml.shutdown();
    let _ = out_tx.send(Out::Stop);
    let _ = printer.join();
    ExitCode::SUCCESS
}
