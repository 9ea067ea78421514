//! Input rules shared by both contracts and checked by clients before they submit.

use cosmwasm_std::{Addr, Api, Binary};
use thiserror::Error;

use crate::blob::BlobRef;
use crate::error_code::{ErrorCode, Tag};
use crate::escrow::{EmergencyReason, MAX_REASON_CODE_LEN};

pub const SHA256_HEX_LEN: usize = 64;
pub const MAX_URI_LEN: usize = 256;
pub const IPFS_SCHEME: &str = "ipfs://";
pub const EHRFS_SCHEME: &str = "ehrfs://";
/// X25519 public keys are 32 bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// An HPKE envelope of a 32-byte category key: 32 (enc) + 32 + 16 (tag). The chain stores no
/// other length, so nothing it holds for another party can be a stub that breaks its client.
pub const ENVELOPE_LEN: usize = 80;
/// An HPKE-sealed Shamir share (a 1-byte index and 32 bytes): 32 (enc) + 33 + 16 (tag).
pub const SEALED_SHARE_LEN: usize = 81;
/// An escrow commitment: a sha256 digest.
pub const COMMITMENT_LEN: usize = 32;
/// At most one envelope per category and epoch in one message.
pub const MAX_ENVELOPES: usize = 32;
/// The most records one `AddRecords` carries, so one contract call does bounded work.
pub const MAX_RECORDS_PER_MESSAGE: usize = 1000;
/// The most parties (besides the patient) that hold one (patient, category) epoch's key. A
/// rotation checks and wraps to each of them, so its cost grows with this bound.
pub const MAX_KEY_HOLDERS: usize = 32;
/// A provider's public display name ("Dr Ana Lima"), in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// A provider's organisation ("Hospital São João, Cardiology"), in characters.
pub const MAX_ORGANIZATION_CHARS: usize = 96;

#[derive(Error, Debug, PartialEq, Eq, Clone)]
pub enum ValidationError {
    #[error("invalid sha256: expected 64 lowercase hex characters")]
    InvalidSha256,
    #[error("invalid uri: expected ipfs://<cid> or ehrfs://<sha256>, at most 256 characters")]
    InvalidUri,
    #[error("ehrfs uri must name the blob's own sha256")]
    UriHashMismatch,
    #[error("invalid blob size: must be greater than zero")]
    InvalidBlobSize,
    #[error("invalid public key: expected {PUBLIC_KEY_LEN} bytes, got {len}")]
    InvalidPublicKey { len: usize },
    #[error("invalid public key: not a usable X25519 point (low order or not canonical)")]
    WeakPublicKey,
    #[error("invalid key envelope: expected {ENVELOPE_LEN} bytes, got {len}")]
    InvalidEnvelope { len: usize },
    #[error("invalid sealed share: expected {SEALED_SHARE_LEN} bytes, got {len}")]
    InvalidSealedShare { len: usize },
    #[error("invalid escrow commitment: expected {COMMITMENT_LEN} bytes, got {len}")]
    InvalidCommitment { len: usize },
    #[error("too many key envelopes: at most {MAX_ENVELOPES}")]
    TooManyEnvelopes,
    #[error("expected 1 to {MAX_RECORDS_PER_MESSAGE} records in one message, got {count}")]
    InvalidRecordCount { count: usize },
    #[error("invalid emergency reason code: 2 to {MAX_REASON_CODE_LEN} of A-Z, 0-9 and '-'")]
    InvalidReasonCode,
    #[error("invalid {field}: {rule}")]
    InvalidDirectoryText {
        field: DirectoryField,
        rule: DirectoryTextRule,
    },
}

