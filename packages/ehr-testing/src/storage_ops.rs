//! Counts the storage operations one registry call makes, to show that no execute path does work
//! that grows with the amount of state.

use std::cell::Cell;
use std::rc::Rc;

use cosmwasm_std::testing::{message_info, mock_env, MockApi, MockQuerier, MockStorage};
use cosmwasm_std::{
    from_json, to_json_binary, Addr, ContractResult, Empty, Env, Order, OwnedDeps, Record, Storage,
    SystemResult, WasmQuery,
};
use ehr_registry::contract::{execute, instantiate, query};
use ehr_types::access::{PermissionResponse, QueryMsg as AccessQueryMsg, WriteEpochResponse};
use ehr_types::registry::{ExecuteMsg, InstantiateMsg, QueryMsg, RecordResponse};
use ehr_types::{Category, PatientId, RecordId};

use crate::{attribute_of, sample_blob, sample_public_key};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub reads: u64,
    pub writes: u64,
    pub removes: u64,
    /// Range iterations started.
    pub scans: u64,
    /// Entries read through range iterations.
    pub scanned: u64,
}

impl OpCounts {
    pub fn total(&self) -> u64 {
        self.reads + self.writes + self.removes + self.scans + self.scanned
    }
}

/// In-memory storage that counts every call made on it.
#[derive(Default)]
pub struct CountingStorage {
    inner: MockStorage,
    counts: Rc<Cell<OpCounts>>,
}

impl CountingStorage {
    fn bump(&self, change: impl FnOnce(&mut OpCounts)) {
        let mut counts = self.counts.get();
        change(&mut counts);
        self.counts.set(counts);
    }

    pub fn take_counts(&self) -> OpCounts {
        self.counts.replace(OpCounts::default())
    }
}

impl Storage for CountingStorage {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.bump(|c| c.reads += 1);
        self.inner.get(key)
    }

    fn range<'a>(
        &'a self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> Box<dyn Iterator<Item = Record> + 'a> {
        self.bump(|c| c.scans += 1);
        let counts = Rc::clone(&self.counts);
        Box::new(self.inner.range(start, end, order).inspect(move |_| {
            let mut current = counts.get();
            current.scanned += 1;
            counts.set(current);
        }))
    }

    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.bump(|c| c.writes += 1);
        self.inner.set(key, value)
    }

    fn remove(&mut self, key: &[u8]) {
        self.bump(|c| c.removes += 1);
        self.inner.remove(key)
    }
}

/// A registry called directly (no chain, no access contract: its permission answer is mocked
/// as "allowed", which the registry reaches through a query that costs no registry storage).
pub struct RegistryOpsBench {
    pub deps: OwnedDeps<CountingStorage, MockApi, MockQuerier<Empty>>,
    pub env: Env,
    pub patient: Addr,
    pub doctor: Addr,
    pub patient_id: PatientId,
    pub records: u64,
}

