//! Recovery from a lost wallet, from the client's side: the new wallet asks to move the patient
//! to its address, the old wallet can cancel, and once k trustees approved (and the patient moved)
//! the new owner combines the shares the trustees released to it into the category keys and
//! stores them on chain wrapped to its own key, so every device of the new wallet opens them.

use std::collections::BTreeSet;

use cosmwasm_std::Binary;
use ehr_crypto::EnvelopeContext;
use ehr_types::access::{ExecuteMsg as AccessMsg, KeyEnvelope, QueryMsg as AccessQuery};
use ehr_types::escrow::{EscrowCursor, EscrowedShare, EscrowedSharesResponse, TrusteesResponse};
use ehr_types::pagination::MAX_LIMIT;
use ehr_types::recovery::{
    IdentityCheck, RecoveriesResponse, RecoveryInfo, RecoveryResponse, RecoveryStatus,
};
use ehr_types::registry::PatientInfo;
use ehr_types::validate::MAX_ENVELOPES;
use ehr_types::{Category, PatientId};

use crate::chain::{ContractMsg, TxOutcome};
use crate::error::{ClientError, Result};
use crate::escrow::ReleaseProgress;
use crate::paging::all_pages;
use crate::records::Ehr;

/// What `finish_recovery` restored, and what it still waits for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecoveryProgress {
    /// Keys (category, epoch) the trustees hold shares of.
    pub escrowed: usize,
    /// Of those, how many this wallet holds now.
    pub restored: usize,
    /// Newly stored on chain, wrapped to this wallet's key, by this call.
    pub stored: usize,
    /// The keys still below their threshold.
    pub waiting: Vec<ReleaseProgress>,
}

impl RecoveryProgress {
    pub fn is_complete(&self) -> bool {
        self.restored == self.escrowed
    }
}

impl Ehr {
    /// The patient's latest recovery request.
    pub async fn recovery(&self, patient_id: PatientId) -> Result<Option<RecoveryInfo>> {
        let response: RecoveryResponse = self
            .session
            .chain
            .access(&AccessQuery::Recovery { patient_id })
            .await?;
        Ok(response.recovery)
    }

    /// The new wallet: ask to become `patient_id`'s owner, with this wallet's encryption key.
    pub async fn request_recovery(&self, patient_id: PatientId) -> Result<TxOutcome> {
        self.session
            .execute(&[ContractMsg::Access(AccessMsg::RequestRecovery {
                patient_id,
                encryption_key: Binary::from(
                    self.identity.public_encryption_key().as_bytes().to_vec(),
                ),
            })])
            .await
    }

    /// A trustee, after checking the requester's identity out of band: approve the pending
    /// request, saying how identity was checked.
    pub async fn approve_recovery(
        &self,
        patient_id: PatientId,
        identity_check: IdentityCheck,
    ) -> Result<TxOutcome> {
        self.session
            .execute(&[ContractMsg::Access(AccessMsg::ApproveRecovery {
                patient_id,
                identity_check,
            })])
            .await
    }

    /// Every recovery request still pending, oldest first (what trustees decide on).
    pub async fn pending_recoveries(&self) -> Result<Vec<RecoveryInfo>> {
        let mut patients = Vec::new();
        let mut start_after = None;
        loop {
            let page: RecoveriesResponse = self
                .session
                .chain
                .access(&AccessQuery::Recoveries {
                    start_after,
                    limit: Some(MAX_LIMIT),
                })
                .await?;
            for event in &page.recoveries {
                if !patients.contains(&event.patient_id) {
                    patients.push(event.patient_id);
                }
            }
            if page.recoveries.len() < MAX_LIMIT as usize {
                break;
            }
            start_after = page.recoveries.last().map(|event| event.seq);
        }
        let mut pending = Vec::new();
        for patient_id in patients {
            if let Some(recovery) = self.recovery(patient_id).await? {
                if recovery.status == RecoveryStatus::Pending {
                    pending.push(recovery);
                }
            }
        }
        Ok(pending)
    }

