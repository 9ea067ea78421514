//! Where ciphertext blobs live. One trait, two backends: a kubo IPFS node through its RPC API
//! (`ipfs://CID`) and an embedded content-addressed directory (`ehrfs://<sha256>`), the default
//! when no IPFS endpoint is configured. Both only store ciphertext; integrity is checked by the
//! caller against the sha256 on chain, never trusted from the store.

use std::future::Future;
use std::path::{Path, PathBuf};

use ehr_types::validate::{EHRFS_SCHEME, IPFS_SCHEME};
use ehr_types::BlobRef;

use crate::error::{ClientError, Result};

pub trait BlobStore: Send + Sync {
    /// Stores `bytes` and returns their on-chain reference (sha256, uri, size).
    fn put(&self, bytes: &[u8]) -> impl Future<Output = Result<BlobRef>> + Send;
    /// The bytes stored under `uri`, as stored (not verified).
    fn get(&self, uri: &str) -> impl Future<Output = Result<Vec<u8>>> + Send;
}

/// Embedded store: `<root>/<first two hex chars>/<sha256>`.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path_of(&self, sha256: &str) -> Result<PathBuf> {
        ehr_types::validate::validate_sha256(sha256)
            .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }
}

impl BlobStore for DirStore {
    async fn put(&self, bytes: &[u8]) -> Result<BlobRef> {
        let sha256 = ehr_crypto::sha256_hex(bytes);
        let path = self.path_of(&sha256)?;
        if !path.exists() {
            let dir = path.parent().expect("blob paths have a parent");
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| storage_io(dir, e))?;
            // Write then rename, so a crash never leaves a partial blob under its final name.
            let partial = dir.join(format!(".{sha256}.partial"));
            tokio::fs::write(&partial, bytes)
                .await
                .map_err(|e| storage_io(&partial, e))?;
            tokio::fs::rename(&partial, &path)
                .await
                .map_err(|e| storage_io(&path, e))?;
        }
        Ok(BlobRef {
            uri: format!("{EHRFS_SCHEME}{sha256}"),
            sha256,
            size: bytes.len() as u64,
        })
    }

    async fn get(&self, uri: &str) -> Result<Vec<u8>> {
        let sha256 = uri.strip_prefix(EHRFS_SCHEME).ok_or_else(|| {
            ClientError::InvalidInput(format!("{uri} is not an {EHRFS_SCHEME} uri"))
        })?;
        let path = self.path_of(sha256)?;
        tokio::fs::read(&path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ClientError::NotFound(format!(
                "blob {uri} not found in the local store {}",
                self.root.display()
            )),
            _ => storage_io(&path, e),
        })
    }
}

fn storage_io(path: &Path, error: std::io::Error) -> ClientError {
    ClientError::Storage(format!("{}: {error}", path.display()))
}

/// A kubo node's RPC API (`/api/v0/add`, `/api/v0/cat`). Loopback only: the API has no
/// authentication, so a remote endpoint is refused.
#[derive(Debug, Clone)]
pub struct IpfsStore {
    api: String,
    http: reqwest::Client,
}

impl IpfsStore {
    pub fn new(api_url: &str) -> Result<Self> {
        let url = reqwest::Url::parse(api_url)
            .map_err(|e| ClientError::InvalidInput(format!("IPFS API url {api_url}: {e}")))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        if !loopback {
            return Err(ClientError::InvalidInput(format!(
                "IPFS API url {api_url} is not a loopback address"
            )));
        }
        Ok(Self {
            api: api_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        })
    }

    fn unreachable(&self, error: reqwest::Error) -> ClientError {
        ClientError::Storage(format!(
            "IPFS RPC API at {} unreachable or failed: {error}",
            self.api
        ))
    }
}

#[derive(serde::Deserialize)]
struct AddResponse {
    #[serde(rename = "Hash")]
    hash: String,
}

