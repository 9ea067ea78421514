//! Recovery from a lost wallet. A patient who escrows every category for recovery can be moved,
//! from a new wallet, to that wallet's address: the request waits (`recovery_wait_seconds`), the
//! patient's wallet may cancel it meanwhile, and k trustees approve. The k-th approval moves the
//! patient in the registry (owner and encryption key) in the same transaction, makes every
//! category's current epoch stale for the former owner (`FORMER_OWNER_KEYS`, read by
//! `KeyHolders`), and starts a new owner generation, so the new owner may store its own
//! envelopes of old epochs. Only then do trustees release their shares to the new owner: no
//! address that is not the owner ever receives one.

use cosmwasm_std::{
    to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, WasmMsg,
};
use cw_storage_plus::Bound;
use ehr_types::escrow::ReleasedShare;
use ehr_types::pagination::collect_page;
use ehr_types::recovery::{IdentityCheck, RecoveriesResponse, RecoveryResponse, RecoveryStatus};
use ehr_types::registry::{ExecuteMsg as RegistryMsg, PatientStatus};
use ehr_types::validate::validate_public_key;
use ehr_types::{AuditAction, Category, PatientId};

use crate::audit::append;
use crate::error::ContractError;
use crate::escrow::{ensure_trustee, load_trustees, release, ReleaseTo};
use crate::facts::escrow_policy;
use crate::holders::current_epoch;
use crate::registry_client::{
    current_patient_of, load_active_patient, load_owned_active_patient, load_patient,
};
use crate::state::{
    FormerOwnerKey, StoredRecovery, StoredRecoveryEvent, COMPLETED_RECOVERIES, CONFIG,
    FORMER_OWNER_KEYS, OWNER_GENERATION, RECOVERIES, RECOVERY_COUNT, RECOVERY_LOG,
};

fn load_pending(deps: Deps, patient_id: PatientId) -> Result<StoredRecovery, ContractError> {
    RECOVERIES
        .may_load(deps.storage, patient_id)?
        .filter(|recovery| recovery.status == RecoveryStatus::Pending)
        .ok_or(ContractError::NoPendingRecovery { patient_id })
}

/// The last completed recovery: the latest request when it completed, else the one a later
/// request took the place of.
fn load_completed(
    storage: &dyn cosmwasm_std::Storage,
    patient_id: PatientId,
) -> Result<Option<StoredRecovery>, ContractError> {
    match RECOVERIES.may_load(storage, patient_id)? {
        Some(latest) if latest.status == RecoveryStatus::Completed => Ok(Some(latest)),
        _ => Ok(COMPLETED_RECOVERIES.may_load(storage, patient_id)?),
    }
}

/// Whether the trustees are still releasing the keys of a completed recovery: fewer than k
/// released, and less than one waiting period since it completed (a recovery with nothing to
/// release must not block every later one for good).
fn releases_pending(
    deps: Deps,
    env: &Env,
    completed: &StoredRecovery,
) -> Result<bool, ContractError> {
    let threshold = load_trustees(deps.storage)?.threshold;
    let wait = CONFIG.load(deps.storage)?.recovery_wait_seconds;
    let recent = completed
        .decided_at
        .is_some_and(|at| env.block.time < at.plus_seconds(wait));
    Ok(recent && completed.released_by.len() < usize::from(threshold))
}

