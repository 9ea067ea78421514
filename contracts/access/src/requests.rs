use cosmwasm_std::{Deps, DepsMut, Env, MessageInfo, Order, Response, StdError, Timestamp};
use cw_storage_plus::Bound;
use ehr_types::access::{KeyEnvelope, RequestResponse, RequestStatus, RequestsResponse, Scope};
use ehr_types::pagination::collect_page;
use ehr_types::{AuditAction, Category, PatientId, RequestId};

use crate::audit::append;
use crate::error::ContractError;
use crate::grants::{store_grant, validate_categories, GrantTerms};
use crate::registry_client::{ensure_credentialed, load_active_patient, load_owned_active_patient};
use crate::state::{requests, StoredRequest, LAST_REQUEST_ID};
use ehr_types::validate::validate_address;

pub fn execute_request_access(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    scope: Scope,
    categories: Vec<Category>,
) -> Result<Response, ContractError> {
    ensure_credentialed(deps.as_ref(), &info.sender)?;
    let patient = load_active_patient(deps.as_ref(), patient_id)?;
    if patient.owner == info.sender {
        return Err(ContractError::CannotGrantSelf);
    }
    let categories = validate_categories(&categories)?;
    let request_id = LAST_REQUEST_ID
        .may_load(deps.storage)?
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| StdError::msg("request id space exhausted"))?;
    let request = StoredRequest {
        id: request_id,
        patient_id,
        requester: info.sender.clone(),
        scope,
        categories,
        status: RequestStatus::Pending,
        created: env.block.time,
        decided: None,
    };
    LAST_REQUEST_ID.save(deps.storage, &request_id)?;
    requests().save(deps.storage, request_id, &request)?;
    append(
        deps.storage,
        patient_id,
        env.block.time,
        info.sender,
        AuditAction::AccessRequested { request_id },
    )?;
    Ok(Response::new()
        .add_attribute("action", "request_access")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("request_id", request_id.to_string()))
}

/// Loads a pending request that the sender, as the patient, may decide.
fn load_decidable_request(
    deps: Deps,
    info: &MessageInfo,
    request_id: RequestId,
    action: &str,
) -> Result<StoredRequest, ContractError> {
    let request = requests()
        .may_load(deps.storage, request_id)?
        .ok_or(ContractError::RequestNotFound { request_id })?;
    load_owned_active_patient(deps, &info.sender, request.patient_id, action)?;
    if request.status != RequestStatus::Pending {
        return Err(ContractError::RequestNotPending { request_id });
    }
    Ok(request)
}

pub fn execute_approve_request(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    request_id: RequestId,
    expires: Option<Timestamp>,
    key_envelopes: Vec<KeyEnvelope>,
) -> Result<Response, ContractError> {
    let mut request = load_decidable_request(deps.as_ref(), &info, request_id, "approve request")?;
    request.status = RequestStatus::Approved;
    request.decided = Some(env.block.time);
    requests().save(deps.storage, request_id, &request)?;
    append(
        deps.storage,
        request.patient_id,
        env.block.time,
        info.sender.clone(),
        AuditAction::RequestApproved { request_id },
    )?;
    let terms = GrantTerms {
        scope: request.scope,
        categories: request.categories,
        expires,
        key_envelopes,
    };
    store_grant(
        deps.branch(),
        &env,
        &info.sender,
        request.patient_id,
        request.requester.clone(),
        terms,
    )?;
    Ok(Response::new()
        .add_attribute("action", "approve_request")
        .add_attribute("request_id", request_id.to_string())
        .add_attribute("grantee", request.requester))
}

pub fn execute_deny_request(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    request_id: RequestId,
) -> Result<Response, ContractError> {
    let mut request = load_decidable_request(deps.as_ref(), &info, request_id, "deny request")?;
    request.status = RequestStatus::Denied;
    request.decided = Some(env.block.time);
    requests().save(deps.storage, request_id, &request)?;
    append(
        deps.storage,
        request.patient_id,
        env.block.time,
        info.sender,
        AuditAction::RequestDenied { request_id },
    )?;
    Ok(Response::new()
        .add_attribute("action", "deny_request")
        .add_attribute("request_id", request_id.to_string()))
}

pub fn query_request(deps: Deps, request_id: RequestId) -> Result<RequestResponse, ContractError> {
    Ok(RequestResponse {
        request: requests()
            .may_load(deps.storage, request_id)?
            .map(Into::into),
    })
}

pub fn query_requests_by_patient(
    deps: Deps,
    patient_id: PatientId,
    start_after: Option<RequestId>,
    limit: Option<u32>,
) -> Result<RequestsResponse, ContractError> {
    let requests = collect_page(
        requests().idx.patient.prefix(patient_id).range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(RequestsResponse { requests })
}

pub fn query_requests_by_requester(
    deps: Deps,
    requester: String,
    start_after: Option<RequestId>,
    limit: Option<u32>,
) -> Result<RequestsResponse, ContractError> {
    let requester = validate_address(deps.api, &requester)?;
    let requests = collect_page(
        requests().idx.requester.prefix(requester).range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(RequestsResponse { requests })
}
