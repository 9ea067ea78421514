use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp};
use cw_storage_plus::{Index, IndexList, IndexedMap, Item, Map, MultiIndex};
use ehr_types::access::{AccessRequestInfo, GrantInfo};
use ehr_types::escrow::{EmergencyEvent, EmergencyReason};
use ehr_types::recovery::{RecoveryEvent, RecoveryStatus};
use ehr_types::{AuditEntry, Category, PatientId, RequestId};

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub registry: Addr,
    pub emergency_access_seconds: u64,
    pub recovery_wait_seconds: u64,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// The address proposed as the next admin until it accepts (or the admin cancels).
pub const PENDING_ADMIN: Item<Addr> = Item::new("pending_admin");

pub struct GrantIndexes<'a> {
    pub grantee: MultiIndex<'a, Addr, GrantInfo, (PatientId, Addr)>,
}

impl IndexList<GrantInfo> for GrantIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<GrantInfo>> + '_> {
        let indexes: Vec<&dyn Index<GrantInfo>> = vec![&self.grantee];
        Box::new(indexes.into_iter())
    }
}

/// (patient id, grantee) -> grant; at most one grant per pair, a new grant replaces it.
pub fn grants<'a>() -> IndexedMap<(PatientId, Addr), GrantInfo, GrantIndexes<'a>> {
    let indexes = GrantIndexes {
        grantee: MultiIndex::new(
            |_, grant| grant.grantee.clone(),
            "grants",
            "grants__grantee",
        ),
    };
    IndexedMap::new("grants", indexes)
}

/// A doctor's latest emergency access to a patient.
#[cw_serde]
pub struct EmergencyWindow {
    pub started: Timestamp,
    pub expires: Timestamp,
    pub reason: EmergencyReason,
}

impl EmergencyWindow {
    pub fn is_active(&self, now: Timestamp) -> bool {
        now < self.expires
    }
}

/// (patient id, doctor) -> the latest emergency window.
pub const EMERGENCY: Map<(PatientId, &Addr), EmergencyWindow> = Map::new("emergency");
/// seq (from 1) -> every emergency access in the order declared, for the trustees' agents.
pub const EMERGENCY_LOG: Map<u64, EmergencyEvent> = Map::new("emergency_log");
pub const EMERGENCY_COUNT: Item<u64> = Item::new("emergency_count");

/// The network's trustees and how many must release a share to open a key.
#[cw_serde]
pub struct TrusteeSet {
    pub members: Vec<Addr>,
    pub threshold: u8,
    /// Bumped on every change: shares of one set never combine with another's.
    pub version: u32,
}

pub const TRUSTEES: Item<TrusteeSet> = Item::new("trustees");
/// trustee -> the X25519 key shares are sealed to.
pub const TRUSTEE_KEYS: Map<&Addr, Binary> = Map::new("trustee_keys");
/// What a patient escrows.
#[cw_serde]
pub struct StoredEscrowPolicy {
    /// Opened to an emergency doctor.
    pub emergency: Vec<Category>,
    /// Every category escrowed, so a lost wallet can be recovered.
    pub recovery: bool,
}

impl StoredEscrowPolicy {
    /// The categories whose every epoch the trustees hold shares of.
    pub fn escrowed(&self) -> Vec<Category> {
        ehr_types::escrow::escrowed_categories(&self.emergency, self.recovery)
    }
}

/// patient id -> what the patient escrows; absent when nothing.
pub const ESCROW_POLICY: Map<PatientId, StoredEscrowPolicy> = Map::new("escrow_policy");

/// A patient's latest wallet-recovery request.
#[cw_serde]
pub struct StoredRecovery {
    pub new_owner: Addr,
    pub encryption_key: Binary,
    pub requested_at: Timestamp,
    pub not_before: Timestamp,
    pub approvals: Vec<Addr>,
    pub status: RecoveryStatus,
    pub decided_at: Option<Timestamp>,
    pub former_owner: Option<Addr>,
}

/// patient id -> the latest recovery request.
pub const RECOVERIES: Map<PatientId, StoredRecovery> = Map::new("recoveries");
/// seq (from 1) -> every recovery request in the order made, for the trustees' agents.
pub const RECOVERY_LOG: Map<u64, RecoveryEvent> = Map::new("recovery_log");
pub const RECOVERY_COUNT: Item<u64> = Item::new("recovery_count");
/// patient id -> how many recoveries moved the patient; own envelopes of an earlier owner's key
/// are not the current owner's and may be replaced.
pub const OWNER_GENERATION: Map<PatientId, u32> = Map::new("owner_generation");

