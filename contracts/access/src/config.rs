//! Governance: the two-step admin handover and the admin's settings.

use cosmwasm_std::{Deps, DepsMut, MessageInfo, Response, StdResult};
use ehr_types::admin::PendingAdminResponse;

use crate::contract::{validate_address, validate_emergency_duration, validate_recovery_wait};
use crate::error::ContractError;
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

pub fn execute_update_config(
    deps: DepsMut,
    info: MessageInfo,
    emergency_access_seconds: Option<u64>,
    recovery_wait_seconds: Option<u64>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), &info, "update config")?;
    if emergency_access_seconds.is_none() && recovery_wait_seconds.is_none() {
        return Err(ContractError::NothingToUpdate);
    }
    let mut config = CONFIG.load(deps.storage)?;
    if let Some(seconds) = recovery_wait_seconds {
        config.recovery_wait_seconds = validate_recovery_wait(seconds)?;
    }
    if let Some(seconds) = emergency_access_seconds {
        config.emergency_access_seconds = validate_emergency_duration(seconds)?;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", "update_config"))
}

pub fn query_pending_admin(deps: Deps) -> StdResult<PendingAdminResponse> {
    Ok(PendingAdminResponse {
        address: PENDING_ADMIN.may_load(deps.storage)?,
    })
}
