//! ehr-registry: who is who (admin, doctors, patients) and the version chains of every record's
//! encrypted file. Writes by anyone but the patient need a grant from the access contract.

mod admin;
pub mod contract;
pub mod error;
mod migrations;
pub mod msg;
mod patients;
mod permissions;
mod providers;
mod records;
pub mod state;

pub use crate::error::ContractError;

pub const CONTRACT_NAME: &str = "crates.io:ehr-registry";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");
