//! Break glass from the client's side: the patient escrows categories (Shamir shares of every
//! epoch's key, one sealed to each trustee), whoever rotates an escrowed category escrows the
//! new key in the same transaction, a doctor declares an emergency with a coded reason, and the
//! doctor's client combines the shares the trustees released into the category keys.

use std::collections::BTreeMap;

use cosmwasm_std::Binary;
use ehr_crypto::escrow::{
    combine_verified, key_commitment, open_share, seal_share, share_commitment, split_key,
    ReleasedKeyShare, ShareContext, VerifiedKey,
};
use ehr_crypto::{CategoryKey, CategoryKeyring, CryptoError, EnvelopeContext, X25519PublicKey};
use ehr_types::access::{
    CapabilitiesResponse, EmergencyResponse, EpochsResponse, ExecuteMsg as AccessMsg,
    QueryMsg as AccessQuery,
};
use ehr_types::escrow::{
    EmergencyReason, EpochEscrow, EscrowPolicyResponse, ReleasedShareInfo, TrusteeShare,
    TrusteesResponse, MAX_ESCROWS_PER_MESSAGE,
};
use ehr_types::registry::PatientInfo;
use ehr_types::{Category, PatientId};

use crate::chain::{ContractMsg, TxOutcome};
use crate::error::{ClientError, Result};
use crate::records::{public_key_of, Ehr};

/// How far a doctor's emergency key release has come for one (category, epoch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseProgress {
    pub category: Category,
    pub epoch: u32,
    pub released: usize,
    pub needed: u8,
}

impl Ehr {
    pub async fn trustees(&self) -> Result<TrusteesResponse> {
        self.session.chain.access(&AccessQuery::Trustees {}).await
    }

    pub async fn escrow_policy(&self, patient_id: PatientId) -> Result<EscrowPolicyResponse> {
        self.session
            .chain
            .access(&AccessQuery::EscrowPolicy { patient_id })
            .await
    }

    /// The escrow a rotation of `category` to `context.epoch` must carry: shares when the
    /// patient escrows the category, none otherwise.
    pub(crate) async fn rotation_escrow(
        &self,
        context: EnvelopeContext,
        key: &CategoryKey,
    ) -> Result<Option<KeyEscrow>> {
        if !self
            .escrow_policy(context.patient_id)
            .await?
            .escrows(context.category)
        {
            return Ok(None);
        }
        let trustees = self.trustees().await?;
        escrow_shares(&trustees, context, key).map(Some)
    }

    /// The patient: open `categories` in an emergency (empty: none), and with `recovery` escrow
    /// every category so a lost wallet can be recovered. Every existing epoch of each escrowed
    /// category is split and sealed to the current trustees in the same transaction as the
    /// policy, so the policy never names a category whose keys the trustees cannot release.
    /// Epochs the current trustee set holds already are left as they are; run again after the
    /// trustee set changes, it escrows everything to the new set.
    pub async fn set_escrow(
        &self,
        patient: &PatientInfo,
        categories: Vec<Category>,
        recovery: bool,
    ) -> Result<(usize, TxOutcome)> {
        let escrowed = ehr_types::escrow::escrowed_categories(&categories, recovery);
        let mut msgs = vec![ContractMsg::Access(AccessMsg::SetEscrowPolicy {
            patient_id: patient.id,
            categories,
            recovery,
        })];
        let mut escrows = Vec::new();
        if !escrowed.is_empty() {
            let trustees = self.trustees().await?;
            if trustees.threshold == 0 {
                return Err(ClientError::InvalidInput(
                    "the network has no trustees yet: nothing can be escrowed".into(),
                ));
            }
            let keyring = self.patient_keyring(patient).await?;
            // Epochs the current trustee set holds already are not split again: shares of two
            // splits of one key, released in one emergency, would combine into a wrong key.
            let held: std::collections::BTreeSet<(u8, u32)> = self
                .escrowed_epochs(patient.id, &trustees)
                .await?
                .into_iter()
                .filter(|share| share.set_version == trustees.set_version)
                .map(|share| (share.category.code(), share.epoch))
                .collect();
            let epochs: EpochsResponse = self
                .session
                .chain
                .access(&AccessQuery::Epochs {
                    patient_id: patient.id,
                })
                .await?;
            for &category in &escrowed {
                for epoch in 0..=epochs.of(category) {
                    let context = EnvelopeContext {
                        patient_id: patient.id,
                        category,
                        epoch,
                    };
                    // An epoch nobody ever wrote with has no key yet: the first write makes
                    // one, and escrows it with its rotation or with `own_key`.
                    let Some(key) = keyring.get(&context) else {
                        continue;
                    };
                    if held.contains(&(category.code(), epoch)) {
                        continue;
                    }
                    let KeyEscrow {
                        shares,
                        key_commitment,
                    } = escrow_shares(&trustees, context, key)?;
                    escrows.push(EpochEscrow {
                        category,
                        epoch,
                        shares,
                        key_commitment,
                    });
                }
            }
        }
        let epochs = escrows.len();
        for chunk in escrows.chunks(MAX_ESCROWS_PER_MESSAGE) {
            msgs.push(ContractMsg::Access(AccessMsg::EscrowShares {
                patient_id: patient.id,
                escrows: chunk.to_vec(),
            }));
        }
        Ok((epochs, self.session.execute(&msgs).await?))
    }

