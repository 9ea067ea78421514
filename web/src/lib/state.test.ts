// State logic of the dashboards: record rows, metadata of decrypted files, filters, grant checks,
// error explanations and the Keplr chain description.
import { describe, expect, it } from "vitest";
import type { GrantInfo } from "../contracts/EhrAccess.types";
import type { RecordInfo } from "../contracts/EhrRegistry.types";
import { CryptoError } from "../crypto/errors";
import { chainInfo, type Deploy } from "./deploy";
import { chainTime, grantActive } from "./ehr";
import { explain, IpfsError } from "./errors";
import { NodeDownError } from "./rpc";
import { localTime } from "./time";
import { byNewest, fromChainTime, metadataOf, recordDocument, rowOf, type RecordRow } from "./records";

const info = (id: number, category: RecordInfo["category"], author: string, iso: string): RecordInfo => ({
  id,
  patient_id: 1,
  category,
  created_by: author,
  status: "active",
  latest: { author, version: 1, epoch: 0, time: (BigInt(Date.parse(iso)) * 1_000_000n).toString(), blob: { sha256: "ab".repeat(32), uri: "ipfs://x", size: 200 } },
});

describe("records", () => {
  it("rowOf reads the chain's record and block time", () => {
    const r = rowOf(info(7, "lab", "wasm1doc", "2026-03-04T05:06:07Z"));
    expect(r).toMatchObject({ id: 7, category: "lab", author: "wasm1doc", version: 1, integrity: "unchecked" });
    expect(r.time.toISOString()).toBe("2026-03-04T05:06:07.000Z");
    expect(fromChainTime(chainTime(r.time)).getTime()).toBe(r.time.getTime());
  });

  it("the UI's document round-trips to title, date and text (attachment bytes are not text)", () => {
    const doc = recordDocument("lab", { title: "Hemoglobin", date: "2026-01-02", text: "13.5 g/dL", attachment: { name: "scan.pdf", contentType: "application/pdf", base64: "QUJD" } });
    const m = metadataOf(doc);
    expect(m).toMatchObject({ title: "Hemoglobin", date: "2026-01-02" });
    expect(m.text).toContain("13.5 g/dL");
    expect(m.text).toContain("scan.pdf");
    expect(m.text).not.toContain("QUJD");
  });

  it("reads FHIR resources as the CLI imports them", () => {
    const m = metadataOf(new TextEncoder().encode(JSON.stringify({ resourceType: "Immunization", vaccineCode: { text: "MMR" }, occurrenceDateTime: "2020-05-01T10:00:00Z" })));
    expect(m.date).toBe("2020-05-01");
    expect(m.text).toContain("MMR");
    expect(metadataOf(new Uint8Array([0xff, 0x00])).title).toBe("(binary file)");
  });

  const rows: RecordRow[] = [
    { ...rowOf(info(1, "lab", "wasm1alice", "2026-01-10T00:00:00Z")), meta: { title: "Hemoglobin", date: "2026-01-09", text: "anemia follow-up" } },
    { ...rowOf(info(2, "note", "wasm1bob", "2026-02-10T00:00:00Z")), meta: { title: "Visit", date: "2026-02-10", text: "knee pain" } },
    rowOf(info(3, "imaging", "wasm1alice", "2026-03-10T00:00:00Z")),
  ];
  it("sorts newest first", () => {
    expect([...rows].sort(byNewest).map((r) => r.id)).toEqual([3, 2, 1]);
  });
});

describe("grants", () => {
  const g = (scope: GrantInfo["scope"], expires: Date | null): GrantInfo => ({
    patient_id: 1, grantee: "wasm1doc", scope, categories: ["lab"], granted_at: "0", expires: expires ? chainTime(expires) : null,
  });
  it("a grant shows as expired once its expiry is behind this clock (what it allows is the chain's answer)", () => {
    const future = new Date(Date.now() + 60_000), past = new Date(Date.now() - 60_000);
    expect(grantActive(g("read", null))).toBe(true);
    expect(grantActive(g("read", future))).toBe(true);
    expect(grantActive(g("read", past))).toBe(false);
  });
});

