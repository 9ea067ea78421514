//! Recovery from a lost wallet: the new wallet asks, the old one may cancel during the waiting
//! period, k trustees approve (each by hand, after checking identity out of band), and the new owner restores the keys.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use cosmwasm_std::Timestamp;
use ehr_client::recovery::RecoveryProgress;
use ehr_client::{local_time, Directory};
use ehr_types::recovery::{RecoveryInfo, RecoveryStatus};
use ehr_types::PatientId;
use serde::Serialize;

use crate::context::{patient_id, Cx};
use crate::output::{output, Output, Render};

#[derive(Subcommand)]
pub enum RecoveryCmd {
    /// From the new wallet: ask to move a patient (which escrows for recovery) to this wallet.
    Request {
        #[arg(long)]
        patient: PatientId,
    },
    /// From the patient's wallet: cancel the pending request.
    Cancel {
        #[arg(long)]
        patient: Option<PatientId>,
    },
    /// Where the patient's latest request stands.
    Status {
        #[arg(long)]
        patient: PatientId,
    },
    /// From the new wallet, once the trustees approved: restore every key from the trustees'
    /// shares and store it wrapped to this wallet's key; waits up to --wait-s for them.
    Finish {
        #[arg(long)]
        patient: PatientId,
        #[arg(long, default_value_t = 0)]
        wait_s: u64,
    },
}

/// `recovery request`.
#[derive(Serialize)]
struct RecoveryRequested {
    patient_id: PatientId,
    new_owner: String,
    not_before: Timestamp,
    not_before_local: String,
    tx: String,
}

impl Render for RecoveryRequested {
    fn human(&self) -> String {
        format!(
            "asked to move patient {} to this wallet ({}); the trustees may approve from {}, and the patient's wallet can cancel until they do  tx {}",
            self.patient_id, self.new_owner, self.not_before_local, self.tx
        )
    }
}

/// `recovery cancel`.
#[derive(Serialize)]
struct RecoveryCancelled {
    patient_id: PatientId,
    tx: String,
}

impl Render for RecoveryCancelled {
    fn human(&self) -> String {
        format!(
            "cancelled the recovery request for patient {}  tx {}",
            self.patient_id, self.tx
        )
    }
}

/// `recovery status`: the patient's latest request, if there ever was one.
#[derive(Serialize)]
struct RecoveryState {
    patient_id: PatientId,
    recovery: Option<RecoveryLine>,
    threshold: u8,
}

/// A recovery request with names and local times.
#[derive(Serialize)]
struct RecoveryLine {
    #[serde(flatten)]
    info: RecoveryInfo,
    new_owner_name: String,
    /// The approving trustees' names, in order.
    approved_by: Vec<String>,
    requested_at_local: String,
    not_before_local: String,
    #[serde(flatten)]
    decision: Decision,
}

/// What became of the request; each status carries what it is said with.
#[derive(Serialize)]
#[serde(untagged)]
enum Decision {
    Pending {},
    Completed {
        former_owner_name: String,
        decided_at_local: String,
    },
    Cancelled {
        decided_at_local: String,
    },
}

impl RecoveryLine {
    fn new(info: RecoveryInfo, names: &Directory) -> Result<RecoveryLine> {
        let decided = || {
            info.decided_at.map(local_time).ok_or_else(|| {
                anyhow!(
                    "the chain reports the recovery of patient {} as {:?} without a time",
                    info.patient_id,
                    info.status
                )
            })
        };
        let decision = match info.status {
            RecoveryStatus::Pending => Decision::Pending {},
            RecoveryStatus::Completed => Decision::Completed {
                former_owner_name: info.former_owner.as_ref().map(|a| names.name(a)).ok_or_else(
                    || {
                        anyhow!(
                            "the chain reports the recovery of patient {} as completed without the former owner",
                            info.patient_id
                        )
                    },
                )?,
                decided_at_local: decided()?,
            },
            RecoveryStatus::Cancelled => Decision::Cancelled {
                decided_at_local: decided()?,
            },
        };
        Ok(RecoveryLine {
            new_owner_name: names.name(&info.new_owner),
            approved_by: info.approvals.iter().map(|a| names.name(a)).collect(),
            requested_at_local: local_time(info.requested_at),
            not_before_local: local_time(info.not_before),
            decision,
            info,
        })
    }
}

impl Render for RecoveryState {
    fn human(&self) -> String {
        let patient = self.patient_id;
        let Some(r) = &self.recovery else {
            return format!("patient {patient}: no recovery was ever requested");
        };
        let approvals = if r.approved_by.is_empty() {
            "no approvals yet".to_string()
        } else {
            format!("approved by {}", r.approved_by.join(", "))
        };
        match &r.decision {
            Decision::Pending {} => format!(
                "patient {patient}: moving to {} was asked {}; trustees may approve from {}; {approvals} ({} needed)",
                r.new_owner_name, r.requested_at_local, r.not_before_local, self.threshold
            ),
            Decision::Completed {
                former_owner_name,
                decided_at_local,
            } => format!(
                "patient {patient} moved from {former_owner_name} to {} on {decided_at_local}; {approvals}",
                r.new_owner_name
            ),
            Decision::Cancelled { decided_at_local } => format!(
                "patient {patient}: the request to move to {} was cancelled by the patient's wallet on {decided_at_local}",
                r.new_owner_name
            ),
        }
    }
}

/// `recovery finish`.
#[derive(Serialize)]
struct RecoveryFinished {
    patient_id: PatientId,
    progress: RecoveryProgress,
}

