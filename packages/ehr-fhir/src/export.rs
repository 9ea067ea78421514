//! The export Bundle of docs/fhir.md, from chain facts the caller has gathered and decrypted:
//! Patient, the records (kept byte for byte, or wrapped), Consent per grant, AuditEvent per audit
//! entry and Provenance per record version. Pure: the same facts give the same bytes, which the
//! browser's exporter reproduces (vectors/export.json).

use std::collections::BTreeMap;

use cosmwasm_std::Timestamp;
use ehr_types::access::{GrantInfo, Scope};
use ehr_types::audit::AuditEntry;
use ehr_types::{Category, PatientId, RecordId};
use fhir_model::r4b::codes::{
    AuditEventAction, AuditEventOutcome, ConsentState, DocumentReferenceStatus,
    ProvenanceEntityRole,
};
use fhir_model::r4b::resources::{
    AuditEvent, AuditEventAgent, AuditEventEntity, AuditEventSource, Consent, ConsentProvision,
    ConsentProvisionActor, DocumentReference, DocumentReferenceContent, Patient, Provenance,
    ProvenanceAgent, ProvenanceEntity,
};
use fhir_model::r4b::types::{
    Attachment, CodeableConcept, Coding, Extension, ExtensionValue, Identifier, Meta, Period,
    Reference,
};
use fhir_model::time::OffsetDateTime;
use fhir_model::{Base64Binary, BuilderError, DateTime, Instant};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::ids::full_url;
use crate::typed::{read_typed, TypedRead};

/// Extension URLs (docs/fhir.md `EXT`).
pub const EXT: &str = "https://ehr-chain.example/fhir/StructureDefinition/";
/// Code system URLs (docs/fhir.md `CS`).
pub const CS: &str = "https://ehr-chain.example/fhir/CodeSystem/";
/// Identifier system of a chain account (bech32 value).
pub const ADDR: &str = "urn:ehr-chain:address";

/// Everything an export says, as the chain and the caller's keys gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportInput {
    pub chain_id: String,
    pub registry: String,
    pub exported_at: Timestamp,
    pub patient: PatientFacts,
    /// Versions of records that are not deleted; exported by record id, then version.
    pub records: Vec<RecordFacts>,
    /// In the order of `grants_by_patient`.
    pub grants: Vec<GrantInfo>,
    pub audit: Vec<AuditEntry>,
    /// Directory names by address; an address without one gets no `display`.
    pub names: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientFacts {
    pub id: PatientId,
    /// The decrypted profile; `None` when there is none or the caller cannot decrypt it.
    #[serde(with = "base64_opt")]
    pub profile: Option<Vec<u8>>,
}

/// One record version with its chain evidence and its plaintext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFacts {
    pub record_id: RecordId,
    pub category: Category,
    pub version: u32,
    pub epoch: u32,
    pub sha256: String,
    pub uri: String,
    pub size: u64,
    pub author: String,
    pub time: Timestamp,
    #[serde(with = "base64_bytes")]
    pub plaintext: Vec<u8>,
}

/// The Bundle and what it holds.
#[derive(Debug, Clone)]
pub struct Export {
    pub bundle: Vec<u8>,
    /// Entries per resourceType (records counted under their own type, wrapped ones under
    /// DocumentReference).
    pub counts: BTreeMap<String, usize>,
    /// (record id, version) of every record written wrapped.
    pub wrapped: Vec<(RecordId, u32)>,
}

#[derive(Debug)]
pub enum ExportError {
    /// A chain time FHIR cannot write (beyond year 9999).
    Time(u64),
    Build {
        resource: &'static str,
        error: BuilderError,
    },
    Json {
        resource: &'static str,
        error: serde_json::Error,
    },
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Time(nanos) => {
                write!(f, "time {nanos} ns is outside what FHIR can write")
            }
            ExportError::Build { resource, error } => write!(f, "building {resource}: {error}"),
            ExportError::Json { resource, error } => write!(f, "encoding {resource}: {error}"),
        }
    }
}

impl std::error::Error for ExportError {}

