//! Encrypted records end to end: encrypt under the right (patient, category, epoch) key, store
//! the ciphertext, register its sha256 on chain in batches; fetch, verify against the chain and
//! decrypt; grants that carry the category keys wrapped to the grantee.

use std::collections::hash_map::{Entry, HashMap};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cosmwasm_std::{Binary, Timestamp};
use ehr_crypto::{
    CategoryKey, CategoryKeyring, Envelope, EnvelopeContext, RecordHeader, X25519PublicKey,
};
use ehr_types::access::{
    CategoryEpoch, EpochsResponse, GrantInfo, GrantsResponse, KeyEnvelope, KeyEnvelopesResponse,
    OwnEnvelopesResponse, QueryMsg as AccessQuery, RecipientEnvelope, Scope, WritePlanResponse,
};
use ehr_types::pagination::MAX_LIMIT;
use ehr_types::registry::{
    ExecuteMsg as RegistryMsg, NewRecord, PatientInfo, PatientResponse, ProviderResponse,
    QueryMsg as RegistryQuery, RecordHistoryResponse, RecordInfo, RecordResponse, RecordVersion,
};
use ehr_types::validate::{MAX_ENVELOPES, MAX_RECORDS_PER_MESSAGE};
use ehr_types::{BlobRef, Category, PatientId, RecordId};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::chain::{ContractMsg, PendingTx, Session, TxOutcome};
use crate::error::{ClientError, Result};
use crate::identity::{Identity, OwnKeys};
use crate::storage::{fetch_verified, BlobStore, Storage};

/// The key in an envelope, or `None` when it does not open with this identity's key.
fn open_envelope(
    identity: &Identity,
    context: &EnvelopeContext,
    envelope: &Binary,
) -> Option<CategoryKey> {
    let sealed = Envelope::from_bytes(envelope.as_slice()).ok()?;
    ehr_crypto::open_category_key(&identity.encryption_key, context, &sealed).ok()
}

/// Skips a key that does not open, says which, and goes on: what this identity and honest
/// parties wrote under the other keys still opens.
fn skip_unopened(keys: &mut OwnKeys, context: EnvelopeContext, whose: &str) {
    tracing::warn!(
        patient = context.patient_id,
        category = context.category.name(),
        epoch = context.epoch,
        "{whose} of {} epoch {} does not open with your key: records sealed with it cannot be read here",
        context.category.name(),
        context.epoch
    );
    keys.unopened.push(context);
}

/// A record registered (or found already registered) on chain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AddedRecord {
    pub record_id: RecordId,
    pub category: Category,
    pub sha256: String,
    pub uri: String,
    /// True when a retry found the ciphertext already registered and did not submit it again.
    pub already_registered: bool,
}

/// Figures of one batched submission.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BatchReport {
    pub txs: usize,
    pub gas_used: u64,
    /// Per transaction, broadcast to commit.
    pub latencies_ms: Vec<f64>,
}

/// Files being sealed or stored at once by `seal_and_store_all`: enough to hide IPFS round
/// trips, few enough not to flood a local kubo node or hold many plaintexts in memory.
pub const STORE_IN_FLIGHT: usize = 16;

pub struct Ehr {
    pub session: Session,
    pub storage: Storage,
    pub identity: Identity,
    pub home: PathBuf,
}

impl Ehr {
    /// The patient; `NotFound` when no patient has this id.
    pub async fn patient(&self, patient_id: PatientId) -> Result<PatientInfo> {
        let response: PatientResponse = self
            .session
            .chain
            .registry(&RegistryQuery::Patient { patient_id })
            .await?;
        response
            .patient
            .ok_or_else(|| ClientError::NotFound(format!("patient {patient_id} not found")))
    }

    /// The record; `NotFound` when there is none or its patient is deleted.
    pub async fn record(&self, record_id: RecordId) -> Result<RecordInfo> {
        let response: RecordResponse = self
            .session
            .chain
            .registry(&RegistryQuery::Record { record_id })
            .await?;
        response
            .record
            .ok_or_else(|| ClientError::NotFound(format!("record {record_id} not found")))
    }

    /// The whole version chain of a record (pages through the contract's listing); `NotFound`
    /// when the record is not there (every record has a first version).
    pub async fn history(&self, record_id: RecordId) -> Result<Vec<RecordVersion>> {
        let mut versions = Vec::new();
        loop {
            let page: RecordHistoryResponse = self
                .session
                .chain
                .registry(&RegistryQuery::RecordHistory {
                    record_id,
                    start_after: versions.last().map(|v: &RecordVersion| v.version),
                    limit: Some(100),
                })
                .await?;
            let done = page.versions.len() < 100;
            versions.extend(page.versions);
            if versions.is_empty() {
                return Err(ClientError::NotFound(format!(
                    "record {record_id} not found"
                )));
            }
            if done {
                return Ok(versions);
            }
        }
    }

    /// The current key epoch of a category (0 until the first revoke that covers it).
    pub async fn current_epoch(&self, patient_id: PatientId, category: Category) -> Result<u32> {
        let epochs: EpochsResponse = self
            .session
            .chain
            .access(&AccessQuery::Epochs { patient_id })
            .await?;
        Ok(epochs.of(category))
    }

    fn is_owner(&self, patient: &PatientInfo) -> bool {
        patient.owner.as_str() == self.identity.address
    }

