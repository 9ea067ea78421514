//! Migrations, one module per release (as mars-protocol's `migrations/`): each step brings the
//! storage of the release before it to its own layout. `migrate` first checks the stored cw2
//! version (this contract's name, and not newer than this code), runs the steps of every newer
//! release in order, and then records this release's version.

mod v0_2_0;

use cosmwasm_std::{DepsMut, Response};
use ehr_types::access::MigrateMsg;
use ehr_types::upgrade::Release;

use crate::error::ContractError;
use crate::{CONTRACT_NAME, CONTRACT_VERSION};

const RELEASE: Release = Release {
    name: CONTRACT_NAME,
    version: CONTRACT_VERSION,
    steps: &[(v0_2_0::VERSION, v0_2_0::migrate)],
};

pub fn migrate(deps: DepsMut, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let from = RELEASE.check::<ContractError>(deps.storage)?;
    RELEASE.install(deps.storage, from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_step_is_this_release() {
        // A version bump in Cargo.toml needs its own step file, even if it only bumps.
        assert_eq!(RELEASE.newest_step(), Some(CONTRACT_VERSION));
    }
}
