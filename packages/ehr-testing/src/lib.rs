//! A cw-multi-test world with ehr-registry and ehr-access deployed and wired together, the
//! actors a test needs, and helpers that turn each contract call into one line.

pub mod storage_ops;

use cosmwasm_std::{
    to_json_binary, Addr, Attribute, Binary, CosmosMsg, Empty, Record, StdError, Timestamp, WasmMsg,
};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
use ehr_types::access::{
    self, CategoryEpoch, GrantInfo, KeyEnvelope, KeyHoldersResponse, ReadersResponse, Scope,
};
use ehr_types::registry::{
    self, NewRecord, PatientCountResponse, PatientInfo, RecordInfo, RecordVersion,
};
use ehr_types::validate::{ENVELOPE_LEN, SEALED_SHARE_LEN};
use ehr_types::{BlobRef, Category, PatientId, RecordId, RequestId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub fn registry_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            ehr_registry::contract::execute,
            ehr_registry::contract::instantiate,
            ehr_registry::contract::query,
        )
        .with_migrate(ehr_registry::contract::migrate),
    )
}

pub fn access_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            ehr_access::contract::execute,
            ehr_access::contract::instantiate,
            ehr_access::contract::query,
        )
        .with_migrate(ehr_access::contract::migrate),
    )
}

/// A blob reference for a ciphertext held in the embedded store (`ehrfs://<sha256>`).
pub fn blob_of(ciphertext: &[u8]) -> BlobRef {
    let sha256 = hex::encode(Sha256::digest(ciphertext));
    BlobRef {
        uri: format!("ehrfs://{sha256}"),
        sha256,
        size: ciphertext.len() as u64,
    }
}

/// A distinct, valid blob reference for test number `n`.
pub fn sample_blob(n: u64) -> BlobRef {
    blob_of(format!("ciphertext #{n}").as_bytes())
}

/// The admin's `CredentialProvider` for a test doctor, listed as "Dr <end of address>".
pub fn credential_msg(doctor: &Addr) -> registry::ExecuteMsg {
    registry::ExecuteMsg::CredentialProvider {
        address: doctor.to_string(),
        display_name: test_display_name(doctor),
        organization: TEST_ORGANIZATION.to_string(),
    }
}

pub const TEST_ORGANIZATION: &str = "Test Clinic";

pub fn test_display_name(doctor: &Addr) -> String {
    let address = doctor.as_str();
    format!("Dr {}", &address[address.len().saturating_sub(8)..])
}

/// A 32-byte X25519 public key that `validate_public_key` accepts, distinct per seed (any seed
/// from 1 to 127: `[seed; 32]` is canonical and none of them is a low-order point).
pub fn sample_public_key(seed: u8) -> Binary {
    assert!((1..0x80).contains(&seed), "sample key seed {seed}");
    Binary::from([seed; 32])
}

/// A stand-in for an HPKE envelope: the contracts cannot open one, they only check its length.
pub fn sample_envelope(category: Category, epoch: u32) -> KeyEnvelope {
    KeyEnvelope {
        category,
        epoch,
        envelope: Binary::from([category.code() + 1; ENVELOPE_LEN]),
    }
}

/// A stand-in for a sealed Shamir share of (category, epoch), of the one length the contract
/// stores.
pub fn sample_share(category: Category, epoch: u32) -> Binary {
    let mut share = vec![category.code() + 1; SEALED_SHARE_LEN];
    share[..4].copy_from_slice(&epoch.to_be_bytes());
    Binary::from(share)
}

/// A 32-byte stand-in for an escrow commitment (of a share or a key); the contract only checks
/// its length and keeps it for the combiner.
pub fn sample_commitment(category: Category, epoch: u32) -> Binary {
    let mut commitment = vec![0xc0 | category.code(); 32];
    commitment[..4].copy_from_slice(&epoch.to_be_bytes());
    Binary::from(commitment)
}

