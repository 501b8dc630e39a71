//! Decodes one captured memberlist datagram or stream direction and prints
//! it as one line of JSON, for debugging a live cluster.
//!
//! ```text
//! inspect [--tcp [--reply]] [--key B64]... [--label L] [FILE]
//! ```
//!
//! * `FILE` holds the raw bytes; without it, stdin holds them as plain hex
//!   (no `0x`; whitespace and line breaks are ignored, so `xxd -p` output
//!   works).
//! * `--key B64` adds a base64 AES key (16, 24 or 32 bytes); repeat it for a
//!   keyring, the first key being the primary one.
//! * `--label L` is the cluster label the receiver is configured with.
//! * `--tcp` reads one direction of a TCP connection instead of a UDP
//!   datagram; add `--reply` when the bytes are the listener's reply (which
//!   carries no label header).
//!
//! With a key, unencrypted input still decodes, shown with a first layer
//! `{"layer":"not encrypted"}` and a note that a node verifying incoming
//! traffic (`GossipVerifyIncoming`) would refuse it. When the bytes do not
//! decode but would with other options (`--tcp`, `--reply`, a key), a hint
//! on stderr says which.
//!
//! ```text
//! $ cargo run --example inspect -- tests/vectors/aes/udp_aes1__ping.bin --key AAECAwQFBgcICQoLDA0ODw==
//! $ cargo run --example inspect -- --tcp --label lbl-1 tests/vectors/v060_label/tcp_label__ping.bin
//! $ cargo run --example inspect -- --tcp --reply tests/vectors/plain/tcp_resp_to_ping__ack.bin
//! $ echo '0b81a5 5365714e6f06' | cargo run --example inspect
//! {"layers":[],"messages":[{"SeqNo":6,"type":"nack"}]}
//! ```
//!
//! The output is `{"layers":[...],"messages":[...]}`: the envelopes from the
//! outside in, then every message with Go's field names. Bytes print as a
//! string when they are UTF-8 and as `{"hex":"..."}` otherwise; addresses
//! and `Vsn` always print as hex, a nil `Payload` or `Meta` as `null`.
//!
//! Exit status: 0 when everything decoded, 1 when the bytes (or one of the
//! messages in them) did not decode — the typed error goes to stderr — and 2
//! for bad arguments or unreadable input.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};
use swimlist::wire::{
    decode_packet, read_stream, DecodedPacket, Features, Inbound, Keyring, Layer, Message,
    PushNodeState, WireError, FEATURES_KEY,
};

const USAGE: &str = "usage: inspect [--tcp [--reply]] [--key B64]... [--label L] [FILE]
  FILE       raw bytes of one datagram or stream direction (default: hex on stdin)
  --key B64  AES key in base64; repeat for a keyring (first = primary)
  --label L  the cluster label
  --tcp      the bytes are one direction of a TCP stream
  --reply    with --tcp: the bytes are the listener's reply (no label header)";

/// Why inspect stops without printing a full decode.
enum Failure {
    /// Bad command line (exit status 2).
    Usage(String),
    /// Input that cannot be read, or bad hex (exit status 2).
    Input(String),
    /// The bytes did not decode (exit status 1).
    Decode(String),
}

/// What the command line asks for.
enum Command {
    Help,
    Inspect(Options),
}

