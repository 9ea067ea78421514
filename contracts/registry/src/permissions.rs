//! Who may write what: the patient always, a credentialed doctor with a grant from the access
//! contract, nobody else. Every write is also logged to the patient's audit log there.

use cosmwasm_std::{to_json_binary, Addr, Deps, WasmMsg};
use ehr_types::access::{
    PermissionResponse, QueryMsg as AccessQueryMsg, Scope, WriteEpochResponse,
};
use ehr_types::escrow::TrusteesResponse;
use ehr_types::{AuditAction, Category, PatientId};
use serde::de::DeserializeOwned;

use crate::error::ContractError;
use crate::state::{StoredPatient, CONFIG, PROVIDERS};

/// Asks the access contract; a failed call is `AccessQueryFailed` naming the query, never
/// mistaken for an answer.
fn query_access<T: DeserializeOwned>(
    deps: Deps,
    access: Addr,
    query: &'static str,
    msg: &AccessQueryMsg,
) -> Result<T, ContractError> {
    deps.querier
        .query_wasm_smart(access, msg)
        .map_err(|error| ContractError::AccessQueryFailed {
            query,
            error: error.to_string(),
        })
}

pub fn is_credentialed(deps: Deps, address: &Addr) -> Result<bool, ContractError> {
    Ok(PROVIDERS
        .may_load(deps.storage, address)?
        .is_some_and(|provider| provider.credentialed))
}

/// Whether `address` is in the access contract's trustee set (none before the wiring).
pub fn is_trustee(deps: Deps, address: &Addr) -> Result<bool, ContractError> {
    let Some(access) = CONFIG.load(deps.storage)?.access_contract else {
        return Ok(false);
    };
    let trustees: TrusteesResponse =
        query_access(deps, access, "trustees", &AccessQueryMsg::Trustees {})?;
    Ok(trustees.trustees.iter().any(|t| t.address == *address))
}

fn access_contract(deps: Deps) -> Result<Addr, ContractError> {
    CONFIG
        .load(deps.storage)?
        .access_contract
        .ok_or(ContractError::AccessContractNotSet)
}

/// Allows the patient, or a credentialed doctor whose unexpired grant covers `scope` on
/// `category` (any category when `None`). Emergency access never allows a write.
pub fn authorize(
    deps: Deps,
    actor: &Addr,
    patient: &StoredPatient,
    scope: Scope,
    category: Option<Category>,
    action: &str,
) -> Result<(), ContractError> {
    if *actor == patient.owner {
        return Ok(());
    }
    if !is_credentialed(deps, actor)? {
        return Err(ContractError::unauthorized(action));
    }
    let permission: PermissionResponse = query_access(
        deps,
        access_contract(deps)?,
        "permission",
        &AccessQueryMsg::Permission {
            patient_id: patient.id,
            actor: actor.to_string(),
            scope,
            category,
        },
    )?;
    if permission.allowed && !permission.emergency {
        Ok(())
    } else {
        Err(ContractError::unauthorized(action))
    }
}

/// Allows a write into `category` under key `epoch` only while it is the category's current
/// epoch and every party that holds its key may still read the category (the access contract
/// keeps the holders). So whoever lost the right to read never holds the key of a later file.
pub fn ensure_write_epoch(
    deps: Deps,
    patient_id: PatientId,
    category: Category,
    epoch: u32,
) -> Result<(), ContractError> {
    let holders: WriteEpochResponse = query_access(
        deps,
        access_contract(deps)?,
        "write_epoch",
        &AccessQueryMsg::WriteEpoch {
            patient_id,
            category,
        },
    )?;
    if holders.epoch != epoch {
        return Err(ContractError::WrongKeyEpoch {
            category,
            epoch,
            current: holders.epoch,
        });
    }
    if holders.stale {
        return Err(ContractError::StaleKeyEpoch { category, epoch });
    }
    Ok(())
}

/// Checks the writer's version: the file it sealed replaces `base_version`.
pub fn ensure_base_version(base_version: u32, current: u32) -> Result<(), ContractError> {
    if base_version == current {
        Ok(())
    } else {
        Err(ContractError::VersionConflict {
            base_version,
            current,
        })
    }
}

/// The message that appends `action` to the patient's audit log in the access contract.
pub fn audit_message(
    deps: Deps,
    patient_id: PatientId,
    actor: &Addr,
    action: AuditAction,
) -> Result<WasmMsg, ContractError> {
    audit_messages(deps, patient_id, actor, vec![action])
}

/// One message that appends all `actions`, in order: a batch costs one call of the access
/// contract, not one per record.
pub fn audit_messages(
    deps: Deps,
    patient_id: PatientId,
    actor: &Addr,
    actions: Vec<AuditAction>,
) -> Result<WasmMsg, ContractError> {
    Ok(WasmMsg::Execute {
        contract_addr: access_contract(deps)?.into_string(),
        msg: to_json_binary(&ehr_types::access::ExecuteMsg::LogActions {
            patient_id,
            actor: actor.to_string(),
            actions,
        })?,
        funds: vec![],
    })
}
