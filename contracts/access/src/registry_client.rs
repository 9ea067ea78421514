//! What the access contract asks the registry: who owns a patient, and who is a credentialed doctor.

use cosmwasm_std::{Addr, Deps};
use ehr_types::registry::{PatientInfo, PatientStatus, ProviderInfo, QueryMsg as RegistryQueryMsg};
use ehr_types::PatientId;

use crate::error::ContractError;
use crate::state::CONFIG;

pub fn load_patient(deps: Deps, patient_id: PatientId) -> Result<PatientInfo, ContractError> {
    let registry = CONFIG.load(deps.storage)?.registry;
    deps.querier
        .query_wasm_smart(registry, &RegistryQueryMsg::Patient { patient_id })
        .map_err(|_| ContractError::PatientNotFound { patient_id })
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
    let registry = CONFIG.load(deps.storage)?.registry;
    // The registry answers "provider not found" with an error: that, too, means not credentialed.
    let provider: Option<ProviderInfo> = deps
        .querier
        .query_wasm_smart(
            registry,
            &RegistryQueryMsg::Provider {
                address: address.to_string(),
            },
        )
        .ok();
    Ok(provider.filter(|provider| provider.credentialed))
}

/// The patient `address` owns, if any.
pub fn current_patient_of(deps: Deps, address: &Addr) -> Result<Option<PatientId>, ContractError> {
    let registry = CONFIG.load(deps.storage)?.registry;
    // The registry answers "no patient for this address" with an error.
    let patient: Option<PatientInfo> = deps
        .querier
        .query_wasm_smart(
            registry,
            &RegistryQueryMsg::PatientByAddress {
                address: address.to_string(),
            },
        )
        .ok();
    Ok(patient.map(|patient| patient.id))
}
