// Decrypted documents of any shape: every field the dashboards show is coerced to its type, so a
// record (or profile) with unexpected types cannot crash the page.
import { describe, expect, it } from "vitest";
import { profileOf } from "../ui/Profile";
import { asIsoDate, asObject, asText, coerceMeta, metadataOf, type RecordMeta } from "./records";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const isMeta = (m: RecordMeta) => {
  expect(typeof m.title).toBe("string");
  expect(typeof m.date).toBe("string");
  expect(typeof m.text).toBe("string");
  expect(m.date === "" || /^\d{4}-\d{2}-\d{2}$/.test(m.date)).toBe(true);
};

describe("coercion of decrypted documents", () => {
  it("asText: strings as they are, numbers and booleans via String(), anything else empty", () => {
    expect(asText("Hemoglobin")).toBe("Hemoglobin");
    expect(asText(13.5)).toBe("13.5");
    expect(asText(0)).toBe("0");
    expect(asText(false)).toBe("false");
    for (const v of [null, undefined, {}, { text: "x" }, ["a", "b"], [["nested"]], Number.NaN, Infinity, { toString: "boom" }]) expect(asText(v)).toBe("");
  });

  it("asObject and asIsoDate", () => {
    expect(asObject({ a: 1 })).toEqual({ a: 1 });
    for (const v of [null, [1], "s", 3, undefined]) expect(asObject(v)).toEqual({});
    expect(asIsoDate("2026-01-02")).toBe("2026-01-02");
    expect(asIsoDate("2020-05-01T10:00:00Z")).toBe("2020-05-01");
    for (const v of ["2026-02-30", "2026-13-01", "2026", "2026-01", "02/01/2026", "2026-01-02garbage", "", 20260102, null, ["2026-01-02"], { date: "2026-01-02" }])
      expect(asIsoDate(v)).toBe("");
  });

  it("fields of the wrong type: numbers, objects, null and nested arrays where strings are expected", () => {
    const m = metadataOf(enc({ resourceType: "Observation", code: { text: { evil: true }, coding: [{ display: ["nested", ["deeper"]] }] }, title: null, description: 42, effectiveDateTime: { at: "2026-01-01" }, date: 20260101 }));
    isMeta(m);
    expect(m).toMatchObject({ title: "42", date: "" });
    expect(m.text).toContain("nested");
    expect(m.text).toContain("deeper");

    expect(coerceMeta({ code: { text: 7 } }).title).toBe("7");
    expect(coerceMeta({ code: null, title: ["a"], resourceType: { x: 1 } }).title).toBe("record");
    expect(coerceMeta({ code: { coding: "not an array" }, title: "T" }).title).toBe("T");
    expect(coerceMeta({ code: { coding: [null, { display: "second" }] }, resourceType: "Encounter" }).title).toBe("Encounter");
    expect(coerceMeta({ code: [{ text: "in an array" }], title: "T" }).title).toBe("T");
    expect(coerceMeta({ effectiveDateTime: "not a date", issued: "2025-12-31T23:59:59Z" }).date).toBe("2025-12-31");
  });

  it("documents that are not objects at all", () => {
    for (const doc of [null, 5, "just a string", true, [], [1, [2, [3]]], [["a", ["b"]]]]) {
      const m = metadataOf(enc(doc));
      isMeta(m);
      expect(m.title).toBe("record");
    }
    expect(metadataOf(enc([["a", ["b"]]])).text).toBe("a \u2022 b");
    expect(metadataOf(new TextEncoder().encode("")).title).toBe("(binary file)");
  });

  it("nesting deeper than any document stops the text walk instead of the stack", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const m = coerceMeta({ code: { text: "Deep" }, note: deep });
    expect(m.title).toBe("Deep");
    expect(m.text).not.toContain("bottom");
  });

  it("profiles: every field a string, the birth date a real date", () => {
    expect(profileOf({ resourceType: "Patient", name: [{ text: "Ada" }], birthDate: "1990-04-01", gender: "female", bloodGroup: "A+", history: "none" })).toEqual({
      name: "Ada", birthDate: "1990-04-01", gender: "female", bloodGroup: "A+", history: "none",
    });
    expect(profileOf({ name: [{ text: { first: "Ada" } }], birthDate: 19900401, gender: null, bloodGroup: ["A", "+"], history: { text: "x" } })).toEqual({
      name: "", birthDate: "", gender: "", bloodGroup: "", history: "",
    });
    expect(profileOf({ name: 12, birthDate: "1990-02-31", gender: 1, bloodGroup: true, history: 3.5 })).toEqual({ name: "12", birthDate: "", gender: "1", bloodGroup: "true", history: "3.5" });
    for (const doc of [null, undefined, 7, "Ada", [], [[{ text: "Ada" }]], { name: [null] }, { name: [] }, { name: [["Ada"]] }])
      expect(profileOf(doc)).toEqual({ name: "", birthDate: "", gender: "", bloodGroup: "", history: "" });
  });
});
