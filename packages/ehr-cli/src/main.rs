//! `ehr`: the ehr-chain command line. Every health-data file is encrypted here before it leaves
//! the machine; the chain only receives hashes, locators and wrapped keys.

mod breakglass;
mod commands;
mod config;
mod fhir;
mod people;
mod recovery;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    Keys(commands::KeysCmd),
    /// Patients: register, propose, accept, show, update, delete, list, count.
    #[command(subcommand)]
    Patient(commands::PatientCmd),
    /// Encrypted records: add, update, get, history, list.
    #[command(subcommand)]
    Record(commands::RecordCmd),
    /// Re-hash stored ciphertexts and compare with the chain.
    Verify(commands::VerifyArgs),
    /// Grant a doctor access to categories, sharing their keys.
    Grant(commands::GrantArgs),
    /// Who has access to a patient's records: names, what they may do, until when.
    Grants(people::GrantsArgs),
    /// Remove a doctor's grant; new records of its categories get a new key epoch.
    Revoke(commands::RevokeArgs),
    /// A doctor asks a patient for access.
    Request(commands::RequestArgs),
    /// Access requests of a patient (or the ones you made with --mine).
    Requests(commands::RequestsArgs),
    /// The patient approves a request (the grant carries the category keys).
    Approve(commands::DecideArgs),
    /// The patient denies a request.
    Deny(commands::DecideArgs),
    /// A doctor breaks the glass: time-boxed emergency access with a coded reason (always in the
    /// patient's audit log); the trustees release the patient's escrowed keys.
    Emergency(breakglass::EmergencyArgs),
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
    Audit(commands::PatientArg),
    /// The provider directory: the admin credentials doctors under a name and organisation.
    #[command(subcommand)]
    Provider(people::ProviderCmd),
    /// Import data.
    #[command(subcommand)]
    Import(commands::ImportCmd),
    /// Committed records/s, submit→commit latency and gas per record at a batch size.
    Bench(commands::BenchArgs),
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
    if let Err(error) = runtime.block_on(commands::run(cli)) {
        if json {
            println!("{}", serde_json::json!({ "error": format!("{error:#}") }));
        }
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
