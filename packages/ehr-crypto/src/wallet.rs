//! Wallet keys: a Cosmos secp256k1 key from a BIP-39 mnemonic (m/44'/118'/0'/0/0), its bech32
//! address, Keplr-compatible ADR-36 `signArbitrary` signatures, and the X25519 encryption key
//! derived from such a signature, so the browser (Keplr) and the CLI (mnemonic) get the same key.

use base64::Engine as _;
use bip32::{DerivationPath, XPrv};
use hkdf::Hkdf;
use k256::ecdsa::signature::{Signer, Verifier};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};
use crate::keys::X25519SecretKey;

/// Cosmos SDK coin type 118 path, account 0, first address: what Keplr and wasmd use.
pub const COSMOS_HD_PATH: &str = "m/44'/118'/0'/0/0";
/// Bech32 prefix of account addresses on ehr-chain (wasmd).
pub const ADDRESS_PREFIX: &str = "wasm";
/// The message the wallet signs (ADR-36) to derive its X25519 key, with `{chain_id}` and
/// `{registry}` filled in (`key_derivation_message`). Changing it changes every key.
pub const KEY_DERIVATION_TEMPLATE: &str = "ehr-chain: unlock your health records\n\nSigning this creates the key that opens your health records on chain {chain_id} (records contract {registry}).\n\nSign it only in the ehr-chain app. Anyone who gets this signature can read every record shared with you.\n\nehr-chain key derivation v2";

/// Where a derived key is used: a signature asked for by another site, chain or registry
/// signs another message and so derives another key.
#[derive(Clone, Copy, Debug)]
pub struct KeyScope<'a> {
    pub chain_id: &'a str,
    pub registry: &'a str,
}

/// The message the wallet signs for `scope`: what the user reads in Keplr's prompt.
pub fn key_derivation_message(scope: &KeyScope) -> String {
    KEY_DERIVATION_TEMPLATE
        .replace("{chain_id}", scope.chain_id)
        .replace("{registry}", scope.registry)
}
/// HKDF-SHA256 salt for the X25519 secret.
pub const X25519_HKDF_SALT: &[u8] = b"ehr-chain/x25519-from-adr36/v1";
/// HKDF-SHA256 info for the X25519 secret.
pub const X25519_HKDF_INFO: &[u8] = b"ehr-chain x25519 secret key";

/// A secp256k1 account key (the wallet). The signing key zeroizes on drop.
#[derive(Clone)]
pub struct WalletKey {
    signing_key: SigningKey,
}

impl core::fmt::Debug for WalletKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WalletKey")
            .field("public_key", &hex::encode(self.public_key_compressed()))
            .finish()
    }
}

impl WalletKey {
    /// The key at `m/44'/118'/0'/0/0` of a BIP-39 English mnemonic, empty passphrase.
    pub fn from_mnemonic(mnemonic: &str) -> Result<Self> {
        Self::from_mnemonic_at(mnemonic, COSMOS_HD_PATH)
    }

    /// The key at `path` of a BIP-39 English mnemonic, empty passphrase.
    pub fn from_mnemonic_at(mnemonic: &str, path: &str) -> Result<Self> {
        // Keplr and the Cosmos SDK accept any whitespace between words.
        let normalized = Zeroizing::new(mnemonic.split_whitespace().collect::<Vec<_>>().join(" "));
        let parsed = bip39::Mnemonic::parse_in(bip39::Language::English, normalized.as_str())
            .map_err(|e| CryptoError::InvalidMnemonic(e.to_string()))?;
        let seed = Zeroizing::new(parsed.to_seed(""));
        let path: DerivationPath = path
            .parse()
            .map_err(|e: bip32::Error| CryptoError::HdDerivation(e.to_string()))?;
        let xprv = XPrv::derive_from_path(seed.as_ref(), &path)
            .map_err(|e| CryptoError::HdDerivation(e.to_string()))?;
        Ok(Self {
            signing_key: xprv.private_key().clone(),
        })
    }

