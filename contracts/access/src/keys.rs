//! Key epochs and their holders: which parties were handed each (patient, category) epoch's key,
//! whether each may still read the category, and rotation to a new epoch when one may not.
//!
//! The rule this module keeps: a write goes into an epoch only while every holder of its key may
//! still read the category (the registry checks `WriteEpoch` on every write). An epoch whose
//! holder lost that right is stale; `RotateKey` opens the next epoch with envelopes for the
//! parties still entitled, so the party that lost access never holds the key of a later file.

use cosmwasm_std::{Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, Storage};
use cw_storage_plus::Bound;
use ehr_types::access::{
    CategoryEpoch, EpochsResponse, KeyEnvelope, KeyEnvelopesResponse, KeyHolder,
    KeyHoldersResponse, ReadersResponse, RecipientEnvelope, Scope, WriteEpochResponse,
};
use ehr_types::escrow::TrusteeShare;
use ehr_types::pagination::page_size;
use ehr_types::registry::{PatientStatus, ProviderInfo};
use ehr_types::validate::{validate_envelope, MAX_KEY_HOLDERS};
use ehr_types::{AuditAction, Category, PatientId};

use crate::audit::append;
use crate::error::ContractError;
use crate::grants::{grant_allows, writes_by_grant};
use crate::registry_client::{credentialed_provider, is_credentialed, load_patient};
use crate::state::{
    category_epoch_key, grants, split_category_epoch_key, StoredOwnEnvelope, EMERGENCY, EPOCHS,
    FORMER_OWNER_KEYS, HOLDER_ENVELOPES, KEY_HOLDERS, OWN_ENVELOPES,
};
use ehr_types::validate::validate_address;

pub fn current_epoch(
    storage: &dyn Storage,
    patient_id: PatientId,
    category: Category,
) -> Result<u32, ContractError> {
    Ok(EPOCHS
        .may_load(storage, (patient_id, category.code()))?
        .unwrap_or(0))
}

/// Whether `party` (not the patient) may read `category` of the patient now: credentialed, and
/// an unexpired grant that covers it or an active emergency access.
pub fn may_read(
    deps: Deps,
    env: &Env,
    patient_id: PatientId,
    party: &Addr,
    category: Category,
) -> Result<bool, ContractError> {
    let now = env.block.time;
    let by_grant = grants()
        .may_load(deps.storage, (patient_id, party.clone()))?
        .is_some_and(|grant| grant_allows(&grant, now, Scope::Read, Some(category)));
    let by_emergency = !by_grant
        && EMERGENCY
            .may_load(deps.storage, (patient_id, party))?
            .is_some_and(|window| window.is_active(now));
    Ok((by_grant || by_emergency) && is_credentialed(deps, party)?)
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
    let key = (patient_id, category.code());
    let mut holders = KEY_HOLDERS.may_load(storage, key)?.unwrap_or_default();
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
    KEY_HOLDERS.save(storage, key, &holders)?;
    Ok(())
}

/// The new epoch and its key's recipients, as `RotateKey` carries them.
pub struct Rotation {
    pub category: Category,
    pub epoch: u32,
    pub own_envelope: Binary,
    pub envelopes: Vec<RecipientEnvelope>,
    pub escrow: Vec<TrusteeShare>,
}

