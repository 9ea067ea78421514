//! Messages of the registry contract: designations, providers, patients, records.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Timestamp};

use crate::{BlobRef, Category, PatientId, RecordId};

#[cw_serde]
pub struct InstantiateMsg {
    /// Who administers the registry (credentials providers); the instantiator when absent.
    pub admin: Option<String>,
}

/// Sent with `wasmd tx wasm migrate`; `{}` for a plain upgrade.
#[cw_serde]
#[derive(Default)]
pub struct MigrateMsg {
    /// Re-point the registry at another access contract. The one way to change it after the
    /// wiring; absent, the access contract stays.
    #[serde(default)]
    pub access_contract: Option<String>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Admin only, once (the wiring after instantiate): set the access contract that grants
    /// write permission and keeps the audit log. It cannot be re-pointed afterwards except by a
    /// migration whose `MigrateMsg` names the new one.
    SetAccessContract { address: String },
    /// Admin only: propose the next admin (replaces a pending proposal). Nothing changes until
    /// the proposed address sends `AcceptAdmin`.
    ProposeAdmin { address: String },
    /// The proposed address only: become the admin.
    AcceptAdmin {},
    /// Admin only: withdraw the pending proposal.
    CancelAdminProposal {},
    /// Admin only: the registrars, operator keys that credential and withdraw doctors day to
    /// day, so that the admin (a k-of-n multisig) is needed only for governance. Replaces the
    /// set; at most `MAX_REGISTRARS`, no address twice; empty leaves credentialing to the admin.
    SetRegistrars { addresses: Vec<String> },
    /// Admin or registrar: credential a doctor under the name and organisation patients will see
    /// (professional directory data, public on chain; see `validate_directory_text`).
    CredentialProvider {
        address: String,
        display_name: String,
        organization: String,
    },
    /// Admin or registrar: withdraw a doctor's credential. Their grants stop working at once.
    RevokeProvider { address: String },
    /// Credentialed doctor: publish the X25519 public key that grants wrap category keys to.
    SetProviderKey { encryption_key: Binary },
    /// An address that is not a patient yet registers itself; the patient is Active at once.
    RegisterPatient {
        encryption_key: Binary,
        profile: Option<BlobRef>,
    },
    /// Credentialed doctor: propose a patient for an address; the patient is Pending until the
    /// address accepts.
    ProposePatient {
        address: String,
        profile: Option<BlobRef>,
    },
    /// The proposed address: accept the proposal with its own public key (Pending -> Active).
    AcceptPatient {
        patient_id: PatientId,
        encryption_key: Binary,
    },
    /// The proposed address: decline the proposal (Pending -> Deleted).
    DeclinePatient { patient_id: PatientId },
    /// The patient, or a doctor with Write on `Profile`: a new version of the encrypted profile.
    /// `base_version` is the profile version the writer's file replaces (refused with
    /// `VersionConflict` when another version landed first); `epoch` is the key epoch the file
    /// is sealed under, which must be the Profile category's current, non-stale epoch.
    UpdatePatient {
        patient_id: PatientId,
        base_version: u32,
        epoch: u32,
        profile: BlobRef,
    },
    /// The patient only: tombstone the patient. The id is never reused; the profile pointer is
    /// dropped at once, record pointers by `PurgeDeletedRecords`. No doctor and no admin may.
    DeletePatient { patient_id: PatientId },
    /// The access contract only, when k trustees approved a wallet recovery: the patient's
    /// owner and encryption key become the new wallet's; the old address is no patient any more.
    TransferPatient {
        patient_id: PatientId,
        new_owner: String,
        encryption_key: Binary,
    },
    /// Anyone: drop up to `limit` stored record entries of a deleted patient (bounded work per
    /// transaction, so deleting a patient with any number of records never runs out of gas).
    PurgeDeletedRecords {
        patient_id: PatientId,
        limit: Option<u32>,
    },
    /// The patient, or a doctor with Write on `category`: a new record with its first version.
    /// `epoch` is the key epoch the file is sealed under: the category's current epoch, which
    /// must not be stale (send a `RotateKey` of the access contract first in the same tx).
    AddRecord {
        patient_id: PatientId,
        category: Category,
        epoch: u32,
        blob: BlobRef,
    },
    /// As `AddRecord`, for 1 to 1000 records of one patient in one contract
    /// call: all are added, in order with consecutive ids, or none is.
    AddRecords {
        patient_id: PatientId,
        records: Vec<NewRecord>,
    },
    /// The patient, or a doctor with Write on the record's category: append a version.
    /// `base_version` is the version the writer's file replaces: refused with `VersionConflict`
    /// when the record has moved on. `epoch` as for `AddRecord`.
    UpdateRecord {
        record_id: RecordId,
        base_version: u32,
        epoch: u32,
        blob: BlobRef,
    },
    /// The patient, or a doctor with Manage on the record's category: tombstone the record.
    DeleteRecord { record_id: RecordId },
}

