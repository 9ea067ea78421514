//! Grants scoped by category with expiry and envelopes, key holders, stale epochs and key
//! rotation, requests, emergency access and the audit log.

use cosmwasm_std::Addr;
use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{sample_blob, sample_envelope, Suite, Target};
use ehr_types::access::{
    self, CategoryEpoch, EpochsResponse, GrantsResponse, KeyEnvelope, PermissionResponse,
    RequestStatus, RequestsResponse, Scope,
};
use ehr_types::validate::{MAX_ENVELOPES, MAX_KEY_HOLDERS};
use ehr_types::{AuditAction, Category, ValidationError};

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
        &suite.add_record_msg(id, Category::Lab, sample_blob(1)),
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
        &suite.add_record_msg(id, Category::Note, sample_blob(2)),
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
        &suite.add_record_msg(roles.other_patient_id, Category::Lab, sample_blob(3)),
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
        &suite.add_record_msg(id, Category::Lab, sample_blob(2)),
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
            AccessError::Validation(ValidationError::InvalidEnvelope { len: 257 }).to_string(),
        ),
        (
            grant(
                vec![Category::Lab],
                vec![sample_envelope(Category::Lab, 0); MAX_ENVELOPES + 1],
            ),
            AccessError::Validation(ValidationError::TooManyEnvelopes).to_string(),
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

/// (address, entitled) of each holder of a category's current epoch, and whether it is stale.
fn holders_of(suite: &Suite, patient_id: u64, category: Category) -> (Vec<(Addr, bool)>, bool) {
    let response = suite.key_holders(patient_id, category);
    let holders = response
        .holders
        .into_iter()
        .map(|holder| (holder.address, holder.entitled))
        .collect();
    (holders, response.stale)
}

fn epochs_of(suite: &Suite, patient_id: u64) -> Vec<CategoryEpoch> {
    let response: EpochsResponse = suite
        .query(Target::Access, &access::QueryMsg::Epochs { patient_id })
        .unwrap();
    response.epochs
}

fn stale_write(category: Category, epoch: u32) -> String {
    RegistryError::StaleKeyEpoch { category, epoch }.to_string()
}

#[test]
fn revoke_leaves_the_epoch_stale_until_a_rotation_opens_the_next() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let with_grant = roles.doctor_with_grant.clone();
    // The role set-up rotated every category after its revoke: every category is at epoch 1.
    let at_one: Vec<CategoryEpoch> = Category::ALL
        .iter()
        .map(|&category| CategoryEpoch { category, epoch: 1 })
        .collect();
    let mut sorted = epochs_of(&suite, id);
    sorted.sort_by_key(|e| e.category.code());
    assert_eq!(sorted, at_one);
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
    assert_eq!(
        holders_of(&suite, id, Category::Lab),
        (
            vec![(with_grant.clone(), true), (doctor.clone(), true)],
            false
        )
    );
    suite.revoke(&patient, id, &doctor).unwrap();
    assert_eq!(suite.grant_of(id, &doctor), None);
    let mut after = epochs_of(&suite, id);
    after.sort_by_key(|e| e.category.code());
    assert_eq!(after, at_one, "a revoke moves no epoch");
    for category in [Category::Lab, Category::Imaging] {
        assert_eq!(
            holders_of(&suite, id, category),
            (
                vec![(with_grant.clone(), true), (doctor.clone(), false)],
                true
            ),
            "{category:?}: the revoked doctor still holds the key"
        );
    }
    assert_eq!(
        holders_of(&suite, id, Category::Note),
        (vec![(with_grant.clone(), true)], false)
    );
    suite.execute_expecting_error(
        &patient,
        Target::Registry,
        &suite.add_record_msg(id, Category::Lab, sample_blob(1)),
        &stale_write(Category::Lab, 1),
    );
    suite
        .add_record(&patient, id, Category::Note, sample_blob(2))
        .unwrap();

    suite.rotate_key(&patient, id, Category::Lab).unwrap();
    assert_eq!(suite.epoch(id, Category::Lab), 2);
    assert_eq!(
        holders_of(&suite, id, Category::Lab),
        (vec![(with_grant.clone(), true)], false)
    );
    assert!(
        holders_of(&suite, id, Category::Imaging).1,
        "Imaging not rotated yet"
    );
    // What the former grantee was handed stays listed, and nothing of epoch 2 is among it.
    assert_eq!(
        suite.key_envelopes(id, &doctor, None),
        vec![
            sample_envelope(Category::Lab, 1),
            sample_envelope(Category::Imaging, 1)
        ]
    );
    suite
        .add_record(&patient, id, Category::Lab, sample_blob(3))
        .unwrap();
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
fn envelopes_of_the_current_epoch_make_holders_and_future_epochs_are_refused() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_without_grant.clone();
    let grant = |key_envelopes| access::ExecuteMsg::Grant {
        patient_id: id,
        grantee: doctor.to_string(),
        scope: Scope::Read,
        categories: vec![Category::Lab, Category::Note],
        expires: None,
        key_envelopes,
    };
    let ahead = AccessError::EnvelopeEpochAhead {
        category: Category::Lab,
        epoch: 2,
        current: 1,
    }
    .to_string();
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &grant(vec![
            sample_envelope(Category::Note, 1),
            sample_envelope(Category::Lab, 2),
        ]),
        &ahead,
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::ApproveRequest {
            request_id: roles.request_id,
            expires: None,
            key_envelopes: vec![sample_envelope(Category::Lab, 2)],
        },
        &ahead,
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::StoreOwnEnvelopes {
            patient_id: id,
            key_envelopes: vec![sample_envelope(Category::Lab, 2)],
        },
        &ahead,
    );

    // An older epoch's key is stored for the grantee (to open older files) without making it
    // a holder of the current one; the current epoch's key does.
    let with_grant = roles.doctor_with_grant.clone();
    suite
        .execute(
            &patient,
            Target::Access,
            &grant(vec![
                sample_envelope(Category::Lab, 0),
                sample_envelope(Category::Note, 1),
            ]),
        )
        .unwrap();
    assert_eq!(
        holders_of(&suite, id, Category::Lab),
        (vec![(with_grant.clone(), true)], false)
    );
    assert_eq!(
        holders_of(&suite, id, Category::Note),
        (
            vec![(with_grant.clone(), true), (doctor.clone(), true)],
            false
        )
    );
    assert_eq!(
        suite.key_envelopes(id, &doctor, None),
        vec![
            sample_envelope(Category::Note, 1),
            sample_envelope(Category::Lab, 0)
        ]
    );
    assert_eq!(
        suite.key_envelopes(id, &doctor, Some(Category::Lab)),
        vec![sample_envelope(Category::Lab, 0)]
    );
    // Pages: one envelope per page, in (category, epoch) order, the category filter kept.
    let page = |category, start_after| -> Vec<KeyEnvelope> {
        let response: access::KeyEnvelopesResponse = suite
            .query(
                Target::Access,
                &access::QueryMsg::KeyEnvelopes {
                    patient_id: id,
                    holder: with_grant.to_string(),
                    category,
                    start_after,
                    limit: Some(1),
                },
            )
            .unwrap();
        response.key_envelopes
    };
    let first = page(Some(Category::Lab), None);
    assert_eq!(first, vec![sample_envelope(Category::Lab, 0)]);
    let after = CategoryEpoch {
        category: Category::Lab,
        epoch: 0,
    };
    assert_eq!(
        page(Some(Category::Lab), Some(after)),
        vec![sample_envelope(Category::Lab, 1)]
    );
    let last = CategoryEpoch {
        category: Category::Lab,
        epoch: 1,
    };
    assert_eq!(page(Some(Category::Lab), Some(last)), vec![]);
    assert_eq!(
        page(None, Some(last)),
        vec![sample_envelope(Category::Imaging, 0)]
    );
    // A grant's envelopes must be of the granted categories.
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::Grant {
            patient_id: id,
            grantee: doctor.to_string(),
            scope: Scope::Read,
            categories: vec![Category::Note],
            expires: None,
            key_envelopes: vec![sample_envelope(Category::Lab, 1)],
        },
        &AccessError::EnvelopeCategoryNotGranted {
            category: Category::Lab,
        }
        .to_string(),
    );
}

