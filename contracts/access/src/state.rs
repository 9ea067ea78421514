use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp};
use cw_storage_plus::{Index, IndexList, IndexedMap, Item, Map, MultiIndex};
use ehr_types::access::{AccessRequestInfo, ConfigResponse, GrantInfo, RequestStatus, Scope};
use ehr_types::admin::{AdminConfig, AdminRole};
use ehr_types::escrow::{EmergencyEvent, EmergencyReason, EscrowedShare, ReleasedShareInfo};
use ehr_types::recovery::{RecoveryEvent, RecoveryInfo, RecoveryStatus};
use ehr_types::{AuditAction, AuditEntry, Category, PatientId, RequestId};

// Stored types are this contract's own, apart from the API's responses, so that a response can
// change without changing how stored bytes decode. Each keeps the serde shape release 0.1.0
// stored (the public type of then), and its conversion to the response lives next to it. Enums
// and message values (`Category`, `Scope`, statuses, `AuditAction`, `EmergencyReason`) are the
// messages' own: a new variant leaves every stored value readable.

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub registry: Addr,
    pub emergency_access_seconds: u64,
    pub recovery_wait_seconds: u64,
}

impl AdminConfig for Config {
    fn admin(&self) -> &Addr {
        &self.admin
    }
    fn set_admin(&mut self, admin: Addr) {
        self.admin = admin;
    }
}

impl From<Config> for ConfigResponse {
    fn from(config: Config) -> Self {
        ConfigResponse {
            admin: config.admin,
            registry: config.registry,
            emergency_access_seconds: config.emergency_access_seconds,
            recovery_wait_seconds: config.recovery_wait_seconds,
        }
    }
}

pub const CONFIG: Item<Config> = Item::new("config");
/// The admin, and the address proposed as the next admin until it accepts (or the admin cancels).
pub const ADMIN: AdminRole<Config> = AdminRole::new(CONFIG, Item::new("pending_admin"));

#[cw_serde]
pub struct StoredGrant {
    pub patient_id: PatientId,
    pub grantee: Addr,
    pub scope: Scope,
    pub categories: Vec<Category>,
    pub expires: Option<Timestamp>,
    pub granted_at: Timestamp,
}

impl From<StoredGrant> for GrantInfo {
    fn from(grant: StoredGrant) -> Self {
        GrantInfo {
            patient_id: grant.patient_id,
            grantee: grant.grantee,
            scope: grant.scope,
            categories: grant.categories,
            expires: grant.expires,
            granted_at: grant.granted_at,
        }
    }
}

pub struct GrantIndexes<'a> {
    pub grantee: MultiIndex<'a, Addr, StoredGrant, (PatientId, Addr)>,
}

impl IndexList<StoredGrant> for GrantIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<StoredGrant>> + '_> {
        let indexes: Vec<&dyn Index<StoredGrant>> = vec![&self.grantee];
        Box::new(indexes.into_iter())
    }
}

/// (patient id, grantee) -> grant; at most one grant per pair, a new grant replaces it.
pub fn grants<'a>() -> IndexedMap<(PatientId, Addr), StoredGrant, GrantIndexes<'a>> {
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
    /// The end it was declared with (kept when the patient ends it early).
    pub expires: Timestamp,
    pub reason: EmergencyReason,
    /// When the patient ended it early; absent in windows stored before patients could.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Timestamp>,
}

impl EmergencyWindow {
    pub fn terms(&self) -> ehr_types::rules::EmergencyTerms {
        ehr_types::rules::EmergencyTerms {
            started: self.started,
            expires: self.expires,
            ended: self.ended,
        }
    }

    pub fn is_active(&self, now: Timestamp) -> bool {
        self.terms().is_open(now)
    }
}

/// (patient id, doctor) -> the latest emergency window.
pub const EMERGENCY: Map<(PatientId, &Addr), EmergencyWindow> = Map::new("emergency");
#[cw_serde]
pub struct StoredEmergencyEvent {
    pub seq: u64,
    pub patient_id: PatientId,
    pub doctor: Addr,
    pub reason: EmergencyReason,
    pub started: Timestamp,
    pub expires: Timestamp,
}

impl From<StoredEmergencyEvent> for EmergencyEvent {
    fn from(event: StoredEmergencyEvent) -> Self {
        EmergencyEvent {
            seq: event.seq,
            patient_id: event.patient_id,
            doctor: event.doctor,
            reason: event.reason,
            started: event.started,
            expires: event.expires,
        }
    }
}

