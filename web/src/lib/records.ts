// Record rows as the dashboards show them, the plaintext documents the UI writes, and the filters.
// Pure functions: unit-tested and benchmarked without a browser.
import type { Category, RecordInfo } from "../contracts/EhrRegistry.types";

/** What the UI knows about a record's current file: its integrity check and, once opened, its metadata. */
export type Integrity = "unchecked" | "verified" | "mismatch" | "unavailable";

export interface RecordMeta {
  title: string;
  date: string; // ISO date (yyyy-mm-dd) the document is about, or ""
  text: string; // every string in the document, for free-text search
}

export interface RecordRow {
  id: number;
  patientId: number;
  category: Category;
  version: number;
  epoch: number; // the key epoch the chain says the current version is sealed under
  author: string;
  createdBy: string;
  time: Date; // block time of the current version
  sha256: string;
  uri: string;
  size: number;
  integrity: Integrity;
  /** A tombstone: kept on chain with its history, no longer changed. */
  deleted: boolean;
  meta?: RecordMeta;
  problem?: string;
}

export const fromChainTime = (nanos: string): Date => new Date(Number(BigInt(nanos) / 1_000_000n));
export const toChainTime = (d: Date): string => (BigInt(d.getTime()) * 1_000_000n).toString();

export function rowOf(r: RecordInfo): RecordRow {
  return {
    id: r.id,
    patientId: r.patient_id,
    category: r.category,
    version: r.latest.version,
    epoch: r.latest.epoch,
    author: r.latest.author,
    createdBy: r.created_by,
    time: fromChainTime(r.latest.time),
    sha256: r.latest.blob.sha256,
    uri: r.latest.blob.uri,
    size: r.latest.blob.size,
    integrity: "unchecked",
    deleted: r.status === "deleted",
  };
}

/** FHIR R4 resource type the UI writes for each category (the CLI imports FHIR resources the same way). */
const RESOURCE_TYPE: Record<Category, string> = {
  note: "Observation",
  lab: "Observation",
  imaging: "DiagnosticReport",
  prescription: "MedicationRequest",
  allergy: "AllergyIntolerance",
  immunization: "Immunization",
  encounter: "Encounter",
  document: "DocumentReference",
  profile: "Patient",
};

export interface RecordDraft {
  title: string;
  date: string;
  text: string;
  attachment?: { name: string; contentType: string; base64: string };
}

/** The plaintext of a record the UI writes: a small FHIR-shaped JSON document. */
export function recordDocument(category: Category, d: RecordDraft): Uint8Array {
  const doc: Record<string, unknown> = {
    resourceType: RESOURCE_TYPE[category],
    status: "final",
    code: { text: d.title },
    ...(d.date ? { effectiveDateTime: d.date } : {}),
    ...(d.text ? { note: [{ text: d.text }] } : {}),
    ...(d.attachment
      ? { content: [{ attachment: { title: d.attachment.name, contentType: d.attachment.contentType, data: d.attachment.base64 } }] }
      : {}),
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

const DATE_FIELDS = ["effectiveDateTime", "date", "authoredOn", "recordedDate", "occurrenceDateTime", "issued"];

// A decrypted file is whatever its writer sealed: any JSON at all, not necessarily the UI's own shape.
// Everything the dashboards show of it goes through these, so a field of an unexpected type (a number,
// an object, null, nested arrays) becomes a plain string or "" and never reaches React as an object.

/** A field where a string is expected: strings as they are, finite numbers and booleans via String(), anything else "". */
export function asText(v: unknown): string {
  if (typeof v === "string") return v;
  if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean") return String(v);
  return ""; // null, objects and arrays (String() of those says nothing, or throws for {"toString": …})
}

/** A plain JSON object (not null, not an array), or an empty one. */
export const asObject = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The yyyy-mm-dd a FHIR date or dateTime string starts with, when it is a real calendar date; else "". */
export function asIsoDate(v: unknown): string {
  if (typeof v !== "string") return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(v);
  if (!m) return "";
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? m[0].slice(0, 10) : "";
}

const MAX_DEPTH = 64; // deeper nesting is not a medical document: its strings are not searched

/** Title, date and searchable text of a parsed document, whatever the types of its fields. */
export function coerceMeta(doc: unknown): RecordMeta {
  const strings: string[] = [];
  const walk = (v: unknown, key: string, depth: number) => {
    if (typeof v === "string") {
      if (key !== "data") strings.push(v); // attachment bytes are not text
    } else if (depth >= MAX_DEPTH) return;
    else if (Array.isArray(v)) for (const x of v) walk(x, "", depth + 1);
    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k, depth + 1);
  };
  walk(doc, "", 0);
  const d = asObject(doc);
  const code = asObject(d.code);
  const coding = Array.isArray(code.coding) ? asObject(code.coding[0]) : {};
  const title = asText(code.text) || asText(coding.display) || asText(d.title) || asText(d.description) || asText(d.resourceType) || "record";
  const date = DATE_FIELDS.map((f) => asIsoDate(d[f])).find((x) => x) ?? "";
  return { title, date, text: strings.join(" \u2022 ") };
}

/** Title, date and searchable text of any decrypted record (the UI's own documents, or FHIR from the CLI). */
export function metadataOf(plaintext: Uint8Array): RecordMeta {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    return { title: "(binary file)", date: "", text: "" };
  }
  return coerceMeta(doc);
}

/** Newest first; the timeline order. */
export const byNewest = (a: RecordRow, b: RecordRow): number => b.time.getTime() - a.time.getTime() || b.id - a.id;