    /// A credentialed doctor: break the glass.
    pub async fn emergency(
        &self,
        patient_id: PatientId,
        reason: EmergencyReason,
    ) -> Result<TxOutcome> {
        ehr_types::validate::validate_emergency_reason(&reason)
            .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
        self.session
            .execute(&[ContractMsg::Access(AccessMsg::EmergencyAccess {
                patient_id,
                reason,
            })])
            .await
    }

    /// The patient: end `doctor`'s open emergency window now.
    pub async fn end_emergency(&self, patient_id: PatientId, doctor: &str) -> Result<TxOutcome> {
        self.session
            .execute(&[ContractMsg::Access(AccessMsg::EndEmergency {
                patient_id,
                doctor: doctor.to_string(),
            })])
            .await
    }

    /// Every share the trustees released to this identity for a patient.
    pub async fn released_shares(&self, patient_id: PatientId) -> Result<Vec<ReleasedShareInfo>> {
        self.released_to(patient_id, &self.identity.address).await
    }

    /// `doctor`'s emergency window for a patient.
    pub async fn emergency_window(
        &self,
        patient_id: PatientId,
        doctor: &str,
    ) -> Result<EmergencyResponse> {
        self.session
            .chain
            .access(&AccessQuery::EmergencyAccess {
                patient_id,
                grantee: doctor.to_string(),
            })
            .await
    }

    /// What this identity may do with a patient's records now, as the chain's rule book
    /// decides it.
    pub async fn capabilities(&self, patient_id: PatientId) -> Result<CapabilitiesResponse> {
        self.session
            .chain
            .access(&AccessQuery::Capabilities {
                patient_id,
                party: self.identity.address.clone(),
            })
            .await
    }

    /// The categories an emergency opens to this identity now (`None` when no window is open):
    /// the chain's answer, which never includes a category the patient does not open in an
    /// emergency.
    pub async fn emergency_categories(
        &self,
        patient_id: PatientId,
    ) -> Result<Option<Vec<Category>>> {
        let capabilities = self.capabilities(patient_id).await?;
        Ok(capabilities
            .emergency
            .is_some_and(|window| window.open)
            .then_some(capabilities.emergency_categories))
    }