    /// Every category key this identity holds for a patient: its own (as the patient), or as a
    /// grantee every envelope the chain holds for it (all epochs it was ever handed) plus those
    /// it opened before.
    pub async fn keyring(&self, patient: &PatientInfo) -> Result<CategoryKeyring> {
        if self.is_owner(patient) {
            return Ok(self.own_keys(patient).await?.keyring);
        }
        let mut held = OwnKeys::load(&self.home, &self.identity)?;
        let mut start_after: Option<CategoryEpoch> = None;
        loop {
            let page: KeyEnvelopesResponse = self
                .session
                .chain
                .access(&AccessQuery::KeyEnvelopes {
                    patient_id: patient.id,
                    holder: self.identity.address.clone(),
                    category: None,
                    start_after,
                    limit: Some(MAX_LIMIT),
                })
                .await?;
            let full = page.key_envelopes.len() == MAX_LIMIT as usize;
            start_after = page.key_envelopes.last().map(|e| CategoryEpoch {
                category: e.category,
                epoch: e.epoch,
            });
            for envelope in page.key_envelopes {
                let context = EnvelopeContext {
                    patient_id: patient.id,
                    category: envelope.category,
                    epoch: envelope.epoch,
                };
                if held.keyring.get(&context).is_some() {
                    continue;
                }
                match open_envelope(&self.identity, &context, &envelope.envelope) {
                    Some(key) => held.remember(&self.identity, context, key)?,
                    None => skip_unopened(&mut held, context, "the envelope handed to you"),
                }
            }
            if !full {
                break;
            }
        }
        Ok(held.keyring)
    }

    /// The patient's own category keys (the owner only).
    pub(crate) async fn patient_keyring(&self, patient: &PatientInfo) -> Result<CategoryKeyring> {
        Ok(self.own_keys(patient).await?.keyring)
    }

    /// The patient's own category keys: the local copy, completed from the envelopes the patient
    /// stored on chain (wrapped to its own key), so another device with the wallet recovers them.
    async fn own_keys(&self, patient: &PatientInfo) -> Result<OwnKeys> {
        let stored = self.own_envelopes(patient.id).await?;
        self.own_keys_from(patient, &stored)
    }

    /// `own_keys` with the envelopes already fetched.
    pub(crate) fn own_keys_from(
        &self,
        patient: &PatientInfo,
        stored: &[KeyEnvelope],
    ) -> Result<OwnKeys> {
        let mut own = OwnKeys::load(&self.home, &self.identity)?;
        for envelope in stored {
            let context = EnvelopeContext {
                patient_id: patient.id,
                category: envelope.category,
                epoch: envelope.epoch,
            };
            if own.keyring.get(&context).is_none() {
                match open_envelope(&self.identity, &context, &envelope.envelope) {
                    Some(key) => own.remember(&self.identity, context, key)?,
                    None => skip_unopened(&mut own, context, "the patient's own envelope"),
                }
            }
        }
        Ok(own)
    }

    /// The envelopes the patient's current owner stored, wrapped to its own key (every page).
    pub(crate) async fn own_envelopes(&self, patient_id: PatientId) -> Result<Vec<KeyEnvelope>> {
        let mut envelopes = Vec::new();
        let mut start_after = None;
        loop {
            let page: OwnEnvelopesResponse = self
                .session
                .chain
                .access(&AccessQuery::OwnEnvelopes {
                    patient_id,
                    category: None,
                    start_after,
                    limit: Some(MAX_LIMIT),
                })
                .await?;
            envelopes.extend(page.key_envelopes);
            match page.next {
                Some(next) => start_after = Some(next),
                None => return Ok(envelopes),
            }
        }
    }

    /// The patient's key for `context`. A new key is stored on chain, wrapped to the patient's
    /// own public key, before anything is sealed with it: no key lives only on this device.
    async fn own_key(&self, own: &mut OwnKeys, context: EnvelopeContext) -> Result<CategoryKey> {
        if let Some(key) = own.keyring.get(&context) {
            return Ok(key.clone());
        }
        let key = CategoryKey::generate()?;
        let envelope =
            ehr_crypto::seal_category_key(&self.identity.public_encryption_key(), &context, &key)?;
        let msg = ehr_types::access::ExecuteMsg::StoreOwnEnvelopes {
            patient_id: context.patient_id,
            key_envelopes: vec![KeyEnvelope {
                category: context.category,
                epoch: context.epoch,
                envelope: Binary::from(envelope.as_bytes().to_vec()),
            }],
        };
        let mut msgs = vec![ContractMsg::Access(msg)];
        // An escrowed category's first key is escrowed with it, like every rotation's.
        if let Some(escrow) = self.rotation_escrow(context, &key).await? {
            msgs.push(ContractMsg::Access(
                ehr_types::access::ExecuteMsg::EscrowShares {
                    patient_id: context.patient_id,
                    escrows: vec![ehr_types::escrow::EpochEscrow {
                        category: context.category,
                        epoch: context.epoch,
                        shares: escrow.shares,
                        key_commitment: escrow.key_commitment,
                    }],
                },
            ));
        }
        self.session.execute(&msgs).await?;
        own.remember(&self.identity, context, key.clone())?;
        Ok(key)
    }

    /// The key new files of `category` are written with, as the chain's write plan says: the
    /// current epoch's, or a new epoch's key with the `RotateKey` that must go in the same
    /// transaction as the write. A writer that cannot open the current key it was handed (junk
    /// another party stored) rotates when the chain accepts it, and otherwise says why not.
    async fn writing_key(&self, patient: &PatientInfo, category: Category) -> Result<WritingKey> {
        if patient.status != ehr_types::registry::PatientStatus::Active {
            return Err(ClientError::InvalidInput(format!(
                "patient {} is {:?}: nothing more can be written for it",
                patient.id, patient.status
            )));
        }
        self.ensure_registered_key(patient).await?;
        let plan: WritePlanResponse = self
            .session
            .chain
            .access(&AccessQuery::WritePlan {
                patient_id: patient.id,
                category,
                writer: self.identity.address.clone(),
            })
            .await?;
        if !plan.rotate {
            let context = EnvelopeContext {
                patient_id: patient.id,
                category,
                epoch: plan.current_epoch,
            };
            let held = if self.is_owner(patient) {
                let mut own = self.own_keys(patient).await?;
                if own.unopened.contains(&context) {
                    None
                } else {
                    Some(self.own_key(&mut own, context).await?)
                }
            } else {
                self.keyring(patient).await?.get(&context).cloned()
            };
            if let Some(key) = held {
                return Ok(WritingKey {
                    epoch: plan.current_epoch,
                    key,
                    rotation: None,
                });
            }
            if !plan.may_rotate {
                return Err(ClientError::InvalidInput(format!(
                    "the {} key of epoch {} does not open with your key and only the patient may replace it: ask the patient to write a {} record (which opens a new key)",
                    category.name(),
                    plan.current_epoch,
                    category.name()
                )));
            }
        }
        let epoch = plan.current_epoch.checked_add(1).ok_or_else(|| {
            ClientError::InvalidInput(format!("{category:?} key epochs are exhausted"))
        })?;
        self.rotation(patient, category, epoch, &plan)
    }

