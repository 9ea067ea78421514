// The test wallet's signArbitrary reproduces the Rust vectors' ADR-36 signatures, so the e2e tests'
// Keplr stand-in derives the same X25519 keys as Keplr and the CLI.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Secp256k1HdWallet, serializeSignDoc } from "@cosmjs/amino";
import { describe, expect, it } from "vitest";
import { fromBase64, toHex } from "../src/crypto/bytes";
import { x25519FromSignature } from "../src/crypto/walletKey";
import { adr36SignDoc, signArbitrary } from "./adr36";

const vectors = JSON.parse(readFileSync(fileURLToPath(new URL("../../packages/ehr-crypto/test-vectors.json", import.meta.url)), "utf8"));

describe.each(vectors.wallets as { name: string; mnemonic: string; address: string; adr36_data_utf8: string; adr36_sign_doc_utf8: string; adr36_signature_base64: string; x25519_public_key_hex: string }[])(
  "wallet $name",
  (w) => {
    it("ADR-36 sign doc, signature and X25519 key match the vector", async () => {
      const wallet = await Secp256k1HdWallet.fromMnemonic(w.mnemonic, { prefix: "wasm" });
      const [{ address }] = await wallet.getAccounts();
      expect(address).toBe(w.address);
      expect(new TextDecoder().decode(serializeSignDoc(adr36SignDoc(address, w.adr36_data_utf8)))).toBe(w.adr36_sign_doc_utf8);
      const sig = await signArbitrary(wallet, address, w.adr36_data_utf8);
      expect(sig.signature).toBe(w.adr36_signature_base64);
      expect(toHex(x25519FromSignature(fromBase64(sig.signature)).publicKey)).toBe(w.x25519_public_key_hex);
    });
  },
);
