//! The trustee's agent (`ehr trustee serve`): follows the chain's list of emergency accesses,
//! applies its policy, and releases its escrowed shares re-sealed to each emergency doctor. It
//! also follows wallet-recovery requests, but never approves one: approving moves a patient, so
//! it is a trustee's own decision after checking the requester's identity out of band (`ehr
//! trustee approve-recovery`). The agent logs each pending request and what it waits for; once
//! k approvals moved the patient, it releases all its shares to the new owner.
//!
//! Restarts neither skip nor repeat: the cursor (the last emergency handled) is saved after each
//! one, and before releasing the agent asks the chain what it already released in that window
//! (a crash between the release and the save is caught there; the contract refuses a second
//! release of the same share in one window anyway). An error on one emergency (node down) stops
//! the pass before the cursor moves, so the next pass retries it. Recovery requests stay on the
//! agent's open list (saved with the cursor) until they are settled; what it already did for one
//! it reads back from the chain (its approval, its released shares), never from memory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cosmwasm_std::{Binary, Timestamp};
use ehr_crypto::escrow::{open_share, seal_share, ShareContext};
use ehr_crypto::X25519PublicKey;
use ehr_types::access::{ExecuteMsg as AccessMsg, QueryMsg as AccessQuery};
use ehr_types::escrow::{
    EmergenciesResponse, EmergencyEvent, ReleaseCursor, ReleasedShare, ReleasedShareInfo,
    ReleasedSharesResponse, MAX_RELEASES_PER_MESSAGE,
};
use ehr_types::pagination::MAX_LIMIT;
use ehr_types::recovery::{RecoveriesResponse, RecoveryInfo, RecoveryStatus};
use ehr_types::registry::PatientInfo;
use ehr_types::registry::{DirectoryResponse, QueryMsg as RegistryQuery};
use ehr_types::Category;
use serde::{Deserialize, Serialize};

use crate::chain::ContractMsg;
use crate::directory::{category_labels, local_time};
use crate::error::{ClientError, Result};
use crate::paging::all_pages;
use crate::records::Ehr;

/// What the agent releases, and how often it looks.
#[derive(Clone, Debug)]
pub struct AgentPolicy {
    /// Emergencies of one doctor released for in any hour; more are refused and logged.
    pub max_releases_per_doctor_per_hour: usize,
    pub poll: Duration,
}

/// What survives a restart.
#[derive(Default, Serialize, Deserialize)]
struct AgentState {
    /// The access contract the cursor belongs to: a new deployment starts from the beginning.
    contract: String,
    /// The `seq` of the last emergency handled.
    cursor: u64,
    /// (doctor, unix seconds) of each release, the last hour's kept for the rate limit.
    releases: Vec<(String, u64)>,
    /// The `seq` of the last recovery request taken onto the open list.
    #[serde(default)]
    recovery_cursor: u64,
    /// Recovery requests not settled yet.
    #[serde(default)]
    open_recoveries: Vec<OpenRecovery>,
}

#[derive(Clone, Serialize, Deserialize)]
struct OpenRecovery {
    patient_id: u64,
    /// Unix nanoseconds of the request: a later request of the same patient replaces it.
    requested_at: u64,
    /// The last thing logged about it, so that waiting is logged once, not every poll.
    said: String,
}

/// Whom a trustee releases to: an emergency doctor since its window opened, or a recovered
/// owner since the patient moved.
struct ReleaseTarget<'a> {
    recipient: &'a str,
    key: &'a X25519PublicKey,
    since: Timestamp,
    categories: &'a [Category],
}

/// The shares still to release to a target, sealed to it.
struct Unreleased {
    releases: Vec<ReleasedShare>,
    categories: Vec<Category>,
    /// Whether this trustee released any share to it since then already.
    released_before: bool,
}

/// Where a recovery request stands for this trustee.
enum RecoveryStep {
    /// Nothing more to do for it.
    Settled(String),
    /// To look at again on a later pass.
    Waiting(String),
}

pub struct TrusteeAgent {
    pub ehr: Ehr,
    pub policy: AgentPolicy,
    pub state_path: PathBuf,
}

/// What the agent did with one emergency.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Released {
        shares: usize,
        categories: Vec<Category>,
    },
    Skipped(String),
}

impl TrusteeAgent {
    /// Runs until the process is stopped.
    pub async fn serve(&self) -> Result<()> {
        log(&format!(
            "trustee {} watching for emergencies and wallet recoveries (state {}, at most {} releases per doctor per hour; recoveries are approved only by hand)",
            self.ehr.identity.address,
            self.state_path.display(),
            self.policy.max_releases_per_doctor_per_hour,
        ));
        loop {
            if let Err(error) = self.pass().await {
                // The first line says what failed; RPC errors carry a backtrace after it.
                let said = error.to_string();
                log(&format!(
                    "will retry: {}",
                    said.lines().next().unwrap_or_default()
                ));
            }
            tokio::time::sleep(self.policy.poll).await;
        }
    }

