//! Reading many records of one patient at once (the FHIR export, the search index): the
//! identity's keyring is fetched once, blobs are fetched concurrently, and each file carries its
//! own result so one missing key or tampered blob does not stop the rest.

use std::collections::HashMap;

use ehr_types::registry::{
    PatientInfo, QueryMsg as RegistryQuery, RecordInfo, RecordVersion, RecordsResponse,
};
use ehr_types::{BlobRef, Category, PatientId};
use tokio::task::JoinSet;

use crate::error::{ClientError, Result};
use crate::paging::all_pages;
use crate::records::{open_file, Ehr, Opened};
use crate::storage::{fetch_verified, BlobStore};

/// Blobs fetched at the same time: enough to hide IPFS round trips, few enough not to flood a
/// local kubo node.
pub const IN_FLIGHT: usize = 24;

impl Ehr {
    /// Every record of a patient (deleted ones included, as the chain lists them), in id order.
    pub async fn records_of_patient(&self, patient_id: PatientId) -> Result<Vec<RecordInfo>> {
        all_pages(
            |record: &RecordInfo| record.id,
            |start_after, limit| async move {
                let page: RecordsResponse = self
                    .session
                    .chain
                    .registry(&RegistryQuery::RecordsByPatient {
                        patient_id,
                        category: None,
                        start_after,
                        limit: Some(limit),
                    })
                    .await?;
                Ok(page.records)
            },
        )
        .await
    }

    /// Fetches, verifies against the chain's sha256, checks the header of and decrypts each
    /// version, in order. The outer error is a failure to read the keys; each item's own error
    /// (missing key, integrity mismatch, a header naming another record) is its own result.
    pub async fn open_versions(
        &self,
        patient: &PatientInfo,
        versions: &[(Category, RecordVersion)],
    ) -> Result<Vec<Result<Vec<u8>>>> {
        let mut keyring = self.keyring(patient).await?;
        let blobs: Vec<BlobRef> = versions.iter().map(|(_, v)| v.blob.clone()).collect();
        let files = fetch_all(&self.storage, blobs, IN_FLIGHT).await;
        let mut missing = Vec::new();
        let mut results: Vec<Result<Vec<u8>>> = Vec::with_capacity(versions.len());
        for (index, (file, (category, version))) in files.into_iter().zip(versions).enumerate() {
            let opened = file.and_then(|file| {
                open_file(&keyring, patient.id, *category, version.version, &file)
                    .map(|opened| (opened, file))
            });
            results.push(match opened {
                Ok((Opened::Plaintext(plaintext), _)) => Ok(plaintext),
                Ok((Opened::MissingKey { .. }, file)) => {
                    missing.push((index, file));
                    // Replaced below, once the released shares are combined.
                    Ok(Vec::new())
                }
                Err(error) => Err(error),
            });
        }
        if missing.is_empty() {
            return Ok(results);
        }
        // As open_blob: keys an emergency or a recovery released through the trustees, combined
        // once for the whole batch.
        let progress = self.combine_released(patient.id, &mut keyring).await?;
        let mut reasons: HashMap<(Category, u32), ClientError> = HashMap::new();
        for (index, file) in missing {
            let (category, version) = &versions[index];
            results[index] =
                match open_file(&keyring, patient.id, *category, version.version, &file) {
                    Ok(Opened::Plaintext(plaintext)) => Ok(plaintext),
                    Ok(Opened::MissingKey { epoch }) => {
                        let known = reasons.get(&(*category, epoch)).and_then(same_reason);
                        let reason = match known {
                            Some(reason) => reason,
                            None => {
                                self.missing_key(patient.id, *category, epoch, &progress)
                                    .await?
                            }
                        };
                        if let Some(copy) = same_reason(&reason) {
                            reasons.insert((*category, epoch), copy);
                        }
                        Err(reason)
                    }
                    Err(error) => Err(error),
                };
        }
        Ok(results)
    }
}

/// A copy of a missing-key reason (the two kinds `missing_key` gives), so every file of one
/// (category, epoch) gets the reason without asking the chain again.
fn same_reason(reason: &ClientError) -> Option<ClientError> {
    match reason {
        ClientError::Crypto(error) => Some(ClientError::Crypto(error.clone())),
        ClientError::AwaitingTrustees {
            category,
            epoch,
            released,
            needed,
        } => Some(ClientError::AwaitingTrustees {
            category,
            epoch: *epoch,
            released: *released,
            needed: *needed,
        }),
        _ => None,
    }
}

