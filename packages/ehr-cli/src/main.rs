//! `ehr`: the ehr-chain command line. Every health-data file is encrypted here before it leaves
//! the machine; the chain only receives hashes, locators and wrapped keys.

mod access;
mod args;
mod bench;
mod breakglass;
mod config;
mod context;
mod export;
mod import;
mod keys;
mod output;
mod patient;
mod people;
mod record;
mod recovery;
mod search;
mod verify;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::Overrides;
use crate::context::Cx;
use crate::output::{ErrorOutput, Output};

#[derive(Parser)]
#[command(name = "ehr", version, about = "Encrypted health records on ehr-chain")]
pub struct Cli {
    /// Client home: imported keys, own category keys, the local blob store.
    #[arg(long, env = "EHR_HOME", global = true)]
    home: Option<PathBuf>,
    /// deploy.json to read chain id, RPC and contract addresses from (default: .localnet/deploy.json
    /// in this or a parent directory).
    #[arg(long, env = "EHR_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[arg(long, env = "EHR_CHAIN_ID", global = true)]
    chain_id: Option<String>,
    /// CometBFT RPC url, e.g. http://127.0.0.1:26657; several (comma-separated or the flag
    /// repeated) are tried in order when one does not answer.
    #[arg(long, env = "EHR_RPC", global = true)]
    rpc: Vec<String>,
    /// Seconds an RPC endpoint has to answer before the next one is tried.
    #[arg(long, env = "EHR_RPC_TIMEOUT", default_value_t = 5, global = true)]
    rpc_timeout: u64,
    #[arg(long, env = "EHR_REGISTRY", global = true)]
    registry: Option<String>,
    #[arg(long, env = "EHR_ACCESS", global = true)]
    access: Option<String>,
    /// kubo RPC API url (loopback only); blobs go to IPFS when set.
    #[arg(long, env = "EHR_IPFS_API", global = true)]
    ipfs_api: Option<String>,
    /// Use the embedded content-addressed store (ehrfs://) even if an IPFS API is configured.
    #[arg(long, env = "EHR_NO_IPFS", global = true)]
    no_ipfs: bool,
    /// Name of the imported key to act as.
    #[arg(long, env = "EHR_FROM", global = true)]
    from: Option<String>,
    /// Simulated gas is multiplied by this.
    #[arg(long, default_value_t = 1.3, global = true)]
    gas_adjustment: f64,
    /// Seconds to wait for a transaction to be committed.
    #[arg(long, default_value_t = 60, global = true)]
    commit_timeout: u64,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// Log verbosity (tracing filter, e.g. debug).
    #[arg(long, env = "EHR_LOG", default_value = "warn", global = true)]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Wallet keys (mnemonics) the CLI signs with.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Patients: register, propose, accept, show, update, delete, list, count.
    #[command(subcommand)]
    Patient(patient::PatientCmd),
    /// Encrypted records: add, update, get, history, list.
    #[command(subcommand)]
    Record(record::RecordCmd),
    /// Re-hash stored ciphertexts and compare with the chain.
    Verify(verify::VerifyArgs),
    /// Grant a doctor access to categories, sharing their keys.
    Grant(access::GrantArgs),
    /// Who has access to a patient's records: names, what they may do, until when.
    Grants(people::PatientArg),
    /// Remove a doctor's grant; new records of its categories get a new key epoch.
    Revoke(access::RevokeArgs),
    /// A doctor asks a patient for access.
    Request(access::RequestArgs),
    /// Access requests of a patient (or the ones you made with --mine).
    Requests(access::RequestsArgs),
    /// The patient approves a request (the grant carries the category keys).
    Approve(access::DecideArgs),
    /// The patient denies a request.
    Deny(access::DecideArgs),
    /// A doctor breaks the glass: time-boxed emergency access with a coded reason (always in the
    /// patient's audit log); the trustees release the patient's escrowed keys.
    Emergency(breakglass::EmergencyArgs),
    /// The patient ends a doctor's emergency access now; the doctor may not declare another
    /// before the window's declared end.
    EndEmergency(breakglass::EndEmergencyArgs),
    /// The patient's key escrow for emergencies: set, off, show; a doctor's release status.
    #[command(subcommand)]
    Escrow(breakglass::EscrowCmd),
    /// Trustees: the admin sets them; a trustee publishes its key and runs its agent.
    #[command(subcommand)]
    Trustee(breakglass::TrusteeCmd),
    /// Recovery from a lost wallet: the new wallet requests, the old one may cancel, k trustees
    /// approve, the new owner restores the keys.
    #[command(subcommand)]
    Recovery(recovery::RecoveryCmd),
    /// A patient's audit log, in words and local times.
    Audit(people::PatientArg),
    /// The provider directory: the admin credentials doctors under a name and organisation.
    #[command(subcommand)]
    Provider(people::ProviderCmd),
    /// Import data.
    #[command(subcommand)]
    Import(import::ImportCmd),
    /// Export data.
    #[command(subcommand)]
    Export(export::ExportCmd),
    /// Search everything you can decrypt of a patient: words, category, dates, author (a local
    /// index, encrypted at rest, synced with the chain first).
    Search(search::SearchArgs),
    /// Committed records/s, submit→commit latency and gas per record at a batch size.
    Bench(bench::BenchArgs),
}

