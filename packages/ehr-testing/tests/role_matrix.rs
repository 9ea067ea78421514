//! Every ExecuteMsg of both contracts, sent by every role: allowed, with the change it must make
//! checked, or refused with the exact error and not one stored byte changed.
//!
//! What each message may do is an exhaustive `match` over the ExecuteMsg variants (`rule`), so a
//! new variant without a rule does not compile; and the messages sent are checked against the
//! variant list serde knows, so a variant without a message fails the test.

use std::collections::BTreeSet;

use cosmwasm_std::Addr;
use ehr_access::ContractError as AccessError;
use ehr_registry::ContractError as RegistryError;
use ehr_testing::{
    sample_blob, sample_envelope, sample_public_key, sample_share, Roles, Suite, Target,
    RECOVERY_WAIT_SECONDS,
};
use ehr_types::access::{self, KeyHolder, KeyHoldersResponse, RequestStatus, Scope};
use ehr_types::admin::PendingAdminResponse;
use ehr_types::escrow::{
    EmergencyReason, EpochEscrow, EscrowPolicyResponse, EscrowedSharesResponse, ReleasedShare,
    ReleasedSharesResponse, TrusteesResponse,
};
use ehr_types::recovery::{IdentityCheck, RecoveryInfo, RecoveryResponse, RecoveryStatus};
use ehr_types::registry::{self, PatientStatus, RecordStatus};
use ehr_types::{AuditAction, Category};
use serde::de::DeserializeOwned;
use serde::Serialize;

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
    Trustee,
    Registrar,
}

use Role::*;

const ALL_ROLES: [Role; 11] = [
    Admin,
    PatientOwner,
    OtherPatient,
    DoctorWithGrant,
    DoctorWithoutGrant,
    DoctorExpiredGrant,
    DoctorAfterRevoke,
    Uncredentialed,
    Stranger,
    Trustee,
    Registrar,
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
        Trustee => roles.trustee.clone(),
        Registrar => roles.registrar.clone(),
    }
}

#[derive(Debug)]
enum Msg {
    Registry(registry::ExecuteMsg),
    Access(access::ExecuteMsg),
}

/// What a role gets: `None` when allowed, else the exact error text.
type Expectation = fn(Role, &Roles) -> Option<String>;
/// What an allowed message must have changed, checked on the suite after it ran.
type Effect = fn(&Suite, &Roles, Role);

struct Rule {
    expect: Expectation,
    effect: Effect,
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

/// The id the next patient gets (the role set-up registered two).
fn next_patient_id(roles: &Roles) -> u64 {
    roles.other_patient_id + 1
}

/// The newest audit entry of a patient, as (actor, action).
fn last_audit(suite: &Suite, patient_id: u64) -> (Addr, AuditAction) {
    let entry = suite.audit_log(patient_id).pop().expect("an audit entry");
    (entry.actor, entry.action)
}

fn provider(suite: &Suite, address: &Addr) -> registry::ProviderInfo {
    let response: registry::ProviderResponse = suite
        .query(
            Target::Registry,
            &registry::QueryMsg::Provider {
                address: address.to_string(),
            },
        )
        .expect("provider query");
    response.provider.expect("a provider")
}

fn request(suite: &Suite, request_id: u64) -> access::AccessRequestInfo {
    let response: access::RequestResponse = suite
        .query(Target::Access, &access::QueryMsg::Request { request_id })
        .expect("request query");
    response.request.expect("request exists")
}

/// The holders of a category's current epoch, in the order they were handed its key.
fn holders(suite: &Suite, roles: &Roles, category: Category) -> Vec<(Addr, bool)> {
    suite
        .key_holders(roles.patient_id, category)
        .holders
        .into_iter()
        .map(|KeyHolder { address, entitled }| (address, entitled))
        .collect()
}

/// `Grant` and `ApproveRequest`: the doctor without a grant may now read Lab and holds its key.
fn doctor_without_grant_reads_lab(suite: &Suite, roles: &Roles) {
    let doctor = &roles.doctor_without_grant;
    let grant = suite.grant_of(roles.patient_id, doctor).expect("a grant");
    assert_eq!(
        (grant.scope, grant.categories),
        (Scope::Read, vec![Category::Lab])
    );
    assert_eq!(
        holders(suite, roles, Category::Lab),
        vec![
            (roles.doctor_with_grant.clone(), true),
            (doctor.clone(), true)
        ],
        "an envelope of the current epoch makes the grantee a holder"
    );
    assert_eq!(
        suite.key_envelopes(roles.patient_id, doctor, None),
        vec![sample_envelope(Category::Lab, 1)]
    );
    assert_eq!(suite.epoch(roles.patient_id, Category::Lab), 1);
}

fn patients_of(suite: &Suite, patient_id: u64) -> usize {
    let page: access::GrantsResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::GrantsByPatient {
                patient_id,
                start_after: None,
                limit: Some(100),
            },
        )
        .expect("grants");
    page.grants.len()
}

