use cosmwasm_std::{Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, Storage};
use cw_storage_plus::Bound;
use ehr_types::access::Scope;
use ehr_types::pagination::collect_page;
use ehr_types::registry::{PatientResponse, PatientStatus, PatientsResponse};
use ehr_types::validate::{validate_address, validate_blob, validate_public_key};
use ehr_types::{AuditAction, BlobRef, Category, PatientId};

use crate::error::ContractError;
use crate::permissions::{
    audit_message, authorize, ensure_base_version, ensure_write_epoch, is_credentialed,
};
use crate::state::{
    StoredPatient, StoredPatientCounts, CONFIG, CURRENT_PATIENT, LAST_PATIENT_ID, PATIENTS,
    PATIENT_COUNTS,
};

pub fn load_patient(
    storage: &dyn Storage,
    patient_id: PatientId,
) -> Result<StoredPatient, ContractError> {
    PATIENTS
        .may_load(storage, patient_id)?
        .ok_or(ContractError::PatientNotFound { patient_id })
}

pub fn ensure_status(
    patient: &StoredPatient,
    expected: PatientStatus,
) -> Result<(), ContractError> {
    if patient.status == expected {
        Ok(())
    } else {
        Err(ContractError::WrongPatientStatus {
            patient_id: patient.id,
            status: patient.status,
            expected,
        })
    }
}

fn status_counter(counts: &mut StoredPatientCounts, status: PatientStatus) -> &mut u64 {
    match status {
        PatientStatus::Pending => &mut counts.pending,
        PatientStatus::Active => &mut counts.active,
        PatientStatus::Deleted => &mut counts.deleted,
    }
}

/// Moves one patient between the status counters; `from` is `None` for a new patient.
fn count_status_change(
    storage: &mut dyn Storage,
    from: Option<PatientStatus>,
    to: PatientStatus,
) -> Result<(), ContractError> {
    let mut counts = PATIENT_COUNTS.load(storage)?;
    match from {
        Some(from) => *status_counter(&mut counts, from) -= 1,
        None => counts.total += 1,
    }
    *status_counter(&mut counts, to) += 1;
    PATIENT_COUNTS.save(storage, &counts)?;
    Ok(())
}

fn ensure_no_current_patient(deps: Deps, address: &Addr) -> Result<(), ContractError> {
    match CURRENT_PATIENT.may_load(deps.storage, address)? {
        Some(patient_id) => Err(ContractError::AlreadyPatient {
            address: address.to_string(),
            patient_id,
        }),
        None => Ok(()),
    }
}

/// Clears the way for `address` to own a patient: a proposal still waiting for its answer is
/// declined (a doctor's proposal must not block the address from registering or from receiving
/// a recovered patient); an active patient refuses. Returns the declined proposal's id.
fn decline_waiting_proposal(
    deps: DepsMut,
    env: &Env,
    address: &Addr,
) -> Result<Option<PatientId>, ContractError> {
    let Some(patient_id) = CURRENT_PATIENT.may_load(deps.storage, address)? else {
        return Ok(None);
    };
    let patient = load_patient(deps.storage, patient_id)?;
    if patient.status != PatientStatus::Pending {
        return Err(ContractError::AlreadyPatient {
            address: address.to_string(),
            patient_id,
        });
    }
    tombstone(deps.storage, env, patient)?;
    Ok(Some(patient_id))
}

/// Stores a new patient under the next id.
fn create_patient(
    deps: DepsMut,
    env: &Env,
    owner: Addr,
    encryption_key: Option<Binary>,
    profile: Option<BlobRef>,
    status: PatientStatus,
    proposed_by: Option<Addr>,
) -> Result<StoredPatient, ContractError> {
    let id = LAST_PATIENT_ID
        .load(deps.storage)?
        .checked_add(1)
        .ok_or_else(|| cosmwasm_std::StdError::msg("patient id space exhausted"))?;
    let patient = StoredPatient {
        id,
        owner,
        encryption_key,
        profile_version: u32::from(profile.is_some()),
        profile,
        status,
        proposed_by,
        created: env.block.time,
        updated: env.block.time,
    };
    LAST_PATIENT_ID.save(deps.storage, &id)?;
    PATIENTS.save(deps.storage, id, &patient)?;
    CURRENT_PATIENT.save(deps.storage, &patient.owner, &id)?;
    count_status_change(deps.storage, None, status)?;
    Ok(patient)
}