/// The doctor is the only holder of the patient's Lab and Note keys besides `doctor_with_grant`.
fn holder_of_lab_and_note(name: &str) -> (Suite, ehr_testing::Roles, Addr) {
    let (mut suite, roles) = Suite::with_roles();
    let doctor = suite.addr(name);
    suite.credential(&doctor);
    let both = [Category::Lab, Category::Note];
    let (patient, id) = (&roles.patient, roles.patient_id);
    suite
        .grant(patient, id, &doctor, Scope::Read, &both, None)
        .unwrap();
    for category in both {
        assert!(!holders_of(&suite, id, category).1);
    }
    (suite, roles, doctor)
}

/// Lab is stale and refuses writes, because `doctor` holds its key and may no longer read it.
fn assert_lab_stale_because_of(suite: &mut Suite, roles: &ehr_testing::Roles, doctor: &Addr) {
    let id = roles.patient_id;
    assert_eq!(
        holders_of(suite, id, Category::Lab),
        (
            vec![
                (roles.doctor_with_grant.clone(), true),
                (doctor.clone(), false)
            ],
            true
        )
    );
    suite.execute_expecting_error(
        &roles.patient,
        Target::Registry,
        &suite.add_record_msg(id, Category::Lab, sample_blob(70)),
        &stale_write(Category::Lab, 1),
    );
    suite.execute_expecting_error(
        &roles.doctor_with_grant,
        Target::Registry,
        &suite
            .update_record_msg(roles.record_id, sample_blob(71))
            .unwrap(),
        &stale_write(Category::Lab, 1),
    );
}