/// seq (from 1) -> every emergency access in the order declared, for the trustees' agents.
pub const EMERGENCY_LOG: Map<u64, StoredEmergencyEvent> = Map::new("emergency_log");
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
    /// How each approval (same order) checked identity; empty in requests stored before
    /// approvals carried checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_checks: Vec<ehr_types::recovery::IdentityCheck>,
    /// The trustees that released shares to the new owner since it completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_by: Vec<Addr>,
}

impl StoredRecovery {
    pub fn into_info(self, patient_id: PatientId) -> RecoveryInfo {
        RecoveryInfo {
            patient_id,
            new_owner: self.new_owner,
            requested_at: self.requested_at,
            not_before: self.not_before,
            approvals: self.approvals,
            identity_checks: self.identity_checks,
            status: self.status,
            decided_at: self.decided_at,
            former_owner: self.former_owner,
        }
    }
}

/// patient id -> the latest recovery request.
pub const RECOVERIES: Map<PatientId, StoredRecovery> = Map::new("recoveries");
/// patient id -> the last completed recovery, once a later request took its place in
/// `RECOVERIES`: its releases go on whatever is requested after it.
pub const COMPLETED_RECOVERIES: Map<PatientId, StoredRecovery> = Map::new("completed_recoveries");
#[cw_serde]
pub struct StoredRecoveryEvent {
    pub seq: u64,
    pub patient_id: PatientId,
    pub new_owner: Addr,
    pub requested_at: Timestamp,
    pub not_before: Timestamp,
}

impl From<StoredRecoveryEvent> for RecoveryEvent {
    fn from(event: StoredRecoveryEvent) -> Self {
        RecoveryEvent {
            seq: event.seq,
            patient_id: event.patient_id,
            new_owner: event.new_owner,
            requested_at: event.requested_at,
            not_before: event.not_before,
        }
    }
}

/// seq (from 1) -> every recovery request in the order made, for the trustees' agents.
pub const RECOVERY_LOG: Map<u64, StoredRecoveryEvent> = Map::new("recovery_log");
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
    /// The dealer's commitment to the share; absent in escrows stored before commitments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Binary>,
}

impl StoredShare {
    pub fn into_info(self, category: Category, epoch: u32) -> EscrowedShare {
        EscrowedShare {
            category,
            epoch,
            set_version: self.set_version,
            threshold: self.threshold,
            share: self.share,
            commitment: self.commitment,
        }
    }
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
    /// The dealer's commitment to the share the trustee was given, copied at release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Binary>,
}

impl StoredRelease {
    pub fn into_info(
        self,
        category: Category,
        epoch: u32,
        key_commitment: Option<Binary>,
    ) -> ReleasedShareInfo {
        ReleasedShareInfo {
            category,
            epoch,
            trustee: self.trustee,
            set_version: self.set_version,
            threshold: self.threshold,
            share: self.share,
            released_at: self.released_at,
            commitment: self.commitment,
            key_commitment,
        }
    }
}

/// (patient id, `category_epoch_key`) -> the dealer's commitment to that epoch's key.
pub const KEY_COMMITMENTS: Map<(PatientId, u64), Binary> = Map::new("key_commitments");

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

#[cw_serde]
pub struct StoredRequest {
    pub id: RequestId,
    pub patient_id: PatientId,
    pub requester: Addr,
    pub scope: Scope,
    pub categories: Vec<Category>,
    pub status: RequestStatus,
    pub created: Timestamp,
    pub decided: Option<Timestamp>,
}

impl From<StoredRequest> for AccessRequestInfo {
    fn from(request: StoredRequest) -> Self {
        AccessRequestInfo {
            id: request.id,
            patient_id: request.patient_id,
            requester: request.requester,
            scope: request.scope,
            categories: request.categories,
            status: request.status,
            created: request.created,
            decided: request.decided,
        }
    }
}

pub struct RequestIndexes<'a> {
    pub patient: MultiIndex<'a, PatientId, StoredRequest, RequestId>,
    pub requester: MultiIndex<'a, Addr, StoredRequest, RequestId>,
}

