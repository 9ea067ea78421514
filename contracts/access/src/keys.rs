//! Key epochs and their holders: which parties were handed each (patient, category) epoch's key,
//! whether each may still read the category, and rotation to a new epoch when one may not.
//!
//! The rule this module keeps: a write goes into an epoch only while every holder of its key may
//! still read the category (the registry checks `WriteEpoch` on every write). An epoch whose
//! holder lost that right is stale; `RotateKey` opens the next epoch with envelopes for the
//! parties still entitled, so the party that lost access never holds the key of a later file.

use cosmwasm_std::{Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response};
use cw_storage_plus::Bound;
use ehr_types::access::{
    CategoryEpoch, EpochsResponse, EscrowPlan, KeyEnvelope, KeyEnvelopesResponse, KeyHolder,
    KeyHoldersResponse, KeyRecipient, ReadersResponse, RecipientEnvelope, WriteEpochResponse,
    WritePlanResponse,
};
use ehr_types::escrow::TrusteeShare;
use ehr_types::pagination::page_size;
use ehr_types::registry::{PatientInfo, PatientStatus, ProviderInfo};
use ehr_types::rules::{may_rotate, must_rotate, EpochFacts};
use ehr_types::validate::{validate_envelope, MAX_KEY_HOLDERS};
use ehr_types::{AuditAction, Category, PatientId};

use crate::audit::append;
use crate::error::ContractError;
use crate::escrow::{escrow_rotation, query_trustees};
use crate::facts::{escrow_policy, may_read, owner_generation, Party};
use crate::holders::{current_epoch, key_holders};
use crate::registry_client::{credentialed_provider, load_patient};
use crate::state::{
    category_epoch_key, grants, split_category_epoch_key, StoredOwnEnvelope, EPOCHS, EPOCH_OPENER,
    FORMER_OWNER_KEYS, HOLDER_ENVELOPES, KEY_HOLDERS, OWN_ENVELOPES,
};
use ehr_types::validate::validate_address;

/// The new epoch and its key's recipients, as `RotateKey` carries them.
pub struct Rotation {
    pub category: Category,
    pub epoch: u32,
    pub own_envelope: Binary,
    pub envelopes: Vec<RecipientEnvelope>,
    pub escrow: Vec<TrusteeShare>,
    pub escrow_key_commitment: Option<Binary>,
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
        escrow_key_commitment,
    } = rotation;
    let patient = load_patient(deps.as_ref(), patient_id)?;
    let by_patient = patient.owner == info.sender;
    // Only someone who may write the category needs a new key for it.
    if !by_patient
        && !Party::load(deps.as_ref(), patient_id, &info.sender)?
            .facts()
            .may_write(env.block.time, category)
    {
        return Err(ContractError::unauthorized("rotate key"));
    }
    if patient.status != PatientStatus::Active {
        return Err(ContractError::PatientNotActive { patient_id });
    }
    let (current, old_holders) = holders_of(deps.as_ref(), &env, patient_id, category)?;
    let epoch_facts = epoch_facts(
        deps.as_ref(),
        (patient_id, category),
        &info.sender,
        by_patient,
        &old_holders,
    )?;
    if !may_rotate(epoch_facts, by_patient) {
        return Err(ContractError::RotationNotNeeded { category });
    }
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
    // Bounded by MAX_KEY_HOLDERS old holders (and the former owner, never entitled).
    for holder in &old_holders {
        if holder.entitled && !recipients.contains(&holder.address) {
            return Err(ContractError::HolderLeftOut {
                holder: holder.address.to_string(),
                category,
            });
        }
    }

    let owner_generation = owner_generation(deps.storage, patient_id)?;
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
    if by_patient {
        EPOCH_OPENER.remove(deps.storage, (patient_id, category.code()));
    } else {
        EPOCH_OPENER.save(deps.storage, (patient_id, category.code()), &info.sender)?;
    }
    escrow_rotation(
        deps.storage,
        deps.api,
        patient_id,
        (category, epoch),
        &escrow,
        escrow_key_commitment.as_ref(),
    )?;
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
    for address in key_holders(deps.storage, patient_id, category)? {
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

/// What the rule book needs of the current epoch for `writer` (not the readers it lacks: those
/// take every grant of the patient, so only queries look for them).
fn epoch_facts(
    deps: Deps,
    (patient_id, category): (PatientId, Category),
    writer: &Addr,
    patient_writes: bool,
    holders: &[KeyHolder],
) -> Result<EpochFacts, ContractError> {
    let opener = EPOCH_OPENER.may_load(deps.storage, (patient_id, category.code()))?;
    Ok(EpochFacts {
        stale: is_stale(holders),
        unserved: false,
        writer_holds: patient_writes || holders.iter().any(|h| h.address == *writer),
        opened_by_another_grantee: opener.is_some_and(|opener| opener != *writer),
    })
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

/// The providers (other than the patient) that are to get the next epoch's key of `category`:
/// every credentialed grantee the rule book lets read it, and every holder of the current key
/// that may still read it in an open emergency window. A doctor in a window that does not hold
/// the current key gets none by rotating: an emergency opens only what its own key release
/// opens, not every epoch written meanwhile.
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
        if grant
            .terms()
            .allows(now, ehr_types::access::Scope::Read, Some(category))
        {
            readers.extend(credentialed_provider(deps, &grantee)?);
        }
    }
    // At most MAX_KEY_HOLDERS holders.
    for holder in key_holders(deps.storage, patient_id, category)? {
        if !readers.iter().any(|reader| reader.address == holder)
            && may_read(deps, env, patient_id, &holder, category)?
        {
            readers.extend(credentialed_provider(deps, &holder)?);
        }
    }
    Ok(readers)
}

/// What `writer`'s client needs to write into `category` (`QueryMsg::WritePlan`).
pub fn query_write_plan(
    deps: Deps,
    env: Env,
    patient_id: PatientId,
    category: Category,
    writer: String,
) -> Result<WritePlanResponse, ContractError> {
    let writer = validate_address(deps.api, &writer)?;
    let patient: PatientInfo = load_patient(deps, patient_id)?;
    let by_patient = patient.owner == writer;
    let (current_epoch, holders) = holders_of(deps, &env, patient_id, category)?;
    let readers = readers_of(deps, &env, patient_id, category)?;
    let mut facts = epoch_facts(deps, (patient_id, category), &writer, by_patient, &holders)?;
    facts.unserved = readers.iter().any(|reader| {
        reader.encryption_key.is_some() && !holders.iter().any(|h| h.address == reader.address)
    });
    let rotate = must_rotate(facts, by_patient);
    // `RotateKey` refuses anyone who may not write the category, whatever the epoch's facts.
    let writes = patient.status == PatientStatus::Active
        && (by_patient
            || Party::load(deps, patient_id, &writer)?
                .facts()
                .may_write(env.block.time, category));
    let escrow = if escrow_policy(deps.storage, patient_id)?
        .escrowed()
        .contains(&category)
    {
        let trustees = query_trustees(deps)?;
        Some(EscrowPlan {
            trustees: trustees.trustees,
            threshold: trustees.threshold,
            set_version: trustees.set_version,
        })
    } else {
        None
    };
    let recipients = readers
        .into_iter()
        .map(|reader| KeyRecipient {
            address: reader.address,
            encryption_key: reader.encryption_key,
        })
        .collect();
    Ok(WritePlanResponse {
        current_epoch,
        rotate,
        may_rotate: writes && may_rotate(facts, by_patient),
        patient_key: patient.encryption_key,
        recipients,
        escrow,
    })
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