    /// A new key for `epoch`, wrapped to the patient and to every recipient of the write plan
    /// that has published an encryption key (the others cannot receive keys), and split for the
    /// trustees when the patient escrows the category.
    fn rotation(
        &self,
        patient: &PatientInfo,
        category: Category,
        epoch: u32,
        plan: &WritePlanResponse,
    ) -> Result<WritingKey> {
        let patient_key = plan.patient_key.as_ref().ok_or_else(|| {
            ClientError::InvalidInput(format!("patient {} has no encryption key", patient.id))
        })?;
        let context = EnvelopeContext {
            patient_id: patient.id,
            category,
            epoch,
        };
        let key = CategoryKey::generate()?;
        let own_envelope = ehr_crypto::seal_category_key(
            &public_key_of(patient_key, "the patient")?,
            &context,
            &key,
        )?;
        let mut envelopes = Vec::with_capacity(plan.recipients.len());
        for recipient in &plan.recipients {
            let Some(public) = recipient.encryption_key.as_ref() else {
                tracing::warn!(reader = %recipient.address, ?category, "no published encryption key: left out of the new key");
                continue;
            };
            let public = public_key_of(public, recipient.address.as_str())?;
            let envelope = ehr_crypto::seal_category_key(&public, &context, &key)?;
            envelopes.push(RecipientEnvelope {
                recipient: recipient.address.to_string(),
                envelope: Binary::from(envelope.as_bytes().to_vec()),
            });
        }
        let escrow = match &plan.escrow {
            Some(escrow) => Some(crate::escrow::escrow_shares(
                &ehr_types::escrow::TrusteesResponse {
                    trustees: escrow.trustees.clone(),
                    threshold: escrow.threshold,
                    set_version: escrow.set_version,
                },
                context,
                &key,
            )?),
            None => None,
        };
        let (escrow, escrow_key_commitment) = match escrow {
            Some(escrow) => (escrow.shares, Some(escrow.key_commitment)),
            None => (vec![], None),
        };
        let msg = ehr_types::access::ExecuteMsg::RotateKey {
            patient_id: patient.id,
            category,
            epoch,
            own_envelope: Binary::from(own_envelope.as_bytes().to_vec()),
            envelopes,
            escrow,
            escrow_key_commitment,
        };
        Ok(WritingKey {
            epoch,
            key,
            rotation: Some(Rotation {
                category,
                epoch,
                msg: ContractMsg::Access(msg),
            }),
        })
    }

    /// Refuses to seal anything with a wallet key the chain does not know (a wallet that signs
    /// differently, or a key derived for another chain or registry): the patient's and this
    /// identity's copies would open for nobody who reads with the registered key.
    async fn ensure_registered_key(&self, patient: &PatientInfo) -> Result<()> {
        let derived = self.identity.public_encryption_key();
        let registered = if self.is_owner(patient) {
            patient
                .encryption_key
                .as_ref()
                .map(|key| public_key_of(key, "the patient"))
                .transpose()?
        } else {
            self.provider_public_key(&self.identity.address).await?
        };
        match registered {
            Some(registered) if registered == derived => Ok(()),
            Some(registered) => Err(ClientError::KeyMismatch(format!(
                "the encryption key this wallet derives for chain {} and registry {} ({}) is not the one registered on chain ({}): refusing to write, since nothing sealed now would open with the registered key",
                self.session.chain.config.chain_id,
                self.session.chain.config.registry,
                derived.to_base64(),
                registered.to_base64()
            ))),
            None => Err(ClientError::KeyMismatch(format!(
                "{} has no encryption key registered on chain: publish it first (`ehr keys publish`)",
                self.identity.address
            ))),
        }
    }

    /// A provider's published X25519 key; `None` when it has published none.
    async fn provider_public_key(&self, address: &str) -> Result<Option<X25519PublicKey>> {
        let response: ProviderResponse = self
            .session
            .chain
            .registry(&RegistryQuery::Provider {
                address: address.to_string(),
            })
            .await?;
        let provider = response.provider.ok_or_else(|| {
            ClientError::InvalidInput(format!("{address} is not a credentialed doctor"))
        })?;
        provider
            .encryption_key
            .map(|key| public_key_of(&key, address))
            .transpose()
    }

    /// Encrypts one file for (patient, category, version) and puts the ciphertext in storage.
    pub async fn seal_and_store(
        &self,
        patient: &PatientInfo,
        category: Category,
        version: u32,
        plaintext: &[u8],
    ) -> Result<SealedFile> {
        let writing = self.writing_key(patient, category).await?;
        let blob = self
            .seal_and_store_with(
                patient,
                category,
                writing.epoch,
                &writing.key,
                version,
                plaintext,
            )
            .await?;
        Ok(SealedFile {
            blob,
            epoch: writing.epoch,
            rotation: writing.rotation,
        })
    }

