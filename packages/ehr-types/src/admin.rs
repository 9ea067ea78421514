//! The two-step admin handover both contracts share: the admin proposes, the proposed address
//! accepts, so a mistyped address never holds the role.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;

#[cw_serde]
pub struct PendingAdminResponse {
    /// The address that may send `AcceptAdmin`; `None` when no handover is pending.
    pub address: Option<Addr>,
}
