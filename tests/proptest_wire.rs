//! Property tests for the wire layer.
//!
//! * Every message type survives `Message::encode` / `encode_with` followed
//!   by `Message::decode` in each context that allows it, and is refused in
//!   the context that does not.
//! * The whole packet pipeline (`seal_packet` → `decode_packet`) and stream
//!   pipeline (`seal_stream` → `read_stream`) give back the messages, with
//!   the expected layers, for any label, compression, CRC and encryption
//!   setting; every strict prefix of a stream is "need more bytes".
//! * Arbitrary bytes, and valid encodings with bytes flipped, inserted or
//!   deleted, are answered with `Ok` or `Err`, never a panic, and what the
//!   stream reader accepts stays within the input.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use swimlist::wire::packet::encode_compound;
use swimlist::wire::{
    decode_packet, encode_push_pull, read_stream, seal_packet, seal_stream, stream_message_len,
    Ack, Alive, Compression, Context, Dead, Encryption, EncryptionVersion, ErrResp, Features,
    Inbound, IndirectPing, IntEncoding, Keyring, Layer, Message, Nack, Outbound, Ping,
    PushNodeState, PushPull, StreamOutbound, Suspect, WireError, NONCE_SIZE,
};

/// Cases per property: enough to hit every branch of the generators, small
/// enough for a debug `cargo test` to stay within a few seconds.
const CASES: u32 = 256;

/// The AES-128 key of `tests/vectors/aes` (bytes 00..0f).
const VECTOR_KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// Any Unicode text, short enough that a push/pull of 20 records stays small
/// but long enough to cross the fixstr/str16 boundary at 32 bytes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,12}",
        1 => any::<String>(),
        1 => "[a-z0-9-]{30,40}",
    ]
}

/// An address: usually IPv4 or IPv6 sized, sometimes empty or odd.
fn addr() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        vec(any::<u8>(), 4),
        vec(any::<u8>(), 16),
        bytes(40),
    ]
}

fn features() -> impl Strategy<Value = Features> {
    prop_oneof![
        Just(Features::NONE),
        Just(Features::LZ4),
        any::<u32>().prop_map(Features)
    ]
}

fn ping() -> impl Strategy<Value = Ping> {
    (any::<u32>(), text(), addr(), any::<u16>(), text()).prop_map(
        |(seq_no, node, source_addr, source_port, source_node)| Ping {
            seq_no,
            node,
            source_addr,
            source_port,
            source_node,
        },
    )
}

fn indirect_ping() -> impl Strategy<Value = IndirectPing> {
    (
        (any::<u32>(), addr(), any::<u16>(), text(), any::<bool>()),
        (addr(), any::<u16>(), text()),
    )
        .prop_map(
            |((seq_no, target, port, node, nack), (source_addr, source_port, source_node))| {
                IndirectPing {
                    seq_no,
                    target,
                    port,
                    node,
                    nack,
                    source_addr,
                    source_port,
                    source_node,
                }
            },
        )
}

fn ack() -> impl Strategy<Value = Ack> {
    (any::<u32>(), option::of(bytes(300))).prop_map(|(seq_no, payload)| Ack { seq_no, payload })
}

fn alive() -> impl Strategy<Value = Alive> {
    (
        any::<u32>(),
        text(),
        addr(),
        any::<u16>(),
        option::of(bytes(80)),
        bytes(40),
        features(),
    )
        .prop_map(
            |(incarnation, node, addr, port, meta, vsn, features)| Alive {
                incarnation,
                node,
                addr,
                port,
                meta,
                vsn,
                features,
            },
        )
}

fn push_node() -> impl Strategy<Value = PushNodeState> {
    (
        text(),
        addr(),
        any::<u16>(),
        option::of(bytes(32)),
        any::<u32>(),
        any::<i64>(),
        bytes(8),
        features(),
    )
        .prop_map(
            |(name, addr, port, meta, incarnation, state, vsn, features)| PushNodeState {
                name,
                addr,
                port,
                meta,
                incarnation,
                state,
                vsn,
                features,
            },
        )
}

