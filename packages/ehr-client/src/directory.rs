//! Names instead of addresses: who an address is (you, the patient, the network admin, a listed
//! provider) and a patient's audit log in words, with times in the reader's local time zone.
//! The web UI says the same sentences (web/src/lib/names.ts).

use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::{Addr, Timestamp};
use ehr_types::access::{QueryMsg as AccessQuery, Scope};
use ehr_types::escrow::TrusteesResponse;
use ehr_types::registry::{
    ConfigResponse, DirectoryResponse, ProviderInfo, QueryMsg as RegistryQuery,
    MAX_DIRECTORY_LOOKUP,
};
use ehr_types::{AuditAction, AuditEntry, Category};
use serde::Serialize;

use crate::chain::ChainClient;
use crate::error::Result;

/// Who the addresses on a page are, from the viewer's side.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    viewer: Option<Addr>,
    patient_owner: Option<Addr>,
    admin: Option<Addr>,
    providers: BTreeMap<Addr, ProviderInfo>,
    /// The network's trustees, in the order the admin listed them.
    trustees: Vec<Addr>,
}

impl Directory {
    /// Looks up every distinct address in `addresses` (in queries of at most
    /// `MAX_DIRECTORY_LOOKUP`), and the registry's admin.
    pub async fn lookup(
        chain: &ChainClient,
        viewer: &str,
        patient_owner: Option<&Addr>,
        addresses: impl IntoIterator<Item = Addr>,
    ) -> Result<Directory> {
        let config: ConfigResponse = chain.registry(&RegistryQuery::Config {}).await?;
        let distinct: BTreeSet<Addr> = addresses.into_iter().collect();
        let mut providers = BTreeMap::new();
        let distinct: Vec<String> = distinct.into_iter().map(Addr::into_string).collect();
        for chunk in distinct.chunks(MAX_DIRECTORY_LOOKUP) {
            let page: DirectoryResponse = chain
                .registry(&RegistryQuery::Directory {
                    addresses: chunk.to_vec(),
                })
                .await?;
            providers.extend(
                page.entries
                    .into_iter()
                    .filter_map(|entry| entry.provider.map(|p| (entry.address, p))),
            );
        }
        let trustees: TrusteesResponse = chain.access(&AccessQuery::Trustees {}).await?;
        Ok(Directory {
            viewer: Some(Addr::unchecked(viewer)),
            patient_owner: patient_owner.cloned(),
            admin: Some(config.admin),
            providers,
            trustees: trustees.trustees.into_iter().map(|t| t.address).collect(),
        })
    }

    /// A directory from known parts (tests, or a caller that has them already).
    pub fn new(
        viewer: Option<Addr>,
        patient_owner: Option<Addr>,
        admin: Option<Addr>,
        providers: impl IntoIterator<Item = ProviderInfo>,
    ) -> Directory {
        Directory {
            viewer,
            patient_owner,
            admin,
            providers: providers
                .into_iter()
                .map(|p| (p.address.clone(), p))
                .collect(),
            trustees: vec![],
        }
    }

    pub fn provider(&self, address: &Addr) -> Option<&ProviderInfo> {
        self.providers.get(address)
    }

    /// "you", "Dr Ana Lima, St Mary Hospital", "the patient", "the network admin", or a short
    /// address said to be unlisted.
    pub fn name(&self, address: &Addr) -> String {
        if self.viewer.as_ref() == Some(address) {
            "you".into()
        } else if let Some(provider) = self.providers.get(address) {
            format!("{}, {}", provider.display_name, provider.organization)
        } else if self.patient_owner.as_ref() == Some(address) {
            "the patient".into()
        } else if self.admin.as_ref() == Some(address) {
            "the network admin".into()
        } else if let Some(n) = self.trustees.iter().position(|t| t == address) {
            format!("trustee {} of the network", n + 1)
        } else {
            format!(
                "{} (not a listed provider)",
                short_address(address.as_str())
            )
        }
    }

