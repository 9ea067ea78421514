//! `ehr export`: a patient's records as a FHIR R4 Bundle (docs/fhir.md) another system can read,
//! with Consent, AuditEvent and the chain evidence of every version (Provenance).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use cosmwasm_std::Addr;
use ehr_client::write_private;
use ehr_fhir::export::{export_bundle, ExportInput, PatientFacts, RecordFacts};
use ehr_types::registry::{RecordStatus, RecordVersion};
use ehr_types::{Category, PatientId, RecordId};
use serde::Serialize;

use crate::context::{patient_id, Cx};
use crate::output::{output, Output, Render};

#[derive(Subcommand)]
pub enum ExportCmd {
    /// A patient's records, grants and audit log as one FHIR R4 Bundle (docs/fhir.md). Versions
    /// you cannot decrypt are reported, not exported.
    Fhir {
        /// Default: your own patient.
        #[arg(long)]
        patient: Option<PatientId>,
        /// Every version of each record, oldest first (default: the latest).
        #[arg(long)]
        history: bool,
        /// The Bundle's file (written readable by you only: it holds decrypted health data).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// A version left out of the Bundle, and why.
#[derive(Serialize)]
struct NotExported {
    record_id: RecordId,
    version: u32,
    error: String,
}

/// Versions not exported that the text names one by one (a doctor without keys may miss
/// thousands).
const LISTED: usize = 10;

/// `export fhir`.
#[derive(Serialize)]
struct FhirExported {
    patient_id: PatientId,
    file: PathBuf,
    /// Entries per resourceType.
    resources: BTreeMap<String, usize>,
    /// Records written as DocumentReference because they are not R4 resources the model reads
    /// completely.
    wrapped: usize,
    /// Why the profile is not in the Patient entry (none stored, or it does not decrypt).
    profile_missing: Option<String>,
    not_exported: Vec<NotExported>,
    bytes: usize,
    seconds: f64,
}

impl Render for FhirExported {
    fn human(&self) -> String {
        let counts: Vec<String> = self
            .resources
            .iter()
            .map(|(resource_type, count)| format!("{count} {resource_type}"))
            .collect();
        let mut out = format!(
            "wrote {} ({} bytes, {:.1} s): the FHIR Bundle of patient {}: {}",
            self.file.display(),
            self.bytes,
            self.seconds,
            self.patient_id,
            counts.join(", ")
        );
        if self.wrapped > 0 {
            out.push_str(&format!(
                "\n{} record version(s) are not R4 resources: wrapped byte for byte in a DocumentReference",
                self.wrapped
            ));
        }
        if let Some(why) = &self.profile_missing {
            out.push_str(&format!("\nthe Patient entry has no profile: {why}"));
        }
        if !self.not_exported.is_empty() {
            out.push_str(&format!(
                "\nnot exported ({} version(s) you cannot decrypt):",
                self.not_exported.len()
            ));
            for skipped in self.not_exported.iter().take(LISTED) {
                out.push_str(&format!(
                    "\n  record {} version {}: {}",
                    skipped.record_id, skipped.version, skipped.error
                ));
            }
            if self.not_exported.len() > LISTED {
                out.push_str(&format!(
                    "\n  and {} more (--json lists them all)",
                    self.not_exported.len() - LISTED
                ));
            }
        }
        out
    }
}

pub async fn run(cx: &mut Cx, cmd: ExportCmd) -> Result<Output> {
    match cmd {
        ExportCmd::Fhir {
            patient,
            history,
            output: file,
        } => {
            let started = Instant::now();
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let info = ehr.patient(patient).await?;
            let (profile, profile_missing) = match ehr.read_profile(&info).await {
                Ok(Some(profile)) => (Some(profile), None),
                Ok(None) => (None, Some("no profile is stored".to_string())),
                Err(error) => (None, Some(error.to_string())),
            };
            let records: Vec<_> = ehr
                .records_of_patient(patient)
                .await?
                .into_iter()
                .filter(|r| r.status == RecordStatus::Active)
                .collect();
            let mut versions: Vec<(RecordId, Category, RecordVersion)> = Vec::new();
            for record in records {
                if history {
                    for version in ehr.history(record.id).await? {
                        versions.push((record.id, record.category, version));
                    }
                } else {
                    versions.push((record.id, record.category, record.latest));
                }
            }
            let pairs: Vec<(Category, RecordVersion)> = versions
                .iter()
                .map(|(_, category, version)| (*category, version.clone()))
                .collect();
            let bar = cx.progress(pairs.len() as u64, "decrypting");
            let opened = ehr.open_versions(&info, &pairs).await?;
            bar.finish_and_clear();
            let mut facts = Vec::new();
            let mut not_exported = Vec::new();
            for ((record_id, category, version), plaintext) in versions.into_iter().zip(opened) {
                match plaintext {
                    Ok(plaintext) => facts.push(RecordFacts {
                        record_id,
                        category,
                        version: version.version,
                        epoch: version.epoch,
                        sha256: version.blob.sha256,
                        uri: version.blob.uri,
                        size: version.blob.size,
                        author: version.author.into_string(),
                        time: version.time,
                        plaintext,
                    }),
                    Err(error) => not_exported.push(NotExported {
                        record_id,
                        version: version.version,
                        error: error.to_string(),
                    }),
                }
            }
            let grants = ehr.grants_of(patient).await?;
            let audit = crate::people::audit_entries(&ehr, patient).await?;
            let mentioned: Vec<Addr> = grants
                .iter()
                .map(|g| g.grantee.clone())
                .chain(audit.iter().map(|e| e.actor.clone()))
                .chain(facts.iter().map(|f| Addr::unchecked(&f.author)))
                .collect();
            let directory =
                crate::people::directory(&ehr, Some(&info.owner), mentioned.clone()).await?;
            // Only directory listings: "you" or "the patient" would mean something else to
            // whoever reads the file.
            let names = mentioned
                .iter()
                .filter_map(|address| {
                    directory.provider(address).map(|p| {
                        (
                            address.to_string(),
                            format!("{}, {}", p.display_name, p.organization),
                        )
                    })
                })
                .collect();
            let input = ExportInput {
                chain_id: ehr.session.chain.config.chain_id.clone(),
                registry: ehr.session.chain.config.registry.clone(),
                exported_at: ehr_client::now()?,
                patient: PatientFacts {
                    id: patient,
                    profile,
                },
                records: facts,
                grants,
                audit,
                names,
            };
            let export = export_bundle(&input)?;
            write_private(&file, &export.bundle)
                .with_context(|| format!("writing {}", file.display()))?;
            output(FhirExported {
                patient_id: patient,
                file,
                resources: export.counts,
                wrapped: export.wrapped.len(),
                profile_missing,
                not_exported,
                bytes: export.bundle.len(),
                seconds: started.elapsed().as_secs_f64(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_counts_wrapped_and_what_was_left_out() {
        let exported = FhirExported {
            patient_id: 4,
            file: PathBuf::from("out.json"),
            resources: BTreeMap::from([("Observation".to_string(), 2), ("Patient".to_string(), 1)]),
            wrapped: 1,
            profile_missing: None,
            not_exported: (1..=12)
                .map(|record_id| NotExported {
                    record_id,
                    version: 2,
                    error: "no key".into(),
                })
                .collect(),
            bytes: 2048,
            seconds: 0.5,
        };
        assert_eq!(
            exported.human(),
            "wrote out.json (2048 bytes, 0.5 s): the FHIR Bundle of patient 4: 2 Observation, 1 Patient\n\
             1 record version(s) are not R4 resources: wrapped byte for byte in a DocumentReference\n\
             not exported (12 version(s) you cannot decrypt):\n  record 1 version 2: no key\n  record 2 version 2: no key\n  record 3 version 2: no key\n  record 4 version 2: no key\n  record 5 version 2: no key\n  record 6 version 2: no key\n  record 7 version 2: no key\n  record 8 version 2: no key\n  record 9 version 2: no key\n  record 10 version 2: no key\n  and 2 more (--json lists them all)"
        );
        assert_eq!(
            serde_json::to_value(&exported).unwrap()["not_exported"][11]["record_id"],
            12
        );
    }
}
