//! HPKE category-key envelopes and the revoke + new-epoch story.

use ehr_crypto::envelope::ENVELOPE_LEN;
use ehr_crypto::{
    encrypt_file, open_category_key, seal_category_key, Category, CategoryKey, CategoryKeyring,
    CryptoError, Envelope, EnvelopeContext, RecordHeader, X25519PublicKey, X25519SecretKey,
};

fn lab(epoch: u32) -> EnvelopeContext {
    EnvelopeContext {
        patient_id: 1,
        category: Category::Lab,
        epoch,
    }
}

#[test]
fn envelope_round_trip_and_encoding() {
    let recipient = X25519SecretKey::generate().unwrap();
    let key = CategoryKey::generate().unwrap();
    let envelope = seal_category_key(&recipient.public_key(), &lab(1), &key).unwrap();
    assert_eq!(envelope.as_bytes().len(), ENVELOPE_LEN);
    let text = envelope.to_base64();
    let parsed = Envelope::from_base64(&text).unwrap();
    assert_eq!(parsed, envelope);
    assert_eq!(
        open_category_key(&recipient, &lab(1), &parsed).unwrap(),
        key
    );
}

#[test]
fn envelope_for_patient_itself_and_grantee_carry_the_same_key() {
    let patient = X25519SecretKey::generate().unwrap();
    let doctor = X25519SecretKey::generate().unwrap();
    let key = CategoryKey::generate().unwrap();
    let to_self = seal_category_key(&patient.public_key(), &lab(1), &key).unwrap();
    let to_doctor = seal_category_key(&doctor.public_key(), &lab(1), &key).unwrap();
    assert_ne!(to_self, to_doctor);
    assert_eq!(open_category_key(&patient, &lab(1), &to_self).unwrap(), key);
    assert_eq!(
        open_category_key(&doctor, &lab(1), &to_doctor).unwrap(),
        key
    );
    // Each envelope opens only for its own recipient.
    assert_eq!(
        open_category_key(&doctor, &lab(1), &to_self).unwrap_err(),
        CryptoError::EnvelopeOpenFailed
    );
}

#[test]
fn wrong_recipient_or_context_fails() {
    let recipient = X25519SecretKey::generate().unwrap();
    let stranger = X25519SecretKey::generate().unwrap();
    let key = CategoryKey::generate().unwrap();
    let envelope = seal_category_key(&recipient.public_key(), &lab(1), &key).unwrap();
    assert_eq!(
        open_category_key(&stranger, &lab(1), &envelope).unwrap_err(),
        CryptoError::EnvelopeOpenFailed
    );
    for other in [
        lab(2),
        EnvelopeContext {
            patient_id: 2,
            ..lab(1)
        },
        EnvelopeContext {
            category: Category::Note,
            ..lab(1)
        },
    ] {
        assert_eq!(
            open_category_key(&recipient, &other, &envelope).unwrap_err(),
            CryptoError::EnvelopeOpenFailed
        );
    }
}

#[test]
fn every_byte_of_an_envelope_is_authenticated() {
    let recipient = X25519SecretKey::generate().unwrap();
    let key = CategoryKey::generate().unwrap();
    let envelope = seal_category_key(&recipient.public_key(), &lab(1), &key).unwrap();
    for at in 0..ENVELOPE_LEN {
        let mut bytes = *envelope.as_bytes();
        bytes[at] ^= 0x01;
        let bad = Envelope::from_bytes(&bytes).unwrap();
        assert!(
            open_category_key(&recipient, &lab(1), &bad).is_err(),
            "byte {at}"
        );
    }
}

#[test]
fn malformed_envelopes_and_keys_are_errors() {
    assert_eq!(
        Envelope::from_bytes(&[0u8; 79]).unwrap_err(),
        CryptoError::BadEnvelopeLength {
            len: 79,
            expected: 80
        }
    );
    assert!(matches!(
        Envelope::from_base64("not base64!").unwrap_err(),
        CryptoError::Base64(_)
    ));
    assert!(matches!(
        Envelope::from_base64("AAAA").unwrap_err(),
        CryptoError::BadEnvelopeLength { len: 3, .. }
    ));
    assert!(matches!(
        X25519PublicKey::from_base64("AAAA").unwrap_err(),
        CryptoError::InvalidKey { .. }
    ));
    assert!(matches!(
        X25519PublicKey::from_hex("zz").unwrap_err(),
        CryptoError::Hex(_)
    ));
    // A low-order public key (all zeros) gives an all-zero DH output: HPKE refuses to seal.
    let key = CategoryKey::generate().unwrap();
    assert_eq!(
        seal_category_key(&X25519PublicKey::from_bytes([0u8; 32]), &lab(1), &key).unwrap_err(),
        CryptoError::EnvelopeSealFailed
    );
}

