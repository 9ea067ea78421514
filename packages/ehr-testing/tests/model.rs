//! Property test: random sequences of operations by random actors, run against the contracts and
//! against a plain in-memory model. Every operation must succeed or fail in both alike, and ids,
//! counts, grants, key epochs and version chains must agree at the end.

use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::Addr;
use ehr_testing::{sample_blob, Suite, Target};
use ehr_types::access::{EpochsResponse, Scope};
use ehr_types::registry::{self, PatientCountResponse, PatientStatus, RecordStatus};
use ehr_types::{access, Category};
use proptest::prelude::*;

const PEOPLE: usize = 5;
const DOCTORS: usize = 3;
const ACTORS: usize = PEOPLE + DOCTORS;
/// Stands for "the owner of the patient (or record) the operation names", resolved against the
/// model before the operation runs, so that sequences reach deep states instead of mostly failing.
const OWNER: usize = usize::MAX;
const RECORD_CATEGORIES: [Category; 3] = [Category::Note, Category::Lab, Category::Imaging];

#[derive(Clone, Debug)]
enum Op {
    Register {
        actor: usize,
    },
    Propose {
        doctor: usize,
        target: usize,
    },
    Accept {
        actor: usize,
        patient: u64,
    },
    Decline {
        actor: usize,
        patient: u64,
    },
    Delete {
        actor: usize,
        patient: u64,
    },
    AddRecord {
        actor: usize,
        patient: u64,
        category: usize,
        blob: u64,
    },
    AddRecords {
        actor: usize,
        patient: u64,
        /// (category index, blob seed) per record.
        records: Vec<(usize, u64)>,
    },
    UpdateRecord {
        actor: usize,
        record: u64,
        blob: u64,
    },
    DeleteRecord {
        actor: usize,
        record: u64,
    },
    Grant {
        actor: usize,
        patient: u64,
        doctor: usize,
        scope: usize,
        categories: u8,
        expires_in: Option<u64>,
    },
    Revoke {
        actor: usize,
        patient: u64,
        doctor: usize,
    },
    Advance {
        seconds: u64,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let actor = prop_oneof![0..ACTORS, Just(OWNER)];
    let doctor = PEOPLE..ACTORS;
    let patient = 1..5u64;
    let record = 1..10u64;
    let blob = 0..40u64;
    prop_oneof![
        1 => (0..ACTORS).prop_map(|actor| Op::Register { actor }),
        1 => (doctor.clone(), 0..ACTORS).prop_map(|(doctor, target)| Op::Propose { doctor, target }),
        1 => (actor.clone(), patient.clone()).prop_map(|(actor, patient)| Op::Accept { actor, patient }),
        1 => (actor.clone(), patient.clone()).prop_map(|(actor, patient)| Op::Decline { actor, patient }),
        1 => (actor.clone(), patient.clone()).prop_map(|(actor, patient)| Op::Delete { actor, patient }),
        3 => (actor.clone(), patient.clone(), 0..3usize, blob.clone())
            .prop_map(|(actor, patient, category, blob)| Op::AddRecord { actor, patient, category, blob }),
        2 => (actor.clone(), patient.clone(), proptest::collection::vec((0..3usize, blob.clone()), 1..5))
            .prop_map(|(actor, patient, records)| Op::AddRecords { actor, patient, records }),
        2 => (actor.clone(), record.clone(), blob)
            .prop_map(|(actor, record, blob)| Op::UpdateRecord { actor, record, blob }),
        1 => (actor.clone(), record).prop_map(|(actor, record)| Op::DeleteRecord { actor, record }),
        3 => (actor.clone(), patient.clone(), doctor.clone(), 0..3usize, 1..8u8, proptest::option::of(0..2000u64))
            .prop_map(|(actor, patient, doctor, scope, categories, expires_in)| Op::Grant {
                actor, patient, doctor, scope, categories, expires_in
            }),
        1 => (actor, patient, doctor).prop_map(|(actor, patient, doctor)| Op::Revoke { actor, patient, doctor }),
        1 => (1..300u64).prop_map(|seconds| Op::Advance { seconds }),
    ]
}

const SCOPES: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Manage];

fn categories_of(mask: u8) -> Vec<Category> {
    RECORD_CATEGORIES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| *c)
        .collect()
}

struct ModelPatient {
    owner: usize,
    status: PatientStatus,
}

struct ModelRecord {
    patient: u64,
    category: Category,
    versions: Vec<String>,
    deleted: bool,
}

struct ModelGrant {
    scope: Scope,
    categories: Vec<Category>,
    expires: Option<u64>,
}

