// Shared set-up of the browser tests: the built UI served by `vite preview` (with /deploy.json), Debian's
// Chromium through playwright-core, one browser context per person with the Keplr stand-in.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { build, preview, type PreviewServer } from "vite";
import { installKeplr, type ShimOptions } from "./keplrShim";

const root = fileURLToPath(new URL("..", import.meta.url));
export const RESULTS = fileURLToPath(new URL("../test-results/", import.meta.url));
export const deploy = JSON.parse(readFileSync(fileURLToPath(new URL("../../.localnet/deploy.json", import.meta.url)), "utf8"));
const accounts: { name: string; address: string; mnemonic: string }[] = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../chain/localnet-accounts.json", import.meta.url)), "utf8"),
).accounts;
export const account = (name: string) => accounts.find((a) => a.name === name)!;

export interface Harness {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  await build({ root, logLevel: "warn" });
  const server: PreviewServer = await preview({ root, preview: { host: "127.0.0.1", port: 4173, strictPort: true } });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    url: "http://127.0.0.1:4173/",
    browser,
    close: async () => {
      await browser.close();
      await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    },
  };
}

export interface Person {
  address: string;
  context: BrowserContext;
  page: Page;
}

/**
 * A browser context logged in as a localnet account by name, or as any wallet given by its mnemonic
 * (an account the test made), or with no wallet at all when `who` is null.
 */
export async function personAs(h: Harness, who: string | { name: string; mnemonic: string } | null, options?: ShimOptions): Promise<Person> {
  const context = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(45_000);
  const name = typeof who === "string" ? who : who?.name;
  const address = who ? await installKeplr(context, typeof who === "string" ? account(who).mnemonic : who.mnemonic, options) : "";
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${name}] page error: ${e.message}`));
  await page.goto(h.url);
  return { address, context, page };
}

/** axe-core violations with impact serious or critical. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
}
