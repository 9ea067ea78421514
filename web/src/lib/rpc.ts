// Several CometBFT RPC endpoints of the same chain (deploy.json: rpc_url, then rpc_urls), used one at
// a time as CosmJS's transport: a request the endpoint in use does not answer (a network error, no
// answer within the timeout, a gateway saying the node is unavailable) goes to the next endpoint,
// each at most once per request, and the page stays on the one that answered. An answer, an error
// answer included (a contract's refusal, "tx not found"), is never a reason to move on.
import { HttpClient, type RpcClient } from "@cosmjs/tendermint-rpc";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, toHex } from "../crypto/bytes";
import type { Deploy } from "./deploy";

type JsonRpcRequest = Parameters<RpcClient["execute"]>[0];
type JsonRpcSuccessResponse = Awaited<ReturnType<RpcClient["execute"]>>;

/** How long an endpoint has to answer one request (a node whose link is cut just hangs). */
export const RPC_TIMEOUT_MS = 5_000;

/** The deploy file's endpoints in order of preference: rpc_url, then rpc_urls; blanks and repeats dropped. */
export function rpcEndpoints(d: Pick<Deploy, "rpc_url" | "rpc_urls">): string[] {
  const urls = [d.rpc_url, ...(d.rpc_urls ?? [])].map((url) => url.trim()).filter((url) => url !== "");
  return [...new Set(urls)];
}

/**
 * Whether a request got no answer: fetch failed (a TypeError by the Fetch standard: refused, reset,
 * unresolvable), the timeout aborted it, or a gateway in front of the node said it is unavailable.
 */
export function unanswered(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  const e = error as { name?: unknown; cause?: { status?: unknown } } | null;
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return true;
  return e?.cause?.status === 502 || e?.cause?.status === 503 || e?.cause?.status === 504;
}

/** No endpoint answered. */
export class NodeDownError extends Error {
  constructor(readonly urls: string[]) {
    super(`No CometBFT RPC endpoint answers (${urls.join(", ")})`);
    this.name = "NodeDownError";
  }
}

/** What people read when the page moves to another endpoint. */
export function failoverNotice(unanswered: string[], now: string): string {
  return unanswered.length === 1
    ? `node ${unanswered[0]} does not answer; using ${now}`
    : `nodes ${unanswered.join(", ")} do not answer; using ${now}`;
}

export type Send = (url: string, request: JsonRpcRequest) => Promise<JsonRpcSuccessResponse>;

/** CosmJS's HTTP transport with a timeout, one client per endpoint. */
function httpSend(timeoutMs: number): Send {
  const clients = new Map<string, HttpClient>();
  return (url, request) => {
    let client = clients.get(url);
    if (!client) clients.set(url, (client = new HttpClient(url, timeoutMs)));
    return client.execute(request);
  };
}

export class FailoverRpc implements RpcClient {
  private at = 0;

  constructor(
    readonly urls: string[],
    private readonly send: Send = httpSend(RPC_TIMEOUT_MS),
    private readonly notice: (unanswered: string[], now: string) => void = (u, now) => console.warn(failoverNotice(u, now)),
  ) {
    if (!urls.length) throw new Error("The deploy file names no RPC endpoint (rpc_url).");
  }

  /** The endpoint in use. */
  get url(): string {
    return this.urls[this.at];
  }

  async execute(request: JsonRpcRequest): Promise<JsonRpcSuccessResponse> {
    const start = this.at;
    const missed: string[] = [];
    for (let step = 0; step < this.urls.length; step++) {
      const i = (start + step) % this.urls.length;
      let response: JsonRpcSuccessResponse;
      try {
        response = await this.send(this.urls[i], request);
      } catch (e) {
        if (unanswered(e)) {
          missed.push(this.urls[i]);
          continue;
        }
        this.settle(start, i, missed);
        if (missed.length && request.method === "broadcast_tx_sync") return maybeSent(request);
        throw e;
      }
      this.settle(start, i, missed);
      if (missed.length && request.method === "broadcast_tx_sync" && usedSequence(response)) return maybeSent(request);
      return response;
    }
    throw new NodeDownError(missed);
  }

  disconnect(): void {}

  /** Stays on the endpoint that answered; concurrent requests that failed over together announce it once. */
  private settle(start: number, at: number, missed: string[]): void {
    if (at === start || this.at !== start) return;
    this.at = at;
    this.notice(missed, this.urls[at]);
  }
}

/** CheckTx refused the transaction for its sequence (sdk code 32). */
function usedSequence(response: JsonRpcSuccessResponse): boolean {
  const result = response.result as { code?: unknown; codespace?: unknown } | undefined;
  return result?.code === 32 && result.codespace === "sdk";
}

/**
 * An endpoint that did not answer a broadcast may still have taken the transaction into its mempool;
 * then the next node refuses the same bytes as already seen (an error answer) or, once they committed,
 * by their used sequence. Only the hash tells, so the broadcast is reported accepted under the bytes'
 * hash: CosmJS then waits for that transaction (and times out if it never commits) instead of the
 * write being signed and sent again, which could commit it twice.
 */
function maybeSent(request: JsonRpcRequest): JsonRpcSuccessResponse {
  const tx = (request.params as { tx: string }).tx;
  return {
    jsonrpc: "2.0",
    id: request.id,
    result: { code: 0, data: "", log: "", codespace: "", hash: toHex(sha256(fromBase64(tx))).toUpperCase() },
  };
}
