// The whole story through the UI, a patient and two doctors in separate browser contexts, against the
// live localnet and kubo: register, upload, grant, doctor reads and writes, request/approve, revoke,
// emergency access in the audit log, propose/accept, a changed blob (red badge), IPFS down then retry
// (no duplicate record), wallet screens, screenshots and axe-core on the dashboards; a record and a grant
// written with the `ehr` CLI, seen in the browser; an expired grant; deleting a record and a patient;
// paging past the first 100 records.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { account, deploy, personAs, RESULTS, seriousViolations, startHarness, type Harness, type Person } from "./harness";
import { seedPatientRecords } from "./seed";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const cliHome = mkdtempSync(join(tmpdir(), "ehr-e2e-cli-"));
/** The `ehr` CLI (its path in EHR_CLI, built by scripts/test-web) against the same localnet and kubo. */
function ehrCli(who: string, ...args: string[]): unknown {
  const cli = process.env.EHR_CLI;
  if (!cli) throw new Error("EHR_CLI must name the ehr binary (scripts/test-web sets it)");
  const env = { ...process.env, EHR_FROM: who, EHR_HOME: cliHome, EHR_CONFIG: join(REPO, ".localnet/deploy.json") };
  return JSON.parse(execFileSync(cli, ["--json", ...args], { cwd: REPO, env, encoding: "utf8" }));
}

let h: Harness;
let patient: Person, doctor1: Person, doctor2: Person;
let patientId: number;

