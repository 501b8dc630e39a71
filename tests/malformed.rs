//! Input limits and malformed inputs, numbered as in Go memberlist's list
//! of rejection rules: every case the wire layer can see, each asserting its specific typed error.
//!
//! Cases 12 (handoff queue full), 13 (ping for another name), 14 (ack/nack
//! for an unknown sequence number), the concurrency part of 19 (more than
//! 127 push/pulls) and 22 (slow-loris) are decided by the protocol state
//! machine and the runtime, not by decoding; their tests live with those
//! layers. For them this file checks the wire-level half: the messages
//! decode, so the layers above can apply their rule.

use swimlist::wire::compress::{encode_compressed, lzw_compress};
use swimlist::wire::packet::{encode_compound, put_crc, MAX_NESTING_DEPTH};
use swimlist::wire::{
    decode_packet, read_stream, seal_stream, Alive, Compression, Context, DecodedPacket,
    Encryption, EncryptionVersion, Inbound, Keyring, Layer, Message, MsgpackErrorKind, Ping,
    StreamOutbound, WireError, MAX_DECOMPRESSED_BYTES, MAX_PUSH_STATE_BYTES, MAX_PUSH_STATE_NODES,
    MAX_USER_MSG_BYTES,
};

const KEY: [u8; 16] = [7; 16];

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn plain(data: &[u8]) -> Result<DecodedPacket, WireError> {
    decode_packet(data, &Inbound::default())
}

/// The single message of a packet whose envelopes are fine.
fn only_message(data: &[u8]) -> Result<Message, WireError> {
    let mut decoded = plain(data).expect("envelopes are valid");
    assert_eq!(decoded.messages.len(), 1, "{:?}", decoded.messages);
    decoded.messages.remove(0)
}

fn msgpack_kind(r: Result<Message, WireError>) -> (Option<&'static str>, MsgpackErrorKind) {
    match r {
        Err(WireError::Msgpack { field, kind, .. }) => (field, kind),
        other => panic!("expected a msgpack error, got {other:?}"),
    }
}

fn ping_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    Message::Ping(Ping {
        seq_no: 1,
        node: "n".into(),
        ..Ping::default()
    })
    .encode(Context::Packet, &mut b);
    b
}

fn keyed(ring: &Keyring) -> Inbound<'_> {
    Inbound {
        keyring: Some(ring),
        verify_incoming: true,
        ..Inbound::default()
    }
}

fn seal(ring: &Keyring, version: EncryptionVersion, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ring.encrypt(version, &[3; 12], plaintext, b"", &mut out)
        .unwrap();
    out
}

// ---- packets ----------------------------------------------------------

#[test]
fn case_01_empty_messages_at_every_level() {
    assert_eq!(plain(&[]), Err(WireError::EmptyMessage));
    let mut crc_of_nothing = Vec::new();
    put_crc(&[], &mut crc_of_nothing);
    assert_eq!(plain(&crc_of_nothing), Err(WireError::EmptyMessage));
    assert_eq!(
        only_message(&hex("07 01 00 00")),
        Err(WireError::EmptyMessage)
    );
}

#[test]
fn case_02_label_headers() {
    assert_eq!(plain(&hex("f4")), Err(WireError::LabelTruncated));
    assert_eq!(plain(&hex("f4 00 00")), Err(WireError::LabelEmpty));
    assert_eq!(plain(&hex("f4 05 61")), Err(WireError::LabelTruncated));
    let mut labelled = hex("f4 01 61");
    labelled.extend(ping_bytes());
    assert_eq!(
        plain(&labelled),
        Err(WireError::LabelMismatch {
            expected: vec![],
            found: b"a".to_vec()
        })
    );
    let expects_b = Inbound {
        label: b"b",
        ..Inbound::default()
    };
    assert!(matches!(
        decode_packet(&labelled, &expects_b),
        Err(WireError::LabelMismatch { .. })
    ));
    assert!(matches!(
        decode_packet(&ping_bytes(), &expects_b),
        Err(WireError::LabelMismatch { .. })
    ));
    let skipping = Inbound {
        label: b"a",
        skip_inbound_label_check: true,
        ..Inbound::default()
    };
    assert_eq!(
        decode_packet(&labelled, &skipping),
        Err(WireError::UnexpectedLabel)
    );
    assert!(decode_packet(&ping_bytes(), &skipping).is_ok());
}

