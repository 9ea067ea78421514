//! Release 0.1.0, the first: its storage layout is the one `instantiate` writes, so the step
//! moves no item and only records the version.

use cosmwasm_std::{StdResult, Storage};

use crate::CONTRACT_NAME;

pub const VERSION: &str = "0.1.0";

pub fn migrate(storage: &mut dyn Storage) -> StdResult<()> {
    cw2::set_contract_version(storage, CONTRACT_NAME, VERSION)
}
