//! The registry's messages live in the shared interface crate; re-exported here as cw-plus
//! contracts expose them.
pub use ehr_types::registry::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
