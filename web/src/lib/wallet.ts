// Keplr login: suggest the local chain, enable it, and take its signer. Each way this can fail is a
// distinct state the UI explains (no Keplr, locked or refused, wrong chain).
import type { OfflineSigner } from "@cosmjs/proto-signing";
import type { Keplr } from "@keplr-wallet/types";
import { chainInfo, type Deploy } from "./deploy";

export type WalletState =
  | { status: "missing" }
  | { status: "locked"; detail: string }
  | { status: "wrong-chain"; detail: string }
  | { status: "connected"; address: string; name: string; signer: OfflineSigner; keplr: Keplr };

declare global {
  interface Window {
    keplr?: Keplr;
  }
}

/** Keplr injects itself after the page loads; wait briefly for it. */
export async function findKeplr(waitMs = 1500): Promise<Keplr | undefined> {
  const deadline = Date.now() + waitMs;
  while (!window.keplr && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return window.keplr;
}

export async function connectKeplr(deploy: Deploy, nodeChainId: string, rpcUrl: string): Promise<WalletState> {
  const keplr = await findKeplr();
  if (!keplr) return { status: "missing" };
  if (nodeChainId !== deploy.chain_id)
    return { status: "wrong-chain", detail: `The node runs chain ${nodeChainId}, but this page was set up for ${deploy.chain_id}. Redeploy, then reload.` };
  try {
    await keplr.experimentalSuggestChain(chainInfo(deploy, rpcUrl));
  } catch (e) {
    return { status: "wrong-chain", detail: `Keplr did not add the chain ${deploy.chain_id}: ${(e as Error).message}` };
  }
  try {
    await keplr.enable(deploy.chain_id);
  } catch (e) {
    return { status: "locked", detail: (e as Error).message };
  }
  const key = await keplr.getKey(deploy.chain_id);
  if (!key.bech32Address.startsWith(`${deploy.bech32_prefix}1`))
    return { status: "wrong-chain", detail: `Keplr gave the address ${key.bech32Address}, not a ${deploy.bech32_prefix}… one.` };
  return { status: "connected", address: key.bech32Address, name: key.name, signer: keplr.getOfflineSigner(deploy.chain_id), keplr };
}
