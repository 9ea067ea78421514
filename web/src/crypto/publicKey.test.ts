// The chain's form rules the browser seals by (ehr-types validate.rs): public keys are canonical X25519
// points not of small order, envelopes are exactly 80 bytes and sealed shares exactly 81.
import { x25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { fromBase64, fromHex, toBase64 } from "./bytes";
import { ENVELOPE_LEN, sealEnvelope } from "./envelope";
import { SEALED_SHARE_LEN, sealShare, splitKey } from "./escrow";
import { publicKeyOf, usablePublicKey } from "./publicKey";

const LOW_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

describe("public keys anything may be sealed to", () => {
  it("a real key is usable, as ehr-types' sample [7; 32] is", () => {
    expect(usablePublicKey(x25519.getPublicKey(x25519.utils.randomSecretKey()))).toBe(true);
    expect(usablePublicKey(new Uint8Array(32).fill(7))).toBe(true);
  });
  it("refuses every point of small order", () => {
    for (const h of LOW_ORDER) expect(usablePublicKey(fromHex(h)), h).toBe(false);
  });
  it("refuses encodings at or above p and with the top bit set; p - 20 is canonical", () => {
    const p = fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    expect(usablePublicKey(p)).toBe(false);
    const pPlus1 = p.slice();
    pPlus1[0] = 0xee;
    expect(usablePublicKey(pPlus1)).toBe(false);
    const belowP = p.slice();
    belowP[0] = 0xd9; // p - 20: below p, not of small order
    expect(usablePublicKey(belowP)).toBe(true);
    const top = new Uint8Array(32).fill(7);
    top[31] |= 0x80;
    expect(usablePublicKey(top)).toBe(false);
  });
  it("refuses other lengths; publicKeyOf reads base64 and says undefined for what it refuses", () => {
    expect(usablePublicKey(new Uint8Array(31).fill(7))).toBe(false);
    expect(usablePublicKey(new Uint8Array(33).fill(7))).toBe(false);
    expect(publicKeyOf(toBase64(new Uint8Array(32).fill(7)))).toEqual(new Uint8Array(32).fill(7));
    expect(publicKeyOf(toBase64(fromHex(LOW_ORDER[2])))).toBeUndefined();
    expect(publicKeyOf("not base64!")).toBeUndefined();
    expect(publicKeyOf(null)).toBeUndefined();
  });
});

describe("sealed lengths the chain accepts", () => {
  const recipient = x25519.getPublicKey(x25519.utils.randomSecretKey());
  it(`an envelope is ${ENVELOPE_LEN} bytes`, async () => {
    expect(ENVELOPE_LEN).toBe(80);
    const envelope = await sealEnvelope(recipient, crypto.getRandomValues(new Uint8Array(32)), { patientId: 3, category: "lab", epoch: 2 });
    expect(fromBase64(envelope)).toHaveLength(80);
  });
  it(`a sealed share is ${SEALED_SHARE_LEN} bytes`, async () => {
    expect(SEALED_SHARE_LEN).toBe(81);
    const [share] = splitKey(crypto.getRandomValues(new Uint8Array(32)), 2, 3);
    const sealed = await sealShare(recipient, share, { patientId: 3, category: "allergy", epoch: 1, setVersion: 1 });
    expect(fromBase64(sealed)).toHaveLength(81);
  });
});
