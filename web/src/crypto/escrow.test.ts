// Escrow shares (FORMAT.md §6) on the committed Rust vectors, both ways: the TS split fed the vector's
// coefficients gives the Rust shares byte for byte; any k Rust shares combine here to the key and k−1
// do not; the Rust sealed shares open here, and sealing with the vector's ephemeral IKM gives the Rust bytes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Category } from "../contracts/EhrRegistry.types";
import { fromBase64, fromHex, toBase64, toHex } from "./bytes";
import { CryptoError } from "./errors";
import { combineShares, openShare, sealShare, shareInfo, splitKey, type ShareContext, keyCommitment, shareCommitment } from "./escrow";

interface SplitVector { name: string; key_hex: string; threshold: number; shares: number; coefficients_hex: string[]; shares_hex: string[] }
interface SealedVector {
  name: string; patient_id: string; category: Category; epoch: number; set_version: number; info_hex: string; share_hex: string;
  recipient_x25519_secret_key_hex: string; recipient_x25519_public_key_hex: string; ephemeral_ikm_hex: string; sealed_hex: string;
}
const vectors = JSON.parse(readFileSync(fileURLToPath(new URL("../../../packages/ehr-crypto/test-vectors.json", import.meta.url)), "utf8")) as {
  escrow_splits: SplitVector[];
  escrow_sealed_shares: SealedVector[];
};

/** Every subset of `size` of `items`. */
function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [first, ...s]), ...subsets(rest, size)];
}

describe("escrow splits", () => {
  it("has vectors", () => expect(vectors.escrow_splits.length).toBeGreaterThanOrEqual(2));
  for (const v of vectors.escrow_splits) {
    const key = fromHex(v.key_hex);
    const shares = v.shares_hex.map(fromHex);
    it(`${v.name}: split with the vector's coefficients gives its shares`, () => {
      expect(splitKey(key, v.threshold, v.shares, v.coefficients_hex.map(fromHex)).map(toHex)).toEqual(v.shares_hex);
    });
    it(`${v.name}: any ${v.threshold} shares give the key, in any order`, () => {
      for (const s of subsets(shares, v.threshold)) {
        expect(toHex(combineShares(s, v.threshold))).toBe(v.key_hex);
        expect(toHex(combineShares([...s].reverse(), v.threshold))).toBe(v.key_hex);
      }
    });
    it(`${v.name}: ${v.threshold - 1} shares do not`, () => {
      for (const s of subsets(shares, v.threshold - 1)) {
        expect(() => combineShares(s, v.threshold)).toThrow(CryptoError);
        // Interpolated as if they were enough, they do not give the key either.
        if (s.length >= 2) expect(toHex(combineShares(s, s.length))).not.toBe(v.key_hex);
      }
    });
  }
  it("a random split combines; shares differ between splits; bad parameters and shares are refused", () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const a = splitKey(key, 2, 3);
    const b = splitKey(key, 2, 3);
    expect(a.map((s) => s[0])).toEqual([1, 2, 3]);
    expect(toHex(combineShares([a[2], a[0]], 2))).toBe(toHex(key));
    expect(a.map(toHex)).not.toEqual(b.map(toHex));
    expect(() => splitKey(key, 1, 3)).toThrow(CryptoError);
    expect(() => splitKey(key, 4, 3)).toThrow(CryptoError);
    expect(() => splitKey(key, 2, 17)).toThrow(CryptoError);
    expect(() => splitKey(key.subarray(1), 2, 3)).toThrow(CryptoError);
    expect(() => combineShares([a[0], a[0]], 2)).toThrow(/same x/);
    expect(() => combineShares([a[0], a[1].subarray(1)], 2)).toThrow(CryptoError);
  });
});

describe("escrow sealed shares", () => {
  it("has vectors", () => expect(vectors.escrow_sealed_shares.length).toBeGreaterThanOrEqual(1));
  for (const v of vectors.escrow_sealed_shares) {
    const ctx: ShareContext = { patientId: BigInt(v.patient_id), category: v.category, epoch: v.epoch, setVersion: v.set_version };
    it(`${v.name}: the info is the vector's`, () => expect(toHex(shareInfo(ctx))).toBe(v.info_hex));
    it(`${v.name}: opens with the recipient's secret key`, async () => {
      const share = await openShare(fromHex(v.recipient_x25519_secret_key_hex), toBase64(fromHex(v.sealed_hex)), ctx);
      expect(toHex(share)).toBe(v.share_hex);
    });
    it(`${v.name}: sealed with the vector's ephemeral IKM gives its bytes`, async () => {
      const sealed = await sealShare(fromHex(v.recipient_x25519_public_key_hex), fromHex(v.share_hex), ctx, fromHex(v.ephemeral_ikm_hex));
      expect(toHex(fromBase64(sealed))).toBe(v.sealed_hex);
    });
    it(`${v.name}: does not open for another epoch or set version`, async () => {
      const sk = fromHex(v.recipient_x25519_secret_key_hex);
      const sealed = toBase64(fromHex(v.sealed_hex));
      await expect(openShare(sk, sealed, { ...ctx, epoch: ctx.epoch + 1 })).rejects.toThrow(CryptoError);
      await expect(openShare(sk, sealed, { ...ctx, setVersion: ctx.setVersion + 1 })).rejects.toThrow(CryptoError);
    });
  }
});

describe("escrow commitments", () => {
  // Pinned in ehr-crypto's escrow tests too (computed there and with Python's hashlib).
  it("match the Rust client's byte for byte", async () => {
    const ctx = { patientId: 7, category: "allergy" as Category, epoch: 2, setVersion: 1 };
    const share = new Uint8Array(33).fill(0x11);
    share[0] = 1;
    expect(toHex(await shareCommitment(ctx, "wasm1trustee", share))).toBe("52edcd7fb2cfc0b1d2451f0950a3d16fae5b839fdfee8b5107d29d16b539e971");
    expect(toHex(await keyCommitment({ patientId: 7, category: "allergy", epoch: 2 }, new Uint8Array(32).fill(0x22)))).toBe(
      "24021708afb796c7f5730274bb5f7a6339e2981e77c7611032b267c63e21f70b",
    );
  });
});