#[derive(Default)]
struct Model {
    now: u64,
    patients: BTreeMap<u64, ModelPatient>,
    current: BTreeMap<usize, u64>,
    records: BTreeMap<u64, ModelRecord>,
    hashes: BTreeSet<(u64, String)>,
    grants: BTreeMap<(u64, usize), ModelGrant>,
    epochs: BTreeMap<(u64, Category), u32>,
    /// Doctors handed the current (epoch 0: this model never rotates) key of a category: every
    /// grant carries an envelope of epoch 0 for each of its categories.
    holders: BTreeMap<(u64, Category), BTreeSet<usize>>,
}

fn is_doctor(actor: usize) -> bool {
    actor >= PEOPLE
}

impl Model {
    fn active(&self, patient: u64) -> bool {
        self.patients
            .get(&patient)
            .is_some_and(|p| p.status == PatientStatus::Active)
    }

    fn may(&self, actor: usize, patient: u64, scope: Scope, category: Option<Category>) -> bool {
        if self.patients[&patient].owner == actor {
            return true;
        }
        is_doctor(actor)
            && self.grants.get(&(patient, actor)).is_some_and(|g| {
                g.expires.is_none_or(|e| self.now < e)
                    && g.scope >= scope
                    && category.is_none_or(|c| g.categories.contains(&c))
            })
    }

    /// A holder of the category's key may no longer read it: writes into the epoch are refused.
    fn stale(&self, patient: u64, category: Category) -> bool {
        self.holders
            .get(&(patient, category))
            .is_some_and(|holders| {
                holders
                    .iter()
                    .any(|&h| !self.may(h, patient, Scope::Read, Some(category)))
            })
    }

    fn new_patient(&mut self, owner: usize, status: PatientStatus) {
        let id = self.patients.len() as u64 + 1;
        self.patients.insert(id, ModelPatient { owner, status });
        self.current.insert(owner, id);
    }

    fn tombstone(&mut self, patient: u64) {
        let entry = self.patients.get_mut(&patient).unwrap();
        entry.status = PatientStatus::Deleted;
        self.current.remove(&entry.owner);
    }

    fn owned_with_status(&self, actor: usize, patient: u64, status: PatientStatus) -> bool {
        self.patients
            .get(&patient)
            .is_some_and(|p| p.owner == actor && p.status == status)
    }

    fn owner_of(&self, patient: u64) -> usize {
        self.patients.get(&patient).map_or(0, |p| p.owner)
    }

    /// Replaces `OWNER` in `op` with the actual owner of the patient or record it names.
    fn resolve(&self, op: &Op) -> Op {
        let pick = |actor: usize, patient: u64| {
            if actor == OWNER {
                self.owner_of(patient)
            } else {
                actor
            }
        };
        let record_patient = |record: u64| self.records.get(&record).map_or(0, |r| r.patient);
        let mut op = op.clone();
        match &mut op {
            Op::Accept { actor, patient }
            | Op::Decline { actor, patient }
            | Op::Delete { actor, patient }
            | Op::AddRecord { actor, patient, .. }
            | Op::AddRecords { actor, patient, .. }
            | Op::Grant { actor, patient, .. }
            | Op::Revoke { actor, patient, .. } => *actor = pick(*actor, *patient),
            Op::UpdateRecord { actor, record, .. } | Op::DeleteRecord { actor, record } => {
                *actor = pick(*actor, record_patient(*record))
            }
            Op::Register { .. } | Op::Propose { .. } | Op::Advance { .. } => {}
        }
        op
    }

    /// All records are added, in order, or none: every category writable by `actor` and no
    /// ciphertext already held for the patient or repeated in the batch.
    fn add_records(&mut self, actor: usize, patient: u64, records: &[(usize, u64)]) -> bool {
        let new: Vec<(Category, String)> = records
            .iter()
            .map(|&(category, blob)| (RECORD_CATEGORIES[category], sample_blob(blob).sha256))
            .collect();
        let distinct: BTreeSet<&String> = new.iter().map(|(_, sha)| sha).collect();
        let ok = self.active(patient)
            && new.iter().all(|(category, sha)| {
                self.may(actor, patient, Scope::Write, Some(*category))
                    && !self.stale(patient, *category)
                    && !self.hashes.contains(&(patient, sha.clone()))
            })
            && distinct.len() == new.len();
        if ok {
            for (category, sha) in new {
                let id = self.records.len() as u64 + 1;
                self.hashes.insert((patient, sha.clone()));
                self.records.insert(
                    id,
                    ModelRecord {
                        patient,
                        category,
                        versions: vec![sha],
                        deleted: false,
                    },
                );
            }
        }
        ok
    }

