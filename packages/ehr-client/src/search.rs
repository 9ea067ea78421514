//! Search over everything an identity can decrypt of one patient: a local index of each record's
//! title, date and text (ehr-fhir's `meta_of`, the web UI's rules), kept in the client home
//! sealed with a key derived from the identity's X25519 secret (ehr-crypto `AtRestKey`).
//!
//! A sync lists the patient's records and fetches only versions newer than the indexed ones.
//! It drops deleted records, categories the identity may no longer read (no unexpired grant
//! that covers them, no open emergency window on an escrowed category) and records whose new
//! version it cannot decrypt (a key it was never given after a revoke and rotation); those are
//! remembered by version and epoch and tried again only when either changes or the key arrives.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cosmwasm_std::Timestamp;
use ehr_crypto::at_rest::SEARCH_INDEX_LABEL;
use ehr_crypto::{AtRestKey, EnvelopeContext, KeyScope};
use ehr_types::registry::{PatientInfo, RecordInfo, RecordStatus};
use ehr_types::{Category, PatientId, RecordId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ClientError, Result};
use crate::identity::write_private;
use crate::records::Ehr;

/// One indexed record. Short serde names: the index of 10,000 records is read on every search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "i")]
    pub record_id: RecordId,
    #[serde(rename = "v")]
    pub version: u32,
    #[serde(rename = "c")]
    pub category: Category,
    #[serde(rename = "a")]
    pub author: String,
    /// Chain time of the indexed version.
    #[serde(rename = "t")]
    pub time: Timestamp,
    /// The document's own date, else the chain time's (UTC), yyyy-mm-dd: what date filters read.
    #[serde(rename = "d")]
    pub date: String,
    #[serde(rename = "n")]
    pub title: String,
    /// Lowercased title, text, category and "#id": what text search reads (the web UI's haystack).
    #[serde(rename = "x")]
    pub text: String,
}

/// A version the identity could not decrypt, and the key epoch it is sealed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreadable {
    #[serde(rename = "i")]
    pub record_id: RecordId,
    #[serde(rename = "v")]
    pub version: u32,
    #[serde(rename = "e")]
    pub epoch: u32,
}

/// The index of one patient's records, as one identity reads them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchIndex {
    #[serde(rename = "p")]
    pub patient_id: PatientId,
    /// The sync cursor: per record, the version indexed (here) or found unreadable.
    #[serde(rename = "e")]
    pub entries: Vec<Entry>,
    #[serde(rename = "u")]
    pub unreadable: Vec<Unreadable>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncCounts {
    /// Records the chain lists for the patient (tombstones included).
    pub listed: usize,
    /// Versions fetched and decrypted (or tried).
    pub fetched: usize,
    /// Entries removed: deleted, no longer readable, or a new version that does not decrypt.
    pub dropped: usize,
    /// Versions not read for a passing reason (storage or node down): tried again next time.
    pub failed: usize,
    /// Entries in the index after the sync.
    pub indexed: usize,
}

/// What a search asks for; every part must match.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Lowercased terms, each a substring of the entry's text.
    pub terms: Vec<String>,
    pub category: Option<Category>,
    /// yyyy-mm-dd, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Author addresses; `None` for any author.
    pub authors: Option<BTreeSet<String>>,
}

impl Query {
    /// Terms of a free text: split on whitespace, lowercased.
    pub fn terms_of(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_lowercase).collect()
    }

    fn matches(&self, entry: &Entry) -> bool {
        self.category.is_none_or(|c| c == entry.category)
            && self
                .from
                .as_deref()
                .is_none_or(|f| entry.date.as_str() >= f)
            && self.to.as_deref().is_none_or(|t| entry.date.as_str() <= t)
            && self
                .authors
                .as_ref()
                .is_none_or(|authors| authors.contains(&entry.author))
            && self.terms.iter().all(|term| entry.text.contains(term))
    }
}

