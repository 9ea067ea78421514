//! The access contract's messages live in the shared interface crate; re-exported here as
//! cw-plus contracts expose them.
pub use ehr_types::access::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
