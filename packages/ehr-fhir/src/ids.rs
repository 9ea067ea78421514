//! Deterministic entry ids (docs/fhir.md, "Ids"): the same chain state always exports the same
//! `fullUrl`s, so a second export, the browser's and a checker agree on them.

use sha2::{Digest, Sha256};

/// `urn:uuid:` + the version-8 UUID of `sha256(chain_id/registry/key)`.
pub fn full_url(chain_id: &str, registry: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{chain_id}/{registry}/{key}"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_urls_are_version_8_uuids_of_the_key() {
        let url = full_url("ehr-localnet", "wasm1registry", "record/7/1");
        // sha256("ehr-localnet/wasm1registry/record/7/1"), computed with `sha256sum`.
        let digest = hex::encode(Sha256::digest("ehr-localnet/wasm1registry/record/7/1"));
        assert_eq!(url.len(), "urn:uuid:".len() + 36);
        assert_eq!(&url[9..17], &digest[0..8]);
        assert_eq!(&url[23..24], "8");
        assert!(matches!(&url[28..29], "8" | "9" | "a" | "b"));
        assert_ne!(url, full_url("ehr-localnet", "wasm1registry", "record/7/2"));
    }
}