/// `RotateKey` to `epoch` with (stand-in) envelopes for the patient and each of `recipients`.
pub fn rotate_key_msg(
    patient_id: PatientId,
    category: Category,
    epoch: u32,
    recipients: &[Addr],
) -> access::ExecuteMsg {
    let envelope = sample_envelope(category, epoch).envelope;
    access::ExecuteMsg::RotateKey {
        patient_id,
        category,
        epoch,
        own_envelope: envelope.clone(),
        envelopes: recipients
            .iter()
            .map(|recipient| access::RecipientEnvelope {
                recipient: recipient.to_string(),
                envelope: envelope.clone(),
            })
            .collect(),
        escrow: vec![],
        escrow_key_commitment: None,
    }
}

/// The contract's own error message. cw-multi-test flattens the error chain into one string that
/// ends with "kind: …, error: <the contract's message>".
pub fn error_text(err: &cosmwasm_std::StdError) -> String {
    let text = err.to_string();
    const MARKER: &str = ", error: ";
    match text.rfind(MARKER) {
        Some(at) => text[at + MARKER.len()..].to_string(),
        None => text,
    }
}

/// Which contract a message goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Registry,
    Access,
}

/// Every stored key and value of both contracts, for "nothing changed" and "no plaintext" checks.
pub type StateDump = Vec<(Target, Record)>;

/// `Suite::new`'s wallet-recovery wait.
pub const RECOVERY_WAIT_SECONDS: u64 = 600;

pub struct Suite {
    pub app: App,
    pub admin: Addr,
    pub registry: Addr,
    pub access: Addr,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    /// Both contracts instantiated by `admin` and pointed at each other; nobody credentialed yet.
    pub fn new() -> Self {
        let mut app = App::default();
        let admin = app.api().addr_make("admin");
        let registry_code = app.store_code(registry_contract());
        let access_code = app.store_code(access_contract());
        let registry = app
            .instantiate_contract(
                registry_code,
                admin.clone(),
                &registry::InstantiateMsg { admin: None },
                &[],
                "ehr-registry",
                Some(admin.to_string()),
            )
            .expect("instantiate registry");
        let access = app
            .instantiate_contract(
                access_code,
                admin.clone(),
                &access::InstantiateMsg {
                    registry: registry.to_string(),
                    admin: None,
                    emergency_access_seconds: Some(3600),
                    recovery_wait_seconds: Some(RECOVERY_WAIT_SECONDS),
                },
                &[],
                "ehr-access",
                Some(admin.to_string()),
            )
            .expect("instantiate access");
        let mut suite = Suite {
            app,
            admin,
            registry,
            access,
        };
        suite
            .execute(
                &suite.admin.clone(),
                Target::Registry,
                &registry::ExecuteMsg::SetAccessContract {
                    address: suite.access.to_string(),
                },
            )
            .expect("wire registry to access");
        suite
    }

    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn contract(&self, target: Target) -> Addr {
        match target {
            Target::Registry => self.registry.clone(),
            Target::Access => self.access.clone(),
        }
    }

    pub fn execute<M: Serialize + std::fmt::Debug>(
        &mut self,
        sender: &Addr,
        target: Target,
        msg: &M,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let contract = self.contract(target);
        self.app
            .execute_contract(sender.clone(), contract, msg, &[])
    }

    /// Runs a message that must fail with `expected` and checks that no stored byte changed.
    pub fn execute_expecting_error<M: Serialize + std::fmt::Debug>(
        &mut self,
        sender: &Addr,
        target: Target,
        msg: &M,
        expected: &str,
    ) {
        let what = format!("{msg:?} from {sender}");
        self.assert_refused(&what, expected, |suite| suite.execute(sender, target, msg));
    }

