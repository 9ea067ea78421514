//! The rule book: who may read, write or manage a category of a patient now, when an emergency
//! may be declared, and when a party other than the patient may open a new key epoch. Pure
//! functions over facts the access contract holds (no I/O): both contracts decide with them, and
//! clients ask the chain (`Permission`, `Capabilities`, `WritePlan`) instead of re-deriving them.

use cosmwasm_std::Timestamp;

use crate::access::{PermissionResponse, Scope};
use crate::Category;

/// A grant as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct GrantTerms<'a> {
    pub scope: Scope,
    pub categories: &'a [Category],
    pub expires: Option<Timestamp>,
}

impl GrantTerms<'_> {
    /// Unexpired, at least `scope`, and covering `category` (any category when `None`).
    pub fn allows(&self, now: Timestamp, scope: Scope, category: Option<Category>) -> bool {
        let unexpired = self.expires.is_none_or(|expires| now < expires);
        let covers = category.is_none_or(|category| self.categories.contains(&category));
        unexpired && self.scope >= scope && covers
    }
}

/// A doctor's emergency window as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct EmergencyTerms {
    pub started: Timestamp,
    /// When the window was declared to end.
    pub expires: Timestamp,
    /// When the patient ended it early, if it did.
    pub ended: Option<Timestamp>,
}

impl EmergencyTerms {
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.ended.is_none() && now < self.expires
    }
}

/// Everything the rules need to know of one party (not the patient) and one patient.
#[derive(Clone, Copy, Debug)]
pub struct PartyFacts<'a> {
    /// A provider whose credential is in force; nobody else may hold anything.
    pub credentialed: bool,
    pub grant: Option<GrantTerms<'a>>,
    pub emergency: Option<EmergencyTerms>,
    /// The categories the patient opens in an emergency (its escrow policy): the only ones an
    /// emergency window ever opens.
    pub emergency_categories: &'a [Category],
}

impl PartyFacts<'_> {
    fn by_grant(&self, now: Timestamp, scope: Scope, category: Option<Category>) -> bool {
        self.grant
            .is_some_and(|grant| grant.allows(now, scope, category))
    }

    /// An open window counts for Read of the patient's emergency categories, and for nothing
    /// else: it never undoes a revoke, a narrowing or an expiry of any other category.
    fn by_emergency(&self, now: Timestamp, scope: Scope, category: Option<Category>) -> bool {
        scope == Scope::Read
            && self.emergency.is_some_and(|window| window.is_open(now))
            && match category {
                Some(category) => self.emergency_categories.contains(&category),
                None => !self.emergency_categories.is_empty(),
            }
    }

    /// What `Permission` answers (credentials are the caller's to check: the registry checks
    /// them itself before it asks).
    pub fn permission(
        &self,
        now: Timestamp,
        scope: Scope,
        category: Option<Category>,
    ) -> PermissionResponse {
        if self.by_grant(now, scope, category) {
            return PermissionResponse {
                allowed: true,
                emergency: false,
            };
        }
        let emergency = self.by_emergency(now, scope, category);
        PermissionResponse {
            allowed: emergency,
            emergency,
        }
    }

    /// Whether the party may read `category` now: what makes it entitled to that category's
    /// keys. A key epoch one of whose holders may not is stale.
    pub fn may_read(&self, now: Timestamp, category: Category) -> bool {
        self.credentialed && self.permission(now, Scope::Read, Some(category)).allowed
    }

    /// Whether the party may write `category` now: a grant only, never an emergency.
    pub fn may_write(&self, now: Timestamp, category: Category) -> bool {
        self.credentialed && self.by_grant(now, Scope::Write, Some(category))
    }

    /// Whether the party may manage the patient (delete it): a grant of Manage.
    pub fn may_manage(&self, now: Timestamp, category: Category) -> bool {
        self.credentialed && self.by_grant(now, Scope::Manage, Some(category))
    }
}

