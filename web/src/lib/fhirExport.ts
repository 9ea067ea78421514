// "Download my records": the FHIR R4 Bundle of docs/fhir.md, as `ehr export fhir` writes it for the same
// chain state (Patient from the profile, the latest version of every record, a Consent per grant, an
// AuditEvent per audit entry, a Provenance per record, deterministic urn:uuid fullUrls). Pure functions:
// the dashboard gathers the input (ehr.ts `exportInput`) and saves the text.
import { sha256 } from "@noble/hashes/sha2.js";
import type * as fhir4 from "fhir/r4";
import type { AuditEntry, GrantInfo } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { fromBase64, toBase64, toHex, utf8 } from "../crypto/bytes";
import { FHIR_R4_CODES, FHIR_R4_ELEMENTS, FHIR_R4_PATTERNS, FHIR_R4_REQUIRED, KEPT_RESOURCE_TYPES } from "./fhirElements";

const EXT = "https://ehr-chain.example/fhir/StructureDefinition/";
const CS = "https://ehr-chain.example/fhir/CodeSystem/";
const ADDR = "urn:ehr-chain:address";

/** One record version to export (ehr-fhir export.rs RecordFacts): the chain's facts and its plaintext (base64). */
export interface RecordFacts {
  record_id: number;
  category: Category;
  version: number;
  epoch: number;
  sha256: string;
  uri: string;
  size: number;
  author: string;
  time: string;
  plaintext: string;
}

/** Everything the Bundle is made of (ehr-fhir export.rs ExportInput, the shape of vectors/export.json's `input`). */
export interface ExportInput {
  chain_id: string;
  registry: string;
  /** When the export is made, chain nanoseconds (decides whether a Consent is still active). */
  exported_at: string;
  /** The decrypted profile, base64; null when there is none or it does not open. */
  patient: { id: number; profile: string | null };
  /** The versions to export (the latest of every record not deleted), in any order. */
  records: RecordFacts[];
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

// ------------------------------------------------------------------ member order

/**
 * `v` with its members in R4 element order, at every depth (as fhir-model writes a typed resource:
 * `resourceType` first, then the order of the StructureDefinition, a primitive's `_member` after it).
 */
export function r4Order(v: unknown, type: string): unknown {
  if (Array.isArray(v)) return v.map((x) => r4Order(x, type));
  if (!isObject(v)) return v;
  if (type === "Resource") return typeof v.resourceType === "string" ? r4Order(v, v.resourceType) : v;
  const members = FHIR_R4_ELEMENTS[type];
  if (!members) return v;
  const rank = new Map(Object.keys(members).flatMap((m, i) => [[m, 2 * i + 1] as const, [`_${m}`, 2 * i + 2] as const]));
  const keys = Object.keys(v).sort((a, b) => (a === "resourceType" ? -1 : b === "resourceType" ? 1 : (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity)));
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const spec = members[k.replace(/^_/, "")];
    out[k] = spec && !k.startsWith("_") ? r4Order(v[k], spec.replace("[]", "").split("=")[0]) : v[k];
  }
  return out;
}

/** JSON text with every object's members sorted by name (serde_json's Value, which the Rust exporter writes audit details with). */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(",")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
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
const stringExtension = (url: string, valueString: string): fhir4.Extension => ({ url, valueString });
const nestedExtension = (url: string, extension: fhir4.Extension[]): fhir4.Extension => ({ extension, url });

/** `v` without empty strings and without the objects and arrays that leaves empty; undefined when nothing is left. */
export function withoutEmpty(v: unknown): unknown {
  if (v === "") return undefined;
  if (Array.isArray(v)) {
    const items = v.map(withoutEmpty).filter((x) => x !== undefined);
    return items.length ? items : undefined;
  }
  if (isObject(v)) {
    const members = Object.entries(v)
      .map(([k, x]) => [k, withoutEmpty(x)] as const)
      .filter(([, x]) => x !== undefined);
    return members.length ? Object.fromEntries(members) : undefined;
  }
  return v;
}

