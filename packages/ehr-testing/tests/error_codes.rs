//! Every `ContractError` variant of both contracts, as a client receives it (wrapped by wasmd),
//! goes through the Rust client's classifier here and through the web's in
//! web/src/lib/errors.test.ts, both against the committed fixture `error-codes.json`, so a
//! reworded sentence cannot silently break retries. The test fails when the fixture differs from
//! what it generates; after changing an error, regenerate it with
//! `EHR_WRITE_FIXTURES=1 cargo test -p ehr-testing --test error_codes`.

use std::collections::BTreeMap;

use cosmwasm_std::{StdError, Timestamp};
use ehr_access::ContractError as AccessError;
use ehr_client::error::ClientError;
use ehr_registry::ContractError as RegistryError;
use ehr_types::error_code::{self, ErrorCode};
use ehr_types::registry::PatientStatus;
use ehr_types::validate::{DirectoryField, DirectoryTextRule};
use ehr_types::{Category, ValidationError};
use serde::Serialize;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/error-codes.json");
const DOCTOR: &str = "wasm1doctor";

/// The variant names of an error enum: the match is exhaustive, so a new variant does not compile
/// until it is named here, and the test fails until it has a sample.
macro_rules! variant_names {
    ($ty:ident: $($variant:ident),* $(,)?) => {
        (
            |error: &$ty| -> &'static str {
                match error {
                    $($ty::$variant { .. } => stringify!($variant),)*
                }
            },
            [$(stringify!($variant)),*],
        )
    };
}

fn registry_samples() -> Vec<RegistryError> {
    vec![
        RegistryError::Std(StdError::msg("record id space exhausted")),
        RegistryError::Validation(ValidationError::InvalidDirectoryText {
            field: DirectoryField::DisplayName,
            rule: DirectoryTextRule::TooLong { max_chars: 64 },
        }),
        RegistryError::InvalidAddress {
            address: "x".into(),
        },
        RegistryError::unauthorized("update record"),
        RegistryError::NotCredentialed {
            address: DOCTOR.into(),
        },
        RegistryError::RoleConflict {
            address: DOCTOR.into(),
            role: "a trustee of the network",
        },
        RegistryError::AlreadyCredentialed {
            address: DOCTOR.into(),
        },
        RegistryError::AccessContractNotSet,
        RegistryError::AlreadyPatient {
            address: "wasm1patient".into(),
            patient_id: 1,
        },
        RegistryError::PatientNotFound { patient_id: 999 },
        RegistryError::WrongPatientStatus {
            patient_id: 1,
            status: PatientStatus::Active,
            expected: PatientStatus::Deleted,
        },
        RegistryError::RecordNotFound { record_id: 999 },
        RegistryError::RecordDeleted { record_id: 4 },
        RegistryError::DuplicateBlob { record_id: 4 },
        RegistryError::DuplicateBlobInBatch {
            sha256: "ab".repeat(32),
        },
        RegistryError::ProfileCategoryReserved,
        RegistryError::InvalidRegistrarSet { max: 8 },
        RegistryError::TooManyAddresses {
            count: 101,
            max: 100,
        },
        RegistryError::WrongKeyEpoch {
            category: Category::Lab,
            epoch: 1,
            current: 2,
        },
        RegistryError::StaleKeyEpoch {
            category: Category::Note,
            epoch: 0,
        },
        RegistryError::VersionConflict {
            base_version: 3,
            current: 4,
        },
        RegistryError::AccessContractAlreadySet {
            address: "wasm1access".into(),
        },
        RegistryError::NoAdminProposal,
        RegistryError::ForeignContract {
            contract: "crates.io:cw20-base".into(),
        },
        RegistryError::Downgrade {
            stored: "0.2.0".into(),
            current: "0.1.0".into(),
        },
        RegistryError::InvalidVersion {
            version: "v1".into(),
        },
        RegistryError::AccessQueryFailed {
            query: "write_epoch",
            error: "Generic error: Querier contract error: [ehr:std] out of gas".into(),
        },
    ]
}

