//! Who is who: the provider directory the admin keeps, a patient's grants, and the audit log in
//! words. People read names and local times here; `--json` carries the same values with the
//! addresses and chain times beside them.

use anyhow::Result;
use clap::{Args, Subcommand};
use cosmwasm_std::Addr;
use ehr_client::directory::{category_labels, scope_words, AuditLine};
use ehr_client::paging::all_pages;
use ehr_client::{local_time, ContractMsg, Directory, Ehr};
use ehr_types::access::{AuditLogResponse, GrantInfo, GrantsResponse, QueryMsg as AccessQuery};
use ehr_types::registry::{
    ExecuteMsg as RegistryMsg, ProviderInfo, ProvidersResponse, QueryMsg as RegistryQuery,
};
use ehr_types::validate::{validate_directory_text, DirectoryField};
use ehr_types::{AuditEntry, PatientId};
use serde::Serialize;

use crate::context::{patient_id, Cx};
use crate::output::{lines, output, Output, Render};

#[derive(Subcommand)]
pub enum ProviderCmd {
    /// Admin: credential a doctor under the name and organisation patients will see (again with
    /// another name or organisation: corrects the listing).
    Credential {
        /// Doctor address or key name.
        doctor: String,
        /// e.g. "Dr Ana Lima" (1–64 characters).
        #[arg(long)]
        name: String,
        /// e.g. "St Mary Hospital, Cardiology" (1–96 characters).
        #[arg(long)]
        organization: String,
    },
    /// Admin: withdraw a doctor's credential; their grants stop at once and every key they
    /// hold goes stale.
    Withdraw { doctor: String },
    /// The provider directory: names, organisations, credential status.
    List,
}

/// `--patient ID`: a patient other than the caller's own.
#[derive(Args)]
pub struct PatientArg {
    #[arg(long)]
    patient: Option<PatientId>,
}

/// A directory entry as people read it.
#[derive(Serialize)]
struct ProviderLine {
    #[serde(flatten)]
    provider: ProviderInfo,
    credentialed_at_local: String,
    withdrawn_at_local: Option<String>,
}

impl ProviderLine {
    fn new(provider: ProviderInfo) -> ProviderLine {
        ProviderLine {
            credentialed_at_local: local_time(provider.credentialed_at),
            withdrawn_at_local: provider.withdrawn_at.map(local_time),
            provider,
        }
    }
}

impl std::fmt::Display for ProviderLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.provider;
        let status = match &self.withdrawn_at_local {
            Some(when) if !p.credentialed => format!("credential withdrawn {when}"),
            _ => format!("credentialed since {}", self.credentialed_at_local),
        };
        let key = if p.encryption_key.is_some() {
            ""
        } else {
            "; no encryption key published yet"
        };
        write!(
            f,
            "{}, {}  {status}{key}  ({})",
            p.display_name, p.organization, p.address
        )
    }
}

/// A grant as the patient reads it.
#[derive(Serialize)]
struct GrantLine {
    #[serde(flatten)]
    grant: GrantInfo,
    grantee_name: String,
    access: &'static str,
    expires_local: Option<String>,
    expired: bool,
    credential_withdrawn_local: Option<String>,
}

impl std::fmt::Display for GrantLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let until = match (&self.expires_local, self.expired) {
            (Some(when), true) => format!("expired {when}"),
            (Some(when), false) => format!("until {when}"),
            (None, _) => "no end date".into(),
        };
        let withdrawn = self
            .credential_withdrawn_local
            .as_ref()
            .map(|when| format!("  (credential withdrawn {when}: no access)"))
            .unwrap_or_default();
        write!(
            f,
            "{}: {} access to {}, {until}{withdrawn}",
            self.grantee_name,
            self.access,
            category_labels(&self.grant.categories)
        )
    }
}

/// Names for `addresses` as the signed-in user sees them.
pub async fn directory(
    ehr: &Ehr,
    patient_owner: Option<&Addr>,
    addresses: impl IntoIterator<Item = Addr>,
) -> Result<Directory> {
    Ok(Directory::lookup(
        &ehr.session.chain,
        &ehr.identity.address,
        patient_owner,
        addresses,
    )
    .await?)
}

/// The name the signed-in user reads for one address.
pub async fn name_of(ehr: &Ehr, address: &str) -> Result<String> {
    let address = Addr::unchecked(address);
    Ok(directory(ehr, None, [address.clone()])
        .await?
        .name(&address))
}