pub fn execute_register_patient(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    encryption_key: Binary,
    profile: Option<BlobRef>,
) -> Result<Response, ContractError> {
    validate_public_key(&encryption_key)?;
    profile.as_ref().map(validate_blob).transpose()?;
    let declined = decline_waiting_proposal(deps.branch(), &env, &info.sender)?;
    let patient = create_patient(
        deps.branch(),
        &env,
        info.sender.clone(),
        Some(encryption_key),
        profile,
        PatientStatus::Active,
        None,
    )?;
    let audit = audit_message(
        deps.as_ref(),
        patient.id,
        &info.sender,
        AuditAction::PatientRegistered {},
    )?;
    let declined = declined
        .map(|id| {
            audit_message(
                deps.as_ref(),
                id,
                &info.sender,
                AuditAction::PatientDeclined {},
            )
        })
        .transpose()?;
    Ok(Response::new()
        .add_messages(declined)
        .add_message(audit)
        .add_attribute("action", "register_patient")
        .add_attribute("patient_id", patient.id.to_string()))
}

pub fn execute_propose_patient(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    address: String,
    profile: Option<BlobRef>,
) -> Result<Response, ContractError> {
    if !is_credentialed(deps.as_ref(), &info.sender)? {
        return Err(ContractError::NotCredentialed {
            address: info.sender.into_string(),
        });
    }
    let owner = validate_address(deps.api, &address)?;
    profile.as_ref().map(validate_blob).transpose()?;
    ensure_no_current_patient(deps.as_ref(), &owner)?;
    let patient = create_patient(
        deps.branch(),
        &env,
        owner,
        None,
        profile,
        PatientStatus::Pending,
        Some(info.sender.clone()),
    )?;
    let audit = audit_message(
        deps.as_ref(),
        patient.id,
        &info.sender,
        AuditAction::PatientProposed {},
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "propose_patient")
        .add_attribute("patient_id", patient.id.to_string()))
}

/// Loads a pending proposal that only its addressee may answer.
fn load_own_proposal(
    deps: Deps,
    info: &MessageInfo,
    patient_id: PatientId,
    action: &str,
) -> Result<StoredPatient, ContractError> {
    let patient = load_patient(deps.storage, patient_id)?;
    if patient.owner != info.sender {
        return Err(ContractError::unauthorized(action));
    }
    ensure_status(&patient, PatientStatus::Pending)?;
    Ok(patient)
}

pub fn execute_accept_patient(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    encryption_key: Binary,
) -> Result<Response, ContractError> {
    let mut patient = load_own_proposal(deps.as_ref(), &info, patient_id, "accept patient")?;
    validate_public_key(&encryption_key)?;
    patient.encryption_key = Some(encryption_key);
    patient.status = PatientStatus::Active;
    patient.updated = env.block.time;
    PATIENTS.save(deps.storage, patient_id, &patient)?;
    count_status_change(
        deps.storage,
        Some(PatientStatus::Pending),
        PatientStatus::Active,
    )?;
    let audit = audit_message(
        deps.as_ref(),
        patient_id,
        &info.sender,
        AuditAction::PatientAccepted {},
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "accept_patient")
        .add_attribute("patient_id", patient_id.to_string()))
}

/// Turns a patient into a tombstone: the id stays taken, the profile pointer goes, and the
/// address is free to register again.
fn tombstone(
    storage: &mut dyn Storage,
    env: &Env,
    mut patient: StoredPatient,
) -> Result<(), ContractError> {
    let previous = patient.status;
    patient.status = PatientStatus::Deleted;
    patient.profile = None;
    patient.updated = env.block.time;
    PATIENTS.save(storage, patient.id, &patient)?;
    CURRENT_PATIENT.remove(storage, &patient.owner);
    count_status_change(storage, Some(previous), PatientStatus::Deleted)
}

pub fn execute_decline_patient(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
) -> Result<Response, ContractError> {
    let patient = load_own_proposal(deps.as_ref(), &info, patient_id, "decline patient")?;
    tombstone(deps.storage, &env, patient)?;
    let audit = audit_message(
        deps.as_ref(),
        patient_id,
        &info.sender,
        AuditAction::PatientDeclined {},
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "decline_patient")
        .add_attribute("patient_id", patient_id.to_string()))
}

/// A new profile file, as the writer sealed it.
pub struct ProfileWrite {
    /// The profile version the file replaces.
    pub base_version: u32,
    /// The key epoch the file is sealed under.
    pub epoch: u32,
    pub profile: BlobRef,
}