    /// Runs `action`, which must fail with the contract error `expected`, and checks that no
    /// stored byte of either contract changed. `what` names the action in failure messages.
    pub fn assert_refused<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        expected: &str,
        action: impl FnOnce(&mut Self) -> Result<T, StdError>,
    ) {
        let before = self.dump_state();
        let err = action(self).expect_err(&format!("{what} should fail with {expected}"));
        assert_eq!(error_text(&err), expected, "{what}");
        assert!(
            self.dump_state() == before,
            "state changed by failed {what}"
        );
    }

    /// A message to one of the two contracts, for `execute_multi`.
    pub fn wasm_msg<M: Serialize>(&self, target: Target, msg: &M) -> CosmosMsg {
        WasmMsg::Execute {
            contract_addr: self.contract(target).to_string(),
            msg: to_json_binary(msg).expect("serialize message"),
            funds: vec![],
        }
        .into()
    }

    /// Runs `msgs` from `sender` as one transaction: all of them take effect, or none.
    pub fn execute_multi(
        &mut self,
        sender: &Addr,
        msgs: Vec<CosmosMsg>,
    ) -> Result<Vec<AppResponse>, StdError> {
        self.app.execute_multi(sender.clone(), msgs)
    }

    pub fn query<Q: Serialize, R: DeserializeOwned>(
        &self,
        target: Target,
        msg: &Q,
    ) -> Result<R, cosmwasm_std::StdError> {
        self.app.wrap().query_wasm_smart(self.contract(target), msg)
    }

    pub fn dump_state(&self) -> StateDump {
        let registry = self.app.dump_wasm_raw(&self.registry).into_iter();
        let access = self.app.dump_wasm_raw(&self.access).into_iter();
        registry
            .map(|record| (Target::Registry, record))
            .chain(access.map(|record| (Target::Access, record)))
            .collect()
    }

    pub fn now(&self) -> Timestamp {
        self.app.block_info().time
    }

    /// Moves the chain forward by `seconds` (and one block per 5 seconds).
    pub fn advance_time(&mut self, seconds: u64) {
        self.app.update_block(|block| {
            block.time = block.time.plus_seconds(seconds);
            block.height += seconds.div_ceil(5).max(1);
        });
    }

    // ---- registry actions ----

    pub fn credential(&mut self, doctor: &Addr) {
        let admin = self.admin.clone();
        let msg = credential_msg(doctor);
        self.execute(&admin, Target::Registry, &msg)
            .expect("credential doctor");
    }

    /// The admin names the registrars (who credential and withdraw doctors).
    pub fn set_registrars(&mut self, registrars: &[&Addr]) {
        let admin = self.admin.clone();
        let msg = registry::ExecuteMsg::SetRegistrars {
            addresses: registrars.iter().map(|r| r.to_string()).collect(),
        };
        self.execute(&admin, Target::Registry, &msg)
            .expect("set registrars");
    }

    pub fn decredential(&mut self, doctor: &Addr) {
        let admin = self.admin.clone();
        let msg = registry::ExecuteMsg::RevokeProvider {
            address: doctor.to_string(),
        };
        self.execute(&admin, Target::Registry, &msg)
            .expect("revoke doctor");
    }

    pub fn register_patient(&mut self, owner: &Addr) -> Result<PatientId, cosmwasm_std::StdError> {
        let msg = registry::ExecuteMsg::RegisterPatient {
            encryption_key: sample_public_key(1),
            profile: None,
        };
        let response = self.execute(owner, Target::Registry, &msg)?;
        Ok(attribute_id(&response, "patient_id"))
    }

    pub fn propose_patient(
        &mut self,
        doctor: &Addr,
        owner: &Addr,
    ) -> Result<PatientId, cosmwasm_std::StdError> {
        let msg = registry::ExecuteMsg::ProposePatient {
            address: owner.to_string(),
            profile: None,
        };
        let response = self.execute(doctor, Target::Registry, &msg)?;
        Ok(attribute_id(&response, "patient_id"))
    }

    pub fn accept_patient(
        &mut self,
        owner: &Addr,
        patient_id: PatientId,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = registry::ExecuteMsg::AcceptPatient {
            patient_id,
            encryption_key: sample_public_key(2),
        };
        self.execute(owner, Target::Registry, &msg)
    }

    pub fn delete_patient(
        &mut self,
        actor: &Addr,
        patient_id: PatientId,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        self.execute(
            actor,
            Target::Registry,
            &registry::ExecuteMsg::DeletePatient { patient_id },
        )
    }

    /// A new record under the category's current epoch.
    pub fn add_record(
        &mut self,
        author: &Addr,
        patient_id: PatientId,
        category: Category,
        blob: BlobRef,
    ) -> Result<RecordId, cosmwasm_std::StdError> {
        let msg = self.add_record_msg(patient_id, category, blob);
        let response = self.execute(author, Target::Registry, &msg)?;
        Ok(attribute_id(&response, "record_id"))
    }

    /// `AddRecord` under the category's current epoch.
    pub fn add_record_msg(
        &self,
        patient_id: PatientId,
        category: Category,
        blob: BlobRef,
    ) -> registry::ExecuteMsg {
        registry::ExecuteMsg::AddRecord {
            patient_id,
            category,
            epoch: self.epoch(patient_id, category),
            blob,
        }
    }

    /// One record of an `AddRecords` batch, under the category's current epoch.
    pub fn new_record(
        &self,
        patient_id: PatientId,
        category: Category,
        blob: BlobRef,
    ) -> NewRecord {
        NewRecord {
            category,
            epoch: self.epoch(patient_id, category),
            blob,
        }
    }

    /// A new version based on the record's latest, under the category's current epoch.
    pub fn update_record(
        &mut self,
        author: &Addr,
        record_id: RecordId,
        blob: BlobRef,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = self.update_record_msg(record_id, blob)?;
        self.execute(author, Target::Registry, &msg)
    }

    /// `UpdateRecord` based on the record's latest version, under the category's current epoch.
    pub fn update_record_msg(
        &self,
        record_id: RecordId,
        blob: BlobRef,
    ) -> Result<registry::ExecuteMsg, cosmwasm_std::StdError> {
        let record = self
            .record(record_id)
            .ok_or_else(|| cosmwasm_std::StdError::msg(format!("no record {record_id}")))?;
        Ok(registry::ExecuteMsg::UpdateRecord {
            record_id,
            base_version: record.latest.version,
            epoch: self.epoch(record.patient_id, record.category),
            blob,
        })
    }

    /// A new profile version based on the current one, under the Profile category's current epoch.
    pub fn update_patient(
        &mut self,
        author: &Addr,
        patient_id: PatientId,
        profile: BlobRef,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = self.update_patient_msg(patient_id, profile)?;
        self.execute(author, Target::Registry, &msg)
    }

    /// `UpdatePatient` based on the current profile version, under the current Profile epoch.
    pub fn update_patient_msg(
        &self,
        patient_id: PatientId,
        profile: BlobRef,
    ) -> Result<registry::ExecuteMsg, cosmwasm_std::StdError> {
        Ok(registry::ExecuteMsg::UpdatePatient {
            patient_id,
            base_version: self
                .patient(patient_id)
                .ok_or_else(|| cosmwasm_std::StdError::msg(format!("no patient {patient_id}")))?
                .profile_version,
            epoch: self.epoch(patient_id, Category::Profile),
            profile,
        })
    }

    /// The current key epoch of a category of a patient.
    pub fn epoch(&self, patient_id: PatientId, category: Category) -> u32 {
        self.key_holders(patient_id, category).epoch
    }

    /// The current epoch of a category and who holds its key.
    pub fn key_holders(&self, patient_id: PatientId, category: Category) -> KeyHoldersResponse {
        self.query(
            Target::Access,
            &access::QueryMsg::KeyHolders {
                patient_id,
                category,
            },
        )
        .expect("key holders")
    }

    /// The admin names the trustees (threshold `threshold`); each publishes a stand-in key.
    pub fn set_trustees(&mut self, trustees: &[&Addr], threshold: u8) {
        let admin = self.admin.clone();
        let msg = access::ExecuteMsg::SetTrustees {
            trustees: trustees.iter().map(|t| t.to_string()).collect(),
            threshold,
        };
        self.execute(&admin, Target::Access, &msg)
            .expect("set trustees");
        for (n, trustee) in trustees.iter().enumerate() {
            let msg = access::ExecuteMsg::SetTrusteeKey {
                encryption_key: sample_public_key(20 + n as u8),
            };
            self.execute(trustee, Target::Access, &msg)
                .expect("trustee key");
        }
    }

    /// Stand-in shares of (category, epoch) for every trustee of the current set.
    pub fn sample_shares(
        &self,
        category: Category,
        epoch: u32,
    ) -> Vec<ehr_types::escrow::TrusteeShare> {
        let trustees: ehr_types::escrow::TrusteesResponse = self
            .query(Target::Access, &access::QueryMsg::Trustees {})
            .expect("trustees");
        trustees
            .trustees
            .iter()
            .map(|t| ehr_types::escrow::TrusteeShare {
                trustee: t.address.to_string(),
                share: sample_share(category, epoch),
                commitment: sample_commitment(category, epoch),
            })
            .collect()
    }

    /// The message that opens the category's next epoch with (stand-in) envelopes for every
    /// party the access contract lists as a reader (a doctor who writes is one).
    /// When the patient escrows the category, it carries (stand-in) shares for every trustee.
    pub fn rotation_msg(&self, patient_id: PatientId, category: Category) -> access::ExecuteMsg {
        let epoch = self.epoch(patient_id, category) + 1;
        let recipients = self.readers(patient_id, category);
        let mut msg = rotate_key_msg(patient_id, category, epoch, &recipients);
        if self.escrow_policy(patient_id).escrows(category) {
            if let access::ExecuteMsg::RotateKey {
                escrow,
                escrow_key_commitment,
                ..
            } = &mut msg
            {
                *escrow = self.sample_shares(category, epoch);
                *escrow_key_commitment = Some(sample_commitment(category, epoch));
            }
        }
        msg
    }

    pub fn escrow_policy(&self, patient_id: PatientId) -> ehr_types::escrow::EscrowPolicyResponse {
        self.query(
            Target::Access,
            &access::QueryMsg::EscrowPolicy { patient_id },
        )
        .expect("escrow policy")
    }

    /// The patient opens `categories` in an emergency (and escrows them without recovery), with
    /// (stand-in) shares of every epoch up to the current one, as its client does.
    pub fn set_emergency_categories(
        &mut self,
        owner: &Addr,
        patient_id: PatientId,
        categories: &[Category],
    ) {
        let policy = access::ExecuteMsg::SetEscrowPolicy {
            patient_id,
            categories: categories.to_vec(),
            recovery: false,
        };
        let escrows = categories
            .iter()
            .flat_map(|category| {
                (0..=self.epoch(patient_id, *category)).map(|epoch| {
                    ehr_types::escrow::EpochEscrow {
                        category: *category,
                        epoch,
                        shares: self.sample_shares(*category, epoch),
                        key_commitment: sample_commitment(*category, epoch),
                    }
                })
            })
            .collect();
        let shares = access::ExecuteMsg::EscrowShares {
            patient_id,
            escrows,
        };
        let msgs = vec![
            self.wasm_msg(Target::Access, &policy),
            self.wasm_msg(Target::Access, &shares),
        ];
        self.execute_multi(owner, msgs)
            .expect("set emergency categories");
    }

    /// The parties (other than the patient) the access contract says may read the category now.
    pub fn readers(&self, patient_id: PatientId, category: Category) -> Vec<Addr> {
        let readers: ReadersResponse = self
            .query(
                Target::Access,
                &access::QueryMsg::Readers {
                    patient_id,
                    category,
                },
            )
            .expect("readers");
        readers.readers
    }

    /// Opens the category's next epoch, as a writer's client does before writing into a stale one.
    pub fn rotate_key(
        &mut self,
        writer: &Addr,
        patient_id: PatientId,
        category: Category,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = self.rotation_msg(patient_id, category);
        self.execute(writer, Target::Access, &msg)
    }

    /// What a writer's client sends into a stale epoch: `rotation_msg`, then `write` (which
    /// must carry the next epoch), in one transaction.
    pub fn rotate_and_write(
        &mut self,
        writer: &Addr,
        patient_id: PatientId,
        category: Category,
        write: &registry::ExecuteMsg,
    ) -> Result<Vec<AppResponse>, cosmwasm_std::StdError> {
        let rotation = self.rotation_msg(patient_id, category);
        let msgs = vec![
            self.wasm_msg(Target::Access, &rotation),
            self.wasm_msg(Target::Registry, write),
        ];
        self.execute_multi(writer, msgs)
    }

    /// A new record under the category's next epoch, opened by a rotation in the same transaction.
    pub fn add_record_rotating(
        &mut self,
        author: &Addr,
        patient_id: PatientId,
        category: Category,
        blob: BlobRef,
    ) -> Result<RecordId, cosmwasm_std::StdError> {
        let write = registry::ExecuteMsg::AddRecord {
            patient_id,
            category,
            epoch: self.epoch(patient_id, category) + 1,
            blob,
        };
        let responses = self.rotate_and_write(author, patient_id, category, &write)?;
        Ok(attribute_id(&responses[1], "record_id"))
    }

    /// The patient opens the next epoch of every category, keeping the parties still entitled.
    pub fn rotate_every_category(&mut self, owner: &Addr, patient_id: PatientId) {
        for category in Category::ALL {
            self.rotate_key(owner, patient_id, category)
                .expect("rotate key");
        }
    }

    /// The key envelopes handed to `holder`, optionally of one category, following pagination.
    pub fn key_envelopes(
        &self,
        patient_id: PatientId,
        holder: &Addr,
        category: Option<Category>,
    ) -> Vec<KeyEnvelope> {
        let mut envelopes: Vec<KeyEnvelope> = Vec::new();
        loop {
            let page: access::KeyEnvelopesResponse = self
                .query(
                    Target::Access,
                    &access::QueryMsg::KeyEnvelopes {
                        patient_id,
                        holder: holder.to_string(),
                        category,
                        start_after: envelopes.last().map(|e| CategoryEpoch {
                            category: e.category,
                            epoch: e.epoch,
                        }),
                        limit: Some(100),
                    },
                )
                .expect("key envelopes");
            if page.key_envelopes.is_empty() {
                return envelopes;
            }
            envelopes.extend(page.key_envelopes);
        }
    }

    /// The patient's own key envelopes, optionally of one category, following `next` from page
    /// to page (a page may be short while more follow).
    pub fn own_envelopes(
        &self,
        patient_id: PatientId,
        category: Option<Category>,
    ) -> Vec<KeyEnvelope> {
        let mut envelopes = Vec::new();
        let mut start_after = None;
        loop {
            let page: access::OwnEnvelopesResponse = self
                .query(
                    Target::Access,
                    &access::QueryMsg::OwnEnvelopes {
                        patient_id,
                        category,
                        start_after,
                        limit: Some(100),
                    },
                )
                .expect("own envelopes");
            envelopes.extend(page.key_envelopes);
            match page.next {
                Some(next) => start_after = Some(next),
                None => return envelopes,
            }
        }
    }

    pub fn emergency_access(
        &mut self,
        doctor: &Addr,
        patient_id: PatientId,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = access::ExecuteMsg::EmergencyAccess {
            patient_id,
            reason: ehr_types::escrow::EmergencyReason::IncapablePatient {},
        };
        self.execute(doctor, Target::Access, &msg)
    }

    // ---- access actions ----

    pub fn grant(
        &mut self,
        owner: &Addr,
        patient_id: PatientId,
        grantee: &Addr,
        scope: Scope,
        categories: &[Category],
        expires: Option<Timestamp>,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = access::ExecuteMsg::Grant {
            patient_id,
            grantee: grantee.to_string(),
            scope,
            categories: categories.to_vec(),
            expires,
            key_envelopes: categories
                .iter()
                .map(|c| sample_envelope(*c, self.epoch(patient_id, *c)))
                .collect(),
        };
        self.execute(owner, Target::Access, &msg)
    }

    pub fn revoke(
        &mut self,
        owner: &Addr,
        patient_id: PatientId,
        grantee: &Addr,
    ) -> Result<AppResponse, cosmwasm_std::StdError> {
        let msg = access::ExecuteMsg::Revoke {
            patient_id,
            grantee: grantee.to_string(),
        };
        self.execute(owner, Target::Access, &msg)
    }

    pub fn request_access(
        &mut self,
        doctor: &Addr,
        patient_id: PatientId,
        scope: Scope,
        categories: &[Category],
    ) -> Result<RequestId, cosmwasm_std::StdError> {
        let msg = access::ExecuteMsg::RequestAccess {
            patient_id,
            scope,
            categories: categories.to_vec(),
        };
        let response = self.execute(doctor, Target::Access, &msg)?;
        Ok(attribute_id(&response, "request_id"))
    }

    // ---- queries ----

    /// The patient with this id; `None` when there is none.
    pub fn patient(&self, patient_id: PatientId) -> Option<PatientInfo> {
        let response: registry::PatientResponse = self
            .query(
                Target::Registry,
                &registry::QueryMsg::Patient { patient_id },
            )
            .expect("patient query");
        response.patient
    }

    pub fn patient_count(&self) -> PatientCountResponse {
        self.query(Target::Registry, &registry::QueryMsg::PatientCount {})
            .expect("patient count")
    }

    /// The record with this id; `None` when there is none or its patient is deleted.
    pub fn record(&self, record_id: RecordId) -> Option<RecordInfo> {
        let response: registry::RecordResponse = self
            .query(Target::Registry, &registry::QueryMsg::Record { record_id })
            .expect("record query");
        response.record
    }

    /// The whole version chain of a record, following pagination.
    pub fn record_history(&self, record_id: RecordId) -> Vec<RecordVersion> {
        let mut versions: Vec<RecordVersion> = Vec::new();
        loop {
            let page: registry::RecordHistoryResponse = self
                .query(
                    Target::Registry,
                    &registry::QueryMsg::RecordHistory {
                        record_id,
                        start_after: versions.last().map(|v| v.version),
                        limit: Some(100),
                    },
                )
                .expect("record history");
            if page.versions.is_empty() {
                return versions;
            }
            versions.extend(page.versions);
        }
    }

    pub fn grant_of(&self, patient_id: PatientId, grantee: &Addr) -> Option<GrantInfo> {
        let response: access::GrantResponse = self
            .query(
                Target::Access,
                &access::QueryMsg::Grant {
                    patient_id,
                    grantee: grantee.to_string(),
                },
            )
            .expect("grant query");
        response.grant
    }

    pub fn audit_log(&self, patient_id: PatientId) -> Vec<ehr_types::AuditEntry> {
        let response: access::AuditLogResponse = self
            .query(
                Target::Access,
                &access::QueryMsg::AuditLog {
                    patient_id,
                    start_after: None,
                    limit: Some(100),
                },
            )
            .expect("audit log");
        response.entries
    }
}

