//! The admin's settings: how long emergency access lasts and how long a wallet recovery waits.

use cosmwasm_std::{Deps, DepsMut, MessageInfo, Response, StdResult};
use ehr_types::access::ConfigResponse;

use crate::error::ContractError;
use crate::state::{ADMIN, CONFIG};

pub const DEFAULT_EMERGENCY_ACCESS_SECONDS: u64 = 24 * 60 * 60;
pub const MAX_EMERGENCY_ACCESS_SECONDS: u64 = 7 * 24 * 60 * 60;
pub const MAX_RECOVERY_WAIT_SECONDS: u64 = 30 * 24 * 60 * 60;

pub fn validate_emergency_duration(seconds: u64) -> Result<u64, ContractError> {
    if (1..=MAX_EMERGENCY_ACCESS_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ContractError::InvalidEmergencyDuration {
            max: MAX_EMERGENCY_ACCESS_SECONDS,
        })
    }
}

pub fn validate_recovery_wait(seconds: u64) -> Result<u64, ContractError> {
    if (1..=MAX_RECOVERY_WAIT_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ContractError::InvalidRecoveryWait {
            max: MAX_RECOVERY_WAIT_SECONDS,
        })
    }
}

pub fn execute_update_config(
    deps: DepsMut,
    info: MessageInfo,
    emergency_access_seconds: Option<u64>,
    recovery_wait_seconds: Option<u64>,
) -> Result<Response, ContractError> {
    ADMIN.ensure::<ContractError>(deps.storage, &info.sender, "update config")?;
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

pub fn query_config(deps: Deps) -> StdResult<ConfigResponse> {
    Ok(CONFIG.load(deps.storage)?.into())
}
