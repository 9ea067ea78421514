use cosmwasm_std::{Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, Storage};
use cw_storage_plus::Bound;
use ehr_types::pagination::collect_page;
use ehr_types::registry::{
    Designation, DesignationResponse, DirectoryEntry, DirectoryResponse, PatientStatus,
    ProviderResponse, ProvidersResponse, RegistrarsResponse, MAX_DIRECTORY_LOOKUP, MAX_REGISTRARS,
};
use ehr_types::validate::{validate_directory_text, validate_public_key, DirectoryField};

use crate::error::ContractError;
use ehr_types::validate::validate_address;

use crate::permissions::{is_credentialed, is_trustee};
use crate::state::{
    StoredProvider, ADMIN, CONFIG, CURRENT_PATIENT, PATIENTS, PROVIDERS, REGISTRARS,
};

fn is_registrar(storage: &dyn Storage, address: &Addr) -> Result<bool, ContractError> {
    Ok(REGISTRARS
        .may_load(storage)?
        .is_some_and(|registrars| registrars.contains(address)))
}

/// Credentialing is the admin's or a registrar's.
fn ensure_credentialing(deps: Deps, info: &MessageInfo, action: &str) -> Result<(), ContractError> {
    if CONFIG.load(deps.storage)?.admin == info.sender || is_registrar(deps.storage, &info.sender)?
    {
        Ok(())
    } else {
        Err(ContractError::unauthorized(action))
    }
}

pub fn execute_set_registrars(
    deps: DepsMut,
    info: MessageInfo,
    addresses: Vec<String>,
) -> Result<Response, ContractError> {
    ADMIN.ensure::<ContractError>(deps.storage, &info.sender, "set registrars")?;
    let invalid = ContractError::InvalidRegistrarSet {
        max: MAX_REGISTRARS,
    };
    if addresses.len() > MAX_REGISTRARS {
        return Err(invalid);
    }
    // Bounded by MAX_REGISTRARS.
    let mut registrars: Vec<Addr> = Vec::with_capacity(addresses.len());
    for address in &addresses {
        let address = validate_address(deps.api, address)?;
        if registrars.contains(&address) {
            return Err(invalid);
        }
        registrars.push(address);
    }
    let count = registrars.len();
    REGISTRARS.save(deps.storage, &registrars)?;
    Ok(Response::new()
        .add_attribute("action", "set_registrars")
        .add_attribute("count", count.to_string()))
}

pub fn query_registrars(deps: Deps) -> Result<RegistrarsResponse, ContractError> {
    Ok(RegistrarsResponse {
        registrars: REGISTRARS.may_load(deps.storage)?.unwrap_or_default(),
    })
}

/// A provider whose credential is in force.
fn load_credentialed(
    storage: &dyn Storage,
    address: &Addr,
) -> Result<StoredProvider, ContractError> {
    PROVIDERS
        .may_load(storage, address)?
        .filter(|provider| provider.credentialed)
        .ok_or_else(|| ContractError::NotCredentialed {
            address: address.to_string(),
        })
}

/// The directory entry patients see for a provider.
pub struct Listing {
    pub display_name: String,
    pub organization: String,
}

pub fn execute_credential_provider(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    address: String,
    listing: Listing,
) -> Result<Response, ContractError> {
    ensure_credentialing(deps.as_ref(), &info, "credential provider")?;
    let address = validate_address(deps.api, &address)?;
    validate_directory_text(DirectoryField::DisplayName, &listing.display_name)?;
    validate_directory_text(DirectoryField::Organization, &listing.organization)?;
    if is_trustee(deps.as_ref(), &address)? {
        return Err(ContractError::RoleConflict {
            address: address.into_string(),
            role: "a trustee of the network",
        });
    }
    let existing = PROVIDERS.may_load(deps.storage, &address)?;
    if let Some(mut provider) = existing.clone().filter(|provider| provider.credentialed) {
        // Credentialed already: the admin or a registrar may correct the listing, nothing else changes.
        if (&provider.display_name, &provider.organization)
            == (&listing.display_name, &listing.organization)
        {
            return Err(ContractError::AlreadyCredentialed {
                address: address.into_string(),
            });
        }
        provider.display_name = listing.display_name;
        provider.organization = listing.organization;
        PROVIDERS.save(deps.storage, &address, &provider)?;
        return Ok(Response::new()
            .add_attribute("action", "update_provider_listing")
            .add_attribute("provider", address));
    }
    let provider = StoredProvider {
        address: address.clone(),
        display_name: listing.display_name,
        organization: listing.organization,
        credentialed: true,
        encryption_key: existing.and_then(|provider| provider.encryption_key),
        credentialed_at: env.block.time,
        withdrawn_at: None,
    };
    PROVIDERS.save(deps.storage, &address, &provider)?;
    Ok(Response::new()
        .add_attribute("action", "credential_provider")
        .add_attribute("provider", address))
}