impl Default for RegistryOpsBench {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistryOpsBench {
    pub fn new() -> Self {
        let api = MockApi::default();
        let mut querier = MockQuerier::new(&[]);
        // The access contract as the registry sees it: every write allowed, epoch 0 never stale,
        // no trustees (credentialing asks, to keep trustees and providers apart).
        querier.update_wasm(|query: &WasmQuery| {
            let answer = match query {
                WasmQuery::Smart { msg, .. } => match from_json(msg) {
                    Ok(AccessQueryMsg::WriteEpoch { .. }) => to_json_binary(&WriteEpochResponse {
                        epoch: 0,
                        stale: false,
                    }),
                    Ok(AccessQueryMsg::Trustees {}) => {
                        to_json_binary(&ehr_types::escrow::TrusteesResponse {
                            trustees: vec![],
                            threshold: 0,
                            set_version: 0,
                        })
                    }
                    _ => to_json_binary(&PermissionResponse {
                        allowed: true,
                        emergency: false,
                    }),
                },
                _ => to_json_binary(&PermissionResponse {
                    allowed: false,
                    emergency: false,
                }),
            };
            SystemResult::Ok(ContractResult::Ok(answer.expect("serialize")))
        });
        let mut deps = OwnedDeps {
            storage: CountingStorage::default(),
            api,
            querier,
            custom_query_type: std::marker::PhantomData,
        };
        let env = mock_env();
        let admin = api.addr_make("admin");
        let patient = api.addr_make("patient");
        let doctor = api.addr_make("doctor");
        let admin_info = message_info(&admin, &[]);
        instantiate(
            deps.as_mut(),
            env.clone(),
            admin_info.clone(),
            InstantiateMsg { admin: None },
        )
        .expect("instantiate");
        let wire = ExecuteMsg::SetAccessContract {
            address: api.addr_make("access").into_string(),
        };
        execute(deps.as_mut(), env.clone(), admin_info.clone(), wire).expect("wire access");
        let credential = crate::credential_msg(&doctor);
        execute(deps.as_mut(), env.clone(), admin_info, credential).expect("credential");
        let register = ExecuteMsg::RegisterPatient {
            encryption_key: sample_public_key(1),
            profile: None,
        };
        let response = execute(
            deps.as_mut(),
            env.clone(),
            message_info(&patient, &[]),
            register,
        )
        .expect("register");
        let patient_id = attribute_of(&response.attributes, "patient_id");
        RegistryOpsBench {
            deps,
            env,
            patient,
            doctor,
            patient_id,
            records: 0,
        }
    }

    fn run(&mut self, sender: &Addr, msg: ExecuteMsg) -> u64 {
        let response = execute(
            self.deps.as_mut(),
            self.env.clone(),
            message_info(sender, &[]),
            msg,
        )
        .expect("registry call");
        self.env.block.height += 1;
        self.env.block.time = self.env.block.time.plus_seconds(1);
        response
            .attributes
            .iter()
            .find(|a| a.key == "record_id")
            .and_then(|a| a.value.parse().ok())
            .unwrap_or(0)
    }

    /// Adds records by the patient until `total` exist, spread over every record category.
    pub fn fill_to(&mut self, total: u64) {
        let patient = self.patient.clone();
        while self.records < total {
            let category = Category::ALL[(self.records % 8) as usize];
            let msg = ExecuteMsg::AddRecord {
                patient_id: self.patient_id,
                category,
                epoch: 0,
                blob: sample_blob(1_000_000 + self.records),
            };
            self.run(&patient, msg);
            self.records += 1;
        }
    }

    /// Storage operations of one AddRecord by `author`, and the new record's id.
    pub fn add_record_ops(&mut self, author: &Addr, seed: u64) -> (OpCounts, RecordId) {
        self.deps.storage.take_counts();
        let msg = ExecuteMsg::AddRecord {
            patient_id: self.patient_id,
            category: Category::Lab,
            epoch: 0,
            blob: sample_blob(2_000_000 + seed),
        };
        let record_id = self.run(author, msg);
        self.records += 1;
        (self.deps.storage.take_counts(), record_id)
    }

    fn latest_version(&self, record_id: RecordId) -> u32 {
        let msg = QueryMsg::Record { record_id };
        let answer = query(self.deps.as_ref(), self.env.clone(), msg).expect("record");
        from_json::<RecordResponse>(&answer)
            .expect("record response")
            .record
            .expect("the record")
            .latest
            .version
    }

    /// Storage operations of one UpdateRecord by `author`.
    pub fn update_record_ops(&mut self, author: &Addr, record_id: RecordId, seed: u64) -> OpCounts {
        let base_version = self.latest_version(record_id);
        self.deps.storage.take_counts();
        let msg = ExecuteMsg::UpdateRecord {
            record_id,
            base_version,
            epoch: 0,
            blob: sample_blob(3_000_000 + seed),
        };
        self.run(author, msg);
        self.deps.storage.take_counts()
    }
}
