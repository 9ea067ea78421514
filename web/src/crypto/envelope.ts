// Category-key envelopes (FORMAT.md §4): RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20-Poly1305; info binds the envelope to (patient id, category, epoch); envelope = enc || ct.
import { CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import type { Category } from "../contracts/EhrRegistry.types";
import { concat, fromBase64, toArrayBuffer, toBase64, uintBE, utf8 } from "./bytes";
import { CATEGORY_CODES } from "./categories";
import { CryptoError } from "./errors";

export const ENVELOPE_INFO_LABEL = "ehr-chain/category-key-envelope/v1";
export const ENVELOPE_LEN = 80;

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

export interface EnvelopeContext {
  patientId: bigint | number;
  category: Category;
  epoch: number;
}

export function envelopeInfo(ctx: EnvelopeContext): Uint8Array {
  return concat(utf8(ENVELOPE_INFO_LABEL), uintBE(ctx.patientId, 8), new Uint8Array([CATEGORY_CODES[ctx.category]]), uintBE(ctx.epoch, 4));
}

/**
 * Seals a 32-byte category key to `recipientPublicKey` (raw X25519); returns the base64 envelope stored on chain.
 * `ephemeralIkm` is for tests only: the ephemeral key pair becomes DeriveKeyPair(ikm), reproducing the Rust vectors.
 */
export async function sealEnvelope(
  recipientPublicKey: Uint8Array,
  categoryKey: Uint8Array,
  ctx: EnvelopeContext,
  ephemeralIkm?: Uint8Array,
): Promise<string> {
  if (categoryKey.length !== 32) throw new CryptoError("BadKey", "a category key is 32 bytes");
  if (recipientPublicKey.length !== 32) throw new CryptoError("BadKey", "an X25519 public key is 32 bytes");
  const sender = await suite.createSenderContext({
    recipientPublicKey: await suite.kem.deserializePublicKey(toArrayBuffer(recipientPublicKey)),
    info: toArrayBuffer(envelopeInfo(ctx)),
    ...(ephemeralIkm ? { ekm: toArrayBuffer(ephemeralIkm) } : {}),
  });
  const ct = new Uint8Array(await sender.seal(toArrayBuffer(categoryKey)));
  return toBase64(concat(new Uint8Array(sender.enc), ct));
}

/** Opens a base64 envelope with the recipient's X25519 secret key; the context must be the one it was sealed for. */
export async function openEnvelope(recipientSecretKey: Uint8Array, envelopeBase64: string, ctx: EnvelopeContext): Promise<Uint8Array> {
  let env: Uint8Array;
  try {
    env = fromBase64(envelopeBase64);
  } catch {
    throw new CryptoError("BadEnvelope", "the envelope is not base64");
  }
  if (env.length !== ENVELOPE_LEN) throw new CryptoError("BadEnvelope", `an envelope is ${ENVELOPE_LEN} bytes, got ${env.length}`);
  try {
    const recipientKey = await suite.kem.importKey("raw", toArrayBuffer(recipientSecretKey), false);
    const pt = await suite.open({ recipientKey, enc: toArrayBuffer(env.subarray(0, 32)), info: toArrayBuffer(envelopeInfo(ctx)) }, toArrayBuffer(env.subarray(32)));
    return new Uint8Array(pt);
  } catch {
    throw new CryptoError("EnvelopeDoesNotOpen", "the key envelope does not open with this wallet's key");
  }
}
