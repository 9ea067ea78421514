//! The plaintext scan of a chain a live test has filled (scripts/test-live and scripts/test-client run
//! it with `--ignored`). No plaintext marker may appear in any committed transaction (its bytes, its
//! decoded messages with every base64 field decoded, its memo, result log, data and events), in any
//! contract's raw state (keys, values, base64 fields of JSON values decoded), nor in any IPFS blob the
//! chain names; and every control (what the script knows it sent: hashes, locators, message names)
//! must be found, so that a scan which sees nothing fails instead of passing.
//! `stored_files_hold_no_plaintext` applies the same test to the raw files of a stopped node.
//!
//! Environment (a missing variable fails the test; it is never skipped):
//! - `EHR_SCAN_MARKERS`: a file of plaintext markers, one a line (tests/*/fixtures/secret-strings.txt);
//! - `EHR_SCAN_CONTROLS`: whitespace-separated strings the scanned data must contain;
//! - `EHR_SCAN_RPC`, `EHR_SCAN_IPFS_API`: the chain's CometBFT RPC and kubo's RPC API (the chain scan);
//! - `EHR_SCAN_DIR`: the directory whose files are scanned (the file scan).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use cosmrs::proto::cosmos::tx::v1beta1::{TxBody, TxRaw};
use cosmrs::proto::cosmwasm::wasm::v1::{
    MsgExecuteContract, MsgInstantiateContract, MsgMigrateContract,
};
use cosmrs::proto::prost::Message;
use cosmwasm_std::Binary;
use ehr_client::ledger::{CommittedTx, StateEntry, TxEvent};
use ehr_client::{BlobStore, ChainClient, ChainConfig, ClientError, IpfsStore};

/// What was scanned, each piece named by where it is on the chain; kept in ASCII lower case, as the
/// search ignores case.
#[derive(Default)]
struct Corpus {
    pieces: Vec<(String, Vec<u8>)>,
    /// Every `ipfs://` locator seen in a JSON string.
    ipfs_uris: BTreeSet<String>,
    bytes: usize,
}

impl Corpus {
    fn add(&mut self, place: String, bytes: &[u8]) {
        self.bytes += bytes.len();
        self.pieces.push((place, bytes.to_ascii_lowercase()));
    }

