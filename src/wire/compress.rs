//! The compress wrapper (type 9) and its two algorithms.
//!
//! * `Algo = 0`, LZW: Go's `compress/lzw`, LSB-first, literal width 8. Every
//!   Go memberlist reads and writes it; it is what swimlist sends to any peer
//!   not known to read LZ4.
//! * `Algo = 1`, LZ4 (swimlist only): `Buf` is the uncompressed length as a
//!   little-endian `u32` followed by one LZ4 block. Go rejects any `Algo`
//!   other than 0, so LZ4 is only sent to a peer that advertised
//!   [`Features::LZ4`](super::Features::LZ4) in its own alive message or
//!   push/pull record.
//!
//! Decompression is capped at [`MAX_DECOMPRESSED_BYTES`](super::MAX_DECOMPRESSED_BYTES)
//! (Go HEAD's limit) and never allocates more than that.

use super::error::WireError;
use super::message::{CompressBody, MessageType};
use super::msgpack::{read_struct, Reader};
use weezl::{decode::Decoder, encode::Encoder, BitOrder, LzwStatus};

/// A compression algorithm of the compress wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Go's LZW (`Algo = 0`), understood by every memberlist node.
    Lzw,
    /// LZ4 block (`Algo = 1`), understood only by swimlist nodes.
    Lz4,
}

impl Compression {
    /// The `Algo` number on the wire.
    pub fn algo(self) -> u8 {
        match self {
            Self::Lzw => 0,
            Self::Lz4 => 1,
        }
    }

    /// The algorithm for an `Algo` number.
    pub fn from_algo(algo: u8) -> Result<Self, WireError> {
        match algo {
            0 => Ok(Self::Lzw),
            1 => Ok(Self::Lz4),
            other => Err(WireError::UnknownCompressionAlgorithm(other)),
        }
    }

    /// A short name for diagnostics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lzw => "lzw",
            Self::Lz4 => "lz4",
        }
    }
}

/// Compresses `data` as Go's `compress/lzw` writer does (LSB, width 8).
pub fn lzw_compress(data: &[u8]) -> Vec<u8> {
    // Width 8 accepts every byte value, so encoding cannot fail; an empty
    // result would only come from a weezl bug and is then still decodable
    // as "truncated" rather than a panic here.
    Encoder::new(BitOrder::Lsb, 8)
        .encode(data)
        .unwrap_or_default()
}

/// Decompresses Go LZW data, requiring the end code, producing at most
/// `limit` bytes.
pub fn lzw_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, WireError> {
    const CHUNK: usize = 16 * 1024;
    let mut decoder = Decoder::new(BitOrder::Lsb, 8);
    let mut out = Vec::new();
    let mut input = data;
    loop {
        let start = out.len();
        // One chunk beyond the limit is enough to detect an overflow.
        let room = CHUNK.min(limit.saturating_add(1) - start);
        out.resize(start + room, 0);
        let res = decoder.decode_bytes(input, &mut out[start..]);
        out.truncate(start + res.consumed_out);
        input = &input[res.consumed_in..];
        if out.len() > limit {
            return Err(WireError::DecompressedTooLarge { limit });
        }
        match res.status {
            Err(_) => return Err(WireError::LzwInvalid),
            Ok(LzwStatus::Done) => return Ok(out),
            Ok(LzwStatus::NoProgress) => return Err(WireError::LzwTruncated),
            // The decoder may need one more call, with no input left, to
            // report the end code; only a call that moves nothing is stuck.
            Ok(LzwStatus::Ok) if res.consumed_in == 0 && res.consumed_out == 0 => {
                return Err(WireError::LzwTruncated);
            }
            Ok(LzwStatus::Ok) => {}
        }
    }
}

/// Compresses `data` as an LZ4 block with a little-endian `u32` size prefix.
pub fn lz4_compress(data: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(data)
}

/// Decompresses a size-prefixed LZ4 block of at most `limit` bytes.
pub fn lz4_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, WireError> {
    let (size, block) = data.split_first_chunk::<4>().ok_or(WireError::Lz4Invalid)?;
    let size = u32::from_le_bytes(*size) as usize;
    if size > limit {
        return Err(WireError::DecompressedTooLarge { limit });
    }
    // LZ4 cannot expand one input byte into more than 255 output bytes, so a
    // larger claim is a lie and must not drive an allocation.
    if size > block.len().saturating_mul(255).saturating_add(16) {
        return Err(WireError::Lz4Invalid);
    }
    let mut out = vec![0; size];
    match lz4_flex::block::decompress_into(block, &mut out) {
        Ok(n) if n == size => Ok(out),
        _ => Err(WireError::Lz4Invalid),
    }
}

