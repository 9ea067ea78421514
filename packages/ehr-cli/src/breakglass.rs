//! Break glass: the admin's trustee set, the patient's escrow, a doctor's emergency with a coded
//! reason, and the trustee's agent.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use ehr_client::directory::category_labels;
use ehr_client::trustee::{AgentPolicy, TrusteeAgent};
use ehr_client::{local_time, ContractMsg};
use ehr_types::access::{ExecuteMsg as AccessMsg, QueryMsg as AccessQuery};
use ehr_types::escrow::{EmergencyReason, DEFAULT_EMERGENCY_CATEGORIES};
use ehr_types::{Category, PatientId};
use serde_json::json;

use crate::commands::{parse_category, patient_id, Cx};

#[derive(Clone, Copy, ValueEnum)]
pub enum ReasonKind {
    /// Treatment of a patient who is unconscious or cannot consent (FHIR ETREAT).
    Incapable,
    /// Another reason, given as a short policy code with --code (FHIR BTG).
    Other,
}

#[derive(Args)]
pub struct EmergencyArgs {
    #[arg(long)]
    patient: PatientId,
    #[arg(long, value_enum, default_value = "incapable")]
    reason: ReasonKind,
    /// With --reason other: 2–16 of A–Z, 0–9, '-' (e.g. MASS-CASUALTY).
    #[arg(long)]
    code: Option<String>,
}

#[derive(Subcommand)]
pub enum EscrowCmd {
    /// The patient: escrow these categories with the network's trustees (default: allergy,
    /// prescription, immunization, profile); every existing key epoch is split and sealed now.
    Set {
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, value_delimiter = ',', value_parser = parse_category)]
        categories: Option<Vec<Category>>,
        /// Also escrow every category, so that k trustees can move the patient to a new wallet
        /// if this one is lost (`ehr recovery`); k colluding trustees could then read everything.
        #[arg(long)]
        recovery: bool,
    },
    /// The patient: escrow nothing from now on (shares already on chain stay there).
    Off {
        #[arg(long)]
        patient: Option<PatientId>,
    },
    /// The escrowed categories and the trustees.
    Show {
        #[arg(long)]
        patient: Option<PatientId>,
    },
    /// A doctor: how far the trustees' release to you has come.
    Status {
        #[arg(long)]
        patient: PatientId,
    },
}

#[derive(Subcommand)]
pub enum TrusteeCmd {
    /// Admin: the network's trustees (key names or addresses) and the threshold k.
    Set {
        #[arg(long)]
        threshold: u8,
        #[arg(required = true)]
        trustees: Vec<String>,
    },
    /// A trustee: publish the X25519 key patients seal shares to.
    Publish,
    /// The network's trustees and threshold.
    List,
    /// A trustee: the long-running agent that releases shares to emergency doctors and approves
    /// wallet recoveries after their waiting period.
    Serve {
        /// Where the agent keeps its cursor and rate-limit history (default: CLIENT_HOME/trustee-<address>.json).
        #[arg(long)]
        state: Option<PathBuf>,
        #[arg(long, default_value_t = 3)]
        max_per_hour: usize,
        #[arg(long, default_value_t = 500)]
        poll_ms: u64,
        /// Approve a wallet recovery no sooner than this many seconds after the request (the
        /// chain's waiting period applies when it is longer).
        #[arg(long, default_value_t = 0)]
        recovery_wait_s: u64,
        /// Handle what is pending once and exit (for scripts).
        #[arg(long)]
        once: bool,
    },
}

fn reason(args: &EmergencyArgs) -> Result<EmergencyReason> {
    Ok(match (args.reason, &args.code) {
        (ReasonKind::Incapable, None) => EmergencyReason::IncapablePatient {},
        (ReasonKind::Other, Some(code)) => EmergencyReason::Other { code: code.clone() },
        (ReasonKind::Incapable, Some(_)) => bail!("--code goes with --reason other"),
        (ReasonKind::Other, None) => bail!("--reason other needs --code CODE"),
    })
}

