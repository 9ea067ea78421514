//! Who is who: the provider directory the admin keeps, a patient's grants, and the audit log in
//! words. People read names and local times here; `--json` carries the same values with the
//! addresses and chain times beside them.

use anyhow::Result;
use clap::{Args, Subcommand};
use cosmwasm_std::{Addr, Timestamp};
use ehr_client::directory::{category_labels, scope_words};
use ehr_client::paging::all_pages;
use ehr_client::{local_time, ContractMsg, Directory, Ehr};
use ehr_types::access::{
    AuditLogResponse, GrantInfo, GrantsResponse, QueryMsg as AccessQuery, Scope,
};
use ehr_types::registry::{
    ExecuteMsg as RegistryMsg, ProviderInfo, ProvidersResponse, QueryMsg as RegistryQuery,
};
use ehr_types::validate::{validate_directory_text, DirectoryField};
use ehr_types::{AuditEntry, Category, PatientId};
use serde::Serialize;
use serde_json::json;

use crate::commands::{patient_id, Cx, PatientArg};

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

#[derive(Args)]
pub struct GrantsArgs {
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

/// The grantee's name and what the grant gives, for the output of `ehr grant`.
pub async fn grant_summary(
    ehr: &Ehr,
    grantee: &str,
    scope: Scope,
    categories: &[Category],
    expires: Option<Timestamp>,
) -> Result<String> {
    let grantee = Addr::unchecked(grantee);
    let names = directory(ehr, None, [grantee.clone()]).await?;
    let until = expires
        .map(|t| format!("until {}", local_time(t)))
        .unwrap_or_else(|| "with no end date".into());
    Ok(format!(
        "{} now has {} access to {} {until}",
        names.name(&grantee),
        scope_words(scope),
        category_labels(categories)
    ))
}

pub async fn provider(cx: &mut Cx, cmd: ProviderCmd) -> Result<()> {
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
            cx.print(
                json!({"address": address, "display_name": name, "organization": organization, "tx": tx.hash}),
                || format!("{name}, {organization} is a credentialed provider  tx {}", tx.hash),
            );
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
            let names = directory(&ehr, None, [Addr::unchecked(&address)]).await?;
            let name = names.name(&Addr::unchecked(&address));
            cx.print(json!({"address": address, "name": name, "tx": tx.hash}), || {
                format!("withdrew the credential of {name}: their grants stop now, and every category key they hold is stale (the next write rotates it)  tx {}", tx.hash)
            });
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
            let lines: Vec<ProviderLine> = providers.into_iter().map(ProviderLine::new).collect();
            cx.print(serde_json::to_value(&lines)?, || {
                if lines.is_empty() {
                    return "no providers listed".into();
                }
                lines
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

pub async fn grants(cx: &mut Cx, args: GrantsArgs) -> Result<()> {
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
    cx.print(serde_json::to_value(&lines)?, || {
        if lines.is_empty() {
            return format!("nobody but you has access to patient {patient}'s records");
        }
        lines
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub async fn audit(cx: &mut Cx, args: PatientArg) -> Result<()> {
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, args.patient).await?;
    let info = ehr.patient(patient).await?;
    let entries = all_pages(
        |e: &AuditEntry| e.seq,
        |start_after, limit| {
            let ehr = &ehr;
            async move {
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
            }
        },
    )
    .await?;
    let mentioned = entries.iter().flat_map(|e| {
        let grantee = match &e.action {
            ehr_types::AuditAction::AccessGranted { grantee, .. }
            | ehr_types::AuditAction::AccessRevoked { grantee } => Some(grantee.clone()),
            _ => None,
        };
        std::iter::once(e.actor.clone()).chain(grantee)
    });
    let names = directory(&ehr, Some(&info.owner), mentioned).await?;
    let lines = names.audit_lines(&entries);
    cx.print(serde_json::to_value(&lines)?, || {
        lines
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