    /// One audit entry as a sentence, e.g. "You gave Dr Ana Lima, St Mary Hospital read access
    /// to Lab, Note until Wed 2 Dec 2026 14:05 CET".
    pub fn describe(&self, entry: &AuditEntry) -> String {
        let actor = self.name(&entry.actor);
        let what = match &entry.action {
            AuditAction::PatientRegistered {} => "registered as a patient".to_string(),
            AuditAction::PatientProposed {} => "proposed the patient record".into(),
            AuditAction::PatientAccepted {} => "accepted the patient record".into(),
            AuditAction::PatientDeclined {} => "declined the patient record".into(),
            AuditAction::ProfileUpdated { version } => {
                format!("updated the profile (version {version})")
            }
            AuditAction::PatientDeleted {} => "deleted the patient and all records".into(),
            AuditAction::RecordAdded {
                record_id,
                category,
            } => format!("added {} record #{record_id}", category.label()),
            AuditAction::RecordUpdated { record_id, version } => {
                format!("updated record #{record_id} to version {version}")
            }
            AuditAction::RecordDeleted { record_id } => format!("deleted record #{record_id}"),
            AuditAction::AccessGranted {
                grantee,
                scope,
                categories,
                expires,
            } => {
                let until = match expires {
                    Some(time) => format!("until {}", local_time(*time)),
                    None => "with no end date".into(),
                };
                format!(
                    "gave {} {} access to {} {until}",
                    self.name(grantee),
                    scope_words(*scope),
                    category_labels(categories)
                )
            }
            AuditAction::AccessRevoked { grantee } => {
                format!("revoked the access of {}", self.name(grantee))
            }
            AuditAction::AccessRequested { request_id } => {
                format!("asked for access (request #{request_id})")
            }
            AuditAction::RequestApproved { request_id } => {
                format!("approved request #{request_id}")
            }
            AuditAction::RequestDenied { request_id } => format!("denied request #{request_id}"),
            AuditAction::EmergencyAccess { expires, reason } => format!(
                "broke the glass ({}, {}): emergency read access until {}",
                reason.describe(),
                reason.purpose_of_use(),
                local_time(*expires)
            ),
            AuditAction::EmergencyEnded { doctor } => format!(
                "ended the emergency access of {}",
                self.name(doctor)
            ),
            AuditAction::SharesReleased { doctor, categories } => format!(
                "released its key shares of {} to {}",
                category_labels(categories),
                self.name(doctor)
            ),
            AuditAction::EscrowPolicySet {
                categories,
                recovery: false,
            } if categories.is_empty() => "stopped escrowing keys with the trustees".into(),
            AuditAction::EscrowPolicySet {
                categories,
                recovery,
            } => {
                let emergency = if categories.is_empty() {
                    "nothing opens in an emergency".to_string()
                } else {
                    format!("{} open in an emergency", category_labels(categories))
                };
                let recovery = if *recovery {
                    "every key is escrowed so a lost wallet can be recovered"
                } else {
                    "no wallet recovery"
                };
                format!("chose the key escrow: {emergency}; {recovery}")
            }
            AuditAction::RecoveryRequested {
                new_owner,
                not_before,
            } => format!(
                "asked to move the patient to the new wallet {}; trustees may approve from {}",
                short_address(new_owner.as_str()),
                local_time(*not_before)
            ),
            AuditAction::RecoveryCancelled { new_owner } => format!(
                "cancelled the request to move the patient to the wallet {}",
                short_address(new_owner.as_str())
            ),
            AuditAction::RecoveryApproved {
                new_owner,
                identity_check,
            } => format!(
                "approved moving the patient to the new wallet {}{}",
                short_address(new_owner.as_str()),
                identity_check.map_or(String::new(), |check| format!(
                    " after checking identity {} ({})",
                    check.describe(),
                    check.code()
                ))
            ),
            AuditAction::PatientRecovered {
                former_owner,
                new_owner,
            } => format!(
                "completed the recovery: the patient moved from the wallet {} to {}, and the old wallet's keys open no new record",
                short_address(former_owner.as_str()),
                short_address(new_owner.as_str())
            ),
            AuditAction::RecoverySharesReleased { owner, categories } => format!(
                "released its key shares of {} to the recovered wallet {}",
                category_labels(categories),
                short_address(owner.as_str())
            ),
            AuditAction::KeyRotated {
                category,
                epoch,
                holders,
            } => {
                let readers = match holders {
                    0 => "for the patient only".to_string(),
                    1 => "for the patient and 1 other reader".into(),
                    n => format!("for the patient and {n} other readers"),
                };
                format!(
                    "made a new {} key (epoch {epoch}) {readers}",
                    category.label()
                )
            }
        };
        capitalize(&format!("{actor} {what}"))
    }

