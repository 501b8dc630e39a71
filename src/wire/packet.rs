//! Packet (UDP) framing: compound messages, the CRC prefix, and the full
//! send and receive pipelines.
//!
//! Sending applies, in order: compression (kept only when smaller), CRC,
//! encryption (additional data = label), label header. Receiving undoes them
//! in reverse and then walks compound and compress containers, with a bound
//! on nesting depth and on total decompressed bytes.

use std::borrow::Cow;
use std::time::Duration;

use super::compress::{encode_compressed, read_compressed, Compression};
use super::error::{Context, WireError};
use super::keyring::{EncryptionVersion, Keyring, NONCE_SIZE};
use super::label::{check_label, put_label_header, split_label};
use super::message::{Message, MessageType};
use super::msgpack::Reader;
use super::news_age::news_age;
use super::MAX_DECOMPRESSED_BYTES;

/// Most parts one compound can hold (the count is one byte).
pub const MAX_COMPOUND_PARTS: usize = 255;
/// Bytes a compound adds per part (its `u16` length), for size budgets.
pub const COMPOUND_OVERHEAD_PER_PART: usize = 2;
/// Bytes a compound adds once (type and count), for size budgets.
pub const COMPOUND_HEADER_OVERHEAD: usize = 2;
/// Deepest nesting of compound/compress containers the decoder follows. Go
/// senders nest at most two (compress around compound).
pub const MAX_NESTING_DEPTH: usize = 8;
/// Shortest message [`seal_packet`] tries to compress. A lone ping, ack or
/// alive message (names and an address) repeats too little to pay for the
/// compress wrapper: a 77-byte ping comes to 83 bytes with LZ4 and 87 with
/// LZW, an 82-byte alive to 103 and 108. Those are most datagrams, and
/// compressing each only to throw the result away cost a twentieth of a
/// large idle cluster's time; a compound of three alive messages (254
/// bytes) compresses to 139.
pub const MIN_COMPRESSIBLE: usize = 128;

/// Appends `07 ‖ n ‖ len₁ … lenₙ ‖ part₁ … partₙ`. Parts must be non-empty
/// (Go v0.2.2 crashes on empty ones), at most 255, each at most 65 535 bytes.
pub fn encode_compound<P: AsRef<[u8]>>(parts: &[P], out: &mut Vec<u8>) -> Result<(), WireError> {
    if parts.len() > MAX_COMPOUND_PARTS
        || parts
            .iter()
            .any(|p| p.as_ref().len() > usize::from(u16::MAX))
    {
        return Err(WireError::CompoundTooLarge);
    }
    if parts.iter().any(|p| p.as_ref().is_empty()) {
        return Err(WireError::EmptyMessage);
    }
    out.push(MessageType::Compound as u8);
    out.push(parts.len() as u8);
    for p in parts {
        out.extend_from_slice(&(p.as_ref().len() as u16).to_be_bytes());
    }
    for p in parts {
        out.extend_from_slice(p.as_ref());
    }
    Ok(())
}

/// The parts of a compound body (after its type byte), and how many declared
/// parts were missing because the data ended early.
pub fn split_compound(body: &[u8]) -> Result<(Vec<&[u8]>, usize), WireError> {
    let (&count, rest) = body.split_first().ok_or(WireError::CompoundMissingCount)?;
    let n = usize::from(count);
    if rest.len() < 2 * n {
        return Err(WireError::CompoundTruncatedLengths { parts: count });
    }
    let (table, mut data) = rest.split_at(2 * n);
    let mut parts = Vec::with_capacity(n);
    for (i, len) in table.chunks_exact(2).enumerate() {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if data.len() < len {
            return Ok((parts, n - i));
        }
        let (part, tail) = data.split_at(len);
        parts.push(part);
        data = tail;
    }
    Ok((parts, 0))
}

/// Appends `0c ‖ crc32(payload) BE ‖ payload`.
pub fn put_crc(payload: &[u8], out: &mut Vec<u8>) {
    out.push(MessageType::HasCrc as u8);
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
}