pub fn execute_rotate_key(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    rotation: Rotation,
) -> Result<Response, ContractError> {
    let Rotation {
        category,
        epoch,
        own_envelope,
        envelopes,
        escrow,
    } = rotation;
    let patient = load_patient(deps.as_ref(), patient_id)?;
    if patient.owner != info.sender {
        // Only someone who may write the category needs a new key for it.
        writes_by_grant(deps.as_ref(), &env, patient_id, &info.sender, category)?;
    }
    if patient.status != PatientStatus::Active {
        return Err(ContractError::PatientNotActive { patient_id });
    }
    let current = current_epoch(deps.storage, patient_id, category)?;
    let expected = current
        .checked_add(1)
        .ok_or_else(|| ContractError::Std(cosmwasm_std::StdError::msg("key epoch overflow")))?;
    if epoch != expected {
        return Err(ContractError::EpochMismatch {
            category,
            expected,
            got: epoch,
        });
    }
    if envelopes.len() > MAX_KEY_HOLDERS {
        return Err(ContractError::TooManyKeyHolders {
            category,
            max: MAX_KEY_HOLDERS,
        });
    }
    validate_envelope(&own_envelope)?;
    // Bounded by MAX_KEY_HOLDERS recipients.
    let mut recipients: Vec<Addr> = Vec::with_capacity(envelopes.len() + 1);
    for RecipientEnvelope {
        recipient,
        envelope,
    } in &envelopes
    {
        let recipient = validate_address(deps.api, recipient)?;
        validate_envelope(envelope)?;
        if recipients.contains(&recipient) || recipient == patient.owner {
            return Err(ContractError::DuplicateRecipient {
                recipient: recipient.to_string(),
            });
        }
        if !may_read(deps.as_ref(), &env, patient_id, &recipient, category)? {
            return Err(ContractError::RecipientNotEntitled {
                recipient: recipient.to_string(),
                category,
            });
        }
        recipients.push(recipient);
    }
    // Bounded by MAX_KEY_HOLDERS old holders.
    let old_holders = KEY_HOLDERS
        .may_load(deps.storage, (patient_id, category.code()))?
        .unwrap_or_default();
    for holder in &old_holders {
        if !recipients.contains(holder)
            && may_read(deps.as_ref(), &env, patient_id, holder, category)?
        {
            return Err(ContractError::HolderLeftOut {
                holder: holder.to_string(),
                category,
            });
        }
    }

    let owner_generation = crate::recovery::owner_generation(deps.storage, patient_id)?;
    OWN_ENVELOPES.save(
        deps.storage,
        (patient_id, category.code(), epoch),
        &StoredOwnEnvelope {
            owner_generation,
            envelope: own_envelope,
        },
    )?;
    for (recipient, RecipientEnvelope { envelope, .. }) in recipients.iter().zip(&envelopes) {
        HOLDER_ENVELOPES.save(
            deps.storage,
            (
                patient_id,
                recipient,
                category_epoch_key(category.code(), epoch),
            ),
            envelope,
        )?;
    }
    // A writer other than the patient knows the key it seals with, with or without an envelope.
    if info.sender != patient.owner && !recipients.contains(&info.sender) {
        recipients.push(info.sender.clone());
    }
    // The writer it adds counts towards the cap like every other holder.
    if recipients.len() > MAX_KEY_HOLDERS {
        return Err(ContractError::TooManyKeyHolders {
            category,
            max: MAX_KEY_HOLDERS,
        });
    }
    let holders = recipients.len() as u32;
    KEY_HOLDERS.save(deps.storage, (patient_id, category.code()), &recipients)?;
    EPOCHS.save(deps.storage, (patient_id, category.code()), &epoch)?;
    crate::escrow::escrow_rotation(deps.storage, deps.api, patient_id, category, epoch, &escrow)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::KeyRotated {
            category,
            epoch,
            holders,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "rotate_key")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("category", category.name())
        .add_attribute("epoch", epoch.to_string()))
}

/// The current epoch of a category and its holders, each with whether it may still read it.
fn holders_of(
    deps: Deps,
    env: &Env,
    patient_id: PatientId,
    category: Category,
) -> Result<(u32, Vec<KeyHolder>), ContractError> {
    let epoch = current_epoch(deps.storage, patient_id, category)?;
    let mut holders = Vec::new();
    // At most MAX_KEY_HOLDERS.
    for address in KEY_HOLDERS
        .may_load(deps.storage, (patient_id, category.code()))?
        .unwrap_or_default()
    {
        let entitled = may_read(deps, env, patient_id, &address, category)?;
        holders.push(KeyHolder { address, entitled });
    }
    // The owner before a recovery holds the epoch that was current then, and may read nothing.
    if let Some(former) = FORMER_OWNER_KEYS.may_load(deps.storage, (patient_id, category.code()))? {
        if former.epoch == epoch {
            holders.push(KeyHolder {
                address: former.former_owner,
                entitled: false,
            });
        }
    }
    Ok((epoch, holders))
}

fn is_stale(holders: &[KeyHolder]) -> bool {
    holders.iter().any(|holder| !holder.entitled)
}

pub fn query_write_epoch(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    category: Category,
) -> Result<WriteEpochResponse, ContractError> {
    let (epoch, holders) = holders_of(deps, &env, patient_id, category)?;
    Ok(WriteEpochResponse {
        epoch,
        stale: is_stale(&holders),
    })
}