/// Reads a numeric id the contract reported as a `wasm` event attribute.
pub fn attribute_id(response: &AppResponse, key: &str) -> u64 {
    let wasm_attributes: Vec<Attribute> = response
        .events
        .iter()
        .filter(|event| event.ty == "wasm")
        .flat_map(|event| event.attributes.iter().cloned())
        .collect();
    attribute_of(&wasm_attributes, key)
}

/// Reads a numeric attribute of a contract response.
pub fn attribute_of(attributes: &[Attribute], key: &str) -> u64 {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.parse().ok())
        .unwrap_or_else(|| panic!("no numeric `{key}` attribute in {attributes:?}"))
}

/// The ready-made cast of the role tests: one patient owner with a record and grants in every
/// state a doctor can be in. Every category of the patient is at key epoch 1, opened by the
/// patient after the revoke, the credential withdrawal and the expiry, so its only key holder is
/// `doctor_with_grant` and no epoch is stale.
pub struct Roles {
    pub admin: Addr,
    /// The access contract the registry is wired to.
    pub access_contract: Addr,
    pub patient: Addr,
    pub patient_id: PatientId,
    pub other_patient: Addr,
    pub other_patient_id: PatientId,
    /// Credentialed, with an unexpired Manage grant on every category.
    pub doctor_with_grant: Addr,
    /// Credentialed, never granted.
    pub doctor_without_grant: Addr,
    /// Credentialed, whose Manage grant has expired.
    pub doctor_expired_grant: Addr,
    /// Credentialed, whose grant the patient revoked.
    pub doctor_revoked: Addr,
    /// Holds an unexpired Manage grant, but the admin withdrew the credential.
    pub uncredentialed: Addr,
    /// Never seen by either contract.
    pub stranger: Addr,
    /// One of the network's two trustees (threshold 2), key published.
    pub trustee: Addr,
    /// The other trustee.
    pub other_trustee: Addr,
    /// Named by the admin to credential and withdraw doctors.
    pub registrar: Addr,
    /// A Lab record of the patient, added by the patient under epoch 0.
    pub record_id: RecordId,
    /// A pending request of `doctor_without_grant` to read the patient's Lab records.
    pub request_id: RequestId,
}

