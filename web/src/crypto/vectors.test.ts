// The committed Rust test vectors (packages/ehr-crypto/test-vectors.json), both directions:
// Rust → browser: every Rust file and envelope opens here; browser → Rust: fed the vectors' fixed keys,
// nonces and ephemeral IKM, the browser's sealers emit the Rust bytes exactly, so Rust reads them as its own.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Category } from "../contracts/EhrRegistry.types";
import { fromBase64, fromHex, toHex } from "./bytes";
import { CATEGORY_CODES } from "./categories";
import { CryptoError } from "./errors";
import { decryptFile, encryptFile, headerFields, parseHeader, sealFileWith, sha256Hex, type FileContext } from "./file";
import { envelopeInfo, openEnvelope, sealEnvelope } from "./envelope";
import { KEY_DERIVATION_TEMPLATE, keyDerivationMessage, x25519FromSignature } from "./walletKey";

interface FileVector {
  name: string; patient_id: string; category: Category; category_code: number; epoch: number; record_version: number;
  category_key_hex: string; data_key_hex: string; wrap_nonce_hex: string; content_nonce_hex: string;
  plaintext_hex: string; header_fields_hex: string; file_hex: string; file_sha256_hex: string;
}
interface EnvelopeVector {
  name: string; patient_id: string; category: Category; epoch: number; info_hex: string; category_key_hex: string;
  recipient_x25519_secret_key_hex: string; recipient_x25519_public_key_hex: string; ephemeral_ikm_hex: string;
  enc_hex: string; envelope_hex: string; envelope_base64: string;
}
interface WalletVector {
  name: string; adr36_data_utf8: string; adr36_signature_hex: string; adr36_signature_base64: string;
  x25519_secret_key_hex: string; x25519_public_key_hex: string; x25519_public_key_base64: string;
}
const vectors = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../packages/ehr-crypto/test-vectors.json", import.meta.url)), "utf8"),
) as { constants: Record<string, unknown> & { categories: { code: number; name: Category }[] }; wallets: WalletVector[]; files: FileVector[]; envelopes: EnvelopeVector[] };

const VECTOR_SCOPE = { chainId: vectors.constants.key_scope_chain_id as string, registry: vectors.constants.key_scope_registry as string };

const ctxOf = (f: FileVector): FileContext => ({ patientId: BigInt(f.patient_id), category: f.category, epoch: f.epoch, recordVersion: f.record_version });
const onlyKey = (f: FileVector) => (p: bigint, c: Category, e: number) =>
  p === BigInt(f.patient_id) && c === f.category && e === f.epoch ? fromHex(f.category_key_hex) : undefined;

describe("constants", () => {
  it("category codes match the Rust table", () => {
    for (const { code, name } of vectors.constants.categories) expect(CATEGORY_CODES[name]).toBe(code);
    expect(Object.keys(CATEGORY_CODES).length).toBe(vectors.constants.categories.length);
  });
  it("key derivation message matches", () => expect(KEY_DERIVATION_TEMPLATE).toBe(vectors.constants.key_derivation_template_utf8));
});

describe.each(vectors.files)("file $name", (f) => {
  it("Rust → browser: the Rust file opens to the plaintext", () => {
    const file = fromHex(f.file_hex);
    expect(sha256Hex(file)).toBe(f.file_sha256_hex);
    expect(toHex(decryptFile(file, onlyKey(f), ctxOf(f)))).toBe(f.plaintext_hex);
  });
  it("browser → Rust: with the vector's data key and nonces the browser writes the Rust bytes", () => {
    expect(toHex(headerFields(ctxOf(f)))).toBe(f.header_fields_hex);
    const file = sealFileWith(fromHex(f.plaintext_hex), ctxOf(f), fromHex(f.category_key_hex), {
      dataKey: fromHex(f.data_key_hex), wrapNonce: fromHex(f.wrap_nonce_hex), contentNonce: fromHex(f.content_nonce_hex),
    });
    expect(toHex(file)).toBe(f.file_hex);
  });
  it("browser round trip with fresh randomness", () => {
    const file = encryptFile(fromHex(f.plaintext_hex), ctxOf(f), fromHex(f.category_key_hex));
    expect(file.length).toBe(134 + f.plaintext_hex.length / 2);
    expect(toHex(file)).not.toBe(f.file_hex);
    expect(toHex(decryptFile(file, onlyKey(f), ctxOf(f)))).toBe(f.plaintext_hex);
  });
});

