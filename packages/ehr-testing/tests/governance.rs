//! Governance and upgrades: the two-step admin handover, the one-time wiring of the registry to
//! its access contract, and migrations (cw2 version checks, every item kept).

use cosmwasm_std::{Addr, StdError};
use cw_multi_test::Executor;
use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{access_contract, registry_contract, Roles, StateDump, Suite, Target};
use ehr_types::access;
use ehr_types::admin::PendingAdminResponse;
use ehr_types::registry;

const CONTRACT_INFO: &[u8] = b"contract_info";

fn registry_config(suite: &Suite) -> registry::ConfigResponse {
    suite
        .query(Target::Registry, &registry::QueryMsg::Config {})
        .unwrap()
}

fn pending(suite: &Suite, target: Target) -> Option<Addr> {
    let response: PendingAdminResponse = match target {
        Target::Registry => suite.query(target, &registry::QueryMsg::PendingAdmin {}),
        Target::Access => suite.query(target, &access::QueryMsg::PendingAdmin {}),
    }
    .unwrap();
    response.address
}

fn stored_version(suite: &Suite, target: Target) -> cw2::ContractVersion {
    let contract = suite.contract(target);
    cw2::query_contract_info(&suite.app.wrap(), contract).unwrap()
}

/// Writes a cw2 version into a contract's storage, as an older (or newer) build would have.
fn set_stored_version(suite: &mut Suite, target: Target, version: &str) {
    let contract = suite.contract(target);
    let name = stored_version(suite, target).contract;
    let mut storage = suite.app.contract_storage_mut(&contract);
    cw2::set_contract_version(storage.as_mut(), name, version).unwrap();
}

/// Every stored pair but the cw2 version.
fn without_version(dump: StateDump) -> StateDump {
    dump.into_iter()
        .filter(|(_, (key, _))| key.as_slice() != CONTRACT_INFO)
        .collect()
}

fn migrate<M: serde::Serialize>(
    suite: &mut Suite,
    target: Target,
    code_id: u64,
    msg: &M,
) -> Result<(), StdError> {
    let admin = suite.admin.clone();
    let contract = suite.contract(target);
    suite
        .app
        .migrate_contract(admin, contract, msg, code_id)
        .map(drop)
}

/// `ProposeAdmin` of `address`, or `AcceptAdmin` when `None`, to either contract.
fn handover(target: Target, address: Option<&Addr>) -> serde_json::Value {
    let address = address.map(Addr::to_string);
    match (target, address) {
        (Target::Registry, Some(address)) => {
            serde_json::to_value(registry::ExecuteMsg::ProposeAdmin { address })
        }
        (Target::Registry, None) => serde_json::to_value(registry::ExecuteMsg::AcceptAdmin {}),
        (Target::Access, Some(address)) => {
            serde_json::to_value(access::ExecuteMsg::ProposeAdmin { address })
        }
        (Target::Access, None) => serde_json::to_value(access::ExecuteMsg::AcceptAdmin {}),
    }
    .unwrap()
}

fn cancel_msg(target: Target) -> serde_json::Value {
    match target {
        Target::Registry => serde_json::to_value(registry::ExecuteMsg::CancelAdminProposal {}),
        Target::Access => serde_json::to_value(access::ExecuteMsg::CancelAdminProposal {}),
    }
    .unwrap()
}

