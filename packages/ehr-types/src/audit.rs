use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Timestamp};

use crate::access::Scope;
use crate::escrow::EmergencyReason;
use crate::{Category, PatientId, RecordId, RequestId};

/// One entry of a patient's audit log, kept by the access contract.
#[cw_serde]
pub struct AuditEntry {
    pub patient_id: PatientId,
    /// Position in the patient's log, from 1.
    pub seq: u64,
    pub time: Timestamp,
    pub actor: Addr,
    pub action: AuditAction,
}

/// Every permission change, write and emergency access on a patient's data.
#[cw_serde]
pub enum AuditAction {
    PatientRegistered {},
    PatientProposed {},
    PatientAccepted {},
    PatientDeclined {},
    ProfileUpdated {
        version: u32,
    },
    PatientDeleted {},
    RecordAdded {
        record_id: RecordId,
        category: Category,
    },
    RecordUpdated {
        record_id: RecordId,
        version: u32,
    },
    RecordDeleted {
        record_id: RecordId,
    },
    AccessGranted {
        grantee: Addr,
        scope: Scope,
        categories: Vec<Category>,
        expires: Option<Timestamp>,
    },
    AccessRevoked {
        grantee: Addr,
    },
    AccessRequested {
        request_id: RequestId,
    },
    /// Followed by the `AccessGranted` entry of the grant it made.
    RequestApproved {
        request_id: RequestId,
    },
    RequestDenied {
        request_id: RequestId,
    },
    EmergencyAccess {
        expires: Timestamp,
        reason: EmergencyReason,
    },
    /// The patient (the actor) ended `doctor`'s emergency window early.
    EmergencyEnded {
        doctor: Addr,
    },
    /// A trustee (the actor) released its shares of these categories to an emergency doctor.
    SharesReleased {
        doctor: Addr,
        categories: Vec<Category>,
    },
    /// The patient chose the categories opened in an emergency, and whether every category is
    /// escrowed for recovery from a lost wallet.
    EscrowPolicySet {
        categories: Vec<Category>,
        #[serde(default)]
        recovery: bool,
    },
    /// `new_owner` (the actor) asked to move the patient to its address; trustees may approve
    /// from `not_before`.
    RecoveryRequested {
        new_owner: Addr,
        not_before: Timestamp,
    },
    /// The patient's wallet (the actor) cancelled `new_owner`'s recovery request.
    RecoveryCancelled {
        new_owner: Addr,
    },
    /// A trustee (the actor) approved `new_owner`'s recovery request after checking identity
    /// (absent in approvals logged before checks were recorded).
    RecoveryApproved {
        new_owner: Addr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity_check: Option<crate::recovery::IdentityCheck>,
    },
    /// The k-th approval (its trustee the actor) moved the patient from `former_owner` to
    /// `new_owner`; every key the former owner holds is stale from now on.
    PatientRecovered {
        former_owner: Addr,
        new_owner: Addr,
    },
    /// A trustee (the actor) released its shares of these categories to the recovered owner.
    RecoverySharesReleased {
        owner: Addr,
        categories: Vec<Category>,
    },
    /// A new category key for `epoch`, handed to the patient and `holders` other parties.
    KeyRotated {
        category: Category,
        epoch: u32,
        holders: u32,
    },
}

impl AuditAction {
    /// Whether the registry may log this action: the access contract logs its own.
    pub fn is_registry_action(&self) -> bool {
        matches!(
            self,
            AuditAction::PatientRegistered {}
                | AuditAction::PatientProposed {}
                | AuditAction::PatientAccepted {}
                | AuditAction::PatientDeclined {}
                | AuditAction::ProfileUpdated { .. }
                | AuditAction::PatientDeleted {}
                | AuditAction::RecordAdded { .. }
                | AuditAction::RecordUpdated { .. }
                | AuditAction::RecordDeleted { .. }
        )
    }
}