pub fn execute_revoke_provider(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    address: String,
) -> Result<Response, ContractError> {
    ensure_credentialing(deps.as_ref(), &info, "revoke provider")?;
    let address = validate_address(deps.api, &address)?;
    let mut provider = load_credentialed(deps.storage, &address)?;
    provider.credentialed = false;
    provider.withdrawn_at = Some(env.block.time);
    PROVIDERS.save(deps.storage, &address, &provider)?;
    Ok(Response::new()
        .add_attribute("action", "revoke_provider")
        .add_attribute("provider", address))
}

pub fn execute_set_provider_key(
    deps: DepsMut,
    info: MessageInfo,
    encryption_key: Binary,
) -> Result<Response, ContractError> {
    validate_public_key(&encryption_key)?;
    let mut provider = load_credentialed(deps.storage, &info.sender)?;
    provider.encryption_key = Some(encryption_key);
    PROVIDERS.save(deps.storage, &info.sender, &provider)?;
    Ok(Response::new()
        .add_attribute("action", "set_provider_key")
        .add_attribute("provider", info.sender))
}

pub fn query_designation(
    deps: Deps,
    address: String,
) -> Result<DesignationResponse, ContractError> {
    let address = validate_address(deps.api, &address)?;
    let current = match CURRENT_PATIENT.may_load(deps.storage, &address)? {
        Some(id) => Some(PATIENTS.load(deps.storage, id)?),
        None => None,
    };
    let patient_id = current
        .as_ref()
        .filter(|p| p.status == PatientStatus::Active)
        .map(|p| p.id);
    let pending_patient_id = current
        .as_ref()
        .filter(|p| p.status == PatientStatus::Pending)
        .map(|p| p.id);
    let designation = if CONFIG.load(deps.storage)?.admin == address {
        Some(Designation::Admin)
    } else if is_registrar(deps.storage, &address)? {
        Some(Designation::Registrar)
    } else if is_credentialed(deps, &address)? {
        Some(Designation::Doctor)
    } else if is_trustee(deps, &address)? {
        Some(Designation::Trustee)
    } else if patient_id.is_some() {
        Some(Designation::Patient)
    } else {
        None
    };
    Ok(DesignationResponse {
        designation,
        patient_id,
        pending_patient_id,
    })
}

pub fn query_provider(deps: Deps, address: String) -> Result<ProviderResponse, ContractError> {
    let address = validate_address(deps.api, &address)?;
    Ok(ProviderResponse {
        provider: PROVIDERS.may_load(deps.storage, &address)?.map(Into::into),
    })
}

pub fn query_directory(
    deps: Deps,
    addresses: Vec<String>,
) -> Result<DirectoryResponse, ContractError> {
    if addresses.len() > MAX_DIRECTORY_LOOKUP {
        return Err(ContractError::TooManyAddresses {
            count: addresses.len(),
            max: MAX_DIRECTORY_LOOKUP,
        });
    }
    let entries = addresses
        .iter()
        .map(|address| {
            let address = validate_address(deps.api, address)?;
            let provider = PROVIDERS.may_load(deps.storage, &address)?.map(Into::into);
            Ok(DirectoryEntry { address, provider })
        })
        .collect::<Result<_, ContractError>>()?;
    Ok(DirectoryResponse { entries })
}

pub fn query_providers(
    deps: Deps,
    start_after: Option<String>,
    limit: Option<u32>,
) -> Result<ProvidersResponse, ContractError> {
    let start_after = start_after
        .map(|a| validate_address(deps.api, &a))
        .transpose()?;
    let providers = collect_page(
        PROVIDERS.range(
            deps.storage,
            start_after.as_ref().map(Bound::exclusive),
            None,
            Order::Ascending,
        ),
        limit,
    )?;
    Ok(ProvidersResponse { providers })
}
