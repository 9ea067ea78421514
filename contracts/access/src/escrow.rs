//! Break-glass key escrow. The admin names the network's trustees and threshold k; a patient
//! escrows categories by storing, for every epoch of each, one Shamir share of its key per
//! trustee, sealed to that trustee (the contract sees only ciphertext and cannot check the
//! split: the patient's client is the dealer). While a doctor's emergency access is active, each
//! trustee may release its shares re-sealed to that doctor, once per share and window; with k of
//! them the doctor's client opens the escrowed categories. The k-th share of the current epoch
//! makes the doctor one of its key holders, so the window's end makes the epoch stale and the
//! next write rotates the key past the doctor. The same release path serves a recovered owner.

use cosmwasm_std::{
    Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, Storage, Timestamp,
};
use cw_storage_plus::Bound;
use ehr_types::escrow::{
    EpochEscrow, EscrowCursor, EscrowPolicyResponse, EscrowedSharesResponse, ReleaseCursor,
    ReleasedShare, ReleasedSharesResponse, TrusteeInfo, TrusteeShare, TrusteesResponse,
    MAX_ESCROWS_PER_MESSAGE, MAX_RELEASES_PER_MESSAGE, MAX_TRUSTEES, MIN_THRESHOLD,
};
use ehr_types::pagination::page_size;
use ehr_types::validate::{validate_commitment, validate_public_key, validate_sealed_share};
use ehr_types::{AuditAction, Category, PatientId};

use crate::audit::append;
use crate::error::ContractError;
use crate::facts::escrow_policy;
use crate::grants::validate_categories;
use crate::holders::{add_holder, current_epoch};
use crate::registry_client::{
    ensure_credentialed, is_credentialed, load_active_patient, load_owned_active_patient,
};
use crate::state::{
    category_epoch_key, release_key, split_category_epoch_key, StoredEscrowPolicy, StoredRelease,
    StoredShare, TrusteeSet, ADMIN, ESCROWED, ESCROW_POLICY, KEY_COMMITMENTS, RELEASED, TRUSTEES,
    TRUSTEE_KEYS,
};
use ehr_types::validate::validate_address;

pub fn execute_set_trustees(
    deps: DepsMut,
    info: MessageInfo,
    trustees: Vec<String>,
    threshold: u8,
) -> Result<Response, ContractError> {
    ADMIN.ensure::<ContractError>(deps.storage, &info.sender, "set trustees")?;
    let invalid = ContractError::InvalidTrusteeSet { max: MAX_TRUSTEES };
    if !(2..=MAX_TRUSTEES).contains(&trustees.len())
        || threshold < MIN_THRESHOLD
        || usize::from(threshold) > trustees.len()
    {
        return Err(invalid);
    }
    // Bounded by MAX_TRUSTEES.
    let mut members: Vec<Addr> = Vec::with_capacity(trustees.len());
    for trustee in &trustees {
        let trustee = validate_address(deps.api, trustee)?;
        if members.contains(&trustee) {
            return Err(invalid);
        }
        if is_credentialed(deps.as_ref(), &trustee)? {
            return Err(ContractError::RoleConflict {
                address: trustee.into_string(),
                role: "a credentialed provider",
            });
        }
        members.push(trustee);
    }
    let version = TRUSTEES
        .may_load(deps.storage)?
        .map_or(1, |set| set.version + 1);
    TRUSTEES.save(
        deps.storage,
        &TrusteeSet {
            members,
            threshold,
            version,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "set_trustees")
        .add_attribute("threshold", threshold.to_string())
        .add_attribute("set_version", version.to_string()))
}

pub fn load_trustees(storage: &dyn Storage) -> Result<TrusteeSet, ContractError> {
    TRUSTEES.may_load(storage)?.ok_or(ContractError::NoTrustees)
}

pub fn ensure_trustee(storage: &dyn Storage, address: &Addr) -> Result<TrusteeSet, ContractError> {
    let set = load_trustees(storage)?;
    if set.members.contains(address) {
        Ok(set)
    } else {
        Err(ContractError::NotTrustee {
            address: address.to_string(),
        })
    }
}

pub fn execute_set_trustee_key(
    deps: DepsMut,
    info: MessageInfo,
    encryption_key: Binary,
) -> Result<Response, ContractError> {
    ensure_trustee(deps.storage, &info.sender)?;
    validate_public_key(&encryption_key)?;
    TRUSTEE_KEYS.save(deps.storage, &info.sender, &encryption_key)?;
    Ok(Response::new()
        .add_attribute("action", "set_trustee_key")
        .add_attribute("trustee", info.sender))
}

