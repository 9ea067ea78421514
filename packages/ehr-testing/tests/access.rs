//! Grants scoped by category with expiry and envelopes, key holders, stale epochs and key
//! rotation (a grantee's only when its write needs it), requests, emergency access and the
//! audit log; envelopes, shares and public keys of the one shape the chain stores; paged own
//! envelopes; what `Capabilities` and `WritePlan` answer each party.

use cosmwasm_std::Addr;
use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{sample_blob, sample_envelope, Suite, Target};
use ehr_types::access::{
    self, CategoryEpoch, EpochsResponse, GrantsResponse, KeyEnvelope, PermissionResponse,
    RequestStatus, RequestsResponse, Scope,
};
use ehr_types::registry;
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
    if let access::ExecuteMsg::RotateKey {
        escrow,
        escrow_key_commitment,
        ..
    } = &mut msg
    {
        *escrow = suite.sample_shares(lab, 3);
        *escrow_key_commitment = Some(ehr_testing::sample_commitment(lab, 3));
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

fn write_plan(
    suite: &Suite,
    patient_id: u64,
    category: Category,
    writer: &Addr,
) -> access::WritePlanResponse {
    suite
        .query(
            Target::Access,
            &access::QueryMsg::WritePlan {
                patient_id,
                category,
                writer: writer.to_string(),
            },
        )
        .unwrap()
}

fn capabilities(suite: &Suite, patient_id: u64, party: &Addr) -> access::CapabilitiesResponse {
    suite
        .query(
            Target::Access,
            &access::QueryMsg::Capabilities {
                patient_id,
                party: party.to_string(),
            },
        )
        .unwrap()
}

/// Two doctors with Write on Lab, both holders of its current key, and a reader.
fn two_writers_and_a_reader() -> (Suite, Addr, u64, [Addr; 3]) {
    let mut suite = Suite::new();
    let patient = suite.addr("patient");
    let id = suite.register_patient(&patient).unwrap();
    let doctors = ["writer a", "writer b", "reader c"].map(|name| suite.addr(name));
    for (n, doctor) in doctors.iter().enumerate() {
        suite.credential(doctor);
        let key = registry::ExecuteMsg::SetProviderKey {
            encryption_key: ehr_testing::sample_public_key(60 + n as u8),
        };
        suite.execute(doctor, Target::Registry, &key).unwrap();
        let scope = if n < 2 { Scope::Write } else { Scope::Read };
        suite
            .grant(&patient, id, doctor, scope, &[Category::Lab], None)
            .unwrap();
    }
    (suite, patient, id, doctors)
}

/// `RotateKey` of Lab's next epoch whose envelopes (the patient's and each recipient's) are
/// 80 bytes of junk: the chain cannot tell them from real ones.
fn junk_rotation(suite: &Suite, id: u64, recipients: &[Addr]) -> access::ExecuteMsg {
    let junk = cosmwasm_std::Binary::from([0xa5; ehr_types::validate::ENVELOPE_LEN]);
    access::ExecuteMsg::RotateKey {
        patient_id: id,
        category: Category::Lab,
        epoch: suite.epoch(id, Category::Lab) + 1,
        own_envelope: junk.clone(),
        envelopes: recipients
            .iter()
            .map(|recipient| access::RecipientEnvelope {
                recipient: recipient.to_string(),
                envelope: junk.clone(),
            })
            .collect(),
        escrow: vec![],
        escrow_key_commitment: None,
    }
}

/// Issue 21: a grantee opens a new epoch only when its write needs one (stale, or it holds no
/// key of the current one), or when another grantee opened the current one (whose envelope may
/// be junk); the patient always may. So a grantee cannot churn epochs, and junk it wraps never
/// locks the patient or another writer out.
#[test]
fn a_grantee_rotates_only_when_its_write_needs_a_new_epoch() {
    let (mut suite, patient, id, [a, b, c]) = two_writers_and_a_reader();
    let lab = Category::Lab;
    let not_needed = AccessError::RotationNotNeeded { category: lab }.to_string();
    let plan = write_plan(&suite, id, lab, &a);
    assert_eq!((plan.rotate, plan.may_rotate), (false, false));
    let msg = suite.rotation_msg(id, lab);
    suite.execute_expecting_error(&a, Target::Access, &msg, &not_needed);

    // The reader is revoked: Lab is stale, and a writer must rotate before it writes.
    suite.revoke(&patient, id, &c).unwrap();
    let plan = write_plan(&suite, id, lab, &a);
    assert_eq!((plan.rotate, plan.may_rotate), (true, true));
    // One new epoch per need: a second rotation in the same transaction is refused, and the
    // whole transaction with it.
    let first = suite.rotation_msg(id, lab);
    let second = ehr_testing::rotate_key_msg(id, lab, 2, &[a.clone(), b.clone()]);
    let msgs = vec![
        suite.wasm_msg(Target::Access, &first),
        suite.wasm_msg(Target::Access, &second),
    ];
    suite.assert_refused("two rotations in one transaction", &not_needed, |suite| {
        suite.execute_multi(&a, msgs)
    });

    // A junk rotation of the right length when one is needed is accepted...
    let junk = junk_rotation(&suite, id, &[a.clone(), b.clone()]);
    suite.execute(&a, Target::Access, &junk).unwrap();
    assert_eq!(suite.epoch(id, lab), 1);
    suite.execute_expecting_error(
        &a,
        Target::Access,
        &suite.rotation_msg(id, lab),
        &not_needed,
    );
    // ...and blocks nobody: the other writer may replace the key a grantee wrapped for it,
    let plan = write_plan(&suite, id, lab, &b);
    assert_eq!((plan.rotate, plan.may_rotate), (false, true));
    let record = suite
        .add_record_rotating(&b, id, lab, sample_blob(1))
        .unwrap();
    assert_eq!(suite.record(record).unwrap().latest.epoch, 2);
    // and so may the opener again, now that the other opened the current epoch.
    assert!(write_plan(&suite, id, lab, &a).may_rotate);
    // The patient always may, needed or not; an epoch it opens ends the grantees' replacing.
    let plan = write_plan(&suite, id, lab, &patient);
    assert_eq!((plan.rotate, plan.may_rotate), (false, true));
    suite.rotate_key(&patient, id, lab).unwrap();
    suite.rotate_key(&patient, id, lab).unwrap();
    assert_eq!(suite.epoch(id, lab), 4);
    for (n, writer) in [&a, &b].into_iter().enumerate() {
        let msg = suite.rotation_msg(id, lab);
        suite.execute_expecting_error(writer, Target::Access, &msg, &not_needed);
        let record = suite.add_record(writer, id, lab, sample_blob(10 + n as u64));
        assert_eq!(suite.record(record.unwrap()).unwrap().latest.epoch, 4);
    }
}

/// Issue 21: the chain stores no envelope of another length than HPKE's, no share of another
/// length than a sealed share's, and no public key a shared secret with would be all zeros.
#[test]
fn junk_envelopes_shares_and_weak_public_keys_are_refused() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let one_byte = cosmwasm_std::Binary::from_base64("AA==").unwrap();
    let short = AccessError::Validation(ValidationError::InvalidEnvelope { len: 1 }).to_string();
    let mut rotation = suite.rotation_msg(id, Category::Lab);
    if let access::ExecuteMsg::RotateKey { own_envelope, .. } = &mut rotation {
        *own_envelope = one_byte.clone();
    }
    suite.execute_expecting_error(&patient, Target::Access, &rotation, &short);
    let mut rotation = suite.rotation_msg(id, Category::Lab);
    if let access::ExecuteMsg::RotateKey { envelopes, .. } = &mut rotation {
        envelopes[0].envelope = one_byte.clone();
    }
    suite.execute_expecting_error(&patient, Target::Access, &rotation, &short);
    let one_byte_envelope = KeyEnvelope {
        category: Category::Lab,
        epoch: 1,
        envelope: one_byte.clone(),
    };
    let grant = access::ExecuteMsg::Grant {
        patient_id: id,
        grantee: roles.doctor_without_grant.to_string(),
        scope: Scope::Read,
        categories: vec![Category::Lab],
        expires: None,
        key_envelopes: vec![one_byte_envelope.clone()],
    };
    suite.execute_expecting_error(&patient, Target::Access, &grant, &short);
    let approve = access::ExecuteMsg::ApproveRequest {
        request_id: roles.request_id,
        expires: None,
        key_envelopes: vec![one_byte_envelope.clone()],
    };
    suite.execute_expecting_error(&patient, Target::Access, &approve, &short);
    let store = access::ExecuteMsg::StoreOwnEnvelopes {
        patient_id: id,
        key_envelopes: vec![KeyEnvelope {
            epoch: 0,
            ..one_byte_envelope
        }],
    };
    suite.execute_expecting_error(&patient, Target::Access, &store, &short);

    // Shares: an envelope's 80 bytes are not a sealed share's 81.
    suite.set_emergency_categories(&patient, id, &[Category::Allergy]);
    let share_of = |len: usize| {
        AccessError::Validation(ValidationError::InvalidSealedShare { len }).to_string()
    };
    let mut shares = suite.sample_shares(Category::Allergy, 1);
    shares[0].share = sample_envelope(Category::Allergy, 1).envelope;
    let escrow = access::ExecuteMsg::EscrowShares {
        patient_id: id,
        escrows: vec![ehr_types::escrow::EpochEscrow {
            category: Category::Allergy,
            epoch: 1,
            shares,
            key_commitment: ehr_testing::sample_commitment(Category::Allergy, 1),
        }],
    };
    suite.execute_expecting_error(&patient, Target::Access, &escrow, &share_of(80));
    let mut rotation = suite.rotation_msg(id, Category::Allergy);
    if let access::ExecuteMsg::RotateKey { escrow, .. } = &mut rotation {
        escrow[1].share = one_byte.clone();
    }
    suite.execute_expecting_error(&patient, Target::Access, &rotation, &share_of(1));
    // Commitments: every share and the key carry one of exactly 32 bytes; a rotation of an
    // escrowed category without the key's commitment is refused.
    let commitment_of = |len: usize| {
        AccessError::Validation(ValidationError::InvalidCommitment { len }).to_string()
    };
    let mut short_commitment = suite.sample_shares(Category::Allergy, 1);
    short_commitment[1].commitment = cosmwasm_std::Binary::from([7u8; 31]);
    let escrow = access::ExecuteMsg::EscrowShares {
        patient_id: id,
        escrows: vec![ehr_types::escrow::EpochEscrow {
            category: Category::Allergy,
            epoch: 1,
            shares: short_commitment,
            key_commitment: ehr_testing::sample_commitment(Category::Allergy, 1),
        }],
    };
    suite.execute_expecting_error(&patient, Target::Access, &escrow, &commitment_of(31));
    let mut uncommitted = suite.rotation_msg(id, Category::Allergy);
    if let access::ExecuteMsg::RotateKey {
        escrow_key_commitment,
        ..
    } = &mut uncommitted
    {
        *escrow_key_commitment = None;
    }
    suite.execute_expecting_error(&patient, Target::Access, &uncommitted, &commitment_of(0));
    suite
        .emergency_access(&roles.doctor_without_grant, id)
        .unwrap();
    let release = access::ExecuteMsg::ReleaseShares {
        patient_id: id,
        doctor: roles.doctor_without_grant.to_string(),
        shares: vec![ehr_types::escrow::ReleasedShare {
            category: Category::Allergy,
            epoch: 1,
            share: sample_envelope(Category::Allergy, 1).envelope,
        }],
    };
    suite.execute_expecting_error(&roles.trustee, Target::Access, &release, &share_of(80));

    // Public keys: the X25519 points of small order, and encodings that are not canonical.
    let p_minus_1 = {
        let mut key = [0xff; 32];
        key[0] = 0xec;
        key[31] = 0x7f;
        key
    };
    let p = {
        let mut key = p_minus_1;
        key[0] = 0xed;
        key
    };
    let order_8 = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";
    let order_8_too = "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157";
    let mut one = [0u8; 32];
    one[0] = 1;
    let weak: Vec<cosmwasm_std::Binary> = [
        [0u8; 32],
        one,
        hex_key(order_8),
        hex_key(order_8_too),
        p_minus_1,
        p,
        [0xff; 32],
    ]
    .into_iter()
    .map(cosmwasm_std::Binary::from)
    .collect();
    let in_registry = RegistryError::Validation(ValidationError::WeakPublicKey).to_string();
    let in_access = AccessError::Validation(ValidationError::WeakPublicKey).to_string();
    let newcomer = suite.addr("newcomer");
    let proposed = suite
        .propose_patient(&roles.doctor_with_grant, &newcomer)
        .unwrap();
    suite
        .execute(
            &patient,
            Target::Access,
            &access::ExecuteMsg::SetEscrowPolicy {
                patient_id: id,
                categories: vec![Category::Allergy],
                recovery: true,
            },
        )
        .unwrap();
    for key in weak {
        let registry_msgs = [
            registry::ExecuteMsg::RegisterPatient {
                encryption_key: key.clone(),
                profile: None,
            },
            registry::ExecuteMsg::AcceptPatient {
                patient_id: proposed,
                encryption_key: key.clone(),
            },
        ];
        for msg in &registry_msgs {
            suite.execute_expecting_error(&newcomer, Target::Registry, msg, &in_registry);
        }
        let provider_key = registry::ExecuteMsg::SetProviderKey {
            encryption_key: key.clone(),
        };
        suite.execute_expecting_error(
            &roles.doctor_with_grant,
            Target::Registry,
            &provider_key,
            &in_registry,
        );
        let trustee_key = access::ExecuteMsg::SetTrusteeKey {
            encryption_key: key.clone(),
        };
        suite.execute_expecting_error(&roles.trustee, Target::Access, &trustee_key, &in_access);
        let recovery = access::ExecuteMsg::RequestRecovery {
            patient_id: id,
            encryption_key: key,
        };
        suite.execute_expecting_error(&roles.stranger, Target::Access, &recovery, &in_access);
    }
}