fn access_samples() -> Vec<AccessError> {
    vec![
        AccessError::Std(StdError::msg("key epoch overflow")),
        AccessError::Validation(ValidationError::InvalidReasonCode),
        AccessError::InvalidAddress {
            address: "x".into(),
        },
        AccessError::unauthorized("rotate key"),
        AccessError::NotCredentialed {
            address: DOCTOR.into(),
        },
        AccessError::RoleConflict {
            address: DOCTOR.into(),
            role: "a credentialed provider",
        },
        AccessError::PatientNotFound { patient_id: 999 },
        AccessError::PatientNotActive { patient_id: 1 },
        AccessError::PatientNotDeleted { patient_id: 1 },
        AccessError::CannotGrantSelf,
        AccessError::NoCategories,
        AccessError::DuplicateCategory {
            category: Category::Lab,
        },
        AccessError::ExpiryInPast {
            expires: Timestamp::from_seconds(5),
        },
        AccessError::EnvelopeCategoryNotGranted {
            category: Category::Imaging,
        },
        AccessError::EnvelopeExists {
            category: Category::Lab,
            epoch: 0,
        },
        AccessError::GrantNotFound {
            patient_id: 1,
            grantee: DOCTOR.into(),
        },
        AccessError::RequestNotFound { request_id: 999 },
        AccessError::RequestNotPending { request_id: 2 },
        AccessError::ActionNotLoggable,
        AccessError::InvalidEmergencyDuration { max: 86_400 },
        AccessError::EpochMismatch {
            category: Category::Lab,
            expected: 4,
            got: 3,
        },
        AccessError::EnvelopeEpochAhead {
            category: Category::Lab,
            epoch: 5,
            current: 4,
        },
        AccessError::RecipientNotEntitled {
            recipient: DOCTOR.into(),
            category: Category::Lab,
        },
        AccessError::DuplicateRecipient {
            recipient: DOCTOR.into(),
        },
        AccessError::HolderLeftOut {
            holder: DOCTOR.into(),
            category: Category::Lab,
        },
        AccessError::TooManyKeyHolders {
            category: Category::Lab,
            max: 32,
        },
        AccessError::NothingToUpdate,
        AccessError::InvalidTrusteeSet { max: 16 },
        AccessError::NotTrustee {
            address: DOCTOR.into(),
        },
        AccessError::NoTrustees,
        AccessError::TrusteeKeyMissing {
            trustee: "wasm1trustee".into(),
        },
        AccessError::CategoryNotEscrowed {
            patient_id: 1,
            category: Category::Allergy,
        },
        AccessError::EscrowSharesMismatch {
            category: Category::Allergy,
            epoch: 1,
            expected: 3,
        },
        AccessError::TooManyEscrowItems { max: 32 },
        AccessError::NoActiveEmergency {
            patient_id: 1,
            doctor: DOCTOR.into(),
        },
        AccessError::ShareNotEscrowed {
            category: Category::Allergy,
            epoch: 1,
            trustee: "wasm1trustee".into(),
        },
        AccessError::AlreadyReleased {
            category: Category::Allergy,
            epoch: 1,
            doctor: DOCTOR.into(),
        },
        AccessError::InvalidRecoveryWait { max: 2_592_000 },
        AccessError::RecoveryNotEnabled { patient_id: 1 },
        AccessError::AlreadyPatient {
            address: "wasm1patient".into(),
            patient_id: 2,
        },
        AccessError::NoPendingRecovery { patient_id: 1 },
        AccessError::RecoveryWaiting {
            not_before: Timestamp::from_seconds(1_800_000_000),
        },
        AccessError::AlreadyApproved {
            trustee: "wasm1trustee".into(),
        },
        AccessError::NoCompletedRecovery { patient_id: 1 },
        AccessError::AlreadyReleasedForRecovery {
            category: Category::Allergy,
            epoch: 1,
        },
        AccessError::RotationNotNeeded {
            category: Category::Lab,
        },
        AccessError::EmergencyTooSoon {
            patient_id: 1,
            until: Timestamp::from_seconds(1_800_000_000),
        },
        AccessError::RecoveryReleasesPending { patient_id: 1 },
        AccessError::NoAdminProposal,
        AccessError::ForeignContract {
            contract: "crates.io:cw20-base".into(),
        },
        AccessError::Downgrade {
            stored: "0.2.0".into(),
            current: "0.1.0".into(),
        },
        AccessError::InvalidVersion {
            version: "v1".into(),
        },
        AccessError::RegistryQueryFailed {
            query: "patient",
            error: "Generic error: Querier contract error: [ehr:std] out of gas".into(),
        },
    ]
}