fn push_pull() -> impl Strategy<Value = PushPull> {
    (any::<bool>(), vec(push_node(), 0..20), bytes(200)).prop_map(|(join, nodes, user_state)| {
        PushPull {
            join,
            nodes,
            user_state,
        }
    })
}

/// Every message a packet may carry.
fn packet_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ping().prop_map(Message::Ping),
        indirect_ping().prop_map(Message::IndirectPing),
        ack().prop_map(Message::Ack),
        any::<u32>().prop_map(|seq_no| Message::Nack(Nack { seq_no })),
        (any::<u32>(), text(), text()).prop_map(|(incarnation, node, from)| {
            Message::Suspect(Suspect {
                incarnation,
                node,
                from,
            })
        }),
        (any::<u32>(), text(), text()).prop_map(|(incarnation, node, from)| {
            Message::Dead(Dead {
                incarnation,
                node,
                from,
            })
        }),
        alive().prop_map(Message::Alive),
        bytes(300).prop_map(Message::User),
    ]
}

/// Every message a stream may carry.
fn stream_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ping().prop_map(Message::Ping),
        ack().prop_map(Message::Ack),
        push_pull().prop_map(Message::PushPull),
        bytes(300).prop_map(Message::User),
        text().prop_map(|error| Message::Err(ErrResp { error })),
    ]
}

fn int_encoding() -> impl Strategy<Value = IntEncoding> {
    prop_oneof![Just(IntEncoding::Signed), Just(IntEncoding::Unsigned)]
}

fn compression() -> impl Strategy<Value = Option<Compression>> {
    prop_oneof![
        Just(None),
        Just(Some(Compression::Lzw)),
        Just(Some(Compression::Lz4))
    ]
}

/// No label, or one of 1..=255 bytes.
fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), 1..=255)]
}

fn aes_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 16),
        vec(any::<u8>(), 24),
        vec(any::<u8>(), 32)
    ]
}

/// How the sender encrypts, and which other keys the receiver holds.
#[derive(Debug, Clone)]
struct Crypto {
    /// The sender's primary key.
    key: Vec<u8>,
    /// Further keys in the receiver's ring; the sender's key sits among them.
    others: Vec<Vec<u8>>,
    /// Where in the receiver's ring the sender's key goes.
    slot: Index,
    version: EncryptionVersion,
    nonce: [u8; NONCE_SIZE],
}

impl Crypto {
    fn sender_ring(&self) -> Keyring {
        Keyring::with_primary(&self.key).expect("generated keys have AES sizes")
    }

    /// The receiver's ring and the index of the sender's key in it.
    fn receiver_ring(&self) -> (Keyring, usize) {
        let mut keys: Vec<&[u8]> = self.others.iter().map(Vec::as_slice).collect();
        keys.insert(self.slot.index(keys.len() + 1), &self.key);
        let ring = Keyring::new(&keys[1..], Some(keys[0])).expect("generated keys have AES sizes");
        let index = ring
            .keys()
            .position(|k| k == self.key.as_slice())
            .expect("the sender's key is installed");
        (ring, index)
    }
}

fn crypto() -> impl Strategy<Value = Crypto> {
    (
        aes_key(),
        vec(aes_key(), 0..3),
        any::<Index>(),
        prop_oneof![Just(EncryptionVersion::V0), Just(EncryptionVersion::V1)],
        any::<[u8; NONCE_SIZE]>(),
    )
        .prop_map(|(key, others, slot, version, nonce)| Crypto {
            key,
            others,
            slot,
            version,
            nonce,
        })
}