    /// Encrypts and stores new records' first versions, looking up each category's writing key
    /// on chain once, not once per file. Returns the records to register (in input order) and the
    /// key rotations that must be sent with (before) them.
    pub async fn seal_and_store_all(
        &self,
        patient: &PatientInfo,
        items: Vec<(Category, Vec<u8>)>,
    ) -> Result<(Vec<NewRecord>, Vec<Rotation>)> {
        self.seal_and_store_all_with(patient, items, |_| {}).await
    }

    /// As `seal_and_store_all`, calling `on_stored(n)` as files are stored (`seal_and_store_files`).
    pub async fn seal_and_store_all_with(
        &self,
        patient: &PatientInfo,
        items: Vec<(Category, Vec<u8>)>,
        on_stored: impl FnMut(usize),
    ) -> Result<(Vec<NewRecord>, Vec<Rotation>)> {
        let mut writing_keys: HashMap<Category, WritingKey> = HashMap::new();
        for (category, _) in &items {
            if *category == Category::Profile {
                return Err(ClientError::InvalidInput(
                    "the profile category is reserved for `ehr patient update`".into(),
                ));
            }
            if let Entry::Vacant(slot) = writing_keys.entry(*category) {
                slot.insert(self.writing_key(patient, *category).await?);
            }
        }
        let files = items
            .into_iter()
            .map(|(category, plaintext)| {
                let writing = &writing_keys[&category];
                let header = RecordHeader {
                    patient_id: patient.id,
                    category,
                    epoch: writing.epoch,
                    record_version: 1,
                };
                (header, writing.key.clone(), plaintext)
            })
            .collect::<Vec<_>>();
        let categories: Vec<Category> =
            files.iter().map(|(header, _, _)| header.category).collect();
        let blobs = seal_and_store_files(&self.storage, files, on_stored).await?;
        let records = categories
            .into_iter()
            .zip(blobs)
            .map(|(category, blob)| NewRecord {
                category,
                epoch: writing_keys[&category].epoch,
                blob,
            })
            .collect();
        let rotations = writing_keys
            .into_values()
            .filter_map(|writing| writing.rotation)
            .collect();
        Ok((records, rotations))
    }

    /// As `seal_and_store`, with a writing key the caller already holds.
    async fn seal_and_store_with(
        &self,
        patient: &PatientInfo,
        category: Category,
        epoch: u32,
        key: &CategoryKey,
        version: u32,
        plaintext: &[u8],
    ) -> Result<BlobRef> {
        let header = RecordHeader {
            patient_id: patient.id,
            category,
            epoch,
            record_version: version,
        };
        let file = ehr_crypto::encrypt_file(&header, key, plaintext)?;
        self.storage.put(&file).await
    }

    /// Registers already stored blobs as new records, `batch_size` records per transaction
    /// (`AddRecords` messages of at most `MAX_RECORDS_PER_MESSAGE`), up to `in_flight`
    /// transactions in the mempool at once. The key `rotations` the records were sealed for go
    /// first in the first transaction, so no record lands in a stale epoch. Retries are
    /// idempotent: after a failure, blobs the chain already holds for the patient are looked up
    /// (`RecordBySha256`) and never submitted twice, and a rotation that committed is not sent again.
    pub async fn register_records(
        &self,
        patient_id: PatientId,
        records: Vec<NewRecord>,
        rotations: Vec<Rotation>,
        batch_size: usize,
        in_flight: usize,
        mut on_committed: impl FnMut(usize),
    ) -> Result<(Vec<AddedRecord>, BatchReport)> {
        let batch_size = batch_size.max(1);
        let mut added = Vec::with_capacity(records.len());
        let mut report = BatchReport::default();
        let mut pending: VecDeque<(PendingTx, Vec<NewRecord>, Vec<Rotation>)> = VecDeque::new();
        let mut batches = records
            .chunks(batch_size)
            .map(|c| c.to_vec())
            .collect::<VecDeque<_>>();
        let mut unsent_rotations = rotations;
        let mut attempts_left = 3usize;
        // (records, gas limit) of the first simulated batch, margin included. AddRecord's storage
        // work does not grow with state (docs/benchmarks.md, Contracts), so later batches get
        // its gas scaled to their size, never less than the whole first batch had: a short last
        // batch still pays the transaction's fixed cost. A batch that carries rotations is simulated.
        let mut simulated_batch: Option<(usize, u64)> = None;
        loop {
            // Later batches are sealed under the rotated epochs: until the batch that carries the
            // rotations commits, they would not even simulate.
            while pending.len() < in_flight.max(1)
                && pending.iter().all(|(_, _, carried)| carried.is_empty())
            {
                let Some(batch) = batches.pop_front() else {
                    break;
                };
                let carried = std::mem::take(&mut unsent_rotations);
                let msgs: Vec<ContractMsg> = carried
                    .iter()
                    .map(|rotation| rotation.msg.clone())
                    .chain(
                        batch
                            .chunks(MAX_RECORDS_PER_MESSAGE)
                            .map(|records| add_records_msg(patient_id, records)),
                    )
                    .collect();
                let gas_limit = simulated_batch
                    .filter(|_| carried.is_empty())
                    .map(|(len, gas)| gas * batch.len().max(len) as u64 / len as u64);
                match self.session.submit_with_gas(&msgs, gas_limit).await {
                    Ok(tx) => {
                        if carried.is_empty() {
                            simulated_batch.get_or_insert((batch.len(), tx.gas_wanted));
                        }
                        pending.push_back((tx, batch, carried));
                    }
                    Err(error) if is_retryable(&error) && attempts_left > 0 => {
                        attempts_left -= 1;
                        tracing::warn!(%error, "batch refused, checking which records are already registered");
                        unsent_rotations = self.uncommitted(patient_id, carried).await?;
                        let (done, rest) = self.split_registered(patient_id, batch).await?;
                        added.extend(done);
                        if !rest.is_empty() {
                            batches.push_front(rest);
                        }
                        self.session.reset_sequence().await;
                    }
                    Err(error) => return Err(error),
                }
            }
            let Some((tx, batch, carried)) = pending.pop_front() else {
                break;
            };
            match self
                .session
                .chain
                .wait_for_commit(&tx, self.session.chain.config.commit_timeout)
                .await
            {
                Ok(outcome) => {
                    added.extend(records_of(
                        &outcome,
                        &self.session.chain.config.registry,
                        &batch,
                    )?);
                    report.txs += 1;
                    report.gas_used += outcome.gas_used;
                    report
                        .latencies_ms
                        .push(outcome.latency.as_secs_f64() * 1000.0);
                    on_committed(batch.len());
                }
                Err(error)
                    if (is_retryable(&error) || matches!(error, ClientError::OutOfGas { .. }))
                        && attempts_left > 0 =>
                {
                    attempts_left -= 1;
                    simulated_batch = None;
                    tracing::warn!(%error, "batch not committed, checking which records are registered");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    unsent_rotations.extend(self.uncommitted(patient_id, carried).await?);
                    let (done, rest) = self.split_registered(patient_id, batch).await?;
                    added.extend(done);
                    if !rest.is_empty() {
                        batches.push_front(rest);
                    }
                    self.session.reset_sequence().await;
                }
                Err(error) => return Err(error),
            }
        }
        Ok((added, report))
    }

