//! Messages of the access contract: grants with key envelopes, requests, emergency access, audit.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Timestamp};

use crate::escrow::{
    EmergenciesResponse, EmergencyReason, EpochEscrow, EscrowCursor, EscrowPolicyResponse,
    EscrowedSharesResponse, ReleaseCursor, ReleasedShare, ReleasedSharesResponse, TrusteeShare,
    TrusteesResponse,
};
use crate::recovery::{IdentityCheck, RecoveriesResponse, RecoveryResponse};
use crate::{AuditAction, AuditEntry, Category, PatientId, RequestId};

#[cw_serde]
pub struct InstantiateMsg {
    /// The registry whose patients this contract guards.
    pub registry: String,
    /// Who may change this contract's settings; the instantiator when absent.
    pub admin: Option<String>,
    /// How long emergency read access lasts; 24 hours when absent.
    pub emergency_access_seconds: Option<u64>,
    /// How long a wallet-recovery request waits before trustees may approve it;
    /// `DEFAULT_RECOVERY_WAIT_SECONDS` when absent.
    #[serde(default)]
    pub recovery_wait_seconds: Option<u64>,
}

/// What a grantee may do. Each scope includes the ones before it.
#[cw_serde]
#[derive(Copy, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Manage,
}

/// A category key for one epoch, wrapped to the grantee's X25519 key with HPKE (RFC 9180).
#[cw_serde]
pub struct KeyEnvelope {
    pub category: Category,
    pub epoch: u32,
    pub envelope: Binary,
}

/// A new epoch's category key wrapped to one party that may read the category.
#[cw_serde]
pub struct RecipientEnvelope {
    pub recipient: String,
    pub envelope: Binary,
}

/// Sent with `wasmd tx wasm migrate`: `{}`.
#[cw_serde]
#[derive(Default)]
pub struct MigrateMsg {}

