// Escrow shares for break glass (FORMAT.md §6): a category key split k-of-n with Shamir's scheme over
// GF(2^8) mod x^8 + x^4 + x^3 + x^2 + 1 (0x11d), byte by byte, as the Rust `blahaj` crate does; share j
// = x || p_0(x) || … || p_31(x) with x = j (1..=n). Each share is sealed with the envelope suite
// (FORMAT.md §4) to one trustee's X25519 key under the escrow-share info; aad empty; 81 bytes.
// A small implementation of our own (no npm library reproduces these exact shares: see web/README.md).
import { CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import type { Category } from "../contracts/EhrRegistry.types";
import { concat, fromBase64, toArrayBuffer, toBase64, uintBE, utf8 } from "./bytes";
import { CATEGORY_CODES } from "./categories";
import { envelopeInfo, type EnvelopeContext } from "./envelope";
import { CryptoError } from "./errors";

export const ESCROW_INFO_LABEL = "ehr-chain/escrow-share/v1";
export const SHARE_COMMITMENT_LABEL = "ehr-chain/escrow-share-commitment/v1";
export const KEY_COMMITMENT_LABEL = "ehr-chain/escrow-key-commitment/v1";
export const SHARE_LEN = 33;
export const SEALED_SHARE_LEN = 81;
/** The network's bounds on a trustee set: 2 <= k <= n <= 16. */
export const MAX_TRUSTEES = 16;

// GF(2^8) mod 0x11d: log and exp tables over the generator 2 (primitive for 0x11d).
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255];
}
export const gfMul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]);
const gfDiv = (a: number, b: number): number => {
  if (b === 0) throw new RangeError("division by zero in GF(2^8)");
  return a === 0 ? 0 : EXP[LOG[a] + 255 - LOG[b]];
};

function checkParams(threshold: number, shares: number): void {
  if (!Number.isInteger(threshold) || !Number.isInteger(shares) || threshold < 2 || threshold > shares || shares > MAX_TRUSTEES)
    throw new CryptoError("BadShares", `a split needs 2 <= k <= n <= ${MAX_TRUSTEES}, got k = ${threshold}, n = ${shares}`);
}

/**
 * Splits a 32-byte key into `shares` shares, any `threshold` of which give it back. `coefficients[i]`
 * holds the k−1 coefficients of key byte i, highest degree first (the vectors' `coefficients_hex`);
 * without it they are drawn with crypto.getRandomValues.
 */
export function splitKey(key: Uint8Array, threshold: number, shares: number, coefficients?: readonly Uint8Array[]): Uint8Array[] {
  if (key.length !== 32) throw new CryptoError("BadKey", "a category key is 32 bytes");
  checkParams(threshold, shares);
  const coeffs = coefficients ?? Array.from({ length: key.length }, () => crypto.getRandomValues(new Uint8Array(threshold - 1)));
  if (coeffs.length !== key.length || coeffs.some((c) => c.length !== threshold - 1))
    throw new CryptoError("BadShares", `a split of k = ${threshold} needs ${threshold - 1} coefficients for each of the ${key.length} key bytes`);
  const out: Uint8Array[] = [];
  for (let x = 1; x <= shares; x++) {
    const share = new Uint8Array(SHARE_LEN);
    share[0] = x;
    for (let i = 0; i < key.length; i++) {
      // Horner, highest degree first; the key byte is the constant term.
      let y = 0;
      for (const c of coeffs[i]) y = gfMul(y, x) ^ c;
      share[1 + i] = gfMul(y, x) ^ key[i];
    }
    out.push(share);
  }
  return out;
}

/**
 * The key from `threshold` or more shares (Lagrange interpolation at 0). Refuses fewer than
 * `threshold`, malformed shares and repeated x; with wrong shares it returns a wrong key (nothing in
 * a share says which key it belongs to: a category key proves itself by opening its files).
 */
export function combineShares(shares: readonly Uint8Array[], threshold: number): Uint8Array {
  if (!Number.isInteger(threshold) || threshold < 2) throw new CryptoError("BadShares", `a threshold is at least 2, got ${threshold}`);
  if (shares.length < threshold) throw new CryptoError("BadShares", `${threshold} shares are needed, got ${shares.length}`);
  const used = shares.slice(0, threshold);
  for (const s of used) if (s.length !== SHARE_LEN || s[0] === 0) throw new CryptoError("BadShares", `a share is ${SHARE_LEN} bytes with x in 1..255`);
  const xs = used.map((s) => s[0]);
  if (new Set(xs).size !== xs.length) throw new CryptoError("BadShares", "two shares have the same x");
  // Lagrange basis at 0: l_j = prod_{m != j} x_m / (x_m - x_j); subtraction is xor.
  const basis = xs.map((xj, j) => xs.reduce((acc, xm, m) => (m === j ? acc : gfMul(acc, gfDiv(xm, xm ^ xj))), 1));
  const key = new Uint8Array(SHARE_LEN - 1);
  for (let i = 0; i < key.length; i++) {
    let v = 0;
    for (let j = 0; j < used.length; j++) v ^= gfMul(used[j][1 + i], basis[j]);
    key[i] = v;
  }
  return key;
}

/** What a sealed share is bound to: the patient, category, epoch and trustee-set version. */
export interface ShareContext {
  patientId: bigint | number;
  category: Category;
  epoch: number;
  setVersion: number;
}

