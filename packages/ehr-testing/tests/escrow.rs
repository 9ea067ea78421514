//! Break-glass escrow with the real `ehr-crypto` shares: a patient escrows Allergy with three
//! trustees (threshold 2), a doctor breaks the glass, one release is not enough, two open the
//! key; every refusal (no emergency, not a trustee, twice in one window, a category not
//! escrowed, a share never escrowed, after the window) leaves state unchanged; a rotation of an
//! escrowed category must carry the new key's shares; the window's end makes the epoch the
//! doctor got stale, so the next key is not the doctor's; one share makes no key holder, and a
//! doctor whose credential was withdrawn gets no share. A lost wallet is recovered: a request,
//! a cancel, the waiting period, two approvals that move the patient, the old address left with
//! nothing, and every escrowed key re-opened by the new owner from the trustees' shares.
//! Issue 21: a window opens only the patient's emergency categories (never one a revoke closed);
//! the patient ends a window, and the doctor declares again only after its declared end; a
//! request racing a completed recovery waits for its releases, which go on after it; approvals
//! record how the trustee checked identity.

use cosmwasm_std::{Addr, Binary};
use ehr_access::ContractError as AccessError;
use ehr_crypto::escrow::{combine_shares, open_share, seal_share, split_key, ShareContext};
use ehr_crypto::{CategoryKey, X25519SecretKey};
use ehr_testing::{rotate_key_msg, Suite, Target, RECOVERY_WAIT_SECONDS};
use ehr_types::access::{self, EmergencyResponse};
use ehr_types::escrow::{
    EmergencyReason, EpochEscrow, ReleasedShare, ReleasedSharesResponse, TrusteeShare,
};
use ehr_types::recovery::{IdentityCheck, RecoveryInfo, RecoveryResponse};
use ehr_types::validate::ValidationError;
use ehr_types::{AuditAction, Category};

struct Cast {
    suite: Suite,
    patient: Addr,
    patient_id: u64,
    doctor: Addr,
    doctor_key: X25519SecretKey,
    trustees: Vec<(Addr, X25519SecretKey)>,
    allergy_key: CategoryKey,
}

const SET_VERSION: u32 = 1;

fn context(patient_id: u64, category: Category, epoch: u32) -> ShareContext {
    ShareContext {
        patient_id,
        category,
        epoch,
        set_version: SET_VERSION,
    }
}

/// The patient's client: `key` split 2-of-3 and sealed to each trustee.
fn sealed_shares(
    cast: &Cast,
    category: Category,
    epoch: u32,
    key: &CategoryKey,
) -> Vec<TrusteeShare> {
    let shares = split_key(key, 2, cast.trustees.len()).unwrap();
    cast.trustees
        .iter()
        .zip(&shares)
        .map(|((address, secret), share)| TrusteeShare {
            trustee: address.to_string(),
            share: Binary::from(
                seal_share(
                    &secret.public_key(),
                    &context(cast.patient_id, category, epoch),
                    share,
                )
                .unwrap(),
            ),
            commitment: Binary::from(
                ehr_crypto::escrow::share_commitment(
                    &context(cast.patient_id, category, epoch),
                    address.as_str(),
                    share,
                )
                .to_vec(),
            ),
        })
        .collect()
}

/// The patient's client's commitment to a key it escrows.
fn key_commitment_of(cast: &Cast, category: Category, epoch: u32, key: &CategoryKey) -> Binary {
    Binary::from(
        ehr_crypto::escrow::key_commitment(
            &ehr_crypto::EnvelopeContext {
                patient_id: cast.patient_id,
                category,
                epoch,
            },
            key,
        )
        .to_vec(),
    )
}

fn cast() -> Cast {
    let mut suite = Suite::new();
    let patient = suite.addr("patient");
    let doctor = suite.addr("doctor");
    suite.credential(&doctor);
    let doctor_key = X25519SecretKey::generate().unwrap();
    suite
        .execute(
            &doctor,
            Target::Registry,
            &ehr_types::registry::ExecuteMsg::SetProviderKey {
                encryption_key: Binary::from(doctor_key.public_key().as_bytes().to_vec()),
            },
        )
        .unwrap();
    let patient_id = suite.register_patient(&patient).unwrap();
    let trustees: Vec<(Addr, X25519SecretKey)> = ["trustee1", "trustee2", "trustee3"]
        .iter()
        .map(|name| (suite.addr(name), X25519SecretKey::generate().unwrap()))
        .collect();
    let admin = suite.admin.clone();
    suite
        .execute(
            &admin,
            Target::Access,
            &access::ExecuteMsg::SetTrustees {
                trustees: trustees.iter().map(|(a, _)| a.to_string()).collect(),
                threshold: 2,
            },
        )
        .unwrap();
    for (address, secret) in &trustees {
        suite
            .execute(
                address,
                Target::Access,
                &access::ExecuteMsg::SetTrusteeKey {
                    encryption_key: Binary::from(secret.public_key().as_bytes().to_vec()),
                },
            )
            .unwrap();
    }
    let mut cast = Cast {
        suite,
        patient,
        patient_id,
        doctor,
        doctor_key,
        trustees,
        allergy_key: CategoryKey::generate().unwrap(),
    };
    let shares = sealed_shares(&cast, Category::Allergy, 0, &cast.allergy_key);
    let patient = cast.patient.clone();
    for msg in [
        access::ExecuteMsg::SetEscrowPolicy {
            patient_id,
            categories: vec![Category::Allergy],
            recovery: false,
        },
        access::ExecuteMsg::EscrowShares {
            patient_id,
            escrows: vec![EpochEscrow {
                category: Category::Allergy,
                epoch: 0,
                shares,
                key_commitment: key_commitment_of(&cast, Category::Allergy, 0, &cast.allergy_key),
            }],
        },
    ] {
        cast.suite.execute(&patient, Target::Access, &msg).unwrap();
    }
    cast
}

