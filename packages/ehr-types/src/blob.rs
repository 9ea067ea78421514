use cosmwasm_schema::cw_serde;

/// Where an encrypted file lives and what it must hash to.
#[cw_serde]
pub struct BlobRef {
    /// Lowercase hex sha256 of the ciphertext (64 characters).
    pub sha256: String,
    /// Locator of the ciphertext: `ipfs://<cid>` or `ehrfs://<sha256>`.
    pub uri: String,
    /// Size of the ciphertext in bytes.
    pub size: u64,
}
