//! Runs `examples/inspect` over every golden vector in `tests/vectors` and
//! compares its output with the vector's entry in `index.json`; then checks
//! that hex on stdin works and that corrupted input, wrong keys and bad
//! arguments fail cleanly.
//!
//! The example binary is built by a plain `cargo test` (or
//! `cargo build --example inspect`); `cargo test --test inspect` alone does
//! not build it, so these tests refuse a missing or out-of-date binary.

mod example_binary;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Map, Value};

const VARIANTS: [&str; 4] = ["plain", "lzw", "aes", "v060_label"];
const AES_KEY: &str = "AAECAwQFBgcICQoLDA0ODw==";
/// Display text of `WireError::DecryptionFailed`.
const DECRYPTION_FAILED: &str = "no installed keys could decrypt the message";

// ---- running the example ----

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vectors_dir() -> PathBuf {
    manifest_dir().join("tests/vectors")
}

/// Runs the example with `args`, feeding `stdin` when given (else none).
fn inspect(args: &[String], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(example_binary::path("inspect"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the inspect example");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input).expect("writing stdin");
    }
    child.wait_with_output().expect("waiting for inspect")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The single JSON line a successful run prints.
fn parse_output(out: &Output) -> Result<Value, String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("exit status {}: {stderr}", out.status));
    }
    if stdout.lines().count() != 1 {
        return Err(format!("expected one line of output, got: {stdout}"));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("output is not JSON ({e}): {stdout}"))
}

/// Asserts a decoding failure (exit 1, the error on stderr) and returns
/// stderr.
fn expect_decode_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.starts_with("inspect: "), "stderr: {stderr}");
    stderr
}

/// Asserts a usage failure (exit 2, a message on stderr, no output).
fn expect_usage_failure(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "{needle:?} not in stderr: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

fn read_vector(variant: &str, file: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join(variant).join(file)).expect("reading a vector")
}

fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            let pairs: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            pairs.join(" ") + "\n"
        })
        .collect()
}

// ---- index.json ----

fn load_index(variant: &str) -> Value {
    let path = vectors_dir().join(variant).join("index.json");
    let text = std::fs::read_to_string(&path).expect("reading index.json");
    serde_json::from_str(&text).expect("index.json is JSON")
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// The command line index.json's settings call for.
fn vector_args(dir: &Path, entry: &Value, keys: &[&str], label: &str) -> Vec<String> {
    let file = str_field(entry, "file");
    let mut args = vec![dir.join(file).display().to_string()];
    for key in keys {
        args.extend(strings(&["--key", key]));
    }
    if !label.is_empty() {
        args.extend(strings(&["--label", label]));
    }
    if file.starts_with("tcp_") {
        args.push("--tcp".into());
    }
    if file.starts_with("tcp_resp_to_") {
        args.push("--reply".into());
    }
    args
}

/// Converts index.json's message list into inspect's: one object per
/// message with `type` and the body's or header's fields, the push/pull
/// `nodes` and `user_state` and the stream user `payload` folded in.
fn normalise_messages(entries: &Value) -> Vec<Value> {
    let mut out: Vec<Map<String, Value>> = Vec::new();
    for entry in entries.as_array().expect("messages is a list") {
        let fields = entry.as_object().expect("a message is an object");
        if fields.contains_key("type") {
            let mut msg = Map::new();
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("body" | "header", Value::Object(body)) => msg.extend(body.clone()),
                    _ => {
                        msg.insert(key.clone(), value.clone());
                    }
                }
            }
            out.push(msg);
        } else {
            let msg = out
                .last_mut()
                .expect("a continuation entry follows a message");
            for (key, value) in fields {
                assert!(!msg.contains_key(key), "{key} given twice in {entries}");
                msg.insert(key.clone(), value.clone());
            }
        }
    }
    out.into_iter().map(complete_message).collect()
}

/// Fills in what index.json leaves implicit: a push/pull with no user state
/// (or no nodes) has no entry for it, and inspect prints a stream user
/// message as its payload alone, whose length the header's `UserMsgLen` must
/// be.
fn complete_message(mut msg: Map<String, Value>) -> Value {
    if msg["type"] == "pushPull" {
        msg.entry("nodes").or_insert_with(|| json!([]));
        msg.entry("user_state").or_insert_with(|| json!(""));
    }
    if let Some(len) = msg.remove("UserMsgLen") {
        assert_eq!(
            len.as_u64(),
            Some(byte_len(&msg["payload"])),
            "UserMsgLen in {msg:?}"
        );
    }
    Value::Object(msg)
}

