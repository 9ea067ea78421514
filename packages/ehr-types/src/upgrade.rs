//! The check both contracts' `migrate` makes before any migration step: the stored cw2 version
//! must be this contract's, and not newer than the code being installed (a downgrade could read
//! storage written by a layout it does not know).

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