    /// From a raw 32-byte secp256k1 secret scalar.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(CryptoError::InvalidKey {
                what: "secp256k1 secret key",
                reason: format!("{} bytes, expected 32", bytes.len()),
            });
        }
        let signing_key = SigningKey::from_slice(bytes).map_err(|_| CryptoError::InvalidKey {
            what: "secp256k1 secret key",
            reason: "not a valid scalar".into(),
        })?;
        Ok(Self { signing_key })
    }

    /// The 32-byte secret scalar (for test vectors and key export).
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.signing_key.to_bytes());
        out
    }

    /// SEC1 compressed public key (33 bytes), as in Cosmos `PubKeySecp256k1`.
    pub fn public_key_compressed(&self) -> [u8; 33] {
        let point = self.signing_key.verifying_key().to_sec1_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The bech32 account address with the `wasm` prefix.
    pub fn address(&self) -> Result<String> {
        self.address_with_prefix(ADDRESS_PREFIX)
    }

    /// bech32(prefix, ripemd160(sha256(compressed public key))).
    pub fn address_with_prefix(&self, prefix: &str) -> Result<String> {
        address_from_public_key(&self.public_key_compressed(), prefix)
    }

    /// Keplr `signArbitrary(chainId, signer, data)`: ECDSA over sha256 of the ADR-36 sign doc,
    /// RFC 6979 deterministic nonce, low-S, returned as r || s.
    pub fn sign_arbitrary(&self, signer: &str, data: &[u8]) -> Result<[u8; 64]> {
        let doc = adr36_sign_doc(signer, data);
        let signature: Signature = self
            .signing_key
            .try_sign(&doc)
            .map_err(|_| CryptoError::InvalidSignature)?;
        let signature = signature.normalize_s();
        let mut out = [0u8; 64];
        out.copy_from_slice(&signature.to_bytes());
        Ok(out)
    }

    /// The wallet's X25519 encryption key for `scope`: the ADR-36 signature of
    /// [`key_derivation_message`] by its own `wasm` address, through HKDF-SHA256. Same result as
    /// the browser gets from Keplr.
    pub fn derive_encryption_key(&self, scope: &KeyScope) -> Result<X25519SecretKey> {
        let message = key_derivation_message(scope);
        let signature = Zeroizing::new(self.sign_arbitrary(&self.address()?, message.as_bytes())?);
        x25519_secret_from_signature(&signature)
    }
}

/// bech32(prefix, ripemd160(sha256(pubkey))).
pub fn address_from_public_key(public_key_compressed: &[u8; 33], prefix: &str) -> Result<String> {
    let hrp = bech32::Hrp::parse(prefix).map_err(|e| CryptoError::Address(e.to_string()))?;
    let hash = Ripemd160::digest(Sha256::digest(public_key_compressed));
    bech32::encode::<bech32::Bech32>(hrp, &hash).map_err(|e| CryptoError::Address(e.to_string()))
}

/// The ADR-36 amino sign doc exactly as Keplr serializes it for `signArbitrary`: keys sorted,
/// no whitespace, and `<`, `>`, `&` escaped as `\u003c`, `\u003e`, `\u0026`.
pub fn adr36_sign_doc(signer: &str, data: &[u8]) -> Vec<u8> {
    let data_base64 = base64::engine::general_purpose::STANDARD.encode(data);
    // Written out in sorted key order rather than via a JSON map, so the output cannot depend on
    // serde_json's `preserve_order` feature being enabled elsewhere in the build.
    let doc = format!(
        concat!(
            r#"{{"account_number":"0","chain_id":"","fee":{{"amount":[],"gas":"0"}},"memo":"","#,
            r#""msgs":[{{"type":"sign/MsgSignData","value":{{"data":{},"signer":{}}}}}],"sequence":"0"}}"#
        ),
        json_string(&data_base64),
        json_string(signer),
    );
    doc.replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .into_bytes()
}

fn json_string(value: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Verifies an ADR-36 signature (64-byte r || s, low-S) by `public_key_compressed` over `data`
/// signed as `signer`.
pub fn verify_arbitrary(
    public_key_compressed: &[u8; 33],
    signer: &str,
    data: &[u8],
    signature: &[u8; 64],
) -> Result<()> {
    let key = VerifyingKey::from_sec1_bytes(public_key_compressed).map_err(|_| {
        CryptoError::InvalidKey {
            what: "secp256k1 public key",
            reason: "not a valid SEC1 point".into(),
        }
    })?;
    let signature = Signature::from_slice(signature).map_err(|_| CryptoError::InvalidSignature)?;
    // Cosmos rejects high-S signatures; so do we.
    if signature.normalize_s() != signature {
        return Err(CryptoError::InvalidSignature);
    }
    key.verify(&adr36_sign_doc(signer, data), &signature)
        .map_err(|_| CryptoError::InvalidSignature)
}

/// X25519 secret = HKDF-SHA256(salt = X25519_HKDF_SALT, ikm = r || s, info = X25519_HKDF_INFO, 32).
pub fn x25519_secret_from_signature(signature: &[u8; 64]) -> Result<X25519SecretKey> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(X25519_HKDF_SALT), signature)
        .expand(X25519_HKDF_INFO, okm.as_mut())
        .map_err(|_| CryptoError::InvalidKey {
            what: "X25519 secret key",
            reason: "HKDF output length".into(),
        })?;
    Ok(X25519SecretKey::from_bytes(*okm))
}

/// Parses a base64 signature as returned by Keplr's `signArbitrary` (`StdSignature.signature`).
pub fn signature_from_base64(text: &str) -> Result<[u8; 64]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| CryptoError::Base64(e.to_string()))?;
    <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::InvalidSignature)
}