    /// Opens the shares released to this identity and combines each (category, epoch) that has
    /// its threshold into `keyring`; returns how far each one has come.
    pub async fn combine_released(
        &self,
        patient_id: PatientId,
        keyring: &mut CategoryKeyring,
    ) -> Result<Vec<ReleaseProgress>> {
        let released = self.released_shares(patient_id).await?;
        let mut groups: BTreeMap<(u8, u32, u32, u8), ReleasedGroup> = BTreeMap::new();
        for share in &released {
            let context = ShareContext {
                patient_id,
                category: share.category,
                epoch: share.epoch,
                set_version: share.set_version,
            };
            let group = groups
                .entry((
                    share.category.code(),
                    share.epoch,
                    share.set_version,
                    share.threshold,
                ))
                .or_default();
            group.key_commitment = group
                .key_commitment
                .or_else(|| share.key_commitment.as_ref().and_then(commitment_bytes));
            // A share that does not open (tampered, or for another key) is skipped: the others
            // may still reach the threshold.
            match open_share(
                &self.identity.encryption_key,
                &context,
                share.share.as_slice(),
            ) {
                Ok(opened) => group.shares.push(ReleasedKeyShare {
                    trustee: share.trustee.to_string(),
                    share: opened,
                    commitment: share.commitment.as_ref().and_then(commitment_bytes),
                }),
                Err(error) => {
                    tracing::warn!(trustee = %share.trustee, ?share.category, share.epoch, %error, "a released share does not open")
                }
            }
        }
        let mut progress = Vec::new();
        for ((code, epoch, set_version, threshold), group) in groups {
            let Some(category) = Category::from_code(code) else {
                continue;
            };
            let context = EnvelopeContext {
                patient_id,
                category,
                epoch,
            };
            let share_context = ShareContext {
                patient_id,
                category,
                epoch,
                set_version,
            };
            let mut verified = group.shares.len();
            if group.shares.len() >= usize::from(threshold) && keyring.get(&context).is_none() {
                // A wrong share is named and set aside; a key that does not match the patient's
                // commitment is never used (nor, in a recovery, stored).
                match combine_verified(
                    &share_context,
                    &group.shares,
                    group.key_commitment.as_ref(),
                    threshold,
                ) {
                    Ok(VerifiedKey { key, rejected }) => {
                        for trustee in &rejected {
                            tracing::warn!(%trustee, category = category.name(), epoch, "this trustee released a share that does not match its commitment: set aside");
                        }
                        verified -= rejected.len();
                        keyring.insert(context, key);
                    }
                    Err(CryptoError::SharesDoNotVerify { trustees }) => {
                        tracing::warn!(category = category.name(), epoch, wrong = ?trustees, "the released shares do not give the committed key");
                        verified -= trustees.len();
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            progress.push(ReleaseProgress {
                category,
                epoch,
                released: verified,
                needed: threshold,
            });
        }
        Ok(progress)
    }

    /// The trustee: publish the X25519 key patients seal shares to.
    pub async fn publish_trustee_key(&self) -> Result<TxOutcome> {
        self.session
            .execute(&[ContractMsg::Access(AccessMsg::SetTrusteeKey {
                encryption_key: Binary::from(
                    self.identity.public_encryption_key().as_bytes().to_vec(),
                ),
            })])
            .await
    }
}

/// The shares released for one (category, epoch, trustee set) and the key's commitment.
#[derive(Default)]
struct ReleasedGroup {
    shares: Vec<ReleasedKeyShare>,
    key_commitment: Option<[u8; 32]>,
}

fn commitment_bytes(commitment: &Binary) -> Option<[u8; 32]> {
    commitment.as_slice().try_into().ok()
}

/// What escrowing one key sends: a share per trustee (with its commitment) and the key's
/// commitment.
pub(crate) struct KeyEscrow {
    pub shares: Vec<TrusteeShare>,
    pub key_commitment: Binary,
}

/// `key` split into one share per trustee of the current set, each sealed to its trustee and
/// committed to, with the commitment to the key.
pub(crate) fn escrow_shares(
    trustees: &TrusteesResponse,
    context: EnvelopeContext,
    key: &CategoryKey,
) -> Result<KeyEscrow> {
    let shares = split_key(key, trustees.threshold, trustees.trustees.len())?;
    let share_context = ShareContext {
        patient_id: context.patient_id,
        category: context.category,
        epoch: context.epoch,
        set_version: trustees.set_version,
    };
    let shares = trustees
        .trustees
        .iter()
        .zip(&shares)
        .map(|(trustee, share)| {
            let public = trustee_key(trustee.address.as_str(), trustee.encryption_key.as_ref())?;
            Ok(TrusteeShare {
                trustee: trustee.address.to_string(),
                share: Binary::from(seal_share(&public, &share_context, share)?),
                commitment: Binary::from(
                    share_commitment(&share_context, trustee.address.as_str(), share).to_vec(),
                ),
            })
        })
        .collect::<Result<_>>()?;
    Ok(KeyEscrow {
        shares,
        key_commitment: Binary::from(key_commitment(&context, key).to_vec()),
    })
}

fn trustee_key(address: &str, key: Option<&Binary>) -> Result<X25519PublicKey> {
    let key = key.ok_or_else(|| {
        ClientError::InvalidInput(format!(
            "trustee {address} has not published its encryption key yet"
        ))
    })?;
    public_key_of(key, &format!("trustee {address}"))
}