beforeAll(async () => {
  mkdirSync(RESULTS, { recursive: true });
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const status = (page: Page, text: string | RegExp) => page.getByRole("status").filter({ hasText: text }).first().waitFor();
const alert = (page: Page, text: string | RegExp) => page.getByRole("alert").filter({ hasText: text }).first().waitFor();
const recordRow = (page: Page, title: string) => page.locator("tr[data-record-id]").filter({ hasText: title });

async function addRecord(page: Page, category: string | null, title: string, notes: string) {
  const form = page.getByRole("form", { name: "Add a record" });
  if (category) await form.getByLabel("Category").selectOption(category);
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Notes").fill(notes);
  await form.getByRole("button", { name: "Encrypt and upload" }).click();
  await status(page, /Saved as record #\d+/);
  await recordRow(page, title).locator('[data-integrity="verified"]').waitFor();
}

describe("wallet screens", () => {
  it("no Keplr: says to install it", async () => {
    const p = await personAs(h, null);
    await p.page.getByRole("heading", { name: "Keplr is not installed" }).waitFor();
    await p.context.close();
  });
  it("Keplr locked or refused: says to unlock", async () => {
    const p = await personAs(h, "patient3", { locked: true });
    await p.page.getByRole("heading", { name: /Keplr is locked/ }).waitFor();
    await p.context.close();
  });
  it("Keplr on another chain: says which chain it must be on", async () => {
    const p = await personAs(h, "patient3", { prefix: "cosmos" });
    await p.page.getByRole("heading", { name: "Wrong chain" }).waitFor();
    await p.page.getByText(`Keplr must be on ${deploy.chain_id}`).waitFor();
    await p.page.getByText(/Keplr gave the address cosmos1/).waitFor();
    await p.context.close();
  });
});

describe("patient and doctors", () => {
  it("doctors log in and publish their encryption keys", async () => {
    doctor1 = await personAs(h, "doctor1");
    doctor2 = await personAs(h, "doctor2");
    for (const d of [doctor1, doctor2]) {
      await d.page.locator('[data-dashboard="doctor"]').waitFor();
      await d.page.getByRole("button", { name: "Publish my encryption key" }).click();
      await status(d.page, "Your encryption key is published.");
    }
  });

  it("a new patient registers with an encrypted profile and sees it decrypted", async () => {
    patient = await personAs(h, "patient1");
    await patient.page.getByRole("heading", { name: "Register as a patient" }).waitFor();
    const form = patient.page.getByRole("form", { name: "Profile" });
    await form.getByLabel("Full name").fill("Amelia Thornbury");
    await form.getByLabel("Date of birth").fill("1984-02-29");
    await form.getByLabel("Gender").selectOption("female");
    await form.getByLabel("Blood group").fill("AB-");
    await form.getByLabel("Medical history").fill("asthma since childhood");
    await form.getByRole("button", { name: "Register" }).click();
    await patient.page.locator('[data-dashboard="patient"]').waitFor();
    const heading = await patient.page.getByRole("heading", { name: /My profile \(patient #\d+\)/ }).textContent();
    patientId = Number(/#(\d+)/.exec(heading!)![1]);
    await patient.page.getByText("Amelia Thornbury").waitFor();
    await patient.page.getByText("asthma since childhood").waitFor();
  });

  it("the patient uploads records; each gets a green integrity badge; free-text search finds them", async () => {
    await addRecord(patient.page, "lab", "Hemoglobin", "13.5 g/dL, normal");
    await addRecord(patient.page, "note", "Knee pain", "left knee, after running");
    await patient.page.getByLabel("Search").fill("running");
    await recordRow(patient.page, "Knee pain").waitFor();
    expect(await recordRow(patient.page, "Hemoglobin").count()).toBe(0);
    await patient.page.getByLabel("Search").fill("");
  });

  it("a FHIR record added with the ehr CLI opens, verified and decrypted, in the patient's browser", async () => {
    ehrCli("patient1", "keys", "localnet");
    const observation = {
      resourceType: "Observation",
      status: "final",
      code: { text: "Glucose from the CLI" },
      effectiveDateTime: "2026-11-20",
      valueQuantity: { value: 5.4, unit: "mmol/L" },
    };
    const file = join(cliHome, "glucose.json");
    writeFileSync(file, JSON.stringify(observation));
    const added = ehrCli("patient1", "record", "add", "--patient", String(patientId), "--category", "lab", file) as { records: { record_id: number }[] };
    const recordId = added.records[0].record_id;
    await patient.page.reload();
    const row = recordRow(patient.page, "Glucose from the CLI");
    await row.locator('[data-integrity="verified"]').waitFor();
    expect(await row.getAttribute("data-record-id")).toBe(String(recordId));
    await row.getByRole("button", { name: /Open record/ }).click();
    await patient.page.getByLabel("Decrypted content").filter({ hasText: "mmol/L" }).waitFor();
    await patient.page.getByRole("button", { name: "Close" }).click();
  });

  it("the patient grants doctor1 write on lab and note, with an expiry", async () => {
    const form = patient.page.getByRole("form", { name: "Grant access" });
    await form.getByLabel("Doctor").selectOption(doctor1.address);
    await form.getByLabel("note").check();
    await form.getByLabel("Access").selectOption("write");
    await form.getByRole("button", { name: "Grant" }).click();
    await status(patient.page, `Access granted to`);
    await patient.page.getByRole("table", { name: "Grants" }).getByRole("row").filter({ hasText: "write" }).filter({ hasText: "lab" }).filter({ hasText: "note" }).waitFor();
  });

  it("doctor1 opens the patient, decrypts the lab record, adds a note", async () => {
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    const row = recordRow(doctor1.page, "Hemoglobin");
    await row.locator('[data-integrity="verified"]').waitFor();
    await row.getByRole("button", { name: /Open record/ }).click();
    await doctor1.page.getByLabel("Decrypted content").filter({ hasText: "13.5 g/dL" }).waitFor();
    await addRecord(doctor1.page, "note", "Follow-up visit", "knee better, continue physiotherapy");
  });

  it("doctor2 requests read on lab; the patient approves; doctor2 reads it", async () => {
    const form = doctor2.page.getByRole("form", { name: "Request access" });
    await form.getByLabel("Patient id").fill(String(patientId));
    await form.getByRole("button", { name: "Request", exact: true }).click();
    await status(doctor2.page, `Request sent to patient #${patientId}`);
    await patient.page.reload();
    await patient.page.locator('[data-dashboard="patient"]').waitFor();
    await patient.page.getByRole("button", { name: "Approve" }).click();
    await status(patient.page, /approved for 30 days/);
    await doctor2.page.reload();
    await doctor2.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor2.page, "Hemoglobin").locator('[data-integrity="verified"]').waitFor();
    // doctor2 holds no note key: the notes show as locked, not decrypted
    await recordRow(doctor2.page, "no key").first().waitFor();
    expect(await recordRow(doctor2.page, "Knee pain").count()).toBe(0);
  });

  it("the patient revokes doctor2: a new lab record opens for doctor1 (keys re-shared), not for doctor2; emergency access and revoke are in the audit log", async () => {
    await patient.page.getByRole("button", { name: `Revoke ${doctor2.address}` }).click();
    await status(patient.page, /revoked; new records use new keys\. The new keys were shared with/);
    await addRecord(patient.page, "lab", "Ferritin", "45 ng/mL");
    const ferritinId = await recordRow(patient.page, "Ferritin").getAttribute("data-record-id");
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor1.page, "Ferritin").locator('[data-integrity="verified"]').waitFor();
    const form = doctor2.page.getByRole("form", { name: "Request access" });
    await form.getByLabel("Patient id").fill(String(patientId));
    await form.getByRole("button", { name: "Emergency access" }).click();
    await status(doctor2.page, /Emergency read access/);
    // doctor2 still opens what it was given before the revoke, but not the lab record written after it
    await recordRow(doctor2.page, "Hemoglobin").locator('[data-integrity="verified"]').waitFor();
    await doctor2.page.locator(`tr[data-record-id="${ferritinId}"]`).filter({ hasText: "no key" }).waitFor();
    expect(await recordRow(doctor2.page, "Ferritin").count()).toBe(0);
    await patient.page.reload();
    const audit = patient.page.getByRole("table", { name: "Audit log" });
    await audit.getByText("emergency access").waitFor();
    await audit.getByText("access revoked").waitFor();
    await audit.getByText("request approved").waitFor();
  });

  it("patient dashboard: screenshot and no serious axe-core violation", async () => {
    await patient.page.getByText("Follow-up visit").waitFor();
    await patient.page.screenshot({ path: `${RESULTS}patient-dashboard.png`, fullPage: true });
    expect(await seriousViolations(patient.page)).toEqual([]);
  });

  it("doctor dashboard: screenshot and no serious axe-core violation", async () => {
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor1.page, "Follow-up visit").locator('[data-integrity="verified"]').waitFor();
    await doctor1.page.screenshot({ path: `${RESULTS}doctor-dashboard.png`, fullPage: true });
    expect(await seriousViolations(doctor1.page)).toEqual([]);
  });

  it("a blob that does not match the chain's hash gets a red badge and no content", async () => {
    // Registered from this process with the patient's own key: the locator serves other bytes than the hash names.
    const wallet = await DirectSecp256k1HdWallet.fromMnemonic(account("patient1").mnemonic, { prefix: "wasm" });
    const client = await SigningCosmWasmClient.connectWithSigner(deploy.rpc_url, wallet, { gasPrice: GasPrice.fromString(deploy.gas_price) });
    const served = new TextEncoder().encode(`not the registered file ${Date.now()}`);
    const form = new FormData();
    form.append("file", new Blob([served]), "blob");
    const { Hash } = (await (await fetch(`${deploy.ipfs_api_url}/api/v0/add?pin=true&cid-version=1&raw-leaves=true`, { method: "POST", body: form })).json()) as { Hash: string };
    const claimed = hex(sha256(new TextEncoder().encode(`the registered file ${Date.now()}`)));
    await client.execute(patient.address, deploy.contracts.registry.address, { add_record: { patient_id: patientId, category: "imaging", blob: { sha256: claimed, uri: `ipfs://${Hash}`, size: served.length } } }, "auto");
    await patient.page.reload();
    const row = patient.page.locator("tr[data-record-id]").filter({ hasText: "imaging" });
    await row.locator('[data-integrity="mismatch"]').waitFor();
    await row.getByRole("button", { name: /Open record/ }).click();
    await alert(patient.page, "does not match the hash on the chain");
    expect(await patient.page.getByLabel("Decrypted content").count()).toBe(0);
  });

  it("IPFS down: a person-readable error, then Retry registers the record exactly once", async () => {
    const page = patient.page;
    await page.reload();
    await page.locator('[data-dashboard="patient"]').waitFor();
    await page.route("http://127.0.0.1:5001/api/v0/add**", (route) => route.abort("connectionrefused"));
    const form = page.getByRole("form", { name: "Add a record" });
    await form.getByLabel("Category").selectOption("allergy");
    await form.getByLabel("Title").fill("Penicillin allergy");
    await form.getByRole("button", { name: "Encrypt and upload" }).click();
    await alert(page, "The file store (IPFS) is not reachable");
    await page.unroute("http://127.0.0.1:5001/api/v0/add**");
    await form.getByRole("button", { name: "Retry upload" }).click();
    await status(page, /Saved as record #\d+/);
    await recordRow(page, "Penicillin allergy").locator('[data-integrity="verified"]').waitFor();
    // the same sealed file again: found by its hash, not added twice
    await page.getByLabel("Category").first().selectOption("allergy");
    await page.locator("tr[data-record-id]").filter({ hasText: "Penicillin allergy" }).waitFor();
    expect(await recordRow(page, "Penicillin allergy").count()).toBe(1);
  });

  it("the patient deletes a record: it stays listed as a tombstone and can no longer change; a doctor without Manage is not offered delete", async () => {
    await patient.page.reload();
    await recordRow(patient.page, "Knee pain").locator('[data-integrity="verified"]').waitFor();
    await recordRow(patient.page, "Knee pain").getByRole("button", { name: /Open record/ }).click();
    await patient.page.getByRole("button", { name: "Delete record" }).click();
    await patient.page.getByRole("button", { name: "Confirm delete" }).click();
    await recordRow(patient.page, "Knee pain").getByText("(deleted)").waitFor();
    await recordRow(patient.page, "Knee pain").getByRole("button", { name: /Open record/ }).click();
    await patient.page.getByText("This record is deleted").waitFor();
    expect(await patient.page.getByRole("button", { name: "Delete record" }).count()).toBe(0);
    expect(await patient.page.getByRole("form", { name: /New version of record/ }).count()).toBe(0);
    await patient.page.getByRole("button", { name: "Close" }).click();

    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor1.page, "Follow-up visit").getByRole("button", { name: /Open record/ }).click();
    await doctor1.page.getByRole("form", { name: /New version of record/ }).waitFor();
    expect(await doctor1.page.getByRole("button", { name: "Delete record" }).count()).toBe(0);
  });

  it("doctor1 proposes patient2; patient2 accepts with a grant; doctor1 sees the new patient", async () => {
    const p2 = account("patient2").address;
    const form = doctor1.page.getByRole("form", { name: "Propose a patient" });
    await form.getByLabel("Patient's wallet address").fill(p2);
    await form.getByRole("button", { name: "Propose" }).click();
    await status(doctor1.page, /waiting for the patient to accept/);
    const patient2 = await personAs(h, "patient2");
    await patient2.page.getByRole("heading", { name: /proposes to add you as patient #\d+/ }).waitFor();
    const heading = await patient2.page.getByRole("heading", { name: /proposes to add you/ }).textContent();
    const id2 = Number(/#(\d+)/.exec(heading!)![1]);
    await patient2.page.getByRole("button", { name: "Accept" }).click();
    await patient2.page.locator('[data-dashboard="patient"]').waitFor();
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${id2}` }).waitFor();
    await patient2.context.close();
  });

  it("node down: a person-readable error, and the action works once the node answers again", async () => {
    const page = doctor1.page;
    await page.route("http://127.0.0.1:26657/**", (route) => route.abort("connectionrefused"));
    const form = page.getByRole("form", { name: "Request access" });
    await form.getByLabel("Patient id").fill(String(patientId));
    await form.getByRole("button", { name: "Request", exact: true }).click();
    await alert(page, "The chain node is not reachable");
    await page.unroute("http://127.0.0.1:26657/**");
    await form.getByRole("button", { name: "Request", exact: true }).click();
    await status(page, `Request sent to patient #${patientId}`);
  });

  it("a grant that has expired: the doctor's patient list and the patient's page say so", async () => {
    ehrCli("patient1", "grant", "doctor2", "--patient", String(patientId), "--scope", "read", "--categories", "lab", "--expires-in", "4");
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await doctor2.page.reload();
    const mine = doctor2.page.getByRole("row").filter({ has: doctor2.page.getByRole("button", { name: `Open patient ${patientId}` }) });
    await mine.getByText("expired").waitFor();
    await doctor2.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await alert(doctor2.page, `Your access to patient #${patientId} expired on`);
  });

  it("patient2 deletes its patient record and is offered registration again; the admin purges its records and grants", async () => {
    const p2 = await personAs(h, "patient2");
    await p2.page.locator('[data-dashboard="patient"]').waitFor();
    const heading = await p2.page.getByRole("heading", { name: /My profile \(patient #\d+\)/ }).textContent();
    const id2 = Number(/#(\d+)/.exec(heading!)![1]);
    await addRecord(p2.page, "lab", "Vitamin D", "32 ng/mL");
    await p2.page.getByRole("button", { name: "Delete my patient record" }).click();
    await p2.page.getByRole("button", { name: `Confirm: delete patient #${id2}` }).click();
    await p2.page.getByRole("heading", { name: "Register as a patient" }).waitFor();
    await p2.context.close();

    // doctor1 still holds patient2's grant on chain; opening it says the patient is gone.
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${id2}` }).click();
    await status(doctor1.page, `Patient #${id2} has deleted their patient record`);

    const admin = await personAs(h, "admin");
    const form = admin.page.getByRole("form", { name: "Purge a deleted patient's records" });
    await form.getByLabel("Deleted patient id").fill(String(id2));
    await form.getByRole("button", { name: "Purge up to 100 entries" }).click();
    await status(admin.page, new RegExp(`Removed [1-9]\\d* stored record entries and 1 grant of deleted patient #${id2}`));
    await form.getByRole("button", { name: "Purge up to 100 entries" }).click();
    await status(admin.page, `Nothing left to purge for patient #${id2}.`);
    await admin.context.close();
    // With the grant purged, the patient leaves doctor1's list.
    await doctor1.page.reload();
    await doctor1.page.locator('[data-dashboard="doctor"]').waitFor();
    await doctor1.page.getByRole("button", { name: `Open patient ${patientId}` }).waitFor();
    expect(await doctor1.page.getByRole("button", { name: `Open patient ${id2}` }).count()).toBe(0);
  });
});

describe("paging", () => {
  it("a patient with 105 records sees the newest 100, then loads the rest from the chain", async () => {
    await seedPatientRecords("patient3", 105, 105);
    const p = await personAs(h, "patient3");
    await p.page.getByText("100 of 100 loaded records match (more on chain).").waitFor();
    await p.page.getByRole("button", { name: "Load more from the chain" }).click();
    await p.page.getByText("105 of 105 loaded records match.").waitFor();
    expect(await p.page.getByRole("button", { name: "Load more from the chain" }).count()).toBe(0);
    await p.context.close();
  });
});
