//! What the access contract asks the registry: who owns a patient, and who is a credentialed doctor.

use cosmwasm_std::{Addr, Deps};
use ehr_types::registry::{
    PatientInfo, PatientResponse, PatientStatus, ProviderInfo, ProviderResponse,
    QueryMsg as RegistryQueryMsg,
};
use ehr_types::PatientId;
use serde::de::DeserializeOwned;

use crate::error::ContractError;
use crate::state::CONFIG;

/// Asks the registry. It answers "none" in the response; a failed call is `RegistryQueryFailed`
/// naming the query, never taken for "no such patient" or "not credentialed".
fn query_registry<T: DeserializeOwned>(
    deps: Deps,
    query: &'static str,
    msg: &RegistryQueryMsg,
) -> Result<T, ContractError> {
    let registry = CONFIG.load(deps.storage)?.registry;
    deps.querier
        .query_wasm_smart(registry, msg)
        .map_err(|error| ContractError::RegistryQueryFailed {
            query,
            error: error.to_string(),
        })
}

pub fn load_patient(deps: Deps, patient_id: PatientId) -> Result<PatientInfo, ContractError> {
    let response: PatientResponse =
        query_registry(deps, "patient", &RegistryQueryMsg::Patient { patient_id })?;
    response
        .patient
        .ok_or(ContractError::PatientNotFound { patient_id })
}

/// The patient, if it is active.
pub fn load_active_patient(
    deps: Deps,
    patient_id: PatientId,
) -> Result<PatientInfo, ContractError> {
    let patient = load_patient(deps, patient_id)?;
    if patient.status != PatientStatus::Active {
        return Err(ContractError::PatientNotActive { patient_id });
    }
    Ok(patient)
}

/// The patient, if it is active and `actor` owns it.
pub fn load_owned_active_patient(
    deps: Deps,
    actor: &Addr,
    patient_id: PatientId,
    action: &str,
) -> Result<PatientInfo, ContractError> {
    let patient = load_patient(deps, patient_id)?;
    if patient.owner != *actor {
        return Err(ContractError::unauthorized(action));
    }
    if patient.status != PatientStatus::Active {
        return Err(ContractError::PatientNotActive { patient_id });
    }
    Ok(patient)
}

pub fn ensure_credentialed(deps: Deps, address: &Addr) -> Result<(), ContractError> {
    if is_credentialed(deps, address)? {
        Ok(())
    } else {
        Err(ContractError::NotCredentialed {
            address: address.to_string(),
        })
    }
}

pub fn is_credentialed(deps: Deps, address: &Addr) -> Result<bool, ContractError> {
    Ok(credentialed_provider(deps, address)?.is_some())
}

/// The provider at `address`, if it is credentialed.
pub fn credentialed_provider(
    deps: Deps,
    address: &Addr,
) -> Result<Option<ProviderInfo>, ContractError> {
    let response: ProviderResponse = query_registry(
        deps,
        "provider",
        &RegistryQueryMsg::Provider {
            address: address.to_string(),
        },
    )?;
    Ok(response.provider.filter(|provider| provider.credentialed))
}

/// The active patient `address` owns, if any (a doctor's proposal still waiting at the address
/// does not count: the registry declines it when the address becomes an owner).
pub fn current_patient_of(deps: Deps, address: &Addr) -> Result<Option<PatientId>, ContractError> {
    let response: PatientResponse = query_registry(
        deps,
        "patient_by_address",
        &RegistryQueryMsg::PatientByAddress {
            address: address.to_string(),
        },
    )?;
    Ok(response
        .patient
        .filter(|patient| patient.status == PatientStatus::Active)
        .map(|patient| patient.id))
}
