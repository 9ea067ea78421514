//! One error type for the client. Variants say what went wrong and what to do about it; the
//! contract's own error text is kept verbatim so a user sees the rule that refused them.

use ehr_types::error_code::{self, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No endpoint answered; `tried` says "url: why" for each, in the order tried.
    #[error("node down: no CometBFT RPC endpoint answers ({}); is the localnet running? (scripts/localnet status)", .tried.join("; "))]
    NodeDown { tried: Vec<String> },

    #[error("RPC error: {0}")]
    Rpc(String),

    #[error(
        "out of gas: the transaction needed more than the {gas_wanted} gas it was given ({log})"
    )]
    OutOfGas { gas_wanted: u64, log: String },

    /// The text names the refused action ("unauthorized: …").
    #[error("{0}")]
    Unauthorized(String),

    /// The text says what was not found.
    #[error("{0}")]
    NotFound(String),

    /// The text says which record already holds the ciphertext.
    #[error("{0}")]
    DuplicateBlob(String),

    #[error("account {address} does not exist on chain (no funds were ever sent to it)")]
    AccountNotFound { address: String },

    #[error("account sequence mismatch: {0}")]
    WrongSequence(String),

    /// A just-restarted node simulates against a state without a block time until its next block.
    #[error("the node is not ready to simulate yet (just restarted): {0}")]
    NodeNotReady(String),

    #[error("the contract refused the message: {0}")]
    Contract(String),

    #[error("transaction {hash} failed with code {code} ({codespace}): {log}")]
    TxFailed {
        hash: String,
        code: u32,
        codespace: String,
        log: String,
    },

    #[error("transaction {hash} was not committed within {waited_ms} ms")]
    CommitTimeout { hash: String, waited_ms: u64 },

    #[error("storage: {0}")]
    Storage(String),

    #[error("integrity check failed for {uri}: the chain says sha256 {expected}, the stored blob hashes to {found}")]
    IntegrityMismatch {
        uri: String,
        expected: String,
        found: String,
    },

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error(transparent)]
    Crypto(#[from] ehr_crypto::CryptoError),

    #[error("encoding: {0}")]
    Encoding(String),

    /// The wallet derived another encryption key than the one registered on chain.
    #[error("{0}")]
    KeyMismatch(String),

    /// An emergency doctor's key for this file comes from the trustees, and not enough have
    /// released their shares yet.
    #[error("waiting for the trustees: {released} of the {needed} key shares of {category} epoch {epoch} are released so far (the trustees' agents release them while your emergency access is active)")]
    AwaitingTrustees {
        category: &'static str,
        epoch: u32,
        released: usize,
        needed: u8,
    },

    /// Another writer's version or key rotation landed between this writer's read and its write.
    #[error("{0}")]
    WriteRace(String),
}

pub type Result<T> = std::result::Result<T, ClientError>;

impl ClientError {
    /// Classifies a failed query or transaction by the code of the contract error in its text
    /// (ehr_types::error_code, docs/contracts.md, Error codes); a text without one is the SDK's.
    pub fn from_contract_log(log: &str) -> ClientError {
        ClientError::from_abci(None, log)
    }

    /// Like `from_contract_log`, with the codespace and code the node reported the failure with.
    pub fn from_abci(sdk_code: Option<(&str, u32)>, log: &str) -> ClientError {
        let Some(coded) = error_code::parse(log) else {
            return sdk_error(sdk_code, log);
        };
        let detail = strip_trailer(coded.rest).to_string();
        match coded.code {
            ErrorCode::VersionConflict
            | ErrorCode::WrongKeyEpoch
            | ErrorCode::StaleKeyEpoch
            | ErrorCode::EpochMismatch
            | ErrorCode::HolderLeftOut
            | ErrorCode::RecipientNotEntitled => ClientError::WriteRace(detail),
            ErrorCode::Unauthorized | ErrorCode::NotCredentialed => {
                ClientError::Unauthorized(detail)
            }
            ErrorCode::NotFound => ClientError::NotFound(detail),
            ErrorCode::DuplicateBlob => ClientError::DuplicateBlob(detail),
            // People read local times, not the chain's seconds and nanoseconds.
            ErrorCode::EmergencyTooSoon => match coded.number("until") {
                Some(until) => ClientError::Contract(format!(
                    "your last emergency window for patient {} runs until {}: a new one may be declared from then on",
                    coded.field("patient").unwrap_or("?"),
                    crate::directory::local_time(cosmwasm_std::Timestamp::from_nanos(until))
                )),
                None => ClientError::Contract(detail),
            },
            ErrorCode::RecoveryWaiting => match coded.number("not_before") {
                Some(not_before) => ClientError::Contract(format!(
                    "the recovery request may be approved from {} on (the patient's wallet can cancel until then)",
                    crate::directory::local_time(cosmwasm_std::Timestamp::from_nanos(not_before))
                )),
                None => ClientError::Contract(detail),
            },
            _ => ClientError::Contract(detail),
        }
    }

    /// Whether the write lost a race with another writer: reading again, sealing again and
    /// sending once more may succeed (the same bytes again would not).
    pub fn is_write_race(&self) -> bool {
        matches!(self, ClientError::WriteRace(_))
    }

    /// Whether a retry of the same operation may succeed (the node or the mempool was the problem).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::NodeDown { .. }
                | ClientError::WrongSequence(_)
                | ClientError::NodeNotReady(_)
                | ClientError::CommitTimeout { .. }
        )
    }
}

