//! The subcommands. Each one checks its input before anything is sent; transactions are
//! simulated before broadcast, so a refused command changes nothing on chain.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use cosmwasm_std::{Binary, Timestamp};
use ehr_client::directory::{category_labels, scope_words};
use ehr_client::{
    local_time, ChainClient, ContractMsg, Directory, Ehr, KeyStore, Session, Signer, Storage,
};
use ehr_types::access::{
    AccessRequestInfo, ExecuteMsg as AccessMsg, QueryMsg as AccessQuery, RequestsResponse, Scope,
};
use ehr_types::registry::{
    DesignationResponse, ExecuteMsg as RegistryMsg, PatientCountResponse, PatientInfo,
    PatientsResponse, QueryMsg as RegistryQuery, RecordsResponse,
};
use ehr_types::{Category, PatientId, RecordId, RequestId};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::config::{failover_notice, resolve, Overrides};
use crate::{Cli, Command};

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Import a mnemonic (read from stdin, or from the env var named by --mnemonic-env).
    Import {
        name: String,
        #[arg(long)]
        mnemonic_env: Option<String>,
    },
    /// Import every account of the localnet (chain/localnet-accounts.json; TEST-ONLY keys).
    Localnet,
    List,
    /// Address and X25519 public key of a key.
    Show {
        name: String,
    },
    /// Doctor: publish your X25519 public key on chain so patients can share keys with you.
    Publish,
}

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

#[derive(Subcommand)]
pub enum RecordCmd {
    /// Encrypt files, store the ciphertext and register each as a record.
    Add {
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, value_parser = parse_category)]
        category: Category,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// A new version of a record.
    Update {
        record_id: RecordId,
        file: PathBuf,
    },
    /// Fetch, verify against the chain, decrypt.
    Get {
        record_id: RecordId,
        #[arg(long)]
        version: Option<u32>,
        /// Write the plaintext here instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    History {
        record_id: RecordId,
    },
    List {
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, value_parser = parse_category)]
        category: Option<Category>,
        #[arg(long)]
        start_after: Option<RecordId>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(required = true)]
    record_ids: Vec<RecordId>,
}

#[derive(Args)]
pub struct GrantArgs {
    /// Doctor address or key name.
    grantee: String,
    #[arg(long)]
    patient: Option<PatientId>,
    #[arg(long, value_parser = parse_scope, default_value = "read")]
    scope: Scope,
    /// Comma-separated: note,lab,imaging,prescription,allergy,immunization,encounter,document,profile
    #[arg(long, value_delimiter = ',', value_parser = parse_category, required = true)]
    categories: Vec<Category>,
    /// Seconds from now; no expiry when absent.
    #[arg(long)]
    expires_in: Option<u64>,
}

#[derive(Args)]
pub struct RevokeArgs {
    grantee: String,
    #[arg(long)]
    patient: Option<PatientId>,
}

#[derive(Args)]
pub struct RequestArgs {
    #[arg(long)]
    patient: PatientId,
    #[arg(long, value_parser = parse_scope, default_value = "read")]
    scope: Scope,
    #[arg(long, value_delimiter = ',', value_parser = parse_category, required = true)]
    categories: Vec<Category>,
}

#[derive(Args)]
pub struct RequestsArgs {
    #[arg(long)]
    patient: Option<PatientId>,
    /// The requests you made (as a doctor).
    #[arg(long)]
    mine: bool,
}

#[derive(Args)]
pub struct DecideArgs {
    request_id: RequestId,
    #[arg(long)]
    expires_in: Option<u64>,
}

#[derive(Args)]
pub struct PatientArg {
    #[arg(long)]
    pub patient: Option<PatientId>,
}

#[derive(Subcommand)]
pub enum ImportCmd {
    /// A FHIR R4 Bundle: one encrypted record per resource, category from resourceType.
    Fhir {
        bundle: PathBuf,
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, default_value_t = 100)]
        batch: usize,
    },
}

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    patient: Option<PatientId>,
    /// Records to submit.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// AddRecord messages per transaction.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Transactions in the mempool at once.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Plaintext bytes per record.
    #[arg(long, default_value_t = 512)]
    size: usize,
}

