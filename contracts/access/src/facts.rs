//! The facts the rule book (`ehr_types::rules`) decides on, read from storage: a party's grant,
//! emergency window and credential, and the patient's escrow policy and owner generation. Every
//! concern asks here; none derives a rule of its own.

use cosmwasm_std::{Addr, Deps, Env, Storage};
use ehr_types::rules::{GrantTerms, PartyFacts};
use ehr_types::{Category, PatientId};

use crate::error::ContractError;
use crate::registry_client::is_credentialed;
use crate::state::{
    grants, EmergencyWindow, StoredEscrowPolicy, StoredGrant, EMERGENCY, ESCROW_POLICY,
    OWNER_GENERATION,
};

impl StoredGrant {
    pub fn terms(&self) -> GrantTerms<'_> {
        GrantTerms {
            scope: self.scope,
            categories: &self.categories,
            expires: self.expires,
        }
    }
}

/// What one party (not the patient) has of one patient.
pub struct Party {
    pub credentialed: bool,
    pub grant: Option<StoredGrant>,
    pub emergency: Option<EmergencyWindow>,
    pub emergency_categories: Vec<Category>,
}

impl Party {
    /// Loads the party's facts; the registry is asked about its credential only when it has a
    /// grant or a window (without either it may do nothing anyway).
    pub fn load(deps: Deps, patient_id: PatientId, party: &Addr) -> Result<Party, ContractError> {
        let grant = grants().may_load(deps.storage, (patient_id, party.clone()))?;
        let emergency = EMERGENCY.may_load(deps.storage, (patient_id, party))?;
        let credentialed =
            (grant.is_some() || emergency.is_some()) && is_credentialed(deps, party)?;
        Ok(Party {
            credentialed,
            grant,
            emergency,
            emergency_categories: escrow_policy(deps.storage, patient_id)?.emergency,
        })
    }

    pub fn facts(&self) -> PartyFacts<'_> {
        PartyFacts {
            credentialed: self.credentialed,
            grant: self.grant.as_ref().map(StoredGrant::terms),
            emergency: self.emergency.as_ref().map(EmergencyWindow::terms),
            emergency_categories: &self.emergency_categories,
        }
    }
}

/// Whether `party` (not the patient) may read `category` of the patient now.
pub fn may_read(
    deps: Deps,
    env: &Env,
    patient_id: PatientId,
    party: &Addr,
    category: Category,
) -> Result<bool, ContractError> {
    Ok(Party::load(deps, patient_id, party)?
        .facts()
        .may_read(env.block.time, category))
}

/// `doctor`'s emergency window for the patient while it is open, else `NoActiveEmergency`.
pub fn open_window(
    storage: &dyn Storage,
    env: &Env,
    patient_id: PatientId,
    doctor: &Addr,
) -> Result<EmergencyWindow, ContractError> {
    EMERGENCY
        .may_load(storage, (patient_id, doctor))?
        .filter(|window| window.is_active(env.block.time))
        .ok_or_else(|| ContractError::NoActiveEmergency {
            patient_id,
            doctor: doctor.to_string(),
        })
}

pub fn escrow_policy(
    storage: &dyn Storage,
    patient_id: PatientId,
) -> Result<StoredEscrowPolicy, ContractError> {
    Ok(ESCROW_POLICY
        .may_load(storage, patient_id)?
        .unwrap_or(StoredEscrowPolicy {
            emergency: vec![],
            recovery: false,
        }))
}

/// How many recoveries moved the patient: own envelopes are stored under this generation.
pub fn owner_generation(
    storage: &dyn Storage,
    patient_id: PatientId,
) -> Result<u32, ContractError> {
    Ok(OWNER_GENERATION.may_load(storage, patient_id)?.unwrap_or(0))
}
