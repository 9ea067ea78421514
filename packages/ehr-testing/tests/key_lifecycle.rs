//! The key-lifecycle invariant of issue 10 as a property test: both contracts in cw-multi-test,
//! and the real `ehr-crypto` key handling (X25519 keys, HPKE envelopes, sealed record files).
//!
//! One patient and a few credentialed doctors, each with a real X25519 key registered on chain,
//! go through random sequences of grants, narrower re-grants, approved requests, revokes, time
//! passing beyond expiries, credential withdrawals and re-credentials, emergency access, the
//! patient's deletion, and writes (`AddRecord`, `UpdateRecord`) by the patient and by doctors.
//! Every party's client behaves like the real one: it fetches every envelope wrapped to it
//! (`OwnEnvelopes` for the patient, `KeyEnvelopes` for a doctor), opens it with its own secret
//! key and keeps every key it ever opened or created. A writer queries `KeyHolders`; when the
//! epoch is stale or it lacks the current key, it sends `[RotateKey, write]` in one atomic
//! execution, with a fresh category key wrapped to the patient's registered key and to every
//! `Readers` entry that published one, and seals its file under the epoch it writes with.
//!
//! An independent model, computed here from the operations applied, decides who is entitled to
//! read a category at each moment: credentialed, and an unexpired grant that covers it with at
//! least Read, or an active emergency access. It also predicts whether each operation succeeds,
//! so a writer with a valid Write grant is never blocked by someone else's loss of access. After
//! every successful write:
//! - every doctor not entitled fails to open the new file with any key it holds or can fetch,
//!   and still holds none of the keys of the files written since it last lost the right;
//! - the patient and every doctor entitled by its grant open the new file after fetching their
//!   envelopes, without anybody doing anything else (emergency access hands out no keys, so an
//!   emergency-only reader is only checked on the other side, once its window ends).

use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::{to_json_binary, Addr, Binary, CosmosMsg, Timestamp, WasmMsg};
use ehr_crypto::{
    decrypt_file, encrypt_file, open_category_key, seal_category_key, CategoryKey, CategoryKeyring,
    Envelope, EnvelopeContext, RecordHeader, X25519PublicKey, X25519SecretKey,
};
use ehr_testing::{attribute_id, blob_of, error_text, Suite, Target};
use ehr_types::access::{
    self, CategoryEpoch, KeyEnvelope, KeyEnvelopesResponse, KeyHoldersResponse,
    OwnEnvelopesResponse, ReadersResponse, RecipientEnvelope, Scope,
};
use ehr_types::registry::{self, PatientInfo, ProviderInfo, RecordInfo};
use ehr_types::{Category, PatientId, RecordId};
use proptest::prelude::*;
use serde::Serialize;

const DOCTORS: usize = 4;
/// Few categories, so that grants, losses of access and writes meet often.
const CATEGORIES: [Category; 3] = [Category::Note, Category::Lab, Category::Imaging];
const CATEGORY_COUNT: usize = CATEGORIES.len();
/// `Suite::new` instantiates the access contract with one-hour emergency windows.
const EMERGENCY_SECONDS: u64 = 3600;
/// The largest page `KeyEnvelopes` returns.
const PAGE: u32 = 100;

// ---------------------------------------------------------------------------------------------
// Operations

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writer {
    Patient,
    Doctor(usize),
}

#[derive(Clone, Debug)]
enum Op {
    /// The patient grants (or replaces the grant of) a doctor.
    Grant {
        doctor: usize,
        scope: Scope,
        categories: u8,
        expires_in: Option<u64>,
    },
    /// The patient re-grants a doctor's grant with a proper subset of its categories.
    Narrow {
        doctor: usize,
        keep: u8,
    },
    /// The doctor asks, the patient approves (with an optional expiry).
    RequestApprove {
        doctor: usize,
        scope: Scope,
        categories: u8,
        expires_in: Option<u64>,
    },
    Revoke {
        doctor: usize,
    },
    Advance {
        seconds: u64,
    },
    /// The admin withdraws the doctor's credential (`RevokeProvider`).
    Decredential {
        doctor: usize,
    },
    /// The admin credentials the doctor again.
    Recredential {
        doctor: usize,
    },
    Emergency {
        doctor: usize,
    },
    DeletePatient,
    Add {
        writer: Writer,
        category: usize,
    },
    /// A new version of the `record % records`-th record.
    Update {
        writer: Writer,
        record: usize,
    },
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![Just(Scope::Read), Just(Scope::Write), Just(Scope::Manage)]
}

