use cosmwasm_std::{Addr, Deps, DepsMut, Env, MessageInfo, Order, Response, Timestamp};
use cw_storage_plus::Bound;
use ehr_types::access::{GrantResponse, GrantsResponse, KeyEnvelope, PermissionResponse, Scope};
use ehr_types::pagination::collect_page;
use ehr_types::registry::PatientStatus;
use ehr_types::validate::MAX_ENVELOPES;
use ehr_types::{AuditAction, Category, PatientId, ValidationError};

use crate::audit::append;
use crate::error::ContractError;
use crate::facts::escrow_policy;
use crate::facts::Party;
use crate::holders::hand_envelope;
use crate::registry_client::{ensure_credentialed, load_owned_active_patient, load_patient};
use crate::state::{grants, StoredGrant, EMERGENCY};
use ehr_types::validate::validate_address;

/// Checks a category list: not empty, no repeats. Returns it sorted.
pub fn validate_categories(categories: &[Category]) -> Result<Vec<Category>, ContractError> {
    if categories.is_empty() {
        return Err(ContractError::NoCategories);
    }
    let mut sorted = categories.to_vec();
    sorted.sort();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(ContractError::DuplicateCategory { category: pair[0] });
    }
    Ok(sorted)
}

fn validate_expiry(env: &Env, expires: Option<Timestamp>) -> Result<(), ContractError> {
    match expires {
        Some(expires) if expires <= env.block.time => Err(ContractError::ExpiryInPast { expires }),
        _ => Ok(()),
    }
}

fn validate_envelopes(
    envelopes: &[KeyEnvelope],
    categories: &[Category],
) -> Result<(), ContractError> {
    if envelopes.len() > MAX_ENVELOPES {
        return Err(ValidationError::TooManyEnvelopes.into());
    }
    for envelope in envelopes {
        if !categories.contains(&envelope.category) {
            return Err(ContractError::EnvelopeCategoryNotGranted {
                category: envelope.category,
            });
        }
    }
    Ok(())
}

/// What a patient grants, directly or by approving a request.
pub struct GrantTerms {
    pub scope: Scope,
    pub categories: Vec<Category>,
    pub expires: Option<Timestamp>,
    pub key_envelopes: Vec<KeyEnvelope>,
}

/// Stores a grant (replacing any earlier grant to the same grantee) and logs it.
pub fn store_grant(
    deps: DepsMut,
    env: &Env,
    owner: &Addr,
    patient_id: PatientId,
    grantee: Addr,
    terms: GrantTerms,
) -> Result<(), ContractError> {
    let GrantTerms {
        scope,
        categories,
        expires,
        key_envelopes,
    } = terms;
    if grantee == *owner {
        return Err(ContractError::CannotGrantSelf);
    }
    ensure_credentialed(deps.as_ref(), &grantee)?;
    let categories = validate_categories(&categories)?;
    validate_expiry(env, expires)?;
    validate_envelopes(&key_envelopes, &categories)?;
    let grant = StoredGrant {
        patient_id,
        grantee: grantee.clone(),
        scope,
        categories: categories.clone(),
        expires,
        granted_at: env.block.time,
    };
    grants().save(deps.storage, (patient_id, grantee.clone()), &grant)?;
    // Bounded by MAX_ENVELOPES (validated above).
    for envelope in &key_envelopes {
        hand_envelope(deps.storage, patient_id, &grantee, envelope)?;
    }
    append(
        deps.storage,
        patient_id,
        env.block.time,
        owner.clone(),
        AuditAction::AccessGranted {
            grantee,
            scope,
            categories,
            expires,
        },
    )?;
    Ok(())
}

pub fn execute_grant(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    grantee: String,
    terms: GrantTerms,
) -> Result<Response, ContractError> {
    load_owned_active_patient(deps.as_ref(), &info.sender, patient_id, "grant")?;
    let grantee = validate_address(deps.api, &grantee)?;
    store_grant(deps, &env, &info.sender, patient_id, grantee.clone(), terms)?;
    Ok(Response::new()
        .add_attribute("action", "grant")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("grantee", grantee))
}

