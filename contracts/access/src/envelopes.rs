//! The patient's own key envelopes: every category key, wrapped to the patient's own X25519 key
//! (the current owner's: a recovery starts a new owner generation).

use cosmwasm_std::{Deps, DepsMut, MessageInfo, Order, Response};
use cw_storage_plus::Bound;
use ehr_types::access::{CategoryEpoch, KeyEnvelope, OwnEnvelopesResponse};
use ehr_types::pagination::{page_size, MAX_LIMIT};
use ehr_types::validate::{validate_envelope, MAX_ENVELOPES};
use ehr_types::{Category, PatientId, ValidationError};

use crate::error::ContractError;
use crate::facts::owner_generation;
use crate::holders::current_epoch;
use crate::registry_client::load_owned_active_patient;
use crate::state::{StoredOwnEnvelope, OWN_ENVELOPES};

pub fn execute_store_own_envelopes(
    deps: DepsMut,
    info: MessageInfo,
    patient_id: PatientId,
    key_envelopes: Vec<KeyEnvelope>,
) -> Result<Response, ContractError> {
    load_owned_active_patient(
        deps.as_ref(),
        &info.sender,
        patient_id,
        "store own envelopes",
    )?;
    if key_envelopes.len() > MAX_ENVELOPES {
        return Err(ValidationError::TooManyEnvelopes.into());
    }
    let generation = owner_generation(deps.storage, patient_id)?;
    for KeyEnvelope {
        category,
        epoch,
        envelope,
    } in &key_envelopes
    {
        validate_envelope(envelope)?;
        // A future epoch's key is the next rotation's to store, with its holders.
        let current = current_epoch(deps.storage, patient_id, *category)?;
        if *epoch > current {
            return Err(ContractError::EnvelopeEpochAhead {
                category: *category,
                epoch: *epoch,
                current,
            });
        }
        let key = (patient_id, category.code(), *epoch);
        // Replacing the owner's stored key envelope could lock the patient out of files sealed
        // with it; one wrapped to a former owner's key (before a recovery) opens for nobody now.
        if OWN_ENVELOPES
            .may_load(deps.storage, key)?
            .is_some_and(|stored| stored.owner_generation == generation)
        {
            return Err(ContractError::EnvelopeExists {
                category: *category,
                epoch: *epoch,
            });
        }
        OWN_ENVELOPES.save(
            deps.storage,
            key,
            &StoredOwnEnvelope {
                owner_generation: generation,
                envelope: envelope.clone(),
            },
        )?;
    }
    Ok(Response::new()
        .add_attribute("action", "store_own_envelopes")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("count", key_envelopes.len().to_string()))
}

/// A page of the current owner's envelopes, in (category, epoch) order from after
/// `start_after`. Envelopes of a former owner (before a recovery) open for nobody now and are
/// skipped; they count towards the page's scan (at most `page_size(limit)` entries read), so a
/// page may come back short while more follow: the client goes on from `next`.
pub fn query_own_envelopes(
    deps: Deps,
    patient_id: PatientId,
    category: Option<Category>,
    start_after: Option<CategoryEpoch>,
    limit: Option<u32>,
) -> Result<OwnEnvelopesResponse, ContractError> {
    let start = start_after.map(|after| Bound::exclusive((after.category.code(), after.epoch)));
    let (start, end) = match category {
        Some(category) => {
            let first = Bound::inclusive((category.code(), 0));
            let start = match start {
                Some(start) if start_after.is_some_and(|a| a.category == category) => start,
                _ => first,
            };
            (
                Some(start),
                Some(Bound::inclusive((category.code(), u32::MAX))),
            )
        }
        None => (start, None),
    };
    let generation = owner_generation(deps.storage, patient_id)?;
    let size = page_size(Some(limit.unwrap_or(MAX_LIMIT)));
    let mut key_envelopes = Vec::new();
    let (mut scanned, mut last) = (0, None);
    for entry in OWN_ENVELOPES
        .sub_prefix(patient_id)
        .range(deps.storage, start, end, Order::Ascending)
        .take(size)
    {
        let ((code, epoch), stored) = entry?;
        scanned += 1;
        let Some(category) = Category::from_code(code) else {
            continue;
        };
        last = Some(CategoryEpoch { category, epoch });
        if stored.owner_generation == generation {
            key_envelopes.push(KeyEnvelope {
                category,
                epoch,
                envelope: stored.envelope,
            });
        }
    }
    Ok(OwnEnvelopesResponse {
        key_envelopes,
        next: if scanned == size { last } else { None },
    })
}