impl ValidationError {
    /// The tag of this error as a contract's `invalid_input`: which rule failed (and, for the
    /// directory, which field), so a client need not read the sentence.
    pub fn tag(&self) -> Tag {
        let tag = Tag::new(ErrorCode::InvalidInput);
        match self {
            ValidationError::InvalidSha256 => tag.with("rule", "sha256"),
            ValidationError::InvalidUri => tag.with("rule", "uri"),
            ValidationError::UriHashMismatch => tag.with("rule", "uri_hash"),
            ValidationError::InvalidBlobSize => tag.with("rule", "blob_size"),
            ValidationError::InvalidPublicKey { .. } => tag.with("rule", "public_key"),
            ValidationError::WeakPublicKey => tag.with("rule", "weak_public_key"),
            ValidationError::InvalidEnvelope { .. } => tag.with("rule", "envelope"),
            ValidationError::InvalidSealedShare { .. } => tag.with("rule", "sealed_share"),
            ValidationError::InvalidCommitment { .. } => tag.with("rule", "commitment"),
            ValidationError::TooManyEnvelopes => tag.with("rule", "envelope_count"),
            ValidationError::InvalidRecordCount { .. } => tag.with("rule", "record_count"),
            ValidationError::InvalidReasonCode => tag.with("rule", "reason_code"),
            ValidationError::InvalidDirectoryText { field, rule } => {
                let tag = tag.with("rule", "directory_text").with(
                    "field",
                    match field {
                        DirectoryField::DisplayName => "display_name",
                        DirectoryField::Organization => "organization",
                    },
                );
                match rule {
                    DirectoryTextRule::Empty => tag.with("text_rule", "empty"),
                    DirectoryTextRule::TooLong { max_chars } => {
                        tag.with("text_rule", "too_long").with("max", max_chars)
                    }
                    DirectoryTextRule::SurroundingSpace => {
                        tag.with("text_rule", "surrounding_space")
                    }
                    DirectoryTextRule::ControlCharacter => {
                        tag.with("text_rule", "control_character")
                    }
                }
            }
        }
    }
}

/// The professional directory fields a provider is listed under (public, not health data).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum DirectoryField {
    DisplayName,
    Organization,
}

impl DirectoryField {
    pub fn max_chars(self) -> usize {
        match self {
            DirectoryField::DisplayName => MAX_DISPLAY_NAME_CHARS,
            DirectoryField::Organization => MAX_ORGANIZATION_CHARS,
        }
    }
}

impl std::fmt::Display for DirectoryField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DirectoryField::DisplayName => "display name",
            DirectoryField::Organization => "organization",
        })
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum DirectoryTextRule {
    Empty,
    TooLong { max_chars: usize },
    SurroundingSpace,
    ControlCharacter,
}

impl std::fmt::Display for DirectoryTextRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirectoryTextRule::Empty => f.write_str("must not be empty"),
            DirectoryTextRule::TooLong { max_chars } => {
                write!(f, "at most {max_chars} characters")
            }
            DirectoryTextRule::SurroundingSpace => {
                f.write_str("no leading or trailing white space")
            }
            DirectoryTextRule::ControlCharacter => {
                f.write_str("no control or text-direction characters")
            }
        }
    }
}

/// An address a message names that the chain does not accept; each contract maps it to its own
/// `InvalidAddress` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAddress {
    pub address: String,
}

/// The address as the chain spells it (bech32 with this chain's prefix, normalised).
pub fn validate_address(api: &dyn Api, address: &str) -> Result<Addr, InvalidAddress> {
    api.addr_validate(address).map_err(|_| InvalidAddress {
        address: address.to_string(),
    })
}

/// An `Other` reason's code is a short policy code, never free text (nothing clinical on chain).
pub fn validate_emergency_reason(reason: &EmergencyReason) -> Result<(), ValidationError> {
    match reason {
        EmergencyReason::IncapablePatient {} => Ok(()),
        EmergencyReason::Other { code } => {
            let allowed = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-';
            if (2..=MAX_REASON_CODE_LEN).contains(&code.len()) && code.bytes().all(allowed) {
                Ok(())
            } else {
                Err(ValidationError::InvalidReasonCode)
            }
        }
    }
}