pub async fn emergency(cx: &mut Cx, args: EmergencyArgs) -> Result<()> {
    let reason = reason(&args)?;
    let ehr = cx.ehr()?;
    let tx = ehr.emergency(args.patient, reason.clone()).await?;
    let window = ehr
        .emergency_window(args.patient, &ehr.identity.address)
        .await?;
    let escrowed = ehr.escrow_policy(args.patient).await?.categories;
    let trustees = ehr.trustees().await?;
    let until = window.expires.map(local_time).unwrap_or_default();
    cx.print(
        json!({"patient_id": args.patient, "purpose_of_use": reason.purpose_of_use(), "expires": window.expires, "escrowed": escrowed, "threshold": trustees.threshold, "tx": tx.hash}),
        || {
            let opens = if escrowed.is_empty() {
                "the patient escrows no categories: no keys will be released".to_string()
            } else {
                format!(
                    "{} of the {} trustees must release their shares of {}; `ehr escrow status --patient {}` shows how far they are",
                    trustees.threshold,
                    trustees.trustees.len(),
                    category_labels(&escrowed),
                    args.patient
                )
            };
            format!(
                "emergency access to patient {} ({}, {}) until {until}, in the patient's audit log; {opens}  tx {}",
                args.patient,
                reason.describe(),
                reason.purpose_of_use(),
                tx.hash
            )
        },
    );
    Ok(())
}

pub async fn escrow(cx: &mut Cx, cmd: EscrowCmd) -> Result<()> {
    match cmd {
        EscrowCmd::Set {
            patient,
            categories,
            recovery,
        } => {
            let categories = categories.unwrap_or_else(|| DEFAULT_EMERGENCY_CATEGORIES.to_vec());
            set_escrow(cx, patient, categories, recovery).await
        }
        EscrowCmd::Off { patient } => set_escrow(cx, patient, vec![], false).await,
        EscrowCmd::Show { patient } => {
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let policy = ehr.escrow_policy(patient).await?;
            let trustees = ehr.trustees().await?;
            cx.print(
                json!({"patient_id": patient, "categories": policy.categories, "recovery": policy.recovery, "escrowed": policy.escrowed, "trustees": trustees}),
                || {
                    let emergency = if policy.categories.is_empty() {
                        "nothing".to_string()
                    } else {
                        category_labels(&policy.categories)
                    };
                    let recovery = if policy.recovery {
                        "every category is escrowed, so a lost wallet can be recovered"
                    } else {
                        "no wallet recovery"
                    };
                    format!(
                        "patient {patient}: {} of {} trustees open {emergency} in an emergency; {recovery}",
                        trustees.threshold,
                        trustees.trustees.len()
                    )
                },
            );
            Ok(())
        }
        EscrowCmd::Status { patient } => {
            let ehr = cx.ehr()?;
            let window = ehr.emergency_window(patient, &ehr.identity.address).await?;
            let mut keyring = ehr_crypto::CategoryKeyring::new();
            let progress = ehr.combine_released(patient, &mut keyring).await?;
            cx.print(
                json!({"patient_id": patient, "active": window.active, "expires": window.expires, "progress": progress}),
                || {
                    let state = match (window.active, window.expires) {
                        (true, Some(end)) => format!("emergency active until {}", local_time(end)),
                        (false, Some(end)) => format!("emergency ended {}", local_time(end)),
                        _ => "no emergency declared".into(),
                    };
                    if progress.is_empty() {
                        return format!("{state}; no trustee has released a share yet");
                    }
                    let lines: Vec<String> = progress
                        .iter()
                        .map(|p| {
                            let open = if p.released >= usize::from(p.needed) {
                                "open"
                            } else {
                                "waiting for the trustees"
                            };
                            format!(
                                "{} epoch {}: {} of {} shares, {open}",
                                p.category.label(),
                                p.epoch,
                                p.released,
                                p.needed
                            )
                        })
                        .collect();
                    format!("{state}\n{}", lines.join("\n"))
                },
            );
            Ok(())
        }
    }
}