/// DESIGN §4: revoke = delete grant + new epoch. The old grantee keeps what it had (epoch 1) but
/// cannot open anything written under epoch 2.
#[test]
fn revoked_grantee_cannot_open_records_of_the_new_epoch() {
    let patient = X25519SecretKey::generate().unwrap();
    let doctor = X25519SecretKey::generate().unwrap();

    // Epoch 1: patient grants Lab to the doctor.
    let lab_key_1 = CategoryKey::generate().unwrap();
    let grant_1 = seal_category_key(&doctor.public_key(), &lab(1), &lab_key_1).unwrap();
    let self_1 = seal_category_key(&patient.public_key(), &lab(1), &lab_key_1).unwrap();
    let old_record = encrypt_file(
        &RecordHeader {
            patient_id: 1,
            category: Category::Lab,
            epoch: 1,
            record_version: 1,
        },
        &lab_key_1,
        b"lab result written before the revoke",
    )
    .unwrap();

    let mut doctor_keys = CategoryKeyring::new();
    doctor_keys
        .insert_from_envelope(&doctor, lab(1), &grant_1)
        .unwrap();
    assert_eq!(
        doctor_keys
            .decrypt_file(&old_record)
            .unwrap()
            .plaintext
            .as_slice(),
        b"lab result written before the revoke"
    );

    // Revoke: the grant is deleted on chain and the patient starts epoch 2 with a new key,
    // sealing it only to itself (and to grantees that remain).
    let lab_key_2 = CategoryKey::generate().unwrap();
    let self_2 = seal_category_key(&patient.public_key(), &lab(2), &lab_key_2).unwrap();
    let new_record = encrypt_file(
        &RecordHeader {
            patient_id: 1,
            category: Category::Lab,
            epoch: 2,
            record_version: 1,
        },
        &lab_key_2,
        b"lab result written after the revoke",
    )
    .unwrap();

    // The old grantee has no epoch-2 key...
    assert_eq!(
        doctor_keys.decrypt_file(&new_record).unwrap_err(),
        CryptoError::MissingCategoryKey {
            patient_id: 1,
            category: "lab",
            epoch: 2
        }
    );
    // ...its epoch-1 key does not open it...
    assert_eq!(
        ehr_crypto::decrypt_file(&lab_key_1, &new_record).unwrap_err(),
        CryptoError::WrongKeyOrTamperedHeader
    );
    // ...and the patient's new envelope is not addressed to it.
    assert_eq!(
        open_category_key(&doctor, &lab(2), &self_2).unwrap_err(),
        CryptoError::EnvelopeOpenFailed
    );
    // Even claiming epoch 1 for the new envelope does not help.
    assert_eq!(
        open_category_key(&doctor, &lab(1), &self_2).unwrap_err(),
        CryptoError::EnvelopeOpenFailed
    );

    // The patient reads both epochs from its own envelopes.
    let mut patient_keys = CategoryKeyring::new();
    patient_keys
        .insert_from_envelope(&patient, lab(1), &self_1)
        .unwrap();
    patient_keys
        .insert_from_envelope(&patient, lab(2), &self_2)
        .unwrap();
    assert_eq!(patient_keys.latest_epoch(1, Category::Lab), Some(2));
    assert!(patient_keys.decrypt_file(&old_record).is_ok());
    assert_eq!(
        patient_keys
            .decrypt_file(&new_record)
            .unwrap()
            .plaintext
            .as_slice(),
        b"lab result written after the revoke"
    );
}

#[test]
fn grant_of_one_category_does_not_open_another() {
    let doctor = X25519SecretKey::generate().unwrap();
    let lab_key = CategoryKey::generate().unwrap();
    let note_key = CategoryKey::generate().unwrap();
    let mut doctor_keys = CategoryKeyring::new();
    doctor_keys
        .insert_from_envelope(
            &doctor,
            lab(1),
            &seal_category_key(&doctor.public_key(), &lab(1), &lab_key).unwrap(),
        )
        .unwrap();
    let note = encrypt_file(
        &RecordHeader {
            patient_id: 1,
            category: Category::Note,
            epoch: 1,
            record_version: 1,
        },
        &note_key,
        b"note",
    )
    .unwrap();
    assert!(matches!(
        doctor_keys.decrypt_file(&note).unwrap_err(),
        CryptoError::MissingCategoryKey {
            category: "note",
            ..
        }
    ));
    assert_eq!(
        ehr_crypto::decrypt_file(&lab_key, &note).unwrap_err(),
        CryptoError::WrongKeyOrTamperedHeader
    );
}