    /// The rotations whose epoch the chain has not reached yet (their transaction did not commit).
    async fn uncommitted(
        &self,
        patient_id: PatientId,
        rotations: Vec<Rotation>,
    ) -> Result<Vec<Rotation>> {
        let mut left = Vec::with_capacity(rotations.len());
        for rotation in rotations {
            if self.current_epoch(patient_id, rotation.category).await? < rotation.epoch {
                left.push(rotation);
            }
        }
        Ok(left)
    }

    /// Splits a batch into blobs the chain already holds for the patient and the rest.
    async fn split_registered(
        &self,
        patient_id: PatientId,
        batch: Vec<NewRecord>,
    ) -> Result<(Vec<AddedRecord>, Vec<NewRecord>)> {
        let mut done = Vec::new();
        let mut rest = Vec::new();
        for record in batch {
            let registered: RecordResponse = self
                .session
                .chain
                .registry(&RegistryQuery::RecordBySha256 {
                    patient_id,
                    sha256: record.blob.sha256.clone(),
                })
                .await?;
            match registered.record {
                Some(found) => done.push(AddedRecord {
                    record_id: found.id,
                    category: record.category,
                    sha256: record.blob.sha256,
                    uri: record.blob.uri,
                    already_registered: true,
                }),
                None => rest.push(record),
            }
        }
        Ok((done, rest))
    }

    /// Encrypts, stores and registers plaintext records of one patient; the result is in input order.
    pub async fn add_records(
        &self,
        patient_id: PatientId,
        items: Vec<(Category, Vec<u8>)>,
        batch_size: usize,
        on_committed: impl FnMut(usize),
    ) -> Result<(Vec<AddedRecord>, BatchReport)> {
        self.add_records_with(patient_id, items, batch_size, |_| {}, on_committed)
            .await
    }

    /// As `add_records`, calling `on_stored(n)` as files are sealed and stored (all of them
    /// before the first registration), then `on_committed(n)` as records are registered.
    pub async fn add_records_with(
        &self,
        patient_id: PatientId,
        items: Vec<(Category, Vec<u8>)>,
        batch_size: usize,
        on_stored: impl FnMut(usize),
        on_committed: impl FnMut(usize),
    ) -> Result<(Vec<AddedRecord>, BatchReport)> {
        let patient = self.patient(patient_id).await?;
        let (records, rotations) = self
            .seal_and_store_all_with(&patient, items, on_stored)
            .await?;
        let order: HashMap<String, usize> = records
            .iter()
            .enumerate()
            .map(|(i, record)| (record.blob.sha256.clone(), i))
            .collect();
        let (mut added, report) = self
            .register_records(patient_id, records, rotations, batch_size, 4, on_committed)
            .await?;
        // Retries report records out of submission order; callers pair them with their inputs.
        added.sort_by_key(|record| order.get(&record.sha256).copied());
        Ok((added, report))
    }

    /// A new version of a record, sealed for the version after the latest one. When another
    /// writer's version or key rotation lands first, the record is read again, the file sealed
    /// again and sent once more.
    pub async fn update_record(
        &self,
        record_id: RecordId,
        plaintext: &[u8],
    ) -> Result<(u32, BlobRef, TxOutcome)> {
        match self.try_update_record(record_id, plaintext).await {
            Err(error) if error.is_write_race() => {
                tracing::warn!(%error, "record {record_id} changed meanwhile: sealing again");
                self.try_update_record(record_id, plaintext).await
            }
            other => other,
        }
    }

    async fn try_update_record(
        &self,
        record_id: RecordId,
        plaintext: &[u8],
    ) -> Result<(u32, BlobRef, TxOutcome)> {
        let record = self.record(record_id).await?;
        let patient = self.patient(record.patient_id).await?;
        let base_version = record.latest.version;
        let version = base_version + 1;
        let sealed = self
            .seal_and_store(&patient, record.category, version, plaintext)
            .await?;
        let write = ContractMsg::Registry(RegistryMsg::UpdateRecord {
            record_id,
            base_version,
            epoch: sealed.epoch,
            blob: sealed.blob.clone(),
        });
        let outcome = self.session.execute(&sealed.with_rotation(write)).await?;
        Ok((version, sealed.blob, outcome))
    }

    /// A new version of the patient's encrypted profile, with the same retry as `update_record`.
    pub async fn update_profile(
        &self,
        patient_id: PatientId,
        plaintext: &[u8],
    ) -> Result<(u32, TxOutcome)> {
        match self.try_update_profile(patient_id, plaintext).await {
            Err(error) if error.is_write_race() => {
                tracing::warn!(%error, "patient {patient_id}'s profile changed meanwhile: sealing again");
                self.try_update_profile(patient_id, plaintext).await
            }
            other => other,
        }
    }