/// One way of sending, shared by packets and streams.
#[derive(Debug, Clone)]
struct Setup {
    label: Vec<u8>,
    compression: Option<Compression>,
    crypto: Option<Crypto>,
    /// Without encryption: whether the receiver still holds a key (and, not
    /// verifying incoming traffic, accepts plaintext).
    receiver_has_key: bool,
    verify_incoming: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        label(),
        compression(),
        option::of(crypto()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(label, compression, crypto, receiver_has_key, verify_incoming)| Setup {
                label,
                compression,
                crypto,
                receiver_has_key,
                verify_incoming,
            },
        )
}

/// The receiving side of a [`Setup`]: the ring and the expected key index.
struct Receiver {
    ring: Option<Keyring>,
    key_index: usize,
    verify_incoming: bool,
}

impl Setup {
    fn sender_ring(&self) -> Option<Keyring> {
        self.crypto.as_ref().map(Crypto::sender_ring)
    }

    fn encryption<'a>(&self, ring: Option<&'a Keyring>) -> Option<Encryption<'a>> {
        self.crypto
            .as_ref()
            .zip(ring)
            .map(|(c, keyring)| Encryption {
                keyring,
                version: c.version,
                nonce: c.nonce,
            })
    }

    fn receiver(&self) -> Receiver {
        match &self.crypto {
            Some(c) => {
                let (ring, key_index) = c.receiver_ring();
                Receiver {
                    ring: Some(ring),
                    key_index,
                    verify_incoming: self.verify_incoming,
                }
            }
            None if self.receiver_has_key => Receiver {
                ring: Some(Keyring::with_primary(&VECTOR_KEY).expect("16-byte key")),
                key_index: 0,
                verify_incoming: false,
            },
            None => Receiver {
                ring: None,
                key_index: 0,
                verify_incoming: self.verify_incoming,
            },
        }
    }
}

impl Receiver {
    fn inbound<'a>(&'a self, label: &'a [u8]) -> Inbound<'a> {
        Inbound {
            label,
            skip_inbound_label_check: false,
            keyring: self.ring.as_ref(),
            verify_incoming: self.verify_incoming,
        }
    }
}

/// A single-byte edit of an encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            _ if len == 0 => {}
            Mutation::Flip(i, bit) => bytes[i.index(len)] ^= 1 << bit,
            Mutation::Set(i, b) => bytes[i.index(len)] = *b,
            Mutation::Delete(i) => {
                bytes.remove(i.index(len));
            }
        }
    }
}

/// Arbitrary bytes, half of them starting with a known type byte so the
/// decoders get past the first dispatch.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let typed = (
        prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 244]),
        bytes(2047),
    )
        .prop_map(|(ty, mut rest)| {
            rest.insert(0, ty);
            rest
        });
    prop_oneof![bytes(2048), typed]
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn encoded(msg: &Message, context: Context, ints: IntEncoding) -> Vec<u8> {
    let mut buf = Vec::new();
    msg.encode_with(context, ints, &mut buf);
    buf
}

/// Seals `messages` into one datagram (a compound when there are several).
fn seal_messages(messages: &[Message], s: &Setup, crc: bool) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| encoded(m, Context::Packet, IntEncoding::Signed))
        .collect();
    let msg = match parts.as_slice() {
        [one] => one.clone(),
        many => {
            let mut c = Vec::new();
            encode_compound(many, &mut c).expect("parts are small and non-empty");
            c
        }
    };
    let ring = s.sender_ring();
    let cfg = Outbound {
        label: &s.label,
        compression: s.compression,
        crc,
        encryption: s.encryption(ring.as_ref()),
    };
    let mut datagram = Vec::new();
    seal_packet(&msg, &cfg, &mut datagram).expect("labels are at most 255 bytes");
    datagram
}

/// Seals one stream message from the dialer (`dialer`) or the listener.
fn seal(msg: &Message, s: &Setup, dialer: bool, ints: IntEncoding) -> Vec<u8> {
    let ring = s.sender_ring();
    let cfg = StreamOutbound {
        label: &s.label,
        dialer,
        compression: s.compression,
        encryption: s.encryption(ring.as_ref()),
        ints,
    };
    let mut out = Vec::new();
    seal_stream(msg, &cfg, &mut out).expect("test messages are far below the frame limit");
    out
}

