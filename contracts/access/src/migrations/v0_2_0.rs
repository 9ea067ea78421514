//! Release 0.2.0, from 0.1.0 (the first release, deployed before `migrate` existed). Its stored
//! types are its own now, with the serde shapes 0.1.0 wrote, and its new items (the pending admin,
//! the registrars) start absent: no stored byte moves. The step reads the config in 0.2.0's
//! layout, so that state this release cannot read is refused before the code is switched.

use cosmwasm_std::{StdResult, Storage};

use crate::state::CONFIG;

pub const VERSION: &str = "0.2.0";

pub fn migrate(storage: &mut dyn Storage) -> StdResult<()> {
    CONFIG.load(storage).map(|_| ())
}
