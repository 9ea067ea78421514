//! ehr-access: patients' grants (scoped by category, with expiry and HPKE key envelopes), access
//! requests, time-boxed emergency access with k-of-n trustee key escrow, and each patient's
//! audit log; wallet recovery approved by k trustees.

pub mod audit;
mod capabilities;
mod config;
pub mod contract;
mod emergency;
mod envelopes;
pub mod error;
mod escrow;
mod facts;
mod grants;
mod holders;
mod keys;
mod migrations;
pub mod msg;
mod recovery;
mod registry_client;
mod requests;
pub mod state;

pub use crate::error::ContractError;

pub const CONTRACT_NAME: &str = "crates.io:ehr-access";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");