/// Why a new emergency declaration is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyRefusal {
    /// The doctor's previous window (open, or ended early by the patient) has not reached the
    /// end it was declared with: one declaration per doctor and patient per window length.
    TooSoon { until: Timestamp },
}

/// A doctor may declare an emergency for a patient once its previous window, if any, has
/// reached the end it was declared with. Ending a window early does not let the doctor
/// re-open it at once, so a patient who ends a window keeps it ended for its planned length.
pub fn may_declare_emergency(
    previous: Option<EmergencyTerms>,
    now: Timestamp,
) -> Result<(), EmergencyRefusal> {
    match previous {
        Some(window) if now < window.expires => Err(EmergencyRefusal::TooSoon {
            until: window.expires,
        }),
        _ => Ok(()),
    }
}

/// The state of a (patient, category) key epoch as the rules see it, for one writer.
#[derive(Clone, Copy, Debug)]
pub struct EpochFacts {
    /// A holder of the current key may no longer read the category.
    pub stale: bool,
    /// A party entitled to read the category has published a key but was not handed the
    /// current one.
    pub unserved: bool,
    /// The writer is the patient, or was handed the current key (it is one of its holders).
    pub writer_holds: bool,
    /// The current epoch was opened by a grantee other than the writer: the writer cannot
    /// know that the envelope it was handed opens.
    pub opened_by_another_grantee: bool,
}

/// Whether the next write by `writer` must open a new epoch: the epoch is stale, or the writer
/// was never handed its key, or (the patient only) a reader lacks the key. Readers a grantee's
/// write leaves unserved get the next key at the patient's next write. A client that finds it
/// cannot open the key it was handed may rotate too, when `may_rotate` allows it.
pub fn must_rotate(epoch: EpochFacts, writer_is_patient: bool) -> bool {
    epoch.stale || !epoch.writer_holds || (writer_is_patient && epoch.unserved)
}