fn byte_len(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.len() as u64,
        other => (str_field(other, "hex").len() / 2) as u64,
    }
}

/// What index.json's description of a layer says inspect must print: a
/// subset of inspect's layer object.
fn expected_layer(desc: &str) -> Value {
    if desc.starts_with("label header:") {
        let label = desc.split('"').nth(1).expect("quoted label");
        json!({ "layer": "label", "label": label })
    } else if desc.starts_with("encrypt(10):") {
        json!({
            "layer": "encryption",
            "version": number_after(desc, "version byte "),
            "frame_len": number_after(desc, "length "),
            "key_index": number_after(desc, "key #"),
        })
    } else if desc.starts_with("AES-GCM:") {
        json!({
            "layer": "encryption",
            "version": number_after(desc, "version byte "),
            "nonce": word_after(desc, "nonce "),
            "key_index": number_after(desc, "key #"),
        })
    } else if desc.starts_with("hasCrc(12):") {
        json!({ "layer": "crc", "crc": word_after(desc, "big-endian ") })
    } else if desc.starts_with("compress(9):") {
        assert!(desc.contains("Algo:0"), "not LZW: {desc}");
        let (_, output) = desc.rsplit_once("-> ").expect("decompressed size");
        json!({
            "layer": "compression",
            "algorithm": "lzw",
            "compressed_len": number_after(desc, "Buf:"),
            "decompressed_len": number_after(output, ""),
        })
    } else if desc.starts_with("compound(7):") {
        json!({ "layer": "compound", "parts": number_after(desc, "count="), "truncated": 0 })
    } else {
        panic!("unknown layer description {desc:?}")
    }
}

/// The alphanumeric word right after `marker` in `text`.
fn word_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let start = text.find(marker).expect("marker in description") + marker.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    &rest[..end]
}

fn number_after(text: &str, marker: &str) -> u64 {
    let word = word_after(text, marker);
    word.parse()
        .unwrap_or_else(|_| panic!("{word:?} after {marker:?} in {text:?}"))
}

/// Differences between inspect's layers and index.json's descriptions.
fn compare_layers(actual: &Value, descriptions: &Value) -> Result<(), String> {
    let expected: Vec<Value> = match descriptions {
        Value::Null => Vec::new(),
        list => list
            .as_array()
            .expect("layers is a list")
            .iter()
            .map(|d| expected_layer(d.as_str().expect("a layer description")))
            .collect(),
    };
    let actual = actual.as_array().ok_or("layers is not a list")?;
    if actual.len() != expected.len() {
        return Err(format!("layers {actual:?}, index.json {descriptions}"));
    }
    for (got, want) in actual.iter().zip(&expected) {
        let want = want.as_object().expect("expected layer object");
        if want.iter().any(|(key, value)| got.get(key) != Some(value)) {
            return Err(format!("layer {got}, index.json says {want:?}"));
        }
    }
    Ok(())
}

/// Runs one vector and compares messages and layers with its index entry.
fn check_vector(args: &[String], entry: &Value) -> Result<(), String> {
    let output = parse_output(&inspect(args, None))?;
    let expected = normalise_messages(&entry["messages"]);
    let got = output["messages"]
        .as_array()
        .ok_or("messages is not a list")?;
    if *got != expected {
        return Err(format!(
            "messages differ\n    got:      {}\n    expected: {}",
            Value::from(got.clone()),
            Value::from(expected)
        ));
    }
    compare_layers(&output["layers"], &entry["layers"])
}

/// Whether index.json shows no encryption layer for this vector.
fn sent_in_clear(entry: &Value) -> bool {
    entry["layers"].as_array().is_none_or(|layers| {
        !layers.iter().any(|l| {
            let d = l.as_str().unwrap_or_default();
            d.starts_with("encrypt(10)") || d.starts_with("AES-GCM")
        })
    })
}

// ---- tests ----

