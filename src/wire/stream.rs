//! Stream (TCP) framing.
//!
//! One connection carries one request and at most one reply. The dialer
//! writes a label header first (if a label is configured); then each side
//! writes one message, compressed when compression is on (always, not only
//! when smaller) and then wrapped in the encrypted frame
//! `0a ‖ N:u32 BE ‖ envelope` whose additional data is `0a ‖ N ‖ label`.
//!
//! [`stream_message_len`] and [`read_stream`] are incremental: give them
//! everything received so far and they answer `Ok(None)` until a whole
//! message is there, so a non-blocking transport can feed them as bytes
//! arrive. A transport only measures ([`stream_message_len`]); the node
//! decodes.

use super::compress::{encode_compressed, read_compressed, Compression, Decompressed};
use super::error::{Context, MsgpackErrorKind, WireError};
use super::keyring::{EncryptionVersion, NONCE_SIZE};
use super::label::{check_label, put_label_header, split_label};
use super::message::{Message, MessageType};
use super::msgpack::{IntEncoding, Reader};
use super::packet::{Encryption, Inbound, Layer};
use super::{MAX_DECOMPRESSED_BYTES, MAX_PUSH_STATE_BYTES};

/// Settings for [`seal_stream`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOutbound<'a> {
    /// The configured label (additional data; header only when dialing).
    pub label: &'a [u8],
    /// Whether this side dialed the connection and so writes the label
    /// header before its message.
    pub dialer: bool,
    /// Compression (applied to every stream message when set).
    pub compression: Option<Compression>,
    /// Encryption, when enabled and outgoing traffic is verified.
    pub encryption: Option<Encryption<'a>>,
    /// How Go `int` fields ≥ 128 are written.
    pub ints: IntEncoding,
}

/// Appends everything one side writes on a connection for `msg`.
pub fn seal_stream(
    msg: &Message,
    cfg: &StreamOutbound<'_>,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let mut plain = Vec::new();
    msg.encode_with(Context::Stream, cfg.ints, &mut plain);
    seal_encoded_stream(plain, cfg, out)
}

/// As [`seal_stream`], for a message already encoded (type byte and body,
/// in its stream form, with `cfg.ints`), such as one written by
/// [`encode_push_pull`](super::encode_push_pull).
pub fn seal_encoded_stream(
    mut plain: Vec<u8>,
    cfg: &StreamOutbound<'_>,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    if cfg.dialer {
        put_label_header(cfg.label, out)?;
    }
    if let Some(algorithm) = cfg.compression {
        let mut wrapped = Vec::new();
        encode_compressed(algorithm, &plain, &mut wrapped);
        plain = wrapped;
    }
    match cfg.encryption {
        None => out.extend_from_slice(&plain),
        Some(enc) => {
            let n = enc.version.encrypted_len(plain.len());
            if n > MAX_PUSH_STATE_BYTES {
                return Err(WireError::FrameTooLarge {
                    len: n as u64,
                    limit: MAX_PUSH_STATE_BYTES as u64,
                });
            }
            let header = frame_header(n as u32);
            let aad = [&header[..], cfg.label].concat();
            out.extend_from_slice(&header);
            enc.keyring
                .encrypt(enc.version, &enc.nonce, &plain, &aad, out)?;
        }
    }
    Ok(())
}

fn frame_header(n: u32) -> [u8; 5] {
    let b = n.to_be_bytes();
    [MessageType::Encrypt as u8, b[0], b[1], b[2], b[3]]
}

/// The length of the encrypted frame whose header starts at `pos`
/// (`None`: the header is not all there), refused beyond the limit.
fn frame_len(buf: &[u8], pos: usize) -> Result<Option<u32>, WireError> {
    let Some(len) = buf.get(pos + 1..pos + 5) else {
        return Ok(None);
    };
    let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    if n as usize > MAX_PUSH_STATE_BYTES {
        return Err(WireError::FrameTooLarge {
            len: u64::from(n),
            limit: MAX_PUSH_STATE_BYTES as u64,
        });
    }
    Ok(Some(n))
}

/// A complete stream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedStream {
    /// Envelopes met, outermost first.
    pub layers: Vec<Layer>,
    /// The message.
    pub message: Message,
    /// Bytes of the input it used (label header included).
    pub consumed: usize,
}

