//! One error type for the client. Variants say what went wrong and what to do about it; the
//! contract's own error text is kept verbatim so a user sees the rule that refused them.

use ehr_types::{PatientId, RecordId};

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

    #[error(
        "this ciphertext is already registered for patient {patient_id} as record {record_id}"
    )]
    DuplicateBlob {
        patient_id: PatientId,
        record_id: RecordId,
    },

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
    /// Classifies a failed query or transaction by the contract's error text (ehr-registry and
    /// ehr-access use fixed phrases: "unauthorized: …", "… not found", "… already registered …").
    pub fn from_contract_log(log: &str) -> ClientError {
        let lower = log.to_ascii_lowercase();
        let detail = contract_message(log);
        if lower.contains("out of gas") {
            ClientError::OutOfGas {
                gas_wanted: 0,
                log: log.to_string(),
            }
        } else if lower.contains("unauthorized") || lower.contains("not a credentialed doctor") {
            ClientError::Unauthorized(detail)
        } else if lower.contains("not found")
            || lower.contains("no current patient")
            || lower.contains("no grant of")
            || lower.contains("no record of")
        {
            ClientError::NotFound(detail)
        } else if lower.contains("block (unix) time must never be empty") {
            ClientError::NodeNotReady(detail)
        } else if lower.contains("version conflict:")
            || lower.contains("is written under key epoch")
            || lower.contains("cannot be opened: the next epoch is")
        {
            ClientError::WriteRace(detail)
        } else if lower.contains("account sequence mismatch") {
            ClientError::WrongSequence(detail)
        } else {
            ClientError::Contract(detail)
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

/// The contract's own sentence out of the SDK's wrapping, e.g.
/// "failed to execute message; message index: 0: unauthorized: add record: execute wasm contract failed"
/// → "unauthorized: add record".
fn contract_message(log: &str) -> String {
    // A recovered panic carries its Go stack after "stack:"; the first line says what happened.
    let mut text = log.split("\nstack:").next().unwrap_or(log).trim();
    if let Some(at) = text.find("message index: ") {
        let rest = &text[at + "message index: ".len()..];
        text = rest.split_once(": ").map_or(rest, |(_, tail)| tail);
    }
    // wasmd appends where it failed, gas used and the SDK's error class after these markers.
    for marker in [
        ": execute wasm contract failed",
        ": query wasm contract failed",
    ] {
        if let Some(at) = text.find(marker) {
            text = &text[..at];
        }
    }
    let text = text.strip_prefix("Generic error: ").unwrap_or(text);
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_errors_are_classified_and_unwrapped() {
        let log = "failed to execute message; message index: 0: unauthorized: add record: execute wasm contract failed";
        match ClientError::from_contract_log(log) {
            ClientError::Unauthorized(detail) => assert_eq!(detail, "unauthorized: add record"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            ClientError::from_contract_log("failed to execute message; message index: 0: patient 9 not found: execute wasm contract failed"),
            ClientError::NotFound(_)
        ));
        match ClientError::from_contract_log(
            "record 9 not found: query wasm contract failed: unknown request",
        ) {
            ClientError::NotFound(detail) => assert_eq!(detail, "record 9 not found"),
            other => panic!("unexpected {other:?}"),
        }
        let log = "failed to execute message; message index: 0: unauthorized: delete patient: execute wasm contract failed [CosmWasm/wasmd@v0.61.14/x/wasm/keeper/keeper.go:452] with gas used: '112773': unknown request";
        assert_eq!(
            ClientError::from_contract_log(log).to_string(),
            "unauthorized: delete patient"
        );
        assert!(matches!(
            ClientError::from_contract_log("no record of patient 1 has sha256 faa5: query wasm contract failed: unknown request"),
            ClientError::NotFound(_)
        ));
        let restarted = "rpc error: code = Unknown desc = recovered: Block (unix) time must never be empty or negative \nstack:\nreflect.Value.call(...)";
        match ClientError::from_contract_log(restarted) {
            ClientError::NodeNotReady(detail) => assert!(!detail.contains("stack")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            ClientError::from_contract_log("out of gas in location: WriteFlat"),
            ClientError::OutOfGas { .. }
        ));
        let conflict = "failed to execute message; message index: 0: version conflict: the file is based on version 1, but the current version is 2: execute wasm contract failed";
        match ClientError::from_contract_log(conflict) {
            ClientError::WriteRace(detail) => assert_eq!(
                detail,
                "version conflict: the file is based on version 1, but the current version is 2"
            ),
            other => panic!("unexpected {other:?}"),
        }
        assert!(ClientError::from_contract_log(
            "failed to execute message; message index: 1: Lab is written under key epoch 2, not 1: execute wasm contract failed"
        )
        .is_write_race());
        assert!(ClientError::from_contract_log(
            "failed to execute message; message index: 0: key epoch 2 of Lab cannot be opened: the next epoch is 3: execute wasm contract failed"
        )
        .is_write_race());
        assert!(matches!(
            ClientError::from_contract_log("something else"),
            ClientError::Contract(_)
        ));
    }
}