    /// The audit log as a patient reads it: every entry in words, and for each grantee named in
    /// it whose credential the admin or a registrar withdrew, a line at that time (that ended their access).
    pub fn audit_lines(&self, entries: &[AuditEntry]) -> Vec<AuditLine> {
        let mut lines: Vec<AuditLine> = entries
            .iter()
            .map(|entry| AuditLine {
                seq: Some(entry.seq),
                time: entry.time,
                local_time: local_time(entry.time),
                actor: entry.actor.clone(),
                actor_name: self.name(&entry.actor),
                text: self.describe(entry),
                action: Some(entry.action.clone()),
            })
            .collect();
        let grantees: BTreeSet<&Addr> = entries
            .iter()
            .filter_map(|entry| match &entry.action {
                AuditAction::AccessGranted { grantee, .. } => Some(grantee),
                _ => None,
            })
            .collect();
        for grantee in grantees {
            let Some(withdrawn) = self.provider(grantee).and_then(|p| p.withdrawn_at) else {
                continue;
            };
            let Some(admin) = self.admin.clone() else {
                continue;
            };
            lines.push(AuditLine {
                seq: None,
                time: withdrawn,
                local_time: local_time(withdrawn),
                actor_name: self.name(&admin),
                actor: admin,
                text: format!(
                    "The network withdrew the credential of {}; their access ended",
                    self.name(grantee)
                ),
                action: None,
            });
        }
        // Stable: a withdrawal sorts after the entries of the same second.
        lines.sort_by_key(|line| (line.time, line.seq.is_none()));
        lines
    }
}

/// One line of `ehr audit`: the same value renders as JSON and as text.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AuditLine {
    /// The entry's place in the chain's log; `None` for a credential withdrawal, which the
    /// registry records on the provider rather than in each patient's log.
    pub seq: Option<u64>,
    pub time: Timestamp,
    pub local_time: String,
    pub actor: Addr,
    pub actor_name: String,
    pub text: String,
    pub action: Option<AuditAction>,
}

impl std::fmt::Display for AuditLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}  {}", self.local_time, self.text)
    }
}

/// What a grant of `scope` lets its doctor do, in words.
pub fn scope_words(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "read",
        Scope::Write => "read and write",
        Scope::Manage => "read, write and delete",
    }
}