pub fn execute_request_recovery(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    encryption_key: Binary,
) -> Result<Response, ContractError> {
    load_active_patient(deps.as_ref(), patient_id)?;
    if !escrow_policy(deps.storage, patient_id)?.recovery {
        return Err(ContractError::RecoveryNotEnabled { patient_id });
    }
    if let Some(current) = current_patient_of(deps.as_ref(), &info.sender)? {
        return Err(ContractError::AlreadyPatient {
            address: info.sender.to_string(),
            patient_id: current,
        });
    }
    validate_public_key(&encryption_key)?;
    // A completed recovery is never overwritten: it moves aside (its releases go on), and no
    // new request is taken while they are pending.
    if let Some(latest) = RECOVERIES.may_load(deps.storage, patient_id)? {
        if latest.status == RecoveryStatus::Completed {
            if releases_pending(deps.as_ref(), &env, &latest)? {
                return Err(ContractError::RecoveryReleasesPending { patient_id });
            }
            COMPLETED_RECOVERIES.save(deps.storage, patient_id, &latest)?;
        }
    }
    let not_before = env
        .block
        .time
        .plus_seconds(CONFIG.load(deps.storage)?.recovery_wait_seconds);
    // A new request replaces a pending one, approvals and all: the waiting period starts again,
    // and both are in the patient's audit log.
    RECOVERIES.save(
        deps.storage,
        patient_id,
        &StoredRecovery {
            new_owner: info.sender.clone(),
            encryption_key,
            requested_at: env.block.time,
            not_before,
            approvals: vec![],
            status: RecoveryStatus::Pending,
            decided_at: None,
            former_owner: None,
            identity_checks: vec![],
            released_by: vec![],
        },
    )?;
    let seq = RECOVERY_COUNT.may_load(deps.storage)?.unwrap_or(0) + 1;
    RECOVERY_COUNT.save(deps.storage, &seq)?;
    RECOVERY_LOG.save(
        deps.storage,
        seq,
        &StoredRecoveryEvent {
            seq,
            patient_id,
            new_owner: info.sender.clone(),
            requested_at: env.block.time,
            not_before,
        },
    )?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::RecoveryRequested {
            new_owner: info.sender.clone(),
            not_before,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "request_recovery")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("new_owner", info.sender)
        .add_attribute("recovery_seq", seq.to_string())
        .add_attribute("not_before", not_before.seconds().to_string()))
}

pub fn execute_cancel_recovery(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
) -> Result<Response, ContractError> {
    load_owned_active_patient(deps.as_ref(), &info.sender, patient_id, "cancel recovery")?;
    let mut recovery = load_pending(deps.as_ref(), patient_id)?;
    recovery.status = RecoveryStatus::Cancelled;
    recovery.decided_at = Some(env.block.time);
    RECOVERIES.save(deps.storage, patient_id, &recovery)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::RecoveryCancelled {
            new_owner: recovery.new_owner,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "cancel_recovery")
        .add_attribute("patient_id", patient_id.to_string()))
}

pub fn execute_approve_recovery(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    identity_check: IdentityCheck,
) -> Result<Response, ContractError> {
    let set = ensure_trustee(deps.storage, &info.sender)?;
    let mut recovery = load_pending(deps.as_ref(), patient_id)?;
    if env.block.time < recovery.not_before {
        return Err(ContractError::RecoveryWaiting {
            not_before: recovery.not_before,
        });
    }
    // The patient may have stopped escrowing for recovery since the request.
    if !escrow_policy(deps.storage, patient_id)?.recovery {
        return Err(ContractError::RecoveryNotEnabled { patient_id });
    }
    let patient = load_active_patient(deps.as_ref(), patient_id)?;
    if recovery.approvals.contains(&info.sender) {
        return Err(ContractError::AlreadyApproved {
            trustee: info.sender.to_string(),
        });
    }
    recovery.approvals.push(info.sender.clone());
    recovery.identity_checks.push(identity_check);
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::RecoveryApproved {
            new_owner: recovery.new_owner.clone(),
            identity_check: Some(identity_check),
        },
    )?;
    // Only approvals of the current set count (at most MAX_TRUSTEES of them).
    let approvals = recovery
        .approvals
        .iter()
        .filter(|trustee| set.members.contains(trustee))
        .count();
    let response = Response::new()
        .add_attribute("action", "approve_recovery")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("approvals", approvals.to_string());
    if approvals < usize::from(set.threshold) {
        RECOVERIES.save(deps.storage, patient_id, &recovery)?;
        return Ok(response.add_attribute("completed", "false"));
    }
    let former_owner = patient.owner;
    // Bounded by the category list: every current key is one the former owner holds.
    for category in Category::ALL {
        let epoch = current_epoch(deps.storage, patient_id, category)?;
        FORMER_OWNER_KEYS.save(
            deps.storage,
            (patient_id, category.code()),
            &FormerOwnerKey {
                epoch,
                former_owner: former_owner.clone(),
            },
        )?;
    }
    let generation = OWNER_GENERATION
        .may_load(deps.storage, patient_id)?
        .unwrap_or(0)
        + 1;
    OWNER_GENERATION.save(deps.storage, patient_id, &generation)?;
    recovery.status = RecoveryStatus::Completed;
    recovery.decided_at = Some(env.block.time);
    recovery.former_owner = Some(former_owner.clone());
    RECOVERIES.save(deps.storage, patient_id, &recovery)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::PatientRecovered {
            former_owner,
            new_owner: recovery.new_owner.clone(),
        },
    )?;
    // The registry refuses the move if the new address became a patient meanwhile, and then
    // this whole transaction fails with it.
    let transfer = WasmMsg::Execute {
        contract_addr: CONFIG.load(deps.storage)?.registry.into_string(),
        msg: to_json_binary(&RegistryMsg::TransferPatient {
            patient_id,
            new_owner: recovery.new_owner.to_string(),
            encryption_key: recovery.encryption_key,
        })?,
        funds: vec![],
    };
    Ok(response
        .add_message(transfer)
        .add_attribute("completed", "true")
        .add_attribute("new_owner", recovery.new_owner))
}