#[test]
fn an_epoch_goes_stale_when_a_holder_loses_the_right_to_read() {
    // A narrower re-grant: Note stays readable, Lab does not.
    let (mut suite, roles, doctor) = holder_of_lab_and_note("narrowed");
    suite
        .grant(
            &roles.patient,
            roles.patient_id,
            &doctor,
            Scope::Read,
            &[Category::Note],
            None,
        )
        .unwrap();
    assert_lab_stale_because_of(&mut suite, &roles, &doctor);
    assert!(!holders_of(&suite, roles.patient_id, Category::Note).1);
    suite
        .add_record(
            &roles.patient,
            roles.patient_id,
            Category::Note,
            sample_blob(72),
        )
        .unwrap();

    // Expiry: stale from the second the grant ends, not before.
    let (mut suite, roles, doctor) = holder_of_lab_and_note("expiring");
    let ends = suite.now().plus_seconds(10);
    let both = [Category::Lab, Category::Note];
    suite
        .grant(
            &roles.patient,
            roles.patient_id,
            &doctor,
            Scope::Read,
            &both,
            Some(ends),
        )
        .unwrap();
    suite.advance_time(9);
    assert!(!holders_of(&suite, roles.patient_id, Category::Lab).1);
    suite.advance_time(1);
    assert_lab_stale_because_of(&mut suite, &roles, &doctor);
    assert!(holders_of(&suite, roles.patient_id, Category::Note).1);

    // Credential withdrawal in the registry: stale while withdrawn, fresh again once restored.
    let (mut suite, roles, doctor) = holder_of_lab_and_note("withdrawn");
    suite.decredential(&doctor);
    assert_lab_stale_because_of(&mut suite, &roles, &doctor);
    assert!(holders_of(&suite, roles.patient_id, Category::Note).1);
    suite.credential(&doctor);
    assert!(!holders_of(&suite, roles.patient_id, Category::Lab).1);

    // Revoke.
    let (mut suite, roles, doctor) = holder_of_lab_and_note("revoked-now");
    suite
        .revoke(&roles.patient, roles.patient_id, &doctor)
        .unwrap();
    assert_lab_stale_because_of(&mut suite, &roles, &doctor);
}