/// Runs the command and returns what it prints.
async fn dispatch(cx: &mut Cx, command: Command) -> Result<Output> {
    match command {
        Command::Keys(cmd) => keys::run(cx, cmd).await,
        Command::Patient(cmd) => patient::run(cx, cmd).await,
        Command::Record(cmd) => record::run(cx, cmd).await,
        Command::Verify(args) => verify::run(cx, args).await,
        Command::Grant(args) => access::grant(cx, args).await,
        Command::Grants(args) => people::grants(cx, args).await,
        Command::Revoke(args) => access::revoke(cx, args).await,
        Command::Request(args) => access::request(cx, args).await,
        Command::Requests(args) => access::requests(cx, args).await,
        Command::Approve(args) => access::approve(cx, args).await,
        Command::Deny(args) => access::deny(cx, args).await,
        Command::Emergency(args) => breakglass::emergency(cx, args).await,
        Command::EndEmergency(args) => breakglass::end_emergency(cx, args).await,
        Command::Escrow(cmd) => breakglass::escrow(cx, cmd).await,
        Command::Trustee(cmd) => breakglass::trustee(cx, cmd).await,
        Command::Recovery(cmd) => recovery::run(cx, cmd).await,
        Command::Audit(args) => people::audit(cx, args).await,
        Command::Provider(cmd) => people::provider(cx, cmd).await,
        Command::Import(cmd) => import::run(cx, cmd).await,
        Command::Export(cmd) => export::run(cx, cmd).await,
        Command::Search(args) => search::run(cx, args).await,
        Command::Bench(args) => bench::run(cx, args).await,
    }
}

async fn run(cli: Cli) -> Result<()> {
    let home = match cli.home {
        Some(h) => h,
        None => PathBuf::from(std::env::var("HOME").context("HOME is not set: pass --home")?)
            .join(".ehr"),
    };
    let json = cli.json;
    let mut cx = Cx::new(
        home,
        json,
        cli.from,
        Overrides {
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
        },
    );
    let output = dispatch(&mut cx, cli.command).await?;
    output::print(output.as_ref(), json)
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(error) = runtime.block_on(run(cli)) {
        if json {
            let said = ErrorOutput {
                error: format!("{error:#}"),
            };
            println!(
                "{}",
                serde_json::to_string(&said).expect("a string field serializes")
            );
        }
        eprintln!("error: {}", output::terminal_safe(&format!("{error:#}")));
        std::process::exit(1);
    }
}
