//! Recovery from a lost wallet: a patient who escrows every category for recovery asks, from a
//! new wallet, to move their patient id. After a waiting period the old wallet can use to cancel,
//! k trustees approve; the k-th approval moves the patient to the new address (the registry's
//! owner and encryption key), makes every category's current key stale for the old address, and
//! lets the trustees release their shares of every escrowed key to the new owner.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Timestamp};

use crate::PatientId;

/// How long a request waits, when the network has not chosen: three days for the old wallet
/// to notice (every request is in the patient's audit log) and cancel.
pub const DEFAULT_RECOVERY_WAIT_SECONDS: u64 = 3 * 24 * 3600;

#[cw_serde]
#[derive(Copy, Eq)]
pub enum RecoveryStatus {
    /// Waiting for the period to pass and for k trustee approvals.
    Pending,
    /// The patient moved to the new address.
    Completed,
    /// The patient's wallet cancelled it.
    Cancelled,
}

/// A patient's latest recovery request.
#[cw_serde]
pub struct RecoveryInfo {
    pub patient_id: PatientId,
    /// The address that asked; the patient's owner once the request completes.
    pub new_owner: Addr,
    pub requested_at: Timestamp,
    /// Trustees may approve from this time on.
    pub not_before: Timestamp,
    /// The trustees that approved, in order.
    pub approvals: Vec<Addr>,
    pub status: RecoveryStatus,
    /// When it completed or was cancelled.
    pub decided_at: Option<Timestamp>,
    /// The owner the patient moved away from, once completed.
    pub former_owner: Option<Addr>,
}

#[cw_serde]
pub struct RecoveryResponse {
    pub recovery: Option<RecoveryInfo>,
}

/// One recovery request, in the order they were made (trustee agents follow this list).
#[cw_serde]
pub struct RecoveryEvent {
    pub seq: u64,
    pub patient_id: PatientId,
    pub new_owner: Addr,
    pub requested_at: Timestamp,
    pub not_before: Timestamp,
}

#[cw_serde]
pub struct RecoveriesResponse {
    pub recoveries: Vec<RecoveryEvent>,
}