/// Characters that move or hide text around them: C0/C1 controls and the bidirectional marks,
/// embeddings, overrides and isolates that could make "Dr Eve" read as someone else.
fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A display name or organisation: non-empty, bounded, one line, no padding, so that every UI
/// shows exactly what the admin entered and nothing can be smuggled around it.
pub fn validate_directory_text(field: DirectoryField, text: &str) -> Result<(), ValidationError> {
    let rule = if text.is_empty() {
        Some(DirectoryTextRule::Empty)
    } else if text.chars().count() > field.max_chars() {
        Some(DirectoryTextRule::TooLong {
            max_chars: field.max_chars(),
        })
    } else if text.trim() != text {
        Some(DirectoryTextRule::SurroundingSpace)
    } else if text.chars().any(is_hidden_control) {
        Some(DirectoryTextRule::ControlCharacter)
    } else {
        None
    };
    rule.map_or(Ok(()), |rule| {
        Err(ValidationError::InvalidDirectoryText { field, rule })
    })
}

pub fn validate_record_count(count: usize) -> Result<(), ValidationError> {
    if (1..=MAX_RECORDS_PER_MESSAGE).contains(&count) {
        Ok(())
    } else {
        Err(ValidationError::InvalidRecordCount { count })
    }
}

pub fn validate_sha256(sha256: &str) -> Result<(), ValidationError> {
    let is_lower_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    if sha256.len() == SHA256_HEX_LEN && sha256.bytes().all(is_lower_hex) {
        Ok(())
    } else {
        Err(ValidationError::InvalidSha256)
    }
}

/// Checks a blob locator: a known scheme and a well-formed address, so that no free text can
/// ride in the uri: `ipfs://` and a CID whose multihash is a sha2-256 digest, or `ehrfs://` and
/// the blob's own sha256.
pub fn validate_blob(blob: &BlobRef) -> Result<(), ValidationError> {
    validate_sha256(&blob.sha256)?;
    if blob.uri.len() > MAX_URI_LEN {
        return Err(ValidationError::InvalidUri);
    }
    if let Some(cid) = blob.uri.strip_prefix(IPFS_SCHEME) {
        if !crate::cid::is_sha256_cid(cid) {
            return Err(ValidationError::InvalidUri);
        }
    } else if let Some(hash) = blob.uri.strip_prefix(EHRFS_SCHEME) {
        if hash != blob.sha256 {
            return Err(ValidationError::UriHashMismatch);
        }
    } else {
        return Err(ValidationError::InvalidUri);
    }
    if blob.size == 0 {
        return Err(ValidationError::InvalidBlobSize);
    }
    Ok(())
}

/// The encodings of the X25519 points of small order below p (libsodium's list; p itself and
/// above are refused as not canonical). A shared secret with any of them is all zeros: HPKE
/// refuses it, and one such key would make every rotation that wraps to it fail.
const LOW_ORDER_POINTS: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    // p - 1
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// Whether a little-endian 255-bit value is at least p = 2^255 - 19 (or has the unused top bit
/// set): such an encoding is not canonical, and some of them alias the low-order points.
fn is_non_canonical(key: &[u8; 32]) -> bool {
    key[31] & 0x80 != 0
        || (key[31] == 0x7f && key[1..31].iter().all(|b| *b == 0xff) && key[0] >= 0xed)
}

/// A registered X25519 key: 32 bytes, canonical, not of small order.
pub fn validate_public_key(key: &Binary) -> Result<(), ValidationError> {
    let bytes: &[u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| ValidationError::InvalidPublicKey { len: key.len() })?;
    if is_non_canonical(bytes) || LOW_ORDER_POINTS.contains(bytes) {
        return Err(ValidationError::WeakPublicKey);
    }
    Ok(())
}

/// A category key envelope: exactly the length HPKE gives (the chain cannot open it, but it
/// stores nothing of another shape).
pub fn validate_envelope(envelope: &Binary) -> Result<(), ValidationError> {
    if envelope.len() == ENVELOPE_LEN {
        Ok(())
    } else {
        Err(ValidationError::InvalidEnvelope {
            len: envelope.len(),
        })
    }
}

