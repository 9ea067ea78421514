import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Connect, Plugin } from "vite";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The UI reads the chain's addresses from /deploy.json: the file scripts/deploy writes, read at each
// request so a redeploy needs no rebuild (EHR_DEPLOY_FILE overrides the path).
const deployFile = process.env.EHR_DEPLOY_FILE ?? fileURLToPath(new URL("../.localnet/deploy.json", import.meta.url));
const serveDeployFile: Connect.NextHandleFunction = (req, res, next) => {
  if (req.url?.split("?")[0] !== "/deploy.json") return next();
  try {
    const body = readFileSync(deployFile);
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
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

export default defineConfig({
  plugins: [react(), deployJson],
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true },
  // The signing client (CosmJS with the SDK's protobuf types, ~1 MB) is its own chunk, loaded after
  // the first screen (src/lib/ehr.ts); the warning for it says nothing new.
  build: { chunkSizeWarningLimit: 1100 },
  test: { include: ["src/**/*.test.ts", "e2e/**/*.test.ts"], environment: "node" },
});
