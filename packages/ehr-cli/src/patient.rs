//! `ehr patient`: register, propose, accept, show, update, delete, list, count.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Subcommand;
use cosmwasm_std::Binary;
use ehr_client::{ContractMsg, Directory, Ehr};
use ehr_types::registry::{
    ExecuteMsg as RegistryMsg, PatientCountResponse, PatientInfo, PatientsResponse,
    QueryMsg as RegistryQuery,
};
use ehr_types::PatientId;
use serde::Serialize;

use crate::args::read_file;
use crate::context::{emitted, own_designation, patient_id, Cx};
use crate::output::{lines, output, Output, Render};

#[derive(Subcommand)]
pub enum PatientCmd {
    /// Register yourself as a patient (optionally with an encrypted profile file).
    Register {
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Doctor: propose a patient for an address (or key name); pending until they accept.
    Propose {
        address: String,
    },
    /// Accept the proposal made for your address.
    Accept {
        patient_id: Option<PatientId>,
    },
    Show {
        patient_id: Option<PatientId>,
    },
    /// A new version of the encrypted profile.
    Update {
        #[arg(long)]
        patient: Option<PatientId>,
        profile: PathBuf,
    },
    /// Tombstone a patient (id never reused, pointers dropped).
    Delete {
        patient_id: PatientId,
    },
    List {
        #[arg(long)]
        start_after: Option<PatientId>,
        #[arg(long, default_value_t = 30)]
        limit: u32,
    },
    Count,
}

/// A patient's on-chain entry, with the names of its owner and proposer.
#[derive(Serialize)]
struct PatientLine {
    #[serde(flatten)]
    info: PatientInfo,
    owner_name: String,
    proposed_by_name: Option<String>,
}

impl PatientLine {
    fn new(info: PatientInfo, names: &Directory) -> PatientLine {
        PatientLine {
            owner_name: names.name(&info.owner),
            proposed_by_name: info.proposed_by.as_ref().map(|a| names.name(a)),
            info,
        }
    }
}

impl Render for PatientLine {
    fn human(&self) -> String {
        let p = &self.info;
        let profile = p
            .profile
            .as_ref()
            .map(|b| format!("  {}", b.uri))
            .unwrap_or_default();
        let proposed = self
            .proposed_by_name
            .as_ref()
            .map(|name| format!("  proposed by {name}"))
            .unwrap_or_default();
        format!(
            "patient {}  {:?}  owner {}  profile v{}{profile}{proposed}",
            p.id, p.status, self.owner_name, p.profile_version
        )
    }
}

/// `patient show`: the entry and, for whoever holds the Profile key, the decrypted profile.
#[derive(Serialize)]
struct PatientShown {
    #[serde(flatten)]
    patient: PatientLine,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_plaintext: Option<String>,
    /// Why the profile is not shown (no Profile key, a blob that does not match the chain, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_error: Option<String>,
}

impl Render for PatientShown {
    fn human(&self) -> String {
        let shown = match (&self.profile_plaintext, &self.profile_error) {
            (Some(text), _) => format!("\nprofile (decrypted):\n{text}"),
            (None, Some(error)) => format!("\nprofile not shown: {error}"),
            (None, None) => String::new(),
        };
        format!("{}{shown}", self.patient.human())
    }
}

#[derive(Serialize)]
struct PatientList {
    patients: Vec<PatientLine>,
}

impl Render for PatientList {
    fn human(&self) -> String {
        lines(&self.patients, Render::human, "no patients on this page")
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct PatientCount(PatientCountResponse);

impl Render for PatientCount {
    fn human(&self) -> String {
        let c = &self.0;
        format!(
            "active {}  pending {}  deleted {}  total {}",
            c.active, c.pending, c.deleted, c.total
        )
    }
}

/// A patient transaction: register, propose, accept, update, delete.
#[derive(Serialize)]
struct PatientTx {
    patient_id: PatientId,
    #[serde(flatten)]
    change: PatientChange,
    tx: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PatientChange {
    Registered {},
    Proposed { address: String },
    Accepted {},
    ProfileUpdated { profile_version: u32 },
    Deleted {},
}

impl Render for PatientTx {
    fn human(&self) -> String {
        let (id, tx) = (self.patient_id, &self.tx);
        match &self.change {
            PatientChange::Registered {} => format!("registered patient {id}  tx {tx}"),
            PatientChange::Proposed { address } => {
                format!("proposed patient {id} for {address}; pending until they accept  tx {tx}")
            }
            PatientChange::Accepted {} => format!("accepted: patient {id} is active  tx {tx}"),
            PatientChange::ProfileUpdated { profile_version } => format!(
                "profile of patient {id} updated to v{profile_version} (encrypted)  tx {tx}"
            ),
            PatientChange::Deleted {} => {
                format!("patient {id} deleted (tombstone kept, id never reused)  tx {tx}")
            }
        }
    }
}

fn own_key(ehr: &Ehr) -> Binary {
    Binary::from(ehr.identity.public_encryption_key().as_bytes().to_vec())
}

pub async fn run(cx: &mut Cx, cmd: PatientCmd) -> Result<Output> {
    match cmd {
        PatientCmd::Register { profile } => {
            let profile = profile.as_deref().map(read_file).transpose()?;
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::RegisterPatient {
                    encryption_key: own_key(&ehr),
                    profile: None,
                })])
                .await?;
            let id: PatientId = emitted(&tx, &ehr.session.chain.config.registry, "patient_id")?;
            // The profile is encrypted for the id the chain just assigned.
            if let Some(profile) = profile {
                ehr.update_profile(id, &profile).await?;
            }
            output(PatientTx {
                patient_id: id,
                change: PatientChange::Registered {},
                tx: tx.hash,
            })
        }
        PatientCmd::Propose { address } => {
            let address = cx.address_of(&address)?;
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::ProposePatient {
                    address: address.clone(),
                    profile: None,
                })])
                .await?;
            output(PatientTx {
                patient_id: emitted(&tx, &ehr.session.chain.config.registry, "patient_id")?,
                change: PatientChange::Proposed { address },
                tx: tx.hash,
            })
        }
        PatientCmd::Accept { patient_id } => {
            let ehr = cx.ehr()?;
            let id = match patient_id {
                Some(id) => id,
                None => own_designation(&ehr)
                    .await?
                    .pending_patient_id
                    .ok_or_else(|| anyhow!("no pending proposal for {}", ehr.identity.address))?,
            };
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::AcceptPatient {
                    patient_id: id,
                    encryption_key: own_key(&ehr),
                })])
                .await?;
            output(PatientTx {
                patient_id: id,
                change: PatientChange::Accepted {},
                tx: tx.hash,
            })
        }
        PatientCmd::Show { patient_id: given } => {
            let ehr = cx.ehr()?;
            let id = patient_id(&ehr, given).await?;
            let info = ehr.patient(id).await?;
            // The profile is shown to whoever holds its key (the patient, a doctor granted
            // Profile); anyone else still sees the patient's on-chain entry.
            let (profile_plaintext, profile_error) = match ehr.read_profile(&info).await {
                Ok(text) => (text.map(|t| String::from_utf8_lossy(&t).into_owned()), None),
                Err(error) => (None, Some(error.to_string())),
            };
            let names = crate::people::directory(
                &ehr,
                Some(&info.owner),
                [info.owner.clone()]
                    .into_iter()
                    .chain(info.proposed_by.clone()),
            )
            .await?;
            output(PatientShown {
                patient: PatientLine::new(info, &names),
                profile_plaintext,
                profile_error,
            })
        }
        PatientCmd::Update { patient, profile } => {
            let bytes = read_file(&profile)?;
            let ehr = cx.ehr()?;
            let id = patient_id(&ehr, patient).await?;
            let (profile_version, tx) = ehr.update_profile(id, &bytes).await?;
            output(PatientTx {
                patient_id: id,
                change: PatientChange::ProfileUpdated { profile_version },
                tx: tx.hash,
            })
        }
        PatientCmd::Delete { patient_id: id } => {
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::DeletePatient {
                    patient_id: id,
                })])
                .await?;
            output(PatientTx {
                patient_id: id,
                change: PatientChange::Deleted {},
                tx: tx.hash,
            })
        }
        PatientCmd::List { start_after, limit } => {
            let viewer = cx.signer_address()?;
            let (chain, _, _) = cx.chain()?;
            let page: PatientsResponse = chain
                .registry(&RegistryQuery::Patients {
                    start_after,
                    limit: Some(limit),
                })
                .await?;
            let names = Directory::lookup(
                &chain,
                viewer.as_deref().unwrap_or_default(),
                None,
                page.patients
                    .iter()
                    .flat_map(|p| [Some(p.owner.clone()), p.proposed_by.clone()])
                    .flatten(),
            )
            .await?;
            output(PatientList {
                patients: page
                    .patients
                    .into_iter()
                    .map(|info| PatientLine::new(info, &names))
                    .collect(),
            })
        }
        PatientCmd::Count => {
            let (chain, _, _) = cx.chain()?;
            let count: PatientCountResponse =
                chain.registry(&RegistryQuery::PatientCount {}).await?;
            output(PatientCount(count))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::{Addr, Timestamp};
    use ehr_types::registry::{PatientStatus, ProviderInfo};
    use ehr_types::BlobRef;

    fn names() -> Directory {
        Directory::new(
            Some(Addr::unchecked("wasm1patient")),
            Some(Addr::unchecked("wasm1patient")),
            None,
            [ProviderInfo {
                address: Addr::unchecked("wasm1doctor"),
                display_name: "Dr Ana Lima".into(),
                organization: "St Mary Hospital".into(),
                credentialed: true,
                encryption_key: None,
                credentialed_at: Timestamp::from_seconds(1),
                withdrawn_at: None,
            }],
        )
    }

    fn info() -> PatientInfo {
        PatientInfo {
            id: 3,
            owner: Addr::unchecked("wasm1patient"),
            encryption_key: None,
            profile: Some(BlobRef {
                sha256: "ab".repeat(32),
                uri: "ipfs://bafy".into(),
                size: 90,
            }),
            profile_version: 1,
            status: PatientStatus::Active,
            proposed_by: Some(Addr::unchecked("wasm1doctor")),
            created: Timestamp::from_seconds(1),
            updated: Timestamp::from_seconds(2),
        }
    }

    #[test]
    fn a_patient_shows_names_and_the_profile_only_to_its_key_holder() {
        let shown = PatientShown {
            patient: PatientLine::new(info(), &names()),
            profile_plaintext: None,
            profile_error: Some("no category key for patient 3, category profile".into()),
        };
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["id"], 3);
        assert_eq!(json["status"], "active");
        assert_eq!(json["owner"], "wasm1patient");
        assert_eq!(json["owner_name"], "you");
        assert_eq!(json["proposed_by_name"], "Dr Ana Lima, St Mary Hospital");
        assert_eq!(json["profile"]["uri"], "ipfs://bafy");
        assert!(json.get("profile_plaintext").is_none());
        assert_eq!(
            shown.human(),
            "patient 3  Active  owner you  profile v1  ipfs://bafy  proposed by Dr Ana Lima, St Mary Hospital\nprofile not shown: no category key for patient 3, category profile"
        );
    }

    #[test]
    fn patient_transactions_carry_the_id_as_a_number() {
        let proposed = PatientTx {
            patient_id: 4,
            change: PatientChange::Proposed {
                address: "wasm1new".into(),
            },
            tx: "AB".into(),
        };
        assert_eq!(
            serde_json::to_value(&proposed).unwrap(),
            serde_json::json!({"patient_id": 4, "address": "wasm1new", "tx": "AB"})
        );
        assert_eq!(
            proposed.human(),
            "proposed patient 4 for wasm1new; pending until they accept  tx AB"
        );
        let deleted = PatientTx {
            patient_id: 4,
            change: PatientChange::Deleted {},
            tx: "CD".into(),
        };
        assert_eq!(
            serde_json::to_value(&deleted).unwrap(),
            serde_json::json!({"patient_id": 4, "tx": "CD"})
        );
    }
}
