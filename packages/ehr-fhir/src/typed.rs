//! Does the typed R4 model read a resource completely? Import reports what it would lose, export
//! writes a record as it is only when nothing is lost (docs/fhir.md); both ask [`read_typed`].

use std::str::FromStr;

use fhir_model::r4b::resources;
use fhir_model::{DateTime, Time};
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the typed model made of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedRead {
    /// Every member survived deserializing into the model and serializing back.
    Typed,
    /// The model read it but lost these members (JSON paths such as `component[0].foo`): members
    /// R4 does not define, or values it gives back differently.
    Lossy { dropped: Vec<String> },
    /// The model refused it: its first error (e.g. "missing field `intent`").
    Invalid(String),
    /// A resourceType outside [`TYPED_RESOURCE_TYPES`].
    Untyped,
}

/// Reads `resource` with the typed model of its `resourceType`.
pub fn read_typed(resource: &Value) -> TypedRead {
    let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
        return TypedRead::Invalid("not a JSON object with a string resourceType".to_string());
    };
    match round_trip(resource_type, resource) {
        None => TypedRead::Untyped,
        Some(Err(error)) => TypedRead::Invalid(error.to_string()),
        Some(Ok(back)) => {
            let mut dropped = Vec::new();
            lost_paths(resource, &back, &mut String::new(), &mut dropped);
            if dropped.is_empty() {
                TypedRead::Typed
            } else {
                TypedRead::Lossy { dropped }
            }
        }
    }
}

/// The resource types with a typed reading, and the dispatch on the `resourceType` string.
///
/// The list is bounded: these are the types health-data generators and EHR exports emit, each
/// compiled as its own top-level reader rather than through fhir-model's `Resource` enum; any
/// other type is imported as it is and counted as untyped. It does not keep the other R4B types
/// out of the build: `contained` is a `Vec<Resource>`, so the enum's serde code for all ~140 is
/// compiled anyway (the release CLI grew from 6.7 to 23 MB, ~5 more CPU-minutes to build).
macro_rules! typed_resources {
    ($($name:ident),* $(,)?) => {
        /// The resource types [`read_typed`] checks against the model.
        pub const TYPED_RESOURCE_TYPES: &[&str] = &[$(stringify!($name)),*];

        fn round_trip(resource_type: &str, resource: &Value) -> Option<Result<Value, serde_json::Error>> {
            match resource_type {
                $(stringify!($name) => Some(round_trip_as::<resources::$name>(resource)),)*
                _ => None,
            }
        }
    };
}

typed_resources!(
    Observation,
    DiagnosticReport,
    Condition,
    Procedure,
    MedicationRequest,
    MedicationStatement,
    MedicationAdministration,
    MedicationDispense,
    Medication,
    AllergyIntolerance,
    Immunization,
    Encounter,
    DocumentReference,
    ImagingStudy,
    CarePlan,
    CareTeam,
    Goal,
    ServiceRequest,
    Specimen,
    Patient,
    Practitioner,
    Organization,
    Consent,
    AuditEvent,
    Provenance,
);

fn round_trip_as<T: DeserializeOwned + Serialize>(
    resource: &Value,
) -> Result<Value, serde_json::Error> {
    let typed = T::deserialize(resource)?;
    serde_json::to_value(&typed)
}

/// Appends to `lost` the path of every member of `original` that `back` does not have, or has
/// with another value.
fn lost_paths(original: &Value, back: &Value, path: &mut String, lost: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(original), Value::Object(back)) => lost_members(original, back, path, lost),
        (Value::Array(original), Value::Array(back)) => {
            for (index, item) in original.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                match back.get(index) {
                    Some(item_back) => lost_paths(item, item_back, path, lost),
                    None => lost.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (original, back) if same_value(original, back) => {}
        _ => lost.push(path.clone()),
    }
}

fn lost_members(
    original: &Map<String, Value>,
    back: &Map<String, Value>,
    path: &mut String,
    lost: &mut Vec<String>,
) {
    for (key, value) in original {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        match back.get(key) {
            Some(value_back) => lost_paths(value, value_back, path, lost),
            None => lost.push(path.clone()),
        }
        path.truncate(len);
    }
}

