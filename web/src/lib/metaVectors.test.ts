// The title/date/text vectors shared with Rust (packages/ehr-fhir/vectors/meta.json, read by
// ehr-fhir's meta.rs): written by this file from `metadataOf` (EHR_WRITE_META_VECTORS=1 npx vitest
// run src/lib/metaVectors.test.ts), then checked on every run, so both sides agree on every case.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { metadataOf, recordDocument, type RecordMeta } from "./records";

const VECTORS = new URL("../../../packages/ehr-fhir/vectors/meta.json", import.meta.url);
const OBSERVATIONS = new URL("../../../tests/fhir/fixtures/sample-ndjson/Observation.ndjson", import.meta.url);

interface Vector {
  name: string;
  plaintext_base64: string;
  meta: RecordMeta;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const nested = (depth: number, leaf: string) => `${"[".repeat(depth)}${leaf}${"]".repeat(depth)}`;
// ["d1",["d2",[…]]]: a string at every level, to see where the walk stops.
const ladder = (levels: number): string => (levels === 0 ? "[]" : `["d${levels}",${ladder(levels - 1)}]`);

/** The cases: bytes a record's plaintext may be. */
function cases(): [string, Uint8Array][] {
  const observation = readFileSync(fileURLToPath(OBSERVATIONS), "utf8").split("\n")[0];
  return [
    ["ui note", recordDocument("note", { title: "Follow-up visit", date: "2026-03-04", text: "Blood pressure 120/80, continue lisinopril" })],
    ["ui document with attachment bytes", recordDocument("document", { title: "Discharge letter", date: "", text: "see scan", attachment: { name: "letter.pdf", contentType: "application/pdf", base64: "JVBERi0xLjQK" } })],
    ["carebundle observation", utf8(observation)],
    ["odd types where strings are expected", utf8(JSON.stringify({ resourceType: "Observation", code: { text: { evil: true }, coding: [{ display: ["nested", ["deeper"]] }] }, title: null, description: 42, effectiveDateTime: { at: "2026-01-01" }, date: 20260101 }))],
    ["numbers as titles", utf8('{"code":{"text":1e21},"note":[{"text":"big"}]}')],
    ["fraction title", utf8('{"code":{"text":0.30000000000000004}}')],
    ["negative zero title", utf8('{"code":{"text":-0.0},"title":"unused"}')],
    ["small exponent title", utf8('{"code":{"coding":[{"display":-2.5e-7}]}}')],
    ["number too large for a double", utf8('{"code":{"text":1e400},"resourceType":"Observation"}')],
    ["boolean display", utf8('{"code":{"coding":[{"display":false}],"text":""},"title":"T"}')],
    ["code an array, coding not an array", utf8('{"code":[{"text":"in an array"}],"title":"","description":"D"}')],
    ["first coding not an object", utf8('{"code":{"coding":[null,{"display":"second"}]},"resourceType":"Encounter"}')],
    ["date precedence and real days", utf8('{"effectiveDateTime":"not a date","date":"2026-02-30","authoredOn":"2024-02-29T08:00:00+01:00","issued":"2020-01-01"}')],
    ["two-digit years and trailing text", utf8('{"date":"0099-12-31","recordedDate":"2026-01-02garbage","occurrenceDateTime":"1900-02-29","issued":"2025-12-31T23:59:59Z"}')],
    ["walk stops at the depth cap", utf8(`{"title":"ladder","note":${ladder(70)}}`)],
    ["nesting deeper than serde's limit", utf8(`{"code":{"text":"Deep"},"note":${nested(10_000, '"bottom"')}}`)],
    ["duplicate and integer-like keys", utf8('{"b":"1","2":"x","a":"2","1":"y","b":"3","01":"z","4294967295":"w","4294967294":"v"}')],
    ["escapes and a surrogate pair", utf8('{"title":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/ tab\\t","text":"line\\nbreak"}')],
    ["attachment data skipped, data arrays kept", utf8('{"content":[{"attachment":{"data":"QUJD","title":"scan.pdf"}}],"data":["kept"],"x":{"data":{"inner":"also kept"}}}')],
    ["whitespace around the document", utf8(' \r\n\t{"title" : "spaced" } \n')],
    ["byte order mark", new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('{"title":"bom"}')])],
    ["invalid utf-8 inside a string", new Uint8Array([...utf8('{"title":"caf'), 0xff, 0xc3, ...utf8('!"}')])],
    ["a bare string", utf8('"just a string"')],
    ["nested arrays of strings", utf8('[["a",["b"]],7,null,{"k":"c"}]')],
    ["not json", utf8("glucose 5.1 mmol/L\n")],
    ["trailing comma", utf8('{"title":"x",}')],
    ["empty file", new Uint8Array()],
    ["binary bytes", new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x00, 0x01, 0xfe])],
  ];
}

describe("meta vectors shared with Rust (packages/ehr-fhir/vectors/meta.json)", () => {
  if (process.env.EHR_WRITE_META_VECTORS === "1") {
    const vectors: Vector[] = cases().map(([name, bytes]) => ({ name, plaintext_base64: Buffer.from(bytes).toString("base64"), meta: metadataOf(bytes) }));
    writeFileSync(fileURLToPath(VECTORS), `${JSON.stringify(vectors, null, 2)}\n`);
  }
  const vectors = JSON.parse(readFileSync(fileURLToPath(VECTORS), "utf8")) as Vector[];

  it("holds every case, each from these bytes", () => {
    const expected = cases();
    expect(vectors.map((v) => v.name)).toEqual(expected.map(([name]) => name));
    for (const [i, [, bytes]] of expected.entries()) expect(vectors[i].plaintext_base64).toBe(Buffer.from(bytes).toString("base64"));
  });

  it("metadataOf gives each vector's meta", () => {
    for (const v of vectors) expect(metadataOf(new Uint8Array(Buffer.from(v.plaintext_base64, "base64"))), v.name).toEqual(v.meta);
  });
});