    /// Applies `op` and says whether the contracts must accept it.
    fn apply(&mut self, op: &Op) -> bool {
        match *op {
            Op::Register { actor } => {
                // A doctor's proposal waiting at the address is declined by registering there.
                let waiting =
                    self.current.get(&actor).copied().filter(|&patient| {
                        self.patients[&patient].status == PatientStatus::Pending
                    });
                let ok = waiting.is_some() || !self.current.contains_key(&actor);
                if let Some(patient) = waiting {
                    self.tombstone(patient);
                }
                if ok {
                    self.new_patient(actor, PatientStatus::Active);
                }
                ok
            }
            Op::Propose { doctor, target } => {
                let ok = is_doctor(doctor) && !self.current.contains_key(&target);
                if ok {
                    self.new_patient(target, PatientStatus::Pending);
                }
                ok
            }
            Op::Accept { actor, patient } => {
                let ok = self.owned_with_status(actor, patient, PatientStatus::Pending);
                if ok {
                    self.patients.get_mut(&patient).unwrap().status = PatientStatus::Active;
                }
                ok
            }
            Op::Decline { actor, patient } => {
                let ok = self.owned_with_status(actor, patient, PatientStatus::Pending);
                if ok {
                    self.tombstone(patient);
                }
                ok
            }
            Op::Delete { actor, patient } => {
                // The patient's own act: no grant allows it.
                let ok = self.owned_with_status(actor, patient, PatientStatus::Active);
                if ok {
                    self.tombstone(patient);
                }
                ok
            }
            Op::AddRecord {
                actor,
                patient,
                category,
                blob,
            } => self.add_records(actor, patient, &[(category, blob)]),
            Op::AddRecords {
                actor,
                patient,
                ref records,
            } => self.add_records(actor, patient, records),
            Op::UpdateRecord {
                actor,
                record,
                blob,
            } => {
                let sha = sample_blob(blob).sha256;
                let ok = self.records.get(&record).is_some_and(|r| {
                    !r.deleted
                        && self.active(r.patient)
                        && self.may(actor, r.patient, Scope::Write, Some(r.category))
                        && !self.stale(r.patient, r.category)
                        && !self.hashes.contains(&(r.patient, sha.clone()))
                });
                if ok {
                    let entry = self.records.get_mut(&record).unwrap();
                    self.hashes.insert((entry.patient, sha.clone()));
                    entry.versions.push(sha);
                }
                ok
            }
            Op::DeleteRecord { actor, record } => {
                let ok = self.records.get(&record).is_some_and(|r| {
                    !r.deleted
                        && self.active(r.patient)
                        && self.may(actor, r.patient, Scope::Manage, Some(r.category))
                });
                if ok {
                    self.records.get_mut(&record).unwrap().deleted = true;
                }
                ok
            }
            Op::Grant {
                actor,
                patient,
                doctor,
                scope,
                categories,
                expires_in,
            } => {
                let ok = self.owned_with_status(actor, patient, PatientStatus::Active)
                    && doctor != actor
                    && expires_in != Some(0);
                if ok {
                    let grant = ModelGrant {
                        scope: SCOPES[scope],
                        categories: categories_of(categories),
                        expires: expires_in.map(|s| self.now + s),
                    };
                    for category in &grant.categories {
                        self.holders
                            .entry((patient, *category))
                            .or_default()
                            .insert(doctor);
                    }
                    self.grants.insert((patient, doctor), grant);
                }
                ok
            }
            Op::Revoke {
                actor,
                patient,
                doctor,
            } => {
                let ok = self.owned_with_status(actor, patient, PatientStatus::Active)
                    && self.grants.contains_key(&(patient, doctor));
                // No epoch moves: the former grantee stays a holder, so its categories are stale.
                if ok {
                    self.grants.remove(&(patient, doctor));
                }
                ok
            }
            Op::Advance { seconds } => {
                self.now += seconds;
                true
            }
        }
    }
}

