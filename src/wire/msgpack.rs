//! msgpack exactly as go-msgpack (with a zero-valued `MsgpackHandle`) writes
//! and reads memberlist's structs.
//!
//! Writing follows the "old spec" Go uses: `string` and `[]byte` both go out
//! as the str family (fixstr, str16, str32 — never str8, never bin), integers
//! take their smallest form, structs are maps with keys sorted by name.
//!
//! Reading is as lenient as Go's decoder: str8 and bin for strings and bytes,
//! any integer family for any integer field as long as the value fits, nil
//! for any field (zero value), an integer for a bool, unknown keys of any
//! type skipped, duplicate keys (last wins), and structs given as positional
//! arrays in Go's declaration order. Every declared length is checked against
//! the remaining input before anything is allocated, and skipping an unknown
//! value is iterative, so no input can recurse or allocate without bound.

use super::error::{MsgpackErrorKind, WireError};

/// How Go `int` fields (`Nodes`, `UserStateLen`, `UserMsgLen`, `State`) with
/// values of 128 or more are written. Both forms are accepted by every Go
/// memberlist version; they differ only in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntEncoding {
    /// Smallest *signed* format (`d1`/`d2`/`d3`), as go-msgpack v2 writes it
    /// (memberlist v0.5.1 and later).
    #[default]
    Signed,
    /// Unsigned formats (`cc`/`cd`/`ce`), as go-msgpack v0.5.3 writes it
    /// (memberlist v0.5.0 and earlier, including Debian's v0.2.2).
    Unsigned,
}

pub(crate) fn put_map_len(buf: &mut Vec<u8>, n: usize) {
    // memberlist structs have at most 8 fields, so fixmap always suffices; the
    // general forms keep the function total.
    if n < 16 {
        buf.push(0x80 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        buf.push(0xde);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(0xdf);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Writes a string or byte slice as the str family, never str8 or bin.
pub(crate) fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        buf.push(0xa0 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        buf.push(0xda);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

pub(crate) fn put_nil(buf: &mut Vec<u8>) {
    buf.push(0xc0);
}

pub(crate) fn put_bool(buf: &mut Vec<u8>, v: bool) {
    buf.push(if v { 0xc3 } else { 0xc2 });
}

/// Writes an unsigned integer in its smallest form.
pub(crate) fn put_uint(buf: &mut Vec<u8>, v: u64) {
    if v < 128 {
        buf.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        buf.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        buf.push(0xcd);
        buf.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        buf.push(0xce);
        buf.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        buf.push(0xcf);
        buf.extend_from_slice(&v.to_be_bytes());
    }
}

/// Writes a Go `int` the way the chosen go-msgpack version does.
pub(crate) fn put_int(buf: &mut Vec<u8>, v: i64, enc: IntEncoding) {
    if (0..128).contains(&v) {
        buf.push(v as u8);
    } else if (-32..0).contains(&v) {
        buf.push(v as i8 as u8);
    } else if v > 0 && enc == IntEncoding::Unsigned {
        put_uint(buf, v as u64);
    } else if v >= i64::from(i8::MIN) && v < 0 {
        buf.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) && v <= i64::from(i16::MAX) {
        buf.push(0xd1);
        buf.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) && v <= i64::from(i32::MAX) {
        buf.push(0xd2);
        buf.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&v.to_be_bytes());
    }
}

/// Writes one map key (a field name).
pub(crate) fn put_key(buf: &mut Vec<u8>, name: &str) {
    put_str(buf, name.as_bytes());
}

/// How a struct arrived: as a map of named fields, as a positional array, or
/// as nil (every field zero — Go accepts that).
pub(crate) enum StructForm {
    Map(usize),
    Array(usize),
    Nil,
}

/// A byte-string value as read: borrowed from the input, or collected from a
/// msgpack array of small integers (which Go accepts for `[]byte`).
pub(crate) enum RawBytes<'a> {
    Nil,
    Borrowed(&'a [u8]),
    Collected(Vec<u8>),
}

impl RawBytes<'_> {
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            RawBytes::Nil => Vec::new(),
            RawBytes::Borrowed(b) => b.to_vec(),
            RawBytes::Collected(v) => v,
        }
    }

    pub(crate) fn into_option(self) -> Option<Vec<u8>> {
        match self {
            RawBytes::Nil => None,
            other => Some(other.into_vec()),
        }
    }
}