pub fn execute_update_patient(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    write: ProfileWrite,
) -> Result<Response, ContractError> {
    let ProfileWrite {
        base_version,
        epoch,
        profile,
    } = write;
    let mut patient = load_patient(deps.storage, patient_id)?;
    ensure_status(&patient, PatientStatus::Active)?;
    authorize(
        deps.as_ref(),
        &info.sender,
        &patient,
        Scope::Write,
        Some(Category::Profile),
        "update patient",
    )?;
    ensure_base_version(base_version, patient.profile_version)?;
    ensure_write_epoch(deps.as_ref(), patient_id, Category::Profile, epoch)?;
    validate_blob(&profile)?;
    patient.profile_version = patient
        .profile_version
        .checked_add(1)
        .ok_or_else(|| cosmwasm_std::StdError::msg("profile version overflow"))?;
    patient.profile = Some(profile);
    patient.updated = env.block.time;
    PATIENTS.save(deps.storage, patient_id, &patient)?;
    let audit = audit_message(
        deps.as_ref(),
        patient_id,
        &info.sender,
        AuditAction::ProfileUpdated {
            version: patient.profile_version,
        },
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "update_patient")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("profile_version", patient.profile_version.to_string()))
}

pub fn execute_delete_patient(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
) -> Result<Response, ContractError> {
    let patient = load_patient(deps.storage, patient_id)?;
    ensure_status(&patient, PatientStatus::Active)?;
    // Deleting the whole patient is the patient's own act: no grant, however broad, allows it,
    // and the admin cannot either (docs/threat-model.md, Deletion).
    if info.sender != patient.owner {
        return Err(ContractError::unauthorized("delete patient"));
    }
    tombstone(deps.storage, &env, patient)?;
    let audit = audit_message(
        deps.as_ref(),
        patient_id,
        &info.sender,
        AuditAction::PatientDeleted {},
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "delete_patient")
        .add_attribute("patient_id", patient_id.to_string()))
}

/// A wallet recovery that k trustees approved, sent by the access contract (which logs it):
/// the patient moves to the new wallet's address and key, and the old address is free.
pub fn execute_transfer_patient(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    new_owner: String,
    encryption_key: Binary,
) -> Result<Response, ContractError> {
    if Some(&info.sender) != CONFIG.load(deps.storage)?.access_contract.as_ref() {
        return Err(ContractError::unauthorized("transfer patient"));
    }
    let mut patient = load_patient(deps.storage, patient_id)?;
    ensure_status(&patient, PatientStatus::Active)?;
    let new_owner = validate_address(deps.api, &new_owner)?;
    validate_public_key(&encryption_key)?;
    let declined = decline_waiting_proposal(deps.branch(), &env, &new_owner)?;
    CURRENT_PATIENT.remove(deps.storage, &patient.owner);
    CURRENT_PATIENT.save(deps.storage, &new_owner, &patient_id)?;
    patient.owner = new_owner.clone();
    patient.encryption_key = Some(encryption_key);
    patient.updated = env.block.time;
    PATIENTS.save(deps.storage, patient_id, &patient)?;
    let declined = declined
        .map(|id| {
            audit_message(
                deps.as_ref(),
                id,
                &new_owner,
                AuditAction::PatientDeclined {},
            )
        })
        .transpose()?;
    Ok(Response::new()
        .add_messages(declined)
        .add_attribute("action", "transfer_patient")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("new_owner", new_owner))
}

pub fn query_patient(deps: Deps, patient_id: PatientId) -> Result<PatientResponse, ContractError> {
    Ok(PatientResponse {
        patient: PATIENTS.may_load(deps.storage, patient_id)?.map(Into::into),
    })
}

pub fn query_patient_by_address(
    deps: Deps,
    address: String,
) -> Result<PatientResponse, ContractError> {
    let owner = validate_address(deps.api, &address)?;
    let patient = match CURRENT_PATIENT.may_load(deps.storage, &owner)? {
        Some(patient_id) => Some(PATIENTS.load(deps.storage, patient_id)?.into()),
        None => None,
    };
    Ok(PatientResponse { patient })
}

pub fn query_patients(
    deps: Deps,
    start_after: Option<PatientId>,
    limit: Option<u32>,
) -> Result<PatientsResponse, ContractError> {
    let patients = collect_page(
        PATIENTS.range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(PatientsResponse { patients })
}