    /// The bytes, and when they are JSON, every string field that is base64 decoded (recursively:
    /// a decoded field may be JSON in turn).
    fn add_document(&mut self, place: String, bytes: &[u8]) {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) {
            let mut strings = Vec::new();
            strings_of(&json, &mut strings);
            for s in strings {
                if s.starts_with("ipfs://") {
                    self.ipfs_uris.insert(s.to_string());
                }
                if let Some(decoded) = base64_field(s) {
                    self.add_document(format!("{place}, a base64 field decoded"), &decoded);
                }
            }
        }
        self.add(place, bytes);
    }

    /// A committed transaction: its bytes, each message (a contract message's JSON decoded), the
    /// memo, the result's log and data, and its events.
    fn add_tx(&mut self, tx: &CommittedTx) -> Result<(), String> {
        let at = format!("tx {} (height {})", tx.hash, tx.height);
        self.add(format!("{at}, raw bytes"), &tx.bytes);
        let body = TxRaw::decode(tx.bytes.as_slice())
            .and_then(|raw| TxBody::decode(raw.body_bytes.as_slice()))
            .map_err(|e| format!("{at} does not decode: {e}"))?;
        for (i, any) in body.messages.iter().enumerate() {
            let place = format!("{at}, message {i} ({})", any.type_url);
            let contract_msg = match any.type_url.as_str() {
                "/cosmwasm.wasm.v1.MsgExecuteContract" => {
                    MsgExecuteContract::decode(any.value.as_slice()).map(|m| Some(m.msg))
                }
                "/cosmwasm.wasm.v1.MsgInstantiateContract" => {
                    MsgInstantiateContract::decode(any.value.as_slice()).map(|m| Some(m.msg))
                }
                "/cosmwasm.wasm.v1.MsgMigrateContract" => {
                    MsgMigrateContract::decode(any.value.as_slice()).map(|m| Some(m.msg))
                }
                _ => Ok(None),
            }
            .map_err(|e| format!("{place} does not decode: {e}"))?;
            if let Some(msg) = contract_msg {
                self.add_document(format!("{place}, contract message"), &msg);
            }
            self.add(place, &any.value);
        }
        self.add(format!("{at}, memo"), body.memo.as_bytes());
        self.add(format!("{at}, result log"), tx.log.as_bytes());
        self.add(format!("{at}, result data"), &tx.data);
        for event in &tx.events {
            for (key, value) in &event.attributes {
                let place = format!("{at}, event {} {}", event.kind, key.escape_ascii());
                self.add_document(place, value);
            }
        }
        Ok(())
    }

    fn add_state(&mut self, contract: &str, entries: &[StateEntry]) {
        for entry in entries {
            let at = format!(
                "contract {contract}, state key {}",
                entry.key.escape_ascii()
            );
            self.add(format!("{at}, the key"), &entry.key);
            self.add_document(format!("{at}, the value"), &entry.value);
        }
    }

    /// Where `needle` occurs, case ignored.
    fn places_of(&self, needle: &str) -> Vec<&str> {
        let lower = needle.to_ascii_lowercase();
        let finder = memchr::memmem::Finder::new(lower.as_bytes());
        self.pieces
            .iter()
            .filter(|(_, bytes)| finder.find(bytes).is_some())
            .map(|(place, _)| place.as_str())
            .collect()
    }

    /// Fails naming every place a marker is found in, or a control found nowhere; otherwise says
    /// how much held none of the markers.
    fn verdict(&self, markers: &[String], controls: &[String]) -> Result<String, String> {
        let found: Vec<String> = markers
            .iter()
            .filter_map(|marker| {
                let places = self.places_of(marker);
                (!places.is_empty())
                    .then(|| format!("plaintext '{marker}' found in: {}", places.join("; ")))
            })
            .collect();
        if !found.is_empty() {
            return Err(found.join("\n"));
        }
        let missing: Vec<&str> = controls
            .iter()
            .filter(|control| self.places_of(control).is_empty())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the controls {missing:?} are in none of the {} pieces scanned: the scan does not see what was sent",
                self.pieces.len()
            ));
        }
        Ok(format!(
            "{} pieces ({} bytes) hold none of the {} plaintext markers; all {} controls found",
            self.pieces.len(),
            self.bytes,
            markers.len(),
            controls.len()
        ))
    }
}

fn strings_of<'a>(json: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match json {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_of(v, out)),
        serde_json::Value::Object(fields) => fields.values().for_each(|v| strings_of(v, out)),
        _ => {}
    }
}

/// The bytes of a string that reads as standard base64 (cosmwasm `Binary`); short strings are words.
fn base64_field(s: &str) -> Option<Vec<u8>> {
    (s.len() >= 8)
        .then(|| Binary::from_base64(s).ok())
        .flatten()
        .map(Binary::into)
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the plaintext scan cannot run (scripts/test-live and scripts/test-client set it)")
    })
}

/// The markers of EHR_SCAN_MARKERS and the controls of EHR_SCAN_CONTROLS, neither empty.
fn markers_and_controls() -> (Vec<String>, Vec<String>) {
    let file = required("EHR_SCAN_MARKERS");
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("EHR_SCAN_MARKERS={file}: {e}"));
    let markers: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let controls: Vec<String> = required("EHR_SCAN_CONTROLS")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(!markers.is_empty(), "{file} names no marker");
    assert!(!controls.is_empty(), "EHR_SCAN_CONTROLS names no control");
    (markers, controls)
}

