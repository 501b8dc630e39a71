//! Feeds arbitrary connection bytes to `read_stream`, as the listener and as
//! the dialer reading a reply, under three inbound configurations: plain,
//! labelled (`lbl-1`), and encrypted with the AES-128 key of the golden `aes`
//! vectors (bytes 00..0f) and verified incoming traffic. Any panic, a
//! message claiming more bytes than were given, or an answer that changes
//! when bytes are appended after the message, is a bug.

#![no_main]

mod inbound;

use libfuzzer_sys::fuzz_target;
use swimlist::wire::read_stream;

fuzz_target!(|data: &[u8]| {
    let configs = inbound::configs();
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