#[test]
fn case_03_encrypted_packets() {
    let ring = Keyring::with_primary(&KEY).unwrap();
    let cfg = keyed(&ring);
    assert_eq!(
        decode_packet(&hex("f4 01 61"), &Inbound { label: b"a", ..cfg }),
        Err(WireError::EncryptedEmpty)
    );
    assert_eq!(
        decode_packet(&[2; 40], &cfg),
        Err(WireError::UnsupportedEncryptionVersion(2))
    );
    assert_eq!(
        decode_packet(&hex("01"), &cfg),
        Err(WireError::EncryptedTooShort { len: 1, min: 29 })
    );
    assert_eq!(
        decode_packet(&[0; 44], &cfg),
        Err(WireError::EncryptedTooShort { len: 44, min: 45 })
    );
    let other = Keyring::with_primary(&[8; 32]).unwrap();
    let foreign = seal(&other, EncryptionVersion::V1, &ping_bytes());
    assert_eq!(
        decode_packet(&foreign, &cfg),
        Err(WireError::DecryptionFailed)
    );
    // Without GossipVerifyIncoming an undecryptable packet is read as
    // plaintext (the migration path from plaintext to encrypted gossip).
    let lenient = Inbound {
        verify_incoming: false,
        ..cfg
    };
    let decoded = decode_packet(&ping_bytes(), &lenient).unwrap();
    assert!(matches!(decoded.messages[..], [Ok(Message::Ping(_))]));
    assert!(decoded.layers.is_empty());
}

#[test]
fn case_04_v0_padding_from_a_key_holder() {
    let ring = Keyring::with_primary(&KEY).unwrap();
    for last in [0u8, 17, 64] {
        let mut body = ping_bytes();
        body.resize(32, 1);
        body.push(last);
        let mut sealed = seal(&ring, EncryptionVersion::V1, &body);
        sealed[0] = 0;
        assert_eq!(
            decode_packet(&sealed, &keyed(&ring)),
            Err(WireError::InvalidPadding)
        );
    }
}

#[test]
fn case_05_crc() {
    let mut good = Vec::new();
    put_crc(&ping_bytes(), &mut good);
    assert!(plain(&good).is_ok());
    let mut bad = good.clone();
    bad[1] ^= 0xff;
    assert!(matches!(plain(&bad), Err(WireError::CrcMismatch { .. })));
    assert_eq!(
        only_message(&hex("0c 00 00 00")),
        Err(WireError::UnexpectedMessageType {
            ty: 12,
            context: Context::Packet
        })
    );
    assert!(matches!(
        plain(&hex("0c de ad be ef 00")),
        Err(WireError::CrcMismatch {
            expected: 0xdeadbeef,
            ..
        })
    ));
}

#[test]
fn case_06_compounds() {
    assert_eq!(
        only_message(&hex("07")),
        Err(WireError::CompoundMissingCount)
    );
    assert_eq!(
        only_message(&hex("07 80")),
        Err(WireError::CompoundTruncatedLengths { parts: 128 })
    );
    let truncated = plain(&hex("07 02 00 05 00 05 00")).unwrap();
    assert!(truncated.messages.is_empty());
    assert_eq!(
        truncated.layers,
        vec![Layer::Compound {
            parts: 0,
            truncated: 2
        }]
    );
    // A declared part longer than the rest: earlier parts still count.
    let mut partial = Vec::new();
    encode_compound(&[ping_bytes(), ping_bytes()], &mut partial).unwrap();
    partial.truncate(partial.len() - 1);
    let decoded = plain(&partial).unwrap();
    assert!(matches!(decoded.messages[..], [Ok(Message::Ping(_))]));
    assert_eq!(
        decoded.layers,
        vec![Layer::Compound {
            parts: 1,
            truncated: 1
        }]
    );
}

