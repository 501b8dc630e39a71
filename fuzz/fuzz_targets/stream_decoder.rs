//! Feeds arbitrary connection bytes to `read_stream`, as the listener and as
//! the dialer reading a reply, under three inbound configurations: plain,
//! labelled (`lbl-1`), and encrypted with the AES-128 key of the golden `aes`
//! vectors (bytes 00..0f) and verified incoming traffic. Any panic, a
//! message claiming more bytes than were given, or an answer that changes
//! when bytes are appended after the message, is a bug.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use swimlist::wire::{read_stream, Inbound, Keyring};

/// The key of `tests/vectors/aes`, so the seed corpus decrypts.
const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const LABEL: &[u8] = b"lbl-1";

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| Keyring::with_primary(&KEY).expect("a 16-byte key is valid"))
}

fuzz_target!(|data: &[u8]| {
    let configs = [
        Inbound::default(),
        Inbound {
            label: LABEL,
            ..Inbound::default()
        },
        Inbound {
            keyring: Some(keyring()),
            verify_incoming: true,
            ..Inbound::default()
        },
    ];
    for cfg in &configs {
        for listener in [true, false] {
            if let Ok(Some(stream)) = read_stream(data, cfg, listener) {
                assert!(stream.consumed > 0 && stream.consumed <= data.len());
                // Bytes after the message are never looked at.
                let whole = read_stream(&data[..stream.consumed], cfg, listener);
                assert_eq!(whole, Ok(Some(stream)));
            }
        }
    }
});