/// An escrow commitment (of a share or of a key); a rotation that escrows without one is
/// refused as a commitment of length 0.
pub fn validate_commitment(commitment: Option<&Binary>) -> Result<(), ValidationError> {
    let len = commitment.map_or(0, |c| c.len());
    if len == COMMITMENT_LEN {
        Ok(())
    } else {
        Err(ValidationError::InvalidCommitment { len })
    }
}

/// A Shamir share sealed to a trustee or re-sealed to its recipient: exactly HPKE's length.
pub fn validate_sealed_share(share: &Binary) -> Result<(), ValidationError> {
    if share.len() == SEALED_SHARE_LEN {
        Ok(())
    } else {
        Err(ValidationError::InvalidSealedShare { len: share.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const CID: &str = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";

    fn blob(uri: &str) -> BlobRef {
        BlobRef {
            sha256: HASH.into(),
            uri: uri.into(),
            size: 10,
        }
    }

    #[test]
    fn an_address_must_be_one_the_chain_accepts() {
        let api = cosmwasm_std::testing::MockApi::default();
        let doctor = api.addr_make("doctor");
        assert_eq!(validate_address(&api, doctor.as_str()), Ok(doctor.clone()));
        assert_eq!(
            validate_address(&api, "doctor"),
            Err(InvalidAddress {
                address: "doctor".into()
            })
        );
    }

    #[test]
    fn sha256_must_be_64_lowercase_hex() {
        assert_eq!(validate_sha256(HASH), Ok(()));
        assert_eq!(
            validate_sha256(&HASH.to_uppercase()),
            Err(ValidationError::InvalidSha256)
        );
        assert_eq!(
            validate_sha256(&HASH[1..]),
            Err(ValidationError::InvalidSha256)
        );
        assert_eq!(
            validate_sha256(&format!("{HASH}0")),
            Err(ValidationError::InvalidSha256)
        );
        assert_eq!(
            validate_sha256(&HASH.replace('f', "g")),
            Err(ValidationError::InvalidSha256)
        );
        assert_eq!(
            validate_sha256("é".repeat(32).as_str()),
            Err(ValidationError::InvalidSha256)
        );
    }

    #[test]
    fn uris_have_a_known_scheme_and_no_free_text() {
        assert_eq!(validate_blob(&blob(&format!("ipfs://{CID}"))), Ok(()));
        assert_eq!(
            validate_blob(&blob("ipfs://bafkreiabc123")),
            Err(ValidationError::InvalidUri)
        );
        assert_eq!(validate_blob(&blob(&format!("ehrfs://{HASH}"))), Ok(()));
        assert_eq!(
            validate_blob(&blob("https://example.org/x")),
            Err(ValidationError::InvalidUri)
        );
        assert_eq!(
            validate_blob(&blob("ipfs://")),
            Err(ValidationError::InvalidUri)
        );
        assert_eq!(
            validate_blob(&blob("ipfs://John Doe diabetes")),
            Err(ValidationError::InvalidUri)
        );
        let long = format!("ipfs://{}", "a".repeat(MAX_URI_LEN));
        assert_eq!(
            validate_blob(&blob(&long)),
            Err(ValidationError::InvalidUri)
        );
        assert_eq!(
            validate_blob(&blob(&format!("ehrfs://{}", "0".repeat(64)))),
            Err(ValidationError::UriHashMismatch)
        );
    }

    #[test]
    fn blob_size_must_be_positive() {
        let mut empty = blob(&format!("ipfs://{CID}"));
        empty.size = 0;
        assert_eq!(validate_blob(&empty), Err(ValidationError::InvalidBlobSize));
    }

    #[test]
    fn envelopes_and_shares_have_exactly_hpkes_length() {
        assert_eq!(
            validate_envelope(&Binary::from([1u8; ENVELOPE_LEN])),
            Ok(())
        );
        for len in [0, 1, ENVELOPE_LEN - 1, ENVELOPE_LEN + 1, 256] {
            assert_eq!(
                validate_envelope(&Binary::from(vec![1u8; len])),
                Err(ValidationError::InvalidEnvelope { len })
            );
        }
        assert_eq!(
            validate_sealed_share(&Binary::from([1u8; SEALED_SHARE_LEN])),
            Ok(())
        );
        assert_eq!(
            validate_sealed_share(&Binary::from([1u8; ENVELOPE_LEN])),
            Err(ValidationError::InvalidSealedShare { len: ENVELOPE_LEN })
        );
    }

    #[test]
    fn public_keys_are_canonical_points_not_of_small_order() {
        assert_eq!(validate_public_key(&Binary::from([7u8; 32])), Ok(()));
        assert_eq!(
            validate_public_key(&Binary::from([7u8; 33])),
            Err(ValidationError::InvalidPublicKey { len: 33 })
        );
        for weak in LOW_ORDER_POINTS {
            assert_eq!(
                validate_public_key(&Binary::from(weak)),
                Err(ValidationError::WeakPublicKey),
                "{weak:?}"
            );
        }
        // p, p + 1 (aliases of 0 and 1), and anything with the top bit set.
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut p_plus_1 = p;
        p_plus_1[0] = 0xee;
        let mut top_bit = [7u8; 32];
        top_bit[31] |= 0x80;
        for weak in [p, p_plus_1, top_bit] {
            assert_eq!(
                validate_public_key(&Binary::from(weak)),
                Err(ValidationError::WeakPublicKey)
            );
        }
        let mut below_p = p;
        below_p[0] = 0xeb;
        assert_eq!(validate_public_key(&Binary::from(below_p)), Ok(()));
    }

    #[test]
    fn directory_text_is_one_bounded_unpadded_line() {
        use DirectoryField::*;
        let refused = |field, text: &str| match validate_directory_text(field, text) {
            Err(ValidationError::InvalidDirectoryText { rule, .. }) => Some(rule),
            _ => None,
        };
        assert_eq!(validate_directory_text(DisplayName, "Dr Ana Lima"), Ok(()));
        assert_eq!(
            validate_directory_text(Organization, "Hospital São João, Cardiology"),
            Ok(())
        );
        assert_eq!(refused(DisplayName, ""), Some(DirectoryTextRule::Empty));
        assert_eq!(
            refused(DisplayName, " Dr Ana"),
            Some(DirectoryTextRule::SurroundingSpace)
        );
        for hidden in ["St Mary\nfake line", "Dr \u{202e}evE", "Dr\u{2066}Eve"] {
            assert_eq!(
                refused(Organization, hidden),
                Some(DirectoryTextRule::ControlCharacter),
                "{hidden:?}"
            );
        }
        // Characters, not bytes: 64 two-byte letters fit, 65 do not.
        assert_eq!(
            validate_directory_text(DisplayName, &"é".repeat(64)),
            Ok(())
        );
        assert_eq!(
            refused(DisplayName, &"é".repeat(65)),
            Some(DirectoryTextRule::TooLong { max_chars: 64 })
        );
        assert_eq!(
            validate_directory_text(Organization, &"o".repeat(96)),
            Ok(())
        );
        assert_eq!(
            refused(Organization, &"o".repeat(97)),
            Some(DirectoryTextRule::TooLong { max_chars: 96 })
        );
    }

    #[test]
    fn emergency_reason_codes_are_short_policy_codes() {
        let other = |code: &str| EmergencyReason::Other { code: code.into() };
        assert_eq!(
            validate_emergency_reason(&EmergencyReason::IncapablePatient {}),
            Ok(())
        );
        assert_eq!(validate_emergency_reason(&other("MASS-CASUALTY")), Ok(()));
        for bad in ["", "X", "mass", "PATIENT HAS HIV", &"A".repeat(17)] {
            assert_eq!(
                validate_emergency_reason(&other(bad)),
                Err(ValidationError::InvalidReasonCode),
                "{bad:?}"
            );
        }
    }
}