/// Runs every decoder over `bytes` under `cfg`; checks what can be checked
/// of what is accepted: a packet has one size per message and, when verified,
/// an envelope; a stream stays within the input and ignores the rest; a
/// message has the type of its first byte.
fn decode_everything(bytes: &[u8], cfg: &Inbound<'_>) -> Result<(), TestCaseError> {
    if let Ok(packet) = decode_packet(bytes, cfg) {
        prop_assert_eq!(packet.message_sizes.len(), packet.messages.len());
        for (msg, &size) in packet.messages.iter().zip(&packet.message_sizes) {
            prop_assert!(
                msg.is_err() || size >= 1,
                "decoded message of {} bytes",
                size
            );
        }
        if cfg.verify_incoming && cfg.keyring.is_some_and(|k| !k.is_empty()) {
            let first = packet.layers.iter().find(|l| !matches!(l, Layer::Label(_)));
            prop_assert!(
                matches!(first, Some(Layer::Encryption { .. })),
                "verified packet accepted without an envelope: {:?}",
                packet.layers
            );
        }
    }
    for listener in [true, false] {
        if let Ok(Some(stream)) = read_stream(bytes, cfg, listener) {
            prop_assert!(stream.consumed >= 1 && stream.consumed <= bytes.len());
            let cut = read_stream(&bytes[..stream.consumed], cfg, listener);
            prop_assert_eq!(
                stream_message_len(bytes, listener),
                Ok(Some(stream.consumed)),
                "a transport must frame what the node decodes"
            );
            prop_assert_eq!(cut, Ok(Some(stream)));
        }
        if let Ok(Some(len)) = stream_message_len(bytes, listener) {
            prop_assert!(len >= 1 && len <= bytes.len());
        }
    }
    for context in [Context::Packet, Context::Stream] {
        if let Ok(msg) = Message::decode(bytes, context) {
            prop_assert_eq!(msg.message_type() as u8, bytes[0]);
        }
    }
    Ok(())
}

