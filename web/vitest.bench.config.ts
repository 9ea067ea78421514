// The web UI benchmark (bench/): a patient with 10,000 records on the live localnet.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { include: ["bench/**/*.e2e.ts"], environment: "node", testTimeout: 1_800_000, hookTimeout: 180_000 },
});
