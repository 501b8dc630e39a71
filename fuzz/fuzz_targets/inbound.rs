//! The inbound configurations both fuzz targets decode under: plain,
//! labelled (`lbl-1`), and encrypted with the AES-128 key of the golden
//! `aes` vectors (bytes 00..0f, so the seed corpus decrypts) and verified
//! incoming traffic.

use std::sync::OnceLock;

use swimlist::wire::{Inbound, Keyring};

const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const LABEL: &[u8] = b"lbl-1";

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| Keyring::with_primary(&KEY).expect("a 16-byte key is valid"))
}

pub fn configs() -> [Inbound<'static>; 3] {
    [
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
    ]
}
