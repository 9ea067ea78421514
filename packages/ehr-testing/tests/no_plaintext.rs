//! Runs a whole scenario with records built from known plaintext fixtures, then dumps every
//! stored key and value of both contracts and finds none of the fixture bytes in any form.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use cosmwasm_std::Binary;
use ehr_testing::{blob_of, sample_envelope, sample_public_key, StateDump, Suite, Target};
use ehr_types::access::{self, Scope};
use ehr_types::{registry, BlobRef, Category};
use sha2::{Digest, Sha256};

const FIXTURES: [&str; 6] = [
    r#"{"resourceType":"Patient","name":"Jane Q. Example","birthDate":"1984-07-13","gender":"female"}"#,
    "Blood group: AB negative",
    "Diagnosis: Type 2 diabetes mellitus, poorly controlled",
    "HbA1c 7.9 % (2026-11-02)",
    "Rx: metformin 500 mg twice daily",
    "History: appendectomy 2003; penicillin allergy",
];

/// What a client does before anything reaches the chain: encrypt, then hash the ciphertext.
fn encrypted_blob(plaintext: &str) -> BlobRef {
    let cipher = XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng));
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut file = nonce.to_vec();
    file.extend(
        cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("encrypt"),
    );
    blob_of(&file)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every form a fixture could leak in: raw, lower-cased, hex, base64, and its plaintext hash.
fn leak_forms(fixture: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![
        fixture.as_bytes().to_vec(),
        fixture.to_lowercase().into_bytes(),
    ];
    forms.push(hex::encode(fixture).into_bytes());
    forms.push(Binary::from(fixture.as_bytes()).to_base64().into_bytes());
    forms.push(hex::encode(Sha256::digest(fixture)).into_bytes());
    // Distinctive words on their own, e.g. a name or a drug.
    for word in [
        "Jane Q. Example",
        "diabetes",
        "metformin",
        "appendectomy",
        "AB negative",
        "1984-07-13",
    ] {
        if fixture.contains(word) {
            forms.push(word.as_bytes().to_vec());
        }
    }
    forms
}

fn found_in(dump: &StateDump, needle: &[u8]) -> bool {
    dump.iter()
        .any(|(_, (key, value))| contains(key, needle) || contains(value, needle))
}

#[test]
fn no_fixture_bytes_reach_contract_state() {
    let (mut suite, roles) = Suite::with_roles();
    let blobs: Vec<BlobRef> = FIXTURES.iter().map(|f| encrypted_blob(f)).collect();
    let (patient, id) = (roles.patient.clone(), roles.patient_id);
    let doctor = roles.doctor_with_grant.clone();

    suite
        .execute(
            &patient,
            Target::Registry,
            &registry::ExecuteMsg::UpdatePatient {
                patient_id: id,
                base_version: suite.patient(id).unwrap().profile_version,
                epoch: suite.key_holders(id, Category::Profile).epoch,
                profile: blobs[0].clone(),
            },
        )
        .unwrap();
    let newcomer = suite.addr("newcomer");
    suite
        .execute(
            &doctor,
            Target::Registry,
            &registry::ExecuteMsg::ProposePatient {
                address: newcomer.to_string(),
                profile: Some(blobs[1].clone()),
            },
        )
        .unwrap();
    let newcomer_id = roles.other_patient_id + 1;
    suite
        .execute(
            &newcomer,
            Target::Registry,
            &registry::ExecuteMsg::AcceptPatient {
                patient_id: newcomer_id,
                encryption_key: sample_public_key(7),
            },
        )
        .unwrap();
    let diagnosis = suite
        .add_record(&doctor, id, Category::Note, blobs[2].clone())
        .unwrap();
    let lab = suite
        .add_record(&patient, id, Category::Lab, blobs[3].clone())
        .unwrap();
    suite.update_record(&doctor, lab, blobs[4].clone()).unwrap();
    suite
        .add_record(&newcomer, newcomer_id, Category::Document, blobs[5].clone())
        .unwrap();
    suite
        .execute(
            &patient,
            Target::Access,
            &access::ExecuteMsg::Grant {
                patient_id: id,
                grantee: roles.doctor_without_grant.to_string(),
                scope: Scope::Read,
                categories: vec![Category::Lab, Category::Note],
                expires: Some(suite.now().plus_seconds(3600)),
                key_envelopes: vec![
                    sample_envelope(Category::Lab, 1),
                    sample_envelope(Category::Note, 1),
                ],
            },
        )
        .unwrap();
    suite
        .execute(
            &roles.doctor_expired_grant,
            Target::Access,
            &access::ExecuteMsg::EmergencyAccess {
                patient_id: id,
                reason: ehr_types::escrow::EmergencyReason::IncapablePatient {},
            },
        )
        .unwrap();
    suite
        .revoke(&patient, id, &roles.doctor_without_grant)
        .unwrap();
    suite
        .execute(
            &patient,
            Target::Registry,
            &registry::ExecuteMsg::DeleteRecord {
                record_id: diagnosis,
            },
        )
        .unwrap();
    suite.delete_patient(&newcomer, newcomer_id).unwrap();

    let dump = suite.dump_state();
    assert!(
        dump.len() > 50,
        "the scenario stored a real amount of state ({} entries)",
        dump.len()
    );
    // The scan does find what is stored: every ciphertext hash is there.
    for index in [0, 2, 3, 4, 5] {
        let sha256 = &blobs[index].sha256;
        assert!(
            found_in(&dump, sha256.as_bytes()),
            "ciphertext hash {sha256} stored"
        );
    }
    // The deleted newcomer's profile pointer is gone from current state.
    assert!(!found_in(&dump, blobs[1].sha256.as_bytes()));
    for fixture in FIXTURES {
        for form in leak_forms(fixture) {
            assert!(
                !found_in(&dump, &form),
                "plaintext leaked into contract state: {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
}