/// Writes the Bundle of docs/fhir.md for `input`.
pub fn export_bundle(input: &ExportInput) -> Result<Export, ExportError> {
    let ids = Ids {
        chain_id: &input.chain_id,
        registry: &input.registry,
        patient: full_url(
            &input.chain_id,
            &input.registry,
            &format!("patient/{}", input.patient.id),
        ),
    };
    let mut out = Out::default();
    out.push("Patient", ids.patient.clone(), &patient(input, &ids)?)?;

    let mut records: Vec<&RecordFacts> = input.records.iter().collect();
    records.sort_by_key(|r| (r.record_id, r.version));
    for record in &records {
        let url = ids.record(record);
        match kept(&record.plaintext) {
            Some((resource_type, raw)) => out.push_raw(resource_type, url, raw),
            None => {
                out.wrapped.push((record.record_id, record.version));
                out.push("DocumentReference", url, &wrapped(record)?)?;
            }
        }
    }
    for grant in &input.grants {
        let url = ids.url(&format!("consent/{}/{}", input.patient.id, grant.grantee));
        out.push("Consent", url, &consent(input, &ids, grant)?)?;
    }
    let mut audit: Vec<&AuditEntry> = input.audit.iter().collect();
    audit.sort_by_key(|e| e.seq);
    for entry in audit {
        let url = ids.url(&format!("audit/{}/{}", input.patient.id, entry.seq));
        out.push("AuditEvent", url, &audit_event(input, &ids, entry)?)?;
    }
    for record in &records {
        let url = ids.url(&format!(
            "provenance/{}/{}",
            record.record_id, record.version
        ));
        out.push("Provenance", url, &provenance(input, &ids, record)?)?;
    }

    let bundle = BundleOut {
        resource_type: "Bundle",
        kind: "collection",
        timestamp: instant(input.exported_at)?,
        entry: out.entries,
    };
    let bytes = serde_json::to_vec(&bundle).map_err(|error| ExportError::Json {
        resource: "Bundle",
        error,
    })?;
    Ok(Export {
        bundle: bytes,
        counts: out.counts,
        wrapped: out.wrapped,
    })
}

/// The Bundle around entries that are already JSON text (a kept record must stay byte for byte,
/// which the typed `Bundle` cannot hold).
#[derive(Serialize)]
struct BundleOut {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: Instant,
    entry: Vec<EntryOut>,
}

#[derive(Serialize)]
struct EntryOut {
    #[serde(rename = "fullUrl")]
    full_url: String,
    resource: Box<RawValue>,
}

#[derive(Default)]
struct Out {
    entries: Vec<EntryOut>,
    counts: BTreeMap<String, usize>,
    wrapped: Vec<(RecordId, u32)>,
}

impl Out {
    fn push(
        &mut self,
        resource_type: &'static str,
        full_url: String,
        resource: &impl Serialize,
    ) -> Result<(), ExportError> {
        let raw = serde_json::value::to_raw_value(resource).map_err(|error| ExportError::Json {
            resource: resource_type,
            error,
        })?;
        self.push_raw(resource_type.to_string(), full_url, raw);
        Ok(())
    }

    fn push_raw(&mut self, resource_type: String, full_url: String, resource: Box<RawValue>) {
        *self.counts.entry(resource_type).or_default() += 1;
        self.entries.push(EntryOut { full_url, resource });
    }
}

struct Ids<'a> {
    chain_id: &'a str,
    registry: &'a str,
    patient: String,
}

impl Ids<'_> {
    fn url(&self, key: &str) -> String {
        full_url(self.chain_id, self.registry, key)
    }

    fn record(&self, record: &RecordFacts) -> String {
        self.url(&format!("record/{}/{}", record.record_id, record.version))
    }

    fn record_system(&self) -> String {
        format!("urn:ehr-chain:{}:{}:record", self.chain_id, self.registry)
    }
}

/// The plaintext as it is, when it is a resource the typed model reads completely.
fn kept(plaintext: &[u8]) -> Option<(String, Box<RawValue>)> {
    let value: Value = serde_json::from_slice(plaintext).ok()?;
    if read_typed(&value) != TypedRead::Typed {
        return None;
    }
    let resource_type = value.get("resourceType")?.as_str()?.to_string();
    let text = std::str::from_utf8(plaintext).ok()?;
    let raw = serde_json::from_str::<Box<RawValue>>(text).ok()?;
    Some((resource_type, raw))
}