/// The parsed options of an inspection.
#[derive(Default)]
struct Options {
    path: Option<PathBuf>,
    keys: Vec<Vec<u8>>,
    label: String,
    tcp: bool,
    reply: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Decode(msg)) => {
            eprintln!("inspect: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("inspect: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Input(msg)) => {
            eprintln!("inspect: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Failure> {
    let opts = match parse_args(std::env::args_os().skip(1))? {
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Command::Inspect(opts) => opts,
    };
    let keyring = build_keyring(&opts.keys)?;
    let input = read_input(opts.path.as_deref())?;
    let (decoded, in_clear) = match decode(&input, &opts, &keyring, true) {
        Ok(decoded) => (decoded, false),
        // With a key, plaintext is what a verifying node refuses; show it
        // anyway, as a node with verification off (Go's default when
        // upgrading to encryption) would read it.
        Err(WireError::EncryptionRequired) => {
            eprintln!(
                "inspect: note: not encrypted; a node with gossip_verify_incoming would refuse it"
            );
            let decoded = decode(&input, &opts, &keyring, false)
                .map_err(|e| decode_failure(&opts, input.len(), &e))?;
            (decoded, true)
        }
        Err(e) => {
            if let Some(hint) = hint(&input, &opts, &keyring, &e) {
                eprintln!("inspect: hint: {hint}");
            }
            return Err(decode_failure(&opts, input.len(), &e));
        }
    };
    println!("{}", render(&decoded, in_clear));
    check_messages(&decoded.messages).inspect_err(|_| {
        let first_error = decoded.messages.iter().find_map(|m| m.as_ref().err());
        if let Some(hint) = first_error.and_then(|e| hint(&input, &opts, &keyring, e)) {
            eprintln!("inspect: hint: {hint}");
        }
    })
}

/// Decodes the input as the options say.
fn decode(
    input: &[u8],
    opts: &Options,
    keyring: &Keyring,
    verify_incoming: bool,
) -> Result<DecodedPacket, WireError> {
    let inbound = Inbound {
        label: opts.label.as_bytes(),
        keyring: Some(keyring),
        verify_incoming,
        ..Inbound::default()
    };
    if opts.tcp {
        decode_stream(input, &inbound, !opts.reply)
    } else {
        decode_packet(input, &inbound)
    }
}

/// When the bytes would decode with other options, says which.
fn hint(input: &[u8], opts: &Options, keyring: &Keyring, error: &WireError) -> Option<String> {
    let decodes = |tcp: bool, reply: bool| {
        let other = Options {
            tcp,
            reply,
            label: opts.label.clone(),
            ..Options::default()
        };
        decode(input, &other, keyring, false).is_ok_and(|d| d.messages.iter().all(Result::is_ok))
    };
    if !opts.tcp && decodes(true, false) {
        return Some("these bytes read as a TCP stream: add --tcp".to_owned());
    }
    if !opts.tcp && decodes(true, true) {
        return Some("these bytes read as a stream reply: add --tcp --reply".to_owned());
    }
    if opts.tcp && decodes(true, !opts.reply) {
        let fix = if opts.reply {
            "drop --reply"
        } else {
            "add --reply"
        };
        return Some(format!("these bytes read as the other direction: {fix}"));
    }
    if opts.tcp && decodes(false, false) {
        return Some("these bytes read as a datagram: drop --tcp".to_owned());
    }
    // An AES envelope starts with its version (0 or 1), then a 12-byte
    // nonce and a 16-byte tag around the ciphertext.
    let envelope = matches!(input.first(), Some(0 | 1)) && input.len() >= 1 + 12 + 16;
    let failed_to_open = matches!(error, WireError::DecryptionFailed);
    if opts.keys.is_empty() && (envelope || failed_to_open) {
        return Some(
            "the bytes may be encrypted: give the cluster's key with --key B64".to_owned(),
        );
    }
    None
}

// ---- command line and input ----

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, Failure> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(Command::Help),
            Some("--tcp") => opts.tcp = true,
            Some("--reply") => opts.reply = true,
            Some("--key") => {
                let key = option_value(&mut args, "--key")?;
                opts.keys.push(decode_key(&key)?);
            }
            Some("--label") => opts.label = option_value(&mut args, "--label")?,
            Some(flag) if flag.starts_with('-') => {
                return Err(Failure::Usage(format!("unknown option {flag}")));
            }
            _ if opts.path.is_some() => {
                return Err(Failure::Usage("give at most one input file".into()));
            }
            _ => opts.path = Some(PathBuf::from(arg)),
        }
    }
    if opts.reply && !opts.tcp {
        return Err(Failure::Usage(
            "--reply only applies to streams; add --tcp".into(),
        ));
    }
    Ok(Command::Inspect(opts))
}

fn option_value(args: &mut impl Iterator<Item = OsString>, name: &str) -> Result<String, Failure> {
    let value = args
        .next()
        .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))?;
    value
        .into_string()
        .map_err(|v| Failure::Usage(format!("{name} {v:?}: not valid UTF-8")))
}