fn registry_holds(suite: &Suite, needle: &[u8]) -> bool {
    suite
        .app
        .dump_wasm_raw(&suite.registry)
        .iter()
        .any(|(key, value)| {
            [key, value]
                .iter()
                .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
}

/// The messages the matrix sends, one per ExecuteMsg variant of both contracts.
fn messages() -> Vec<fn(&mut Suite, &Roles) -> Msg> {
    vec![
        // The registry is wired already: nobody may re-point it (only a migration may).
        |suite, _| {
            Msg::Registry(registry::ExecuteMsg::SetAccessContract {
                address: suite.addr("new_access_contract").to_string(),
            })
        },
        |suite, _| {
            Msg::Registry(registry::ExecuteMsg::ProposeAdmin {
                address: suite.addr("new_admin").to_string(),
            })
        },
        |suite, roles| {
            propose_stranger_as_admin(suite, roles, Target::Registry);
            Msg::Registry(registry::ExecuteMsg::AcceptAdmin {})
        },
        |suite, roles| {
            propose_stranger_as_admin(suite, roles, Target::Registry);
            Msg::Registry(registry::ExecuteMsg::CancelAdminProposal {})
        },
        |suite, _| {
            Msg::Registry(registry::ExecuteMsg::SetRegistrars {
                addresses: vec![suite.addr("new_registrar").to_string()],
            })
        },
        |suite, _| {
            Msg::Registry(registry::ExecuteMsg::CredentialProvider {
                address: suite.addr("new_doctor").to_string(),
                display_name: "Dr Ana Lima".into(),
                organization: "St Mary".into(),
            })
        },
        |_, roles| {
            Msg::Registry(registry::ExecuteMsg::RevokeProvider {
                address: roles.doctor_without_grant.to_string(),
            })
        },
        |_, _| {
            Msg::Registry(registry::ExecuteMsg::SetProviderKey {
                encryption_key: sample_public_key(9),
            })
        },
        |_, _| {
            Msg::Registry(registry::ExecuteMsg::RegisterPatient {
                encryption_key: sample_public_key(3),
                profile: Some(sample_blob(100)),
            })
        },
        |suite, _| {
            Msg::Registry(registry::ExecuteMsg::ProposePatient {
                address: suite.addr("newcomer").to_string(),
                profile: None,
            })
        },
        |suite, roles| {
            let patient_id = suite
                .propose_patient(&roles.doctor_with_grant, &roles.stranger)
                .expect("proposal");
            Msg::Registry(registry::ExecuteMsg::AcceptPatient {
                patient_id,
                encryption_key: sample_public_key(4),
            })
        },
        |suite, roles| {
            let patient_id = suite
                .propose_patient(&roles.doctor_with_grant, &roles.stranger)
                .expect("proposal");
            Msg::Registry(registry::ExecuteMsg::DeclinePatient { patient_id })
        },
        |suite, roles| {
            let msg = suite.update_patient_msg(roles.patient_id, sample_blob(101));
            Msg::Registry(msg.expect("patient"))
        },
        |_, roles| {
            Msg::Registry(registry::ExecuteMsg::TransferPatient {
                patient_id: roles.patient_id,
                new_owner: roles.stranger.to_string(),
                encryption_key: sample_public_key(40),
            })
        },
        |_, roles| {
            Msg::Registry(registry::ExecuteMsg::DeletePatient {
                patient_id: roles.patient_id,
            })
        },
        |suite, roles| {
            suite
                .delete_patient(&roles.patient, roles.patient_id)
                .expect("delete");
            assert!(registry_holds(suite, sample_blob(0).sha256.as_bytes()));
            Msg::Registry(registry::ExecuteMsg::PurgeDeletedRecords {
                patient_id: roles.patient_id,
                limit: None,
            })
        },
        |suite, roles| {
            Msg::Registry(suite.add_record_msg(roles.patient_id, Category::Lab, sample_blob(102)))
        },
        |suite, roles| {
            let id = roles.patient_id;
            Msg::Registry(registry::ExecuteMsg::AddRecords {
                patient_id: id,
                records: vec![
                    suite.new_record(id, Category::Lab, sample_blob(104)),
                    suite.new_record(id, Category::Lab, sample_blob(105)),
                ],
            })
        },
        |suite, roles| {
            let msg = suite.update_record_msg(roles.record_id, sample_blob(103));
            Msg::Registry(msg.expect("record"))
        },
        |_, roles| {
            Msg::Registry(registry::ExecuteMsg::DeleteRecord {
                record_id: roles.record_id,
            })
        },
        |_, _| {
            Msg::Access(access::ExecuteMsg::UpdateConfig {
                emergency_access_seconds: Some(60),
                recovery_wait_seconds: Some(120),
            })
        },
        |suite, _| {
            Msg::Access(access::ExecuteMsg::ProposeAdmin {
                address: suite.addr("new_admin").to_string(),
            })
        },
        |suite, roles| {
            propose_stranger_as_admin(suite, roles, Target::Access);
            Msg::Access(access::ExecuteMsg::AcceptAdmin {})
        },
        |suite, roles| {
            propose_stranger_as_admin(suite, roles, Target::Access);
            Msg::Access(access::ExecuteMsg::CancelAdminProposal {})
        },
        |suite, roles| {
            Msg::Access(access::ExecuteMsg::Grant {
                patient_id: roles.patient_id,
                grantee: roles.doctor_without_grant.to_string(),
                scope: Scope::Read,
                categories: vec![Category::Lab],
                expires: Some(suite.now().plus_seconds(1000)),
                key_envelopes: vec![sample_envelope(Category::Lab, 1)],
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::Revoke {
                patient_id: roles.patient_id,
                grantee: roles.doctor_with_grant.to_string(),
            })
        },
        |suite, roles| {
            suite
                .delete_patient(&roles.patient, roles.patient_id)
                .expect("delete");
            assert_eq!(patients_of(suite, roles.patient_id), 3);
            Msg::Access(access::ExecuteMsg::PurgeDeletedGrants {
                patient_id: roles.patient_id,
                limit: None,
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::RequestAccess {
                patient_id: roles.patient_id,
                scope: Scope::Read,
                categories: vec![Category::Note],
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::ApproveRequest {
                request_id: roles.request_id,
                expires: None,
                key_envelopes: vec![sample_envelope(Category::Lab, 1)],
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::DenyRequest {
                request_id: roles.request_id,
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::StoreOwnEnvelopes {
                patient_id: roles.patient_id,
                key_envelopes: vec![sample_envelope(Category::Lab, 0)],
            })
        },
        |suite, roles| Msg::Access(suite.rotation_msg(roles.patient_id, Category::Lab)),
        |_, roles| {
            Msg::Access(access::ExecuteMsg::EmergencyAccess {
                patient_id: roles.patient_id,
                reason: EmergencyReason::IncapablePatient {},
            })
        },
        // The doctor without a grant holds Allergy's current key through its window (k shares
        // released): ending the window makes that epoch stale.
        |suite, roles| {
            escrow_allergy(suite, roles);
            suite
                .emergency_access(&roles.doctor_without_grant, roles.patient_id)
                .expect("emergency");
            for (trustee, n) in [(&roles.trustee, 9), (&roles.other_trustee, 10)] {
                suite
                    .execute(
                        trustee,
                        Target::Access,
                        &release_to_doctor_without_grant(roles, sample_share(Category::Allergy, n)),
                    )
                    .expect("release");
            }
            assert!(holders(suite, roles, Category::Allergy)
                .contains(&(roles.doctor_without_grant.clone(), true)));
            Msg::Access(access::ExecuteMsg::EndEmergency {
                patient_id: roles.patient_id,
                doctor: roles.doctor_without_grant.to_string(),
            })
        },
        |suite, _| {
            Msg::Access(access::ExecuteMsg::SetTrustees {
                trustees: ["t1", "t2", "t3"]
                    .map(|name| suite.addr(name).to_string())
                    .to_vec(),
                threshold: 2,
            })
        },
        |_, _| {
            Msg::Access(access::ExecuteMsg::SetTrusteeKey {
                encryption_key: sample_public_key(30),
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::SetEscrowPolicy {
                patient_id: roles.patient_id,
                categories: vec![Category::Allergy],
                recovery: false,
            })
        },
        |suite, roles| {
            escrow_allergy(suite, roles);
            Msg::Access(access::ExecuteMsg::EscrowShares {
                patient_id: roles.patient_id,
                escrows: vec![EpochEscrow {
                    category: Category::Allergy,
                    epoch: 0,
                    shares: suite.sample_shares(Category::Allergy, 0),
                    key_commitment: ehr_testing::sample_commitment(Category::Allergy, 0),
                }],
            })
        },
        // The other trustee released already: this second share (k = 2) opens the key.
        |suite, roles| {
            escrow_allergy(suite, roles);
            suite
                .emergency_access(&roles.doctor_without_grant, roles.patient_id)
                .expect("emergency");
            suite
                .execute(
                    &roles.other_trustee,
                    Target::Access,
                    &release_to_doctor_without_grant(roles, sample_share(Category::Allergy, 10)),
                )
                .expect("the other trustee's release");
            Msg::Access(release_to_doctor_without_grant(
                roles,
                sample_share(Category::Allergy, 9),
            ))
        },
        |suite, roles| {
            escrow_for_recovery(suite, roles);
            Msg::Access(access::ExecuteMsg::RequestRecovery {
                patient_id: roles.patient_id,
                encryption_key: sample_public_key(41),
            })
        },
        |suite, roles| {
            escrow_for_recovery(suite, roles);
            request_recovery(suite, roles);
            Msg::Access(access::ExecuteMsg::CancelRecovery {
                patient_id: roles.patient_id,
            })
        },
        |suite, roles| {
            escrow_for_recovery(suite, roles);
            request_recovery(suite, roles);
            suite.advance_time(RECOVERY_WAIT_SECONDS);
            approve_recovery(suite, roles, &roles.other_trustee);
            Msg::Access(access::ExecuteMsg::ApproveRecovery {
                patient_id: roles.patient_id,
                identity_check: IdentityCheck::VideoPhotoId,
            })
        },
        |suite, roles| {
            escrow_for_recovery(suite, roles);
            request_recovery(suite, roles);
            suite.advance_time(RECOVERY_WAIT_SECONDS);
            approve_recovery(suite, roles, &roles.other_trustee);
            approve_recovery(suite, roles, &roles.trustee);
            Msg::Access(access::ExecuteMsg::ReleaseRecoveryShares {
                patient_id: roles.patient_id,
                shares: vec![ReleasedShare {
                    category: Category::Allergy,
                    epoch: 1,
                    share: sample_share(Category::Allergy, 8),
                }],
            })
        },
        |_, roles| {
            Msg::Access(access::ExecuteMsg::LogActions {
                patient_id: roles.patient_id,
                actor: roles.patient.to_string(),
                actions: vec![AuditAction::PatientDeleted {}],
            })
        },
    ]
}

/// The admin proposes the stranger as the next admin of one contract.
fn propose_stranger_as_admin(suite: &mut Suite, roles: &Roles, target: Target) {
    let address = roles.stranger.to_string();
    let admin = &roles.admin;
    match target {
        Target::Registry => suite.execute(
            admin,
            target,
            &registry::ExecuteMsg::ProposeAdmin { address },
        ),
        Target::Access => {
            suite.execute(admin, target, &access::ExecuteMsg::ProposeAdmin { address })
        }
    }
    .expect("propose admin");
}

/// (admin, pending admin) of one contract.
fn admins(suite: &Suite, target: Target) -> (Addr, Option<Addr>) {
    let pending: PendingAdminResponse = match target {
        Target::Registry => suite.query(target, &registry::QueryMsg::PendingAdmin {}),
        Target::Access => suite.query(target, &access::QueryMsg::PendingAdmin {}),
    }
    .unwrap();
    let admin = match target {
        Target::Registry => {
            let config: registry::ConfigResponse =
                suite.query(target, &registry::QueryMsg::Config {}).unwrap();
            config.admin
        }
        Target::Access => {
            let config: access::ConfigResponse =
                suite.query(target, &access::QueryMsg::Config {}).unwrap();
            config.admin
        }
    };
    (admin, pending.address)
}

/// The patient escrows Allergy; its current epoch (1) has both trustees' shares.
fn escrow_allergy(suite: &mut Suite, roles: &Roles) {
    escrow(suite, roles, false);
}

/// As `escrow_allergy`, and every category escrowed for wallet recovery.
fn escrow_for_recovery(suite: &mut Suite, roles: &Roles) {
    escrow(suite, roles, true);
}

fn escrow(suite: &mut Suite, roles: &Roles, recovery: bool) {
    let patient = roles.patient.clone();
    let msgs = [
        access::ExecuteMsg::SetEscrowPolicy {
            patient_id: roles.patient_id,
            categories: vec![Category::Allergy],
            recovery,
        },
        access::ExecuteMsg::EscrowShares {
            patient_id: roles.patient_id,
            escrows: vec![EpochEscrow {
                category: Category::Allergy,
                epoch: 1,
                shares: suite.sample_shares(Category::Allergy, 1),
                key_commitment: ehr_testing::sample_commitment(Category::Allergy, 1),
            }],
        },
    ];
    for msg in msgs {
        suite
            .execute(&patient, Target::Access, &msg)
            .expect("escrow");
    }
}

/// The stranger asks to become the patient's owner.
fn request_recovery(suite: &mut Suite, roles: &Roles) {
    suite
        .execute(
            &roles.stranger,
            Target::Access,
            &access::ExecuteMsg::RequestRecovery {
                patient_id: roles.patient_id,
                encryption_key: sample_public_key(41),
            },
        )
        .expect("request recovery");
}

fn approve_recovery(suite: &mut Suite, roles: &Roles, trustee: &Addr) {
    suite
        .execute(
            trustee,
            Target::Access,
            &access::ExecuteMsg::ApproveRecovery {
                patient_id: roles.patient_id,
                identity_check: IdentityCheck::InPersonPhotoId,
            },
        )
        .expect("approve recovery");
}

/// A trustee's release of its Allergy epoch 1 share to the doctor without a grant.
fn release_to_doctor_without_grant(
    roles: &Roles,
    share: cosmwasm_std::Binary,
) -> access::ExecuteMsg {
    access::ExecuteMsg::ReleaseShares {
        patient_id: roles.patient_id,
        doctor: roles.doctor_without_grant.to_string(),
        shares: vec![ReleasedShare {
            category: Category::Allergy,
            epoch: 1,
            share,
        }],
    }
}

fn recovery_of(suite: &Suite, roles: &Roles) -> RecoveryInfo {
    let response: RecoveryResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::Recovery {
                patient_id: roles.patient_id,
            },
        )
        .unwrap();
    response.recovery.expect("a recovery request")
}

fn not_trustee(roles: &Roles, role: Role) -> String {
    AccessError::NotTrustee {
        address: address(roles, role).into_string(),
    }
    .to_string()
}

fn escrowed_of(suite: &Suite, roles: &Roles, trustee: &Addr) -> Vec<(Category, u32)> {
    let held: EscrowedSharesResponse = suite
        .query(
            Target::Access,
            &access::QueryMsg::EscrowedShares {
                patient_id: roles.patient_id,
                trustee: trustee.to_string(),
                start_after: None,
                limit: None,
            },
        )
        .unwrap();
    held.shares.iter().map(|s| (s.category, s.epoch)).collect()
}

/// Who may send each message and what it changes: one arm per ExecuteMsg variant.
fn rule(msg: &Msg) -> Rule {
    match msg {
        Msg::Registry(msg) => registry_rule(msg),
        Msg::Access(msg) => access_rule(msg),
    }
}

fn registry_rule(msg: &registry::ExecuteMsg) -> Rule {
    use registry::ExecuteMsg as M;
    match msg {
        M::SetAccessContract { .. } => Rule {
            expect: |role, roles| {
                Some(match role {
                    Admin => RegistryError::AccessContractAlreadySet {
                        address: roles.access_contract.to_string(),
                    }
                    .to_string(),
                    _ => registry_unauthorized("set access contract"),
                })
            },
            effect: |_, _, role| unreachable!("{role:?} may not re-point the access contract"),
        },
        M::ProposeAdmin { .. } => Rule {
            expect: |role, _| only(&[Admin], role, registry_unauthorized("propose admin")),
            effect: |suite, roles, _| {
                assert_eq!(
                    admins(suite, Target::Registry),
                    (roles.admin.clone(), Some(suite.addr("new_admin")))
                );
            },
        },
        M::AcceptAdmin {} => Rule {
            expect: |role, _| only(&[Stranger], role, registry_unauthorized("accept admin")),
            effect: |suite, roles, _| {
                assert_eq!(
                    admins(suite, Target::Registry),
                    (roles.stranger.clone(), None)
                );
                assert_eq!(
                    admins(suite, Target::Access).0,
                    roles.admin,
                    "each contract hands its admin role on by itself"
                );
            },
        },
        M::CancelAdminProposal {} => Rule {
            expect: |role, _| {
                only(
                    &[Admin],
                    role,
                    registry_unauthorized("cancel admin proposal"),
                )
            },
            effect: |suite, roles, _| {
                assert_eq!(admins(suite, Target::Registry), (roles.admin.clone(), None));
            },
        },
        M::SetRegistrars { .. } => Rule {
            expect: |role, _| only(&[Admin], role, registry_unauthorized("set registrars")),
            effect: |suite, roles, _| {
                let registrars: registry::RegistrarsResponse = suite
                    .query(Target::Registry, &registry::QueryMsg::Registrars {})
                    .expect("registrars");
                assert_eq!(registrars.registrars, vec![suite.addr("new_registrar")]);
                assert!(!registrars.registrars.contains(&roles.registrar));
            },
        },
        M::CredentialProvider { .. } => Rule {
            expect: |role, _| {
                only(
                    &[Admin, Registrar],
                    role,
                    registry_unauthorized("credential provider"),
                )
            },
            effect: |suite, _, _| {
                let listed = provider(suite, &suite.addr("new_doctor"));
                assert_eq!(
                    (
                        listed.credentialed,
                        listed.display_name.as_str(),
                        listed.organization.as_str()
                    ),
                    (true, "Dr Ana Lima", "St Mary")
                );
            },
        },
        M::RevokeProvider { .. } => Rule {
            expect: |role, _| {
                only(
                    &[Admin, Registrar],
                    role,
                    registry_unauthorized("revoke provider"),
                )
            },
            effect: |suite, roles, _| {
                let withdrawn = provider(suite, &roles.doctor_without_grant);
                assert_eq!(
                    (withdrawn.credentialed, withdrawn.withdrawn_at),
                    (false, Some(suite.now()))
                );
            },
        },
        M::SetProviderKey { .. } => Rule {
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_registry(roles, role),
                )
            },
            effect: |suite, roles, role| {
                let key = provider(suite, &address(roles, role)).encryption_key;
                assert_eq!(key, Some(sample_public_key(9)));
            },
        },
        M::RegisterPatient { .. } => Rule {
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
            effect: |suite, roles, role| {
                let sender = address(roles, role);
                let patient = suite.patient(next_patient_id(roles)).unwrap();
                assert_eq!(
                    (patient.owner, patient.status, patient.encryption_key),
                    (
                        sender.clone(),
                        PatientStatus::Active,
                        Some(sample_public_key(3))
                    )
                );
                assert_eq!(
                    (patient.profile, patient.profile_version),
                    (Some(sample_blob(100)), 1)
                );
                assert_eq!(
                    last_audit(suite, patient.id),
                    (sender, AuditAction::PatientRegistered {})
                );
            },
        },
        M::ProposePatient { .. } => Rule {
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_registry(roles, role),
                )
            },
            effect: |suite, roles, role| {
                let patient = suite.patient(next_patient_id(roles)).unwrap();
                assert_eq!(
                    (patient.owner, patient.status, patient.proposed_by),
                    (
                        suite.addr("newcomer"),
                        PatientStatus::Pending,
                        Some(address(roles, role))
                    )
                );
            },
        },
        M::AcceptPatient { .. } => Rule {
            expect: |role, _| only(&[Stranger], role, registry_unauthorized("accept patient")),
            effect: |suite, roles, _| {
                let patient = suite.patient(next_patient_id(roles)).unwrap();
                assert_eq!(
                    (patient.owner, patient.status, patient.encryption_key),
                    (
                        roles.stranger.clone(),
                        PatientStatus::Active,
                        Some(sample_public_key(4))
                    )
                );
                assert_eq!(
                    last_audit(suite, patient.id),
                    (roles.stranger.clone(), AuditAction::PatientAccepted {})
                );
            },
        },
        M::DeclinePatient { .. } => Rule {
            expect: |role, _| only(&[Stranger], role, registry_unauthorized("decline patient")),
            effect: |suite, roles, _| {
                let patient = suite.patient(next_patient_id(roles)).unwrap();
                assert_eq!(patient.status, PatientStatus::Deleted);
                assert_eq!(
                    last_audit(suite, patient.id),
                    (roles.stranger.clone(), AuditAction::PatientDeclined {})
                );
            },
        },
        M::UpdatePatient { .. } => Rule {
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("update patient"),
                )
            },
            effect: |suite, roles, role| {
                let patient = suite.patient(roles.patient_id).unwrap();
                assert_eq!(
                    (patient.profile, patient.profile_version),
                    (Some(sample_blob(101)), 1)
                );
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        address(roles, role),
                        AuditAction::ProfileUpdated { version: 1 }
                    )
                );
            },
        },
        // Only the access contract, when k trustees approved a recovery.
        M::TransferPatient { .. } => Rule {
            expect: |_, _| Some(registry_unauthorized("transfer patient")),
            effect: |_, _, role| panic!("TransferPatient by {role:?} was allowed"),
        },
        // The patient's own act only: not the doctor with Manage on every category, not the admin.
        M::DeletePatient { .. } => Rule {
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    registry_unauthorized("delete patient"),
                )
            },
            effect: |suite, roles, _| {
                let patient = suite.patient(roles.patient_id).unwrap();
                assert_eq!(
                    (patient.status, patient.profile),
                    (PatientStatus::Deleted, None)
                );
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (roles.patient.clone(), AuditAction::PatientDeleted {})
                );
            },
        },
        M::PurgeDeletedRecords { .. } => Rule {
            expect: |_, _| None,
            effect: |suite, _, _| {
                assert!(
                    !registry_holds(suite, sample_blob(0).sha256.as_bytes()),
                    "the deleted patient's record entries are gone"
                );
            },
        },
        M::AddRecord { .. } => Rule {
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("add record"),
                )
            },
            effect: |suite, roles, role| {
                let sender = address(roles, role);
                let record_id = roles.record_id + 1;
                let record = suite.record(record_id).unwrap();
                assert_eq!(
                    (record.patient_id, record.category, record.created_by),
                    (roles.patient_id, Category::Lab, sender.clone())
                );
                let latest = record.latest;
                assert_eq!(
                    (latest.version, latest.epoch, latest.blob, latest.author),
                    (1, 1, sample_blob(102), sender.clone())
                );
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        sender,
                        AuditAction::RecordAdded {
                            record_id,
                            category: Category::Lab
                        }
                    )
                );
            },
        },
        M::AddRecords { .. } => Rule {
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("add record"),
                )
            },
            effect: |suite, roles, role| {
                for (offset, n) in [(1, 104), (2, 105)] {
                    let record = suite.record(roles.record_id + offset).unwrap();
                    assert_eq!(
                        (record.category, record.created_by, record.latest.epoch),
                        (Category::Lab, address(roles, role), 1)
                    );
                    assert_eq!(record.latest.blob, sample_blob(n));
                }
                assert!(suite.record(roles.record_id + 3).is_none());
            },
        },
        M::UpdateRecord { .. } => Rule {
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("update record"),
                )
            },
            effect: |suite, roles, role| {
                let sender = address(roles, role);
                let history = suite.record_history(roles.record_id);
                let latest = history.last().unwrap().clone();
                assert_eq!(
                    (history.len(), latest.version, latest.epoch, latest.blob),
                    (2, 2, 1, sample_blob(103))
                );
                assert_eq!((history[0].epoch, latest.author), (0, sender.clone()));
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        sender,
                        AuditAction::RecordUpdated {
                            record_id: roles.record_id,
                            version: 2
                        }
                    )
                );
            },
        },
        M::DeleteRecord { .. } => Rule {
            expect: |role, _| {
                only(
                    &PATIENT_OR_GRANTEE,
                    role,
                    registry_unauthorized("delete record"),
                )
            },
            effect: |suite, roles, role| {
                let record = suite.record(roles.record_id).unwrap();
                assert_eq!(record.status, RecordStatus::Deleted);
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        address(roles, role),
                        AuditAction::RecordDeleted {
                            record_id: roles.record_id
                        }
                    )
                );
            },
        },
    }
}

