//! What each contract asks the other: "none" comes back in the response and maps to the
//! contract's own not-found refusal; a query that fails is a `peer_query_failed` error naming the
//! query, never taken for "no such patient", "not credentialed" or "unauthorized". The failures
//! are injected by migrating one contract to a build whose query answers one message with an
//! error.

use cosmwasm_std::{Addr, Binary, Deps, Empty, Env, StdError};
use cw_multi_test::{Contract, ContractWrapper, Executor};
use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{sample_blob, sample_envelope, Roles, Suite, Target};
use ehr_types::access::{self, Scope};
use ehr_types::error_code::{self, ErrorCode};
use ehr_types::registry;
use ehr_types::Category;

/// The code and the `query` field of a refusal.
fn coded(err: &StdError) -> (ErrorCode, Option<String>) {
    let text = err.to_string();
    let coded = error_code::parse(&text).unwrap_or_else(|| panic!("no code in {text}"));
    (coded.code, coded.field("query").map(str::to_string))
}

fn injected() -> StdError {
    StdError::msg("injected failure")
}

/// The registry, except that `patient` and `provider` queries fail.
fn failing_registry_query(
    deps: Deps,
    env: Env,
    msg: registry::QueryMsg,
) -> Result<Binary, RegistryError> {
    match msg {
        registry::QueryMsg::Patient { .. } | registry::QueryMsg::Provider { .. } => {
            Err(injected().into())
        }
        other => ehr_registry::contract::query(deps, env, other),
    }
}

/// The access contract, except that `permission` queries fail.
fn failing_access_query(
    deps: Deps,
    env: Env,
    msg: access::QueryMsg,
) -> Result<Binary, AccessError> {
    match msg {
        access::QueryMsg::Permission { .. } => Err(injected().into()),
        other => ehr_access::contract::query(deps, env, other),
    }
}

/// Migrates `target` to `code` (the same release, so the cw2 check lets it).
fn migrate_to(suite: &mut Suite, target: Target, code: Box<dyn Contract<Empty>>) {
    let code_id = suite.app.store_code(code);
    let admin = suite.admin.clone();
    let contract = suite.contract(target);
    let migrated = match target {
        Target::Registry => {
            suite
                .app
                .migrate_contract(admin, contract, &registry::MigrateMsg::default(), code_id)
        }
        Target::Access => {
            suite
                .app
                .migrate_contract(admin, contract, &access::MigrateMsg::default(), code_id)
        }
    };
    migrated.expect("migrate to the failing build");
}

fn grant(patient_id: u64, grantee: &Addr) -> access::ExecuteMsg {
    access::ExecuteMsg::Grant {
        patient_id,
        grantee: grantee.to_string(),
        scope: Scope::Read,
        categories: vec![Category::Lab],
        expires: None,
        key_envelopes: vec![sample_envelope(Category::Lab, 0)],
    }
}

fn request_access(roles: &Roles) -> access::ExecuteMsg {
    access::ExecuteMsg::RequestAccess {
        patient_id: roles.patient_id,
        scope: Scope::Read,
        categories: vec![Category::Lab],
    }
}

#[test]
fn the_access_contract_tells_an_unknown_patient_from_a_failing_registry() {
    let (mut suite, roles) = Suite::with_roles();
    suite.execute_expecting_error(
        &roles.patient,
        Target::Access,
        &grant(999, &roles.doctor_without_grant),
        &AccessError::PatientNotFound { patient_id: 999 }.to_string(),
    );
    suite.execute_expecting_error(
        &roles.stranger,
        Target::Access,
        &request_access(&roles),
        &AccessError::NotCredentialed {
            address: roles.stranger.to_string(),
        }
        .to_string(),
    );

    migrate_to(
        &mut suite,
        Target::Registry,
        Box::new(
            ContractWrapper::new(
                ehr_registry::contract::execute,
                ehr_registry::contract::instantiate,
                failing_registry_query,
            )
            .with_migrate(ehr_registry::contract::migrate),
        ),
    );
    let before = suite.dump_state();
    let err = suite
        .execute(
            &roles.patient,
            Target::Access,
            &grant(roles.patient_id, &roles.doctor_without_grant),
        )
        .unwrap_err();
    assert_eq!(
        coded(&err),
        (ErrorCode::PeerQueryFailed, Some("patient".into())),
        "{err}"
    );
    let err = suite
        .execute(
            &roles.doctor_without_grant,
            Target::Access,
            &request_access(&roles),
        )
        .unwrap_err();
    assert_eq!(
        coded(&err),
        (ErrorCode::PeerQueryFailed, Some("provider".into())),
        "{err}"
    );
    assert!(suite.dump_state() == before, "a failed query changed state");
}

#[test]
fn the_registry_tells_a_refusal_from_a_failing_access_contract() {
    let (mut suite, roles) = Suite::with_roles();
    let add = registry::ExecuteMsg::AddRecord {
        patient_id: roles.patient_id,
        category: Category::Lab,
        epoch: suite.epoch(roles.patient_id, Category::Lab),
        blob: sample_blob(100),
    };
    suite.execute_expecting_error(
        &roles.doctor_without_grant,
        Target::Registry,
        &add,
        &RegistryError::unauthorized("add record").to_string(),
    );

    migrate_to(
        &mut suite,
        Target::Access,
        Box::new(
            ContractWrapper::new(
                ehr_access::contract::execute,
                ehr_access::contract::instantiate,
                failing_access_query,
            )
            .with_migrate(ehr_access::contract::migrate),
        ),
    );
    let before = suite.dump_state();
    let err = suite
        .execute(&roles.doctor_without_grant, Target::Registry, &add)
        .unwrap_err();
    assert_eq!(
        coded(&err),
        (ErrorCode::PeerQueryFailed, Some("permission".into())),
        "{err}"
    );
    assert!(suite.dump_state() == before, "a failed query changed state");
    // The patient's own write asks nothing about permission and goes through.
    suite
        .execute(&roles.patient, Target::Registry, &add)
        .expect("the patient writes");
}