pub fn execute_release_recovery_shares(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    shares: Vec<ReleasedShare>,
) -> Result<Response, ContractError> {
    ensure_trustee(deps.storage, &info.sender)?;
    let mut recovery = load_completed(deps.storage, patient_id)?
        .ok_or(ContractError::NoCompletedRecovery { patient_id })?;
    let completed = recovery
        .decided_at
        .ok_or(ContractError::NoCompletedRecovery { patient_id })?;
    let patient = load_patient(deps.as_ref(), patient_id)?;
    // A later recovery (or deletion) ends what this one opened.
    if patient.owner != recovery.new_owner || patient.status != PatientStatus::Active {
        return Err(ContractError::NoCompletedRecovery { patient_id });
    }
    let escrowed = escrow_policy(deps.storage, patient_id)?.escrowed();
    let categories = release(
        deps.storage,
        &env,
        &info.sender,
        patient_id,
        ReleaseTo {
            recipient: &recovery.new_owner,
            opened_at: completed,
            categories: &escrowed,
            holds_current: false,
        },
        &shares,
    )?;
    // At most MAX_TRUSTEES entries: one per trustee of the set.
    if !recovery.released_by.contains(&info.sender) {
        recovery.released_by.push(info.sender.clone());
        if RECOVERIES
            .may_load(deps.storage, patient_id)?
            .is_some_and(|latest| latest.status == RecoveryStatus::Completed)
        {
            RECOVERIES.save(deps.storage, patient_id, &recovery)?;
        } else {
            COMPLETED_RECOVERIES.save(deps.storage, patient_id, &recovery)?;
        }
    }
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::RecoverySharesReleased {
            owner: recovery.new_owner.clone(),
            categories,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "release_recovery_shares")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("trustee", info.sender)
        .add_attribute("shares", shares.len().to_string()))
}

pub fn query_recovery(
    deps: Deps,
    patient_id: PatientId,
) -> Result<RecoveryResponse, ContractError> {
    let recovery = RECOVERIES
        .may_load(deps.storage, patient_id)?
        .map(|stored| stored.into_info(patient_id));
    Ok(RecoveryResponse { recovery })
}

pub fn query_recoveries(
    deps: Deps,
    start_after: Option<u64>,
    limit: Option<u32>,
) -> Result<RecoveriesResponse, ContractError> {
    let recoveries = collect_page(
        RECOVERY_LOG.range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(RecoveriesResponse { recoveries })
}