/// What each client makes of a code: the Rust `ClientError` (see `client_class`) and the web's
/// `ProblemKind` (web/src/lib/errors.ts `explain`).
fn expected(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::VersionConflict
        | ErrorCode::WrongKeyEpoch
        | ErrorCode::StaleKeyEpoch
        | ErrorCode::EpochMismatch
        | ErrorCode::HolderLeftOut
        | ErrorCode::RecipientNotEntitled => ("write_race", "conflict"),
        ErrorCode::Unauthorized | ErrorCode::NotCredentialed => ("unauthorized", "unauthorized"),
        ErrorCode::NotFound => ("not_found", "not-found"),
        ErrorCode::DuplicateBlob => ("duplicate", "duplicate"),
        ErrorCode::AlreadyCredentialed => ("refused", "duplicate"),
        _ => ("refused", "other"),
    }
}

/// The codes whose time field the Rust client words itself (ehr-client's `from_contract_log`).
fn says_time_for_people(code: &str) -> bool {
    [ErrorCode::EmergencyTooSoon, ErrorCode::RecoveryWaiting]
        .iter()
        .any(|timed| timed.id() == code)
}

fn client_class(error: &ClientError) -> (&'static str, &str) {
    match error {
        ClientError::WriteRace(detail) => ("write_race", detail),
        ClientError::Unauthorized(detail) => ("unauthorized", detail),
        ClientError::NotFound(detail) => ("not_found", detail),
        ClientError::DuplicateBlob(detail) => ("duplicate", detail),
        ClientError::Contract(detail) => ("refused", detail),
        other => panic!("a contract error classified as {other:?}"),
    }
}

/// The three ways a contract's Display text reaches a client: a committed transaction's log, a
/// simulation's error as CosmJS reports it, and a smart query's error.
fn wrapped(display: &str) -> [String; 3] {
    [
        format!("failed to execute message; message index: 0: {display}: execute wasm contract failed [CosmWasm/wasmd@v0.61.14/x/wasm/keeper/keeper.go:436] with gas used: '181234': unknown request"),
        format!("Query failed with (6): rpc error: code = Unknown desc = failed to execute message; message index: 1: {display}: execute wasm contract failed [CosmWasm/wasmd@v0.61.14/x/wasm/keeper/keeper.go:436] with gas used: '181234': unknown request With gas wanted: '18446744073709551615' and gas used: '181234' : unknown request"),
        format!("Query failed with (9): rpc error: code = Unknown desc = {display}: query wasm contract failed: unknown request"),
    ]
}

#[derive(Serialize, PartialEq, Debug)]
struct Case {
    contract: &'static str,
    variant: &'static str,
    code: &'static str,
    fields: BTreeMap<String, String>,
    /// The English sentence, which clients show but never match.
    sentence: String,
    client: &'static str,
    web: &'static str,
    texts: [String; 3],
}

fn case(contract: &'static str, variant: &'static str, code: ErrorCode, display: String) -> Case {
    let coded = error_code::parse(&display).expect("a contract error carries its code");
    assert_eq!(coded.code, code, "{display}");
    let sentence = coded.rest.to_string();
    let fields = coded
        .fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (client, web) = expected(code);
    Case {
        contract,
        variant,
        code: code.id(),
        fields,
        sentence,
        client,
        web,
        texts: wrapped(&display),
    }
}

