// Names instead of addresses: who an address is from the viewer's side, the session cache over the
// registry's `directory` query (batches of at most 100), local times, and names rendered as text only.
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { DirectoryResponse, ProviderInfo } from "../contracts/EhrRegistry.types";
import { Who } from "../ui/common";
import { capitalise, categoryLabels, MAX_DIRECTORY_LOOKUP, nameOf, Names, scopeWords, shortAddress, type DirectorySource } from "./names";
import { localTime } from "./time";

const PATIENT = "wasm1patientaddressxyz";
const DOCTOR = "wasm1doctoraddressabcd";
const WITHDRAWN = "wasm1doctorwithdrawnab";
const ADMIN = "wasm1adminaddressxyzw";
const STRANGER = "wasm1strangeraddress0000";

const provider = (address: string, display_name: string, organization: string, withdrawn_at?: string): ProviderInfo => ({
  address,
  display_name,
  organization,
  credentialed: !withdrawn_at,
  credentialed_at: "1000000000",
  withdrawn_at: withdrawn_at ?? null,
  encryption_key: null,
});
const PROVIDERS = new Map<string, ProviderInfo | null>([
  [DOCTOR, provider(DOCTOR, "Dr Ana Lima", "St Mary Hospital")],
  [WITHDRAWN, provider(WITHDRAWN, "Dr Ben Okafor", "Riverside Clinic", "500000000000")],
  [STRANGER, null],
  [PATIENT, null],
  [ADMIN, null],
]);

describe("nameOf", () => {
  const asPatient = { viewer: PATIENT, admin: ADMIN, patientOwner: PATIENT, providers: PROVIDERS };
  const asDoctor = { viewer: DOCTOR, admin: ADMIN, patientOwner: PATIENT, providers: PROVIDERS };
  it('says "you" for the signed-in address, whoever it is', () => {
    expect(nameOf(PATIENT, asPatient)).toBe("you");
    expect(nameOf(DOCTOR, asDoctor)).toBe("you");
    expect(nameOf(ADMIN, { ...asPatient, viewer: ADMIN })).toBe("you");
  });
  it("names a listed provider by display name and organisation, also after a withdrawal", () => {
    expect(nameOf(DOCTOR, asPatient)).toBe("Dr Ana Lima, St Mary Hospital");
    expect(nameOf(WITHDRAWN, asPatient)).toBe("Dr Ben Okafor, Riverside Clinic");
  });
  it('says "the patient" for the patient\'s owner when someone else is looking', () => {
    expect(nameOf(PATIENT, asDoctor)).toBe("the patient");
    expect(nameOf(PATIENT, { ...asDoctor, patientOwner: undefined })).toBe("wasm1pati…sxyz (not a listed provider)");
  });
  it('says "the network admin" for the registry\'s admin', () => {
    expect(nameOf(ADMIN, asPatient)).toBe("the network admin");
  });
  it('says "trustee N of the network" for a trustee, N its 1-based place in the trustees query', () => {
    const trustees = ["wasm1trusteeoneaddress00", STRANGER];
    expect(nameOf(STRANGER, { ...asPatient, trustees })).toBe("trustee 2 of the network");
    expect(capitalise(nameOf(trustees[0], { ...asPatient, trustees }))).toBe("Trustee 1 of the network");
    expect(nameOf(DOCTOR, { ...asPatient, trustees: [DOCTOR] })).toBe("Dr Ana Lima, St Mary Hospital");
  });
  it("shortens any other address and says it is not listed (only once the directory said so)", () => {
    expect(nameOf(STRANGER, asPatient)).toBe("wasm1stra…0000 (not a listed provider)");
    expect(nameOf("wasm1neverlookedupaddress9", asPatient)).toBe("wasm1neve…ess9");
  });
  it("capitalises at the start of a sentence; short addresses as the CLI shortens them", () => {
    expect(capitalise("you gave")).toBe("You gave");
    expect(capitalise("the network admin")).toBe("The network admin");
    expect(capitalise("Dr Ana")).toBe("Dr Ana");
    expect(capitalise("")).toBe("");
    expect(shortAddress("wasm1short")).toBe("wasm1short");
    expect(shortAddress("wasm1qyqszqgpqyqszqgpqyqszqgpqyqszqgpc0styh")).toBe("wasm1qyqs…styh");
  });
  it("says scopes and categories in words", () => {
    expect([scopeWords("read"), scopeWords("write"), scopeWords("manage")]).toEqual(["read", "read and write", "read, write and delete"]);
    expect(categoryLabels(["lab", "note", "immunization"])).toBe("Lab, Note, Immunization");
  });
});

/** A registry that answers `directory` from `listed` and records every query. */
function fakeRegistry(listed: ProviderInfo[]) {
  const byAddress = new Map(listed.map((p) => [p.address, p]));
  const asked: string[][] = [];
  let configs = 0;
  const source: DirectorySource = {
    async directory({ addresses }): Promise<DirectoryResponse> {
      if (addresses.length > MAX_DIRECTORY_LOOKUP) throw new Error(`${addresses.length} addresses asked for at once, at most 100`);
      asked.push(addresses);
      return { entries: addresses.map((address) => ({ address, provider: byAddress.get(address) ?? null })) };
    },
    async config() {
      configs++;
      return { admin: ADMIN };
    },
  };
  return { source, asked, byAddress, configs: () => configs };
}