/// The inbound configurations the noise tests try.
fn noise_configs(ring: &Keyring) -> [Inbound<'_>; 5] {
    [
        Inbound::default(),
        Inbound {
            label: b"lbl-1",
            ..Inbound::default()
        },
        Inbound {
            keyring: Some(ring),
            verify_incoming: true,
            ..Inbound::default()
        },
        Inbound {
            label: b"lbl-1",
            keyring: Some(ring),
            verify_incoming: false,
            ..Inbound::default()
        },
        Inbound {
            label: b"lbl-1",
            skip_inbound_label_check: true,
            ..Inbound::default()
        },
    ]
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Packet messages round-trip in the packet context with either integer
    /// encoding; those a stream may not carry are refused there.
    #[test]
    fn packet_messages_round_trip(msg in packet_message()) {
        let mut default = Vec::new();
        msg.encode(Context::Packet, &mut default);
        prop_assert_eq!(&default, &encoded(&msg, Context::Packet, IntEncoding::Signed));
        prop_assert_eq!(default[0], msg.message_type() as u8);
        for ints in [IntEncoding::Signed, IntEncoding::Unsigned] {
            let buf = encoded(&msg, Context::Packet, ints);
            prop_assert_eq!(Message::decode(&buf, Context::Packet), Ok(msg.clone()));
        }
        if !matches!(msg, Message::Ping(_) | Message::Ack(_) | Message::User(_)) {
            prop_assert_eq!(
                Message::decode(&default, Context::Stream),
                Err(WireError::UnexpectedMessageType { ty: default[0], context: Context::Stream })
            );
        }
    }

    /// Stream messages round-trip in the stream context with either integer
    /// encoding; push/pull and err are refused in packets.
    #[test]
    fn stream_messages_round_trip(msg in stream_message()) {
        let mut default = Vec::new();
        msg.encode(Context::Stream, &mut default);
        prop_assert_eq!(&default, &encoded(&msg, Context::Stream, IntEncoding::Signed));
        prop_assert_eq!(default[0], msg.message_type() as u8);
        for ints in [IntEncoding::Signed, IntEncoding::Unsigned] {
            let buf = encoded(&msg, Context::Stream, ints);
            prop_assert_eq!(Message::decode(&buf, Context::Stream), Ok(msg.clone()));
        }
        if matches!(msg, Message::PushPull(_) | Message::Err(_)) {
            prop_assert_eq!(
                Message::decode(&default, Context::Packet),
                Err(WireError::UnexpectedMessageType { ty: default[0], context: Context::Packet })
            );
        }
    }

    /// A push/pull encoded from borrowed records is byte for byte the one
    /// `Message::PushPull` encodes.
    #[test]
    fn push_pull_from_borrowed_records_is_the_same_bytes(pp in push_pull()) {
        for ints in [IntEncoding::Signed, IntEncoding::Unsigned] {
            let mut borrowed = Vec::new();
            let nodes = pp.nodes.iter().map(PushNodeState::as_ref);
            encode_push_pull(pp.join, nodes, &pp.user_state, ints, &mut borrowed);
            let owned = encoded(&Message::PushPull(pp.clone()), Context::Stream, ints);
            prop_assert_eq!(borrowed, owned);
        }
    }

    /// `seal_packet` → `decode_packet` gives back every message, and the
    /// layers say exactly which envelopes were used.
    #[test]
    fn packet_pipeline_round_trips(
        messages in vec(packet_message(), 1..6),
        s in setup(),
        crc in any::<bool>(),
    ) {
        let datagram = seal_messages(&messages, &s, crc);
        let receiver = s.receiver();
        let decoded = decode_packet(&datagram, &receiver.inbound(&s.label))
            .map_err(|e| TestCaseError::fail(format!("decode_packet: {e}")))?;
        let expected: Vec<_> = messages.iter().cloned().map(Ok).collect();
        prop_assert_eq!(&decoded.messages, &expected);
        let sizes: Vec<usize> = messages
            .iter()
            .map(|m| encoded(m, Context::Packet, IntEncoding::Signed).len())
            .collect();
        prop_assert_eq!(&decoded.message_sizes, &sizes);

        let mut outer = Vec::new();
        if !s.label.is_empty() {
            outer.push(Layer::Label(s.label.clone()));
        }
        if let Some(c) = &s.crypto {
            outer.push(Layer::Encryption {
                version: c.version,
                nonce: c.nonce,
                key_index: receiver.key_index,
                frame_len: None,
            });
        }
        prop_assert!(decoded.layers.len() >= outer.len());
        let (head, mut inner) = decoded.layers.split_at(outer.len());
        prop_assert_eq!(head, outer.as_slice());
        if crc {
            prop_assert!(matches!(inner.first(), Some(Layer::Crc(_))), "{:?}", inner);
            inner = &inner[1..];
        }
        if let Some(Layer::Compression { algorithm, .. }) = inner.first() {
            prop_assert_eq!(Some(*algorithm), s.compression);
            inner = &inner[1..];
        }
        let compound = [Layer::Compound { parts: messages.len(), truncated: 0 }];
        prop_assert_eq!(inner, if messages.len() > 1 { &compound[..] } else { &[] });
    }

    /// `seal_stream` → `read_stream` gives back the message and uses exactly
    /// its bytes, from the dialer to the listener and back; every strict
    /// prefix asks for more bytes, and what follows the message is ignored.
    /// `stream_message_len` measures the same bytes without the keys.
    #[test]
    fn stream_pipeline_round_trips(
        msg in stream_message(),
        s in setup(),
        dialer in any::<bool>(),
        ints in int_encoding(),
        trailing in bytes(16),
    ) {
        let bytes = seal(&msg, &s, dialer, ints);
        let receiver = s.receiver();
        let cfg = receiver.inbound(&s.label);
        let decoded = read_stream(&bytes, &cfg, dialer)
            .map_err(|e| TestCaseError::fail(format!("read_stream: {e}")))?
            .ok_or_else(|| TestCaseError::fail("whole stream reported incomplete"))?;
        prop_assert_eq!(&decoded.message, &msg);
        prop_assert_eq!(decoded.consumed, bytes.len());

        let mut layers = Vec::new();
        let header = if dialer && !s.label.is_empty() {
            layers.push(Layer::Label(s.label.clone()));
            2 + s.label.len()
        } else {
            0
        };
        if let Some(c) = &s.crypto {
            let frame = u32::try_from(bytes.len() - header - 5).expect("small frame");
            layers.push(Layer::Encryption {
                version: c.version,
                nonce: c.nonce,
                key_index: receiver.key_index,
                frame_len: Some(frame),
            });
        }
        prop_assert_eq!(&decoded.layers[..layers.len()], layers.as_slice());
        match (&decoded.layers[layers.len()..], s.compression) {
            ([Layer::Compression { algorithm, .. }], Some(c)) => prop_assert_eq!(*algorithm, c),
            ([], None) => {}
            (rest, c) => {
                return Err(TestCaseError::fail(format!("layers {rest:?} with compression {c:?}")))
            }
        }

        for end in 0..bytes.len() {
            prop_assert_eq!(read_stream(&bytes[..end], &cfg, dialer), Ok(None), "prefix {}", end);
            prop_assert_eq!(stream_message_len(&bytes[..end], dialer), Ok(None), "prefix {}", end);
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&trailing);
        prop_assert_eq!(stream_message_len(&longer, dialer), Ok(Some(bytes.len())));
        prop_assert_eq!(read_stream(&longer, &cfg, dialer), Ok(Some(decoded)));
    }

    /// Arbitrary bytes never make a decoder panic, whatever the inbound
    /// configuration.
    #[test]
    fn random_bytes_never_panic(bytes in noise()) {
        let ring = Keyring::with_primary(&VECTOR_KEY).expect("16-byte key");
        for cfg in &noise_configs(&ring) {
            decode_everything(&bytes, cfg)?;
        }
    }

    /// Valid datagrams with a few bytes edited are decoded or refused, never
    /// a panic, under the configuration they were sealed for.
    #[test]
    fn mutated_packets_never_panic(
        messages in vec(packet_message(), 1..4),
        s in setup(),
        crc in any::<bool>(),
        edits in vec(mutation(), 1..4),
    ) {
        let mut datagram = seal_messages(&messages, &s, crc);
        mutate(&mut datagram, &edits);
        let receiver = s.receiver();
        decode_everything(&datagram, &receiver.inbound(&s.label))?;
    }

    /// Valid streams with a few bytes edited are decoded or refused, never a
    /// panic, under the configuration they were sealed for.
    #[test]
    fn mutated_streams_never_panic(
        msg in stream_message(),
        s in setup(),
        ints in int_encoding(),
        edits in vec(mutation(), 1..4),
    ) {
        let mut bytes = seal(&msg, &s, true, ints);
        mutate(&mut bytes, &edits);
        let receiver = s.receiver();
        decode_everything(&bytes, &receiver.inbound(&s.label))?;
    }

    /// Bare message encodings with a few bytes edited: the msgpack readers
    /// refuse or accept them in both contexts, never panic.
    #[test]
    fn mutated_messages_never_panic(
        msg in prop_oneof![packet_message(), stream_message()],
        context in prop_oneof![Just(Context::Packet), Just(Context::Stream)],
        ints in int_encoding(),
        edits in vec(mutation(), 1..4),
    ) {
        let mut bytes = encoded(&msg, context, ints);
        mutate(&mut bytes, &edits);
        decode_everything(&bytes, &Inbound::default())?;
    }
}
