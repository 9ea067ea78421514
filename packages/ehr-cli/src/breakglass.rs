//! Break glass: the admin's trustee set, the patient's escrow, a doctor's emergency with a coded
//! reason, and the trustee's agent.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use cosmwasm_std::Timestamp;
use ehr_client::directory::category_labels;
use ehr_client::escrow::ReleaseProgress;
use ehr_client::trustee::{AgentPolicy, TrusteeAgent};
use ehr_client::{local_time, ContractMsg};
use ehr_types::access::{ExecuteMsg as AccessMsg, QueryMsg as AccessQuery};
use ehr_types::escrow::{EmergencyReason, TrusteesResponse, DEFAULT_EMERGENCY_CATEGORIES};
use ehr_types::recovery::{IdentityCheck, RecoveryInfo, RecoveryStatus};
use ehr_types::{Category, PatientId};
use serde::Serialize;

use crate::args::parse_category;
use crate::context::{patient_id, Cx};
use crate::output::{output, Output, Render};
use crate::people::name_of;

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

#[derive(Args)]
pub struct EndEmergencyArgs {
    /// The doctor (key name or address) whose window ends.
    doctor: String,
    #[arg(long)]
    patient: Option<PatientId>,
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
    /// A trustee: the wallet-recovery requests waiting for the trustees' decision.
    Pending,
    /// A trustee, after checking the requester's identity out of band (never automatically):
    /// approve a pending wallet recovery, saying how identity was checked.
    ApproveRecovery {
        #[arg(long)]
        patient: PatientId,
        /// in-person-photo-id, video-photo-id, known-clinician or notarised-document.
        #[arg(long, value_parser = parse_identity_check)]
        identity_check: IdentityCheck,
    },
    /// A trustee: the long-running agent that releases shares to emergency doctors and to the
    /// owner of a completed wallet recovery, and lists pending recoveries (it never approves one).
    Serve {
        /// Where the agent keeps its cursor and rate-limit history (default: CLIENT_HOME/trustee-<address>.json).
        #[arg(long)]
        state: Option<PathBuf>,
        #[arg(long, default_value_t = 3)]
        max_per_hour: usize,
        #[arg(long, default_value_t = 500)]
        poll_ms: u64,
        /// Handle what is pending once and exit (for scripts).
        #[arg(long)]
        once: bool,
    },
}

fn parse_identity_check(code: &str) -> Result<IdentityCheck, String> {
    IdentityCheck::from_code(code).ok_or_else(|| {
        let codes: Vec<&str> = IdentityCheck::ALL.iter().map(|c| c.code()).collect();
        format!("expected one of {}", codes.join(", "))
    })
}

fn reason(args: &EmergencyArgs) -> Result<EmergencyReason> {
    Ok(match (args.reason, &args.code) {
        (ReasonKind::Incapable, None) => EmergencyReason::IncapablePatient {},
        (ReasonKind::Other, Some(code)) => EmergencyReason::Other { code: code.clone() },
        (ReasonKind::Incapable, Some(_)) => bail!("--code goes with --reason other"),
        (ReasonKind::Other, None) => bail!("--reason other needs --code CODE"),
    })
}

/// `ehr emergency`: the window the doctor opened and what the trustees may release in it.
#[derive(Serialize)]
struct EmergencyDeclared {
    patient_id: PatientId,
    purpose_of_use: &'static str,
    reason: String,
    expires: Timestamp,
    expires_local: String,
    /// The categories the patient escrows: the ones the trustees release keys of.
    escrowed: Vec<Category>,
    threshold: u8,
    trustees: usize,
    tx: String,
}

impl Render for EmergencyDeclared {
    fn human(&self) -> String {
        let opens = if self.escrowed.is_empty() {
            "the patient escrows no categories: no keys will be released".to_string()
        } else {
            format!(
                "{} of the {} trustees must release their shares of {}; `ehr escrow status --patient {}` shows how far they are",
                self.threshold,
                self.trustees,
                category_labels(&self.escrowed),
                self.patient_id
            )
        };
        format!(
            "emergency access to patient {} ({}, {}) until {}, in the patient's audit log; {opens}  tx {}",
            self.patient_id, self.reason, self.purpose_of_use, self.expires_local, self.tx
        )
    }
}

/// `escrow set` and `escrow off`.
#[derive(Serialize)]
struct EscrowSet {
    patient_id: PatientId,
    categories: Vec<Category>,
    recovery: bool,
    epochs_escrowed: usize,
    tx: String,
}

