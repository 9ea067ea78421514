use std::collections::BTreeSet;

use cosmwasm_std::{Deps, DepsMut, Env, MessageInfo, Order, Response, StdError, Storage};
use cw_storage_plus::Bound;
use ehr_types::access::Scope;
use ehr_types::pagination::{collect_page, page_size};
use ehr_types::registry::{
    NewRecord, PatientStatus, RecordHistoryResponse, RecordResponse, RecordStatus, RecordsResponse,
};
use ehr_types::validate::{
    validate_address, validate_blob, validate_record_count, validate_sha256,
};
use ehr_types::{AuditAction, BlobRef, Category, PatientId, RecordId};

use crate::error::ContractError;
use crate::patients::{ensure_status, load_patient};
use crate::permissions::{
    audit_message, audit_messages, authorize, ensure_base_version, ensure_write_epoch,
};
use crate::state::{
    records, StoredRecord, StoredRecordVersion, LAST_RECORD_ID, PATIENTS, RECORD_BY_HASH,
    RECORD_VERSIONS,
};

/// The most stored entries one `PurgeDeletedRecords` removes.
pub const MAX_PURGE: u32 = 100;

fn load_record(storage: &dyn Storage, record_id: RecordId) -> Result<StoredRecord, ContractError> {
    records()
        .may_load(storage, record_id)?
        .ok_or(ContractError::RecordNotFound { record_id })
}

/// Refuses a ciphertext already registered for the patient: a retried submission must not
/// create a second record.
fn ensure_new_blob(
    storage: &dyn Storage,
    patient_id: PatientId,
    blob: &BlobRef,
) -> Result<(), ContractError> {
    match RECORD_BY_HASH.may_load(storage, (patient_id, blob.sha256.as_str()))? {
        Some(record_id) => Err(ContractError::DuplicateBlob { record_id }),
        None => Ok(()),
    }
}

pub fn execute_add_record(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    record: NewRecord,
) -> Result<Response, ContractError> {
    add_records(deps, env, info, patient_id, vec![record], "add_record")
}

pub fn execute_add_records(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    new_records: Vec<NewRecord>,
) -> Result<Response, ContractError> {
    validate_record_count(new_records.len())?;
    add_records(deps, env, info, patient_id, new_records, "add_records")
}

/// Adds records of one patient in order, each with its first version, and logs them with one
/// audit message. Each distinct category is authorized and its key epoch checked once, so the
/// access contract is queried at most twice per category, not per record.
fn add_records(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    new_records: Vec<NewRecord>,
    action: &str,
) -> Result<Response, ContractError> {
    if new_records
        .iter()
        .any(|record| record.category == Category::Profile)
    {
        return Err(ContractError::ProfileCategoryReserved);
    }
    let patient = load_patient(deps.storage, patient_id)?;
    ensure_status(&patient, PatientStatus::Active)?;
    // (category, epoch) pairs checked so far: at most one per category.
    let mut authorized: Vec<(Category, u32)> = Vec::new();
    let mut hashes = BTreeSet::new();
    for record in &new_records {
        if !authorized.contains(&(record.category, record.epoch)) {
            authorize(
                deps.as_ref(),
                &info.sender,
                &patient,
                Scope::Write,
                Some(record.category),
                "add record",
            )?;
            ensure_write_epoch(deps.as_ref(), patient_id, record.category, record.epoch)?;
            authorized.push((record.category, record.epoch));
        }
        validate_blob(&record.blob)?;
        if !hashes.insert(record.blob.sha256.as_str()) {
            return Err(ContractError::DuplicateBlobInBatch {
                sha256: record.blob.sha256.clone(),
            });
        }
    }

    let mut record_id = LAST_RECORD_ID.load(deps.storage)?;
    let mut logged = Vec::with_capacity(new_records.len());
    let mut response = Response::new()
        .add_attribute("action", action)
        .add_attribute("patient_id", patient_id.to_string());
    for NewRecord {
        category,
        epoch,
        blob,
    } in new_records
    {
        ensure_new_blob(deps.storage, patient_id, &blob)?;
        record_id = record_id
            .checked_add(1)
            .ok_or_else(|| StdError::msg("record id space exhausted"))?;
        let first = StoredRecordVersion {
            version: 1,
            epoch,
            blob,
            author: info.sender.clone(),
            time: env.block.time,
        };
        RECORD_BY_HASH.save(
            deps.storage,
            (patient_id, first.blob.sha256.as_str()),
            &record_id,
        )?;
        RECORD_VERSIONS.save(deps.storage, (record_id, 1), &first)?;
        records().save(
            deps.storage,
            record_id,
            &StoredRecord {
                id: record_id,
                patient_id,
                category,
                created_by: info.sender.clone(),
                status: RecordStatus::Active,
                latest: first,
            },
        )?;
        logged.push(AuditAction::RecordAdded {
            record_id,
            category,
        });
        response = response.add_attribute("record_id", record_id.to_string());
    }
    LAST_RECORD_ID.save(deps.storage, &record_id)?;

    let audit = audit_messages(deps.as_ref(), patient_id, &info.sender, logged)?;
    Ok(response.add_message(audit))
}

