//! Feeds arbitrary datagrams to `decode_packet` under three inbound
//! configurations: plain, labelled (`lbl-1`), and encrypted with the AES-128
//! key of the golden `aes` vectors (bytes 00..0f) and verified incoming
//! traffic. Any panic, an accepted label or envelope that the datagram does
//! not carry, or sizes that do not match the messages, is a bug.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use swimlist::wire::{decode_packet, Inbound, Keyring, Layer};

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
        if let Ok(packet) = decode_packet(data, cfg) {
            assert_eq!(packet.message_sizes.len(), packet.messages.len());
            // A label layer is the configured label; with verified incoming
            // traffic, the packet must have been opened by the key.
            for layer in &packet.layers {
                if let Layer::Label(label) = layer {
                    assert_eq!(label.as_slice(), cfg.label);
                }
            }
            if cfg.verify_incoming {
                assert!(packet
                    .layers
                    .iter()
                    .any(|l| matches!(l, Layer::Encryption { .. })));
            }
        }
    }
});
