//! The chain side: ABCI queries over CometBFT RPC (contract state, account, simulate), signing,
//! gas from simulation with a margin, broadcast_tx_sync and a bounded wait for the commit.
//!
//! One [`Session`] per signing account keeps the next sequence number locally, so many
//! transactions can be in the mempool at once; a sequence mismatch (another client used the
//! account) re-reads the expected number from the node's error and re-signs.

use std::time::{Duration, Instant};

use cosmrs::cosmwasm::MsgExecuteContract;
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::crypto::PublicKey;
use cosmrs::proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountResponse,
};
use cosmrs::proto::cosmos::tx::v1beta1::{SimulateRequest, SimulateResponse};
use cosmrs::proto::cosmwasm::wasm::v1::{
    QuerySmartContractStateRequest, QuerySmartContractStateResponse,
};
use cosmrs::proto::prost::Message;
use cosmrs::rpc::{Client, HttpClient, HttpClientUrl};
use cosmrs::tx::{Body, Fee, Msg, SignDoc, SignerInfo};
use cosmrs::{AccountId, Any, Coin};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::error::{ClientError, Result};

/// Where the chain is and which contracts to talk to (from `.localnet/deploy.json`).
#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub chain_id: String,
    pub rpc_url: String,
    pub registry: String,
    pub access: String,
    pub bech32_prefix: String,
    pub denom: String,
    /// Fee per unit of gas in `denom` (the localnet's minimum is 0).
    pub gas_price: f64,
    /// Simulated gas is multiplied by this before signing.
    pub gas_adjustment: f64,
    /// How long to wait for a broadcast transaction to be committed.
    pub commit_timeout: Duration,
}

/// Which contract a message is for.
#[derive(Debug, Clone)]
pub enum ContractMsg {
    Registry(ehr_types::registry::ExecuteMsg),
    Access(ehr_types::access::ExecuteMsg),
}

/// A committed transaction.
#[derive(Debug, Clone)]
pub struct TxOutcome {
    pub hash: String,
    pub height: u64,
    pub gas_wanted: u64,
    pub gas_used: u64,
    /// `wasm` events in order: (emitting contract, attributes).
    pub wasm_events: Vec<(String, Vec<(String, String)>)>,
    /// From broadcast to seeing the commit.
    pub latency: Duration,
}

