use cosmwasm_std::StdError;
use ehr_types::registry::PatientStatus;
use ehr_types::{Category, PatientId, RecordId, ValidationError};
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

    #[error("already a credentialed doctor under this name and organisation: {address}")]
    AlreadyCredentialed { address: String },

    #[error("the access contract is not set")]
    AccessContractNotSet,

    #[error("address {address} already has patient {patient_id}")]
    AlreadyPatient {
        address: String,
        patient_id: PatientId,
    },

    #[error("patient {patient_id} not found")]
    PatientNotFound { patient_id: PatientId },

    #[error("no current patient for address {address}")]
    NoPatientForAddress { address: String },

    #[error("patient {patient_id} is {status:?}, not {expected:?}")]
    WrongPatientStatus {
        patient_id: PatientId,
        status: PatientStatus,
        expected: PatientStatus,
    },

    #[error("record {record_id} not found")]
    RecordNotFound { record_id: RecordId },

    #[error("record {record_id} is deleted")]
    RecordDeleted { record_id: RecordId },

    #[error("this ciphertext is already registered for the patient as record {record_id}")]
    DuplicateBlob { record_id: RecordId },

    #[error("one batch holds the same ciphertext twice: {sha256}")]
    DuplicateBlobInBatch { sha256: String },

    #[error("no record of patient {patient_id} has sha256 {sha256}")]
    HashNotFound {
        patient_id: PatientId,
        sha256: String,
    },

    #[error("the profile category is reserved for the patient profile")]
    ProfileCategoryReserved,

    #[error("{count} addresses asked for at once, at most {max}")]
    TooManyAddresses { count: usize, max: usize },

    #[error("provider {address} not found")]
    ProviderNotFound { address: String },

    #[error("{category:?} is written under key epoch {current}, not {epoch}")]
    WrongKeyEpoch {
        category: Category,
        epoch: u32,
        current: u32,
    },

    #[error("{category:?} key epoch {epoch} is stale (someone who holds its key may no longer read it): rotate the key in the same transaction")]
    StaleKeyEpoch { category: Category, epoch: u32 },

    #[error("version conflict: the file is based on version {base_version}, but the current version is {current}")]
    VersionConflict { base_version: u32, current: u32 },

    #[error("nothing to update")]
    NothingToUpdate,
}

impl ContractError {
    pub fn unauthorized(action: &str) -> Self {
        ContractError::Unauthorized {
            action: action.to_string(),
        }
    }
}
