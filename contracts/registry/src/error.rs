use cosmwasm_std::StdError;
use ehr_types::admin::AdminError;
use ehr_types::error_code::{self, ErrorCode, Tag};
use ehr_types::registry::PatientStatus;
use ehr_types::upgrade::UpgradeRefusal;
use ehr_types::validate::InvalidAddress;
use ehr_types::{Category, PatientId, RecordId, ValidationError};
use thiserror::Error;

#[derive(Error, Debug)]
pub enum ContractError {
    #[error("{tag}{0}", tag = self.tag())]
    Std(#[from] StdError),

    #[error("{tag}{0}", tag = self.tag())]
    Validation(#[from] ValidationError),

    #[error("{tag}invalid address: {address}", tag = self.tag())]
    InvalidAddress { address: String },

    #[error("{tag}unauthorized: {action}", tag = self.tag())]
    Unauthorized { action: String },

    #[error("{tag}not a credentialed doctor: {address}", tag = self.tag())]
    NotCredentialed { address: String },

    /// Trustees and credentialed providers are separate people: one who is both could declare an
    /// emergency and release its own share to itself.
    #[error("{tag}{address} is {role}: trustees and credentialed providers must be different parties", tag = self.tag())]
    RoleConflict { address: String, role: &'static str },

    #[error("{tag}already a credentialed doctor under this name and organisation: {address}", tag = self.tag())]
    AlreadyCredentialed { address: String },

    #[error("{tag}registrars: at most {max} distinct addresses", tag = self.tag())]
    InvalidRegistrarSet { max: usize },

    #[error("{tag}the access contract is not set", tag = self.tag())]
    AccessContractNotSet,

    #[error("{tag}address {address} already has patient {patient_id}", tag = self.tag())]
    AlreadyPatient {
        address: String,
        patient_id: PatientId,
    },

    #[error("{tag}patient {patient_id} not found", tag = self.tag())]
    PatientNotFound { patient_id: PatientId },

    #[error("{tag}patient {patient_id} is {status:?}, not {expected:?}", tag = self.tag())]
    WrongPatientStatus {
        patient_id: PatientId,
        status: PatientStatus,
        expected: PatientStatus,
    },

    #[error("{tag}record {record_id} not found", tag = self.tag())]
    RecordNotFound { record_id: RecordId },

    #[error("{tag}record {record_id} is deleted", tag = self.tag())]
    RecordDeleted { record_id: RecordId },

    #[error("{tag}this ciphertext is already registered for the patient as record {record_id}", tag = self.tag())]
    DuplicateBlob { record_id: RecordId },

    #[error("{tag}one batch holds the same ciphertext twice: {sha256}", tag = self.tag())]
    DuplicateBlobInBatch { sha256: String },

    #[error("{tag}the profile category is reserved for the patient profile", tag = self.tag())]
    ProfileCategoryReserved,

    #[error("{tag}{count} addresses asked for at once, at most {max}", tag = self.tag())]
    TooManyAddresses { count: usize, max: usize },

    #[error("{tag}{category:?} is written under key epoch {current}, not {epoch}", tag = self.tag())]
    WrongKeyEpoch {
        category: Category,
        epoch: u32,
        current: u32,
    },

    #[error("{tag}{category:?} key epoch {epoch} is stale (someone who holds its key may no longer read it): rotate the key in the same transaction", tag = self.tag())]
    StaleKeyEpoch { category: Category, epoch: u32 },

    #[error("{tag}version conflict: the file is based on version {base_version}, but the current version is {current}", tag = self.tag())]
    VersionConflict { base_version: u32, current: u32 },

    #[error("{tag}the access contract is already set to {address}; only a migration may re-point it", tag = self.tag())]
    AccessContractAlreadySet { address: String },

    #[error("{tag}no admin handover is pending", tag = self.tag())]
    NoAdminProposal,

    #[error("{tag}cannot migrate {contract}: this code is {name}", name = crate::CONTRACT_NAME, tag = self.tag())]
    ForeignContract { contract: String },

    #[error("{tag}cannot migrate from version {stored} down to {current}", tag = self.tag())]
    Downgrade { stored: String, current: String },

    #[error("{tag}the stored contract version {version} is not a semantic version", tag = self.tag())]
    InvalidVersion { version: String },

    /// The access contract did not answer a query (not a refusal: a failure of the call).
    #[error("{tag}the access contract's {query} query failed: {error}", tag = self.tag())]
    AccessQueryFailed { query: &'static str, error: String },
}

fn status_name(status: PatientStatus) -> &'static str {
    match status {
        PatientStatus::Pending => "pending",
        PatientStatus::Active => "active",
        PatientStatus::Deleted => "deleted",
    }
}

impl From<InvalidAddress> for ContractError {
    fn from(invalid: InvalidAddress) -> Self {
        ContractError::InvalidAddress {
            address: invalid.address,
        }
    }
}

impl AdminError for ContractError {
    fn unauthorized(action: &str) -> Self {
        ContractError::unauthorized(action)
    }
    fn no_admin_proposal() -> Self {
        ContractError::NoAdminProposal
    }
}

impl From<UpgradeRefusal> for ContractError {
    fn from(refusal: UpgradeRefusal) -> Self {
        match refusal {
            UpgradeRefusal::ForeignContract { contract } => {
                ContractError::ForeignContract { contract }
            }
            UpgradeRefusal::Downgrade { stored, current } => {
                ContractError::Downgrade { stored, current }
            }
            UpgradeRefusal::InvalidVersion { version } => ContractError::InvalidVersion { version },
        }
    }
}

impl ContractError {
    /// The stable code clients dispatch on (ehr_types::error_code); exhaustive, so a new
    /// variant needs one to compile.
    pub fn code(&self) -> ErrorCode {
        match self {
            ContractError::Std(_) => ErrorCode::Std,
            ContractError::Validation(_) => ErrorCode::InvalidInput,
            ContractError::InvalidAddress { .. } => ErrorCode::InvalidAddress,
            ContractError::Unauthorized { .. } => ErrorCode::Unauthorized,
            ContractError::NotCredentialed { .. } => ErrorCode::NotCredentialed,
            ContractError::RoleConflict { .. } => ErrorCode::RoleConflict,
            ContractError::AlreadyCredentialed { .. } => ErrorCode::AlreadyCredentialed,
            ContractError::InvalidRegistrarSet { .. } => ErrorCode::InvalidRegistrarSet,
            ContractError::AccessContractNotSet => ErrorCode::NotConfigured,
            ContractError::AlreadyPatient { .. } => ErrorCode::AlreadyPatient,
            ContractError::PatientNotFound { .. } | ContractError::RecordNotFound { .. } => {
                ErrorCode::NotFound
            }
            ContractError::WrongPatientStatus { .. } => ErrorCode::WrongPatientStatus,
            ContractError::RecordDeleted { .. } => ErrorCode::RecordDeleted,
            ContractError::DuplicateBlob { .. } => ErrorCode::DuplicateBlob,
            ContractError::DuplicateBlobInBatch { .. } => ErrorCode::DuplicateInBatch,
            ContractError::ProfileCategoryReserved => ErrorCode::ProfileCategoryReserved,
            ContractError::TooManyAddresses { .. } => ErrorCode::TooManyAddresses,
            ContractError::WrongKeyEpoch { .. } => ErrorCode::WrongKeyEpoch,
            ContractError::StaleKeyEpoch { .. } => ErrorCode::StaleKeyEpoch,
            ContractError::VersionConflict { .. } => ErrorCode::VersionConflict,
            ContractError::AccessContractAlreadySet { .. } => ErrorCode::AlreadyConfigured,
            ContractError::NoAdminProposal => ErrorCode::NoPendingAdmin,
            ContractError::ForeignContract { .. } => ErrorCode::ForeignContract,
            ContractError::Downgrade { .. } => ErrorCode::Downgrade,
            ContractError::InvalidVersion { .. } => ErrorCode::InvalidVersion,
            ContractError::AccessQueryFailed { .. } => ErrorCode::PeerQueryFailed,
        }
    }

    /// The code with the numbers and names a client may need, as the Display text's prefix.
    pub fn tag(&self) -> Tag {
        let tag = Tag::new(self.code());
        match self {
            ContractError::Std(error) => error_code::std_tag(error),
            ContractError::Validation(error) => error.tag(),
            ContractError::AlreadyPatient { patient_id, .. }
            | ContractError::PatientNotFound { patient_id } => tag.with("patient", patient_id),
            ContractError::WrongPatientStatus {
                patient_id,
                status,
                expected,
            } => tag
                .with("patient", patient_id)
                .with("status", status_name(*status))
                .with("expected", status_name(*expected)),
            ContractError::RecordNotFound { record_id }
            | ContractError::RecordDeleted { record_id }
            | ContractError::DuplicateBlob { record_id } => tag.with("record", record_id),
            ContractError::TooManyAddresses { count, max } => {
                tag.with("count", count).with("max", max)
            }
            ContractError::InvalidRegistrarSet { max } => tag.with("max", max),
            ContractError::AccessQueryFailed { query, .. } => tag.with("query", query),
            ContractError::WrongKeyEpoch {
                category,
                epoch,
                current,
            } => tag
                .with("category", category.name())
                .with("epoch", epoch)
                .with("current", current),
            ContractError::StaleKeyEpoch { category, epoch } => {
                tag.with("category", category.name()).with("epoch", epoch)
            }
            ContractError::VersionConflict {
                base_version,
                current,
            } => tag.with("base", base_version).with("current", current),
            _ => tag,
        }
    }

    pub fn unauthorized(action: &str) -> Self {
        ContractError::Unauthorized {
            action: action.to_string(),
        }
    }
}