/// A cursor over msgpack input that never reads past its slice.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The struct being decoded, for error messages.
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Reader { data, pos: 0, what }
    }

    pub(crate) fn set_context(&mut self, what: &'static str) {
        self.what = what;
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// Takes `n` raw (non-msgpack) bytes, e.g. push/pull user state.
    pub(crate) fn take_raw(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n {
            return Err(WireError::Truncated);
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    /// Takes everything that is left.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.pos..];
        self.pos = self.data.len();
        rest
    }

    pub(crate) fn err(&self, field: Option<&'static str>, kind: MsgpackErrorKind) -> WireError {
        WireError::Msgpack {
            message: self.what,
            field,
            kind,
        }
    }

    fn take(&mut self, n: usize, field: Option<&'static str>) -> Result<&'a [u8], WireError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n {
            return Err(self.err(field, MsgpackErrorKind::Truncated));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn byte(&mut self, field: Option<&'static str>) -> Result<u8, WireError> {
        Ok(self.take(1, field)?[0])
    }

    fn peek(&self, field: Option<&'static str>) -> Result<u8, WireError> {
        self.data
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err(field, MsgpackErrorKind::Truncated))
    }

    fn be_uint(&mut self, width: usize, field: Option<&'static str>) -> Result<u64, WireError> {
        let b = self.take(width, field)?;
        Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn length(&mut self, width: usize, field: Option<&'static str>) -> Result<usize, WireError> {
        let n = self.be_uint(width, field)?;
        usize::try_from(n).map_err(|_| self.err(field, MsgpackErrorKind::Truncated))
    }

    /// Reads the header of a struct value.
    pub(crate) fn struct_form(&mut self) -> Result<StructForm, WireError> {
        let m = self.byte(None)?;
        let form = match m {
            0x80..=0x8f => StructForm::Map(usize::from(m & 0x0f)),
            0xde => StructForm::Map(self.length(2, None)?),
            0xdf => StructForm::Map(self.length(4, None)?),
            0x90..=0x9f => StructForm::Array(usize::from(m & 0x0f)),
            0xdc => StructForm::Array(self.length(2, None)?),
            0xdd => StructForm::Array(self.length(4, None)?),
            0xc0 => StructForm::Nil,
            other => {
                return Err(self.err(None, MsgpackErrorKind::UnexpectedType(other)));
            }
        };
        // Every entry needs at least one byte; a larger count cannot be real.
        let entries = match form {
            StructForm::Map(n) => n.saturating_mul(2),
            StructForm::Array(n) => n,
            StructForm::Nil => 0,
        };
        if entries > self.data.len() - self.pos {
            return Err(self.err(None, MsgpackErrorKind::Truncated));
        }
        Ok(form)
    }

    /// Reads any str/bin/array-of-bytes value (or nil).
    /// Takes a complete fixstr (the form of every key Go writes and of most
    /// values), or nothing.
    pub(crate) fn fixstr(&mut self) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let m = *data.get(self.pos)?;
        if !(0xa0..=0xbf).contains(&m) {
            return None;
        }
        let start = self.pos + 1;
        let b = data.get(start..start + usize::from(m & 0x1f))?;
        self.pos = start + b.len();
        Some(b)
    }

    pub(crate) fn raw_bytes(&mut self, field: &'static str) -> Result<RawBytes<'a>, WireError> {
        if let Some(b) = self.fixstr() {
            return Ok(RawBytes::Borrowed(b));
        }
        let f = Some(field);
        let m = self.byte(f)?;
        let n = match m {
            0xc0 => return Ok(RawBytes::Nil),
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 | 0xc4 => self.length(1, f)?,
            0xda | 0xc5 => self.length(2, f)?,
            0xdb | 0xc6 => self.length(4, f)?,
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match m {
                    0xdc => self.length(2, f)?,
                    0xdd => self.length(4, f)?,
                    _ => usize::from(m & 0x0f),
                };
                if n > self.data.len() - self.pos {
                    return Err(self.err(f, MsgpackErrorKind::Truncated));
                }
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(self.uint(field, u64::from(u8::MAX))? as u8);
                }
                return Ok(RawBytes::Collected(out));
            }
            other => return Err(self.err(f, MsgpackErrorKind::UnexpectedType(other))),
        };
        Ok(RawBytes::Borrowed(self.take(n, f)?))
    }

    /// Reads a Go `string` field.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, WireError> {
        let invalid = |r: &Self| r.err(Some(field), MsgpackErrorKind::InvalidUtf8);
        if let Some(b) = self.fixstr() {
            return std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| invalid(self));
        }
        match self.raw_bytes(field)? {
            RawBytes::Nil => Ok(String::new()),
            RawBytes::Borrowed(b) => std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| invalid(self)),
            RawBytes::Collected(v) => String::from_utf8(v).map_err(|_| invalid(self)),
        }
    }

    /// Reads a map key; keys are strings in Go's encoding.
    pub(crate) fn key(&mut self) -> Result<RawBytes<'a>, WireError> {
        self.raw_bytes("map key")
    }

    /// Reads any integer as i128 so both families and every width compare
    /// exactly against the field's range.
    fn integer(&mut self, field: &'static str) -> Result<i128, WireError> {
        let f = Some(field);
        let m = self.byte(f)?;
        Ok(match m {
            0x00..=0x7f => i128::from(m),
            0xe0..=0xff => i128::from(m as i8),
            0xc0 => 0,
            0xcc => i128::from(self.be_uint(1, f)?),
            0xcd => i128::from(self.be_uint(2, f)?),
            0xce => i128::from(self.be_uint(4, f)?),
            0xcf => i128::from(self.be_uint(8, f)?),
            0xd0 => i128::from(self.be_uint(1, f)? as u8 as i8),
            0xd1 => i128::from(self.be_uint(2, f)? as u16 as i16),
            0xd2 => i128::from(self.be_uint(4, f)? as u32 as i32),
            0xd3 => i128::from(self.be_uint(8, f)? as i64),
            other => return Err(self.err(f, MsgpackErrorKind::UnexpectedType(other))),
        })
    }

    /// Reads an unsigned field whose Go type holds at most `max`.
    pub(crate) fn uint(&mut self, field: &'static str, max: u64) -> Result<u64, WireError> {
        // Fast path for what Go writes: positive fixint or an unsigned
        // marker; everything else goes through the general reader.
        let fast = match &self.data[self.pos..] {
            [m @ 0x00..=0x7f, ..] => Some((u64::from(*m), 1)),
            [0xcc, a, ..] => Some((u64::from(*a), 2)),
            [0xcd, a, b, ..] => Some((u64::from(u16::from_be_bytes([*a, *b])), 3)),
            [0xce, a, b, c, d, ..] => Some((u64::from(u32::from_be_bytes([*a, *b, *c, *d])), 5)),
            _ => None,
        };
        if let Some((v, len)) = fast.filter(|&(v, _)| v <= max) {
            self.pos += len;
            return Ok(v);
        }
        let v = self.integer(field)?;
        if v < 0 || v > i128::from(max) {
            return Err(self.err(Some(field), MsgpackErrorKind::IntegerOutOfRange(v)));
        }
        Ok(v as u64)
    }

    /// Reads a Go `int` (64-bit) field.
    pub(crate) fn int(&mut self, field: &'static str) -> Result<i64, WireError> {
        let v = self.integer(field)?;
        i64::try_from(v).map_err(|_| self.err(Some(field), MsgpackErrorKind::IntegerOutOfRange(v)))
    }

    /// Reads a bool; like Go, an integer counts as true when non-zero.
    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, WireError> {
        match self.peek(Some(field))? {
            0xc2 => {
                self.pos += 1;
                Ok(false)
            }
            0xc3 => {
                self.pos += 1;
                Ok(true)
            }
            _ => Ok(self.integer(field)? != 0),
        }
    }

    /// Skips one value of any type without recursion: a pending-value counter
    /// replaces the stack, bounded by the input that is left.
    pub(crate) fn skip_value(&mut self) -> Result<(), WireError> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            let m = self.byte(None)?;
            let (skip, children) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (0, usize::from(m & 0x0f) * 2),
                0x90..=0x9f => (0, usize::from(m & 0x0f)),
                0xa0..=0xbf => (usize::from(m & 0x1f), 0),
                0xcc | 0xd0 => (1, 0),
                0xcd | 0xd1 => (2, 0),
                0xce | 0xd2 | 0xca => (4, 0),
                0xcf | 0xd3 | 0xcb => (8, 0),
                0xd9 | 0xc4 => (self.length(1, None)?, 0),
                0xda | 0xc5 => (self.length(2, None)?, 0),
                0xdb | 0xc6 => (self.length(4, None)?, 0),
                0xd4 => (2, 0),
                0xd5 => (3, 0),
                0xd6 => (5, 0),
                0xd7 => (9, 0),
                0xd8 => (17, 0),
                0xc7 => (self.length(1, None)?.saturating_add(1), 0),
                0xc8 => (self.length(2, None)?.saturating_add(1), 0),
                0xc9 => (self.length(4, None)?.saturating_add(1), 0),
                0xdc => (0, self.length(2, None)?),
                0xdd => (0, self.length(4, None)?),
                0xde => (0, self.length(2, None)?.saturating_mul(2)),
                0xdf => (0, self.length(4, None)?.saturating_mul(2)),
                other => return Err(self.err(None, MsgpackErrorKind::UnexpectedType(other))),
            };
            self.take(skip, None)?;
            pending = pending.saturating_add(children);
            if pending > self.data.len() - self.pos {
                return Err(self.err(None, MsgpackErrorKind::Truncated));
            }
        }
        Ok(())
    }
}

