// The security headers of the served UI (vite.config.ts) and the CSP built from the deploy file.
import { describe, expect, it } from "vitest";
import { connectSources, contentSecurityPolicy, cspOrigin, FALLBACK_CONNECT_SRC, securityHeaders } from "./securityHeaders";

const deploy = { chain_id: "ehr-local-1", rpc_url: "http://127.0.0.1:26657", rest_url: "http://127.0.0.1:1317", ipfs_api_url: "http://127.0.0.1:5001", ipfs_gateway_url: "http://127.0.0.1:8080" };
const directives = (csp: string) => new Map(csp.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));

describe("security headers", () => {
  it("the served UI's exact policy, connect-src from the deploy file's RPC and kubo API", () => {
    expect(securityHeaders(deploy)).toEqual({
      "Content-Security-Policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' http://127.0.0.1:26657 http://127.0.0.1:5001; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      "X-Frame-Options": "DENY",
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    });
  });

  it("allows every RPC endpoint the page may fail over to", () => {
    expect(connectSources({ ...deploy, rpc_urls: ["http://127.0.0.1:26657", "http://10.77.0.12:26657/"] })).toEqual([
      "http://127.0.0.1:26657",
      "http://10.77.0.12:26657",
      "http://127.0.0.1:5001",
    ]);
  });

  it("never allows inline script, eval, the REST URL or the IPFS gateway", () => {
    const csp = securityHeaders(deploy)["Content-Security-Policy"];
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).not.toContain(":1317");
    expect(csp).not.toContain(":8080");
  });

  it("falls back to any loopback port without a (usable) deploy file", () => {
    for (const d of [
      undefined,
      null,
      "nonsense",
      {},
      { rpc_url: "http://127.0.0.1:26657" },
      { rpc_url: 5, ipfs_api_url: "http://127.0.0.1:5001" },
      { ...deploy, rpc_urls: "http://10.77.0.12:26657" },
      { ...deploy, rpc_urls: ["http://10.77.0.12:26657", "http://h;script-src 'unsafe-inline'"] },
    ]) {
      expect(connectSources(d)).toEqual([...FALLBACK_CONNECT_SRC]);
    }
    expect(securityHeaders(undefined)["Content-Security-Policy"]).toContain("connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*;");
  });

  it("takes only the origin of each URL, and refuses anything that could add a directive or a wildcard", () => {
    expect(cspOrigin("http://127.0.0.1:26657/some/path?x=1")).toBe("http://127.0.0.1:26657");
    expect(cspOrigin("https://RPC.Example.org")).toBe("https://rpc.example.org");
    expect(cspOrigin("ws://127.0.0.1:26657/websocket")).toBe("ws://127.0.0.1:26657");
    expect(cspOrigin("http://[::1]:5001")).toBe("http://[::1]:5001");
    for (const bad of ["http://a;script-src:1", "http://*.example.org", "javascript:alert(1)", "data:text/plain,x", "file:///etc/passwd", "not a url", 26657, null]) {
      expect(cspOrigin(bad)).toBeUndefined();
    }
    expect(connectSources({ rpc_url: "http://h;script-src 'unsafe-inline'", ipfs_api_url: "http://127.0.0.1:5001" })).toEqual([...FALLBACK_CONNECT_SRC]);
    expect(connectSources({ rpc_url: "http://127.0.0.1:5001", ipfs_api_url: "http://127.0.0.1:5001/" })).toEqual(["http://127.0.0.1:5001"]);
  });

  it("the dev server's policy adds only its preamble hash, inline styles and the HMR socket", () => {
    const prod = directives(contentSecurityPolicy(connectSources(deploy)));
    const dev = directives(contentSecurityPolicy(connectSources(deploy), { hmrOrigin: "ws://127.0.0.1:5173", scriptHashes: ["sha256-abc="] }));
    expect(dev.get("script-src")).toEqual(["'self'", "'sha256-abc='"]);
    expect(dev.get("style-src")).toEqual(["'self'", "'unsafe-inline'"]);
    expect(dev.get("connect-src")).toEqual([...prod.get("connect-src")!, "ws://127.0.0.1:5173"]);
    for (const k of ["default-src", "img-src", "object-src", "base-uri", "form-action", "frame-ancestors"]) expect(dev.get(k)).toEqual(prod.get(k));
  });
});