    /// Handles every emergency declared since the cursor, then the open recovery requests;
    /// returns how many emergencies it handled.
    pub async fn pass(&self) -> Result<usize> {
        let contract = self.ehr.session.chain.config.access.clone();
        let mut state = load_state(&self.state_path)?;
        if state.contract != contract {
            state = AgentState {
                contract,
                ..AgentState::default()
            };
        }
        let mut handled = 0;
        loop {
            let page: EmergenciesResponse = self
                .ehr
                .session
                .chain
                .access(&AccessQuery::Emergencies {
                    start_after: Some(state.cursor),
                    limit: Some(MAX_LIMIT),
                })
                .await?;
            let full = page.emergencies.len() == MAX_LIMIT as usize;
            for event in page.emergencies {
                let outcome = self.handle(&event, &mut state).await?;
                log(&describe(&event, &outcome));
                state.cursor = event.seq;
                save_state(&self.state_path, &state)?;
                handled += 1;
            }
            if !full {
                break;
            }
        }
        self.follow_recoveries(&mut state).await?;
        Ok(handled)
    }

    /// Takes new recovery requests onto the open list and moves each open one on.
    async fn follow_recoveries(&self, state: &mut AgentState) -> Result<()> {
        loop {
            let page: RecoveriesResponse = self
                .ehr
                .session
                .chain
                .access(&AccessQuery::Recoveries {
                    start_after: Some(state.recovery_cursor),
                    limit: Some(MAX_LIMIT),
                })
                .await?;
            let full = page.recoveries.len() == MAX_LIMIT as usize;
            for event in page.recoveries {
                log(&format!(
                    "recovery request #{} for patient {} to the new wallet {}: the waiting period ends {}",
                    event.seq,
                    event.patient_id,
                    event.new_owner,
                    local_time(event.not_before)
                ));
                state.open_recoveries.push(OpenRecovery {
                    patient_id: event.patient_id,
                    requested_at: event.requested_at.nanos(),
                    said: String::new(),
                });
                state.recovery_cursor = event.seq;
            }
            save_state(&self.state_path, state)?;
            if !full {
                break;
            }
        }
        let mut still_open = Vec::new();
        for mut open in std::mem::take(&mut state.open_recoveries) {
            let step = match self.recovery_step(&open).await {
                Ok(step) => step,
                // One request's failure (a node down, a race with another trustee) leaves it
                // open for the next pass; the others go on.
                Err(error) => RecoveryStep::Waiting(format!(
                    "will retry: {}",
                    error.to_string().lines().next().unwrap_or_default()
                )),
            };
            let (said, settled) = match step {
                RecoveryStep::Settled(said) => (said, true),
                RecoveryStep::Waiting(said) => (said, false),
            };
            if said != open.said {
                log(&format!("recovery of patient {}: {said}", open.patient_id));
                open.said = said;
            }
            if !settled {
                still_open.push(open);
            }
        }
        state.open_recoveries = still_open;
        save_state(&self.state_path, state)
    }

    async fn recovery_step(&self, open: &OpenRecovery) -> Result<RecoveryStep> {
        let Some(recovery) = self.ehr.recovery(open.patient_id).await? else {
            return Ok(RecoveryStep::Settled("no such request".into()));
        };
        if recovery.requested_at.nanos() != open.requested_at {
            return Ok(RecoveryStep::Settled(
                "replaced by a later request (followed on its own)".into(),
            ));
        }
        match recovery.status {
            RecoveryStatus::Cancelled => Ok(RecoveryStep::Settled(
                "cancelled by the patient's wallet: not approved".into(),
            )),
            RecoveryStatus::Pending => self.awaiting_decision(&recovery).await,
            RecoveryStatus::Completed => {
                let patient = self.ehr.patient(open.patient_id).await?;
                if patient.owner != recovery.new_owner {
                    return Ok(RecoveryStep::Settled(
                        "a later recovery or the deletion of the patient superseded it".into(),
                    ));
                }
                let (shares, categories) = self.release_to_owner(&recovery, &patient).await?;
                Ok(RecoveryStep::Settled(if shares == 0 {
                    format!(
                        "the patient now belongs to {}; this trustee's shares were released already",
                        recovery.new_owner
                    )
                } else {
                    format!(
                        "the patient now belongs to {}; released {shares} key share(s) of {} to it",
                        recovery.new_owner,
                        category_labels(&categories)
                    )
                }))
            }
        }
    }