pub fn execute_set_escrow_policy(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    categories: Vec<Category>,
    recovery: bool,
) -> Result<Response, ContractError> {
    load_owned_active_patient(deps.as_ref(), &info.sender, patient_id, "set escrow policy")?;
    let categories = if categories.is_empty() {
        categories
    } else {
        validate_categories(&categories)?
    };
    if categories.is_empty() && !recovery {
        ESCROW_POLICY.remove(deps.storage, patient_id);
    } else {
        let set = load_trustees(deps.storage)?;
        // Bounded by MAX_TRUSTEES: shares can only be sealed to published keys.
        for trustee in &set.members {
            if !TRUSTEE_KEYS.has(deps.storage, trustee) {
                return Err(ContractError::TrusteeKeyMissing {
                    trustee: trustee.to_string(),
                });
            }
        }
        ESCROW_POLICY.save(
            deps.storage,
            patient_id,
            &StoredEscrowPolicy {
                emergency: categories.clone(),
                recovery,
            },
        )?;
    }
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::EscrowPolicySet {
            categories,
            recovery,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "set_escrow_policy")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("recovery", recovery.to_string()))
}

/// Checks one share per trustee of the current set, each with its commitment, and the key's
/// commitment, and stores them for (category, epoch).
fn store_shares(
    storage: &mut dyn Storage,
    api: &dyn cosmwasm_std::Api,
    patient_id: PatientId,
    (category, epoch): (Category, u32),
    shares: &[TrusteeShare],
    key_commitment: Option<&Binary>,
) -> Result<(), ContractError> {
    let set = load_trustees(storage)?;
    let mismatch = ContractError::EscrowSharesMismatch {
        category,
        epoch,
        expected: set.members.len(),
    };
    if shares.len() != set.members.len() {
        return Err(mismatch);
    }
    // Bounded by MAX_TRUSTEES shares.
    let mut seen: Vec<Addr> = Vec::with_capacity(shares.len());
    for TrusteeShare {
        trustee,
        share,
        commitment,
    } in shares
    {
        let trustee = validate_address(api, trustee)?;
        if !set.members.contains(&trustee) || seen.contains(&trustee) {
            return Err(mismatch);
        }
        validate_sealed_share(share)?;
        validate_commitment(Some(commitment))?;
        seen.push(trustee);
    }
    validate_commitment(key_commitment)?;
    let cek = category_epoch_key(category.code(), epoch);
    if let Some(key_commitment) = key_commitment {
        KEY_COMMITMENTS.save(storage, (patient_id, cek), key_commitment)?;
    }
    for (
        trustee,
        TrusteeShare {
            share, commitment, ..
        },
    ) in seen.iter().zip(shares)
    {
        ESCROWED.save(
            storage,
            (
                patient_id,
                trustee,
                category_epoch_key(category.code(), epoch),
            ),
            &StoredShare {
                set_version: set.version,
                threshold: set.threshold,
                share: share.clone(),
                commitment: Some(commitment.clone()),
            },
        )?;
    }
    Ok(())
}

/// A rotation's escrow: the new epoch's shares when the patient escrows `category`, none
/// otherwise (so a rotation can never leave an escrowed epoch without shares).
pub fn escrow_rotation(
    storage: &mut dyn Storage,
    api: &dyn cosmwasm_std::Api,
    patient_id: PatientId,
    (category, epoch): (Category, u32),
    shares: &[TrusteeShare],
    key_commitment: Option<&Binary>,
) -> Result<(), ContractError> {
    if escrow_policy(storage, patient_id)?
        .escrowed()
        .contains(&category)
    {
        store_shares(
            storage,
            api,
            patient_id,
            (category, epoch),
            shares,
            key_commitment,
        )
    } else if shares.is_empty() && key_commitment.is_none() {
        Ok(())
    } else {
        Err(ContractError::CategoryNotEscrowed {
            patient_id,
            category,
        })
    }
}

pub fn execute_escrow_shares(
    deps: DepsMut,
    info: MessageInfo,
    patient_id: PatientId,
    escrows: Vec<EpochEscrow>,
) -> Result<Response, ContractError> {
    load_owned_active_patient(deps.as_ref(), &info.sender, patient_id, "escrow shares")?;
    if escrows.len() > MAX_ESCROWS_PER_MESSAGE {
        return Err(ContractError::TooManyEscrowItems {
            max: MAX_ESCROWS_PER_MESSAGE,
        });
    }
    let policy = escrow_policy(deps.storage, patient_id)?.escrowed();
    // Bounded by MAX_ESCROWS_PER_MESSAGE epochs of MAX_TRUSTEES shares.
    for EpochEscrow {
        category,
        epoch,
        shares,
        key_commitment,
    } in &escrows
    {
        if !policy.contains(category) {
            return Err(ContractError::CategoryNotEscrowed {
                patient_id,
                category: *category,
            });
        }
        let current = current_epoch(deps.storage, patient_id, *category)?;
        if *epoch > current {
            return Err(ContractError::EnvelopeEpochAhead {
                category: *category,
                epoch: *epoch,
                current,
            });
        }
        store_shares(
            deps.storage,
            deps.api,
            patient_id,
            (*category, *epoch),
            shares,
            Some(key_commitment),
        )?;
    }
    Ok(Response::new()
        .add_attribute("action", "escrow_shares")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("epochs", escrows.len().to_string()))
}