#[test]
fn an_emergency_reader_holding_the_key_is_kept_by_a_rotation_until_the_window_ends() {
    let (mut suite, roles, doctor) = holder_of_lab_and_note("emergency");
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    suite.set_emergency_categories(&patient, id, &[Category::Lab]);
    suite.emergency_access(&doctor, id).unwrap();
    suite.revoke(&patient, id, &doctor).unwrap();
    // Still entitled to Lab, an emergency category, through the window: not stale.
    assert!(!holders_of(&suite, id, Category::Lab).1);
    // Note is not one: the window does not undo the revoke there.
    assert!(holders_of(&suite, id, Category::Note).1);
    suite
        .revoke(&patient, id, &roles.doctor_with_grant)
        .unwrap();
    assert!(holders_of(&suite, id, Category::Lab).1);
    // The rotation the client builds from `Readers` must keep the emergency reader.
    assert_eq!(suite.readers(id, Category::Lab), vec![doctor.clone()]);
    suite.rotate_key(&patient, id, Category::Lab).unwrap();
    assert_eq!(
        holders_of(&suite, id, Category::Lab),
        (vec![(doctor.clone(), true)], false)
    );
    // The window ends: the reader it let in makes the epoch stale.
    suite.advance_time(3600);
    assert_eq!(
        holders_of(&suite, id, Category::Lab),
        (vec![(doctor.clone(), false)], true)
    );
    assert!(suite.readers(id, Category::Lab).is_empty());
    suite.rotate_key(&patient, id, Category::Lab).unwrap();
    assert_eq!(holders_of(&suite, id, Category::Lab), (vec![], false));
    assert_eq!(suite.epoch(id, Category::Lab), 3);
}