/// Whether the chain accepts a `RotateKey` from a writer: the patient always (it can always
/// replace a key it cannot open), a grantee with Write only when its write needs one, or when
/// the key it holds was wrapped by another grantee (which may have wrapped junk). So a grantee
/// cannot open epochs at will, and no grantee can lock another out of writing.
pub fn may_rotate(epoch: EpochFacts, writer_is_patient: bool) -> bool {
    writer_is_patient || must_rotate(epoch, false) || epoch.opened_by_another_grantee
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_seconds(1_000);

    fn window(expires: u64, ended: Option<u64>) -> EmergencyTerms {
        EmergencyTerms {
            started: Timestamp::from_seconds(0),
            expires: Timestamp::from_seconds(expires),
            ended: ended.map(Timestamp::from_seconds),
        }
    }

    fn facts<'a>(
        grant: Option<GrantTerms<'a>>,
        emergency: Option<EmergencyTerms>,
        emergency_categories: &'a [Category],
    ) -> PartyFacts<'a> {
        PartyFacts {
            credentialed: true,
            grant,
            emergency,
            emergency_categories,
        }
    }

    #[test]
    fn a_grant_allows_lower_scopes_on_its_categories_until_it_expires() {
        let write_lab = GrantTerms {
            scope: Scope::Write,
            categories: &[Category::Lab],
            expires: Some(Timestamp::from_seconds(1_001)),
        };
        assert!(write_lab.allows(NOW, Scope::Read, Some(Category::Lab)));
        assert!(write_lab.allows(NOW, Scope::Write, Some(Category::Lab)));
        assert!(write_lab.allows(NOW, Scope::Write, None));
        assert!(!write_lab.allows(NOW, Scope::Manage, Some(Category::Lab)));
        assert!(!write_lab.allows(NOW, Scope::Read, Some(Category::Note)));
        assert!(!write_lab.allows(NOW.plus_seconds(1), Scope::Read, Some(Category::Lab)));
    }

    #[test]
    fn an_emergency_opens_only_the_patients_emergency_categories_for_read() {
        let open = Some(window(2_000, None));
        let party = facts(None, open, &[Category::Allergy]);
        assert!(party.may_read(NOW, Category::Allergy));
        assert!(!party.may_read(NOW, Category::Imaging));
        assert!(!party.may_write(NOW, Category::Allergy));
        assert!(party.permission(NOW, Scope::Read, None).emergency);
        // A patient that opens nothing in an emergency opens nothing to any window.
        let nothing = facts(None, open, &[]);
        assert!(!nothing.may_read(NOW, Category::Allergy));
        assert!(!nothing.permission(NOW, Scope::Read, None).allowed);
    }

    #[test]
    fn an_emergency_never_undoes_a_revoke_narrowing_or_expiry() {
        let narrowed = GrantTerms {
            scope: Scope::Read,
            categories: &[Category::Lab],
            expires: None,
        };
        let party = facts(
            Some(narrowed),
            Some(window(2_000, None)),
            &[Category::Allergy],
        );
        assert!(!party.may_read(NOW, Category::Imaging));
        let expired = GrantTerms {
            scope: Scope::Read,
            categories: &[Category::Imaging],
            expires: Some(NOW),
        };
        let party = facts(
            Some(expired),
            Some(window(2_000, None)),
            &[Category::Allergy],
        );
        assert!(!party.may_read(NOW, Category::Imaging));
    }

    #[test]
    fn a_window_the_patient_ended_or_that_expired_opens_nothing() {
        assert!(
            !facts(None, Some(window(2_000, Some(900))), &[Category::Allergy])
                .may_read(NOW, Category::Allergy)
        );
        assert!(
            !facts(None, Some(window(1_000, None)), &[Category::Allergy])
                .may_read(NOW, Category::Allergy)
        );
    }

    #[test]
    fn nothing_opens_for_an_uncredentialed_party() {
        let grant = GrantTerms {
            scope: Scope::Manage,
            categories: &[Category::Lab],
            expires: None,
        };
        let party = PartyFacts {
            credentialed: false,
            ..facts(Some(grant), Some(window(2_000, None)), &[Category::Lab])
        };
        assert!(!party.may_read(NOW, Category::Lab));
        assert!(!party.may_write(NOW, Category::Lab));
        assert!(!party.may_manage(NOW, Category::Lab));
    }

    #[test]
    fn a_declaration_waits_for_the_previous_windows_declared_end() {
        assert_eq!(may_declare_emergency(None, NOW), Ok(()));
        assert_eq!(
            may_declare_emergency(Some(window(1_000, None)), NOW),
            Ok(())
        );
        let until = Timestamp::from_seconds(1_500);
        assert_eq!(
            may_declare_emergency(Some(window(1_500, None)), NOW),
            Err(EmergencyRefusal::TooSoon { until })
        );
        // Ended early by the patient: still not before the declared end.
        assert_eq!(
            may_declare_emergency(Some(window(1_500, Some(900))), NOW),
            Err(EmergencyRefusal::TooSoon { until })
        );
    }

    #[test]
    fn a_grantee_rotates_only_when_its_write_needs_it() {
        let fresh = EpochFacts {
            stale: false,
            unserved: false,
            writer_holds: true,
            opened_by_another_grantee: false,
        };
        let stale = EpochFacts {
            stale: true,
            ..fresh
        };
        let unserved = EpochFacts {
            unserved: true,
            ..fresh
        };
        let not_handed = EpochFacts {
            writer_holds: false,
            ..fresh
        };
        let wrapped_by_another = EpochFacts {
            opened_by_another_grantee: true,
            ..fresh
        };
        assert!(!may_rotate(fresh, false));
        assert!(!may_rotate(unserved, false));
        assert!(may_rotate(stale, false));
        assert!(may_rotate(not_handed, false));
        assert!(may_rotate(wrapped_by_another, false));
        assert!(!must_rotate(wrapped_by_another, false));
        assert!(may_rotate(fresh, true));
        assert!(must_rotate(unserved, true));
        assert!(!must_rotate(unserved, false));
        assert!(must_rotate(stale, false));
        assert!(!must_rotate(fresh, true));
    }
}