/// Who a trustee releases shares to, and which.
pub struct ReleaseTo<'a> {
    pub recipient: &'a Addr,
    /// The emergency window's start, or the recovery's completion: once per share each.
    pub opened_at: Timestamp,
    /// The categories this release may open.
    pub categories: &'a [Category],
    /// An emergency doctor that gets the current epoch's key becomes one of its holders.
    pub holds_current: bool,
}

/// Checks and stores `shares` of the sender (a trustee) re-sealed to `to.recipient`; returns the
/// categories they open. Bounded by MAX_RELEASES_PER_MESSAGE.
pub fn release(
    storage: &mut dyn Storage,
    env: &Env,
    trustee: &Addr,
    patient_id: PatientId,
    to: ReleaseTo,
    shares: &[ReleasedShare],
) -> Result<Vec<Category>, ContractError> {
    if shares.is_empty() || shares.len() > MAX_RELEASES_PER_MESSAGE {
        return Err(ContractError::TooManyEscrowItems {
            max: MAX_RELEASES_PER_MESSAGE,
        });
    }
    let mut categories: Vec<Category> = Vec::new();
    for ReleasedShare {
        category,
        epoch,
        share,
    } in shares
    {
        let (category, epoch) = (*category, *epoch);
        if !to.categories.contains(&category) {
            return Err(ContractError::CategoryNotEscrowed {
                patient_id,
                category,
            });
        }
        validate_sealed_share(share)?;
        let escrowed = ESCROWED
            .may_load(
                storage,
                (
                    patient_id,
                    trustee,
                    category_epoch_key(category.code(), epoch),
                ),
            )?
            .ok_or_else(|| ContractError::ShareNotEscrowed {
                category,
                epoch,
                trustee: trustee.to_string(),
            })?;
        let key = release_key(category.code(), epoch, trustee);
        let earlier = RELEASED.may_load(storage, (patient_id, to.recipient, &key))?;
        if earlier.is_some_and(|release| release.window_started == to.opened_at) {
            return Err(if to.holds_current {
                ContractError::AlreadyReleased {
                    category,
                    epoch,
                    doctor: to.recipient.to_string(),
                }
            } else {
                ContractError::AlreadyReleasedForRecovery { category, epoch }
            });
        }
        RELEASED.save(
            storage,
            (patient_id, to.recipient, &key),
            &StoredRelease {
                trustee: trustee.clone(),
                set_version: escrowed.set_version,
                threshold: escrowed.threshold,
                share: share.clone(),
                released_at: env.block.time,
                window_started: to.opened_at,
                commitment: escrowed.commitment.clone(),
            },
        )?;
        // With k shares of the current epoch released to the doctor (in this window or earlier
        // ones) it can hold its key: track it, so the window's end makes the epoch stale (and a
        // rotation meanwhile wraps the next key to it). Fewer than k open nothing: no holder.
        if to.holds_current
            && epoch == current_epoch(storage, patient_id, category)?
            && released_count(storage, patient_id, to.recipient, category, epoch)?
                >= usize::from(escrowed.threshold)
        {
            add_holder(storage, patient_id, category, to.recipient)?;
        }
        if !categories.contains(&category) {
            categories.push(category);
        }
    }
    Ok(categories)
}

/// How many trustees released their share of (category, epoch) to `recipient`, in any window:
/// shares released earlier stay on chain and combine with later ones. Bounded by the trustees
/// that ever held a share of it (at most MAX_TRUSTEES per trustee set).
fn released_count(
    storage: &dyn Storage,
    patient_id: PatientId,
    recipient: &Addr,
    category: Category,
    epoch: u32,
) -> Result<usize, ContractError> {
    let head = category_epoch_key(category.code(), epoch).to_be_bytes();
    let mut end = head.to_vec();
    end.push(0xff);
    let mut count = 0;
    for item in RELEASED.prefix((patient_id, recipient)).keys(
        storage,
        Some(Bound::inclusive(head.as_slice())),
        Some(Bound::exclusive(end.as_slice())),
        Order::Ascending,
    ) {
        item?;
        count += 1;
    }
    Ok(count)
}

