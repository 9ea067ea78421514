//! The patient's own key envelopes: every category key, wrapped to the patient's own X25519 key
//! (the current owner's: a recovery starts a new owner generation).

use cosmwasm_std::{Deps, DepsMut, MessageInfo, Order, Response};
use ehr_types::access::{KeyEnvelope, OwnEnvelopesResponse};
use ehr_types::validate::{validate_envelope, MAX_ENVELOPES};
use ehr_types::{Category, PatientId, ValidationError};

use crate::error::ContractError;
use crate::keys::current_epoch;
use crate::recovery::owner_generation;
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

pub fn query_own_envelopes(
    deps: Deps,
    patient_id: PatientId,
    category: Option<Category>,
) -> Result<OwnEnvelopesResponse, ContractError> {
    // One entry per (category, epoch): bounded by the categories and how often access was revoked.
    let entries: Box<dyn Iterator<Item = _>> = match category {
        Some(category) => Box::new(
            OWN_ENVELOPES
                .prefix((patient_id, category.code()))
                .range(deps.storage, None, None, Order::Ascending)
                .map(move |item| item.map(|(epoch, envelope)| (category.code(), epoch, envelope))),
        ),
        None => Box::new(
            OWN_ENVELOPES
                .sub_prefix(patient_id)
                .range(deps.storage, None, None, Order::Ascending)
                .map(|item| item.map(|((code, epoch), envelope)| (code, epoch, envelope))),
        ),
    };
    let generation = owner_generation(deps.storage, patient_id)?;
    let mut key_envelopes = Vec::new();
    for entry in entries {
        let (code, epoch, stored) = entry?;
        // A former owner's envelopes open only with that owner's key.
        if stored.owner_generation != generation {
            continue;
        }
        let envelope = stored.envelope;
        if let Some(category) = Category::from_code(code) {
            key_envelopes.push(KeyEnvelope {
                category,
                epoch,
                envelope,
            });
        }
    }
    Ok(OwnEnvelopesResponse { key_envelopes })
}