/// A memberlist struct body: its Go field names in declaration order (for
/// array-form input) and a setter per field.
pub(crate) trait WireStruct: Default {
    /// Go struct name, for error messages.
    const NAME: &'static str;
    /// Go field names in declaration order.
    const FIELDS: &'static [&'static str];
    /// Reads the value of field `index` of `FIELDS` into `self`.
    fn read_field(&mut self, index: usize, r: &mut Reader<'_>) -> Result<(), WireError>;
}

/// Decodes one struct value, map or array form, from the reader.
pub(crate) fn read_struct<T: WireStruct>(r: &mut Reader<'_>) -> Result<T, WireError> {
    r.set_context(T::NAME);
    let mut out = T::default();
    match r.struct_form()? {
        StructForm::Nil => {}
        StructForm::Map(n) => {
            // Length and first byte rule out most fields without a call to
            // compare bytes: a packet of gossip holds dozens of keys.
            let find = |key: &[u8]| -> Option<usize> {
                T::FIELDS.iter().position(|f| {
                    let f = f.as_bytes();
                    f.len() == key.len() && f.first() == key.first() && f == key
                })
            };
            for _ in 0..n {
                let index = match r.fixstr() {
                    Some(k) => find(k),
                    None => match r.key()? {
                        RawBytes::Nil => None,
                        RawBytes::Borrowed(k) => find(k),
                        RawBytes::Collected(k) => find(&k),
                    },
                };
                match index {
                    Some(i) => out.read_field(i, r)?,
                    None => r.skip_value()?,
                }
            }
        }
        StructForm::Array(n) => {
            for i in 0..n {
                if i < T::FIELDS.len() {
                    out.read_field(i, r)?;
                } else {
                    r.skip_value()?;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_lengths_never_use_str8() {
        let mut b = Vec::new();
        put_str(&mut b, &[b'x'; 31]);
        assert_eq!(b[0], 0xbf);
        b.clear();
        put_str(&mut b, &[b'x'; 40]);
        assert_eq!(&b[..3], &[0xda, 0x00, 0x28]);
        b.clear();
        put_str(&mut b, &vec![b'x'; 70_000]);
        assert_eq!(&b[..5], &[0xdb, 0x00, 0x01, 0x11, 0x70]);
    }

    #[test]
    fn int_families_match_both_go_msgpack_versions() {
        let cases: [(i64, &[u8], &[u8]); 6] = [
            (5, &[0x05], &[0x05]),
            (-3, &[0xfd], &[0xfd]),
            (200, &[0xd1, 0x00, 0xc8], &[0xcc, 0xc8]),
            (128, &[0xd1, 0x00, 0x80], &[0xcc, 0x80]),
            (
                70_000,
                &[0xd2, 0x00, 0x01, 0x11, 0x70],
                &[0xce, 0x00, 0x01, 0x11, 0x70],
            ),
            (-100, &[0xd0, 0x9c], &[0xd0, 0x9c]),
        ];
        for (v, signed, unsigned) in cases {
            let mut b = Vec::new();
            put_int(&mut b, v, IntEncoding::Signed);
            assert_eq!(b, signed, "signed {v}");
            b.clear();
            put_int(&mut b, v, IntEncoding::Unsigned);
            assert_eq!(b, unsigned, "unsigned {v}");
            let mut r = Reader::new(signed, "t");
            assert_eq!(r.int("f").unwrap(), v);
            let mut r = Reader::new(unsigned, "t");
            assert_eq!(r.int("f").unwrap(), v);
        }
    }

    #[test]
    fn uint_range_is_enforced() {
        let mut r = Reader::new(&[0xce, 0x00, 0x01, 0x00, 0x00], "t");
        assert!(matches!(
            r.uint("Port", u64::from(u16::MAX)),
            Err(WireError::Msgpack {
                field: Some("Port"),
                kind: MsgpackErrorKind::IntegerOutOfRange(65_536),
                ..
            })
        ));
        let mut r = Reader::new(&[0xff], "t");
        assert!(matches!(
            r.uint("SeqNo", u64::from(u32::MAX)),
            Err(WireError::Msgpack {
                kind: MsgpackErrorKind::IntegerOutOfRange(-1),
                ..
            })
        ));
    }

    #[test]
    fn skip_handles_deep_nesting_without_recursion() {
        let mut deep = vec![0x91; 100_000];
        deep.push(0xc0);
        let mut r = Reader::new(&deep, "t");
        r.skip_value().unwrap();
        assert_eq!(r.position(), deep.len());
        deep.pop();
        let mut r = Reader::new(&deep, "t");
        assert!(r.skip_value().is_err());
    }

    #[test]
    fn huge_declared_lengths_are_rejected_before_allocation() {
        for input in [
            &[0xdb, 0xff, 0xff, 0xff, 0xff][..],
            &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0xc6, 0x7f, 0xff, 0xff, 0xff][..],
        ] {
            let mut r = Reader::new(input, "t");
            assert!(matches!(
                r.raw_bytes("Buf"),
                Err(WireError::Msgpack {
                    kind: MsgpackErrorKind::Truncated,
                    ..
                })
            ));
        }
    }
}