pub fn category_labels(categories: &[Category]) -> String {
    categories
        .iter()
        .map(|c| c.label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A chain time in the machine's time zone (TZ, else /etc/localtime), e.g.
/// "Wed 2 Dec 2026 14:05 CET"; DST is taken at that moment, not now.
pub fn local_time(time: Timestamp) -> String {
    time_in(time, jiff::tz::TimeZone::system())
}

fn time_in(time: Timestamp, zone: jiff::tz::TimeZone) -> String {
    let Ok(seconds) = i64::try_from(time.seconds()) else {
        return format!("{} s after 1970", time.seconds());
    };
    match jiff::Timestamp::from_second(seconds) {
        Ok(moment) => moment
            .to_zoned(zone)
            .strftime("%a %-d %b %Y %H:%M %Z")
            .to_string(),
        Err(_) => format!("{seconds} s after 1970"),
    }
}

/// "wasm1abcd…wxyz": enough to tell two addresses apart, not to be mistaken for a name.
pub fn short_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 14 {
        return address.to_string();
    }
    let head: String = chars[..9].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(address: &str, name: &str, withdrawn_at: Option<Timestamp>) -> ProviderInfo {
        ProviderInfo {
            address: Addr::unchecked(address),
            display_name: name.into(),
            organization: "St Mary Hospital".into(),
            credentialed: withdrawn_at.is_none(),
            encryption_key: None,
            credentialed_at: Timestamp::from_seconds(1),
            withdrawn_at,
        }
    }

    fn entry(seq: u64, seconds: u64, actor: &str, action: AuditAction) -> AuditEntry {
        AuditEntry {
            patient_id: 1,
            seq,
            time: Timestamp::from_seconds(seconds),
            actor: Addr::unchecked(actor),
            action,
        }
    }

    fn directory(viewer: &str) -> Directory {
        Directory::new(
            Some(Addr::unchecked(viewer)),
            Some(Addr::unchecked("wasm1patientaddressxyz")),
            Some(Addr::unchecked("wasm1adminaddressxyzw")),
            [
                provider("wasm1doctoraddressabcd", "Dr Ana Lima", None),
                provider(
                    "wasm1doctorwithdrawnab",
                    "Dr Ben Okafor",
                    Some(Timestamp::from_seconds(500)),
                ),
            ],
        )
    }

    #[test]
    fn names_say_who_an_address_is_from_the_viewers_side() {
        let as_patient = directory("wasm1patientaddressxyz");
        let as_doctor = directory("wasm1doctoraddressabcd");
        let patient = Addr::unchecked("wasm1patientaddressxyz");
        let doctor = Addr::unchecked("wasm1doctoraddressabcd");
        assert_eq!(as_patient.name(&patient), "you");
        assert_eq!(as_doctor.name(&patient), "the patient");
        assert_eq!(as_patient.name(&doctor), "Dr Ana Lima, St Mary Hospital");
        assert_eq!(as_doctor.name(&doctor), "you");
        assert_eq!(
            as_patient.name(&Addr::unchecked("wasm1adminaddressxyzw")),
            "the network admin"
        );
        assert_eq!(
            as_patient.name(&Addr::unchecked("wasm1strangeraddress0000")),
            "wasm1stra…0000 (not a listed provider)"
        );
    }

    #[test]
    fn every_action_reads_as_a_sentence() {
        let dir = directory("wasm1patientaddressxyz");
        let doctor = Addr::unchecked("wasm1doctoraddressabcd");
        let expires = Timestamp::from_seconds(1_800_000_000);
        let said = |actor: &str, action: AuditAction| dir.describe(&entry(1, 10, actor, action));
        let me = "wasm1patientaddressxyz";
        let cases = [
            (me, AuditAction::PatientRegistered {}, "You registered as a patient"),
            (
                "wasm1doctoraddressabcd",
                AuditAction::PatientProposed {},
                "Dr Ana Lima, St Mary Hospital proposed the patient record",
            ),
            (me, AuditAction::PatientAccepted {}, "You accepted the patient record"),
            (me, AuditAction::PatientDeclined {}, "You declined the patient record"),
            (
                me,
                AuditAction::ProfileUpdated { version: 3 },
                "You updated the profile (version 3)",
            ),
            (
                me,
                AuditAction::PatientDeleted {},
                "You deleted the patient and all records",
            ),
            (
                "wasm1doctoraddressabcd",
                AuditAction::RecordAdded {
                    record_id: 12,
                    category: Category::Lab,
                },
                "Dr Ana Lima, St Mary Hospital added Lab record #12",
            ),
            (
                me,
                AuditAction::RecordUpdated {
                    record_id: 12,
                    version: 2,
                },
                "You updated record #12 to version 2",
            ),
            (
                me,
                AuditAction::RecordDeleted { record_id: 12 },
                "You deleted record #12",
            ),
            (
                me,
                AuditAction::AccessGranted {
                    grantee: doctor.clone(),
                    scope: Scope::Write,
                    categories: vec![Category::Lab, Category::Note],
                    expires: None,
                },
                "You gave Dr Ana Lima, St Mary Hospital read and write access to Lab, Note with no end date",
            ),
            (
                me,
                AuditAction::AccessRevoked {
                    grantee: doctor.clone(),
                },
                "You revoked the access of Dr Ana Lima, St Mary Hospital",
            ),
            (
                "wasm1doctoraddressabcd",
                AuditAction::AccessRequested { request_id: 3 },
                "Dr Ana Lima, St Mary Hospital asked for access (request #3)",
            ),
            (
                me,
                AuditAction::RequestApproved { request_id: 3 },
                "You approved request #3",
            ),
            (
                me,
                AuditAction::RequestDenied { request_id: 3 },
                "You denied request #3",
            ),
            (
                me,
                AuditAction::KeyRotated {
                    category: Category::Allergy,
                    epoch: 2,
                    holders: 0,
                },
                "You made a new Allergy key (epoch 2) for the patient only",
            ),
            (
                me,
                AuditAction::KeyRotated {
                    category: Category::Lab,
                    epoch: 4,
                    holders: 2,
                },
                "You made a new Lab key (epoch 4) for the patient and 2 other readers",
            ),
        ];
        for (actor, action, sentence) in cases {
            assert_eq!(said(actor, action), sentence);
        }
        let granted = said(
            me,
            AuditAction::AccessGranted {
                grantee: doctor,
                scope: Scope::Read,
                categories: vec![Category::Lab],
                expires: Some(expires),
            },
        );
        assert_eq!(
            granted,
            format!(
                "You gave Dr Ana Lima, St Mary Hospital read access to Lab until {}",
                local_time(expires)
            )
        );
        let emergency = said(
            "wasm1doctoraddressabcd",
            AuditAction::EmergencyAccess {
                expires,
                reason: ehr_types::escrow::EmergencyReason::IncapablePatient {},
            },
        );
        assert_eq!(
            emergency,
            format!(
                "Dr Ana Lima, St Mary Hospital broke the glass (treatment of a patient who cannot consent, ETREAT): emergency read access until {}",
                local_time(expires)
            )
        );
        let coded = said(
            "wasm1doctoraddressabcd",
            AuditAction::EmergencyAccess {
                expires,
                reason: ehr_types::escrow::EmergencyReason::Other {
                    code: "MASS-CASUALTY".into(),
                },
            },
        );
        assert!(
            coded.contains("(reason code MASS-CASUALTY, BTG)"),
            "{coded}"
        );
        assert_eq!(
            said(
                "wasm1doctorwithdrawnab",
                AuditAction::SharesReleased {
                    doctor: Addr::unchecked("wasm1doctoraddressabcd"),
                    categories: vec![Category::Allergy, Category::Prescription],
                }
            ),
            "Dr Ben Okafor, St Mary Hospital released its key shares of Allergy, Prescription to Dr Ana Lima, St Mary Hospital"
        );
        assert_eq!(
            said(
                me,
                AuditAction::EscrowPolicySet {
                    categories: vec![Category::Allergy],
                    recovery: false,
                }
            ),
            "You chose the key escrow: Allergy open in an emergency; no wallet recovery"
        );
        assert_eq!(
            said(
                me,
                AuditAction::EscrowPolicySet {
                    categories: vec![],
                    recovery: true,
                }
            ),
            "You chose the key escrow: nothing opens in an emergency; every key is escrowed so a lost wallet can be recovered"
        );
        assert_eq!(
            said(
                me,
                AuditAction::EscrowPolicySet {
                    categories: vec![],
                    recovery: false,
                }
            ),
            "You stopped escrowing keys with the trustees"
        );
        assert_eq!(
            said(
                "wasm1doctorwithdrawnab",
                AuditAction::PatientRecovered {
                    former_owner: Addr::unchecked("wasm1oldwalletaddress0000"),
                    new_owner: Addr::unchecked("wasm1newwalletaddress1111"),
                }
            ),
            format!(
                "Dr Ben Okafor, St Mary Hospital completed the recovery: the patient moved from the wallet {} to {}, and the old wallet's keys open no new record",
                short_address("wasm1oldwalletaddress0000"),
                short_address("wasm1newwalletaddress1111")
            )
        );
    }

    #[test]
    fn a_grantees_withdrawn_credential_shows_in_the_patients_log() {
        let dir = directory("wasm1patientaddressxyz");
        let grant = |seq, seconds, grantee: &str| {
            entry(
                seq,
                seconds,
                "wasm1patientaddressxyz",
                AuditAction::AccessGranted {
                    grantee: Addr::unchecked(grantee),
                    scope: Scope::Read,
                    categories: vec![Category::Lab],
                    expires: None,
                },
            )
        };
        let entries = [
            grant(1, 100, "wasm1doctorwithdrawnab"),
            grant(2, 200, "wasm1doctoraddressabcd"),
            entry(
                3,
                900,
                "wasm1doctoraddressabcd",
                AuditAction::RecordAdded {
                    record_id: 1,
                    category: Category::Lab,
                },
            ),
        ];
        let lines = dir.audit_lines(&entries);
        let said: Vec<(Option<u64>, u64, &str)> = lines
            .iter()
            .map(|l| (l.seq, l.time.seconds(), l.text.as_str()))
            .collect();
        assert_eq!(
            said,
            vec![
                (
                    Some(1),
                    100,
                    "You gave Dr Ben Okafor, St Mary Hospital read access to Lab with no end date"
                ),
                (
                    Some(2),
                    200,
                    "You gave Dr Ana Lima, St Mary Hospital read access to Lab with no end date"
                ),
                (
                    None,
                    500,
                    "The network withdrew the credential of Dr Ben Okafor, St Mary Hospital; their access ended"
                ),
                (
                    Some(3),
                    900,
                    "Dr Ana Lima, St Mary Hospital added Lab record #1"
                ),
            ]
        );
    }

    #[test]
    fn times_are_shown_in_the_zone_and_daylight_time_of_that_moment() {
        let lisbon = jiff::tz::TimeZone::posix("WET0WEST,M3.5.0/1,M10.5.0").unwrap();
        // 2026-12-02 12:00 UTC is winter time; 2026-07-01 12:00 UTC is summer time.
        assert_eq!(
            time_in(Timestamp::from_seconds(1_796_212_800), lisbon.clone()),
            "Wed 2 Dec 2026 12:00 WET"
        );
        assert_eq!(
            time_in(Timestamp::from_seconds(1_782_907_200), lisbon),
            "Wed 1 Jul 2026 13:00 WEST"
        );
    }
}
