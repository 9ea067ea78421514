//! Every ExecuteMsg of both contracts, sent by every role: allowed, or refused with the exact
//! error and not one stored byte changed.

use cosmwasm_std::Addr;
use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{sample_blob, sample_envelope, sample_public_key, Roles, Suite, Target};
use ehr_types::access::{self, Scope};
use ehr_types::{registry, AuditAction, Category};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Admin,
    PatientOwner,
    OtherPatient,
    DoctorWithGrant,
    DoctorWithoutGrant,
    DoctorExpiredGrant,
    DoctorAfterRevoke,
    Uncredentialed,
    Stranger,
}

use Role::*;

const ALL_ROLES: [Role; 9] = [
    Admin,
    PatientOwner,
    OtherPatient,
    DoctorWithGrant,
    DoctorWithoutGrant,
    DoctorExpiredGrant,
    DoctorAfterRevoke,
    Uncredentialed,
    Stranger,
];
const CREDENTIALED_DOCTORS: [Role; 4] = [
    DoctorWithGrant,
    DoctorWithoutGrant,
    DoctorExpiredGrant,
    DoctorAfterRevoke,
];
const PATIENT_OR_GRANTEE: [Role; 2] = [PatientOwner, DoctorWithGrant];

fn address(roles: &Roles, role: Role) -> Addr {
    match role {
        Admin => roles.admin.clone(),
        PatientOwner => roles.patient.clone(),
        OtherPatient => roles.other_patient.clone(),
        DoctorWithGrant => roles.doctor_with_grant.clone(),
        DoctorWithoutGrant => roles.doctor_without_grant.clone(),
        DoctorExpiredGrant => roles.doctor_expired_grant.clone(),
        DoctorAfterRevoke => roles.doctor_revoked.clone(),
        Uncredentialed => roles.uncredentialed.clone(),
        Stranger => roles.stranger.clone(),
    }
}

enum Msg {
    Registry(registry::ExecuteMsg),
    Access(access::ExecuteMsg),
}

/// What a role gets: `None` when allowed, else the exact error text.
type Expectation = fn(Role, &Roles) -> Option<String>;

struct Case {
    name: &'static str,
    prepare: fn(&mut Suite, &Roles) -> Msg,
    expect: Expectation,
}

fn only(allowed: &[Role], role: Role, error: impl ToString) -> Option<String> {
    (!allowed.contains(&role)).then(|| error.to_string())
}

fn registry_unauthorized(action: &str) -> String {
    RegistryError::unauthorized(action).to_string()
}

fn access_unauthorized(action: &str) -> String {
    AccessError::unauthorized(action).to_string()
}

fn not_credentialed_in_registry(roles: &Roles, role: Role) -> String {
    RegistryError::NotCredentialed {
        address: address(roles, role).into_string(),
    }
    .to_string()
}

