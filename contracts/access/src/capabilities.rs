//! What a party may do with a patient's records now (`QueryMsg::Capabilities`), as the rule
//! book decides it, so that clients show and follow the chain's answer.

use cosmwasm_std::{Deps, Env};
use ehr_types::access::{CapabilitiesResponse, CategoryRights, EmergencyWindowInfo, Scope};
use ehr_types::{Category, PatientId};

use crate::error::ContractError;
use crate::facts::{escrow_policy, Party};
use crate::registry_client::{is_credentialed, load_patient};
use ehr_types::validate::validate_address;

pub fn query_capabilities(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    party: String,
) -> Result<CapabilitiesResponse, ContractError> {
    let address = validate_address(deps.api, &party)?;
    let patient = load_patient(deps, patient_id)?;
    let owner = patient.owner == address;
    let policy = escrow_policy(deps.storage, patient_id)?;
    let mut facts = Party::load(deps, patient_id, &address)?;
    facts.credentialed = facts.credentialed || (!owner && is_credentialed(deps, &address)?);
    let now = env.block.time;
    let rules = facts.facts();
    // Bounded by the category list.
    let categories = Category::ALL
        .into_iter()
        .filter_map(|category| {
            let (read, write, manage) = if owner {
                (true, true, true)
            } else {
                (
                    rules.may_read(now, category),
                    rules.may_write(now, category),
                    rules.may_manage(now, category),
                )
            };
            let by_emergency = !owner
                && read
                && rules.credentialed
                && rules.permission(now, Scope::Read, Some(category)).emergency;
            read.then_some(CategoryRights {
                category,
                read,
                write,
                manage,
                by_emergency,
            })
        })
        .collect();
    let emergency = facts.emergency.as_ref().map(|window| EmergencyWindowInfo {
        started: window.started,
        expires: window.expires,
        ended: window.ended,
        open: window.is_active(now),
        reason: window.reason.clone(),
    });
    Ok(CapabilitiesResponse {
        owner,
        credentialed: facts.credentialed,
        categories,
        emergency,
        escrowed: policy.escrowed(),
        emergency_categories: policy.emergency,
    })
}