/// How a packet is protected on the way out.
#[derive(Debug, Clone, Copy)]
pub struct Encryption<'a> {
    /// Its primary key seals the packet.
    pub keyring: &'a Keyring,
    /// Envelope version (see [`EncryptionVersion::for_protocol`]).
    pub version: EncryptionVersion,
    /// 12 fresh random bytes; must never repeat under one key.
    pub nonce: [u8; NONCE_SIZE],
}

/// Settings for [`seal_packet`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Outbound<'a> {
    /// Label for the header and the additional data; empty for none.
    pub label: &'a [u8],
    /// Compression to try; it is used only when it makes the packet
    /// smaller, and not tried on a message under [`MIN_COMPRESSIBLE`] bytes.
    pub compression: Option<Compression>,
    /// Whether to add the CRC prefix (Go does when the recipient's PMax ≥ 5).
    pub crc: bool,
    /// Encryption, when enabled and outgoing traffic is verified.
    pub encryption: Option<Encryption<'a>>,
}

/// Appends one datagram carrying `msg` (a message or compound, starting with
/// its type byte).
pub fn seal_packet(msg: &[u8], cfg: &Outbound<'_>, out: &mut Vec<u8>) -> Result<(), WireError> {
    if msg.is_empty() {
        return Err(WireError::EmptyMessage);
    }
    put_label_header(cfg.label, out)?;
    let compressed = cfg.compression.filter(|_| msg.len() >= MIN_COMPRESSIBLE);
    let compressed = compressed.and_then(|algo| {
        let mut c = Vec::new();
        encode_compressed(algo, msg, &mut c);
        (c.len() < msg.len()).then_some(c)
    });
    let body = compressed.as_deref().unwrap_or(msg);
    match cfg.encryption {
        None if cfg.crc => put_crc(body, out),
        None => out.extend_from_slice(body),
        Some(enc) if cfg.crc => {
            let mut plain = Vec::with_capacity(body.len() + 5);
            put_crc(body, &mut plain);
            enc.keyring
                .encrypt(enc.version, &enc.nonce, &plain, cfg.label, out)?;
        }
        Some(enc) => enc
            .keyring
            .encrypt(enc.version, &enc.nonce, body, cfg.label, out)?,
    }
    Ok(())
}

/// Settings for [`decode_packet`] and the stream reader.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbound<'a> {
    /// The configured label (empty for none).
    pub label: &'a [u8],
    /// Go's `SkipInboundLabelCheck`.
    pub skip_inbound_label_check: bool,
    /// The keyring; encryption is enabled when it holds a key.
    pub keyring: Option<&'a Keyring>,
    /// Go's `GossipVerifyIncoming`: refuse what does not decrypt.
    pub verify_incoming: bool,
}

impl Inbound<'_> {
    pub(crate) fn encryption_enabled(&self) -> bool {
        self.keyring.is_some_and(|k| !k.is_empty())
    }
}

/// One envelope or container met while decoding, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// A label header.
    Label(Vec<u8>),
    /// An AES-GCM envelope; `frame_len` is set for the stream frame
    /// (`0a ‖ len`).
    Encryption {
        /// Envelope version.
        version: EncryptionVersion,
        /// The nonce it carried.
        nonce: [u8; NONCE_SIZE],
        /// Index in the keyring of the key that opened it.
        key_index: usize,
        /// The stream frame's length field, if this was a stream frame.
        frame_len: Option<u32>,
    },
    /// A CRC prefix (verified).
    Crc(u32),
    /// A compress wrapper.
    Compression {
        /// Algorithm.
        algorithm: Compression,
        /// Size of the compressed data.
        compressed_len: usize,
        /// Size after decompression.
        decompressed_len: usize,
    },
    /// A compound container.
    Compound {
        /// Parts present.
        parts: usize,
        /// Declared parts missing because the packet ended early.
        truncated: usize,
    },
}

