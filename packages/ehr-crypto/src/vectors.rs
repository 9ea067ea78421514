//! Deterministic test vectors shared with the web UI (`test-vectors.json`). Every random input is
//! drawn from a seeded ChaCha20 generator or replayed from fixed bytes through crate-private
//! APIs; the public API always uses the OS generator.
//!
//! Encoding: byte strings are lowercase hex in fields ending `_hex`, standard padded base64 in
//! fields ending `_base64`; `_utf8` fields are text. u64 values are decimal strings (they exceed
//! JavaScript's safe integers); u8/u32 values are JSON numbers.

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::envelope::{
    open_category_key, seal_category_key_with_rng, EnvelopeContext, ENVELOPE_INFO_LABEL,
    ENVELOPE_LEN,
};
use crate::error::{CryptoError, Result};
use crate::file::{
    self, FileMaterial, RecordHeader, FILE_FORMAT_VERSION, FILE_MAGIC, HEADER_FIELDS_LEN,
    HEADER_LEN,
};
use crate::keys::{CategoryKey, X25519SecretKey};
use crate::rng::{seeded_rng, ReplayRng};
use crate::sha256_hex;
use crate::wallet::{
    adr36_sign_doc, key_derivation_message, KeyScope, WalletKey, ADDRESS_PREFIX, COSMOS_HD_PATH,
    KEY_DERIVATION_TEMPLATE, X25519_HKDF_INFO, X25519_HKDF_SALT,
};

/// The scope the wallet vectors derive their keys for: the localnet's chain and the address a
/// fresh localnet gives the registry (code 1, instance 1).
pub const VECTOR_SCOPE: KeyScope<'static> = KeyScope {
    chain_id: "ehr-local-1",
    registry: "wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d",
};
use crate::Category;

#[derive(Serialize)]
pub struct TestVectors {
    pub description: &'static str,
    pub generated_by: &'static str,
    pub encoding: &'static str,
    pub constants: Constants,
    pub wallets: Vec<WalletVector>,
    pub files: Vec<FileVector>,
    pub envelopes: Vec<EnvelopeVector>,
    pub escrow_splits: Vec<SplitVector>,
    pub escrow_sealed_shares: Vec<SealedShareVector>,
}

/// A category key split k-of-n. The dealer draws one coefficient byte per 32-bit random word
/// (its low byte): for key byte i, `coefficients_hex[i]` holds the k−1 coefficients from the
/// highest degree down; the constant term is the key byte. Share j (x = j + 1) is x || p_i(x)
/// for every i, evaluated in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1 (0x11d).
#[derive(Serialize)]
pub struct SplitVector {
    pub name: &'static str,
    pub key_hex: String,
    pub threshold: u8,
    pub shares: usize,
    pub coefficients_hex: Vec<String>,
    pub shares_hex: Vec<String>,
}

/// A share sealed to a trustee (or re-sealed to a doctor).
#[derive(Serialize)]
pub struct SealedShareVector {
    pub name: &'static str,
    pub patient_id: String,
    pub category: &'static str,
    pub epoch: u32,
    pub set_version: u32,
    pub info_hex: String,
    pub share_hex: String,
    pub recipient_x25519_secret_key_hex: String,
    pub recipient_x25519_public_key_hex: String,
    pub ephemeral_ikm_hex: String,
    pub sealed_hex: String,
}

fn split_vector(name: &'static str, threshold: u8, shares: usize) -> Result<SplitVector> {
    let key = CategoryKey::from_bytes(label_bytes(&format!(
        "ehr-chain test vector escrow key: {name}"
    )));
    let per_byte = usize::from(threshold) - 1;
    let mut stream = seeded_rng(label_bytes(&format!(
        "ehr-chain test vector escrow coefficients: {name}"
    )));
    let mut coefficients = vec![0u8; 32 * per_byte];
    rand_core::Rng::fill_bytes(&mut stream, &mut coefficients);
    let replay: Vec<u8> = coefficients.iter().flat_map(|&c| [c, 0, 0, 0]).collect();
    let mut rng = ReplayRng::new(&replay);
    let split = crate::escrow::split_key_with_rng(&key, threshold, shares, &mut rng)?;
    if !rng.consumed_exactly() {
        return Err(CryptoError::BadSplit { threshold, shares });
    }
    if crate::escrow::combine_shares(&split[..usize::from(threshold)], threshold)? != key {
        return Err(CryptoError::NotEnoughShares {
            got: shares,
            needed: threshold,
        });
    }
    Ok(SplitVector {
        name,
        key_hex: hex::encode(key.as_bytes()),
        threshold,
        shares,
        coefficients_hex: coefficients.chunks(per_byte).map(hex::encode).collect(),
        shares_hex: split.iter().map(|s| hex::encode(s.as_bytes())).collect(),
    })
}

