//! Recovery from a lost wallet: a patient who escrows every category for recovery asks, from a
//! new wallet, to move their patient id. After a waiting period the old wallet can use to cancel,
//! k trustees approve; the k-th approval moves the patient to the new address (the registry's
//! owner and encryption key), makes every category's current key stale for the old address, and
//! lets the trustees release their shares of every escrowed key to the new owner.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Timestamp};

use crate::PatientId;

/// How long a request waits, when the network has not chosen: three days for the old wallet
/// to notice (every request is in the patient's audit log) and cancel.
pub const DEFAULT_RECOVERY_WAIT_SECONDS: u64 = 3 * 24 * 3600;

#[cw_serde]
#[derive(Copy, Eq)]
pub enum RecoveryStatus {
    /// Waiting for the period to pass and for k trustee approvals.
    Pending,
    /// The patient moved to the new address.
    Completed,
    /// The patient's wallet cancelled it.
    Cancelled,
}

/// How a trustee checked, out of band, that whoever asks for a recovery is the patient. Every
/// approval carries one, and the audit log shows it.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum IdentityCheck {
    /// Met in person; a government photo ID compared with the patient.
    InPersonPhotoId,
    /// A live video call with a government photo ID shown.
    VideoPhotoId,
    /// Confirmed by a clinician who knows the patient and was reached on a known channel.
    KnownClinician,
    /// A notarised or court document naming the patient and the new wallet.
    NotarisedDocument,
}

impl IdentityCheck {
    pub const ALL: [IdentityCheck; 4] = [
        IdentityCheck::InPersonPhotoId,
        IdentityCheck::VideoPhotoId,
        IdentityCheck::KnownClinician,
        IdentityCheck::NotarisedDocument,
    ];

    /// The stable code a trustee types and logs show.
    pub fn code(self) -> &'static str {
        match self {
            IdentityCheck::InPersonPhotoId => "in-person-photo-id",
            IdentityCheck::VideoPhotoId => "video-photo-id",
            IdentityCheck::KnownClinician => "known-clinician",
            IdentityCheck::NotarisedDocument => "notarised-document",
        }
    }

    pub fn from_code(code: &str) -> Option<IdentityCheck> {
        IdentityCheck::ALL
            .into_iter()
            .find(|check| check.code() == code)
    }

    /// The check in words.
    pub fn describe(self) -> &'static str {
        match self {
            IdentityCheck::InPersonPhotoId => "in person, with a photo ID",
            IdentityCheck::VideoPhotoId => "on a video call, with a photo ID",
            IdentityCheck::KnownClinician => "through a clinician who knows the patient",
            IdentityCheck::NotarisedDocument => "by a notarised document",
        }
    }
}

/// A patient's latest recovery request.
#[cw_serde]
pub struct RecoveryInfo {
    pub patient_id: PatientId,
    /// The address that asked; the patient's owner once the request completes.
    pub new_owner: Addr,
    pub requested_at: Timestamp,
    /// Trustees may approve from this time on.
    pub not_before: Timestamp,
    /// The trustees that approved, in order.
    pub approvals: Vec<Addr>,
    /// How each approval (same order) checked identity; left out when there is none, as
    /// answers were before approvals carried checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_checks: Vec<IdentityCheck>,
    pub status: RecoveryStatus,
    /// When it completed or was cancelled.
    pub decided_at: Option<Timestamp>,
    /// The owner the patient moved away from, once completed.
    pub former_owner: Option<Addr>,
}

#[cw_serde]
pub struct RecoveryResponse {
    pub recovery: Option<RecoveryInfo>,
}

/// One recovery request, in the order they were made (trustee agents follow this list).
#[cw_serde]
pub struct RecoveryEvent {
    pub seq: u64,
    pub patient_id: PatientId,
    pub new_owner: Addr,
    pub requested_at: Timestamp,
    pub not_before: Timestamp,
}

#[cw_serde]
pub struct RecoveriesResponse {
    pub recoveries: Vec<RecoveryEvent>,
}