fn decode_key(b64: &str) -> Result<Vec<u8>, Failure> {
    BASE64
        .decode(b64.trim())
        .map_err(|e| Failure::Usage(format!("--key {b64:?} is not valid base64: {e}")))
}

fn build_keyring(keys: &[Vec<u8>]) -> Result<Keyring, Failure> {
    let Some((primary, others)) = keys.split_first() else {
        return Ok(Keyring::default());
    };
    let others: Vec<&[u8]> = others.iter().map(Vec::as_slice).collect();
    Keyring::new(&others, Some(primary)).map_err(|e| Failure::Usage(format!("--key: {e}")))
}

fn read_input(path: Option<&Path>) -> Result<Vec<u8>, Failure> {
    if let Some(path) = path {
        return std::fs::read(path)
            .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())));
    }
    let mut text = Vec::new();
    std::io::stdin()
        .read_to_end(&mut text)
        .map_err(|e| Failure::Input(format!("cannot read stdin: {e}")))?;
    parse_hex(&text)
}

/// Plain hex digits, any whitespace between them ignored.
fn parse_hex(text: &[u8]) -> Result<Vec<u8>, Failure> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if let Some(pos) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(Failure::Input(format!(
            "stdin: hex digit {} is {:?}, not 0-9a-f (give plain hex without 0x)",
            pos + 1,
            char::from(digits[pos])
        )));
    }
    if digits.is_empty() {
        return Err(Failure::Input("stdin holds no hex digits".into()));
    }
    if digits.len() % 2 != 0 {
        return Err(Failure::Input(format!(
            "stdin: odd number of hex digits ({})",
            digits.len()
        )));
    }
    Ok(digits
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect())
}

/// The value of an ASCII hex digit (already validated).
fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

// ---- decoding ----

/// Reads one stream message, as a listener (`listener`) or as the dialer
/// reading the reply, in the packet decoder's shape.
fn decode_stream(
    input: &[u8],
    inbound: &Inbound<'_>,
    listener: bool,
) -> Result<DecodedPacket, WireError> {
    let decoded = read_stream(input, inbound, listener)?.ok_or(WireError::Truncated)?;
    if decoded.consumed < input.len() {
        eprintln!(
            "inspect: warning: {} bytes after the stream message were ignored",
            input.len() - decoded.consumed
        );
    }
    Ok(DecodedPacket {
        layers: decoded.layers,
        messages: vec![Ok(decoded.message)],
        message_sizes: vec![decoded.consumed],
        news_ages: vec![None],
    })
}

fn decode_failure(opts: &Options, len: usize, e: &WireError) -> Failure {
    if opts.tcp && *e == WireError::Truncated {
        return Failure::Decode(format!(
            "incomplete stream: the {len} bytes end before the message does"
        ));
    }
    let what = if opts.tcp { "stream" } else { "packet" };
    Failure::Decode(format!("{what} rejected: {e} ({e:?})"))
}

/// Fails when any message did not decode, naming each one.
fn check_messages(messages: &[Result<Message, WireError>]) -> Result<(), Failure> {
    let failures: Vec<String> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            m.as_ref()
                .err()
                .map(|e| format!("message {i}: {e} ({e:?})"))
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::Decode(failures.join("\n")))
    }
}

// ---- JSON rendering ----

/// `in_clear`: keys were given but the bytes were not encrypted, which is
/// shown as a first layer.
fn render(decoded: &DecodedPacket, in_clear: bool) -> Value {
    let clear = in_clear.then(|| json!({ "layer": "not encrypted" }));
    let layers: Vec<Value> = clear
        .into_iter()
        .chain(decoded.layers.iter().map(layer_json))
        .collect();
    let messages: Vec<Value> = decoded
        .messages
        .iter()
        .zip(&decoded.news_ages)
        .map(|(m, age)| match (m, age) {
            (Ok(m), Some(age)) => {
                let mut v = message_json(m);
                v["news_age_ms"] = json!(age.as_millis());
                v
            }
            (Ok(m), None) => message_json(m),
            (Err(e), _) => json!({ "error": e.to_string() }),
        })
        .collect();
    json!({ "layers": layers, "messages": messages })
}