/// Checks a `--from`/`--to` date: yyyy-mm-dd, a real day.
pub fn parse_date(text: &str) -> Result<String> {
    let date = ehr_fhir::meta::as_iso_date(&ehr_fhir::meta::Json::String(text.to_string()));
    if date.len() == text.len() {
        Ok(date)
    } else {
        Err(ClientError::InvalidInput(format!(
            "date {text:?}: use yyyy-mm-dd (a real calendar day)"
        )))
    }
}

impl SearchIndex {
    pub fn new(patient_id: PatientId) -> Self {
        Self {
            patient_id,
            ..Self::default()
        }
    }

    fn entry(&self, record_id: RecordId) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&record_id, |e| e.record_id)
            .ok()
            .map(|at| &self.entries[at])
    }

    /// Drops what may no longer be in the index and returns the records whose latest version
    /// must be fetched, with the number of entries dropped. `readable`: the categories the
    /// identity may read now; `has_key`: whether it now holds the key of (category, epoch).
    pub fn plan<'r>(
        &mut self,
        records: &'r [RecordInfo],
        readable: &BTreeSet<Category>,
        has_key: impl Fn(Category, u32) -> bool,
    ) -> (Vec<&'r RecordInfo>, usize) {
        let listed: std::collections::BTreeMap<RecordId, &RecordInfo> =
            records.iter().map(|r| (r.id, r)).collect();
        let keep = |id: RecordId| {
            listed
                .get(&id)
                .is_some_and(|r| r.status == RecordStatus::Active && readable.contains(&r.category))
        };
        let before = self.entries.len();
        self.entries.retain(|e| keep(e.record_id));
        let dropped = before - self.entries.len();
        self.unreadable.retain(|u| keep(u.record_id));
        let fetch = records
            .iter()
            .filter(|r| keep(r.id))
            .filter(|r| match self.entry(r.id) {
                Some(entry) => entry.version < r.latest.version,
                None => match self.unreadable.iter().find(|u| u.record_id == r.id) {
                    Some(u) => {
                        u.version != r.latest.version
                            || u.epoch != r.latest.epoch
                            || has_key(r.category, r.latest.epoch)
                    }
                    None => true,
                },
            })
            .collect();
        (fetch, dropped)
    }

    /// Takes in the result of opening a record's latest version. `Ok(true)` when an entry was
    /// dropped because the version does not decrypt; a passing failure (storage, node) is
    /// returned as the error and leaves the index as it was.
    pub fn absorb(&mut self, record: &RecordInfo, opened: Result<Vec<u8>>) -> Result<bool> {
        let at = self
            .entries
            .binary_search_by_key(&record.id, |e| e.record_id);
        self.unreadable.retain(|u| u.record_id != record.id);
        match opened {
            Ok(plaintext) => {
                let plaintext = Zeroizing::new(plaintext);
                let entry = entry_of(record, &plaintext);
                match at {
                    Ok(i) => self.entries[i] = entry,
                    Err(i) => self.entries.insert(i, entry),
                }
                Ok(false)
            }
            Err(error) if is_passing(&error) => Err(error),
            Err(_) => {
                self.unreadable.push(Unreadable {
                    record_id: record.id,
                    version: record.latest.version,
                    epoch: record.latest.epoch,
                });
                Ok(match at {
                    Ok(i) => {
                        self.entries.remove(i);
                        true
                    }
                    Err(_) => false,
                })
            }
        }
    }

    /// The entries that match, newest first (the timeline order), at most `limit`; and how many
    /// match in all.
    pub fn search(&self, query: &Query, limit: usize) -> (Vec<&Entry>, usize) {
        let mut hits: Vec<&Entry> = self.entries.iter().filter(|e| query.matches(e)).collect();
        let total = hits.len();
        hits.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| b.record_id.cmp(&a.record_id))
        });
        hits.truncate(limit);
        (hits, total)
    }

    /// The authors of indexed records whose address or name (`name_of`) contains `needle`,
    /// case-insensitively: what `--author` matches, as the web UI's author filter.
    pub fn authors_matching(
        &self,
        needle: &str,
        name_of: impl Fn(&str) -> String,
    ) -> BTreeSet<String> {
        let needle = needle.trim().to_lowercase();
        let authors: BTreeSet<&String> = self.entries.iter().map(|e| &e.author).collect();
        authors
            .into_iter()
            .filter(|a| {
                a.to_lowercase().contains(&needle) || name_of(a).to_lowercase().contains(&needle)
            })
            .cloned()
            .collect()
    }
}

