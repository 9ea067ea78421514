//! `ehr keys`: the wallet keys (mnemonics) the CLI signs with.

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use cosmwasm_std::Binary;
use ehr_client::ContractMsg;
use ehr_types::registry::ExecuteMsg as RegistryMsg;
use serde::{Deserialize, Serialize};

use crate::args::read_file;
use crate::context::{key_scope, Cx};
use crate::output::{lines, output, Output, Render};

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

/// A key of the client home.
#[derive(Serialize)]
struct KeyEntry {
    name: String,
    address: String,
}

/// `keys import`.
#[derive(Serialize)]
#[serde(transparent)]
struct Imported(KeyEntry);

impl Render for Imported {
    fn human(&self) -> String {
        format!("imported {}: {}", self.0.name, self.0.address)
    }
}

/// `keys localnet`.
#[derive(Serialize)]
#[serde(transparent)]
struct LocalnetImported(Vec<KeyEntry>);

impl Render for LocalnetImported {
    fn human(&self) -> String {
        lines(
            &self.0,
            |k| format!("imported {}: {}  (TEST-ONLY key)", k.name, k.address),
            "the localnet lists no accounts",
        )
    }
}

/// `keys list`.
#[derive(Serialize)]
#[serde(transparent)]
struct KeyList(Vec<KeyEntry>);

impl Render for KeyList {
    fn human(&self) -> String {
        lines(
            &self.0,
            |k| format!("{:<12} {}", k.name, k.address),
            "no keys imported",
        )
    }
}

#[derive(Serialize)]
struct KeyShown {
    name: String,
    address: String,
    /// X25519, base64.
    encryption_key: String,
}

impl Render for KeyShown {
    fn human(&self) -> String {
        format!(
            "{}\n  address         {}\n  encryption key  {} (X25519, derived from the wallet)",
            self.name, self.address, self.encryption_key
        )
    }
}

#[derive(Serialize)]
struct KeyPublished {
    address: String,
    tx: String,
}

impl Render for KeyPublished {
    fn human(&self) -> String {
        format!(
            "published the encryption key of {}  tx {}",
            self.address, self.tx
        )
    }
}

/// chain/localnet-accounts.json, as far as the CLI reads it.
#[derive(Deserialize)]
struct LocalnetAccounts {
    accounts: Vec<LocalnetAccount>,
}

#[derive(Deserialize)]
struct LocalnetAccount {
    name: String,
    mnemonic: String,
}

pub async fn run(cx: &mut Cx, cmd: KeysCmd) -> Result<Output> {
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
            output(Imported(KeyEntry { name, address }))
        }
        KeysCmd::Localnet => {
            let (_, _, accounts) = cx.chain()?;
            let path = accounts.ok_or_else(|| anyhow!("deploy.json names no accounts_file"))?;
            let file: LocalnetAccounts = serde_json::from_slice(&read_file(&path)?)
                .with_context(|| format!("{} is not a localnet accounts file", path.display()))?;
            let imported = file
                .accounts
                .into_iter()
                .map(|account| {
                    let address = store.import(&account.name, &account.mnemonic)?;
                    Ok(KeyEntry {
                        name: account.name,
                        address,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            output(LocalnetImported(imported))
        }
        KeysCmd::List => output(KeyList(
            store
                .list()?
                .into_iter()
                .map(|(name, address)| KeyEntry { name, address })
                .collect(),
        )),
        KeysCmd::Show { name } => {
            let (chain, _, _) = cx.chain()?;
            let identity = store.load(&name, &key_scope(&chain))?;
            output(KeyShown {
                encryption_key: identity.public_encryption_key().to_base64(),
                address: identity.address,
                name,
            })
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
            output(KeyPublished {
                address: ehr.identity.address,
                tx: tx.hash,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_without_a_mnemonic_is_refused_not_skipped() {
        let file =
            br#"{"accounts": [{"name": "admin", "address": "wasm1a", "balance": "1stake"}]}"#;
        assert!(serde_json::from_slice::<LocalnetAccounts>(file).is_err());
    }

    #[test]
    fn keys_list_as_name_and_address() {
        let list = KeyList(vec![KeyEntry {
            name: "doctor1".into(),
            address: "wasm1d".into(),
        }]);
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::json!([{"name": "doctor1", "address": "wasm1d"}])
        );
        assert_eq!(list.human(), "doctor1      wasm1d");
        assert_eq!(KeyList(vec![]).human(), "no keys imported");
    }
}
