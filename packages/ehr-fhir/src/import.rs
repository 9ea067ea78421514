//! FHIR input to records (docs/fhir.md, Import): Bundles, NDJSON files and directories of them
//! are read into resources, each kept as the exact bytes it had in the input, with its category
//! and a report of what was not imported and why.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ehr_types::Category;
use fhir_model::Base64Binary;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::category::category_of;
use crate::typed::{read_typed, TypedRead};

/// The tag system of an ehr-chain wrapped record (the export's DocumentReference).
const WRAPPED_RECORD_SYSTEM: &str = "https://ehr-chain.example/fhir/CodeSystem/wrapped-record";

/// The Bundle types import reads; a document or message Bundle is not a set of records.
pub const BUNDLE_TYPES: [&str; 4] = ["transaction", "batch", "collection", "searchset"];

/// One record to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRecord {
    pub resource_type: String,
    pub category: Category,
    /// The resource as it was in the input, byte for byte (an unwrapped record: its original bytes).
    pub bytes: Vec<u8>,
}

/// Resources of one type that import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub count: usize,
    pub reason: &'static str,
}

/// Resources of one type that were imported as they are although the typed model did not read
/// them completely; `example` is what it said about the first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flagged {
    pub count: usize,
    pub example: String,
}

/// What import did with each resource it read, by resourceType.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Resources read, imported or not.
    pub resources: usize,
    /// Not imported.
    pub skipped: BTreeMap<String, Skipped>,
    /// Imported; the typed model read them completely.
    pub typed: usize,
    /// Imported; members R4 does not define (their JSON paths in `example`).
    pub lossy: BTreeMap<String, Flagged>,
    /// Imported; a type the typed model does not cover.
    pub untyped: BTreeMap<String, usize>,
    /// Imported; the typed model refused them (its first error in `example`).
    pub invalid: BTreeMap<String, Flagged>,
    /// ehr-chain wrapped records, imported as their original bytes.
    pub unwrapped: usize,
}

/// The records read so far and the report on every resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    pub records: Vec<ImportedRecord>,
    pub report: ImportReport,
}

/// The largest input file read: an import holds one file in memory at a time.
pub const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Why an input cannot be imported. Nothing is imported then: a half-read input is refused whole.
#[derive(Debug)]
pub enum ImportError {
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file larger than [`MAX_INPUT_BYTES`]: split it (NDJSON) or import its parts.
    TooLarge { path: PathBuf, max: u64 },
    /// A Bundle whose type is not one of [`BUNDLE_TYPES`] (`None`: it has no type).
    BundleType {
        source: String,
        bundle_type: Option<String>,
    },
    /// A resource (`at`: a Bundle entry or an NDJSON line) that cannot be read.
    Resource {
        source: String,
        at: String,
        problem: String,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            ImportError::TooLarge { path, max } => write!(
                f,
                "{} is larger than {} MiB: split it into smaller files (NDJSON files of a directory import one at a time)",
                path.display(),
                max / (1024 * 1024)
            ),
            ImportError::BundleType {
                source,
                bundle_type: Some(bundle_type),
            } => write!(
                f,
                "{source}: a Bundle of type {bundle_type} is not imported (only {})",
                BUNDLE_TYPES.join(", ")
            ),
            ImportError::BundleType {
                source,
                bundle_type: None,
            } => {
                write!(f, "{source}: the Bundle has no type")
            }
            ImportError::Resource {
                source,
                at,
                problem,
            } => write!(f, "{source}, {at}: {problem}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// Why a resource of this type is not a record (docs/fhir.md, Import); `None` for records.
pub fn not_a_record(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "Patient" => {
            "not a record: demographics live in the encrypted profile (`ehr patient update`)"
        }
        "Practitioner" | "PractitionerRole" | "Organization" | "Location" => {
            "not a record: not patient data"
        }
        "Provenance" => "not a record: the new records get their own chain evidence",
        "Consent" => "not a record: grants are made with `ehr grant` (each grant hands out keys)",
        "AuditEvent" => "not a record: the chain writes the audit log",
        _ => return None,
    })
}

const SEARCH_OUTCOME: &str = "not a record: a server's message (search.mode outcome)";
/// The key and reason of a transaction or batch entry that carries no resource (a DELETE or a
/// conditional request): it holds no data to keep, so the rest of the Bundle is still imported.
const NO_RESOURCE: (&str, &str) = (
    "(entry without a resource)",
    "a request without a resource (such as DELETE): no data to keep",
);

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
}

