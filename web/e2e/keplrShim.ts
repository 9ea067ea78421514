// Test-only stand-in for the Keplr extension (no real extension can run here). The page gets a
// `window.keplr` with Keplr's API shape; every key stays in this Node process: the page calls
// exposed functions to sign (CosmJS DirectSecp256k1HdWallet for transactions, ADR-36 for signArbitrary).
import { Secp256k1HdWallet } from "@cosmjs/amino";
import { fromBase64, toBase64 } from "@cosmjs/encoding";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import type { BrowserContext } from "playwright-core";
import { signArbitrary } from "./adr36";

export interface ShimOptions {
  /** Keplr refuses `enable`, as a locked wallet or a refused connection does. */
  locked?: boolean;
  /** Keplr set to another chain: its addresses carry that chain's prefix. */
  prefix?: string;
}

/** Every signArbitrary request the stand-in was asked to sign (what Keplr would show in its prompt), in order. */
export const arbitrarySignRequests: { signer: string; data: string }[] = [];

export async function installKeplr(context: BrowserContext, mnemonic: string, options: ShimOptions = {}): Promise<string> {
  const prefix = options.prefix ?? "wasm";
  const direct = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix });
  const amino = await Secp256k1HdWallet.fromMnemonic(mnemonic, { prefix });
  const [account] = await direct.getAccounts();
  const suggested = new Set<string>();

  await context.exposeFunction("__keplrSuggest", (chainId: string) => void suggested.add(chainId));
  await context.exposeFunction("__keplrEnable", (chainId: string) => {
    if (options.locked) throw new Error("Request rejected");
    if (!suggested.has(chainId)) throw new Error(`There is no chain info for ${chainId}`);
  });
  await context.exposeFunction("__keplrKey", () => ({ address: account.address, pubKey: toBase64(account.pubkey) }));
  await context.exposeFunction("__keplrSignDirect", async (signer: string, doc: { bodyBytes: string; authInfoBytes: string; chainId: string; accountNumber: string }) => {
    const { signed, signature } = await direct.signDirect(signer, {
      bodyBytes: fromBase64(doc.bodyBytes),
      authInfoBytes: fromBase64(doc.authInfoBytes),
      chainId: doc.chainId,
      accountNumber: BigInt(doc.accountNumber),
    });
    return {
      signed: { bodyBytes: toBase64(signed.bodyBytes), authInfoBytes: toBase64(signed.authInfoBytes), chainId: signed.chainId, accountNumber: signed.accountNumber.toString() },
      signature,
    };
  });
  await context.exposeFunction("__keplrSignArbitrary", (signer: string, data: string) => {
    arbitrarySignRequests.push({ signer, data });
    return signArbitrary(amino, signer, data);
  });

  await context.addInitScript(() => {
    const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    const w = window as unknown as Record<string, (...a: unknown[]) => Promise<never>>;
    const key = async () => {
      const k = (await w.__keplrKey()) as { address: string; pubKey: string };
      return { name: "e2e", algo: "secp256k1", pubKey: b64(k.pubKey), address: new Uint8Array(20), bech32Address: k.address, isNanoLedger: false, isKeystone: false };
    };
    const signer = {
      getAccounts: async () => {
        const k = await key();
        return [{ address: k.bech32Address, algo: "secp256k1", pubkey: k.pubKey }];
      },
      signDirect: async (signerAddress: string, doc: { bodyBytes: Uint8Array; authInfoBytes: Uint8Array; chainId: string; accountNumber: bigint }) => {
        const enc = (u: Uint8Array) => btoa(String.fromCharCode(...u));
        const r = (await w.__keplrSignDirect(signerAddress, {
          bodyBytes: enc(doc.bodyBytes), authInfoBytes: enc(doc.authInfoBytes), chainId: doc.chainId, accountNumber: doc.accountNumber.toString(),
        })) as { signed: { bodyBytes: string; authInfoBytes: string; chainId: string; accountNumber: string }; signature: unknown };
        return {
          signed: { bodyBytes: b64(r.signed.bodyBytes), authInfoBytes: b64(r.signed.authInfoBytes), chainId: r.signed.chainId, accountNumber: BigInt(r.signed.accountNumber) },
          signature: r.signature,
        };
      },
    };
    Object.defineProperty(window, "keplr", {
      value: {
        experimentalSuggestChain: (info: { chainId: string }) => w.__keplrSuggest(info.chainId),
        enable: (chainId: string) => w.__keplrEnable(chainId),
        getKey: key,
        getOfflineSigner: () => signer,
        signArbitrary: (_chainId: string, signerAddress: string, data: string) => w.__keplrSignArbitrary(signerAddress, data),
      },
    });
  });
  return account.address;
}