/// A decoded packet: the layers met and each message found, in order. A
/// message that fails to decode does not stop the others (as in Go, where
/// each compound part is dispatched on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedPacket {
    /// Envelopes and containers, outermost first (containers in the order
    /// they were met).
    pub layers: Vec<Layer>,
    /// Every message, or why it was dropped.
    pub messages: Vec<Result<Message, WireError>>,
    /// The size in bytes of each entry of `messages` as it arrived (after
    /// decompression), type byte included.
    pub message_sizes: Vec<usize>,
    /// The age a swimlist sender stamped on each entry of `messages` (see
    /// [`crate::wire::news_age`]); `None` for all but stamped news.
    pub news_ages: Vec<Option<Duration>>,
}

impl DecodedPacket {
    fn push(&mut self, message: Result<Message, WireError>, bytes: &[u8]) {
        self.messages.push(message);
        self.message_sizes.push(bytes.len());
        self.news_ages.push(news_age(bytes));
    }
}

/// Strips label, encryption and CRC, returning the layers and the payload
/// that starts with a message type byte.
pub fn open_packet<'p>(
    datagram: &'p [u8],
    cfg: &Inbound<'_>,
    layers: &mut Vec<Layer>,
) -> Result<Cow<'p, [u8]>, WireError> {
    if datagram.is_empty() {
        return Err(WireError::EmptyMessage);
    }
    let (label, rest) = split_label(datagram)?;
    let had_header = rest.len() != datagram.len();
    let aad = check_label(label, had_header, cfg.label, cfg.skip_inbound_label_check)?;
    if had_header {
        layers.push(Layer::Label(label.to_vec()));
    }
    let mut payload = Cow::Borrowed(rest);
    if let Some(ring) = cfg.keyring.filter(|k| !k.is_empty()) {
        match ring.decrypt(rest, aad) {
            Ok((plain, key_index)) => {
                let mut nonce = [0; NONCE_SIZE];
                nonce.copy_from_slice(&rest[1..1 + NONCE_SIZE]);
                layers.push(Layer::Encryption {
                    version: if rest[0] == 0 {
                        EncryptionVersion::V0
                    } else {
                        EncryptionVersion::V1
                    },
                    nonce,
                    key_index,
                    frame_len: None,
                });
                payload = Cow::Owned(plain);
            }
            Err(e) if cfg.verify_incoming => return Err(e),
            Err(_) => {}
        }
    }
    if payload.len() >= 5 && payload[0] == MessageType::HasCrc as u8 {
        let expected = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
        let computed = crc32fast::hash(&payload[5..]);
        if expected != computed {
            return Err(WireError::CrcMismatch { expected, computed });
        }
        layers.push(Layer::Crc(expected));
        payload = match payload {
            Cow::Borrowed(b) => Cow::Borrowed(&b[5..]),
            Cow::Owned(mut v) => {
                v.drain(..5);
                Cow::Owned(v)
            }
        };
    }
    if payload.is_empty() {
        return Err(WireError::EmptyMessage);
    }
    Ok(payload)
}

/// Decodes one datagram completely.
pub fn decode_packet(datagram: &[u8], cfg: &Inbound<'_>) -> Result<DecodedPacket, WireError> {
    let mut out = DecodedPacket {
        layers: Vec::new(),
        messages: Vec::new(),
        message_sizes: Vec::new(),
        news_ages: Vec::new(),
    };
    let payload = open_packet(datagram, cfg, &mut out.layers)?;
    let mut budget = MAX_DECOMPRESSED_BYTES;
    walk(&payload, 0, &mut budget, &mut out);
    Ok(out)
}

