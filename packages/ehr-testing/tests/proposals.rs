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
