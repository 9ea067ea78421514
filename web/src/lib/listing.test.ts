// The credential form's checks: the registry's rules for a provider's display name and organisation
// (ehr-types validate_directory_text), and the doctor's address.
import { describe, expect, it } from "vitest";
import { addressProblem, checkListing, listingOk, listingProblem } from "./listing";

const rule = (field: "display_name" | "organization", text: string) => listingProblem(field, text)?.rule;
const ADDRESS = "wasm1qyqszqgpqyqszqgpqyqszqgpqyqszqgpc0styh"; // 20 bytes of 0x01

describe("listing text", () => {
  it("accepts names as people write them, accents and scripts included", () => {
    for (const ok of ["Dr Ana Lima", "St Mary Hospital, Cardiology", "Dr Łucja Żółć", "د. سارة", "医生 王", "Dr O'Brien-Smith (locum)", "A"])
      expect(listingProblem("display_name", ok)).toBeUndefined();
  });
  it("refuses an empty field", () => {
    expect(rule("display_name", "")).toBe("empty");
    expect(listingProblem("organization", "")?.message).toBe("The organisation is required.");
  });
  it("counts characters, not bytes or UTF-16 units: 64 for the name, 96 for the organisation", () => {
    expect(rule("display_name", "a".repeat(64))).toBeUndefined();
    expect(rule("display_name", "a".repeat(65))).toBe("too-long");
    expect(rule("display_name", "é".repeat(64))).toBeUndefined(); // 128 bytes in UTF-8
    expect(rule("display_name", "😀".repeat(64))).toBeUndefined(); // 128 UTF-16 units
    expect(rule("display_name", "😀".repeat(65))).toBe("too-long");
    expect(rule("organization", "o".repeat(96))).toBeUndefined();
    expect(rule("organization", "o".repeat(97))).toBe("too-long");
    expect(listingProblem("display_name", "x".repeat(70))?.message).toBe("The display name may have at most 64 characters (this has 70).");
  });
  it("refuses leading or trailing white space (Rust's White_Space set), not inner spaces", () => {
    for (const bad of [" Dr Ana", "Dr Ana ", "\tDr Ana", "Dr Ana\n", "\u00a0Dr Ana", "Dr Ana\u3000", "\u2028Dr", "Dr\u2003"]) expect(rule("display_name", bad)).toBe("surrounding-space");
    expect(rule("display_name", "Dr  Ana   Lima")).toBeUndefined();
  });
  it("refuses control characters and bidi marks, overrides and isolates anywhere", () => {
    const hidden = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u009f", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"];
    for (const c of hidden) expect(rule("display_name", `Dr ${c}Eve`)).toBe("control-character");
    expect(rule("organization", "St Mary\nHospital")).toBe("control-character");
    expect(rule("display_name", "Dr \ud800Eve")).toBe("control-character"); // a lone surrogate is no character
    // other format characters are not on the list: the registry accepts them too
    expect(rule("display_name", "Dr Ana\u200bLima")).toBeUndefined();
  });
  it("checks in the contract's order: empty, length, surrounding space, control characters", () => {
    expect(rule("display_name", ` ${"a".repeat(70)}`)).toBe("too-long");
    expect(rule("display_name", " \u202eEve")).toBe("surrounding-space");
  });
});

describe("the credential form", () => {
  it("checks the address is one of this chain's", () => {
    expect(addressProblem(ADDRESS, "wasm")).toBeUndefined();
    expect(addressProblem("", "wasm")).toMatch(/required/);
    expect(addressProblem("cosmos1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du", "wasm")).toMatch(/another chain/);
    expect(addressProblem(ADDRESS.slice(0, -1) + "5", "wasm")).toMatch(/not a valid address/);
    expect(addressProblem("Dr Ana Lima", "wasm")).toMatch(/not a valid address/);
  });
  it("names every problem by field, and an unchanged listing of a credentialed doctor", () => {
    const ok = { address: ADDRESS, displayName: "Dr Ana Lima", organization: "St Mary Hospital" };
    expect(listingOk(checkListing(ok, "wasm"))).toBe(true);
    const bad = checkListing({ address: "x", displayName: " Dr", organization: "" }, "wasm");
    expect(Object.keys(bad).sort()).toEqual(["address", "displayName", "organization"]);
    const current = { credentialed: true, display_name: "Dr Ana Lima", organization: "St Mary Hospital" };
    expect(checkListing(ok, "wasm", current).unchanged).toMatch(/already credentialed under this name/);
    expect(listingOk(checkListing({ ...ok, organization: "St Mary Hospital, Cardiology" }, "wasm", current))).toBe(true); // a correction
    expect(listingOk(checkListing(ok, "wasm", { ...current, credentialed: false }))).toBe(true); // credentialing again after a withdrawal
  });
});
