//! Wire-layer throughput: encode and decode of the messages a node handles
//! most (ping, ack, alive, gossip compounds, user packets) and of the big
//! one (an encrypted, compressed push/pull of 100 nodes).
//!
//! Every case counts one message per iteration (`Throughput::Elements(1)`),
//! so criterion reports messages per second. Run with
//! `cargo bench --bench wire`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use swimlist::wire::{
    decode_packet, packet::encode_compound, read_stream, seal_packet, seal_stream, Ack, Alive,
    Compression, Context, Encryption, EncryptionVersion, Features, Inbound, Keyring, Message,
    Outbound, Ping, PushNodeState, PushPull, StreamOutbound,
};

/// memberlist's default bind port.
const PORT: u16 = 7946;
/// What a current Go memberlist advertises: protocol 1..5 (speaking 2),
/// delegate protocol 0.
const VSN: [u8; 6] = [1, 5, 2, 0, 0, 0];
/// 16 bytes of node metadata, the size of a typical tag string.
const META: &[u8; 16] = b"dc=eu-west-1;r=a";
/// An AES-128 key (any 16 bytes; the value does not affect speed).
const KEY: [u8; 16] = *b"0123456789abcdef";
/// A fixed nonce: reusing it is only acceptable because nothing here is
/// secret; a real sender draws 12 fresh random bytes per message.
const NONCE: [u8; 12] = [7; 12];

fn node_name(i: usize) -> String {
    format!("node-{i:03}")
}

fn node_addr(i: usize) -> Vec<u8> {
    vec![10, 0, (i >> 8) as u8, i as u8]
}

fn alive(i: usize) -> Alive {
    Alive {
        incarnation: 3 + i as u32,
        node: node_name(i),
        addr: node_addr(i),
        port: PORT,
        meta: Some(META.to_vec()),
        vsn: VSN.to_vec(),
        features: Features::NONE,
    }
}

fn push_pull_state(nodes: usize) -> PushPull {
    PushPull {
        join: false,
        nodes: (0..nodes)
            .map(|i| PushNodeState {
                name: node_name(i),
                addr: node_addr(i),
                port: PORT,
                meta: Some(META.to_vec()),
                incarnation: 1 + (i as u32 % 7),
                // Mostly alive, with a few suspect and dead records as in a
                // real cluster's state.
                state: match i % 20 {
                    0 => 1,
                    1 => 2,
                    _ => 0,
                },
                vsn: VSN.to_vec(),
                features: Features::NONE,
            })
            .collect(),
        user_state: Vec::new(),
    }
}

/// A group of one case, with the run-time budget and per-message
/// throughput every case shares.
fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g
}

/// Encode into a reused buffer and decode the message alone (no packet
/// envelope), for the fixed-shape messages sent one per packet.
fn bench_single(c: &mut Criterion, name: &str, msg: &Message) {
    let mut g = group(c, name);
    let mut buf = Vec::with_capacity(1500);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(msg).encode(Context::Packet, &mut buf);
            black_box(&buf);
        })
    });
    buf.clear();
    msg.encode(Context::Packet, &mut buf);
    // Check once, outside the timed loop, that the decode being measured
    // succeeds rather than failing fast.
    assert_eq!(Message::decode(&buf, Context::Packet).as_ref(), Ok(msg));
    g.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&buf), Context::Packet))
    });
    g.finish();
}

fn messages(c: &mut Criterion) {
    let ping = Message::Ping(Ping {
        seq_no: 48_213,
        node: node_name(42),
        source_addr: node_addr(7),
        source_port: PORT,
        source_node: node_name(7),
    });
    bench_single(c, "ping", &ping);
    bench_single(
        c,
        "ack",
        &Message::Ack(Ack {
            seq_no: 48_213,
            payload: None,
        }),
    );
    bench_single(c, "alive", &Message::Alive(alive(42)));
    bench_single(c, "user_1KiB", &Message::User(vec![0x5a; 1024]));

    // The same ping as a whole datagram with the CRC prefix (what a
    // protocol-5 peer receives), to show what the packet layer adds.
    let mut msg = Vec::new();
    ping.encode(Context::Packet, &mut msg);
    let mut datagram = Vec::new();
    let crc = Outbound {
        crc: true,
        ..Outbound::default()
    };
    seal_packet(&msg, &crc, &mut datagram).unwrap();
    let inbound = Inbound::default();
    assert_eq!(
        decode_packet(&datagram, &inbound).unwrap().messages,
        [Ok(ping)]
    );
    let mut g = group(c, "ping_packet");
    g.bench_function("decode", |b| {
        b.iter(|| decode_packet(black_box(&datagram), &inbound))
    });
    g.finish();
}

