#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Response};
use ehr_types::recovery::DEFAULT_RECOVERY_WAIT_SECONDS;
use ehr_types::validate::validate_address;

use crate::config::{
    validate_emergency_duration, validate_recovery_wait, DEFAULT_EMERGENCY_ACCESS_SECONDS,
};
use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use crate::state::{Config, ADMIN, CONFIG};
use crate::{
    audit, capabilities, config, emergency, envelopes, escrow, grants, keys, migrations, recovery,
    requests, CONTRACT_NAME, CONTRACT_VERSION,
};

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
        } => config::execute_update_config(
            deps,
            info,
            emergency_access_seconds,
            recovery_wait_seconds,
        ),
        ExecuteMsg::ProposeAdmin { address } => {
            ADMIN.propose(deps.storage, deps.api, &info, &address)
        }
        ExecuteMsg::AcceptAdmin {} => ADMIN.accept(deps.storage, &info),
        ExecuteMsg::CancelAdminProposal {} => ADMIN.cancel(deps.storage, &info),
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
            escrow_key_commitment,
        } => {
            let rotation = keys::Rotation {
                category,
                epoch,
                own_envelope,
                envelopes,
                escrow,
                escrow_key_commitment,
            };
            keys::execute_rotate_key(deps, env, info, patient_id, rotation)
        }
        ExecuteMsg::EmergencyAccess { patient_id, reason } => {
            emergency::execute_emergency_access(deps, env, info, patient_id, reason)
        }
        ExecuteMsg::EndEmergency { patient_id, doctor } => {
            emergency::execute_end_emergency(deps, env, info, patient_id, doctor)
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
        ExecuteMsg::ApproveRecovery {
            patient_id,
            identity_check,
        } => recovery::execute_approve_recovery(deps, env, info, patient_id, identity_check),
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
        QueryMsg::Config {} => to_json_binary(&config::query_config(deps)?),
        QueryMsg::PendingAdmin {} => to_json_binary(&ADMIN.query_pending(deps.storage)?),
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
            start_after,
            limit,
        } => to_json_binary(&envelopes::query_own_envelopes(
            deps,
            patient_id,
            category,
            start_after,
            limit,
        )?),
        QueryMsg::Capabilities { patient_id, party } => to_json_binary(
            &capabilities::query_capabilities(deps, env, patient_id, party)?,
        ),
        QueryMsg::WritePlan {
            patient_id,
            category,
            writer,
        } => to_json_binary(&keys::query_write_plan(
            deps, env, patient_id, category, writer,
        )?),
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