fn access_rule(msg: &access::ExecuteMsg) -> Rule {
    use access::ExecuteMsg as M;
    match msg {
        M::UpdateConfig { .. } => Rule {
            expect: |role, _| only(&[Admin], role, access_unauthorized("update config")),
            effect: |suite, _, _| {
                let config: access::ConfigResponse = suite
                    .query(Target::Access, &access::QueryMsg::Config {})
                    .unwrap();
                assert_eq!(
                    (
                        config.emergency_access_seconds,
                        config.recovery_wait_seconds
                    ),
                    (60, 120)
                );
            },
        },
        M::ProposeAdmin { .. } => Rule {
            expect: |role, _| only(&[Admin], role, access_unauthorized("propose admin")),
            effect: |suite, roles, _| {
                assert_eq!(
                    admins(suite, Target::Access),
                    (roles.admin.clone(), Some(suite.addr("new_admin")))
                );
            },
        },
        M::AcceptAdmin {} => Rule {
            expect: |role, _| only(&[Stranger], role, access_unauthorized("accept admin")),
            effect: |suite, roles, _| {
                assert_eq!(
                    admins(suite, Target::Access),
                    (roles.stranger.clone(), None)
                );
                assert_eq!(
                    admins(suite, Target::Registry).0,
                    roles.admin,
                    "each contract hands its admin role on by itself"
                );
            },
        },
        M::CancelAdminProposal {} => Rule {
            expect: |role, _| only(&[Admin], role, access_unauthorized("cancel admin proposal")),
            effect: |suite, roles, _| {
                assert_eq!(admins(suite, Target::Access), (roles.admin.clone(), None));
            },
        },
        M::Grant { .. } => Rule {
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("grant")),
            effect: |suite, roles, _| {
                doctor_without_grant_reads_lab(suite, roles);
                let grant = suite.grant_of(roles.patient_id, &roles.doctor_without_grant);
                assert_eq!(grant.unwrap().expires, Some(suite.now().plus_seconds(1000)));
            },
        },
        // No new epoch: the revoked doctor still holds every current key, so each is stale.
        M::Revoke { .. } => Rule {
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("revoke")),
            effect: |suite, roles, _| {
                let doctor = roles.doctor_with_grant.clone();
                assert_eq!(suite.grant_of(roles.patient_id, &doctor), None);
                for category in Category::ALL {
                    let holders = suite.key_holders(roles.patient_id, category);
                    assert_eq!(
                        holders,
                        KeyHoldersResponse {
                            epoch: 1,
                            holders: vec![KeyHolder {
                                address: doctor.clone(),
                                entitled: false
                            }],
                            stale: true,
                            unserved: vec![],
                        },
                        "{category:?}"
                    );
                }
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.patient.clone(),
                        AuditAction::AccessRevoked { grantee: doctor }
                    )
                );
            },
        },
        M::PurgeDeletedGrants { .. } => Rule {
            expect: |_, _| None,
            effect: |suite, roles, _| assert_eq!(patients_of(suite, roles.patient_id), 0),
        },
        M::RequestAccess { .. } => Rule {
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_access(roles, role),
                )
            },
            effect: |suite, roles, role| {
                let request_id = roles.request_id + 1;
                let made = request(suite, request_id);
                assert_eq!(
                    (made.requester, made.status, made.scope, made.categories),
                    (
                        address(roles, role),
                        RequestStatus::Pending,
                        Scope::Read,
                        vec![Category::Note]
                    )
                );
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        address(roles, role),
                        AuditAction::AccessRequested { request_id }
                    )
                );
            },
        },
        M::ApproveRequest { .. } => Rule {
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    access_unauthorized("approve request"),
                )
            },
            effect: |suite, roles, _| {
                assert_eq!(
                    request(suite, roles.request_id).status,
                    RequestStatus::Approved
                );
                doctor_without_grant_reads_lab(suite, roles);
            },
        },
        M::DenyRequest { .. } => Rule {
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("deny request")),
            effect: |suite, roles, _| {
                assert_eq!(
                    request(suite, roles.request_id).status,
                    RequestStatus::Denied
                );
                assert_eq!(
                    suite.grant_of(roles.patient_id, &roles.doctor_without_grant),
                    None
                );
            },
        },
        M::StoreOwnEnvelopes { .. } => Rule {
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    access_unauthorized("store own envelopes"),
                )
            },
            effect: |suite, roles, _| {
                let own: access::OwnEnvelopesResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::OwnEnvelopes {
                            patient_id: roles.patient_id,
                            category: Some(Category::Lab),
                            start_after: None,
                            limit: None,
                        },
                    )
                    .unwrap();
                // Epoch 1's was stored by the patient's rotation in the role set-up.
                assert_eq!(
                    own.key_envelopes,
                    vec![
                        sample_envelope(Category::Lab, 0),
                        sample_envelope(Category::Lab, 1)
                    ]
                );
            },
        },
        // The patient at any time; a credentialed doctor with Write on the category only when its
        // write needs a new epoch (rules::may_rotate), and Lab's epoch 1 is fresh, the doctor's
        // own key and opened by the patient.
        M::RotateKey { .. } => Rule {
            expect: |role, _| match role {
                PatientOwner => None,
                DoctorWithGrant => Some(
                    AccessError::RotationNotNeeded {
                        category: Category::Lab,
                    }
                    .to_string(),
                ),
                _ => Some(access_unauthorized("rotate key")),
            },
            effect: |suite, roles, role| {
                let doctor = roles.doctor_with_grant.clone();
                assert_eq!(
                    suite.key_holders(roles.patient_id, Category::Lab),
                    KeyHoldersResponse {
                        epoch: 2,
                        holders: vec![KeyHolder {
                            address: doctor.clone(),
                            entitled: true
                        }],
                        stale: false,
                        unserved: vec![],
                    }
                );
                assert_eq!(suite.epoch(roles.patient_id, Category::Note), 1);
                let handed = suite.key_envelopes(roles.patient_id, &doctor, Some(Category::Lab));
                assert_eq!(
                    handed,
                    vec![
                        sample_envelope(Category::Lab, 0),
                        sample_envelope(Category::Lab, 1),
                        sample_envelope(Category::Lab, 2)
                    ]
                );
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        address(roles, role),
                        AuditAction::KeyRotated {
                            category: Category::Lab,
                            epoch: 2,
                            holders: 1
                        }
                    )
                );
            },
        },
        M::EmergencyAccess { .. } => Rule {
            expect: |role, roles| {
                only(
                    &CREDENTIALED_DOCTORS,
                    role,
                    not_credentialed_in_access(roles, role),
                )
            },
            effect: |suite, roles, role| {
                let emergency: access::EmergencyResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::EmergencyAccess {
                            patient_id: roles.patient_id,
                            grantee: address(roles, role).to_string(),
                        },
                    )
                    .unwrap();
                let expires = suite.now().plus_seconds(3600);
                assert_eq!((emergency.active, emergency.expires), (true, Some(expires)));
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        address(roles, role),
                        AuditAction::EmergencyAccess {
                            expires,
                            reason: EmergencyReason::IncapablePatient {}
                        }
                    )
                );
            },
        },
        // The patient's own act: not the doctor whose window it is, not a trustee, not the admin.
        M::EndEmergency { .. } => Rule {
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("end emergency")),
            effect: |suite, roles, _| {
                let doctor = roles.doctor_without_grant.clone();
                let emergency: access::EmergencyResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::EmergencyAccess {
                            patient_id: roles.patient_id,
                            grantee: doctor.to_string(),
                        },
                    )
                    .unwrap();
                assert!(!emergency.active, "the window is closed");
                let capabilities: access::CapabilitiesResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::Capabilities {
                            patient_id: roles.patient_id,
                            party: doctor.to_string(),
                        },
                    )
                    .unwrap();
                assert!(capabilities.categories.is_empty(), "{capabilities:?}");
                let window = capabilities.emergency.expect("the ended window");
                assert_eq!((window.open, window.ended), (false, Some(suite.now())));
                let allergy = suite.key_holders(roles.patient_id, Category::Allergy);
                assert!(allergy.stale, "{allergy:?}");
                assert!(holders(suite, roles, Category::Allergy).contains(&(doctor.clone(), false)));
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.patient.clone(),
                        AuditAction::EmergencyEnded { doctor }
                    )
                );
            },
        },
        M::SetTrustees { .. } => Rule {
            expect: |role, _| only(&[Admin], role, access_unauthorized("set trustees")),
            effect: |suite, _, _| {
                let set: TrusteesResponse = suite
                    .query(Target::Access, &access::QueryMsg::Trustees {})
                    .unwrap();
                let members: Vec<Addr> = set.trustees.iter().map(|t| t.address.clone()).collect();
                assert_eq!(
                    (members, set.threshold, set.set_version),
                    (["t1", "t2", "t3"].map(|n| suite.addr(n)).to_vec(), 2, 2)
                );
                assert!(set.trustees.iter().all(|t| t.encryption_key.is_none()));
            },
        },
        M::SetTrusteeKey { .. } => Rule {
            expect: |role, roles| only(&[Trustee], role, not_trustee(roles, role)),
            effect: |suite, roles, _| {
                let set: TrusteesResponse = suite
                    .query(Target::Access, &access::QueryMsg::Trustees {})
                    .unwrap();
                let mine = set.trustees.iter().find(|t| t.address == roles.trustee);
                assert_eq!(
                    mine.and_then(|t| t.encryption_key.clone()),
                    Some(sample_public_key(30))
                );
            },
        },
        M::SetEscrowPolicy { .. } => Rule {
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    access_unauthorized("set escrow policy"),
                )
            },
            effect: |suite, roles, _| {
                let policy: EscrowPolicyResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::EscrowPolicy {
                            patient_id: roles.patient_id,
                        },
                    )
                    .unwrap();
                assert_eq!(policy.categories, vec![Category::Allergy]);
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.patient.clone(),
                        AuditAction::EscrowPolicySet {
                            categories: vec![Category::Allergy],
                            recovery: false,
                        }
                    )
                );
            },
        },
        M::EscrowShares { .. } => Rule {
            expect: |role, _| only(&[PatientOwner], role, access_unauthorized("escrow shares")),
            effect: |suite, roles, _| {
                for trustee in [&roles.trustee, &roles.other_trustee] {
                    assert_eq!(
                        escrowed_of(suite, roles, trustee),
                        vec![(Category::Allergy, 0), (Category::Allergy, 1)]
                    );
                }
            },
        },
        M::ReleaseShares { .. } => Rule {
            expect: |role, roles| only(&[Trustee], role, not_trustee(roles, role)),
            effect: |suite, roles, _| {
                let doctor = roles.doctor_without_grant.clone();
                let released: ReleasedSharesResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::ReleasedShares {
                            patient_id: roles.patient_id,
                            doctor: doctor.to_string(),
                            start_after: None,
                            limit: None,
                        },
                    )
                    .unwrap();
                let mut got: Vec<_> = released
                    .shares
                    .iter()
                    .map(|s| (s.category, s.epoch, s.trustee.clone(), s.threshold))
                    .collect();
                got.sort();
                let mut want = vec![
                    (Category::Allergy, 1, roles.trustee.clone(), 2),
                    (Category::Allergy, 1, roles.other_trustee.clone(), 2),
                ];
                want.sort();
                assert_eq!(got, want);
                // With k shares out the doctor can hold the current key: it is tracked as a holder.
                assert!(holders(suite, roles, Category::Allergy).contains(&(doctor.clone(), true)));
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.trustee.clone(),
                        AuditAction::SharesReleased {
                            doctor,
                            categories: vec![Category::Allergy]
                        }
                    )
                );
            },
        },
        // Anyone who is not a patient may ask; trustees decide.
        M::RequestRecovery { .. } => Rule {
            expect: |role, roles| {
                let patient_id = match role {
                    PatientOwner => roles.patient_id,
                    OtherPatient => roles.other_patient_id,
                    _ => return None,
                };
                Some(
                    AccessError::AlreadyPatient {
                        address: address(roles, role).into_string(),
                        patient_id,
                    }
                    .to_string(),
                )
            },
            effect: |suite, roles, role| {
                let recovery = recovery_of(suite, roles);
                let asker = address(roles, role);
                assert_eq!(
                    (
                        &recovery.new_owner,
                        recovery.status,
                        recovery.approvals.len()
                    ),
                    (&asker, RecoveryStatus::Pending, 0)
                );
                assert_eq!(
                    recovery.not_before,
                    suite.now().plus_seconds(RECOVERY_WAIT_SECONDS)
                );
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        asker.clone(),
                        AuditAction::RecoveryRequested {
                            new_owner: asker,
                            not_before: recovery.not_before
                        }
                    )
                );
                assert_eq!(
                    suite.patient(roles.patient_id).unwrap().owner,
                    roles.patient
                );
            },
        },
        M::CancelRecovery { .. } => Rule {
            expect: |role, _| {
                only(
                    &[PatientOwner],
                    role,
                    access_unauthorized("cancel recovery"),
                )
            },
            effect: |suite, roles, _| {
                assert_eq!(recovery_of(suite, roles).status, RecoveryStatus::Cancelled);
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.patient.clone(),
                        AuditAction::RecoveryCancelled {
                            new_owner: roles.stranger.clone()
                        }
                    )
                );
            },
        },
        // The other trustee approved already: this approval reaches the threshold.
        M::ApproveRecovery { .. } => Rule {
            expect: |role, roles| only(&[Trustee], role, not_trustee(roles, role)),
            effect: |suite, roles, _| {
                let recovery = recovery_of(suite, roles);
                assert_eq!(recovery.status, RecoveryStatus::Completed);
                assert_eq!(
                    recovery.approvals,
                    vec![roles.other_trustee.clone(), roles.trustee.clone()]
                );
                assert_eq!(
                    recovery.identity_checks,
                    vec![IdentityCheck::InPersonPhotoId, IdentityCheck::VideoPhotoId]
                );
                let approvals: Vec<_> = suite
                    .audit_log(roles.patient_id)
                    .into_iter()
                    .filter_map(|entry| match entry.action {
                        AuditAction::RecoveryApproved {
                            new_owner,
                            identity_check,
                        } => Some((entry.actor, new_owner, identity_check)),
                        _ => None,
                    })
                    .collect();
                assert_eq!(
                    approvals,
                    vec![
                        (
                            roles.other_trustee.clone(),
                            roles.stranger.clone(),
                            Some(IdentityCheck::InPersonPhotoId)
                        ),
                        (
                            roles.trustee.clone(),
                            roles.stranger.clone(),
                            Some(IdentityCheck::VideoPhotoId)
                        ),
                    ]
                );
                let patient = suite.patient(roles.patient_id).unwrap();
                assert_eq!(
                    (patient.owner, patient.encryption_key),
                    (roles.stranger.clone(), Some(sample_public_key(41)))
                );
                // The former owner holds every current key: each category's epoch is stale.
                for category in Category::ALL {
                    let holders = suite.key_holders(roles.patient_id, category);
                    assert!(holders.stale, "{category:?}: {holders:?}");
                    assert!(holders.holders.contains(&KeyHolder {
                        address: roles.patient.clone(),
                        entitled: false
                    }));
                }
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.trustee.clone(),
                        AuditAction::PatientRecovered {
                            former_owner: roles.patient.clone(),
                            new_owner: roles.stranger.clone()
                        }
                    )
                );
            },
        },
        M::ReleaseRecoveryShares { .. } => Rule {
            expect: |role, roles| only(&[Trustee], role, not_trustee(roles, role)),
            effect: |suite, roles, _| {
                let released: ReleasedSharesResponse = suite
                    .query(
                        Target::Access,
                        &access::QueryMsg::ReleasedShares {
                            patient_id: roles.patient_id,
                            doctor: roles.stranger.to_string(),
                            start_after: None,
                            limit: None,
                        },
                    )
                    .unwrap();
                let got: Vec<_> = released
                    .shares
                    .iter()
                    .map(|s| (s.category, s.epoch, s.trustee.clone()))
                    .collect();
                assert_eq!(got, vec![(Category::Allergy, 1, roles.trustee.clone())]);
                assert_eq!(
                    last_audit(suite, roles.patient_id),
                    (
                        roles.trustee.clone(),
                        AuditAction::RecoverySharesReleased {
                            owner: roles.stranger.clone(),
                            categories: vec![Category::Allergy]
                        }
                    )
                );
            },
        },
        M::LogActions { .. } => Rule {
            expect: |_, _| Some(access_unauthorized("log action")),
            effect: |_, _, role| panic!("LogActions by {role:?} was allowed"),
        },
    }
}