/// Walks compound and compress containers; every leaf message (or its
/// error) is appended to `out.messages`.
fn walk(msg: &[u8], depth: usize, budget: &mut usize, out: &mut DecodedPacket) {
    let Some(&ty) = msg.first() else {
        out.push(Err(WireError::EmptyMessage), msg);
        return;
    };
    let is_container = ty == MessageType::Compound as u8 || ty == MessageType::Compress as u8;
    if is_container && depth >= MAX_NESTING_DEPTH {
        out.push(
            Err(WireError::NestingTooDeep {
                limit: MAX_NESTING_DEPTH,
            }),
            msg,
        );
        return;
    }
    if ty == MessageType::Compound as u8 {
        match split_compound(&msg[1..]) {
            Ok((parts, truncated)) => {
                out.layers.push(Layer::Compound {
                    parts: parts.len(),
                    truncated,
                });
                for part in parts {
                    walk(part, depth + 1, budget, out);
                }
            }
            Err(e) => out.push(Err(e), msg),
        }
    } else if ty == MessageType::Compress as u8 {
        let mut r = Reader::new(&msg[1..], "compress");
        match read_compressed(&mut r, *budget) {
            Ok(d) => {
                *budget -= d.message.len();
                out.layers.push(Layer::Compression {
                    algorithm: d.algorithm,
                    compressed_len: d.compressed_len,
                    decompressed_len: d.message.len(),
                });
                walk(&d.message, depth + 1, budget, out);
            }
            Err(e) => out.push(Err(e), msg),
        }
    } else {
        out.push(Message::decode(msg, Context::Packet), msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_long_enough_to_gain_are_compressed() {
        for compression in [Compression::Lz4, Compression::Lzw] {
            let sealed = |len: usize| {
                // A user message of zeros: compressible at any length.
                let mut msg = vec![0u8; len];
                msg[0] = 8;
                let cfg = Outbound {
                    compression: Some(compression),
                    ..Outbound::default()
                };
                let mut out = Vec::new();
                seal_packet(&msg, &cfg, &mut out).unwrap();
                out
            };
            let short = sealed(MIN_COMPRESSIBLE - 1);
            assert_eq!(
                short.len(),
                MIN_COMPRESSIBLE - 1,
                "{compression:?}: sent plain"
            );
            let long = sealed(MIN_COMPRESSIBLE);
            assert_eq!(long[0], MessageType::Compress as u8, "{compression:?}");
            assert!(
                long.len() < MIN_COMPRESSIBLE / 2,
                "{compression:?}: {}",
                long.len()
            );
        }
    }

    #[test]
    fn compound_round_trip_and_length() {
        let parts: [&[u8]; 3] = [b"\x00abc", b"\x02de", b"\x08f"];
        let mut out = Vec::new();
        encode_compound(&parts, &mut out).unwrap();
        assert_eq!(out.len(), 4 + 3 + 2 + 2 + 3 * 2);
        let (got, truncated) = split_compound(&out[1..]).unwrap();
        assert_eq!(got, parts);
        assert_eq!(truncated, 0);
    }

    #[test]
    fn compound_truncation_keeps_earlier_parts() {
        let parts: [&[u8]; 3] = [b"\x00abc", b"\x02de", b"\x08fgh"];
        let mut out = Vec::new();
        encode_compound(&parts, &mut out).unwrap();
        out.truncate(out.len() - 2);
        let (got, truncated) = split_compound(&out[1..]).unwrap();
        assert_eq!(got, &parts[..2]);
        assert_eq!(truncated, 1);
        assert_eq!(
            split_compound(&[0x80]),
            Err(WireError::CompoundTruncatedLengths { parts: 128 })
        );
        assert_eq!(split_compound(&[]), Err(WireError::CompoundMissingCount));
    }

    #[test]
    fn compound_encoder_refuses_what_go_cannot_read() {
        let mut out = Vec::new();
        let many = vec![vec![8u8]; 256];
        assert_eq!(
            encode_compound(&many, &mut out),
            Err(WireError::CompoundTooLarge)
        );
        let big = [vec![8u8; 65_536]];
        assert_eq!(
            encode_compound(&big, &mut out),
            Err(WireError::CompoundTooLarge)
        );
        let empty: [&[u8]; 2] = [b"\x08", b""];
        assert_eq!(
            encode_compound(&empty, &mut out),
            Err(WireError::EmptyMessage)
        );
    }
}