fn not_credentialed_in_access(roles: &Roles, role: Role) -> String {
    AccessError::NotCredentialed {
        address: address(roles, role).into_string(),
    }
    .to_string()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "registry UpdateConfig",
            prepare: |suite, _| {
                Msg::Registry(registry::ExecuteMsg::UpdateConfig {
                    admin: None,
                    access_contract: Some(suite.addr("new_access_contract").to_string()),
                })
            },
            expect: |role, _| only(&[Admin], role, registry_unauthorized("update config")),
        },
        Case {
            name: "CredentialProvider",
            prepare: |suite, _| {
                Msg::Registry(registry::ExecuteMsg::CredentialProvider {
                    address: suite.addr("new_doctor").to_string(),
                })
            },
            expect: |role, _| only(&[Admin], role, registry_unauthorized("credential provider")),
        },
        Case {
            name: "RevokeProvider",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::RevokeProvider {
                    address: roles.doctor_without_grant.to_string(),
                })
            },
            expect: |role, _| only(&[Admin], role, registry_unauthorized("revoke provider")),
        },
        Case {
            name: "SetProviderKey",
            prepare: |_, _| {
                Msg::Registry(registry::ExecuteMsg::SetProviderKey {
                    encryption_key: sample_public_key(9),
                })
            },
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_registry(roles, role),
                )
            },
        },
        Case {
            name: "RegisterPatient",
            prepare: |_, _| {
                Msg::Registry(registry::ExecuteMsg::RegisterPatient {
                    encryption_key: sample_public_key(3),
                    profile: Some(sample_blob(100)),
                })
            },
            expect: |role, roles| {
                let existing = match role {
                    PatientOwner => roles.patient_id,
                    OtherPatient => roles.other_patient_id,
                    _ => return None,
                };
                let address = address(roles, role).into_string();
                Some(
                    RegistryError::AlreadyPatient {
                        address,
                        patient_id: existing,
                    }
                    .to_string(),
                )
            },
        },
        Case {
            name: "ProposePatient",
            prepare: |suite, _| {
                Msg::Registry(registry::ExecuteMsg::ProposePatient {
                    address: suite.addr("newcomer").to_string(),
                    profile: None,
                })
            },
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_registry(roles, role),
                )
            },
        },
        Case {
            name: "AcceptPatient",
            prepare: |suite, roles| {
                let patient_id = suite
                    .propose_patient(&roles.doctor_with_grant, &roles.stranger)
                    .expect("proposal");
                Msg::Registry(registry::ExecuteMsg::AcceptPatient {
                    patient_id,
                    encryption_key: sample_public_key(4),
                })
            },
            expect: |role, _| only(&[Stranger], role, registry_unauthorized("accept patient")),
        },
        Case {
            name: "DeclinePatient",
            prepare: |suite, roles| {
                let patient_id = suite
                    .propose_patient(&roles.doctor_with_grant, &roles.stranger)
                    .expect("proposal");
                Msg::Registry(registry::ExecuteMsg::DeclinePatient { patient_id })
            },
            expect: |role, _| only(&[Stranger], role, registry_unauthorized("decline patient")),
        },
        Case {
            name: "UpdatePatient",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::UpdatePatient {
                    patient_id: roles.patient_id,
                    profile: sample_blob(101),
                })
            },
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("update patient"),
                )
            },
        },
        Case {
            name: "DeletePatient",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::DeletePatient {
                    patient_id: roles.patient_id,
                })
            },
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("delete patient"),
                )
            },
        },
        Case {
            name: "PurgeDeletedRecords",
            prepare: |suite, roles| {
                suite
                    .delete_patient(&roles.patient, roles.patient_id)
                    .expect("delete");
                Msg::Registry(registry::ExecuteMsg::PurgeDeletedRecords {
                    patient_id: roles.patient_id,
                    limit: None,
                })
            },
            expect: |_, _| None,
        },
        Case {
            name: "AddRecord",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::AddRecord {
                    patient_id: roles.patient_id,
                    category: Category::Lab,
                    blob: sample_blob(102),
                })
            },
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("add record"),
                )
            },
        },
        Case {
            name: "AddRecords",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::AddRecords {
                    patient_id: roles.patient_id,
                    records: vec![
                        registry::NewRecord {
                            category: Category::Lab,
                            blob: sample_blob(104),
                        },
                        registry::NewRecord {
                            category: Category::Lab,
                            blob: sample_blob(105),
                        },
                    ],
                })
            },
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("add record"),
                )
            },
        },
        Case {
            name: "UpdateRecord",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::UpdateRecord {
                    record_id: roles.record_id,
                    blob: sample_blob(103),
                })
            },
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("update record"),
                )
            },
        },
        Case {
            name: "DeleteRecord",
            prepare: |_, roles| {
                Msg::Registry(registry::ExecuteMsg::DeleteRecord {
                    record_id: roles.record_id,
                })
            },
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("delete record"),
                )
            },
        },
        Case {
            name: "access UpdateConfig",
            prepare: |_, _| {
                Msg::Access(access::ExecuteMsg::UpdateConfig {
                    admin: None,
                    emergency_access_seconds: Some(60),
                })
            },
            expect: |role, _| only(&[Admin], role, access_unauthorized("update config")),
        },
        Case {
            name: "Grant",
            prepare: |suite, roles| {
                Msg::Access(access::ExecuteMsg::Grant {
                    patient_id: roles.patient_id,
                    grantee: roles.doctor_without_grant.to_string(),
                    scope: Scope::Read,
                    categories: vec![Category::Lab],
                    expires: Some(suite.now().plus_seconds(1000)),
                    key_envelopes: vec![sample_envelope(Category::Lab, 0)],
                })
            },
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("grant")),
        },
        Case {
            name: "Revoke",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::Revoke {
                    patient_id: roles.patient_id,
                    grantee: roles.doctor_with_grant.to_string(),
                })
            },
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("revoke")),
        },
        Case {
            name: "PurgeDeletedGrants",
            prepare: |suite, roles| {
                suite
                    .delete_patient(&roles.patient, roles.patient_id)
                    .expect("delete");
                Msg::Access(access::ExecuteMsg::PurgeDeletedGrants {
                    patient_id: roles.patient_id,
                    limit: None,
                })
            },
            expect: |_, _| None,
        },
        Case {
            name: "RequestAccess",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::RequestAccess {
                    patient_id: roles.patient_id,
                    scope: Scope::Read,
                    categories: vec![Category::Note],
                })
            },
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_access(roles, role),
                )
            },
        },
        Case {
            name: "ApproveRequest",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::ApproveRequest {
                    request_id: roles.request_id,
                    expires: None,
                    key_envelopes: vec![sample_envelope(Category::Lab, 0)],
                })
            },
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    access_unauthorized("approve request"),
                )
            },
        },
        Case {
            name: "DenyRequest",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::DenyRequest {
                    request_id: roles.request_id,
                })
            },
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("deny request")),
        },
        Case {
            name: "StoreOwnEnvelopes",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::StoreOwnEnvelopes {
                    patient_id: roles.patient_id,
                    key_envelopes: vec![sample_envelope(Category::Lab, 1)],
                })
            },
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    access_unauthorized("store own envelopes"),
                )
            },
        },
        Case {
            name: "EmergencyAccess",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::EmergencyAccess {
                    patient_id: roles.patient_id,
                })
            },
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_access(roles, role),
                )
            },
        },
        Case {
            name: "LogActions",
            prepare: |_, roles| {
                Msg::Access(access::ExecuteMsg::LogActions {
                    patient_id: roles.patient_id,
                    actor: roles.patient.to_string(),
                    actions: vec![AuditAction::PatientDeleted {}],
                })
            },
            expect: |_, _| Some(access_unauthorized("log action")),
        },
    ]
}