pub fn execute_release_shares(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    doctor: String,
    shares: Vec<ReleasedShare>,
) -> Result<Response, ContractError> {
    ensure_trustee(deps.storage, &info.sender)?;
    let doctor = validate_address(deps.api, &doctor)?;
    // A deleted patient's keys open for nobody any more.
    load_active_patient(deps.as_ref(), patient_id)?;
    // A doctor whose credential was withdrawn may read nothing, window or not.
    ensure_credentialed(deps.as_ref(), &doctor)?;
    let window = crate::facts::open_window(deps.storage, &env, patient_id, &doctor)?;
    let policy = escrow_policy(deps.storage, patient_id)?;
    let categories = release(
        deps.storage,
        &env,
        &info.sender,
        patient_id,
        ReleaseTo {
            recipient: &doctor,
            opened_at: window.started,
            categories: &policy.emergency,
            holds_current: true,
        },
        &shares,
    )?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::SharesReleased {
            doctor: doctor.clone(),
            categories,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "release_shares")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("doctor", doctor)
        .add_attribute("trustee", info.sender)
        .add_attribute("shares", shares.len().to_string()))
}

pub fn query_trustees(deps: Deps) -> Result<TrusteesResponse, ContractError> {
    let Some(set) = TRUSTEES.may_load(deps.storage)? else {
        return Ok(TrusteesResponse {
            trustees: vec![],
            threshold: 0,
            set_version: 0,
        });
    };
    let trustees = set
        .members
        .into_iter()
        .map(|address| {
            let encryption_key = TRUSTEE_KEYS.may_load(deps.storage, &address)?;
            Ok(TrusteeInfo {
                address,
                encryption_key,
            })
        })
        .collect::<Result<_, ContractError>>()?;
    Ok(TrusteesResponse {
        trustees,
        threshold: set.threshold,
        set_version: set.version,
    })
}

pub fn query_escrow_policy(
    deps: Deps,
    patient_id: PatientId,
) -> Result<EscrowPolicyResponse, ContractError> {
    let policy = escrow_policy(deps.storage, patient_id)?;
    Ok(EscrowPolicyResponse {
        escrowed: policy.escrowed(),
        categories: policy.emergency,
        recovery: policy.recovery,
    })
}

pub fn query_escrowed_shares(
    deps: Deps,
    patient_id: PatientId,
    trustee: String,
    start_after: Option<EscrowCursor>,
    limit: Option<u32>,
) -> Result<EscrowedSharesResponse, ContractError> {
    let trustee = validate_address(deps.api, &trustee)?;
    let start = start_after
        .map(|after| Bound::exclusive(category_epoch_key(after.category.code(), after.epoch)));
    let shares = ESCROWED
        .prefix((patient_id, &trustee))
        .range(deps.storage, start, None, Order::Ascending)
        .take(page_size(limit))
        .filter_map(|item| match item {
            Ok((key, stored)) => split_category_epoch_key(key)
                .map(|(category, epoch)| Ok(stored.into_info(category, epoch))),
            Err(err) => Some(Err(err)),
        })
        .collect::<Result<_, _>>()?;
    Ok(EscrowedSharesResponse { shares })
}

pub fn query_released_shares(
    deps: Deps,
    patient_id: PatientId,
    doctor: String,
    start_after: Option<ReleaseCursor>,
    limit: Option<u32>,
) -> Result<ReleasedSharesResponse, ContractError> {
    let doctor = validate_address(deps.api, &doctor)?;
    let start = start_after
        .map(|after| {
            let trustee = validate_address(deps.api, &after.trustee)?;
            Ok::<_, ContractError>(release_key(after.category.code(), after.epoch, &trustee))
        })
        .transpose()?;
    let shares = RELEASED
        .prefix((patient_id, &doctor))
        .range(
            deps.storage,
            start.as_deref().map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(page_size(limit))
        .filter_map(|item| match item {
            Ok((key, stored)) => {
                let head: [u8; 8] = key.get(..8)?.try_into().ok()?;
                let cek = u64::from_be_bytes(head);
                let key_commitment = match KEY_COMMITMENTS.may_load(deps.storage, (patient_id, cek))
                {
                    Ok(found) => found,
                    Err(err) => return Some(Err(err)),
                };
                split_category_epoch_key(cek)
                    .map(|(category, epoch)| Ok(stored.into_info(category, epoch, key_commitment)))
            }
            Err(err) => Some(Err(err)),
        })
        .collect::<Result<_, _>>()?;
    Ok(ReleasedSharesResponse { shares })
}