fn cases() -> Vec<Case> {
    let (registry_name, registry_all) = variant_names!(RegistryError:
        Std, Validation, InvalidAddress, Unauthorized, NotCredentialed, RoleConflict, AlreadyCredentialed,
        AccessContractNotSet, AlreadyPatient, PatientNotFound, WrongPatientStatus, RecordNotFound,
        RecordDeleted, DuplicateBlob, DuplicateBlobInBatch, ProfileCategoryReserved,
        TooManyAddresses, WrongKeyEpoch, StaleKeyEpoch, VersionConflict, AccessContractAlreadySet,
        NoAdminProposal, ForeignContract, Downgrade, InvalidVersion, InvalidRegistrarSet,
        AccessQueryFailed,
    );
    let (access_name, access_all) = variant_names!(AccessError:
        Std, Validation, InvalidAddress, Unauthorized, NotCredentialed, RoleConflict, PatientNotFound,
        PatientNotActive, PatientNotDeleted, CannotGrantSelf, NoCategories, DuplicateCategory,
        ExpiryInPast, EnvelopeCategoryNotGranted, EnvelopeExists, GrantNotFound, RequestNotFound,
        RequestNotPending, ActionNotLoggable, InvalidEmergencyDuration, EpochMismatch,
        EnvelopeEpochAhead, RecipientNotEntitled, DuplicateRecipient, HolderLeftOut,
        TooManyKeyHolders, NothingToUpdate, InvalidTrusteeSet, NotTrustee, NoTrustees,
        TrusteeKeyMissing, CategoryNotEscrowed, EscrowSharesMismatch, TooManyEscrowItems,
        NoActiveEmergency, ShareNotEscrowed, AlreadyReleased, InvalidRecoveryWait,
        RecoveryNotEnabled, AlreadyPatient, NoPendingRecovery, RecoveryWaiting, AlreadyApproved,
        NoCompletedRecovery, AlreadyReleasedForRecovery, RotationNotNeeded, EmergencyTooSoon,
        RecoveryReleasesPending, NoAdminProposal, ForeignContract, Downgrade, InvalidVersion,
        RegistryQueryFailed,
    );
    let registry: Vec<Case> = registry_samples()
        .iter()
        .map(|e| case("registry", registry_name(e), e.code(), e.to_string()))
        .collect();
    let access: Vec<Case> = access_samples()
        .iter()
        .map(|e| case("access", access_name(e), e.code(), e.to_string()))
        .collect();
    for (cases, all) in [(&registry, &registry_all[..]), (&access, &access_all[..])] {
        let mut sampled: Vec<_> = cases.iter().map(|c| c.variant).collect();
        let mut all = all.to_vec();
        sampled.sort_unstable();
        all.sort_unstable();
        assert_eq!(sampled, all, "one sample for each variant");
    }
    registry.into_iter().chain(access).collect()
}

#[test]
fn every_contract_error_is_classified_by_its_code() {
    let cases = cases();
    for case in &cases {
        for text in &case.texts {
            let error = ClientError::from_contract_log(text);
            let (class, detail) = client_class(&error);
            assert_eq!(
                class, case.client,
                "{}::{}: {text}",
                case.contract, case.variant
            );
            if says_time_for_people(case.code) {
                // The client says the chain's nanoseconds as a local time.
                assert!(
                    detail != case.sentence && !detail.contains("1800000000"),
                    "{text}: {detail}"
                );
            } else {
                assert_eq!(detail, case.sentence, "{text}");
            }
        }
    }
    let used: Vec<&str> = cases.iter().map(|c| c.code).collect();
    for code in ErrorCode::ALL {
        assert!(
            used.contains(&code.id()),
            "no contract error has code {code}"
        );
    }
}

#[test]
fn the_fixture_is_what_the_contracts_say() {
    let generated = serde_json::to_string_pretty(&cases()).unwrap() + "\n";
    if std::env::var_os("EHR_WRITE_FIXTURES").is_some() {
        std::fs::write(FIXTURE, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(FIXTURE).unwrap_or_default();
    assert!(
        committed == generated,
        "{FIXTURE} is out of date: EHR_WRITE_FIXTURES=1 cargo test -p ehr-testing --test error_codes"
    );
}
