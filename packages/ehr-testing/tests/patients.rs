//! Patient lifecycle: ids, counts, proposals, profile versions, tombstones (the patient's own
//! act only), purging, designations.

use ehr_registry::ContractError as RegistryError;
use ehr_testing::{error_text, sample_blob, sample_public_key, Suite, Target};
use ehr_types::access::Scope;
use ehr_types::registry::{
    self, Designation, DesignationResponse, PatientCountResponse, PatientStatus,
};
use ehr_types::Category;

fn counts(active: u64, pending: u64, deleted: u64) -> PatientCountResponse {
    PatientCountResponse {
        active,
        pending,
        deleted,
        total: active + pending + deleted,
    }
}

#[test]
fn ids_start_at_one_and_are_never_reused() {
    let mut suite = Suite::new();
    let doctor = suite.addr("doctor");
    suite.credential(&doctor);
    let [alice, bob] = ["alice", "bob"].map(|n| suite.addr(n));

    assert_eq!(suite.patient_count(), counts(0, 0, 0));
    assert_eq!(suite.register_patient(&alice).unwrap(), 1);
    assert_eq!(suite.propose_patient(&doctor, &bob).unwrap(), 2);
    assert_eq!(suite.patient_count(), counts(1, 1, 0));

    suite
        .execute(
            &bob,
            Target::Registry,
            &registry::ExecuteMsg::DeclinePatient { patient_id: 2 },
        )
        .unwrap();
    assert_eq!(suite.patient(2).unwrap().status, PatientStatus::Deleted);
    assert_eq!(
        suite.register_patient(&bob).unwrap(),
        3,
        "a declined id is not reused"
    );

    suite.delete_patient(&alice, 1).unwrap();
    assert_eq!(
        suite.register_patient(&alice).unwrap(),
        4,
        "a deleted id is not reused"
    );
    assert_eq!(suite.patient_count(), counts(2, 0, 2));
    assert!(suite.patient(0).is_none(), "no patient has id 0");
}

#[test]
fn a_doctor_adds_a_patient_only_with_the_patients_acceptance() {
    let mut suite = Suite::new();
    let doctor = suite.addr("doctor");
    let patient = suite.addr("patient");
    suite.credential(&doctor);
    let id = suite
        .execute(
            &doctor,
            Target::Registry,
            &registry::ExecuteMsg::ProposePatient {
                address: patient.to_string(),
                profile: Some(sample_blob(1)),
            },
        )
        .map(|r| ehr_testing::attribute_id(&r, "patient_id"))
        .unwrap();
    let pending = suite.patient(id).unwrap();
    assert_eq!(pending.status, PatientStatus::Pending);
    assert_eq!(pending.encryption_key, None);
    assert_eq!(pending.proposed_by, Some(doctor.clone()));

    // A pending patient takes no records, even from the patient.
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &suite.add_record_msg(id, Category::Lab, sample_blob(2)),
        &RegistryError::WrongPatientStatus {
            patient_id: id,
            status: PatientStatus::Pending,
            expected: PatientStatus::Active,
        }
        .to_string(),
    );
    let designation: DesignationResponse = suite
        .query(
            Target::Registry,
            &registry::QueryMsg::Designation {
                address: patient.to_string(),
            },
        )
        .unwrap();
    assert_eq!(
        designation,
        DesignationResponse {
            designation: None,
            patient_id: None,
            pending_patient_id: Some(id)
        }
    );

    suite.accept_patient(&patient, id).unwrap();
    let active = suite.patient(id).unwrap();
    assert_eq!(active.status, PatientStatus::Active);
    assert_eq!(active.encryption_key, Some(sample_public_key(2)));
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &registry::ExecuteMsg::AcceptPatient {
            patient_id: id,
            encryption_key: sample_public_key(2),
        },
        &RegistryError::WrongPatientStatus {
            patient_id: id,
            status: PatientStatus::Active,
            expected: PatientStatus::Pending,
        }
        .to_string(),
    );
    // Proposing someone who already is a patient is refused.
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &registry::ExecuteMsg::ProposePatient {
            address: patient.to_string(),
            profile: None,
        },
        &RegistryError::AlreadyPatient {
            address: patient.to_string(),
            patient_id: id,
        }
        .to_string(),
    );
}

