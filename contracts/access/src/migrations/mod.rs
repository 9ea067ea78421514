//! Migrations, one module per release (as mars-protocol's `migrations/`): each step brings the
//! storage of the release before it to its own layout and records its version. `migrate` first
//! checks the stored cw2 version: this contract's name, and not newer than this code.

mod v0_1_0;

use cosmwasm_std::{DepsMut, Response};
use ehr_types::access::MigrateMsg;
use ehr_types::upgrade::check_upgrade;

use crate::error::ContractError;
use crate::{CONTRACT_NAME, CONTRACT_VERSION};

pub fn migrate(deps: DepsMut, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let stored = cw2::get_contract_version(deps.storage)?;
    check_upgrade(
        &stored.contract,
        &stored.version,
        CONTRACT_NAME,
        CONTRACT_VERSION,
    )?;

    v0_1_0::migrate(deps.storage)?;

    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_step_is_this_release() {
        // A version bump in Cargo.toml needs its own step file, even if it only bumps.
        assert_eq!(v0_1_0::VERSION, CONTRACT_VERSION);
    }
}
