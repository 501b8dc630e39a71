//! AES-GCM encryption envelope and the keyring.
//!
//! Envelope: `vsn ‖ nonce[12] ‖ ciphertext ‖ tag[16]`. Version 1 encrypts
//! the plaintext as is; version 0 (protocol version 1 peers) PKCS#7-pads it
//! to a multiple of 16 first. The nonce is an input: the wire layer has no
//! randomness of its own, so callers pass 12 fresh random bytes per message.

use super::error::WireError;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use std::fmt;

type Aes192Gcm = AesGcm<aes::Aes192, U12>;

/// GCM nonce length.
pub const NONCE_SIZE: usize = 12;
/// GCM tag length.
pub const TAG_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;

/// The encryption envelope version (first byte of an encrypted payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptionVersion {
    /// PKCS#7-padded plaintext; used by nodes speaking protocol version 1.
    V0 = 0,
    /// Unpadded plaintext; used by protocol version 2 and later (default).
    V1 = 1,
}

impl EncryptionVersion {
    /// The envelope Go writes for a node speaking `protocol_version`.
    pub fn for_protocol(protocol_version: u8) -> Self {
        if protocol_version < 2 {
            Self::V0
        } else {
            Self::V1
        }
    }

    /// Bytes the envelope adds in the worst case (Go's size-budget figure:
    /// 45 for v0, 29 for v1).
    pub fn overhead(self) -> usize {
        match self {
            Self::V0 => 1 + NONCE_SIZE + TAG_SIZE + BLOCK_SIZE,
            Self::V1 => 1 + NONCE_SIZE + TAG_SIZE,
        }
    }

    /// Exact envelope length for a plaintext of `len` bytes.
    pub fn encrypted_len(self, len: usize) -> usize {
        match self {
            Self::V0 => 1 + NONCE_SIZE + len + (BLOCK_SIZE - len % BLOCK_SIZE) + TAG_SIZE,
            Self::V1 => 1 + NONCE_SIZE + len + TAG_SIZE,
        }
    }
}

/// Why a keyring operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// Keys must be 16, 24 or 32 bytes (AES-128/192/256).
    InvalidKeyLength(usize),
    /// `use_key` named a key that is not installed.
    KeyNotInstalled,
    /// The primary key cannot be removed; make another key primary first.
    RemovePrimaryKey,
    /// Keys were given without a primary key.
    MissingPrimaryKey,
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKeyLength(n) => {
                write!(f, "key size must be 16, 24 or 32 bytes, not {n}")
            }
            Self::KeyNotInstalled => f.write_str("requested key is not in the keyring"),
            Self::RemovePrimaryKey => f.write_str("removing the primary key is not allowed"),
            Self::MissingPrimaryKey => f.write_str("empty primary key not allowed"),
        }
    }
}

impl std::error::Error for KeyringError {}

#[derive(Clone)]
enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes192(Box<Aes192Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl Cipher {
    fn new(key: &[u8]) -> Result<Self, KeyringError> {
        let bad = |_| KeyringError::InvalidKeyLength(key.len());
        Ok(match key.len() {
            16 => Cipher::Aes128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?)),
            24 => Cipher::Aes192(Box::new(Aes192Gcm::new_from_slice(key).map_err(bad)?)),
            32 => Cipher::Aes256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?)),
            n => return Err(KeyringError::InvalidKeyLength(n)),
        })
    }

    fn seal(&self, nonce: &[u8; NONCE_SIZE], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_SIZE] {
        let nonce = GenericArray::from_slice(nonce);
        let tag = match self {
            Cipher::Aes128(c) => c.encrypt_in_place_detached(nonce, aad, buf),
            Cipher::Aes192(c) => c.encrypt_in_place_detached(nonce, aad, buf),
            Cipher::Aes256(c) => c.encrypt_in_place_detached(nonce, aad, buf),
        };
        // GCM only fails for inputs beyond 64 GiB, which no message reaches.
        tag.map(Into::into).unwrap_or([0; TAG_SIZE])
    }

    fn open(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        let nonce = GenericArray::from_slice(nonce);
        let tag = GenericArray::from_slice(tag);
        match self {
            Cipher::Aes128(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag),
            Cipher::Aes192(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag),
            Cipher::Aes256(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag),
        }
        .is_ok()
    }
}

#[derive(Clone)]
struct Key {
    bytes: Vec<u8>,
    cipher: Cipher,
}

