#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    to_json_binary, Addr, Api, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult,
};
use ehr_types::access::ConfigResponse;
use ehr_types::recovery::DEFAULT_RECOVERY_WAIT_SECONDS;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use crate::state::{Config, CONFIG};
use crate::{
    admin, audit, emergency, envelopes, escrow, grants, keys, migrations, recovery, requests,
};

pub const CONTRACT_NAME: &str = "crates.io:ehr-access";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const DEFAULT_EMERGENCY_ACCESS_SECONDS: u64 = 24 * 60 * 60;
pub const MAX_EMERGENCY_ACCESS_SECONDS: u64 = 7 * 24 * 60 * 60;
pub const MAX_RECOVERY_WAIT_SECONDS: u64 = 30 * 24 * 60 * 60;

pub fn validate_address(api: &dyn Api, address: &str) -> Result<Addr, ContractError> {
    api.addr_validate(address)
        .map_err(|_| ContractError::InvalidAddress {
            address: address.to_string(),
        })
}

pub(crate) fn validate_emergency_duration(seconds: u64) -> Result<u64, ContractError> {
    if (1..=MAX_EMERGENCY_ACCESS_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ContractError::InvalidEmergencyDuration {
            max: MAX_EMERGENCY_ACCESS_SECONDS,
        })
    }
}

