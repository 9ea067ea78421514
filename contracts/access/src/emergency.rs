use cosmwasm_std::{Deps, DepsMut, Env, MessageInfo, Response};
use ehr_types::access::EmergencyResponse;
use ehr_types::registry::PatientStatus;
use ehr_types::{AuditAction, PatientId};

use crate::audit::append;
use crate::contract::validate_address;
use crate::error::ContractError;
use crate::registry_client::{ensure_credentialed, load_patient};
use crate::state::{CONFIG, EMERGENCY};

pub fn execute_emergency_access(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
) -> Result<Response, ContractError> {
    ensure_credentialed(deps.as_ref(), &info.sender)?;
    let patient = load_patient(deps.as_ref(), patient_id)?;
    if patient.status != PatientStatus::Active {
        return Err(ContractError::PatientNotActive { patient_id });
    }
    let duration = CONFIG.load(deps.storage)?.emergency_access_seconds;
    let expires = env.block.time.plus_seconds(duration);
    EMERGENCY.save(deps.storage, (patient_id, &info.sender), &expires)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::EmergencyAccess { expires },
    )?;
    Ok(Response::new()
        .add_attribute("action", "emergency_access")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("doctor", info.sender)
        .add_attribute("expires", expires.seconds().to_string()))
}

pub fn query_emergency_access(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    grantee: String,
) -> Result<EmergencyResponse, ContractError> {
    let grantee = validate_address(deps.api, &grantee)?;
    let expires = EMERGENCY.may_load(deps.storage, (patient_id, &grantee))?;
    Ok(EmergencyResponse {
        expires,
        active: expires.is_some_and(|end| env.block.time < end),
    })
}
