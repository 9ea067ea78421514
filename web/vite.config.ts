import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Connect, Plugin } from "vite";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { securityHeaders } from "./src/lib/securityHeaders.ts";

// The UI reads the chain's addresses from /deploy.json: the file scripts/deploy writes, read at each
// request so a redeploy needs no rebuild (EHR_DEPLOY_FILE overrides the path).
const deployFile = process.env.EHR_DEPLOY_FILE ?? fileURLToPath(new URL("../.localnet/deploy.json", import.meta.url));
const serveDeployFile: Connect.NextHandleFunction = (req, res, next) => {
  if (req.url?.split("?")[0] !== "/deploy.json") return next();
  try {
    const body = readFileSync(deployFile);
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    res.setHeader("x-content-type-options", "nosniff");
    res.end(body);
  } catch {
    res.statusCode = 404;
    res.end(JSON.stringify({ error: `no deploy file at ${deployFile}: run scripts/localnet up && scripts/deploy` }));
  }
};
const deployJson: Plugin = {
  name: "ehr-deploy-json",
  configureServer: (server) => void server.middlewares.use(serveDeployFile),
  configurePreviewServer: (server) => void server.middlewares.use(serveDeployFile),
};

// Security headers (src/lib/securityHeaders.ts). The page fetches from the RPC and kubo API the deploy
// file names, so connect-src is derived from that file when the server starts (restart the server
// after a deploy that moves them); without a readable file, any loopback port.
const readDeploy = (): unknown => {
  try {
    return JSON.parse(readFileSync(deployFile, "utf8"));
  } catch {
    return undefined;
  }
};
const DEV = { host: "127.0.0.1", port: 5173 };
// The dev server's only inline script: @vitejs/plugin-react's React Refresh preamble (base "/").
const preambleHash = `sha256-${createHash("sha256").update(react.preambleCode.replace("__BASE__", "/")).digest("base64")}`;

export default defineConfig({
  plugins: [react(), deployJson],
  server: {
    ...DEV,
    strictPort: true,
    headers: securityHeaders(readDeploy(), { hmrOrigin: `ws://${DEV.host}:${DEV.port}`, scriptHashes: [preambleHash] }),
  },
  // Set explicitly: preview.headers would otherwise default to the dev server's looser set.
  preview: { host: "127.0.0.1", port: 4173, strictPort: true, headers: securityHeaders(readDeploy()) },
  // The signing client (CosmJS with the SDK's protobuf types, ~1 MB) is its own chunk, loaded after
  // the first screen (src/lib/ehr.ts); the warning for it says nothing new.
  build: { chunkSizeWarningLimit: 1100 },
  test: { include: ["src/**/*.test.ts", "e2e/**/*.test.ts"], environment: "node" },
});
