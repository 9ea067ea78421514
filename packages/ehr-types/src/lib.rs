//! The interface of ehr-chain's contracts. Contracts, the Rust client and (through the generated
//! JSON schema) the TypeScript client all use these types; no message type is written twice.
//!
//! Nothing here carries plaintext health data: only hashes, locators, categories, public keys
//! and key envelopes (ciphertext).

pub mod access;
pub mod admin;
pub mod audit;
pub mod blob;
pub mod category;
pub mod cid;
pub mod error_code;
pub mod escrow;
pub mod pagination;
pub mod recovery;
pub mod registry;
pub mod rules;
pub mod upgrade;
pub mod validate;

pub use audit::{AuditAction, AuditEntry};
pub use blob::BlobRef;
pub use category::Category;
pub use error_code::ErrorCode;
pub use validate::ValidationError;

/// Patient ids are assigned by the registry from 1 upward, never zero, never reused.
pub type PatientId = u64;
/// Record ids are assigned by the registry from 1 upward.
pub type RecordId = u64;
/// Access-request ids are assigned by the access contract from 1 upward.
pub type RequestId = u64;
