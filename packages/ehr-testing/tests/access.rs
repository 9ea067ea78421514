//! Grants scoped by category with expiry and envelopes, revocation epochs, requests, emergency
//! access and the audit log.

use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{sample_blob, sample_envelope, Suite, Target};
use ehr_types::access::{
    self, CategoryEpoch, EpochsResponse, GrantsResponse, KeyEnvelope, PermissionResponse,
    RequestStatus, RequestsResponse, Scope,
};
use ehr_types::validate::MAX_ENVELOPES;
use ehr_types::{AuditAction, Category, ValidationError};

fn add_record_msg(patient_id: u64, category: Category, n: u64) -> ehr_types::registry::ExecuteMsg {
    ehr_types::registry::ExecuteMsg::AddRecord {
        patient_id,
        category,
        blob: sample_blob(n),
    }
}

#[test]
fn grants_are_scoped_by_category_and_scope() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_without_grant.clone();
    let refused = |action: &str| RegistryError::unauthorized(action).to_string();

    suite
        .grant(&patient, id, &doctor, Scope::Read, &[Category::Lab], None)
        .unwrap();
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &add_record_msg(id, Category::Lab, 1),
        &refused("add record"),
    );

    suite
        .grant(&patient, id, &doctor, Scope::Write, &[Category::Lab], None)
        .unwrap();
    suite
        .add_record(&doctor, id, Category::Lab, sample_blob(1))
        .unwrap();
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &add_record_msg(id, Category::Note, 2),
        &refused("add record"),
    );
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &ehr_types::registry::ExecuteMsg::DeleteRecord {
            record_id: roles.record_id,
        },
        &refused("delete record"),
    );
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &ehr_types::registry::ExecuteMsg::DeletePatient { patient_id: id },
        &refused("delete patient"),
    );
    // A grant on one patient says nothing about another.
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &add_record_msg(roles.other_patient_id, Category::Lab, 3),
        &refused("add record"),
    );
    suite
        .grant(&patient, id, &doctor, Scope::Manage, &[Category::Lab], None)
        .unwrap();
    suite
        .execute(
            &doctor,
            Target::Registry,
            &ehr_types::registry::ExecuteMsg::DeleteRecord {
                record_id: roles.record_id,
            },
        )
        .unwrap();
}

#[test]
fn grants_expire() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_without_grant.clone();
    let expires = suite.now().plus_seconds(10);
    suite
        .grant(
            &patient,
            id,
            &doctor,
            Scope::Write,
            &[Category::Lab],
            Some(expires),
        )
        .unwrap();
    suite
        .add_record(&doctor, id, Category::Lab, sample_blob(1))
        .unwrap();
    suite.advance_time(10);
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &add_record_msg(id, Category::Lab, 2),
        &RegistryError::unauthorized("add record").to_string(),
    );
    let now = suite.now();
    let err = suite.grant(
        &patient,
        id,
        &doctor,
        Scope::Read,
        &[Category::Lab],
        Some(now),
    );
    assert_eq!(
        ehr_testing::error_text(&err.unwrap_err()),
        AccessError::ExpiryInPast { expires: now }.to_string()
    );
}

#[test]
fn grant_input_is_checked() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_without_grant.clone();
    let grant =
        |categories: Vec<Category>, key_envelopes: Vec<KeyEnvelope>| access::ExecuteMsg::Grant {
            patient_id: id,
            grantee: doctor.to_string(),
            scope: Scope::Read,
            categories,
            expires: None,
            key_envelopes,
        };
    let cases = vec![
        (grant(vec![], vec![]), AccessError::NoCategories.to_string()),
        (
            grant(vec![Category::Lab, Category::Note, Category::Lab], vec![]),
            AccessError::DuplicateCategory {
                category: Category::Lab,
            }
            .to_string(),
        ),
        (
            grant(
                vec![Category::Lab],
                vec![sample_envelope(Category::Note, 0)],
            ),
            AccessError::EnvelopeCategoryNotGranted {
                category: Category::Note,
            }
            .to_string(),
        ),
        (
            grant(
                vec![Category::Lab],
                vec![KeyEnvelope {
                    category: Category::Lab,
                    epoch: 0,
                    envelope: cosmwasm_std::Binary::from(vec![0u8; 257]),
                }],
            ),
            ValidationError::InvalidEnvelope { len: 257 }.to_string(),
        ),
        (
            grant(
                vec![Category::Lab],
                vec![sample_envelope(Category::Lab, 0); MAX_ENVELOPES + 1],
            ),
            ValidationError::TooManyEnvelopes.to_string(),
        ),
    ];
    for (msg, expected) in cases {
        suite.execute_expecting_error(&patient, Target::Access, &msg, &expected);
    }
    let to = |grantee: &cosmwasm_std::Addr, patient_id| access::ExecuteMsg::Grant {
        patient_id,
        grantee: grantee.to_string(),
        scope: Scope::Read,
        categories: vec![Category::Lab],
        expires: None,
        key_envelopes: vec![],
    };
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &to(&patient, id),
        &AccessError::CannotGrantSelf.to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &to(&roles.stranger, id),
        &AccessError::NotCredentialed {
            address: roles.stranger.to_string(),
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &to(&doctor, 77),
        &AccessError::PatientNotFound { patient_id: 77 }.to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::Grant {
            patient_id: id,
            grantee: "not-an-address".into(),
            scope: Scope::Read,
            categories: vec![Category::Lab],
            expires: None,
            key_envelopes: vec![],
        },
        &AccessError::InvalidAddress {
            address: "not-an-address".into(),
        }
        .to_string(),
    );
}