impl Suite {
    /// A suite with the `Roles` cast in place.
    pub fn with_roles() -> (Suite, Roles) {
        let mut suite = Suite::new();
        let names = [
            "patient",
            "other_patient",
            "doctor_with_grant",
            "doctor_without_grant",
            "doctor_expired_grant",
            "doctor_revoked",
            "uncredentialed",
            "stranger",
            "trustee",
            "other_trustee",
            "registrar",
        ];
        let [patient, other_patient, with_grant, without_grant, expired, revoked, uncredentialed, stranger, trustee, other_trustee, registrar] =
            names.map(|name| suite.addr(name));
        suite.set_trustees(&[&trustee, &other_trustee], 2);
        suite.set_registrars(&[&registrar]);
        for doctor in [
            &with_grant,
            &without_grant,
            &expired,
            &revoked,
            &uncredentialed,
        ] {
            suite.credential(doctor);
        }
        let patient_id = suite.register_patient(&patient).expect("register patient");
        let other_patient_id = suite
            .register_patient(&other_patient)
            .expect("register other");
        let all = Category::ALL;
        let soon = Some(suite.now().plus_seconds(100));
        suite
            .grant(&patient, patient_id, &expired, Scope::Manage, &all, soon)
            .expect("grant");
        for doctor in [&with_grant, &revoked, &uncredentialed] {
            suite
                .grant(&patient, patient_id, doctor, Scope::Manage, &all, None)
                .expect("grant");
        }
        // Written while all four grantees may read every category: epoch 0 is not stale yet.
        let record_id = suite
            .add_record(&patient, patient_id, Category::Lab, sample_blob(0))
            .expect("record");
        let request_id = suite
            .request_access(&without_grant, patient_id, Scope::Read, &[Category::Lab])
            .expect("request");
        suite
            .revoke(&patient, patient_id, &revoked)
            .expect("revoke");
        suite.decredential(&uncredentialed);
        suite.advance_time(200);
        suite.rotate_every_category(&patient, patient_id);
        let roles = Roles {
            admin: suite.admin.clone(),
            access_contract: suite.access.clone(),
            patient,
            patient_id,
            other_patient,
            other_patient_id,
            doctor_with_grant: with_grant,
            doctor_without_grant: without_grant,
            doctor_expired_grant: expired,
            doctor_revoked: revoked,
            uncredentialed,
            stranger,
            trustee,
            other_trustee,
            registrar,
            record_id,
            request_id,
        };
        (suite, roles)
    }
}