/**
 * The Patient entry (docs/fhir.md §1): each member of the profile that R4 reads as a Patient element
 * on its own is kept (empty strings and what they leave empty dropped), every other one becomes a
 * profile-field extension, in the profile's order; the chain identifier leads `identifier`.
 */
export function patientResource(input: ExportInput): fhir4.Patient {
  const ours: fhir4.Identifier = { system: `urn:ehr-chain:${input.chain_id}:${input.registry}:patient`, value: String(input.patient.id) };
  const bytes = input.patient.profile === null ? undefined : fromBase64(input.patient.profile);
  let elements: Record<string, unknown> = { resourceType: "Patient" };
  const fields: fhir4.Extension[] = [];
  if (bytes) {
    const parsed = parseJson(bytes);
    if (parsed && isObject(parsed.doc) && parsed.doc.resourceType === "Patient") {
      for (const [name, value] of Object.entries(parsed.doc)) {
        if (name === "resourceType") continue;
        const cleaned = withoutEmpty(value);
        if (cleaned === undefined) continue;
        if (conforms({ resourceType: "Patient", [name]: cleaned }, "Patient")) elements[name] = cleaned;
        else fields.push(nestedExtension(`${EXT}profile-field`, [stringExtension("name", name), stringExtension("value", typeof value === "string" ? value : JSON.stringify(value))]));
      }
    } else elements = { resourceType: "Patient", extension: [{ url: `${EXT}profile-document`, valueBase64Binary: toBase64(bytes) }] };
  }
  elements.identifier = [ours, ...((elements.identifier as unknown[] | undefined) ?? [])];
  const extension = [...((elements.extension as unknown[] | undefined) ?? []), ...fields];
  if (extension.length) elements.extension = extension;
  return r4Order(elements, "Patient") as fhir4.Patient;
}

/** A record version that is not kept as it is: wrapped byte for byte (docs/fhir.md §2). */
export function wrappedRecord(r: RecordFacts, bytes: Uint8Array, json: boolean): fhir4.DocumentReference {
  return {
    resourceType: "DocumentReference",
    meta: { tag: [coding(`${CS}wrapped-record`, r.category)] },
    status: "current",
    description: `ehr-chain record ${r.record_id} version ${r.version}: kept byte for byte (not an R4 resource)`,
    content: [{ attachment: { contentType: json ? "application/json" : "application/octet-stream", data: toBase64(bytes) } }],
  };
}

const SCOPE_ACTIONS: Record<GrantInfo["scope"], string[]> = { read: ["access"], write: ["access", "correct"], manage: ["access", "correct", "disclose"] };