describe("errors a person understands", () => {
  const kind = (e: unknown) => explain(e).kind;
  it("classifies chain, IPFS, key and integrity failures", () => {
    expect(kind(new Error("Query failed with (6): [ehr:unauthorized] unauthorized: add record: execute wasm contract failed"))).toBe("unauthorized");
    expect(kind(new Error("[ehr:not_credentialed] not a credentialed doctor: wasm1x"))).toBe("unauthorized");
    expect(kind(new TypeError("Failed to fetch"))).toBe("node-down");
    expect(explain(new NodeDownError(["http://127.0.0.1:26657"])).message).toBe(
      "The chain node is not reachable (http://127.0.0.1:26657). Check that the localnet is running, then try again.",
    );
    expect(explain(new NodeDownError(["http://a:26657", "http://b:26657"]))).toMatchObject({ kind: "node-down", message: expect.stringContaining("None of the chain nodes is reachable (http://a:26657, http://b:26657)") });
    expect(kind(new IpfsError("IPFS at http://127.0.0.1:5001 is not reachable"))).toBe("ipfs-down");
    expect(kind(new CryptoError("MissingCategoryKey", "x"))).toBe("keys");
    expect(kind(new CryptoError("Tampered", "x"))).toBe("integrity");
    expect(kind(new Error("[ehr:duplicate_blob record=4] this ciphertext is already registered for the patient as record 4"))).toBe("duplicate");
    expect(kind(new Error("your grant expired"))).toBe("expired");
    expect(explain(new Error("[ehr:expiry_in_past expires=5000000000] expiry 5.000000000 is not in the future")).message).toBe("The expiry must be in the future.");
  });
  it("says when a doctor may break the glass again, in local time, from the chain's nanoseconds", () => {
    const until = "1796216700000000000";
    const text = explain(new Error(`failed to execute message; message index: 0: [ehr:emergency_too_soon patient=4 until=${until}] this doctor's last emergency window for patient 4 runs until 1796216700.000000000: a new one may be declared from then on: execute wasm contract failed`));
    expect(text.kind).toBe("other");
    expect(text.message).toBe(`Your last emergency window for patient #4 runs until ${localTime(until)}: a new one may be declared from then on.`);
    expect(text.message).not.toMatch(/\d{12,}/);
    expect(explain(new Error("[ehr:emergency_too_soon patient=4] reworded")).message).toContain("has not reached its planned end");
  });
  it("says what a rotation refused as not needed, a weak key and a wrong-length envelope mean", () => {
    expect(explain(new Error("[ehr:rotation_not_needed category=lab] the Lab key needs no new epoch: only the patient may open one now")).message).toContain("only the patient may open one now");
    expect(explain(new Error("[ehr:invalid_input rule=weak_public_key] invalid public key: not a usable X25519 point (low order or not canonical)")).message).toContain("not a usable X25519 key");
    expect(explain(new Error("[ehr:invalid_input rule=envelope] invalid key envelope: expected 80 bytes, got 1")).message).toContain("key envelope of the wrong length");
  });
  it("says what the registry refused of a provider's listing", () => {
    expect(explain(new Error("failed to execute message; message index: 0: [ehr:already_credentialed] already a credentialed doctor under this name and organisation: wasm1x: execute wasm contract failed")).kind).toBe("duplicate");
    expect(explain(new Error("message index: 0: [ehr:invalid_input rule=directory_text field=display_name text_rule=too_long max=64] invalid display name: at most 64 characters: execute wasm contract failed")).message).toBe("The display name was refused: at most 64 characters.");
    expect(explain(new Error("[ehr:invalid_input rule=directory_text field=organization text_rule=control_character] invalid organization: no control or text-direction characters")).message).toBe("The organisation was refused: no control or text-direction characters.");
  });
});

describe("Keplr chain info", () => {
  it("is built from the deploy file, with the RPC endpoint in use", () => {
    const d = { chain_id: "ehr-local-1", rpc_url: "http://127.0.0.1:26657", rest_url: "http://127.0.0.1:1317", denom: "stake", bech32_prefix: "wasm", coin_type: 118 } as Deploy;
    const c = chainInfo(d, "http://10.77.0.12:26657");
    expect(c).toMatchObject({ chainId: "ehr-local-1", rpc: "http://10.77.0.12:26657", rest: d.rest_url, bip44: { coinType: 118 }, features: ["cosmwasm"] });
    expect(Object.values(c.bech32Config!)).toEqual(["wasm", "wasmpub", "wasmvaloper", "wasmvaloperpub", "wasmvalcons", "wasmvalconspub"]);
    expect(c.feeCurrencies[0].coinMinimalDenom).toBe("stake");
  });
});
