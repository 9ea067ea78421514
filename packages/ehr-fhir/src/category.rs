//! Which record category a FHIR resource is filed under (grants are scoped by category).

use ehr_types::Category;
use serde_json::Value;

/// The record category of a resource; `None` for resources that are not clinical records
/// (Patient is demographics: it belongs in the encrypted profile; the others are not patient data).
pub fn category_of(resource: &Value) -> Option<Category> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resource_types_map_to_categories() {
        let cases = [
            (json!({"resourceType": "Observation"}), Some(Category::Lab)),
            (
                json!({"resourceType": "DiagnosticReport", "category": [{"coding": [{"code": "RAD"}]}]}),
                Some(Category::Imaging),
            ),
            (
                json!({"resourceType": "DiagnosticReport", "category": [{"coding": [{"code": "LAB"}]}]}),
                Some(Category::Lab),
            ),
            (
                json!({"resourceType": "MedicationDispense"}),
                Some(Category::Prescription),
            ),
            (
                json!({"resourceType": "AllergyIntolerance"}),
                Some(Category::Allergy),
            ),
            (
                json!({"resourceType": "Immunization"}),
                Some(Category::Immunization),
            ),
            (
                json!({"resourceType": "Encounter"}),
                Some(Category::Encounter),
            ),
            (
                json!({"resourceType": "DocumentReference"}),
                Some(Category::Document),
            ),
            (json!({"resourceType": "Condition"}), Some(Category::Note)),
            (json!({"resourceType": "Patient"}), None),
            (json!({"resourceType": "Location"}), None),
            (json!({"id": "no type"}), None),
        ];
        for (resource, category) in cases {
            assert_eq!(category_of(&resource), category, "{resource}");
        }
    }
}
