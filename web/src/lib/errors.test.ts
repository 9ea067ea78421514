// Every ContractError variant of both contracts, wrapped as wasmd and CosmJS report it, through the
// web's classifier: the fixture is written by packages/ehr-testing/tests/error_codes.rs, which puts the
// same texts through the Rust client's classifier, so both dispatch alike on the codes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { chainConflict, explain, parseErrorCode } from "./errors";

interface Case {
  contract: string;
  variant: string;
  code: string;
  fields: Record<string, string>;
  sentence: string;
  client: string;
  web: string;
  texts: string[];
}

const cases = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../packages/ehr-testing/tests/error-codes.json", import.meta.url)), "utf8"),
) as Case[];

describe("contract error codes", () => {
  it("has every variant of both contracts", () => {
    expect(cases.filter((c) => c.contract === "registry").length).toBeGreaterThan(20);
    expect(cases.filter((c) => c.contract === "access").length).toBeGreaterThan(40);
  });
  for (const c of cases)
    it(`${c.contract} ${c.variant} is ${c.code}, a ${c.web}`, () => {
      for (const text of c.texts) {
        const error = new Error(text);
        expect(parseErrorCode(error)).toEqual({ code: c.code, fields: c.fields, sentence: c.sentence });
        expect(explain(error).kind).toBe(c.web);
        expect(chainConflict(error) !== undefined).toBe(c.web === "conflict");
      }
    });
  it("goes by the contract's own tag, not caller input after it", () => {
    expect(chainConflict(new Error("[ehr:invalid_address] invalid address: [ehr:version_conflict base=1 current=2]"))).toBeUndefined();
  });
  it("reads the numbers of a version conflict from its fields, not its sentence", () => {
    expect(chainConflict(new Error("[ehr:version_conflict base=7 current=9] reworded"))).toEqual({ kind: "version", baseVersion: 7, current: 9 });
  });
});
