// The response headers of the served UI (vite.config.ts: `preview.headers`, and `server.headers` for
// `npm run dev`). Pure: the config reads the deploy file and passes its contents in; unit-tested.
//
// What the app loads, and so all the policy allows:
//   - scripts: its own module chunks (Vite emits no inline script in a build) — no 'unsafe-inline', no eval;
//   - styles: one stylesheet file; React's `style={{…}}` props are set through the CSSOM, which CSP does
//     not restrict, so no 'unsafe-inline' for styles either (the dev server needs it, see below);
//   - fetches: /deploy.json from its own origin, CometBFT's RPC (rpc_url and any rpc_urls, rpc.ts fails
//     over between them) and kubo's API (ipfs_api_url).
//     Keplr talks to the chain's REST URL from the extension, not from the page; the IPFS gateway is
//     never used by the page.

/** Used when there is no (readable) deploy file: any loopback port, as the localnet only listens there. */
export const FALLBACK_CONNECT_SRC = ["http://127.0.0.1:*", "ws://127.0.0.1:*"] as const;

// scheme://host[:port], nothing else: a deploy file must not be able to add directives (";") or wildcards.
const ORIGIN = /^(https?|wss?):\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

/** The origin of a URL as a CSP source expression, or undefined when it is not a plain http(s)/ws(s) origin. */
export function cspOrigin(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return undefined;
  }
  return ORIGIN.test(origin) ? origin : undefined;
}

/** connect-src beyond 'self': the RPC endpoints and kubo API the deploy file names, else the loopback fallback. */
export function connectSources(deploy: unknown): string[] {
  const d = (deploy && typeof deploy === "object" ? deploy : {}) as Record<string, unknown>;
  const more = d.rpc_urls ?? [];
  if (!Array.isArray(more)) return [...FALLBACK_CONNECT_SRC];
  const rpcs = [d.rpc_url, ...more].map(cspOrigin);
  const ipfs = cspOrigin(d.ipfs_api_url);
  if (rpcs.some((rpc) => !rpc) || !ipfs) return [...FALLBACK_CONNECT_SRC];
  return [...new Set([...(rpcs as string[]), ipfs])];
}

export interface DevServer {
  /** The HMR websocket's origin (ws://host:port of the dev server). */
  hmrOrigin: string;
  /** 'sha256-…' of the inline scripts the dev server injects (the React Refresh preamble). */
  scriptHashes: string[];
}

/**
 * The Content-Security-Policy. `dev` loosens it for the Vite dev server only: its inline React Refresh
 * preamble (allowed by hash), the <style> elements its client injects for CSS ('unsafe-inline' for
 * styles), and its HMR websocket. The built UI (`vite preview`, scripts/serve-web, the e2e) gets none of that.
 */
export function contentSecurityPolicy(connect: readonly string[], dev?: DevServer): string {
  const directives: [string, ...string[]][] = [
    ["default-src", "'none'"],
    ["script-src", "'self'", ...(dev?.scriptHashes.map((h) => `'${h}'`) ?? [])],
    ["style-src", "'self'", ...(dev ? ["'unsafe-inline'"] : [])],
    ["img-src", "'self'", "data:"],
    ["connect-src", "'self'", ...connect, ...(dev ? [dev.hmrOrigin] : [])],
    ["object-src", "'none'"],
    ["base-uri", "'none'"],
    ["form-action", "'self'"],
    ["frame-ancestors", "'none'"],
  ];
  return directives.map((d) => d.join(" ")).join("; ");
}

/** Every security header of the UI's responses. */
export function securityHeaders(deploy: unknown, dev?: DevServer): Record<string, string> {
  return {
    "Content-Security-Policy": contentSecurityPolicy(connectSources(deploy), dev),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
}
