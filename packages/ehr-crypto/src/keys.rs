//! Key types. Secrets zeroize on drop and never print.

use base64::Engine as _;
use hpke::Deserializable;
use rand_core::{CryptoRng, Rng};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CryptoError, Result};
use crate::rng::os_rng;

pub(crate) type HpkeKem = hpke::kem::X25519HkdfSha256;

pub(crate) fn decode_hex_32(what: &'static str, text: &str) -> Result<[u8; 32]> {
    let bytes = Zeroizing::new(hex::decode(text).map_err(|e| CryptoError::Hex(e.to_string()))?);
    to_array_32(what, &bytes)
}

pub(crate) fn decode_base64_32(what: &'static str, text: &str) -> Result<[u8; 32]> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| CryptoError::Base64(e.to_string()))?,
    );
    to_array_32(what, &bytes)
}

fn to_array_32(what: &'static str, bytes: &[u8]) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::InvalidKey {
        what,
        reason: format!("{} bytes, expected 32", bytes.len()),
    })
}

/// The symmetric key of one (patient, category, epoch). It wraps the data key of every file of
/// that category written during that epoch, and travels to grantees inside HPKE envelopes.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CategoryKey([u8; 32]);

impl CategoryKey {
    /// A new random key from the OS random generator.
    pub fn generate() -> Result<Self> {
        Ok(Self::generate_with_rng(&mut os_rng()?))
    }

    pub(crate) fn generate_with_rng(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_hex(text: &str) -> Result<Self> {
        decode_hex_32("category key", text).map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for CategoryKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CategoryKey(<redacted>)")
    }
}

/// An X25519 secret key (32 bytes as stored/derived; clamping happens inside X25519 per RFC 7748).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct X25519SecretKey([u8; 32]);

impl X25519SecretKey {
    /// A new random key from the OS random generator.
    pub fn generate() -> Result<Self> {
        let mut rng = os_rng()?;
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_hex(text: &str) -> Result<Self> {
        decode_hex_32("X25519 secret key", text).map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The matching public key: X25519(clamp(secret), 9).
    pub fn public_key(&self) -> X25519PublicKey {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        X25519PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }

    pub(crate) fn to_hpke(&self) -> Result<<HpkeKem as hpke::Kem>::PrivateKey> {
        <HpkeKem as hpke::Kem>::PrivateKey::from_bytes(&self.0).map_err(|e| {
            CryptoError::InvalidKey {
                what: "X25519 secret key",
                reason: e.to_string(),
            }
        })
    }
}

impl core::fmt::Debug for X25519SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("X25519SecretKey(<redacted>)")
    }
}

/// An X25519 public key, as registered on chain (base64 of the 32 raw bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct X25519PublicKey([u8; 32]);

impl X25519PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self> {
        decode_base64_32("X25519 public key", text).map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self> {
        decode_hex_32("X25519 public key", text).map(Self)
    }

    pub(crate) fn to_hpke(self) -> Result<<HpkeKem as hpke::Kem>::PublicKey> {
        <HpkeKem as hpke::Kem>::PublicKey::from_bytes(&self.0).map_err(|e| {
            CryptoError::InvalidKey {
                what: "X25519 public key",
                reason: e.to_string(),
            }
        })
    }
}
