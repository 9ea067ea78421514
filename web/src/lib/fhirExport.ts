// "Download my records": the FHIR R4 Bundle of docs/fhir.md, as `ehr export fhir` writes it for the same
// chain state (Patient from the profile, the latest version of every record, a Consent per grant, an
// AuditEvent per audit entry, a Provenance per record, deterministic urn:uuid fullUrls). Pure functions:
// the dashboard gathers the input (ehr.ts `exportInput`) and saves the text.
import { sha256 } from "@noble/hashes/sha2.js";
import type * as fhir4 from "fhir/r4";
import type { AuditEntry, GrantInfo } from "../contracts/EhrAccess.types";
import type { PatientInfo, RecordInfo } from "../contracts/EhrRegistry.types";
import { fromBase64, toBase64, toHex, utf8 } from "../crypto/bytes";
import { FHIR_R4_CODES, FHIR_R4_ELEMENTS, FHIR_R4_PATTERNS, FHIR_R4_REQUIRED, KEPT_RESOURCE_TYPES } from "./fhirElements";

const EXT = "https://ehr-chain.example/fhir/StructureDefinition/";
const CS = "https://ehr-chain.example/fhir/CodeSystem/";
const ADDR = "urn:ehr-chain:address";

/** Everything the Bundle is made of: the chain's answers and the plaintexts this wallet decrypted (base64). */
export interface ExportInput {
  chain_id: string;
  registry: string;
  /** When the export is made, chain nanoseconds (decides whether a Consent is still active). */
  export_time: string;
  patient: PatientInfo;
  /** The decrypted profile, base64; null when there is none or it does not open. */
  profile: string | null;
  /** Every record of the patient with its latest version's plaintext (base64); deleted ones are left out here. */
  records: { record: RecordInfo; plaintext: string }[];
  grants: GrantInfo[];
  audit: AuditEntry[];
  /** Directory names of the addresses that have one. */
  names: Record<string, string>;
}

// ------------------------------------------------------------------ ids and times

