use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp};
use cw_storage_plus::{Index, IndexList, IndexedMap, Item, Map, MultiIndex};
use ehr_types::admin::{AdminConfig, AdminRole};
use ehr_types::registry::{
    ConfigResponse, PatientCountResponse, PatientInfo, PatientStatus, ProviderInfo, RecordInfo,
    RecordStatus, RecordVersion,
};
use ehr_types::{BlobRef, Category, PatientId, RecordId};

// Stored types are this contract's own, apart from the API's responses, so that a response can
// change without changing how stored bytes decode. Each keeps the serde shape release 0.1.0
// stored (the public type of then), and its conversion to the response lives next to it.
// Enums and message values (`Category`, statuses, `BlobRef`) are the messages' own: a new
// variant leaves every stored value readable.

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub access_contract: Option<Addr>,
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
            access_contract: config.access_contract,
        }
    }
}

pub const CONFIG: Item<Config> = Item::new("config");
/// The admin, and the address proposed as the next admin until it accepts (or the admin cancels).
pub const ADMIN: AdminRole<Config> = AdminRole::new(CONFIG, Item::new("pending_admin"));

/// The admin's registrars (at most `MAX_REGISTRARS`); absent before the first `SetRegistrars`.
pub const REGISTRARS: Item<Vec<Addr>> = Item::new("registrars");

#[cw_serde]
pub struct StoredProvider {
    pub address: Addr,
    pub display_name: String,
    pub organization: String,
    pub credentialed: bool,
    pub encryption_key: Option<Binary>,
    pub credentialed_at: Timestamp,
    /// When the credential was last withdrawn; cleared when credentialed again.
    pub withdrawn_at: Option<Timestamp>,
}

impl From<StoredProvider> for ProviderInfo {
    fn from(provider: StoredProvider) -> Self {
        ProviderInfo {
            address: provider.address,
            display_name: provider.display_name,
            organization: provider.organization,
            credentialed: provider.credentialed,
            encryption_key: provider.encryption_key,
            credentialed_at: provider.credentialed_at,
            withdrawn_at: provider.withdrawn_at,
        }
    }
}

pub const PROVIDERS: Map<&Addr, StoredProvider> = Map::new("providers");

/// The last patient id handed out; ids start at 1 and are never reused.
pub const LAST_PATIENT_ID: Item<PatientId> = Item::new("last_patient_id");
#[cw_serde]
pub struct StoredPatient {
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

impl From<StoredPatient> for PatientInfo {
    fn from(patient: StoredPatient) -> Self {
        PatientInfo {
            id: patient.id,
            owner: patient.owner,
            encryption_key: patient.encryption_key,
            profile: patient.profile,
            profile_version: patient.profile_version,
            status: patient.status,
            proposed_by: patient.proposed_by,
            created: patient.created,
            updated: patient.updated,
        }
    }
}

pub const PATIENTS: Map<PatientId, StoredPatient> = Map::new("patients");
/// The pending or active patient of an address; removed on delete, so the address may register anew.
pub const CURRENT_PATIENT: Map<&Addr, PatientId> = Map::new("current_patient");
#[cw_serde]
#[derive(Default)]
pub struct StoredPatientCounts {
    pub active: u64,
    pub pending: u64,
    pub deleted: u64,
    pub total: u64,
}

impl From<StoredPatientCounts> for PatientCountResponse {
    fn from(counts: StoredPatientCounts) -> Self {
        PatientCountResponse {
            active: counts.active,
            pending: counts.pending,
            deleted: counts.deleted,
            total: counts.total,
        }
    }
}

/// Kept up to date on every status change so counting never iterates.
pub const PATIENT_COUNTS: Item<StoredPatientCounts> = Item::new("patient_counts");

pub const LAST_RECORD_ID: Item<RecordId> = Item::new("last_record_id");
#[cw_serde]
pub struct StoredRecordVersion {
    /// 1 for the first version.
    pub version: u32,
    /// The key epoch the writer declared its file is sealed under.
    pub epoch: u32,
    pub blob: BlobRef,
    pub author: Addr,
    pub time: Timestamp,
}

impl From<StoredRecordVersion> for RecordVersion {
    fn from(version: StoredRecordVersion) -> Self {
        RecordVersion {
            version: version.version,
            epoch: version.epoch,
            blob: version.blob,
            author: version.author,
            time: version.time,
        }
    }
}

/// Every version of every record: (record id, version) -> version.
pub const RECORD_VERSIONS: Map<(RecordId, u32), StoredRecordVersion> = Map::new("record_versions");
/// (patient id, sha256 of a version's ciphertext) -> record id: idempotent retries, integrity lookups.
pub const RECORD_BY_HASH: Map<(PatientId, &str), RecordId> = Map::new("record_by_hash");

#[cw_serde]
pub struct StoredRecord {
    pub id: RecordId,
    pub patient_id: PatientId,
    pub category: Category,
    pub created_by: Addr,
    pub status: RecordStatus,
    /// The newest version; its `version` is the length of the chain.
    pub latest: StoredRecordVersion,
}

impl From<StoredRecord> for RecordInfo {
    fn from(record: StoredRecord) -> Self {
        RecordInfo {
            id: record.id,
            patient_id: record.patient_id,
            category: record.category,
            created_by: record.created_by,
            status: record.status,
            latest: record.latest.into(),
        }
    }
}

pub struct RecordIndexes<'a> {
    pub patient: MultiIndex<'a, PatientId, StoredRecord, RecordId>,
    pub patient_category: MultiIndex<'a, (PatientId, u8), StoredRecord, RecordId>,
    pub author: MultiIndex<'a, Addr, StoredRecord, RecordId>,
}

