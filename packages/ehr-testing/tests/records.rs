//! Records: version chains, the key epoch and base version a write carries, writes into stale
//! epochs and the rotation that opens the next, input validation, duplicate ciphertexts,
//! listings and pagination.

use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{error_text, sample_blob, Suite, Target};
use ehr_types::access::{KeyHolder, Scope};
use ehr_types::registry::{self, NewRecord, RecordStatus, RecordsResponse};
use ehr_types::{AuditAction, BlobRef, Category, ValidationError};

#[test]
fn updates_append_to_the_version_chain() {
    let (mut suite, roles) = Suite::with_roles();
    let doctor = roles.doctor_with_grant.clone();
    let record_id = roles.record_id;
    suite
        .update_record(&doctor, record_id, sample_blob(1))
        .unwrap();
    suite.advance_time(60);
    suite
        .update_record(&roles.patient, record_id, sample_blob(2))
        .unwrap();

    let history = suite.record_history(record_id);
    let summary: Vec<_> = history
        .iter()
        .map(|v| (v.version, v.epoch, v.blob.clone(), v.author.clone()))
        .collect();
    // The first version was written before the role set-up's rotation, the others after.
    assert_eq!(
        summary,
        vec![
            (1, 0, sample_blob(0), roles.patient.clone()),
            (2, 1, sample_blob(1), doctor.clone()),
            (3, 1, sample_blob(2), roles.patient.clone()),
        ]
    );
    assert!(history[1].time < history[2].time);
    let record = suite.record(record_id).unwrap();
    assert_eq!(record.latest, history[2]);
    assert_eq!(record.created_by, roles.patient);

    // Every version's hash leads back to the record (integrity lookups, idempotent retries).
    for n in 0..3 {
        let found: registry::RecordResponse = suite
            .query(
                Target::Registry,
                &registry::QueryMsg::RecordBySha256 {
                    patient_id: roles.patient_id,
                    sha256: sample_blob(n).sha256,
                },
            )
            .unwrap();
        assert_eq!(found.record.map(|record| record.id), Some(record_id));
    }
}

#[test]
fn a_ciphertext_is_registered_once_per_patient() {
    let (mut suite, roles) = Suite::with_roles();
    let duplicate = RegistryError::DuplicateBlob {
        record_id: roles.record_id,
    }
    .to_string();
    suite.execute_expecting_error(
        &roles.doctor_with_grant,
        Target::Registry,
        &suite.add_record_msg(roles.patient_id, Category::Note, sample_blob(0)),
        &duplicate,
    );
    let second = suite
        .add_record(
            &roles.patient,
            roles.patient_id,
            Category::Note,
            sample_blob(5),
        )
        .unwrap();
    suite.execute_expecting_error(
        &roles.patient,
        Target::Registry,
        &suite.update_record_msg(second, sample_blob(0)).unwrap(),
        &duplicate,
    );
    // Another patient may hold the same ciphertext hash without conflict.
    suite
        .add_record(
            &roles.other_patient,
            roles.other_patient_id,
            Category::Note,
            sample_blob(0),
        )
        .unwrap();
}