fn instant(time: Timestamp) -> Result<Instant, ExportError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(time.nanos()))
        .map(Instant)
        .map_err(|_| ExportError::Time(time.nanos()))
}

fn date_time(time: Timestamp) -> Result<DateTime, ExportError> {
    instant(time).map(DateTime::DateTime)
}

fn built<T>(resource: &'static str, result: Result<T, BuilderError>) -> Result<T, ExportError> {
    result.map_err(|error| ExportError::Build { resource, error })
}

fn coding(system: &str, code: &str) -> Result<Coding, ExportError> {
    built(
        "Coding",
        Coding::builder()
            .system(system.to_string())
            .code(code.to_string())
            .build(),
    )
}

fn concept(system: &str, code: &str) -> Result<CodeableConcept, ExportError> {
    built(
        "CodeableConcept",
        CodeableConcept::builder()
            .coding(vec![Some(coding(system, code)?)])
            .build(),
    )
}

fn string_extension(url: &str, value: String) -> Result<Extension, ExportError> {
    built(
        "Extension",
        Extension::builder()
            .url(url.to_string())
            .value(ExtensionValue::String(value))
            .build(),
    )
}

fn nested_extension(url: &str, parts: Vec<Extension>) -> Result<Extension, ExportError> {
    built(
        "Extension",
        Extension::builder()
            .url(url.to_string())
            .extension(parts)
            .build(),
    )
}

fn reference(url: &str) -> Result<Reference, ExportError> {
    built(
        "Reference",
        Reference::builder().reference(url.to_string()).build(),
    )
}

/// A reference to a chain account, with its directory name when it has one.
fn account(input: &ExportInput, address: &str) -> Result<Reference, ExportError> {
    let identifier = identifier(ADDR, address.to_string())?;
    let builder = Reference::builder().identifier(identifier);
    let builder = match input.names.get(address) {
        Some(name) => builder.display(name.clone()),
        None => builder,
    };
    built("Reference", builder.build())
}

fn identifier(system: &str, value: String) -> Result<Identifier, ExportError> {
    built(
        "Identifier",
        Identifier::builder()
            .system(system.to_string())
            .value(value)
            .build(),
    )
}

fn patient(input: &ExportInput, ids: &Ids) -> Result<Patient, ExportError> {
    let mut patient = match &input.patient.profile {
        None => built("Patient", Patient::builder().build())?,
        Some(profile) => match serde_json::from_slice::<Value>(profile) {
            Ok(Value::Object(members))
                if members.get("resourceType") == Some(&Value::from("Patient")) =>
            {
                profile_patient(members)?
            }
            _ => built(
                "Patient",
                Patient::builder()
                    .extension(vec![built(
                        "Extension",
                        Extension::builder()
                            .url(format!("{EXT}profile-document"))
                            .value(ExtensionValue::Base64Binary(Base64Binary(profile.clone())))
                            .build(),
                    )?])
                    .build(),
            )?,
        },
    };
    let ours = identifier(
        &format!("urn:ehr-chain:{}:{}:patient", ids.chain_id, ids.registry),
        input.patient.id.to_string(),
    )?;
    patient.0.identifier.insert(0, Some(ours));
    Ok(patient)
}

/// A profile object as a Patient: members the typed model reads as R4 Patient elements are kept,
/// every other one (and one whose value R4 does not accept, such as a `gender` outside its
/// codes) becomes a `profile-field` extension.
fn profile_patient(members: Map<String, Value>) -> Result<Patient, ExportError> {
    let mut elements = Map::new();
    elements.insert("resourceType".into(), Value::from("Patient"));
    let mut fields = Vec::new();
    for (name, value) in members {
        if name == "resourceType" {
            continue;
        }
        let Some(cleaned) = without_empty(&value) else {
            continue;
        };
        let alone = Value::Object(Map::from_iter([
            ("resourceType".to_string(), Value::from("Patient")),
            (name.clone(), cleaned.clone()),
        ]));
        if read_typed(&alone) == TypedRead::Typed {
            elements.insert(name, cleaned);
            continue;
        }
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        fields.push(nested_extension(
            &format!("{EXT}profile-field"),
            vec![
                string_extension("name", name)?,
                string_extension("value", text)?,
            ],
        )?);
    }
    let mut patient: Patient =
        serde_json::from_value(Value::Object(elements)).map_err(|error| ExportError::Json {
            resource: "Patient",
            error,
        })?;
    patient.0.extension.extend(fields);
    Ok(patient)
}