/// The shares trustee `n` holds for the patient.
fn held_by(cast: &Cast, n: usize) -> Vec<ehr_types::escrow::EscrowedShare> {
    let held: ehr_types::escrow::EscrowedSharesResponse = cast
        .suite
        .query(
            Target::Access,
            &access::QueryMsg::EscrowedShares {
                patient_id: cast.patient_id,
                trustee: cast.trustees[n].0.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    held.shares
}

/// Trustee `n`'s agent: open its escrowed share, re-seal it to the doctor.
fn release_msg(cast: &Cast, n: usize, category: Category, epoch: u32) -> access::ExecuteMsg {
    let secret = &cast.trustees[n].1;
    let ctx = context(cast.patient_id, category, epoch);
    let share = held_by(cast, n)
        .iter()
        .find(|s| s.category == category && s.epoch == epoch)
        .map(|s| open_share(secret, &ctx, s.share.as_slice()).unwrap())
        .unwrap_or_else(|| split_key(&cast.allergy_key, 2, 3).unwrap().remove(0));
    access::ExecuteMsg::ReleaseShares {
        patient_id: cast.patient_id,
        doctor: cast.doctor.to_string(),
        shares: vec![ReleasedShare {
            category,
            epoch,
            share: Binary::from(seal_share(&cast.doctor_key.public_key(), &ctx, &share).unwrap()),
        }],
    }
}

/// The doctor's client: every released share opened and combined, if there are enough.
fn doctor_combines(cast: &Cast) -> Result<CategoryKey, ehr_crypto::CryptoError> {
    let released: ReleasedSharesResponse = cast
        .suite
        .query(
            Target::Access,
            &access::QueryMsg::ReleasedShares {
                patient_id: cast.patient_id,
                doctor: cast.doctor.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    let shares: Vec<_> = released
        .shares
        .iter()
        .map(|s| {
            open_share(
                &cast.doctor_key,
                &context(cast.patient_id, s.category, s.epoch),
                s.share.as_slice(),
            )
            .unwrap()
        })
        .collect();
    combine_shares(&shares, 2)
}

fn break_glass(cast: &mut Cast) {
    let doctor = cast.doctor.clone();
    cast.suite
        .execute(
            &doctor,
            Target::Access,
            &access::ExecuteMsg::EmergencyAccess {
                patient_id: cast.patient_id,
                reason: EmergencyReason::IncapablePatient {},
            },
        )
        .unwrap();
}

#[test]
fn two_of_three_trustees_open_the_escrowed_key_during_the_emergency_only() {
    let mut cast = cast();
    let trustee = cast.trustees[0].0.clone();
    let no_emergency = AccessError::NoActiveEmergency {
        patient_id: cast.patient_id,
        doctor: cast.doctor.to_string(),
    }
    .to_string();
    let msg = release_msg(&cast, 0, Category::Allergy, 0);
    cast.suite
        .execute_expecting_error(&trustee, Target::Access, &msg, &no_emergency);

    break_glass(&mut cast);
    let stranger = cast.suite.addr("stranger");
    let not_trustee = AccessError::NotTrustee {
        address: stranger.to_string(),
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&stranger, Target::Access, &msg, &not_trustee);

    cast.suite.execute(&trustee, Target::Access, &msg).unwrap();
    assert!(
        matches!(
            doctor_combines(&cast),
            Err(ehr_crypto::CryptoError::NotEnoughShares { got: 1, needed: 2 })
        ),
        "one trustee alone must not open the key"
    );
    // Below the threshold the doctor holds no key, so a rotation now would not be wrapped to it.
    let holders = cast.suite.key_holders(cast.patient_id, Category::Allergy);
    assert!(
        holders.holders.iter().all(|h| h.address != cast.doctor),
        "one share made the doctor a key holder: {holders:?}"
    );
    let twice = AccessError::AlreadyReleased {
        category: Category::Allergy,
        epoch: 0,
        doctor: cast.doctor.to_string(),
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&trustee, Target::Access, &msg, &twice);
    let note = release_msg(&cast, 0, Category::Note, 0);
    let not_escrowed = AccessError::CategoryNotEscrowed {
        patient_id: cast.patient_id,
        category: Category::Note,
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&trustee, Target::Access, &note, &not_escrowed);
    let never = release_msg(&cast, 0, Category::Allergy, 5);
    let never_escrowed = AccessError::ShareNotEscrowed {
        category: Category::Allergy,
        epoch: 5,
        trustee: trustee.to_string(),
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&trustee, Target::Access, &never, &never_escrowed);

    let second = cast.trustees[1].0.clone();
    let msg = release_msg(&cast, 1, Category::Allergy, 0);
    // A doctor whose credential is withdrawn gets nothing more, even inside its window.
    let doctor = cast.doctor.clone();
    cast.suite.decredential(&doctor);
    let withdrawn = AccessError::NotCredentialed {
        address: doctor.to_string(),
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&second, Target::Access, &msg, &withdrawn);
    cast.suite.credential(&doctor);
    cast.suite.execute(&second, Target::Access, &msg).unwrap();
    assert_eq!(doctor_combines(&cast).unwrap(), cast.allergy_key);

    // The window ends: no more releases, and the epoch the doctor got is stale.
    cast.suite.advance_time(3601);
    let window: EmergencyResponse = cast
        .suite
        .query(
            Target::Access,
            &access::QueryMsg::EmergencyAccess {
                patient_id: cast.patient_id,
                grantee: cast.doctor.to_string(),
            },
        )
        .unwrap();
    assert_eq!(
        (window.active, window.reason),
        (false, Some(EmergencyReason::IncapablePatient {}))
    );
    let third = cast.trustees[2].0.clone();
    let msg = release_msg(&cast, 2, Category::Allergy, 0);
    cast.suite
        .execute_expecting_error(&third, Target::Access, &msg, &no_emergency);
    let holders = cast.suite.key_holders(cast.patient_id, Category::Allergy);
    assert!(
        holders.stale,
        "the former emergency doctor holds epoch 0: {holders:?}"
    );
    // The next key may not be wrapped to the doctor.
    let patient = cast.patient.clone();
    let to_doctor = rotate_key_msg(
        cast.patient_id,
        Category::Allergy,
        1,
        &[cast.doctor.clone()],
    );
    let not_entitled = AccessError::RecipientNotEntitled {
        recipient: cast.doctor.to_string(),
        category: Category::Allergy,
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &to_doctor, &not_entitled);
}

#[test]
fn a_rotation_of_an_escrowed_category_carries_the_new_keys_shares() {
    let mut cast = cast();
    let patient = cast.patient.clone();
    let bare = rotate_key_msg(cast.patient_id, Category::Allergy, 1, &[]);
    let missing = AccessError::EscrowSharesMismatch {
        category: Category::Allergy,
        epoch: 1,
        expected: 3,
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &bare, &missing);
    let new_key = CategoryKey::generate().unwrap();
    let mut partial = sealed_shares(&cast, Category::Allergy, 1, &new_key);
    partial.pop();
    let mut with_two = bare.clone();
    if let access::ExecuteMsg::RotateKey { escrow, .. } = &mut with_two {
        *escrow = partial;
    }
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &with_two, &missing);
    let mut escrowed = bare.clone();
    if let access::ExecuteMsg::RotateKey {
        escrow,
        escrow_key_commitment,
        ..
    } = &mut escrowed
    {
        *escrow = sealed_shares(&cast, Category::Allergy, 1, &new_key);
        *escrow_key_commitment = Some(key_commitment_of(&cast, Category::Allergy, 1, &new_key));
    }
    cast.suite
        .execute(&patient, Target::Access, &escrowed)
        .unwrap();
    // A category the patient does not escrow takes no shares.
    let mut note = rotate_key_msg(cast.patient_id, Category::Note, 1, &[]);
    if let access::ExecuteMsg::RotateKey { escrow, .. } = &mut note {
        *escrow = sealed_shares(&cast, Category::Note, 1, &new_key);
    }
    let not_escrowed = AccessError::CategoryNotEscrowed {
        patient_id: cast.patient_id,
        category: Category::Note,
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &note, &not_escrowed);

    // The emergency then opens the new epoch from its own shares.
    break_glass(&mut cast);
    for n in [0, 2] {
        let trustee = cast.trustees[n].0.clone();
        let msg = release_msg(&cast, n, Category::Allergy, 1);
        cast.suite.execute(&trustee, Target::Access, &msg).unwrap();
    }
    assert_eq!(doctor_combines(&cast).unwrap(), new_key);
}

#[test]
fn trustee_sets_and_reasons_are_bounded() {
    let mut cast = cast();
    let admin = cast.suite.admin.clone();
    let invalid = AccessError::InvalidTrusteeSet { max: 16 }.to_string();
    let one = cast.trustees[0].0.to_string();
    for (trustees, threshold) in [
        (vec![one.clone()], 1),
        (vec![one.clone(), one.clone()], 2),
        (vec![one.clone(), cast.trustees[1].0.to_string()], 1),
        (vec![one.clone(), cast.trustees[1].0.to_string()], 3),
        (
            (0..17)
                .map(|n| cast.suite.addr(&format!("t{n}")).to_string())
                .collect(),
            2,
        ),
    ] {
        cast.suite.execute_expecting_error(
            &admin,
            Target::Access,
            &access::ExecuteMsg::SetTrustees {
                trustees,
                threshold,
            },
            &invalid,
        );
    }
    let doctor = cast.doctor.clone();
    cast.suite.execute_expecting_error(
        &doctor,
        Target::Access,
        &access::ExecuteMsg::EmergencyAccess {
            patient_id: cast.patient_id,
            reason: EmergencyReason::Other {
                code: "patient is HIV+".into(),
            },
        },
        &AccessError::Validation(ValidationError::InvalidReasonCode).to_string(),
    );
}

fn recovery_of(cast: &Cast) -> RecoveryInfo {
    let response: RecoveryResponse = cast
        .suite
        .query(
            Target::Access,
            &access::QueryMsg::Recovery {
                patient_id: cast.patient_id,
            },
        )
        .unwrap();
    response.recovery.expect("a recovery request")
}

/// Trustee `n`'s agent after a completed recovery: every share it holds, re-sealed to the new
/// owner's registered key.
fn recovery_release_msg(cast: &Cast, n: usize, owner_key: &X25519SecretKey) -> access::ExecuteMsg {
    let secret = &cast.trustees[n].1;
    let shares = held_by(cast, n)
        .iter()
        .map(|s| {
            let ctx = context(cast.patient_id, s.category, s.epoch);
            let share = open_share(secret, &ctx, s.share.as_slice()).unwrap();
            ReleasedShare {
                category: s.category,
                epoch: s.epoch,
                share: Binary::from(seal_share(&owner_key.public_key(), &ctx, &share).unwrap()),
            }
        })
        .collect();
    access::ExecuteMsg::ReleaseRecoveryShares {
        patient_id: cast.patient_id,
        shares,
    }
}

/// The new owner's client: the key of (category, epoch 0) from the shares released to it.
fn owner_combines(
    cast: &Cast,
    owner: &Addr,
    owner_key: &X25519SecretKey,
    category: Category,
) -> Result<CategoryKey, ehr_crypto::CryptoError> {
    let released: ReleasedSharesResponse = cast
        .suite
        .query(
            Target::Access,
            &access::QueryMsg::ReleasedShares {
                patient_id: cast.patient_id,
                doctor: owner.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    let shares: Vec<_> = released
        .shares
        .iter()
        .filter(|s| s.category == category && s.epoch == 0)
        .map(|s| {
            open_share(
                owner_key,
                &context(cast.patient_id, s.category, s.epoch),
                s.share.as_slice(),
            )
            .unwrap()
        })
        .collect();
    combine_shares(&shares, 2)
}

#[test]
fn a_lost_wallet_is_recovered_by_two_of_three_trustees_after_the_waiting_period() {
    let mut cast = cast();
    let (patient, patient_id) = (cast.patient.clone(), cast.patient_id);
    let new_wallet = cast.suite.addr("new wallet");
    let new_key = X25519SecretKey::generate().unwrap();
    let request = access::ExecuteMsg::RequestRecovery {
        patient_id,
        encryption_key: Binary::from(new_key.public_key().as_bytes().to_vec()),
    };
    // Emergency escrow alone gives no way to take the patient over.
    cast.suite.execute_expecting_error(
        &new_wallet,
        Target::Access,
        &request,
        &AccessError::RecoveryNotEnabled { patient_id }.to_string(),
    );

    // The patient opts in: every category escrowed; its Note key (epoch 0) gets shares too.
    let note_key = CategoryKey::generate().unwrap();
    let note_shares = sealed_shares(&cast, Category::Note, 0, &note_key);
    for msg in [
        access::ExecuteMsg::SetEscrowPolicy {
            patient_id,
            categories: vec![Category::Allergy],
            recovery: true,
        },
        access::ExecuteMsg::EscrowShares {
            patient_id,
            escrows: vec![EpochEscrow {
                category: Category::Note,
                epoch: 0,
                shares: note_shares,
                key_commitment: ehr_testing::sample_commitment(Category::Note, 0),
            }],
        },
    ] {
        cast.suite.execute(&patient, Target::Access, &msg).unwrap();
    }
    let other_patient = cast.suite.addr("other patient");
    let other_id = cast.suite.register_patient(&other_patient).unwrap();
    cast.suite.execute_expecting_error(
        &other_patient,
        Target::Access,
        &request,
        &AccessError::AlreadyPatient {
            address: other_patient.to_string(),
            patient_id: other_id,
        }
        .to_string(),
    );

    // A request the patient's wallet sees and cancels is never approved.
    cast.suite
        .execute(&new_wallet, Target::Access, &request)
        .unwrap();
    let trustee = |cast: &Cast, n: usize| cast.trustees[n].0.clone();
    let approve = access::ExecuteMsg::ApproveRecovery {
        patient_id,
        identity_check: IdentityCheck::InPersonPhotoId,
    };
    let not_before = recovery_of(&cast).not_before;
    cast.suite.execute_expecting_error(
        &trustee(&cast, 0),
        Target::Access,
        &approve,
        &AccessError::RecoveryWaiting { not_before }.to_string(),
    );
    cast.suite.execute_expecting_error(
        &new_wallet,
        Target::Access,
        &access::ExecuteMsg::CancelRecovery { patient_id },
        &AccessError::unauthorized("cancel recovery").to_string(),
    );
    cast.suite
        .execute(
            &patient,
            Target::Access,
            &access::ExecuteMsg::CancelRecovery { patient_id },
        )
        .unwrap();
    cast.suite.advance_time(RECOVERY_WAIT_SECONDS);
    let no_pending = AccessError::NoPendingRecovery { patient_id }.to_string();
    cast.suite
        .execute_expecting_error(&trustee(&cast, 0), Target::Access, &approve, &no_pending);

    // Asked again; the wait starts again; then two of three trustees approve.
    cast.suite
        .execute(&new_wallet, Target::Access, &request)
        .unwrap();
    cast.suite.advance_time(RECOVERY_WAIT_SECONDS);
    let early_release = recovery_release_msg(&cast, 0, &new_key);
    cast.suite.execute_expecting_error(
        &trustee(&cast, 0),
        Target::Access,
        &early_release,
        &AccessError::NoCompletedRecovery { patient_id }.to_string(),
    );
    let stranger = cast.suite.addr("stranger");
    cast.suite.execute_expecting_error(
        &stranger,
        Target::Access,
        &approve,
        &AccessError::NotTrustee {
            address: stranger.to_string(),
        }
        .to_string(),
    );
    cast.suite
        .execute(&trustee(&cast, 0), Target::Access, &approve)
        .unwrap();
    cast.suite.execute_expecting_error(
        &trustee(&cast, 0),
        Target::Access,
        &approve,
        &AccessError::AlreadyApproved {
            trustee: trustee(&cast, 0).to_string(),
        }
        .to_string(),
    );
    assert_eq!(cast.suite.patient(patient_id).unwrap().owner, patient);
    cast.suite
        .execute(&trustee(&cast, 2), Target::Access, &approve)
        .unwrap();

    // The patient is the new wallet's; the old address is nobody's patient and can do nothing.
    let moved = cast.suite.patient(patient_id).unwrap();
    assert_eq!(moved.owner, new_wallet);
    assert_eq!(
        moved.encryption_key,
        Some(Binary::from(new_key.public_key().as_bytes().to_vec()))
    );
    let by_old: ehr_types::registry::PatientResponse = cast
        .suite
        .query(
            Target::Registry,
            &ehr_types::registry::QueryMsg::PatientByAddress {
                address: patient.to_string(),
            },
        )
        .unwrap();
    assert_eq!(by_old.patient, None, "the old address still owns a patient");
    cast.suite.execute_expecting_error(
        &patient,
        Target::Access,
        &access::ExecuteMsg::SetEscrowPolicy {
            patient_id,
            categories: vec![],
            recovery: false,
        },
        &AccessError::unauthorized("set escrow policy").to_string(),
    );
    for category in [Category::Allergy, Category::Note, Category::Lab] {
        let holders = cast.suite.key_holders(patient_id, category);
        assert!(
            holders.stale,
            "{category:?} must rotate past the old wallet: {holders:?}"
        );
    }
    let written_by_old = cast.suite.add_record(
        &patient,
        patient_id,
        Category::Allergy,
        ehr_testing::sample_blob(70),
    );
    assert!(written_by_old.is_err(), "the old wallet wrote a record");

    // Each trustee releases all it holds to the new owner, once; two open every key.
    let first = recovery_release_msg(&cast, 0, &new_key);
    cast.suite
        .execute(&trustee(&cast, 0), Target::Access, &first)
        .unwrap();
    assert!(owner_combines(&cast, &new_wallet, &new_key, Category::Allergy).is_err());
    cast.suite.execute_expecting_error(
        &trustee(&cast, 0),
        Target::Access,
        &first,
        &AccessError::AlreadyReleasedForRecovery {
            category: Category::Note,
            epoch: 0,
        }
        .to_string(),
    );
    let second = recovery_release_msg(&cast, 1, &new_key);
    cast.suite
        .execute(&trustee(&cast, 1), Target::Access, &second)
        .unwrap();
    assert_eq!(
        owner_combines(&cast, &new_wallet, &new_key, Category::Allergy).unwrap(),
        cast.allergy_key
    );
    assert_eq!(
        owner_combines(&cast, &new_wallet, &new_key, Category::Note).unwrap(),
        note_key
    );

    // The new owner stores the keys wrapped to its own key, replacing the old wallet's envelopes.
    let store = access::ExecuteMsg::StoreOwnEnvelopes {
        patient_id,
        key_envelopes: vec![ehr_testing::sample_envelope(Category::Allergy, 0)],
    };
    cast.suite
        .execute(&new_wallet, Target::Access, &store)
        .unwrap();
    cast.suite.execute_expecting_error(
        &new_wallet,
        Target::Access,
        &store,
        &AccessError::EnvelopeExists {
            category: Category::Allergy,
            epoch: 0,
        }
        .to_string(),
    );

    let actions: Vec<_> = cast
        .suite
        .audit_log(patient_id)
        .into_iter()
        .filter_map(|entry| match entry.action {
            AuditAction::RecoveryRequested { .. } => Some("requested"),
            AuditAction::RecoveryCancelled { .. } => Some("cancelled"),
            AuditAction::RecoveryApproved { .. } => Some("approved"),
            AuditAction::PatientRecovered { .. } => Some("recovered"),
            AuditAction::RecoverySharesReleased { .. } => Some("released"),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [
            "requested",
            "cancelled",
            "requested",
            "approved",
            "approved",
            "recovered",
            "released",
            "released"
        ]
    );
}

fn window_of(cast: &Cast) -> EmergencyResponse {
    cast.suite
        .query(
            Target::Access,
            &access::QueryMsg::EmergencyAccess {
                patient_id: cast.patient_id,
                grantee: cast.doctor.to_string(),
            },
        )
        .unwrap()
}

fn capabilities_of(cast: &Cast, party: &Addr) -> access::CapabilitiesResponse {
    cast.suite
        .query(
            Target::Access,
            &access::QueryMsg::Capabilities {
                patient_id: cast.patient_id,
                party: party.to_string(),
            },
        )
        .unwrap()
}

/// `RotateKey` of the category's next epoch wrapped to `recipients`, with the new key's shares
/// when the patient escrows the category.
fn rotation_to(cast: &Cast, category: Category, recipients: &[Addr]) -> access::ExecuteMsg {
    let epoch = cast.suite.epoch(cast.patient_id, category) + 1;
    let mut msg = rotate_key_msg(cast.patient_id, category, epoch, recipients);
    if cast.suite.escrow_policy(cast.patient_id).escrows(category) {
        if let access::ExecuteMsg::RotateKey {
            escrow,
            escrow_key_commitment,
            ..
        } = &mut msg
        {
            let key = CategoryKey::generate().unwrap();
            *escrow = sealed_shares(cast, category, epoch, &key);
            *escrow_key_commitment = Some(key_commitment_of(cast, category, epoch, &key));
        }
    }
    msg
}

/// Issue 21: an emergency used to make a doctor entitled to every category, so one revoked
/// from Imaging declared an emergency and was handed the next Imaging key. A window opens only
/// the patient's emergency categories (here Allergy), for Read.
#[test]
fn an_emergency_after_a_revoke_opens_only_the_emergency_categories() {
    let mut cast = cast();
    let (patient, id, doctor) = (cast.patient.clone(), cast.patient_id, cast.doctor.clone());
    let both = [Category::Allergy, Category::Imaging];
    cast.suite
        .grant(&patient, id, &doctor, access::Scope::Read, &both, None)
        .unwrap();
    cast.suite.revoke(&patient, id, &doctor).unwrap();
    break_glass(&mut cast);
    assert!(window_of(&cast).active);

    // Imaging: the window does not undo the revoke.
    let imaging = cast.suite.key_holders(id, Category::Imaging);
    assert!(imaging.stale, "{imaging:?}");
    assert_eq!(
        imaging.holders,
        vec![access::KeyHolder {
            address: doctor.clone(),
            entitled: false
        }]
    );
    assert!(cast.suite.readers(id, Category::Imaging).is_empty());
    let to_doctor = rotation_to(&cast, Category::Imaging, std::slice::from_ref(&doctor));
    let not_entitled = AccessError::RecipientNotEntitled {
        recipient: doctor.to_string(),
        category: Category::Imaging,
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &to_doctor, &not_entitled);
    // The patient's next Imaging record is under a key the doctor is never handed.
    cast.suite
        .add_record_rotating(&patient, id, Category::Imaging, ehr_testing::sample_blob(1))
        .unwrap();
    let handed = cast
        .suite
        .key_envelopes(id, &doctor, Some(Category::Imaging));
    assert_eq!(
        handed.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![0],
        "only the key of before the revoke"
    );

    // Allergy, an emergency category: entitled through the window, and kept by a rotation.
    let allergy = cast.suite.key_holders(id, Category::Allergy);
    assert!(!allergy.stale, "{allergy:?}");
    assert_eq!(
        cast.suite.readers(id, Category::Allergy),
        vec![doctor.clone()]
    );
    let msg = rotation_to(&cast, Category::Allergy, std::slice::from_ref(&doctor));
    cast.suite.execute(&patient, Target::Access, &msg).unwrap();
    assert_eq!(
        cast.suite.key_holders(id, Category::Allergy).holders,
        vec![access::KeyHolder {
            address: doctor.clone(),
            entitled: true
        }]
    );
    let rights = capabilities_of(&cast, &doctor);
    assert_eq!(
        rights.categories,
        vec![access::CategoryRights {
            category: Category::Allergy,
            read: true,
            write: false,
            manage: false,
            by_emergency: true,
        }]
    );
}

/// The patient ends a window: it closes at once, the epochs the doctor holds go stale, and the
/// doctor may declare again only from the end its window was declared with.
#[test]
fn the_patient_ends_a_window_and_the_doctor_declares_again_only_after_its_declared_end() {
    let mut cast = cast();
    let (patient, id, doctor) = (cast.patient.clone(), cast.patient_id, cast.doctor.clone());
    let end = access::ExecuteMsg::EndEmergency {
        patient_id: id,
        doctor: doctor.to_string(),
    };
    let none_open = AccessError::NoActiveEmergency {
        patient_id: id,
        doctor: doctor.to_string(),
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &end, &none_open);
    break_glass(&mut cast);
    let declared_end = window_of(&cast).expires.unwrap();
    // Two trustees release Allergy epoch 0: the doctor holds that key now.
    for n in [0, 1] {
        let trustee = cast.trustees[n].0.clone();
        let msg = release_msg(&cast, n, Category::Allergy, 0);
        cast.suite.execute(&trustee, Target::Access, &msg).unwrap();
    }
    assert!(!cast.suite.key_holders(id, Category::Allergy).stale);
    for other in [
        &doctor,
        &cast.trustees[0].0.clone(),
        &cast.suite.admin.clone(),
    ] {
        cast.suite.execute_expecting_error(
            other,
            Target::Access,
            &end,
            &AccessError::unauthorized("end emergency").to_string(),
        );
    }

    cast.suite.advance_time(60);
    cast.suite.execute(&patient, Target::Access, &end).unwrap();
    let window = window_of(&cast);
    assert_eq!((window.active, window.expires), (false, Some(declared_end)));
    let allergy = cast.suite.key_holders(id, Category::Allergy);
    assert!(allergy.stale, "the doctor holds epoch 0: {allergy:?}");
    assert!(cast.suite.readers(id, Category::Allergy).is_empty());
    let ended = capabilities_of(&cast, &doctor);
    assert!(ended.categories.is_empty(), "{ended:?}");
    assert_eq!(ended.emergency.unwrap().ended, Some(cast.suite.now()));
    // The third trustee is too late: the window is closed.
    let late = release_msg(&cast, 2, Category::Allergy, 0);
    let third = cast.trustees[2].0.clone();
    cast.suite
        .execute_expecting_error(&third, Target::Access, &late, &none_open);
    cast.suite
        .execute_expecting_error(&patient, Target::Access, &end, &none_open);

    let declare = access::ExecuteMsg::EmergencyAccess {
        patient_id: id,
        reason: EmergencyReason::IncapablePatient {},
    };
    let too_soon = AccessError::EmergencyTooSoon {
        patient_id: id,
        until: declared_end,
    }
    .to_string();
    cast.suite
        .execute_expecting_error(&doctor, Target::Access, &declare, &too_soon);
    let left = declared_end.seconds() - cast.suite.now().seconds();
    cast.suite.advance_time(left - 1);
    cast.suite
        .execute_expecting_error(&doctor, Target::Access, &declare, &too_soon);
    cast.suite.advance_time(1);
    cast.suite
        .execute(&doctor, Target::Access, &declare)
        .unwrap();
    assert!(window_of(&cast).active);

    let log: Vec<_> = cast
        .suite
        .audit_log(id)
        .into_iter()
        .filter_map(|entry| match entry.action {
            AuditAction::EmergencyAccess { expires, .. } => {
                Some((entry.actor, "declared", expires))
            }
            AuditAction::EmergencyEnded { doctor: ended } => {
                assert_eq!(ended, doctor);
                Some((entry.actor, "ended", entry.time))
            }
            _ => None,
        })
        .collect();
    let second_end = cast.suite.now().plus_seconds(3600);
    assert_eq!(
        log,
        vec![
            (doctor.clone(), "declared", declared_end),
            (
                patient.clone(),
                "ended",
                declared_end.minus_seconds(3600 - 60)
            ),
            (doctor.clone(), "declared", second_end),
        ]
    );

    // A deleted patient's keys open for nobody, even inside a window.
    cast.suite.delete_patient(&patient, id).unwrap();
    let msg = release_msg(&cast, 2, Category::Allergy, 0);
    cast.suite.execute_expecting_error(
        &third,
        Target::Access,
        &msg,
        &AccessError::PatientNotActive { patient_id: id }.to_string(),
    );
}

/// Every category escrowed for recovery, the request of `new_wallet` approved by trustees 0
/// and 2 with the given identity checks: the patient is the new wallet's.
fn complete_recovery(cast: &mut Cast, checks: [IdentityCheck; 2]) -> (Addr, X25519SecretKey) {
    let (patient, id) = (cast.patient.clone(), cast.patient_id);
    cast.suite
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
    let new_wallet = cast.suite.addr("new wallet");
    let new_key = X25519SecretKey::generate().unwrap();
    cast.suite
        .execute(
            &new_wallet,
            Target::Access,
            &access::ExecuteMsg::RequestRecovery {
                patient_id: id,
                encryption_key: Binary::from(new_key.public_key().as_bytes().to_vec()),
            },
        )
        .unwrap();
    cast.suite.advance_time(RECOVERY_WAIT_SECONDS);
    for (n, identity_check) in [0, 2].into_iter().zip(checks) {
        let trustee = cast.trustees[n].0.clone();
        let approve = access::ExecuteMsg::ApproveRecovery {
            patient_id: id,
            identity_check,
        };
        cast.suite
            .execute(&trustee, Target::Access, &approve)
            .unwrap();
    }
    assert_eq!(cast.suite.patient(id).unwrap().owner, new_wallet);
    (new_wallet, new_key)
}

fn stranger_request(cast: &Cast) -> access::ExecuteMsg {
    access::ExecuteMsg::RequestRecovery {
        patient_id: cast.patient_id,
        encryption_key: ehr_testing::sample_public_key(50),
    }
}

/// Issue 21: a request after a completed recovery used to overwrite it, so the trustees could no
/// longer release the keys to the new owner. Now the request waits until k trustees released or
/// one waiting period passed, and the completed recovery's releases go on after it.
#[test]
fn a_request_racing_a_completed_recovery_waits_and_the_releases_go_on() {
    let mut cast = cast();
    let id = cast.patient_id;
    let (new_wallet, new_key) = complete_recovery(
        &mut cast,
        [
            IdentityCheck::InPersonPhotoId,
            IdentityCheck::KnownClinician,
        ],
    );
    let completed = recovery_of(&cast);
    assert_eq!(
        (
            completed.approvals.clone(),
            completed.identity_checks.clone()
        ),
        (
            vec![cast.trustees[0].0.clone(), cast.trustees[2].0.clone()],
            vec![
                IdentityCheck::InPersonPhotoId,
                IdentityCheck::KnownClinician
            ]
        )
    );
    let checks: Vec<_> = cast
        .suite
        .audit_log(id)
        .into_iter()
        .filter_map(|entry| match entry.action {
            AuditAction::RecoveryApproved { identity_check, .. } => {
                Some((entry.actor, identity_check))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        checks,
        vec![
            (
                cast.trustees[0].0.clone(),
                Some(IdentityCheck::InPersonPhotoId)
            ),
            (
                cast.trustees[2].0.clone(),
                Some(IdentityCheck::KnownClinician)
            ),
        ]
    );

    let stranger = cast.suite.addr("stranger");
    let pending = AccessError::RecoveryReleasesPending { patient_id: id }.to_string();
    let request = stranger_request(&cast);
    cast.suite
        .execute_expecting_error(&stranger, Target::Access, &request, &pending);
    let first = cast.trustees[0].0.clone();
    let msg = recovery_release_msg(&cast, 0, &new_key);
    cast.suite.execute(&first, Target::Access, &msg).unwrap();
    cast.suite
        .execute_expecting_error(&stranger, Target::Access, &request, &pending);
    // One waiting period after completion, a request is taken again, k releases or not.
    cast.suite.advance_time(RECOVERY_WAIT_SECONDS - 1);
    cast.suite
        .execute_expecting_error(&stranger, Target::Access, &request, &pending);
    cast.suite.advance_time(1);
    cast.suite
        .execute(&stranger, Target::Access, &request)
        .unwrap();
    assert_eq!(recovery_of(&cast).new_owner, stranger);

    // The completed recovery's releases go on: the new owner opens its keys.
    let second = cast.trustees[1].0.clone();
    let msg = recovery_release_msg(&cast, 1, &new_key);
    cast.suite.execute(&second, Target::Access, &msg).unwrap();
    assert_eq!(
        owner_combines(&cast, &new_wallet, &new_key, Category::Allergy).unwrap(),
        cast.allergy_key
    );
    let third = cast.trustees[2].0.clone();
    let msg = recovery_release_msg(&cast, 2, &new_key);
    cast.suite.execute(&third, Target::Access, &msg).unwrap();

    // The stranger's request moves nothing without k approvals; the new owner cancels it.
    cast.suite.advance_time(RECOVERY_WAIT_SECONDS);
    let approve = access::ExecuteMsg::ApproveRecovery {
        patient_id: id,
        identity_check: IdentityCheck::VideoPhotoId,
    };
    cast.suite
        .execute(&first, Target::Access, &approve)
        .unwrap();
    assert_eq!(cast.suite.patient(id).unwrap().owner, new_wallet);
    cast.suite
        .execute(
            &new_wallet,
            Target::Access,
            &access::ExecuteMsg::CancelRecovery { patient_id: id },
        )
        .unwrap();
    cast.suite.execute_expecting_error(
        &second,
        Target::Access,
        &approve,
        &AccessError::NoPendingRecovery { patient_id: id }.to_string(),
    );
    assert_eq!(cast.suite.patient(id).unwrap().owner, new_wallet);
}

/// Once k trustees released to the new owner, a request is taken at once.
#[test]
fn a_request_after_k_releases_to_the_new_owner_is_taken_at_once() {
    let mut cast = cast();
    let (_, new_key) = complete_recovery(
        &mut cast,
        [
            IdentityCheck::VideoPhotoId,
            IdentityCheck::NotarisedDocument,
        ],
    );
    let stranger = cast.suite.addr("stranger");
    let request = stranger_request(&cast);
    for n in [1, 2] {
        let trustee = cast.trustees[n].0.clone();
        let msg = recovery_release_msg(&cast, n, &new_key);
        cast.suite.execute(&trustee, Target::Access, &msg).unwrap();
    }
    cast.suite
        .execute(&stranger, Target::Access, &request)
        .unwrap();
    // The last trustee still releases to the owner of the completed recovery.
    let first = cast.trustees[0].0.clone();
    let msg = recovery_release_msg(&cast, 0, &new_key);
    cast.suite.execute(&first, Target::Access, &msg).unwrap();
}