describe("the session's names", () => {
  it("looks addresses up in batches of at most 100, each once, and the admin once", async () => {
    const many = Array.from({ length: 250 }, (_, i) => `wasm1doctor${String(i).padStart(3, "0")}xxxxxxxxxxxx`);
    const reg = fakeRegistry(many.map((a, i) => provider(a, `Dr ${i}`, "Clinic")));
    const names = new Names(reg.source, PATIENT);
    await names.resolve([...many, ...many, DOCTOR]);
    expect(reg.asked.map((b) => b.length)).toEqual([100, 100, 51]);
    expect(names.nameOf(many[249])).toBe("Dr 249, Clinic");
    expect(names.nameOf(DOCTOR)).toBe("wasm1doct…abcd (not a listed provider)");
    await names.resolve(many.slice(0, 10)); // cached: nothing asked
    expect(reg.asked).toHaveLength(3);
    expect(reg.configs()).toBe(1);
    expect(names.nameOf(ADMIN)).toBe("the network admin");
  });
  it("does not ask twice for an address already being looked up", async () => {
    const reg = fakeRegistry([provider(DOCTOR, "Dr Ana Lima", "St Mary Hospital")]);
    const names = new Names(reg.source, PATIENT);
    await Promise.all([names.resolve([DOCTOR]), names.resolve([DOCTOR, WITHDRAWN])]);
    expect(reg.asked).toEqual([[DOCTOR], [WITHDRAWN]]);
  });
  it("refresh asks again for everything cached, so a corrected listing or a withdrawal shows; subscribers hear of it", async () => {
    const reg = fakeRegistry([provider(DOCTOR, "Dr Ana Lima", "St Mary")]);
    const names = new Names(reg.source, PATIENT);
    let heard = 0;
    const stop = names.subscribe(() => heard++);
    await names.resolve([DOCTOR]);
    expect(names.nameOf(DOCTOR)).toBe("Dr Ana Lima, St Mary");
    reg.byAddress.set(DOCTOR, provider(DOCTOR, "Dr Ana Lima", "St Mary Hospital", "900000000000"));
    await names.resolve([DOCTOR]);
    expect(names.nameOf(DOCTOR)).toBe("Dr Ana Lima, St Mary"); // cached for the session
    const before = names.getVersion();
    await names.refresh();
    expect(names.nameOf(DOCTOR)).toBe("Dr Ana Lima, St Mary Hospital");
    expect(names.provider(DOCTOR)?.withdrawn_at).toBe("900000000000");
    expect(names.getVersion()).toBeGreaterThan(before);
    expect(heard).toBeGreaterThan(0);
    stop();
  });
  it("a failed lookup is not cached: the next resolve asks again", async () => {
    let fail = true;
    const reg = fakeRegistry([provider(DOCTOR, "Dr Ana Lima", "St Mary Hospital")]);
    const names = new Names({ ...reg.source, directory: (q) => (fail ? Promise.reject(new Error("Failed to fetch")) : reg.source.directory(q)) }, PATIENT);
    await expect(names.resolve([DOCTOR])).rejects.toThrow("Failed to fetch");
    fail = false;
    await names.resolve([DOCTOR]);
    expect(names.nameOf(DOCTOR)).toBe("Dr Ana Lima, St Mary Hospital");
  });
  it("a namer is bound to the patient on screen", async () => {
    const names = new Names(fakeRegistry([]).source, DOCTOR);
    await names.resolve([PATIENT]);
    expect(names.namer(PATIENT)(PATIENT)).toBe("the patient");
    expect(names.namer()(PATIENT)).toBe("wasm1pati…sxyz (not a listed provider)");
  });
});

describe("names are untrusted text", () => {
  it("a name with markup renders as text, the address only in the tooltip", () => {
    const evil = provider(DOCTOR, '<img src=x onerror="alert(1)">', "<script>alert(2)</script>");
    const name = Object.assign((a: string) => nameOf(a, { viewer: PATIENT, providers: new Map([[DOCTOR, evil]]) }), { provider: () => evil });
    const html = renderToStaticMarkup(createElement(Who, { address: DOCTOR, name }));
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;, &lt;script&gt;alert(2)&lt;/script&gt;");
    expect(html).toBe(`<span title="${DOCTOR}">${html.slice(html.indexOf(">") + 1, html.lastIndexOf("<"))}</span>`);
  });
});

describe("local time", () => {
  it("shows weekday, day, month, year, hours, minutes and the zone, with the zone's daylight time at that moment", () => {
    const paris = { locale: "en-GB", timeZone: "Europe/Paris" };
    expect(localTime("1796216700000000000", paris)).toBe("Wed, 2 Dec 2026, 14:05 CET"); // 2026-12-02 13:05 UTC, in nanoseconds
    expect(localTime(new Date("2026-07-01T12:00:00Z"), paris)).toBe("Wed, 1 Jul 2026, 14:00 CEST");
    expect(localTime(new Date("2026-07-01T12:00:00Z"), { locale: "en-GB", timeZone: "UTC" })).toBe("Wed, 1 Jul 2026, 12:00 UTC");
  });
});