/// Ten alives in one compound datagram with the CRC prefix: the shape of
/// gossip traffic. Encoding covers the messages, the compound and the CRC.
fn compound(c: &mut Criterion) {
    let alives: Vec<Message> = (0..10).map(|i| Message::Alive(alive(i))).collect();
    let crc = Outbound {
        crc: true,
        ..Outbound::default()
    };
    let mut parts: Vec<Vec<u8>> = vec![Vec::with_capacity(128); alives.len()];
    let mut body = Vec::with_capacity(1500);
    let mut datagram = Vec::with_capacity(1500);
    let encode = |parts: &mut [Vec<u8>], body: &mut Vec<u8>, datagram: &mut Vec<u8>| {
        for (part, msg) in parts.iter_mut().zip(black_box(&alives)) {
            part.clear();
            msg.encode(Context::Packet, part);
        }
        body.clear();
        encode_compound(parts, body).unwrap();
        datagram.clear();
        seal_packet(body, &crc, datagram).unwrap();
    };
    let mut g = group(c, "compound_10_alive");
    g.bench_function("encode", |b| {
        b.iter(|| {
            encode(&mut parts, &mut body, &mut datagram);
            black_box(&datagram);
        })
    });
    // Encoded again here: a filter may have skipped the encode benchmark.
    encode(&mut parts, &mut body, &mut datagram);
    let inbound = Inbound::default();
    let decoded = decode_packet(&datagram, &inbound).unwrap();
    assert_eq!(
        decoded.messages,
        alives.into_iter().map(Ok).collect::<Vec<_>>()
    );
    g.bench_function("decode", |b| {
        b.iter(|| decode_packet(black_box(&datagram), &inbound))
    });
    g.finish();
}

/// A periodic push/pull of 100 nodes over an encrypted, compressed stream,
/// sealed by the dialer and read by the listener.
fn push_pull_stream(c: &mut Criterion, name: &str, compression: Compression) {
    let keyring = Keyring::with_primary(&KEY).unwrap();
    let msg = Message::PushPull(push_pull_state(100));
    let outbound = StreamOutbound {
        dialer: true,
        compression: Some(compression),
        encryption: Some(Encryption {
            keyring: &keyring,
            version: EncryptionVersion::V1,
            nonce: NONCE,
        }),
        ..StreamOutbound::default()
    };
    let inbound = Inbound {
        keyring: Some(&keyring),
        verify_incoming: true,
        ..Inbound::default()
    };
    let mut out = Vec::new();
    let mut g = group(c, name);
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            seal_stream(black_box(&msg), &outbound, &mut out).unwrap();
            black_box(&out);
        })
    });
    // Sealed again here: a filter may have skipped the encode benchmark.
    out.clear();
    seal_stream(&msg, &outbound, &mut out).unwrap();
    let decoded = read_stream(&out, &inbound, true).unwrap().unwrap();
    assert_eq!(decoded.message, msg);
    assert_eq!(decoded.consumed, out.len());
    g.bench_function("decode", |b| {
        b.iter(|| read_stream(black_box(&out), &inbound, true))
    });
    g.finish();
}

fn push_pull(c: &mut Criterion) {
    push_pull_stream(c, "push_pull_100_aes128_lzw", Compression::Lzw);
    push_pull_stream(c, "push_pull_100_aes128_lz4", Compression::Lz4);
}

criterion_group! {
    name = benches;
    // Short runs keep the whole suite to about a minute and a half; the
    // cases are steady enough that 30 samples give tight intervals.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = messages, compound, push_pull
}
criterion_main!(benches);