#[test]
fn rotate_key_refusals_leave_state_unchanged() {
    let (mut suite, roles, holder) = holder_of_lab_and_note("holder");
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let with_grant = roles.doctor_with_grant.clone();
    let lab = Category::Lab;
    // A doctor once granted Lab, now Note only.
    let narrowed = suite.addr("narrowed");
    suite.credential(&narrowed);
    suite
        .grant(
            &patient,
            id,
            &narrowed,
            Scope::Read,
            &[lab, Category::Note],
            None,
        )
        .unwrap();
    suite
        .grant(
            &patient,
            id,
            &narrowed,
            Scope::Read,
            &[Category::Note],
            None,
        )
        .unwrap();
    let emergency_only = suite.addr("emergency-only");
    suite.credential(&emergency_only);
    suite.emergency_access(&emergency_only, id).unwrap();
    let entitled = [with_grant.clone(), holder.clone()];
    let rotate =
        |epoch, recipients: &[Addr]| ehr_testing::rotate_key_msg(id, lab, epoch, recipients);
    let with = |extra: &Addr| [with_grant.clone(), holder.clone(), extra.clone()];
    let not_entitled = |recipient: &Addr| {
        AccessError::RecipientNotEntitled {
            recipient: recipient.to_string(),
            category: lab,
        }
        .to_string()
    };
    let duplicate = |recipient: &Addr| {
        AccessError::DuplicateRecipient {
            recipient: recipient.to_string(),
        }
        .to_string()
    };
    let mismatch = |got| {
        AccessError::EpochMismatch {
            category: lab,
            expected: 2,
            got,
        }
        .to_string()
    };
    let many: Vec<Addr> = (0..33).map(|n| suite.addr(&format!("many{n}"))).collect();
    let mut bad_envelope = rotate(2, &entitled);
    if let access::ExecuteMsg::RotateKey { own_envelope, .. } = &mut bad_envelope {
        *own_envelope = cosmwasm_std::Binary::default();
    }
    let refused_from_patient = vec![
        ("current epoch", rotate(1, &entitled), mismatch(1)),
        ("epoch skipped", rotate(3, &entitled), mismatch(3)),
        (
            "expired",
            rotate(2, &with(&roles.doctor_expired_grant)),
            not_entitled(&roles.doctor_expired_grant),
        ),
        (
            "narrowed",
            rotate(2, &with(&narrowed)),
            not_entitled(&narrowed),
        ),
        (
            "revoked",
            rotate(2, &with(&roles.doctor_revoked)),
            not_entitled(&roles.doctor_revoked),
        ),
        (
            "uncredentialed",
            rotate(2, &with(&roles.uncredentialed)),
            not_entitled(&roles.uncredentialed),
        ),
        (
            "never granted",
            rotate(2, &with(&roles.stranger)),
            not_entitled(&roles.stranger),
        ),
        ("duplicate", rotate(2, &with(&holder)), duplicate(&holder)),
        ("owner", rotate(2, &with(&patient)), duplicate(&patient)),
        (
            "holder left out",
            rotate(2, std::slice::from_ref(&with_grant)),
            AccessError::HolderLeftOut {
                holder: holder.to_string(),
                category: lab,
            }
            .to_string(),
        ),
        (
            "33 recipients",
            rotate(2, &many),
            AccessError::TooManyKeyHolders {
                category: lab,
                max: 32,
            }
            .to_string(),
        ),
        (
            "empty own envelope",
            bad_envelope,
            AccessError::Validation(ehr_types::ValidationError::InvalidEnvelope { len: 0 })
                .to_string(),
        ),
    ];
    for (what, msg, expected) in refused_from_patient {
        let what = format!("{what}: {msg:?}");
        suite.assert_refused(&what, &expected, |suite| {
            suite.execute(&patient, Target::Access, &msg)
        });
    }
    // Only the patient and credentialed doctors with Write on the category rotate.
    let writer_only = AccessError::unauthorized("rotate key").to_string();
    for sender in [
        &holder,
        &emergency_only,
        &roles.doctor_expired_grant,
        &roles.uncredentialed,
        &roles.other_patient,
        &roles.admin,
    ] {
        suite.execute_expecting_error(sender, Target::Access, &rotate(2, &entitled), &writer_only);
    }
    // A pending patient has no keys to rotate.
    let pending = suite.propose_patient(&with_grant, &roles.stranger).unwrap();
    suite.execute_expecting_error(
        &roles.stranger,
        Target::Access,
        &ehr_testing::rotate_key_msg(pending, lab, 1, &[]),
        &AccessError::PatientNotActive {
            patient_id: pending,
        }
        .to_string(),
    );
    // The right rotation, once: it is the refused ones' content that was wrong.
    suite
        .execute(&patient, Target::Access, &rotate(2, &entitled))
        .unwrap();
    assert_eq!(
        holders_of(&suite, id, lab),
        (
            vec![(with_grant.clone(), true), (holder.clone(), true)],
            false
        )
    );
    // The emergency-only doctor may read only the patient's emergency categories: it may be
    // handed Lab's key (though not rotate) once Lab is one, not before.
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &rotate(3, &with(&emergency_only)),
        &not_entitled(&emergency_only),
    );
    suite.set_emergency_categories(&patient, id, &[lab]);
    let mut msg = rotate(3, &with(&emergency_only));
    if let access::ExecuteMsg::RotateKey { escrow, .. } = &mut msg {
        *escrow = suite.sample_shares(lab, 3);
    }
    suite.execute(&patient, Target::Access, &msg).unwrap();
    assert_eq!(suite.key_holders(id, lab).holders.len(), 3);
}