#[test]
fn designations_route_each_address() {
    let mut suite = Suite::new();
    let doctor = suite.addr("doctor");
    let patient = suite.addr("patient");
    let nobody = suite.addr("nobody");
    suite.credential(&doctor);
    suite.register_patient(&patient).unwrap();
    let admin = suite.admin.clone();
    let designation = |suite: &Suite, address: &cosmwasm_std::Addr| {
        let response: DesignationResponse = suite
            .query(
                Target::Registry,
                &registry::QueryMsg::Designation {
                    address: address.to_string(),
                },
            )
            .unwrap();
        response.designation
    };
    assert_eq!(designation(&suite, &admin), Some(Designation::Admin));
    assert_eq!(designation(&suite, &doctor), Some(Designation::Doctor));
    assert_eq!(designation(&suite, &patient), Some(Designation::Patient));
    assert_eq!(designation(&suite, &nobody), None);
    let trustees = [suite.addr("trustee1"), suite.addr("trustee2")];
    suite.set_trustees(&[&trustees[0], &trustees[1]], 2);
    assert_eq!(
        designation(&suite, &trustees[1]),
        Some(Designation::Trustee)
    );
    assert_eq!(designation(&suite, &nobody), None);
    suite.decredential(&doctor);
    assert_eq!(designation(&suite, &doctor), None);
    let err = suite
        .query::<_, DesignationResponse>(
            Target::Registry,
            &registry::QueryMsg::Designation {
                address: "not an address".into(),
            },
        )
        .unwrap_err();
    assert!(error_text(&err).contains("invalid address"), "{err}");
}

#[test]
fn delete_leaves_a_tombstone_and_purge_drops_record_pointers_in_bounded_steps() {
    let mut suite = Suite::new();
    let patient = suite.addr("patient");
    let id = suite.register_patient(&patient).unwrap();
    suite.update_patient(&patient, id, sample_blob(50)).unwrap();
    let mut record_ids = vec![];
    for n in 0..3 {
        let record = suite
            .add_record(&patient, id, Category::Note, sample_blob(n))
            .unwrap();
        suite
            .update_record(&patient, record, sample_blob(10 + n))
            .unwrap();
        record_ids.push(record);
    }
    let purge = registry::ExecuteMsg::PurgeDeletedRecords {
        patient_id: id,
        limit: Some(4),
    };
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &purge,
        &RegistryError::WrongPatientStatus {
            patient_id: id,
            status: PatientStatus::Active,
            expected: PatientStatus::Deleted,
        }
        .to_string(),
    );
    let stored_before_delete = suite.app.dump_wasm_raw(&suite.registry).len();

    suite.delete_patient(&patient, id).unwrap();
    let tombstone = suite.patient(id).unwrap();
    assert_eq!(tombstone.status, PatientStatus::Deleted);
    assert_eq!(
        tombstone.profile, None,
        "the profile pointer is dropped at once"
    );
    assert_eq!(suite.patient_count(), counts(0, 0, 1));
    let listing: registry::RecordsResponse = suite
        .query(
            Target::Registry,
            &registry::QueryMsg::RecordsByPatient {
                patient_id: id,
                category: None,
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    assert!(listing.records.is_empty());
    assert_eq!(
        suite.record(record_ids[0]),
        None,
        "the records of a deleted patient are gone"
    );

    // 3 records, 6 versions, 6 hash entries, each entry with its index entries: bounded steps of 4.
    let mut removed_total = 0;
    let mut steps = 0;
    loop {
        let response = suite
            .execute(&suite.addr("anyone"), Target::Registry, &purge)
            .unwrap();
        let removed = ehr_testing::attribute_id(&response, "removed");
        assert!(removed <= 4);
        removed_total += removed;
        steps += 1;
        if removed == 0 {
            break;
        }
        assert!(steps < 10, "purge must finish");
    }
    assert_eq!(removed_total, 3 + 6 + 6);
    let stored_after = suite.app.dump_wasm_raw(&suite.registry).len();
    // Gone: each record with its 3 index entries, the versions, the hash entries, and the
    // address's current-patient entry. The tombstone and the counters remain.
    assert_eq!(stored_before_delete - stored_after, 3 * 4 + 6 + 6 + 1);
}

#[test]
fn only_the_patient_or_a_write_grantee_on_profile_updates_the_profile() {
    let (mut suite, roles) = Suite::with_roles();
    let doctor = roles.doctor_without_grant.clone();
    let update = suite
        .update_patient_msg(roles.patient_id, sample_blob(60))
        .unwrap();
    suite
        .grant(
            &roles.patient,
            roles.patient_id,
            &doctor,
            Scope::Write,
            &[Category::Lab],
            None,
        )
        .unwrap();
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &update,
        &RegistryError::unauthorized("update patient").to_string(),
    );
    suite
        .grant(
            &roles.patient,
            roles.patient_id,
            &doctor,
            Scope::Write,
            &[Category::Profile],
            None,
        )
        .unwrap();
    suite.execute(&doctor, Target::Registry, &update).unwrap();
    let patient = suite.patient(roles.patient_id).unwrap();
    assert_eq!(patient.profile, Some(sample_blob(60)));
    assert_eq!(patient.profile_version, 1);
}

