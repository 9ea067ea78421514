//! Client-side cryptography of ehr-chain (DESIGN §4).
//!
//! * [`file`]: record files encrypted with a random per-file data key (XChaCha20-Poly1305), the
//!   data key wrapped under the (patient, category, epoch) category key, all header fields
//!   authenticated. Byte layout: `FORMAT.md`.
//! * [`envelope`]: category keys sealed to X25519 public keys with HPKE (RFC 9180) base mode,
//!   DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
//! * [`wallet`]: mnemonic → secp256k1 key → `wasm` address; Keplr-compatible ADR-36 signatures;
//!   X25519 key derived from the signature of a fixed message.
//! * [`escrow`]: category keys split into k-of-n Shamir shares sealed to trustees (break glass).
//! * [`at_rest`]: files the client keeps for itself (the search index), under a key derived
//!   from the identity's X25519 secret.
//! * [`sha256_hex`]: the value stored on chain for a ciphertext.
//!
//! All secrets zeroize on drop. No function panics on any input; failures are [`CryptoError`].

#![forbid(unsafe_code)]

pub mod at_rest;
pub mod envelope;
pub mod error;
pub mod escrow;
pub mod file;
pub mod keyring;
pub mod keys;
mod rng;
pub mod vectors;
pub mod wallet;

pub use at_rest::AtRestKey;
/// The record categories of the interface crate: their codes are part of the file and envelope formats.
pub use ehr_types::Category;
pub use envelope::{open_category_key, seal_category_key, Envelope, EnvelopeContext};
pub use error::{CryptoError, Result};
pub use file::{decrypt_file, decrypt_file_expecting, encrypt_file, DecryptedFile, RecordHeader};
pub use keyring::CategoryKeyring;
pub use keys::{CategoryKey, X25519PublicKey, X25519SecretKey};
pub use wallet::{key_derivation_message, KeyScope, WalletKey};

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `bytes`: what goes on chain for a ciphertext (`BlobRef.sha256`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