#[derive(Deserialize)]
struct BundleIn<'a> {
    #[serde(rename = "type")]
    bundle_type: Option<String>,
    #[serde(default, borrow)]
    entry: Vec<EntryIn<'a>>,
}

#[derive(Deserialize)]
struct EntryIn<'a> {
    #[serde(default, borrow)]
    resource: Option<&'a RawValue>,
    #[serde(default)]
    search: Option<SearchIn>,
}

#[derive(Deserialize)]
struct SearchIn {
    mode: Option<String>,
}

impl Import {
    /// Reads files and directories (a directory: every `*.ndjson` in it, by name), in order.
    pub fn read_paths(paths: &[PathBuf]) -> Result<Import, ImportError> {
        let mut import = Import::default();
        for path in paths {
            if path.is_dir() {
                for file in ndjson_files(path)? {
                    import.read_file(&file)?;
                }
            } else {
                import.read_file(path)?;
            }
        }
        Ok(import)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ImportError> {
        use std::io::Read as _;
        let read_error = |error| ImportError::Read {
            path: path.to_path_buf(),
            error,
        };
        // Read at most one byte past the limit, whatever the file's size says meanwhile.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(read_error)?
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_INPUT_BYTES {
            return Err(ImportError::TooLarge {
                path: path.to_path_buf(),
                max: MAX_INPUT_BYTES,
            });
        }
        self.read(&path.display().to_string(), &bytes)
    }

    /// Reads one input: a JSON document (a Bundle, or a single resource) or else NDJSON.
    /// `source` names the input in errors.
    pub fn read(&mut self, source: &str, bytes: &[u8]) -> Result<(), ImportError> {
        match serde_json::from_slice::<&RawValue>(bytes) {
            Ok(document) if document.get().starts_with('{') => self.read_document(source, document),
            _ => self.read_ndjson(source, bytes),
        }
    }

    fn read_document(&mut self, source: &str, document: &RawValue) -> Result<(), ImportError> {
        let head: Head = serde_json::from_str(document.get())
            .map_err(|error| resource_error(source, "the document", error))?;
        if head.resource_type.as_deref() != Some("Bundle") {
            return self.add(source, "the document", document);
        }
        let bundle: BundleIn = serde_json::from_str(document.get())
            .map_err(|error| resource_error(source, "the Bundle", error))?;
        if !bundle
            .bundle_type
            .as_deref()
            .is_some_and(|bundle_type| BUNDLE_TYPES.contains(&bundle_type))
        {
            return Err(ImportError::BundleType {
                source: source.to_string(),
                bundle_type: bundle.bundle_type,
            });
        }
        for (index, entry) in bundle.entry.iter().enumerate() {
            let at = format!("entry {index}");
            let Some(resource) = entry.resource else {
                self.report.resources += 1;
                self.skip(NO_RESOURCE.0, NO_RESOURCE.1);
                continue;
            };
            let outcome = entry
                .search
                .as_ref()
                .and_then(|search| search.mode.as_deref())
                == Some("outcome");
            if outcome {
                let head: Head = serde_json::from_str(resource.get())
                    .map_err(|error| resource_error(source, &at, error))?;
                self.report.resources += 1;
                self.skip(
                    head.resource_type.as_deref().unwrap_or("(no resourceType)"),
                    SEARCH_OUTCOME,
                );
            } else {
                self.add(source, &at, resource)?;
            }
        }
        Ok(())
    }

    fn read_ndjson(&mut self, source: &str, bytes: &[u8]) -> Result<(), ImportError> {
        for (index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let at = format!("line {}", index + 1);
            let resource: &RawValue = serde_json::from_slice(line)
                .map_err(|error| resource_error(source, &at, format!("not JSON: {error}")))?;
            if !resource.get().starts_with('{') {
                return Err(resource_error(source, &at, "not a JSON object"));
            }
            self.add(source, &at, resource)?;
        }
        Ok(())
    }

    /// One resource: skipped, unwrapped or imported as it is.
    fn add(&mut self, source: &str, at: &str, raw: &RawValue) -> Result<(), ImportError> {
        let resource: Value =
            serde_json::from_str(raw.get()).map_err(|error| resource_error(source, at, error))?;
        let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
            return Err(resource_error(source, at, "no string resourceType"));
        };
        self.report.resources += 1;
        if let Some(reason) = not_a_record(resource_type) {
            self.skip(resource_type, reason);
            return Ok(());
        }
        if let Some(unwrapped) = unwrap_record(&resource) {
            let (category, bytes) =
                unwrapped.map_err(|problem| resource_error(source, at, problem))?;
            self.report.unwrapped += 1;
            self.records.push(ImportedRecord {
                resource_type: resource_type.to_string(),
                category,
                bytes,
            });
            return Ok(());
        }
        match read_typed(&resource) {
            TypedRead::Typed => self.report.typed += 1,
            TypedRead::Lossy { dropped } => {
                flag(&mut self.report.lossy, resource_type, || dropped.join(", "))
            }
            TypedRead::Invalid(error) => flag(&mut self.report.invalid, resource_type, || error),
            TypedRead::Untyped => {
                *self
                    .report
                    .untyped
                    .entry(resource_type.to_string())
                    .or_default() += 1
            }
        }
        self.records.push(ImportedRecord {
            resource_type: resource_type.to_string(),
            // Every type without a category is refused by `not_a_record` above.
            category: category_of(&resource).unwrap_or(Category::Note),
            bytes: raw.get().as_bytes().to_vec(),
        });
        Ok(())
    }