/** `urn:uuid:` + the first 16 bytes of sha256(chain_id/registry/key) as a version-8 UUID (docs/fhir.md "Ids"). */
export function fullUrl(chainId: string, registry: string, key: string): string {
  const b = sha256(utf8(`${chainId}/${registry}/${key}`)).slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = toHex(b);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A chain time (nanoseconds) as a FHIR instant in UTC, every non-zero fractional digit kept. */
export function instant(nanos: string): string {
  const n = BigInt(nanos);
  const seconds = n / 1_000_000_000n;
  const fraction = (n % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}${fraction ? `.${fraction}` : ""}Z`;
}

// ------------------------------------------------------------------ keep or wrap

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

const PATTERNS = new Map(Object.entries(FHIR_R4_PATTERNS).map(([t, re]) => [t, new RegExp(`^(?:${re})$`)]));

function primitiveFits(type: string, v: unknown, codes: readonly string[] | undefined): boolean {
  if (type === "boolean") return typeof v === "boolean";
  if (type === "integer" || type === "positiveInt" || type === "unsignedInt") return Number.isInteger(v);
  if (type === "decimal") return typeof v === "number" && Number.isFinite(v);
  if (typeof v !== "string") return false;
  if (codes) return codes.includes(v);
  return PATTERNS.get(type)?.test(v) ?? true;
}

/** A primitive's `_member` sibling: an Element (id, extension), or for a repeated primitive an array of them or null. */
function elementFits(v: unknown, many: boolean): boolean {
  const one = (x: unknown) => isObject(x) && Object.entries(x).every(([k, y]) => (k === "id" ? typeof y === "string" : k === "extension" && Array.isArray(y) && y.length > 0 && y.every((z) => conforms(z, "Extension"))));
  return many ? Array.isArray(v) && v.length > 0 && v.every((x) => x === null || one(x)) : one(v);
}

/**
 * Whether the typed R4 model reads `v` as a `type` completely (packages/ehr-fhir typed.rs): every
 * member one of its elements (FHIR_R4_ELEMENTS) with a value of that element's type and cardinality,
 * a code of a required binding among its codes, a date or time in its lexical form, and every
 * required element present.
 */
function conforms(v: unknown, type: string, codes?: readonly string[]): boolean {
  if (/^[a-z]/.test(type)) return primitiveFits(type, v, codes);
  if (type === "Resource") return isObject(v) && typeof v.resourceType === "string" && KEPT_RESOURCE_TYPES.includes(v.resourceType) && conforms(v, v.resourceType);
  const members = FHIR_R4_ELEMENTS[type];
  if (!isObject(v) || !members) return false;
  if (!(FHIR_R4_REQUIRED[type] ?? []).every((group) => group.some((m) => m in v))) return false;
  return Object.entries(v).every(([k, x]) => {
    if (k === "resourceType") return x === type && KEPT_RESOURCE_TYPES.includes(type);
    const spec = k.startsWith("_") ? members[k.slice(1)] : members[k];
    if (!spec) return false;
    const [t, valueSet] = spec.replace("[]", "").split("=");
    const many = spec.includes("[]");
    if (k.startsWith("_")) return /^[a-z]/.test(t) && elementFits(x, many);
    const bound = valueSet === undefined ? undefined : FHIR_R4_CODES[valueSet];
    return many ? Array.isArray(x) && x.length > 0 && x.every((y) => conforms(y, t, bound)) : conforms(x, t, bound);
  });
}

/** A record's plaintext is kept as it is when it is a JSON object that R4 reads completely: every member an element of its resourceType. */
export function keptAsIs(doc: unknown): boolean {
  return isObject(doc) && typeof doc.resourceType === "string" && conforms(doc, doc.resourceType) && KEPT_RESOURCE_TYPES.includes(doc.resourceType);
}

/** The plaintext as JSON, or undefined when it is not UTF-8 JSON (a byte-order mark included: JSON has none). */
function parseJson(bytes: Uint8Array): { text: string; doc: unknown } | undefined {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return { text, doc: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ entries

/** A kept record in the Bundle: serialized as its own text, byte for byte (see bundleJson). */
class RawResource {
  constructor(
    readonly text: string,
    readonly n: number,
  ) {}
  toJSON(): string {
    return `${RAW_MARK}${this.n}`;
  }
}
const RAW_MARK = "\u0000ehr-chain-raw:";

const coding = (system: string, code: string): fhir4.Coding => ({ system, code });
const who = (address: string, names: Record<string, string>): fhir4.Reference => ({ identifier: { system: ADDR, value: address }, ...(names[address] ? { display: names[address] } : {}) });

const GENDERS = ["male", "female", "other", "unknown"];

function profileField(name: string, value: unknown): fhir4.Extension {
  return {
    url: `${EXT}profile-field`,
    extension: [
      { url: "name", valueString: name },
      { url: "value", valueString: typeof value === "string" ? value : JSON.stringify(value) },
    ],
  };
}

/** The Patient entry (docs/fhir.md §1): R4 members of the profile kept, every other member an extension. */
export function patientResource(input: ExportInput): fhir4.Patient {
  const identifier: fhir4.Identifier = { system: `urn:ehr-chain:${input.chain_id}:${input.registry}:patient`, value: String(input.patient.id) };
  const bytes = input.profile === null ? undefined : fromBase64(input.profile);
  if (!bytes) return { resourceType: "Patient", identifier: [identifier] };
  const parsed = parseJson(bytes);
  if (!parsed || !isObject(parsed.doc) || parsed.doc.resourceType !== "Patient")
    return { resourceType: "Patient", identifier: [identifier], extension: [{ url: `${EXT}profile-document`, valueBase64Binary: toBase64(bytes) }] };
  const elements = FHIR_R4_ELEMENTS.Patient;
  const out: Record<string, unknown> = { resourceType: "Patient" };
  const extra: fhir4.Extension[] = [];
  for (const [k, v] of Object.entries(parsed.doc)) {
    if (k === "resourceType" || v === "") continue;
    const r4 = k in elements && (k !== "gender" || GENDERS.includes(v as string));
    if (r4) out[k] = v;
    else extra.push(profileField(k, v));
  }
  out.identifier = [identifier, ...(Array.isArray(out.identifier) ? out.identifier : [])];
  if (extra.length) out.extension = [...(Array.isArray(out.extension) ? out.extension : []), ...extra];
  return out as unknown as fhir4.Patient;
}

/** A record version that is not kept as it is: wrapped byte for byte (docs/fhir.md §2). */
export function wrappedRecord(record: RecordInfo, bytes: Uint8Array, json: boolean): fhir4.DocumentReference {
  return {
    resourceType: "DocumentReference",
    meta: { tag: [coding(`${CS}wrapped-record`, record.category)] },
    status: "current",
    description: `ehr-chain record ${record.id} version ${record.latest.version}: kept byte for byte (not an R4 resource)`,
    content: [{ attachment: { contentType: json ? "application/json" : "application/octet-stream", data: toBase64(bytes) } }],
  };
}

const SCOPE_ACTIONS: Record<GrantInfo["scope"], string[]> = { read: ["access"], write: ["access", "correct"], manage: ["access", "correct", "disclose"] };

export function consentResource(input: ExportInput, g: GrantInfo, patientUrl: string): fhir4.Consent {
  const expired = !!g.expires && BigInt(g.expires) <= BigInt(input.export_time);
  const categories = g.categories.map((c) => coding(`${CS}category`, c));
  return {
    resourceType: "Consent",
    status: expired ? "inactive" : "active",
    scope: { coding: [coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy")] },
    category: [{ coding: [coding("http://loinc.org", "59284-0")] }],
    patient: { reference: patientUrl },
    dateTime: instant(g.granted_at),
    performer: [{ reference: patientUrl }],
    policyRule: { coding: [coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN")] },
    provision: {
      type: "permit",
      period: { start: instant(g.granted_at), ...(g.expires ? { end: instant(g.expires) } : {}) },
      actor: [{ role: { coding: [coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")] }, reference: who(g.grantee, input.names) }],
      action: SCOPE_ACTIONS[g.scope].map((code) => ({ coding: [coding("http://terminology.hl7.org/CodeSystem/consentaction", code)] })),
      securityLabel: categories,
      class: categories,
    },
  };
}

/** The AuditEvent action of an audit entry's tag (docs/fhir.md §4). */
export function auditAction(tag: string): "C" | "R" | "U" | "D" | "E" {
  if (tag.endsWith("_registered") || tag.endsWith("_proposed") || ["record_added", "access_granted", "access_requested", "escrow_policy_set", "recovery_requested"].includes(tag)) return "C";
  if (["profile_updated", "record_updated", "patient_accepted", "request_approved", "recovery_approved", "recovery_finished"].includes(tag)) return "U";
  if (tag.endsWith("_deleted") || ["access_revoked", "patient_declined", "request_denied", "recovery_cancelled", "credential_withdrawn", "purged"].includes(tag)) return "D";
  if (tag === "emergency_access" || tag === "shares_released") return "R";
  return "E";
}

export function auditResource(input: ExportInput, e: AuditEntry, patientUrl: string): fhir4.AuditEvent {
  const [tag, detail] = Object.entries(e.action)[0] as [string, Record<string, unknown>];
  const recordId = typeof detail.record_id === "number" ? detail.record_id : undefined;
  return {
    resourceType: "AuditEvent",
    type: { system: "http://dicom.nema.org/resources/ontology/DCM", code: "110110", display: "Patient Record" },
    subtype: [coding(`${CS}audit-action`, tag)],
    action: auditAction(tag),
    recorded: instant(e.time),
    outcome: "0",
    ...(tag === "emergency_access" || tag === "shares_released" ? { purposeOfEvent: [{ coding: [coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "ETREAT")] }] } : {}),
    agent: [{ who: who(e.actor, input.names), requestor: true }],
    source: { observer: { display: `ehr-chain ${input.chain_id} access contract` } },
    entity: [
      { what: { reference: patientUrl } },
      ...(recordId === undefined ? [] : [{ what: { identifier: { system: `urn:ehr-chain:${input.chain_id}:${input.registry}:record`, value: String(recordId) } } }]),
    ],
    extension: [{ url: `${EXT}audit-detail`, valueString: JSON.stringify(e.action) }],
  };
}

export function provenanceResource(input: ExportInput, r: RecordInfo, recordUrl: string): fhir4.Provenance {
  const v = r.latest;
  const evidence: [string, string][] = [
    ["chainId", input.chain_id],
    ["registry", input.registry],
    ["recordId", String(r.id)],
    ["version", String(v.version)],
    ["epoch", String(v.epoch)],
    ["sha256", v.blob.sha256],
    ["uri", v.blob.uri],
    ["size", String(v.blob.size)],
  ];
  return {
    resourceType: "Provenance",
    target: [{ reference: recordUrl }],
    recorded: instant(v.time),
    agent: [{ type: { coding: [coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author")] }, who: who(v.author, input.names) }],
    entity: [{ role: "source", what: { identifier: { system: `urn:ehr-chain:${input.chain_id}:${input.registry}:record`, value: `${r.id}/${v.version}` } } }],
    extension: [{ url: `${EXT}chain-evidence`, extension: evidence.map(([url, valueString]) => ({ url, valueString })) }],
  };
}

// ------------------------------------------------------------------ the Bundle

/** The Bundle as objects; kept records are RawResource placeholders that bundleJson writes as their own bytes. */
export function exportBundle(input: ExportInput): fhir4.Bundle {
  const url = (key: string) => fullUrl(input.chain_id, input.registry, key);
  const patientUrl = url(`patient/${input.patient.id}`);
  const records = input.records.filter((x) => x.record.status !== "deleted").sort((a, b) => a.record.id - b.record.id);
  const recordEntries: fhir4.BundleEntry[] = records.map(({ record, plaintext }, n) => {
    const bytes = fromBase64(plaintext);
    const parsed = parseJson(bytes);
    const resource = parsed && keptAsIs(parsed.doc) ? (new RawResource(parsed.text, n) as unknown as fhir4.FhirResource) : wrappedRecord(record, bytes, !!parsed);
    return { fullUrl: url(`record/${record.id}/${record.latest.version}`), resource };
  });
  return {
    resourceType: "Bundle",
    type: "collection",
    timestamp: instant(input.export_time),
    entry: [
      { fullUrl: patientUrl, resource: patientResource(input) },
      ...recordEntries,
      ...input.grants.map((g) => ({ fullUrl: url(`consent/${input.patient.id}/${g.grantee}`), resource: consentResource(input, g, patientUrl) })),
      ...[...input.audit].sort((a, b) => a.seq - b.seq).map((e) => ({ fullUrl: url(`audit/${input.patient.id}/${e.seq}`), resource: auditResource(input, e, patientUrl) })),
      ...records.map(({ record }, n) => ({
        fullUrl: url(`provenance/${record.id}/${record.latest.version}`),
        resource: provenanceResource(input, record, recordEntries[n].fullUrl!),
      })),
    ],
  };
}

/** The Bundle's JSON text: compact, each kept record spliced in as its own text. */
export function bundleJson(input: ExportInput): string {
  const raws: string[] = [];
  const bundle = exportBundle(input);
  for (const e of bundle.entry ?? []) if (e.resource instanceof RawResource) raws[e.resource.n] = e.resource.text;
  return JSON.stringify(bundle).replace(/"\\u0000ehr-chain-raw:(\d+)"/g, (_, n: string) => raws[Number(n)]);
}

export const exportFileName = (patientId: number): string => `ehr-patient-${patientId}.fhir.json`;
