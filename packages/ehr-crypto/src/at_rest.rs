//! Files a client keeps for itself (the search index of decrypted records): sealed with
//! XChaCha20-Poly1305 under a key derived from the identity's X25519 secret, so only the wallet
//! that could decrypt the records can read what was learnt from them.
//!
//! Key: HKDF-SHA256(salt = a label naming the file's purpose, ikm = the X25519 secret key bytes,
//! info = chain id ‖ 0 ‖ registry ‖ 0 ‖ address). Sealed file: 24-byte random nonce ‖ ciphertext ‖
//! 16-byte tag; the caller's AAD binds it to what it is about (e.g. one patient).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand_core::Rng;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CryptoError, Result};
use crate::file::{NONCE_LEN, TAG_LEN};
use crate::keys::X25519SecretKey;
use crate::rng::os_rng;
use crate::wallet::KeyScope;

/// The label of the search index's key (web and CLI indexes alike would use it).
pub const SEARCH_INDEX_LABEL: &[u8] = b"ehr-chain/search-index/v1";

/// A key for files kept at rest on this device.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AtRestKey([u8; 32]);

impl AtRestKey {
    /// The key of `label` files of `address` on one chain and registry.
    pub fn derive(
        secret: &X25519SecretKey,
        label: &[u8],
        scope: &KeyScope,
        address: &str,
    ) -> Result<Self> {
        let info = [
            scope.chain_id.as_bytes(),
            &[0],
            scope.registry.as_bytes(),
            &[0],
            address.as_bytes(),
        ]
        .concat();
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(label), secret.as_bytes())
            .expand(&info, okm.as_mut())
            .map_err(|_| CryptoError::InvalidKey {
                what: "at-rest key",
                reason: "HKDF output length".into(),
            })?;
        Ok(Self(*okm))
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(&self.0).map_err(|_| CryptoError::InvalidKey {
            what: "XChaCha20-Poly1305 key",
            reason: "not 32 bytes".into(),
        })
    }

    /// `plaintext` sealed with a fresh random nonce, `aad` authenticated.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        os_rng()?.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()?
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::EncryptionFailed)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The plaintext of a sealed file; `AtRestUnreadable` for another key, another AAD or any
    /// altered byte.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated {
                len: sealed.len(),
                min: NONCE_LEN + TAG_LEN,
            });
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated {
            len: sealed.len(),
            min: NONCE_LEN + TAG_LEN,
        })?;
        self.cipher()?
            .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::AtRestUnreadable)
    }
}

impl core::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AtRestKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: KeyScope = KeyScope {
        chain_id: "ehr-local-1",
        registry: "wasm1registry",
    };

    fn key(secret: u8, scope: &KeyScope, address: &str) -> AtRestKey {
        AtRestKey::derive(
            &X25519SecretKey::from_bytes([secret; 32]),
            SEARCH_INDEX_LABEL,
            scope,
            address,
        )
        .unwrap()
    }

    #[test]
    fn sealed_files_open_only_with_the_same_key_and_aad_unaltered() {
        let k = key(7, &SCOPE, "wasm1alice");
        let sealed = k.seal(b"patient 3", b"index bytes").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 11 + TAG_LEN);
        assert_eq!(
            k.open(b"patient 3", &sealed).unwrap().as_slice(),
            b"index bytes"
        );
        assert_ne!(sealed, k.seal(b"patient 3", b"index bytes").unwrap());

        let unreadable = |key: &AtRestKey, aad: &[u8], bytes: &[u8]| {
            assert_eq!(
                key.open(aad, bytes).unwrap_err(),
                CryptoError::AtRestUnreadable
            );
        };
        unreadable(&k, b"patient 4", &sealed);
        unreadable(&key(8, &SCOPE, "wasm1alice"), b"patient 3", &sealed);
        unreadable(&key(7, &SCOPE, "wasm1bob"), b"patient 3", &sealed);
        let other_chain = KeyScope {
            chain_id: "ehr-other-1",
            ..SCOPE
        };
        unreadable(&key(7, &other_chain, "wasm1alice"), b"patient 3", &sealed);
        for at in [0, NONCE_LEN, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1;
            unreadable(&k, b"patient 3", &tampered);
        }
        assert!(matches!(
            k.open(b"patient 3", &sealed[..NONCE_LEN + TAG_LEN - 1]),
            Err(CryptoError::Truncated { .. })
        ));
    }

    #[test]
    fn the_derivation_separates_its_inputs() {
        let a = key(1, &SCOPE, "wasm1x");
        let b = key(1, &SCOPE, "wasm1y");
        assert_ne!(a.0, b.0);
        let other_label = AtRestKey::derive(
            &X25519SecretKey::from_bytes([1; 32]),
            b"another purpose",
            &SCOPE,
            "wasm1x",
        )
        .unwrap();
        assert_ne!(a.0, other_label.0);
    }
}