#[test]
fn revoke_moves_the_revoked_categories_to_a_new_epoch() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let epochs = |suite: &Suite| {
        let response: EpochsResponse = suite
            .query(Target::Access, &access::QueryMsg::Epochs { patient_id: id })
            .unwrap();
        response.epochs
    };
    // The role set-up already revoked one all-category grant: every category is at epoch 1.
    assert!(epochs(&suite).iter().all(|e| e.epoch == 1));
    let doctor = roles.doctor_without_grant.clone();
    suite
        .grant(
            &patient,
            id,
            &doctor,
            Scope::Read,
            &[Category::Lab, Category::Imaging],
            None,
        )
        .unwrap();
    assert!(suite.grant_of(id, &doctor).is_some());
    suite.revoke(&patient, id, &doctor).unwrap();
    assert_eq!(suite.grant_of(id, &doctor), None);
    let after = epochs(&suite);
    assert!(after.contains(&CategoryEpoch {
        category: Category::Lab,
        epoch: 2
    }));
    assert!(after.contains(&CategoryEpoch {
        category: Category::Imaging,
        epoch: 2
    }));
    assert!(after.contains(&CategoryEpoch {
        category: Category::Note,
        epoch: 1
    }));
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::Revoke {
            patient_id: id,
            grantee: doctor.to_string(),
        },
        &AccessError::GrantNotFound {
            patient_id: id,
            grantee: doctor.to_string(),
        }
        .to_string(),
    );
}

#[test]
fn requests_are_approved_into_grants_or_denied() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_without_grant.clone();
    let approve = access::ExecuteMsg::ApproveRequest {
        request_id: roles.request_id,
        expires: None,
        key_envelopes: vec![sample_envelope(Category::Lab, 1)],
    };
    suite.execute(&patient, Target::Access, &approve).unwrap();
    let grant = suite
        .grant_of(id, &doctor)
        .expect("approved request is a grant");
    assert_eq!(
        (grant.scope, grant.categories.clone()),
        (Scope::Read, vec![Category::Lab])
    );
    assert_eq!(grant.key_envelopes, vec![sample_envelope(Category::Lab, 1)]);
    let decided = AccessError::RequestNotPending {
        request_id: roles.request_id,
    }
    .to_string();
    suite.execute_expecting_error(&patient, Target::Access, &approve, &decided);
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::DenyRequest {
            request_id: roles.request_id,
        },
        &decided,
    );

    let second = suite
        .request_access(&doctor, id, Scope::Write, &[Category::Note])
        .unwrap();
    suite
        .execute(
            &patient,
            Target::Access,
            &access::ExecuteMsg::DenyRequest { request_id: second },
        )
        .unwrap();
    let mine: RequestsResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::RequestsByRequester {
                requester: doctor.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    let statuses: Vec<_> = mine.requests.iter().map(|r| (r.id, r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (roles.request_id, RequestStatus::Approved),
            (second, RequestStatus::Denied)
        ]
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::DenyRequest { request_id: 42 },
        &AccessError::RequestNotFound { request_id: 42 }.to_string(),
    );
}