/// Node or storage trouble, or trustees that have not released a key yet: not the record's fault.
fn is_passing(error: &ClientError) -> bool {
    error.is_transient()
        || matches!(
            error,
            ClientError::Rpc(_) | ClientError::Storage(_) | ClientError::AwaitingTrustees { .. }
        )
}

fn entry_of(record: &RecordInfo, plaintext: &[u8]) -> Entry {
    let meta = ehr_fhir::meta::meta_of(plaintext);
    let date = if meta.date.is_empty() {
        utc_date(record.latest.time)
    } else {
        meta.date
    };
    let text = format!(
        "{} {} {} #{}",
        meta.title,
        meta.text,
        record.category.name(),
        record.id
    )
    .to_lowercase();
    Entry {
        record_id: record.id,
        version: record.latest.version,
        category: record.category,
        author: record.latest.author.to_string(),
        time: record.latest.time,
        date,
        title: meta.title,
        text,
    }
}

/// The UTC yyyy-mm-dd of a chain time (the web UI's `toISOString().slice(0, 10)`).
pub fn utc_date(time: Timestamp) -> String {
    i64::try_from(time.seconds())
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Where and under which key one identity keeps the index of one patient.
pub struct IndexStore {
    pub path: PathBuf,
    key: AtRestKey,
    aad: Vec<u8>,
}

impl IndexStore {
    /// The index file of `address`'s view of `patient_id` on one chain and registry.
    pub fn new(
        home: &std::path::Path,
        secret: &ehr_crypto::X25519SecretKey,
        scope: &KeyScope,
        address: &str,
        patient_id: PatientId,
    ) -> Result<Self> {
        let key = AtRestKey::derive(secret, SEARCH_INDEX_LABEL, scope, address)?;
        let aad = [
            b"ehr-chain search index v1\0".as_slice(),
            scope.chain_id.as_bytes(),
            b"\0",
            scope.registry.as_bytes(),
            b"\0",
            address.as_bytes(),
            b"\0",
            &patient_id.to_be_bytes(),
        ]
        .concat();
        let name = hex::encode(&Sha256::digest(&aad)[..16]);
        Ok(Self {
            path: home.join("search").join(format!("{name}.idx")),
            key,
            aad,
        })
    }

    /// The stored index, or an empty one when there is none yet.
    pub fn load(&self, patient_id: PatientId) -> Result<SearchIndex> {
        let sealed = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SearchIndex::new(patient_id))
            }
            Err(e) => {
                return Err(ClientError::Storage(format!(
                    "{}: {e}",
                    self.path.display()
                )))
            }
        };
        let json = self.key.open(&self.aad, &sealed).map_err(|e| {
            ClientError::InvalidInput(format!(
                "search index {}: {e} (rebuild it with --rebuild)",
                self.path.display()
            ))
        })?;
        serde_json::from_slice(&json)
            .map_err(|e| ClientError::Encoding(format!("{}: {e}", self.path.display())))
    }

    pub fn save(&self, index: &SearchIndex) -> Result<()> {
        let json = Zeroizing::new(
            serde_json::to_vec(index).map_err(|e| ClientError::Encoding(e.to_string()))?,
        );
        let sealed = self.key.seal(&self.aad, &json)?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ClientError::Storage(format!("{}: {e}", dir.display())))?;
        }
        write_private(&self.path, &sealed)
    }
}

impl Ehr {
    /// This identity's index store for a patient.
    pub fn search_store(&self, patient_id: PatientId) -> Result<IndexStore> {
        let config = &self.session.chain.config;
        IndexStore::new(
            &self.home,
            &self.identity.encryption_key,
            &KeyScope {
                chain_id: &config.chain_id,
                registry: &config.registry,
            },
            &self.identity.address,
            patient_id,
        )
    }

