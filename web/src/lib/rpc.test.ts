// Endpoint selection and fail-over of the page's RPC transport: the deploy file's endpoints in order,
// moving on only when an endpoint does not answer (real refused and silent sockets, and scripted
// answers), and a broadcast that may have reached a silent node is waited for by hash, never re-sent
// as a new transaction.
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, toBase64, toHex, utf8 } from "../crypto/bytes";
import { FailoverRpc, failoverNotice, NodeDownError, rpcEndpoints, unanswered, type Send } from "./rpc";

type Request = Parameters<Send>[1];
const request = (method: string, params: Request["params"] = {}): Request => ({ jsonrpc: "2.0", id: 7, method, params });
const ok = (result: unknown) => ({ jsonrpc: "2.0" as const, id: 7, result });

/** A scripted transport: each url answers with `answers[url]` (a result, or a thrown error), and the calls are recorded. */
function scripted(answers: Record<string, unknown | (() => never)>) {
  const calls: string[] = [];
  const send: Send = async (url) => {
    calls.push(url);
    const answer = answers[url];
    if (typeof answer === "function") answer();
    return ok(answer);
  };
  return { calls, send };
}
const refusedFetch = () => {
  throw new TypeError("fetch failed");
};
const timedOut = () => {
  throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
};
const rpcError = () => {
  throw new Error(JSON.stringify({ code: -32603, message: "Internal error", data: "tx already exists in cache" }));
};

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});
function listen(onConnection: (socket: Socket) => void): Promise<string> {
  const server = createServer(onConnection);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}
