//! Recovery from a lost wallet: the new wallet asks, the old one may cancel during the waiting
//! period, k trustees approve (their agents do), and the new owner restores the keys.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Subcommand;
use ehr_client::{local_time, Directory};
use ehr_types::recovery::{RecoveryInfo, RecoveryStatus};
use ehr_types::PatientId;
use serde_json::json;

use crate::commands::{patient_id, Cx};

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

pub async fn recovery(cx: &mut Cx, cmd: RecoveryCmd) -> Result<()> {
    match cmd {
        RecoveryCmd::Request { patient } => {
            let ehr = cx.ehr()?;
            let tx = ehr.request_recovery(patient).await?;
            let info = ehr.recovery(patient).await?;
            let not_before = info.as_ref().map(|r| r.not_before);
            cx.print(
                json!({"patient_id": patient, "new_owner": ehr.identity.address, "not_before": not_before, "tx": tx.hash}),
                || {
                    format!(
                        "asked to move patient {patient} to this wallet ({}); the trustees may approve from {}, and the patient's wallet can cancel until they do  tx {}",
                        ehr.identity.address,
                        not_before.map(local_time).unwrap_or_default(),
                        tx.hash
                    )
                },
            );
        }
        RecoveryCmd::Cancel { patient } => {
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let tx = ehr.cancel_recovery(patient).await?;
            cx.print(json!({"patient_id": patient, "tx": tx.hash}), || {
                format!(
                    "cancelled the recovery request for patient {patient}  tx {}",
                    tx.hash
                )
            });
        }
        RecoveryCmd::Status { patient } => {
            let ehr = cx.ehr()?;
            let info = ehr.recovery(patient).await?;
            let trustees = ehr.trustees().await?;
            let directory = Directory::lookup(
                &ehr.session.chain,
                &ehr.identity.address,
                None,
                info.iter().flat_map(|r| r.approvals.clone()),
            )
            .await?;
            cx.print(
                json!({"patient_id": patient, "recovery": info, "threshold": trustees.threshold}),
                || match &info {
                    None => format!("patient {patient}: no recovery was ever requested"),
                    Some(r) => describe(patient, r, trustees.threshold, &directory),
                },
            );
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
                anyhow::bail!(
                    "this wallet does not own patient {patient} yet: the trustees have not approved the recovery (`ehr recovery status --patient {patient}`)"
                );
            };
            cx.print(
                json!({"patient_id": patient, "progress": progress}),
                || {
                    if progress.is_complete() {
                        format!(
                            "patient {patient} is yours: all {} escrowed keys restored ({} stored on chain for this wallet now)",
                            progress.escrowed, progress.stored
                        )
                    } else {
                        format!(
                            "patient {patient} is yours, but waiting for the trustees: {} of {} escrowed keys restored so far",
                            progress.restored, progress.escrowed
                        )
                    }
                },
            );
        }
    }
    Ok(())
}

fn describe(patient: PatientId, r: &RecoveryInfo, threshold: u8, directory: &Directory) -> String {
    let approvals = if r.approvals.is_empty() {
        "no approvals yet".to_string()
    } else {
        let names: Vec<String> = r.approvals.iter().map(|a| directory.name(a)).collect();
        format!("approved by {}", names.join(", "))
    };
    let decided = r.decided_at.map(local_time).unwrap_or_default();
    match r.status {
        RecoveryStatus::Pending => format!(
            "patient {patient}: moving to {} was asked {}; trustees may approve from {}; {approvals} ({} needed)",
            r.new_owner,
            local_time(r.requested_at),
            local_time(r.not_before),
            threshold
        ),
        RecoveryStatus::Completed => format!(
            "patient {patient} moved from {} to {} on {decided}; {approvals}",
            r.former_owner
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            r.new_owner
        ),
        RecoveryStatus::Cancelled => format!(
            "patient {patient}: the request to move to {} was cancelled by the patient's wallet on {decided}",
            r.new_owner
        ),
    }
}
