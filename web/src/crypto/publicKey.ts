// Which X25519 public keys anything may be sealed to: the chain's rule (ehr-types validate_public_key)
// checked before sealing, so a key the chain would refuse (or one registered before it refused them)
// gives a sentence instead of an envelope that opens for nobody.
import { fromBase64 } from "./bytes";

/**
 * The encodings of the X25519 points of small order below p (libsodium's list, as ehr-types keeps it):
 * a shared secret with any of them is all zeros.
 */
const LOW_ORDER_POINTS: readonly string[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1
];

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Whether a little-endian 255-bit value is at least p = 2^255 - 19, or has the unused top bit set. */
function nonCanonical(key: Uint8Array): boolean {
  if (key[31] & 0x80) return true;
  return key[31] === 0x7f && key.subarray(1, 31).every((b) => b === 0xff) && key[0] >= 0xed;
}

/** A key envelopes and shares may be sealed to: 32 bytes, canonical, not of small order. */
export function usablePublicKey(key: Uint8Array): boolean {
  return key.length === 32 && !nonCanonical(key) && !LOW_ORDER_POINTS.includes(hex(key));
}

/** The raw bytes of a registered key (base64), or undefined when it is not one anything may be sealed to. */
export function publicKeyOf(base64: string | null | undefined): Uint8Array | undefined {
  if (!base64) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(base64);
  } catch {
    return undefined;
  }
  return usablePublicKey(bytes) ? bytes : undefined;
}