fn sealed_share_vector(
    name: &'static str,
    context: crate::escrow::ShareContext,
    share_hex: &str,
    recipient: &Wallet,
) -> Result<SealedShareVector> {
    let bytes = hex::decode(share_hex).map_err(|e| CryptoError::Hex(e.to_string()))?;
    let share = crate::escrow::KeyShare::from_bytes(&bytes)?;
    let ikm = label_bytes(&format!("ehr-chain test vector share ephemeral: {name}"));
    let mut rng = ReplayRng::new(&ikm);
    let public = recipient.x25519.public_key();
    let sealed = crate::escrow::seal_share_with_rng(&public, &context, &share, &mut rng)?;
    if !rng.consumed_exactly()
        || crate::escrow::open_share(&recipient.x25519, &context, &sealed)? != share
    {
        return Err(CryptoError::EnvelopeSealFailed);
    }
    Ok(SealedShareVector {
        name,
        patient_id: context.patient_id.to_string(),
        category: context.category.name(),
        epoch: context.epoch,
        set_version: context.set_version,
        info_hex: hex::encode(context.info()),
        share_hex: share_hex.to_string(),
        recipient_x25519_secret_key_hex: hex::encode(recipient.x25519.as_bytes()),
        recipient_x25519_public_key_hex: public.to_hex(),
        ephemeral_ikm_hex: hex::encode(ikm),
        sealed_hex: hex::encode(&sealed),
    })
}

#[derive(Serialize)]
pub struct CategoryEntry {
    pub code: u8,
    pub name: &'static str,
}

#[derive(Serialize)]
pub struct HpkeSuite {
    pub mode: u8,
    pub kem_id: u16,
    pub kdf_id: u16,
    pub aead_id: u16,
}

#[derive(Serialize)]
pub struct Constants {
    pub file_magic_hex: String,
    pub file_format_version: u8,
    pub header_fields_len: usize,
    pub header_len: usize,
    pub categories: Vec<CategoryEntry>,
    pub hpke_suite: HpkeSuite,
    pub envelope_info_label_utf8: String,
    pub envelope_aad_hex: String,
    pub envelope_len: usize,
    pub hd_path: &'static str,
    pub bech32_prefix: &'static str,
    /// With `{chain_id}` and `{registry}` replaced by the scope's.
    pub key_derivation_template_utf8: &'static str,
    pub key_scope_chain_id: &'static str,
    pub key_scope_registry: &'static str,
    pub x25519_hkdf_salt_utf8: String,
    pub x25519_hkdf_info_utf8: String,
}

#[derive(Serialize)]
pub struct WalletVector {
    pub name: &'static str,
    pub mnemonic: String,
    pub hd_path: &'static str,
    pub secp256k1_secret_key_hex: String,
    pub secp256k1_public_key_compressed_hex: String,
    pub address: String,
    pub adr36_signer: String,
    pub adr36_data_utf8: String,
    pub adr36_data_base64: String,
    pub adr36_sign_doc_utf8: String,
    pub adr36_sign_doc_sha256_hex: String,
    pub adr36_signature_hex: String,
    pub adr36_signature_base64: String,
    pub x25519_secret_key_hex: String,
    pub x25519_public_key_hex: String,
    pub x25519_public_key_base64: String,
}

#[derive(Serialize)]
pub struct FileVector {
    pub name: &'static str,
    pub patient_id: String,
    pub category: &'static str,
    pub category_code: u8,
    pub epoch: u32,
    pub record_version: u32,
    pub category_key_hex: String,
    pub data_key_hex: String,
    pub wrap_nonce_hex: String,
    pub content_nonce_hex: String,
    pub plaintext_hex: String,
    pub plaintext_utf8: Option<String>,
    pub header_fields_hex: String,
    pub wrapped_data_key_hex: String,
    pub header_hex: String,
    pub file_hex: String,
    pub file_sha256_hex: String,
}

#[derive(Serialize)]
pub struct EnvelopeVector {
    pub name: &'static str,
    pub patient_id: String,
    pub category: &'static str,
    pub category_code: u8,
    pub epoch: u32,
    pub info_hex: String,
    pub category_key_hex: String,
    pub recipient_wallet: &'static str,
    pub recipient_x25519_secret_key_hex: String,
    pub recipient_x25519_public_key_hex: String,
    pub ephemeral_ikm_hex: String,
    pub enc_hex: String,
    pub envelope_hex: String,
    pub envelope_base64: String,
}