    fn skip(&mut self, resource_type: &str, reason: &'static str) {
        self.report
            .skipped
            .entry(resource_type.to_string())
            .or_insert(Skipped { count: 0, reason })
            .count += 1;
    }
}

fn flag(
    flagged: &mut BTreeMap<String, Flagged>,
    resource_type: &str,
    example: impl FnOnce() -> String,
) {
    flagged
        .entry(resource_type.to_string())
        .or_insert_with(|| Flagged {
            count: 0,
            example: example(),
        })
        .count += 1;
}

fn resource_error(source: &str, at: &str, problem: impl fmt::Display) -> ImportError {
    ImportError::Resource {
        source: source.to_string(),
        at: at.to_string(),
        problem: problem.to_string(),
    }
}

/// Every `*.ndjson` file directly in `dir`, by name.
fn ndjson_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let read_error = |error| ImportError::Read {
        path: dir.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.is_file()
            && path
                .extension()
                .is_some_and(|extension| extension == "ndjson")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The category and original bytes of an ehr-chain wrapped record; `None` when `resource` is
/// not one.
fn unwrap_record(resource: &Value) -> Option<Result<(Category, Vec<u8>), String>> {
    if resource["resourceType"] != "DocumentReference" {
        return None;
    }
    let tag = resource["meta"]["tag"]
        .as_array()?
        .iter()
        .find(|tag| tag["system"] == WRAPPED_RECORD_SYSTEM)?;
    Some(unwrap_tagged(resource, tag))
}

fn unwrap_tagged(resource: &Value, tag: &Value) -> Result<(Category, Vec<u8>), String> {
    let code = tag["code"].as_str().unwrap_or_default();
    let category = Category::from_name(code)
        .filter(|category| *category != Category::Profile)
        .ok_or_else(|| {
            format!("a wrapped record of category {code:?}, which is not a record category")
        })?;
    let data = &resource["content"][0]["attachment"]["data"];
    let bytes = Base64Binary::deserialize(data)
        .map_err(|error| format!("a wrapped record without its base64 data: {error}"))?;
    Ok((category, bytes.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Import, ImportError> {
        let mut import = Import::default();
        import.read("input", bytes)?;
        Ok(import)
    }

    fn error(bytes: &[u8]) -> String {
        read(bytes).unwrap_err().to_string()
    }

    const OBSERVATION: &str = r#"{"resourceType": "Observation",  "status": "final", "code": {"text": "glucose"}, "valueQuantity": {"value": 5.0}}"#;

    #[test]
    fn bundle_resources_are_kept_byte_for_byte() {
        let bundle = format!(
            r#"{{"resourceType": "Bundle", "type": "transaction", "entry": [
                {{"resource": {{"resourceType": "Patient", "id": "p"}}, "request": {{"method": "POST", "url": "Patient"}}}},
                {{"resource": {OBSERVATION}}},
                {{"resource": {{"resourceType": "DiagnosticReport", "status": "final", "code": {{}},
                    "category": [{{"coding": [{{"code": "RAD"}}]}}]}}}},
                {{"resource": {{"resourceType": "Condition", "subject": {{"reference": "Patient/p"}}, "colour": "red"}}}},
                {{"resource": {{"resourceType": "Claim"}}}},
                {{"resource": {{"resourceType": "MedicationRequest", "status": "active", "subject": {{}}}}}}
            ]}}"#
        );
        let import = read(bundle.as_bytes()).unwrap();
        assert_eq!(import.records[0].bytes, OBSERVATION.as_bytes());
        let kinds: Vec<_> = import
            .records
            .iter()
            .map(|record| (record.resource_type.as_str(), record.category))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("Observation", Category::Lab),
                ("DiagnosticReport", Category::Imaging),
                ("Condition", Category::Note),
                ("Claim", Category::Note),
                ("MedicationRequest", Category::Prescription),
            ]
        );
        let report = &import.report;
        assert_eq!(report.resources, 6);
        assert_eq!(report.typed, 2);
        assert_eq!(report.skipped["Patient"].count, 1);
        assert!(report.skipped["Patient"].reason.contains("profile"));
        assert_eq!(report.lossy["Condition"].example, "colour");
        assert_eq!(report.untyped["Claim"], 1);
        assert!(report.invalid["MedicationRequest"]
            .example
            .contains("intent"));
    }

    #[test]
    fn searchset_outcomes_are_skipped_and_other_bundle_types_refused() {
        let searchset = format!(
            r#"{{"resourceType": "Bundle", "type": "searchset", "entry": [
                {{"resource": {OBSERVATION}, "search": {{"mode": "match"}}}},
                {{"resource": {{"resourceType": "OperationOutcome", "issue": []}}, "search": {{"mode": "outcome"}}}}
            ]}}"#
        );
        let import = read(searchset.as_bytes()).unwrap();
        assert_eq!(import.records.len(), 1);
        assert_eq!(
            import.report.skipped["OperationOutcome"].reason,
            SEARCH_OUTCOME
        );
        assert_eq!(
            error(br#"{"resourceType": "Bundle", "type": "document", "entry": []}"#),
            "input: a Bundle of type document is not imported (only transaction, batch, collection, searchset)"
        );
        assert_eq!(
            error(br#"{"resourceType": "Bundle", "entry": []}"#),
            "input: the Bundle has no type"
        );
        let mut with_delete = Import::default();
        with_delete
            .read(
                "input",
                format!(r#"{{"resourceType": "Bundle", "type": "batch", "entry": [{{"request": {{"method": "DELETE"}}}}, {{"resource": {OBSERVATION}}}]}}"#).as_bytes(),
            )
            .unwrap();
        assert_eq!(with_delete.records.len(), 1);
        assert_eq!(with_delete.report.skipped[NO_RESOURCE.0].count, 1);
    }

    #[test]
    fn ndjson_lines_are_resources() {
        let ndjson = format!("{OBSERVATION}\r\n\n  \r\n{{\"resourceType\":\"Immunization\"}}\n");
        let import = read(ndjson.as_bytes()).unwrap();
        assert_eq!(import.records.len(), 2);
        assert_eq!(import.records[0].bytes, OBSERVATION.as_bytes());
        assert_eq!(
            import.records[1].bytes,
            br#"{"resourceType":"Immunization"}"#
        );
        assert_eq!(import.records[1].category, Category::Immunization);
        assert_eq!(
            error(format!("{OBSERVATION}\n\n[1, 2]\n").as_bytes()),
            "input, line 3: not a JSON object"
        );
        assert!(
            error(format!("{OBSERVATION}\n{{\"resourceType\": \n").as_bytes())
                .starts_with("input, line 2: not JSON: ")
        );
        assert!(error(b"not a bundle").starts_with("input, line 1: not JSON: "));
        assert_eq!(
            error(b"{\"id\": 1}\n{\"id\": 2}\n"),
            "input, line 1: no string resourceType"
        );
    }

    #[test]
    fn the_generated_fixtures_are_read_completely_by_the_typed_model() {
        let mut import = Import::default();
        import
            .read(
                "sample",
                include_bytes!("../../../tests/fhir/fixtures/sample/mixed-14-0000.json"),
            )
            .unwrap();
        for file in [
            "Observation",
            "Condition",
            "DiagnosticReport",
            "MedicationRequest",
        ] {
            let path = format!("../../tests/fhir/fixtures/sample-ndjson/{file}.ndjson");
            let bytes = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path));
            import.read(file, &bytes.unwrap()).unwrap();
        }
        let report = &import.report;
        assert_eq!(
            (&report.lossy, &report.invalid, &report.untyped),
            (&BTreeMap::new(), &BTreeMap::new(), &BTreeMap::new())
        );
        assert_eq!(report.typed, import.records.len());
    }

    #[test]
    fn a_single_resource_document_is_one_record() {
        let import = read(OBSERVATION.as_bytes()).unwrap();
        assert_eq!(import.records.len(), 1);
        assert_eq!(import.records[0].bytes, OBSERVATION.as_bytes());
    }

    #[test]
    fn wrapped_records_are_unwrapped() {
        let wrapped = |code: &str, data: &str| {
            format!(
                r#"{{"resourceType": "DocumentReference", "meta": {{"tag": [{{"system": "{WRAPPED_RECORD_SYSTEM}", "code": "{code}"}}]}},
                  "status": "current", "content": [{{"attachment": {{"contentType": "application/octet-stream", "data": "{data}"}}}}]}}"#
            )
        };
        // "%PDF-1" in base64.
        let import = read(wrapped("document", "JVBERi0x").as_bytes()).unwrap();
        assert_eq!(
            import.records,
            vec![ImportedRecord {
                resource_type: "DocumentReference".to_string(),
                category: Category::Document,
                bytes: b"%PDF-1".to_vec(),
            }]
        );
        assert_eq!(import.report.unwrapped, 1);
        assert!(error(wrapped("profile", "JVBERi0x").as_bytes()).contains("not a record category"));
        assert!(error(wrapped("lab", "not base64!").as_bytes()).contains("base64"));
    }

    #[test]
    fn a_directory_is_its_ndjson_files_by_name() {
        let dir = std::env::temp_dir().join(format!("ehr-fhir-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.ndjson"), "{\"resourceType\": \"Encounter\"}\n").unwrap();
        std::fs::write(
            dir.join("a.ndjson"),
            "{\"resourceType\": \"Immunization\"}\n",
        )
        .unwrap();
        std::fs::write(dir.join("c.json"), "{\"resourceType\": \"Goal\"}\n").unwrap();
        let import = Import::read_paths(std::slice::from_ref(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        let types: Vec<_> = import
            .unwrap()
            .records
            .into_iter()
            .map(|record| record.resource_type)
            .collect();
        assert_eq!(types, ["Immunization", "Encounter"]);
        assert!(matches!(
            Import::read_paths(&[PathBuf::from("/nonexistent/bundle.json")]),
            Err(ImportError::Read { .. })
        ));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_without_being_read_whole() {
        let path =
            std::env::temp_dir().join(format!("ehr-fhir-large-{}.ndjson", std::process::id()));
        // Sparse: takes no disk space.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(MAX_INPUT_BYTES + 1)
            .unwrap();
        let refused = Import::read_paths(std::slice::from_ref(&path));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            refused,
            Err(ImportError::TooLarge {
                max: MAX_INPUT_BYTES,
                ..
            })
        ));
    }

    proptest::proptest! {
        /// Import keeps every record byte for byte and in input order, from NDJSON (any mix of
        /// LF, CRLF and blank lines) and from a collection Bundle alike: decimals as written
        /// (`1.50`), members in their order, members R4 does not define.
        #[test]
        fn records_are_the_input_bytes_in_order(
            resources in proptest::collection::vec(
                (0usize..4, "[a-z ]{0,12}", 0u32..1000, 0u32..100, proptest::bool::ANY),
                1..30,
            ),
            line_ends in proptest::collection::vec(0usize..3, 30),
        ) {
            const TYPES: [&str; 4] = ["Observation", "Condition", "Immunization", "Basic"];
            let lines: Vec<String> = resources
                .iter()
                .map(|(t, text, whole, cents, extra)| {
                    format!(
                        r#"{{"resourceType":"{}","note":[{{"text":"{text}"}}],"valueQuantity":{{"value":{whole}.{cents:02}0}}{}}}"#,
                        TYPES[*t],
                        if *extra { r#","zz_local":{"kept":true}"# } else { "" }
                    )
                })
                .collect();
            let mut ndjson = String::new();
            for (line, end) in lines.iter().zip(&line_ends) {
                ndjson.push_str(line);
                ndjson.push_str(["\n", "\r\n", "\n\n  \r\n"][*end]);
            }
            let bundle = format!(
                r#"{{"resourceType":"Bundle","type":"collection","entry":[{}]}}"#,
                lines.iter().map(|l| format!(r#"{{"resource":{l}}}"#)).collect::<Vec<_>>().join(",")
            );
            for input in [ndjson, bundle] {
                let mut import = Import::default();
                import.read("input", input.as_bytes()).unwrap();
                let bytes: Vec<&[u8]> = import.records.iter().map(|r| r.bytes.as_slice()).collect();
                let want: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
                proptest::prop_assert_eq!(bytes, want);
            }
        }
    }
}