impl Msg {
    fn send(&self, suite: &mut Suite, sender: &Addr) -> Result<(), cosmwasm_std::StdError> {
        match self {
            Msg::Registry(msg) => suite.execute(sender, Target::Registry, msg).map(drop),
            Msg::Access(msg) => suite.execute(sender, Target::Access, msg).map(drop),
        }
    }

    fn send_expecting_error(&self, suite: &mut Suite, sender: &Addr, error: &str) {
        match self {
            Msg::Registry(msg) => {
                suite.execute_expecting_error(sender, Target::Registry, msg, error)
            }
            Msg::Access(msg) => suite.execute_expecting_error(sender, Target::Access, msg, error),
        }
    }
}

#[test]
fn every_execute_msg_for_every_role() {
    let cases = cases();
    assert_eq!(
        cases.len(),
        15 + 10,
        "one case per ExecuteMsg variant of both contracts"
    );
    let mut allowed = 0;
    let mut refused = 0;
    for case in &cases {
        for role in ALL_ROLES {
            let (mut suite, roles) = Suite::with_roles();
            let msg = (case.prepare)(&mut suite, &roles);
            let sender = address(&roles, role);
            match (case.expect)(role, &roles) {
                Some(error) => {
                    msg.send_expecting_error(&mut suite, &sender, &error);
                    refused += 1;
                }
                None => {
                    let before = suite.dump_state();
                    msg.send(&mut suite, &sender).unwrap_or_else(|err| {
                        panic!("{} by {role:?} should succeed: {err}", case.name)
                    });
                    assert!(
                        suite.dump_state() != before,
                        "{} by {role:?} changed nothing",
                        case.name
                    );
                    allowed += 1;
                }
            }
        }
    }
    assert_eq!(allowed + refused, 25 * 9);
    println!("role matrix: {allowed} allowed, {refused} refused with the exact error");
}
