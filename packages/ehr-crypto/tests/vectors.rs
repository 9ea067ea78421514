//! `test-vectors.json` is what the code generates (regenerate with
//! `cargo run -p ehr-crypto --bin gen-vectors`), and every vector checks out through the public
//! API the way the web UI will use it.

use ehr_crypto::wallet::{adr36_sign_doc, verify_arbitrary, x25519_secret_from_signature};
use ehr_crypto::{
    decrypt_file_expecting, open_category_key, sha256_hex, Category, CategoryKey, Envelope,
    EnvelopeContext, RecordHeader, WalletKey, X25519SecretKey,
};
use hpke::{Kem, Serializable};
use serde_json::Value;

const COMMITTED: &str = include_str!("../test-vectors.json");

fn committed() -> Value {
    serde_json::from_str(COMMITTED).expect("test-vectors.json is JSON")
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {field}"))
}

fn h(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(s(v, field)).unwrap_or_else(|e| panic!("{field}: {e}"))
}

#[test]
fn committed_vectors_match_the_generator() {
    let generated = ehr_crypto::vectors::generate_json().unwrap();
    assert!(
        generated == COMMITTED,
        "packages/ehr-crypto/test-vectors.json is stale: run `cargo run -p ehr-crypto --bin gen-vectors` and commit it"
    );
}

#[test]
fn generator_is_deterministic() {
    assert_eq!(
        ehr_crypto::vectors::generate_json().unwrap(),
        ehr_crypto::vectors::generate_json().unwrap()
    );
}

#[test]
fn wallet_vectors_check_out() {
    let v = committed();
    let wallets = v["wallets"].as_array().unwrap();
    assert_eq!(wallets.len(), 3);
    for w in wallets {
        let key = WalletKey::from_mnemonic(s(w, "mnemonic")).unwrap();
        assert_eq!(
            hex::encode(key.secret_bytes().as_ref()),
            s(w, "secp256k1_secret_key_hex")
        );
        let pk = key.public_key_compressed();
        assert_eq!(hex::encode(pk), s(w, "secp256k1_public_key_compressed_hex"));
        assert_eq!(key.address().unwrap(), s(w, "address"));
        let data = s(w, "adr36_data_utf8").as_bytes();
        let doc = adr36_sign_doc(s(w, "adr36_signer"), data);
        assert_eq!(doc, s(w, "adr36_sign_doc_utf8").as_bytes());
        assert_eq!(sha256_hex(&doc), s(w, "adr36_sign_doc_sha256_hex"));
        let sig: [u8; 64] = h(w, "adr36_signature_hex").try_into().unwrap();
        verify_arbitrary(&pk, s(w, "adr36_signer"), data, &sig).unwrap();
        let x = x25519_secret_from_signature(&sig).unwrap();
        assert_eq!(hex::encode(x.as_bytes()), s(w, "x25519_secret_key_hex"));
        assert_eq!(x.public_key().to_hex(), s(w, "x25519_public_key_hex"));
        assert_eq!(x.public_key().to_base64(), s(w, "x25519_public_key_base64"));
    }
}

#[test]
fn file_vectors_decrypt() {
    let v = committed();
    let files = v["files"].as_array().unwrap();
    assert!(files.len() >= 5);
    for f in files {
        let header = RecordHeader {
            patient_id: s(f, "patient_id").parse().unwrap(),
            category: Category::from_name(s(f, "category")).unwrap(),
            epoch: f["epoch"].as_u64().unwrap() as u32,
            record_version: f["record_version"].as_u64().unwrap() as u32,
        };
        let file = h(f, "file_hex");
        assert_eq!(file[..22], h(f, "header_fields_hex")[..]);
        assert_eq!(file[..118], h(f, "header_hex")[..]);
        assert_eq!(sha256_hex(&file), s(f, "file_sha256_hex"));
        let key = CategoryKey::from_hex(s(f, "category_key_hex")).unwrap();
        let opened = decrypt_file_expecting(&key, &file, &header).unwrap();
        assert_eq!(
            opened.plaintext.as_slice(),
            h(f, "plaintext_hex").as_slice(),
            "{}",
            s(f, "name")
        );
    }
}

#[test]
fn envelope_vectors_open_and_their_enc_is_derived_from_the_recorded_ikm() {
    let v = committed();
    for e in v["envelopes"].as_array().unwrap() {
        let context = EnvelopeContext {
            patient_id: s(e, "patient_id").parse().unwrap(),
            category: Category::from_name(s(e, "category")).unwrap(),
            epoch: e["epoch"].as_u64().unwrap() as u32,
        };
        assert_eq!(hex::encode(context.info()), s(e, "info_hex"));
        let envelope = Envelope::from_base64(s(e, "envelope_base64")).unwrap();
        assert_eq!(
            envelope.as_bytes().as_slice(),
            h(e, "envelope_hex").as_slice()
        );
        let recipient = X25519SecretKey::from_hex(s(e, "recipient_x25519_secret_key_hex")).unwrap();
        assert_eq!(
            recipient.public_key().to_hex(),
            s(e, "recipient_x25519_public_key_hex")
        );
        let key = open_category_key(&recipient, &context, &envelope).unwrap();
        assert_eq!(hex::encode(key.as_bytes()), s(e, "category_key_hex"));
        // RFC 9180 DeriveKeyPair(ikmE) gives the ephemeral key whose public half is enc.
        let (_, pk_e) = hpke::kem::X25519HkdfSha256::derive_keypair(&h(e, "ephemeral_ikm_hex"));
        assert_eq!(pk_e.to_bytes().as_slice(), h(e, "enc_hex").as_slice());
        assert_eq!(&envelope.as_bytes()[..32], h(e, "enc_hex").as_slice());
    }
}

#[test]
fn envelope_vectors_tell_the_revocation_story() {
    let v = committed();
    let envelopes = v["envelopes"].as_array().unwrap();
    let files = v["files"].as_array().unwrap();
    let by_name =
        |list: &[Value], name: &str| list.iter().find(|x| s(x, "name") == name).cloned().unwrap();
    let doctor_b_secret = {
        let grant = by_name(envelopes, "grant_doctor_b_lab_epoch1");
        X25519SecretKey::from_hex(s(&grant, "recipient_x25519_secret_key_hex")).unwrap()
    };
    let epoch1_key =
        CategoryKey::from_hex(s(&by_name(files, "lab_epoch1_v1"), "category_key_hex")).unwrap();
    let new_file = h(&by_name(files, "lab_epoch2_v1_after_revoke"), "file_hex");
    assert!(ehr_crypto::decrypt_file(&epoch1_key, &new_file).is_err());
    // No epoch-2 envelope is addressed to doctor_b.
    for e in envelopes.iter().filter(|e| e["epoch"] == 2) {
        assert_ne!(s(e, "recipient_wallet"), "doctor_b");
        let context = EnvelopeContext {
            patient_id: 1,
            category: Category::Lab,
            epoch: 2,
        };
        assert!(open_category_key(
            &doctor_b_secret,
            &context,
            &Envelope::from_base64(s(e, "envelope_base64")).unwrap()
        )
        .is_err());
    }
}