pub(crate) fn validate_recovery_wait(seconds: u64) -> Result<u64, ContractError> {
    if (1..=MAX_RECOVERY_WAIT_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ContractError::InvalidRecoveryWait {
            max: MAX_RECOVERY_WAIT_SECONDS,
        })
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    let config = Config {
        admin: match msg.admin {
            Some(admin) => validate_address(deps.api, &admin)?,
            None => info.sender,
        },
        registry: validate_address(deps.api, &msg.registry)?,
        emergency_access_seconds: validate_emergency_duration(
            msg.emergency_access_seconds
                .unwrap_or(DEFAULT_EMERGENCY_ACCESS_SECONDS),
        )?,
        recovery_wait_seconds: validate_recovery_wait(
            msg.recovery_wait_seconds
                .unwrap_or(DEFAULT_RECOVERY_WAIT_SECONDS),
        )?,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("registry", config.registry))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::UpdateConfig {
            emergency_access_seconds,
            recovery_wait_seconds,
        } => admin::execute_update_config(
            deps,
            info,
            emergency_access_seconds,
            recovery_wait_seconds,
        ),
        ExecuteMsg::ProposeAdmin { address } => admin::execute_propose_admin(deps, info, address),
        ExecuteMsg::AcceptAdmin {} => admin::execute_accept_admin(deps, info),
        ExecuteMsg::CancelAdminProposal {} => admin::execute_cancel_admin_proposal(deps, info),
        ExecuteMsg::Grant {
            patient_id,
            grantee,
            scope,
            categories,
            expires,
            key_envelopes,
        } => {
            let terms = grants::GrantTerms {
                scope,
                categories,
                expires,
                key_envelopes,
            };
            grants::execute_grant(deps, env, info, patient_id, grantee, terms)
        }
        ExecuteMsg::Revoke {
            patient_id,
            grantee,
        } => grants::execute_revoke(deps, env, info, patient_id, grantee),
        ExecuteMsg::PurgeDeletedGrants { patient_id, limit } => {
            grants::execute_purge_deleted_grants(deps, patient_id, limit)
        }
        ExecuteMsg::RequestAccess {
            patient_id,
            scope,
            categories,
        } => requests::execute_request_access(deps, env, info, patient_id, scope, categories),
        ExecuteMsg::ApproveRequest {
            request_id,
            expires,
            key_envelopes,
        } => requests::execute_approve_request(deps, env, info, request_id, expires, key_envelopes),
        ExecuteMsg::DenyRequest { request_id } => {
            requests::execute_deny_request(deps, env, info, request_id)
        }
        ExecuteMsg::StoreOwnEnvelopes {
            patient_id,
            key_envelopes,
        } => envelopes::execute_store_own_envelopes(deps, info, patient_id, key_envelopes),
        ExecuteMsg::RotateKey {
            patient_id,
            category,
            epoch,
            own_envelope,
            envelopes,
            escrow,
        } => {
            let rotation = keys::Rotation {
                category,
                epoch,
                own_envelope,
                envelopes,
                escrow,
            };
            keys::execute_rotate_key(deps, env, info, patient_id, rotation)
        }
        ExecuteMsg::EmergencyAccess { patient_id, reason } => {
            emergency::execute_emergency_access(deps, env, info, patient_id, reason)
        }
        ExecuteMsg::SetTrustees {
            trustees,
            threshold,
        } => escrow::execute_set_trustees(deps, info, trustees, threshold),
        ExecuteMsg::SetTrusteeKey { encryption_key } => {
            escrow::execute_set_trustee_key(deps, info, encryption_key)
        }
        ExecuteMsg::SetEscrowPolicy {
            patient_id,
            categories,
            recovery,
        } => escrow::execute_set_escrow_policy(deps, env, info, patient_id, categories, recovery),
        ExecuteMsg::EscrowShares {
            patient_id,
            escrows,
        } => escrow::execute_escrow_shares(deps, info, patient_id, escrows),
        ExecuteMsg::ReleaseShares {
            patient_id,
            doctor,
            shares,
        } => escrow::execute_release_shares(deps, env, info, patient_id, doctor, shares),
        ExecuteMsg::RequestRecovery {
            patient_id,
            encryption_key,
        } => recovery::execute_request_recovery(deps, env, info, patient_id, encryption_key),
        ExecuteMsg::CancelRecovery { patient_id } => {
            recovery::execute_cancel_recovery(deps, env, info, patient_id)
        }
        ExecuteMsg::ApproveRecovery { patient_id } => {
            recovery::execute_approve_recovery(deps, env, info, patient_id)
        }
        ExecuteMsg::ReleaseRecoveryShares { patient_id, shares } => {
            recovery::execute_release_recovery_shares(deps, env, info, patient_id, shares)
        }
        ExecuteMsg::LogActions {
            patient_id,
            actor,
            actions,
        } => audit::execute_log_actions(deps, env, info, patient_id, actor, actions),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, msg: MigrateMsg) -> Result<Response, ContractError> {
    migrations::migrate(deps, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    let response = match msg {
        QueryMsg::Config {} => to_json_binary(&query_config(deps)?),
        QueryMsg::PendingAdmin {} => to_json_binary(&admin::query_pending_admin(deps)?),
        QueryMsg::Grant {
            patient_id,
            grantee,
        } => to_json_binary(&grants::query_grant(deps, patient_id, grantee)?),
        QueryMsg::GrantsByPatient {
            patient_id,
            start_after,
            limit,
        } => to_json_binary(&grants::query_grants_by_patient(
            deps,
            patient_id,
            start_after,
            limit,
        )?),
        QueryMsg::GrantsByGrantee {
            grantee,
            start_after,
            limit,
        } => to_json_binary(&grants::query_grants_by_grantee(
            deps,
            grantee,
            start_after,
            limit,
        )?),
        QueryMsg::Permission {
            patient_id,
            actor,
            scope,
            category,
        } => to_json_binary(&grants::query_permission(
            deps, env, patient_id, actor, scope, category,
        )?),
        QueryMsg::EmergencyAccess {
            patient_id,
            grantee,
        } => to_json_binary(&emergency::query_emergency_access(
            deps, env, patient_id, grantee,
        )?),
        QueryMsg::Emergencies { start_after, limit } => {
            to_json_binary(&emergency::query_emergencies(deps, start_after, limit)?)
        }
        QueryMsg::Trustees {} => to_json_binary(&escrow::query_trustees(deps)?),
        QueryMsg::Recovery { patient_id } => {
            to_json_binary(&recovery::query_recovery(deps, patient_id)?)
        }
        QueryMsg::Recoveries { start_after, limit } => {
            to_json_binary(&recovery::query_recoveries(deps, start_after, limit)?)
        }
        QueryMsg::EscrowPolicy { patient_id } => {
            to_json_binary(&escrow::query_escrow_policy(deps, patient_id)?)
        }
        QueryMsg::EscrowedShares {
            patient_id,
            trustee,
            start_after,
            limit,
        } => to_json_binary(&escrow::query_escrowed_shares(
            deps,
            patient_id,
            trustee,
            start_after,
            limit,
        )?),
        QueryMsg::ReleasedShares {
            patient_id,
            doctor,
            start_after,
            limit,
        } => to_json_binary(&escrow::query_released_shares(
            deps,
            patient_id,
            doctor,
            start_after,
            limit,
        )?),
        QueryMsg::Request { request_id } => {
            to_json_binary(&requests::query_request(deps, request_id)?)
        }
        QueryMsg::RequestsByPatient {
            patient_id,
            start_after,
            limit,
        } => to_json_binary(&requests::query_requests_by_patient(
            deps,
            patient_id,
            start_after,
            limit,
        )?),
        QueryMsg::RequestsByRequester {
            requester,
            start_after,
            limit,
        } => to_json_binary(&requests::query_requests_by_requester(
            deps,
            requester,
            start_after,
            limit,
        )?),
        QueryMsg::OwnEnvelopes {
            patient_id,
            category,
        } => to_json_binary(&envelopes::query_own_envelopes(deps, patient_id, category)?),
        QueryMsg::Epochs { patient_id } => to_json_binary(&keys::query_epochs(deps, patient_id)?),
        QueryMsg::KeyHolders {
            patient_id,
            category,
        } => to_json_binary(&keys::query_key_holders(deps, env, patient_id, category)?),
        QueryMsg::WriteEpoch {
            patient_id,
            category,
        } => to_json_binary(&keys::query_write_epoch(deps, env, patient_id, category)?),
        QueryMsg::Readers {
            patient_id,
            category,
        } => to_json_binary(&keys::query_readers(deps, env, patient_id, category)?),
        QueryMsg::KeyEnvelopes {
            patient_id,
            holder,
            category,
            start_after,
            limit,
        } => to_json_binary(&keys::query_key_envelopes(
            deps,
            patient_id,
            holder,
            category,
            start_after,
            limit,
        )?),
        QueryMsg::AuditLog {
            patient_id,
            start_after,
            limit,
        } => to_json_binary(&audit::query_audit_log(
            deps,
            patient_id,
            start_after,
            limit,
        )?),
    };
    Ok(response?)
}

pub fn query_config(deps: Deps) -> StdResult<ConfigResponse> {
    let config = CONFIG.load(deps.storage)?;
    Ok(ConfigResponse {
        admin: config.admin,
        registry: config.registry,
        emergency_access_seconds: config.emergency_access_seconds,
        recovery_wait_seconds: config.recovery_wait_seconds,
    })
}