impl IndexList<StoredRecord> for RecordIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<StoredRecord>> + '_> {
        let indexes: Vec<&dyn Index<StoredRecord>> =
            vec![&self.patient, &self.patient_category, &self.author];
        Box::new(indexes.into_iter())
    }
}

pub fn records<'a>() -> IndexedMap<RecordId, StoredRecord, RecordIndexes<'a>> {
    let indexes = RecordIndexes {
        patient: MultiIndex::new(|_, record| record.patient_id, "records", "records__patient"),
        patient_category: MultiIndex::new(
            |_, record| (record.patient_id, record.category.code()),
            "records",
            "records__patient_category",
        ),
        author: MultiIndex::new(
            |_, record| record.created_by.clone(),
            "records",
            "records__author",
        ),
    };
    IndexedMap::new("records", indexes)
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
    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn reads_back<T: Serialize + DeserializeOwned>(json: &str) -> T {
        let stored: T = from_json(json.as_bytes()).unwrap();
        assert_eq!(to_json_string(&stored).unwrap(), json);
        stored
    }

    fn at(nanos: &str) -> Timestamp {
        Timestamp::from_nanos(nanos.parse().unwrap())
    }

    fn blob() -> BlobRef {
        BlobRef {
            sha256: SHA.into(),
            uri: format!("ehrfs://{SHA}"),
            size: 812,
        }
    }

    #[test]
    fn a_provider_of_0_1_0_reads_and_answers_as_before() {
        let json = format!(
            r#"{{"address":"{DOCTOR}","display_name":"Dr Ana Lima","organization":"St Mary Hospital","credentialed":false,"encryption_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","credentialed_at":"{T1}","withdrawn_at":"{T2}"}}"#
        );
        let provider: ProviderInfo = reads_back::<StoredProvider>(&json).into();
        assert_eq!(
            provider,
            ProviderInfo {
                address: Addr::unchecked(DOCTOR),
                display_name: "Dr Ana Lima".into(),
                organization: "St Mary Hospital".into(),
                credentialed: false,
                encryption_key: Some(Binary::new((0..32).collect())),
                credentialed_at: at(T1),
                withdrawn_at: Some(at(T2)),
            }
        );
    }

    #[test]
    fn a_patient_of_0_1_0_reads_and_answers_as_before() {
        let json = format!(
            r#"{{"id":7,"owner":"{PATIENT}","encryption_key":null,"profile":{{"sha256":"{SHA}","uri":"ehrfs://{SHA}","size":812}},"profile_version":1,"status":"pending","proposed_by":"{DOCTOR}","created":"{T1}","updated":"{T2}"}}"#
        );
        let patient: PatientInfo = reads_back::<StoredPatient>(&json).into();
        assert_eq!(
            patient,
            PatientInfo {
                id: 7,
                owner: Addr::unchecked(PATIENT),
                encryption_key: None,
                profile: Some(blob()),
                profile_version: 1,
                status: PatientStatus::Pending,
                proposed_by: Some(Addr::unchecked(DOCTOR)),
                created: at(T1),
                updated: at(T2),
            }
        );
        let counts: PatientCountResponse =
            reads_back::<StoredPatientCounts>(r#"{"active":3,"pending":1,"deleted":2,"total":6}"#)
                .into();
        assert_eq!(
            counts,
            PatientCountResponse {
                active: 3,
                pending: 1,
                deleted: 2,
                total: 6
            }
        );
    }

    #[test]
    fn records_and_versions_of_0_1_0_read_and_answer_as_before() {
        let version = format!(
            r#"{{"version":2,"epoch":1,"blob":{{"sha256":"{SHA}","uri":"ehrfs://{SHA}","size":812}},"author":"{DOCTOR}","time":"{T2}"}}"#
        );
        let expected_version = RecordVersion {
            version: 2,
            epoch: 1,
            blob: blob(),
            author: Addr::unchecked(DOCTOR),
            time: at(T2),
        };
        let read: RecordVersion = reads_back::<StoredRecordVersion>(&version).into();
        assert_eq!(read, expected_version);

        let json = format!(
            r#"{{"id":12,"patient_id":7,"category":"lab","created_by":"{PATIENT}","status":"deleted","latest":{version}}}"#
        );
        let record: RecordInfo = reads_back::<StoredRecord>(&json).into();
        assert_eq!(
            record,
            RecordInfo {
                id: 12,
                patient_id: 7,
                category: Category::Lab,
                created_by: Addr::unchecked(PATIENT),
                status: RecordStatus::Deleted,
                latest: expected_version,
            }
        );
    }

    #[test]
    fn the_config_0_1_0_stored_still_reads() {
        let config: ConfigResponse = reads_back::<Config>(&format!(
            r#"{{"admin":"{PATIENT}","access_contract":"{DOCTOR}"}}"#
        ))
        .into();
        assert_eq!(config.access_contract, Some(Addr::unchecked(DOCTOR)));
        reads_back::<Config>(&format!(
            r#"{{"admin":"{PATIENT}","access_contract":null}}"#
        ));
    }
}
