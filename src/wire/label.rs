//! The label header `f4 ‖ len ‖ label`.
//!
//! A label keeps clusters that share a network apart: it prefixes every
//! packet and every stream a node dials, and with encryption it is bound
//! into the GCM additional data. It is not secret.

use super::error::WireError;
use super::message::MessageType;

/// Longest label, in bytes.
pub const MAX_LABEL_LEN: usize = 255;

/// Bytes the header adds: 0 without a label, else `2 + len`.
pub fn label_overhead(label: &[u8]) -> usize {
    if label.is_empty() {
        0
    } else {
        2 + label.len()
    }
}

/// Checks that `label` fits a header.
pub fn validate_label(label: &[u8]) -> Result<(), WireError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(WireError::LabelTooLong(label.len()));
    }
    Ok(())
}

/// Appends the header for `label` (nothing for an empty label).
pub fn put_label_header(label: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    validate_label(label)?;
    if !label.is_empty() {
        out.push(MessageType::HasLabel as u8);
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    Ok(())
}

/// Splits a label header off `data`: returns the label (empty when there is
/// no header) and the rest.
pub fn split_label(data: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    match data.split_first() {
        Some((&t, rest)) if t == MessageType::HasLabel as u8 => {
            let (&len, rest) = rest.split_first().ok_or(WireError::LabelTruncated)?;
            if len == 0 {
                return Err(WireError::LabelEmpty);
            }
            if rest.len() < usize::from(len) {
                return Err(WireError::LabelTruncated);
            }
            Ok(rest.split_at(usize::from(len)))
        }
        _ => Ok((&[], data)),
    }
}

/// Applies Go's inbound label rule to a header that was just split off:
/// returns the label to use as additional data.
///
/// Normally the received label (empty if none) must equal the configured
/// one. With `skip_check`, a received header is an error ("unexpected
/// double label") and a missing one counts as the configured label.
pub fn check_label<'a>(
    received: &[u8],
    had_header: bool,
    configured: &'a [u8],
    skip_check: bool,
) -> Result<&'a [u8], WireError> {
    if skip_check {
        if had_header {
            return Err(WireError::UnexpectedLabel);
        }
        return Ok(configured);
    }
    if received != configured {
        return Err(WireError::LabelMismatch {
            expected: configured.to_vec(),
            found: received.to_vec(),
        });
    }
    Ok(configured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_and_limits() {
        let mut out = Vec::new();
        put_label_header(b"blah", &mut out).unwrap();
        assert_eq!(out, [0xf4, 4, b'b', b'l', b'a', b'h']);
        out.clear();
        put_label_header(b"", &mut out).unwrap();
        assert!(out.is_empty());
        put_label_header(&[b'x'; 255], &mut out).unwrap();
        assert_eq!(out.len(), 257);
        assert_eq!(
            put_label_header(&[b'x'; 256], &mut out),
            Err(WireError::LabelTooLong(256))
        );
        assert_eq!(label_overhead(b""), 0);
        assert_eq!(label_overhead(b"abc"), 5);
    }

    #[test]
    fn split_matches_go_cases() {
        assert_eq!(
            split_label(&[13, 1, 2]).unwrap(),
            (&[][..], &[13, 1, 2][..])
        );
        assert_eq!(split_label(&[1, 0xf4]).unwrap(), (&[][..], &[1, 0xf4][..]));
        assert_eq!(split_label(&[0xf4]), Err(WireError::LabelTruncated));
        assert_eq!(split_label(&[0xf4, b'x']), Err(WireError::LabelTruncated));
        assert_eq!(split_label(&[0xf4, 0, 0]), Err(WireError::LabelEmpty));
        assert_eq!(
            split_label(&[0xf4, 5, b'a']),
            Err(WireError::LabelTruncated)
        );
        assert_eq!(
            split_label(&[0xf4, 1, b'a', 9]).unwrap(),
            (&b"a"[..], &[9][..])
        );
    }

    #[test]
    fn inbound_rule() {
        assert_eq!(check_label(b"a", true, b"a", false).unwrap(), b"a");
        assert!(matches!(
            check_label(b"", false, b"a", false),
            Err(WireError::LabelMismatch { .. })
        ));
        assert_eq!(check_label(b"", false, b"a", true).unwrap(), b"a");
        assert_eq!(
            check_label(b"a", true, b"a", true),
            Err(WireError::UnexpectedLabel)
        );
    }
}