#[test]
fn emergency_access_is_read_only_time_boxed_and_audited() {
    let (mut suite, roles) = Suite::with_roles();
    let id = roles.patient_id;
    let doctor = roles.doctor_without_grant.clone();
    let permission = |suite: &Suite, scope| -> PermissionResponse {
        suite
            .query(
                Target::Access,
                &access::QueryMsg::Permission {
                    patient_id: id,
                    actor: doctor.to_string(),
                    scope,
                    category: Some(Category::Note),
                },
            )
            .unwrap()
    };
    assert_eq!(
        permission(&suite, Scope::Read),
        PermissionResponse {
            allowed: false,
            emergency: false
        }
    );
    suite
        .execute(
            &doctor,
            Target::Access,
            &access::ExecuteMsg::EmergencyAccess { patient_id: id },
        )
        .unwrap();
    assert_eq!(
        permission(&suite, Scope::Read),
        PermissionResponse {
            allowed: true,
            emergency: true
        }
    );
    assert!(!permission(&suite, Scope::Write).allowed);
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &add_record_msg(id, Category::Note, 1),
        &RegistryError::unauthorized("add record").to_string(),
    );
    let last = suite.audit_log(id).pop().unwrap();
    assert_eq!(last.actor, doctor);
    assert!(matches!(last.action, AuditAction::EmergencyAccess { .. }));
    suite.advance_time(3600);
    assert!(
        !permission(&suite, Scope::Read).allowed,
        "emergency access ends"
    );
}

#[test]
fn the_audit_log_records_every_permission_change_and_write_in_order() {
    let mut suite = Suite::new();
    let [patient, doctor] = ["patient", "doctor"].map(|n| suite.addr(n));
    suite.credential(&doctor);
    let id = suite.register_patient(&patient).unwrap();
    suite
        .grant(&patient, id, &doctor, Scope::Write, &[Category::Lab], None)
        .unwrap();
    let record = suite
        .add_record(&doctor, id, Category::Lab, sample_blob(1))
        .unwrap();
    suite
        .update_record(&doctor, record, sample_blob(2))
        .unwrap();
    let request = suite
        .request_access(&doctor, id, Scope::Read, &[Category::Note])
        .unwrap();
    suite
        .execute(
            &patient,
            Target::Access,
            &access::ExecuteMsg::DenyRequest {
                request_id: request,
            },
        )
        .unwrap();
    suite.revoke(&patient, id, &doctor).unwrap();
    suite.delete_patient(&patient, id).unwrap();

    let log: Vec<_> = suite
        .audit_log(id)
        .into_iter()
        .map(|e| (e.seq, e.actor, e.action))
        .collect();
    let expected = vec![
        (1, patient.clone(), AuditAction::PatientRegistered {}),
        (
            2,
            patient.clone(),
            AuditAction::AccessGranted {
                grantee: doctor.clone(),
                scope: Scope::Write,
                categories: vec![Category::Lab],
            },
        ),
        (
            3,
            doctor.clone(),
            AuditAction::RecordAdded {
                record_id: record,
                category: Category::Lab,
            },
        ),
        (
            4,
            doctor.clone(),
            AuditAction::RecordUpdated {
                record_id: record,
                version: 2,
            },
        ),
        (
            5,
            doctor.clone(),
            AuditAction::AccessRequested {
                request_id: request,
            },
        ),
        (
            6,
            patient.clone(),
            AuditAction::RequestDenied {
                request_id: request,
            },
        ),
        (
            7,
            patient.clone(),
            AuditAction::AccessRevoked {
                grantee: doctor.clone(),
            },
        ),
        (8, patient.clone(), AuditAction::PatientDeleted {}),
    ];
    assert_eq!(log, expected);
}