/// One record of an `AddRecords`.
#[cw_serde]
pub struct NewRecord {
    pub category: Category,
    /// The key epoch the file is sealed under (as `AddRecord`).
    pub epoch: u32,
    pub blob: BlobRef,
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    /// The address proposed as the next admin, if any.
    #[returns(crate::admin::PendingAdminResponse)]
    PendingAdmin {},
    /// The registrars the admin has named.
    #[returns(RegistrarsResponse)]
    Registrars {},
    /// What an address is on chain: the web UI routes by this after login.
    #[returns(DesignationResponse)]
    Designation { address: String },
    /// `provider: null` when the address was never credentialed.
    #[returns(ProviderResponse)]
    Provider { address: String },
    #[returns(ProvidersResponse)]
    Providers {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// The directory entries of up to `MAX_DIRECTORY_LOOKUP` addresses at once, so a client can
    /// put names on a page of grants, records or audit entries in one query.
    #[returns(DirectoryResponse)]
    Directory { addresses: Vec<String> },
    /// `patient: null` when no patient has this id.
    #[returns(PatientResponse)]
    Patient { patient_id: PatientId },
    /// The current (not deleted) patient owned by an address; `patient: null` when it has none.
    #[returns(PatientResponse)]
    PatientByAddress { address: String },
    #[returns(PatientsResponse)]
    Patients {
        start_after: Option<PatientId>,
        limit: Option<u32>,
    },
    #[returns(PatientCountResponse)]
    PatientCount {},
    /// `record: null` when no record has this id or its patient is deleted.
    #[returns(RecordResponse)]
    Record { record_id: RecordId },
    /// The versions of a record, oldest first; empty when the record is not there (as `Record`).
    #[returns(RecordHistoryResponse)]
    RecordHistory {
        record_id: RecordId,
        start_after: Option<u32>,
        limit: Option<u32>,
    },
    /// Records of a patient, optionally of one category, in id order; empty for a deleted or
    /// unknown patient.
    #[returns(RecordsResponse)]
    RecordsByPatient {
        patient_id: PatientId,
        category: Option<Category>,
        start_after: Option<RecordId>,
        limit: Option<u32>,
    },
    /// Records created by an address, in id order.
    #[returns(RecordsResponse)]
    RecordsByAuthor {
        author: String,
        start_after: Option<RecordId>,
        limit: Option<u32>,
    },
    /// The record of a patient that holds a version with this ciphertext hash: lets clients retry
    /// submissions without registering a file twice. `record: null` when none (as `Record`).
    #[returns(RecordResponse)]
    RecordBySha256 {
        patient_id: PatientId,
        sha256: String,
    },
}

/// The most registrars the admin may name (a bound on the membership check of every credential).
pub const MAX_REGISTRARS: usize = 8;

#[cw_serde]
pub struct RegistrarsResponse {
    pub registrars: Vec<Addr>,
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub access_contract: Option<Addr>,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum Designation {
    Admin,
    /// Credentials and withdraws doctors for the admin (`SetRegistrars`).
    Registrar,
    Doctor,
    /// One of the network's trustees (the access contract's trustee set).
    Trustee,
    Patient,
}

#[cw_serde]
pub struct DesignationResponse {
    /// The strongest role of the address (Admin, then Registrar, Doctor, Trustee, Patient), none
    /// when unknown.
    pub designation: Option<Designation>,
    /// The address's current patient id, also for an admin or doctor who is a patient too.
    pub patient_id: Option<PatientId>,
    /// A pending proposal waiting for this address to accept it.
    pub pending_patient_id: Option<PatientId>,
}

#[cw_serde]
pub struct ProviderInfo {
    pub address: Addr,
    pub display_name: String,
    pub organization: String,
    pub credentialed: bool,
    pub encryption_key: Option<Binary>,
    pub credentialed_at: Timestamp,
    /// When the admin last withdrew the credential; cleared when credentialed again.
    pub withdrawn_at: Option<Timestamp>,
}

#[cw_serde]
pub struct ProviderResponse {
    pub provider: Option<ProviderInfo>,
}

#[cw_serde]
pub struct ProvidersResponse {
    pub providers: Vec<ProviderInfo>,
}

/// The most addresses one `Directory` query looks up.
pub const MAX_DIRECTORY_LOOKUP: usize = 100;

#[cw_serde]
pub struct DirectoryEntry {
    pub address: Addr,
    /// `None` when the address was never credentialed (a patient, the admin, anyone else).
    pub provider: Option<ProviderInfo>,
}

/// One entry per address asked for, in the order asked.
#[cw_serde]
pub struct DirectoryResponse {
    pub entries: Vec<DirectoryEntry>,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum PatientStatus {
    Pending,
    Active,
    Deleted,
}

#[cw_serde]
pub struct PatientInfo {
    pub id: PatientId,
    pub owner: Addr,
    /// X25519 public key; absent while a proposal is pending.
    pub encryption_key: Option<Binary>,
    /// The encrypted profile; dropped on delete.
    pub profile: Option<BlobRef>,
    /// Incremented on every profile change, from 0 (no profile) or 1.
    pub profile_version: u32,
    pub status: PatientStatus,
    pub proposed_by: Option<Addr>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

#[cw_serde]
pub struct PatientResponse {
    pub patient: Option<PatientInfo>,
}

#[cw_serde]
pub struct PatientsResponse {
    pub patients: Vec<PatientInfo>,
}

#[cw_serde]
pub struct PatientCountResponse {
    pub active: u64,
    pub pending: u64,
    pub deleted: u64,
    /// Every id ever assigned: active + pending + deleted.
    pub total: u64,
}

#[cw_serde]
pub struct RecordVersion {
    /// 1 for the first version.
    pub version: u32,
    /// The key epoch the writer declared its file is sealed under.
    pub epoch: u32,
    pub blob: BlobRef,
    pub author: Addr,
    pub time: Timestamp,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum RecordStatus {
    Active,
    Deleted,
}

#[cw_serde]
pub struct RecordInfo {
    pub id: RecordId,
    pub patient_id: PatientId,
    pub category: Category,
    pub created_by: Addr,
    pub status: RecordStatus,
    /// The newest version; its `version` is the length of the chain.
    pub latest: RecordVersion,
}

#[cw_serde]
pub struct RecordResponse {
    pub record: Option<RecordInfo>,
}

#[cw_serde]
pub struct RecordHistoryResponse {
    pub versions: Vec<RecordVersion>,
}

#[cw_serde]
pub struct RecordsResponse {
    pub records: Vec<RecordInfo>,
}