    /// A pending request: what it waits for. The agent never approves: a trustee does, by hand,
    /// after checking the requester's identity out of band.
    async fn awaiting_decision(&self, recovery: &RecoveryInfo) -> Result<RecoveryStep> {
        let me = self.ehr.identity.address.as_str();
        let trustees = self.ehr.trustees().await?;
        let progress = format!(
            "{} of {} approvals",
            recovery.approvals.len(),
            trustees.threshold
        );
        if recovery.approvals.iter().any(|a| a.as_str() == me) {
            return Ok(RecoveryStep::Waiting(format!(
                "approved by this trustee; waiting for the other trustees ({progress})"
            )));
        }
        if crate::records::now()? < recovery.not_before {
            return Ok(RecoveryStep::Waiting(format!(
                "requested by {}; the patient's wallet can cancel until {}, then it needs this trustee's decision ({progress})",
                recovery.new_owner,
                local_time(recovery.not_before)
            )));
        }
        Ok(RecoveryStep::Waiting(format!(
            "requested by {}: waiting for this trustee's decision ({progress}); check the requester's identity out of band, then `ehr trustee approve-recovery --patient {} --identity-check CODE`",
            recovery.new_owner, recovery.patient_id
        )))
    }

    /// A completed recovery: release every share this trustee holds, re-sealed to the new
    /// owner, except those it released already for this recovery.
    async fn release_to_owner(
        &self,
        recovery: &RecoveryInfo,
        patient: &PatientInfo,
    ) -> Result<(usize, Vec<Category>)> {
        let owner_key = recovery_key(patient)?;
        let escrowed = self.ehr.escrow_policy(recovery.patient_id).await?.escrowed;
        let Unreleased {
            releases,
            categories,
            ..
        } = self
            .unreleased(
                recovery.patient_id,
                ReleaseTarget {
                    recipient: recovery.new_owner.as_str(),
                    key: &owner_key,
                    since: recovery.decided_at.unwrap_or(recovery.requested_at),
                    categories: &escrowed,
                },
            )
            .await?;
        let msgs: Vec<ContractMsg> = releases
            .chunks(MAX_RELEASES_PER_MESSAGE)
            .map(|chunk| {
                ContractMsg::Access(AccessMsg::ReleaseRecoveryShares {
                    patient_id: recovery.patient_id,
                    shares: chunk.to_vec(),
                })
            })
            .collect();
        if !msgs.is_empty() {
            self.ehr.session.execute(&msgs).await?;
        }
        Ok((releases.len(), categories))
    }

    async fn handle(&self, event: &EmergencyEvent, state: &mut AgentState) -> Result<Handled> {
        let chain = &self.ehr.session.chain;
        let doctor = event.doctor.to_string();
        let window = self.ehr.emergency_window(event.patient_id, &doctor).await?;
        if !window.active || window.started != Some(event.started) {
            return Ok(Handled::Skipped(
                "the emergency window is over (or was replaced by a later one)".into(),
            ));
        }
        let listing: DirectoryResponse = chain
            .registry(&RegistryQuery::Directory {
                addresses: vec![doctor.clone()],
            })
            .await?;
        let Some(provider) = listing
            .entries
            .into_iter()
            .next()
            .and_then(|entry| entry.provider)
            .filter(|provider| provider.credentialed)
        else {
            return Ok(Handled::Skipped("the doctor is not credentialed".into()));
        };
        let now = crate::records::now()?.seconds();
        state.releases.retain(|(_, at)| at + 3600 > now);
        let recent = state.releases.iter().filter(|(d, _)| *d == doctor).count();
        if recent >= self.policy.max_releases_per_doctor_per_hour {
            return Ok(Handled::Skipped(format!(
                "policy: this doctor already had {recent} emergency releases in the last hour (limit {})",
                self.policy.max_releases_per_doctor_per_hour
            )));
        }
        let policy = self.ehr.escrow_policy(event.patient_id).await?.categories;
        if policy.is_empty() {
            return Ok(Handled::Skipped("the patient escrows nothing".into()));
        }
        let Some(doctor_key) = provider.encryption_key else {
            return Ok(Handled::Skipped(
                "the doctor has published no encryption key to release to".into(),
            ));
        };
        let doctor_key = crate::records::public_key_of(&doctor_key, &doctor)?;
        let Unreleased {
            releases,
            categories,
            released_before,
        } = self
            .unreleased(
                event.patient_id,
                ReleaseTarget {
                    recipient: &doctor,
                    key: &doctor_key,
                    since: event.started,
                    categories: &policy,
                },
            )
            .await?;
        if releases.is_empty() {
            return Ok(Handled::Skipped(if !released_before {
                "this trustee holds no share of the patient's escrowed categories".into()
            } else {
                "already released in this window (before a restart)".into()
            }));
        }
        let msgs: Vec<ContractMsg> = releases
            .chunks(MAX_RELEASES_PER_MESSAGE)
            .map(|chunk| {
                ContractMsg::Access(AccessMsg::ReleaseShares {
                    patient_id: event.patient_id,
                    doctor: doctor.clone(),
                    shares: chunk.to_vec(),
                })
            })
            .collect();
        self.ehr.session.execute(&msgs).await?;
        state.releases.push((doctor, now));
        Ok(Handled::Released {
            shares: releases.len(),
            categories,
        })
    }