/** A port that was bound and closed again: connecting is refused. */
async function refusedPort(): Promise<string> {
  const url = await listen(() => undefined);
  await new Promise((resolve) => servers.pop()!.close(resolve));
  return url;
}
/** Accepts and never answers, like a node whose link is cut. */
const silentPort = () => listen((socket) => void sockets.push(socket));
/** Answers every request with a status result naming `network`. */
const answeringPort = (network: string) =>
  listen((socket) => {
    sockets.push(socket);
    socket.on("data", () => {
      const body = JSON.stringify(ok({ node_info: { network } }));
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
  });

describe("RPC endpoints of the deploy file", () => {
  it("are rpc_url, then rpc_urls, without blanks and repeats", () => {
    expect(rpcEndpoints({ rpc_url: "http://a:26657" })).toEqual(["http://a:26657"]);
    expect(rpcEndpoints({ rpc_url: "http://b:26657", rpc_urls: ["http://a:26657", " http://b:26657", "", "http://c:26657"] })).toEqual([
      "http://b:26657",
      "http://a:26657",
      "http://c:26657",
    ]);
  });

  it("a page without any endpoint says so", () => {
    expect(() => new FailoverRpc([])).toThrow(/no RPC endpoint/);
  });
});

describe("fail-over", () => {
  it("moves past endpoints that do not answer, in order, says so once and stays on the one that answered", async () => {
    const { calls, send } = scripted({ a: refusedFetch, b: timedOut, c: "status of c" });
    const notices: string[] = [];
    const rpc = new FailoverRpc(["a", "b", "c"], send, (u, now) => notices.push(failoverNotice(u, now)));
    expect((await rpc.execute(request("status"))).result).toBe("status of c");
    expect(rpc.url).toBe("c");
    expect(await rpc.execute(request("status"))).toEqual(ok("status of c"));
    expect(calls).toEqual(["a", "b", "c", "c"]);
    expect(notices).toEqual(["nodes a, b do not answer; using c"]);
  });

  it("wraps around from the endpoint in use, each endpoint at most once; all silent is NodeDownError naming them", async () => {
    const answers: Record<string, unknown> = { a: refusedFetch, b: "b answers", c: refusedFetch };
    const { calls, send } = scripted(answers);
    const rpc = new FailoverRpc(["a", "b", "c"], send, () => undefined);
    await rpc.execute(request("status"));
    answers.b = timedOut;
    calls.length = 0;
    const down = await rpc.execute(request("status")).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(NodeDownError);
    expect((down as NodeDownError).urls).toEqual(["b", "c", "a"]);
    expect(calls).toEqual(["b", "c", "a"]);
  });

  it("an error a node answers with is final: no fail-over", async () => {
    const { calls, send } = scripted({ a: rpcError, b: "b answers" });
    const rpc = new FailoverRpc(["a", "b"], send, () => undefined);
    await expect(rpc.execute(request("abci_query"))).rejects.toThrow(/already exists in cache/);
    expect(calls).toEqual(["a"]);
    expect(rpc.url).toBe("a");
  });

  it("knows a missing answer from an answer", () => {
    expect(unanswered(new TypeError("Failed to fetch"))).toBe(true);
    expect(unanswered(new DOMException("timeout", "TimeoutError"))).toBe(true);
    expect(unanswered(new Error("Bad status on response: 503", { cause: { status: 503, body: "" } }))).toBe(true);
    expect(unanswered(new Error("Bad status on response: 500", { cause: { status: 500, body: "" } }))).toBe(false);
    expect(unanswered(new Error('{"code":-32603,"message":"Internal error","data":"tx (AB) not found"}'))).toBe(false);
  });

  it("over real sockets: a refused port and a silent listener are passed over within the timeout", async () => {
    const [refused, silent, live] = [await refusedPort(), await silentPort(), await answeringPort("ehr-local-1")];
    const { HttpClient } = await import("@cosmjs/tendermint-rpc");
    const send: Send = (url, r) => new HttpClient(url, 300).execute(r);
    const notices: string[] = [];
    const rpc = new FailoverRpc([refused, silent, live], send, (u, now) => notices.push(failoverNotice(u, now)));
    const started = Date.now();
    expect((await rpc.execute(request("status"))).result).toEqual({ node_info: { network: "ehr-local-1" } });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(notices).toEqual([`nodes ${refused}, ${silent} do not answer; using ${live}`]);
    const down = new FailoverRpc([refused, silent], send, () => undefined);
    await expect(down.execute(request("status"))).rejects.toBeInstanceOf(NodeDownError);
  });
});

describe("a broadcast that failed over", () => {
  const tx = toBase64(utf8("signed transaction bytes"));
  const hash = toHex(sha256(fromBase64(tx))).toUpperCase();
  const wrongSequence = { code: 32, codespace: "sdk", log: "account sequence mismatch, expected 8, got 7", data: "", hash: "00" };

  it("sends the same bytes to the next endpoint", async () => {
    const { calls, send } = scripted({ a: timedOut, b: { code: 0, codespace: "", log: "", data: "", hash } });
    const rpc = new FailoverRpc(["a", "b"], send, () => undefined);
    expect((await rpc.execute(request("broadcast_tx_sync", { tx }))).result).toMatchObject({ code: 0, hash });
    expect(calls).toEqual(["a", "b"]);
  });

  it("is waited for by its hash when the next node refuses it as seen or by its used sequence", async () => {
    for (const refusal of [rpcError, wrongSequence]) {
      const rpc = new FailoverRpc(["a", "b"], scripted({ a: timedOut, b: refusal }).send, () => undefined);
      expect((await rpc.execute(request("broadcast_tx_sync", { tx }))).result).toEqual({ code: 0, data: "", log: "", codespace: "", hash });
    }
  });

  it("without a silent endpoint before, a node's refusal stands", async () => {
    const rpc = new FailoverRpc(["b"], scripted({ b: wrongSequence }).send, () => undefined);
    expect((await rpc.execute(request("broadcast_tx_sync", { tx }))).result).toEqual(wrongSequence);
    const refusing = new FailoverRpc(["b"], scripted({ b: rpcError }).send, () => undefined);
    await expect(refusing.execute(request("broadcast_tx_sync", { tx }))).rejects.toThrow(/already exists in cache/);
  });
});
