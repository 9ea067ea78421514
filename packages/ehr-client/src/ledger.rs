//! Everything the chain holds, read in full over the same RPC endpoints: every committed
//! transaction (CometBFT `tx_search`, every page) and every contract's raw key-value state (wasm
//! `AllContractState`, every page). For audits that must see all of it, such as the plaintext scan
//! (tests/plaintext_scan.rs).

use cosmrs::proto::cosmos::base::query::v1beta1::{PageRequest, PageResponse};
use cosmrs::proto::cosmwasm::wasm::v1::{
    QueryAllContractStateRequest, QueryAllContractStateResponse, QueryCodesRequest,
    QueryCodesResponse, QueryContractsByCodeRequest, QueryContractsByCodeResponse,
};
use cosmrs::proto::prost::Message;
use cosmrs::rpc::query::Query;
use cosmrs::rpc::{Client, Order};

use crate::chain::ChainClient;
use crate::error::{ClientError, Result};

/// CometBFT's largest `tx_search` page.
const TX_PAGE: u8 = 100;
/// Entries asked for per page of a wasm listing query.
const STATE_PAGE: u64 = 1_000;

/// A committed transaction as the node stores it, failed ones included.
#[derive(Debug, Clone)]
pub struct CommittedTx {
    pub hash: String,
    pub height: u64,
    /// The transaction's bytes as broadcast (protobuf `TxRaw`).
    pub bytes: Vec<u8>,
    pub code: u32,
    pub log: String,
    pub data: Vec<u8>,
    pub events: Vec<TxEvent>,
}

/// An event of a transaction's result, its attributes as bytes.
#[derive(Debug, Clone)]
pub struct TxEvent {
    pub kind: String,
    /// (key, value) in order.
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One entry of a contract's storage, as stored.
#[derive(Debug, Clone)]
pub struct StateEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl ChainClient {
    /// Every committed transaction, oldest first, `tx_search` page by page up to the last page.
    pub async fn committed_txs(&self) -> Result<Vec<CommittedTx>> {
        let mut txs = Vec::new();
        for page in 1.. {
            let found = self
                .request(|rpc| async move {
                    rpc.tx_search(
                        Query::gte("tx.height", 1u64),
                        false,
                        page,
                        TX_PAGE,
                        Order::Ascending,
                    )
                    .await
                })
                .await?
                .answer
                .map_err(|e| ClientError::Rpc(e.to_string()))?;
            let last = found.txs.len() < usize::from(TX_PAGE)
                || txs.len() + found.txs.len() >= found.total_count as usize;
            txs.extend(found.txs.into_iter().map(|tx| {
                CommittedTx {
                    hash: tx.hash.to_string(),
                    height: tx.height.value(),
                    bytes: tx.tx,
                    code: tx.tx_result.code.value(),
                    log: tx.tx_result.log,
                    data: tx.tx_result.data.to_vec(),
                    events: tx
                        .tx_result
                        .events
                        .into_iter()
                        .map(|event| TxEvent {
                            attributes: event
                                .attributes
                                .iter()
                                .map(|a| (a.key_bytes().to_vec(), a.value_bytes().to_vec()))
                                .collect(),
                            kind: event.kind,
                        })
                        .collect(),
                }
            }));
            if last {
                break;
            }
        }
        Ok(txs)
    }

    /// The address of every contract on the chain, of every stored code.
    pub async fn all_contracts(&self) -> Result<Vec<String>> {
        let codes = self
            .all_pages(
                "/cosmwasm.wasm.v1.Query/Codes",
                |pagination| QueryCodesRequest { pagination },
                |response: QueryCodesResponse| {
                    let codes = response.code_infos.iter().map(|c| c.code_id).collect();
                    (codes, response.pagination)
                },
            )
            .await?;
        let mut contracts = Vec::new();
        for code_id in codes {
            contracts.extend(
                self.all_pages(
                    "/cosmwasm.wasm.v1.Query/ContractsByCode",
                    |pagination| QueryContractsByCodeRequest {
                        code_id,
                        pagination,
                    },
                    |response: QueryContractsByCodeResponse| {
                        (response.contracts, response.pagination)
                    },
                )
                .await?,
            );
        }
        Ok(contracts)
    }

    /// A contract's whole storage, every entry as stored.
    pub async fn raw_contract_state(&self, contract: &str) -> Result<Vec<StateEntry>> {
        self.all_pages(
            "/cosmwasm.wasm.v1.Query/AllContractState",
            |pagination| QueryAllContractStateRequest {
                address: contract.to_string(),
                pagination,
            },
            |response: QueryAllContractStateResponse| {
                let entries = response
                    .models
                    .into_iter()
                    .map(|m| StateEntry {
                        key: m.key,
                        value: m.value,
                    })
                    .collect();
                (entries, response.pagination)
            },
        )
        .await
    }

    /// Every item of a paged gRPC query over `abci_query`, following `next_key` to the end.
    async fn all_pages<Req: Message, Resp: Message + Default, T>(
        &self,
        path: &str,
        request: impl Fn(Option<PageRequest>) -> Req,
        items: impl Fn(Resp) -> (Vec<T>, Option<PageResponse>),
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut key = Vec::new();
        loop {
            let page = PageRequest {
                key: std::mem::take(&mut key),
                offset: 0,
                limit: STATE_PAGE,
                count_total: false,
                reverse: false,
            };
            let value = self
                .abci_query(path, request(Some(page)).encode_to_vec())
                .await?;
            let response = Resp::decode(value.as_slice())
                .map_err(|e| ClientError::Encoding(format!("{path}: {e}")))?;
            let (page_items, pagination) = items(response);
            all.extend(page_items);
            match pagination {
                Some(next) if !next.next_key.is_empty() => key = next.next_key,
                _ => return Ok(all),
            }
        }
    }
}