fn layer_json(layer: &Layer) -> Value {
    match layer {
        Layer::Label(label) => json!({ "layer": "label", "label": text_or_hex(label) }),
        Layer::Encryption {
            version,
            nonce,
            key_index,
            frame_len,
        } => {
            let mut v = json!({
                "layer": "encryption",
                "version": *version as u8,
                "nonce": hex(nonce),
                "key_index": key_index,
            });
            if let Some(n) = frame_len {
                v["frame_len"] = json!(n);
            }
            v
        }
        Layer::Crc(crc) => json!({ "layer": "crc", "crc": format!("{crc:08x}") }),
        Layer::Compression {
            algorithm,
            compressed_len,
            decompressed_len,
        } => json!({
            "layer": "compression",
            "algorithm": algorithm.name(),
            "compressed_len": compressed_len,
            "decompressed_len": decompressed_len,
        }),
        Layer::Compound { parts, truncated } => {
            json!({ "layer": "compound", "parts": parts, "truncated": truncated })
        }
    }
}

fn message_json(message: &Message) -> Value {
    let mut v = match message {
        Message::Ping(m) => {
            let mut v = json!({ "SeqNo": m.seq_no, "Node": m.node });
            put_source(&mut v, &m.source_addr, m.source_port, &m.source_node);
            v
        }
        Message::IndirectPing(m) => {
            let mut v = json!({
                "SeqNo": m.seq_no,
                "Target": hex_value(&m.target),
                "Port": m.port,
                "Node": m.node,
                "Nack": m.nack,
            });
            put_source(&mut v, &m.source_addr, m.source_port, &m.source_node);
            v
        }
        Message::Ack(m) => json!({ "SeqNo": m.seq_no, "Payload": optional_bytes(&m.payload) }),
        Message::Nack(m) => json!({ "SeqNo": m.seq_no }),
        Message::Suspect(m) => {
            json!({ "Incarnation": m.incarnation, "Node": m.node, "From": m.from })
        }
        Message::Dead(m) => json!({ "Incarnation": m.incarnation, "Node": m.node, "From": m.from }),
        Message::Alive(m) => {
            let mut v = json!({
                "Incarnation": m.incarnation,
                "Node": m.node,
                "Addr": hex_value(&m.addr),
                "Port": m.port,
                "Meta": optional_bytes(&m.meta),
                "Vsn": hex_value(&m.vsn),
            });
            put_features(&mut v, m.features);
            v
        }
        Message::PushPull(m) => json!({
            "Join": m.join,
            "Nodes": m.nodes.len(),
            "UserStateLen": m.user_state.len(),
            "nodes": m.nodes.iter().map(node_json).collect::<Vec<_>>(),
            "user_state": text_or_hex(&m.user_state),
        }),
        Message::User(payload) => json!({ "payload": text_or_hex(payload) }),
        Message::Err(m) => json!({ "Error": m.error }),
    };
    v["type"] = json!(message.message_type().name());
    v
}

fn node_json(node: &PushNodeState) -> Value {
    let mut v = json!({
        "Name": node.name,
        "Addr": hex_value(&node.addr),
        "Port": node.port,
        "Meta": optional_bytes(&node.meta),
        "Incarnation": node.incarnation,
        "State": node.state,
        "Vsn": hex_value(&node.vsn),
    });
    put_features(&mut v, node.features);
    v
}

/// Adds the `omitempty` source fields of ping and indirect ping.
fn put_source(v: &mut Value, addr: &[u8], port: u16, node: &str) {
    if !addr.is_empty() {
        v["SourceAddr"] = hex_value(addr);
    }
    if port != 0 {
        v["SourcePort"] = json!(port);
    }
    if !node.is_empty() {
        v["SourceNode"] = json!(node);
    }
}

/// Adds the swimlist capability key, which is omitted when zero.
fn put_features(v: &mut Value, features: Features) {
    if features != Features::NONE {
        v[FEATURES_KEY] = json!(features.0);
    }
}

fn optional_bytes(bytes: &Option<Vec<u8>>) -> Value {
    bytes.as_deref().map_or(Value::Null, text_or_hex)
}

fn text_or_hex(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => json!(text),
        Err(_) => hex_value(bytes),
    }
}

fn hex_value(bytes: &[u8]) -> Value {
    json!({ "hex": hex(bytes) })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