impl Msg {
    /// The contract and the variant's JSON name, e.g. "registry add_record".
    fn name(&self) -> String {
        let (contract, json) = match self {
            Msg::Registry(msg) => ("registry", cosmwasm_std::to_json_string(msg)),
            Msg::Access(msg) => ("access", cosmwasm_std::to_json_string(msg)),
        };
        let json = json.expect("serialize");
        let variant = json[2..].split('"').next().expect("variant name");
        format!("{contract} {variant}")
    }

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

/// Every variant name of a message enum, as serde lists them when refusing an unknown one.
fn variants<T: DeserializeOwned + Serialize>(contract: &str) -> BTreeSet<String> {
    let err = cosmwasm_std::from_json::<T>(br#"{"no_such_variant":{}}"#)
        .err()
        .expect("an unknown variant is refused")
        .to_string();
    let (_, list) = err
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("no variant list in {err}"));
    // "`a`, `b`, `c` at line 1 column 18": the names are every other piece between backticks.
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(|name| format!("{contract} {name}"))
        .collect()
}

#[test]
fn the_matrix_sends_every_execute_msg_variant_once() {
    let names: Vec<String> = messages()
        .into_iter()
        .map(|prepare| {
            let (mut suite, roles) = Suite::with_roles();
            prepare(&mut suite, &roles).name()
        })
        .collect();
    let distinct: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        names.len(),
        "a variant is sent twice: {names:?}"
    );
    let mut all = variants::<registry::ExecuteMsg>("registry");
    all.extend(variants::<access::ExecuteMsg>("access"));
    assert!(all.contains("access rotate_key") && all.contains("registry add_record"));
    assert_eq!(
        distinct, all,
        "one message per ExecuteMsg variant of both contracts"
    );
}

#[test]
fn every_execute_msg_for_every_role() {
    let messages = messages();
    let mut allowed = 0;
    let mut refused = 0;
    for prepare in &messages {
        for role in ALL_ROLES {
            let (mut suite, roles) = Suite::with_roles();
            let msg = prepare(&mut suite, &roles);
            let Rule { expect, effect } = rule(&msg);
            let sender = address(&roles, role);
            match expect(role, &roles) {
                Some(error) => {
                    msg.send_expecting_error(&mut suite, &sender, &error);
                    refused += 1;
                }
                None => {
                    let before = suite.dump_state();
                    msg.send(&mut suite, &sender).unwrap_or_else(|err| {
                        panic!("{} by {role:?} should succeed: {err}", msg.name())
                    });
                    assert!(
                        suite.dump_state() != before,
                        "{} by {role:?} changed nothing",
                        msg.name()
                    );
                    effect(&suite, &roles, role);
                    allowed += 1;
                }
            }
        }
    }
    println!("role matrix: {allowed} allowed, {refused} refused with the exact error");
}