/// Fetches and verifies every blob with at most `limit` in flight; results in the order of `blobs`.
pub async fn fetch_all<S>(store: &S, blobs: Vec<BlobRef>, limit: usize) -> Vec<Result<Vec<u8>>>
where
    S: BlobStore + Clone + 'static,
{
    let mut results: Vec<Option<Result<Vec<u8>>>> = Vec::with_capacity(blobs.len());
    results.resize_with(blobs.len(), || None);
    let mut pending = blobs.into_iter().enumerate();
    let mut running = JoinSet::new();
    loop {
        while running.len() < limit.max(1) {
            let Some((index, blob)) = pending.next() else {
                break;
            };
            let store = store.clone();
            running.spawn(async move { (index, fetch_verified(&store, &blob).await) });
        }
        match running.join_next().await {
            Some(Ok((index, fetched))) => results[index] = Some(fetched),
            Some(Err(error)) => {
                // A fetch task only ends by returning, unless the runtime shuts down or it
                // panicked; its slot then says so below.
                tracing::warn!(%error, "a blob fetch task did not finish");
            }
            None => break,
        }
    }
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| {
                Err(ClientError::Storage(
                    "the fetch of this blob did not finish".into(),
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ehr_crypto::{CategoryKey, CategoryKeyring, EnvelopeContext, RecordHeader};

    use super::*;
    use crate::storage::DirStore;

    #[tokio::test]
    async fn fetch_all_keeps_the_order_and_fails_only_the_tampered_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let mut blobs = Vec::new();
        for n in 0..50u32 {
            blobs.push(store.put(format!("blob {n}").as_bytes()).await.unwrap());
        }
        let tampered = blobs[17].clone();
        std::fs::write(store.path_of(&tampered.sha256).unwrap(), b"other bytes").unwrap();

        let fetched = fetch_all(&store, blobs, 4).await;
        assert_eq!(fetched.len(), 50);
        for (n, result) in fetched.iter().enumerate() {
            match result {
                Ok(bytes) => assert_eq!(bytes, format!("blob {n}").as_bytes()),
                Err(ClientError::IntegrityMismatch { uri, .. }) => {
                    assert_eq!((n, uri), (17, &tampered.uri))
                }
                Err(other) => panic!("blob {n}: {other}"),
            }
        }
        assert!(fetched[17].is_err());
    }

    fn sealed(category: Category, epoch: u32, version: u32, key: &CategoryKey) -> Vec<u8> {
        let header = RecordHeader {
            patient_id: 7,
            category,
            epoch,
            record_version: version,
        };
        ehr_crypto::encrypt_file(&header, key, b"{\"resourceType\":\"Observation\"}").unwrap()
    }

    #[test]
    fn open_file_decrypts_names_the_missing_epoch_and_refuses_a_moved_file() {
        let key = CategoryKey::generate().unwrap();
        let mut keyring = CategoryKeyring::new();
        keyring.insert(
            EnvelopeContext {
                patient_id: 7,
                category: Category::Lab,
                epoch: 0,
            },
            key.clone(),
        );
        let file = sealed(Category::Lab, 0, 2, &key);
        match open_file(&keyring, 7, Category::Lab, 2, &file).unwrap() {
            Opened::Plaintext(plaintext) => {
                assert_eq!(plaintext, b"{\"resourceType\":\"Observation\"}")
            }
            Opened::MissingKey { epoch } => panic!("missing key of epoch {epoch}"),
        }
        let later = sealed(Category::Lab, 3, 1, &key);
        assert!(matches!(
            open_file(&keyring, 7, Category::Lab, 1, &later).unwrap(),
            Opened::MissingKey { epoch: 3 }
        ));
        // The same file registered as another version, category or patient opens for nobody.
        assert!(open_file(&keyring, 7, Category::Lab, 1, &file).is_err());
        assert!(open_file(&keyring, 7, Category::Imaging, 2, &file).is_err());
        assert!(open_file(&keyring, 8, Category::Lab, 2, &file).is_err());
    }

    #[test]
    fn a_missing_key_reason_is_copied_and_other_errors_are_not() {
        let missing = ClientError::Crypto(ehr_crypto::CryptoError::MissingCategoryKey {
            patient_id: 7,
            category: "lab",
            epoch: 1,
        });
        assert_eq!(
            same_reason(&missing).map(|e| e.to_string()),
            Some(missing.to_string())
        );
        let awaiting = ClientError::AwaitingTrustees {
            category: "lab",
            epoch: 1,
            released: 1,
            needed: 2,
        };
        assert_eq!(
            same_reason(&awaiting).map(|e| e.to_string()),
            Some(awaiting.to_string())
        );
        assert!(same_reason(&ClientError::Storage("down".into())).is_none());
    }
}
