//! `ehr import`: data from other systems, encrypted into records.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Subcommand;
use ehr_client::AddedRecord;
use ehr_fhir::import::{Flagged, Import, ImportReport};
use ehr_types::PatientId;
use serde::Serialize;

use crate::context::{patient_id, Cx};
use crate::output::{output, Output, Render};

#[derive(Subcommand)]
pub enum ImportCmd {
    /// FHIR R4: Bundles (transaction, batch, collection, searchset), NDJSON files, directories of
    /// *.ndjson. One encrypted record per resource, kept byte for byte, category by resourceType.
    Fhir {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, default_value_t = 100)]
        batch: usize,
    },
}

/// `import fhir`.
#[derive(Serialize)]
struct FhirImported {
    patient_id: PatientId,
    /// Records added, by category name.
    added: BTreeMap<&'static str, usize>,
    records: Vec<AddedRecord>,
    /// What happened to every resource read (skipped with reasons, untyped, invalid, ...).
    #[serde(flatten)]
    report: ImportReport,
    txs: usize,
    gas_used: u64,
    /// End to end: reading, sealing, storing, registering.
    seconds: f64,
    resources_per_second: f64,
}

impl Render for FhirImported {
    fn human(&self) -> String {
        let mut out = format!(
            "imported {} FHIR resources as records of patient {} in {} txs ({:.1} s, {:.0} resources/s)",
            self.records.len(),
            self.patient_id,
            self.txs,
            self.seconds,
            self.resources_per_second
        );
        let added: Vec<String> = self
            .added
            .iter()
            .map(|(category, count)| format!("{category} {count}"))
            .collect();
        if !added.is_empty() {
            let _ = write!(out, ": {}", added.join(", "));
        }
        for (resource_type, skipped) in &self.report.skipped {
            let _ = write!(
                out,
                "\nskipped {} {resource_type}: {}",
                skipped.count, skipped.reason
            );
        }
        if self.report.unwrapped > 0 {
            let _ = write!(
                out,
                "\nunwrapped {} ehr-chain wrapped record(s) to their original bytes",
                self.report.unwrapped
            );
        }
        if !self.report.untyped.is_empty() {
            let untyped: Vec<String> = self
                .report
                .untyped
                .iter()
                .map(|(resource_type, count)| format!("{resource_type} {count}"))
                .collect();
            let _ = write!(
                out,
                "\nimported as they are, a type the R4 model does not cover: {}",
                untyped.join(", ")
            );
        }
        flagged_lines(
            &mut out,
            "imported as they are, refused by the R4 model",
            &self.report.invalid,
        );
        flagged_lines(
            &mut out,
            "imported as they are, with members R4 does not define",
            &self.report.lossy,
        );
        out
    }
}

fn flagged_lines(out: &mut String, what: &str, flagged: &BTreeMap<String, Flagged>) {
    for (resource_type, flagged) in flagged {
        let _ = write!(
            out,
            "\n{what}: {} {resource_type} (first: {})",
            flagged.count, flagged.example
        );
    }
}

pub async fn run(cx: &mut Cx, cmd: ImportCmd) -> Result<Output> {
    match cmd {
        ImportCmd::Fhir {
            files,
            patient,
            batch,
        } => {
            let started = Instant::now();
            let Import { records, report } = Import::read_paths(&files)?;
            if records.is_empty() {
                bail!(
                    "nothing to import: none of the {} resources read is a record ({})",
                    report.resources,
                    report
                        .skipped
                        .iter()
                        .map(|(resource_type, skipped)| format!(
                            "{} {resource_type}",
                            skipped.count
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let mut added = BTreeMap::new();
            for record in &records {
                *added.entry(record.category.name()).or_default() += 1;
            }
            let items: Vec<_> = records
                .into_iter()
                .map(|record| (record.category, record.bytes))
                .collect();
            let total = items.len() as u64;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let bar = cx.progress(total, "sealing");
            let (records, tx_report) = ehr
                .add_records_with(
                    patient,
                    items,
                    batch,
                    |n| {
                        bar.inc(n as u64);
                        if bar.position() == total {
                            bar.reset();
                            bar.set_message("registering");
                        }
                    },
                    |n| bar.inc(n as u64),
                )
                .await?;
            bar.finish_and_clear();
            let seconds = started.elapsed().as_secs_f64();
            output(FhirImported {
                patient_id: patient,
                added,
                records,
                resources_per_second: report.resources as f64 / seconds.max(f64::EPSILON),
                report,
                txs: tx_report.txs,
                gas_used: tx_report.gas_used,
                seconds,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use ehr_fhir::import::Skipped;

    use super::*;

    #[test]
    fn the_report_names_what_was_not_imported_and_why() {
        let mut import = Import::default();
        import
            .read(
                "bundle.json",
                br#"{"resourceType": "Bundle", "type": "collection", "entry": [
                    {"resource": {"resourceType": "Patient"}},
                    {"resource": {"resourceType": "Observation", "status": "final", "code": {}}},
                    {"resource": {"resourceType": "Claim"}},
                    {"resource": {"resourceType": "Condition", "subject": {}, "colour": "red"}},
                    {"resource": {"resourceType": "MedicationRequest", "status": "active", "subject": {}}}
                ]}"#,
            )
            .unwrap();
        let imported = FhirImported {
            patient_id: 1,
            added: BTreeMap::from([("lab", 1), ("note", 2), ("prescription", 1)]),
            records: vec![],
            report: import.report,
            txs: 3,
            gas_used: 900_000,
            seconds: 2.0,
            resources_per_second: 2.5,
        };
        assert_eq!(
            imported.human(),
            "imported 0 FHIR resources as records of patient 1 in 3 txs (2.0 s, 2 resources/s): lab 1, note 2, prescription 1\n\
             skipped 1 Patient: not a record: demographics live in the encrypted profile (`ehr patient update`)\n\
             imported as they are, a type the R4 model does not cover: Claim 1\n\
             imported as they are, refused by the R4 model: 1 MedicationRequest (first: missing field `intent`)\n\
             imported as they are, with members R4 does not define: 1 Condition (first: colour)"
        );
        let json = serde_json::to_value(&imported).unwrap();
        assert_eq!(
            json["skipped"]["Patient"],
            serde_json::to_value(Skipped {
                count: 1,
                reason: "not a record: demographics live in the encrypted profile (`ehr patient update`)"
            })
            .unwrap()
        );
        assert_eq!(
            json["added"],
            serde_json::json!({"lab": 1, "note": 2, "prescription": 1})
        );
        assert_eq!(json["untyped"], serde_json::json!({"Claim": 1}));
        assert_eq!(json["invalid"]["MedicationRequest"]["count"], 1);
        assert_eq!(
            (
                json["resources"].clone(),
                json["typed"].clone(),
                json["txs"].clone()
            ),
            (5.into(), 1.into(), 3.into())
        );
    }
}