/// `provider credential`.
#[derive(Serialize)]
struct Credentialed {
    address: String,
    display_name: String,
    organization: String,
    tx: String,
}

impl Render for Credentialed {
    fn human(&self) -> String {
        format!(
            "{}, {} is a credentialed provider  tx {}",
            self.display_name, self.organization, self.tx
        )
    }
}

/// `provider withdraw`.
#[derive(Serialize)]
struct Withdrawn {
    address: String,
    name: String,
    tx: String,
}

impl Render for Withdrawn {
    fn human(&self) -> String {
        format!(
            "withdrew the credential of {}: their grants stop now, and every category key they hold is stale (the next write rotates it)  tx {}",
            self.name, self.tx
        )
    }
}

/// `provider list`.
#[derive(Serialize)]
#[serde(transparent)]
struct ProviderList(Vec<ProviderLine>);

impl Render for ProviderList {
    fn human(&self) -> String {
        lines(&self.0, ToString::to_string, "no providers listed")
    }
}

/// `ehr grants`: the JSON is the list of grants.
#[derive(Serialize)]
#[serde(transparent)]
struct GrantList {
    #[serde(skip)]
    patient_id: PatientId,
    grants: Vec<GrantLine>,
}

impl Render for GrantList {
    fn human(&self) -> String {
        lines(
            &self.grants,
            ToString::to_string,
            &format!(
                "nobody but you has access to patient {}'s records",
                self.patient_id
            ),
        )
    }
}

/// `ehr audit`.
#[derive(Serialize)]
#[serde(transparent)]
struct AuditLog(Vec<AuditLine>);

impl Render for AuditLog {
    fn human(&self) -> String {
        lines(&self.0, ToString::to_string, "the audit log is empty")
    }
}

pub async fn provider(cx: &mut Cx, cmd: ProviderCmd) -> Result<Output> {
    match cmd {
        ProviderCmd::Credential {
            doctor,
            name,
            organization,
        } => {
            // Checked here too, so a typo is named before anything is signed.
            validate_directory_text(DirectoryField::DisplayName, &name)?;
            validate_directory_text(DirectoryField::Organization, &organization)?;
            let address = cx.address_of(&doctor)?;
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::CredentialProvider {
                    address: address.clone(),
                    display_name: name.clone(),
                    organization: organization.clone(),
                })])
                .await?;
            output(Credentialed {
                address,
                display_name: name,
                organization,
                tx: tx.hash,
            })
        }
        ProviderCmd::Withdraw { doctor } => {
            let address = cx.address_of(&doctor)?;
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::RevokeProvider {
                    address: address.clone(),
                })])
                .await?;
            output(Withdrawn {
                name: name_of(&ehr, &address).await?,
                address,
                tx: tx.hash,
            })
        }
        ProviderCmd::List => {
            let (chain, _, _) = cx.chain()?;
            let providers = all_pages(
                |p: &ProviderInfo| p.address.to_string(),
                |start_after, limit| {
                    let chain = &chain;
                    async move {
                        let page: ProvidersResponse = chain
                            .registry(&RegistryQuery::Providers {
                                start_after,
                                limit: Some(limit),
                            })
                            .await?;
                        Ok(page.providers)
                    }
                },
            )
            .await?;
            output(ProviderList(
                providers.into_iter().map(ProviderLine::new).collect(),
            ))
        }
    }
}

pub async fn grants(cx: &mut Cx, args: PatientArg) -> Result<Output> {
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, args.patient).await?;
    let info = ehr.patient(patient).await?;
    let grants = all_pages(
        |g: &GrantInfo| g.grantee.to_string(),
        |start_after, limit| {
            let ehr = &ehr;
            async move {
                let page: GrantsResponse = ehr
                    .session
                    .chain
                    .access(&AccessQuery::GrantsByPatient {
                        patient_id: patient,
                        start_after,
                        limit: Some(limit),
                    })
                    .await?;
                Ok(page.grants)
            }
        },
    )
    .await?;
    let names = directory(
        &ehr,
        Some(&info.owner),
        grants.iter().map(|g| g.grantee.clone()),
    )
    .await?;
    let now = ehr_client::now()?;
    let lines: Vec<GrantLine> = grants
        .into_iter()
        .map(|grant| GrantLine {
            grantee_name: names.name(&grant.grantee),
            access: scope_words(grant.scope),
            expires_local: grant.expires.map(local_time),
            expired: grant.expires.is_some_and(|t| t <= now),
            credential_withdrawn_local: names
                .provider(&grant.grantee)
                .filter(|p| !p.credentialed)
                .and_then(|p| p.withdrawn_at)
                .map(local_time),
            grant,
        })
        .collect();
    output(GrantList {
        patient_id: patient,
        grants: lines,
    })
}