impl Render for RecoveryFinished {
    fn human(&self) -> String {
        let (patient, p) = (self.patient_id, &self.progress);
        if p.is_complete() {
            format!(
                "patient {patient} is yours: all {} escrowed keys restored ({} stored on chain for this wallet now)",
                p.escrowed, p.stored
            )
        } else {
            format!(
                "patient {patient} is yours, but waiting for the trustees: {} of {} escrowed keys restored so far",
                p.restored, p.escrowed
            )
        }
    }
}

pub async fn run(cx: &mut Cx, cmd: RecoveryCmd) -> Result<Output> {
    match cmd {
        RecoveryCmd::Request { patient } => {
            let ehr = cx.ehr()?;
            let tx = ehr.request_recovery(patient).await?;
            let info = ehr.recovery(patient).await?.ok_or_else(|| {
                anyhow!(
                    "tx {} asked for the recovery, but the chain reports no request for patient {patient}",
                    tx.hash
                )
            })?;
            output(RecoveryRequested {
                patient_id: patient,
                new_owner: ehr.identity.address,
                not_before: info.not_before,
                not_before_local: local_time(info.not_before),
                tx: tx.hash,
            })
        }
        RecoveryCmd::Cancel { patient } => {
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let tx = ehr.cancel_recovery(patient).await?;
            output(RecoveryCancelled {
                patient_id: patient,
                tx: tx.hash,
            })
        }
        RecoveryCmd::Status { patient } => {
            let ehr = cx.ehr()?;
            let info = ehr.recovery(patient).await?;
            let trustees = ehr.trustees().await?;
            let names = Directory::lookup(
                &ehr.session.chain,
                &ehr.identity.address,
                None,
                info.iter().flat_map(|r| {
                    r.approvals
                        .iter()
                        .chain([&r.new_owner])
                        .chain(&r.former_owner)
                        .cloned()
                        .collect::<Vec<_>>()
                }),
            )
            .await?;
            output(RecoveryState {
                patient_id: patient,
                recovery: info.map(|r| RecoveryLine::new(r, &names)).transpose()?,
                threshold: trustees.threshold,
            })
        }
        RecoveryCmd::Finish { patient, wait_s } => {
            let ehr = cx.ehr()?;
            let deadline = Instant::now() + Duration::from_secs(wait_s);
            let progress = loop {
                let info = ehr.patient(patient).await?;
                let attempt = if info.owner.as_str() == ehr.identity.address {
                    Some(ehr.finish_recovery(&info).await?)
                } else {
                    None
                };
                let done = attempt.as_ref().is_some_and(|p| p.is_complete());
                if done || Instant::now() >= deadline {
                    break attempt;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            let Some(progress) = progress else {
                bail!(
                    "this wallet does not own patient {patient} yet: the trustees have not approved the recovery (`ehr recovery status --patient {patient}`)"
                );
            };
            output(RecoveryFinished {
                patient_id: patient,
                progress,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::Addr;

    fn request(status: RecoveryStatus) -> RecoveryInfo {
        RecoveryInfo {
            patient_id: 2,
            new_owner: Addr::unchecked("wasm1newwallet"),
            requested_at: Timestamp::from_seconds(1_796_000_000),
            not_before: Timestamp::from_seconds(1_796_000_020),
            approvals: vec![],
            identity_checks: vec![],
            status,
            decided_at: None,
            former_owner: None,
        }
    }

    fn names() -> Directory {
        Directory::new(Some(Addr::unchecked("wasm1newwallet")), None, None, [])
    }

    #[test]
    fn a_pending_request_reads_in_names_and_local_times() {
        let state = RecoveryState {
            patient_id: 2,
            recovery: Some(RecoveryLine::new(request(RecoveryStatus::Pending), &names()).unwrap()),
            threshold: 2,
        };
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["recovery"]["status"], "pending");
        assert_eq!(json["recovery"]["new_owner"], "wasm1newwallet");
        assert_eq!(json["recovery"]["new_owner_name"], "you");
        assert_eq!(json["recovery"]["patient_id"], 2);
        assert_eq!(
            state.human(),
            format!(
                "patient 2: moving to you was asked {}; trustees may approve from {}; no approvals yet (2 needed)",
                local_time(Timestamp::from_seconds(1_796_000_000)),
                local_time(Timestamp::from_seconds(1_796_000_020))
            )
        );
    }

    #[test]
    fn a_decided_request_without_its_time_or_former_owner_is_an_error() {
        assert!(RecoveryLine::new(request(RecoveryStatus::Cancelled), &names()).is_err());
        let mut completed = request(RecoveryStatus::Completed);
        completed.decided_at = Some(Timestamp::from_seconds(1_796_000_100));
        assert!(RecoveryLine::new(completed.clone(), &names()).is_err());
        completed.former_owner = Some(Addr::unchecked("wasm1oldwallet0000000000000000"));
        let line = RecoveryLine::new(completed, &names()).unwrap();
        let state = RecoveryState {
            patient_id: 2,
            recovery: Some(line),
            threshold: 2,
        };
        assert_eq!(
            state.human(),
            format!(
                "patient 2 moved from wasm1oldw…0000 (not a listed provider) to you on {}; no approvals yet",
                local_time(Timestamp::from_seconds(1_796_000_100))
            )
        );
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(
            json["recovery"]["former_owner"],
            "wasm1oldwallet0000000000000000"
        );
        assert!(json["recovery"]["decided_at_local"].is_string());
    }

    #[test]
    fn no_request_is_said_so() {
        let state = RecoveryState {
            patient_id: 5,
            recovery: None,
            threshold: 2,
        };
        assert_eq!(state.human(), "patient 5: no recovery was ever requested");
        assert_eq!(
            serde_json::to_value(&state).unwrap(),
            serde_json::json!({"patient_id": 5, "recovery": null, "threshold": 2})
        );
    }
}