impl IndexList<StoredRequest> for RequestIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<StoredRequest>> + '_> {
        let indexes: Vec<&dyn Index<StoredRequest>> = vec![&self.patient, &self.requester];
        Box::new(indexes.into_iter())
    }
}

pub fn requests<'a>() -> IndexedMap<RequestId, StoredRequest, RequestIndexes<'a>> {
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

#[cw_serde]
pub struct StoredAuditEntry {
    pub patient_id: PatientId,
    pub seq: u64,
    pub time: Timestamp,
    pub actor: Addr,
    pub action: AuditAction,
}

impl From<StoredAuditEntry> for AuditEntry {
    fn from(entry: StoredAuditEntry) -> Self {
        AuditEntry {
            patient_id: entry.patient_id,
            seq: entry.seq,
            time: entry.time,
            actor: entry.actor,
            action: entry.action,
        }
    }
}

/// (patient id, seq) -> audit entry, seq from 1.
pub const AUDIT: Map<(PatientId, u64), StoredAuditEntry> = Map::new("audit");
/// Number of audit entries per patient, so appending never iterates.
pub const AUDIT_LEN: Map<PatientId, u64> = Map::new("audit_len");

/// (patient id, category code) -> the parties other than the patient that were handed the
/// current epoch's key; at most `MAX_KEY_HOLDERS`. Only a new epoch empties it.
pub const KEY_HOLDERS: Map<(PatientId, u8), Vec<Addr>> = Map::new("key_holders");
/// (patient id, category code) -> the grantee that opened the current epoch; absent when the
/// patient did (or for epoch 0). Other holders may replace such a key (rules::may_rotate).
pub const EPOCH_OPENER: Map<(PatientId, u8), Addr> = Map::new("epoch_opener");

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

#[cfg(test)]
mod tests {
    //! Every stored type reads the bytes release 0.1.0 (git 44634da) wrote, literal JSON in the
    //! shape of the types it stored then, and writes them back unchanged: the migration to
    //! these types moves no byte.

    use cosmwasm_std::{from_json, to_json_string};
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::*;

    const PATIENT: &str = "cosmwasm1patient";
    const DOCTOR: &str = "cosmwasm1doctor";
    const T1: &str = "1700000000000000000";
    const T2: &str = "1700086400000000000";

    fn reads_back<T: Serialize + DeserializeOwned>(json: &str) -> T {
        let stored: T = from_json(json.as_bytes()).unwrap();
        assert_eq!(to_json_string(&stored).unwrap(), json);
        stored
    }

    fn at(nanos: &str) -> Timestamp {
        Timestamp::from_nanos(nanos.parse().unwrap())
    }

    #[test]
    fn a_grant_of_0_1_0_reads_and_answers_as_before() {
        let json = format!(
            r#"{{"patient_id":7,"grantee":"{DOCTOR}","scope":"write","categories":["lab","imaging"],"expires":"{T2}","granted_at":"{T1}"}}"#
        );
        let grant: GrantInfo = reads_back::<StoredGrant>(&json).into();
        assert_eq!(
            grant,
            GrantInfo {
                patient_id: 7,
                grantee: Addr::unchecked(DOCTOR),
                scope: Scope::Write,
                categories: vec![Category::Lab, Category::Imaging],
                expires: Some(at(T2)),
                granted_at: at(T1),
            }
        );
        let open_ended = format!(
            r#"{{"patient_id":7,"grantee":"{DOCTOR}","scope":"read","categories":["note"],"expires":null,"granted_at":"{T1}"}}"#
        );
        assert_eq!(reads_back::<StoredGrant>(&open_ended).expires, None);
    }

    #[test]
    fn a_request_of_0_1_0_reads_and_answers_as_before() {
        let json = format!(
            r#"{{"id":3,"patient_id":7,"requester":"{DOCTOR}","scope":"manage","categories":["document"],"status":"approved","created":"{T1}","decided":"{T2}"}}"#
        );
        let request: AccessRequestInfo = reads_back::<StoredRequest>(&json).into();
        assert_eq!(
            request,
            AccessRequestInfo {
                id: 3,
                patient_id: 7,
                requester: Addr::unchecked(DOCTOR),
                scope: Scope::Manage,
                categories: vec![Category::Document],
                status: RequestStatus::Approved,
                created: at(T1),
                decided: Some(at(T2)),
            }
        );
    }

    #[test]
    fn emergency_and_recovery_events_of_0_1_0_read_and_answer_as_before() {
        let json = format!(
            r#"{{"seq":2,"patient_id":7,"doctor":"{DOCTOR}","reason":{{"other":{{"code":"MASS-CASUALTY"}}}},"started":"{T1}","expires":"{T2}"}}"#
        );
        let event: EmergencyEvent = reads_back::<StoredEmergencyEvent>(&json).into();
        assert_eq!(
            event,
            EmergencyEvent {
                seq: 2,
                patient_id: 7,
                doctor: Addr::unchecked(DOCTOR),
                reason: EmergencyReason::Other {
                    code: "MASS-CASUALTY".into()
                },
                started: at(T1),
                expires: at(T2),
            }
        );

        let json = format!(
            r#"{{"seq":1,"patient_id":7,"new_owner":"{PATIENT}","requested_at":"{T1}","not_before":"{T2}"}}"#
        );
        let event: RecoveryEvent = reads_back::<StoredRecoveryEvent>(&json).into();
        assert_eq!(
            event,
            RecoveryEvent {
                seq: 1,
                patient_id: 7,
                new_owner: Addr::unchecked(PATIENT),
                requested_at: at(T1),
                not_before: at(T2),
            }
        );
    }

    #[test]
    fn audit_entries_of_0_1_0_read_and_answer_as_before() {
        let json = format!(
            r#"{{"patient_id":7,"seq":4,"time":"{T1}","actor":"{DOCTOR}","action":{{"access_granted":{{"grantee":"{DOCTOR}","scope":"read","categories":["lab"],"expires":null}}}}}}"#
        );
        let entry: AuditEntry = reads_back::<StoredAuditEntry>(&json).into();
        assert_eq!(
            entry,
            AuditEntry {
                patient_id: 7,
                seq: 4,
                time: at(T1),
                actor: Addr::unchecked(DOCTOR),
                action: AuditAction::AccessGranted {
                    grantee: Addr::unchecked(DOCTOR),
                    scope: Scope::Read,
                    categories: vec![Category::Lab],
                    expires: None,
                },
            }
        );
        let json = format!(
            r#"{{"patient_id":7,"seq":5,"time":"{T1}","actor":"{PATIENT}","action":{{"record_added":{{"record_id":12,"category":"lab"}}}}}}"#
        );
        reads_back::<StoredAuditEntry>(&json);
    }

    #[test]
    fn the_types_0_1_0_already_owned_still_read() {
        let config: ConfigResponse = reads_back::<Config>(&format!(
            r#"{{"admin":"{PATIENT}","registry":"{DOCTOR}","emergency_access_seconds":86400,"recovery_wait_seconds":604800}}"#
        ))
        .into();
        assert_eq!(config.emergency_access_seconds, 86400);
        let recovery = reads_back::<StoredRecovery>(&format!(
            r#"{{"new_owner":"{PATIENT}","encryption_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","requested_at":"{T1}","not_before":"{T2}","approvals":["{DOCTOR}"],"status":"completed","decided_at":"{T2}","former_owner":"{DOCTOR}"}}"#
        ))
        .into_info(7);
        assert_eq!(recovery.status, RecoveryStatus::Completed);
        let share = reads_back::<StoredShare>(r#"{"set_version":1,"threshold":2,"share":"AQID"}"#)
            .into_info(Category::Lab, 3);
        assert_eq!((share.epoch, share.threshold), (3, 2));
        reads_back::<StoredRelease>(&format!(
            r#"{{"trustee":"{DOCTOR}","set_version":1,"threshold":2,"share":"AQID","released_at":"{T2}","window_started":"{T1}"}}"#
        ));
        reads_back::<EmergencyWindow>(&format!(
            r#"{{"started":"{T1}","expires":"{T2}","reason":{{"incapable_patient":{{}}}}}}"#
        ));
        reads_back::<TrusteeSet>(&format!(
            r#"{{"members":["{DOCTOR}","{PATIENT}"],"threshold":2,"version":1}}"#
        ));
        reads_back::<StoredEscrowPolicy>(r#"{"emergency":["allergy"],"recovery":true}"#);
        reads_back::<FormerOwnerKey>(&format!(r#"{{"epoch":2,"former_owner":"{PATIENT}"}}"#));
        reads_back::<StoredOwnEnvelope>(r#"{"owner_generation":0,"envelope":"AQID"}"#);
    }
}