fn category_mask() -> impl Strategy<Value = u8> {
    1u8..(1 << CATEGORY_COUNT)
}

fn expires_in() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        1 => Just(None),
        3 => prop::sample::select(vec![60u64, 600, 3000, 7200]).prop_map(Some),
    ]
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![
        1 => Just(Writer::Patient),
        2 => (0..DOCTORS).prop_map(Writer::Doctor),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..DOCTORS, scope(), category_mask(), expires_in()).prop_map(
            |(doctor, scope, categories, expires_in)| Op::Grant {
                doctor,
                scope,
                categories,
                expires_in,
            }
        ),
        4 => (0..DOCTORS, category_mask()).prop_map(|(doctor, keep)| Op::Narrow { doctor, keep }),
        4 => (0..DOCTORS, scope(), category_mask(), expires_in()).prop_map(
            |(doctor, scope, categories, expires_in)| Op::RequestApprove {
                doctor,
                scope,
                categories,
                expires_in,
            }
        ),
        4 => (0..DOCTORS).prop_map(|doctor| Op::Revoke { doctor }),
        5 => prop::sample::select(vec![30u64, 300, 1000, 4000])
            .prop_map(|seconds| Op::Advance { seconds }),
        2 => (0..DOCTORS).prop_map(|doctor| Op::Decredential { doctor }),
        2 => (0..DOCTORS).prop_map(|doctor| Op::Recredential { doctor }),
        3 => (0..DOCTORS).prop_map(|doctor| Op::Emergency { doctor }),
        1 => Just(Op::DeletePatient),
        14 => (writer(), 0..CATEGORY_COUNT)
            .prop_map(|(writer, category)| Op::Add { writer, category }),
        10 => (writer(), any::<usize>()).prop_map(|(writer, record)| Op::Update { writer, record }),
    ]
}

fn categories_of(mask: u8) -> Vec<Category> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(index, _)| mask & (1 << index) != 0)
        .map(|(_, category)| *category)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The model: who may read and write what, from the operations applied alone

#[derive(Clone, Copy, Debug)]
struct ModelGrant {
    scope: Scope,
    categories: u8,
    expires: Option<u64>,
}

#[derive(Debug)]
struct Model {
    now: u64,
    active: bool,
    credentialed: [bool; DOCTORS],
    grants: [Option<ModelGrant>; DOCTORS],
    emergency_until: [Option<u64>; DOCTORS],
    /// Entitlement per (doctor, category) after the last operation.
    entitled_after_last_op: [[bool; CATEGORY_COUNT]; DOCTORS],
    /// How often each doctor regained the right to read each category: a file written while it
    /// had no right must stay closed to it until the next regain.
    regained: [[u32; CATEGORY_COUNT]; DOCTORS],
}

impl Model {
    fn new(now: u64) -> Self {
        Model {
            now,
            active: true,
            credentialed: [true; DOCTORS],
            grants: [None; DOCTORS],
            emergency_until: [None; DOCTORS],
            entitled_after_last_op: [[false; CATEGORY_COUNT]; DOCTORS],
            regained: [[0; CATEGORY_COUNT]; DOCTORS],
        }
    }

    fn by_grant(&self, doctor: usize, category: usize, scope: Scope) -> bool {
        self.credentialed[doctor]
            && self.grants[doctor].is_some_and(|grant| {
                grant.scope >= scope
                    && grant.categories & (1 << category) != 0
                    && grant.expires.is_none_or(|expires| self.now < expires)
            })
    }

    fn by_emergency(&self, doctor: usize) -> bool {
        self.credentialed[doctor] && self.emergency_until[doctor].is_some_and(|end| self.now < end)
    }

    fn entitled(&self, doctor: usize, category: usize) -> bool {
        self.by_grant(doctor, category, Scope::Read) || self.by_emergency(doctor)
    }

