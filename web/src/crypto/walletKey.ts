// The wallet-derived X25519 key (FORMAT.md §5): HKDF-SHA256 over the ADR-36 signature r||s of a fixed
// message, so the same mnemonic gives the same key in Keplr and in the CLI.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { fromBase64, toBase64, utf8 } from "./bytes";
import { CryptoError } from "./errors";

export const KEY_DERIVATION_MESSAGE = "ehr-chain key derivation v1";
const HKDF_SALT = "ehr-chain/x25519-from-adr36/v1";
const HKDF_INFO = "ehr-chain x25519 secret key";

export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function x25519FromSignature(signatureRS: Uint8Array): X25519KeyPair {
  if (signatureRS.length !== 64) throw new CryptoError("BadKey", "an ADR-36 signature is 64 bytes r||s");
  const secretKey = hkdf(sha256, signatureRS, utf8(HKDF_SALT), utf8(HKDF_INFO), 32);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** What this needs of Keplr: `signArbitrary` (ADR-36), returning the signature base64 like Keplr's StdSignature. */
export interface ArbitrarySigner {
  signArbitrary(chainId: string, signer: string, data: string): Promise<{ signature: string }>;
}

export async function deriveWalletKey(wallet: ArbitrarySigner, chainId: string, address: string): Promise<X25519KeyPair> {
  const { signature } = await wallet.signArbitrary(chainId, address, KEY_DERIVATION_MESSAGE);
  return x25519FromSignature(fromBase64(signature));
}

export const publicKeyBase64 = (kp: X25519KeyPair): string => toBase64(kp.publicKey);
