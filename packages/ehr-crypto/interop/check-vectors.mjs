// Independent check of ehr-crypto's test-vectors.json with Keplr's own code (mnemonic → key,
// ADR-36 sign doc, signDigest32), @noble (X25519, HKDF, XChaCha20-Poly1305) and @hpke/core.
// Run: cd packages/ehr-crypto/interop && npm install && node check-vectors.mjs ../test-vectors.json
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { sha256 } from "@noble/hashes/sha2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { ripemd160 } from "@noble/hashes/legacy.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { bech32 } from "@scure/base";
import { CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";

const require = createRequire(import.meta.url);
const { makeADR36AminoSignDoc, verifyADR36Amino, serializeSignDoc } = require("@keplr-wallet/cosmos");
const { Mnemonic, PrivKeySecp256k1 } = require("@keplr-wallet/crypto");

const v = JSON.parse(readFileSync(process.argv[2], "utf8"));
const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const utf8 = (s) => new TextEncoder().encode(s);
let passed = 0, failed = 0;
const eq = (what, a, b) => { if (a === b) passed++; else { failed++; console.log(`FAIL ${what}\n  got  ${a}\n  want ${b}`); } };
const be = (n, bytes) => { const out = new Uint8Array(bytes); let x = BigInt(n); for (let i = bytes - 1; i >= 0; i--) { out[i] = Number(x & 0xffn); x >>= 8n; } return out; };
const cat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };

for (const w of v.wallets) {
  const priv = Mnemonic.generateWalletFromMnemonic(w.mnemonic, w.hd_path);
  eq(`${w.name} secp256k1 secret (Keplr)`, hex(priv), w.secp256k1_secret_key_hex);
  const key = new PrivKeySecp256k1(priv);
  const pub = key.getPubKey().toBytes();
  eq(`${w.name} pubkey (Keplr)`, hex(pub), w.secp256k1_public_key_compressed_hex);
  const addr = bech32.encode(v.constants.bech32_prefix, bech32.toWords(ripemd160(sha256(pub))));
  eq(`${w.name} address`, addr, w.address);
  const doc = serializeSignDoc(makeADR36AminoSignDoc(w.address, w.adr36_data_utf8));
  eq(`${w.name} ADR-36 sign doc (Keplr)`, Buffer.from(doc).toString("utf8"), w.adr36_sign_doc_utf8);
  const { r, s } = key.signDigest32(sha256(doc));
  eq(`${w.name} signature (Keplr signDigest32)`, hex(cat(r, s)), w.adr36_signature_hex);
  eq(`${w.name} signature verifies (Keplr verifyADR36Amino)`,
    verifyADR36Amino("wasm", w.address, w.adr36_data_utf8, pub, unhex(w.adr36_signature_hex)), true);
  const sec = hkdf(sha256, unhex(w.adr36_signature_hex), utf8(v.constants.x25519_hkdf_salt_utf8), utf8(v.constants.x25519_hkdf_info_utf8), 32);
  eq(`${w.name} x25519 secret`, hex(sec), w.x25519_secret_key_hex);
  eq(`${w.name} x25519 public`, hex(x25519.getPublicKey(sec)), w.x25519_public_key_hex);
}

for (const f of v.files) {
  const fields = cat(unhex(v.constants.file_magic_hex), new Uint8Array([v.constants.file_format_version]),
    be(f.patient_id, 8), new Uint8Array([f.category_code]), be(f.epoch, 4), be(f.record_version, 4));
  eq(`${f.name} header fields`, hex(fields), f.header_fields_hex);
  const wrapped = xchacha20poly1305(unhex(f.category_key_hex), unhex(f.wrap_nonce_hex), fields).encrypt(unhex(f.data_key_hex));
  eq(`${f.name} wrapped data key`, hex(wrapped), f.wrapped_data_key_hex);
  const header = cat(fields, unhex(f.wrap_nonce_hex), wrapped, unhex(f.content_nonce_hex));
  eq(`${f.name} header`, hex(header), f.header_hex);
  const body = xchacha20poly1305(unhex(f.data_key_hex), unhex(f.content_nonce_hex), header).encrypt(unhex(f.plaintext_hex));
  const file = cat(header, body);
  eq(`${f.name} file`, hex(file), f.file_hex);
  eq(`${f.name} sha256`, hex(sha256(file)), f.file_sha256_hex);
}

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
for (const e of v.envelopes) {
  const info = cat(utf8(v.constants.envelope_info_label_utf8), be(e.patient_id, 8), new Uint8Array([e.category_code]), be(e.epoch, 4));
  eq(`${e.name} info`, hex(info), e.info_hex);
  const eph = await suite.kem.deriveKeyPair(unhex(e.ephemeral_ikm_hex).buffer);
  eq(`${e.name} enc = DeriveKeyPair(ikmE).pk`, hex(new Uint8Array(await suite.kem.serializePublicKey(eph.publicKey))), e.enc_hex);
  const env = new Uint8Array(Buffer.from(e.envelope_base64, "base64"));
  const recipientKey = await suite.kem.importKey("raw", unhex(e.recipient_x25519_secret_key_hex).buffer, false);
  const pt = await suite.open({ recipientKey, enc: env.slice(0, 32).buffer, info: info.buffer }, env.slice(32).buffer);
  eq(`${e.name} opens to the category key (@hpke/core)`, hex(new Uint8Array(pt)), e.category_key_hex);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