/// Failures that are not our contracts' and so carry no ehr code: the Cosmos SDK's and the
/// node's own. Where the node reports an SDK code we go by it; the simulate service reports every
/// failure as gRPC "Unknown" with the SDK's text only, so those few are known by their text.
fn sdk_error(sdk_code: Option<(&str, u32)>, log: &str) -> ClientError {
    let detail = contract_message(log);
    match sdk_code {
        Some(("sdk", 11)) => {
            return ClientError::OutOfGas {
                gas_wanted: 0,
                log: log.to_string(),
            }
        }
        Some(("sdk", 32)) => return ClientError::WrongSequence(detail),
        // ErrKeyNotFound: what a gRPC query's NotFound becomes (an account never funded).
        Some(("sdk", 22)) => return ClientError::NotFound(detail),
        _ => {}
    }
    let lower = log.to_ascii_lowercase();
    if lower.contains("out of gas") {
        ClientError::OutOfGas {
            gas_wanted: 0,
            log: log.to_string(),
        }
    } else if lower.contains("account sequence mismatch") {
        ClientError::WrongSequence(detail)
    } else if lower.contains("block (unix) time must never be empty") {
        // A just-restarted node simulates against a state without a block time (a recovered panic).
        ClientError::NodeNotReady(detail)
    } else if log.contains("code = NotFound") {
        // A gRPC query's own status code, when the node passes it on as text.
        ClientError::NotFound(detail)
    } else {
        ClientError::Contract(detail)
    }
}

/// The SDK's sentence out of its wrapping, e.g.
/// "failed to execute message; message index: 0: account sequence mismatch, …: execute wasm contract failed"
/// → "account sequence mismatch, …".
fn contract_message(log: &str) -> String {
    // A recovered panic carries its Go stack after "stack:"; the first line says what happened.
    let mut text = log.split("\nstack:").next().unwrap_or(log).trim();
    if let Some(at) = text.find("message index: ") {
        let rest = &text[at + "message index: ".len()..];
        text = rest.split_once(": ").map_or(rest, |(_, tail)| tail);
    }
    strip_trailer(text).to_string()
}

/// Cuts what wasmd appends after a contract's text: where it failed, gas used, the SDK's class.
fn strip_trailer(mut text: &str) -> &str {
    for marker in [
        ": execute wasm contract failed",
        ": query wasm contract failed",
    ] {
        if let Some(at) = text.find(marker) {
            text = &text[..at];
        }
    }
    text.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every contract error of both contracts goes through `from_contract_log` in
    // ehr-testing/tests/error_codes.rs; these are the wrappings and the SDK's own errors.
    #[test]
    fn contract_errors_are_classified_by_code_and_unwrapped() {
        let log = "failed to execute message; message index: 0: [ehr:unauthorized] unauthorized: add record: execute wasm contract failed";
        match ClientError::from_contract_log(log) {
            ClientError::Unauthorized(detail) => assert_eq!(detail, "unauthorized: add record"),
            other => panic!("unexpected {other:?}"),
        }
        match ClientError::from_contract_log(
            "[ehr:not_found record=9] record 9 not found: query wasm contract failed: unknown request",
        ) {
            ClientError::NotFound(detail) => assert_eq!(detail, "record 9 not found"),
            other => panic!("unexpected {other:?}"),
        }
        let log = "failed to execute message; message index: 0: [ehr:unauthorized] unauthorized: delete patient: execute wasm contract failed [CosmWasm/wasmd@v0.61.14/x/wasm/keeper/keeper.go:452] with gas used: '112773': unknown request";
        assert_eq!(
            ClientError::from_contract_log(log).to_string(),
            "unauthorized: delete patient"
        );
        // A reworded sentence with the same code is still a write race.
        assert!(ClientError::from_contract_log(
            "failed to execute message; message index: 1: [ehr:wrong_key_epoch category=lab epoch=1 current=2] anything at all: execute wasm contract failed"
        )
        .is_write_race());
        // Caller input that imitates a tag comes after the contract's own.
        assert!(matches!(
            ClientError::from_contract_log(
                "[ehr:invalid_address] invalid address: [ehr:version_conflict base=1 current=2]"
            ),
            ClientError::Contract(_)
        ));
    }

    #[test]
    fn the_sdks_errors_go_by_their_codes_or_known_texts() {
        let restarted = "rpc error: code = Unknown desc = recovered: Block (unix) time must never be empty or negative \nstack:\nreflect.Value.call(...)";
        match ClientError::from_contract_log(restarted) {
            ClientError::NodeNotReady(detail) => assert!(!detail.contains("stack")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            ClientError::from_abci(Some(("sdk", 11)), "out of gas in location: WriteFlat"),
            ClientError::OutOfGas { .. }
        ));
        assert!(matches!(
            ClientError::from_contract_log(
                "rpc error: code = Unknown desc = out of gas in location: WriteFlat"
            ),
            ClientError::OutOfGas { .. }
        ));
        assert!(matches!(
            ClientError::from_contract_log("rpc error: code = Unknown desc = account sequence mismatch, expected 8, got 7: incorrect account sequence"),
            ClientError::WrongSequence(_)
        ));
        assert!(matches!(
            ClientError::from_abci(
                Some(("sdk", 22)),
                "rpc error: code = NotFound desc = account wasm1x not found: key not found"
            ),
            ClientError::NotFound(_)
        ));
        assert!(matches!(
            ClientError::from_contract_log("something else"),
            ClientError::Contract(_)
        ));
    }
}
