//! Governance: the two-step admin handover and the one-time wiring to the access contract.

use cosmwasm_std::{Deps, DepsMut, MessageInfo, Response, StdResult};
use ehr_types::admin::PendingAdminResponse;

use crate::error::ContractError;
use crate::permissions::validate_address;
use crate::state::{CONFIG, PENDING_ADMIN};

fn ensure_admin(deps: Deps, info: &MessageInfo, action: &str) -> Result<(), ContractError> {
    if CONFIG.load(deps.storage)?.admin != info.sender {
        return Err(ContractError::unauthorized(action));
    }
    Ok(())
}

pub fn execute_propose_admin(
    deps: DepsMut,
    info: MessageInfo,
    address: String,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), &info, "propose admin")?;
    let proposed = validate_address(deps.api, &address)?;
    PENDING_ADMIN.save(deps.storage, &proposed)?;
    Ok(Response::new()
        .add_attribute("action", "propose_admin")
        .add_attribute("proposed", proposed))
}

pub fn execute_accept_admin(deps: DepsMut, info: MessageInfo) -> Result<Response, ContractError> {
    let proposed = PENDING_ADMIN
        .may_load(deps.storage)?
        .ok_or(ContractError::NoAdminProposal)?;
    if proposed != info.sender {
        return Err(ContractError::unauthorized("accept admin"));
    }
    let mut config = CONFIG.load(deps.storage)?;
    config.admin = proposed;
    CONFIG.save(deps.storage, &config)?;
    PENDING_ADMIN.remove(deps.storage);
    Ok(Response::new()
        .add_attribute("action", "accept_admin")
        .add_attribute("admin", config.admin))
}

pub fn execute_cancel_admin_proposal(
    deps: DepsMut,
    info: MessageInfo,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), &info, "cancel admin proposal")?;
    if !PENDING_ADMIN.exists(deps.storage) {
        return Err(ContractError::NoAdminProposal);
    }
    PENDING_ADMIN.remove(deps.storage);
    Ok(Response::new().add_attribute("action", "cancel_admin_proposal"))
}

/// Once only: a later re-pointing would bypass every permission and the audit log, so only a
/// migration (an explicit `MigrateMsg`, under the chain's code-admin) may change it.
pub fn execute_set_access_contract(
    deps: DepsMut,
    info: MessageInfo,
    address: String,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), &info, "set access contract")?;
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

pub fn query_pending_admin(deps: Deps) -> StdResult<PendingAdminResponse> {
    Ok(PendingAdminResponse {
        address: PENDING_ADMIN.may_load(deps.storage)?,
    })
}
