//! One error type for the whole crate. Every fallible operation returns it; nothing panics on input.

/// What went wrong. Variants are specific enough for a CLI or UI to say what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The input is shorter than the fixed-size part of the format it claims to be.
    #[error("truncated input: {len} bytes, need at least {min}")]
    Truncated { len: usize, min: usize },

    /// The file does not start with the ehr-chain magic bytes.
    #[error("bad header: not an ehr-chain encrypted file (magic mismatch)")]
    BadMagic,

    /// The file was written by a newer (or unknown) format version.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),

    /// A category code that is not in the category list.
    #[error("unknown category code {0}")]
    UnknownCategoryCode(u8),

    /// The data key could not be unwrapped: the category key is not the one the file was written
    /// with (wrong patient, category or epoch key), or the header was altered.
    #[error("wrong key or tampered header: the data key could not be unwrapped")]
    WrongKeyOrTamperedHeader,

    /// The content failed authentication: the ciphertext or the header was altered.
    #[error("tampered file: content authentication failed")]
    Tampered,

    /// The header is authentic but describes another record than the one expected.
    #[error("header mismatch: {field} is {found}, expected {expected}")]
    HeaderMismatch {
        field: &'static str,
        expected: String,
        found: String,
    },

    /// No category key for the (patient, category, epoch) a file or envelope refers to.
    #[error("no category key for patient {patient_id}, category {category}, epoch {epoch}")]
    MissingCategoryKey {
        patient_id: u64,
        category: &'static str,
        epoch: u32,
    },

    /// An envelope of the wrong size.
    #[error("bad envelope: {len} bytes, expected {expected}")]
    BadEnvelopeLength { len: usize, expected: usize },

    /// HPKE open failed: not addressed to this key, other (patient, category, epoch), or altered.
    #[error("envelope cannot be opened: wrong recipient key, wrong context, or tampered")]
    EnvelopeOpenFailed,

    /// HPKE seal failed (e.g. the recipient public key is a low-order point).
    #[error("envelope cannot be sealed to this public key")]
    EnvelopeSealFailed,

    /// Shamir splitting was asked for an impossible (threshold, shares) pair.
    #[error("cannot split into {shares} shares with threshold {threshold}: need 2 <= threshold <= shares <= 255")]
    BadSplit { threshold: u8, shares: usize },

    /// Fewer distinct shares than the threshold, or shares of different splits.
    #[error("{got} distinct key shares of the {needed} needed")]
    NotEnoughShares { got: usize, needed: u8 },

    /// Released shares that do not match the commitments the patient published with the
    /// escrow (named by trustee), and no subset of the others gives the committed key.
    #[error("the released key shares do not give the committed key{}", if trustees.is_empty() { String::new() } else { format!(": wrong share from {}", trustees.join(", ")) })]
    SharesDoNotVerify { trustees: Vec<String> },

    /// A share of the wrong length (a share is 1 + 32 bytes).
    #[error("bad key share: {len} bytes, expected {expected}")]
    BadShareLength { len: usize, expected: usize },

    /// A public or secret key of the wrong length or encoding.
    #[error("invalid {what}: {reason}")]
    InvalidKey { what: &'static str, reason: String },

    /// Malformed base64 text.
    #[error("invalid base64: {0}")]
    Base64(String),

    /// Malformed hex text.
    #[error("invalid hex: {0}")]
    Hex(String),

    /// The BIP-39 mnemonic is not valid (unknown word, bad checksum, bad length).
    #[error("invalid mnemonic: {0}")]
    InvalidMnemonic(String),

    /// BIP-32 derivation failed or the path is malformed.
    #[error("HD key derivation failed: {0}")]
    HdDerivation(String),

    /// Bech32 encoding/decoding failed.
    #[error("invalid address: {0}")]
    Address(String),

    /// The ECDSA signature does not verify, or is malformed.
    #[error("invalid signature")]
    InvalidSignature,

    /// The operating system's random generator failed.
    #[error("OS random generator failed: {0}")]
    Rng(String),

    /// A file kept at rest (the search index) does not open: sealed for another identity,
    /// chain, registry or patient, or altered.
    #[error("local file cannot be opened: sealed for another identity or altered")]
    AtRestUnreadable,

    /// The AEAD refused to encrypt (input larger than the cipher allows).
    #[error("encryption failed: input too large")]
    EncryptionFailed,
}

pub type Result<T> = core::result::Result<T, CryptoError>;
