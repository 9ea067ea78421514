//! The chain side: ABCI queries over CometBFT RPC (contract state, account, simulate), signing,
//! gas from simulation with a margin, broadcast_tx_sync and a bounded wait for the commit.
//!
//! The client knows several RPC endpoints of the same chain and uses one at a time: a request the
//! endpoint in use does not answer (connection failure, or no answer within `rpc_timeout`) goes to
//! the next one; errors a node answers with (ABCI, contract) are returned as they are.
//!
//! One [`Session`] per signing account keeps the next sequence number locally, so many
//! transactions can be in the mempool at once; a sequence mismatch (another client used the
//! account) re-reads the expected number from the node's error and re-signs.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
use cosmrs::rpc::error::ErrorDetail;
use cosmrs::rpc::{Client, HttpClient, HttpClientUrl};
use cosmrs::tx::{Body, Fee, Msg, SignDoc, SignerInfo};
use cosmrs::{AccountId, Any, Coin};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::error::{ClientError, Result};

/// Where the chain is and which contracts to talk to (from `.localnet/deploy.json`).
#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub chain_id: String,
    /// CometBFT RPC endpoints of the chain, the preferred one first (at least one).
    pub rpc_urls: Vec<String>,
    /// How long one RPC request may take before its endpoint counts as not answering (a node
    /// whose network link is cut does not refuse, it just never answers).
    pub rpc_timeout: Duration,
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

struct Endpoint {
    url: String,
    rpc: HttpClient,
}

/// Told (endpoints that did not answer, the one now in use) when the client moves to another endpoint.
type FailoverNotice = Arc<dyn Fn(&[String], &str) + Send + Sync>;

/// A node's answer to a request, and whether endpoints tried before it did not answer.
pub(crate) struct Answer<T> {
    pub(crate) answer: std::result::Result<T, cosmrs::rpc::Error>,
    after_unanswered: bool,
}

/// Read-only access to the chain.
#[derive(Clone)]
pub struct ChainClient {
    endpoints: Arc<[Endpoint]>,
    /// The endpoint in use, shared by every clone: one failover serves them all.
    current: Arc<AtomicUsize>,
    notice: FailoverNotice,
    pub config: ChainConfig,
}

