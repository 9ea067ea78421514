//! Category-key envelopes: a category key sealed to one recipient's X25519 public key with HPKE
//! (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
//! Grantees get one; the patient seals one to itself so that any of its devices can recover the
//! key from the chain with only the wallet.

use base64::Engine as _;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};
use crate::keys::{CategoryKey, HpkeKem, X25519PublicKey, X25519SecretKey};
use crate::rng::os_rng;
use crate::Category;

/// Prefix of the HPKE `info` string.
pub const ENVELOPE_INFO_LABEL: &[u8] = b"ehr-chain/category-key-envelope/v1";
/// Length of the HPKE encapsulated key (the sender's ephemeral X25519 public key).
pub const ENC_LEN: usize = 32;
/// Length of the sealed category key (32-byte key + 16-byte tag).
pub const SEALED_KEY_LEN: usize = 32 + 16;
/// Length of an envelope: enc || sealed key.
pub const ENVELOPE_LEN: usize = ENC_LEN + SEALED_KEY_LEN;

/// Which category key an envelope carries. Bound into HPKE `info`, so an envelope only opens
/// for the exact (patient, category, epoch) it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnvelopeContext {
    pub patient_id: u64,
    pub category: Category,
    pub epoch: u32,
}

impl EnvelopeContext {
    /// HPKE info = label || patient id (u64 BE) || category code (u8) || epoch (u32 BE).
    pub fn info(&self) -> Vec<u8> {
        let mut info = Vec::with_capacity(ENVELOPE_INFO_LABEL.len() + 13);
        info.extend_from_slice(ENVELOPE_INFO_LABEL);
        info.extend_from_slice(&self.patient_id.to_be_bytes());
        info.push(self.category.code());
        info.extend_from_slice(&self.epoch.to_be_bytes());
        info
    }
}

/// A sealed category key: enc (32 bytes) || ChaCha20-Poly1305 ciphertext of the key (48 bytes).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Envelope([u8; ENVELOPE_LEN]);

impl Envelope {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        <[u8; ENVELOPE_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| CryptoError::BadEnvelopeLength {
                len: bytes.len(),
                expected: ENVELOPE_LEN,
            })
    }

    pub fn as_bytes(&self) -> &[u8; ENVELOPE_LEN] {
        &self.0
    }

    /// Standard base64 with padding, as stored in on-chain strings.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| CryptoError::Base64(e.to_string()))?;
        Self::from_bytes(&bytes)
    }
}

/// Seals `category_key` to `recipient` for `context`.
pub fn seal_category_key(
    recipient: &X25519PublicKey,
    context: &EnvelopeContext,
    category_key: &CategoryKey,
) -> Result<Envelope> {
    seal_category_key_with_rng(recipient, context, category_key, &mut os_rng()?)
}

pub(crate) fn seal_category_key_with_rng(
    recipient: &X25519PublicKey,
    context: &EnvelopeContext,
    category_key: &CategoryKey,
    rng: &mut impl CryptoRng,
) -> Result<Envelope> {
    let sealed = hpke_seal(recipient, &context.info(), category_key.as_bytes(), rng)?;
    let out: [u8; ENVELOPE_LEN] = sealed
        .try_into()
        .map_err(|_| CryptoError::EnvelopeSealFailed)?;
    Ok(Envelope(out))
}

/// Opens an envelope with the recipient's secret key for the expected `context`.
pub fn open_category_key(
    recipient: &X25519SecretKey,
    context: &EnvelopeContext,
    envelope: &Envelope,
) -> Result<CategoryKey> {
    let opened = hpke_open(recipient, &context.info(), &envelope.0)?;
    let mut key = Zeroizing::new([0u8; 32]);
    if opened.len() != key.len() {
        return Err(CryptoError::EnvelopeOpenFailed);
    }
    key.copy_from_slice(&opened);
    Ok(CategoryKey::from_bytes(*key))
}

/// HPKE base-mode single-shot seal (the suite above, empty aad): enc || ciphertext.
pub(crate) fn hpke_seal(
    recipient: &X25519PublicKey,
    info: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>> {
    let pk = recipient.to_hpke()?;
    let (enc, sealed) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, HpkeKem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        b"",
        rng,
    )
    .map_err(|_| CryptoError::EnvelopeSealFailed)?;
    let enc = enc.to_bytes();
    if enc.len() != ENC_LEN {
        return Err(CryptoError::EnvelopeSealFailed);
    }
    let mut out = enc.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what `hpke_seal` made, for the expected `info`.
pub(crate) fn hpke_open(
    recipient: &X25519SecretKey,
    info: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.len() < ENC_LEN {
        return Err(CryptoError::EnvelopeOpenFailed);
    }
    let (enc_bytes, ciphertext) = sealed.split_at(ENC_LEN);
    let enc = <HpkeKem as hpke::Kem>::EncappedKey::from_bytes(enc_bytes)
        .map_err(|_| CryptoError::EnvelopeOpenFailed)?;
    let sk = recipient.to_hpke()?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, HpkeKem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ciphertext,
        b"",
    )
    .map(Zeroizing::new)
    .map_err(|_| CryptoError::EnvelopeOpenFailed)
}