pub(crate) fn parse_category(text: &str) -> std::result::Result<Category, String> {
    Category::from_name(&text.to_ascii_lowercase()).ok_or_else(|| format!("unknown category {text:?} (note, lab, imaging, prescription, allergy, immunization, encounter, document, profile)"))
}

fn parse_scope(text: &str) -> std::result::Result<Scope, String> {
    match text.to_ascii_lowercase().as_str() {
        "read" => Ok(Scope::Read),
        "write" => Ok(Scope::Write),
        "manage" => Ok(Scope::Manage),
        _ => Err(format!("unknown scope {text:?} (read, write, manage)")),
    }
}

/// The chain and registry the wallet's encryption key is derived for.
fn key_scope(chain: &ChainClient) -> ehr_crypto::KeyScope<'_> {
    ehr_crypto::KeyScope {
        chain_id: &chain.config.chain_id,
        registry: &chain.config.registry,
    }
}

pub(crate) struct Cx {
    pub(crate) home: PathBuf,
    json: bool,
    overrides: Option<Overrides>,
    from: Option<String>,
}

impl Cx {
    fn keystore(&self) -> KeyStore {
        KeyStore::new(&self.home)
    }

    pub(crate) fn chain(&mut self) -> Result<(ChainClient, Storage, Option<PathBuf>)> {
        let resolved = resolve(self.overrides.take().expect("resolved once"))?;
        let storage = Storage::new(self.home.join("blobs"), resolved.ipfs_api.as_deref())?;
        Ok((
            ChainClient::new(resolved.chain)?
                .on_failover(|unanswered, now| eprintln!("{}", failover_notice(unanswered, now))),
            storage,
            resolved.accounts_file,
        ))
    }

    pub(crate) fn ehr(&mut self) -> Result<Ehr> {
        let name = self.from.clone().ok_or_else(|| {
            anyhow!("no signing key: pass --from NAME (or EHR_FROM); `ehr keys list` shows them")
        })?;
        let (chain, storage, _) = self.chain()?;
        let identity = self.keystore().load(&name, &key_scope(&chain))?;
        let signer = Signer::from_wallet(&identity.wallet, &chain.config.bech32_prefix)?;
        Ok(Ehr {
            session: Session::new(chain, signer),
            storage,
            identity,
            home: self.home.clone(),
        })
    }

    /// An address as given, or the address of an imported key of that name.
    pub(crate) fn address_of(&self, who: &str) -> Result<String> {
        if who.starts_with("wasm1") {
            return Ok(who.to_string());
        }
        self.keystore()
            .address(who)
            .with_context(|| format!("{who:?} is neither a wasm1… address nor an imported key"))
    }

    pub(crate) fn print(&self, value: serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }
}

/// What the caller's address is on chain.
async fn own_designation(ehr: &Ehr) -> Result<DesignationResponse> {
    Ok(ehr
        .session
        .chain
        .registry(&RegistryQuery::Designation {
            address: ehr.identity.address.clone(),
        })
        .await?)
}

/// The patient id to act on: given, or the caller's own.
pub(crate) async fn patient_id(ehr: &Ehr, given: Option<PatientId>) -> Result<PatientId> {
    if let Some(id) = given {
        return Ok(id);
    }
    let designation = own_designation(ehr).await?;
    designation.patient_id.ok_or_else(|| {
        anyhow!(
            "{} is not a patient: pass --patient ID",
            ehr.identity.address
        )
    })
}

