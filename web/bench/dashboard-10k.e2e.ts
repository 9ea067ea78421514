// Benchmark (issue 6): a patient with 10,000 records on the live localnet — first dashboard render and
// filter changes, in ms, in Debian's Chromium. The records are real: each is an encrypted file in kubo
// registered with AddRecords (500 per transaction), sealed under category keys whose envelopes are on chain.
// Run: scripts/test-web --bench (needs a fresh localnet; takes minutes to seed).
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { Secp256k1HdWallet } from "@cosmjs/amino";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";
import { randomBytes } from "@noble/ciphers/utils.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Category } from "../src/contracts/EhrRegistry.types";
import { toBase64 } from "../src/crypto/bytes";
import { RECORD_CATEGORIES } from "../src/crypto/categories";
import { sealEnvelope } from "../src/crypto/envelope";
import { encryptFile, sha256Hex } from "../src/crypto/file";
import { KEY_DERIVATION_MESSAGE, x25519FromSignature } from "../src/crypto/walletKey";
import { recordDocument } from "../src/lib/records";
import { signArbitrary } from "../e2e/adr36";
import { account, deploy, personAs, startHarness, type Harness } from "../e2e/harness";

const RECORDS = Number(process.env.EHR_BENCH_RECORDS ?? 10_000);
const PER_TX = 500;
const FIRST_RENDER_RUNS = 3;
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

async function ipfsAdd(bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([bytes.slice().buffer as ArrayBuffer]), "blob");
  const res = await fetch(`${deploy.ipfs_api_url}/api/v0/add?pin=true&cid-version=1&raw-leaves=true`, { method: "POST", body: form });
  return `ipfs://${((await res.json()) as { Hash: string }).Hash}`;
}

it(`a patient with ${RECORDS} records: first render and filter changes`, { timeout: 1_800_000 }, async () => {
  const me = account("patient3");
  const direct = await DirectSecp256k1HdWallet.fromMnemonic(me.mnemonic, { prefix: "wasm" });
  const amino = await Secp256k1HdWallet.fromMnemonic(me.mnemonic, { prefix: "wasm" });
  const client = await SigningCosmWasmClient.connectWithSigner(deploy.rpc_url, direct, { gasPrice: GasPrice.fromString(deploy.gas_price) });
  const reg = deploy.contracts.registry.address, acc = deploy.contracts.access.address;
  const wallet = x25519FromSignature(Buffer.from((await signArbitrary(amino, me.address, KEY_DERIVATION_MESSAGE)).signature, "base64"));

  const t0 = Date.now();
  await client.execute(me.address, reg, { register_patient: { encryption_key: toBase64(wallet.publicKey), profile: null } }, "auto");
  const { patient_id: patientId } = await client.queryContractSmart(reg, { designation: { address: me.address } });
  const keys = new Map<Category, Uint8Array>(RECORD_CATEGORIES.map((c) => [c, randomBytes(32)]));
  const envelopes = await Promise.all(RECORD_CATEGORIES.map(async (c) => ({ category: c, epoch: 0, envelope: await sealEnvelope(wallet.publicKey, keys.get(c)!, { patientId, category: c, epoch: 0 }) })));
  await client.execute(me.address, acc, { store_own_envelopes: { patient_id: patientId, key_envelopes: envelopes } }, "auto");
  for (let start = 0; start < RECORDS; start += PER_TX) {
    const indexes = Array.from({ length: Math.min(PER_TX, RECORDS - start) }, (_, k) => start + k);
    const records = await Promise.all(
      indexes.map(async (i) => {
        const category = RECORD_CATEGORIES[i % RECORD_CATEGORIES.length];
        const day = new Date(Date.UTC(2020, 0, 1) + (i % 2000) * 86_400_000).toISOString().slice(0, 10);
        const file = encryptFile(recordDocument(category, { title: `Record ${i}`, date: day, text: `benchmark entry ${i} ${i % 7 === 0 ? "asthma" : "routine"}` }), { patientId, category, epoch: 0, recordVersion: 1 }, keys.get(category)!);
        return { category, blob: { sha256: sha256Hex(file), uri: await ipfsAdd(file), size: file.length } };
      }),
    );
    await client.execute(me.address, reg, { add_records: { patient_id: patientId, records } }, "auto");
  }
  const seeded = (Date.now() - t0) / 1000;

  // Each run is a new browser context, so nothing is cached from the run before.
  const firstRenders: number[] = [];
  for (let run = 1; run < FIRST_RENDER_RUNS; run++) {
    const cold = await personAs(h, "patient3");
    await cold.page.locator("tr[data-record-id]").nth(19).waitFor();
    firstRenders.push(await cold.page.evaluate(() => performance.now()));
    await cold.context.close();
  }
  const p = await personAs(h, "patient3"); // timing starts at navigation (inside personAs)
  const nav = await p.page.evaluate(() => performance.now());
  await p.page.locator("tr[data-record-id]").nth(19).waitFor();
  const firstRows = await p.page.evaluate(() => performance.now());
  firstRenders.push(firstRows);
  await p.page.locator('tr[data-record-id] [data-integrity="unchecked"]').first().waitFor({ state: "detached", timeout: 120_000 });
  const allVerified = await p.page.evaluate(() => performance.now());
  expect(await p.page.locator('tr[data-record-id] [data-integrity="verified"]').count()).toBe(20);

  // Filter change on chain (category → records_by_patient with category) and in the browser (free text).
  let t = Date.now();
  await p.page.getByLabel("Category").nth(1).selectOption("lab");
  await p.page.locator("tr[data-record-id]").filter({ hasText: "lab" }).nth(19).waitFor();
  await p.page.locator("tr[data-record-id]").filter({ hasNotText: "lab" }).first().waitFor({ state: "detached" });
  const categoryMs = Date.now() - t;
  t = Date.now();
  await p.page.getByLabel("Search").fill("asthma");
  await p.page.locator("tr[data-record-id]").filter({ hasNotText: "Record" }).first().waitFor({ state: "detached" });
  await p.page.getByText(/of 100 loaded records match/).waitFor();
  const textMs = Date.now() - t;

  console.log(`BENCH web: ${RECORDS} records seeded in ${seeded.toFixed(0)} s`);
  const median = [...firstRenders].sort((a, b) => a - b)[Math.floor(firstRenders.length / 2)];
  console.log(`BENCH web: first render (20 rows of the newest page, after Keplr login, key derivation and designation), ms since navigation start: runs ${firstRenders.map((ms) => ms.toFixed(0)).join(", ")}; median ${median.toFixed(0)} (last run's page load event awaited by ${nav.toFixed(0)} ms)`);
  console.log(`BENCH web: all 20 visible rows fetched from IPFS, re-hashed and decrypted: ${allVerified.toFixed(0)} ms since navigation start`);
  console.log(`BENCH web: filter change, category (chain query): ${categoryMs} ms; free text over decrypted metadata: ${textMs} ms`);
  await p.context.close();
});