/// `value` without empty strings, and without the objects and arrays that leaves empty (FHIR
/// forbids empty strings and empty elements); `None` when nothing is left.
fn without_empty(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) if text.is_empty() => None,
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().filter_map(without_empty).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(members) => {
            let members: Map<String, Value> = members
                .iter()
                .filter_map(|(k, v)| without_empty(v).map(|v| (k.clone(), v)))
                .collect();
            (!members.is_empty()).then_some(Value::Object(members))
        }
        other => Some(other.clone()),
    }
}

fn wrapped(record: &RecordFacts) -> Result<DocumentReference, ExportError> {
    let content_type = if serde_json::from_slice::<Value>(&record.plaintext).is_ok() {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let attachment = built(
        "Attachment",
        Attachment::builder()
            .content_type(content_type.to_string())
            .data(Base64Binary(record.plaintext.clone()))
            .build(),
    )?;
    let content = built(
        "DocumentReference.content",
        DocumentReferenceContent::builder()
            .attachment(attachment)
            .build(),
    )?;
    let meta = built(
        "Meta",
        Meta::builder()
            .tag(vec![Some(coding(
                &format!("{CS}wrapped-record"),
                record.category.name(),
            )?)])
            .build(),
    )?;
    built(
        "DocumentReference",
        DocumentReference::builder()
            .meta(meta)
            .status(DocumentReferenceStatus::Current)
            .description(format!(
                "ehr-chain record {} version {}: kept byte for byte (not an R4 resource)",
                record.record_id, record.version
            ))
            .content(vec![Some(content)])
            .build(),
    )
}

fn consent(input: &ExportInput, ids: &Ids, grant: &GrantInfo) -> Result<Consent, ExportError> {
    let active = grant
        .expires
        .is_none_or(|expires| expires > input.exported_at);
    let period = Period::builder().start(date_time(grant.granted_at)?);
    let period = match grant.expires {
        Some(expires) => period.end(date_time(expires)?),
        None => period,
    };
    let actor = built(
        "Consent.provision.actor",
        ConsentProvisionActor::builder()
            .role(concept(
                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "IRCP",
            )?)
            .reference(account(input, grant.grantee.as_str())?)
            .build(),
    )?;
    let actions: &[&str] = match grant.scope {
        Scope::Read => &["access"],
        Scope::Write => &["access", "correct"],
        Scope::Manage => &["access", "correct", "disclose"],
    };
    let actions = actions
        .iter()
        .map(|code| concept("http://terminology.hl7.org/CodeSystem/consentaction", code).map(Some))
        .collect::<Result<Vec<_>, _>>()?;
    let categories = grant
        .categories
        .iter()
        .map(|c| coding(&format!("{CS}category"), c.name()).map(Some))
        .collect::<Result<Vec<_>, _>>()?;
    let provision = built(
        "Consent.provision",
        ConsentProvision::builder()
            .r#type(fhir_model::r4b::codes::ConsentProvisionType::Permit)
            .period(built("Period", period.build())?)
            .actor(vec![Some(actor)])
            .action(actions)
            .security_label(categories.clone())
            .class(categories)
            .build(),
    )?;
    built(
        "Consent",
        Consent::builder()
            .status(if active {
                ConsentState::Active
            } else {
                ConsentState::Inactive
            })
            .scope(concept(
                "http://terminology.hl7.org/CodeSystem/consentscope",
                "patient-privacy",
            )?)
            .category(vec![Some(concept("http://loinc.org", "59284-0")?)])
            .patient(reference(&ids.patient)?)
            .date_time(date_time(grant.granted_at)?)
            .performer(vec![Some(reference(&ids.patient)?)])
            .policy_rule(concept(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "OPTIN",
            )?)
            .provision(provision)
            .build(),
    )
}

/// The action's tag as the chain writes it (`record_added`, ...), and its JSON.
fn action_json(entry: &AuditEntry) -> Result<(String, String), ExportError> {
    let value = serde_json::to_value(&entry.action).map_err(|error| ExportError::Json {
        resource: "AuditEvent",
        error,
    })?;
    let tag = match &value {
        Value::Object(members) => members.keys().next().cloned().unwrap_or_default(),
        Value::String(tag) => tag.clone(),
        _ => String::new(),
    };
    Ok((tag, value.to_string()))
}

/// docs/fhir.md, the AuditEvent `action` table.
fn audit_action(tag: &str) -> AuditEventAction {
    match tag {
        "record_added" | "access_granted" | "access_requested" | "escrow_policy_set"
        | "recovery_requested" => AuditEventAction::C,
        t if t.ends_with("_registered") || t.ends_with("_proposed") => AuditEventAction::C,
        "profile_updated" | "record_updated" | "patient_accepted" | "request_approved"
        | "recovery_approved" | "patient_recovered" => AuditEventAction::U,
        "access_revoked" | "patient_declined" | "request_denied" | "recovery_cancelled" => {
            AuditEventAction::D
        }
        t if t.ends_with("_deleted") => AuditEventAction::D,
        "emergency_access" | "shares_released" => AuditEventAction::R,
        _ => AuditEventAction::E,
    }
}

fn audit_record(action: &ehr_types::audit::AuditAction) -> Option<RecordId> {
    use ehr_types::audit::AuditAction as A;
    match action {
        A::RecordAdded { record_id, .. }
        | A::RecordUpdated { record_id, .. }
        | A::RecordDeleted { record_id } => Some(*record_id),
        _ => None,
    }
}

fn audit_event(
    input: &ExportInput,
    ids: &Ids,
    entry: &AuditEntry,
) -> Result<AuditEvent, ExportError> {
    let (tag, detail) = action_json(entry)?;
    let action = audit_action(&tag);
    let agent = built(
        "AuditEvent.agent",
        AuditEventAgent::builder()
            .who(account(input, entry.actor.as_str())?)
            .requestor(true)
            .build(),
    )?;
    let observer = built(
        "Reference",
        Reference::builder()
            .display(format!("ehr-chain {} access contract", input.chain_id))
            .build(),
    )?;
    let mut entities = vec![Some(built(
        "AuditEvent.entity",
        AuditEventEntity::builder()
            .what(reference(&ids.patient)?)
            .build(),
    )?)];
    if let Some(record_id) = audit_record(&entry.action) {
        let what = built(
            "Reference",
            Reference::builder()
                .identifier(identifier(&ids.record_system(), record_id.to_string())?)
                .build(),
        )?;
        entities.push(Some(built(
            "AuditEvent.entity",
            AuditEventEntity::builder().what(what).build(),
        )?));
    }
    let purpose = if action == AuditEventAction::R {
        vec![Some(concept(
            "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "ETREAT",
        )?)]
    } else {
        vec![]
    };
    built(
        "AuditEvent",
        AuditEvent::builder()
            .extension(vec![string_extension(
                &format!("{EXT}audit-detail"),
                detail,
            )?])
            .r#type(built(
                "Coding",
                Coding::builder()
                    .system("http://dicom.nema.org/resources/ontology/DCM".to_string())
                    .code("110110".to_string())
                    .display("Patient Record".to_string())
                    .build(),
            )?)
            .subtype(vec![Some(coding(&format!("{CS}audit-action"), &tag)?)])
            .action(action)
            .recorded(instant(entry.time)?)
            .outcome(AuditEventOutcome::N0)
            .purpose_of_event(purpose)
            .agent(vec![Some(agent)])
            .source(built(
                "AuditEvent.source",
                AuditEventSource::builder().observer(observer).build(),
            )?)
            .entity(entities)
            .build(),
    )
}