#[test]
fn case_06_nesting_is_bounded() {
    // 4 bytes per compound level: a 64 KiB datagram nests ~16 000 deep.
    let ping = ping_bytes();
    let levels = 16_000;
    let mut msg = Vec::with_capacity(levels * 4 + ping.len());
    for i in 0..levels {
        let inner = (ping.len() + 4 * (levels - i - 1)) as u16;
        msg.extend([7, 1]);
        msg.extend(inner.to_be_bytes());
    }
    msg.extend(&ping);
    let decoded = plain(&msg).unwrap();
    assert_eq!(
        decoded.messages,
        vec![Err(WireError::NestingTooDeep {
            limit: MAX_NESTING_DEPTH
        })]
    );
    assert_eq!(decoded.layers.len(), MAX_NESTING_DEPTH);
    // Compress wrappers count towards the same depth.
    let mut nested = ping_bytes();
    for _ in 0..MAX_NESTING_DEPTH {
        let mut wrapped = Vec::new();
        encode_compressed(Compression::Lzw, &nested, &mut wrapped);
        nested = wrapped;
    }
    assert!(matches!(
        plain(&nested).unwrap().messages[..],
        [Ok(Message::Ping(_))]
    ));
    let mut too_deep = Vec::new();
    encode_compressed(Compression::Lzw, &nested, &mut too_deep);
    assert_eq!(
        plain(&too_deep).unwrap().messages,
        vec![Err(WireError::NestingTooDeep {
            limit: MAX_NESTING_DEPTH
        })]
    );
}