impl BlobStore for IpfsStore {
    async fn put(&self, bytes: &[u8]) -> Result<BlobRef> {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes.to_vec()));
        let response = self
            .http
            .post(format!(
                "{}/api/v0/add?pin=true&cid-version=1&raw-leaves=true&quiet=true",
                self.api
            ))
            .multipart(form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Storage(format!(
                "IPFS add failed ({status}): {body}"
            )));
        }
        let added: AddResponse = response.json().await.map_err(|e| self.unreachable(e))?;
        Ok(BlobRef {
            sha256: ehr_crypto::sha256_hex(bytes),
            uri: format!("{IPFS_SCHEME}{}", added.hash),
            size: bytes.len() as u64,
        })
    }

    async fn get(&self, uri: &str) -> Result<Vec<u8>> {
        let cid = uri
            .strip_prefix(IPFS_SCHEME)
            .filter(|cid| !cid.is_empty() && cid.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| {
                ClientError::InvalidInput(format!("{uri} is not an {IPFS_SCHEME}<cid> uri"))
            })?;
        let response = self
            .http
            .post(format!("{}/api/v0/cat?arg={cid}", self.api))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::NotFound(format!(
                "IPFS cat {cid}: not found ({status}): {}",
                body.trim()
            )));
        }
        Ok(response
            .bytes()
            .await
            .map_err(|e| self.unreachable(e))?
            .to_vec())
    }
}

/// The configured backend. Reads dispatch on the uri scheme, so records written to either
/// backend stay readable whichever one new writes go to.
#[derive(Debug, Clone)]
pub struct Storage {
    local: DirStore,
    ipfs: Option<IpfsStore>,
}

impl Storage {
    pub fn new(local_root: impl Into<PathBuf>, ipfs_api: Option<&str>) -> Result<Self> {
        Ok(Self {
            local: DirStore::new(local_root),
            ipfs: ipfs_api.map(IpfsStore::new).transpose()?,
        })
    }

    pub fn backend_name(&self) -> &'static str {
        if self.ipfs.is_some() {
            "ipfs"
        } else {
            "ehrfs"
        }
    }
}

impl BlobStore for Storage {
    async fn put(&self, bytes: &[u8]) -> Result<BlobRef> {
        match &self.ipfs {
            Some(ipfs) => ipfs.put(bytes).await,
            None => self.local.put(bytes).await,
        }
    }

    async fn get(&self, uri: &str) -> Result<Vec<u8>> {
        if uri.starts_with(EHRFS_SCHEME) {
            self.local.get(uri).await
        } else if uri.starts_with(IPFS_SCHEME) {
            match &self.ipfs {
                Some(ipfs) => ipfs.get(uri).await,
                None => Err(ClientError::InvalidInput(format!(
                    "{uri} is in IPFS but no IPFS API is configured (--ipfs-api)"
                ))),
            }
        } else {
            Err(ClientError::InvalidInput(format!(
                "unknown blob uri scheme: {uri}"
            )))
        }
    }
}

/// Fetches a blob and checks it against the sha256 the chain holds for it.
pub async fn fetch_verified(store: &impl BlobStore, blob: &BlobRef) -> Result<Vec<u8>> {
    let bytes = store.get(&blob.uri).await?;
    let found = ehr_crypto::sha256_hex(&bytes);
    if found != blob.sha256 {
        return Err(ClientError::IntegrityMismatch {
            uri: blob.uri.clone(),
            expected: blob.sha256.clone(),
            found,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dir_store_round_trips_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let blob = store.put(b"ciphertext bytes").await.unwrap();
        assert_eq!(blob.uri, format!("ehrfs://{}", blob.sha256));
        ehr_types::validate::validate_blob(&blob).unwrap();
        assert_eq!(
            fetch_verified(&store, &blob).await.unwrap(),
            b"ciphertext bytes"
        );
        // Same bytes, same reference; no second file.
        assert_eq!(store.put(b"ciphertext bytes").await.unwrap(), blob);

        std::fs::write(store.path_of(&blob.sha256).unwrap(), b"ciphertext bytez").unwrap();
        assert!(matches!(
            fetch_verified(&store, &blob).await,
            Err(ClientError::IntegrityMismatch { .. })
        ));
    }

    #[tokio::test]
    async fn dir_store_refuses_bad_uris_and_reports_missing_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        assert!(matches!(
            store.get("ehrfs://../../etc/passwd").await,
            Err(ClientError::InvalidInput(_))
        ));
        assert!(matches!(
            store.get("ipfs://bafy").await,
            Err(ClientError::InvalidInput(_))
        ));
        let missing = format!("ehrfs://{}", "ab".repeat(32));
        assert!(matches!(
            store.get(&missing).await,
            Err(ClientError::NotFound(_))
        ));
    }

    #[test]
    fn ipfs_store_is_loopback_only() {
        assert!(IpfsStore::new("http://127.0.0.1:5001").is_ok());
        assert!(IpfsStore::new("http://localhost:5001").is_ok());
        assert!(IpfsStore::new("http://[::1]:5001").is_ok());
        assert!(IpfsStore::new("http://10.0.0.1:5001").is_err());
        assert!(IpfsStore::new("http://example.org:5001").is_err());
    }
}