pub fn execute_revoke(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    grantee: String,
) -> Result<Response, ContractError> {
    load_owned_active_patient(deps.as_ref(), &info.sender, patient_id, "revoke")?;
    let grantee = validate_address(deps.api, &grantee)?;
    let key = (patient_id, grantee.clone());
    grants()
        .may_load(deps.storage, key.clone())?
        .ok_or_else(|| ContractError::GrantNotFound {
            patient_id,
            grantee: grantee.to_string(),
        })?;
    // The grantee stays a holder of the current epochs' keys, which makes those epochs stale:
    // the next write into each rotates (keys.rs), so later files never open for it.
    grants().remove(deps.storage, key)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::AccessRevoked {
            grantee: grantee.clone(),
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "revoke")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("grantee", grantee))
}

/// The most grants one `PurgeDeletedGrants` removes.
pub const MAX_PURGE: u32 = 100;

pub fn execute_purge_deleted_grants(
    deps: DepsMut,
    patient_id: PatientId,
    limit: Option<u32>,
) -> Result<Response, ContractError> {
    if load_patient(deps.as_ref(), patient_id)?.status != PatientStatus::Deleted {
        return Err(ContractError::PatientNotDeleted { patient_id });
    }
    let budget = limit.unwrap_or(MAX_PURGE).clamp(1, MAX_PURGE) as usize;
    let grantees: Vec<Addr> = grants()
        .prefix(patient_id)
        .keys(deps.storage, None, None, Order::Ascending)
        .take(budget)
        .collect::<Result<_, _>>()?;
    for grantee in &grantees {
        grants().remove(deps.storage, (patient_id, grantee.clone()))?;
    }
    Ok(Response::new()
        .add_attribute("action", "purge_deleted_grants")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("removed", grantees.len().to_string()))
}

pub fn query_grant(
    deps: Deps,
    patient_id: PatientId,
    grantee: String,
) -> Result<GrantResponse, ContractError> {
    let grantee = validate_address(deps.api, &grantee)?;
    Ok(GrantResponse {
        grant: grants()
            .may_load(deps.storage, (patient_id, grantee))?
            .map(Into::into),
    })
}

pub fn query_grants_by_patient(
    deps: Deps,
    patient_id: PatientId,
    start_after: Option<String>,
    limit: Option<u32>,
) -> Result<GrantsResponse, ContractError> {
    let start_after = start_after
        .map(|a| validate_address(deps.api, &a))
        .transpose()?;
    let grants = collect_page(
        grants().prefix(patient_id).range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(GrantsResponse { grants })
}

pub fn query_grants_by_grantee(
    deps: Deps,
    grantee: String,
    start_after: Option<PatientId>,
    limit: Option<u32>,
) -> Result<GrantsResponse, ContractError> {
    let grantee = validate_address(deps.api, &grantee)?;
    let start = start_after.map(|patient_id| Bound::exclusive((patient_id, grantee.clone())));
    let grants = collect_page(
        grants()
            .idx
            .grantee
            .prefix(grantee)
            .range(deps.storage, start, None, Order::Ascending),
        limit,
    )?;
    Ok(GrantsResponse { grants })
}

pub fn query_permission(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    actor: String,
    scope: Scope,
    category: Option<Category>,
) -> Result<PermissionResponse, ContractError> {
    let actor = validate_address(deps.api, &actor)?;
    let grant = grants().may_load(deps.storage, (patient_id, actor.clone()))?;
    let emergency = EMERGENCY.may_load(deps.storage, (patient_id, &actor))?;
    let party = Party {
        // Credentials are the registry's to check (it does, before it asks).
        credentialed: true,
        grant,
        emergency,
        emergency_categories: escrow_policy(deps.storage, patient_id)?.emergency,
    };
    Ok(party.facts().permission(env.block.time, scope, category))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_sorted_and_must_be_distinct_and_present() {
        assert_eq!(
            validate_categories(&[Category::Lab, Category::Note]).unwrap(),
            vec![Category::Note, Category::Lab]
        );
        assert!(matches!(
            validate_categories(&[]),
            Err(ContractError::NoCategories)
        ));
        assert!(matches!(
            validate_categories(&[Category::Lab, Category::Lab]),
            Err(ContractError::DuplicateCategory {
                category: Category::Lab
            })
        ));
    }
}