#[tokio::test]
#[ignore = "needs a filled live chain: scripts/test-live and scripts/test-client run it"]
async fn chain_holds_no_plaintext() {
    let (markers, controls) = markers_and_controls();
    // Only the RPC endpoint is used: the scan signs nothing and finds the contracts on the chain.
    let chain = ChainClient::new(ChainConfig {
        chain_id: String::new(),
        rpc_urls: vec![required("EHR_SCAN_RPC")],
        rpc_timeout: Duration::from_secs(30),
        registry: String::new(),
        access: String::new(),
        bech32_prefix: String::new(),
        denom: String::new(),
        gas_price: 0.0,
        gas_adjustment: 1.0,
        commit_timeout: Duration::ZERO,
    })
    .unwrap();
    let ipfs = IpfsStore::new(&required("EHR_SCAN_IPFS_API")).unwrap();
    let mut corpus = Corpus::default();

    let txs = chain.committed_txs().await.unwrap();
    for tx in &txs {
        corpus.add_tx(tx).unwrap();
    }
    let contracts = chain.all_contracts().await.unwrap();
    let mut entries = 0;
    for contract in &contracts {
        let state = chain.raw_contract_state(contract).await.unwrap();
        entries += state.len();
        corpus.add_state(contract, &state);
    }
    // Records naming a CID no node ever stored (tests of bad input, of a changed blob) are counted.
    let (mut blobs, mut absent) = (0, 0);
    for uri in corpus.ipfs_uris.clone() {
        match ipfs.get(&uri).await {
            Ok(bytes) => {
                blobs += 1;
                corpus.add(format!("IPFS blob {uri}"), &bytes);
            }
            Err(ClientError::NotFound(_)) => absent += 1,
            Err(e) => panic!("IPFS blob {uri}: {e}"),
        }
    }
    // A marker found is reported first, whatever else is wrong.
    let summary = corpus
        .verdict(&markers, &controls)
        .unwrap_or_else(|found| panic!("{found}"));
    assert!(!txs.is_empty(), "the chain has no committed transaction");
    assert!(!contracts.is_empty(), "the chain has no contract");
    assert!(
        blobs > 0,
        "none of the {absent} IPFS blobs the chain names is in the IPFS node"
    );
    println!(
        "scan: {} txs, {} contracts ({entries} state entries), {blobs} IPFS blobs ({absent} named but not stored): {summary}",
        txs.len(),
        contracts.len()
    );
}

#[test]
#[ignore = "needs the files of a stopped live node: scripts/test-live runs it"]
fn stored_files_hold_no_plaintext() {
    let (markers, controls) = markers_and_controls();
    let dir = required("EHR_SCAN_DIR");
    let mut corpus = Corpus::default();
    let mut files = 0;
    add_files(Path::new(&dir), &mut corpus, &mut files);
    let summary = corpus
        .verdict(&markers, &controls)
        .unwrap_or_else(|found| panic!("{found}"));
    println!("scan: {files} files under {dir}: {summary}");
}

/// Every regular file under `dir`, recursively (symbolic links not followed).
fn add_files(dir: &Path, corpus: &mut Corpus, files: &mut usize) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let path = entry.path();
        if kind.is_dir() {
            add_files(&path, corpus, files);
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            corpus.add(format!("file {}", path.display()), &bytes);
            *files += 1;
        }
    }
}

mod scan {
    use super::*;
    use cosmrs::Any;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn tx_with_message(msg: serde_json::Value) -> CommittedTx {
        let execute = MsgExecuteContract {
            sender: "wasm1sender".into(),
            contract: "wasm1contract".into(),
            msg: serde_json::to_vec(&msg).unwrap(),
            funds: vec![],
        };
        let body = TxBody {
            messages: vec![Any {
                type_url: "/cosmwasm.wasm.v1.MsgExecuteContract".into(),
                value: execute.encode_to_vec(),
            }],
            memo: "a memo".into(),
            ..Default::default()
        };
        let raw = TxRaw {
            body_bytes: body.encode_to_vec(),
            auth_info_bytes: vec![],
            signatures: vec![],
        };
        CommittedTx {
            hash: "ABC123".into(),
            height: 7,
            bytes: raw.encode_to_vec(),
            code: 0,
            log: String::new(),
            data: vec![],
            events: vec![TxEvent {
                kind: "wasm".into(),
                attributes: vec![(b"action".to_vec(), b"add_record".to_vec())],
            }],
        }
    }