/// Scalars: numbers by value (138 and 138.0 are the same decimal), date-times by the time they
/// name (the model writes `+00:00` as `Z` and drops a zero fraction).
fn same_value(original: &Value, back: &Value) -> bool {
    match (original, back) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::String(a), Value::String(b)) => a == b || same_time(a, b),
        _ => original == back,
    }
}

fn same_time(a: &str, b: &str) -> bool {
    if let (Ok(a), Ok(b)) = (DateTime::from_str(a), DateTime::from_str(b)) {
        return a == b;
    }
    let time = |text: &str| Time::deserialize(StrDeserializer::<de::value::Error>::new(text)).ok();
    matches!((time(a), time(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_complete_observation_is_typed() {
        let observation = json!({
            "resourceType": "Observation",
            "id": "bp",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "effectiveDateTime": "2026-12-06T07:12:03.000+00:00",
            "component": [
                {"code": {"text": "systolic"}, "valueQuantity": {"value": 138.0, "unit": "mm[Hg]"}},
                {"code": {"text": "diastolic"}, "valueQuantity": {"value": 88, "unit": "mm[Hg]"}}
            ],
            "_status": {"extension": [{"url": "http://example.org/x", "valueBoolean": true}]}
        });
        assert_eq!(read_typed(&observation), TypedRead::Typed);
    }

    #[test]
    fn members_r4_does_not_define_are_named() {
        let observation = json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "glucose"},
            "bloodGroup": "A+",
            "component": [{"code": {"text": "a"}}, {"code": {"text": "b", "colour": "red"}}]
        });
        assert_eq!(
            read_typed(&observation),
            TypedRead::Lossy {
                dropped: vec![
                    "bloodGroup".to_string(),
                    "component[1].code.colour".to_string()
                ]
            }
        );
    }

    #[test]
    fn a_changed_value_is_lost() {
        // An empty array is not FHIR: the model does not write it back.
        let condition =
            json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "note": []});
        assert_eq!(
            read_typed(&condition),
            TypedRead::Lossy {
                dropped: vec!["note".to_string()]
            }
        );
    }

    #[test]
    fn a_missing_required_element_is_invalid() {
        let request = json!({
            "resourceType": "MedicationRequest",
            "status": "active",
            "subject": {"reference": "Patient/1"},
            "medicationCodeableConcept": {"text": "metformin"}
        });
        let TypedRead::Invalid(error) = read_typed(&request) else {
            panic!("a MedicationRequest without intent was read");
        };
        assert!(error.contains("intent"), "{error}");
        let unknown_code = json!({"resourceType": "Observation", "status": "done", "code": {}});
        assert!(matches!(read_typed(&unknown_code), TypedRead::Invalid(_)));
    }

    #[test]
    fn other_types_are_untyped_and_non_resources_invalid() {
        assert_eq!(
            read_typed(&json!({"resourceType": "Claim"})),
            TypedRead::Untyped
        );
        assert!(matches!(read_typed(&json!([1])), TypedRead::Invalid(_)));
        assert!(matches!(
            read_typed(&json!({"resourceType": 3})),
            TypedRead::Invalid(_)
        ));
    }

    #[test]
    fn numbers_compare_by_value_and_times_by_instant() {
        assert!(same_value(&json!(138), &json!(138.0)));
        assert!(!same_value(&json!(138), &json!(138.5)));
        assert!(same_value(
            &json!("2026-12-06T07:12:03.000+00:00"),
            &json!("2026-12-06T07:12:03Z")
        ));
        assert!(!same_value(
            &json!("2026-12-06T07:12:03Z"),
            &json!("2026-12-06T07:12:04Z")
        ));
        assert!(same_value(&json!("10:00:00.000"), &json!("10:00:00")));
        assert!(!same_value(&json!("final"), &json!("Final")));
    }

    #[test]
    fn every_listed_type_dispatches_to_its_model() {
        for resource_type in TYPED_RESOURCE_TYPES {
            let read = read_typed(&json!({"resourceType": resource_type}));
            assert_ne!(read, TypedRead::Untyped, "{resource_type}");
        }
    }
}