    /// The patient's wallet: cancel the pending recovery request.
    pub async fn cancel_recovery(&self, patient_id: PatientId) -> Result<TxOutcome> {
        self.session
            .execute(&[ContractMsg::Access(AccessMsg::CancelRecovery {
                patient_id,
            })])
            .await
    }

    /// The recovered owner: combines the shares released to it, stores every key it gained
    /// wrapped to its own key (one transaction, nothing when there is nothing new), and says how
    /// far the recovery of the keys has come.
    pub async fn finish_recovery(&self, patient: &PatientInfo) -> Result<RecoveryProgress> {
        if patient.owner.as_str() != self.identity.address {
            return Err(ClientError::InvalidInput(format!(
                "this wallet does not own patient {} (yet): the trustees have not completed the recovery",
                patient.id
            )));
        }
        let envelopes = self.own_envelopes(patient.id).await?;
        let mut own = self.own_keys_from(patient, &envelopes)?;
        let progress = self.combine_released(patient.id, &mut own.keyring).await?;
        let trustees = self.trustees().await?;
        let escrowed: BTreeSet<(u8, u32)> = self
            .escrowed_epochs(patient.id, &trustees)
            .await?
            .into_iter()
            .map(|share| (share.category.code(), share.epoch))
            .collect();
        let stored: BTreeSet<(u8, u32)> = envelopes
            .iter()
            .map(|envelope| (envelope.category.code(), envelope.epoch))
            .collect();
        let mut restored = 0;
        let mut new_envelopes = Vec::new();
        for &(code, epoch) in &escrowed {
            let Some(category) = Category::from_code(code) else {
                continue;
            };
            let context = EnvelopeContext {
                patient_id: patient.id,
                category,
                epoch,
            };
            let Some(key) = own.keyring.get(&context).cloned() else {
                continue;
            };
            restored += 1;
            if !stored.contains(&(code, epoch)) {
                let envelope = ehr_crypto::seal_category_key(
                    &self.identity.public_encryption_key(),
                    &context,
                    &key,
                )?;
                new_envelopes.push(KeyEnvelope {
                    category,
                    epoch,
                    envelope: Binary::from(envelope.as_bytes().to_vec()),
                });
            }
            own.remember(&self.identity, context, key)?;
        }
        let msgs: Vec<ContractMsg> = new_envelopes
            .chunks(MAX_ENVELOPES)
            .map(|chunk| {
                ContractMsg::Access(AccessMsg::StoreOwnEnvelopes {
                    patient_id: patient.id,
                    key_envelopes: chunk.to_vec(),
                })
            })
            .collect();
        if !msgs.is_empty() {
            self.session.execute(&msgs).await?;
        }
        Ok(RecoveryProgress {
            escrowed: escrowed.len(),
            restored,
            stored: new_envelopes.len(),
            waiting: progress
                .into_iter()
                .filter(|p| p.released < usize::from(p.needed))
                .collect(),
        })
    }

    /// The shares the first trustee of `trustees` holds for a patient: every escrowed
    /// (category, epoch), as every trustee of a set holds one share of each.
    pub(crate) async fn escrowed_epochs(
        &self,
        patient_id: PatientId,
        trustees: &TrusteesResponse,
    ) -> Result<Vec<EscrowedShare>> {
        match trustees.trustees.first() {
            Some(first) => {
                self.shares_held_by(patient_id, first.address.as_str())
                    .await
            }
            None => Ok(vec![]),
        }
    }

    /// Every share one trustee holds for a patient, by (category, epoch).
    pub async fn shares_held_by(
        &self,
        patient_id: PatientId,
        trustee: &str,
    ) -> Result<Vec<EscrowedShare>> {
        all_pages(
            |s: &EscrowedShare| EscrowCursor {
                category: s.category,
                epoch: s.epoch,
            },
            |start_after, limit| async move {
                let page: EscrowedSharesResponse = self
                    .session
                    .chain
                    .access(&AccessQuery::EscrowedShares {
                        patient_id,
                        trustee: trustee.to_string(),
                        start_after,
                        limit: Some(limit),
                    })
                    .await?;
                Ok(page.shares)
            },
        )
        .await
    }
}