fn hex_key(hex: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// The patient's own envelopes, page after page from `next`, with at most `limit` each.
fn own_pages(suite: &Suite, id: u64, category: Option<Category>, limit: u32) -> Vec<KeyEnvelope> {
    let mut all = Vec::new();
    let mut start_after = None;
    // Far more pages than envelopes: a `next` that never ends fails the test, not the run.
    for _ in 0..200 {
        let page: access::OwnEnvelopesResponse = suite
            .query(
                Target::Access,
                &access::QueryMsg::OwnEnvelopes {
                    patient_id: id,
                    category,
                    start_after,
                    limit: Some(limit),
                },
            )
            .unwrap();
        assert!(page.key_envelopes.len() <= limit as usize);
        all.extend(page.key_envelopes);
        match page.next {
            Some(next) => start_after = Some(next),
            None => return all,
        }
    }
    panic!("own envelopes did not end after 200 pages of {limit}");
}

/// Pages of own envelopes list every envelope of the current owner exactly once, in (category,
/// epoch) order, skip those of the owner before a recovery (a page may come back short) and end
/// with `next: None`.
#[test]
fn own_envelopes_come_in_pages_each_envelope_exactly_once() {
    let mut suite = Suite::new();
    let patient = suite.addr("patient");
    let id = suite.register_patient(&patient).unwrap();
    let trustees = ["t1", "t2", "t3"].map(|name| suite.addr(name));
    suite.set_trustees(&trustees.iter().collect::<Vec<_>>(), 2);
    for (category, times) in [
        (Category::Lab, 5),
        (Category::Note, 3),
        (Category::Imaging, 1),
    ] {
        for _ in 0..times {
            suite.rotate_key(&patient, id, category).unwrap();
        }
    }
    let store = access::ExecuteMsg::StoreOwnEnvelopes {
        patient_id: id,
        key_envelopes: vec![
            sample_envelope(Category::Lab, 0),
            sample_envelope(Category::Allergy, 0),
        ],
    };
    suite.execute(&patient, Target::Access, &store).unwrap();
    let slots = |envelopes: &[KeyEnvelope]| -> Vec<(u8, u32)> {
        envelopes
            .iter()
            .map(|e| (e.category.code(), e.epoch))
            .collect()
    };
    let mut before: Vec<(u8, u32)> = [(Category::Lab, 0..=5), (Category::Note, 1..=3)]
        .into_iter()
        .flat_map(|(category, epochs)| epochs.map(move |epoch| (category.code(), epoch)))
        .chain([(Category::Imaging.code(), 1), (Category::Allergy.code(), 0)])
        .collect();
    before.sort_unstable();
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(
            slots(&own_pages(&suite, id, None, limit)),
            before,
            "limit {limit}"
        );
    }
    assert_eq!(
        slots(&own_pages(&suite, id, Some(Category::Lab), 2)),
        (0..=5)
            .map(|epoch| (Category::Lab.code(), epoch))
            .collect::<Vec<_>>()
    );

    // A recovery: the old wallet's envelopes open for nobody and leave the listing.
    let new_wallet = suite.addr("new wallet");
    let policy = access::ExecuteMsg::SetEscrowPolicy {
        patient_id: id,
        categories: vec![],
        recovery: true,
    };
    suite.execute(&patient, Target::Access, &policy).unwrap();
    let request = access::ExecuteMsg::RequestRecovery {
        patient_id: id,
        encryption_key: ehr_testing::sample_public_key(70),
    };
    suite
        .execute(&new_wallet, Target::Access, &request)
        .unwrap();
    suite.advance_time(ehr_testing::RECOVERY_WAIT_SECONDS);
    for trustee in &trustees[..2] {
        let approve = access::ExecuteMsg::ApproveRecovery {
            patient_id: id,
            identity_check: ehr_types::recovery::IdentityCheck::InPersonPhotoId,
        };
        suite.execute(trustee, Target::Access, &approve).unwrap();
    }
    for category in [Category::Lab, Category::Lab, Category::Allergy] {
        suite.rotate_key(&new_wallet, id, category).unwrap();
    }
    let store = access::ExecuteMsg::StoreOwnEnvelopes {
        patient_id: id,
        key_envelopes: vec![sample_envelope(Category::Note, 3)],
    };
    suite.execute(&new_wallet, Target::Access, &store).unwrap();
    let mut after = vec![
        (Category::Lab.code(), 6),
        (Category::Lab.code(), 7),
        (Category::Allergy.code(), 1),
        (Category::Note.code(), 3),
    ];
    after.sort_unstable();
    for limit in [1, 2, 3, 100] {
        assert_eq!(
            slots(&own_pages(&suite, id, None, limit)),
            after,
            "limit {limit}"
        );
    }
    assert_eq!(slots(&suite.own_envelopes(id, None)), after);
}

