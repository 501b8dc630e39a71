//! Feeds arbitrary datagrams to `decode_packet` under three inbound
//! configurations: plain, labelled (`lbl-1`), and encrypted with the AES-128
//! key of the golden `aes` vectors (bytes 00..0f) and verified incoming
//! traffic. Any panic, an accepted label or envelope that the datagram does
//! not carry, or sizes that do not match the messages, is a bug.

#![no_main]

mod inbound;

use libfuzzer_sys::fuzz_target;
use swimlist::wire::{decode_packet, Layer};

fuzz_target!(|data: &[u8]| {
    let configs = inbound::configs();
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