    fn may_write(&self, writer: Writer, category: usize) -> bool {
        self.active
            && match writer {
                Writer::Patient => true,
                Writer::Doctor(doctor) => self.by_grant(doctor, category, Scope::Write),
            }
    }

    fn expiry(&self, expires_in: Option<u64>) -> Option<u64> {
        expires_in.map(|seconds| self.now + seconds)
    }

    /// Records who regained a right with the operation just applied.
    fn settle(&mut self) {
        for doctor in 0..DOCTORS {
            for category in 0..CATEGORY_COUNT {
                let entitled = self.entitled(doctor, category);
                if entitled && !self.entitled_after_last_op[doctor][category] {
                    self.regained[doctor][category] += 1;
                }
                self.entitled_after_last_op[doctor][category] = entitled;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parties and their clients

struct Party {
    name: String,
    addr: Addr,
    secret: X25519SecretKey,
    /// Every category key this party ever opened or created, by (category code, epoch).
    keys: BTreeMap<(u8, u32), CategoryKey>,
    /// The envelopes it already opened.
    opened: BTreeSet<(u8, u32)>,
}

impl Party {
    fn new(suite: &Suite, name: &str) -> Self {
        Party {
            name: name.to_string(),
            addr: suite.addr(name),
            secret: X25519SecretKey::generate().expect("X25519 key"),
            keys: BTreeMap::new(),
            opened: BTreeSet::new(),
        }
    }

    fn public_key(&self) -> Binary {
        Binary::from(self.secret.public_key().as_bytes().to_vec())
    }

    fn remember(&mut self, category: Category, epoch: u32, key: CategoryKey) {
        match self.keys.get(&(category.code(), epoch)) {
            Some(known) => assert!(
                *known == key,
                "{} got two different {category:?} keys for epoch {epoch}",
                self.name
            ),
            None => {
                self.keys.insert((category.code(), epoch), key);
            }
        }
    }

    fn keyring(&self, patient_id: PatientId) -> CategoryKeyring {
        let mut keyring = CategoryKeyring::new();
        for ((code, epoch), key) in &self.keys {
            let context = EnvelopeContext {
                patient_id,
                category: Category::from_code(*code).expect("known category"),
                epoch: *epoch,
            };
            keyring.insert(context, key.clone());
        }
        keyring
    }

    fn holds(&self, key: &CategoryKey) -> bool {
        self.keys.values().any(|held| held == key)
    }
}

fn access_query<R: serde::de::DeserializeOwned>(suite: &Suite, msg: &access::QueryMsg) -> R {
    suite
        .query(Target::Access, msg)
        .unwrap_or_else(|err| panic!("{msg:?}: {err}"))
}

fn registry_query<R: serde::de::DeserializeOwned>(suite: &Suite, msg: &registry::QueryMsg) -> R {
    suite
        .query(Target::Registry, msg)
        .unwrap_or_else(|err| panic!("{msg:?}: {err}"))
}

fn key_holders(suite: &Suite, patient_id: PatientId, category: Category) -> KeyHoldersResponse {
    access_query(
        suite,
        &access::QueryMsg::KeyHolders {
            patient_id,
            category,
        },
    )
}

fn provider_key(suite: &Suite, doctor: &Addr) -> Option<X25519PublicKey> {
    let provider: ProviderInfo = registry_query(
        suite,
        &registry::QueryMsg::Provider {
            address: doctor.to_string(),
        },
    );
    provider.encryption_key.map(|key| public_key_of(&key))
}

fn public_key_of(key: &Binary) -> X25519PublicKey {
    X25519PublicKey::from_bytes(key.as_slice().try_into().expect("32-byte X25519 key"))
}

fn envelope_binary(envelope: &Envelope) -> Binary {
    Binary::from(envelope.as_bytes().to_vec())
}

/// Every envelope on chain wrapped to `party`: its own envelopes for the patient, the paged
/// `KeyEnvelopes` for a doctor.
fn fetch_envelopes(
    suite: &Suite,
    patient_id: PatientId,
    party: &Party,
    is_patient: bool,
) -> Vec<KeyEnvelope> {
    if is_patient {
        let own: OwnEnvelopesResponse = access_query(
            suite,
            &access::QueryMsg::OwnEnvelopes {
                patient_id,
                category: None,
            },
        );
        return own.key_envelopes;
    }
    let mut all: Vec<KeyEnvelope> = Vec::new();
    loop {
        let page: KeyEnvelopesResponse = access_query(
            suite,
            &access::QueryMsg::KeyEnvelopes {
                patient_id,
                holder: party.addr.to_string(),
                category: None,
                start_after: all.last().map(|last| CategoryEpoch {
                    category: last.category,
                    epoch: last.epoch,
                }),
                limit: Some(PAGE),
            },
        );
        let done = page.key_envelopes.len() < PAGE as usize;
        all.extend(page.key_envelopes);
        if done {
            return all;
        }
    }
}

/// Fetches and opens every envelope wrapped to `party` that it has not opened yet.
fn refresh(suite: &Suite, patient_id: PatientId, party: &mut Party, is_patient: bool) {
    for stored in fetch_envelopes(suite, patient_id, party, is_patient) {
        let slot = (stored.category.code(), stored.epoch);
        if party.opened.contains(&slot) {
            continue;
        }
        let context = EnvelopeContext {
            patient_id,
            category: stored.category,
            epoch: stored.epoch,
        };
        let envelope = Envelope::from_bytes(stored.envelope.as_slice())
            .unwrap_or_else(|err| panic!("{}: envelope {slot:?}: {err}", party.name));
        let key = open_category_key(&party.secret, &context, &envelope).unwrap_or_else(|err| {
            panic!(
                "{} cannot open the {:?} epoch {} envelope wrapped to it: {err}",
                party.name, stored.category, stored.epoch
            )
        });
        party.opened.insert(slot);
        party.remember(stored.category, stored.epoch, key);
    }
}

fn wasm<M: Serialize>(contract: &Addr, msg: &M) -> CosmosMsg {
    CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr: contract.to_string(),
        msg: to_json_binary(msg).expect("serialize"),
        funds: vec![],
    })
}

enum WriteKind {
    Add(Category),
    Update(RecordId),
}

/// A write the chain accepted.
struct Written {
    record_id: RecordId,
    header: RecordHeader,
    key: CategoryKey,
    file: Vec<u8>,
    plaintext: Vec<u8>,
    rotated: bool,
}

/// What the real writer's client does: rotate first if the epoch is stale or it lacks the
/// current key, then seal the file under the epoch it writes with, all in one transaction.
fn client_write(
    suite: &mut Suite,
    patient_id: PatientId,
    writer: &mut Party,
    writer_is_patient: bool,
    kind: &WriteKind,
    plaintext: Vec<u8>,
) -> Result<Written, String> {
    let (category, record_version, base_version) = match kind {
        WriteKind::Add(category) => (*category, 1, None),
        WriteKind::Update(record_id) => {
            let record: RecordInfo = registry_query(
                suite,
                &registry::QueryMsg::Record {
                    record_id: *record_id,
                },
            );
            (
                record.category,
                record.latest.version + 1,
                Some(record.latest.version),
            )
        }
    };
    refresh(suite, patient_id, writer, writer_is_patient);
    let holders = key_holders(suite, patient_id, category);
    let held = writer.keys.get(&(category.code(), holders.epoch)).cloned();
    let mut msgs = Vec::new();
    let (epoch, key, rotated) = match held {
        Some(key) if !holders.stale => (holders.epoch, key, false),
        _ => {
            let epoch = holders.epoch + 1;
            let key = CategoryKey::generate().expect("category key");
            let context = EnvelopeContext {
                patient_id,
                category,
                epoch,
            };
            let patient: PatientInfo =
                registry_query(suite, &registry::QueryMsg::Patient { patient_id });
            let patient_key = patient
                .encryption_key
                .as_ref()
                .map(public_key_of)
                .ok_or_else(|| format!("patient {patient_id} has no encryption key"))?;
            let own_envelope =
                envelope_binary(&seal_category_key(&patient_key, &context, &key).expect("seal"));
            let readers: ReadersResponse = access_query(
                suite,
                &access::QueryMsg::Readers {
                    patient_id,
                    category,
                },
            );
            let envelopes = readers
                .readers
                .iter()
                .filter_map(|reader| {
                    let public = provider_key(suite, reader)?;
                    let envelope = seal_category_key(&public, &context, &key).expect("seal");
                    Some(RecipientEnvelope {
                        recipient: reader.to_string(),
                        envelope: envelope_binary(&envelope),
                    })
                })
                .collect();
            msgs.push(wasm(
                &suite.access,
                &access::ExecuteMsg::RotateKey {
                    patient_id,
                    category,
                    epoch,
                    own_envelope,
                    envelopes,
                    escrow: vec![],
                },
            ));
            (epoch, key, true)
        }
    };
    let header = RecordHeader {
        patient_id,
        category,
        epoch,
        record_version,
    };
    let file = encrypt_file(&header, &key, &plaintext).expect("encrypt");
    let blob = blob_of(&file);
    let write = match kind {
        WriteKind::Add(_) => registry::ExecuteMsg::AddRecord {
            patient_id,
            category,
            epoch,
            blob,
        },
        WriteKind::Update(record_id) => registry::ExecuteMsg::UpdateRecord {
            record_id: *record_id,
            base_version: base_version.expect("an update's base"),
            epoch,
            blob,
        },
    };
    msgs.push(wasm(&suite.registry, &write));
    let responses = suite
        .app
        .execute_multi(writer.addr.clone(), msgs)
        .map_err(|err| error_text(&err))?;
    if rotated {
        writer.remember(category, epoch, key.clone());
    }
    let record_id = match kind {
        WriteKind::Add(_) => attribute_id(responses.last().expect("write response"), "record_id"),
        WriteKind::Update(record_id) => *record_id,
    };
    Ok(Written {
        record_id,
        header,
        key,
        file,
        plaintext,
        rotated,
    })
}

// ---------------------------------------------------------------------------------------------
// The world: chain, clients, model

struct ModelRecord {
    id: RecordId,
    category: usize,
    version: u32,
}

/// A file written so far, with the doctors it must stay closed to.
struct WrittenFile {
    category: usize,
    key: CategoryKey,
    /// `Some(regains)` for each doctor that was not entitled when the file was written: until
    /// its regain count moves past `regains`, it must hold no key that opens the file.
    closed_to: [Option<u32>; DOCTORS],
}

struct World {
    suite: Suite,
    patient_id: PatientId,
    patient: Party,
    doctors: Vec<Party>,
    model: Model,
    records: Vec<ModelRecord>,
    files: Vec<WrittenFile>,
    writes: u64,
    /// Figures of the run, for the coverage report.
    stats: Stats,
    step: usize,
}

#[derive(Default, Debug, Clone, Copy)]
struct Stats {
    writes: u64,
    rotations: u64,
    refused_writes: u64,
    closed_checks: u64,
    open_checks: u64,
}

impl World {
    fn new() -> Self {
        let mut suite = Suite::new();
        let patient = Party::new(&suite, "patient");
        let doctors: Vec<Party> = (0..DOCTORS)
            .map(|i| Party::new(&suite, &format!("doctor{i}")))
            .collect();
        let admin = suite.admin.clone();
        for doctor in &doctors {
            suite
                .execute(
                    &admin,
                    Target::Registry,
                    &ehr_testing::credential_msg(&doctor.addr),
                )
                .expect("credential");
            suite
                .execute(
                    &doctor.addr,
                    Target::Registry,
                    &registry::ExecuteMsg::SetProviderKey {
                        encryption_key: doctor.public_key(),
                    },
                )
                .expect("publish key");
        }
        let response = suite
            .execute(
                &patient.addr,
                Target::Registry,
                &registry::ExecuteMsg::RegisterPatient {
                    encryption_key: patient.public_key(),
                    profile: None,
                },
            )
            .expect("register patient");
        let patient_id = attribute_id(&response, "patient_id");
        let model = Model::new(suite.now().seconds());
        World {
            suite,
            patient_id,
            patient,
            doctors,
            model,
            records: Vec::new(),
            files: Vec::new(),
            writes: 0,
            stats: Stats::default(),
            step: 0,
        }
    }

    fn execute<M: Serialize + std::fmt::Debug>(
        &mut self,
        sender: &Addr,
        target: Target,
        msg: &M,
    ) -> Result<cw_multi_test::AppResponse, String> {
        self.suite
            .execute(sender, target, msg)
            .map_err(|err| error_text(&err))
    }

    fn expect_outcome<T>(&self, what: &str, expected: bool, outcome: &Result<T, String>) {
        match outcome {
            Ok(_) => assert!(
                expected,
                "step {}: {what} succeeded, but the model refuses it\nmodel: {:?}",
                self.step, self.model
            ),
            Err(err) => assert!(
                !expected,
                "step {}: {what} failed: {err}\nmodel: {:?}",
                self.step, self.model
            ),
        }
    }

    /// The current keys of `categories` wrapped to the doctor, as the patient's client hands them
    /// with a grant (a category nobody wrote yet has no key to hand).
    fn grant_envelopes(&mut self, doctor: usize, categories: &[Category]) -> Vec<KeyEnvelope> {
        refresh(&self.suite, self.patient_id, &mut self.patient, true);
        let Some(public) = provider_key(&self.suite, &self.doctors[doctor].addr) else {
            return Vec::new();
        };
        categories
            .iter()
            .filter_map(|category| {
                let epoch = key_holders(&self.suite, self.patient_id, *category).epoch;
                let key = self.patient.keys.get(&(category.code(), epoch))?;
                let context = EnvelopeContext {
                    patient_id: self.patient_id,
                    category: *category,
                    epoch,
                };
                let envelope = seal_category_key(&public, &context, key).expect("seal");
                Some(KeyEnvelope {
                    category: *category,
                    epoch,
                    envelope: envelope_binary(&envelope),
                })
            })
            .collect()
    }

    fn grant(&mut self, doctor: usize, scope: Scope, mask: u8, expires: Option<u64>, what: &str) {
        let categories = categories_of(mask);
        let key_envelopes = self.grant_envelopes(doctor, &categories);
        let msg = access::ExecuteMsg::Grant {
            patient_id: self.patient_id,
            grantee: self.doctors[doctor].addr.to_string(),
            scope,
            categories,
            expires: expires.map(Timestamp::from_seconds),
            key_envelopes,
        };
        let patient = self.patient.addr.clone();
        let outcome = self.execute(&patient, Target::Access, &msg);
        let expected = self.model.active
            && self.model.credentialed[doctor]
            && expires.is_none_or(|expires| self.model.now < expires);
        self.expect_outcome(what, expected, &outcome);
        if outcome.is_ok() {
            self.model.grants[doctor] = Some(ModelGrant {
                scope,
                categories: mask,
                expires,
            });
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Grant {
                doctor,
                scope,
                categories,
                expires_in,
            } => {
                let expires = self.model.expiry(expires_in);
                self.grant(doctor, scope, categories, expires, &format!("{op:?}"));
            }
            Op::Narrow { doctor, keep } => {
                let Some(old) = self.model.grants[doctor] else {
                    return self.model.settle();
                };
                if old.categories.count_ones() < 2 {
                    return self.model.settle();
                }
                let mut narrower = old.categories & keep;
                if narrower == 0 || narrower == old.categories {
                    narrower = old.categories & (old.categories - 1);
                }
                let what = format!("{op:?}: {:#05b} -> {narrower:#05b}", old.categories);
                self.grant(doctor, old.scope, narrower, old.expires, &what);
            }
            Op::RequestApprove {
                doctor,
                scope,
                categories: mask,
                expires_in,
            } => {
                let categories = categories_of(mask);
                let addr = self.doctors[doctor].addr.clone();
                let request = access::ExecuteMsg::RequestAccess {
                    patient_id: self.patient_id,
                    scope,
                    categories: categories.clone(),
                };
                let outcome = self.execute(&addr, Target::Access, &request);
                let expected = self.model.active && self.model.credentialed[doctor];
                self.expect_outcome(&format!("{op:?} (request)"), expected, &outcome);
                if let Ok(response) = outcome {
                    let request_id = attribute_id(&response, "request_id");
                    let expires = self.model.expiry(expires_in);
                    let key_envelopes = self.grant_envelopes(doctor, &categories);
                    let approve = access::ExecuteMsg::ApproveRequest {
                        request_id,
                        expires: expires.map(Timestamp::from_seconds),
                        key_envelopes,
                    };
                    let patient = self.patient.addr.clone();
                    let outcome = self.execute(&patient, Target::Access, &approve);
                    self.expect_outcome(&format!("{op:?} (approve)"), true, &outcome);
                    self.model.grants[doctor] = Some(ModelGrant {
                        scope,
                        categories: mask,
                        expires,
                    });
                }
            }
            Op::Revoke { doctor } => {
                let msg = access::ExecuteMsg::Revoke {
                    patient_id: self.patient_id,
                    grantee: self.doctors[doctor].addr.to_string(),
                };
                let patient = self.patient.addr.clone();
                let outcome = self.execute(&patient, Target::Access, &msg);
                let expected = self.model.active && self.model.grants[doctor].is_some();
                self.expect_outcome(&format!("{op:?}"), expected, &outcome);
                if outcome.is_ok() {
                    self.model.grants[doctor] = None;
                }
            }
            Op::Advance { seconds } => {
                self.suite.advance_time(seconds);
                self.model.now += seconds;
            }
            Op::Decredential { doctor } | Op::Recredential { doctor } => {
                let address = &self.doctors[doctor].addr;
                let withdraw = matches!(op, Op::Decredential { .. });
                let msg = if withdraw {
                    registry::ExecuteMsg::RevokeProvider {
                        address: address.to_string(),
                    }
                } else {
                    ehr_testing::credential_msg(address)
                };
                let admin = self.suite.admin.clone();
                let outcome = self.execute(&admin, Target::Registry, &msg);
                let expected = self.model.credentialed[doctor] == withdraw;
                self.expect_outcome(&format!("{op:?}"), expected, &outcome);
                if outcome.is_ok() {
                    self.model.credentialed[doctor] = !withdraw;
                }
            }
            Op::Emergency { doctor } => {
                let msg = access::ExecuteMsg::EmergencyAccess {
                    patient_id: self.patient_id,
                    reason: ehr_types::escrow::EmergencyReason::IncapablePatient {},
                };
                let addr = self.doctors[doctor].addr.clone();
                let outcome = self.execute(&addr, Target::Access, &msg);
                let expected = self.model.active && self.model.credentialed[doctor];
                self.expect_outcome(&format!("{op:?}"), expected, &outcome);
                if outcome.is_ok() {
                    self.model.emergency_until[doctor] = Some(self.model.now + EMERGENCY_SECONDS);
                }
            }
            Op::DeletePatient => {
                let msg = registry::ExecuteMsg::DeletePatient {
                    patient_id: self.patient_id,
                };
                let patient = self.patient.addr.clone();
                let outcome = self.execute(&patient, Target::Registry, &msg);
                self.expect_outcome(&format!("{op:?}"), self.model.active, &outcome);
                if outcome.is_ok() {
                    self.model.active = false;
                }
            }
            Op::Add { writer, category } => {
                self.write(op, writer, category, &WriteKind::Add(CATEGORIES[category]));
            }
            Op::Update { writer, record } => {
                // A deleted patient's records are gone from the current state: nothing to update.
                if self.records.is_empty() || !self.model.active {
                    return self.model.settle();
                }
                let index = record % self.records.len();
                let (id, category) = (self.records[index].id, self.records[index].category);
                self.write(op, writer, category, &WriteKind::Update(id));
            }
        }
        self.model.settle();
    }

    fn write(&mut self, op: &Op, writer: Writer, category: usize, kind: &WriteKind) {
        self.writes += 1;
        let plaintext = format!("{op:?} #{}", self.writes).into_bytes();
        let expected = self.model.may_write(writer, category);
        let before = (!expected).then(|| self.suite.dump_state());
        let party = match writer {
            Writer::Patient => &mut self.patient,
            Writer::Doctor(doctor) => &mut self.doctors[doctor],
        };
        let outcome = client_write(
            &mut self.suite,
            self.patient_id,
            party,
            writer == Writer::Patient,
            kind,
            plaintext,
        );
        self.expect_outcome(&format!("{op:?}"), expected, &outcome);
        let written = match outcome {
            Ok(written) => written,
            Err(_) => {
                self.stats.refused_writes += 1;
                assert!(
                    before == Some(self.suite.dump_state()),
                    "step {}: refused {op:?} changed the chain",
                    self.step
                );
                return;
            }
        };
        self.stats.writes += 1;
        self.stats.rotations += u64::from(written.rotated);
        match kind {
            WriteKind::Add(_) => self.records.push(ModelRecord {
                id: written.record_id,
                category,
                version: 1,
            }),
            WriteKind::Update(id) => {
                let record = self
                    .records
                    .iter_mut()
                    .find(|record| record.id == *id)
                    .expect("known record");
                record.version += 1;
                assert_eq!(record.version, written.header.record_version);
            }
        }
        self.check(op, category, &written);
    }

    /// The invariant, after a write the chain accepted.
    fn check(&mut self, op: &Op, category: usize, written: &Written) {
        let step = self.step;
        // The chain registered exactly this file, under the epoch it is sealed with.
        let record: RecordInfo = registry_query(
            &self.suite,
            &registry::QueryMsg::Record {
                record_id: written.record_id,
            },
        );
        assert_eq!(record.latest.blob, blob_of(&written.file), "step {step}");
        assert_eq!(record.latest.epoch, written.header.epoch, "step {step}");
        assert_eq!(
            record.latest.version, written.header.record_version,
            "step {step}"
        );
        let opens = |party: &Party, patient_id: PatientId| {
            let opened = party
                .keyring(patient_id)
                .decrypt_file(&written.file)
                .unwrap_or_else(|err| {
                    panic!(
                        "step {step}: {} is entitled to {:?} but cannot open the file of {op:?} \
                         (epoch {}): {err}",
                        party.name, CATEGORIES[category], written.header.epoch
                    )
                });
            assert_eq!(opened.header, written.header, "step {step}");
            assert_eq!(
                opened.plaintext.as_slice(),
                written.plaintext.as_slice(),
                "step {step}"
            );
        };

        refresh(&self.suite, self.patient_id, &mut self.patient, true);
        opens(&self.patient, self.patient_id);
        self.stats.open_checks += 1;

        let mut closed_to = [None; DOCTORS];
        #[allow(clippy::needless_range_loop)]
        // `doctor` indexes the suite's parties and the model alike
        for doctor in 0..DOCTORS {
            refresh(
                &self.suite,
                self.patient_id,
                &mut self.doctors[doctor],
                false,
            );
            let party = &self.doctors[doctor];
            if self.model.by_grant(doctor, category, Scope::Read) {
                opens(party, self.patient_id);
                self.stats.open_checks += 1;
            } else if !self.model.entitled(doctor, category) {
                closed_to[doctor] = Some(self.model.regained[doctor][category]);
                for ((code, epoch), key) in &party.keys {
                    assert!(
                        decrypt_file(key, &written.file).is_err(),
                        "step {step}: {} may not read {:?}, yet its {code}/{epoch} key opens \
                         the file of {op:?} (epoch {})\nmodel: {:?}",
                        party.name,
                        CATEGORIES[category],
                        written.header.epoch,
                        self.model
                    );
                }
                assert!(
                    party
                        .keyring(self.patient_id)
                        .decrypt_file(&written.file)
                        .is_err(),
                    "step {step}: {} opens the file of {op:?}",
                    party.name
                );
                self.stats.closed_checks += 1;
            }
        }
        self.files.push(WrittenFile {
            category,
            key: written.key.clone(),
            closed_to,
        });

        // Nobody got, since, a key to a file written while it had no right to read it.
        for (index, file) in self.files.iter().enumerate() {
            for (doctor, party) in self.doctors.iter().enumerate() {
                let still_closed = file.closed_to[doctor]
                    .is_some_and(|regains| regains == self.model.regained[doctor][file.category]);
                if still_closed {
                    assert!(
                        !party.holds(&file.key),
                        "step {step}: {} holds the key of file #{index} ({:?}), written while \
                         it had no right to read it",
                        party.name,
                        CATEGORIES[file.category]
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_party_opens_a_file_written_after_it_lost_access(
        ops in prop::collection::vec(op(), 1..=30)
    ) {
        let mut world = World::new();
        for (step, op) in ops.iter().enumerate() {
            world.step = step;
            world.apply(op);
        }
        if std::env::var_os("KEY_LIFECYCLE_STATS").is_some() {
            eprintln!("{:?}", world.stats);
        }
    }
}