fn expiry(seconds: Option<u64>) -> Result<Option<Timestamp>> {
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    if seconds == 0 {
        bail!("--expires-in must be greater than 0");
    }
    Ok(Some(ehr_client::now()?.plus_seconds(seconds)))
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn patient_json(p: &PatientInfo) -> serde_json::Value {
    serde_json::to_value(p).expect("serializable")
}

fn patient_line(p: &PatientInfo, names: &Directory) -> String {
    format!(
        "patient {}  {:?}  owner {}  profile v{}{}{}",
        p.id,
        p.status,
        names.name(&p.owner),
        p.profile_version,
        p.profile
            .as_ref()
            .map(|b| format!("  {}", b.uri))
            .unwrap_or_default(),
        p.proposed_by
            .as_ref()
            .map(|d| format!("  proposed by {}", names.name(d)))
            .unwrap_or_default()
    )
}

pub async fn run(cli: Cli) -> Result<()> {
    let home = match cli.home {
        Some(h) => h,
        None => PathBuf::from(std::env::var("HOME").context("HOME is not set: pass --home")?)
            .join(".ehr"),
    };
    let mut cx = Cx {
        home,
        json: cli.json,
        from: cli.from,
        overrides: Some(Overrides {
            config: cli.config,
            chain_id: cli.chain_id,
            rpc: cli.rpc,
            registry: cli.registry,
            access: cli.access,
            ipfs_api: cli.ipfs_api,
            no_ipfs: cli.no_ipfs,
            gas_adjustment: cli.gas_adjustment,
            commit_timeout_secs: cli.commit_timeout,
            rpc_timeout_secs: cli.rpc_timeout,
        }),
    };
    match cli.command {
        Command::Keys(cmd) => keys(&mut cx, cmd).await,
        Command::Patient(cmd) => patient(&mut cx, cmd).await,
        Command::Record(cmd) => record(&mut cx, cmd).await,
        Command::Verify(args) => verify(&mut cx, args).await,
        Command::Grant(args) => {
            let grantee = cx.address_of(&args.grantee)?;
            let expires = expiry(args.expires_in)?;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, args.patient).await?;
            let (envelopes, tx) = ehr
                .grant(
                    patient,
                    &grantee,
                    args.scope,
                    args.categories.clone(),
                    expires,
                )
                .await?;
            let names: Vec<_> = args.categories.iter().map(|c| c.name()).collect();
            let summary =
                crate::people::grant_summary(&ehr, &grantee, args.scope, &args.categories, expires)
                    .await?;
            cx.print(json!({"patient_id": patient, "grantee": grantee, "scope": args.scope, "categories": names, "expires": expires, "summary": summary, "key_envelopes": envelopes, "tx": tx.hash}), || {
                format!("{summary} (patient {patient}; {envelopes} key envelopes)  tx {}", tx.hash)
            });
            Ok(())
        }
        Command::Revoke(args) => {
            let grantee = cx.address_of(&args.grantee)?;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, args.patient).await?;
            let tx = ehr.revoke(patient, &grantee).await?;
            let grantee_addr = cosmwasm_std::Addr::unchecked(&grantee);
            let name = crate::people::directory(&ehr, None, [grantee_addr.clone()])
                .await?
                .name(&grantee_addr);
            cx.print(json!({"patient_id": patient, "grantee": grantee, "grantee_name": name, "tx": tx.hash}), || {
                format!("revoked the access of {name} to patient {patient}; the next record written in each of its categories gets a new key, shared with you and the remaining doctors only  tx {}", tx.hash)
            });
            Ok(())
        }
        Command::Request(args) => {
            let ehr = cx.ehr()?;
            let msg = AccessMsg::RequestAccess {
                patient_id: args.patient,
                scope: args.scope,
                categories: args.categories,
            };
            let tx = ehr.session.execute(&[ContractMsg::Access(msg)]).await?;
            let id = tx
                .attribute_values(&ehr.session.chain.config.access, "request_id")
                .pop()
                .unwrap_or_default();
            cx.print(json!({"request_id": id, "tx": tx.hash}), || {
                format!(
                    "request {id} sent to patient {}  tx {}",
                    args.patient, tx.hash
                )
            });
            Ok(())
        }
        Command::Requests(args) => {
            let ehr = cx.ehr()?;
            let query = if args.mine {
                AccessQuery::RequestsByRequester {
                    requester: ehr.identity.address.clone(),
                    start_after: None,
                    limit: Some(100),
                }
            } else {
                AccessQuery::RequestsByPatient {
                    patient_id: patient_id(&ehr, args.patient).await?,
                    start_after: None,
                    limit: Some(100),
                }
            };
            let requests: RequestsResponse = ehr.session.chain.access(&query).await?;
            let names = crate::people::directory(
                &ehr,
                None,
                requests.requests.iter().map(|r| r.requester.clone()),
            )
            .await?;
            cx.print(serde_json::to_value(&requests)?, || {
                if requests.requests.is_empty() {
                    return "no requests".into();
                }
                requests
                    .requests
                    .iter()
                    .map(|r| request_line(r, &names))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        Command::Approve(args) => {
            let expires = expiry(args.expires_in)?;
            let ehr = cx.ehr()?;
            let request: AccessRequestInfo = ehr
                .session
                .chain
                .access(&AccessQuery::Request {
                    request_id: args.request_id,
                })
                .await?;
            let patient = ehr.patient(request.patient_id).await?;
            let key_envelopes = ehr
                .envelopes_for(&patient, request.requester.as_str(), &request.categories)
                .await?;
            let count = key_envelopes.len();
            let msg = AccessMsg::ApproveRequest {
                request_id: args.request_id,
                expires,
                key_envelopes,
            };
            let tx = ehr.session.execute(&[ContractMsg::Access(msg)]).await?;
            let summary = crate::people::grant_summary(
                &ehr,
                request.requester.as_str(),
                request.scope,
                &request.categories,
                expires,
            )
            .await?;
            cx.print(
                json!({"request_id": args.request_id, "summary": summary, "key_envelopes": count, "tx": tx.hash}),
                || {
                    format!(
                        "approved request {}: {summary} ({count} key envelopes)  tx {}",
                        args.request_id, tx.hash
                    )
                },
            );
            Ok(())
        }
        Command::Deny(args) => {
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Access(AccessMsg::DenyRequest {
                    request_id: args.request_id,
                })])
                .await?;
            cx.print(
                json!({"request_id": args.request_id, "tx": tx.hash}),
                || format!("denied request {}  tx {}", args.request_id, tx.hash),
            );
            Ok(())
        }
        Command::Emergency(args) => crate::breakglass::emergency(&mut cx, args).await,
        Command::Escrow(cmd) => crate::breakglass::escrow(&mut cx, cmd).await,
        Command::Trustee(cmd) => crate::breakglass::trustee(&mut cx, cmd).await,
        Command::Recovery(cmd) => crate::recovery::recovery(&mut cx, cmd).await,
        Command::Audit(args) => crate::people::audit(&mut cx, args).await,
        Command::Grants(args) => crate::people::grants(&mut cx, args).await,
        Command::Provider(cmd) => crate::people::provider(&mut cx, cmd).await,
        Command::Import(ImportCmd::Fhir {
            bundle,
            patient,
            batch,
        }) => {
            let text = read_file(&bundle)?;
            let (resources, skipped) = crate::fhir::records_of_bundle(&text)?;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let total = resources.len();
            let bar = progress(&cx, total as u64, "importing");
            let (added, report) = ehr
                .add_records(patient, resources, batch, |n| bar.inc(n as u64))
                .await?;
            bar.finish_and_clear();
            cx.print(json!({"patient_id": patient, "records": added, "skipped": skipped, "txs": report.txs, "gas_used": report.gas_used}), || {
                let mut out = format!("imported {} FHIR resources as records of patient {patient} in {} txs", added.len(), report.txs);
                for (resource_type, count) in &skipped {
                    out.push_str(&format!("\nskipped {count} {resource_type} resource(s) (not a record; patient data goes in the profile)"));
                }
                out
            });
            Ok(())
        }
        Command::Bench(args) => bench(&mut cx, args).await,
    }
}

