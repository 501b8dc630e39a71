//! Every byte sequence real Go memberlist nodes sent (tests/vectors, captured
//! from v0.2.2 and v0.6.0 nodes): decoded through every layer, checked field
//! by field against the variant's index.json, re-encoded and compared byte
//! for byte (encrypted ones re-encrypted with the nonce they carried).

use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};
use swimlist::wire::{
    decode_packet, read_stream, seal_packet, seal_stream, Ack, Alive, Compression, Context, Dead,
    Encryption, ErrResp, Inbound, IndirectPing, IntEncoding, Keyring, Layer, Message, Nack,
    Outbound, Ping, PushNodeState, PushPull, StreamOutbound, Suspect, WireError,
};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

const VARIANTS: [&str; 4] = ["plain", "lzw", "aes", "v060_label"];

struct Variant {
    name: &'static str,
    index: Value,
    keyring: Option<Keyring>,
    label: Vec<u8>,
}

fn load(name: &'static str) -> Variant {
    let path = vectors_dir().join(name).join("index.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let index: Value = serde_json::from_str(&text).expect("index.json parses");
    let keys: Vec<Vec<u8>> = index["keys_b64"]
        .as_str()
        .unwrap()
        .split(',')
        .filter(|k| !k.is_empty())
        .map(|k| base64::engine::general_purpose::STANDARD.decode(k).unwrap())
        .collect();
    let keyring = keys.split_first().map(|(primary, rest)| {
        let rest: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
        Keyring::new(&rest, Some(primary)).unwrap()
    });
    let label = index["label"].as_str().unwrap().as_bytes().to_vec();
    Variant {
        name,
        index,
        keyring,
        label,
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A byte field as index.json renders it: `{"hex": …}`, a string, or null.
fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Object(o) => Some(unhex(o["hex"].as_str().unwrap())),
        other => panic!("not a byte field: {other}"),
    }
}

fn field_bytes(body: &Value, key: &str) -> Vec<u8> {
    body.get(key).and_then(bytes).unwrap_or_default()
}

fn string(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn uint<T: TryFrom<u64>>(body: &Value, key: &str) -> T {
    let v = body.get(key).and_then(Value::as_u64).unwrap_or(0);
    T::try_from(v).unwrap_or_else(|_| panic!("{key} out of range"))
}

/// Turns index.json's message list into the messages it describes.
fn expected_messages(entries: &[Value]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut it = entries.iter().peekable();
    while let Some(entry) = it.next() {
        let ty = entry["type"].as_str().expect("entry with a type");
        let body = entry.get("body").or_else(|| entry.get("header"));
        let body = body.unwrap_or(&Value::Null);
        let m = match ty {
            "ping" => Message::Ping(Ping {
                seq_no: uint(body, "SeqNo"),
                node: string(body, "Node"),
                source_addr: field_bytes(body, "SourceAddr"),
                source_port: uint(body, "SourcePort"),
                source_node: string(body, "SourceNode"),
            }),
            "indirectPing" => Message::IndirectPing(IndirectPing {
                seq_no: uint(body, "SeqNo"),
                target: field_bytes(body, "Target"),
                port: uint(body, "Port"),
                node: string(body, "Node"),
                nack: body["Nack"].as_bool().unwrap(),
                source_addr: field_bytes(body, "SourceAddr"),
                source_port: uint(body, "SourcePort"),
                source_node: string(body, "SourceNode"),
            }),
            "ack" => Message::Ack(Ack {
                seq_no: uint(body, "SeqNo"),
                payload: bytes(&body["Payload"]),
            }),
            "nack" => Message::Nack(Nack {
                seq_no: uint(body, "SeqNo"),
            }),
            "suspect" => Message::Suspect(Suspect {
                incarnation: uint(body, "Incarnation"),
                node: string(body, "Node"),
                from: string(body, "From"),
            }),
            "dead" => Message::Dead(Dead {
                incarnation: uint(body, "Incarnation"),
                node: string(body, "Node"),
                from: string(body, "From"),
            }),
            "alive" => Message::Alive(Alive {
                incarnation: uint(body, "Incarnation"),
                node: string(body, "Node"),
                addr: field_bytes(body, "Addr"),
                port: uint(body, "Port"),
                meta: bytes(&body["Meta"]),
                vsn: field_bytes(body, "Vsn"),
                ..Alive::default()
            }),
            "err" => Message::Err(ErrResp {
                error: string(body, "Error"),
            }),
            "user" if entry.get("payload").is_some() => {
                Message::User(bytes(&entry["payload"]).unwrap())
            }
            "user" => {
                let payload = bytes(&it.next().expect("stream user payload")["payload"]).unwrap();
                assert_eq!(payload.len(), uint::<usize>(body, "UserMsgLen"));
                Message::User(payload)
            }
            "pushPull" => {
                let nodes: Vec<PushNodeState> = it.next().expect("push/pull nodes")["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| PushNodeState {
                        name: string(n, "Name"),
                        addr: field_bytes(n, "Addr"),
                        port: uint(n, "Port"),
                        meta: bytes(&n["Meta"]),
                        incarnation: uint(n, "Incarnation"),
                        state: n["State"].as_i64().unwrap(),
                        vsn: field_bytes(n, "Vsn"),
                        ..PushNodeState::default()
                    })
                    .collect();
                assert_eq!(nodes.len(), uint::<usize>(body, "Nodes"));
                let user_state = match it.peek() {
                    Some(next) if next.get("user_state").is_some() => {
                        bytes(&it.next().unwrap()["user_state"]).unwrap()
                    }
                    _ => Vec::new(),
                };
                assert_eq!(user_state.len(), uint::<usize>(body, "UserStateLen"));
                Message::PushPull(PushPull {
                    join: body["Join"].as_bool().unwrap(),
                    nodes,
                    user_state,
                })
            }
            other => panic!("unknown type {other}"),
        };
        out.push(m);
    }
    out
}

/// Checks our layers against index.json's descriptions of them.
fn check_layers(file: &str, described: &Value, ours: &[Layer]) {
    let described: Vec<&str> = described
        .as_array()
        .map(|a| a.iter().map(|l| l.as_str().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(described.len(), ours.len(), "{file}: layers {ours:?}");
    for (text, layer) in described.iter().zip(ours) {
        let ok = match layer {
            Layer::Label(l) => text.contains(&format!("\"{}\"", String::from_utf8_lossy(l))),
            Layer::Encryption {
                version,
                nonce,
                key_index,
                frame_len,
            } => {
                let version_ok = text.contains(&format!("version byte {}", *version as u8));
                let key_ok = text.contains(&format!("key #{key_index}"));
                let where_ok = match frame_len {
                    Some(n) => text.contains(&format!("length {n},")),
                    None => text.contains(&format!(
                        "nonce {}",
                        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
                    )),
                };
                version_ok && key_ok && where_ok
            }
            Layer::Crc(crc) => text.contains(&format!("big-endian {crc:08x} ")),
            Layer::Compression {
                algorithm,
                compressed_len,
                decompressed_len,
            } => {
                *algorithm == Compression::Lzw
                    && text.contains(&format!("Buf:{compressed_len} bytes"))
                    && text.contains(&format!("-> {decompressed_len} bytes"))
            }
            Layer::Compound { parts, truncated } => {
                *truncated == 0 && text.contains(&format!("count={parts} "))
            }
        };
        assert!(ok, "{file}: layer {layer:?} vs {text:?}");
    }
}

fn nonce_of(layers: &[Layer]) -> Option<[u8; 12]> {
    layers.iter().find_map(|l| match l {
        Layer::Encryption { nonce, .. } => Some(*nonce),
        _ => None,
    })
}

fn has_crc(layers: &[Layer]) -> bool {
    layers.iter().any(|l| matches!(l, Layer::Crc(_)))
}

fn compression_of(layers: &[Layer]) -> Option<Compression> {
    layers.iter().find_map(|l| match l {
        Layer::Compression { algorithm, .. } => Some(*algorithm),
        _ => None,
    })
}

fn check_packet(v: &Variant, file: &str, data: &[u8], entry: &Value) {
    let inbound = Inbound {
        label: &v.label,
        keyring: v.keyring.as_ref(),
        verify_incoming: true,
        ..Inbound::default()
    };
    let decoded = decode_packet(data, &inbound).unwrap_or_else(|e| panic!("{file}: {e}"));
    check_layers(file, &entry["layers"], &decoded.layers);
    let messages: Vec<Message> = decoded
        .messages
        .into_iter()
        .map(|m| m.unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect();
    let expected = expected_messages(entry["messages"].as_array().unwrap());
    assert_eq!(messages, expected, "{file}");

    // Re-encode: the message (or compound) with the envelopes the layers say.
    let mut inner = Vec::new();
    if let [single] = messages.as_slice() {
        single.encode(Context::Packet, &mut inner);
    } else {
        let parts: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let mut b = Vec::new();
                m.encode(Context::Packet, &mut b);
                b
            })
            .collect();
        swimlist::wire::packet::encode_compound(&parts, &mut inner).unwrap();
    }
    let outbound = Outbound {
        label: &v.label,
        // Offering LZW on the lzw variant must reproduce Go's choice of when
        // compression pays off (only when the result is smaller).
        compression: (v.name == "lzw").then_some(Compression::Lzw),
        crc: has_crc(&decoded.layers),
        encryption: nonce_of(&decoded.layers).map(|nonce| Encryption {
            keyring: v.keyring.as_ref().unwrap(),
            version: swimlist::wire::EncryptionVersion::V1,
            nonce,
        }),
    };
    let mut out = Vec::new();
    seal_packet(&inner, &outbound, &mut out).unwrap();
    assert_eq!(out, data, "{file}: re-encoded bytes differ");
}

fn check_stream(v: &Variant, file: &str, data: &[u8], entry: &Value) {
    let listener = !file.starts_with("tcp_resp_to_");
    let encrypted = entry["layers"].as_array().is_some_and(|l| {
        l.iter()
            .any(|t| t.as_str().unwrap().starts_with("encrypt("))
    });
    let mut inbound = Inbound {
        label: &v.label,
        keyring: v.keyring.as_ref(),
        verify_incoming: true,
        ..Inbound::default()
    };
    if v.keyring.is_some() && !encrypted {
        // A plaintext stream to an encrypting node is refused, as Go did
        // (the recorded reply is the err message saying so).
        assert_eq!(
            read_stream(data, &inbound, listener),
            Err(WireError::EncryptionRequired),
            "{file}"
        );
        inbound.keyring = None;
    }
    let decoded = read_stream(data, &inbound, listener)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .unwrap_or_else(|| panic!("{file}: incomplete"));
    assert_eq!(decoded.consumed, data.len(), "{file}");
    for cut in [0, data.len() / 2, data.len() - 1] {
        assert_eq!(
            read_stream(&data[..cut], &inbound, listener),
            Ok(None),
            "{file} cut {cut}"
        );
    }
    check_layers(file, &entry["layers"], &decoded.layers);
    let expected = expected_messages(entry["messages"].as_array().unwrap());
    assert_eq!(vec![decoded.message.clone()], expected, "{file}");

    let outbound = StreamOutbound {
        label: &v.label,
        dialer: listener,
        compression: compression_of(&decoded.layers),
        encryption: nonce_of(&decoded.layers).map(|nonce| Encryption {
            keyring: v.keyring.as_ref().unwrap(),
            version: swimlist::wire::EncryptionVersion::V1,
            nonce,
        }),
        ints: if v.name == "v060_label" {
            IntEncoding::Signed
        } else {
            IntEncoding::Unsigned
        },
    };
    let mut out = Vec::new();
    seal_stream(&decoded.message, &outbound, &mut out).unwrap();
    assert_eq!(out, data, "{file}: re-encoded bytes differ");
}

#[test]
fn every_captured_vector_decodes_checks_and_reencodes() {
    let mut checked = 0;
    for name in VARIANTS {
        let v = load(name);
        for entry in v.index["vectors"].as_array().unwrap() {
            let file = entry["file"].as_str().unwrap();
            let data = std::fs::read(vectors_dir().join(name).join(file)).unwrap();
            assert_eq!(data.len() as u64, entry["len"].as_u64().unwrap(), "{file}");
            match entry["proto"].as_str().unwrap() {
                "udp" => check_packet(&v, file, &data, entry),
                "tcp" => check_stream(&v, file, &data, entry),
                other => panic!("{file}: proto {other}"),
            }
            checked += 1;
        }
    }
    let on_disk = VARIANTS
        .iter()
        .flat_map(|v| std::fs::read_dir(vectors_dir().join(v)).unwrap())
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "bin")
        })
        .count();
    assert_eq!(
        checked, on_disk,
        "every .bin file is listed in an index.json"
    );
}
