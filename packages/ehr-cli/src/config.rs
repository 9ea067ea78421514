//! Configuration: `.localnet/deploy.json` (written by scripts/deploy), overridable by flags and
//! `EHR_*` environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ehr_client::ChainConfig;
use serde::Deserialize;

#[derive(Deserialize)]
struct DeployFile {
    chain_id: String,
    rpc_url: String,
    denom: String,
    bech32_prefix: String,
    contracts: DeployContracts,
    ipfs_api_url: Option<String>,
    accounts_file: Option<String>,
}

#[derive(Deserialize)]
struct DeployContracts {
    registry: DeployContract,
    access: DeployContract,
}

#[derive(Deserialize)]
struct DeployContract {
    address: String,
}

/// The options that can override the deploy file.
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub chain_id: Option<String>,
    pub rpc: Option<String>,
    pub registry: Option<String>,
    pub access: Option<String>,
    pub ipfs_api: Option<String>,
    pub no_ipfs: bool,
    pub gas_adjustment: f64,
    pub commit_timeout_secs: u64,
}

pub struct Resolved {
    pub chain: ChainConfig,
    pub ipfs_api: Option<String>,
    /// chain/localnet-accounts.json, for `ehr keys localnet`.
    pub accounts_file: Option<PathBuf>,
}

/// `.localnet/deploy.json` in the current directory or the nearest parent that has one.
fn find_deploy_file() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join(".localnet").join("deploy.json");
        if candidate.is_file() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

pub fn resolve(o: Overrides) -> Result<Resolved> {
    let path = o.config.clone().or_else(find_deploy_file);
    let deploy: Option<DeployFile> = match &path {
        Some(p) => Some(
            serde_json::from_slice(
                &std::fs::read(p).with_context(|| format!("reading config {}", p.display()))?,
            )
            .with_context(|| format!("config {} is not a deploy.json", p.display()))?,
        ),
        None => None,
    };
    let base = path
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::parent);
    let pick = |flag: Option<String>, from_file: Option<String>, what: &str| -> Result<String> {
        match flag.or(from_file) {
            Some(v) => Ok(v),
            None => bail!("no {what}: pass it as a flag or env var, or run scripts/deploy to write .localnet/deploy.json"),
        }
    };
    let chain = ChainConfig {
        chain_id: pick(
            o.chain_id,
            deploy.as_ref().map(|d| d.chain_id.clone()),
            "chain id (--chain-id)",
        )?,
        rpc_url: pick(
            o.rpc,
            deploy.as_ref().map(|d| d.rpc_url.clone()),
            "RPC url (--rpc)",
        )?,
        registry: pick(
            o.registry,
            deploy
                .as_ref()
                .map(|d| d.contracts.registry.address.clone()),
            "registry address (--registry)",
        )?,
        access: pick(
            o.access,
            deploy.as_ref().map(|d| d.contracts.access.address.clone()),
            "access address (--access)",
        )?,
        bech32_prefix: deploy
            .as_ref()
            .map_or("wasm".into(), |d| d.bech32_prefix.clone()),
        denom: deploy.as_ref().map_or("stake".into(), |d| d.denom.clone()),
        gas_price: 0.0,
        gas_adjustment: o.gas_adjustment,
        commit_timeout: Duration::from_secs(o.commit_timeout_secs),
    };
    let ipfs_api = if o.no_ipfs {
        None
    } else {
        o.ipfs_api
            .or_else(|| deploy.as_ref().and_then(|d| d.ipfs_api_url.clone()))
    };
    let accounts_file = deploy
        .as_ref()
        .and_then(|d| d.accounts_file.clone())
        .map(|f| base.map_or(PathBuf::from(&f), |b| b.join(&f)));
    Ok(Resolved {
        chain,
        ipfs_api,
        accounts_file,
    })
}
