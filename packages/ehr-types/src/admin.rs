//! The two-step admin handover both contracts share: the admin proposes, the proposed address
//! accepts, so a mistyped address never holds the role. Written once here, over each contract's
//! own config item and error type.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Api, MessageInfo, Response, StdError, Storage};
use cw_storage_plus::Item;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::validate::{validate_address, InvalidAddress};

#[cw_serde]
pub struct PendingAdminResponse {
    /// The address that may send `AcceptAdmin`; `None` when no handover is pending.
    pub address: Option<Addr>,
}

/// A contract's stored config, which holds the admin.
pub trait AdminConfig {
    fn admin(&self) -> &Addr;
    fn set_admin(&mut self, admin: Addr);
}

/// The contract's own errors a handover can end in.
pub trait AdminError: From<StdError> + From<InvalidAddress> {
    fn unauthorized(action: &str) -> Self;
    fn no_admin_proposal() -> Self;
}

/// The admin of a contract: its config item and the item of the proposed successor.
pub struct AdminRole<C> {
    config: Item<C>,
    pending: Item<Addr>,
}

impl<C> AdminRole<C>
where
    C: AdminConfig + Serialize + DeserializeOwned,
{
    pub const fn new(config: Item<C>, pending: Item<Addr>) -> Self {
        AdminRole { config, pending }
    }

    /// Refuses anyone but the admin, naming the action refused.
    pub fn ensure<E: AdminError>(
        &self,
        storage: &dyn Storage,
        sender: &Addr,
        action: &str,
    ) -> Result<(), E> {
        if self.config.load(storage)?.admin() != sender {
            return Err(E::unauthorized(action));
        }
        Ok(())
    }

    /// The admin: propose `address` as the next admin, replacing a pending proposal.
    pub fn propose<E: AdminError>(
        &self,
        storage: &mut dyn Storage,
        api: &dyn Api,
        info: &MessageInfo,
        address: &str,
    ) -> Result<Response, E> {
        self.ensure::<E>(storage, &info.sender, "propose admin")?;
        let proposed = validate_address(api, address)?;
        self.pending.save(storage, &proposed)?;
        Ok(Response::new()
            .add_attribute("action", "propose_admin")
            .add_attribute("proposed", proposed))
    }

    /// The proposed address: become the admin.
    pub fn accept<E: AdminError>(
        &self,
        storage: &mut dyn Storage,
        info: &MessageInfo,
    ) -> Result<Response, E> {
        let proposed = self
            .pending
            .may_load(storage)?
            .ok_or_else(E::no_admin_proposal)?;
        if proposed != info.sender {
            return Err(E::unauthorized("accept admin"));
        }
        let mut config = self.config.load(storage)?;
        config.set_admin(proposed.clone());
        self.config.save(storage, &config)?;
        self.pending.remove(storage);
        Ok(Response::new()
            .add_attribute("action", "accept_admin")
            .add_attribute("admin", proposed))
    }

    /// The admin: withdraw the pending proposal.
    pub fn cancel<E: AdminError>(
        &self,
        storage: &mut dyn Storage,
        info: &MessageInfo,
    ) -> Result<Response, E> {
        self.ensure::<E>(storage, &info.sender, "cancel admin proposal")?;
        if !self.pending.exists(storage) {
            return Err(E::no_admin_proposal());
        }
        self.pending.remove(storage);
        Ok(Response::new().add_attribute("action", "cancel_admin_proposal"))
    }

    pub fn query_pending(&self, storage: &dyn Storage) -> Result<PendingAdminResponse, StdError> {
        Ok(PendingAdminResponse {
            address: self.pending.may_load(storage)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::{message_info, MockApi, MockStorage};

    #[cw_serde]
    struct Config {
        admin: Addr,
    }

    impl AdminConfig for Config {
        fn admin(&self) -> &Addr {
            &self.admin
        }
        fn set_admin(&mut self, admin: Addr) {
            self.admin = admin;
        }
    }

    #[derive(Debug, PartialEq)]
    enum Error {
        Std(String),
        InvalidAddress(String),
        Unauthorized(String),
        NoProposal,
    }

    impl From<StdError> for Error {
        fn from(error: StdError) -> Self {
            Error::Std(error.to_string())
        }
    }

    impl From<InvalidAddress> for Error {
        fn from(error: InvalidAddress) -> Self {
            Error::InvalidAddress(error.address)
        }
    }

    impl AdminError for Error {
        fn unauthorized(action: &str) -> Self {
            Error::Unauthorized(action.to_string())
        }
        fn no_admin_proposal() -> Self {
            Error::NoProposal
        }
    }

    const CONFIG: Item<Config> = Item::new("config");
    const ROLE: AdminRole<Config> = AdminRole::new(CONFIG, Item::new("pending_admin"));

    fn setup() -> (MockStorage, MockApi, Addr) {
        let mut storage = MockStorage::new();
        let api = MockApi::default();
        let admin = api.addr_make("admin");
        CONFIG
            .save(
                &mut storage,
                &Config {
                    admin: admin.clone(),
                },
            )
            .unwrap();
        (storage, api, admin)
    }

    fn pending(storage: &MockStorage) -> Option<Addr> {
        ROLE.query_pending(storage).unwrap().address
    }

    #[test]
    fn the_proposed_address_becomes_admin_only_when_it_accepts() {
        let (mut storage, api, admin) = setup();
        let next = api.addr_make("next");
        let response = ROLE
            .propose::<Error>(
                &mut storage,
                &api,
                &message_info(&admin, &[]),
                next.as_str(),
            )
            .unwrap();
        assert_eq!(response.attributes[1].value, next.as_str());
        assert_eq!(pending(&storage), Some(next.clone()));
        assert_eq!(CONFIG.load(&storage).unwrap().admin, admin);

        let stranger = api.addr_make("stranger");
        assert_eq!(
            ROLE.accept::<Error>(&mut storage, &message_info(&stranger, &[])),
            Err(Error::Unauthorized("accept admin".into()))
        );
        assert_eq!(pending(&storage), Some(next.clone()));

        ROLE.accept::<Error>(&mut storage, &message_info(&next, &[]))
            .unwrap();
        assert_eq!(CONFIG.load(&storage).unwrap().admin, next);
        assert_eq!(pending(&storage), None);
        // The former admin lost the role.
        assert_eq!(
            ROLE.propose::<Error>(
                &mut storage,
                &api,
                &message_info(&admin, &[]),
                next.as_str()
            ),
            Err(Error::Unauthorized("propose admin".into()))
        );
    }

    #[test]
    fn only_the_admin_proposes_or_cancels_and_only_what_is_pending() {
        let (mut storage, api, admin) = setup();
        let stranger = api.addr_make("stranger");
        assert_eq!(
            ROLE.propose::<Error>(
                &mut storage,
                &api,
                &message_info(&stranger, &[]),
                stranger.as_str()
            ),
            Err(Error::Unauthorized("propose admin".into()))
        );
        assert_eq!(
            ROLE.propose::<Error>(&mut storage, &api, &message_info(&admin, &[]), "next"),
            Err(Error::InvalidAddress("next".into()))
        );
        assert_eq!(pending(&storage), None);
        assert_eq!(
            ROLE.cancel::<Error>(&mut storage, &message_info(&admin, &[])),
            Err(Error::NoProposal)
        );
        assert_eq!(
            ROLE.accept::<Error>(&mut storage, &message_info(&stranger, &[])),
            Err(Error::NoProposal)
        );

        ROLE.propose::<Error>(
            &mut storage,
            &api,
            &message_info(&admin, &[]),
            stranger.as_str(),
        )
        .unwrap();
        assert_eq!(
            ROLE.cancel::<Error>(&mut storage, &message_info(&stranger, &[])),
            Err(Error::Unauthorized("cancel admin proposal".into()))
        );
        ROLE.cancel::<Error>(&mut storage, &message_info(&admin, &[]))
            .unwrap();
        assert_eq!(pending(&storage), None);
    }
}