export function shareInfo(ctx: ShareContext): Uint8Array {
  return concat(utf8(ESCROW_INFO_LABEL), uintBE(ctx.patientId, 8), new Uint8Array([CATEGORY_CODES[ctx.category]]), uintBE(ctx.epoch, 4), uintBE(ctx.setVersion, 4));
}

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

/** Seals a 33-byte share to a trustee's (or doctor's) raw X25519 key; base64 of enc || ct. `ephemeralIkm` is for the vectors only. */
export async function sealShare(recipientPublicKey: Uint8Array, share: Uint8Array, ctx: ShareContext, ephemeralIkm?: Uint8Array): Promise<string> {
  if (share.length !== SHARE_LEN) throw new CryptoError("BadShares", `a share is ${SHARE_LEN} bytes`);
  if (recipientPublicKey.length !== 32) throw new CryptoError("BadKey", "an X25519 public key is 32 bytes");
  const sender = await suite.createSenderContext({
    recipientPublicKey: await suite.kem.deserializePublicKey(toArrayBuffer(recipientPublicKey)),
    info: toArrayBuffer(shareInfo(ctx)),
    ...(ephemeralIkm ? { ekm: toArrayBuffer(ephemeralIkm) } : {}),
  });
  const ct = new Uint8Array(await sender.seal(toArrayBuffer(share)));
  return toBase64(concat(new Uint8Array(sender.enc), ct));
}

/** Opens a base64 sealed share with the recipient's X25519 secret key, for the context it was sealed for. */
export async function openShare(recipientSecretKey: Uint8Array, sealedBase64: string, ctx: ShareContext): Promise<Uint8Array> {
  let sealed: Uint8Array;
  try {
    sealed = fromBase64(sealedBase64);
  } catch {
    throw new CryptoError("BadEnvelope", "the sealed share is not base64");
  }
  if (sealed.length !== SEALED_SHARE_LEN) throw new CryptoError("BadEnvelope", `a sealed share is ${SEALED_SHARE_LEN} bytes, got ${sealed.length}`);
  try {
    const recipientKey = await suite.kem.importKey("raw", toArrayBuffer(recipientSecretKey), false);
    const pt = await suite.open({ recipientKey, enc: toArrayBuffer(sealed.subarray(0, 32)), info: toArrayBuffer(shareInfo(ctx)) }, toArrayBuffer(sealed.subarray(32)));
    return new Uint8Array(pt);
  } catch {
    throw new CryptoError("EnvelopeDoesNotOpen", "the key share does not open with this wallet's key");
  }
}

const sha256 = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest("SHA-256", toArrayBuffer(b)));

/**
 * The dealer's commitment to one trustee's share (ehr_crypto::escrow::share_commitment):
 * sha256(label || share info || trustee length (u16 BE) || trustee || share). A share's y is
 * uniformly random, so the commitment tells nothing of the key.
 */
export function shareCommitment(ctx: ShareContext, trustee: string, share: Uint8Array): Promise<Uint8Array> {
  const name = utf8(trustee);
  return sha256(concat(utf8(SHARE_COMMITMENT_LABEL), shareInfo(ctx), uintBE(name.length, 2), name, share));
}

/** The dealer's commitment to the key (ehr_crypto::escrow::key_commitment): sha256(label || envelope info || key). */
export function keyCommitment(ctx: EnvelopeContext, key: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(utf8(KEY_COMMITMENT_LABEL), envelopeInfo(ctx), key));
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A released share as opened, with the commitment the dealer published for it (absent for escrows made before commitments). */
export interface CommittedShare {
  trustee: string;
  share: Uint8Array;
  commitment?: Uint8Array;
}

/**
 * The key from released shares, checked as ehr_crypto::escrow::combine_verified does: a share that
 * does not match its commitment is set aside (its trustee in `rejected`); with a key commitment only
 * a key that matches it is returned, trying other subsets; `key` is undefined when none does.
 */
export async function combineVerified(
  shares: readonly CommittedShare[],
  ctx: ShareContext,
  committedKey: Uint8Array | undefined,
  threshold: number,
): Promise<{ key?: Uint8Array; rejected: string[] }> {
  const rejected: string[] = [];
  const usable: Uint8Array[] = [];
  for (const s of shares) {
    if (s.commitment && !sameBytes(await shareCommitment(ctx, s.trustee, s.share), s.commitment)) rejected.push(s.trustee);
    else if (!usable.some((u) => u[0] === s.share[0])) usable.push(s.share);
  }
  if (usable.length < threshold) return { rejected };
  if (!committedKey) return { key: combineShares(usable, threshold), rejected };
  const keyCtx = { patientId: ctx.patientId, category: ctx.category, epoch: ctx.epoch };
  // Subsets of size k in lexicographic order, bounded as the Rust combiner is (256 tries).
  const idx = Array.from({ length: threshold }, (_, i) => i);
  for (let attempt = 0; attempt < 256; attempt++) {
    const key = combineShares(idx.map((i) => usable[i]), threshold);
    if (sameBytes(await keyCommitment(keyCtx, key), committedKey)) return { key, rejected };
    let i = threshold - 1;
    while (i >= 0 && idx[i] === usable.length - threshold + i) i--;
    if (i < 0) break;
    idx[i]++;
    for (let j = i + 1; j < threshold; j++) idx[j] = idx[j - 1] + 1;
  }
  return { rejected };
}