#[test]
fn bad_input_is_refused_with_its_own_error() {
    let (mut suite, roles) = Suite::with_roles();
    let patient = roles.patient.clone();
    let good = sample_blob(7);
    let with = |change: fn(&mut BlobRef)| {
        let mut blob = sample_blob(7);
        change(&mut blob);
        blob
    };
    let cases: Vec<(BlobRef, String)> = vec![
        (
            with(|b| b.sha256 = b.sha256.to_uppercase()),
            RegistryError::Validation(ValidationError::InvalidSha256).to_string(),
        ),
        (
            with(|b| b.sha256.truncate(10)),
            RegistryError::Validation(ValidationError::InvalidSha256).to_string(),
        ),
        (
            with(|b| b.uri = "https://example.org/file".into()),
            RegistryError::Validation(ValidationError::InvalidUri).to_string(),
        ),
        (
            with(|b| b.uri = "ipfs://Jane Doe, HIV positive".into()),
            RegistryError::Validation(ValidationError::InvalidUri).to_string(),
        ),
        // The alphabet of a CID, but not a CID: free text would ride in the locator.
        (
            with(|b| b.uri = "ipfs://JaneDoeHIVpositive".into()),
            RegistryError::Validation(ValidationError::InvalidUri).to_string(),
        ),
        (
            with(|b| {
                b.uri = "ipfs://bjanedoehaspositivehivtestresultsfromlastweekseeclinicnotes".into()
            }),
            RegistryError::Validation(ValidationError::InvalidUri).to_string(),
        ),
        (
            with(|b| b.uri = format!("ehrfs://{}", "0".repeat(64))),
            RegistryError::Validation(ValidationError::UriHashMismatch).to_string(),
        ),
        (
            with(|b| b.size = 0),
            RegistryError::Validation(ValidationError::InvalidBlobSize).to_string(),
        ),
    ];
    for (blob, expected) in cases {
        suite.execute_expecting_error(
            &patient,
            Target::Registry,
            &suite.add_record_msg(roles.patient_id, Category::Lab, blob.clone()),
            &expected,
        );
        suite.execute_expecting_error(
            &patient,
            Target::Registry,
            &suite.update_record_msg(roles.record_id, blob).unwrap(),
            &expected,
        );
    }
    // A real sha2-256 CID is a locator.
    let cid = BlobRef {
        uri: "ipfs://bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am".into(),
        ..sample_blob(70)
    };
    suite
        .add_record(&patient, roles.patient_id, Category::Lab, cid)
        .unwrap();
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &suite.add_record_msg(roles.patient_id, Category::Profile, good.clone()),
        &RegistryError::ProfileCategoryReserved.to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &suite.add_record_msg(99, Category::Lab, good.clone()),
        &RegistryError::PatientNotFound { patient_id: 99 }.to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &registry::ExecuteMsg::UpdateRecord {
            record_id: 99,
            base_version: 1,
            epoch: 0,
            blob: good,
        },
        &RegistryError::RecordNotFound { record_id: 99 }.to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &registry::ExecuteMsg::RegisterPatient {
            encryption_key: cosmwasm_std::Binary::from([1u8; 31]),
            profile: None,
        },
        &RegistryError::Validation(ValidationError::InvalidPublicKey { len: 31 }).to_string(),
    );
    // Malformed JSON never reaches the contract logic and changes nothing either.
    let before = suite.dump_state();
    let raw = cosmwasm_std::WasmMsg::Execute {
        contract_addr: suite.registry.to_string(),
        msg: cosmwasm_std::Binary::from(br#"{"add_record":{"patient_id":"one"}}"#.to_vec()),
        funds: vec![],
    };
    assert!(cw_multi_test::Executor::execute(&mut suite.app, patient, raw.into()).is_err());
    assert!(suite.dump_state() == before);
}

#[test]
fn deleted_records_stay_as_tombstones_and_refuse_writes() {
    let (mut suite, roles) = Suite::with_roles();
    suite
        .execute(
            &roles.doctor_with_grant,
            Target::Registry,
            &registry::ExecuteMsg::DeleteRecord {
                record_id: roles.record_id,
            },
        )
        .unwrap();
    assert_eq!(
        suite.record(roles.record_id).unwrap().status,
        RecordStatus::Deleted
    );
    let deleted = RegistryError::RecordDeleted {
        record_id: roles.record_id,
    }
    .to_string();
    suite.execute_expecting_error(
        &roles.patient,
        Target::Registry,
        &suite
            .update_record_msg(roles.record_id, sample_blob(8))
            .unwrap(),
        &deleted,
    );
    suite.execute_expecting_error(
        &roles.patient,
        Target::Registry,
        &registry::ExecuteMsg::DeleteRecord {
            record_id: roles.record_id,
        },
        &deleted,
    );
}

fn list(suite: &Suite, msg: registry::QueryMsg) -> Vec<u64> {
    let response: RecordsResponse = suite.query(Target::Registry, &msg).unwrap();
    response.records.into_iter().map(|r| r.id).collect()
}

