//! Grafana dskit's TCP-only transport framing (Loki, Mimir, Tempo, Cortex).
//!
//! dskit carries memberlist over TCP alone: every packet and every stream
//! opens a connection of its own, and the first byte the dialer writes says
//! which it is. A packet is
//!
//! ```text
//! 01 ‖ L:u8 ‖ sender's advertised "ip:port" (L ASCII bytes, "[v6]:port")
//!    ‖ memberlist packet (what UDP would carry) ‖ MD5 of that packet (16)
//! ```
//!
//! and ends where the dialer closes the connection; nobody answers on it. A
//! stream is `02` followed by memberlist's stream bytes, answered as usual.
//! The address in a packet stands for the UDP source address: replies go
//! there. A digest that does not match is logged and the packet still
//! delivered, as dskit does. Labels, encryption, compression and CRCs all
//! live inside the memberlist bytes, unchanged. `docs/dskit-transport.md`
//! has captured examples.

use std::net::SocketAddr;

use md5::{Digest, Md5};

/// First byte of a connection carrying one packet.
pub(crate) const PACKET: u8 = 0x01;
/// First byte of a connection carrying a stream.
pub(crate) const STREAM: u8 = 0x02;
/// Length of the packet digest.
const DIGEST: usize = 16;
/// Largest packet frame read (dskit peers send packets of up to 10 MiB).
pub(crate) const MAX_PACKET_FRAME: usize = 16 * 1024 * 1024;

/// Frames `packet`, sent by a node advertised at `from`.
pub(crate) fn encode_packet(from: SocketAddr, packet: &[u8]) -> Vec<u8> {
    // At most 47 bytes ("[v6 with zone]:65535" is shorter): fits the u8.
    let addr = from.to_string();
    let mut frame = Vec::with_capacity(2 + addr.len() + packet.len() + DIGEST);
    frame.push(PACKET);
    frame.push(addr.len() as u8);
    frame.extend_from_slice(addr.as_bytes());
    frame.extend_from_slice(packet);
    frame.extend_from_slice(&Md5::digest(packet));
    frame
}

/// Why a packet frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Shorter than its header and digest.
    Truncated,
    /// The sender's address is not `ip:port`.
    BadAddress,
}

/// A received packet frame (the marker byte included).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PacketFrame<'a> {
    /// Where the sender says it is reachable.
    pub(crate) from: SocketAddr,
    /// The memberlist packet.
    pub(crate) packet: &'a [u8],
    /// Whether the digest matched.
    pub(crate) digest_ok: bool,
}

/// Reads a whole packet frame, as received up to the end of its connection.
pub(crate) fn decode_packet(frame: &[u8]) -> Result<PacketFrame<'_>, FrameError> {
    let (&len, rest) = frame
        .strip_prefix(&[PACKET])
        .and_then(<[u8]>::split_first)
        .ok_or(FrameError::Truncated)?;
    let len = usize::from(len);
    if rest.len() < len + DIGEST {
        return Err(FrameError::Truncated);
    }
    let (addr, rest) = rest.split_at(len);
    let (packet, digest) = rest.split_at(rest.len() - DIGEST);
    let from = std::str::from_utf8(addr)
        .ok()
        .and_then(|a| a.parse().ok())
        .ok_or(FrameError::BadAddress)?;
    Ok(PacketFrame {
        from,
        packet,
        digest_ok: Md5::digest(packet).as_slice() == digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(u8::is_ascii_hexdigit)
            .map(|c| (c as char).to_digit(16).unwrap() as u8)
            .collect();
        digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
    }

    /// A ping from a dskit node at 127.0.0.1:17102, captured on the wire.
    const PING: &str = "01 0f 31 32 37 2e 30 2e 30 2e 31 3a 31 37 31 30
        32 00 85 a4 4e 6f 64 65 a1 61 a5 53 65 71 4e 6f
        01 aa 53 6f 75 72 63 65 41 64 64 72 a4 7f 00 00
        01 aa 53 6f 75 72 63 65 4e 6f 64 65 a1 62 aa 53
        6f 75 72 63 65 50 6f 72 74 cd 42 ce 74 24 06 3c
        c0 b9 54 18 5b 02 50 28 23 ff 6a 56";

    #[test]
    fn a_captured_dskit_packet_decodes_and_encodes_back() {
        let frame = hex(PING);
        let decoded = decode_packet(&frame).unwrap();
        assert_eq!(decoded.from, "127.0.0.1:17102".parse().unwrap());
        assert_eq!(decoded.packet, &frame[0x11..0x4c]);
        assert!(decoded.digest_ok);
        assert_eq!(encode_packet(decoded.from, decoded.packet), frame);
    }

    #[test]
    fn a_bad_digest_is_reported_and_bad_frames_refused() {
        let mut frame = hex(PING);
        *frame.last_mut().unwrap() ^= 1;
        assert!(!decode_packet(&frame).unwrap().digest_ok);
        assert_eq!(decode_packet(&frame[..20]), Err(FrameError::Truncated));
        assert_eq!(decode_packet(&[]), Err(FrameError::Truncated));
        assert_eq!(decode_packet(&[PACKET]), Err(FrameError::Truncated));
        let mut bad = frame.clone();
        bad[2] = b'x';
        assert_eq!(decode_packet(&bad), Err(FrameError::BadAddress));
    }

    #[test]
    fn ipv6_senders_are_bracketed() {
        let from: SocketAddr = "[::1]:7946".parse().unwrap();
        let frame = encode_packet(from, b"\x00payload");
        assert_eq!(&frame[2..2 + usize::from(frame[1])], b"[::1]:7946");
        assert_eq!(decode_packet(&frame).unwrap().from, from);
    }
}
