use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use cw_storage_plus::{Index, IndexList, IndexedMap, Item, Map, MultiIndex};
use ehr_types::registry::{
    PatientCountResponse, PatientInfo, ProviderInfo, RecordInfo, RecordVersion,
};
use ehr_types::{PatientId, RecordId};

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub access_contract: Option<Addr>,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// The address proposed as the next admin until it accepts (or the admin cancels).
pub const PENDING_ADMIN: Item<Addr> = Item::new("pending_admin");

/// The admin's registrars (at most `MAX_REGISTRARS`); absent before the first `SetRegistrars`.
pub const REGISTRARS: Item<Vec<Addr>> = Item::new("registrars");

pub const PROVIDERS: Map<&Addr, ProviderInfo> = Map::new("providers");

/// The last patient id handed out; ids start at 1 and are never reused.
pub const LAST_PATIENT_ID: Item<PatientId> = Item::new("last_patient_id");
pub const PATIENTS: Map<PatientId, PatientInfo> = Map::new("patients");
/// The pending or active patient of an address; removed on delete, so the address may register anew.
pub const CURRENT_PATIENT: Map<&Addr, PatientId> = Map::new("current_patient");
/// Kept up to date on every status change so counting never iterates.
pub const PATIENT_COUNTS: Item<PatientCountResponse> = Item::new("patient_counts");

pub const LAST_RECORD_ID: Item<RecordId> = Item::new("last_record_id");
/// Every version of every record: (record id, version) -> version.
pub const RECORD_VERSIONS: Map<(RecordId, u32), RecordVersion> = Map::new("record_versions");
/// (patient id, sha256 of a version's ciphertext) -> record id: idempotent retries, integrity lookups.
pub const RECORD_BY_HASH: Map<(PatientId, &str), RecordId> = Map::new("record_by_hash");

pub struct RecordIndexes<'a> {
    pub patient: MultiIndex<'a, PatientId, RecordInfo, RecordId>,
    pub patient_category: MultiIndex<'a, (PatientId, u8), RecordInfo, RecordId>,
    pub author: MultiIndex<'a, Addr, RecordInfo, RecordId>,
}

impl IndexList<RecordInfo> for RecordIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<RecordInfo>> + '_> {
        let indexes: Vec<&dyn Index<RecordInfo>> =
            vec![&self.patient, &self.patient_category, &self.author];
        Box::new(indexes.into_iter())
    }
}

pub fn records<'a>() -> IndexedMap<RecordId, RecordInfo, RecordIndexes<'a>> {
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