#[test]
fn every_vector_matches_index_json() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for variant in VARIANTS {
        let dir = vectors_dir().join(variant);
        let index = load_index(variant);
        let keys: Vec<&str> = str_field(&index, "keys_b64")
            .split([',', ' '])
            .filter(|k| !k.is_empty())
            .collect();
        let label = str_field(&index, "label");
        let entries = index["vectors"].as_array().expect("vectors is a list");

        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("listing a variant")
            .map(|e| e.expect("a directory entry").file_name())
            .filter_map(|name| name.into_string().ok())
            .filter(|name| name.ends_with(".bin"))
            .collect();
        let mut indexed: Vec<String> = entries
            .iter()
            .map(|e| str_field(e, "file").to_string())
            .collect();
        on_disk.sort();
        indexed.sort();
        assert_eq!(on_disk, indexed, "{variant}: .bin files vs index.json");
        assert!(!entries.is_empty(), "{variant} has no vectors");

        for entry in entries {
            let name = format!("{variant}/{}", str_field(entry, "file"));
            let mut keys = keys.as_slice();
            if !keys.is_empty() && sent_in_clear(entry) {
                // Sent by the keyless node: with a key it still decodes,
                // marked as not encrypted, with a note that a verifying
                // receiver (as the listener was, with its `err` reply)
                // refuses it.
                let out = inspect(&vector_args(&dir, entry, keys, label), None);
                let stderr = String::from_utf8_lossy(&out.stderr);
                let first_layer = parse_output(&out).map(|v| v["layers"][0].clone());
                if first_layer != Ok(json!({ "layer": "not encrypted" }))
                    || !stderr.contains("gossip_verify_incoming")
                {
                    failures.push(format!(
                        "{name}: in clear with a key: {first_layer:?} {stderr}"
                    ));
                }
                keys = &[];
            }
            if let Err(e) = check_vector(&vector_args(&dir, entry, keys, label), entry) {
                failures.push(format!("{name}: {e}"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn hex_on_stdin_decodes_like_the_file() {
    let cases: [(&str, &str, &[&str]); 3] = [
        ("lzw", "udp_crc__lzw__compound_user-user.bin", &[]),
        (
            "aes",
            "tcp_encrypt1__pushPull_periodic.bin",
            &["--tcp", "--key", AES_KEY],
        ),
        ("v060_label", "udp_label__ping.bin", &["--label", "lbl-1"]),
    ];
    for (variant, file, opts) in cases {
        let path = vectors_dir().join(variant).join(file);
        let mut args = strings(opts);
        let from_stdin = inspect(
            &args,
            Some(hex_lines(&read_vector(variant, file)).as_bytes()),
        );
        args.push(path.display().to_string());
        let from_file = parse_output(&inspect(&args, None)).expect("the file decodes");
        assert_eq!(parse_output(&from_stdin), Ok(from_file), "{variant}/{file}");
    }
    let upper = inspect(&[], Some(b"0B81A5\r\n5365714E6F06\n"));
    assert_eq!(
        parse_output(&upper),
        Ok(json!({ "layers": [], "messages": [{ "type": "nack", "SeqNo": 6 }] }))
    );
}

#[test]
fn corrupted_aes_vectors_are_rejected() {
    let mut packet = read_vector("aes", "udp_aes1__ping.bin");
    packet[20] ^= 0x01;
    let out = inspect(
        &strings(&["--key", AES_KEY]),
        Some(hex_lines(&packet).as_bytes()),
    );
    let stderr = expect_decode_failure(&out);
    assert!(stderr.contains(DECRYPTION_FAILED), "stderr: {stderr}");
    assert!(stderr.contains("DecryptionFailed"), "stderr: {stderr}");
    assert!(out.stdout.is_empty());

    let mut stream = read_vector("aes", "tcp_encrypt1__user.bin");
    let last = stream.len() - 1;
    stream[last] ^= 0x80;
    let out = inspect(
        &strings(&["--tcp", "--key", AES_KEY]),
        Some(hex_lines(&stream).as_bytes()),
    );
    assert!(expect_decode_failure(&out).contains("DecryptionFailed"));
}

#[test]
fn wrong_key_is_rejected_and_a_second_key_is_tried() {
    let wrong = "/////////////////////w==";
    let path = vectors_dir().join("aes/udp_aes1__crc__dead.bin");
    let path = path.display().to_string();
    let out = inspect(&strings(&[&path, "--key", wrong]), None);
    assert!(expect_decode_failure(&out).contains(DECRYPTION_FAILED));

    let out = inspect(&strings(&[&path, "--key", wrong, "--key", AES_KEY]), None);
    let output = parse_output(&out).expect("the second key opens it");
    assert_eq!(output["layers"][0]["key_index"], json!(1));
}

#[test]
fn a_missing_option_gets_a_hint() {
    let cases: [(&str, &str, &[&str], &str); 4] = [
        ("plain", "tcp_pushPull_join.bin", &[], "add --tcp"),
        (
            "v060_label",
            "tcp_resp_to_label__ping__ack.bin",
            &["--tcp", "--label", "lbl-1"],
            "add --reply",
        ),
        (
            "lzw",
            "udp_crc__lzw__compound_user-user.bin",
            &["--tcp"],
            "drop --tcp",
        ),
        ("aes", "udp_aes1__ping.bin", &[], "--key"),
    ];
    for (variant, file, flags, hint) in cases {
        let path = vectors_dir().join(variant).join(file);
        let mut args = strings(flags);
        args.push(path.display().to_string());
        let out = inspect(&args, None);
        expect_decode_failure(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("hint:") && stderr.contains(hint),
            "{variant}/{file} {flags:?}: {stderr}"
        );
    }
}

#[test]
fn label_mismatch_and_incomplete_stream_are_rejected() {
    let path = vectors_dir().join("v060_label/udp_label__nack.bin");
    let out = inspect(&[path.display().to_string()], None);
    assert!(expect_decode_failure(&out).contains("LabelMismatch"));

    let stream = read_vector("plain", "tcp_pushPull_join.bin");
    let short = &stream[..stream.len() - 4];
    let out = inspect(&strings(&["--tcp"]), Some(hex_lines(short).as_bytes()));
    assert!(expect_decode_failure(&out).contains("incomplete stream"));
}

#[test]
fn a_bad_message_in_a_compound_is_reported_with_the_others() {
    // compound [nack 6, type 99]
    let out = inspect(&[], Some(b"07 02 0009 0001 0b81a55365714e6f06 63"));
    let stderr = expect_decode_failure(&out);
    assert!(
        stderr.contains("UnknownMessageType(99)"),
        "stderr: {stderr}"
    );
    let stdout: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(stdout["messages"][0], json!({ "type": "nack", "SeqNo": 6 }));
    assert_eq!(
        stdout["messages"][1],
        json!({ "error": "unknown message type 99" })
    );
}

#[test]
fn the_age_swimlist_stamps_on_news_is_shown() {
    // dead {Incarnation 1, Node "a", From "b", SwimlistAge 300 ms}
    let out = inspect(
        &[],
        Some(
            b"0584ab496e6361726e6174696f6e01a44e6f6465a161a446726f6da162\
              ab5377696d6c697374416765ce0000012c",
        ),
    );
    let decoded = parse_output(&out).expect("a stamped message decodes");
    assert_eq!(decoded["messages"][0]["type"], json!("dead"));
    assert_eq!(decoded["messages"][0]["news_age_ms"], json!(300));
}

#[test]
fn bad_arguments_and_input_fail_cleanly() {
    let bad_args: [(&[&str], &str); 7] = [
        (&["--key", "not base64!"], "not valid base64"),
        (&["--key", "AAAA"], "key size must be 16, 24 or 32 bytes"),
        (&["--key"], "--key needs a value"),
        (&["--bogus"], "unknown option --bogus"),
        (&["--reply"], "--reply only applies to streams"),
        (&["a.bin", "b.bin"], "at most one input file"),
        (&["/nonexistent/x.bin"], "cannot read /nonexistent/x.bin"),
    ];
    for (args, needle) in bad_args {
        expect_usage_failure(&inspect(&strings(args), None), needle);
    }
    let bad_hex: [(&[u8], &str); 3] = [
        (b"0x0b81", "not 0-9a-f"),
        (b"0b8", "odd number of hex digits"),
        (b" \n", "no hex digits"),
    ];
    for (input, needle) in bad_hex {
        expect_usage_failure(&inspect(&[], Some(input)), needle);
    }
}