fn provenance(
    input: &ExportInput,
    ids: &Ids,
    record: &RecordFacts,
) -> Result<Provenance, ExportError> {
    let agent = built(
        "Provenance.agent",
        ProvenanceAgent::builder()
            .r#type(concept(
                "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "author",
            )?)
            .who(account(input, &record.author)?)
            .build(),
    )?;
    let source = built(
        "Reference",
        Reference::builder()
            .identifier(identifier(
                &ids.record_system(),
                format!("{}/{}", record.record_id, record.version),
            )?)
            .build(),
    )?;
    let entity = built(
        "Provenance.entity",
        ProvenanceEntity::builder()
            .role(ProvenanceEntityRole::Source)
            .what(source)
            .build(),
    )?;
    let evidence = [
        ("chainId", input.chain_id.clone()),
        ("registry", input.registry.clone()),
        ("recordId", record.record_id.to_string()),
        ("version", record.version.to_string()),
        ("epoch", record.epoch.to_string()),
        ("sha256", record.sha256.clone()),
        ("uri", record.uri.clone()),
        ("size", record.size.to_string()),
    ]
    .into_iter()
    .map(|(url, value)| string_extension(url, value))
    .collect::<Result<Vec<_>, _>>()?;
    built(
        "Provenance",
        Provenance::builder()
            .extension(vec![nested_extension(
                &format!("{EXT}chain-evidence"),
                evidence,
            )?])
            .target(vec![Some(reference(&ids.record(record))?)])
            .recorded(instant(record.time)?)
            .agent(vec![Some(agent)])
            .entity(vec![Some(entity)])
            .build(),
    )
}