fn progress(cx: &Cx, total: u64, what: &str) -> ProgressBar {
    if cx.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} records ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar
}

fn request_line(r: &AccessRequestInfo, names: &Directory) -> String {
    format!(
        "request {}  patient {}  {:?}  {} access to {}  asked by {} {}",
        r.id,
        r.patient_id,
        r.status,
        scope_words(r.scope),
        category_labels(&r.categories),
        names.name(&r.requester),
        local_time(r.created)
    )
}

async fn keys(cx: &mut Cx, cmd: KeysCmd) -> Result<()> {
    let store = cx.keystore();
    match cmd {
        KeysCmd::Import { name, mnemonic_env } => {
            let mnemonic = match mnemonic_env {
                Some(var) => {
                    std::env::var(&var).with_context(|| format!("env var {var} is not set"))?
                }
                None => {
                    let mut text = String::new();
                    std::io::stdin().read_line(&mut text)?;
                    text
                }
            };
            let address = store.import(&name, &mnemonic)?;
            cx.print(json!({"name": name, "address": address}), || {
                format!("imported {name}: {address}")
            });
        }
        KeysCmd::Localnet => {
            let (_, _, accounts) = cx.chain()?;
            let path = accounts.ok_or_else(|| anyhow!("deploy.json names no accounts_file"))?;
            let file: serde_json::Value = serde_json::from_slice(&read_file(&path)?)?;
            let mut imported = Vec::new();
            for account in file["accounts"]
                .as_array()
                .ok_or_else(|| anyhow!("{}: no accounts", path.display()))?
            {
                let (Some(name), Some(mnemonic)) =
                    (account["name"].as_str(), account["mnemonic"].as_str())
                else {
                    continue;
                };
                let address = store.import(name, mnemonic)?;
                imported.push(json!({"name": name, "address": address}));
            }
            cx.print(json!(imported), || {
                imported
                    .iter()
                    .map(|k| {
                        format!(
                            "imported {}: {}  (TEST-ONLY key)",
                            k["name"].as_str().unwrap_or(""),
                            k["address"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCmd::List => {
            let keys = store.list()?;
            cx.print(
                json!(keys
                    .iter()
                    .map(|(n, a)| json!({"name": n, "address": a}))
                    .collect::<Vec<_>>()),
                || {
                    keys.iter()
                        .map(|(n, a)| format!("{n:<12} {a}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        KeysCmd::Show { name } => {
            let (chain, _, _) = cx.chain()?;
            let identity = store.load(&name, &key_scope(&chain))?;
            let public = identity.public_encryption_key().to_base64();
            cx.print(json!({"name": name, "address": identity.address, "encryption_key": public}), || {
                format!("{name}\n  address         {}\n  encryption key  {public} (X25519, derived from the wallet)", identity.address)
            });
        }
        KeysCmd::Publish => {
            let ehr = cx.ehr()?;
            let key = Binary::from(ehr.identity.public_encryption_key().as_bytes().to_vec());
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::SetProviderKey {
                    encryption_key: key,
                })])
                .await?;
            cx.print(
                json!({"address": ehr.identity.address, "tx": tx.hash}),
                || {
                    format!(
                        "published the encryption key of {}  tx {}",
                        ehr.identity.address, tx.hash
                    )
                },
            );
        }
    }
    Ok(())
}

async fn update_profile(
    ehr: &Ehr,
    patient: PatientId,
    profile: &[u8],
) -> Result<ehr_client::TxOutcome> {
    Ok(ehr.update_profile(patient, profile).await?.1)
}

async fn patient(cx: &mut Cx, cmd: PatientCmd) -> Result<()> {
    match cmd {
        PatientCmd::Register { profile } => {
            let profile = profile.as_ref().map(read_file).transpose()?;
            let ehr = cx.ehr()?;
            let key = Binary::from(ehr.identity.public_encryption_key().as_bytes().to_vec());
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::RegisterPatient {
                    encryption_key: key,
                    profile: None,
                })])
                .await?;
            let id: PatientId = tx
                .attribute_values(&ehr.session.chain.config.registry, "patient_id")
                .pop()
                .unwrap_or_default()
                .parse()?;
            // The profile is encrypted for the id the chain just assigned.
            if let Some(profile) = profile {
                update_profile(&ehr, id, &profile).await?;
            }
            cx.print(json!({"patient_id": id, "tx": tx.hash}), || {
                format!("registered patient {id}  tx {}", tx.hash)
            });
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
            let id = tx
                .attribute_values(&ehr.session.chain.config.registry, "patient_id")
                .pop()
                .unwrap_or_default();
            cx.print(
                json!({"patient_id": id, "address": address, "tx": tx.hash}),
                || {
                    format!(
                        "proposed patient {id} for {address}; pending until they accept  tx {}",
                        tx.hash
                    )
                },
            );
        }
        PatientCmd::Accept { patient_id } => {
            let ehr = cx.ehr()?;
            let id = match patient_id {
                Some(id) => id,
                None => {
                    let d = own_designation(&ehr).await?;
                    d.pending_patient_id.ok_or_else(|| {
                        anyhow!("no pending proposal for {}", ehr.identity.address)
                    })?
                }
            };
            let key = Binary::from(ehr.identity.public_encryption_key().as_bytes().to_vec());
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::AcceptPatient {
                    patient_id: id,
                    encryption_key: key,
                })])
                .await?;
            cx.print(json!({"patient_id": id, "tx": tx.hash}), || {
                format!("accepted: patient {id} is active  tx {}", tx.hash)
            });
        }
        PatientCmd::Show { patient_id: given } => {
            let ehr = cx.ehr()?;
            let id = patient_id(&ehr, given).await?;
            let info = ehr.patient(id).await?;
            // The profile is shown to whoever holds its key (the patient, a doctor granted
            // Profile); anyone else still sees the patient's on-chain entry.
            let profile = ehr.read_profile(&info).await;
            let mut json = patient_json(&info);
            match &profile {
                Ok(Some(text)) => json["profile_plaintext"] = String::from_utf8_lossy(text).into(),
                Ok(None) => {}
                Err(error) => json["profile_error"] = error.to_string().into(),
            }
            let names = crate::people::directory(
                &ehr,
                Some(&info.owner),
                [info.owner.clone()]
                    .into_iter()
                    .chain(info.proposed_by.clone()),
            )
            .await?;
            cx.print(json, || {
                let shown = match &profile {
                    Ok(Some(text)) => {
                        format!("\nprofile (decrypted):\n{}", String::from_utf8_lossy(text))
                    }
                    Ok(None) => String::new(),
                    Err(error) => format!("\nprofile not shown: {error}"),
                };
                format!("{}{shown}", patient_line(&info, &names))
            });
        }
        PatientCmd::Update { patient, profile } => {
            let bytes = read_file(&profile)?;
            let ehr = cx.ehr()?;
            let id = patient_id(&ehr, patient).await?;
            let tx = update_profile(&ehr, id, &bytes).await?;
            cx.print(json!({"patient_id": id, "tx": tx.hash}), || {
                format!(
                    "profile of patient {id} updated (encrypted)  tx {}",
                    tx.hash
                )
            });
        }
        PatientCmd::Delete { patient_id: id } => {
            let ehr = cx.ehr()?;
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(RegistryMsg::DeletePatient {
                    patient_id: id,
                })])
                .await?;
            cx.print(json!({"patient_id": id, "tx": tx.hash}), || {
                format!(
                    "patient {id} deleted (tombstone kept, id never reused)  tx {}",
                    tx.hash
                )
            });
        }
        PatientCmd::List { start_after, limit } => {
            let (chain, _, _) = cx.chain()?;
            let page: PatientsResponse = chain
                .registry(&RegistryQuery::Patients {
                    start_after,
                    limit: Some(limit),
                })
                .await?;
            let viewer = cx
                .from
                .as_deref()
                .map(|key| cx.address_of(key))
                .transpose()?;
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
            cx.print(serde_json::to_value(&page)?, || {
                page.patients
                    .iter()
                    .map(|p| patient_line(p, &names))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        PatientCmd::Count => {
            let (chain, _, _) = cx.chain()?;
            let count: PatientCountResponse =
                chain.registry(&RegistryQuery::PatientCount {}).await?;
            cx.print(serde_json::to_value(&count)?, || {
                format!(
                    "active {}  pending {}  deleted {}  total {}",
                    count.active, count.pending, count.deleted, count.total
                )
            });
        }
    }
    Ok(())
}

async fn record(cx: &mut Cx, cmd: RecordCmd) -> Result<()> {
    match cmd {
        RecordCmd::Add {
            patient,
            category,
            batch,
            files,
        } => {
            let items = files
                .iter()
                .map(|f| Ok((category, read_file(f)?)))
                .collect::<Result<Vec<_>>>()?;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let bar = progress(cx, items.len() as u64, "adding");
            let (added, report) = ehr
                .add_records(patient, items, batch, |n| bar.inc(n as u64))
                .await?;
            bar.finish_and_clear();
            cx.print(
                json!({"patient_id": patient, "records": added, "txs": report.txs}),
                || {
                    added
                        .iter()
                        .zip(&files)
                        .map(|(r, f)| {
                            format!(
                                "record {}  {}  {}  {}  ({})",
                                r.record_id,
                                r.category.name(),
                                r.uri,
                                r.sha256,
                                f.display()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        RecordCmd::Update { record_id, file } => {
            let bytes = read_file(&file)?;
            let ehr = cx.ehr()?;
            let (version, blob, tx) = ehr.update_record(record_id, &bytes).await?;
            cx.print(
                json!({"record_id": record_id, "version": version, "blob": blob, "tx": tx.hash}),
                || {
                    format!(
                        "record {record_id} version {version}  {}  {}  tx {}",
                        blob.uri, blob.sha256, tx.hash
                    )
                },
            );
        }
        RecordCmd::Get {
            record_id,
            version,
            out,
        } => {
            let ehr = cx.ehr()?;
            let (record, chosen, plaintext) = ehr.read_record(record_id, version).await?;
            match out {
                Some(path) => {
                    // Decrypted health data: readable by this user only.
                    ehr_client::write_private(&path, &plaintext)?;
                    cx.print(json!({"record_id": record_id, "version": chosen.version, "sha256_verified": chosen.blob.sha256, "out": path}), || {
                        format!("record {record_id} v{} ({}) verified and decrypted to {}", chosen.version, record.category.name(), path.display())
                    });
                }
                None if cx.json => println!(
                    "{}",
                    json!({"record_id": record_id, "version": chosen.version, "category": record.category, "sha256_verified": chosen.blob.sha256,
                           "plaintext": String::from_utf8_lossy(&plaintext)})
                ),
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&plaintext)?;
                }
            }
        }
        RecordCmd::History { record_id } => {
            let ehr = cx.ehr()?;
            let versions = ehr.history(record_id).await?;
            let names =
                crate::people::directory(&ehr, None, versions.iter().map(|v| v.author.clone()))
                    .await?;
            cx.print(serde_json::to_value(&versions)?, || {
                versions
                    .iter()
                    .map(|v| {
                        format!(
                            "v{}  {}  {}  {} bytes  by {}  at {}",
                            v.version,
                            v.blob.uri,
                            v.blob.sha256,
                            v.blob.size,
                            names.name(&v.author),
                            local_time(v.time)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        RecordCmd::List {
            patient,
            category,
            start_after,
            limit,
        } => {
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let page: RecordsResponse = ehr
                .session
                .chain
                .registry(&RegistryQuery::RecordsByPatient {
                    patient_id: patient,
                    category,
                    start_after,
                    limit: Some(limit),
                })
                .await?;
            let info = ehr.patient(patient).await?;
            let names = crate::people::directory(
                &ehr,
                Some(&info.owner),
                page.records.iter().map(|r| r.created_by.clone()),
            )
            .await?;
            cx.print(serde_json::to_value(&page)?, || {
                page.records
                    .iter()
                    .map(|r| {
                        format!(
                            "record {}  {}  {:?}  v{}  {}  by {}",
                            r.id,
                            r.category.name(),
                            r.status,
                            r.latest.version,
                            r.latest.blob.uri,
                            names.name(&r.created_by)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

async fn verify(cx: &mut Cx, args: VerifyArgs) -> Result<()> {
    let ehr = cx.ehr()?;
    let mut failures = 0;
    let mut results = Vec::new();
    for id in args.record_ids {
        for (version, checked) in ehr.verify_record(id).await? {
            let ok = checked.is_ok();
            failures += usize::from(!ok);
            let detail = checked.err().map(|e| e.to_string());
            if !cx.json {
                match &detail {
                    None => println!(
                        "record {id} v{version}: OK (sha256 and sealed header match the chain)"
                    ),
                    Some(error) => println!("record {id} v{version}: FAILED: {error}"),
                }
            }
            results.push(json!({"record_id": id, "version": version, "ok": ok, "error": detail}));
        }
    }
    if cx.json {
        println!("{}", json!(results));
    }
    if failures > 0 {
        bail!("{failures} stored version(s) do not match the chain");
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn bench(cx: &mut Cx, args: BenchArgs) -> Result<()> {
    if args.count == 0 || args.batch == 0 {
        bail!("--count and --batch must be greater than 0");
    }
    let ehr = cx.ehr()?;
    let patient_id = patient_id(&ehr, args.patient).await?;
    let patient = ehr.patient(patient_id).await?;
    // Distinct plaintexts; the figure of interest is the chain's, so encryption and storage are
    // done first and timed apart.
    let prepared = Instant::now();
    let plaintexts = (0..args.count)
        .map(|i| {
            let mut plaintext = format!("bench record {i} ").into_bytes();
            plaintext.resize(args.size.max(plaintext.len()), b'.');
            (Category::Lab, plaintext)
        })
        .collect();
    let (records, rotations) = ehr.seal_and_store_all(&patient, plaintexts).await?;
    let prepare_secs = prepared.elapsed().as_secs_f64();
    let bar = progress(cx, args.count as u64, "submitting");
    let started = Instant::now();
    let (added, report) = ehr
        .register_records(
            patient_id,
            records,
            rotations,
            args.batch,
            args.in_flight,
            |n| bar.inc(n as u64),
        )
        .await?;
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut latencies = report.latencies_ms.clone();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let rate = added.len() as f64 / secs;
    let gas_per_record = report.gas_used as f64 / added.len().max(1) as f64;
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    cx.print(
        json!({"records": added.len(), "batch": args.batch, "in_flight": args.in_flight, "txs": report.txs, "seconds": secs,
               "records_per_second": rate, "latency_ms_p50": p50, "latency_ms_p99": p99, "gas_per_record": gas_per_record,
               "encrypt_store_seconds": prepare_secs, "storage": ehr.storage.backend_name()}),
        || {
            format!(
                "{} records in {} txs (batch {}, {} in flight): {:.2} s, {:.1} records/s committed\nsubmit→commit latency per tx: p50 {:.0} ms, p99 {:.0} ms\ngas per record: {:.0}\n(encrypt + store {} beforehand: {:.2} s)",
                added.len(), report.txs, args.batch, args.in_flight, secs, rate, p50, p99, gas_per_record, ehr.storage.backend_name(), prepare_secs
            )
        },
    );
    Ok(())
}
