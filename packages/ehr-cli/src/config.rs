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
    /// The preferred RPC endpoint; `rpc_urls` may add others, tried in order when it does not answer.
    rpc_url: Option<String>,
    #[serde(default)]
    rpc_urls: Vec<String>,
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
    /// `--rpc` values (repeated flag, or EHR_RPC), each possibly comma-separated.
    pub rpc: Vec<String>,
    pub registry: Option<String>,
    pub access: Option<String>,
    pub ipfs_api: Option<String>,
    pub no_ipfs: bool,
    pub gas_adjustment: f64,
    pub commit_timeout_secs: u64,
    pub rpc_timeout_secs: u64,
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
        rpc_urls: rpc_urls(&o.rpc, deploy.as_ref()),
        rpc_timeout: Duration::from_secs(o.rpc_timeout_secs),
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
    if chain.rpc_urls.is_empty() {
        bail!("no RPC url: pass --rpc (or EHR_RPC), or run scripts/deploy to write .localnet/deploy.json");
    }
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

/// The RPC endpoints in order of preference: those of `--rpc`/EHR_RPC when given, else the deploy
/// file's `rpc_url` followed by its `rpc_urls`. A value may list several, comma-separated; blanks
/// and repeats are dropped.
fn rpc_urls(flag: &[String], deploy: Option<&DeployFile>) -> Vec<String> {
    let values: Vec<&String> = if flag.is_empty() {
        deploy.map_or_else(Vec::new, |d| d.rpc_url.iter().chain(&d.rpc_urls).collect())
    } else {
        flag.iter().collect()
    };
    let mut urls: Vec<String> = Vec::new();
    for url in values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
    {
        if !url.is_empty() && !urls.iter().any(|known| known == url) {
            urls.push(url.to_string());
        }
    }
    urls
}

/// What people read when the client moves to another endpoint.
pub fn failover_notice(unanswered: &[String], now: &str) -> String {
    match unanswered {
        [one] => format!("node {one} does not answer; using {now}"),
        several => format!("nodes {} do not answer; using {now}", several.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(rpc_url: Option<&str>, rpc_urls: &[&str]) -> DeployFile {
        let mut file = serde_json::json!({
            "chain_id": "ehr-local-1",
            "denom": "stake",
            "bech32_prefix": "wasm",
            "contracts": {"registry": {"address": "r"}, "access": {"address": "a"}},
        });
        if let Some(url) = rpc_url {
            file["rpc_url"] = url.into();
        }
        if !rpc_urls.is_empty() {
            file["rpc_urls"] = rpc_urls.into();
        }
        serde_json::from_value(file).unwrap()
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn the_deploy_file_gives_rpc_url_first_then_rpc_urls() {
        assert_eq!(
            rpc_urls(&[], Some(&deploy(Some("http://a:26657"), &[]))),
            strings(&["http://a:26657"])
        );
        assert_eq!(
            rpc_urls(
                &[],
                Some(&deploy(
                    Some("http://b:26657"),
                    &["http://a:26657", "http://b:26657", "http://c:26657"]
                ))
            ),
            strings(&["http://b:26657", "http://a:26657", "http://c:26657"])
        );
        assert_eq!(
            rpc_urls(
                &[],
                Some(&deploy(None, &["http://a:26657", "http://c:26657"]))
            ),
            strings(&["http://a:26657", "http://c:26657"])
        );
        assert!(rpc_urls(&[], Some(&deploy(None, &[]))).is_empty());
        assert!(rpc_urls(&[], None).is_empty());
    }

    #[test]
    fn flag_or_env_values_replace_the_file_s_and_may_list_several() {
        let file = deploy(Some("http://file:26657"), &["http://file2:26657"]);
        // EHR_RPC arrives as one value; repeated flags as several.
        assert_eq!(
            rpc_urls(&strings(&["http://a:26657, http://b:26657,"]), Some(&file)),
            strings(&["http://a:26657", "http://b:26657"])
        );
        assert_eq!(
            rpc_urls(
                &strings(&[
                    "http://a:26657,http://b:26657",
                    "http://c:26657",
                    "http://a:26657"
                ]),
                Some(&file)
            ),
            strings(&["http://a:26657", "http://b:26657", "http://c:26657"])
        );
    }

    #[test]
    fn failover_is_said_in_words() {
        assert_eq!(
            failover_notice(&strings(&["http://a:26657"]), "http://b:26657"),
            "node http://a:26657 does not answer; using http://b:26657"
        );
        assert_eq!(
            failover_notice(
                &strings(&["http://a:26657", "http://b:26657"]),
                "http://c:26657"
            ),
            "nodes http://a:26657, http://b:26657 do not answer; using http://c:26657"
        );
    }
}
