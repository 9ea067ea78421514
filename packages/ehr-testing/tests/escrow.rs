//! Break-glass escrow with the real `ehr-crypto` shares: a patient escrows Allergy with three
//! trustees (threshold 2), a doctor breaks the glass, one release is not enough, two open the
//! key; every refusal (no emergency, not a trustee, twice in one window, a category not
//! escrowed, a share never escrowed, after the window) leaves state unchanged; a rotation of an
//! escrowed category must carry the new key's shares; the window's end makes the epoch the
//! doctor got stale, so the next key is not the doctor's.

use cosmwasm_std::{Addr, Binary};
use ehr_access::ContractError as AccessError;
use ehr_crypto::escrow::{combine_shares, open_share, seal_share, split_key, ShareContext};
use ehr_crypto::{CategoryKey, X25519SecretKey};
use ehr_testing::{rotate_key_msg, Suite, Target};
use ehr_types::access::{self, EmergencyResponse};
use ehr_types::escrow::{
    EmergencyReason, EpochEscrow, ReleasedShare, ReleasedSharesResponse, TrusteeShare,
};
use ehr_types::validate::ValidationError;
use ehr_types::Category;

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
        })
        .collect()
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
        },
        access::ExecuteMsg::EscrowShares {
            patient_id,
            escrows: vec![EpochEscrow {
                category: Category::Allergy,
                epoch: 0,
                shares,
            }],
        },
    ] {
        cast.suite.execute(&patient, Target::Access, &msg).unwrap();
    }
    cast
}

/// Trustee `n`'s agent: open its escrowed share, re-seal it to the doctor.
fn release_msg(cast: &Cast, n: usize, category: Category, epoch: u32) -> access::ExecuteMsg {
    let (trustee, secret) = &cast.trustees[n];
    let held: ehr_types::escrow::EscrowedSharesResponse = cast
        .suite
        .query(
            Target::Access,
            &access::QueryMsg::EscrowedShares {
                patient_id: cast.patient_id,
                trustee: trustee.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    let ctx = context(cast.patient_id, category, epoch);
    let share = held
        .shares
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
    if let access::ExecuteMsg::RotateKey { escrow, .. } = &mut escrowed {
        *escrow = sealed_shares(&cast, Category::Allergy, 1, &new_key);
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
