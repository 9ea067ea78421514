//! Both contracts' `migrate`, written once: the stored cw2 version must be this contract's, and
//! not newer than the code being installed (a downgrade could read storage written by a layout it
//! does not know); then the step of every newer release runs, oldest first, and cw2 records this
//! release.

use cosmwasm_std::{Response, StdError, StdResult, Storage};
use semver::Version;

/// Why a migration is refused before any step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeRefusal {
    /// The stored state belongs to another contract.
    ForeignContract { contract: String },
    /// The stored state was written by a newer release than this code.
    Downgrade { stored: String, current: String },
    /// A version that is not semver.
    InvalidVersion { version: String },
}

fn parse(version: &str) -> Result<Version, UpgradeRefusal> {
    Version::parse(version).map_err(|_| UpgradeRefusal::InvalidVersion {
        version: version.to_string(),
    })
}

/// `stored_*` from cw2; `name` and `version` of the code being installed.
pub fn check_upgrade(
    stored_contract: &str,
    stored_version: &str,
    name: &str,
    version: &str,
) -> Result<(), UpgradeRefusal> {
    if stored_contract != name {
        return Err(UpgradeRefusal::ForeignContract {
            contract: stored_contract.to_string(),
        });
    }
    if parse(stored_version)? > parse(version)? {
        return Err(UpgradeRefusal::Downgrade {
            stored: stored_version.to_string(),
            current: version.to_string(),
        });
    }
    Ok(())
}

/// The steps a migration from `stored_version` runs: those of the releases newer than it, in the
/// order given (oldest first).
pub fn steps_after<'a, S>(
    stored_version: &str,
    steps: &'a [(&'a str, S)],
) -> Result<Vec<&'a S>, UpgradeRefusal> {
    let stored = parse(stored_version)?;
    let mut pending = Vec::with_capacity(steps.len());
    for (version, step) in steps {
        if parse(version)? > stored {
            pending.push(step);
        }
    }
    Ok(pending)
}

/// One release's migration step: brings the storage of the release before it to its own layout.
pub type Step = fn(&mut dyn Storage) -> StdResult<()>;

/// The code being installed as a migration sees it.
pub struct Release {
    /// The cw2 contract name.
    pub name: &'static str,
    pub version: &'static str,
    /// Every release's step with its version, oldest first.
    pub steps: &'static [(&'static str, Step)],
}

impl Release {
    /// The stored cw2 version, once `check_upgrade` accepts it for this code; writes nothing.
    pub fn check<E>(&self, storage: &dyn Storage) -> Result<String, E>
    where
        E: From<StdError> + From<UpgradeRefusal>,
    {
        let stored = cw2::get_contract_version(storage)?;
        check_upgrade(&stored.contract, &stored.version, self.name, self.version)?;
        Ok(stored.version)
    }

    /// Runs the steps of the releases newer than `from` (the version `check` returned), records
    /// this release in cw2, and answers the migration's attributes.
    pub fn install<E>(&self, storage: &mut dyn Storage, from: String) -> Result<Response, E>
    where
        E: From<StdError> + From<UpgradeRefusal>,
    {
        // Bounded by the number of releases.
        for step in steps_after(&from, self.steps)? {
            step(storage)?;
        }
        cw2::set_contract_version(storage, self.name, self.version)?;
        Ok(Response::new()
            .add_attribute("action", "migrate")
            .add_attribute("from_version", from)
            .add_attribute("to_version", self.version))
    }

    /// The version of the newest step, which must be this release's.
    pub fn newest_step(&self) -> Option<&'static str> {
        self.steps.last().map(|(version, _)| *version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_steps_of_newer_releases_run() {
        let steps = [("0.2.0", 'b'), ("0.3.0", 'c'), ("0.10.0", 'd')];
        assert_eq!(steps_after("0.1.0", &steps), Ok(vec![&'b', &'c', &'d']));
        assert_eq!(steps_after("0.3.0", &steps), Ok(vec![&'d']));
        assert_eq!(steps_after("0.10.0", &steps), Ok(vec![]));
        assert_eq!(
            steps_after("x", &steps),
            Err(UpgradeRefusal::InvalidVersion {
                version: "x".into()
            })
        );
    }

    #[test]
    fn same_or_older_release_of_the_same_contract_upgrades() {
        assert_eq!(check_upgrade("c", "0.1.0", "c", "0.1.0"), Ok(()));
        assert_eq!(check_upgrade("c", "0.0.9", "c", "0.1.0"), Ok(()));
        assert_eq!(check_upgrade("c", "0.9.0", "c", "0.10.0"), Ok(()));
    }

    #[test]
    fn another_contract_a_newer_release_or_a_bad_version_is_refused() {
        assert_eq!(
            check_upgrade("other", "0.1.0", "c", "0.1.0"),
            Err(UpgradeRefusal::ForeignContract {
                contract: "other".into()
            })
        );
        assert_eq!(
            check_upgrade("c", "0.2.0", "c", "0.1.0"),
            Err(UpgradeRefusal::Downgrade {
                stored: "0.2.0".into(),
                current: "0.1.0".into()
            })
        );
        assert_eq!(
            check_upgrade("c", "one", "c", "0.1.0"),
            Err(UpgradeRefusal::InvalidVersion {
                version: "one".into()
            })
        );
    }
}