    async fn try_update_profile(
        &self,
        patient_id: PatientId,
        plaintext: &[u8],
    ) -> Result<(u32, TxOutcome)> {
        let patient = self.patient(patient_id).await?;
        let base_version = patient.profile_version;
        let sealed = self
            .seal_and_store(&patient, Category::Profile, base_version + 1, plaintext)
            .await?;
        let write = ContractMsg::Registry(RegistryMsg::UpdatePatient {
            patient_id,
            base_version,
            epoch: sealed.epoch,
            profile: sealed.blob.clone(),
        });
        let outcome = self.session.execute(&sealed.with_rotation(write)).await?;
        Ok((base_version + 1, outcome))
    }

    /// Fetches a version (the latest when `None`), checks its sha256 against the chain and decrypts it.
    pub async fn read_record(
        &self,
        record_id: RecordId,
        version: Option<u32>,
    ) -> Result<(RecordInfo, RecordVersion, Vec<u8>)> {
        let record = self.record(record_id).await?;
        let chosen = match version {
            None => record.latest.clone(),
            Some(v) => self
                .history(record_id)
                .await?
                .into_iter()
                .find(|entry| entry.version == v)
                .ok_or_else(|| {
                    ClientError::NotFound(format!("record {record_id} version {v} not found"))
                })?,
        };
        let patient = self.patient(record.patient_id).await?;
        let plaintext = self
            .open_blob(&patient, record.category, chosen.version, &chosen.blob)
            .await?;
        Ok((record, chosen, plaintext))
    }

    /// The patient's decrypted profile; `None` when no profile is stored.
    pub async fn read_profile(&self, patient: &PatientInfo) -> Result<Option<Vec<u8>>> {
        match &patient.profile {
            None => Ok(None),
            Some(blob) => self
                .open_blob(patient, Category::Profile, patient.profile_version, blob)
                .await
                .map(Some),
        }
    }

    /// Fetches a blob, checks its sha256 against the chain's, checks that its header names this
    /// patient, category and version, and decrypts it with the keys this identity holds.
    async fn open_blob(
        &self,
        patient: &PatientInfo,
        category: Category,
        version: u32,
        blob: &BlobRef,
    ) -> Result<Vec<u8>> {
        let file = fetch_verified(&self.storage, blob).await?;
        let mut keyring = self.keyring(patient).await?;
        match open_file(&keyring, patient.id, category, version, &file)? {
            Opened::Plaintext(plaintext) => return Ok(plaintext),
            Opened::MissingKey { .. } => {}
        }
        // No envelope for this epoch: an emergency may have opened it through the trustees'
        // released shares, combined here each time (kept nowhere, so they cannot outlive what
        // the chain released); so may a wallet recovery before `finish_recovery` stored them.
        let progress = self.combine_released(patient.id, &mut keyring).await?;
        match open_file(&keyring, patient.id, category, version, &file)? {
            Opened::Plaintext(plaintext) => Ok(plaintext),
            Opened::MissingKey { epoch } => Err(self
                .missing_key(patient.id, category, epoch, &progress)
                .await?),
        }
    }

    /// Why a non-owner has no key for (category, epoch): still waiting for the trustees during
    /// an emergency, or simply no key.
    pub(crate) async fn missing_key(
        &self,
        patient_id: PatientId,
        category: Category,
        epoch: u32,
        progress: &[crate::escrow::ReleaseProgress],
    ) -> Result<ClientError> {
        let missing = ClientError::Crypto(ehr_crypto::CryptoError::MissingCategoryKey {
            patient_id,
            category: category.name(),
            epoch,
        });
        if !self
            .emergency_categories(patient_id)
            .await?
            .is_some_and(|opened| opened.contains(&category))
        {
            return Ok(missing);
        }
        let released = progress
            .iter()
            .find(|p| p.category == category && p.epoch == epoch)
            .map_or(0, |p| p.released);
        Ok(ClientError::AwaitingTrustees {
            category: category.name(),
            epoch,
            released,
            needed: self.trustees().await?.threshold,
        })
    }

    /// Re-hashes every stored version of a record and compares with the chain, and checks that
    /// each file's sealed header names the record's patient, category, version and the key epoch
    /// the writer declared: a version whose header differs opens for nobody.
    pub async fn verify_record(&self, record_id: RecordId) -> Result<Vec<(u32, Result<()>)>> {
        let record = self.record(record_id).await?;
        let mut results = Vec::new();
        for version in self.history(record_id).await? {
            let expected = RecordHeader {
                patient_id: record.patient_id,
                category: record.category,
                epoch: version.epoch,
                record_version: version.version,
            };
            let checked = match fetch_verified(&self.storage, &version.blob).await {
                Ok(file) => RecordHeader::parse(&file)
                    .and_then(|header| header.ensure_matches(&expected))
                    .map_err(ClientError::from),
                Err(error) => Err(error),
            };
            results.push((version.version, checked));
        }
        Ok(results)
    }

