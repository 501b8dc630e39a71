//! Typed errors for everything the wire layer rejects.

use std::fmt;

/// Why a msgpack value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsgpackErrorKind {
    /// The input ended inside the value (or a declared length exceeds the
    /// input that is left).
    Truncated,
    /// A msgpack marker byte that this field cannot hold.
    UnexpectedType(u8),
    /// An integer outside the range of the field's Go type.
    IntegerOutOfRange(i128),
    /// A Go `string` field that is not UTF-8.
    InvalidUtf8,
}

/// Where a message was found when its type is not allowed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A UDP packet (including inside compound and compress wrappers).
    Packet,
    /// A TCP stream.
    Stream,
}

/// Everything that can go wrong decoding or encoding memberlist bytes.
///
/// Each variant corresponds to one rejection rule of Go memberlist (or a
/// limit swimlist adds); the runtime drops a packet or closes a stream on
/// any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// A message with no type byte (empty datagram, empty compound part,
    /// empty payload after the CRC prefix or after decompression).
    EmptyMessage,
    /// A type byte that names no memberlist message.
    UnknownMessageType(u8),
    /// A known message type that is not allowed where it was found (e.g.
    /// push/pull in a packet, compound in a stream, CRC inside a compound).
    UnexpectedMessageType {
        /// The type byte.
        ty: u8,
        /// Where it was found.
        context: Context,
    },
    /// A msgpack body could not be decoded.
    Msgpack {
        /// The Go struct being decoded.
        message: &'static str,
        /// The field being decoded, when known.
        field: Option<&'static str>,
        /// What was wrong.
        kind: MsgpackErrorKind,
    },
    /// A label header (`f4 len`) without its length byte or label bytes.
    LabelTruncated,
    /// A label header with length 0.
    LabelEmpty,
    /// The label of a packet or stream differs from the configured one.
    LabelMismatch {
        /// The configured label (empty for none).
        expected: Vec<u8>,
        /// The label that arrived (empty for none).
        found: Vec<u8>,
    },
    /// A label header arrived while the inbound label check is skipped (Go
    /// calls this an unexpected double label).
    UnexpectedLabel,
    /// A label longer than 255 bytes.
    LabelTooLong(usize),
    /// The CRC prefix does not match the payload.
    CrcMismatch {
        /// The checksum carried by the packet.
        expected: u32,
        /// The checksum of the payload as received.
        computed: u32,
    },
    /// A compound message without its part count.
    CompoundMissingCount,
    /// A compound whose length table is shorter than `2 × parts` bytes.
    CompoundTruncatedLengths {
        /// The declared number of parts.
        parts: u8,
    },
    /// More than 255 parts, or a part longer than 65 535 bytes, given to the
    /// compound encoder.
    CompoundTooLarge,
    /// Compound/compress wrappers nested deeper than the decoder allows.
    NestingTooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A compress wrapper naming an algorithm this node does not read.
    UnknownCompressionAlgorithm(u8),
    /// LZW data that ended before its end code.
    LzwTruncated,
    /// LZW data with an undefined code.
    LzwInvalid,
    /// LZ4 data that does not decode to its declared size.
    Lz4Invalid,
    /// Decompressed output would exceed the limit.
    DecompressedTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Decompression produced no bytes.
    DecompressedEmpty,
    /// An encrypted payload with no bytes at all.
    EncryptedEmpty,
    /// An encryption envelope version other than 0 or 1.
    UnsupportedEncryptionVersion(u8),
    /// An encrypted payload shorter than its version's minimum.
    EncryptedTooShort {
        /// Bytes present.
        len: usize,
        /// Minimum for the envelope version.
        min: usize,
    },
    /// No installed key authenticates the message.
    DecryptionFailed,
    /// A version 0 (PKCS#7) plaintext whose padding is not valid.
    InvalidPadding,
    /// The keyring is empty but encryption was requested.
    NoEncryptionKey,
    /// An encrypted stream frame arrived but no key is configured.
    EncryptionNotConfigured,
    /// A plaintext stream arrived while encryption with verified incoming
    /// traffic is configured.
    EncryptionRequired,
    /// An encrypted stream frame longer than the limit.
    FrameTooLarge {
        /// Declared frame length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A decrypted stream frame with no plaintext.
    EmptyPlaintext,
    /// A push/pull header whose `Nodes` is negative or above the limit.
    NodeCountOutOfRange(i64),
    /// A push/pull header whose `UserStateLen` is negative or above the limit.
    UserStateLenOutOfRange(i64),
    /// A user message header whose `UserMsgLen` is negative or above the limit.
    UserMsgLenOutOfRange(i64),
    /// A complete stream message ended before all its declared parts (node
    /// records, user state or user payload).
    Truncated,
}