#[test]
fn the_admin_role_moves_only_when_the_proposed_address_accepts() {
    let mut suite = Suite::new();
    let admin = suite.admin.clone();
    let [typo, successor, stranger] = ["typo", "successor", "stranger"].map(|n| suite.addr(n));
    for target in [Target::Registry, Target::Access] {
        let propose = |address: &Addr| handover(target, Some(address));
        let (accept, cancel) = (handover(target, None), cancel_msg(target));
        let (unauthorized, no_proposal) = match target {
            Target::Registry => (
                RegistryError::unauthorized("accept admin").to_string(),
                RegistryError::NoAdminProposal.to_string(),
            ),
            Target::Access => (
                AccessError::unauthorized("accept admin").to_string(),
                AccessError::NoAdminProposal.to_string(),
            ),
        };

        suite.execute_expecting_error(&successor, target, &accept, &no_proposal);
        suite.execute_expecting_error(&admin, target, &cancel, &no_proposal);

        // A mistyped proposal changes nothing until it is replaced.
        suite.execute(&admin, target, &propose(&typo)).unwrap();
        assert_eq!(pending(&suite, target), Some(typo.clone()));
        suite.execute(&admin, target, &propose(&successor)).unwrap();
        assert_eq!(pending(&suite, target), Some(successor.clone()));

        // Only the proposed address may accept: not a stranger, not the admin, not the typo.
        for wrong in [&stranger, &admin, &typo] {
            suite.execute_expecting_error(wrong, target, &accept, &unauthorized);
        }

        // Cancelled, the proposal cannot be accepted.
        suite.execute(&admin, target, &cancel).unwrap();
        assert_eq!(pending(&suite, target), None);
        suite.execute_expecting_error(&successor, target, &accept, &no_proposal);

        suite.execute(&admin, target, &propose(&successor)).unwrap();
        suite.execute(&successor, target, &accept).unwrap();
        assert_eq!(pending(&suite, target), None);
    }
    assert_eq!(registry_config(&suite).admin, successor);
    let config: access::ConfigResponse = suite
        .query(Target::Access, &access::QueryMsg::Config {})
        .unwrap();
    assert_eq!(config.admin, successor);

    // The old admin is an ordinary address now; the new one administers.
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &ehr_testing::credential_msg(&stranger),
        &RegistryError::unauthorized("credential provider").to_string(),
    );
    suite
        .execute(
            &successor,
            Target::Registry,
            &ehr_testing::credential_msg(&stranger),
        )
        .unwrap();
}

#[test]
fn the_access_contract_is_set_once() {
    let mut suite = Suite::new();
    let admin = suite.admin.clone();
    let access = suite.access.clone();
    let elsewhere = suite.addr("elsewhere").to_string();
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &registry::ExecuteMsg::SetAccessContract { address: elsewhere },
        &RegistryError::AccessContractAlreadySet {
            address: access.to_string(),
        }
        .to_string(),
    );
    assert_eq!(registry_config(&suite).access_contract, Some(access));
}

#[test]
fn a_fresh_registry_is_wired_by_its_admin_only() {
    let mut suite = Suite::new();
    let code_id = suite.app.store_code(registry_contract());
    let admin = suite.admin.clone();
    let fresh = suite
        .app
        .instantiate_contract(
            code_id,
            admin.clone(),
            &registry::InstantiateMsg { admin: None },
            &[],
            "fresh",
            None,
        )
        .unwrap();
    let wire = registry::ExecuteMsg::SetAccessContract {
        address: suite.access.to_string(),
    };
    let stranger = suite.addr("stranger");
    let err = suite
        .app
        .execute_contract(stranger, fresh.clone(), &wire, &[])
        .unwrap_err();
    assert_eq!(
        ehr_testing::error_text(&err),
        RegistryError::unauthorized("set access contract").to_string()
    );
    suite
        .app
        .execute_contract(admin, fresh.clone(), &wire, &[])
        .unwrap();
    let config: registry::ConfigResponse = suite
        .app
        .wrap()
        .query_wasm_smart(fresh, &registry::QueryMsg::Config {})
        .unwrap();
    assert_eq!(config.access_contract, Some(suite.access.clone()));
}

fn populated() -> (Suite, Roles) {
    let (suite, roles) = Suite::with_roles();
    // Patients, records, grants, envelopes and audit entries exist before the upgrade.
    assert!(suite.patient(roles.patient_id).is_some());
    assert!(suite.record(roles.record_id).is_some());
    assert!(suite
        .grant_of(roles.patient_id, &roles.doctor_with_grant)
        .is_some());
    assert!(!suite
        .key_envelopes(roles.patient_id, &roles.doctor_with_grant, None)
        .is_empty());
    assert!(!suite.audit_log(roles.patient_id).is_empty());
    (suite, roles)
}