    /// The envelopes a grant of `categories` to `grantee` carries: every epoch key the patient
    /// holds for them (the current epoch's created if needed), newest first, at most MAX_ENVELOPES.
    pub async fn envelopes_for(
        &self,
        patient: &PatientInfo,
        grantee: &str,
        categories: &[Category],
    ) -> Result<Vec<KeyEnvelope>> {
        if !self.is_owner(patient) {
            return Err(ClientError::Unauthorized(format!(
                "unauthorized: only the patient (owner {}) can share its keys",
                patient.owner
            )));
        }
        self.ensure_registered_key(patient).await?;
        let recipient = self.provider_public_key(grantee).await?.ok_or_else(|| {
            ClientError::InvalidInput(format!(
                "{grantee} has not published an encryption key (`ehr keys publish`)"
            ))
        })?;
        let mut own = self.own_keys(patient).await?;
        let mut envelopes = Vec::new();
        for &category in categories {
            let current = self.current_epoch(patient.id, category).await?;
            for epoch in (0..=current).rev() {
                let context = EnvelopeContext {
                    patient_id: patient.id,
                    category,
                    epoch,
                };
                let key = if epoch == current {
                    self.own_key(&mut own, context).await?
                } else {
                    match own.keyring.get(&context) {
                        Some(key) => key.clone(),
                        None => continue,
                    }
                };
                let envelope = ehr_crypto::seal_category_key(&recipient, &context, &key)?;
                envelopes.push((
                    epoch == current,
                    KeyEnvelope {
                        category,
                        epoch,
                        envelope: Binary::from(envelope.as_bytes().to_vec()),
                    },
                ));
            }
        }
        // Current epochs first, so trimming to the limit only drops old keys.
        envelopes.sort_by_key(|(current, e)| (!current, std::cmp::Reverse(e.epoch)));
        Ok(envelopes
            .into_iter()
            .take(MAX_ENVELOPES)
            .map(|(_, e)| e)
            .collect())
    }

    /// Grants a doctor `scope` on `categories`, with the category keys wrapped to its key.
    pub async fn grant(
        &self,
        patient_id: PatientId,
        grantee: &str,
        scope: Scope,
        categories: Vec<Category>,
        expires: Option<Timestamp>,
    ) -> Result<(usize, TxOutcome)> {
        let patient = self.patient(patient_id).await?;
        let key_envelopes = self.envelopes_for(&patient, grantee, &categories).await?;
        let count = key_envelopes.len();
        let msg = ehr_types::access::ExecuteMsg::Grant {
            patient_id,
            grantee: grantee.to_string(),
            scope,
            categories,
            expires,
            key_envelopes,
        };
        Ok((
            count,
            self.session.execute(&[ContractMsg::Access(msg)]).await?,
        ))
    }

    /// Every grant of a patient, page by page.
    pub async fn grants_of(&self, patient_id: PatientId) -> Result<Vec<GrantInfo>> {
        let mut grants: Vec<GrantInfo> = Vec::new();
        loop {
            let page: GrantsResponse = self
                .session
                .chain
                .access(&AccessQuery::GrantsByPatient {
                    patient_id,
                    start_after: grants.last().map(|g| g.grantee.to_string()),
                    limit: Some(MAX_LIMIT),
                })
                .await?;
            let full = page.grants.len() == MAX_LIMIT as usize;
            grants.extend(page.grants);
            if !full {
                return Ok(grants);
            }
        }
    }

    /// Revokes a grant. The former grantee keeps what it was handed; the next write into each
    /// category it held the current key of rotates (the contract sees the epoch is stale), so the
    /// patient and every remaining grantee read on and the former grantee does not.
    pub async fn revoke(&self, patient_id: PatientId, grantee: &str) -> Result<TxOutcome> {
        self.session
            .execute(
                &[ContractMsg::Access(ehr_types::access::ExecuteMsg::Revoke {
                    patient_id,
                    grantee: grantee.to_string(),
                })],
            )
            .await
    }
}

/// The key a writer seals new files of a category with.
pub struct WritingKey {
    pub epoch: u32,
    pub key: CategoryKey,
    /// The `RotateKey` that opens `epoch`, when the writer must open it.
    pub rotation: Option<Rotation>,
}

/// A `RotateKey` a write depends on: it must commit in the same transaction, before the write.
#[derive(Clone)]
pub struct Rotation {
    pub category: Category,
    pub epoch: u32,
    pub msg: ContractMsg,
}

/// A stored ciphertext, the epoch it is sealed under and the rotation that epoch needs.
pub struct SealedFile {
    pub blob: BlobRef,
    pub epoch: u32,
    pub rotation: Option<Rotation>,
}

impl SealedFile {
    /// The transaction's messages: the rotation (if any), then the write.
    pub fn with_rotation(&self, write: ContractMsg) -> Vec<ContractMsg> {
        self.rotation
            .iter()
            .map(|rotation| rotation.msg.clone())
            .chain([write])
            .collect()
    }
}

/// A registered X25519 key; `whose` names it in the error.
pub(crate) fn public_key_of(key: &Binary, whose: &str) -> Result<X25519PublicKey> {
    let bytes: [u8; 32] = key.as_slice().try_into().map_err(|_| {
        ClientError::InvalidInput(format!(
            "{whose}'s registered encryption key is not 32 bytes"
        ))
    })?;
    Ok(X25519PublicKey::from_bytes(bytes))
}

/// This machine's clock as a chain timestamp (whole seconds), for expiries set and checked here.
pub fn now() -> Result<Timestamp> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| ClientError::InvalidInput(format!("system clock: {e}")))?;
    Ok(Timestamp::from_seconds(since_epoch.as_secs()))
}

/// One record as `AddRecord`; more as one `AddRecords`, which the registry executes and audits
/// in one contract call each instead of two calls per record.
fn add_records_msg(patient_id: PatientId, batch: &[NewRecord]) -> ContractMsg {
    ContractMsg::Registry(match batch {
        [record] => RegistryMsg::AddRecord {
            patient_id,
            category: record.category,
            epoch: record.epoch,
            blob: record.blob.clone(),
        },
        _ => RegistryMsg::AddRecords {
            patient_id,
            records: batch.to_vec(),
        },
    })
}

fn is_retryable(error: &ClientError) -> bool {
    error.is_transient() || matches!(error, ClientError::DuplicateBlob(_))
}

/// A fetched file opened with a keyring, or the key epoch the keyring lacks.
pub(crate) enum Opened {
    Plaintext(Vec<u8>),
    MissingKey { epoch: u32 },
}

