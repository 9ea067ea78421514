use cosmwasm_std::{Addr, Deps, DepsMut, Env, MessageInfo, Order, Response, Storage, Timestamp};
use cw_storage_plus::Bound;
use ehr_types::access::AuditLogResponse;
use ehr_types::pagination::collect_page;
use ehr_types::{AuditAction, PatientId};

use crate::error::ContractError;
use crate::state::{StoredAuditEntry, AUDIT, AUDIT_LEN, CONFIG};
use ehr_types::validate::validate_address;

/// Appends one entry to a patient's log in constant work.
pub fn append(
    storage: &mut dyn Storage,
    patient_id: PatientId,
    time: Timestamp,
    actor: Addr,
    action: AuditAction,
) -> Result<u64, ContractError> {
    append_all(storage, patient_id, time, actor, vec![action])
}

/// Appends entries in order, reading and writing the log's length once; returns the last
/// sequence number.
fn append_all(
    storage: &mut dyn Storage,
    patient_id: PatientId,
    time: Timestamp,
    actor: Addr,
    actions: Vec<AuditAction>,
) -> Result<u64, ContractError> {
    let mut seq = AUDIT_LEN.may_load(storage, patient_id)?.unwrap_or(0);
    for action in actions {
        seq += 1;
        AUDIT.save(
            storage,
            (patient_id, seq),
            &StoredAuditEntry {
                patient_id,
                seq,
                time,
                actor: actor.clone(),
                action,
            },
        )?;
    }
    AUDIT_LEN.save(storage, patient_id, &seq)?;
    Ok(seq)
}

pub fn execute_log_actions(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    patient_id: PatientId,
    actor: String,
    actions: Vec<AuditAction>,
) -> Result<Response, ContractError> {
    if info.sender != CONFIG.load(deps.storage)?.registry {
        return Err(ContractError::unauthorized("log action"));
    }
    if actions.is_empty() || !actions.iter().all(AuditAction::is_registry_action) {
        return Err(ContractError::ActionNotLoggable);
    }
    let actor = validate_address(deps.api, &actor)?;
    let seq = append_all(deps.storage, patient_id, env.block.time, actor, actions)?;
    Ok(Response::new()
        .add_attribute("action", "log_actions")
        .add_attribute("patient_id", patient_id.to_string())
        .add_attribute("seq", seq.to_string()))
}

pub fn query_audit_log(
    deps: Deps,
    patient_id: PatientId,
    start_after: Option<u64>,
    limit: Option<u32>,
) -> Result<AuditLogResponse, ContractError> {
    let entries = collect_page(
        AUDIT.prefix(patient_id).range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(AuditLogResponse { entries })
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};
    use ehr_types::access::Scope;
    use ehr_types::Category;

    use super::*;
    use crate::state::Config;

    #[test]
    fn only_registry_actions_are_logged_for_the_registry() {
        let mut deps = mock_dependencies();
        let registry = deps.api.addr_make("registry");
        let patient = deps.api.addr_make("patient");
        let config = Config {
            admin: deps.api.addr_make("admin"),
            registry: registry.clone(),
            emergency_access_seconds: 3600,
            recovery_wait_seconds: 600,
        };
        CONFIG.save(deps.as_mut().storage, &config).unwrap();
        let from_registry = message_info(&registry, &[]);

        let logged = AuditAction::RecordAdded {
            record_id: 1,
            category: Category::Lab,
        };
        execute_log_actions(
            deps.as_mut(),
            mock_env(),
            from_registry.clone(),
            7,
            patient.to_string(),
            vec![logged.clone()],
        )
        .unwrap();
        let forged = AuditAction::AccessGranted {
            grantee: patient.clone(),
            scope: Scope::Manage,
            categories: vec![],
            expires: None,
        };
        for refused in [vec![], vec![forged.clone()], vec![logged.clone(), forged]] {
            let err = execute_log_actions(
                deps.as_mut(),
                mock_env(),
                from_registry.clone(),
                7,
                patient.to_string(),
                refused,
            )
            .unwrap_err();
            assert!(matches!(err, ContractError::ActionNotLoggable));
        }

        let log = query_audit_log(deps.as_ref(), 7, None, None)
            .unwrap()
            .entries;
        assert_eq!(log.len(), 1, "no entry of a refused message was stored");
        assert_eq!(
            (log[0].seq, log[0].actor.clone(), log[0].action.clone()),
            (1, patient, logged)
        );
    }
}