#[test]
fn migrating_to_a_new_code_keeps_every_item_and_sets_the_version() {
    let (mut suite, roles) = populated();
    for (target, code) in [
        (Target::Registry, registry_contract()),
        (Target::Access, access_contract()),
    ] {
        let code_id = suite.app.store_code(code);
        set_stored_version(&mut suite, target, "0.0.9");
        let before = suite.dump_state();
        match target {
            Target::Registry => migrate(
                &mut suite,
                target,
                code_id,
                &registry::MigrateMsg::default(),
            ),
            Target::Access => migrate(&mut suite, target, code_id, &access::MigrateMsg::default()),
        }
        .unwrap();
        assert_eq!(
            stored_version(&suite, target).version,
            env!("CARGO_PKG_VERSION")
        );
        let info = suite
            .app
            .wrap()
            .query_wasm_contract_info(suite.contract(target))
            .unwrap();
        assert_eq!(info.code_id, code_id);
        assert!(
            without_version(suite.dump_state()) == without_version(before),
            "{target:?}: a migration to this release moves no item"
        );
    }
    // The same patient, record, grant, envelopes and audit log, through the new code.
    let patient = suite.patient(roles.patient_id).unwrap();
    assert_eq!(patient.owner, roles.patient);
    assert!(suite.record(roles.record_id).is_some());
    assert!(suite
        .grant_of(roles.patient_id, &roles.doctor_with_grant)
        .is_some());
    assert_eq!(
        registry_config(&suite).access_contract,
        Some(suite.access.clone()),
        "a plain migration does not re-point the access contract"
    );
}

#[test]
fn a_migration_re_points_the_access_contract_only_when_it_says_so() {
    let mut suite = Suite::new();
    let code_id = suite.app.store_code(registry_contract());
    let replacement = suite.addr("replacement_access");
    let msg = registry::MigrateMsg {
        access_contract: Some("Not An Address".into()),
    };
    suite.assert_refused(
        "a migration to a bad address",
        &RegistryError::InvalidAddress {
            address: "Not An Address".into(),
        }
        .to_string(),
        |suite| migrate(suite, Target::Registry, code_id, &msg),
    );
    let msg = registry::MigrateMsg {
        access_contract: Some(replacement.to_string()),
    };
    migrate(&mut suite, Target::Registry, code_id, &msg).unwrap();
    assert_eq!(registry_config(&suite).access_contract, Some(replacement));
}

#[test]
fn a_downgrade_is_refused() {
    let (mut suite, _) = populated();
    let current = env!("CARGO_PKG_VERSION").to_string();
    for target in [Target::Registry, Target::Access] {
        let code_id = match target {
            Target::Registry => suite.app.store_code(registry_contract()),
            Target::Access => suite.app.store_code(access_contract()),
        };
        set_stored_version(&mut suite, target, "99.0.0");
        let expected = match target {
            Target::Registry => RegistryError::Downgrade {
                stored: "99.0.0".into(),
                current: current.clone(),
            }
            .to_string(),
            Target::Access => AccessError::Downgrade {
                stored: "99.0.0".into(),
                current: current.clone(),
            }
            .to_string(),
        };
        suite.assert_refused("a downgrade", &expected, |suite| match target {
            Target::Registry => migrate(suite, target, code_id, &registry::MigrateMsg::default()),
            Target::Access => migrate(suite, target, code_id, &access::MigrateMsg::default()),
        });
        set_stored_version(&mut suite, target, "not-semver");
        let expected = match target {
            Target::Registry => RegistryError::InvalidVersion {
                version: "not-semver".into(),
            }
            .to_string(),
            Target::Access => AccessError::InvalidVersion {
                version: "not-semver".into(),
            }
            .to_string(),
        };
        suite.assert_refused("an unreadable version", &expected, |suite| match target {
            Target::Registry => migrate(suite, target, code_id, &registry::MigrateMsg::default()),
            Target::Access => migrate(suite, target, code_id, &access::MigrateMsg::default()),
        });
    }
}

#[test]
fn a_foreign_contract_is_refused() {
    let (mut suite, _) = populated();
    let registry_code = suite.app.store_code(registry_contract());
    let access_code = suite.app.store_code(access_contract());
    // The access contract's code offered to the registry, and the other way round.
    suite.assert_refused(
        "the access code over the registry",
        &AccessError::ForeignContract {
            contract: "crates.io:ehr-registry".into(),
        }
        .to_string(),
        |suite| migrate(suite, Target::Registry, access_code, &access::MigrateMsg {}),
    );
    suite.assert_refused(
        "the registry code over the access contract",
        &RegistryError::ForeignContract {
            contract: "crates.io:ehr-access".into(),
        }
        .to_string(),
        |suite| {
            migrate(
                suite,
                Target::Access,
                registry_code,
                &registry::MigrateMsg::default(),
            )
        },
    );
}
