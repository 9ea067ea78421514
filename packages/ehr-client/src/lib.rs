//! The ehr-chain client library (DESIGN §4, §5, §9): contract messages signed with a wallet key
//! and sent over CometBFT RPC, encrypted record files in IPFS (kubo) or a local content-addressed
//! store, and the record/grant workflows the `ehr` CLI is built on.

pub mod bulk;
pub mod chain;
pub mod directory;
pub mod error;
pub mod escrow;
pub mod identity;
pub mod ledger;
pub mod paging;
pub mod records;
pub mod recovery;
pub mod search;
pub mod storage;
pub mod trustee;

pub use chain::{ChainClient, ChainConfig, ContractMsg, PendingTx, Session, Signer, TxOutcome};
pub use directory::{local_time, AuditLine, Directory};
pub use error::{ClientError, Result};
pub use identity::{write_private, Identity, KeyStore, OwnKeys};
pub use records::{now, AddedRecord, BatchReport, Ehr};
pub use storage::{fetch_verified, BlobStore, DirStore, IpfsStore, Storage};
