// The doctor's side of break glass: released shares grouped by (category, epoch, trustee-set
// version), opened and combined once a group reaches its threshold; the rest reported as waiting.
import { describe, expect, it } from "vitest";
import type { ReleasedShareInfo } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { toBase64, toHex } from "../crypto/bytes";
import { keyCommitment, shareCommitment, splitKey } from "../crypto/escrow";
import { releaseProgressOf } from "./ehr";

const key = new Uint8Array(32).map((_, i) => i + 1);
const shares = splitKey(key, 2, 3);
const released = (category: Category, epoch: number, trustee: number, setVersion = 1): ReleasedShareInfo => ({
  category, epoch, trustee: `wasm1trustee${trustee}`, set_version: setVersion, threshold: 2, share: toBase64(shares[trustee - 1]), released_at: "1",
});
// "Opening" here is decoding: the real code opens with the doctor's X25519 key.
const open = async (s: ReleasedShareInfo) => Uint8Array.from(atob(s.share), (c) => c.charCodeAt(0));

describe("releaseProgressOf", () => {
  it("waits with k−1 shares, combines with k, and ignores a repeated share", async () => {
    const found: string[] = [];
    const waiting = await releaseProgressOf(7, [released("allergy", 0, 1), released("allergy", 0, 1)], open, () => found.push("x"));
    expect(waiting).toEqual([{ category: "allergy", epoch: 0, released: 1, needed: 2, open: false, unopened: [], wrong: [] }]);
    expect(found).toEqual([]);
    const keys: string[] = [];
    const done = await releaseProgressOf(7, [released("allergy", 0, 1), released("allergy", 0, 3), released("profile", 2, 2)], open, (c, e, k) => keys.push(`${c}/${e}/${toHex(k)}`));
    expect(done).toContainEqual({ category: "allergy", epoch: 0, released: 2, needed: 2, open: true, unopened: [], wrong: [] });
    expect(done).toContainEqual({ category: "profile", epoch: 2, released: 1, needed: 2, open: false, unopened: [], wrong: [] });
    expect(keys).toEqual([`allergy/0/${toHex(key)}`]);
  });
  it("never combines shares of different trustee-set versions; a share that does not open is skipped", async () => {
    const keys: Uint8Array[] = [];
    const rows = await releaseProgressOf(7, [released("allergy", 0, 1, 1), released("allergy", 0, 2, 2)], open, (_c, _e, k) => keys.push(k));
    expect(keys).toEqual([]);
    expect(rows).toEqual([{ category: "allergy", epoch: 0, released: 1, needed: 2, open: false, unopened: [], wrong: [] }]);
    const skipped = await releaseProgressOf(7, [released("allergy", 0, 1), released("allergy", 0, 2)], async (s) => (s.trustee.endsWith("2") ? undefined : open(s)), () => keys.push(key));
    // Skipped and named: the trustee whose share did not open.
    expect(skipped[0]).toMatchObject({ released: 1, open: false, unopened: ["wasm1trustee2"] });
    expect(keys).toEqual([]);
  });
});

describe("released shares with the patient's commitments", () => {
  const ctx = { patientId: 7, category: "allergy" as Category, epoch: 0, setVersion: 1 };
  const committed = async (trustee: number, share = shares[trustee - 1]): Promise<ReleasedShareInfo> => ({
    ...released("allergy", 0, trustee),
    share: toBase64(share),
    commitment: toBase64(await shareCommitment(ctx, `wasm1trustee${trustee}`, shares[trustee - 1])),
    key_commitment: toBase64(await keyCommitment({ patientId: 7, category: "allergy", epoch: 0 }, key)),
  });
  it("names a trustee whose share is wrong and opens the committed key from the others", async () => {
    const forged = shares[0].slice();
    forged[3] ^= 1;
    const keys: string[] = [];
    const rows = await releaseProgressOf(7, [await committed(1, forged), await committed(2), await committed(3)], open, (_c, _e, k) => keys.push(toHex(k)));
    expect(rows[0]).toMatchObject({ open: true, released: 2, wrong: ["wasm1trustee1"] });
    expect(keys).toEqual([toHex(key)]);
  });
  it("uses no key when too few right shares remain", async () => {
    const forged = shares[1].slice();
    forged[9] ^= 0x80;
    const keys: Uint8Array[] = [];
    const rows = await releaseProgressOf(7, [await committed(1), await committed(2, forged)], open, (_c, _e, k) => keys.push(k));
    expect(rows[0]).toMatchObject({ open: false, released: 1, wrong: ["wasm1trustee2"] });
    expect(keys).toEqual([]);
  });
});
