//! The wire format of HashiCorp memberlist, byte for byte.
//!
//! This is swimlist's low-level layer: pure encoding and decoding of every
//! message, packet and stream frame, with no I/O, no clocks and no
//! randomness (encryption nonces are passed in). Most users never touch it;
//! it is public for tools that look at live traffic (see
//! `examples/inspect.rs`) and for tests.
//!
//! Layers, from the inside out:
//!
//! * [`Message`] — the typed bodies (ping, ack, alive, push/pull, …), encoded
//!   as msgpack exactly the way Go's go-msgpack writes them.
//! * [`compress`] — the compress wrapper: Go's LZW, and LZ4 between swimlist
//!   peers that advertised it ([`Features::LZ4`]).
//! * [`packet`] — compound messages, the CRC prefix, and the whole
//!   packet pipeline ([`seal_packet`], [`decode_packet`]).
//! * [`stream`] — the stream framing: [`stream_message_len`] finds where a
//!   message ends as bytes arrive, [`read_stream`] decodes it.
//! * [`Keyring`] — AES-GCM envelopes (versions 0 and 1) and key rotation.
//! * [`label`] — the label header that keeps clusters apart.
//! * [`news_age`] — the age stamp swimlist adds to membership news for
//!   peers that ask for it.
//!
//! Decoding never panics and never allocates more than the remaining input
//! justifies (or the fixed limits below); every rejection is a typed
//! [`WireError`].
//!
//! ```
//! use swimlist::wire::{decode_packet, seal_packet, Inbound, Message, Outbound, Ping, Context};
//!
//! let ping = Message::Ping(Ping { seq_no: 7, node: "b".into(), ..Ping::default() });
//! let mut msg = Vec::new();
//! ping.encode(Context::Packet, &mut msg);
//! let mut datagram = Vec::new();
//! seal_packet(&msg, &Outbound { crc: true, ..Outbound::default() }, &mut datagram).unwrap();
//! let decoded = decode_packet(&datagram, &Inbound::default()).unwrap();
//! assert_eq!(decoded.messages, vec![Ok(ping)]);
//! ```

pub mod compress;
mod error;
mod keyring;
pub mod label;
mod message;
mod msgpack;
pub mod news_age;
pub mod packet;
pub mod stream;

pub use compress::Compression;
pub use error::{Context, MsgpackErrorKind, WireError};
pub use keyring::{EncryptionVersion, Keyring, KeyringError, NONCE_SIZE, TAG_SIZE};
pub use message::{
    encode_push_pull, Ack, Alive, Dead, ErrResp, Features, IndirectPing, Message, MessageType,
    Nack, Ping, PushNodeState, PushNodeStateRef, PushPull, Suspect, FEATURES_KEY,
};
pub use msgpack::IntEncoding;
pub use packet::{decode_packet, seal_packet, DecodedPacket, Encryption, Inbound, Layer, Outbound};
pub use stream::{
    read_stream, seal_encoded_stream, seal_stream, stream_message_len, DecodedStream,
    StreamOutbound,
};

/// Largest encrypted stream frame and push/pull user state (20 MiB).
pub const MAX_PUSH_STATE_BYTES: usize = 20 * 1024 * 1024;
/// Most node records one push/pull may declare.
pub const MAX_PUSH_STATE_NODES: usize = 1024 * 1024;
/// Largest reliable (stream) user message (20 MiB).
pub const MAX_USER_MSG_BYTES: usize = 20 * 1024 * 1024;
/// Largest decompressed message (40 MiB), also the budget for all
/// decompression within one packet.
pub const MAX_DECOMPRESSED_BYTES: usize = 2 * MAX_PUSH_STATE_BYTES;
/// Largest node metadata a node may advertise.
pub const META_MAX_SIZE: usize = 512;
/// Oldest protocol version spoken.
pub const PROTOCOL_VERSION_MIN: u8 = 1;
/// Newest protocol version understood (5 = CRC).
pub const PROTOCOL_VERSION_MAX: u8 = 5;