/// The patients whose grants a doctor holds (the doctor dashboard's "my patients").
fn patients_of(suite: &Suite, doctor: &cosmwasm_std::Addr) -> Vec<u64> {
    let page: GrantsResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::GrantsByGrantee {
                grantee: doctor.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    page.grants.iter().map(|g| g.patient_id).collect()
}

#[test]
fn doctors_find_their_patients_through_their_grants() {
    let (suite, roles) = Suite::with_roles();
    let mine = patients_of(&suite, &roles.doctor_with_grant);
    assert_eq!(mine, vec![roles.patient_id]);
    let of_patient: GrantsResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::GrantsByPatient {
                patient_id: roles.patient_id,
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    // with_grant, expired, uncredentialed (revoked grant removed).
    assert_eq!(of_patient.grants.len(), 3);
}

fn grants_of(suite: &Suite, patient_id: u64) -> Vec<String> {
    let page: GrantsResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::GrantsByPatient {
                patient_id,
                start_after: None,
                limit: Some(100),
            },
        )
        .unwrap();
    page.grants.iter().map(|g| g.grantee.to_string()).collect()
}

#[test]
fn a_deleted_patients_grants_are_purged_in_bounded_steps() {
    let (mut suite, roles) = Suite::with_roles();
    let purge = |limit| access::ExecuteMsg::PurgeDeletedGrants {
        patient_id: roles.patient_id,
        limit,
    };
    let stranger = roles.stranger.clone();
    suite.execute_expecting_error(
        &stranger,
        Target::Access,
        &purge(None),
        &AccessError::PatientNotDeleted {
            patient_id: roles.patient_id,
        }
        .to_string(),
    );
    suite
        .delete_patient(&roles.patient, roles.patient_id)
        .unwrap();
    assert_eq!(grants_of(&suite, roles.patient_id).len(), 3);

    let removed = |suite: &mut Suite, limit| {
        let response = suite
            .execute(&stranger, Target::Access, &purge(limit))
            .unwrap();
        ehr_testing::attribute_id(&response, "removed")
    };
    assert_eq!(removed(&mut suite, Some(2)), 2);
    assert_eq!(grants_of(&suite, roles.patient_id).len(), 1);
    assert_eq!(removed(&mut suite, None), 1);
    assert_eq!(removed(&mut suite, None), 0);
    assert!(grants_of(&suite, roles.patient_id).is_empty());
    let listed = patients_of(&suite, &roles.doctor_with_grant);
    assert!(
        listed.is_empty(),
        "the doctor's listing drops the deleted patient"
    );
    // Other patients' grants are untouched.
    suite
        .grant(
            &roles.other_patient,
            roles.other_patient_id,
            &roles.doctor_with_grant,
            Scope::Read,
            &[Category::Lab],
            None,
        )
        .unwrap();
    assert_eq!(removed(&mut suite, None), 0);
    assert_eq!(grants_of(&suite, roles.other_patient_id).len(), 1);
}

#[test]
fn admins_settings_are_validated() {
    let (mut suite, roles) = Suite::with_roles();
    let admin = roles.admin.clone();
    suite.execute_expecting_error(
        &admin,
        Target::Access,
        &access::ExecuteMsg::UpdateConfig {
            admin: None,
            emergency_access_seconds: Some(0),
        },
        &AccessError::InvalidEmergencyDuration { max: 7 * 24 * 3600 }.to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Access,
        &access::ExecuteMsg::UpdateConfig {
            admin: None,
            emergency_access_seconds: None,
        },
        &AccessError::NothingToUpdate.to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &ehr_types::registry::ExecuteMsg::UpdateConfig {
            admin: None,
            access_contract: None,
        },
        &RegistryError::NothingToUpdate.to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &ehr_types::registry::ExecuteMsg::CredentialProvider {
            address: roles.doctor_with_grant.to_string(),
        },
        &RegistryError::AlreadyCredentialed {
            address: roles.doctor_with_grant.to_string(),
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &ehr_types::registry::ExecuteMsg::RevokeProvider {
            address: roles.stranger.to_string(),
        },
        &RegistryError::NotCredentialed {
            address: roles.stranger.to_string(),
        }
        .to_string(),
    );
}

#[test]
fn own_envelopes_are_stored_once_and_listed_by_category_and_epoch() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let store = |envelopes: Vec<KeyEnvelope>| access::ExecuteMsg::StoreOwnEnvelopes {
        patient_id: id,
        key_envelopes: envelopes,
    };
    let first = vec![
        sample_envelope(Category::Lab, 0),
        sample_envelope(Category::Note, 0),
    ];
    suite
        .execute(&patient, Target::Access, &store(first))
        .unwrap();
    suite
        .execute(
            &patient,
            Target::Access,
            &store(vec![sample_envelope(Category::Lab, 1)]),
        )
        .unwrap();
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &store(vec![
            sample_envelope(Category::Imaging, 0),
            sample_envelope(Category::Lab, 1),
        ]),
        &AccessError::EnvelopeExists {
            category: Category::Lab,
            epoch: 1,
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &store(vec![KeyEnvelope {
            category: Category::Lab,
            epoch: 2,
            envelope: cosmwasm_std::Binary::default(),
        }]),
        &ValidationError::InvalidEnvelope { len: 0 }.to_string(),
    );
    let listed = |category| -> Vec<(Category, u32)> {
        let response: access::OwnEnvelopesResponse = suite
            .query(
                Target::Access,
                &access::QueryMsg::OwnEnvelopes {
                    patient_id: id,
                    category,
                },
            )
            .unwrap();
        response
            .key_envelopes
            .into_iter()
            .map(|e| (e.category, e.epoch))
            .collect()
    };
    assert_eq!(
        listed(None),
        vec![(Category::Note, 0), (Category::Lab, 0), (Category::Lab, 1)]
    );
    assert_eq!(
        listed(Some(Category::Lab)),
        vec![(Category::Lab, 0), (Category::Lab, 1)]
    );
    assert_eq!(listed(Some(Category::Imaging)), vec![]);
}