impl WireError {
    /// Whether this is a label problem (missing, malformed or mismatched
    /// label header), on which Go closes a stream without an error reply.
    pub fn is_label_error(&self) -> bool {
        matches!(
            self,
            Self::LabelMismatch { .. }
                | Self::LabelEmpty
                | Self::LabelTruncated
                | Self::UnexpectedLabel
        )
    }
}

impl fmt::Display for MsgpackErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("value truncated"),
            Self::UnexpectedType(b) => write!(f, "unexpected msgpack marker 0x{b:02x}"),
            Self::IntegerOutOfRange(v) => write!(f, "integer {v} out of range"),
            Self::InvalidUtf8 => f.write_str("string is not UTF-8"),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyMessage => f.write_str("missing message type byte"),
            Self::UnknownMessageType(t) => write!(f, "unknown message type {t}"),
            Self::UnexpectedMessageType { ty, context } => {
                write!(f, "message type {ty} is not allowed in a {context:?}")
            }
            Self::Msgpack {
                message,
                field,
                kind,
            } => match field {
                Some(field) => write!(f, "failed to decode {message}.{field}: {kind}"),
                None => write!(f, "failed to decode {message}: {kind}"),
            },
            Self::LabelTruncated => f.write_str("label header is truncated"),
            Self::LabelEmpty => f.write_str("label header cannot be empty when present"),
            Self::LabelMismatch { expected, found } => write!(
                f,
                "label {:?} does not match the configured {:?}",
                String::from_utf8_lossy(found),
                String::from_utf8_lossy(expected)
            ),
            Self::UnexpectedLabel => f.write_str("unexpected double label header"),
            Self::LabelTooLong(n) => write!(f, "label is too long: {n} bytes (max 255)"),
            Self::CrcMismatch { expected, computed } => write!(
                f,
                "invalid checksum: packet says {expected:08x}, payload is {computed:08x}"
            ),
            Self::CompoundMissingCount => f.write_str("compound message is missing its part count"),
            Self::CompoundTruncatedLengths { parts } => {
                write!(f, "truncated len slice for a compound of {parts} parts")
            }
            Self::CompoundTooLarge => {
                f.write_str("compound needs at most 255 parts of at most 65535 bytes")
            }
            Self::NestingTooDeep { limit } => {
                write!(f, "messages nested deeper than {limit} levels")
            }
            Self::UnknownCompressionAlgorithm(a) => write!(f, "unknown compression algorithm {a}"),
            Self::LzwTruncated => f.write_str("LZW data ends without an end code"),
            Self::LzwInvalid => f.write_str("invalid LZW code"),
            Self::Lz4Invalid => f.write_str("invalid LZ4 block"),
            Self::DecompressedTooLarge { limit } => {
                write!(
                    f,
                    "decompressed message is larger than limit ({limit} bytes)"
                )
            }
            Self::DecompressedEmpty => f.write_str("decompressed message is empty"),
            Self::EncryptedEmpty => f.write_str("cannot decrypt empty payload"),
            Self::UnsupportedEncryptionVersion(v) => {
                write!(f, "unsupported encryption version {v}")
            }
            Self::EncryptedTooShort { len, min } => {
                write!(f, "encrypted payload too small: {len} bytes (min {min})")
            }
            Self::DecryptionFailed => f.write_str("no installed keys could decrypt the message"),
            Self::InvalidPadding => f.write_str("invalid PKCS#7 padding"),
            Self::NoEncryptionKey => f.write_str("no primary key installed"),
            Self::EncryptionNotConfigured => {
                f.write_str("remote state is encrypted and encryption is not configured")
            }
            Self::EncryptionRequired => {
                f.write_str("encryption is configured but remote state is not encrypted")
            }
            Self::FrameTooLarge { len, limit } => {
                write!(f, "encrypted frame of {len} bytes exceeds limit of {limit}")
            }
            Self::EmptyPlaintext => f.write_str("decrypted stream frame is empty"),
            Self::NodeCountOutOfRange(n) => {
                write!(f, "push/pull node count {n} exceeds limit or is negative")
            }
            Self::UserStateLenOutOfRange(n) => {
                write!(
                    f,
                    "push/pull user state length {n} exceeds limit or is negative"
                )
            }
            Self::UserMsgLenOutOfRange(n) => {
                write!(f, "user message length {n} exceeds limit or is negative")
            }
            Self::Truncated => f.write_str("stream message is truncated"),
        }
    }
}

impl std::error::Error for WireError {}
