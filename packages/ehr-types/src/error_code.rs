//! Stable, machine-readable codes of the contracts' errors (docs/contracts.md, Error codes).
//!
//! wasmd hands a client only the Display text of a contract error, wrapped in its own words
//! ("failed to execute message; message index: 0: <text>: execute wasm contract failed …"), so the
//! code travels at the start of that text: `[ehr:CODE key=value …] ` followed by the English
//! sentence, e.g. `[ehr:version_conflict base=3 current=4] version conflict: the file is based on
//! version 3, but the current version is 4`. Clients dispatch on the code and read the numbers
//! they need from the fields; the sentence is for people and may be reworded. The TypeScript
//! parser (web/src/lib/errors.ts) reads the same format.

use std::fmt;

const OPEN: &str = "[ehr:";

macro_rules! error_codes {
    ($($variant:ident = $id:literal,)*) => {
        /// One kind of refusal. Several contract errors share a code where clients treat them
        /// alike; an id, once published, never changes meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub const fn id(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $id,)*
                }
            }

            pub fn from_id(id: &str) -> Option<ErrorCode> {
                match id {
                    $($id => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    Std = "std",
    InvalidInput = "invalid_input",
    InvalidAddress = "invalid_address",
    Unauthorized = "unauthorized",
    NotCredentialed = "not_credentialed",
    NotTrustee = "not_trustee",
    NotFound = "not_found",
    NotConfigured = "not_configured",
    AlreadyCredentialed = "already_credentialed",
    AlreadyPatient = "already_patient",
    WrongPatientStatus = "wrong_patient_status",
    RecordDeleted = "record_deleted",
    DuplicateBlob = "duplicate_blob",
    DuplicateInBatch = "duplicate_in_batch",
    ProfileCategoryReserved = "profile_category_reserved",
    TooManyAddresses = "too_many_addresses",
    NothingToUpdate = "nothing_to_update",
    VersionConflict = "version_conflict",
    WrongKeyEpoch = "wrong_key_epoch",
    StaleKeyEpoch = "stale_key_epoch",
    EpochMismatch = "epoch_mismatch",
    HolderLeftOut = "holder_left_out",
    RecipientNotEntitled = "recipient_not_entitled",
    EnvelopeEpochAhead = "envelope_epoch_ahead",
    EnvelopeNotGranted = "envelope_not_granted",
    EnvelopeExists = "envelope_exists",
    DuplicateRecipient = "duplicate_recipient",
    TooManyKeyHolders = "too_many_key_holders",
    CannotGrantSelf = "cannot_grant_self",
    NoCategories = "no_categories",
    DuplicateCategory = "duplicate_category",
    ExpiryInPast = "expiry_in_past",
    RequestNotPending = "request_not_pending",
    ActionNotLoggable = "action_not_loggable",
    InvalidEmergencyDuration = "invalid_emergency_duration",
    InvalidTrusteeSet = "invalid_trustee_set",
    InvalidRegistrarSet = "invalid_registrar_set",
    NoTrustees = "no_trustees",
    TrusteeKeyMissing = "trustee_key_missing",
    NotEscrowed = "not_escrowed",
    EscrowSharesMismatch = "escrow_shares_mismatch",
    TooManyEscrowItems = "too_many_escrow_items",
    NoActiveEmergency = "no_active_emergency",
    AlreadyReleased = "already_released",
    InvalidRecoveryWait = "invalid_recovery_wait",
    RecoveryNotEnabled = "recovery_not_enabled",
    NoPendingRecovery = "no_pending_recovery",
    RecoveryWaiting = "recovery_waiting",
    AlreadyApproved = "already_approved",
    NoCompletedRecovery = "no_completed_recovery",
    NoPendingAdmin = "no_pending_admin",
    AlreadyConfigured = "already_configured",
    ForeignContract = "foreign_contract",
    Downgrade = "downgrade",
    InvalidVersion = "invalid_version",
    PeerQueryFailed = "peer_query_failed",
    RotationNotNeeded = "rotation_not_needed",
    EmergencyTooSoon = "emergency_too_soon",
    RecoveryReleasesPending = "recovery_releases_pending",
    RoleConflict = "role_conflict",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The prefix of an error's Display text: `[ehr:CODE key=value …] `. Values are numbers and
/// fixed names (categories, statuses) only, never caller input, so they hold no space or `]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub code: ErrorCode,
    pub fields: Vec<(&'static str, String)>,
}

impl Tag {
    pub fn new(code: ErrorCode) -> Tag {
        Tag {
            code,
            fields: Vec::new(),
        }
    }

    pub fn with(mut self, key: &'static str, value: impl fmt::Display) -> Tag {
        self.fields.push((key, value.to_string()));
        self
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OPEN}{}", self.code)?;
        for (key, value) in &self.fields {
            write!(f, " {key}={value}")?;
        }
        f.write_str("] ")
    }
}

/// The tag of a cosmwasm_std error inside a contract error (storage, (de)serialization, overflow).
pub fn std_tag(error: &cosmwasm_std::StdError) -> Tag {
    Tag::new(ErrorCode::Std).with("kind", format!("{:?}", error.kind()).to_ascii_lowercase())
}

/// A coded error found in a text: its code, its fields and the sentence after the tag (up to the
/// end of the text; the caller strips the SDK's trailer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coded<'a> {
    pub code: ErrorCode,
    pub fields: Vec<(&'a str, &'a str)>,
    pub rest: &'a str,
}

impl Coded<'_> {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    pub fn number(&self, key: &str) -> Option<u64> {
        self.field(key)?.parse().ok()
    }
}

/// Finds the first tag in `text`, wherever the SDK's wrapping put it. The first is the
/// contract's own: caller input, which may imitate a tag, only ever follows it. Unknown codes
/// (from a newer contract) and malformed tags yield `None`.
pub fn parse(text: &str) -> Option<Coded<'_>> {
    let start = text.find(OPEN)? + OPEN.len();
    let (inside, rest) = text[start..].split_once(']')?;
    let mut words = inside.split(' ');
    let code = ErrorCode::from_id(words.next()?)?;
    let fields = words
        .map(|word| word.split_once('='))
        .collect::<Option<Vec<_>>>()?;
    Some(Coded {
        code,
        fields,
        rest: rest.strip_prefix(' ').unwrap_or(rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_id(code.id()), Some(*code));
            let id = code.id();
            assert!(
                id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{id}"
            );
        }
        let mut ids: Vec<_> = ErrorCode::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn a_tag_is_found_inside_the_sdk_wrapping() {
        let tag = Tag::new(ErrorCode::VersionConflict)
            .with("base", 3)
            .with("current", 4);
        let text = format!("failed to execute message; message index: 0: {tag}version conflict: …: execute wasm contract failed");
        let coded = parse(&text).unwrap();
        assert_eq!(coded.code, ErrorCode::VersionConflict);
        assert_eq!(coded.number("base"), Some(3));
        assert_eq!(coded.number("current"), Some(4));
        assert!(coded.rest.starts_with("version conflict: "));
        assert!(parse("[ehr:not_found] x").unwrap().fields.is_empty());
        assert_eq!(parse("no tag here"), None);
        assert_eq!(parse("[ehr:no_such_code] x"), None);
        assert_eq!(parse("[ehr:not_found broken] x"), None);
    }
}