    #[test]
    fn a_planted_marker_is_found_and_its_place_named() {
        let mut corpus = Corpus::default();
        corpus.add(
            "blob one".into(),
            b"ciphertext \x00\x01 then Chest Tightness in other case",
        );
        corpus.add("blob two".into(), b"nothing to see");
        let err = corpus
            .verdict(
                &strings(&["chest tightness", "Lindqvist"]),
                &strings(&["ciphertext"]),
            )
            .unwrap_err();
        assert_eq!(err, "plaintext 'chest tightness' found in: blob one");
    }

    #[test]
    fn a_marker_hidden_in_a_base64_field_of_a_contract_message_is_found() {
        let secret = Binary::from(b"profile: CLIENTTEST-NAME-DELTA".to_vec()).to_base64();
        let tx = tx_with_message(
            serde_json::json!({"add_record": {"blob": {"uri": "ipfs://bafyone"}, "note": secret}}),
        );
        let mut corpus = Corpus::default();
        corpus.add_tx(&tx).unwrap();
        assert!(corpus.ipfs_uris.contains("ipfs://bafyone"));
        let err = corpus
            .verdict(
                &strings(&["clienttest-name-delta"]),
                &strings(&["add_record"]),
            )
            .unwrap_err();
        assert_eq!(
            err,
            "plaintext 'clienttest-name-delta' found in: tx ABC123 (height 7), message 0 \
             (/cosmwasm.wasm.v1.MsgExecuteContract), contract message, a base64 field decoded"
        );
    }

    #[test]
    fn a_marker_in_contract_state_names_the_contract_and_key() {
        let mut corpus = Corpus::default();
        let value = serde_json::to_vec(&serde_json::json!({"name": "Okonkwo-Varga"})).unwrap();
        corpus.add_state(
            "wasm1registry",
            &[StateEntry {
                key: b"\x00\x07patient\x00\x00\x00\x00\x00\x00\x00\x01".to_vec(),
                value,
            }],
        );
        let err = corpus
            .verdict(&strings(&["okonkwo-varga"]), &[])
            .unwrap_err();
        assert_eq!(
            err,
            "plaintext 'okonkwo-varga' found in: contract wasm1registry, state key \
             \\x00\\x07patient\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01, the value"
        );
    }

    #[test]
    fn clean_data_passes_only_when_every_control_is_found() {
        let tx = tx_with_message(serde_json::json!({"add_record": {"sha256": "ab12"}}));
        let mut corpus = Corpus::default();
        corpus.add_tx(&tx).unwrap();
        let markers = strings(&["Penicillin"]);
        assert!(corpus
            .verdict(&markers, &strings(&["ab12", "add_record", "a memo"]))
            .is_ok());
        let err = corpus
            .verdict(&markers, &strings(&["ab12", "ipfs://bafynotsent"]))
            .unwrap_err();
        assert!(
            err.starts_with("the controls [\"ipfs://bafynotsent\"] are in none of"),
            "{err}"
        );
    }

    #[test]
    fn a_transaction_that_does_not_decode_fails_the_scan() {
        let mut tx = tx_with_message(serde_json::json!({}));
        tx.bytes = vec![0xff, 0xff, 0xff];
        assert!(Corpus::default()
            .add_tx(&tx)
            .unwrap_err()
            .starts_with("tx ABC123 (height 7) does not decode"));
    }
}