/// Bytes as base64 in the vectors' JSON (the same alphabet FHIR's base64Binary uses).
mod base64_bytes {
    use fhir_model::Base64Binary;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        Base64Binary(bytes.to_vec()).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(Base64Binary::deserialize(deserializer)?.0)
    }
}

mod base64_opt {
    use fhir_model::Base64Binary;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        bytes.clone().map(Base64Binary).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Base64Binary>::deserialize(deserializer)?.map(|b| b.0))
    }
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::Addr;
    use ehr_types::audit::AuditAction;
    use ehr_types::escrow::EmergencyReason;

    use super::*;

    const DOCTOR: &str = "wasm1doctor0ana0lima0000000000000000000000";
    const NURSE: &str = "wasm1nurse0ben0000000000000000000000000000";
    const OWNER: &str = "wasm1patient0000000000000000000000000000000";
    const TRUSTEE: &str = "wasm1trustee00000000000000000000000000000000";
    const OBSERVATION: &str = "{\"resourceType\": \"Observation\", \"status\": \"final\",\n  \"code\": {\"text\": \"Systolic blood pressure\"},\n  \"valueQuantity\": {\"value\": 138, \"unit\": \"mm[Hg]\"}}";

    fn time(seconds: u64, nanos: u64) -> Timestamp {
        Timestamp::from_nanos(seconds * 1_000_000_000 + nanos)
    }

    fn record(
        record_id: RecordId,
        version: u32,
        category: Category,
        plaintext: &[u8],
    ) -> RecordFacts {
        RecordFacts {
            record_id,
            category,
            version,
            epoch: version - 1,
            sha256: format!("{:064x}", record_id * 10 + u64::from(version)),
            uri: format!("ipfs://bafk{record_id}v{version}"),
            size: plaintext.len() as u64 + 101,
            author: if version == 1 { OWNER } else { DOCTOR }.to_string(),
            time: time(
                1_796_000_000 + record_id * 60 + u64::from(version),
                120_000_000,
            ),
            plaintext: plaintext.to_vec(),
        }
    }

    fn entry(seq: u64, actor: &str, action: AuditAction) -> AuditEntry {
        AuditEntry {
            patient_id: 4,
            seq,
            time: time(1_796_000_000 + seq * 30, seq * 7),
            actor: Addr::unchecked(actor),
            action,
        }
    }

    fn input() -> ExportInput {
        let profile = br#"{"resourceType":"Patient","name":[{"text":"Maria Santos"}],"birthDate":"1984-03-12","gender":"female","bloodGroup":"O+","history":"Asthma since childhood","telecom":[{"system":"phone","value":""}]}"#;
        ExportInput {
            chain_id: "ehr-localnet".into(),
            registry: "wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d".into(),
            exported_at: time(1_796_100_000, 123_456_789),
            patient: PatientFacts {
                id: 4,
                profile: Some(profile.to_vec()),
            },
            records: vec![
                // Out of order on purpose: the Bundle is by record id, then version.
                record(3, 2, Category::Note, b"Follow-up: blood pressure lower.\n"),
                record(1, 1, Category::Lab, OBSERVATION.as_bytes()),
                record(
                    2,
                    1,
                    Category::Prescription,
                    br#"{"resourceType":"MedicationRequest","status":"active","subject":{"display":"Maria Santos"},"medicationCodeableConcept":{"text":"Amlodipine 5 mg"}}"#,
                ),
                record(3, 1, Category::Note, b"%PDF-1.4 \xff\xfe scanned letter"),
            ],
            grants: vec![
                GrantInfo {
                    patient_id: 4,
                    grantee: Addr::unchecked(DOCTOR),
                    scope: Scope::Manage,
                    categories: vec![Category::Lab, Category::Prescription],
                    expires: None,
                    granted_at: time(1_796_000_500, 0),
                },
                GrantInfo {
                    patient_id: 4,
                    grantee: Addr::unchecked(NURSE),
                    scope: Scope::Read,
                    categories: vec![Category::Lab],
                    expires: Some(time(1_796_050_000, 0)),
                    granted_at: time(1_796_000_600, 500_000_000),
                },
                GrantInfo {
                    patient_id: 4,
                    grantee: Addr::unchecked(TRUSTEE),
                    scope: Scope::Write,
                    categories: vec![Category::Note],
                    expires: Some(time(1_796_200_000, 0)),
                    granted_at: time(1_796_000_700, 0),
                },
            ],
            audit: vec![
                entry(1, OWNER, AuditAction::PatientRegistered {}),
                entry(
                    2,
                    OWNER,
                    AuditAction::RecordAdded {
                        record_id: 1,
                        category: Category::Lab,
                    },
                ),
                entry(
                    3,
                    DOCTOR,
                    AuditAction::EmergencyAccess {
                        expires: time(1_796_003_600, 0),
                        reason: EmergencyReason::IncapablePatient {},
                    },
                ),
                entry(
                    4,
                    TRUSTEE,
                    AuditAction::SharesReleased {
                        doctor: Addr::unchecked(DOCTOR),
                        categories: vec![Category::Lab],
                    },
                ),
                entry(
                    5,
                    OWNER,
                    AuditAction::AccessRevoked {
                        grantee: Addr::unchecked(NURSE),
                    },
                ),
            ],
            names: BTreeMap::from([(
                DOCTOR.to_string(),
                "Dr Ana Lima, St Mary Hospital".to_string(),
            )]),
        }
    }

    fn resources(export: &Export) -> Vec<Value> {
        let bundle: Value = serde_json::from_slice(&export.bundle).unwrap();
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .collect()
    }

    #[test]
    fn the_bundle_follows_docs_fhir() {
        let input = input();
        let export = export_bundle(&input).unwrap();
        let text = String::from_utf8(export.bundle.clone()).unwrap();
        // The valid Observation is embedded byte for byte, its 138 untouched.
        assert!(text.contains(&format!("\"resource\":{OBSERVATION}}}")));
        let r = resources(&export);
        let types: Vec<&str> = r
            .iter()
            .map(|r| r["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "Patient",
                "Observation",
                "DocumentReference",
                "DocumentReference",
                "DocumentReference",
                "Consent",
                "Consent",
                "Consent",
                "AuditEvent",
                "AuditEvent",
                "AuditEvent",
                "AuditEvent",
                "AuditEvent",
                "Provenance",
                "Provenance",
                "Provenance",
                "Provenance"
            ]
        );
        assert_eq!(export.wrapped, [(2, 1), (3, 1), (3, 2)]);
        assert_eq!(export.counts["DocumentReference"], 3);

        let patient = &r[0];
        assert_eq!(patient["identifier"][0]["value"], "4");
        assert_eq!(patient["gender"], "female");
        assert_eq!(patient["birthDate"], "1984-03-12");
        assert!(
            patient["telecom"] == serde_json::json!([{"system": "phone"}]),
            "an empty string is dropped"
        );
        assert_eq!(
            patient["extension"][0]["extension"][0]["valueString"],
            "bloodGroup"
        );
        assert_eq!(patient["extension"][0]["extension"][1]["valueString"], "O+");
        assert_eq!(
            patient["extension"][1]["extension"][0]["valueString"],
            "history"
        );

        let wrapped = &r[2];
        assert_eq!(wrapped["meta"]["tag"][0]["code"], "prescription");
        assert_eq!(
            wrapped["content"][0]["attachment"]["contentType"],
            "application/json"
        );
        assert_eq!(
            r[3]["content"][0]["attachment"]["contentType"],
            "application/octet-stream"
        );

        assert_eq!(r[5]["status"], "active");
        assert_eq!(r[6]["status"], "inactive", "expired at export time");
        assert_eq!(r[7]["status"], "active");
        let codes = |c: &Value| -> Vec<String> {
            c["provision"]["action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["coding"][0]["code"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(codes(&r[5]), ["access", "correct", "disclose"]);
        assert_eq!(codes(&r[6]), ["access"]);
        assert_eq!(codes(&r[7]), ["access", "correct"]);
        assert_eq!(
            r[5]["provision"]["actor"][0]["reference"]["display"],
            "Dr Ana Lima, St Mary Hospital"
        );
        assert!(r[6]["provision"]["actor"][0]["reference"]
            .get("display")
            .is_none());
        assert_eq!(
            r[6]["provision"]["period"]["start"],
            "2026-11-30T01:03:20.5Z"
        );

        let actions: Vec<&str> = r[8..13]
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["C", "C", "R", "R", "D"]);
        assert_eq!(r[9]["entity"][1]["what"]["identifier"]["value"], "1");
        assert!(r[8]["entity"].as_array().unwrap().len() == 1);
        assert_eq!(r[10]["purposeOfEvent"][0]["coding"][0]["code"], "ETREAT");
        assert!(r[12].get("purposeOfEvent").is_none());
        assert_eq!(r[9]["recorded"], "2026-11-30T00:54:20.000000014Z");

        let provenance = &r[16];
        assert_eq!(
            provenance["target"][0]["reference"],
            r_url(&input, "record/3/2")
        );
        assert_eq!(
            provenance["extension"][0]["extension"][3]["valueString"],
            "2"
        );
    }

    fn r_url(input: &ExportInput, key: &str) -> String {
        full_url(&input.chain_id, &input.registry, key)
    }

    #[test]
    fn no_profile_and_a_profile_that_is_not_a_patient() {
        let mut input = input();
        input.patient.profile = None;
        let export = export_bundle(&input).unwrap();
        let patient = &resources(&export)[0];
        assert_eq!(patient.as_object().unwrap().len(), 2, "{patient}");

        input.patient.profile = Some(b"name: Maria".to_vec());
        let export = export_bundle(&input).unwrap();
        let patient = &resources(&export)[0];
        assert_eq!(
            patient["extension"][0]["valueBase64Binary"],
            "bmFtZTogTWFyaWE="
        );
    }

    #[test]
    fn times_keep_every_non_zero_fractional_digit() {
        let text =
            |nanos| serde_json::to_value(instant(Timestamp::from_nanos(nanos)).unwrap()).unwrap();
        assert_eq!(text(1_796_000_000_000_000_000), "2026-11-30T00:53:20Z");
        assert_eq!(
            text(1_796_000_000_123_456_789),
            "2026-11-30T00:53:20.123456789Z"
        );
        assert_eq!(text(1_796_000_000_100_000_000), "2026-11-30T00:53:20.1Z");
    }

    /// The shared vectors the browser's exporter reproduces; `EHR_WRITE_VECTORS=1` rewrites them.
    #[test]
    fn vectors_match_the_code() {
        let input = input();
        let export = export_bundle(&input).unwrap();
        let bundle = RawValue::from_string(String::from_utf8(export.bundle).unwrap()).unwrap();
        #[derive(Serialize)]
        struct Vectors<'a> {
            input: &'a ExportInput,
            bundle: Box<RawValue>,
        }
        let mut text = serde_json::to_string_pretty(&Vectors {
            input: &input,
            bundle,
        })
        .unwrap();
        text.push('\n');
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/export.json");
        if std::env::var_os("EHR_WRITE_VECTORS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            stored == text,
            "{path} differs from what the code writes (EHR_WRITE_VECTORS=1 rewrites it)"
        );
    }
}