/// 32 bytes from a label, for seeds and entropy that look random but are fixed.
fn label_bytes(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Wallet {
    name: &'static str,
    x25519: X25519SecretKey,
}

fn wallet_vector(name: &'static str, mnemonic: String) -> Result<(WalletVector, Wallet)> {
    let key = WalletKey::from_mnemonic(&mnemonic)?;
    let address = key.address()?;
    let message = key_derivation_message(&VECTOR_SCOPE);
    let data = message.as_bytes();
    let doc = adr36_sign_doc(&address, data);
    let signature = key.sign_arbitrary(&address, data)?;
    let x25519 = key.derive_encryption_key(&VECTOR_SCOPE)?;
    // The derivation must be exactly HKDF over this signature.
    let check = crate::wallet::x25519_secret_from_signature(&signature)?;
    if check.as_bytes() != x25519.as_bytes() {
        return Err(CryptoError::InvalidSignature);
    }
    let public = x25519.public_key();
    let vector = WalletVector {
        name,
        mnemonic,
        hd_path: COSMOS_HD_PATH,
        secp256k1_secret_key_hex: hex::encode(key.secret_bytes().as_ref()),
        secp256k1_public_key_compressed_hex: hex::encode(key.public_key_compressed()),
        address: address.clone(),
        adr36_signer: address,
        adr36_data_utf8: message.clone(),
        adr36_data_base64: b64(data),
        adr36_sign_doc_utf8: String::from_utf8_lossy(&doc).into_owned(),
        adr36_sign_doc_sha256_hex: sha256_hex(&doc),
        adr36_signature_hex: hex::encode(signature),
        adr36_signature_base64: b64(&signature),
        x25519_secret_key_hex: hex::encode(x25519.as_bytes()),
        x25519_public_key_hex: public.to_hex(),
        x25519_public_key_base64: public.to_base64(),
    };
    Ok((vector, Wallet { name, x25519 }))
}

fn file_vector(
    name: &'static str,
    header: RecordHeader,
    plaintext: &[u8],
) -> Result<(FileVector, CategoryKey)> {
    let mut rng = seeded_rng(label_bytes(&format!("ehr-chain test vector file: {name}")));
    let category_key = CategoryKey::generate_with_rng(&mut rng);
    let material = FileMaterial::generate(&mut rng);
    let bytes = file::encrypt_file_with_material(&header, &category_key, &material, plaintext)?;
    let decrypted = file::decrypt_file_expecting(&category_key, &bytes, &header)?;
    if decrypted.plaintext.as_slice() != plaintext {
        return Err(CryptoError::Tampered);
    }
    let slice = |from: usize, to: usize| hex::encode(bytes.get(from..to).unwrap_or_default());
    let vector = FileVector {
        name,
        patient_id: header.patient_id.to_string(),
        category: header.category.name(),
        category_code: header.category.code(),
        epoch: header.epoch,
        record_version: header.record_version,
        category_key_hex: hex::encode(category_key.as_bytes()),
        data_key_hex: hex::encode(material.data_key.as_ref()),
        wrap_nonce_hex: hex::encode(material.wrap_nonce),
        content_nonce_hex: hex::encode(material.content_nonce),
        plaintext_hex: hex::encode(plaintext),
        plaintext_utf8: std::str::from_utf8(plaintext).ok().map(str::to_owned),
        header_fields_hex: hex::encode(header.to_field_bytes()),
        wrapped_data_key_hex: slice(
            HEADER_FIELDS_LEN + file::NONCE_LEN,
            HEADER_LEN - file::NONCE_LEN,
        ),
        header_hex: slice(0, HEADER_LEN),
        file_hex: hex::encode(&bytes),
        file_sha256_hex: sha256_hex(&bytes),
    };
    Ok((vector, category_key))
}

fn envelope_vector(
    name: &'static str,
    context: EnvelopeContext,
    key: &CategoryKey,
    recipient: &Wallet,
) -> Result<EnvelopeVector> {
    let ikm = label_bytes(&format!("ehr-chain test vector envelope ephemeral: {name}"));
    let mut rng = ReplayRng::new(&ikm);
    let public = recipient.x25519.public_key();
    let envelope = seal_category_key_with_rng(&public, &context, key, &mut rng)?;
    if !rng.consumed_exactly() {
        // The hpke crate must draw exactly Nsk = 32 bytes (ikmE) for its ephemeral key.
        return Err(CryptoError::EnvelopeSealFailed);
    }
    if open_category_key(&recipient.x25519, &context, &envelope)? != *key {
        return Err(CryptoError::EnvelopeOpenFailed);
    }
    let bytes = envelope.as_bytes();
    Ok(EnvelopeVector {
        name,
        patient_id: context.patient_id.to_string(),
        category: context.category.name(),
        category_code: context.category.code(),
        epoch: context.epoch,
        info_hex: hex::encode(context.info()),
        category_key_hex: hex::encode(key.as_bytes()),
        recipient_wallet: recipient.name,
        recipient_x25519_secret_key_hex: hex::encode(recipient.x25519.as_bytes()),
        recipient_x25519_public_key_hex: public.to_hex(),
        ephemeral_ikm_hex: hex::encode(ikm),
        enc_hex: hex::encode(&bytes[..crate::envelope::ENC_LEN]),
        envelope_hex: hex::encode(bytes),
        envelope_base64: envelope.to_base64(),
    })
}

/// Builds every vector; each is checked by decrypting / opening it before it is returned.
pub fn generate() -> Result<TestVectors> {
    let mut wallets = Vec::new();
    let mut wallet_vectors = Vec::new();
    let bip39_test_mnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about".to_owned();
    let named_mnemonics: [(&'static str, String); 3] = [
        ("patient", bip39_test_mnemonic),
        (
            "doctor_a",
            mnemonic_from_label("ehr-chain test wallet doctor_a")?,
        ),
        (
            "doctor_b",
            mnemonic_from_label("ehr-chain test wallet doctor_b")?,
        ),
    ];
    for (name, mnemonic) in named_mnemonics {
        let (vector, wallet) = wallet_vector(name, mnemonic)?;
        wallet_vectors.push(vector);
        wallets.push(wallet);
    }
    let [patient, doctor_a, doctor_b] = &wallets[..] else {
        return Err(CryptoError::InvalidMnemonic("wallet list".into()));
    };

    let lab_result = br#"{"resourceType":"Observation","status":"final","code":{"text":"Hemoglobin"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}"#;
    let note =
        "Patient reports mild headache; advised rest & fluids. <follow-up> in 2 weeks. Ünïcödé ✓"
            .as_bytes();
    let mut binary = Vec::with_capacity(300);
    let mut binary_rng = seeded_rng(label_bytes("ehr-chain test vector binary plaintext"));
    binary.resize(300, 0);
    rand_core::Rng::fill_bytes(&mut binary_rng, &mut binary);

    let file_specs: [(&'static str, RecordHeader, &[u8]); 5] = [
        (
            "lab_epoch1_v1",
            RecordHeader {
                patient_id: 1,
                category: Category::Lab,
                epoch: 1,
                record_version: 1,
            },
            lab_result,
        ),
        (
            "note_epoch1_v1",
            RecordHeader {
                patient_id: 1,
                category: Category::Note,
                epoch: 1,
                record_version: 1,
            },
            note,
        ),
        (
            "lab_epoch2_v1_after_revoke",
            RecordHeader {
                patient_id: 1,
                category: Category::Lab,
                epoch: 2,
                record_version: 1,
            },
            lab_result,
        ),
        (
            "profile_empty_v7",
            RecordHeader {
                patient_id: 42,
                category: Category::Profile,
                epoch: 3,
                record_version: 7,
            },
            b"",
        ),
        (
            "imaging_binary_max_ids",
            RecordHeader {
                patient_id: u64::MAX,
                category: Category::Imaging,
                epoch: u32::MAX,
                record_version: u32::MAX,
            },
            &binary,
        ),
    ];
    let mut files = Vec::new();
    let mut keys = Vec::new();
    for (name, header, plaintext) in file_specs {
        let (vector, key) = file_vector(name, header, plaintext)?;
        files.push(vector);
        keys.push((header, key));
    }
    let key_of = |patient_id: u64, category: Category, epoch: u32| {
        keys.iter()
            .find(|(h, _)| h.patient_id == patient_id && h.category == category && h.epoch == epoch)
            .map(|(_, k)| k)
            .ok_or(CryptoError::MissingCategoryKey {
                patient_id,
                category: category.name(),
                epoch,
            })
    };
    let lab1 = EnvelopeContext {
        patient_id: 1,
        category: Category::Lab,
        epoch: 1,
    };
    let lab2 = EnvelopeContext {
        patient_id: 1,
        category: Category::Lab,
        epoch: 2,
    };
    let note1 = EnvelopeContext {
        patient_id: 1,
        category: Category::Note,
        epoch: 1,
    };
    let envelopes = vec![
        envelope_vector(
            "patient_self_lab_epoch1",
            lab1,
            key_of(1, Category::Lab, 1)?,
            patient,
        )?,
        envelope_vector(
            "patient_self_note_epoch1",
            note1,
            key_of(1, Category::Note, 1)?,
            patient,
        )?,
        envelope_vector(
            "grant_doctor_a_lab_epoch1",
            lab1,
            key_of(1, Category::Lab, 1)?,
            doctor_a,
        )?,
        envelope_vector(
            "grant_doctor_b_lab_epoch1",
            lab1,
            key_of(1, Category::Lab, 1)?,
            doctor_b,
        )?,
        envelope_vector(
            "patient_self_lab_epoch2_after_revoking_doctor_b",
            lab2,
            key_of(1, Category::Lab, 2)?,
            patient,
        )?,
        envelope_vector(
            "grant_doctor_a_lab_epoch2",
            lab2,
            key_of(1, Category::Lab, 2)?,
            doctor_a,
        )?,
    ];

    let escrow_splits = vec![
        split_vector("allergy_2_of_3", 2, 3)?,
        split_vector("prescription_3_of_5", 3, 5)?,
    ];
    let allergy = crate::escrow::ShareContext {
        patient_id: 1,
        category: Category::Allergy,
        epoch: 0,
        set_version: 1,
    };
    let escrow_sealed_shares = vec![
        sealed_share_vector(
            "share1_to_trustee_doctor_a",
            allergy,
            &escrow_splits[0].shares_hex[0],
            doctor_a,
        )?,
        sealed_share_vector(
            "share2_resealed_to_doctor_b",
            allergy,
            &escrow_splits[0].shares_hex[1],
            doctor_b,
        )?,
    ];

    Ok(TestVectors {
        description: "ehr-chain crypto test vectors (packages/ehr-crypto/FORMAT.md): wallet key derivation, record files, HPKE category-key envelopes",
        generated_by: "cargo run -p ehr-crypto --bin gen-vectors",
        encoding: "fields ending _hex: lowercase hex; _base64: standard base64 with padding; _utf8: text; u64 ids are decimal strings",
        constants: Constants {
            file_magic_hex: hex::encode(FILE_MAGIC),
            file_format_version: FILE_FORMAT_VERSION,
            header_fields_len: HEADER_FIELDS_LEN,
            header_len: HEADER_LEN,
            categories: Category::ALL.iter().map(|c| CategoryEntry { code: c.code(), name: c.name() }).collect(),
            hpke_suite: HpkeSuite { mode: 0, kem_id: 0x0020, kdf_id: 0x0001, aead_id: 0x0003 },
            envelope_info_label_utf8: String::from_utf8_lossy(ENVELOPE_INFO_LABEL).into_owned(),
            envelope_aad_hex: String::new(),
            envelope_len: ENVELOPE_LEN,
            hd_path: COSMOS_HD_PATH,
            bech32_prefix: ADDRESS_PREFIX,
            key_derivation_template_utf8: KEY_DERIVATION_TEMPLATE,
            key_scope_chain_id: VECTOR_SCOPE.chain_id,
            key_scope_registry: VECTOR_SCOPE.registry,
            x25519_hkdf_salt_utf8: String::from_utf8_lossy(X25519_HKDF_SALT).into_owned(),
            x25519_hkdf_info_utf8: String::from_utf8_lossy(X25519_HKDF_INFO).into_owned(),
        },
        wallets: wallet_vectors,
        files,
        envelopes,
        escrow_splits,
        escrow_sealed_shares,
    })
}

/// A 24-word mnemonic whose entropy is sha256(label).
fn mnemonic_from_label(label: &str) -> Result<String> {
    bip39::Mnemonic::from_entropy(&label_bytes(label))
        .map(|m| m.to_string())
        .map_err(|e| CryptoError::InvalidMnemonic(e.to_string()))
}

/// The vectors as the pretty-printed JSON committed in `test-vectors.json` (trailing newline).
pub fn generate_json() -> Result<String> {
    let vectors = generate()?;
    let mut text =
        serde_json::to_string_pretty(&vectors).map_err(|e| CryptoError::Hex(e.to_string()))?;
    text.push('\n');
    Ok(text)
}
