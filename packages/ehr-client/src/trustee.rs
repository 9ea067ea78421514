//! The trustee's agent (`ehr trustee serve`): follows the chain's list of emergency accesses,
//! applies its policy, and releases its escrowed shares re-sealed to each emergency doctor.
//!
//! Restarts neither skip nor repeat: the cursor (the last emergency handled) is saved after each
//! one, and before releasing the agent asks the chain what it already released in that window
//! (a crash between the release and the save is caught there; the contract refuses a second
//! release of the same share in one window anyway). An error on one emergency (node down) stops
//! the pass before the cursor moves, so the next pass retries it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cosmwasm_std::Binary;
use ehr_crypto::escrow::{open_share, seal_share, ShareContext};
use ehr_types::access::{ExecuteMsg as AccessMsg, QueryMsg as AccessQuery};
use ehr_types::escrow::{
    EmergenciesResponse, EmergencyEvent, EscrowCursor, EscrowedShare, EscrowedSharesResponse,
    ReleaseCursor, ReleasedShare, ReleasedShareInfo, ReleasedSharesResponse,
    MAX_RELEASES_PER_MESSAGE,
};
use ehr_types::pagination::MAX_LIMIT;
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
            "trustee {} watching for emergencies (state {}, at most {} releases per doctor per hour)",
            self.ehr.identity.address,
            self.state_path.display(),
            self.policy.max_releases_per_doctor_per_hour
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

    /// Handles every emergency declared since the cursor; returns how many it handled.
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
                return Ok(handled);
            }
        }
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
        let policy = self.ehr.escrow_policy(event.patient_id).await?;
        if policy.is_empty() {
            return Ok(Handled::Skipped("the patient escrows nothing".into()));
        }
        let Some(doctor_key) = provider.encryption_key else {
            return Ok(Handled::Skipped(
                "the doctor has published no encryption key to release to".into(),
            ));
        };
        let doctor_key = crate::records::public_key_of(&doctor_key, &doctor)?;
        let already: BTreeSet<(u8, u32)> = self
            .ehr
            .released_to(event.patient_id, &doctor)
            .await?
            .into_iter()
            .filter(|s| {
                s.trustee.as_str() == self.ehr.identity.address && s.released_at >= event.started
            })
            .map(|s| (s.category.code(), s.epoch))
            .collect();
        let mut releases = Vec::new();
        let mut categories = Vec::new();
        for held in self.escrowed_shares(event.patient_id).await? {
            if !policy.contains(&held.category)
                || already.contains(&(held.category.code(), held.epoch))
            {
                continue;
            }
            let context = ShareContext {
                patient_id: event.patient_id,
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
                share: Binary::from(seal_share(&doctor_key, &context, &share)?),
            });
            if !categories.contains(&held.category) {
                categories.push(held.category);
            }
        }
        if releases.is_empty() {
            return Ok(Handled::Skipped(if already.is_empty() {
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

    async fn escrowed_shares(&self, patient_id: u64) -> Result<Vec<EscrowedShare>> {
        all_pages(
            |s: &EscrowedShare| EscrowCursor {
                category: s.category,
                epoch: s.epoch,
            },
            |start_after, limit| async move {
                let page: EscrowedSharesResponse = self
                    .ehr
                    .session
                    .chain
                    .access(&AccessQuery::EscrowedShares {
                        patient_id,
                        trustee: self.ehr.identity.address.clone(),
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