#[test]
fn a_rotation_stores_every_envelope_and_the_writing_doctor_becomes_a_holder() {
    let (mut suite, roles, reader) = holder_of_lab_and_note("reader");
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    // A writer whose grant came without envelopes: not a holder of the current epoch.
    let writer = suite.addr("writer");
    suite.credential(&writer);
    let grant = access::ExecuteMsg::Grant {
        patient_id: id,
        grantee: writer.to_string(),
        scope: Scope::Write,
        categories: vec![Category::Lab],
        expires: None,
        key_envelopes: vec![],
    };
    suite.execute(&patient, Target::Access, &grant).unwrap();
    let entitled = [roles.doctor_with_grant.clone(), reader.clone()];
    let msg = ehr_testing::rotate_key_msg(id, Category::Lab, 2, &entitled);
    suite.execute(&writer, Target::Access, &msg).unwrap();
    assert_eq!(
        holders_of(&suite, id, Category::Lab),
        (
            vec![
                (roles.doctor_with_grant.clone(), true),
                (reader.clone(), true),
                (writer.clone(), true)
            ],
            false
        ),
        "the writer knows the key it seals with"
    );
    for recipient in &entitled {
        let handed = suite.key_envelopes(id, recipient, Some(Category::Lab));
        assert_eq!(handed.last(), Some(&sample_envelope(Category::Lab, 2)));
    }
    assert!(suite.key_envelopes(id, &writer, None).is_empty());
    let own: access::OwnEnvelopesResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::OwnEnvelopes {
                patient_id: id,
                category: Some(Category::Lab),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    assert_eq!(
        own.key_envelopes,
        vec![
            sample_envelope(Category::Lab, 1),
            sample_envelope(Category::Lab, 2)
        ]
    );
    let last = suite.audit_log(id).pop().unwrap();
    assert_eq!(
        (last.actor, last.action),
        (
            writer,
            AuditAction::KeyRotated {
                category: Category::Lab,
                epoch: 2,
                holders: 3
            }
        )
    );
    // Other categories keep their epoch and holders.
    assert_eq!(suite.epoch(id, Category::Note), 1);
    assert_eq!(suite.key_holders(id, Category::Note).holders.len(), 2);
}

#[test]
fn a_category_has_at_most_32_key_holders() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    // doctor_with_grant holds every key: 31 more reach the cap.
    let doctors: Vec<Addr> = (0..33).map(|n| suite.addr(&format!("doctor{n}"))).collect();
    for doctor in &doctors {
        suite.credential(doctor);
    }
    for doctor in &doctors[..31] {
        suite
            .grant(&patient, id, doctor, Scope::Read, &[Category::Lab], None)
            .unwrap();
    }
    assert_eq!(
        suite.key_holders(id, Category::Lab).holders.len(),
        MAX_KEY_HOLDERS
    );
    let full = AccessError::TooManyKeyHolders {
        category: Category::Lab,
        max: MAX_KEY_HOLDERS,
    }
    .to_string();
    let grant = |grantee: &Addr, scope, key_envelopes| access::ExecuteMsg::Grant {
        patient_id: id,
        grantee: grantee.to_string(),
        scope,
        categories: vec![Category::Lab],
        expires: None,
        key_envelopes,
    };
    let current = vec![sample_envelope(Category::Lab, 1)];
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &grant(&doctors[31], Scope::Read, current.clone()),
        &full,
    );
    // A holder's re-grant adds no holder; a grant without the current key adds none either.
    let again = grant(&doctors[0], Scope::Read, current);
    suite.execute(&patient, Target::Access, &again).unwrap();
    let older = grant(
        &doctors[31],
        Scope::Write,
        vec![sample_envelope(Category::Lab, 0)],
    );
    suite.execute(&patient, Target::Access, &older).unwrap();
    assert_eq!(
        suite.key_holders(id, Category::Lab).holders.len(),
        MAX_KEY_HOLDERS
    );
    // 33 parties may read Lab now; a rotation may still hand the key to 32 only.
    let mut readers = suite.readers(id, Category::Lab);
    assert_eq!(readers.len(), 33);
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &suite.rotation_msg(id, Category::Lab),
        &full,
    );
    // Nor may a writer rotate to 32 others and add itself as the 33rd holder.
    readers.retain(|reader| *reader != doctors[31]);
    let msg = ehr_testing::rotate_key_msg(id, Category::Lab, 2, &readers);
    suite.execute_expecting_error(&doctors[31], Target::Access, &msg, &full);
    assert_eq!(suite.epoch(id, Category::Lab), 1);
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
    assert_eq!(
        suite.key_envelopes(id, &doctor, None),
        vec![sample_envelope(Category::Lab, 1)]
    );
    assert!(
        suite
            .key_holders(id, Category::Lab)
            .holders
            .iter()
            .any(|h| h.address == doctor),
        "the approved envelope is of the current epoch: the doctor holds the key"
    );
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
    suite.set_emergency_categories(&roles.patient, id, &[Category::Note]);
    let permission_on = |suite: &Suite, scope, category| -> PermissionResponse {
        suite
            .query(
                Target::Access,
                &access::QueryMsg::Permission {
                    patient_id: id,
                    actor: doctor.to_string(),
                    scope,
                    category: Some(category),
                },
            )
            .unwrap()
    };
    let permission = |suite: &Suite, scope| permission_on(suite, scope, Category::Note);
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
            &access::ExecuteMsg::EmergencyAccess {
                patient_id: id,
                reason: ehr_types::escrow::EmergencyReason::IncapablePatient {},
            },
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
    // Only the patient's emergency categories open.
    assert!(!permission_on(&suite, Scope::Read, Category::Lab).allowed);
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &suite.add_record_msg(id, Category::Note, sample_blob(1)),
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
                expires: None,
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
            emergency_access_seconds: Some(0),
            recovery_wait_seconds: None,
        },
        &AccessError::InvalidEmergencyDuration { max: 7 * 24 * 3600 }.to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Access,
        &access::ExecuteMsg::UpdateConfig {
            emergency_access_seconds: None,
            recovery_wait_seconds: Some(31 * 24 * 3600),
        },
        &AccessError::InvalidRecoveryWait {
            max: 30 * 24 * 3600,
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Access,
        &access::ExecuteMsg::UpdateConfig {
            emergency_access_seconds: None,
            recovery_wait_seconds: None,
        },
        &AccessError::NothingToUpdate.to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &ehr_types::registry::ExecuteMsg::SetAccessContract {
            address: "Not An Address".into(),
        },
        &RegistryError::AccessContractAlreadySet {
            address: suite.access.to_string(),
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &ehr_testing::credential_msg(&roles.doctor_with_grant),
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

fn provider_info(suite: &Suite, doctor: &Addr) -> ehr_types::registry::ProviderInfo {
    let response: ehr_types::registry::ProviderResponse = suite
        .query(
            Target::Registry,
            &ehr_types::registry::QueryMsg::Provider {
                address: doctor.to_string(),
            },
        )
        .expect("provider query");
    response.provider.expect("a provider")
}

#[test]
fn providers_are_listed_under_a_validated_name_and_withdrawals_are_dated() {
    use ehr_types::validate::{DirectoryField, DirectoryTextRule};
    let (mut suite, roles) = Suite::with_roles();
    let admin = suite.admin.clone();
    let doctor = suite.addr("new_doctor");
    let listing = |display_name: &str, organization: &str| {
        ehr_types::registry::ExecuteMsg::CredentialProvider {
            address: doctor.to_string(),
            display_name: display_name.into(),
            organization: organization.into(),
        }
    };
    let invalid = |field, rule| {
        RegistryError::Validation(ValidationError::InvalidDirectoryText { field, rule }).to_string()
    };
    for (msg, error) in [
        (
            listing("", "St Mary"),
            invalid(DirectoryField::DisplayName, DirectoryTextRule::Empty),
        ),
        (
            listing("Dr Ana Lima", "St Mary\u{202e}\n"),
            invalid(
                DirectoryField::Organization,
                DirectoryTextRule::SurroundingSpace,
            ),
        ),
        (
            listing("Dr\tAna", "St Mary"),
            invalid(
                DirectoryField::DisplayName,
                DirectoryTextRule::ControlCharacter,
            ),
        ),
        (
            listing(&"a".repeat(65), "St Mary"),
            invalid(
                DirectoryField::DisplayName,
                DirectoryTextRule::TooLong { max_chars: 64 },
            ),
        ),
    ] {
        suite.execute_expecting_error(&admin, Target::Registry, &msg, &error);
    }
    suite
        .execute(&admin, Target::Registry, &listing("Dr Ana Lima", "St Mary"))
        .unwrap();
    let credentialed_at = suite.now();
    let listed = provider_info(&suite, &doctor);
    assert_eq!(
        (
            listed.display_name.as_str(),
            listed.organization.as_str(),
            listed.credentialed,
            listed.withdrawn_at
        ),
        ("Dr Ana Lima", "St Mary", true, None)
    );
    // Only the admin lists, and a correction keeps the credential's date.
    suite.execute_expecting_error(
        &roles.doctor_with_grant,
        Target::Registry,
        &listing("Dr Mallory", "St Mary"),
        &RegistryError::unauthorized("credential provider").to_string(),
    );
    suite.advance_time(60);
    suite
        .execute(
            &admin,
            Target::Registry,
            &listing("Dr Ana Lima", "St Mary, Cardiology"),
        )
        .unwrap();
    let corrected = provider_info(&suite, &doctor);
    assert_eq!(
        (corrected.organization.as_str(), corrected.credentialed_at),
        ("St Mary, Cardiology", credentialed_at)
    );
    suite.advance_time(60);
    suite.decredential(&doctor);
    let withdrawn = provider_info(&suite, &doctor);
    assert_eq!(
        (withdrawn.credentialed, withdrawn.withdrawn_at),
        (false, Some(suite.now()))
    );
    assert_eq!(
        withdrawn.display_name, "Dr Ana Lima",
        "the listing stays for the audit log"
    );
    suite.advance_time(60);
    suite
        .execute(&admin, Target::Registry, &listing("Dr Ana Lima", "St Luke"))
        .unwrap();
    let again = provider_info(&suite, &doctor);
    assert_eq!(
        (
            again.credentialed,
            again.withdrawn_at,
            again.credentialed_at
        ),
        (true, None, suite.now())
    );
    // The directory answers a page of addresses at once, in order, and says who is not listed.
    let lookup = |addresses: Vec<String>| {
        let query = ehr_types::registry::QueryMsg::Directory { addresses };
        suite.query::<_, ehr_types::registry::DirectoryResponse>(Target::Registry, &query)
    };
    let page = lookup(vec![roles.patient.to_string(), doctor.to_string()]).unwrap();
    let names: Vec<_> = page
        .entries
        .iter()
        .map(|e| {
            (
                e.address.clone(),
                e.provider.as_ref().map(|p| p.organization.clone()),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (roles.patient.clone(), None),
            (doctor.clone(), Some("St Luke".to_string()))
        ]
    );
    let too_many = vec![doctor.to_string(); ehr_types::registry::MAX_DIRECTORY_LOOKUP + 1];
    let err = lookup(too_many).unwrap_err();
    let expected = RegistryError::TooManyAddresses {
        count: 101,
        max: 100,
    }
    .to_string();
    assert!(err.to_string().contains(&expected), "{err}");
}

#[test]
fn own_envelopes_are_stored_once_and_listed_by_category_and_epoch() {
    let mut suite = Suite::new();
    let patient = suite.addr("patient");
    let id = suite.register_patient(&patient).unwrap();
    // The rotation stores the patient's own envelope of Lab epoch 1.
    suite.rotate_key(&patient, id, Category::Lab).unwrap();
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
        &store(vec![sample_envelope(Category::Note, 1)]),
        &AccessError::EnvelopeEpochAhead {
            category: Category::Note,
            epoch: 1,
            current: 0,
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &patient,
        Target::Access,
        &store(vec![KeyEnvelope {
            category: Category::Lab,
            epoch: 1,
            envelope: cosmwasm_std::Binary::default(),
        }]),
        &AccessError::Validation(ValidationError::InvalidEnvelope { len: 0 }).to_string(),
    );
    let listed = |category| -> Vec<(Category, u32)> {
        let response: access::OwnEnvelopesResponse = suite
            .query(
                Target::Access,
                &access::QueryMsg::OwnEnvelopes {
                    patient_id: id,
                    category,
                    start_after: None,
                    limit: None,
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
