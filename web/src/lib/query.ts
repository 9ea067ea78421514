// Contract queries straight over CometBFT's abci_query. The first screen needs only these; the
// signing client, which brings most of CosmJS and its protobuf types, is loaded on the first
// transaction (Ehr.signing), so the page that lists a patient's records starts sooner.
import { fromUtf8, toUtf8 } from "@cosmjs/encoding";
import { Comet38Client, type RpcClient } from "@cosmjs/tendermint-rpc";
import type { CosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { QuerySmartContractStateRequest, QuerySmartContractStateResponse } from "cosmjs-types/cosmwasm/wasm/v1/query";

const SMART_QUERY_PATH = "/cosmwasm.wasm.v1.Query/SmartContractState";

export class ContractQuerier {
  private constructor(private readonly rpc: Comet38Client) {}

  /** Queries through `rpc` (rpc.ts FailoverRpc: the endpoint that answers). */
  static over(rpc: RpcClient): ContractQuerier {
    return new ContractQuerier(Comet38Client.create(rpc));
  }

  async chainId(): Promise<string> {
    return (await this.rpc.status()).nodeInfo.network;
  }

  /** Same result and error text as CosmJS's `queryContractSmart`, which the UI's error messages read. */
  async queryContractSmart(address: string, query: object): Promise<unknown> {
    const response = await this.rpc.abciQuery({
      path: SMART_QUERY_PATH,
      data: QuerySmartContractStateRequest.encode({ address, queryData: toUtf8(JSON.stringify(query)) }).finish(),
    });
    if (response.code) throw new Error(`Query failed with (${response.code}): ${response.log ?? ""}`);
    return JSON.parse(fromUtf8(QuerySmartContractStateResponse.decode(response.value).data));
  }

  /** The generated query clients call only `queryContractSmart`. */
  asCosmWasmClient(): CosmWasmClient {
    return this as unknown as CosmWasmClient;
  }
}