/// Loads an active record of an active patient and checks that `info.sender` may act on it.
fn load_writable_record(
    deps: Deps,
    info: &MessageInfo,
    record_id: RecordId,
    scope: Scope,
    action: &str,
) -> Result<StoredRecord, ContractError> {
    let record = load_record(deps.storage, record_id)?;
    if record.status == RecordStatus::Deleted {
        return Err(ContractError::RecordDeleted { record_id });
    }
    let patient = load_patient(deps.storage, record.patient_id)?;
    ensure_status(&patient, PatientStatus::Active)?;
    authorize(
        deps,
        &info.sender,
        &patient,
        scope,
        Some(record.category),
        action,
    )?;
    Ok(record)
}

/// A new version's file, as the writer sealed it.
pub struct VersionWrite {
    /// The version the file replaces.
    pub base_version: u32,
    /// The key epoch the file is sealed under.
    pub epoch: u32,
    pub blob: BlobRef,
}

pub fn execute_update_record(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    record_id: RecordId,
    write: VersionWrite,
) -> Result<Response, ContractError> {
    let VersionWrite {
        base_version,
        epoch,
        blob,
    } = write;
    let mut record = load_writable_record(
        deps.as_ref(),
        &info,
        record_id,
        Scope::Write,
        "update record",
    )?;
    ensure_base_version(base_version, record.latest.version)?;
    ensure_write_epoch(deps.as_ref(), record.patient_id, record.category, epoch)?;
    validate_blob(&blob)?;
    ensure_new_blob(deps.storage, record.patient_id, &blob)?;
    let version = record
        .latest
        .version
        .checked_add(1)
        .ok_or_else(|| StdError::msg("record version overflow"))?;
    let next = StoredRecordVersion {
        version,
        epoch,
        blob,
        author: info.sender.clone(),
        time: env.block.time,
    };
    RECORD_BY_HASH.save(
        deps.storage,
        (record.patient_id, next.blob.sha256.as_str()),
        &record_id,
    )?;
    RECORD_VERSIONS.save(deps.storage, (record_id, version), &next)?;
    let old = record.clone();
    record.latest = next;
    records().replace(deps.storage, record_id, Some(&record), Some(&old))?;

    let audit = audit_message(
        deps.as_ref(),
        record.patient_id,
        &info.sender,
        AuditAction::RecordUpdated { record_id, version },
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "update_record")
        .add_attribute("record_id", record_id.to_string())
        .add_attribute("version", version.to_string()))
}

pub fn execute_delete_record(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    record_id: RecordId,
) -> Result<Response, ContractError> {
    let mut record = load_writable_record(
        deps.as_ref(),
        &info,
        record_id,
        Scope::Manage,
        "delete record",
    )?;
    let old = record.clone();
    record.status = RecordStatus::Deleted;
    records().replace(deps.storage, record_id, Some(&record), Some(&old))?;
    let audit = audit_message(
        deps.as_ref(),
        record.patient_id,
        &info.sender,
        AuditAction::RecordDeleted { record_id },
    )?;
    Ok(Response::new()
        .add_message(audit)
        .add_attribute("action", "delete_record")
        .add_attribute("record_id", record_id.to_string()))
}

