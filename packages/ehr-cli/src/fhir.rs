//! FHIR R4 Bundle → record plaintexts. Each entry's resource becomes one record (its JSON, as
//! given); the category comes from the resourceType.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use ehr_types::Category;

/// The record category of a resource type; `None` for resources that are not clinical records
/// (the Patient resource is demographics: it belongs in the encrypted profile).
pub fn category_of(resource: &serde_json::Value) -> Option<Category> {
    let resource_type = resource["resourceType"].as_str()?;
    Some(match resource_type {
        "Observation" | "Specimen" => Category::Lab,
        "DiagnosticReport" => {
            // Radiology reports (v2-0074 "RAD") are imaging; other reports are lab results.
            let radiology = resource["category"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["coding"].as_array().into_iter().flatten())
                .any(|coding| coding["code"].as_str() == Some("RAD"));
            if radiology {
                Category::Imaging
            } else {
                Category::Lab
            }
        }
        "ImagingStudy" | "Media" => Category::Imaging,
        "MedicationRequest"
        | "MedicationStatement"
        | "MedicationAdministration"
        | "MedicationDispense"
        | "Medication" => Category::Prescription,
        "AllergyIntolerance" => Category::Allergy,
        "Immunization" => Category::Immunization,
        "Encounter" => Category::Encounter,
        "DocumentReference" | "Composition" | "Binary" => Category::Document,
        "Patient" | "Practitioner" | "Organization" | "PractitionerRole" | "Location" => {
            return None
        }
        _ => Category::Note,
    })
}

/// One record to create: its category and the resource's JSON.
pub type ResourceRecord = (Category, Vec<u8>);

/// The records of a bundle, and the count of skipped resources by type.
pub fn records_of_bundle(bytes: &[u8]) -> Result<(Vec<ResourceRecord>, BTreeMap<String, usize>)> {
    let bundle: serde_json::Value =
        serde_json::from_slice(bytes).context("the bundle is not JSON")?;
    if bundle["resourceType"].as_str() != Some("Bundle") {
        bail!(
            "not a FHIR Bundle (resourceType is {})",
            bundle["resourceType"]
        );
    }
    let entries = bundle["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut records = Vec::new();
    let mut skipped = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let resource = &entry["resource"];
        let Some(resource_type) = resource["resourceType"].as_str() else {
            bail!("bundle entry {index} has no resource with a resourceType");
        };
        match category_of(resource) {
            Some(category) => records.push((category, serde_json::to_vec(resource)?)),
            None => *skipped.entry(resource_type.to_string()).or_insert(0) += 1,
        }
    }
    if records.is_empty() {
        bail!("the bundle has no clinical resources to import");
    }
    Ok((records, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_entries_map_to_categories() {
        let bundle = serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Observation", "id": "o"}},
            {"resource": {"resourceType": "DiagnosticReport", "category": [{"coding": [{"code": "RAD"}]}]}},
            {"resource": {"resourceType": "AllergyIntolerance"}},
            {"resource": {"resourceType": "Condition"}}
        ]});
        let (records, skipped) = records_of_bundle(&serde_json::to_vec(&bundle).unwrap()).unwrap();
        let categories: Vec<_> = records.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            categories,
            vec![
                Category::Lab,
                Category::Imaging,
                Category::Allergy,
                Category::Note
            ]
        );
        assert_eq!(skipped.get("Patient"), Some(&1));
    }

    #[test]
    fn bad_bundles_are_refused() {
        assert!(records_of_bundle(b"not json").is_err());
        assert!(records_of_bundle(br#"{"resourceType": "Patient"}"#).is_err());
        assert!(
            records_of_bundle(br#"{"resourceType": "Bundle", "entry": [{"resource": {}}]}"#)
                .is_err()
        );
        assert!(records_of_bundle(br#"{"resourceType": "Bundle", "entry": []}"#).is_err());
    }
}
