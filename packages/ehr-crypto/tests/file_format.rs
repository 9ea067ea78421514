//! Record files: round trips, header layout, tampering, wrong keys, malformed input.

use ehr_crypto::file::{HEADER_FIELDS_LEN, HEADER_LEN, MIN_FILE_LEN, TAG_LEN};
use ehr_crypto::{
    decrypt_file, decrypt_file_expecting, encrypt_file, sha256_hex, Category, CategoryKey,
    CryptoError, RecordHeader,
};

fn header() -> RecordHeader {
    RecordHeader {
        patient_id: 7,
        category: Category::Lab,
        epoch: 2,
        record_version: 3,
    }
}

#[test]
fn round_trip_and_layout() {
    let key = CategoryKey::generate().unwrap();
    let plaintext = b"Hemoglobin 13.2 g/dL";
    let file = encrypt_file(&header(), &key, plaintext).unwrap();
    assert_eq!(file.len(), HEADER_LEN + plaintext.len() + TAG_LEN);
    assert_eq!(&file[0..4], b"EHRF");
    assert_eq!(file[4], 1);
    assert_eq!(&file[5..13], &7u64.to_be_bytes());
    assert_eq!(file[13], Category::Lab.code());
    assert_eq!(&file[14..18], &2u32.to_be_bytes());
    assert_eq!(&file[18..22], &3u32.to_be_bytes());
    assert_eq!(RecordHeader::parse(&file).unwrap(), header());

    let opened = decrypt_file(&key, &file).unwrap();
    assert_eq!(opened.header, header());
    assert_eq!(opened.plaintext.as_slice(), plaintext);
    assert_eq!(
        decrypt_file_expecting(&key, &file, &header())
            .unwrap()
            .plaintext
            .as_slice(),
        plaintext
    );
}

#[test]
fn empty_plaintext_round_trips() {
    let key = CategoryKey::generate().unwrap();
    let file = encrypt_file(&header(), &key, b"").unwrap();
    assert_eq!(file.len(), MIN_FILE_LEN);
    assert!(decrypt_file(&key, &file).unwrap().plaintext.is_empty());
}

#[test]
fn same_input_twice_gives_different_ciphertexts() {
    let key = CategoryKey::generate().unwrap();
    let a = encrypt_file(&header(), &key, b"same").unwrap();
    let b = encrypt_file(&header(), &key, b"same").unwrap();
    assert_ne!(a, b, "fresh data key and nonces per file");
    assert_ne!(sha256_hex(&a), sha256_hex(&b));
}

#[test]
fn ciphertext_does_not_contain_the_plaintext() {
    let key = CategoryKey::generate().unwrap();
    let plaintext = b"Jane Doe, born 1980-02-29, blood group AB-";
    let file = encrypt_file(&header(), &key, plaintext).unwrap();
    assert!(!file
        .windows(8)
        .any(|w| plaintext.windows(8).any(|p| p == w)));
}

#[test]
fn every_single_byte_change_is_an_error() {
    let key = CategoryKey::generate().unwrap();
    let file = encrypt_file(&header(), &key, b"a short lab result").unwrap();
    for at in 0..file.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = file.clone();
            bad[at] ^= flip;
            let err = decrypt_file(&key, &bad).expect_err("tampered file must not decrypt");
            let expected_kind = match at {
                0..=3 => matches!(err, CryptoError::BadMagic),
                4 => matches!(err, CryptoError::UnsupportedVersion(_)),
                13 => matches!(
                    err,
                    CryptoError::UnknownCategoryCode(_) | CryptoError::WrongKeyOrTamperedHeader
                ),
                _ if at < HEADER_FIELDS_LEN + 24 + 48 => {
                    matches!(err, CryptoError::WrongKeyOrTamperedHeader)
                }
                _ => matches!(err, CryptoError::Tampered),
            };
            assert!(
                expected_kind,
                "byte {at} flip {flip:#x}: unexpected error {err:?}"
            );
        }
    }
}

#[test]
fn wrong_key_is_an_error() {
    let key = CategoryKey::generate().unwrap();
    let other = CategoryKey::generate().unwrap();
    let file = encrypt_file(&header(), &key, b"secret").unwrap();
    assert_eq!(
        decrypt_file(&other, &file).unwrap_err(),
        CryptoError::WrongKeyOrTamperedHeader
    );
}

#[test]
fn truncation_and_extension_are_errors() {
    let key = CategoryKey::generate().unwrap();
    let file = encrypt_file(&header(), &key, b"0123456789").unwrap();
    for len in 0..file.len() {
        assert!(
            decrypt_file(&key, &file[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = file.clone();
    longer.push(0);
    assert_eq!(
        decrypt_file(&key, &longer).unwrap_err(),
        CryptoError::Tampered
    );
    assert!(matches!(
        decrypt_file(&key, &[]).unwrap_err(),
        CryptoError::Truncated { len: 0, .. }
    ));
}

#[test]
fn header_swap_to_another_record_is_detected() {
    let key = CategoryKey::generate().unwrap();
    let file = encrypt_file(&header(), &key, b"v3").unwrap();
    // Same key, but the chain says this blob is version 4: refused before decryption.
    let expected = RecordHeader {
        record_version: 4,
        ..header()
    };
    assert!(matches!(
        decrypt_file_expecting(&key, &file, &expected).unwrap_err(),
        CryptoError::HeaderMismatch {
            field: "record_version",
            ..
        }
    ));
    // Rewriting the version in the header itself breaks authentication.
    let mut rewritten = file.clone();
    rewritten[18..22].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(
        decrypt_file(&key, &rewritten).unwrap_err(),
        CryptoError::WrongKeyOrTamperedHeader
    );
}

#[test]
fn unknown_version_and_category_are_reported() {
    let key = CategoryKey::generate().unwrap();
    let file = encrypt_file(&header(), &key, b"x").unwrap();
    let mut v2 = file.clone();
    v2[4] = 2;
    assert_eq!(
        RecordHeader::parse(&v2).unwrap_err(),
        CryptoError::UnsupportedVersion(2)
    );
    let mut cat = file.clone();
    cat[13] = 200;
    assert_eq!(
        RecordHeader::parse(&cat).unwrap_err(),
        CryptoError::UnknownCategoryCode(200)
    );
}

#[test]
fn sha256_hex_is_lowercase_hex_of_sha256() {
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn every_category_round_trips() {
    for category in Category::ALL {
        let key = CategoryKey::generate().unwrap();
        let h = RecordHeader {
            patient_id: u64::MAX,
            category,
            epoch: u32::MAX,
            record_version: 0,
        };
        let file = encrypt_file(&h, &key, category.name().as_bytes()).unwrap();
        let opened = decrypt_file(&key, &file).unwrap();
        assert_eq!(opened.header, h);
        assert_eq!(opened.plaintext.as_slice(), category.name().as_bytes());
    }
}
