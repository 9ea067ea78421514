use cosmwasm_std::{Deps, DepsMut, Env, MessageInfo, Order, Response};
use cw_storage_plus::Bound;
use ehr_types::access::EmergencyResponse;
use ehr_types::escrow::{EmergenciesResponse, EmergencyReason};
use ehr_types::pagination::collect_page;
use ehr_types::rules::{may_declare_emergency, EmergencyRefusal};
use ehr_types::validate::validate_emergency_reason;
use ehr_types::{AuditAction, PatientId};

use crate::audit::append;
use crate::error::ContractError;
use crate::registry_client::{ensure_credentialed, load_active_patient, load_owned_active_patient};
use crate::state::{
    EmergencyWindow, StoredEmergencyEvent, CONFIG, EMERGENCY, EMERGENCY_COUNT, EMERGENCY_LOG,
};
use ehr_types::validate::validate_address;

pub fn execute_emergency_access(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    reason: EmergencyReason,
) -> Result<Response, ContractError> {
    ensure_credentialed(deps.as_ref(), &info.sender)?;
    validate_emergency_reason(&reason)?;
    load_active_patient(deps.as_ref(), patient_id)?;
    let previous = EMERGENCY.may_load(deps.storage, (patient_id, &info.sender))?;
    may_declare_emergency(
        previous.as_ref().map(EmergencyWindow::terms),
        env.block.time,
    )
    .map_err(
        |EmergencyRefusal::TooSoon { until }| ContractError::EmergencyTooSoon { patient_id, until },
    )?;
    let duration = CONFIG.load(deps.storage)?.emergency_access_seconds;
    let window = EmergencyWindow {
        started: env.block.time,
        expires: env.block.time.plus_seconds(duration),
        reason: reason.clone(),
        ended: None,
    };
    EMERGENCY.save(deps.storage, (patient_id, &info.sender), &window)?;
    let seq = EMERGENCY_COUNT.may_load(deps.storage)?.unwrap_or(0) + 1;
    EMERGENCY_COUNT.save(deps.storage, &seq)?;
    EMERGENCY_LOG.save(
        deps.storage,
        seq,
        &StoredEmergencyEvent {
            seq,
            patient_id,
            doctor: info.sender.clone(),
            reason: reason.clone(),
            started: window.started,
            expires: window.expires,
        },
    )?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::EmergencyAccess {
            expires: window.expires,
            reason: reason.clone(),
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "emergency_access")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("doctor", info.sender)
        .add_attribute("purpose_of_use", reason.purpose_of_use())
        .add_attribute("emergency_seq", seq.to_string())
        .add_attribute("expires", window.expires.seconds().to_string()))
}

pub fn execute_end_emergency(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    doctor: String,
) -> Result<Response, ContractError> {
    load_owned_active_patient(deps.as_ref(), &info.sender, patient_id, "end emergency")?;
    let doctor = validate_address(deps.api, &doctor)?;
    let mut window = crate::facts::open_window(deps.storage, &env, patient_id, &doctor)?;
    // The doctor stays a holder of what it was handed, now not entitled: those epochs are stale
    // and the next write of each rotates past it.
    window.ended = Some(env.block.time);
    EMERGENCY.save(deps.storage, (patient_id, &doctor), &window)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::EmergencyEnded {
            doctor: doctor.clone(),
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "end_emergency")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("doctor", doctor))
}

pub fn query_emergency_access(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    grantee: String,
) -> Result<EmergencyResponse, ContractError> {
    let grantee = validate_address(deps.api, &grantee)?;
    let window = EMERGENCY.may_load(deps.storage, (patient_id, &grantee))?;
    Ok(EmergencyResponse {
        active: window.as_ref().is_some_and(|w| w.is_active(env.block.time)),
        expires: window.as_ref().map(|w| w.expires),
        started: window.as_ref().map(|w| w.started),
        reason: window.map(|w| w.reason),
    })
}

pub fn query_emergencies(
    deps: Deps,
    start_after: Option<u64>,
    limit: Option<u32>,
) -> Result<EmergenciesResponse, ContractError> {
    let emergencies = collect_page(
        EMERGENCY_LOG.range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(EmergenciesResponse { emergencies })
}
