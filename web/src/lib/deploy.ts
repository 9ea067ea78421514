// The chain's addresses come from the deploy file scripts/deploy writes, served by Vite at /deploy.json.
import type { ChainInfo } from "@keplr-wallet/types";

export interface Deploy {
  chain_id: string;
  rpc_url: string;
  /** More RPC endpoints of the chain, tried after rpc_url when it does not answer (rpc.ts). */
  rpc_urls?: string[];
  rest_url: string;
  denom: string;
  gas_price: string;
  bech32_prefix: string;
  coin_type: number;
  admin: string;
  contracts: { registry: { code_id: number; address: string }; access: { code_id: number; address: string } };
  ipfs_api_url: string;
  ipfs_gateway_url: string;
}

export async function loadDeploy(url = "/deploy.json"): Promise<Deploy> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`The chain's deploy file is missing (${url} answered ${res.status}). Start the localnet and run scripts/deploy.`);
  return (await res.json()) as Deploy;
}

/** What Keplr's experimentalSuggestChain needs for the local chain; `rpc` is the endpoint the page uses. */
export function chainInfo(d: Deploy, rpc: string): ChainInfo {
  const p = d.bech32_prefix;
  const currency = { coinDenom: d.denom.toUpperCase(), coinMinimalDenom: d.denom, coinDecimals: 6 };
  return {
    chainId: d.chain_id,
    chainName: `ehr-chain (${d.chain_id})`,
    rpc,
    rest: d.rest_url,
    bip44: { coinType: d.coin_type },
    bech32Config: {
      bech32PrefixAccAddr: p,
      bech32PrefixAccPub: `${p}pub`,
      bech32PrefixValAddr: `${p}valoper`,
      bech32PrefixValPub: `${p}valoperpub`,
      bech32PrefixConsAddr: `${p}valcons`,
      bech32PrefixConsPub: `${p}valconspub`,
    },
    currencies: [currency],
    feeCurrencies: [{ ...currency, gasPriceStep: { low: 0, average: 0, high: 0 } }],
    stakeCurrency: currency,
    features: ["cosmwasm"],
  };
}
