// The wallet-derived X25519 key (FORMAT.md §5): HKDF-SHA256 over the ADR-36 signature r||s of the key
// derivation message for one chain and registry contract, so the same mnemonic gives the same key in
// Keplr and in the CLI, and a signature another site, chain or registry asks for derives another key.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { fromBase64, toBase64, utf8 } from "./bytes";
import { CryptoError } from "./errors";

/** The message Keplr shows and the wallet signs, with `{chain_id}` and `{registry}` filled in (packages/ehr-crypto wallet.rs). Changing it changes every key. */
export const KEY_DERIVATION_TEMPLATE =
  "ehr-chain: unlock your health records\n\nSigning this creates the key that opens your health records on chain {chain_id} (records contract {registry}).\n\nSign it only in the ehr-chain app. Anyone who gets this signature can read every record shared with you.\n\nehr-chain key derivation v2";

/** Where a derived key is used: the chain id and the registry contract's address. */
export interface KeyScope {
  chainId: string;
  registry: string;
}

/** The message the wallet signs for `scope`: what the user reads in Keplr's prompt. */
export const keyDerivationMessage = (scope: KeyScope): string => KEY_DERIVATION_TEMPLATE.replaceAll("{chain_id}", scope.chainId).replaceAll("{registry}", scope.registry);
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

/** Asks the wallet once for the signature of `scope`'s message (Ehr.open, once per session) and derives the key from it. */
export async function deriveWalletKey(wallet: ArbitrarySigner, scope: KeyScope, address: string): Promise<X25519KeyPair> {
  const { signature } = await wallet.signArbitrary(scope.chainId, address, keyDerivationMessage(scope));
  return x25519FromSignature(fromBase64(signature));
}

export const publicKeyBase64 = (kp: X25519KeyPair): string => toBase64(kp.publicKey);
