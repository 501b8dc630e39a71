//! The age of membership news: a swimlist extension to alive, suspect and
//! dead messages.
//!
//! How long news takes to reach a node cannot be read off clocks that are
//! not synchronised. Instead the news carries its age: whoever creates it
//! starts at zero, and every node that relays it adds the time it held it
//! before sending. A receiver thus learns, within the transit time of the
//! last hop, how long ago the news was made.
//!
//! The age travels as one extra msgpack key, [`NEWS_AGE_KEY`], always the
//! last entry of the message's map and always a 4-byte unsigned integer of
//! milliseconds, so a queued message can be stamped at each send by
//! appending 17 bytes. Go memberlist skips unknown keys, but the bytes cost
//! room in every packet, so a node stamps news only for peers that
//! advertised [`Features::NEWS_AGE`](super::Features::NEWS_AGE).

use std::time::Duration;

use super::message::MessageType;

/// The msgpack key that carries the age of the news, in milliseconds.
pub const NEWS_AGE_KEY: &str = "SwimlistAge";

/// Bytes a stamp adds to a message: the key (a fixstr) and a `uint32`.
pub const NEWS_AGE_LEN: usize = 1 + NEWS_AGE_KEY.len() + 5;

/// Whether `ty` is the type byte of membership news.
fn is_news(ty: u8) -> bool {
    ty == MessageType::Alive as u8
        || ty == MessageType::Suspect as u8
        || ty == MessageType::Dead as u8
}

/// Appends the age stamp to an encoded alive, suspect or dead message
/// (type byte, then a map of at most 14 entries, as swimlist encodes them)
/// and counts the entry in the map header. Ages saturate at `u32::MAX`
/// milliseconds. Returns `false`, leaving `message` as it was, for any
/// other message.
pub fn stamp_news_age(message: &mut Vec<u8>, age: Duration) -> bool {
    let (Some(&ty), Some(&map)) = (message.first(), message.get(1)) else {
        return false;
    };
    // A fixmap with room for one more entry.
    if !is_news(ty) || !(0x80..0x8f).contains(&map) {
        return false;
    }
    message[1] = map + 1;
    let millis = u32::try_from(age.as_millis()).unwrap_or(u32::MAX);
    message.push(0xa0 | NEWS_AGE_KEY.len() as u8);
    message.extend_from_slice(NEWS_AGE_KEY.as_bytes());
    message.push(0xce);
    message.extend_from_slice(&millis.to_be_bytes());
    true
}

/// The age stamped on an encoded alive, suspect or dead message, if it
/// ends with a stamp.
pub fn news_age(message: &[u8]) -> Option<Duration> {
    if !is_news(*message.first()?) {
        return None;
    }
    let stamp = message.get(message.len().checked_sub(NEWS_AGE_LEN)?..)?;
    let (key, value) = stamp.split_at(1 + NEWS_AGE_KEY.len());
    let header = 0xa0 | NEWS_AGE_KEY.len() as u8;
    if key[0] != header || &key[1..] != NEWS_AGE_KEY.as_bytes() || value[0] != 0xce {
        return None;
    }
    let millis = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
    Some(Duration::from_millis(u64::from(millis)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Alive, Context, Dead, Features, Message, Ping, Suspect};

    fn encoded(message: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        message.encode(Context::Packet, &mut out);
        out
    }

    fn news() -> Vec<Message> {
        vec![
            Message::Alive(Alive {
                incarnation: 3,
                node: "a".into(),
                addr: vec![10, 0, 0, 1],
                port: 7946,
                meta: Some(b"m".to_vec()),
                vsn: vec![1, 5, 2, 0, 0, 0],
                features: Features::LZ4,
            }),
            Message::Suspect(Suspect {
                incarnation: 3,
                node: "a".into(),
                from: "b".into(),
            }),
            Message::Dead(Dead {
                incarnation: 3,
                node: "a".into(),
                from: "b".into(),
            }),
        ]
    }

    #[test]
    fn a_stamped_message_decodes_as_before_and_tells_its_age() {
        for message in news() {
            let mut bytes = encoded(&message);
            assert_eq!(news_age(&bytes), None);
            let plain_len = bytes.len();
            assert!(stamp_news_age(&mut bytes, Duration::from_millis(1234)));
            assert_eq!(bytes.len(), plain_len + NEWS_AGE_LEN);
            // Decoders that do not know the key (Go's) skip it.
            assert_eq!(Message::decode(&bytes, Context::Packet), Ok(message));
            assert_eq!(news_age(&bytes), Some(Duration::from_millis(1234)));
        }
    }

    #[test]
    fn ages_saturate_and_other_messages_are_left_alone() {
        let mut bytes = encoded(&news()[0]);
        assert!(stamp_news_age(&mut bytes, Duration::from_secs(u64::MAX)));
        assert_eq!(
            news_age(&bytes),
            Some(Duration::from_millis(u64::from(u32::MAX)))
        );
        let mut ping = encoded(&Message::Ping(Ping::default()));
        let before = ping.clone();
        assert!(!stamp_news_age(&mut ping, Duration::from_secs(1)));
        assert_eq!(ping, before);
        assert_eq!(news_age(&[]), None);
        assert_eq!(news_age(&[MessageType::Alive as u8, 0x80]), None);
    }
}
