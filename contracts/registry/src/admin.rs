//! Governance: the one-time wiring to the access contract (the admin handover is
//! `ehr_types::admin::AdminRole`, as `state::ADMIN`).

use cosmwasm_std::{DepsMut, MessageInfo, Response};
use ehr_types::validate::validate_address;

use crate::error::ContractError;
use crate::state::{ADMIN, CONFIG};

/// Once only: a later re-pointing would bypass every permission and the audit log, so only a
/// migration (an explicit `MigrateMsg`, under the chain's code-admin) may change it.
pub fn execute_set_access_contract(
    deps: DepsMut,
    info: MessageInfo,
    address: String,
) -> Result<Response, ContractError> {
    ADMIN.ensure::<ContractError>(deps.storage, &info.sender, "set access contract")?;
    let mut config = CONFIG.load(deps.storage)?;
    if let Some(current) = config.access_contract {
        return Err(ContractError::AccessContractAlreadySet {
            address: current.into_string(),
        });
    }
    let access_contract = validate_address(deps.api, &address)?;
    config.access_contract = Some(access_contract.clone());
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "set_access_contract")
        .add_attribute("access_contract", access_contract))
}
