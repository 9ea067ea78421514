use cosmwasm_std::{StdError, Timestamp};
use ehr_types::{Category, PatientId, RequestId, ValidationError};
use thiserror::Error;

#[derive(Error, Debug)]
pub enum ContractError {
    #[error(transparent)]
    Std(#[from] StdError),

    #[error(transparent)]
    Validation(#[from] ValidationError),

    #[error("invalid address: {address}")]
    InvalidAddress { address: String },

    #[error("unauthorized: {action}")]
    Unauthorized { action: String },

    #[error("not a credentialed doctor: {address}")]
    NotCredentialed { address: String },

    #[error("patient {patient_id} not found")]
    PatientNotFound { patient_id: PatientId },

    #[error("patient {patient_id} is not active")]
    PatientNotActive { patient_id: PatientId },

    #[error("patient {patient_id} is not deleted")]
    PatientNotDeleted { patient_id: PatientId },

    #[error("a patient cannot grant access to their own address")]
    CannotGrantSelf,

    #[error("a grant needs at least one category")]
    NoCategories,

    #[error("category {category:?} is listed twice")]
    DuplicateCategory { category: Category },

    #[error("expiry {expires} is not in the future")]
    ExpiryInPast { expires: Timestamp },

    #[error("key envelope for {category:?} but the grant does not cover that category")]
    EnvelopeCategoryNotGranted { category: Category },

    #[error("an own envelope for {category:?} epoch {epoch} is already stored")]
    EnvelopeExists { category: Category, epoch: u32 },

    #[error("no grant of patient {patient_id} to {grantee}")]
    GrantNotFound {
        patient_id: PatientId,
        grantee: String,
    },

    #[error("request {request_id} not found")]
    RequestNotFound { request_id: RequestId },

    #[error("request {request_id} was already decided")]
    RequestNotPending { request_id: RequestId },

    #[error("the registry may only log one or more registry actions")]
    ActionNotLoggable,

    #[error("emergency access must last between 1 second and {max} seconds")]
    InvalidEmergencyDuration { max: u64 },

    #[error("key epoch {got} of {category:?} cannot be opened: the next epoch is {expected}")]
    EpochMismatch {
        category: Category,
        expected: u32,
        got: u32,
    },

    #[error("an envelope for {category:?} epoch {epoch} is ahead of the current epoch {current}")]
    EnvelopeEpochAhead {
        category: Category,
        epoch: u32,
        current: u32,
    },

    #[error("{recipient} may not read {category:?}: no new key may be wrapped to it")]
    RecipientNotEntitled {
        recipient: String,
        category: Category,
    },

    #[error("{recipient} is listed twice")]
    DuplicateRecipient { recipient: String },

    #[error("the new {category:?} key leaves out {holder}, who may still read it")]
    HolderLeftOut { holder: String, category: Category },

    #[error("{category:?} already has {max} key holders besides the patient")]
    TooManyKeyHolders { category: Category, max: usize },

    #[error("nothing to update")]
    NothingToUpdate,

    #[error(
        "a trustee set needs 2 to {max} distinct trustees and a threshold from 2 to their number"
    )]
    InvalidTrusteeSet { max: usize },

    #[error("not a trustee of the network: {address}")]
    NotTrustee { address: String },

    #[error("no trustee set is configured: nothing can be escrowed")]
    NoTrustees,

    #[error("trustee {trustee} has not published an encryption key yet")]
    TrusteeKeyMissing { trustee: String },

    #[error("{category:?} is not escrowed by patient {patient_id}")]
    CategoryNotEscrowed {
        patient_id: PatientId,
        category: Category,
    },

    #[error(
        "{category:?} epoch {epoch} needs exactly one share for each of the {expected} trustees"
    )]
    EscrowSharesMismatch {
        category: Category,
        epoch: u32,
        expected: usize,
    },

    #[error("at most {max} epochs or shares in one message")]
    TooManyEscrowItems { max: usize },

    #[error("{doctor} has no active emergency access to patient {patient_id}")]
    NoActiveEmergency {
        patient_id: PatientId,
        doctor: String,
    },

    #[error("no share of {category:?} epoch {epoch} is escrowed with {trustee}")]
    ShareNotEscrowed {
        category: Category,
        epoch: u32,
        trustee: String,
    },

    #[error("the share of {category:?} epoch {epoch} was already released to {doctor} in this emergency")]
    AlreadyReleased {
        category: Category,
        epoch: u32,
        doctor: String,
    },

    #[error("a wallet-recovery request must wait between 1 second and {max} seconds")]
    InvalidRecoveryWait { max: u64 },

    #[error("patient {patient_id} does not escrow its keys for recovery")]
    RecoveryNotEnabled { patient_id: PatientId },

    #[error("{address} is already a patient (patient {patient_id})")]
    AlreadyPatient {
        address: String,
        patient_id: PatientId,
    },

    #[error("patient {patient_id} has no pending recovery request")]
    NoPendingRecovery { patient_id: PatientId },

    #[error("the recovery request may be approved from {not_before} on")]
    RecoveryWaiting { not_before: Timestamp },

    #[error("{trustee} already approved this recovery request")]
    AlreadyApproved { trustee: String },

    #[error("patient {patient_id} has no completed recovery whose new owner still owns it")]
    NoCompletedRecovery { patient_id: PatientId },

    #[error("the share of {category:?} epoch {epoch} was already released to the recovered owner")]
    AlreadyReleasedForRecovery { category: Category, epoch: u32 },
}

impl ContractError {
    pub fn unauthorized(action: &str) -> Self {
        ContractError::Unauthorized {
            action: action.to_string(),
        }
    }
}
