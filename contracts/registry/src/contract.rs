#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Response};
use ehr_types::registry::{ConfigResponse, NewRecord, PatientCountResponse};
use ehr_types::validate::validate_address;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use crate::state::{
    Config, StoredPatientCounts, ADMIN, CONFIG, LAST_PATIENT_ID, LAST_RECORD_ID, PATIENT_COUNTS,
};
use crate::{admin, migrations, patients, providers, records, CONTRACT_NAME, CONTRACT_VERSION};

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    let admin = match msg.admin {
        Some(admin) => validate_address(deps.api, &admin)?,
        None => info.sender,
    };
    CONFIG.save(
        deps.storage,
        &Config {
            admin: admin.clone(),
            access_contract: None,
        },
    )?;
    LAST_PATIENT_ID.save(deps.storage, &0)?;
    LAST_RECORD_ID.save(deps.storage, &0)?;
    PATIENT_COUNTS.save(deps.storage, &StoredPatientCounts::default())?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("admin", admin))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::SetAccessContract { address } => {
            admin::execute_set_access_contract(deps, info, address)
        }
        ExecuteMsg::ProposeAdmin { address } => {
            ADMIN.propose(deps.storage, deps.api, &info, &address)
        }
        ExecuteMsg::AcceptAdmin {} => ADMIN.accept(deps.storage, &info),
        ExecuteMsg::CancelAdminProposal {} => ADMIN.cancel(deps.storage, &info),
        ExecuteMsg::CredentialProvider {
            address,
            display_name,
            organization,
        } => providers::execute_credential_provider(
            deps,
            env,
            info,
            address,
            providers::Listing {
                display_name,
                organization,
            },
        ),
        ExecuteMsg::SetRegistrars { addresses } => {
            providers::execute_set_registrars(deps, info, addresses)
        }
        ExecuteMsg::RevokeProvider { address } => {
            providers::execute_revoke_provider(deps, env, info, address)
        }
        ExecuteMsg::SetProviderKey { encryption_key } => {
            providers::execute_set_provider_key(deps, info, encryption_key)
        }
        ExecuteMsg::RegisterPatient {
            encryption_key,
            profile,
        } => patients::execute_register_patient(deps, env, info, encryption_key, profile),
        ExecuteMsg::ProposePatient { address, profile } => {
            patients::execute_propose_patient(deps, env, info, address, profile)
        }
        ExecuteMsg::AcceptPatient {
            patient_id,
            encryption_key,
        } => patients::execute_accept_patient(deps, env, info, patient_id, encryption_key),
        ExecuteMsg::DeclinePatient { patient_id } => {
            patients::execute_decline_patient(deps, env, info, patient_id)
        }
        ExecuteMsg::UpdatePatient {
            patient_id,
            base_version,
            epoch,
            profile,
        } => {
            let write = patients::ProfileWrite {
                base_version,
                epoch,
                profile,
            };
            patients::execute_update_patient(deps, env, info, patient_id, write)
        }
        ExecuteMsg::DeletePatient { patient_id } => {
            patients::execute_delete_patient(deps, env, info, patient_id)
        }
        ExecuteMsg::TransferPatient {
            patient_id,
            new_owner,
            encryption_key,
        } => patients::execute_transfer_patient(
            deps,
            env,
            info,
            patient_id,
            new_owner,
            encryption_key,
        ),
        ExecuteMsg::PurgeDeletedRecords { patient_id, limit } => {
            records::execute_purge_deleted_records(deps, patient_id, limit)
        }
        ExecuteMsg::AddRecord {
            patient_id,
            category,
            epoch,
            blob,
        } => {
            let record = NewRecord {
                category,
                epoch,
                blob,
            };
            records::execute_add_record(deps, env, info, patient_id, record)
        }
        ExecuteMsg::AddRecords {
            patient_id,
            records,
        } => records::execute_add_records(deps, env, info, patient_id, records),
        ExecuteMsg::UpdateRecord {
            record_id,
            base_version,
            epoch,
            blob,
        } => {
            let write = records::VersionWrite {
                base_version,
                epoch,
                blob,
            };
            records::execute_update_record(deps, env, info, record_id, write)
        }
        ExecuteMsg::DeleteRecord { record_id } => {
            records::execute_delete_record(deps, env, info, record_id)
        }
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, msg: MigrateMsg) -> Result<Response, ContractError> {
    migrations::migrate(deps, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    let response = match msg {
        QueryMsg::Config {} => to_json_binary(&ConfigResponse::from(CONFIG.load(deps.storage)?)),
        QueryMsg::PendingAdmin {} => to_json_binary(&ADMIN.query_pending(deps.storage)?),
        QueryMsg::Registrars {} => to_json_binary(&providers::query_registrars(deps)?),
        QueryMsg::Designation { address } => {
            to_json_binary(&providers::query_designation(deps, address)?)
        }
        QueryMsg::Provider { address } => {
            to_json_binary(&providers::query_provider(deps, address)?)
        }
        QueryMsg::Providers { start_after, limit } => {
            to_json_binary(&providers::query_providers(deps, start_after, limit)?)
        }
        QueryMsg::Directory { addresses } => {
            to_json_binary(&providers::query_directory(deps, addresses)?)
        }
        QueryMsg::Patient { patient_id } => {
            to_json_binary(&patients::query_patient(deps, patient_id)?)
        }
        QueryMsg::PatientByAddress { address } => {
            to_json_binary(&patients::query_patient_by_address(deps, address)?)
        }
        QueryMsg::Patients { start_after, limit } => {
            to_json_binary(&patients::query_patients(deps, start_after, limit)?)
        }
        QueryMsg::PatientCount {} => to_json_binary(&PatientCountResponse::from(
            PATIENT_COUNTS.load(deps.storage)?,
        )),
        QueryMsg::Record { record_id } => to_json_binary(&records::query_record(deps, record_id)?),
        QueryMsg::RecordHistory {
            record_id,
            start_after,
            limit,
        } => to_json_binary(&records::query_record_history(
            deps,
            record_id,
            start_after,
            limit,
        )?),
        QueryMsg::RecordsByPatient {
            patient_id,
            category,
            start_after,
            limit,
        } => to_json_binary(&records::query_records_by_patient(
            deps,
            patient_id,
            category,
            start_after,
            limit,
        )?),
        QueryMsg::RecordsByAuthor {
            author,
            start_after,
            limit,
        } => to_json_binary(&records::query_records_by_author(
            deps,
            author,
            start_after,
            limit,
        )?),
        QueryMsg::RecordBySha256 { patient_id, sha256 } => {
            to_json_binary(&records::query_record_by_sha256(deps, patient_id, sha256)?)
        }
    };
    Ok(response?)
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};

    use super::*;

    #[test]
    fn instantiate_records_the_contract_version_and_an_empty_registry() {
        let mut deps = mock_dependencies();
        let creator = deps.api.addr_make("creator");
        let admin = deps.api.addr_make("admin");
        let msg = InstantiateMsg {
            admin: Some(admin.to_string()),
        };
        instantiate(deps.as_mut(), mock_env(), message_info(&creator, &[]), msg).unwrap();

        let version = cw2::get_contract_version(&deps.storage).unwrap();
        assert_eq!(
            (version.contract.as_str(), version.version.as_str()),
            (CONTRACT_NAME, CONTRACT_VERSION)
        );
        assert_eq!(
            ConfigResponse::from(CONFIG.load(&deps.storage).unwrap()),
            ConfigResponse {
                admin,
                access_contract: None
            }
        );
        assert_eq!(
            PatientCountResponse::from(PATIENT_COUNTS.load(&deps.storage).unwrap()),
            PatientCountResponse {
                active: 0,
                pending: 0,
                deleted: 0,
                total: 0
            }
        );
    }

    #[test]
    fn a_bad_admin_address_is_refused() {
        let mut deps = mock_dependencies();
        let creator = message_info(&deps.api.addr_make("creator"), &[]);
        let msg = InstantiateMsg {
            admin: Some("Not An Address".into()),
        };
        let err = instantiate(deps.as_mut(), mock_env(), creator, msg).unwrap_err();
        assert!(matches!(err, ContractError::InvalidAddress { .. }));
    }
}