impl Render for EscrowSet {
    fn human(&self) -> String {
        let recovery = if self.recovery {
            "; every category is escrowed for wallet recovery"
        } else {
            ""
        };
        if self.categories.is_empty() && !self.recovery {
            return format!(
                "patient {} escrows nothing from now on  tx {}",
                self.patient_id, self.tx
            );
        }
        format!(
            "patient {}: {} opens in an emergency{recovery} ({} key epochs split and sealed to the trustees)  tx {}",
            self.patient_id,
            emergency_categories(&self.categories),
            self.epochs_escrowed,
            self.tx
        )
    }
}

fn emergency_categories(categories: &[Category]) -> String {
    if categories.is_empty() {
        "nothing".to_string()
    } else {
        category_labels(categories)
    }
}

/// `escrow show`.
#[derive(Serialize)]
struct EscrowShown {
    patient_id: PatientId,
    categories: Vec<Category>,
    recovery: bool,
    escrowed: Vec<Category>,
    trustees: TrusteesResponse,
}

impl Render for EscrowShown {
    fn human(&self) -> String {
        let recovery = if self.recovery {
            "every category is escrowed, so a lost wallet can be recovered"
        } else {
            "no wallet recovery"
        };
        format!(
            "patient {}: {} of {} trustees open {} in an emergency; {recovery}",
            self.patient_id,
            self.trustees.threshold,
            self.trustees.trustees.len(),
            emergency_categories(&self.categories)
        )
    }
}

/// `escrow status`: the doctor's window and the shares released in it.
#[derive(Serialize)]
struct EscrowStatus {
    patient_id: PatientId,
    active: bool,
    expires: Option<Timestamp>,
    expires_local: Option<String>,
    progress: Vec<ReleaseProgress>,
}

impl Render for EscrowStatus {
    fn human(&self) -> String {
        let state = match (self.active, &self.expires_local) {
            (true, Some(end)) => format!("emergency active until {end}"),
            (false, Some(end)) => format!("emergency ended {end}"),
            (_, None) => "no emergency declared".into(),
        };
        if self.progress.is_empty() {
            return format!("{state}; no trustee has released a share yet");
        }
        let lines: Vec<String> = self
            .progress
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
    }
}

/// `trustee set`.
#[derive(Serialize)]
struct TrusteesSet {
    trustees: Vec<String>,
    threshold: u8,
    tx: String,
}

impl Render for TrusteesSet {
    fn human(&self) -> String {
        format!(
            "{} of {} trustees now open escrowed keys  tx {}",
            self.threshold,
            self.trustees.len(),
            self.tx
        )
    }
}

/// `trustee list`.
#[derive(Serialize)]
#[serde(transparent)]
struct TrusteeList(TrusteesResponse);

impl Render for TrusteeList {
    fn human(&self) -> String {
        let t = &self.0;
        if t.threshold == 0 {
            return "no trustees: emergencies release no keys".into();
        }
        let lines: Vec<String> = t
            .trustees
            .iter()
            .map(|trustee| {
                let key = if trustee.encryption_key.is_some() {
                    "key published"
                } else {
                    "no key yet"
                };
                format!("{}  {key}", trustee.address)
            })
            .collect();
        format!(
            "{} of {} trustees open an escrowed key (trustee set version {})\n{}",
            t.threshold,
            t.trustees.len(),
            t.set_version,
            lines.join("\n")
        )
    }
}

/// `trustee publish`.
#[derive(Serialize)]
struct TrusteeKeyPublished {
    address: String,
    tx: String,
}

impl Render for TrusteeKeyPublished {
    fn human(&self) -> String {
        format!("trustee key of {} published  tx {}", self.address, self.tx)
    }
}

/// `trustee serve --once`.
#[derive(Serialize)]
struct AgentPass {
    emergencies_handled: usize,
}

impl Render for AgentPass {
    fn human(&self) -> String {
        format!(
            "handled {} emergencies and the open wallet recoveries",
            self.emergencies_handled
        )
    }
}

pub async fn emergency(cx: &mut Cx, args: EmergencyArgs) -> Result<Output> {
    let reason = reason(&args)?;
    let ehr = cx.ehr()?;
    let tx = ehr.emergency(args.patient, reason.clone()).await?;
    let window = ehr
        .emergency_window(args.patient, &ehr.identity.address)
        .await?;
    let expires = window.expires.ok_or_else(|| {
        anyhow!(
            "tx {} declared the emergency, but the chain reports no window for patient {}",
            tx.hash,
            args.patient
        )
    })?;
    let escrowed = ehr.escrow_policy(args.patient).await?.categories;
    let trustees = ehr.trustees().await?;
    output(EmergencyDeclared {
        patient_id: args.patient,
        purpose_of_use: reason.purpose_of_use(),
        reason: reason.describe(),
        expires,
        expires_local: local_time(expires),
        escrowed,
        threshold: trustees.threshold,
        trustees: trustees.trustees.len(),
        tx: tx.hash,
    })
}