/// What `Capabilities` and `WritePlan` answer the patient, a grantee, a revoked doctor and a
/// doctor in an emergency window: what the rule book decides, so that clients follow it.
#[test]
fn capabilities_and_write_plans_answer_for_every_party() {
    let (mut suite, roles) = Suite::with_roles();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let (grantee, revoked) = (
        roles.doctor_with_grant.clone(),
        roles.doctor_revoked.clone(),
    );
    let in_emergency = roles.doctor_without_grant.clone();
    suite.set_emergency_categories(&patient, id, &[Category::Allergy]);
    suite.emergency_access(&in_emergency, id).unwrap();
    let all = |read, write, manage| -> Vec<access::CategoryRights> {
        Category::ALL
            .into_iter()
            .map(|category| access::CategoryRights {
                category,
                read,
                write,
                manage,
                by_emergency: false,
            })
            .collect()
    };

    let own = capabilities(&suite, id, &patient);
    assert!(own.owner);
    assert_eq!(own.categories, all(true, true, true));
    assert_eq!(
        (own.emergency_categories, own.escrowed),
        (vec![Category::Allergy], vec![Category::Allergy])
    );
    let granted = capabilities(&suite, id, &grantee);
    assert!(!granted.owner && granted.credentialed);
    assert_eq!(granted.categories, all(true, true, true));
    assert!(granted.emergency.is_none());
    let gone = capabilities(&suite, id, &revoked);
    assert!(gone.credentialed && gone.categories.is_empty());
    let withdrawn = capabilities(&suite, id, &roles.uncredentialed);
    assert!(!withdrawn.credentialed && withdrawn.categories.is_empty());
    let window = capabilities(&suite, id, &in_emergency);
    assert_eq!(
        window.categories,
        vec![access::CategoryRights {
            category: Category::Allergy,
            read: true,
            write: false,
            manage: false,
            by_emergency: true,
        }]
    );
    let open = window.emergency.clone().expect("the window");
    assert!(open.open && open.ended.is_none());
    assert!(window.may_read(Category::Allergy) && !window.may_read(Category::Lab));

    // Lab is at epoch 1, opened by the patient, held by the grantee alone.
    let plan = write_plan(&suite, id, Category::Lab, &patient);
    assert_eq!(
        (plan.current_epoch, plan.rotate, plan.may_rotate),
        (1, false, true)
    );
    assert_eq!(plan.patient_key, Some(ehr_testing::sample_public_key(1)));
    assert_eq!(
        plan.recipients,
        vec![access::KeyRecipient {
            address: grantee.clone(),
            encryption_key: None
        }]
    );
    assert!(plan.escrow.is_none());
    let allergy = write_plan(&suite, id, Category::Allergy, &patient);
    let escrow = allergy.escrow.expect("Allergy is escrowed");
    assert_eq!((escrow.trustees.len(), escrow.threshold), (2, 2));
    let plan = write_plan(&suite, id, Category::Lab, &grantee);
    assert_eq!((plan.rotate, plan.may_rotate), (false, false));
    // Neither the revoked doctor nor the emergency doctor may write, so neither may rotate.
    for party in [&revoked, &in_emergency] {
        for category in [Category::Lab, Category::Allergy] {
            let plan = write_plan(&suite, id, category, party);
            assert!(!plan.may_rotate, "{party} {category:?}: {plan:?}");
        }
    }

    // The grantee is revoked: every epoch it holds is stale, and the patient's plan rotates
    // past it (the emergency doctor, which holds no Allergy key, gets none by a rotation).
    suite.revoke(&patient, id, &grantee).unwrap();
    for category in [Category::Lab, Category::Allergy] {
        let plan = write_plan(&suite, id, category, &patient);
        assert!(plan.rotate && plan.may_rotate, "{category:?}: {plan:?}");
        assert!(plan.recipients.is_empty(), "{category:?}: {plan:?}");
    }
    assert!(capabilities(&suite, id, &grantee).categories.is_empty());
}
