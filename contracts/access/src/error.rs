use cosmwasm_std::{StdError, Timestamp};
use ehr_types::admin::AdminError;
use ehr_types::error_code::{self, ErrorCode, Tag};
use ehr_types::upgrade::UpgradeRefusal;
use ehr_types::validate::InvalidAddress;
use ehr_types::{Category, PatientId, RequestId, ValidationError};
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

    #[error("{tag}patient {patient_id} not found", tag = self.tag())]
    PatientNotFound { patient_id: PatientId },

    #[error("{tag}patient {patient_id} is not active", tag = self.tag())]
    PatientNotActive { patient_id: PatientId },

    #[error("{tag}patient {patient_id} is not deleted", tag = self.tag())]
    PatientNotDeleted { patient_id: PatientId },

    #[error("{tag}a patient cannot grant access to their own address", tag = self.tag())]
    CannotGrantSelf,

    #[error("{tag}a grant needs at least one category", tag = self.tag())]
    NoCategories,

    #[error("{tag}category {category:?} is listed twice", tag = self.tag())]
    DuplicateCategory { category: Category },

    #[error("{tag}expiry {expires} is not in the future", tag = self.tag())]
    ExpiryInPast { expires: Timestamp },

    #[error("{tag}key envelope for {category:?} but the grant does not cover that category", tag = self.tag())]
    EnvelopeCategoryNotGranted { category: Category },

    #[error("{tag}an own envelope for {category:?} epoch {epoch} is already stored", tag = self.tag())]
    EnvelopeExists { category: Category, epoch: u32 },

    #[error("{tag}no grant of patient {patient_id} to {grantee}", tag = self.tag())]
    GrantNotFound {
        patient_id: PatientId,
        grantee: String,
    },

    #[error("{tag}request {request_id} not found", tag = self.tag())]
    RequestNotFound { request_id: RequestId },

    #[error("{tag}request {request_id} was already decided", tag = self.tag())]
    RequestNotPending { request_id: RequestId },

    #[error("{tag}the registry may only log one or more registry actions", tag = self.tag())]
    ActionNotLoggable,

    #[error("{tag}emergency access must last between 1 second and {max} seconds", tag = self.tag())]
    InvalidEmergencyDuration { max: u64 },

    #[error("{tag}key epoch {got} of {category:?} cannot be opened: the next epoch is {expected}", tag = self.tag())]
    EpochMismatch {
        category: Category,
        expected: u32,
        got: u32,
    },

    #[error("{tag}an envelope for {category:?} epoch {epoch} is ahead of the current epoch {current}", tag = self.tag())]
    EnvelopeEpochAhead {
        category: Category,
        epoch: u32,
        current: u32,
    },

    #[error("{tag}{recipient} may not read {category:?}: no new key may be wrapped to it", tag = self.tag())]
    RecipientNotEntitled {
        recipient: String,
        category: Category,
    },

    #[error("{tag}{recipient} is listed twice", tag = self.tag())]
    DuplicateRecipient { recipient: String },

    #[error("{tag}the new {category:?} key leaves out {holder}, who may still read it", tag = self.tag())]
    HolderLeftOut { holder: String, category: Category },

    #[error("{tag}{category:?} already has {max} key holders besides the patient", tag = self.tag())]
    TooManyKeyHolders { category: Category, max: usize },

    #[error("{tag}nothing to update", tag = self.tag())]
    NothingToUpdate,

    #[error("{tag}no admin handover is pending", tag = self.tag())]
    NoAdminProposal,

    #[error("{tag}cannot migrate {contract}: this code is {name}", name = crate::CONTRACT_NAME, tag = self.tag())]
    ForeignContract { contract: String },

    #[error("{tag}cannot migrate from version {stored} down to {current}", tag = self.tag())]
    Downgrade { stored: String, current: String },

    #[error("{tag}the stored contract version {version} is not a semantic version", tag = self.tag())]
    InvalidVersion { version: String },

    /// The registry did not answer a query (not a refusal: a failure of the call).
    #[error("{tag}the registry's {query} query failed: {error}", tag = self.tag())]
    RegistryQueryFailed { query: &'static str, error: String },

    #[error(
        "{tag}a trustee set needs 2 to {max} distinct trustees and a threshold from 2 to their number", tag = self.tag()
    )]
    InvalidTrusteeSet { max: usize },

    #[error("{tag}not a trustee of the network: {address}", tag = self.tag())]
    NotTrustee { address: String },

    #[error("{tag}no trustee set is configured: nothing can be escrowed", tag = self.tag())]
    NoTrustees,

    #[error("{tag}trustee {trustee} has not published an encryption key yet", tag = self.tag())]
    TrusteeKeyMissing { trustee: String },

    #[error("{tag}{category:?} is not escrowed by patient {patient_id}", tag = self.tag())]
    CategoryNotEscrowed {
        patient_id: PatientId,
        category: Category,
    },

    #[error(
        "{tag}{category:?} epoch {epoch} needs exactly one share for each of the {expected} trustees", tag = self.tag()
    )]
    EscrowSharesMismatch {
        category: Category,
        epoch: u32,
        expected: usize,
    },

    #[error("{tag}at most {max} epochs or shares in one message", tag = self.tag())]
    TooManyEscrowItems { max: usize },

    #[error("{tag}{doctor} has no active emergency access to patient {patient_id}", tag = self.tag())]
    NoActiveEmergency {
        patient_id: PatientId,
        doctor: String,
    },

    #[error("{tag}no share of {category:?} epoch {epoch} is escrowed with {trustee}", tag = self.tag())]
    ShareNotEscrowed {
        category: Category,
        epoch: u32,
        trustee: String,
    },

    #[error("{tag}the share of {category:?} epoch {epoch} was already released to {doctor} in this emergency", tag = self.tag())]
    AlreadyReleased {
        category: Category,
        epoch: u32,
        doctor: String,
    },

    #[error("{tag}a wallet-recovery request must wait between 1 second and {max} seconds", tag = self.tag())]
    InvalidRecoveryWait { max: u64 },

    #[error("{tag}patient {patient_id} does not escrow its keys for recovery", tag = self.tag())]
    RecoveryNotEnabled { patient_id: PatientId },

    #[error("{tag}{address} is already a patient (patient {patient_id})", tag = self.tag())]
    AlreadyPatient {
        address: String,
        patient_id: PatientId,
    },

    #[error("{tag}patient {patient_id} has no pending recovery request", tag = self.tag())]
    NoPendingRecovery { patient_id: PatientId },

    #[error("{tag}the recovery request may be approved from {not_before} on", tag = self.tag())]
    RecoveryWaiting { not_before: Timestamp },

    #[error("{tag}{trustee} already approved this recovery request", tag = self.tag())]
    AlreadyApproved { trustee: String },

    #[error("{tag}patient {patient_id} has no completed recovery whose new owner still owns it", tag = self.tag())]
    NoCompletedRecovery { patient_id: PatientId },

    #[error("{tag}the share of {category:?} epoch {epoch} was already released to the recovered owner", tag = self.tag())]
    AlreadyReleasedForRecovery { category: Category, epoch: u32 },

    #[error("{tag}the {category:?} key needs no new epoch: only the patient may open one now", tag = self.tag())]
    RotationNotNeeded { category: Category },

    #[error("{tag}this doctor's last emergency window for patient {patient_id} runs until {until}: a new one may be declared from then on", tag = self.tag())]
    EmergencyTooSoon {
        patient_id: PatientId,
        until: Timestamp,
    },

    #[error("{tag}patient {patient_id} was recovered and the trustees are still releasing its keys: no new recovery request until they are done", tag = self.tag())]
    RecoveryReleasesPending { patient_id: PatientId },
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
            ContractError::PatientNotFound { .. }
            | ContractError::GrantNotFound { .. }
            | ContractError::RequestNotFound { .. } => ErrorCode::NotFound,
            ContractError::PatientNotActive { .. } | ContractError::PatientNotDeleted { .. } => {
                ErrorCode::WrongPatientStatus
            }
            ContractError::CannotGrantSelf => ErrorCode::CannotGrantSelf,
            ContractError::NoCategories => ErrorCode::NoCategories,
            ContractError::DuplicateCategory { .. } => ErrorCode::DuplicateCategory,
            ContractError::ExpiryInPast { .. } => ErrorCode::ExpiryInPast,
            ContractError::EnvelopeCategoryNotGranted { .. } => ErrorCode::EnvelopeNotGranted,
            ContractError::EnvelopeExists { .. } => ErrorCode::EnvelopeExists,
            ContractError::RequestNotPending { .. } => ErrorCode::RequestNotPending,
            ContractError::ActionNotLoggable => ErrorCode::ActionNotLoggable,
            ContractError::InvalidEmergencyDuration { .. } => ErrorCode::InvalidEmergencyDuration,
            ContractError::EpochMismatch { .. } => ErrorCode::EpochMismatch,
            ContractError::EnvelopeEpochAhead { .. } => ErrorCode::EnvelopeEpochAhead,
            ContractError::RecipientNotEntitled { .. } => ErrorCode::RecipientNotEntitled,
            ContractError::DuplicateRecipient { .. } => ErrorCode::DuplicateRecipient,
            ContractError::HolderLeftOut { .. } => ErrorCode::HolderLeftOut,
            ContractError::TooManyKeyHolders { .. } => ErrorCode::TooManyKeyHolders,
            ContractError::NothingToUpdate => ErrorCode::NothingToUpdate,
            ContractError::NoAdminProposal => ErrorCode::NoPendingAdmin,
            ContractError::ForeignContract { .. } => ErrorCode::ForeignContract,
            ContractError::Downgrade { .. } => ErrorCode::Downgrade,
            ContractError::InvalidVersion { .. } => ErrorCode::InvalidVersion,
            ContractError::RegistryQueryFailed { .. } => ErrorCode::PeerQueryFailed,
            ContractError::InvalidTrusteeSet { .. } => ErrorCode::InvalidTrusteeSet,
            ContractError::NotTrustee { .. } => ErrorCode::NotTrustee,
            ContractError::NoTrustees => ErrorCode::NoTrustees,
            ContractError::TrusteeKeyMissing { .. } => ErrorCode::TrusteeKeyMissing,
            ContractError::CategoryNotEscrowed { .. } | ContractError::ShareNotEscrowed { .. } => {
                ErrorCode::NotEscrowed
            }
            ContractError::EscrowSharesMismatch { .. } => ErrorCode::EscrowSharesMismatch,
            ContractError::TooManyEscrowItems { .. } => ErrorCode::TooManyEscrowItems,
            ContractError::NoActiveEmergency { .. } => ErrorCode::NoActiveEmergency,
            ContractError::AlreadyReleased { .. }
            | ContractError::AlreadyReleasedForRecovery { .. } => ErrorCode::AlreadyReleased,
            ContractError::InvalidRecoveryWait { .. } => ErrorCode::InvalidRecoveryWait,
            ContractError::RecoveryNotEnabled { .. } => ErrorCode::RecoveryNotEnabled,
            ContractError::AlreadyPatient { .. } => ErrorCode::AlreadyPatient,
            ContractError::NoPendingRecovery { .. } => ErrorCode::NoPendingRecovery,
            ContractError::RecoveryWaiting { .. } => ErrorCode::RecoveryWaiting,
            ContractError::AlreadyApproved { .. } => ErrorCode::AlreadyApproved,
            ContractError::NoCompletedRecovery { .. } => ErrorCode::NoCompletedRecovery,
            ContractError::RotationNotNeeded { .. } => ErrorCode::RotationNotNeeded,
            ContractError::EmergencyTooSoon { .. } => ErrorCode::EmergencyTooSoon,
            ContractError::RecoveryReleasesPending { .. } => ErrorCode::RecoveryReleasesPending,
        }
    }

    /// The code with the numbers and names a client may need, as the Display text's prefix.
    pub fn tag(&self) -> Tag {
        let tag = Tag::new(self.code());
        match self {
            ContractError::Std(error) => error_code::std_tag(error),
            ContractError::Validation(error) => error.tag(),
            ContractError::RegistryQueryFailed { query, .. } => tag.with("query", query),
            ContractError::PatientNotFound { patient_id }
            | ContractError::GrantNotFound { patient_id, .. }
            | ContractError::NoActiveEmergency { patient_id, .. }
            | ContractError::RecoveryNotEnabled { patient_id }
            | ContractError::AlreadyPatient { patient_id, .. }
            | ContractError::NoPendingRecovery { patient_id }
            | ContractError::RecoveryReleasesPending { patient_id }
            | ContractError::NoCompletedRecovery { patient_id } => tag.with("patient", patient_id),
            ContractError::EmergencyTooSoon { patient_id, until } => {
                tag.with("patient", patient_id).with("until", until.nanos())
            }
            ContractError::PatientNotActive { patient_id } => {
                tag.with("patient", patient_id).with("expected", "active")
            }
            ContractError::PatientNotDeleted { patient_id } => {
                tag.with("patient", patient_id).with("expected", "deleted")
            }
            ContractError::CategoryNotEscrowed {
                patient_id,
                category,
            } => tag
                .with("patient", patient_id)
                .with("category", category.name()),
            ContractError::RequestNotFound { request_id }
            | ContractError::RequestNotPending { request_id } => tag.with("request", request_id),
            ContractError::ExpiryInPast { expires } => tag.with("expires", expires.nanos()),
            ContractError::RecoveryWaiting { not_before } => {
                tag.with("not_before", not_before.nanos())
            }
            ContractError::DuplicateCategory { category }
            | ContractError::EnvelopeCategoryNotGranted { category }
            | ContractError::RecipientNotEntitled { category, .. }
            | ContractError::RotationNotNeeded { category }
            | ContractError::HolderLeftOut { category, .. } => {
                tag.with("category", category.name())
            }
            ContractError::EnvelopeExists { category, epoch }
            | ContractError::ShareNotEscrowed {
                category, epoch, ..
            }
            | ContractError::AlreadyReleased {
                category, epoch, ..
            }
            | ContractError::AlreadyReleasedForRecovery { category, epoch } => {
                tag.with("category", category.name()).with("epoch", epoch)
            }
            ContractError::EpochMismatch {
                category,
                expected,
                got,
            } => tag
                .with("category", category.name())
                .with("epoch", got)
                .with("expected", expected),
            ContractError::EnvelopeEpochAhead {
                category,
                epoch,
                current,
            } => tag
                .with("category", category.name())
                .with("epoch", epoch)
                .with("current", current),
            ContractError::TooManyKeyHolders { category, max } => {
                tag.with("category", category.name()).with("max", max)
            }
            ContractError::EscrowSharesMismatch {
                category,
                epoch,
                expected,
            } => tag
                .with("category", category.name())
                .with("epoch", epoch)
                .with("expected", expected),
            ContractError::InvalidEmergencyDuration { max }
            | ContractError::InvalidRecoveryWait { max } => tag.with("max", max),
            ContractError::InvalidTrusteeSet { max }
            | ContractError::TooManyEscrowItems { max } => tag.with("max", max),
            _ => tag,
        }
    }

    pub fn unauthorized(action: &str) -> Self {
        ContractError::Unauthorized {
            action: action.to_string(),
        }
    }
}