/// The key epoch a former owner still holds after a recovery: it is stale until rotated.
#[cw_serde]
pub struct FormerOwnerKey {
    pub epoch: u32,
    pub former_owner: Addr,
}

/// (patient id, category code) -> the epoch the owner before the last recovery holds.
pub const FORMER_OWNER_KEYS: Map<(PatientId, u8), FormerOwnerKey> = Map::new("former_owner_keys");

/// One trustee's share of one (category, epoch) key, sealed to it.
#[cw_serde]
pub struct StoredShare {
    pub set_version: u32,
    pub threshold: u8,
    pub share: Binary,
}

/// (patient id, trustee, `category_epoch_key`) -> the trustee's share.
pub const ESCROWED: Map<(PatientId, &Addr, u64), StoredShare> = Map::new("escrowed");

/// A share a trustee re-sealed to an emergency doctor.
#[cw_serde]
pub struct StoredRelease {
    pub trustee: Addr,
    pub set_version: u32,
    pub threshold: u8,
    pub share: Binary,
    pub released_at: Timestamp,
    /// The emergency window it was released in (its start): once per share and window.
    pub window_started: Timestamp,
}

/// (patient id, doctor, `release_key`) -> a released share.
pub const RELEASED: Map<(PatientId, &Addr, &[u8]), StoredRelease> = Map::new("released");

/// `category_epoch_key` (big-endian) || trustee address: orders a doctor's released shares by
/// (category, epoch, trustee).
pub fn release_key(code: u8, epoch: u32, trustee: &Addr) -> Vec<u8> {
    let mut key = category_epoch_key(code, epoch).to_be_bytes().to_vec();
    key.extend_from_slice(trustee.as_bytes());
    key
}

pub const LAST_REQUEST_ID: Item<RequestId> = Item::new("last_request_id");

pub struct RequestIndexes<'a> {
    pub patient: MultiIndex<'a, PatientId, AccessRequestInfo, RequestId>,
    pub requester: MultiIndex<'a, Addr, AccessRequestInfo, RequestId>,
}

impl IndexList<AccessRequestInfo> for RequestIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<AccessRequestInfo>> + '_> {
        let indexes: Vec<&dyn Index<AccessRequestInfo>> = vec![&self.patient, &self.requester];
        Box::new(indexes.into_iter())
    }
}

pub fn requests<'a>() -> IndexedMap<RequestId, AccessRequestInfo, RequestIndexes<'a>> {
    let indexes = RequestIndexes {
        patient: MultiIndex::new(
            |_, request| request.patient_id,
            "requests",
            "requests__patient",
        ),
        requester: MultiIndex::new(
            |_, request| request.requester.clone(),
            "requests",
            "requests__requester",
        ),
    };
    IndexedMap::new("requests", indexes)
}

/// (patient id, category code) -> current key epoch; absent means epoch 0.
pub const EPOCHS: Map<(PatientId, u8), u32> = Map::new("epochs");

/// A category key wrapped to the key of the patient's owner of one generation.
#[cw_serde]
pub struct StoredOwnEnvelope {
    pub owner_generation: u32,
    pub envelope: Binary,
}

/// (patient id, category code, epoch) -> category key wrapped to the patient's own key.
pub const OWN_ENVELOPES: Map<(PatientId, u8, u32), StoredOwnEnvelope> = Map::new("own_envelopes");

/// (patient id, seq) -> audit entry, seq from 1.
pub const AUDIT: Map<(PatientId, u64), AuditEntry> = Map::new("audit");
/// Number of audit entries per patient, so appending never iterates.
pub const AUDIT_LEN: Map<PatientId, u64> = Map::new("audit_len");

/// (patient id, category code) -> the parties other than the patient that were handed the
/// current epoch's key; at most `MAX_KEY_HOLDERS`. Only a new epoch empties it.
pub const KEY_HOLDERS: Map<(PatientId, u8), Vec<Addr>> = Map::new("key_holders");

/// (patient id, holder, `category_epoch_key`) -> category key wrapped to that holder's key.
pub const HOLDER_ENVELOPES: Map<(PatientId, &Addr, u64), Binary> = Map::new("holder_envelopes");

/// One u64 that orders by (category code, epoch): storage keys are at most triples.
pub fn category_epoch_key(code: u8, epoch: u32) -> u64 {
    (u64::from(code) << 32) | u64::from(epoch)
}

/// The (category, epoch) of a `category_epoch_key`; `None` for a code no category has.
pub fn split_category_epoch_key(key: u64) -> Option<(Category, u32)> {
    Category::from_code((key >> 32) as u8).map(|category| (category, key as u32))
}