/// Reads one stream message from the bytes received so far.
///
/// `listener` says whether this side accepted the connection (and so
/// expects the dialer's label header); the dialer reading a reply expects no
/// header but still uses its label as additional data. Returns `Ok(None)`
/// when more bytes are needed. Bytes after the message are never looked at.
pub fn read_stream(
    buf: &[u8],
    cfg: &Inbound<'_>,
    listener: bool,
) -> Result<Option<DecodedStream>, WireError> {
    let mut layers = Vec::new();
    let mut pos = 0;
    let mut aad_label = cfg.label;
    if listener {
        if buf.is_empty() {
            return Ok(None);
        }
        let (label, rest) = match split_label(buf) {
            Err(WireError::LabelTruncated) => return Ok(None),
            other => other?,
        };
        let had_header = rest.len() != buf.len();
        aad_label = check_label(label, had_header, cfg.label, cfg.skip_inbound_label_check)?;
        if had_header {
            layers.push(Layer::Label(label.to_vec()));
        }
        pos = buf.len() - rest.len();
    }
    let Some(&ty) = buf.get(pos) else {
        return Ok(None);
    };
    if ty == MessageType::Encrypt as u8 {
        let Some(ring) = cfg.keyring.filter(|k| !k.is_empty()) else {
            return Err(WireError::EncryptionNotConfigured);
        };
        let Some(n) = frame_len(buf, pos)? else {
            return Ok(None);
        };
        let header = frame_header(n);
        let end = pos + 5 + n as usize;
        let Some(envelope) = buf.get(pos + 5..end) else {
            return Ok(None);
        };
        let aad = [&header[..], aad_label].concat();
        let (plain, key_index) = ring.decrypt(envelope, &aad)?;
        let mut nonce = [0; NONCE_SIZE];
        nonce.copy_from_slice(&envelope[1..1 + NONCE_SIZE]);
        layers.push(Layer::Encryption {
            version: if envelope[0] == 0 {
                EncryptionVersion::V0
            } else {
                EncryptionVersion::V1
            },
            nonce,
            key_index,
            frame_len: Some(n),
        });
        let (&inner_ty, body) = plain.split_first().ok_or(WireError::EmptyPlaintext)?;
        let message = read_inner(inner_ty, body, &mut layers)?;
        return Ok(Some(DecodedStream {
            layers,
            message,
            consumed: end,
        }));
    }
    if cfg.encryption_enabled() && cfg.verify_incoming {
        return Err(WireError::EncryptionRequired);
    }
    let mut r = Reader::new(&buf[pos + 1..], "stream message");
    let message = if ty == MessageType::Compress as u8 {
        let d = match read_compressed(&mut r, MAX_DECOMPRESSED_BYTES) {
            Err(e) if is_truncation(&e) => return Ok(None),
            other => other?,
        };
        // The decompressed message is whole: any error in it is final.
        unwrap_decompressed(d, &mut layers)?
    } else {
        match Message::read(ty, &mut r, Context::Stream) {
            Err(e) if is_truncation(&e) => return Ok(None),
            other => other?,
        }
    };
    Ok(Some(DecodedStream {
        layers,
        message,
        consumed: pos + 1 + r.position(),
    }))
}

/// Finds where the first stream message in `buf` ends, without decrypting
/// or decompressing it: `Ok(Some(n))` when the first `n` bytes (label header
/// included) hold a whole message, `Ok(None)` while more bytes are needed.
///
/// This is all a transport needs, since stream messages carry no length of
/// their own: it hands the `n` bytes to the node, which decodes them with its
/// label and keys. An error means these bytes can never frame a message;
/// hand over what arrived anyway, and the node's decoder says why (and
/// answers with Go's error reply). Encrypted frames and compressed messages
/// are measured, not opened; a plain message is parsed to find its end.
pub fn stream_message_len(buf: &[u8], listener: bool) -> Result<Option<usize>, WireError> {
    let mut pos = 0;
    if listener {
        if buf.is_empty() {
            return Ok(None);
        }
        let rest = match split_label(buf) {
            Err(WireError::LabelTruncated) => return Ok(None),
            other => other?.1,
        };
        pos = buf.len() - rest.len();
    }
    let Some(&ty) = buf.get(pos) else {
        return Ok(None);
    };
    if ty == MessageType::Encrypt as u8 {
        let Some(n) = frame_len(buf, pos)? else {
            return Ok(None);
        };
        let end = pos + 5 + n as usize;
        return Ok((buf.len() >= end).then_some(end));
    }
    let mut r = Reader::new(&buf[pos + 1..], "stream message");
    let measured = if ty == MessageType::Compress as u8 {
        r.skip_value()
    } else {
        Message::read(ty, &mut r, Context::Stream).map(drop)
    };
    match measured {
        Ok(()) => Ok(Some(pos + 1 + r.position())),
        Err(e) if is_truncation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Decodes the plaintext of an encrypted frame, which is whole: it may be
/// compressed once more, and any error (truncation included) is final.
fn read_inner(ty: u8, body: &[u8], layers: &mut Vec<Layer>) -> Result<Message, WireError> {
    let mut r = Reader::new(body, "stream message");
    if ty != MessageType::Compress as u8 {
        return Message::read(ty, &mut r, Context::Stream);
    }
    let d = read_compressed(&mut r, MAX_DECOMPRESSED_BYTES)?;
    unwrap_decompressed(d, layers)
}

fn unwrap_decompressed(d: Decompressed, layers: &mut Vec<Layer>) -> Result<Message, WireError> {
    layers.push(Layer::Compression {
        algorithm: d.algorithm,
        compressed_len: d.compressed_len,
        decompressed_len: d.message.len(),
    });
    let (&ty, body) = d
        .message
        .split_first()
        .ok_or(WireError::DecompressedEmpty)?;
    Message::read(
        ty,
        &mut Reader::new(body, "stream message"),
        Context::Stream,
    )
}

/// Whether an error only means "the bytes so far end inside the message".
fn is_truncation(e: &WireError) -> bool {
    matches!(
        e,
        WireError::Truncated
            | WireError::Msgpack {
                kind: MsgpackErrorKind::Truncated,
                ..
            }
    )
}