#[test]
fn listings_by_patient_category_and_author_are_paginated_and_capped() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_with_grant.clone();
    // Record 1 (Lab, by the patient) exists; add 150 more, alternating category and author.
    for n in 1..=150u64 {
        let (author, category) = if n % 2 == 0 {
            (&patient, Category::Note)
        } else {
            (&doctor, Category::Lab)
        };
        suite
            .add_record(author, id, category, sample_blob(1000 + n))
            .unwrap();
    }
    let by_patient = |start_after, limit| registry::QueryMsg::RecordsByPatient {
        patient_id: id,
        category: None,
        start_after,
        limit,
    };
    assert_eq!(
        list(&suite, by_patient(None, None)),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        list(&suite, by_patient(None, Some(1000))).len(),
        100,
        "limit is capped"
    );
    assert_eq!(
        list(&suite, by_patient(Some(140), Some(50))),
        (141..=151).collect::<Vec<_>>()
    );

    let labs = list(
        &suite,
        registry::QueryMsg::RecordsByPatient {
            patient_id: id,
            category: Some(Category::Lab),
            start_after: None,
            limit: Some(5),
        },
    );
    assert_eq!(labs, vec![1, 2, 4, 6, 8]);
    let doctors = list(
        &suite,
        registry::QueryMsg::RecordsByAuthor {
            author: doctor.to_string(),
            start_after: Some(2),
            limit: Some(3),
        },
    );
    assert_eq!(doctors, vec![4, 6, 8]);
    let err = suite
        .query::<_, RecordsResponse>(
            Target::Registry,
            &registry::QueryMsg::RecordsByAuthor {
                author: "x".into(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap_err();
    assert!(error_text(&err).contains("invalid address: x"), "{err}");
}

/// Records of one patient under each category's current epoch.
fn new_records(suite: &Suite, patient_id: u64, items: &[(Category, u64)]) -> Vec<NewRecord> {
    items
        .iter()
        .map(|&(category, n)| suite.new_record(patient_id, category, sample_blob(n)))
        .collect()
}

#[test]
fn a_batch_adds_every_record_in_order_or_none() {
    let (mut suite, roles) = Suite::with_roles();
    let patient = roles.patient.clone();
    let add_records = |records| registry::ExecuteMsg::AddRecords {
        patient_id: roles.patient_id,
        records,
    };
    let audit_before = suite.audit_log(roles.patient_id).len();

    let batch = [
        (Category::Lab, 10),
        (Category::Note, 11),
        (Category::Lab, 12),
    ];
    let response = suite
        .execute(
            &patient,
            Target::Registry,
            &add_records(new_records(&suite, roles.patient_id, &batch)),
        )
        .unwrap();
    let announced: Vec<String> = response
        .events
        .iter()
        .filter(|event| event.ty == "wasm")
        .flat_map(|event| event.attributes.iter())
        .filter(|attribute| attribute.key == "record_id")
        .map(|attribute| attribute.value.clone())
        .collect();
    let ids: Vec<u64> = (1..=3).map(|n| roles.record_id + n).collect();
    assert_eq!(
        announced,
        ids.iter().map(u64::to_string).collect::<Vec<_>>()
    );
    for (id, (category, n)) in ids.iter().zip(batch) {
        let record = suite.record(*id).unwrap();
        assert_eq!(
            (record.category, record.latest.blob, record.latest.version),
            (category, sample_blob(n), 1)
        );
    }
    let audit = suite.audit_log(roles.patient_id);
    let logged: Vec<_> = audit[audit_before..]
        .iter()
        .map(|entry| (entry.seq, entry.action.clone()))
        .collect();
    let expected: Vec<_> = ids
        .iter()
        .zip(batch)
        .enumerate()
        .map(|(i, (&record_id, (category, _)))| {
            (
                (audit_before + i + 1) as u64,
                AuditAction::RecordAdded {
                    record_id,
                    category,
                },
            )
        })
        .collect();
    assert_eq!(logged, expected, "one audit entry per record, in order");

    // A doctor allowed to write Lab only: a batch with one Note record is refused whole.
    let lab_doctor = suite.addr("lab-doctor");
    suite.credential(&lab_doctor);
    suite
        .grant(
            &patient,
            roles.patient_id,
            &lab_doctor,
            Scope::Write,
            &[Category::Lab],
            None,
        )
        .unwrap();
    suite.execute_expecting_error(
        &lab_doctor,
        Target::Registry,
        &add_records(new_records(
            &suite,
            roles.patient_id,
            &[(Category::Lab, 20), (Category::Note, 21)],
        )),
        &RegistryError::unauthorized("add record").to_string(),
    );
    suite
        .execute(
            &lab_doctor,
            Target::Registry,
            &add_records(new_records(
                &suite,
                roles.patient_id,
                &[(Category::Lab, 20), (Category::Lab, 21)],
            )),
        )
        .unwrap();

    let mut bad_blob = new_records(
        &suite,
        roles.patient_id,
        &[(Category::Lab, 30), (Category::Lab, 31)],
    );
    bad_blob[1].blob.size = 0;
    let too_many: Vec<(Category, u64)> = (0..1001).map(|n| (Category::Lab, 1000 + n)).collect();
    let refused = [
        (
            new_records(&suite, roles.patient_id, &[]),
            RegistryError::Validation(ValidationError::InvalidRecordCount { count: 0 }).to_string(),
        ),
        (
            new_records(&suite, roles.patient_id, &too_many),
            RegistryError::Validation(ValidationError::InvalidRecordCount { count: 1001 })
                .to_string(),
        ),
        (
            new_records(
                &suite,
                roles.patient_id,
                &[(Category::Lab, 30), (Category::Profile, 31)],
            ),
            RegistryError::ProfileCategoryReserved.to_string(),
        ),
        (
            bad_blob,
            RegistryError::Validation(ValidationError::InvalidBlobSize).to_string(),
        ),
        (
            new_records(
                &suite,
                roles.patient_id,
                &[(Category::Lab, 30), (Category::Note, 30)],
            ),
            RegistryError::DuplicateBlobInBatch {
                sha256: sample_blob(30).sha256,
            }
            .to_string(),
        ),
        (
            new_records(
                &suite,
                roles.patient_id,
                &[(Category::Lab, 30), (Category::Lab, 10)],
            ),
            RegistryError::DuplicateBlob { record_id: ids[0] }.to_string(),
        ),
    ];
    for (records, expected) in refused {
        suite.execute_expecting_error(&patient, Target::Registry, &add_records(records), &expected);
    }
}

#[test]
fn a_write_names_the_current_epoch_and_the_version_it_replaces() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let wrong = |epoch| {
        RegistryError::WrongKeyEpoch {
            category: Category::Lab,
            epoch,
            current: 1,
        }
        .to_string()
    };
    for epoch in [0, 2] {
        suite.execute_expecting_error(
            &patient,
            Target::Registry,
            &registry::ExecuteMsg::AddRecord {
                patient_id: id,
                category: Category::Lab,
                epoch,
                blob: sample_blob(1),
            },
            &wrong(epoch),
        );
        suite.execute_expecting_error(
            &patient,
            Target::Registry,
            &registry::ExecuteMsg::AddRecords {
                patient_id: id,
                records: vec![
                    suite.new_record(id, Category::Note, sample_blob(2)),
                    NewRecord {
                        category: Category::Lab,
                        epoch,
                        blob: sample_blob(1),
                    },
                ],
            },
            &wrong(epoch),
        );
        suite.execute_expecting_error(
            &patient,
            Target::Registry,
            &registry::ExecuteMsg::UpdateRecord {
                record_id: roles.record_id,
                base_version: 1,
                epoch,
                blob: sample_blob(1),
            },
            &wrong(epoch),
        );
    }
    // Based on a version another writer already replaced: refused, naming the current one.
    suite
        .update_record(&roles.doctor_with_grant, roles.record_id, sample_blob(3))
        .unwrap();
    suite
        .update_record(&patient, roles.record_id, sample_blob(4))
        .unwrap();
    for base_version in [1, 2, 4] {
        suite.execute_expecting_error(
            &patient,
            Target::Registry,
            &registry::ExecuteMsg::UpdateRecord {
                record_id: roles.record_id,
                base_version,
                epoch: 1,
                blob: sample_blob(5),
            },
            &RegistryError::VersionConflict {
                base_version,
                current: 3,
            }
            .to_string(),
        );
    }
    let history = suite.record_history(roles.record_id);
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].epoch, 1);
}