/// Checks that a file's header names this patient, category and version (a file moved to
/// another record opens for nobody), then decrypts it with `keyring`.
pub(crate) fn open_file(
    keyring: &CategoryKeyring,
    patient_id: PatientId,
    category: Category,
    version: u32,
    file: &[u8],
) -> Result<Opened> {
    let header = RecordHeader::parse(file)?;
    header.ensure_matches(&RecordHeader {
        patient_id,
        category,
        epoch: header.epoch,
        record_version: version,
    })?;
    match keyring.decrypt_file(file) {
        Ok(opened) => Ok(Opened::Plaintext(opened.plaintext.to_vec())),
        Err(ehr_crypto::CryptoError::MissingCategoryKey { .. }) => Ok(Opened::MissingKey {
            epoch: header.epoch,
        }),
        Err(error) => Err(error.into()),
    }
}

/// Pairs each record of a committed batch with the record id its event announced, in order.
fn records_of(
    outcome: &TxOutcome,
    registry: &str,
    batch: &[NewRecord],
) -> Result<Vec<AddedRecord>> {
    let ids = outcome.attribute_values(registry, "record_id");
    if ids.len() != batch.len() {
        return Err(ClientError::Encoding(format!(
            "tx {} announced {} record ids for {} records",
            outcome.hash,
            ids.len(),
            batch.len()
        )));
    }
    batch
        .iter()
        .zip(ids)
        .map(|(record, id)| {
            Ok(AddedRecord {
                record_id: id
                    .parse()
                    .map_err(|_| ClientError::Encoding(format!("record id {id:?}")))?,
                category: record.category,
                sha256: record.blob.sha256.clone(),
                uri: record.blob.uri.clone(),
                already_registered: false,
            })
        })
        .collect()
}

/// Seals each (header, key, plaintext) and puts the file in `store`; the blobs in input order.
/// Files are sealed on every core (one blocking task per core at a time) while up to
/// `STORE_IN_FLIGHT` files are in progress, so neither the CPU nor the storage round trips hold
/// the other up. `on_stored(n)` is called as files are stored.
pub async fn seal_and_store_files<S>(
    store: &S,
    files: Vec<(RecordHeader, CategoryKey, Vec<u8>)>,
    mut on_stored: impl FnMut(usize),
) -> Result<Vec<BlobRef>>
where
    S: BlobStore + Clone + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let sealers = Arc::new(Semaphore::new(cores));
    let mut blobs: Vec<Option<BlobRef>> = vec![None; files.len()];
    let mut pending = files.into_iter().enumerate();
    let mut running = JoinSet::new();
    loop {
        while running.len() < STORE_IN_FLIGHT {
            let Some((index, (header, key, plaintext))) = pending.next() else {
                break;
            };
            let store = store.clone();
            let sealers = sealers.clone();
            running.spawn(async move {
                let permit = sealers
                    .acquire_owned()
                    .await
                    .map_err(|error| ClientError::Storage(format!("no sealing slot: {error}")))?;
                let file = tokio::task::spawn_blocking(move || {
                    let sealed = ehr_crypto::encrypt_file(&header, &key, &plaintext);
                    drop(permit);
                    sealed
                })
                .await
                .map_err(|error| {
                    ClientError::Storage(format!("sealing a file did not finish: {error}"))
                })??;
                Ok::<_, ClientError>((index, store.put(&file).await?))
            });
        }
        match running.join_next().await {
            Some(Ok(Ok((index, blob)))) => {
                blobs[index] = Some(blob);
                on_stored(1);
            }
            Some(Ok(Err(error))) => return Err(error),
            Some(Err(error)) => {
                return Err(ClientError::Storage(format!(
                    "storing a file did not finish: {error}"
                )))
            }
            None => break,
        }
    }
    blobs
        .into_iter()
        .map(|blob| blob.ok_or_else(|| ClientError::Storage("a file was not stored".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DirStore;

    #[tokio::test]
    async fn files_are_sealed_concurrently_and_returned_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let lab = CategoryKey::generate().unwrap();
        let note = CategoryKey::generate().unwrap();
        // More files than are in flight at once, in two categories, of unequal sizes.
        let files: Vec<_> = (0..3 * STORE_IN_FLIGHT as u32)
            .map(|n| {
                let (category, key) = if n % 3 == 0 {
                    (Category::Note, note.clone())
                } else {
                    (Category::Lab, lab.clone())
                };
                let header = RecordHeader {
                    patient_id: 7,
                    category,
                    epoch: n % 2,
                    record_version: 1,
                };
                (
                    header,
                    key,
                    format!("record {n} {}", "x".repeat(n as usize * 997)).into_bytes(),
                )
            })
            .collect();
        let mut stored = 0;
        let blobs = seal_and_store_files(&store, files.clone(), |n| stored += n)
            .await
            .unwrap();
        assert_eq!((blobs.len(), stored), (files.len(), files.len()));
        for ((header, key, plaintext), blob) in files.iter().zip(&blobs) {
            let file = fetch_verified(&store, blob).await.unwrap();
            let opened = ehr_crypto::decrypt_file(key, &file).unwrap();
            assert_eq!(opened.header, *header);
            assert_eq!(opened.plaintext.as_slice(), plaintext.as_slice());
        }
    }

    #[tokio::test]
    async fn a_storage_failure_fails_the_whole_call() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the store's root directory should be: every put fails.
        let root = dir.path().join("not-a-dir");
        std::fs::write(&root, b"").unwrap();
        let key = CategoryKey::generate().unwrap();
        let header = RecordHeader {
            patient_id: 7,
            category: Category::Lab,
            epoch: 0,
            record_version: 1,
        };
        let files = vec![(header, key, b"{}".to_vec())];
        let error = seal_and_store_files(&DirStore::new(root), files, |_| {})
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::Storage(_)), "{error}");
    }
}
