//! `ehr import`: data from other systems, encrypted into records.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ehr_client::AddedRecord;
use ehr_types::PatientId;
use serde::Serialize;

use crate::args::read_file;
use crate::context::{patient_id, Cx};
use crate::output::{output, Output, Render};

#[derive(Subcommand)]
pub enum ImportCmd {
    /// A FHIR R4 Bundle: one encrypted record per resource, category from resourceType.
    Fhir {
        bundle: PathBuf,
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
    records: Vec<AddedRecord>,
    /// Resources that are not records, by resourceType.
    skipped: BTreeMap<String, usize>,
    txs: usize,
    gas_used: u64,
}

impl Render for FhirImported {
    fn human(&self) -> String {
        let mut out = format!(
            "imported {} FHIR resources as records of patient {} in {} txs",
            self.records.len(),
            self.patient_id,
            self.txs
        );
        for (resource_type, count) in &self.skipped {
            out.push_str(&format!("\nskipped {count} {resource_type} resource(s) (not a record; patient data goes in the profile)"));
        }
        out
    }
}

pub async fn run(cx: &mut Cx, cmd: ImportCmd) -> Result<Output> {
    match cmd {
        ImportCmd::Fhir {
            bundle,
            patient,
            batch,
        } => {
            let text = read_file(&bundle)?;
            let (resources, skipped) = crate::fhir::records_of_bundle(&text)?;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let bar = cx.progress(resources.len() as u64, "importing");
            let (records, report) = ehr
                .add_records(patient, resources, batch, |n| bar.inc(n as u64))
                .await?;
            bar.finish_and_clear();
            output(FhirImported {
                patient_id: patient,
                records,
                skipped,
                txs: report.txs,
                gas_used: report.gas_used,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_resources_are_counted_by_type() {
        let imported = FhirImported {
            patient_id: 1,
            records: vec![],
            skipped: BTreeMap::from([("Patient".to_string(), 1)]),
            txs: 3,
            gas_used: 900_000,
        };
        assert_eq!(
            imported.human(),
            "imported 0 FHIR resources as records of patient 1 in 3 txs\nskipped 1 Patient resource(s) (not a record; patient data goes in the profile)"
        );
        assert_eq!(
            serde_json::to_value(&imported).unwrap(),
            serde_json::json!({"patient_id": 1, "records": [], "skipped": {"Patient": 1}, "txs": 3, "gas_used": 900000})
        );
    }
}