#[cw_serde]
pub enum ExecuteMsg {
    /// Admin only: the emergency-access window and the wallet-recovery wait. The admin role
    /// itself is handed on with `ProposeAdmin` / `AcceptAdmin`.
    UpdateConfig {
        emergency_access_seconds: Option<u64>,
        #[serde(default)]
        recovery_wait_seconds: Option<u64>,
    },
    /// Admin only: propose the next admin (replaces a pending proposal). Nothing changes until
    /// the proposed address sends `AcceptAdmin`.
    ProposeAdmin { address: String },
    /// The proposed address only: become the admin.
    AcceptAdmin {},
    /// Admin only: withdraw the pending proposal.
    CancelAdminProposal {},
    /// The patient: grant (or replace the grant of) a credentialed doctor.
    Grant {
        patient_id: PatientId,
        grantee: String,
        scope: Scope,
        categories: Vec<Category>,
        expires: Option<Timestamp>,
        key_envelopes: Vec<KeyEnvelope>,
    },
    /// The patient: remove a grant. The former grantee still holds the current epochs' keys of
    /// the categories it covered, so those epochs are stale: the next write into each of them
    /// must come with a `RotateKey` (see there).
    Revoke {
        patient_id: PatientId,
        grantee: String,
    },
    /// Anyone, once the patient is deleted in the registry: remove up to `limit` (default and at
    /// most 100) of its grants, so they leave the doctors' listings. Bounded work per transaction.
    PurgeDeletedGrants {
        patient_id: PatientId,
        limit: Option<u32>,
    },
    /// A credentialed doctor: ask a patient for access.
    RequestAccess {
        patient_id: PatientId,
        scope: Scope,
        categories: Vec<Category>,
    },
    /// The patient: approve a pending request, which becomes a grant.
    ApproveRequest {
        request_id: RequestId,
        expires: Option<Timestamp>,
        key_envelopes: Vec<KeyEnvelope>,
    },
    /// The patient: deny a pending request.
    DenyRequest { request_id: RequestId },
    /// The patient: store category keys wrapped to the patient's own X25519 key, so that any device
    /// with the wallet can recover them from the chain. An envelope once stored is never replaced.
    StoreOwnEnvelopes {
        patient_id: PatientId,
        key_envelopes: Vec<KeyEnvelope>,
    },
    /// The patient, or a credentialed doctor with Write on `category`: open key epoch `epoch`
    /// (the current one plus 1) with a new category key, wrapped to the patient (`own_envelope`)
    /// and to each party in `envelopes`. Every recipient must be entitled to read the category
    /// now, and every holder of the current epoch who still is must be among them (at most
    /// `MAX_KEY_HOLDERS`). Writers send it in the same transaction as a write into a stale epoch.
    RotateKey {
        patient_id: PatientId,
        category: Category,
        epoch: u32,
        own_envelope: Binary,
        envelopes: Vec<RecipientEnvelope>,
        /// When the patient escrows `category`: the new key's share for every trustee (one
        /// each, the current trustee set), so the new epoch opens in an emergency too. Empty
        /// otherwise (and may be left out).
        #[serde(default)]
        escrow: Vec<TrusteeShare>,
        /// With `escrow`: the dealer's commitment to the new key (32 bytes).
        #[serde(default)]
        escrow_key_commitment: Option<Binary>,
    },
    /// A credentialed doctor: time-boxed read access without the patient's approval, with a
    /// coded reason, always written to the patient's audit log. It opens only the categories the
    /// patient opens in an emergency (its escrow policy), never one the doctor lost by a revoke,
    /// a narrowing or an expiry. Trustees then release the shares of those categories to this
    /// doctor. Refused until the doctor's previous window for the patient has reached the end it
    /// was declared with (one declaration per window length, even when the patient ended it).
    EmergencyAccess {
        patient_id: PatientId,
        reason: EmergencyReason,
    },
    /// The patient: end `doctor`'s open emergency window now. The epochs the doctor was handed
    /// become stale, so the next write of each rotates past it.
    EndEmergency {
        patient_id: PatientId,
        doctor: String,
    },
    /// Admin only: the network's trustees (at most `MAX_TRUSTEES`) and how many of them must
    /// release a share to open a key (at least `MIN_THRESHOLD`, at most the set's size).
    SetTrustees {
        trustees: Vec<String>,
        threshold: u8,
    },
    /// A trustee of the current set: publish the X25519 key patients seal shares to.
    SetTrusteeKey { encryption_key: Binary },
    /// The patient: the categories opened in an emergency (empty: none), and whether every
    /// category is escrowed so that a lost wallet can be recovered (`RequestRecovery`). Every
    /// epoch of the escrowed categories needs its shares (`EscrowShares` for the existing ones,
    /// `RotateKey.escrow` for new ones).
    SetEscrowPolicy {
        patient_id: PatientId,
        categories: Vec<Category>,
        #[serde(default)]
        recovery: bool,
    },
    /// The patient: store the trustees' shares of existing epochs of escrowed categories (at
    /// most `MAX_ESCROWS_PER_MESSAGE` epochs, one share per trustee each).
    EscrowShares {
        patient_id: PatientId,
        escrows: Vec<EpochEscrow>,
    },
    /// A trustee: its shares, re-sealed to `doctor`, while that doctor's emergency access to
    /// the patient is active; only escrowed categories, once per share and window.
    ReleaseShares {
        patient_id: PatientId,
        doctor: String,
        shares: Vec<ReleasedShare>,
    },
    /// Any address that is not a patient, for a patient that escrows for recovery: ask to become
    /// that patient's owner, with the X25519 key of the new wallet. Replaces a pending request
    /// (and its approvals); the patient's wallet can cancel until it completes. A completed
    /// recovery is never replaced: a new request is refused while its releases are pending
    /// (fewer than k trustees released, and less than the waiting period since it completed).
    RequestRecovery {
        patient_id: PatientId,
        encryption_key: Binary,
    },
    /// The patient's wallet: cancel the pending recovery request.
    CancelRecovery { patient_id: PatientId },
    /// A trustee of the current set, once the request's waiting period is over, after checking
    /// the requester's identity out of band: approve the pending request, saying how identity
    /// was checked. The approval that reaches the threshold moves the patient to the new owner
    /// in the registry, in the same transaction.
    ApproveRecovery {
        patient_id: PatientId,
        identity_check: IdentityCheck,
    },
    /// A trustee, after a completed recovery: its shares of escrowed keys re-sealed to the new
    /// owner (at most `MAX_RELEASES_PER_MESSAGE`), once per share and recovery.
    ReleaseRecoveryShares {
        patient_id: PatientId,
        shares: Vec<ReleasedShare>,
    },
    /// The registry only: append registry actions, in order, to the patient's audit log.
    LogActions {
        patient_id: PatientId,
        actor: String,
        actions: Vec<AuditAction>,
    },
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    /// The address proposed as the next admin, if any.
    #[returns(crate::admin::PendingAdminResponse)]
    PendingAdmin {},
    #[returns(GrantResponse)]
    Grant {
        patient_id: PatientId,
        grantee: String,
    },
    #[returns(GrantsResponse)]
    GrantsByPatient {
        patient_id: PatientId,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// The grants a doctor holds: the doctor dashboard's "my patients".
    #[returns(GrantsResponse)]
    GrantsByGrantee {
        grantee: String,
        start_after: Option<PatientId>,
        limit: Option<u32>,
    },
    /// Whether `actor` holds an unexpired grant of at least `scope` on `category` (on any
    /// category when absent). Emergency access counts for Read. Patient ownership and provider
    /// credentials are the registry's to check.
    #[returns(PermissionResponse)]
    Permission {
        patient_id: PatientId,
        actor: String,
        scope: Scope,
        category: Option<Category>,
    },
    #[returns(EmergencyResponse)]
    EmergencyAccess {
        patient_id: PatientId,
        grantee: String,
    },
    /// Every emergency access in the order declared, from after `start_after` (a `seq`).
    #[returns(EmergenciesResponse)]
    Emergencies {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(TrusteesResponse)]
    Trustees {},
    /// The patient's latest recovery request.
    #[returns(RecoveryResponse)]
    Recovery { patient_id: PatientId },
    /// Every recovery request in the order made, from after `start_after` (a `seq`).
    #[returns(RecoveriesResponse)]
    Recoveries {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(EscrowPolicyResponse)]
    EscrowPolicy { patient_id: PatientId },
    /// The shares one trustee holds for a patient, by (category, epoch).
    #[returns(EscrowedSharesResponse)]
    EscrowedShares {
        patient_id: PatientId,
        trustee: String,
        start_after: Option<EscrowCursor>,
        limit: Option<u32>,
    },
    /// The shares released to a doctor (or to a recovered owner) for a patient, by (category,
    /// epoch, trustee).
    #[returns(ReleasedSharesResponse)]
    ReleasedShares {
        patient_id: PatientId,
        doctor: String,
        start_after: Option<ReleaseCursor>,
        limit: Option<u32>,
    },
    #[returns(RequestResponse)]
    Request { request_id: RequestId },
    #[returns(RequestsResponse)]
    RequestsByPatient {
        patient_id: PatientId,
        start_after: Option<RequestId>,
        limit: Option<u32>,
    },
    #[returns(RequestsResponse)]
    RequestsByRequester {
        requester: String,
        start_after: Option<RequestId>,
        limit: Option<u32>,
    },
    /// The patient's own key envelopes, optionally of one category, in (category, epoch) order,
    /// a page at a time (from after `start_after`; `limit` defaults to the most, 100, since
    /// clients from before paging asked for everything).
    #[returns(OwnEnvelopesResponse)]
    OwnEnvelopes {
        patient_id: PatientId,
        category: Option<Category>,
        #[serde(default)]
        start_after: Option<CategoryEpoch>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// What `party` may do with the patient's records now, category by category, as the rule
    /// book decides it: clients show and follow this instead of re-deriving it.
    #[returns(CapabilitiesResponse)]
    Capabilities {
        patient_id: PatientId,
        party: String,
    },
    /// Everything `writer`'s client needs to write into `category`: the epoch to seal with,
    /// whether it must open a new one first (and so send `RotateKey` in the same transaction),
    /// and for a new one every recipient with its key and the trustees to escrow it to.
    #[returns(WritePlanResponse)]
    WritePlan {
        patient_id: PatientId,
        category: Category,
        writer: String,
    },
    /// Current key epoch of every category of a patient that has moved past epoch 0.
    #[returns(EpochsResponse)]
    Epochs { patient_id: PatientId },
    /// The current epoch of a category and the parties (other than the patient) that were handed
    /// its key, each with whether it may still read the category. Any holder that may not makes
    /// the epoch stale: a write into it must rotate first. Also the readers that lack the key
    /// (which reads every grant of the patient: clients ask it, the registry asks `WriteEpoch`).
    #[returns(KeyHoldersResponse)]
    KeyHolders {
        patient_id: PatientId,
        category: Category,
    },
    /// What the registry checks on every write: the current epoch of a category and whether it
    /// is stale, bounded by `MAX_KEY_HOLDERS` (`KeyHolders` without the readers).
    #[returns(WriteEpochResponse)]
    WriteEpoch {
        patient_id: PatientId,
        category: Category,
    },
    /// The parties (other than the patient) that may read `category` now and are to get the
    /// next epoch's key: credentialed, with an unexpired grant that covers it, or in an active
    /// emergency window while holding the current key. A rotation wraps the new key to each of
    /// them that has published an encryption key.
    #[returns(ReadersResponse)]
    Readers {
        patient_id: PatientId,
        category: Category,
    },
    /// The key envelopes wrapped to `holder` (a grantee), in (category, epoch) order, optionally
    /// of one category; what they were handed stays listed after their access ends.
    #[returns(KeyEnvelopesResponse)]
    KeyEnvelopes {
        patient_id: PatientId,
        holder: String,
        category: Option<Category>,
        start_after: Option<CategoryEpoch>,
        limit: Option<u32>,
    },
    #[returns(AuditLogResponse)]
    AuditLog {
        patient_id: PatientId,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub registry: Addr,
    pub emergency_access_seconds: u64,
    pub recovery_wait_seconds: u64,
}

#[cw_serde]
pub struct GrantInfo {
    pub patient_id: PatientId,
    pub grantee: Addr,
    pub scope: Scope,
    pub categories: Vec<Category>,
    pub expires: Option<Timestamp>,
    pub granted_at: Timestamp,
}

#[cw_serde]
pub struct GrantResponse {
    pub grant: Option<GrantInfo>,
}

#[cw_serde]
pub struct GrantsResponse {
    pub grants: Vec<GrantInfo>,
}

#[cw_serde]
pub struct PermissionResponse {
    pub allowed: bool,
    /// True when only emergency access allows it.
    pub emergency: bool,
}

#[cw_serde]
pub struct EmergencyResponse {
    /// When the emergency access ends (or ended).
    pub expires: Option<Timestamp>,
    pub active: bool,
    pub started: Option<Timestamp>,
    pub reason: Option<EmergencyReason>,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
}

#[cw_serde]
pub struct AccessRequestInfo {
    pub id: RequestId,
    pub patient_id: PatientId,
    pub requester: Addr,
    pub scope: Scope,
    pub categories: Vec<Category>,
    pub status: RequestStatus,
    pub created: Timestamp,
    pub decided: Option<Timestamp>,
}

#[cw_serde]
pub struct RequestResponse {
    /// `None` when no request has this id.
    pub request: Option<AccessRequestInfo>,
}

#[cw_serde]
pub struct RequestsResponse {
    pub requests: Vec<AccessRequestInfo>,
}

#[cw_serde]
pub struct OwnEnvelopesResponse {
    pub key_envelopes: Vec<KeyEnvelope>,
    /// Where the next page starts (`start_after`); absent when the listing is complete (so a
    /// client from before paging, which knows no such field, still reads a complete answer). A
    /// page may hold fewer envelopes than asked for while more follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CategoryEpoch>,
}

/// What a party may do with one category.
#[cw_serde]
pub struct CategoryRights {
    pub category: Category,
    pub read: bool,
    pub write: bool,
    pub manage: bool,
    /// True when only an open emergency window lets the party read it.
    pub by_emergency: bool,
}

/// An emergency window of the party, open or ended.
#[cw_serde]
pub struct EmergencyWindowInfo {
    pub started: Timestamp,
    /// The end it was declared with.
    pub expires: Timestamp,
    /// When the patient ended it early.
    pub ended: Option<Timestamp>,
    pub open: bool,
    pub reason: EmergencyReason,
}

#[cw_serde]
pub struct CapabilitiesResponse {
    /// The party owns the patient: it may do everything.
    pub owner: bool,
    /// A provider whose credential is in force.
    pub credentialed: bool,
    /// Every category the party may read (write, manage) now; the others are left out.
    pub categories: Vec<CategoryRights>,
    /// The party's latest emergency window for this patient.
    pub emergency: Option<EmergencyWindowInfo>,
    /// The categories the patient opens in an emergency.
    pub emergency_categories: Vec<Category>,
    /// The categories whose every epoch the trustees hold shares of.
    pub escrowed: Vec<Category>,
}

impl CapabilitiesResponse {
    pub fn may_read(&self, category: Category) -> bool {
        self.owner
            || self
                .categories
                .iter()
                .any(|c| c.category == category && c.read)
    }
}

/// A party a new epoch's key is to be wrapped to.
#[cw_serde]
pub struct KeyRecipient {
    pub address: Addr,
    /// Its published X25519 key; `None` when it has published none (it gets no key).
    pub encryption_key: Option<Binary>,
}

/// The trustees a new epoch of an escrowed category is split for.
#[cw_serde]
pub struct EscrowPlan {
    pub trustees: Vec<crate::escrow::TrusteeInfo>,
    pub threshold: u8,
    pub set_version: u32,
}

#[cw_serde]
pub struct WritePlanResponse {
    /// The category's current epoch.
    pub current_epoch: u32,
    /// Whether the write must open epoch `current_epoch + 1` first, in the same transaction.
    /// When false the writer seals with the current epoch's key; a writer that then finds it
    /// cannot open that key (a junk envelope) may rotate only if it is the patient.
    pub rotate: bool,
    /// Whether the chain accepts a `RotateKey` from this writer now (always for the patient;
    /// for a grantee when `rotate`, or when another grantee wrapped the key it holds).
    pub may_rotate: bool,
    /// The patient's registered key: a new key's `own_envelope` is wrapped to it.
    pub patient_key: Option<Binary>,
    /// Every party besides the patient that is to get a new key.
    pub recipients: Vec<KeyRecipient>,
    /// When the patient escrows the category: the trustees a new key's shares are sealed to.
    pub escrow: Option<EscrowPlan>,
}

#[cw_serde]
#[derive(Copy)]
pub struct CategoryEpoch {
    pub category: Category,
    pub epoch: u32,
}

#[cw_serde]
pub struct KeyHolder {
    pub address: Addr,
    /// Whether the holder may still read the category.
    pub entitled: bool,
}

#[cw_serde]
pub struct KeyHoldersResponse {
    pub epoch: u32,
    pub holders: Vec<KeyHolder>,
    /// True when a holder may no longer read the category: the next write must rotate.
    pub stale: bool,
    /// Parties that may read the category now and have published an encryption key, yet were
    /// not handed the current epoch's key: a doctor whose credential was restored after a
    /// rotation left it out, or one that published its key after its grant. The next write
    /// rotates so that they get the next key (the files of the current epoch stay closed to them).
    pub unserved: Vec<Addr>,
}

#[cw_serde]
pub struct WriteEpochResponse {
    pub epoch: u32,
    /// True when a holder may no longer read the category: a write into it is refused.
    pub stale: bool,
}

impl KeyHoldersResponse {
    /// Whether the next write must open a new epoch: a holder lost the right to read, or a
    /// reader lacks the current key.
    pub fn must_rotate(&self) -> bool {
        self.stale || !self.unserved.is_empty()
    }
}

#[cw_serde]
pub struct ReadersResponse {
    pub readers: Vec<Addr>,
}

#[cw_serde]
pub struct KeyEnvelopesResponse {
    pub key_envelopes: Vec<KeyEnvelope>,
}

#[cw_serde]
pub struct EpochsResponse {
    pub epochs: Vec<CategoryEpoch>,
}

impl EpochsResponse {
    /// The current epoch of `category` (0 when it never rotated).
    pub fn of(&self, category: Category) -> u32 {
        self.epochs
            .iter()
            .find(|e| e.category == category)
            .map_or(0, |e| e.epoch)
    }
}

#[cw_serde]
pub struct AuditLogResponse {
    pub entries: Vec<AuditEntry>,
}
