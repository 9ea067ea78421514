//! A doctor's proposal waiting at an address must not block that address: registering there, or
//! receiving a recovered patient, declines it (and the audit of the proposal says so). An active
//! patient still refuses both.

use ehr_registry::ContractError as RegistryError;
use ehr_testing::{Suite, Target};
use ehr_types::registry::{self, PatientStatus};
use ehr_types::AuditAction;

#[test]
fn registering_declines_a_proposal_waiting_at_the_address() {
    let mut suite = Suite::new();
    let doctor = suite.addr("doctor");
    let patient = suite.addr("patient");
    suite.credential(&doctor);
    let proposed = suite.propose_patient(&doctor, &patient).unwrap();
    let registered = suite.register_patient(&patient).unwrap();
    assert_ne!(proposed, registered);
    assert_eq!(
        suite.patient(proposed).unwrap().status,
        PatientStatus::Deleted
    );
    assert_eq!(
        suite.patient(registered).unwrap().status,
        PatientStatus::Active
    );
    let declined = suite.audit_log(proposed);
    assert!(
        matches!(
            declined.last().map(|e| &e.action),
            Some(AuditAction::PatientDeclined {})
        ),
        "{declined:?}"
    );
    // A squatter proposing again is refused: the address owns an active patient now.
    suite.execute_expecting_error(
        &doctor,
        Target::Registry,
        &registry::ExecuteMsg::ProposePatient {
            address: patient.to_string(),
            profile: None,
        },
        &RegistryError::AlreadyPatient {
            address: patient.to_string(),
            patient_id: registered,
        }
        .to_string(),
    );
    // And an active patient cannot register a second one.
    assert!(suite.register_patient(&patient).is_err());
}

/// Trustees and credentialed providers are different parties: a trustee who were also a doctor
/// could declare an emergency and release its own share to itself.
#[test]
fn a_trustee_is_never_credentialed_nor_a_doctor_named_trustee() {
    let mut suite = Suite::new();
    let doctor = suite.addr("doctor");
    let trustee = suite.addr("trustee");
    let other = suite.addr("other_trustee");
    suite.credential(&doctor);
    suite.set_trustees(&[&trustee, &other], 2);
    let admin = suite.admin.clone();
    suite.execute_expecting_error(
        &admin,
        Target::Registry,
        &registry::ExecuteMsg::CredentialProvider {
            address: trustee.to_string(),
            display_name: "Dr Trust".into(),
            organization: "Escrow Org".into(),
        },
        &RegistryError::RoleConflict {
            address: trustee.to_string(),
            role: "a trustee of the network",
        }
        .to_string(),
    );
    suite.execute_expecting_error(
        &admin,
        Target::Access,
        &ehr_types::access::ExecuteMsg::SetTrustees {
            trustees: vec![trustee.to_string(), doctor.to_string()],
            threshold: 2,
        },
        &ehr_access::ContractError::RoleConflict {
            address: doctor.to_string(),
            role: "a credentialed provider",
        }
        .to_string(),
    );
}
