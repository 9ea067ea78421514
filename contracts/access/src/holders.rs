//! Key epochs and their holders as stored: the current epoch of a (patient, category) and the
//! parties that were handed its key. Only a new epoch (keys.rs) empties the holders.

use cosmwasm_std::{Addr, Storage};
use ehr_types::access::KeyEnvelope;
use ehr_types::validate::{validate_envelope, MAX_KEY_HOLDERS};
use ehr_types::{Category, PatientId};

use crate::error::ContractError;
use crate::state::{category_epoch_key, EPOCHS, HOLDER_ENVELOPES, KEY_HOLDERS};

pub fn current_epoch(
    storage: &dyn Storage,
    patient_id: PatientId,
    category: Category,
) -> Result<u32, ContractError> {
    Ok(EPOCHS
        .may_load(storage, (patient_id, category.code()))?
        .unwrap_or(0))
}

pub fn key_holders(
    storage: &dyn Storage,
    patient_id: PatientId,
    category: Category,
) -> Result<Vec<Addr>, ContractError> {
    Ok(KEY_HOLDERS
        .may_load(storage, (patient_id, category.code()))?
        .unwrap_or_default())
}

/// Stores an envelope the patient handed `holder` with a grant; a key of the current epoch makes
/// `holder` one of its holders.
pub fn hand_envelope(
    storage: &mut dyn Storage,
    patient_id: PatientId,
    holder: &Addr,
    envelope: &KeyEnvelope,
) -> Result<(), ContractError> {
    validate_envelope(&envelope.envelope)?;
    let current = current_epoch(storage, patient_id, envelope.category)?;
    if envelope.epoch > current {
        return Err(ContractError::EnvelopeEpochAhead {
            category: envelope.category,
            epoch: envelope.epoch,
            current,
        });
    }
    HOLDER_ENVELOPES.save(
        storage,
        (
            patient_id,
            holder,
            category_epoch_key(envelope.category.code(), envelope.epoch),
        ),
        &envelope.envelope,
    )?;
    if envelope.epoch == current {
        add_holder(storage, patient_id, envelope.category, holder)?;
    }
    Ok(())
}

pub fn add_holder(
    storage: &mut dyn Storage,
    patient_id: PatientId,
    category: Category,
    holder: &Addr,
) -> Result<(), ContractError> {
    let mut holders = key_holders(storage, patient_id, category)?;
    if holders.contains(holder) {
        return Ok(());
    }
    if holders.len() >= MAX_KEY_HOLDERS {
        return Err(ContractError::TooManyKeyHolders {
            category,
            max: MAX_KEY_HOLDERS,
        });
    }
    holders.push(holder.clone());
    KEY_HOLDERS.save(storage, (patient_id, category.code()), &holders)?;
    Ok(())
}