async fn set_escrow(
    cx: &mut Cx,
    patient: Option<PatientId>,
    categories: Vec<Category>,
    recovery: bool,
) -> Result<()> {
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, patient).await?;
    let info = ehr.patient(patient).await?;
    let (epochs, tx) = ehr.set_escrow(&info, categories.clone(), recovery).await?;
    cx.print(
        json!({"patient_id": patient, "categories": categories, "recovery": recovery, "epochs_escrowed": epochs, "tx": tx.hash}),
        || {
            let recovery = if recovery {
                "; every category is escrowed for wallet recovery"
            } else {
                ""
            };
            if categories.is_empty() && recovery.is_empty() {
                format!("patient {patient} escrows nothing from now on  tx {}", tx.hash)
            } else {
                let emergency = if categories.is_empty() {
                    "nothing".to_string()
                } else {
                    category_labels(&categories)
                };
                format!(
                    "patient {patient}: {emergency} opens in an emergency{recovery} ({epochs} key epochs split and sealed to the trustees)  tx {}",
                    tx.hash
                )
            }
        },
    );
    Ok(())
}

pub async fn trustee(cx: &mut Cx, cmd: TrusteeCmd) -> Result<()> {
    match cmd {
        TrusteeCmd::Set {
            threshold,
            trustees,
        } => {
            let addresses = trustees
                .iter()
                .map(|t| cx.address_of(t))
                .collect::<Result<Vec<_>>>()?;
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Access(AccessMsg::SetTrustees {
                    trustees: addresses.clone(),
                    threshold,
                })])
                .await?;
            cx.print(
                json!({"trustees": addresses, "threshold": threshold, "tx": tx.hash}),
                || {
                    format!(
                        "{threshold} of {} trustees now open escrowed keys  tx {}",
                        addresses.len(),
                        tx.hash
                    )
                },
            );
        }
        TrusteeCmd::List => {
            let (chain, _, _) = cx.chain()?;
            let trustees: ehr_types::escrow::TrusteesResponse =
                chain.access(&AccessQuery::Trustees {}).await?;
            cx.print(serde_json::to_value(&trustees)?, || {
                if trustees.threshold == 0 {
                    return "no trustees: emergencies release no keys".into();
                }
                let lines: Vec<String> = trustees
                    .trustees
                    .iter()
                    .map(|t| {
                        let key = if t.encryption_key.is_some() {
                            "key published"
                        } else {
                            "no key yet"
                        };
                        format!("{}  {key}", t.address)
                    })
                    .collect();
                format!(
                    "{} of {} trustees open an escrowed key (trustee set version {})\n{}",
                    trustees.threshold,
                    trustees.trustees.len(),
                    trustees.set_version,
                    lines.join("\n")
                )
            });
        }
        TrusteeCmd::Publish => {
            let ehr = cx.ehr()?;
            let tx = ehr.publish_trustee_key().await?;
            cx.print(
                json!({"address": ehr.identity.address, "tx": tx.hash}),
                || {
                    format!(
                        "trustee key of {} published  tx {}",
                        ehr.identity.address, tx.hash
                    )
                },
            );
        }
        TrusteeCmd::Serve {
            state,
            max_per_hour,
            poll_ms,
            recovery_wait_s,
            once,
        } => {
            let ehr = cx.ehr()?;
            let state_path = state.unwrap_or_else(|| {
                cx.home
                    .join(format!("trustee-{}.json", ehr.identity.address))
            });
            let agent = TrusteeAgent {
                ehr,
                policy: AgentPolicy {
                    max_releases_per_doctor_per_hour: max_per_hour,
                    recovery_wait: Duration::from_secs(recovery_wait_s),
                    poll: Duration::from_millis(poll_ms),
                },
                state_path,
            };
            if once {
                agent.pass().await?;
            } else {
                agent.serve().await?;
            }
        }
    }
    Ok(())
}