    /// The categories this identity may read now, as the chain's rule book answers.
    pub async fn readable_categories(&self, patient: &PatientInfo) -> Result<BTreeSet<Category>> {
        let capabilities = self.capabilities(patient.id).await?;
        Ok(Category::ALL
            .into_iter()
            .filter(|category| capabilities.may_read(*category))
            .collect())
    }

    /// Brings `index` up to the chain: lists the patient's records, drops what must go, fetches
    /// and decrypts only the versions newer than those indexed.
    pub async fn sync_search(
        &self,
        patient: &PatientInfo,
        index: &mut SearchIndex,
    ) -> Result<SyncCounts> {
        let records = self.records_of_patient(patient.id).await?;
        let readable = self.readable_categories(patient).await?;
        // Keys are looked up only when a version found unreadable before might now open.
        let keyring = if index.unreadable.is_empty() {
            ehr_crypto::CategoryKeyring::new()
        } else {
            self.keyring(patient).await?
        };
        let (fetch, dropped) = index.plan(&records, &readable, |category, epoch| {
            keyring
                .get(&EnvelopeContext {
                    patient_id: patient.id,
                    category,
                    epoch,
                })
                .is_some()
        });
        let mut counts = SyncCounts {
            listed: records.len(),
            fetched: fetch.len(),
            dropped,
            ..SyncCounts::default()
        };
        if !fetch.is_empty() {
            let versions: Vec<_> = fetch
                .iter()
                .map(|r| (r.category, r.latest.clone()))
                .collect();
            let opened = self.open_versions(patient, &versions).await?;
            for (record, result) in fetch.into_iter().zip(opened) {
                match index.absorb(record, result) {
                    Ok(true) => counts.dropped += 1,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(record = record.id, %error, "not indexed this time");
                        counts.failed += 1;
                    }
                }
            }
        }
        counts.indexed = index.entries.len();
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::Addr;
    use ehr_types::registry::RecordVersion;
    use ehr_types::BlobRef;

    fn record(id: RecordId, category: Category, version: u32, epoch: u32) -> RecordInfo {
        RecordInfo {
            id,
            patient_id: 3,
            category,
            created_by: Addr::unchecked("wasm1patient"),
            status: RecordStatus::Active,
            latest: RecordVersion {
                version,
                epoch,
                blob: BlobRef {
                    sha256: "ab".repeat(32),
                    uri: format!("ehrfs://{id}/{version}"),
                    size: 10,
                },
                author: Addr::unchecked(if id.is_multiple_of(2) {
                    "wasm1doctor"
                } else {
                    "wasm1patient"
                }),
                time: Timestamp::from_seconds(1_780_000_000 + id * 86_400),
            },
        }
    }

    fn doc(title: &str, date: &str, text: &str) -> Result<Vec<u8>> {
        Ok(serde_json::json!({
            "resourceType": "Observation", "code": {"text": title},
            "effectiveDateTime": date, "note": [{"text": text}]
        })
        .to_string()
        .into_bytes())
    }

    fn all() -> BTreeSet<Category> {
        Category::ALL.into_iter().collect()
    }

    fn ids(fetch: &[&RecordInfo]) -> Vec<RecordId> {
        fetch.iter().map(|r| r.id).collect()
    }

    /// An index holding records 1 (lab), 2 (note), 3 (imaging), each at version 1.
    fn indexed() -> (SearchIndex, Vec<RecordInfo>) {
        let records = vec![
            record(1, Category::Lab, 1, 0),
            record(2, Category::Note, 1, 0),
            record(3, Category::Imaging, 1, 0),
        ];
        let mut index = SearchIndex::new(3);
        let (fetch, dropped) = index.plan(&records, &all(), |_, _| false);
        assert_eq!((ids(&fetch), dropped), (vec![1, 2, 3], 0));
        let texts = [
            ("Hemoglobin", "2026-01-05", "13.5 g/dL"),
            ("Follow-up", "", "Blood pressure fine"),
            ("Chest X-ray", "2025-12-01", "no findings"),
        ];
        for (r, (title, date, text)) in fetch.into_iter().zip(texts) {
            assert!(!index.absorb(r, doc(title, date, text)).unwrap());
        }
        (index, records)
    }