describe("file errors, in FORMAT.md order", () => {
  const f = vectors.files[0];
  const file = fromHex(f.file_hex);
  const kind = (fn: () => unknown) => {
    try { fn(); } catch (e) { return (e as CryptoError).kind; }
    return "no error";
  };
  const changed = (i: number) => { const c = file.slice(); c[i] ^= 1; return c; };
  it("Truncated", () => expect(kind(() => decryptFile(file.slice(0, 133), onlyKey(f)))).toBe("Truncated"));
  it("BadMagic", () => expect(kind(() => decryptFile(changed(0), onlyKey(f)))).toBe("BadMagic"));
  it("UnsupportedVersion", () => expect(kind(() => decryptFile(changed(4), onlyKey(f)))).toBe("UnsupportedVersion"));
  it("UnknownCategoryCode", () => { const c = file.slice(); c[13] = 200; expect(kind(() => decryptFile(c, onlyKey(f)))).toBe("UnknownCategoryCode"); });
  it("HeaderMismatch", () => expect(kind(() => decryptFile(file, onlyKey(f), { ...ctxOf(f), recordVersion: 2 }))).toBe("HeaderMismatch"));
  it("MissingCategoryKey", () => expect(kind(() => decryptFile(file, () => undefined))).toBe("MissingCategoryKey"));
  it("WrongKeyOrTamperedHeader (header byte changed)", () => expect(kind(() => decryptFile(changed(20), () => fromHex(f.category_key_hex)))).toBe("WrongKeyOrTamperedHeader"));
  it("WrongKeyOrTamperedHeader (wrong key)", () => expect(kind(() => decryptFile(file, () => new Uint8Array(32)))).toBe("WrongKeyOrTamperedHeader"));
  it("Tampered (content nonce or body changed)", () => {
    expect(kind(() => decryptFile(changed(100), onlyKey(f)))).toBe("Tampered");
    expect(kind(() => decryptFile(changed(file.length - 1), onlyKey(f)))).toBe("Tampered");
  });
  it("parseHeader reads the fields", () => expect(parseHeader(file)).toEqual({ patientId: 1n, category: "lab", epoch: 1, recordVersion: 1 }));
});

describe.each(vectors.envelopes)("envelope $name", (e) => {
  const ctx = { patientId: BigInt(e.patient_id), category: e.category, epoch: e.epoch };
  it("info bytes", () => expect(toHex(envelopeInfo(ctx))).toBe(e.info_hex));
  it("Rust → browser: opens to the category key", async () => {
    expect(toHex(await openEnvelope(fromHex(e.recipient_x25519_secret_key_hex), e.envelope_base64, ctx))).toBe(e.category_key_hex);
  });
  it("browser → Rust: with the vector's ephemeral IKM the browser seals the Rust bytes", async () => {
    const env = await sealEnvelope(fromHex(e.recipient_x25519_public_key_hex), fromHex(e.category_key_hex), ctx, fromHex(e.ephemeral_ikm_hex));
    expect(env).toBe(e.envelope_base64);
    expect(toHex(fromBase64(env)).slice(0, 64)).toBe(e.enc_hex);
  });
  it("browser round trip with a fresh ephemeral key; refuses another context", async () => {
    const env = await sealEnvelope(fromHex(e.recipient_x25519_public_key_hex), fromHex(e.category_key_hex), ctx);
    expect(env).not.toBe(e.envelope_base64);
    expect(toHex(await openEnvelope(fromHex(e.recipient_x25519_secret_key_hex), env, ctx))).toBe(e.category_key_hex);
    await expect(openEnvelope(fromHex(e.recipient_x25519_secret_key_hex), env, { ...ctx, epoch: ctx.epoch + 1 })).rejects.toMatchObject({ kind: "EnvelopeDoesNotOpen" });
  });
});

describe.each(vectors.wallets)("wallet $name", (w) => {
  it("X25519 key from the ADR-36 signature", () => {
    const kp = x25519FromSignature(fromBase64(w.adr36_signature_base64));
    expect(toHex(kp.secretKey)).toBe(w.x25519_secret_key_hex);
    expect(toHex(kp.publicKey)).toBe(w.x25519_public_key_hex);
    expect(w.adr36_data_utf8).toBe(keyDerivationMessage(VECTOR_SCOPE));
    expect(toHex(fromBase64(w.adr36_signature_base64))).toBe(w.adr36_signature_hex);
  });
});
