//! Property tests: round trips over random sizes and fields; arbitrary input never panics.

use ehr_crypto::{
    decrypt_file, encrypt_file, open_category_key, seal_category_key, Category, CategoryKey,
    Envelope, EnvelopeContext, RecordHeader, X25519SecretKey,
};
use proptest::prelude::*;

fn any_category() -> impl Strategy<Value = Category> {
    (0u8..9).prop_map(|c| Category::from_code(c).unwrap())
}

fn any_header() -> impl Strategy<Value = RecordHeader> {
    (any::<u64>(), any_category(), any::<u32>(), any::<u32>()).prop_map(
        |(patient_id, category, epoch, record_version)| RecordHeader {
            patient_id,
            category,
            epoch,
            record_version,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn file_round_trip(header in any_header(), key in any::<[u8; 32]>(), plaintext in prop::collection::vec(any::<u8>(), 0..70_000)) {
        let key = CategoryKey::from_bytes(key);
        let file = encrypt_file(&header, &key, &plaintext).unwrap();
        prop_assert_eq!(file.len(), 118 + plaintext.len() + 16);
        let opened = decrypt_file(&key, &file).unwrap();
        prop_assert_eq!(opened.header, header);
        prop_assert_eq!(opened.plaintext.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn tampered_file_never_decrypts(header in any_header(), plaintext in prop::collection::vec(any::<u8>(), 0..2_000), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let key = CategoryKey::generate().unwrap();
        let mut file = encrypt_file(&header, &key, &plaintext).unwrap();
        let i = at.index(file.len());
        file[i] ^= flip;
        prop_assert!(decrypt_file(&key, &file).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), key in any::<[u8; 32]>()) {
        let key = CategoryKey::from_bytes(key);
        let _ = decrypt_file(&key, &bytes);
        let _ = RecordHeader::parse(&bytes);
        let _ = Envelope::from_bytes(&bytes);
        if let Ok(envelope) = Envelope::from_bytes(&bytes) {
            let sk = X25519SecretKey::from_bytes(*key.as_bytes());
            let ctx = EnvelopeContext { patient_id: 1, category: Category::Lab, epoch: 1 };
            prop_assert!(open_category_key(&sk, &ctx, &envelope).is_err());
        }
    }

    #[test]
    fn arbitrary_80_byte_envelopes_never_open(bytes in prop::array::uniform32(any::<u8>()), rest in prop::collection::vec(any::<u8>(), 48), sk in any::<[u8; 32]>()) {
        let mut all = bytes.to_vec();
        all.extend_from_slice(&rest);
        let envelope = Envelope::from_bytes(&all).unwrap();
        let ctx = EnvelopeContext { patient_id: 1, category: Category::Lab, epoch: 1 };
        prop_assert!(open_category_key(&X25519SecretKey::from_bytes(sk), &ctx, &envelope).is_err());
    }

    #[test]
    fn envelope_round_trip(patient_id in any::<u64>(), category in any_category(), epoch in any::<u32>(), key in any::<[u8; 32]>(), sk in any::<[u8; 32]>()) {
        let recipient = X25519SecretKey::from_bytes(sk);
        let ctx = EnvelopeContext { patient_id, category, epoch };
        let key = CategoryKey::from_bytes(key);
        let envelope = seal_category_key(&recipient.public_key(), &ctx, &key).unwrap();
        let reparsed = Envelope::from_base64(&envelope.to_base64()).unwrap();
        prop_assert_eq!(open_category_key(&recipient, &ctx, &reparsed).unwrap(), key);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_text_never_panics_in_key_and_wallet_parsing(text in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..100)) {
        let _ = ehr_crypto::WalletKey::from_mnemonic(&text);
        let _ = ehr_crypto::WalletKey::from_mnemonic_at("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", &text);
        let _ = ehr_crypto::WalletKey::from_secret_bytes(&bytes);
        let _ = ehr_crypto::wallet::signature_from_base64(&text);
        let _ = Envelope::from_base64(&text);
        let _ = ehr_crypto::X25519PublicKey::from_base64(&text);
        let _ = ehr_crypto::X25519PublicKey::from_hex(&text);
        let _ = CategoryKey::from_hex(&text);
        let _ = Category::from_name(&text);
        let _ = ehr_crypto::wallet::adr36_sign_doc(&text, &bytes);
        if let Ok(pk) = <[u8; 33]>::try_from(bytes.get(..33).unwrap_or_default()) {
            let _ = ehr_crypto::wallet::address_from_public_key(&pk, &text);
            let sig = [7u8; 64];
            prop_assert!(ehr_crypto::wallet::verify_arbitrary(&pk, &text, &bytes, &sig).is_err());
        }
    }
}

// A few large sizes outside proptest (each case is a full encryption): around 1 MiB boundaries.
#[test]
fn large_file_round_trips() {
    let key = CategoryKey::generate().unwrap();
    let header = RecordHeader {
        patient_id: 3,
        category: Category::Imaging,
        epoch: 1,
        record_version: 1,
    };
    for len in [(1 << 20) - 1, 1 << 20, (1 << 20) + 17, 3 << 20] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let file = encrypt_file(&header, &key, &plaintext).unwrap();
        assert_eq!(
            decrypt_file(&key, &file).unwrap().plaintext.as_slice(),
            plaintext.as_slice()
        );
    }
}