pub fn query_key_holders(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    category: Category,
) -> Result<KeyHoldersResponse, ContractError> {
    let (epoch, holders) = holders_of(deps, &env, patient_id, category)?;
    // A reader that lacks the key can get only the next one: the current epoch's files were
    // written while it was left out (or before it could receive keys).
    let unserved = readers_of(deps, &env, patient_id, category)?
        .into_iter()
        .filter(|reader| {
            reader.encryption_key.is_some()
                && !holders
                    .iter()
                    .any(|holder| holder.address == reader.address)
        })
        .map(|reader| reader.address)
        .collect();
    Ok(KeyHoldersResponse {
        epoch,
        stale: is_stale(&holders),
        unserved,
        holders,
    })
}

pub fn query_readers(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    category: Category,
) -> Result<ReadersResponse, ContractError> {
    let readers = readers_of(deps, &env, patient_id, category)?
        .into_iter()
        .map(|provider| provider.address)
        .collect();
    Ok(ReadersResponse { readers })
}

/// The providers (other than the patient) that are to get the next epoch's key of `category`.
fn readers_of(
    deps: Deps,
    env: &Env,
    patient_id: PatientId,
    category: Category,
) -> Result<Vec<ProviderInfo>, ContractError> {
    let now = env.block.time;
    let mut readers: Vec<ProviderInfo> = Vec::new();
    // A query: bounded by the patient's grants, not by an execute path's gas.
    for item in grants()
        .prefix(patient_id)
        .range(deps.storage, None, None, Order::Ascending)
    {
        let (grantee, grant) = item?;
        if grant_allows(&grant, now, Scope::Read, Some(category)) {
            readers.extend(credentialed_provider(deps, &grantee)?);
        }
    }
    // A doctor in an active emergency window may read too (`may_read`), so a rotation must keep
    // one that holds the current key. One that does not hold it gets no key by rotating: an
    // emergency opens only what its own key release opens, not every category written meanwhile.
    // At most MAX_KEY_HOLDERS holders.
    for holder in KEY_HOLDERS
        .may_load(deps.storage, (patient_id, category.code()))?
        .unwrap_or_default()
    {
        let in_emergency = EMERGENCY
            .may_load(deps.storage, (patient_id, &holder))?
            .is_some_and(|window| window.is_active(now));
        if in_emergency && !readers.iter().any(|reader| reader.address == holder) {
            readers.extend(credentialed_provider(deps, &holder)?);
        }
    }
    Ok(readers)
}

pub fn query_key_envelopes(
    deps: Deps,
    patient_id: PatientId,
    holder: String,
    category: Option<Category>,
    start_after: Option<CategoryEpoch>,
    limit: Option<u32>,
) -> Result<KeyEnvelopesResponse, ContractError> {
    let holder = validate_address(deps.api, &holder)?;
    let start = match (start_after, category) {
        (Some(after), _) => Some(Bound::exclusive(category_epoch_key(
            after.category.code(),
            after.epoch,
        ))),
        (None, Some(category)) => Some(Bound::inclusive(category_epoch_key(category.code(), 0))),
        (None, None) => None,
    };
    let end =
        category.map(|category| Bound::inclusive(category_epoch_key(category.code(), u32::MAX)));
    let page = HOLDER_ENVELOPES
        .prefix((patient_id, &holder))
        .range(deps.storage, start, end, Order::Ascending)
        .take(page_size(limit))
        .collect::<Result<Vec<_>, _>>()?;
    let key_envelopes = page
        .into_iter()
        .filter_map(|(key, envelope)| {
            split_category_epoch_key(key).map(|(category, epoch)| KeyEnvelope {
                category,
                epoch,
                envelope,
            })
        })
        .collect();
    Ok(KeyEnvelopesResponse { key_envelopes })
}

pub fn query_epochs(deps: Deps, patient_id: PatientId) -> Result<EpochsResponse, ContractError> {
    // At most one entry per category, so this range is bounded by the category list.
    let epochs = EPOCHS
        .prefix(patient_id)
        .range(deps.storage, None, None, Order::Ascending)
        .filter_map(|item| match item {
            Ok((code, epoch)) => {
                Category::from_code(code).map(|category| Ok(CategoryEpoch { category, epoch }))
            }
            Err(err) => Some(Err(err)),
        })
        .collect::<Result<_, _>>()?;
    Ok(EpochsResponse { epochs })
}