#[test]
fn a_profile_update_names_the_version_it_replaces_and_a_fresh_profile_epoch() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_with_grant.clone();
    let based_on_nothing = suite.update_patient_msg(id, sample_blob(61)).unwrap();
    suite.update_patient(&doctor, id, sample_blob(62)).unwrap();
    suite.update_patient(&patient, id, sample_blob(63)).unwrap();
    // Written on top of version 0 while versions 1 and 2 landed: refused, naming version 2.
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &based_on_nothing,
        &RegistryError::VersionConflict {
            base_version: 0,
            current: 2,
        }
        .to_string(),
    );
    let ahead = registry::ExecuteMsg::UpdatePatient {
        patient_id: id,
        base_version: 5,
        epoch: 1,
        profile: sample_blob(64),
    };
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &ahead,
        &RegistryError::VersionConflict {
            base_version: 5,
            current: 2,
        }
        .to_string(),
    );
    let wrong_epoch = registry::ExecuteMsg::UpdatePatient {
        patient_id: id,
        base_version: 2,
        epoch: 0,
        profile: sample_blob(64),
    };
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &wrong_epoch,
        &RegistryError::WrongKeyEpoch {
            category: Category::Profile,
            epoch: 0,
            current: 1,
        }
        .to_string(),
    );
    // The Profile key's only other holder loses access: the profile epoch is stale.
    suite.revoke(&patient, id, &doctor).unwrap();
    let update = suite.update_patient_msg(id, sample_blob(64)).unwrap();
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &update,
        &RegistryError::StaleKeyEpoch {
            category: Category::Profile,
            epoch: 1,
        }
        .to_string(),
    );
    let rotated = registry::ExecuteMsg::UpdatePatient {
        patient_id: id,
        base_version: 2,
        epoch: 2,
        profile: sample_blob(64),
    };
    suite
        .rotate_and_write(&patient, id, Category::Profile, &rotated)
        .unwrap();
    let profile = suite.patient(id).unwrap();
    assert_eq!(
        (profile.profile, profile.profile_version),
        (Some(sample_blob(64)), 3)
    );
    assert_eq!(suite.key_holders(id, Category::Profile).holders, vec![]);
}

#[test]
fn only_the_patient_deletes_the_patient() {
    let (mut suite, roles) = Suite::with_roles();
    let id = roles.patient_id;
    let lab_manager = suite.addr("lab-manager");
    suite.credential(&lab_manager);
    suite
        .grant(
            &roles.patient,
            id,
            &lab_manager,
            Scope::Manage,
            &[Category::Lab],
            None,
        )
        .unwrap();
    let refused = RegistryError::unauthorized("delete patient").to_string();
    let delete = registry::ExecuteMsg::DeletePatient { patient_id: id };
    // Manage on one category, Manage on every category, the admin: none of them.
    for actor in [&lab_manager, &roles.doctor_with_grant, &roles.admin] {
        suite.execute_expecting_error(actor, Target::Registry, &delete, &refused);
    }
    // What Manage does allow: deleting a record of its category.
    suite
        .execute(
            &lab_manager,
            Target::Registry,
            &registry::ExecuteMsg::DeleteRecord {
                record_id: roles.record_id,
            },
        )
        .unwrap();
    assert_eq!(suite.patient(id).unwrap().status, PatientStatus::Active);
    suite.delete_patient(&roles.patient, id).unwrap();
    assert_eq!(suite.patient(id).unwrap().status, PatientStatus::Deleted);
}

#[test]
fn registry_without_access_contract_refuses_writes() {
    let mut app_suite = Suite::new();
    // A second registry that was never wired to an access contract.
    let code = app_suite.app.store_code(ehr_testing::registry_contract());
    let admin = app_suite.admin.clone();
    let lonely = cw_multi_test::Executor::instantiate_contract(
        &mut app_suite.app,
        code,
        admin,
        &registry::InstantiateMsg { admin: None },
        &[],
        "lonely",
        None,
    )
    .unwrap();
    let patient = app_suite.addr("patient");
    let err = cw_multi_test::Executor::execute_contract(
        &mut app_suite.app,
        patient,
        lonely,
        &registry::ExecuteMsg::RegisterPatient {
            encryption_key: sample_public_key(1),
            profile: None,
        },
        &[],
    )
    .unwrap_err();
    assert_eq!(
        error_text(&err),
        RegistryError::AccessContractNotSet.to_string()
    );
}
