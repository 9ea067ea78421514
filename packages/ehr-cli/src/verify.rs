//! `ehr verify`: re-hash stored ciphertexts and compare them with the chain.

use anyhow::Result;
use clap::Args;
use ehr_types::RecordId;
use serde::Serialize;

use crate::context::Cx;
use crate::output::{lines, output, Output, Render};

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(required = true)]
    record_ids: Vec<RecordId>,
}

/// One stored version checked against the chain.
#[derive(Serialize)]
struct VersionChecked {
    record_id: RecordId,
    version: u32,
    ok: bool,
    error: Option<String>,
}

/// Every version of the records asked for; the command fails when one does not match.
#[derive(Serialize)]
#[serde(transparent)]
struct Verified(Vec<VersionChecked>);

impl Render for Verified {
    fn human(&self) -> String {
        lines(
            &self.0,
            |c| match &c.error {
                None => format!(
                    "record {} v{}: OK (sha256 and sealed header match the chain)",
                    c.record_id, c.version
                ),
                Some(error) => format!("record {} v{}: FAILED: {error}", c.record_id, c.version),
            },
            "no stored versions",
        )
    }

    fn failure(&self) -> Option<String> {
        let failed = self.0.iter().filter(|c| !c.ok).count();
        (failed > 0).then(|| format!("{failed} stored version(s) do not match the chain"))
    }
}

pub async fn run(cx: &mut Cx, args: VerifyArgs) -> Result<Output> {
    let ehr = cx.ehr()?;
    let mut checked = Vec::new();
    for record_id in args.record_ids {
        for (version, result) in ehr.verify_record(record_id).await? {
            checked.push(VersionChecked {
                record_id,
                version,
                ok: result.is_ok(),
                error: result.err().map(|e| e.to_string()),
            });
        }
    }
    output(Verified(checked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_that_does_not_match_is_printed_and_fails_the_command() {
        let verified = Verified(vec![
            VersionChecked {
                record_id: 4,
                version: 1,
                ok: true,
                error: None,
            },
            VersionChecked {
                record_id: 4,
                version: 2,
                ok: false,
                error: Some("integrity check failed: sha256 mismatch".into()),
            },
        ]);
        assert_eq!(
            serde_json::to_value(&verified).unwrap(),
            serde_json::json!([
                {"record_id": 4, "version": 1, "ok": true, "error": null},
                {"record_id": 4, "version": 2, "ok": false, "error": "integrity check failed: sha256 mismatch"}
            ])
        );
        assert_eq!(
            verified.human(),
            "record 4 v1: OK (sha256 and sealed header match the chain)\nrecord 4 v2: FAILED: integrity check failed: sha256 mismatch"
        );
        assert_eq!(
            verified.failure().as_deref(),
            Some("1 stored version(s) do not match the chain")
        );
        assert_eq!(Verified(vec![]).failure(), None);
    }
}