/// Appends `09 ‖ msgpack(compress{Algo, Buf})` wrapping `msg`.
pub fn encode_compressed(algorithm: Compression, msg: &[u8], out: &mut Vec<u8>) {
    let compressed = match algorithm {
        Compression::Lzw => lzw_compress(msg),
        Compression::Lz4 => lz4_compress(msg),
    };
    CompressBody::encode(algorithm.algo(), &compressed, out);
}

/// What a compress wrapper held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decompressed {
    /// The algorithm used.
    pub algorithm: Compression,
    /// Length of the compressed `Buf`.
    pub compressed_len: usize,
    /// The wrapped message (never empty).
    pub message: Vec<u8>,
}

/// Decodes a compress wrapper body (after the type byte) from `r` and
/// decompresses it to at most `limit` bytes.
pub(crate) fn read_compressed(r: &mut Reader<'_>, limit: usize) -> Result<Decompressed, WireError> {
    let body: CompressBody = read_struct(r)?;
    let algorithm = Compression::from_algo(body.algo)?;
    let message = match algorithm {
        Compression::Lzw => lzw_decompress(&body.buf, limit)?,
        Compression::Lz4 => lz4_decompress(&body.buf, limit)?,
    };
    if message.is_empty() {
        return Err(WireError::DecompressedEmpty);
    }
    Ok(Decompressed {
        algorithm,
        compressed_len: body.buf.len(),
        message,
    })
}

/// Decodes a whole compress message (`09 ‖ body`).
pub fn decode_compressed(msg: &[u8], limit: usize) -> Result<Decompressed, WireError> {
    match msg.split_first() {
        Some((&t, body)) if t == MessageType::Compress as u8 => {
            read_compressed(&mut Reader::new(body, "compress"), limit)
        }
        Some((&t, _)) => Err(WireError::UnknownMessageType(t)),
        None => Err(WireError::EmptyMessage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MAX_DECOMPRESSED_BYTES;

    #[test]
    fn lzw_matches_go_vectors() {
        assert_eq!(
            lzw_compress(b"testing"),
            [0x00, 0xe9, 0x94, 0x99, 0x43, 0x27, 0x8d, 0x9b, 0x33, 0x01, 0x01]
        );
        assert_eq!(lzw_compress(b""), [0x00, 0x03, 0x02]);
        assert_eq!(
            lzw_compress(&[b'a'; 20]),
            [0x00, 0xc3, 0x08, 0x1c, 0x48, 0xb0, 0x60, 0xc1, 0x80]
        );
    }

    #[test]
    fn lzw_round_trips_and_requires_end_code() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let c = lzw_compress(&data);
        assert_eq!(lzw_decompress(&c, MAX_DECOMPRESSED_BYTES).unwrap(), data);
        assert_eq!(lzw_decompress(&[], 100), Err(WireError::LzwTruncated));
        assert_eq!(
            lzw_decompress(&c[..c.len() / 2], MAX_DECOMPRESSED_BYTES),
            Err(WireError::LzwTruncated)
        );
    }

    #[test]
    fn decompression_limit_is_exact() {
        let data = vec![0u8; 1000];
        let c = lzw_compress(&data);
        assert_eq!(lzw_decompress(&c, 1000).unwrap().len(), 1000);
        assert_eq!(
            lzw_decompress(&c, 999),
            Err(WireError::DecompressedTooLarge { limit: 999 })
        );
        let c = lz4_compress(&data);
        assert_eq!(lz4_decompress(&c, 1000).unwrap(), data);
        assert_eq!(
            lz4_decompress(&c, 999),
            Err(WireError::DecompressedTooLarge { limit: 999 })
        );
    }

    #[test]
    fn lz4_rejects_lying_sizes_without_allocating() {
        assert_eq!(
            lz4_decompress(&[0xff, 0xff, 0xff, 0x01, 0x00], MAX_DECOMPRESSED_BYTES),
            Err(WireError::Lz4Invalid)
        );
        assert_eq!(lz4_decompress(&[1, 0], 10), Err(WireError::Lz4Invalid));
    }
}