#[test]
fn a_write_into_a_stale_epoch_is_refused_and_succeeds_after_a_rotation_in_the_same_tx() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let writer = roles.doctor_with_grant.clone();
    let reader = suite.addr("reader");
    suite.credential(&reader);
    suite
        .grant(&patient, id, &reader, Scope::Read, &[Category::Lab], None)
        .unwrap();
    suite.revoke(&patient, id, &reader).unwrap();
    let stale = RegistryError::StaleKeyEpoch {
        category: Category::Lab,
        epoch: 1,
    }
    .to_string();
    let add = suite.add_record_msg(id, Category::Lab, sample_blob(1));
    suite.execute_expecting_error(&writer, Target::Registry, &add, &stale);
    suite.execute_expecting_error(
        &writer,
        Target::Registry,
        &registry::ExecuteMsg::AddRecords {
            patient_id: id,
            records: new_records(&suite, id, &[(Category::Note, 1), (Category::Lab, 2)]),
        },
        &stale,
    );
    let update = suite
        .update_record_msg(roles.record_id, sample_blob(3))
        .unwrap();
    suite.execute_expecting_error(&writer, Target::Registry, &update, &stale);

    // The rotation and a write that fails are one transaction: neither happens.
    let duplicate = registry::ExecuteMsg::AddRecord {
        patient_id: id,
        category: Category::Lab,
        epoch: 2,
        blob: sample_blob(0),
    };
    suite.assert_refused(
        "rotation with a duplicate write",
        &RegistryError::DuplicateBlob {
            record_id: roles.record_id,
        }
        .to_string(),
        |suite| suite.rotate_and_write(&writer, id, Category::Lab, &duplicate),
    );
    // Nor does a write under the epoch the rotation just left.
    suite.assert_refused(
        "rotation with a write under the old epoch",
        &RegistryError::WrongKeyEpoch {
            category: Category::Lab,
            epoch: 1,
            current: 2,
        }
        .to_string(),
        |suite| suite.rotate_and_write(&writer, id, Category::Lab, &add),
    );
    assert_eq!(suite.epoch(id, Category::Lab), 1);

    let record_id = suite
        .add_record_rotating(&writer, id, Category::Lab, sample_blob(1))
        .unwrap();
    let record = suite.record(record_id).unwrap();
    assert_eq!(
        (record.latest.epoch, record.latest.author),
        (2, writer.clone())
    );
    assert_eq!(
        suite.key_holders(id, Category::Lab).holders,
        vec![KeyHolder {
            address: writer.clone(),
            entitled: true
        }]
    );
    // The next write needs no rotation; the rotation made the old update message stale too.
    suite
        .update_record(&writer, roles.record_id, sample_blob(3))
        .unwrap();
    suite.execute_expecting_error(
        &writer,
        Target::Registry,
        &update,
        &RegistryError::VersionConflict {
            base_version: 1,
            current: 2,
        }
        .to_string(),
    );
    assert_eq!(suite.record_history(roles.record_id)[1].epoch, 2);
}