fn run(suite: &mut Suite, actors: &[Addr], op: &Op) -> bool {
    let registry = |suite: &mut Suite, actor: usize, msg: registry::ExecuteMsg| {
        suite
            .execute(&actors[actor], Target::Registry, &msg)
            .is_ok()
    };
    let start = suite.now();
    match *op {
        Op::Register { actor } => suite.register_patient(&actors[actor]).is_ok(),
        Op::Propose { doctor, target } => suite
            .propose_patient(&actors[doctor], &actors[target])
            .is_ok(),
        Op::Accept { actor, patient } => suite.accept_patient(&actors[actor], patient).is_ok(),
        Op::Decline { actor, patient } => registry(
            suite,
            actor,
            registry::ExecuteMsg::DeclinePatient {
                patient_id: patient,
            },
        ),
        Op::Delete { actor, patient } => suite.delete_patient(&actors[actor], patient).is_ok(),
        Op::AddRecord {
            actor,
            patient,
            category,
            blob,
        } => suite
            .add_record(
                &actors[actor],
                patient,
                RECORD_CATEGORIES[category],
                sample_blob(blob),
            )
            .is_ok(),
        Op::AddRecords {
            actor,
            patient,
            ref records,
        } => registry(
            suite,
            actor,
            registry::ExecuteMsg::AddRecords {
                patient_id: patient,
                records: records
                    .iter()
                    .map(|&(category, blob)| registry::NewRecord {
                        category: RECORD_CATEGORIES[category],
                        epoch: suite
                            .key_holders(patient, RECORD_CATEGORIES[category])
                            .epoch,
                        blob: sample_blob(blob),
                    })
                    .collect(),
            },
        ),
        Op::UpdateRecord {
            actor,
            record,
            blob,
        } => suite
            .update_record(&actors[actor], record, sample_blob(blob))
            .is_ok(),
        Op::DeleteRecord { actor, record } => registry(
            suite,
            actor,
            registry::ExecuteMsg::DeleteRecord { record_id: record },
        ),
        Op::Grant {
            actor,
            patient,
            doctor,
            scope,
            categories,
            expires_in,
        } => suite
            .grant(
                &actors[actor],
                patient,
                &actors[doctor],
                SCOPES[scope],
                &categories_of(categories),
                expires_in.map(|s| start.plus_seconds(s)),
            )
            .is_ok(),
        Op::Revoke {
            actor,
            patient,
            doctor,
        } => suite
            .revoke(&actors[actor], patient, &actors[doctor])
            .is_ok(),
        Op::Advance { seconds } => {
            suite.advance_time(seconds);
            true
        }
    }
}

fn check_agreement(suite: &Suite, actors: &[Addr], model: &Model, start: u64) {
    let count = |status| {
        model
            .patients
            .values()
            .filter(|p| p.status == status)
            .count() as u64
    };
    assert_eq!(
        suite.patient_count(),
        PatientCountResponse {
            active: count(PatientStatus::Active),
            pending: count(PatientStatus::Pending),
            deleted: count(PatientStatus::Deleted),
            total: model.patients.len() as u64,
        }
    );
    for (id, expected) in &model.patients {
        let patient = suite.patient(*id).unwrap();
        assert_eq!(
            (patient.owner, patient.status),
            (actors[expected.owner].clone(), expected.status)
        );
    }
    assert!(
        suite.patient(model.patients.len() as u64 + 1).is_none(),
        "no id beyond the model's"
    );
    for (id, expected) in &model.records {
        if model.patients[&expected.patient].status == PatientStatus::Deleted {
            assert!(
                suite.record(*id).is_none(),
                "records of deleted patients are hidden"
            );
            continue;
        }
        let record = suite.record(*id).unwrap();
        let status = if expected.deleted {
            RecordStatus::Deleted
        } else {
            RecordStatus::Active
        };
        assert_eq!(
            (record.patient_id, record.category, record.status),
            (expected.patient, expected.category, status)
        );
        let chain: Vec<String> = suite
            .record_history(*id)
            .into_iter()
            .map(|v| v.blob.sha256)
            .collect();
        assert_eq!(&chain, &expected.versions);
    }
    assert!(suite.record(model.records.len() as u64 + 1).is_none());
    for patient in 1..6u64 {
        for (doctor, address) in actors.iter().enumerate().skip(PEOPLE) {
            let actual = suite.grant_of(patient, address);
            let expected = model.grants.get(&(patient, doctor));
            assert_eq!(
                actual.is_some(),
                expected.is_some(),
                "grant of {patient} to doctor {doctor}"
            );
            if let (Some(actual), Some(expected)) = (actual, expected) {
                assert_eq!(actual.scope, expected.scope);
                assert_eq!(actual.categories, expected.categories);
                assert_eq!(
                    actual.expires.map(|t| t.seconds() - start),
                    expected.expires
                );
            }
        }
        let epochs: EpochsResponse = suite
            .query(
                Target::Access,
                &access::QueryMsg::Epochs {
                    patient_id: patient,
                },
            )
            .unwrap();
        let actual: BTreeMap<Category, u32> = epochs
            .epochs
            .into_iter()
            .map(|e| (e.category, e.epoch))
            .collect();
        let expected: BTreeMap<Category, u32> = model
            .epochs
            .iter()
            .filter(|((p, _), _)| *p == patient)
            .map(|((_, c), e)| (*c, *e))
            .collect();
        assert_eq!(actual, expected, "epochs of patient {patient}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn contracts_agree_with_the_model(ops in proptest::collection::vec(op_strategy(), 1..80)) {
        let mut suite = Suite::new();
        let actors: Vec<Addr> = (0..ACTORS).map(|i| suite.addr(&format!("actor{i}"))).collect();
        for doctor in &actors[PEOPLE..] {
            suite.credential(doctor);
        }
        let start = suite.now().seconds();
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            let op = model.resolve(op);
            let expected = model.apply(&op);
            let actual = run(&mut suite, &actors, &op);
            prop_assert_eq!(actual, expected, "step {} {:?}", step, op);
        }
        check_agreement(&suite, &actors, &model, start);
    }
}