/// Removes up to `limit` stored entries (versions, records, hash index entries) of a deleted
/// patient, oldest record first. Each call does bounded work whatever the patient's history.
pub fn execute_purge_deleted_records(
    deps: DepsMut,
    patient_id: PatientId,
    limit: Option<u32>,
) -> Result<Response, ContractError> {
    let patient = load_patient(deps.storage, patient_id)?;
    ensure_status(&patient, PatientStatus::Deleted)?;
    let budget = limit.unwrap_or(MAX_PURGE).clamp(1, MAX_PURGE) as usize;
    let mut removed = 0usize;

    while removed < budget {
        let next_record = records()
            .idx
            .patient
            .prefix(patient_id)
            .keys(deps.storage, None, None, Order::Ascending)
            .next()
            .transpose()?;
        let Some(record_id) = next_record else { break };
        let versions: Vec<u32> = RECORD_VERSIONS
            .prefix(record_id)
            .keys(deps.storage, None, None, Order::Ascending)
            .take(budget - removed)
            .collect::<Result<_, _>>()?;
        for version in &versions {
            RECORD_VERSIONS.remove(deps.storage, (record_id, *version));
        }
        removed += versions.len();
        if removed < budget {
            records().remove(deps.storage, record_id)?;
            removed += 1;
        }
    }
    let hashes: Vec<String> = RECORD_BY_HASH
        .prefix(patient_id)
        .keys(deps.storage, None, None, Order::Ascending)
        .take(budget - removed)
        .collect::<Result<_, _>>()?;
    for sha256 in &hashes {
        RECORD_BY_HASH.remove(deps.storage, (patient_id, sha256.as_str()));
    }
    removed += hashes.len();

    Ok(Response::new()
        .add_attribute("action", "purge_deleted_records")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("removed", removed.to_string()))
}

/// A record as the current state shows it: `None` when there is none, and the records of a
/// deleted patient are gone.
fn visible_record(deps: Deps, record_id: RecordId) -> Result<Option<StoredRecord>, ContractError> {
    let Some(record) = records().may_load(deps.storage, record_id)? else {
        return Ok(None);
    };
    let patient = load_patient(deps.storage, record.patient_id)?;
    Ok((patient.status != PatientStatus::Deleted).then_some(record))
}

pub fn query_record(deps: Deps, record_id: RecordId) -> Result<RecordResponse, ContractError> {
    Ok(RecordResponse {
        record: visible_record(deps, record_id)?.map(Into::into),
    })
}

pub fn query_record_history(
    deps: Deps,
    record_id: RecordId,
    start_after: Option<u32>,
    limit: Option<u32>,
) -> Result<RecordHistoryResponse, ContractError> {
    if visible_record(deps, record_id)?.is_none() {
        return Ok(RecordHistoryResponse { versions: vec![] });
    }
    let versions = collect_page(
        RECORD_VERSIONS.prefix(record_id).range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(RecordHistoryResponse { versions })
}

pub fn query_records_by_patient(
    deps: Deps,
    patient_id: PatientId,
    category: Option<Category>,
    start_after: Option<RecordId>,
    limit: Option<u32>,
) -> Result<RecordsResponse, ContractError> {
    let listed = PATIENTS
        .may_load(deps.storage, patient_id)?
        .is_some_and(|patient| patient.status != PatientStatus::Deleted);
    if !listed {
        return Ok(RecordsResponse { records: vec![] });
    }
    let start = start_after.map(Bound::exclusive);
    let index = records().idx;
    let page = match category {
        Some(category) => collect_page(
            index
                .patient_category
                .prefix((patient_id, category.code()))
                .range(deps.storage, start, None, Order::Ascending),
            limit,
        )?,
        None => collect_page(
            index
                .patient
                .prefix(patient_id)
                .range(deps.storage, start, None, Order::Ascending),
            limit,
        )?,
    };
    Ok(RecordsResponse { records: page })
}

pub fn query_records_by_author(
    deps: Deps,
    author: String,
    start_after: Option<RecordId>,
    limit: Option<u32>,
) -> Result<RecordsResponse, ContractError> {
    let author = validate_address(deps.api, &author)?;
    let mut page = Vec::new();
    let authored = records().idx.author.prefix(author).range(
        deps.storage,
        start_after.map(Bound::exclusive),
        None,
        Order::Ascending,
    );
    // Records of deleted patients are skipped and the scan goes on until the page is full, so a
    // short page means the end. A query: bounded by the node's query gas, not an execute path.
    let size = page_size(limit);
    for item in authored {
        let (_, record) = item?;
        if PATIENTS.load(deps.storage, record.patient_id)?.status != PatientStatus::Deleted {
            page.push(record.into());
            if page.len() == size {
                break;
            }
        }
    }
    Ok(RecordsResponse { records: page })
}

pub fn query_record_by_sha256(
    deps: Deps,
    patient_id: PatientId,
    sha256: String,
) -> Result<RecordResponse, ContractError> {
    validate_sha256(&sha256)?;
    let record = match RECORD_BY_HASH.may_load(deps.storage, (patient_id, sha256.as_str()))? {
        Some(record_id) => visible_record(deps, record_id)?.map(Into::into),
        None => None,
    };
    Ok(RecordResponse { record })
}