#[test]
fn a_writer_rotates_and_writes_after_another_doctors_grant_expired() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let [writer, leaving] = ["writer", "leaving"].map(|name| suite.addr(name));
    for doctor in [&writer, &leaving] {
        suite.credential(doctor);
    }
    suite
        .grant(&patient, id, &writer, Scope::Write, &[Category::Note], None)
        .unwrap();
    let ends = Some(suite.now().plus_seconds(60));
    suite
        .grant(
            &patient,
            id,
            &leaving,
            Scope::Write,
            &[Category::Note],
            ends,
        )
        .unwrap();
    let first = suite
        .add_record(&leaving, id, Category::Note, sample_blob(1))
        .unwrap();
    suite.advance_time(60);
    assert!(suite.key_holders(id, Category::Note).stale);
    suite.execute_expecting_error(
        &writer,
        Target::Registry,
        &suite.add_record_msg(id, Category::Note, sample_blob(2)),
        &RegistryError::StaleKeyEpoch {
            category: Category::Note,
            epoch: 1,
        }
        .to_string(),
    );
    // The doctor whose grant expired may neither rotate nor write.
    suite.execute_expecting_error(
        &leaving,
        Target::Access,
        &suite.rotation_msg(id, Category::Note),
        &AccessError::unauthorized("rotate key").to_string(),
    );
    let second = suite
        .add_record_rotating(&writer, id, Category::Note, sample_blob(2))
        .unwrap();
    let mut holders: Vec<_> = suite
        .key_holders(id, Category::Note)
        .holders
        .into_iter()
        .map(|holder| (holder.address, holder.entitled))
        .collect();
    holders.sort();
    let mut expected = vec![
        (roles.doctor_with_grant.clone(), true),
        (writer.clone(), true),
    ];
    expected.sort();
    assert_eq!(
        holders, expected,
        "the doctor whose grant expired holds no new key"
    );
    assert_eq!(suite.record(second).unwrap().latest.epoch, 2);
    suite.update_record(&writer, first, sample_blob(3)).unwrap();
    assert_eq!(suite.record(first).unwrap().latest.epoch, 2);
}