/// An ordered set of AES keys. The first is the primary key, the only one
/// used to encrypt; every key is tried, in order, to decrypt.
///
/// Encryption is enabled exactly when the keyring holds at least one key.
/// The keyring is plain data: share it between threads behind a lock.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Keyring")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Keyring {
    /// A keyring with `primary` first and then every other key of `keys`
    /// (duplicates ignored). With no keys and no primary the ring is empty
    /// (encryption disabled); keys without a primary are an error.
    pub fn new(keys: &[&[u8]], primary: Option<&[u8]>) -> Result<Self, KeyringError> {
        let mut ring = Keyring::default();
        match primary {
            None if keys.is_empty() => return Ok(ring),
            None => return Err(KeyringError::MissingPrimaryKey),
            Some([]) => return Err(KeyringError::MissingPrimaryKey),
            Some(p) => ring.add_key(p)?,
        }
        for key in keys {
            ring.add_key(key)?;
        }
        Ok(ring)
    }

    /// A keyring holding just `key` as primary.
    pub fn with_primary(key: &[u8]) -> Result<Self, KeyringError> {
        Self::new(&[], Some(key))
    }

    /// Whether no key is installed (encryption disabled).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of installed keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Installs a key after the existing ones; it becomes primary only if
    /// the ring was empty. Adding an installed key does nothing.
    pub fn add_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        let cipher = Cipher::new(key)?;
        if !self.contains(key) {
            self.keys.push(Key {
                bytes: key.to_vec(),
                cipher,
            });
        }
        Ok(())
    }

    /// Makes an installed key primary; the others keep their order.
    pub fn use_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        let i = self.position(key).ok_or(KeyringError::KeyNotInstalled)?;
        let k = self.keys.remove(i);
        self.keys.insert(0, k);
        Ok(())
    }

    /// Removes a key that is not primary. Removing an unknown key is not an
    /// error.
    pub fn remove_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        match self.position(key) {
            Some(0) => Err(KeyringError::RemovePrimaryKey),
            Some(i) => {
                self.keys.remove(i);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The installed keys, primary first.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(|k| k.bytes.as_slice())
    }

    /// The primary key, if any.
    pub fn primary_key(&self) -> Option<&[u8]> {
        self.keys.first().map(|k| k.bytes.as_slice())
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        self.keys.iter().position(|k| k.bytes == key)
    }

    /// Appends the envelope of `plaintext` sealed with the primary key.
    pub fn encrypt(
        &self,
        version: EncryptionVersion,
        nonce: &[u8; NONCE_SIZE],
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let key = self.keys.first().ok_or(WireError::NoEncryptionKey)?;
        out.reserve(version.encrypted_len(plaintext.len()));
        out.push(version as u8);
        out.extend_from_slice(nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        if version == EncryptionVersion::V0 {
            let pad = BLOCK_SIZE - plaintext.len() % BLOCK_SIZE;
            out.resize(out.len() + pad, pad as u8);
        }
        let tag = key.cipher.seal(nonce, aad, &mut out[start..]);
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens an envelope with the first key that authenticates it; returns
    /// the plaintext and the index of that key.
    pub fn decrypt(&self, data: &[u8], aad: &[u8]) -> Result<(Vec<u8>, usize), WireError> {
        let (&vsn, rest) = data.split_first().ok_or(WireError::EncryptedEmpty)?;
        let version = match vsn {
            0 => EncryptionVersion::V0,
            1 => EncryptionVersion::V1,
            v => return Err(WireError::UnsupportedEncryptionVersion(v)),
        };
        let min = version.encrypted_len(0);
        if data.len() < min {
            return Err(WireError::EncryptedTooShort {
                len: data.len(),
                min,
            });
        }
        let (nonce, sealed) = rest.split_at(NONCE_SIZE);
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_SIZE);
        let mut buf = Vec::with_capacity(ciphertext.len());
        for (index, key) in self.keys.iter().enumerate() {
            buf.clear();
            buf.extend_from_slice(ciphertext);
            if key.cipher.open(nonce, aad, &mut buf, tag) {
                if version == EncryptionVersion::V0 {
                    unpad(&mut buf)?;
                }
                return Ok((buf, index));
            }
        }
        Err(WireError::DecryptionFailed)
    }
}

/// Removes PKCS#7 padding, rejecting what Go would index past the end on.
fn unpad(buf: &mut Vec<u8>) -> Result<(), WireError> {
    let pad = usize::from(*buf.last().ok_or(WireError::InvalidPadding)?);
    if pad == 0 || pad > BLOCK_SIZE || pad > buf.len() {
        return Err(WireError::InvalidPadding);
    }
    buf.truncate(buf.len() - pad);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: [u8; 16] = [1; 16];
    const K2: [u8; 24] = [2; 24];
    const K3: [u8; 32] = [3; 32];

    #[test]
    fn pkcs7_round_trips_every_length() {
        let ring = Keyring::with_primary(&K1).unwrap();
        for len in 0..=255usize {
            let msg: Vec<u8> = (0..len as u8).collect();
            let mut out = Vec::new();
            ring.encrypt(EncryptionVersion::V0, &[9; 12], &msg, b"", &mut out)
                .unwrap();
            assert_eq!(out.len(), EncryptionVersion::V0.encrypted_len(len));
            assert_eq!(ring.decrypt(&out, b"").unwrap().0, msg);
        }
    }

    #[test]
    fn keyring_rules_match_go() {
        assert!(Keyring::new(&[], None).unwrap().is_empty());
        assert_eq!(
            Keyring::new(&[&K1], None).unwrap_err(),
            KeyringError::MissingPrimaryKey
        );
        assert_eq!(
            Keyring::with_primary(&[0; 3]).unwrap_err(),
            KeyringError::InvalidKeyLength(3)
        );
        let mut ring = Keyring::new(&[&K2, &K1], Some(&K1)).unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.primary_key(), Some(&K1[..]));
        assert_eq!(ring.use_key(&K3), Err(KeyringError::KeyNotInstalled));
        ring.add_key(&K3).unwrap();
        assert_eq!(ring.primary_key(), Some(&K1[..]));
        ring.use_key(&K3).unwrap();
        assert_eq!(ring.keys().collect::<Vec<_>>(), [&K3[..], &K1[..], &K2[..]]);
        assert_eq!(ring.remove_key(&K3), Err(KeyringError::RemovePrimaryKey));
        ring.remove_key(&K1).unwrap();
        ring.remove_key(&K1).unwrap();
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn any_installed_key_decrypts_until_removed() {
        let mut ring = Keyring::new(&[&K2, &K3], Some(&K1)).unwrap();
        for key in [&K1[..], &K2[..], &K3[..]] {
            let sender = Keyring::with_primary(key).unwrap();
            let mut out = Vec::new();
            sender
                .encrypt(EncryptionVersion::V1, &[7; 12], b"hello", b"lbl", &mut out)
                .unwrap();
            assert_eq!(ring.decrypt(&out, b"lbl").unwrap().0, b"hello");
            assert_eq!(
                ring.decrypt(&out, b"other"),
                Err(WireError::DecryptionFailed)
            );
            if key != K1 {
                ring.remove_key(key).unwrap();
                assert_eq!(ring.decrypt(&out, b"lbl"), Err(WireError::DecryptionFailed));
            }
        }
    }

    #[test]
    fn malformed_envelopes_are_typed_errors() {
        let ring = Keyring::with_primary(&K1).unwrap();
        assert_eq!(ring.decrypt(&[], b""), Err(WireError::EncryptedEmpty));
        assert_eq!(
            ring.decrypt(&[2; 40], b""),
            Err(WireError::UnsupportedEncryptionVersion(2))
        );
        assert_eq!(
            ring.decrypt(&[1; 28], b""),
            Err(WireError::EncryptedTooShort { len: 28, min: 29 })
        );
        assert_eq!(
            ring.decrypt(&[0; 44], b""),
            Err(WireError::EncryptedTooShort { len: 44, min: 45 })
        );
        assert_eq!(
            ring.decrypt(&[1; 29], b""),
            Err(WireError::DecryptionFailed)
        );
        // A key holder sealing a v0 envelope whose "padding" byte is 0 or
        // larger than the plaintext: Go would panic, we reject it.
        for last in [0u8, 17, 200] {
            let mut body = vec![5u8; 15];
            body.push(last);
            let mut out = Vec::new();
            ring.encrypt(EncryptionVersion::V1, &[1; 12], &body, b"", &mut out)
                .unwrap();
            out[0] = 0;
            assert_eq!(ring.decrypt(&out, b""), Err(WireError::InvalidPadding));
        }
    }
}