    /// The shares of `target.categories` this trustee holds and has not released to the
    /// recipient since `target.since` (asked of the chain, so a restart repeats nothing), each
    /// opened with this trustee's key and sealed to the recipient's.
    async fn unreleased(&self, patient_id: u64, target: ReleaseTarget<'_>) -> Result<Unreleased> {
        let me = self.ehr.identity.address.as_str();
        let already: BTreeSet<(u8, u32)> = self
            .ehr
            .released_to(patient_id, target.recipient)
            .await?
            .into_iter()
            .filter(|s| s.trustee.as_str() == me && s.released_at >= target.since)
            .map(|s| (s.category.code(), s.epoch))
            .collect();
        let mut releases = Vec::new();
        let mut categories = Vec::new();
        for held in self.ehr.shares_held_by(patient_id, me).await? {
            if !target.categories.contains(&held.category)
                || already.contains(&(held.category.code(), held.epoch))
            {
                continue;
            }
            let context = ShareContext {
                patient_id,
                category: held.category,
                epoch: held.epoch,
                set_version: held.set_version,
            };
            let share = open_share(
                &self.ehr.identity.encryption_key,
                &context,
                held.share.as_slice(),
            )?;
            releases.push(ReleasedShare {
                category: held.category,
                epoch: held.epoch,
                share: Binary::from(seal_share(target.key, &context, &share)?),
            });
            if !categories.contains(&held.category) {
                categories.push(held.category);
            }
        }
        Ok(Unreleased {
            releases,
            categories,
            released_before: !already.is_empty(),
        })
    }
}

/// The key the recovered owner registered with the patient.
fn recovery_key(patient: &PatientInfo) -> Result<X25519PublicKey> {
    let key = patient.encryption_key.as_ref().ok_or_else(|| {
        ClientError::InvalidInput(format!("patient {} has no encryption key", patient.id))
    })?;
    crate::records::public_key_of(key, "the recovered owner")
}

fn describe(event: &EmergencyEvent, outcome: &Handled) -> String {
    let what = format!(
        "emergency #{} of patient {} by {} ({}, {}; until {})",
        event.seq,
        event.patient_id,
        event.doctor,
        event.reason.describe(),
        event.reason.purpose_of_use(),
        local_time(event.expires)
    );
    match outcome {
        Handled::Released { shares, categories } => format!(
            "{what}: released {shares} key share(s) of {}",
            category_labels(categories)
        ),
        Handled::Skipped(why) => format!("{what}: not released: {why}"),
    }
}

fn log(line: &str) {
    let now = crate::records::now().map(local_time).unwrap_or_default();
    println!("{now}  {line}");
}

fn load_state(path: &Path) -> Result<AgentState> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Encoding(format!("agent state {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AgentState::default()),
        Err(e) => Err(ClientError::Storage(format!("{}: {e}", path.display()))),
    }
}

fn save_state(path: &Path, state: &AgentState) -> Result<()> {
    let bytes = serde_json::to_vec(state).map_err(|e| ClientError::Encoding(e.to_string()))?;
    crate::identity::write_private(path, &bytes)
}

impl Ehr {
    /// Every share released to `doctor` for a patient (any trustee).
    pub async fn released_to(
        &self,
        patient_id: u64,
        doctor: &str,
    ) -> Result<Vec<ReleasedShareInfo>> {
        all_pages(
            |s: &ReleasedShareInfo| ReleaseCursor {
                category: s.category,
                epoch: s.epoch,
                trustee: s.trustee.to_string(),
            },
            |start_after, limit| async move {
                let page: ReleasedSharesResponse = self
                    .session
                    .chain
                    .access(&AccessQuery::ReleasedShares {
                        patient_id,
                        doctor: doctor.to_string(),
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