#[test]
fn case_07_compress_wrappers() {
    assert!(matches!(
        only_message(&hex("09 c3")),
        Err(WireError::Msgpack { .. })
    ));
    // Algo 1 is LZ4 for swimlist (Go rejects it): an empty LZ4 buffer.
    assert_eq!(
        only_message(&hex("09 82 a4 41 6c 67 6f 01 a3 42 75 66 a0")),
        Err(WireError::Lz4Invalid)
    );
    assert_eq!(
        only_message(&hex("09 82 a4 41 6c 67 6f 02 a3 42 75 66 a0")),
        Err(WireError::UnknownCompressionAlgorithm(2))
    );
    assert_eq!(
        msgpack_kind(only_message(&hex(
            "09 82 a4 41 6c 67 6f cd 01 00 a3 42 75 66 a0"
        ))),
        (Some("Algo"), MsgpackErrorKind::IntegerOutOfRange(256))
    );
    assert_eq!(
        only_message(&hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66 a0")),
        Err(WireError::LzwTruncated)
    );
    assert_eq!(
        only_message(&hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66 a3 00 03 02")),
        Err(WireError::DecompressedEmpty)
    );
    let mut truncated_lzw = lzw_compress(&ping_bytes());
    truncated_lzw.truncate(truncated_lzw.len() - 2);
    let mut wrapper = hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66");
    wrapper.push(0xa0 | truncated_lzw.len() as u8);
    wrapper.extend(&truncated_lzw);
    assert_eq!(only_message(&wrapper), Err(WireError::LzwTruncated));
    // Code 0x1ff (511) right after the clear code is undefined.
    assert_eq!(
        only_message(&hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66 a3 00 fe ff")),
        Err(WireError::LzwInvalid)
    );
}

#[test]
fn case_07_and_limits_decompression_cap() {
    // Go's TestDecompressPayload_Limit: 40 MiB + 1 rejected, 20 MiB + 1 fine.
    let mut bomb = Vec::new();
    encode_compressed(
        Compression::Lzw,
        &vec![0; MAX_DECOMPRESSED_BYTES + 1],
        &mut bomb,
    );
    assert!(bomb.len() < 65_536, "fits one datagram: {}", bomb.len());
    assert_eq!(
        only_message(&bomb),
        Err(WireError::DecompressedTooLarge {
            limit: MAX_DECOMPRESSED_BYTES
        })
    );
    let mut fine = Vec::new();
    let mut big_user = vec![8u8];
    big_user.resize(MAX_PUSH_STATE_BYTES + 1, 0);
    encode_compressed(Compression::Lzw, &big_user, &mut fine);
    assert!(matches!(only_message(&fine), Ok(Message::User(p)) if p.len() == MAX_PUSH_STATE_BYTES));
    // The cap is a budget for the whole packet, not per wrapper.
    let mut half = vec![8u8];
    half.resize(MAX_DECOMPRESSED_BYTES / 2 + 10, 0);
    let mut part = Vec::new();
    encode_compressed(Compression::Lzw, &half, &mut part);
    let mut twice = Vec::new();
    encode_compound(&[&part, &part], &mut twice).unwrap();
    let decoded = plain(&twice).unwrap();
    assert!(matches!(decoded.messages[0], Ok(Message::User(_))));
    assert!(matches!(
        decoded.messages[1],
        Err(WireError::DecompressedTooLarge { .. })
    ));
}

#[test]
fn case_08_msgpack_bodies() {
    // SeqNo as a string.
    assert_eq!(
        msgpack_kind(only_message(&hex("00 81 a5 53 65 71 4e 6f a1 31"))),
        (Some("SeqNo"), MsgpackErrorKind::UnexpectedType(0xa1))
    );
    // Truncated body.
    assert_eq!(
        msgpack_kind(only_message(&hex("00 82 a4 4e 6f 64 65 a1"))),
        (Some("Node"), MsgpackErrorKind::Truncated)
    );
    // Port 65 536 in an alive, negative SeqNo in a nack.
    assert_eq!(
        msgpack_kind(only_message(&hex("04 81 a4 50 6f 72 74 ce 00 01 00 00"))),
        (Some("Port"), MsgpackErrorKind::IntegerOutOfRange(65_536))
    );
    assert_eq!(
        msgpack_kind(only_message(&hex("0b 81 a5 53 65 71 4e 6f ff"))),
        (Some("SeqNo"), MsgpackErrorKind::IntegerOutOfRange(-1))
    );
    // A float where an integer belongs.
    assert_eq!(
        msgpack_kind(only_message(&hex("0b 81 a5 53 65 71 4e 6f ca 00 00 00 00"))),
        (Some("SeqNo"), MsgpackErrorKind::UnexpectedType(0xca))
    );
    // Huge declared lengths are refused before anything is allocated.
    assert_eq!(
        msgpack_kind(only_message(&hex("04 81 a4 4d 65 74 61 db ff ff ff ff"))),
        (Some("Meta"), MsgpackErrorKind::Truncated)
    );
    assert_eq!(
        msgpack_kind(only_message(&hex("04 df ff ff ff ff"))),
        (None, MsgpackErrorKind::Truncated)
    );
    // A non-UTF-8 node name.
    assert_eq!(
        msgpack_kind(only_message(&hex("05 81 a4 4e 6f 64 65 a1 ff"))),
        (Some("Node"), MsgpackErrorKind::InvalidUtf8)
    );
    // Go accepts a nil body as all-zero fields; so do we (matching Go keeps
    // a cluster's view identical across implementations).
    assert_eq!(
        only_message(&hex("0b c0")),
        Ok(Message::Nack(swimlist::wire::Nack { seq_no: 0 }))
    );
}

#[test]
fn case_08_decoding_is_as_lenient_as_go() {
    // str8 and bin for strings/bytes, an unknown key of nested type,
    // duplicate keys (last wins), struct as a positional array, int as bool.
    let lenient = hex(concat!(
        "01 86",
        "a4 4e 6f 64 65 d9 01 62",          // Node: str8 "b"
        "a6 54 61 72 67 65 74 c4 02 0a 0b", // Target: bin8
        "a3 58 78 78 92 81 a1 61 c0 90",    // Xxx: [{a: nil}, []] (ignored)
        "a5 53 65 71 4e 6f 01",             // SeqNo: 1
        "a5 53 65 71 4e 6f 02",             // SeqNo: 2 (wins)
        "a4 4e 61 63 6b 01",                // Nack: 1 → true
    ));
    match only_message(&lenient) {
        Ok(Message::IndirectPing(p)) => {
            assert_eq!((p.seq_no, p.node.as_str(), p.nack), (2, "b", true));
            assert_eq!(p.target, [10, 11]);
        }
        other => panic!("{other:?}"),
    }
    // ackResp as an array in declaration order: [SeqNo, Payload as int array].
    assert_eq!(
        only_message(&hex("02 92 05 92 01 02")),
        Ok(Message::Ack(swimlist::wire::Ack {
            seq_no: 5,
            payload: Some(vec![1, 2])
        }))
    );
}

#[test]
fn case_09_and_10_any_vsn_and_addr_length_decodes() {
    // Versions and addresses of any length reach the state machine, which
    // applies Go's rules (use versions only with ≥6 bytes, etc.).
    for (input, vsn, addr) in [
        ("04 81 a3 56 73 6e a2 01 05", vec![1, 5], vec![]),
        ("04 81 a3 56 73 6e a3 00 00 00", vec![0, 0, 0], vec![]),
        ("04 81 a4 41 64 64 72 a3 01 02 03", vec![], vec![1, 2, 3]),
    ] {
        assert_eq!(
            only_message(&hex(input)),
            Ok(Message::Alive(Alive {
                vsn,
                addr,
                ..Alive::default()
            }))
        );
    }
}

#[test]
fn case_11_unknown_and_misplaced_types() {
    assert_eq!(
        only_message(&[200, 1, 2]),
        Err(WireError::UnknownMessageType(200))
    );
    for ty in [6u8, 10, 13] {
        assert_eq!(
            only_message(&[ty, 0x80]),
            Err(WireError::UnexpectedMessageType {
                ty,
                context: Context::Packet
            }),
            "type {ty}"
        );
    }
    // CRC and label are only recognised outermost.
    let mut crc = Vec::new();
    put_crc(&ping_bytes(), &mut crc);
    let label = hex("f4 01 61 00 80");
    let mut compound = Vec::new();
    encode_compound(&[&crc, &label], &mut compound).unwrap();
    assert_eq!(
        plain(&compound).unwrap().messages,
        vec![
            Err(WireError::UnexpectedMessageType {
                ty: 12,
                context: Context::Packet
            }),
            Err(WireError::UnexpectedMessageType {
                ty: 244,
                context: Context::Packet
            })
        ]
    );
}

#[test]
fn cases_12_to_14_decode_for_the_state_machine() {
    // A ping for another node and an ack for an unknown sequence number are
    // well-formed: the state machine ignores them (tested there).
    let ping = only_message(&ping_bytes()).unwrap();
    assert!(matches!(ping, Message::Ping(p) if p.node == "n"));
    assert!(matches!(
        only_message(&hex("02 82 a7 50 61 79 6c 6f 61 64 c0 a5 53 65 71 4e 6f cd 12 34")),
        Ok(Message::Ack(a)) if a.seq_no == 0x1234
    ));
}

// ---- streams ----------------------------------------------------------

fn stream(data: &[u8]) -> Result<Option<Message>, WireError> {
    read_stream(data, &Inbound::default(), true).map(|d| d.map(|d| d.message))
}

fn push_pull_header(nodes: &str, user_state_len: &str) -> Vec<u8> {
    hex(&format!(
        "06 83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 {nodes} ac 55 73 65 72 53 74 61 74 65 4c 65 6e {user_state_len}"
    ))
}

#[test]
fn case_15_stream_labels() {
    let cfg = Inbound {
        label: b"x",
        ..Inbound::default()
    };
    assert_eq!(read_stream(&hex("f4"), &cfg, true), Ok(None));
    assert_eq!(
        read_stream(&hex("f4 00 00"), &cfg, true),
        Err(WireError::LabelEmpty)
    );
    assert!(matches!(
        read_stream(&hex("f4 01 79 00"), &cfg, true),
        Err(WireError::LabelMismatch { .. })
    ));
    assert!(matches!(
        read_stream(&ping_bytes(), &cfg, true),
        Err(WireError::LabelMismatch { .. })
    ));
}

#[test]
fn case_16_eof_before_the_first_byte() {
    // Nothing yet is "need more": on EOF the runtime closes silently.
    assert_eq!(stream(&[]), Ok(None));
}

#[test]
fn case_17_encrypted_streams() {
    let ring = Keyring::with_primary(&KEY).unwrap();
    let cfg = keyed(&ring);
    let sealed = |msg: &Message| {
        let mut out = Vec::new();
        let enc = StreamOutbound {
            encryption: Some(Encryption {
                keyring: &ring,
                version: EncryptionVersion::V1,
                nonce: [1; 12],
            }),
            ..StreamOutbound::default()
        };
        seal_stream(msg, &enc, &mut out).unwrap();
        out
    };
    let frame = sealed(&Message::User(b"hi".to_vec()));
    assert_eq!(stream(&frame), Err(WireError::EncryptionNotConfigured));
    assert_eq!(
        read_stream(&ping_bytes(), &cfg, true),
        Err(WireError::EncryptionRequired)
    );
    assert_eq!(
        read_stream(&hex("0a 01 40 00 01"), &cfg, true),
        Err(WireError::FrameTooLarge {
            len: 20_971_521,
            limit: MAX_PUSH_STATE_BYTES as u64
        })
    );
    assert_eq!(read_stream(&frame[..frame.len() - 1], &cfg, true), Ok(None));
    assert_eq!(
        read_stream(&hex("0a 00 00 00 02 01 00"), &cfg, true),
        Err(WireError::EncryptedTooShort { len: 2, min: 29 })
    );
    let mut tampered = frame.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        read_stream(&tampered, &cfg, true),
        Err(WireError::DecryptionFailed)
    );
    // Go panics on an empty plaintext; only a key holder can make one.
    let mut empty = hex("0a 00 00 00 1d");
    let aad = empty.clone();
    ring.encrypt(EncryptionVersion::V1, &[2; 12], &[], &aad, &mut empty)
        .unwrap();
    assert_eq!(
        read_stream(&empty, &cfg, true),
        Err(WireError::EmptyPlaintext)
    );
    // Inside a whole frame, running out of bytes is final, not "need more":
    // a push/pull declaring one record and carrying none.
    let inner = push_pull_header("01", "00");
    let n = EncryptionVersion::V1.encrypted_len(inner.len()) as u32;
    let mut short_inner = vec![10];
    short_inner.extend(n.to_be_bytes());
    let aad = short_inner.clone();
    ring.encrypt(
        EncryptionVersion::V1,
        &[2; 12],
        &inner,
        &aad,
        &mut short_inner,
    )
    .unwrap();
    assert!(matches!(
        read_stream(&short_inner, &cfg, true),
        Err(WireError::Msgpack {
            kind: MsgpackErrorKind::Truncated,
            ..
        })
    ));
}

#[test]
fn case_18_compressed_streams() {
    assert_eq!(
        stream(&hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66 a3 00 03 02")),
        Err(WireError::DecompressedEmpty)
    );
    assert_eq!(
        stream(&hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66 a3 00 fe ff")),
        Err(WireError::LzwInvalid)
    );
    // Only one level of compression is unwrapped on streams.
    let mut twice = Vec::new();
    let mut once = Vec::new();
    encode_compressed(Compression::Lzw, &ping_bytes(), &mut once);
    encode_compressed(Compression::Lzw, &once, &mut twice);
    assert_eq!(
        stream(&twice),
        Err(WireError::UnexpectedMessageType {
            ty: 9,
            context: Context::Stream
        })
    );
}

#[test]
fn case_19_push_pull_limits() {
    assert_eq!(
        stream(&push_pull_header("ff", "00")),
        Err(WireError::NodeCountOutOfRange(-1))
    );
    // Go's TestReadRemoteState_Limits: 10 000 000 nodes, 30 000 000 bytes.
    assert_eq!(
        stream(&push_pull_header("d2 00 98 96 80", "00")),
        Err(WireError::NodeCountOutOfRange(10_000_000))
    );
    assert_eq!(
        stream(&push_pull_header("00", "ce 01 c9 c3 80")),
        Err(WireError::UserStateLenOutOfRange(30_000_000))
    );
    assert_eq!(
        stream(&push_pull_header("00", "f6")),
        Err(WireError::UserStateLenOutOfRange(-10))
    );
    let at_limit = format!("ce {:08x}", MAX_PUSH_STATE_NODES);
    // Exactly the limit is allowed, and with no records yet it just needs
    // more bytes: nothing was reserved for a million records.
    assert_eq!(stream(&push_pull_header(&at_limit, "00")), Ok(None));
    let over = format!("ce {:08x}", MAX_PUSH_STATE_NODES + 1);
    assert_eq!(
        stream(&push_pull_header(&over, "00")),
        Err(WireError::NodeCountOutOfRange(
            MAX_PUSH_STATE_NODES as i64 + 1
        ))
    );
    // Fewer records or user-state bytes than declared: still incomplete.
    assert_eq!(stream(&push_pull_header("02", "00")), Ok(None));
    assert_eq!(stream(&push_pull_header("00", "05")), Ok(None));
}

#[test]
fn case_20_reliable_user_message_limits() {
    let header = |len: &str| hex(&format!("08 81 aa 55 73 65 72 4d 73 67 4c 65 6e {len}"));
    assert_eq!(
        stream(&header("ce 01 c9 c3 80")),
        Err(WireError::UserMsgLenOutOfRange(30_000_000))
    );
    assert_eq!(
        stream(&header("ff")),
        Err(WireError::UserMsgLenOutOfRange(-1))
    );
    let limit = format!("ce {:08x}", MAX_USER_MSG_BYTES + 1);
    assert_eq!(
        stream(&header(&limit)),
        Err(WireError::UserMsgLenOutOfRange(
            MAX_USER_MSG_BYTES as i64 + 1
        ))
    );
    let mut short = header("05");
    short.extend(b"abc");
    assert_eq!(stream(&short), Ok(None));
    short.extend(b"de");
    assert_eq!(stream(&short), Ok(Some(Message::User(b"abcde".to_vec()))));
}

#[test]
fn case_21_stream_types() {
    assert_eq!(stream(&[99]), Err(WireError::UnknownMessageType(99)));
    for ty in [1u8, 3, 4, 5, 7, 11, 12] {
        assert_eq!(
            stream(&[ty, 0x80]),
            Err(WireError::UnexpectedMessageType {
                ty,
                context: Context::Stream
            }),
            "type {ty}"
        );
    }
    // The dialer reads an error reply as a message carrying the remote text.
    assert_eq!(
        read_stream(
            &hex("0d 81 a5 45 72 72 6f 72 a4 62 6f 6f 6d"),
            &Inbound::default(),
            false
        )
        .map(|d| d.map(|d| d.message)),
        Ok(Some(Message::Err(swimlist::wire::ErrResp {
            error: "boom".into()
        })))
    );
}
