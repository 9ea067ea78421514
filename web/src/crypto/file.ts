// The record file of FORMAT.md §3: header fields, data key wrapped under the category key, content
// sealed under the data key with the whole header as associated data (XChaCha20-Poly1305).
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "@noble/ciphers/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Category } from "../contracts/EhrRegistry.types";
import { concat, readUintBE, toHex, uintBE } from "./bytes";
import { CATEGORY_CODES, categoryFromCode } from "./categories";
import { CryptoError } from "./errors";

export const FILE_MAGIC = new Uint8Array([0x45, 0x48, 0x52, 0x46]); // "EHRF"
export const FILE_FORMAT_VERSION = 1;
export const HEADER_FIELDS_LEN = 22;
export const HEADER_LEN = 118;
const TAG_LEN = 16;
export const MIN_FILE_LEN = HEADER_LEN + TAG_LEN;

/** Which file this is: patient, category, key epoch and record version (the authenticated header fields). */
export interface FileContext {
  patientId: bigint | number;
  category: Category;
  epoch: number;
  recordVersion: number;
}

/** The random inputs of one file; only tests pass them in, to reproduce the Rust vectors byte for byte. */
export interface FileRandomness {
  dataKey: Uint8Array;
  wrapNonce: Uint8Array;
  contentNonce: Uint8Array;
}

export function headerFields(ctx: FileContext): Uint8Array {
  return concat(
    FILE_MAGIC,
    new Uint8Array([FILE_FORMAT_VERSION]),
    uintBE(ctx.patientId, 8),
    new Uint8Array([CATEGORY_CODES[ctx.category]]),
    uintBE(ctx.epoch, 4),
    uintBE(ctx.recordVersion, 4),
  );
}

/** Deterministic core of {@link encryptFile}: every random input is given. */
export function sealFileWith(content: Uint8Array, ctx: FileContext, categoryKey: Uint8Array, rnd: FileRandomness): Uint8Array {
  if (categoryKey.length !== 32 || rnd.dataKey.length !== 32) throw new CryptoError("BadKey", "keys are 32 bytes");
  if (rnd.wrapNonce.length !== 24 || rnd.contentNonce.length !== 24) throw new CryptoError("BadKey", "nonces are 24 bytes");
  const fields = headerFields(ctx);
  const wrapped = xchacha20poly1305(categoryKey, rnd.wrapNonce, fields).encrypt(rnd.dataKey);
  const header = concat(fields, rnd.wrapNonce, wrapped, rnd.contentNonce);
  return concat(header, xchacha20poly1305(rnd.dataKey, rnd.contentNonce, header).encrypt(content));
}

/** Encrypts `content` as a record file with a fresh data key and fresh nonces. */
export function encryptFile(content: Uint8Array, ctx: FileContext, categoryKey: Uint8Array): Uint8Array {
  return sealFileWith(content, ctx, categoryKey, {
    dataKey: randomBytes(32),
    wrapNonce: randomBytes(24),
    contentNonce: randomBytes(24),
  });
}

export interface ParsedHeader {
  patientId: bigint;
  category: Category;
  epoch: number;
  recordVersion: number;
}

/** Steps 1–4 of FORMAT.md §3 "Reading": the plaintext header of a file. */
export function parseHeader(file: Uint8Array): ParsedHeader {
  if (file.length < MIN_FILE_LEN) throw new CryptoError("Truncated", `file of ${file.length} bytes is shorter than ${MIN_FILE_LEN}`);
  if (!FILE_MAGIC.every((b, i) => file[i] === b)) throw new CryptoError("BadMagic", "not an ehr-chain record file");
  if (file[4] !== FILE_FORMAT_VERSION) throw new CryptoError("UnsupportedVersion", `file format version ${file[4]}`);
  const category = categoryFromCode(file[13]);
  if (!category) throw new CryptoError("UnknownCategoryCode", `unknown category code ${file[13]}`);
  return {
    patientId: readUintBE(file, 5, 8),
    category,
    epoch: Number(readUintBE(file, 14, 4)),
    recordVersion: Number(readUintBE(file, 18, 4)),
  };
}

/** Finds the category key for (patient, category, epoch), or undefined when not held. */
export type CategoryKeyLookup = (patientId: bigint, category: Category, epoch: number) => Uint8Array | undefined;

/** FORMAT.md §3 "Reading", steps 1–8; `expected` (from the chain) enables the header check of step 5. */
export function decryptFile(file: Uint8Array, keyFor: CategoryKeyLookup, expected?: FileContext): Uint8Array {
  const h = parseHeader(file);
  if (
    expected &&
    (h.patientId !== BigInt(expected.patientId) ||
      h.category !== expected.category ||
      h.epoch !== expected.epoch ||
      h.recordVersion !== expected.recordVersion)
  ) {
    throw new CryptoError("HeaderMismatch", "the file's header does not match the record on chain");
  }
  const categoryKey = keyFor(h.patientId, h.category, h.epoch);
  if (!categoryKey) throw new CryptoError("MissingCategoryKey", `no key for ${h.category} epoch ${h.epoch}`);
  const fields = file.subarray(0, HEADER_FIELDS_LEN);
  const wrapNonce = file.subarray(22, 46);
  let dataKey: Uint8Array;
  try {
    dataKey = xchacha20poly1305(categoryKey, wrapNonce, fields).decrypt(file.subarray(46, 94));
  } catch {
    throw new CryptoError("WrongKeyOrTamperedHeader", "the data key does not unwrap: wrong key or changed header");
  }
  const header = file.subarray(0, HEADER_LEN);
  try {
    return xchacha20poly1305(dataKey, file.subarray(94, 118), header).decrypt(file.subarray(HEADER_LEN));
  } catch {
    throw new CryptoError("Tampered", "the content does not authenticate: the file was changed");
  }
}

/** sha256 of the ciphertext, lowercase hex: the value registered on chain (BlobRef.sha256). */
export const sha256Hex = (bytes: Uint8Array): string => toHex(sha256(bytes));