export function consentResource(input: ExportInput, g: GrantInfo, patientUrl: string): fhir4.Consent {
  const expired = !!g.expires && BigInt(g.expires) <= BigInt(input.exported_at);
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

/** The AuditEvent action of an audit entry's tag (docs/fhir.md §4, by the tags of ehr-types' AuditAction). */
export function auditAction(tag: string): "C" | "R" | "U" | "D" | "E" {
  if (tag.endsWith("_registered") || tag.endsWith("_proposed") || ["record_added", "access_granted", "access_requested", "escrow_policy_set", "recovery_requested"].includes(tag)) return "C";
  if (["profile_updated", "record_updated", "patient_accepted", "request_approved", "recovery_approved", "patient_recovered"].includes(tag)) return "U";
  if (tag.endsWith("_deleted") || ["access_revoked", "patient_declined", "request_denied", "recovery_cancelled"].includes(tag)) return "D";
  if (tag === "emergency_access" || tag === "shares_released") return "R";
  return "E";
}

/** The record an audit action names: record_added, record_updated and record_deleted carry its id. */
function auditRecord(tag: string, detail: unknown): number | undefined {
  const id = isObject(detail) ? detail.record_id : undefined;
  return ["record_added", "record_updated", "record_deleted"].includes(tag) && typeof id === "number" ? id : undefined;
}

export function auditResource(input: ExportInput, e: AuditEntry, patientUrl: string): fhir4.AuditEvent {
  const [tag, detail] = Object.entries(e.action)[0] as [string, unknown];
  const recordId = auditRecord(tag, detail);
  return {
    resourceType: "AuditEvent",
    extension: [stringExtension(`${EXT}audit-detail`, sortedJson(e.action))],
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
  };
}

export function provenanceResource(input: ExportInput, r: RecordFacts, recordUrl: string): fhir4.Provenance {
  const evidence: [string, string][] = [
    ["chainId", input.chain_id],
    ["registry", input.registry],
    ["recordId", String(r.record_id)],
    ["version", String(r.version)],
    ["epoch", String(r.epoch)],
    ["sha256", r.sha256],
    ["uri", r.uri],
    ["size", String(r.size)],
  ];
  return {
    resourceType: "Provenance",
    extension: [nestedExtension(`${EXT}chain-evidence`, evidence.map(([url, value]) => stringExtension(url, value)))],
    target: [{ reference: recordUrl }],
    recorded: instant(r.time),
    agent: [{ type: { coding: [coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author")] }, who: who(r.author, input.names) }],
    entity: [{ role: "source", what: { identifier: { system: `urn:ehr-chain:${input.chain_id}:${input.registry}:record`, value: `${r.record_id}/${r.version}` } } }],
  };
}

// ------------------------------------------------------------------ the Bundle

const JSON_SPACE = /^[ \t\n\r]+|[ \t\n\r]+$/g;

/** The Bundle as objects; kept records are RawResource placeholders that bundleJson writes as their own text. */
export function exportBundle(input: ExportInput): fhir4.Bundle {
  const url = (key: string) => fullUrl(input.chain_id, input.registry, key);
  const patientUrl = url(`patient/${input.patient.id}`);
  const records = [...input.records].sort((a, b) => a.record_id - b.record_id || a.version - b.version);
  const recordEntries: fhir4.BundleEntry[] = records.map((r, n) => {
    const bytes = fromBase64(r.plaintext);
    const parsed = parseJson(bytes);
    // Whitespace around the object cannot be part of a value inside the Bundle.
    const resource = parsed && keptAsIs(parsed.doc) ? (new RawResource(parsed.text.replace(JSON_SPACE, ""), n) as unknown as fhir4.FhirResource) : wrappedRecord(r, bytes, !!parsed);
    return { fullUrl: url(`record/${r.record_id}/${r.version}`), resource };
  });
  const ordered = <T extends fhir4.FhirResource>(resource: T): T => r4Order(resource, resource.resourceType) as T;
  return {
    resourceType: "Bundle",
    type: "collection",
    timestamp: instant(input.exported_at),
    entry: [
      { fullUrl: patientUrl, resource: patientResource(input) },
      ...recordEntries.map((e) => (e.resource instanceof RawResource ? e : { ...e, resource: ordered(e.resource as fhir4.FhirResource) })),
      ...input.grants.map((g) => ({ fullUrl: url(`consent/${input.patient.id}/${g.grantee}`), resource: ordered(consentResource(input, g, patientUrl)) })),
      ...[...input.audit].sort((a, b) => a.seq - b.seq).map((e) => ({ fullUrl: url(`audit/${input.patient.id}/${e.seq}`), resource: ordered(auditResource(input, e, patientUrl)) })),
      ...records.map((r, n) => ({ fullUrl: url(`provenance/${r.record_id}/${r.version}`), resource: ordered(provenanceResource(input, r, recordEntries[n].fullUrl!)) })),
    ],
  };
}

/** The Bundle's JSON text, compact as the Rust exporter writes it, each kept record spliced in as its own text. */
export function bundleJson(input: ExportInput): string {
  const raws: string[] = [];
  const bundle = exportBundle(input);
  for (const e of bundle.entry ?? []) if (e.resource instanceof RawResource) raws[e.resource.n] = e.resource.text;
  return JSON.stringify(bundle).replace(/"\\u0000ehr-chain-raw:(\d+)"/g, (_, n: string) => raws[Number(n)]);
}

export const exportFileName = (patientId: number): string => `ehr-patient-${patientId}.fhir.json`;