/// A patient's whole audit log, by seq.
pub async fn audit_entries(ehr: &Ehr, patient: PatientId) -> Result<Vec<AuditEntry>> {
    Ok(all_pages(
        |e: &AuditEntry| e.seq,
        |start_after, limit| async move {
            let page: AuditLogResponse = ehr
                .session
                .chain
                .access(&AccessQuery::AuditLog {
                    patient_id: patient,
                    start_after,
                    limit: Some(limit),
                })
                .await?;
            Ok(page.entries)
        },
    )
    .await?)
}

pub async fn audit(cx: &mut Cx, args: PatientArg) -> Result<Output> {
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, args.patient).await?;
    let info = ehr.patient(patient).await?;
    let entries = audit_entries(&ehr, patient).await?;
    let mentioned = entries.iter().flat_map(|e| {
        let grantee = match &e.action {
            ehr_types::AuditAction::AccessGranted { grantee, .. }
            | ehr_types::AuditAction::AccessRevoked { grantee } => Some(grantee.clone()),
            _ => None,
        };
        std::iter::once(e.actor.clone()).chain(grantee)
    });
    let names = directory(&ehr, Some(&info.owner), mentioned).await?;
    output(AuditLog(names.audit_lines(&entries)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::Timestamp;
    use ehr_types::access::Scope;
    use ehr_types::Category;

    fn grant_line(
        expires_local: Option<&str>,
        expired: bool,
        withdrawn: Option<&str>,
    ) -> GrantLine {
        GrantLine {
            grant: GrantInfo {
                patient_id: 1,
                grantee: Addr::unchecked("wasm1doctor"),
                scope: Scope::Read,
                categories: vec![Category::Lab],
                expires: None,
                granted_at: Timestamp::from_seconds(1),
            },
            grantee_name: "Dr Ben Okafor, Riverside Clinic".into(),
            access: scope_words(Scope::Read),
            expires_local: expires_local.map(str::to_string),
            expired,
            credential_withdrawn_local: withdrawn.map(str::to_string),
        }
    }

    #[test]
    fn grants_say_until_when_and_a_withdrawn_credential() {
        let list = GrantList {
            patient_id: 1,
            grants: vec![
                grant_line(None, false, Some("Wed 2 Dec 2026 14:05 WET")),
                grant_line(Some("Thu 3 Dec 2026 09:00 WET"), true, None),
            ],
        };
        assert_eq!(
            list.human(),
            "Dr Ben Okafor, Riverside Clinic: read access to Lab, no end date  (credential withdrawn Wed 2 Dec 2026 14:05 WET: no access)\nDr Ben Okafor, Riverside Clinic: read access to Lab, expired Thu 3 Dec 2026 09:00 WET"
        );
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json[0]["grantee"], "wasm1doctor");
        assert_eq!(json[0]["patient_id"], 1);
        assert_eq!(json[1]["expired"], true);
        let none = GrantList {
            patient_id: 1,
            grants: vec![],
        };
        assert_eq!(
            none.human(),
            "nobody but you has access to patient 1's records"
        );
        assert_eq!(serde_json::to_value(&none).unwrap(), serde_json::json!([]));
    }

    #[test]
    fn providers_show_their_credential_status() {
        let mut provider = ProviderInfo {
            address: Addr::unchecked("wasm1doctor"),
            display_name: "Dr Ana Lima".into(),
            organization: "St Mary Hospital".into(),
            credentialed: true,
            encryption_key: None,
            credentialed_at: Timestamp::from_seconds(1_796_000_000),
            withdrawn_at: None,
        };
        let line = ProviderLine::new(provider.clone());
        assert_eq!(
            line.to_string(),
            format!(
                "Dr Ana Lima, St Mary Hospital  credentialed since {}; no encryption key published yet  (wasm1doctor)",
                local_time(provider.credentialed_at)
            )
        );
        provider.credentialed = false;
        provider.withdrawn_at = Some(Timestamp::from_seconds(1_796_000_100));
        let list = ProviderList(vec![ProviderLine::new(provider)]);
        assert!(list.human().contains("credential withdrawn "));
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json[0]["display_name"], "Dr Ana Lima");
        assert!(json[0]["withdrawn_at_local"].is_string());
        assert_eq!(ProviderList(vec![]).human(), "no providers listed");
    }
}