impl ChainClient {
    pub fn new(config: ChainConfig) -> Result<Self> {
        if config.rpc_urls.is_empty() {
            return Err(ClientError::InvalidInput("no RPC url".into()));
        }
        let endpoints = config
            .rpc_urls
            .iter()
            .map(|url| {
                let invalid = |e: cosmrs::rpc::Error| {
                    ClientError::InvalidInput(format!("RPC url {url}: {e}"))
                };
                let parsed: HttpClientUrl = url.parse().map_err(invalid)?;
                let rpc = HttpClient::builder(parsed)
                    .compat_mode(cosmrs::rpc::client::CompatMode::V0_38)
                    .timeout(config.rpc_timeout)
                    .build()
                    .map_err(invalid)?;
                Ok(Endpoint {
                    url: url.clone(),
                    rpc,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            endpoints: endpoints.into(),
            current: Arc::new(AtomicUsize::new(0)),
            notice: Arc::new(|unanswered, now| {
                tracing::warn!(?unanswered, now, "RPC endpoint failover")
            }),
            config,
        })
    }

    /// Replaces the default notice of a failover (a tracing warning), e.g. with a line for people.
    pub fn on_failover(mut self, notice: impl Fn(&[String], &str) + Send + Sync + 'static) -> Self {
        self.notice = Arc::new(notice);
        self
    }

    /// Sends `request` to the endpoint in use; when it does not answer, to the next one, each
    /// endpoint at most once. The first answer is returned, error answers included: only a
    /// missing answer is a reason to move on. All silent is [`ClientError::NodeDown`].
    pub(crate) async fn request<T, F, Fut>(&self, request: F) -> Result<Answer<T>>
    where
        F: Fn(HttpClient) -> Fut,
        Fut: Future<Output = std::result::Result<T, cosmrs::rpc::Error>>,
    {
        let start = self.current.load(Ordering::Acquire);
        let mut unanswered = Vec::new();
        for step in 0..self.endpoints.len() {
            let at = (start + step) % self.endpoints.len();
            let endpoint = &self.endpoints[at];
            match request(endpoint.rpc.clone()).await {
                Err(error) if is_unanswered(&error) => {
                    unanswered.push((endpoint.url.clone(), error.trace().root_cause().to_string()));
                }
                answer => {
                    // Concurrent requests that failed over together announce it once.
                    if at != start
                        && self
                            .current
                            .compare_exchange(start, at, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        let urls: Vec<String> =
                            unanswered.iter().map(|(url, _)| url.clone()).collect();
                        (self.notice)(&urls, &endpoint.url);
                    }
                    return Ok(Answer {
                        answer,
                        after_unanswered: !unanswered.is_empty(),
                    });
                }
            }
        }
        Err(ClientError::NodeDown {
            tried: unanswered
                .into_iter()
                .map(|(url, reason)| format!("{url}: {reason}"))
                .collect(),
        })
    }

    /// `abci_query` with a gRPC method path; a non-zero code carries the module's error text.
    pub(crate) async fn abci_query(&self, path: &str, request: Vec<u8>) -> Result<Vec<u8>> {
        let response = self
            .request(|rpc| {
                let request = request.clone();
                async move {
                    rpc.abci_query(Some(path.to_string()), request, None, false)
                        .await
                }
            })
            .await?
            .answer
            .map_err(rpc_error)?;
        if response.code.is_err() {
            return Err(ClientError::from_abci(
                Some((response.codespace.as_str(), response.code.value())),
                &response.log,
            ));
        }
        Ok(response.value)
    }

    pub async fn latest_height(&self) -> Result<u64> {
        let status = self
            .request(|rpc| async move { rpc.status().await })
            .await?
            .answer
            .map_err(rpc_error)?;
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
    /// the sync response may not decode with every node version). Fails over with the very same
    /// bytes, so the transaction keeps its hash and can commit at most once.
    pub async fn broadcast(
        &self,
        tx_bytes: Vec<u8>,
    ) -> Result<std::result::Result<String, (u32, String, String)>> {
        let hash = tx_hash(&tx_bytes);
        let sent = self
            .request(|rpc| {
                let tx_bytes = tx_bytes.clone();
                async move { rpc.broadcast_tx_sync(tx_bytes).await }
            })
            .await?;
        match sent.answer {
            Ok(response) if response.code.is_ok() => Ok(Ok(response.hash.to_string())),
            // An endpoint that did not answer may still have taken the transaction: then the next
            // node refuses these bytes as already seen (an RPC error) or, once they committed, by
            // their used sequence. Only the hash tells; signing anew could commit the write twice.
            Ok(response)
                if sent.after_unanswered
                    && response.codespace == "sdk"
                    && response.code.value() == 32 =>
            {
                Ok(Ok(hash))
            }
            Err(_) if sent.after_unanswered => Ok(Ok(hash)),
            Ok(response) => Ok(Err((
                response.code.value(),
                response.codespace,
                response.log,
            ))),
            Err(error) => Err(rpc_error(error)),
        }
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
            match self
                .request(|rpc| async move { rpc.tx(hash, false).await })
                .await?
                .answer
            {
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
                    // CometBFT's `tx` answers a hash it has not committed (yet) with an RPC error
                    // saying "not found", without a code; not a contract error.
                    let text = error.to_string();
                    if !text.contains("not found") {
                        return Err(ClientError::Rpc(text));
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

/// Whether the endpoint gave no answer: the HTTP layer failed (connection refused or reset, name
/// not resolved, timeout) or a gateway in front of the node reported it unavailable (502-504; a
/// node's own 500 is an answer). Everything else is the node's answer.
fn is_unanswered(error: &cosmrs::rpc::Error) -> bool {
    match error.detail() {
        ErrorDetail::Http(_) => true,
        ErrorDetail::HttpRequestFailed(failed) => matches!(failed.status.as_u16(), 502..=504),
        _ => false,
    }
}

/// An error the node answered with.
fn rpc_error(error: cosmrs::rpc::Error) -> ClientError {
    ClientError::Rpc(error.to_string())
}

/// CometBFT's transaction hash: sha256 of the bytes, upper-case hex.
fn tx_hash(tx_bytes: &[u8]) -> String {
    hex::encode_upper(Sha256::digest(tx_bytes))
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
        _ => match ClientError::from_abci(Some((codespace, code)), log) {
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A port that was bound and closed again: connecting is refused.
    async fn refused() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    /// Accepts connections and never answers, like a node whose link is cut. Counts them.
    async fn silent() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        (url, accepted)
    }

    /// Answers every JSON-RPC request with `result`. Counts the requests.
    async fn answering(result: &'static str) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while let Ok(n @ 1..) = socket.read(&mut buffer).await {
                        request.extend_from_slice(&buffer[..n]);
                        if complete(&request) {
                            count.fetch_add(1, Ordering::SeqCst);
                            let body = format!(r#"{{"jsonrpc":"2.0","id":0,"result":{result}}}"#);
                            let response = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            socket.write_all(response.as_bytes()).await.unwrap();
                            request.clear();
                        }
                    }
                });
            }
        });
        (url, served)
    }

    /// Whether an HTTP request (headers and a `content-length` body) has fully arrived.
    fn complete(request: &[u8]) -> bool {
        let text = String::from_utf8_lossy(request);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        body.len() >= length
    }

    const ABCI_OK: &str = r#"{"response":{"code":0,"log":"","info":"","index":"0","key":null,"value":"AQID","proofOps":null,"height":"5","codespace":""}}"#;
    const ABCI_REFUSED: &str = r#"{"response":{"code":5,"log":"[ehr:not_found patient=9] patient 9 not found: query wasm contract failed","info":"","index":"0","key":null,"value":null,"proofOps":null,"height":"5","codespace":"wasm"}}"#;
    const CHECK_TX_WRONG_SEQUENCE: &str = r#"{"code":32,"data":"","log":"account sequence mismatch, expected 8, got 7: incorrect account sequence","codespace":"sdk","hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;

    const TX_COMMITTED: &str = r#"{"hash":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855","height":"7","index":0,"tx_result":{"code":0,"data":null,"log":"","info":"","gas_wanted":"100","gas_used":"90","events":[],"codespace":""},"tx":"AQID"}"#;

    fn client(urls: &[&String]) -> (ChainClient, Arc<std::sync::Mutex<Vec<String>>>) {
        let notices = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = notices.clone();
        let chain = ChainClient::new(ChainConfig {
            chain_id: "test-1".into(),
            rpc_urls: urls.iter().map(|url| url.to_string()).collect(),
            rpc_timeout: Duration::from_millis(300),
            registry: String::new(),
            access: String::new(),
            bech32_prefix: "wasm".into(),
            denom: "stake".into(),
            gas_price: 0.0,
            gas_adjustment: 1.3,
            commit_timeout: Duration::from_secs(1),
        })
        .unwrap()
        .on_failover(move |unanswered, now| {
            seen.lock()
                .unwrap()
                .push(format!("{} -> {now}", unanswered.join(",")));
        });
        (chain, notices)
    }

    #[tokio::test]
    async fn a_request_moves_past_refusing_and_silent_endpoints_in_order_and_stays() {
        let refused = refused().await;
        let (silent, silent_hits) = silent().await;
        let (live, live_hits) = answering(ABCI_OK).await;
        let (chain, notices) = client(&[&refused, &silent, &live]);

        assert_eq!(chain.abci_query("/q", vec![]).await.unwrap(), vec![1, 2, 3]);
        assert_eq!(
            *notices.lock().unwrap(),
            vec![format!("{refused},{silent} -> {live}")]
        );
        // Clones share the endpoint in use: the next request goes straight to it, unannounced.
        assert_eq!(
            chain.clone().abci_query("/q", vec![]).await.unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(silent_hits.load(Ordering::SeqCst), 1);
        assert_eq!(live_hits.load(Ordering::SeqCst), 2);
        assert_eq!(notices.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn all_endpoints_down_is_node_down_naming_each_in_order() {
        let refused = refused().await;
        let (silent, silent_hits) = silent().await;
        let (chain, notices) = client(&[&refused, &silent]);
        let started = Instant::now();
        match chain.latest_height().await {
            Err(ClientError::NodeDown { tried }) => {
                assert_eq!(tried.len(), 2);
                assert!(tried[0].starts_with(&format!("{refused}: ")), "{tried:?}");
                assert!(tried[1].starts_with(&format!("{silent}: ")), "{tried:?}");
            }
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
        // Each endpoint once, the silent one for about the timeout.
        assert_eq!(silent_hits.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(notices.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_error_the_node_answers_with_is_no_reason_to_fail_over() {
        let (refusing, _) = answering(ABCI_REFUSED).await;
        let (other, other_hits) = answering(ABCI_OK).await;
        let (chain, notices) = client(&[&refusing, &other]);
        assert!(matches!(
            chain.abci_query("/q", vec![]).await,
            Err(ClientError::NotFound(_))
        ));
        assert_eq!(other_hits.load(Ordering::SeqCst), 0);
        assert!(notices.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_broadcast_nobody_answered_is_waited_for_by_hash_not_signed_again() {
        let tx = b"signed transaction bytes".to_vec();
        // The node answered: its refusal stands, so the session may resync and sign again.
        let (wrong_sequence, _) = answering(CHECK_TX_WRONG_SEQUENCE).await;
        let (chain, _) = client(&[&wrong_sequence]);
        assert!(matches!(
            chain.broadcast(tx.clone()).await.unwrap(),
            Err((32, _, _))
        ));
        // The first endpoint took the bytes and went silent: they may be in its mempool, and
        // the same refusal now means their sequence may be used by this very transaction.
        let (silent, _) = silent().await;
        let (wrong_sequence, resent) = answering(CHECK_TX_WRONG_SEQUENCE).await;
        let (chain, _) = client(&[&silent, &wrong_sequence]);
        assert_eq!(chain.broadcast(tx.clone()).await.unwrap(), Ok(tx_hash(&tx)));
        assert_eq!(resent.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn waiting_for_the_commit_fails_over_too() {
        let refused = refused().await;
        let (live, _) = answering(TX_COMMITTED).await;
        let (chain, notices) = client(&[&refused, &live]);
        let pending = PendingTx {
            hash: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855".into(),
            gas_wanted: 100,
            submitted: Instant::now(),
        };
        let outcome = chain
            .wait_for_commit(&pending, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!((outcome.height, outcome.gas_used), (7, 90));
        assert_eq!(notices.lock().unwrap().len(), 1);
    }

    #[test]
    fn tx_hash_is_cometbft_s() {
        assert_eq!(
            tx_hash(b""),
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        );
    }

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
            tx_failure("h", 5, "wasm", "failed to execute message; message index: 0: [ehr:unauthorized] unauthorized: add record: execute wasm contract failed", 1),
            ClientError::Unauthorized(_)
        ));
    }
}