/// `ehr trustee pending`.
#[derive(Serialize)]
#[serde(transparent)]
struct PendingRecoveries(Vec<RecoveryInfo>);

impl Render for PendingRecoveries {
    fn human(&self) -> String {
        if self.0.is_empty() {
            return "no wallet recovery is waiting for the trustees".into();
        }
        self.0
            .iter()
            .map(|recovery| {
                format!(
                    "patient {}: the wallet {} asks to become its owner; the patient's wallet can cancel until {}; {} approval(s) so far. Check the requester's identity out of band before `ehr trustee approve-recovery --patient {} --identity-check CODE`",
                    recovery.patient_id,
                    recovery.new_owner,
                    local_time(recovery.not_before),
                    recovery.approvals.len(),
                    recovery.patient_id
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `ehr trustee approve-recovery`.
#[derive(Serialize)]
struct RecoveryApproved {
    patient_id: PatientId,
    identity_check: &'static str,
    new_owner: String,
    /// This approval reached the threshold: the patient moved.
    completed: bool,
    tx: String,
}

impl Render for RecoveryApproved {
    fn human(&self) -> String {
        let outcome = if self.completed {
            format!("the patient now belongs to {}", self.new_owner)
        } else {
            "waiting for the other trustees".to_string()
        };
        format!(
            "approved moving patient {} to {} (identity checked: {}); {outcome}  tx {}",
            self.patient_id, self.new_owner, self.identity_check, self.tx
        )
    }
}

/// `ehr end-emergency`.
#[derive(Serialize)]
struct EmergencyEnded {
    patient_id: PatientId,
    doctor: String,
    doctor_name: String,
    tx: String,
}

impl Render for EmergencyEnded {
    fn human(&self) -> String {
        format!(
            "ended the emergency access of {} to patient {}; the next record written in each category it was handed gets a new key  tx {}",
            self.doctor_name, self.patient_id, self.tx
        )
    }
}

pub async fn end_emergency(cx: &mut Cx, args: EndEmergencyArgs) -> Result<Output> {
    let doctor = cx.address_of(&args.doctor)?;
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, args.patient).await?;
    let tx = ehr.end_emergency(patient, &doctor).await?;
    output(EmergencyEnded {
        patient_id: patient,
        doctor_name: name_of(&ehr, &doctor).await?,
        doctor,
        tx: tx.hash,
    })
}

pub async fn escrow(cx: &mut Cx, cmd: EscrowCmd) -> Result<Output> {
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
            output(EscrowShown {
                patient_id: patient,
                categories: policy.categories,
                recovery: policy.recovery,
                escrowed: policy.escrowed,
                trustees: ehr.trustees().await?,
            })
        }
        EscrowCmd::Status { patient } => {
            let ehr = cx.ehr()?;
            let window = ehr.emergency_window(patient, &ehr.identity.address).await?;
            let mut keyring = ehr_crypto::CategoryKeyring::new();
            let progress = ehr.combine_released(patient, &mut keyring).await?;
            output(EscrowStatus {
                patient_id: patient,
                active: window.active,
                expires: window.expires,
                expires_local: window.expires.map(local_time),
                progress,
            })
        }
    }
}

async fn set_escrow(
    cx: &mut Cx,
    patient: Option<PatientId>,
    categories: Vec<Category>,
    recovery: bool,
) -> Result<Output> {
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, patient).await?;
    let info = ehr.patient(patient).await?;
    let (epochs_escrowed, tx) = ehr.set_escrow(&info, categories.clone(), recovery).await?;
    output(EscrowSet {
        patient_id: patient,
        categories,
        recovery,
        epochs_escrowed,
        tx: tx.hash,
    })
}

pub async fn trustee(cx: &mut Cx, cmd: TrusteeCmd) -> Result<Output> {
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
            output(TrusteesSet {
                trustees: addresses,
                threshold,
                tx: tx.hash,
            })
        }
        TrusteeCmd::List => {
            let (chain, _, _) = cx.chain()?;
            let trustees: TrusteesResponse = chain.access(&AccessQuery::Trustees {}).await?;
            output(TrusteeList(trustees))
        }
        TrusteeCmd::Pending => {
            let ehr = cx.ehr()?;
            let pending = ehr.pending_recoveries().await?;
            output(PendingRecoveries(pending))
        }
        TrusteeCmd::ApproveRecovery {
            patient,
            identity_check,
        } => {
            let ehr = cx.ehr()?;
            let tx = ehr.approve_recovery(patient, identity_check).await?;
            let recovery = ehr.recovery(patient).await?.ok_or_else(|| {
                anyhow!(
                    "tx {} approved, but patient {patient} has no recovery",
                    tx.hash
                )
            })?;
            output(RecoveryApproved {
                patient_id: patient,
                identity_check: identity_check.code(),
                completed: recovery.status == RecoveryStatus::Completed,
                new_owner: recovery.new_owner.to_string(),
                tx: tx.hash,
            })
        }
        TrusteeCmd::Publish => {
            let ehr = cx.ehr()?;
            let tx = ehr.publish_trustee_key().await?;
            output(TrusteeKeyPublished {
                address: ehr.identity.address,
                tx: tx.hash,
            })
        }
        TrusteeCmd::Serve {
            state,
            max_per_hour,
            poll_ms,
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
                    poll: Duration::from_millis(poll_ms),
                },
                state_path,
            };
            if once {
                return output(AgentPass {
                    emergencies_handled: agent.pass().await?,
                });
            }
            agent.serve().await?;
            bail!("the trustee agent stopped watching")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehr_types::escrow::TrusteeInfo;

    #[test]
    fn an_emergency_says_what_opens_and_how() {
        let expires = Timestamp::from_seconds(1_796_000_000);
        let mut declared = EmergencyDeclared {
            patient_id: 2,
            purpose_of_use: "ETREAT",
            reason: "treatment of a patient who cannot consent".into(),
            expires,
            expires_local: local_time(expires),
            escrowed: vec![Category::Allergy, Category::Prescription],
            threshold: 2,
            trustees: 3,
            tx: "EF".into(),
        };
        let json = serde_json::to_value(&declared).unwrap();
        assert_eq!(json["patient_id"], 2);
        assert_eq!(json["expires"], "1796000000000000000");
        assert_eq!(
            json["escrowed"],
            serde_json::json!(["allergy", "prescription"])
        );
        assert_eq!(
            declared.human(),
            format!(
                "emergency access to patient 2 (treatment of a patient who cannot consent, ETREAT) until {}, in the patient's audit log; 2 of the 3 trustees must release their shares of Allergy, Prescription; `ehr escrow status --patient 2` shows how far they are  tx EF",
                local_time(expires)
            )
        );
        declared.escrowed.clear();
        assert!(declared
            .human()
            .contains("the patient escrows no categories: no keys will be released"));
    }

    #[test]
    fn escrow_set_says_what_opens_or_that_nothing_does() {
        let mut set = EscrowSet {
            patient_id: 1,
            categories: vec![Category::Allergy],
            recovery: true,
            epochs_escrowed: 4,
            tx: "AA".into(),
        };
        assert_eq!(
            set.human(),
            "patient 1: Allergy opens in an emergency; every category is escrowed for wallet recovery (4 key epochs split and sealed to the trustees)  tx AA"
        );
        set.categories.clear();
        assert!(set
            .human()
            .starts_with("patient 1: nothing opens in an emergency; every category"));
        set.recovery = false;
        assert_eq!(set.human(), "patient 1 escrows nothing from now on  tx AA");
    }

    #[test]
    fn escrow_status_counts_shares_per_key() {
        let status = EscrowStatus {
            patient_id: 1,
            active: true,
            expires: Some(Timestamp::from_seconds(1_796_000_000)),
            expires_local: Some("Wed 2 Dec 2026 14:05 WET".into()),
            progress: vec![
                ReleaseProgress {
                    category: Category::Allergy,
                    epoch: 0,
                    released: 2,
                    needed: 2,
                },
                ReleaseProgress {
                    category: Category::Profile,
                    epoch: 1,
                    released: 1,
                    needed: 2,
                },
            ],
        };
        assert_eq!(
            status.human(),
            "emergency active until Wed 2 Dec 2026 14:05 WET\nAllergy epoch 0: 2 of 2 shares, open\nProfile epoch 1: 1 of 2 shares, waiting for the trustees"
        );
        let none = EscrowStatus {
            patient_id: 1,
            active: false,
            expires: None,
            expires_local: None,
            progress: vec![],
        };
        assert_eq!(
            none.human(),
            "no emergency declared; no trustee has released a share yet"
        );
        assert_eq!(
            serde_json::to_value(&none).unwrap()["expires"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn the_trustee_list_is_the_chain_s_answer() {
        let list = TrusteeList(TrusteesResponse {
            trustees: vec![TrusteeInfo {
                address: cosmwasm_std::Addr::unchecked("wasm1trustee"),
                encryption_key: None,
            }],
            threshold: 2,
            set_version: 1,
        });
        assert_eq!(serde_json::to_value(&list).unwrap()["threshold"], 2);
        assert_eq!(
            list.human(),
            "2 of 1 trustees open an escrowed key (trustee set version 1)\nwasm1trustee  no key yet"
        );
    }
}
