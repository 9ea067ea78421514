//! Wallet keys, addresses, ADR-36 signatures and the wallet-derived X25519 key.

use ehr_crypto::wallet::{
    address_from_public_key, adr36_sign_doc, signature_from_base64, verify_arbitrary,
    x25519_secret_from_signature,
};
use ehr_crypto::{key_derivation_message, CryptoError, KeyScope, WalletKey};

const SCOPE: KeyScope = ehr_crypto::vectors::VECTOR_SCOPE;
/// What the wallet signs for `SCOPE`.
static MESSAGE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| key_derivation_message(&SCOPE));

const ABANDON: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

#[test]
fn bip39_test_mnemonic_gives_the_well_known_cosmos_address() {
    let wallet = WalletKey::from_mnemonic(ABANDON).unwrap();
    // The address every Cosmos wallet shows for this public BIP-39 test mnemonic.
    assert_eq!(
        wallet.address_with_prefix("cosmos").unwrap(),
        "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4"
    );
    assert!(wallet
        .address()
        .unwrap()
        .starts_with("wasm19rl4cm2hmr8afy4kldpxz3fka4jguq0a"));
    assert_eq!(
        address_from_public_key(&wallet.public_key_compressed(), "wasm").unwrap(),
        wallet.address().unwrap()
    );
}

#[test]
fn mnemonic_whitespace_is_normalized_and_bad_mnemonics_are_errors() {
    let spaced = format!("  {}\n", ABANDON.replace(' ', "   "));
    assert_eq!(
        WalletKey::from_mnemonic(&spaced)
            .unwrap()
            .address()
            .unwrap(),
        WalletKey::from_mnemonic(ABANDON)
            .unwrap()
            .address()
            .unwrap()
    );
    let bad_checksum = ABANDON.replace("about", "abandon");
    for bad in ["", "hello world", bad_checksum.as_str(), "abandon"] {
        assert!(
            matches!(
                WalletKey::from_mnemonic(bad).unwrap_err(),
                CryptoError::InvalidMnemonic(_)
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        WalletKey::from_mnemonic_at(ABANDON, "m/44'/x").unwrap_err(),
        CryptoError::HdDerivation(_)
    ));
    assert!(WalletKey::from_secret_bytes(&[0u8; 32]).is_err());
    assert!(WalletKey::from_secret_bytes(&[1u8; 31]).is_err());
}

#[test]
fn sign_doc_is_keplrs_sorted_compact_amino_json() {
    let doc = adr36_sign_doc("wasm1signer", b"hello");
    assert_eq!(
        String::from_utf8(doc).unwrap(),
        r#"{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"","msgs":[{"type":"sign/MsgSignData","value":{"data":"aGVsbG8=","signer":"wasm1signer"}}],"sequence":"0"}"#
    );
    // Keplr escapes <, > and & after JSON serialization.
    let escaped = String::from_utf8(adr36_sign_doc("<a&b>", b"")).unwrap();
    assert!(
        escaped.contains(r#""signer":"\u003ca\u0026b\u003e""#),
        "{escaped}"
    );
}

#[test]
fn signatures_are_deterministic_low_s_and_verify() {
    let wallet = WalletKey::from_mnemonic(ABANDON).unwrap();
    let address = wallet.address().unwrap();
    let pk = wallet.public_key_compressed();
    let a = wallet.sign_arbitrary(&address, MESSAGE.as_bytes()).unwrap();
    let b = wallet.sign_arbitrary(&address, MESSAGE.as_bytes()).unwrap();
    assert_eq!(a, b, "RFC 6979");
    verify_arbitrary(&pk, &address, MESSAGE.as_bytes(), &a).unwrap();
    assert_eq!(
        verify_arbitrary(&pk, &address, b"other", &a).unwrap_err(),
        CryptoError::InvalidSignature
    );
    assert_eq!(
        verify_arbitrary(&pk, "wasm1other", MESSAGE.as_bytes(), &a).unwrap_err(),
        CryptoError::InvalidSignature
    );

    // s <= n/2: the high-S twin (n - s) of a valid signature is refused, as Cosmos does.
    let n =
        hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
    let mut high = a;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let v = i16::from(n[i]) - i16::from(a[32 + i]) - borrow;
        borrow = i16::from(v < 0);
        high[32 + i] = v.rem_euclid(256) as u8;
    }
    assert_eq!(
        verify_arbitrary(&pk, &address, MESSAGE.as_bytes(), &high).unwrap_err(),
        CryptoError::InvalidSignature
    );
}

#[test]
fn encryption_key_is_deterministic_per_wallet_and_matches_the_signature_path() {
    let patient = WalletKey::from_mnemonic(ABANDON).unwrap();
    let other = WalletKey::from_mnemonic_at(ABANDON, "m/44'/118'/0'/0/1").unwrap();
    let k1 = patient.derive_encryption_key(&SCOPE).unwrap();
    let k2 = patient.derive_encryption_key(&SCOPE).unwrap();
    assert_eq!(k1.as_bytes(), k2.as_bytes());
    assert_ne!(
        k1.as_bytes(),
        other.derive_encryption_key(&SCOPE).unwrap().as_bytes()
    );

    // What the browser does: signature from Keplr (base64) → HKDF → X25519.
    let signature = patient
        .sign_arbitrary(
            &patient.address().unwrap(),
            key_derivation_message(&SCOPE).as_bytes(),
        )
        .unwrap();
    use base64::Engine as _;
    let from_keplr =
        signature_from_base64(&base64::engine::general_purpose::STANDARD.encode(signature))
            .unwrap();
    assert_eq!(
        x25519_secret_from_signature(&from_keplr)
            .unwrap()
            .as_bytes(),
        k1.as_bytes()
    );
    assert_eq!(
        k1.public_key(),
        x25519_secret_from_signature(&signature)
            .unwrap()
            .public_key()
    );
    assert!(signature_from_base64("AAAA").is_err());
}

#[test]
fn the_key_is_bound_to_its_chain_and_registry_and_the_prompt_names_them() {
    let wallet = WalletKey::from_mnemonic(ABANDON).unwrap();
    let other_chain = KeyScope {
        chain_id: "ehr-other-1",
        ..SCOPE
    };
    let other_registry = KeyScope {
        registry: "wasm1nc5tatafv6eyq7llkr2gv50ff9e22mnf70qgjlv737ktmt4eswrqr5j2ht",
        ..SCOPE
    };
    let key = wallet.derive_encryption_key(&SCOPE).unwrap();
    for scope in [other_chain, other_registry] {
        assert_ne!(
            wallet.derive_encryption_key(&scope).unwrap().as_bytes(),
            key.as_bytes(),
            "{scope:?}"
        );
    }
    let prompt = key_derivation_message(&SCOPE);
    assert!(prompt.contains(SCOPE.chain_id) && prompt.contains(SCOPE.registry));
    assert!(prompt.starts_with("ehr-chain: unlock your health records"));
    assert!(!prompt.contains('{'), "{prompt}");
}

#[test]
fn secrets_do_not_print() {
    let wallet = WalletKey::from_mnemonic(ABANDON).unwrap();
    let secret_hex = hex::encode(wallet.secret_bytes().as_ref());
    let x = wallet.derive_encryption_key(&SCOPE).unwrap();
    assert!(!format!("{wallet:?}").contains(&secret_hex));
    assert_eq!(format!("{x:?}"), "X25519SecretKey(<redacted>)");
}