    #[test]
    fn a_sync_fetches_only_versions_newer_than_the_indexed_ones() {
        let (mut index, mut records) = indexed();
        let (fetch, dropped) = index.plan(&records, &all(), |_, _| false);
        assert!(fetch.is_empty());
        assert_eq!(dropped, 0);
        records[1] = record(2, Category::Note, 2, 0);
        records.push(record(4, Category::Lab, 1, 0));
        let (fetch, _) = index.plan(&records, &all(), |_, _| false);
        assert_eq!(ids(&fetch), vec![2, 4]);
        let (r2, r4) = (fetch[0].clone(), fetch[1].clone());
        index.absorb(&r2, doc("Follow-up v2", "", "dizzy")).unwrap();
        index.absorb(&r4, doc("Glucose", "", "5.1")).unwrap();
        assert_eq!(index.entry(2).unwrap().version, 2);
        assert_eq!(index.entry(2).unwrap().title, "Follow-up v2");
        assert_eq!(
            index
                .entries
                .iter()
                .map(|e| e.record_id)
                .collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert!(index.plan(&records, &all(), |_, _| false).0.is_empty());
    }

    #[test]
    fn deleted_unreadable_and_vanished_records_are_dropped() {
        let (mut index, mut records) = indexed();
        records[0].status = RecordStatus::Deleted;
        let no_imaging: BTreeSet<Category> = [Category::Lab, Category::Note].into();
        let (fetch, dropped) = index.plan(&records, &no_imaging, |_, _| false);
        assert!(fetch.is_empty());
        assert_eq!(dropped, 2);
        assert_eq!(
            index
                .entries
                .iter()
                .map(|e| e.record_id)
                .collect::<Vec<_>>(),
            vec![2]
        );
        // A deleted patient: the chain lists nothing any more.
        assert_eq!(index.plan(&[], &all(), |_, _| false).1, 1);
        assert!(index.entries.is_empty());
    }

    #[test]
    fn a_new_version_that_does_not_decrypt_drops_the_entry_until_its_key_arrives() {
        let (mut index, mut records) = indexed();
        records[0] = record(1, Category::Lab, 2, 1);
        let (fetch, _) = index.plan(&records, &all(), |_, _| false);
        let r1 = fetch[0].clone();
        let missing = Err(ClientError::Crypto(
            ehr_crypto::CryptoError::MissingCategoryKey {
                patient_id: 3,
                category: "lab",
                epoch: 1,
            },
        ));
        assert!(index.absorb(&r1, missing).unwrap());
        assert!(index.entry(1).is_none());
        // Not fetched again while nothing changed, fetched once the key of epoch 1 is held.
        assert!(index.plan(&records, &all(), |_, _| false).0.is_empty());
        assert_eq!(
            ids(&index
                .plan(&records, &all(), |c, e| c == Category::Lab && e == 1)
                .0),
            vec![1]
        );
        // A passing failure keeps the entry and is reported.
        let (_, records) = indexed();
        let (mut index, _) = indexed();
        let mut newer = records[1].clone();
        newer.latest.version = 2;
        assert!(index
            .absorb(&newer, Err(ClientError::Storage("kubo down".into())))
            .is_err());
        assert_eq!(index.entry(2).unwrap().version, 1);
    }

    #[test]
    fn filters_terms_category_dates_and_authors() {
        let (index, _) = indexed();
        let find = |q: Query| -> Vec<RecordId> {
            index.search(&q, 10).0.iter().map(|e| e.record_id).collect()
        };
        let text = |t: &str| Query {
            terms: Query::terms_of(t),
            ..Query::default()
        };
        assert_eq!(find(text("HEMOGLOBIN g/dl")), vec![1]);
        assert_eq!(find(text("hemoglobin findings")), Vec::<RecordId>::new());
        assert_eq!(find(text("")), vec![3, 2, 1]);
        assert_eq!(find(text("#2")), vec![2]);
        assert_eq!(find(text("imaging")), vec![3]);
        assert_eq!(
            find(Query {
                category: Some(Category::Note),
                ..Query::default()
            }),
            vec![2]
        );
        // Record 2 has no date of its own: its chain time's day counts.
        let day2 = utc_date(Timestamp::from_seconds(1_780_000_000 + 2 * 86_400));
        assert_eq!(index.entry(2).unwrap().date, day2);
        assert_eq!(
            find(Query {
                from: Some("2026-01-01".into()),
                to: Some("2026-01-31".into()),
                ..Query::default()
            }),
            vec![1]
        );
        assert_eq!(
            find(Query {
                from: Some(day2.clone()),
                to: Some(day2),
                ..Query::default()
            }),
            vec![2]
        );
        let doctors = index.authors_matching("Lima", |a| {
            if a == "wasm1doctor" {
                "Dr Ana Lima, St Mary".into()
            } else {
                "you".into()
            }
        });
        assert_eq!(doctors, BTreeSet::from(["wasm1doctor".to_string()]));
        assert_eq!(
            find(Query {
                authors: Some(doctors),
                ..Query::default()
            }),
            vec![2]
        );
        assert_eq!(
            index.authors_matching("PATIENT", |_| String::new()).len(),
            1
        );
        let (hits, total) = index.search(&Query::default(), 1);
        assert_eq!((hits.len(), total), (1, 3));
    }

    #[test]
    fn dates_given_must_be_whole_real_days() {
        assert_eq!(parse_date("2026-02-28").unwrap(), "2026-02-28");
        for bad in ["2026-02-30", "2026-2-28", "2026-02-28T00:00", "yesterday"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    fn store(home: &std::path::Path, secret: u8, address: &str, patient: PatientId) -> IndexStore {
        IndexStore::new(
            home,
            &ehr_crypto::X25519SecretKey::from_bytes([secret; 32]),
            &KeyScope {
                chain_id: "ehr-local-1",
                registry: "wasm1registry",
            },
            address,
            patient,
        )
        .unwrap()
    }

    #[test]
    fn the_index_is_sealed_at_rest_and_opens_only_for_its_identity_and_patient() {
        let home = tempfile::tempdir().unwrap();
        let (index, _) = indexed();
        let mine = store(home.path(), 7, "wasm1alice", 3);
        assert!(mine.load(3).unwrap().entries.is_empty());
        mine.save(&index).unwrap();
        assert_eq!(mine.load(3).unwrap(), index);

        let on_disk = std::fs::read(&mine.path).unwrap();
        assert!(!String::from_utf8_lossy(&on_disk).contains("emoglobin"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&mine.path).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // Another wallet on the same path (same address claimed) cannot read it.
        let wrong_key = IndexStore {
            path: mine.path.clone(),
            ..store(home.path(), 8, "wasm1alice", 3)
        };
        assert!(wrong_key.load(3).is_err());
        // Another patient's file moved over this one does not open either.
        let other = store(home.path(), 7, "wasm1alice", 4);
        assert_ne!(other.path, mine.path);
        other.save(&SearchIndex::new(4)).unwrap();
        std::fs::copy(&other.path, &mine.path).unwrap();
        assert!(mine.load(3).is_err());
        // Any altered byte.
        let mut tampered = on_disk.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x80;
        std::fs::write(&mine.path, &tampered).unwrap();
        assert!(mine.load(3).is_err());
        std::fs::write(&mine.path, &on_disk).unwrap();
        assert_eq!(mine.load(3).unwrap(), index);
    }

    /// The figure in docs/client.md: cargo test --release -p ehr-client search_10k -- --ignored --nocapture
    #[test]
    #[ignore]
    fn search_10k() {
        let home = tempfile::tempdir().unwrap();
        let records: Vec<RecordInfo> = (1..=10_000)
            .map(|id| record(id, Category::ALL[(id % 8) as usize], 1, 0))
            .collect();
        let mut index = SearchIndex::new(3);
        let started = std::time::Instant::now();
        let (fetch, _) = index.plan(&records, &all(), |_, _| false);
        let fetch: Vec<RecordInfo> = fetch.into_iter().cloned().collect();
        for r in &fetch {
            let body = format!(
                "Observation {} of patient 3: blood pressure {}/80 mmHg, pulse {}, remarks about diet, sleep and medication adherence over the last weeks",
                r.id,
                100 + r.id % 60,
                60 + r.id % 40
            );
            index
                .absorb(r, doc(&format!("Vital signs {}", r.id), "", &body))
                .unwrap();
        }
        let built = started.elapsed();
        let store = store(home.path(), 7, "wasm1alice", 3);
        store.save(&index).unwrap();
        let size = std::fs::metadata(&store.path).unwrap().len();
        let started = std::time::Instant::now();
        let loaded = store.load(3).unwrap();
        let query = Query {
            terms: Query::terms_of("pressure 150/80"),
            from: Some("2026-01-01".into()),
            ..Query::default()
        };
        let (hits, total) = loaded.search(&query, 20);
        let elapsed = started.elapsed();
        assert!(total > 0 && hits.len() <= 20);
        println!(
            "10,000 entries: build (meta + entries) {:.0} ms, index file {} KB, load + decrypt + scan {:.1} ms, {total} hits",
            built.as_secs_f64() * 1000.0,
            size / 1024,
            elapsed.as_secs_f64() * 1000.0
        );
    }

    proptest::proptest! {
        /// The rule, for the index: whatever was indexed before, after a sync's plan no entry
        /// remains, and no version is fetched, of a record that is deleted, gone from the chain or
        /// in a category the identity may not read now; what remains is still searchable.
        #[test]
        fn a_plan_keeps_only_active_records_of_readable_categories(
            records in proptest::collection::vec((0usize..Category::ALL.len() - 1, proptest::bool::ANY, 1u32..4), 1..40),
            readable_now in proptest::collection::btree_set(0usize..Category::ALL.len(), 0..Category::ALL.len()),
            vanished in proptest::collection::btree_set(1u64..41, 0..5),
        ) {
            let listed: Vec<RecordInfo> = records
                .iter()
                .enumerate()
                .map(|(i, &(category, _, version))| record(i as RecordId + 1, Category::ALL[category], version, 0))
                .collect();
            let mut index = SearchIndex::new(3);
            let (fetch, _) = index.plan(&listed, &all(), |_, _| false);
            for r in fetch {
                index.absorb(r, doc("Same title", "2026-01-01", "shared words")).unwrap();
            }
            let later: Vec<RecordInfo> = listed
                .iter()
                .zip(&records)
                .filter(|(r, _)| !vanished.contains(&r.id))
                .map(|(r, &(_, deleted, _))| RecordInfo {
                    status: if deleted { RecordStatus::Deleted } else { RecordStatus::Active },
                    ..r.clone()
                })
                .collect();
            let readable: BTreeSet<Category> = readable_now.iter().map(|&c| Category::ALL[c]).collect();
            let allowed = |r: &RecordInfo| r.status == RecordStatus::Active && readable.contains(&r.category);
            let (fetch, _) = index.plan(&later, &readable, |_, _| true);
            proptest::prop_assert!(fetch.iter().all(|r| allowed(r)));
            let by_id: std::collections::BTreeMap<RecordId, &RecordInfo> = later.iter().map(|r| (r.id, r)).collect();
            for entry in &index.entries {
                let r = by_id.get(&entry.record_id);
                proptest::prop_assert!(r.is_some_and(|r| allowed(r)), "entry {} kept", entry.record_id);
            }
            let (_, total) = index.search(&Query { terms: Query::terms_of("shared words"), ..Query::default() }, 100);
            proptest::prop_assert_eq!(total, later.iter().filter(|r| allowed(r)).count());
        }
    }
}
