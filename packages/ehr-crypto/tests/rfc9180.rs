//! RFC 9180 Appendix A.2.1 (base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20Poly1305) through the `hpke` crate: the exact suite ehr-crypto envelopes use.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/rfc9180-a2-1.json")).expect("fixture is JSON")
}

fn hex_field(v: &serde_json::Value, name: &str) -> Vec<u8> {
    hex::decode(v[name].as_str().unwrap_or_else(|| panic!("field {name}"))).expect("hex")
}

/// Yields the RFC's ikmE as the "random" bytes of the ephemeral key.
struct FixedBytes(Vec<u8>);

impl TryRng for FixedBytes {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unimplemented!("hpke draws the ephemeral ikm with fill_bytes")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unimplemented!("hpke draws the ephemeral ikm with fill_bytes")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        assert!(dst.len() <= self.0.len(), "hpke asked for more than ikmE");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}
impl TryCryptoRng for FixedBytes {}

#[test]
fn suite_ids_match_the_rfc_section() {
    let v = fixture();
    assert_eq!(v["mode"], 0);
    assert_eq!(
        u64::from(X25519HkdfSha256::KEM_ID),
        v["kem_id"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(<HkdfSha256 as hpke::kdf::Kdf>::KDF_ID),
        v["kdf_id"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(<ChaCha20Poly1305 as hpke::aead::Aead>::AEAD_ID),
        v["aead_id"].as_u64().unwrap()
    );
}

#[test]
fn derive_keypair_matches_rfc() {
    let v = fixture();
    let (sk_e, pk_e) = X25519HkdfSha256::derive_keypair(&hex_field(&v, "ikmE"));
    assert_eq!(pk_e.to_bytes().as_slice(), hex_field(&v, "pkEm").as_slice());
    let (sk_r, pk_r) = X25519HkdfSha256::derive_keypair(&hex_field(&v, "ikmR"));
    assert_eq!(pk_r.to_bytes().as_slice(), hex_field(&v, "pkRm").as_slice());

    // The RFC prints skXm unclamped; the hpke crate clamps on (de)serialization.
    let sk_e_rfc =
        <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&hex_field(&v, "skEm")).unwrap();
    let sk_r_rfc =
        <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&hex_field(&v, "skRm")).unwrap();
    assert_eq!(sk_e.to_bytes(), sk_e_rfc.to_bytes());
    assert_eq!(sk_r.to_bytes(), sk_r_rfc.to_bytes());
    assert_eq!(
        X25519HkdfSha256::sk_to_pk(&sk_r_rfc).to_bytes().as_slice(),
        hex_field(&v, "pkRm").as_slice()
    );
}

#[test]
fn sender_encryptions_and_exports_match_rfc() {
    let v = fixture();
    let pk_r = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&hex_field(&v, "pkRm")).unwrap();
    let mut rng = FixedBytes(hex_field(&v, "ikmE"));
    let (enc, mut sender) = hpke::setup_sender_with_rng::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
    >(&OpModeS::Base, &pk_r, &hex_field(&v, "info"), &mut rng)
    .unwrap();
    assert!(rng.0.is_empty(), "exactly ikmE was consumed");
    assert_eq!(enc.to_bytes().as_slice(), hex_field(&v, "enc").as_slice());

    let encryptions = v["encryptions"].as_array().unwrap();
    let mut checked = 0;
    for seq in 0..=256u64 {
        let listed = encryptions
            .iter()
            .find(|e| e["sequence_number"].as_u64() == Some(seq));
        match listed {
            Some(e) => {
                let ct = sender
                    .seal(&hex_field(e, "pt"), &hex_field(e, "aad"))
                    .unwrap();
                assert_eq!(
                    hex::encode(ct),
                    e["ct"].as_str().unwrap(),
                    "sequence number {seq}"
                );
                checked += 1;
            }
            // Advance the sequence number as the RFC's sender did.
            None => {
                sender.seal(b"", b"").unwrap();
            }
        }
    }
    assert_eq!(checked, encryptions.len());

    for x in v["exports"].as_array().unwrap() {
        let mut out = vec![0u8; x["L"].as_u64().unwrap() as usize];
        sender
            .export(&hex_field(x, "exporter_context"), &mut out)
            .unwrap();
        assert_eq!(hex::encode(&out), x["exported_value"].as_str().unwrap());
    }
}

#[test]
fn receiver_opens_rfc_ciphertexts_in_sequence() {
    let v = fixture();
    let pk_r = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&hex_field(&v, "pkRm")).unwrap();
    let sk_r = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&hex_field(&v, "skRm")).unwrap();
    let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&hex_field(&v, "enc")).unwrap();
    let info = hex_field(&v, "info");
    let mut receiver = hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &info,
    )
    .unwrap();
    // The receiver's sequence number only advances on a successful open, so messages the RFC
    // does not list come from a sender in lockstep (same ikmE, hence the same context).
    let (_, mut sender) =
        hpke::setup_sender_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &pk_r,
            &info,
            &mut FixedBytes(hex_field(&v, "ikmE")),
        )
        .unwrap();
    let encryptions = v["encryptions"].as_array().unwrap();
    for seq in 0..=256u64 {
        match encryptions
            .iter()
            .find(|e| e["sequence_number"].as_u64() == Some(seq))
        {
            Some(e) => {
                let pt = receiver
                    .open(&hex_field(e, "ct"), &hex_field(e, "aad"))
                    .unwrap();
                assert_eq!(pt, hex_field(e, "pt"), "sequence number {seq}");
                sender.seal(&pt, &hex_field(e, "aad")).unwrap();
            }
            None => {
                let ct = sender.seal(b"filler", b"").unwrap();
                assert_eq!(receiver.open(&ct, b"").unwrap(), b"filler");
            }
        }
    }
    for x in v["exports"].as_array().unwrap() {
        let mut out = vec![0u8; x["L"].as_u64().unwrap() as usize];
        receiver
            .export(&hex_field(x, "exporter_context"), &mut out)
            .unwrap();
        assert_eq!(hex::encode(&out), x["exported_value"].as_str().unwrap());
    }
}

#[test]
fn single_shot_open_of_first_message() {
    let v = fixture();
    let sk_r = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&hex_field(&v, "skRm")).unwrap();
    let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&hex_field(&v, "enc")).unwrap();
    let first = &v["encryptions"][0];
    let pt = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &hex_field(&v, "info"),
        &hex_field(first, "ct"),
        &hex_field(first, "aad"),
    )
    .unwrap();
    assert_eq!(pt, hex_field(first, "pt"));

    // One flipped bit in the ciphertext and it no longer opens.
    let mut ct = hex_field(first, "ct");
    ct[0] ^= 1;
    assert!(
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk_r,
            &enc,
            &hex_field(&v, "info"),
            &ct,
            &hex_field(first, "aad"),
        )
        .is_err()
    );
}
