//! What every command shares: the client home, the chain and the signing key it acts with, and
//! the lookups most commands start with.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, Context, Result};
use ehr_client::{ChainClient, Ehr, KeyStore, Session, Signer, Storage, TxOutcome};
use ehr_types::registry::{DesignationResponse, QueryMsg as RegistryQuery};
use ehr_types::PatientId;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{failover_notice, resolve, Overrides};

pub struct Cx {
    pub home: PathBuf,
    pub json: bool,
    overrides: Option<Overrides>,
    from: Option<String>,
}

impl Cx {
    pub fn new(home: PathBuf, json: bool, from: Option<String>, overrides: Overrides) -> Cx {
        Cx {
            home,
            json,
            overrides: Some(overrides),
            from,
        }
    }

    pub fn keystore(&self) -> KeyStore {
        KeyStore::new(&self.home)
    }

    /// The address of the signing key (`--from`), when one is named.
    pub fn signer_address(&self) -> Result<Option<String>> {
        self.from
            .as_deref()
            .map(|key| self.address_of(key))
            .transpose()
    }

    pub fn chain(&mut self) -> Result<(ChainClient, Storage, Option<PathBuf>)> {
        let resolved = resolve(self.overrides.take().expect("resolved once"))?;
        let storage = Storage::new(self.home.join("blobs"), resolved.ipfs_api.as_deref())?;
        Ok((
            ChainClient::new(resolved.chain)?
                .on_failover(|unanswered, now| eprintln!("{}", failover_notice(unanswered, now))),
            storage,
            resolved.accounts_file,
        ))
    }

    pub fn ehr(&mut self) -> Result<Ehr> {
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
    pub fn address_of(&self, who: &str) -> Result<String> {
        if who.starts_with("wasm1") {
            return Ok(who.to_string());
        }
        self.keystore()
            .address(who)
            .with_context(|| format!("{who:?} is neither a wasm1… address nor an imported key"))
    }

    /// A progress bar on stderr; hidden with `--json`.
    pub fn progress(&self, total: u64, what: &str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} records ({per_sec}, eta {eta})",
            )
            .expect("valid template"),
        );
        bar.set_message(what.to_string());
        bar
    }
}

/// The chain and registry the wallet's encryption key is derived for.
pub fn key_scope(chain: &ChainClient) -> ehr_crypto::KeyScope<'_> {
    ehr_crypto::KeyScope {
        chain_id: &chain.config.chain_id,
        registry: &chain.config.registry,
    }
}

/// What the caller's address is on chain.
pub async fn own_designation(ehr: &Ehr) -> Result<DesignationResponse> {
    Ok(ehr
        .session
        .chain
        .registry(&RegistryQuery::Designation {
            address: ehr.identity.address.clone(),
        })
        .await?)
}

/// The patient id to act on: given, or the caller's own.
pub async fn patient_id(ehr: &Ehr, given: Option<PatientId>) -> Result<PatientId> {
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

/// The last value of the attribute `key` that the contract at `contract` emitted in `tx`; an
/// attribute the chain did not return, or one that does not parse, is an error.
pub fn emitted<T>(tx: &TxOutcome, contract: &str, key: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let value = tx
        .attribute_values(contract, key)
        .pop()
        .ok_or_else(|| anyhow!("tx {} has no {key} attribute from {contract}", tx.hash))?;
    value
        .parse()
        .map_err(|error| anyhow!("tx {}: {key} {value:?} is not valid: {error}", tx.hash))
}
