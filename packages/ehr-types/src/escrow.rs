//! Break-glass key escrow: the network's trustees, the categories a patient escrows, Shamir
//! shares of their keys sealed to the trustees, coded emergency reasons, and the shares trustees
//! release to an emergency doctor. Every share on chain is HPKE ciphertext; no one trustee's
//! share, nor any k−1 of them, says anything about a key.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp};

use crate::{Category, PatientId};

/// The most trustees a network has: a rotation seals one share to each.
pub const MAX_TRUSTEES: usize = 16;
/// The fewest trustees that must act together: one alone must never open anything.
pub const MIN_THRESHOLD: u8 = 2;
/// The most (category, epoch) escrows one `EscrowShares` carries.
pub const MAX_ESCROWS_PER_MESSAGE: usize = 16;
/// The most shares one `ReleaseShares` carries.
pub const MAX_RELEASES_PER_MESSAGE: usize = 32;
/// What a patient escrows when they have not chosen: what an emergency needs first.
pub const DEFAULT_EMERGENCY_CATEGORIES: [Category; 4] = [
    Category::Allergy,
    Category::Prescription,
    Category::Immunization,
    Category::Profile,
];
/// An `Other` reason's code: 2 to 16 of A–Z, 0–9, '-'.
pub const MAX_REASON_CODE_LEN: usize = 16;

/// Why a doctor breaks the glass; always in the patient's audit log.
#[cw_serde]
pub enum EmergencyReason {
    /// Treatment of a patient who is unconscious or otherwise cannot consent.
    IncapablePatient {},
    /// Anything else, with a short code the network's policy defines (e.g. "MASS-CASUALTY").
    Other { code: String },
}

impl EmergencyReason {
    /// The HL7 v3 PurposeOfUse code (FHIR `AuditEvent.purposeOfEvent`) this reason maps to:
    /// ETREAT (emergency treatment) for a patient who cannot consent, BTG (break the glass)
    /// for every other coded reason.
    pub fn purpose_of_use(&self) -> &'static str {
        match self {
            EmergencyReason::IncapablePatient {} => "ETREAT",
            EmergencyReason::Other { .. } => "BTG",
        }
    }

    /// The reason in words.
    pub fn describe(&self) -> String {
        match self {
            EmergencyReason::IncapablePatient {} => {
                "treatment of a patient who cannot consent".into()
            }
            EmergencyReason::Other { code } => format!("reason code {code}"),
        }
    }
}

/// A share sealed to one trustee (as the patient's client escrows it), with the dealer's
/// commitment to the share (32 bytes, ehr_crypto::escrow::share_commitment), which lets whoever
/// combines released shares name a trustee that released a wrong one.
#[cw_serde]
pub struct TrusteeShare {
    pub trustee: String,
    pub share: Binary,
    pub commitment: Binary,
}

/// The n shares of one (category, epoch) key, and the dealer's commitment to the key (32
/// bytes, ehr_crypto::escrow::key_commitment): a combined key is used only when it matches.
#[cw_serde]
pub struct EpochEscrow {
    pub category: Category,
    pub epoch: u32,
    pub shares: Vec<TrusteeShare>,
    pub key_commitment: Binary,
}

/// A share a trustee re-sealed to the emergency doctor.
#[cw_serde]
pub struct ReleasedShare {
    pub category: Category,
    pub epoch: u32,
    pub share: Binary,
}

#[cw_serde]
pub struct TrusteeInfo {
    pub address: Addr,
    /// The X25519 key shares are sealed to; `None` until the trustee publishes it.
    pub encryption_key: Option<Binary>,
}

#[cw_serde]
pub struct TrusteesResponse {
    pub trustees: Vec<TrusteeInfo>,
    /// Shares needed to open a key; 0 when no trustee set is configured.
    pub threshold: u8,
    /// Counts trustee-set changes; shares split for one set do not combine with another's.
    pub set_version: u32,
}

#[cw_serde]
pub struct EscrowPolicyResponse {
    /// The categories opened in an emergency.
    pub categories: Vec<Category>,
    /// Whether every category is escrowed, so the patient can recover from a lost wallet.
    pub recovery: bool,
    /// The categories whose every epoch the trustees hold shares of: all of them with recovery,
    /// else the emergency categories; empty when the patient escrows nothing.
    pub escrowed: Vec<Category>,
}

/// The categories whose every epoch the trustees hold shares of: all of them when the patient
/// escrows for recovery, else the ones opened in an emergency.
pub fn escrowed_categories(emergency: &[Category], recovery: bool) -> Vec<Category> {
    if recovery {
        Category::ALL.to_vec()
    } else {
        emergency.to_vec()
    }
}

impl EscrowPolicyResponse {
    pub fn escrows(&self, category: Category) -> bool {
        self.escrowed.contains(&category)
    }
}

/// One share held by a trustee, as the trustee reads its own.
#[cw_serde]
pub struct EscrowedShare {
    pub category: Category,
    pub epoch: u32,
    pub set_version: u32,
    pub threshold: u8,
    pub share: Binary,
    /// The dealer's commitment to this share (absent for escrows made before commitments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Binary>,
}

#[cw_serde]
pub struct EscrowedSharesResponse {
    pub shares: Vec<EscrowedShare>,
}

/// Where a page of escrowed shares ends.
#[cw_serde]
pub struct EscrowCursor {
    pub category: Category,
    pub epoch: u32,
}

/// A share released to a doctor.
#[cw_serde]
pub struct ReleasedShareInfo {
    pub category: Category,
    pub epoch: u32,
    pub trustee: Addr,
    pub set_version: u32,
    pub threshold: u8,
    pub share: Binary,
    pub released_at: Timestamp,
    /// The dealer's commitment to the share this trustee was given (absent for escrows made
    /// before commitments): a released share that does not match it is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Binary>,
    /// The dealer's commitment to the key of (category, epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_commitment: Option<Binary>,
}

#[cw_serde]
pub struct ReleasedSharesResponse {
    pub shares: Vec<ReleasedShareInfo>,
}

/// Where a page of released shares ends.
#[cw_serde]
pub struct ReleaseCursor {
    pub category: Category,
    pub epoch: u32,
    pub trustee: String,
}

/// One emergency access, in the order they were declared (trustee agents follow this list).
#[cw_serde]
pub struct EmergencyEvent {
    pub seq: u64,
    pub patient_id: PatientId,
    pub doctor: Addr,
    pub reason: EmergencyReason,
    pub started: Timestamp,
    pub expires: Timestamp,
}

#[cw_serde]
pub struct EmergenciesResponse {
    pub emergencies: Vec<EmergencyEvent>,
}