impl TxOutcome {
    /// Values of `key` in the wasm events the contract at `contract` emitted, in order.
    pub fn attribute_values(&self, contract: &str, key: &str) -> Vec<String> {
        self.wasm_events
            .iter()
            .filter(|(emitter, _)| emitter == contract)
            .flat_map(|(_, attrs)| {
                attrs
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }
}

/// A transaction accepted into the mempool, not yet committed.
#[derive(Debug, Clone)]
pub struct PendingTx {
    pub hash: String,
    pub gas_wanted: u64,
    pub submitted: Instant,
}

/// Read-only access to the chain.
#[derive(Clone)]
pub struct ChainClient {
    rpc: HttpClient,
    pub config: ChainConfig,
}

impl ChainClient {
    pub fn new(config: ChainConfig) -> Result<Self> {
        let url: HttpClientUrl = config
            .rpc_url
            .parse()
            .map_err(|e| ClientError::InvalidInput(format!("RPC url {}: {e}", config.rpc_url)))?;
        let rpc = HttpClient::builder(url)
            .compat_mode(cosmrs::rpc::client::CompatMode::V0_38)
            .build()
            .map_err(|e| ClientError::InvalidInput(format!("RPC url {}: {e}", config.rpc_url)))?;
        Ok(Self { rpc, config })
    }

    fn node_down(&self, error: impl std::fmt::Display) -> ClientError {
        let reason = error.to_string();
        if reason.contains("onnection refused")
            || reason.contains("error trying to connect")
            || reason.contains("dns error")
        {
            ClientError::NodeDown {
                url: self.config.rpc_url.clone(),
                reason,
            }
        } else {
            ClientError::Rpc(reason)
        }
    }

    /// `abci_query` with a gRPC method path; a non-zero code carries the module's error text.
    async fn abci_query(&self, path: &str, request: Vec<u8>) -> Result<Vec<u8>> {
        let response = self
            .rpc
            .abci_query(Some(path.to_string()), request, None, false)
            .await
            .map_err(|e| self.node_down(e))?;
        if response.code.is_err() {
            return Err(ClientError::from_contract_log(&response.log));
        }
        Ok(response.value)
    }

    pub async fn latest_height(&self) -> Result<u64> {
        let status = self.rpc.status().await.map_err(|e| self.node_down(e))?;
        Ok(status.sync_info.latest_block_height.value())
    }

    /// A contract's smart query, JSON in and out.
    pub async fn query_contract<T: DeserializeOwned>(
        &self,
        contract: &str,
        query: &impl Serialize,
    ) -> Result<T> {
        let request = QuerySmartContractStateRequest {
            address: contract.to_string(),
            query_data: serde_json::to_vec(query)
                .map_err(|e| ClientError::Encoding(e.to_string()))?,
        };
        let value = self
            .abci_query(
                "/cosmwasm.wasm.v1.Query/SmartContractState",
                request.encode_to_vec(),
            )
            .await?;
        let response = QuerySmartContractStateResponse::decode(value.as_slice())
            .map_err(|e| ClientError::Encoding(e.to_string()))?;
        serde_json::from_slice(&response.data)
            .map_err(|e| ClientError::Encoding(format!("contract answer: {e}")))
    }

    pub async fn registry<T: DeserializeOwned>(
        &self,
        query: &ehr_types::registry::QueryMsg,
    ) -> Result<T> {
        self.query_contract(&self.config.registry, query).await
    }

    pub async fn access<T: DeserializeOwned>(
        &self,
        query: &ehr_types::access::QueryMsg,
    ) -> Result<T> {
        self.query_contract(&self.config.access, query).await
    }

    /// (account number, committed sequence) of an address.
    pub async fn account(&self, address: &str) -> Result<(u64, u64)> {
        let request = QueryAccountRequest {
            address: address.to_string(),
        };
        let value = match self
            .abci_query(
                "/cosmos.auth.v1beta1.Query/Account",
                request.encode_to_vec(),
            )
            .await
        {
            Err(ClientError::NotFound(_)) => {
                return Err(ClientError::AccountNotFound {
                    address: address.to_string(),
                })
            }
            other => other?,
        };
        let response = QueryAccountResponse::decode(value.as_slice())
            .map_err(|e| ClientError::Encoding(e.to_string()))?;
        let any = response
            .account
            .ok_or_else(|| ClientError::AccountNotFound {
                address: address.to_string(),
            })?;
        let account = BaseAccount::decode(any.value.as_slice())
            .map_err(|e| ClientError::Encoding(format!("account {}: {e}", any.type_url)))?;
        Ok((account.account_number, account.sequence))
    }

    /// Gas the transaction would use now.
    pub async fn simulate(&self, tx_bytes: Vec<u8>) -> Result<u64> {
        #[allow(deprecated)] // `tx` is the deprecated alternative to `tx_bytes`
        let request = SimulateRequest { tx: None, tx_bytes };
        let value = self
            .abci_query(
                "/cosmos.tx.v1beta1.Service/Simulate",
                request.encode_to_vec(),
            )
            .await?;
        let response = SimulateResponse::decode(value.as_slice())
            .map_err(|e| ClientError::Encoding(e.to_string()))?;
        Ok(response.gas_info.map(|g| g.gas_used).unwrap_or_default())
    }

    /// broadcast_tx_sync: only CheckTx's `code` and the hash are relied on (the `data` field of
    /// the sync response may not decode with every node version).
    pub async fn broadcast(
        &self,
        tx_bytes: Vec<u8>,
    ) -> Result<std::result::Result<String, (u32, String, String)>> {
        let response = self
            .rpc
            .broadcast_tx_sync(tx_bytes)
            .await
            .map_err(|e| self.node_down(e))?;
        if response.code.is_err() {
            return Ok(Err((
                response.code.value(),
                response.codespace,
                response.log,
            )));
        }
        Ok(Ok(response.hash.to_string()))
    }

    /// Polls for the transaction until it is committed or `timeout` passes.
    pub async fn wait_for_commit(
        &self,
        pending: &PendingTx,
        timeout: Duration,
    ) -> Result<TxOutcome> {
        let hash: cosmrs::tendermint::Hash = pending
            .hash
            .parse()
            .map_err(|e| ClientError::InvalidInput(format!("tx hash {}: {e}", pending.hash)))?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.rpc.tx(hash, false).await {
                Ok(found) => {
                    let result = found.tx_result;
                    let gas_wanted = u64::try_from(result.gas_wanted).unwrap_or_default();
                    if result.code.is_err() {
                        return Err(tx_failure(
                            &pending.hash,
                            result.code.value(),
                            &result.codespace,
                            &result.log,
                            gas_wanted,
                        ));
                    }
                    let wasm_events = result
                        .events
                        .iter()
                        .filter(|event| event.kind == "wasm")
                        .map(|event| {
                            let attrs: Vec<(String, String)> = event
                                .attributes
                                .iter()
                                .filter_map(|a| {
                                    Some((
                                        a.key_str().ok()?.to_string(),
                                        a.value_str().ok()?.to_string(),
                                    ))
                                })
                                .collect();
                            let emitter = attrs
                                .iter()
                                .find(|(k, _)| k == "_contract_address")
                                .map(|(_, v)| v.clone())
                                .unwrap_or_default();
                            (emitter, attrs)
                        })
                        .collect();
                    return Ok(TxOutcome {
                        hash: pending.hash.clone(),
                        height: found.height.value(),
                        gas_wanted,
                        gas_used: u64::try_from(result.gas_used).unwrap_or_default(),
                        wasm_events,
                        latency: pending.submitted.elapsed(),
                    });
                }
                Err(error) => {
                    let text = error.to_string();
                    if !text.contains("not found") {
                        return Err(self.node_down(text));
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::CommitTimeout {
                    hash: pending.hash.clone(),
                    waited_ms: timeout.as_millis() as u64,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn tx_failure(hash: &str, code: u32, codespace: &str, log: &str, gas_wanted: u64) -> ClientError {
    match (codespace, code) {
        ("sdk", 11) => ClientError::OutOfGas {
            gas_wanted,
            log: log.to_string(),
        },
        ("sdk", 32) => ClientError::WrongSequence(log.to_string()),
        ("sdk", 5) | ("sdk", 13) => ClientError::TxFailed {
            hash: hash.to_string(),
            code,
            codespace: codespace.to_string(),
            log: log.to_string(),
        },
        _ => match ClientError::from_contract_log(log) {
            ClientError::Contract(_) if codespace != "wasm" => ClientError::TxFailed {
                hash: hash.to_string(),
                code,
                codespace: codespace.to_string(),
                log: log.to_string(),
            },
            classified => classified,
        },
    }
}

/// The number the node expected, from "account sequence mismatch, expected 7, got 5: …".
fn expected_sequence(log: &str) -> Option<u64> {
    let rest = &log[log.find("expected ")? + "expected ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A secp256k1 account key.
pub struct Signer {
    key: SigningKey,
    public_key: PublicKey,
    pub address: AccountId,
}

impl Signer {
    pub fn from_wallet(wallet: &ehr_crypto::WalletKey, prefix: &str) -> Result<Self> {
        let key = SigningKey::from_slice(wallet.secret_bytes().as_slice())
            .map_err(|e| ClientError::InvalidInput(format!("signing key: {e}")))?;
        let public_key = key.public_key();
        let address = public_key
            .account_id(prefix)
            .map_err(|e| ClientError::InvalidInput(format!("address: {e}")))?;
        Ok(Self {
            key,
            public_key,
            address,
        })
    }
}

struct AccountState {
    number: u64,
    next_sequence: u64,
}

/// A signing account on a chain.
pub struct Session {
    pub chain: ChainClient,
    signer: Signer,
    account: Mutex<Option<AccountState>>,
}

/// Retries after a sequence mismatch or a node not ready to simulate.
const SEQUENCE_RETRIES: usize = 3;

impl Session {
    pub fn new(chain: ChainClient, signer: Signer) -> Self {
        Self {
            chain,
            signer,
            account: Mutex::new(None),
        }
    }

    pub fn address(&self) -> String {
        self.signer.address.to_string()
    }

    fn to_any(&self, msg: &ContractMsg) -> Result<Any> {
        let (contract, json) = match msg {
            ContractMsg::Registry(m) => (&self.chain.config.registry, serde_json::to_vec(m)),
            ContractMsg::Access(m) => (&self.chain.config.access, serde_json::to_vec(m)),
        };
        let execute = MsgExecuteContract {
            sender: self.signer.address.clone(),
            contract: contract.parse().map_err(|e| {
                ClientError::InvalidInput(format!("contract address {contract}: {e}"))
            })?,
            msg: json.map_err(|e| ClientError::Encoding(e.to_string()))?,
            funds: vec![],
        };
        execute
            .to_any()
            .map_err(|e| ClientError::Encoding(e.to_string()))
    }

    fn sign(&self, body: &Body, account: &AccountState, gas: u64) -> Result<Vec<u8>> {
        let fee_amount = (gas as f64 * self.chain.config.gas_price).ceil() as u128;
        let denom = self
            .chain
            .config
            .denom
            .parse()
            .map_err(|e| ClientError::InvalidInput(format!("denom: {e}")))?;
        let fee = Fee::from_amount_and_gas(
            Coin {
                denom,
                amount: fee_amount,
            },
            gas,
        );
        let auth_info = SignerInfo::single_direct(Some(self.public_key()), account.next_sequence)
            .auth_info(fee);
        let doc = SignDoc::new(
            body,
            &auth_info,
            &self
                .chain
                .config
                .chain_id
                .parse()
                .map_err(|e| ClientError::InvalidInput(format!("chain id: {e}")))?,
            account.number,
        )
        .map_err(|e| ClientError::Encoding(e.to_string()))?;
        doc.sign(&self.signer.key)
            .and_then(|raw| raw.to_bytes())
            .map_err(|e| ClientError::Encoding(e.to_string()))
    }

    fn public_key(&self) -> PublicKey {
        self.signer.public_key
    }

    /// Signs, simulates, sets gas with the margin, re-signs and broadcasts. Returns once the
    /// mempool accepted the transaction. A contract error found by simulation is returned
    /// without broadcasting, so refused input changes nothing.
    pub async fn submit(&self, msgs: &[ContractMsg]) -> Result<PendingTx> {
        self.submit_with_gas(msgs, None).await
    }

    /// As [`Session::submit`]; with `gas_limit` given, simulation is skipped (for batches whose
    /// gas is known from an earlier simulation of the same kind of messages: simulating every
    /// batch would make the node execute each one twice).
    pub async fn submit_with_gas(
        &self,
        msgs: &[ContractMsg],
        gas_limit: Option<u64>,
    ) -> Result<PendingTx> {
        if msgs.is_empty() {
            return Err(ClientError::InvalidInput(
                "a transaction needs at least one message".into(),
            ));
        }
        let anys = msgs
            .iter()
            .map(|m| self.to_any(m))
            .collect::<Result<Vec<_>>>()?;
        let body = Body::new(anys, "", 0u32);
        let mut guard = self.account.lock().await;
        for attempt in 0..=SEQUENCE_RETRIES {
            if guard.is_none() {
                let (number, sequence) = self.chain.account(&self.address()).await?;
                *guard = Some(AccountState {
                    number,
                    next_sequence: sequence,
                });
            }
            let account = guard.as_mut().expect("loaded above");
            let gas = match gas_limit {
                Some(gas) => gas,
                None => match self.chain.simulate(self.sign(&body, account, 0)?).await {
                    Err(ClientError::WrongSequence(log)) if attempt < SEQUENCE_RETRIES => {
                        self.resync(account, &log);
                        continue;
                    }
                    Err(ClientError::NodeNotReady(_)) if attempt < SEQUENCE_RETRIES => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    other => (other? as f64 * self.chain.config.gas_adjustment).ceil() as u64,
                },
            };
            let tx = self.sign(&body, account, gas)?;
            match self.chain.broadcast(tx).await? {
                Ok(hash) => {
                    account.next_sequence += 1;
                    return Ok(PendingTx {
                        hash,
                        gas_wanted: gas,
                        submitted: Instant::now(),
                    });
                }
                Err((32, codespace, log)) if codespace == "sdk" && attempt < SEQUENCE_RETRIES => {
                    self.resync(account, &log)
                }
                Err((code, codespace, log)) => {
                    return Err(tx_failure("(not committed)", code, &codespace, &log, gas))
                }
            }
        }
        Err(ClientError::WrongSequence(format!(
            "still mismatched after {SEQUENCE_RETRIES} retries"
        )))
    }

    fn resync(&self, account: &mut AccountState, log: &str) {
        if let Some(expected) = expected_sequence(log) {
            tracing::debug!(
                from = account.next_sequence,
                to = expected,
                "account sequence resynchronised"
            );
            account.next_sequence = expected;
        }
    }

    /// Forgets the local sequence so the next submit reads it from the chain (after a failed
    /// transaction that may not have consumed its sequence number).
    pub async fn reset_sequence(&self) {
        *self.account.lock().await = None;
    }

    /// Submit and wait for the commit.
    pub async fn execute(&self, msgs: &[ContractMsg]) -> Result<TxOutcome> {
        let pending = self.submit(msgs).await?;
        self.chain
            .wait_for_commit(&pending, self.chain.config.commit_timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_sequence_is_read_from_the_node_error() {
        assert_eq!(
            expected_sequence(
                "account sequence mismatch, expected 7, got 5: incorrect account sequence"
            ),
            Some(7)
        );
        assert_eq!(expected_sequence("something else"), None);
    }

    #[test]
    fn failures_are_typed_by_code_and_text() {
        assert!(matches!(
            tx_failure("h", 11, "sdk", "out of gas in location: x", 100),
            ClientError::OutOfGas {
                gas_wanted: 100,
                ..
            }
        ));
        assert!(matches!(
            tx_failure("h", 5, "wasm", "failed to execute message; message index: 0: unauthorized: add record: execute wasm contract failed", 1),
            ClientError::Unauthorized(_)
        ));
    }
}
