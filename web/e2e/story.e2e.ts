// The whole story through the UI, a patient and two doctors in separate browser contexts, against the
// live localnet and kubo: register, upload, grant, doctor reads and writes, request/approve, revoke,
// break glass (the doctor told what an emergency opens; a revoked doctor's emergency opens no new record of a
// category the patient does not open in an emergency; a second declaration inside the window refused; the
// patient told at the top and ending the window), a grantee's junk rotation that leaves the patient reading,
// emergency access in the audit log, propose/accept, a changed blob (red badge), IPFS down then the
// broadcast's answer lost, and a retry that finds the committed record (no duplicate), wallet screens, screenshots and axe-core on the dashboards; a record and a grant
// written with the `ehr` CLI, seen in the browser; an expired grant; deleting a record and a patient;
// key rotation after every loss of access (expiry, a narrower re-grant, revoke) with the doctors who keep
// access still reading; two writers updating one record at once; paging past the first 100 records;
// search over every record (beyond the loaded page; dropped for a revoked doctor); the FHIR download;
// names, not addresses: the admin credentials a doctor under a name, patients pick doctors by name, the
// audit log reads in sentences without an address, and a withdrawn credential shows in the patient's log.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CosmWasmClient, SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice, SigningStargateClient } from "@cosmjs/stargate";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { account, deploy, personAs, RESULTS, seriousViolations, startHarness, type Harness, type Person } from "./harness";
import { RECORD_CATEGORIES } from "../src/crypto/categories";
import { keyDerivationMessage } from "../src/crypto/walletKey";
import { shortAddress } from "../src/lib/names";
import { arbitrarySignRequests } from "./keplrShim";
import { executeAs, grantForSeconds, seedPatientRecords } from "./seed";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const cliHome = mkdtempSync(join(tmpdir(), "ehr-e2e-cli-"));
/** The `ehr` CLI (its path in EHR_CLI, built by scripts/test-web) against the same localnet and kubo. */
function ehrCli(who: string, ...args: string[]): unknown {
  const cli = process.env.EHR_CLI;
  if (!cli) throw new Error("EHR_CLI must name the ehr binary (scripts/test-web sets it)");
  const env = { ...process.env, EHR_FROM: who, EHR_HOME: cliHome, EHR_CONFIG: join(REPO, ".localnet/deploy.json") };
  return JSON.parse(execFileSync(cli, ["--json", ...args], { cwd: REPO, env, encoding: "utf8" }));
}

/** A contract message sent by the localnet's governance multisig (two governors sign; scripts/governance). */
function asGovernance(contract: string, msg: object): void {
  execFileSync(join(REPO, "scripts/governance"), ["exec", contract, JSON.stringify(msg)], { cwd: REPO, encoding: "utf8" });
}

let h: Harness;
let patient: Person, doctor1: Person, doctor2: Person;
let patientId: number;
let ferritinId: string; // doctor2's lab grant was revoked before this record

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
const doctorOption = (page: Page, listing: string) => page.getByRole("form", { name: "Grant access" }).getByLabel("Doctor").locator("option", { hasText: listing });
const recordRow = (page: Page, title: string) => page.locator("tr[data-record-id]").filter({ hasText: title });
/** A bech32 account address of this chain, as text a person would read. */
const BECH32 = /wasm1[02-9ac-hj-np-z]{20,}/;
// The names scripts/deploy credentials the two localnet doctors under.
const ANA = "Dr Ana Lima, St Mary Hospital";
const BEN = "Dr Ben Okafor, Riverside Clinic";

async function addRecord(page: Page, category: string | null, title: string, notes: string) {
  const form = page.getByRole("form", { name: "Add a record" });
  if (category) await form.getByLabel("Category").selectOption(category);
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Notes").fill(notes);
  await form.getByRole("button", { name: "Encrypt and upload" }).click();
  await status(page, /Saved as record #\d+/);
  await recordRow(page, title).locator('[data-integrity="verified"]').waitFor();
}

/** Adds a record through the form and waits for it to be saved (not for its row: it may be past the loaded page). */
async function addUnlisted(page: Page, category: string, title: string, notes: string) {
  const form = page.getByRole("form", { name: "Add a record" });
  await form.getByLabel("Category").selectOption(category);
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Notes").fill(notes);
  await form.getByRole("button", { name: "Encrypt and upload" }).click();
  await status(page, /Saved as record #\d+/);
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
    for (const [d, listing] of [[doctor1, ANA], [doctor2, BEN]] as const) {
      await d.page.locator('[data-dashboard="doctor"]').waitFor();
      await d.page.getByText(`Patients see you as ${listing}`).waitFor();
      await d.page.getByRole("button", { name: "Publish my encryption key" }).click();
      await status(d.page, "Your encryption key is published.");
    }
  });

  it("the wallet is asked once per session to sign a message that names the chain and the registry and says what the signature opens", async () => {
    const asked = arbitrarySignRequests.filter((r) => r.signer === doctor1.address);
    expect(asked).toHaveLength(1); // logged in and published the key: asked once
    const message = keyDerivationMessage({ chainId: deploy.chain_id, registry: deploy.contracts.registry.address });
    expect(asked[0].data).toBe(message);
    expect(message).toContain(`on chain ${deploy.chain_id} (records contract ${deploy.contracts.registry.address})`);
    expect(message).toContain("Anyone who gets this signature can read every record shared with you.");
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
    await status(patient.page, `Access granted to ${ANA}: read and write access to Note, Lab until`);
    await patient.page.getByRole("table", { name: "Grants" }).getByRole("row").filter({ hasText: ANA }).filter({ hasText: "read and write" }).filter({ hasText: "Lab" }).filter({ hasText: "Note" }).waitFor();
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
    await patient.page.getByRole("list", { name: "Requests" }).getByText(`${BEN} asks for read access to Lab`).waitFor();
    await patient.page.getByRole("button", { name: "Approve" }).click();
    await status(patient.page, `approved for 30 days: ${BEN} has read access to Lab until`);
    await doctor2.page.reload();
    await doctor2.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor2.page, "Hemoglobin").locator('[data-integrity="verified"]').waitFor();
    // doctor2 holds no note key: the notes show as locked, not decrypted
    await recordRow(doctor2.page, "no key").first().waitFor();
    expect(await recordRow(doctor2.page, "Knee pain").count()).toBe(0);
  });

  it("the patient revokes doctor2: the next lab record gets a new key that doctor1, who keeps access, opens; revoke and the new key are in the audit log", async () => {
    await patient.page.getByRole("button", { name: `Revoke ${BEN}` }).click();
    await status(patient.page, `Access of ${BEN} revoked. The next Lab record written gets a new key that ${BEN} never receives`);
    await addRecord(patient.page, "lab", "Ferritin", "45 ng/mL");
    await status(patient.page, /It opened a new Lab key \(epoch \d+\) for you and 1 other who may read it\./);
    ferritinId = (await recordRow(patient.page, "Ferritin").getAttribute("data-record-id"))!;
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor1.page, "Ferritin").locator('[data-integrity="verified"]').waitFor();
    await patient.page.reload();
    const audit = patient.page.getByRole("table", { name: "Audit log" });
    await audit.getByText(`You revoked the access of ${BEN}`).waitFor();
    await audit.getByText(/^You approved request #\d+$/).waitFor();
    await audit.getByText(/^You made a new Lab key \(epoch \d+\) for the patient and 1 other reader$/).first().waitFor();
    await audit.getByText(`${ANA} added Note record #`).first().waitFor();
  });

  it("break glass: the patient escrows the default categories and adds an allergy; doctor2, granted Imaging and revoked, is told what an emergency opens, breaks the glass, and the trustees' shares open the allergy, not the notes nor the lab record written after its revoke", async () => {
    const settings = patient.page.getByRole("form", { name: "Emergency settings" });
    for (const label of ["Allergy", "Prescription", "Immunization", "Profile"]) expect(await settings.getByLabel(label, { exact: true }).isChecked()).toBe(true);
    expect(await settings.getByLabel("Note", { exact: true }).isChecked()).toBe(false);
    await patient.page.locator("[data-trustees]").filter({ hasText: "any 2 of them" }).waitFor();
    await settings.getByRole("button", { name: "Save emergency settings" }).click();
    await status(patient.page, /Saved: Prescription, Allergy, Immunization, Profile open in an emergency/);
    await addRecord(patient.page, "allergy", "Latex allergy", "anaphylaxis in 2019");

    // doctor2 reads an imaging record by a grant, which the patient then revokes.
    const grant = patient.page.getByRole("form", { name: "Grant access" });
    await grant.getByLabel("Doctor").selectOption(doctor2.address);
    await grant.getByLabel("Lab", { exact: true }).uncheck();
    await grant.getByLabel("Imaging", { exact: true }).check();
    await grant.getByLabel("Access").selectOption("read");
    await grant.getByRole("button", { name: "Grant" }).click();
    await status(patient.page, `Access granted to ${BEN}: read access to Imaging until`);
    await addRecord(patient.page, "imaging", "Chest X-ray", "no consolidation");
    await doctor2.page.reload();
    await doctor2.page.getByRole("button", { name: `Open patient ${patientId}` }).click();
    await recordRow(doctor2.page, "Chest X-ray").locator('[data-integrity="verified"]').waitFor();
    await patient.page.getByRole("button", { name: `Revoke ${BEN}` }).click();
    await status(patient.page, `Access of ${BEN} revoked. The next Imaging record written gets a new key`);

    // A reason code is checked before anything is sent; the form says what an emergency opens, as the chain answers.
    const form = doctor2.page.getByRole("form", { name: "Break glass" });
    await form.getByLabel("Patient id").fill(String(patientId));
    await doctor2.page
      .getByLabel("What an emergency opens")
      .filter({ hasText: "An emergency opens only Prescription, Allergy, Immunization, Profile (the categories the patient chose for emergencies), for reading" })
      .waitFor();
    await form.getByLabel("Reason", { exact: true }).selectOption("other");
    await form.getByLabel("Reason code").fill("x");
    expect(await form.getByRole("button", { name: "Break glass" }).isDisabled()).toBe(true);
    await form.getByLabel("Reason", { exact: true }).selectOption("incapable");
    await form.getByRole("button", { name: "Break glass" }).click();
    await status(doctor2.page, /You broke the glass for patient #\d+ \(treatment of a patient who cannot consent, ETREAT\): emergency read access until .*An emergency opens only Prescription, Allergy, Immunization, Profile/);
    // The waiting state or, as quickly, the allergy itself, opened with k of the trustees' shares.
    await doctor2.page.getByRole("status", { name: "Emergency keys" }).waitFor({ timeout: 30_000 });
    await recordRow(doctor2.page, "Latex allergy").locator('[data-integrity="verified"]').waitFor({ timeout: 30_000 });
    await doctor2.page.locator('[data-emergency-category="allergy"][data-open="true"]').waitFor({ timeout: 30_000 });
    // What doctor2 was handed before its revokes still opens; the lab record written after the lab revoke does not, and notes are not escrowed.
    await recordRow(doctor2.page, "Hemoglobin").locator('[data-integrity="verified"]').waitFor();
    await recordRow(doctor2.page, "Chest X-ray").locator('[data-integrity="verified"]').waitFor();
    await doctor2.page.locator(`tr[data-record-id="${ferritinId}"]`).filter({ hasText: "no key" }).waitFor();
    expect(await recordRow(doctor2.page, "Ferritin").count()).toBe(0);
    expect(await recordRow(doctor2.page, "Knee pain").count()).toBe(0);

    await patient.page.reload();
    const audit = patient.page.getByRole("table", { name: "Audit log" });
    await audit.getByText("You chose the key escrow: Prescription, Allergy, Immunization, Profile open in an emergency; no wallet recovery").waitFor();
    await audit.getByText(new RegExp(`^${BEN} broke the glass \\(treatment of a patient who cannot consent, ETREAT\\): emergency read access until `)).first().waitFor();
    await audit.locator("tr.emergency").first().waitFor();
    await audit.getByText(new RegExp(`^Trustee [123] of the network released its key shares of (.*, )?Allergy(, .*)? to ${BEN}$`)).first().waitFor({ timeout: 30_000 });
    expect(await audit.innerText()).not.toMatch(BECH32);
  });

  it("a revoked doctor's emergency opens no new record of a category the patient does not open in an emergency: the next imaging record gets a key doctor2 never receives, and its dashboard neither opens nor indexes it; a second declaration inside the window is refused with its end in local time", async () => {
    await addRecord(patient.page, "imaging", "Chest X-ray follow-up", "clear lungs");
    // doctor2's open window does not make it a reader of Imaging: the write rotates past it.
    await status(patient.page, /It opened a new Imaging key \(epoch \d+\) for you\./);
    const followUp = (await recordRow(patient.page, "Chest X-ray follow-up").getAttribute("data-record-id"))!;

    // doctor2 has no grant any more: its open window lists the patient.
    await doctor2.page.reload();
    const row = doctor2.page.locator(`tr[data-emergency-patient="${patientId}"]`);
    await row.filter({ hasText: "Prescription, Allergy, Immunization, Profile" }).filter({ hasText: "emergency" }).waitFor();
    await row.getByRole("button", { name: `Open patient ${patientId}` }).click();
    // The shares released in this window open the allergy again in this new page session (the panel reopens with the key).
    await doctor2.page.locator('[data-emergency-category="allergy"][data-open="true"]').waitFor({ timeout: 30_000 });
    await recordRow(doctor2.page, "Latex allergy").locator('[data-integrity="verified"]').waitFor({ timeout: 30_000 });
    await doctor2.page.locator(`tr[data-record-id="${followUp}"]`).filter({ hasText: "no key" }).waitFor();
    expect(await recordRow(doctor2.page, "Chest X-ray follow-up").count()).toBe(0);
    await doctor2.page.locator(`tr[data-record-id="${followUp}"]`).getByRole("button", { name: /Open record/ }).click();
    expect(await doctor2.page.getByLabel("Decrypted content").count()).toBe(0);
    await doctor2.page.getByRole("button", { name: "Close" }).click();
    // Its search covers only what the chain says it may read: the emergency categories, no imaging.
    await doctor2.page.getByLabel("Search").fill("x-ray");
    await doctor2.page.getByText(/^0 of \d+ indexed records match\.$/).waitFor({ timeout: 120_000 });
    await doctor2.page.getByLabel("Search").fill("latex");
    await doctor2.page.getByText(/^1 of \d+ indexed records match\.$/).waitFor({ timeout: 120_000 });
    await doctor2.page.getByLabel("Search").fill("");
    await doctor2.page.screenshot({ path: `${RESULTS}doctor-emergency.png`, fullPage: true });

    const form = doctor2.page.getByRole("form", { name: "Break glass" });
    await form.getByLabel("Patient id").fill(String(patientId));
    await doctor2.page.getByLabel("What an emergency opens").filter({ hasText: `Your emergency window for patient #${patientId} is open until` }).waitFor();
    await form.getByRole("button", { name: "Break glass" }).click();
    const refused = doctor2.page.getByRole("alert").filter({ hasText: `Your last emergency window for patient #${patientId} runs until` });
    const sentence = refused.locator("strong");
    expect(await sentence.innerText()).toMatch(/runs until \w{3}, .+\d{2}:\d{2}.*: a new one may be declared from then on\.$/);
    expect(await sentence.innerText()).not.toMatch(/\d{12,}/); // no chain nanoseconds
    await doctor2.page.setViewportSize({ width: 390, height: 844 });
    await doctor2.page.screenshot({ path: `${RESULTS}doctor-emergency-390.png`, fullPage: true });
    await doctor2.page.setViewportSize({ width: 1280, height: 900 });
  });

  it("the patient's dashboard says at the top who has an open emergency window, until when and why; the patient ends it after a confirmation, and the audit log says so", async () => {
    await patient.page.reload();
    const notice = patient.page.getByRole("alert", { name: "Emergency access" });
    await notice
      .getByText(new RegExp(`^⚠ ${BEN} broke the glass \\(treatment of a patient who cannot consent, ETREAT\\): they may read your Prescription, Allergy, Immunization, Profile records until \\w{3}, .+\\d{2}:\\d{2}`))
      .first()
      .waitFor();
    expect(await notice.innerText()).not.toMatch(BECH32);
    expect(await notice.innerText()).not.toMatch(/\d{12,}/);
    expect(await seriousViolations(patient.page)).toEqual([]);
    await patient.page.screenshot({ path: `${RESULTS}patient-emergency.png`, fullPage: false });
    const card = patient.page.getByRole("region", { name: "Emergency access to my records" });
    await card.screenshot({ path: `${RESULTS}patient-emergency-card.png` });
    await patient.page.setViewportSize({ width: 390, height: 844 });
    await patient.page.screenshot({ path: `${RESULTS}patient-emergency-390.png`, fullPage: false });
    await card.getByRole("button", { name: `End the emergency access of ${BEN}` }).click();
    await card.getByText(`End the emergency access of ${BEN} now?`).first().waitFor();
    await card.screenshot({ path: `${RESULTS}patient-end-emergency-390.png` });
    await patient.page.setViewportSize({ width: 1280, height: 900 });
    await card.getByRole("button", { name: `Confirm: end the emergency access of ${BEN}` }).click();
    await status(patient.page, `The emergency access of ${BEN} has ended.`);
    await card.getByText("No doctor has emergency access to your records now.").waitFor();
    expect(await patient.page.getByRole("alert", { name: "Emergency access" }).count()).toBe(0);
    const audit = patient.page.getByRole("table", { name: "Audit log" });
    await audit.locator('tr[data-audit-kind="emergency_ended"]').getByText(`You ended the emergency access of ${BEN}`).waitFor();

    // doctor2 is told its window is over, and no longer finds the patient in its list.
    await doctor2.page.reload();
    await doctor2.page.locator('[data-dashboard="doctor"]').waitFor();
    await doctor2.page.getByRole("heading", { name: "My patients" }).waitFor();
    await doctor2.page.getByText(/No patient has granted you access/).waitFor();
    expect(await doctor2.page.getByRole("button", { name: `Open patient ${patientId}` }).count()).toBe(0);
  });

  it("wallet recovery: the patient opts in to escrow every category; on chain the policy says recovery and every trustee holds shares of the notes, which do not open in an emergency; the audit says so", async () => {
    await patient.page.reload();
    const settings = patient.page.getByRole("form", { name: "Emergency settings" });
    const optIn = settings.getByLabel("Also escrow every category so that I can recover my records if I lose this wallet");
    await patient.page.getByLabel("Escrow status").filter({ hasText: "Wallet recovery is off." }).waitFor();
    expect(await optIn.isChecked()).toBe(false);
    await patient.page.getByText(/could then open every record of every category/).waitFor();
    await optIn.check();
    await settings.getByRole("button", { name: "Save emergency settings" }).click();
    await status(patient.page, /^Saved: Prescription, Allergy, Immunization, Profile open in an emergency; every category is escrowed so you can recover from a lost wallet \(\d+ keys? escrowed with the trustees\)\.$/);
    await patient.page.getByLabel("Escrow status").filter({ hasText: "Now opened in an emergency: Prescription, Allergy, Immunization, Profile. Wallet recovery is on: every category is escrowed." }).waitFor();

    const chain = await CosmWasmClient.connect(deploy.rpc_url);
    const access = deploy.contracts.access.address;
    const policy = await chain.queryContractSmart(access, { escrow_policy: { patient_id: patientId } });
    expect(policy).toMatchObject({ recovery: true, categories: ["prescription", "allergy", "immunization", "profile"] });
    expect(policy.escrowed).toContain("note");
    // Every key the patient holds, the notes' too (written by the patient and doctor1), though notes do not open in an emergency.
    const own: { key_envelopes: { category: string; epoch: number }[] } = await chain.queryContractSmart(access, { own_envelopes: { patient_id: patientId } });
    const held = own.key_envelopes.map((e) => `${e.category}/${e.epoch}`);
    expect(held.some((k) => k.startsWith("note/"))).toBe(true);
    const { trustees } = await chain.queryContractSmart(access, { trustees: {} });
    expect(trustees.length).toBeGreaterThanOrEqual(2);
    for (const { address } of trustees) {
      const { shares } = await chain.queryContractSmart(access, { escrowed_shares: { patient_id: patientId, trustee: address, limit: 100 } });
      expect(shares.map((x: { category: string; epoch: number }) => `${x.category}/${x.epoch}`)).toEqual(expect.arrayContaining(held));
    }

    await patient.page.reload();
    const audit = patient.page.getByRole("table", { name: "Audit log" });
    await audit.getByText("You chose the key escrow: Prescription, Allergy, Immunization, Profile open in an emergency; every key is escrowed so a lost wallet can be recovered").waitFor();
    expect(await patient.page.getByLabel("Also escrow every category so that I can recover my records if I lose this wallet").isChecked()).toBe(true);
  });

  it("a recovery request from a fresh wallet raises an alert on the patient's dashboard, in local time and without a full address; the patient cancels it, and the chain and the ehr CLI say it is cancelled", async () => {
    const wallet = await DirectSecp256k1HdWallet.generate(24, { prefix: deploy.bech32_prefix });
    const [{ address: stranger }] = await wallet.getAccounts();
    const adminWallet = await DirectSecp256k1HdWallet.fromMnemonic(account("admin").mnemonic, { prefix: deploy.bech32_prefix });
    const asAdmin = await SigningCosmWasmClient.connectWithSigner(deploy.rpc_url, adminWallet, { gasPrice: GasPrice.fromString(deploy.gas_price) });
    await asAdmin.sendTokens(account("admin").address, stranger, [{ denom: deploy.denom, amount: "1000000" }], "auto");
    process.env.E2E_STRANGER_MNEMONIC = wallet.mnemonic;
    ehrCli("stranger", "keys", "import", "stranger", "--mnemonic-env", "E2E_STRANGER_MNEMONIC");

    // The localnet's trustee agents approve 20 s after a request: an hour's wait keeps this one
    // pending however slow the browser is, and the localnet's own wait is restored after.
    const access = deploy.contracts.access.address;
    const { recovery_wait_seconds: wait } = await asAdmin.queryContractSmart(access, { config: {} });
    asGovernance(access, { update_config: { recovery_wait_seconds: 3600 } });
    try {
      const asked = ehrCli("stranger", "recovery", "request", "--patient", String(patientId)) as { new_owner: string; not_before: string };
      expect(asked.new_owner).toBe(stranger);

      await patient.page.reload();
      const banner = patient.page.getByRole("alert", { name: "Recovery request" });
      const text = banner.getByText(
        new RegExp(`^Someone asked on \\w{3}, .+\\d{2}:\\d{2}.* to move your patient record to the wallet ${shortAddress(stranger)}\\. Trustees may approve from \\w{3}, .+\\d{2}:\\d{2}.*\\. If this was not you, cancel it now\\.$`),
      );
      await text.waitFor();
      expect(await banner.innerText()).not.toMatch(BECH32);
      expect(await banner.innerText()).not.toMatch(/\d{12,}/); // no chain nanoseconds
      await banner.getByRole("button", { name: "Cancel this request" }).click();
      await status(patient.page, `Cancelled: the wallet ${shortAddress(stranger)} will not get your patient record.`);
      expect(await patient.page.getByRole("alert", { name: "Recovery request" }).count()).toBe(0);

      const { recovery } = await asAdmin.queryContractSmart(access, { recovery: { patient_id: patientId } });
      expect(recovery).toMatchObject({ new_owner: stranger, status: "cancelled", approvals: [] });
      const said = ehrCli("stranger", "recovery", "status", "--patient", String(patientId)) as { recovery: { status: string; new_owner: string } };
      expect(said.recovery).toMatchObject({ status: "cancelled", new_owner: stranger });
      expect((await asAdmin.queryContractSmart(deploy.contracts.registry.address, { patient: { patient_id: patientId } })).patient.owner).toBe(patient.address);

      await patient.page.reload();
      const audit = patient.page.getByRole("table", { name: "Audit log" });
      await audit.getByText(new RegExp(`asked to move the patient to the new wallet ${shortAddress(stranger)}; trustees may approve from \\w{3}, `)).waitFor();
      await audit.getByText(`You cancelled the request to move the patient to the wallet ${shortAddress(stranger)}`).waitFor();
      expect(await audit.innerText()).not.toMatch(BECH32);
      expect(await patient.page.getByRole("alert", { name: "Recovery request" }).count()).toBe(0);
    } finally {
      asGovernance(access, { update_config: { recovery_wait_seconds: wait } });
    }
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
    const { epoch } = await client.queryContractSmart(deploy.contracts.access.address, { key_holders: { patient_id: patientId, category: "imaging" } });
    await client.execute(patient.address, deploy.contracts.registry.address, { add_record: { patient_id: patientId, category: "imaging", epoch, blob: { sha256: claimed, uri: `ipfs://${Hash}`, size: served.length } } }, "auto");
    await patient.page.reload();
    // The imaging row whose file fails its hash (the patient's other imaging records open).
    const row = patient.page.locator("tr[data-record-id]").filter({ hasText: "imaging" }).filter({ has: patient.page.locator('[data-integrity="mismatch"]') });
    await row.waitFor();
    await row.getByRole("button", { name: /Open record/ }).click();
    await alert(patient.page, "does not match the hash on the chain");
    expect(await patient.page.getByLabel("Decrypted content").count()).toBe(0);
  });

  it("IPFS down, then the node's answer to the broadcast lost: Retry finds the committed record by its hash and registers nothing twice", async () => {
    const page = patient.page;
    await page.reload();
    await page.locator('[data-dashboard="patient"]').waitFor();
    const chain = await CosmWasmClient.connect(deploy.rpc_url);
    const registry = deploy.contracts.registry.address;
    const allergies = async (): Promise<number> =>
      (await chain.queryContractSmart(registry, { records_by_patient: { patient_id: patientId, category: "allergy", start_after: null, limit: 100 } })).records.length;
    const before = await allergies();
    const form = page.getByRole("form", { name: "Add a record" });

    // 1. IPFS down: the upload fails before anything is sent to the chain.
    const ipfsAdd = `${deploy.ipfs_api_url}/api/v0/add**`;
    await page.route(ipfsAdd, (route) => route.abort("connectionrefused"));
    await form.getByLabel("Category").selectOption("allergy");
    await form.getByLabel("Title").fill("Penicillin allergy");
    await form.getByRole("button", { name: "Encrypt and upload" }).click();
    await alert(page, "The file store (IPFS) is not reachable");
    await page.unroute(ipfsAdd);
    expect(await allergies()).toBe(before);

    // 2. The node takes the transaction, but its answer never reaches the page (connection reset after
    // delivery): the record commits while the page can only say the node did not answer.
    const node = `${deploy.rpc_url}/**`;
    const broadcasts: string[] = []; // hashes of the transactions the page broadcast
    await page.route(node, async (route) => {
      const call = route.request().postDataJSON() as { method?: string; params?: { tx?: string } } | null;
      if (call?.method !== "broadcast_tx_sync" || !call.params?.tx) return route.continue();
      broadcasts.push(hex(sha256(Buffer.from(call.params.tx, "base64"))).toUpperCase());
      await route.fetch();
      await route.abort("connectionreset");
    });
    try {
      await form.getByRole("button", { name: "Retry upload" }).click();
      await alert(page, "The chain node is not reachable");
    } finally {
      await page.unroute(node);
    }
    expect(broadcasts).toHaveLength(1);
    let committed = await chain.getTx(broadcasts[0]);
    for (let waited = 0; !committed && waited < 30_000; waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      committed = await chain.getTx(broadcasts[0]);
    }
    expect(committed?.code).toBe(0);
    const recordId = Number(committed!.events.flatMap((e) => (e.type === "wasm" ? e.attributes : [])).find((a) => a.key === "record_id")?.value);
    expect(recordId).toBeGreaterThan(0);
    expect(await allergies()).toBe(before + 1);

    // 3. Retry: the sealed file is found on the chain by its hash; nothing is uploaded or broadcast again.
    const sentOnRetry: string[] = [];
    await page.route(node, (route) => {
      if ((route.request().postDataJSON() as { method?: string } | null)?.method === "broadcast_tx_sync") sentOnRetry.push(route.request().url());
      return route.continue();
    });
    const addsOnRetry: string[] = [];
    await page.route(ipfsAdd, (route) => {
      addsOnRetry.push(route.request().url());
      return route.continue();
    });
    try {
      await form.getByRole("button", { name: "Retry upload" }).click();
      await status(page, `Already on the chain as record #${recordId} (version 1): nothing was added twice.`);
    } finally {
      await page.unroute(node);
      await page.unroute(ipfsAdd);
    }
    expect(sentOnRetry).toEqual([]);
    expect(addsOnRetry).toEqual([]);
    expect(await allergies()).toBe(before + 1);
    const { versions } = await chain.queryContractSmart(registry, { record_history: { record_id: recordId, start_after: null, limit: 100 } });
    expect(versions).toHaveLength(1);
    await page.getByLabel("Category").first().selectOption("allergy");
    await recordRow(page, "Penicillin allergy").locator('[data-integrity="verified"]').waitFor();
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
    expect(await doctor1.page.getByRole("button", { name: /delete .*patient/i }).count()).toBe(0);
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
    expect(heading).toContain(`${ANA} proposes to add you as patient #`);
    const id2 = Number(/#(\d+)/.exec(heading!)![1]);
    await patient2.page.getByRole("button", { name: "Accept" }).click();
    await patient2.page.locator('[data-dashboard="patient"]').waitFor();
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${id2}` }).waitFor();
    await patient2.context.close();
  });

  it("node down: a person-readable error, and the action works once the node answers again", async () => {
    const page = doctor1.page;
    const node = `${deploy.rpc_url}/**`;
    await page.route(node, (route) => route.abort("connectionrefused"));
    const form = page.getByRole("form", { name: "Request access" });
    try {
      await form.getByLabel("Patient id").fill(String(patientId));
      await form.getByRole("button", { name: "Request", exact: true }).click();
      await alert(page, "The chain node is not reachable");
    } finally {
      // The later tests use this page: a failure here must not leave its node cut off.
      await page.unroute(node);
    }
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

describe("names, not addresses", () => {
  // A third doctor, made for this test: a fresh wallet funded by the admin, credentialed in the admin's
  // dashboard, given access by patient1 and then withdrawn, so the other stories keep their doctors.
  const CARLA = { name: "Dr Carla Mendes", org: "Northside Practice" };
  const CARLA_CORRECTED = "Northside Practice, Cardiology";
  const carlaListing = `${CARLA.name}, ${CARLA_CORRECTED}`;
  let admin: Person;
  let doctor3: Person;
  let doctor3Mnemonic: string;

  it("the admin credentials a new doctor under a name and organisation (inline checks first); the providers list shows them, and the admin corrects the listing", async () => {
    const wallet = await DirectSecp256k1HdWallet.generate(24, { prefix: deploy.bech32_prefix });
    doctor3Mnemonic = wallet.mnemonic;
    const [{ address: doctor3Address }] = await wallet.getAccounts();
    const adminWallet = await DirectSecp256k1HdWallet.fromMnemonic(account("admin").mnemonic, { prefix: deploy.bech32_prefix });
    const bank = await SigningStargateClient.connectWithSigner(deploy.rpc_url, adminWallet, { gasPrice: GasPrice.fromString(deploy.gas_price) });
    await bank.sendTokens(account("admin").address, doctor3Address, [{ denom: deploy.denom, amount: "1000000" }], "auto");

    admin = await personAs(h, "admin");
    const doctors = admin.page.getByRole("table", { name: "Doctors" });
    // the two doctors scripts/deploy credentialed, by name
    for (const [name, org] of [["Dr Ana Lima", "St Mary Hospital"], ["Dr Ben Okafor", "Riverside Clinic"]])
      await doctors.getByRole("row").filter({ hasText: name }).filter({ hasText: org }).filter({ hasText: "credentialed since" }).waitFor();
    const form = admin.page.getByRole("form", { name: "Credential a doctor" });
    await form.getByLabel("Doctor's wallet address").fill(doctor3Address);
    await form.getByLabel("Display name").fill(`${CARLA.name} `);
    await form.getByLabel("Organisation").fill(CARLA.org);
    await form.getByRole("button", { name: "Credential" }).click();
    await form.getByText("The display name must not start or end with a space.").waitFor();
    await form.getByLabel("Display name").fill(`Dr \u202eCarla`);
    await form.getByText("The display name must not contain control or text-direction characters.").waitFor();
    await form.getByLabel("Display name").fill(CARLA.name);
    await form.getByRole("button", { name: "Credential" }).click();
    await status(admin.page, `${CARLA.name}, ${CARLA.org} is a credentialed provider.`);
    const row = doctors.locator(`tr[data-provider="${doctor3Address}"]`);
    await row.filter({ hasText: CARLA.name }).filter({ hasText: CARLA.org }).filter({ hasText: "credentialed since" }).waitFor();
    const since = await row.locator("td").nth(2).innerText();

    // the same listing again would be refused: the form says so before anything is signed
    await row.getByRole("button", { name: `Correct the listing of ${CARLA.name}, ${CARLA.org}` }).click();
    await admin.page.getByText("already credentialed under this name and organisation").waitFor();
    await form.getByLabel("Organisation").fill(CARLA_CORRECTED);
    await form.getByRole("button", { name: "Correct listing" }).click();
    await status(admin.page, `The listing now reads ${carlaListing}.`);
    await row.filter({ hasText: CARLA_CORRECTED }).waitFor();
    expect(await row.locator("td").nth(2).innerText()).toBe(since); // the credential date stays

    doctor3 = await personAs(h, { name: "doctor3", mnemonic: doctor3Mnemonic });
    await doctor3.page.getByText(`Patients see you as ${carlaListing}`).waitFor();
    await doctor3.page.getByRole("button", { name: "Publish my encryption key" }).click();
    await status(doctor3.page, "Your encryption key is published.");
  });

  it("the patient's grant form lists the doctors by name; the grant and the audit log say it in words, with no address", async () => {
    await patient.page.reload();
    const form = patient.page.getByRole("form", { name: "Grant access" });
    await doctorOption(patient.page, carlaListing).waitFor({ state: "attached" });
    const options = await form.getByLabel("Doctor").locator("option").allInnerTexts();
    expect(options).toEqual(expect.arrayContaining([ANA, BEN, carlaListing]));
    for (const o of options) expect(o).not.toMatch(BECH32);
    await form.getByLabel("Doctor").selectOption({ label: carlaListing });
    await form.getByRole("button", { name: "Grant" }).click();
    await status(patient.page, `Access granted to ${carlaListing}: read access to Lab until`);
    const grants = patient.page.getByRole("table", { name: "Grants" });
    await grants.getByRole("row").filter({ hasText: carlaListing }).filter({ hasText: "Lab" }).waitFor();
    expect(await grants.innerText()).not.toMatch(BECH32);

    const audit = patient.page.getByRole("table", { name: "Audit log" });
    await audit.getByText(new RegExp(`^You gave ${carlaListing} read access to Lab until \\w{3}, .+\\d{2}:\\d{2}`)).waitFor();
    await audit.getByText(new RegExp(`^You gave ${BEN} read access to Lab until `)).first().waitFor(); // the approved request (and the ehr CLI's grant)
    await audit.getByText("You registered as a patient").waitFor();
    const text = await audit.innerText();
    expect(text).not.toMatch(BECH32);
    expect(text).toContain(`${BEN} broke the glass (treatment of a patient who cannot consent, ETREAT): emergency read access until`);
  });

  it("the admin withdraws the credential: the patient's log says so at that time, and the grant is flagged", async () => {
    const row = admin.page.getByRole("table", { name: "Doctors" }).getByRole("row").filter({ hasText: CARLA.name });
    await row.getByRole("button", { name: "Withdraw credential" }).click();
    await row.getByRole("button", { name: `Confirm: withdraw ${CARLA.name}` }).click();
    await row.getByText("withdrawn on").waitFor();
    await admin.context.close();

    await patient.page.reload();
    const audit = patient.page.getByRole("table", { name: "Audit log" });
    const withdrawn = audit.locator('tr[data-audit-kind="credential_withdrawn"]');
    await withdrawn.getByText(`The network withdrew the credential of ${carlaListing}; their access ended`).waitFor();
    expect(await audit.innerText()).not.toMatch(BECH32);
    await patient.page.getByRole("table", { name: "Grants" }).getByRole("row").filter({ hasText: carlaListing }).getByText(/credential withdrawn on /).waitFor();
    // a withdrawn doctor is no longer offered
    await doctorOption(patient.page, ANA).waitFor({ state: "attached" });
    const options = await patient.page.getByRole("form", { name: "Grant access" }).getByLabel("Doctor").locator("option").allInnerTexts();
    expect(options).not.toContain(carlaListing);
    await doctor3.context.close();
  });
});

describe("keys after a loss of access (issue 10)", () => {
  // patient2 registers again (its first patient record was deleted above): a new patient, every category at epoch 0.
  let p2: Person;
  let id2: number;
  let lipidId: string;
  let expiry: Date;
  const openPatient = async (d: Person) => {
    await d.page.reload();
    await d.page.getByRole("button", { name: `Open patient ${id2}` }).click();
    await d.page.getByRole("heading", { name: `Records of patient #${id2}` }).waitFor();
  };
  const savedId = async (page: Page, title: string) => (await recordRow(page, title).getAttribute("data-record-id"))!;
  const locked = (page: Page, recordId: string) => page.locator(`tr[data-record-id="${recordId}"]`).filter({ hasText: "no key" });

  it("patient2 registers again, writes lab and note records (each opens the category's first key), grants doctor1 write on both and doctor2 read on lab for seconds; doctor2 reads the lab record", async () => {
    p2 = await personAs(h, "patient2");
    const form = p2.page.getByRole("form", { name: "Profile" });
    await form.getByLabel("Full name").fill("Jonas Brettschneider");
    await form.getByRole("button", { name: "Register" }).click();
    await p2.page.locator('[data-dashboard="patient"]').waitFor();
    const heading = await p2.page.getByRole("heading", { name: /My profile \(patient #\d+\)/ }).textContent();
    id2 = Number(/#(\d+)/.exec(heading!)![1]);
    await p2.page.getByText("Jonas Brettschneider").waitFor();
    await addRecord(p2.page, "lab", "Lipid panel", "LDL 3.1 mmol/L");
    await status(p2.page, "It opened a new Lab key (epoch 1) for you.");
    lipidId = await savedId(p2.page, "Lipid panel");
    await addRecord(p2.page, "note", "First consult", "family history of hypercholesterolaemia");

    const grant = p2.page.getByRole("form", { name: "Grant access" });
    await grant.getByLabel("Doctor").selectOption(doctor1.address);
    await grant.getByLabel("note").check();
    await grant.getByLabel("Access").selectOption("write");
    await grant.getByRole("button", { name: "Grant" }).click();
    await status(p2.page, "Access granted to");
    expiry = await grantForSeconds("patient2", id2, doctor2.address, "read", ["lab"], 20);

    await openPatient(doctor2);
    await recordRow(doctor2.page, "Lipid panel").locator('[data-integrity="verified"]').waitFor();
  });

  it("after doctor2's grant expired, doctor1 writes a lab record: the write rotates the key and succeeds, and the patient reads it", async () => {
    const wait = expiry.getTime() + 3_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await openPatient(doctor1);
    await addRecord(doctor1.page, "lab", "LDL recheck", "2.6 mmol/L on statin");
    await status(doctor1.page, "It opened a new Lab key (epoch 2) for the patient and 1 other who may read it.");
    await p2.page.reload();
    await recordRow(p2.page, "LDL recheck").locator('[data-integrity="verified"]').waitFor();
    // a write by the patient now: epoch 2 is fresh, nobody who lost access holds its key
    await addRecord(p2.page, "lab", "Triglycerides", "1.2 mmol/L");
    expect(await p2.page.getByRole("status").filter({ hasText: "opened a new" }).count()).toBe(0);
    const audit = p2.page.getByRole("table", { name: "Audit log" });
    await p2.page.reload();
    await audit.getByText("You made a new Lab key (epoch 1) for the patient only").waitFor();
    await audit.getByText(`${ANA} made a new Lab key (epoch 2) for the patient and 1 other reader`).waitFor();
  });

  it("doctor2, whose grant expired, still opens what it was handed but no lab record written after the expiry", async () => {
    const ldl = await savedId(p2.page, "LDL recheck");
    const tg = await savedId(p2.page, "Triglycerides");
    await openPatient(doctor2);
    await alert(doctor2.page, `Your access to patient #${id2} expired on`);
    await recordRow(doctor2.page, "Lipid panel").locator('[data-integrity="verified"]').waitFor();
    await locked(doctor2.page, ldl).waitFor();
    await locked(doctor2.page, tg).waitFor();
    expect(await recordRow(doctor2.page, "LDL recheck").count()).toBe(0);
    expect(await recordRow(doctor2.page, "Triglycerides").count()).toBe(0);
    await doctor2.page.locator(`tr[data-record-id="${ldl}"]`).getByRole("button", { name: /Open record/ }).click();
    expect(await doctor2.page.getByLabel("Decrypted content").count()).toBe(0);
  });

  it("a narrower re-grant (doctor1: manage on lab only): the next note gets a key doctor1 never receives; doctor1 may delete lab records, never the patient", async () => {
    await p2.page.reload();
    const grant = p2.page.getByRole("form", { name: "Grant access" });
    await grant.getByLabel("Doctor").selectOption(doctor1.address);
    expect(await grant.getByLabel("note").isChecked()).toBe(false);
    await grant.getByLabel("Access").selectOption("manage");
    await grant.getByRole("button", { name: "Grant" }).click();
    await status(p2.page, "Access granted to");
    await p2.page.getByRole("table", { name: "Grants" }).getByRole("row").filter({ hasText: ANA }).filter({ hasText: "read, write and delete" }).waitFor();
    await addRecord(p2.page, "note", "Private note after narrowing", "not for doctor1");
    await status(p2.page, "It opened a new Note key (epoch 2) for you.");
    const privateNote = await savedId(p2.page, "Private note after narrowing");

    await openPatient(doctor1);
    await recordRow(doctor1.page, "First consult").locator('[data-integrity="verified"]').waitFor();
    await locked(doctor1.page, privateNote).waitFor();
    expect(await recordRow(doctor1.page, "Private note").count()).toBe(0);
    await recordRow(doctor1.page, "Lipid panel").getByRole("button", { name: /Open record/ }).click();
    await doctor1.page.getByRole("button", { name: "Delete record" }).waitFor();
    expect(await doctor1.page.getByRole("button", { name: /delete .*patient/i }).count()).toBe(0);
    await doctor1.page.getByRole("button", { name: "Close" }).click();
  });

  it("patient and doctor1 update the same record at once: the later save is sealed again on top of the other's, and both versions open", async () => {
    await p2.page.reload();
    await recordRow(p2.page, "Lipid panel").getByRole("button", { name: /Open record/ }).click();
    const mine = p2.page.getByRole("form", { name: `New version of record ${lipidId}` });
    await mine.getByLabel("Title").fill("Lipid panel, patient's copy");

    await openPatient(doctor1);
    await recordRow(doctor1.page, "Lipid panel").getByRole("button", { name: /Open record/ }).click();
    const theirs = doctor1.page.getByRole("form", { name: `New version of record ${lipidId}` });
    await theirs.getByLabel("Title").fill("Lipid panel, reviewed");
    await theirs.getByRole("button", { name: "Save new version" }).click();
    await status(doctor1.page, `Saved as record #${lipidId}, version 2.`);

    // the patient's form is still based on version 1
    await mine.getByRole("button", { name: "Save new version" }).click();
    await status(p2.page, `Saved as record #${lipidId}, version 3. Someone else had saved version 2 meanwhile`);
    const row = recordRow(p2.page, "Lipid panel, patient's copy");
    await row.locator('[data-integrity="verified"]').waitFor();
    await row.getByRole("button", { name: /Open record/ }).click();
    const history = p2.page.getByRole("list", { name: "Version history" });
    for (const v of ["v1", "v2", "v3"]) await history.getByText(new RegExp(`^${v} `)).waitFor();
    await openPatient(doctor1);
    await recordRow(doctor1.page, "Lipid panel, patient's copy").locator('[data-integrity="verified"]').waitFor();
  });

  it("a grantee's rotation is refused when not needed; a needed one with a junk own envelope leaves the patient's dashboard working, says which epoch did not open and who opened it, and the patient's next lab record opens a new key", async () => {
    const chain = await CosmWasmClient.connect(deploy.rpc_url);
    const access = deploy.contracts.access.address;
    const labEpoch = async () => ((await chain.queryContractSmart(access, { epochs: { patient_id: id2 } })).epochs as { category: string; epoch: number }[]).find((e) => e.category === "lab")?.epoch ?? 0;
    const junk = () => Buffer.from(crypto.getRandomValues(new Uint8Array(80))).toString("base64");
    const rotate = (epoch: number) => ({
      rotate_key: { patient_id: id2, category: "lab", epoch, own_envelope: junk(), envelopes: [{ recipient: doctor1.address, envelope: junk() }], escrow: [] },
    });
    const epoch = await labEpoch();
    // doctor1 (Manage on lab) opened the current lab epoch itself and holds it: no new one is needed, so the chain refuses it.
    await expect(executeAs("doctor1", access, rotate(epoch + 1))).rejects.toThrow(/rotation_not_needed/);

    // doctor2 is handed the lab keys and revoked: the lab epoch is stale, and a grantee's rotation is needed.
    await p2.page.reload();
    const grant = p2.page.getByRole("form", { name: "Grant access" });
    await grant.getByLabel("Doctor").selectOption(doctor2.address);
    await grant.getByLabel("Access").selectOption("read");
    await grant.getByRole("button", { name: "Grant" }).click();
    await status(p2.page, `Access granted to ${BEN}: read access to Lab`);
    await p2.page.getByRole("button", { name: `Revoke ${BEN}` }).click();
    await status(p2.page, `Access of ${BEN} revoked.`);
    await executeAs("doctor1", access, rotate(epoch + 1));
    expect(await labEpoch()).toBe(epoch + 1);

    // The patient's dashboard still shows every record, and says which key did not open and whose rotation it was.
    await p2.page.reload();
    const keys = p2.page.getByRole("alert", { name: "Keys that do not open" });
    await keys
      .getByText(`The Lab key of epoch ${epoch + 1} (opened by ${ANA}) does not open with your key: records sealed with it cannot be shown. Your next Lab record starts a new key.`)
      .waitFor();
    await recordRow(p2.page, "Lipid panel, patient's copy").locator('[data-integrity="verified"]').waitFor();
    await recordRow(p2.page, "First consult").locator('[data-integrity="verified"]').waitFor();
    await p2.page.screenshot({ path: `${RESULTS}patient-unopened-key.png`, fullPage: false });
    await p2.page.setViewportSize({ width: 390, height: 844 });
    await keys.screenshot({ path: `${RESULTS}patient-unopened-key-390.png` });
    await p2.page.setViewportSize({ width: 1280, height: 900 });

    // The patient's next lab record rotates past the junk epoch, for the patient and doctor1.
    await addRecord(p2.page, "lab", "HbA1c", "5.6 %");
    await status(p2.page, `It opened a new Lab key (epoch ${epoch + 2}) for you and 1 other who may read it.`);
    expect(await labEpoch()).toBe(epoch + 2);
    await p2.page.reload();
    await recordRow(p2.page, "HbA1c").locator('[data-integrity="verified"]').waitFor();
    await keys.getByText(`The Lab key of epoch ${epoch + 1} (opened by ${ANA}) does not open with your key: records sealed with it cannot be shown.`).waitFor();
    expect(await keys.innerText()).not.toContain("Your next Lab record");
    await openPatient(doctor1);
    await recordRow(doctor1.page, "HbA1c").locator('[data-integrity="verified"]').waitFor();
    await p2.context.close();
  });
});

describe("paging, search over every record, download (issue 14)", () => {
  // A word only in the 105th record: records_by_patient pages by ascending id, so it is not on the first page.
  const WORD = "Quixotrypsin";
  let p3: Person;
  let id3: number;
  const indexed = (page: Page, text: RegExp) => page.getByText(text).first().waitFor({ timeout: 120_000 });

  it("a patient with 105 records sees the newest 100, then loads the rest from the chain; search finds a word only in the 105th record", async () => {
    id3 = await seedPatientRecords("patient3", 105, 105, (i) => (i === 104 ? ` ${WORD} level noted` : ""));
    p3 = await personAs(h, "patient3");
    await p3.page.getByText("100 of 100 loaded records match (more on chain).").waitFor();
    await p3.page.getByLabel("Search").fill(WORD.toLowerCase());
    await indexed(p3.page, /^1 of 105 indexed records match\.$/);
    await recordRow(p3.page, "Record 104").locator('[data-integrity="verified"]').waitFor();
    await p3.page.getByLabel("Search").fill("");
    await p3.page.getByText("100 of 100 loaded records match (more on chain).").waitFor();
    await p3.page.getByRole("button", { name: "Load more from the chain" }).click();
    await p3.page.getByText("105 of 105 loaded records match.").waitFor();
    expect(await p3.page.getByRole("button", { name: "Load more from the chain" }).count()).toBe(0);
  });

  it("a doctor finds the lab records it may read; once revoked (and the patient wrote, rotating the key) its search no longer finds that category's new records", async () => {
    await grantForSeconds("patient3", id3, doctor1.address, "read", ["lab"], 3600);
    await p3.page.reload();
    // Records past the first page of 100 are not in the loaded list: the saved notice and search find them.
    await addUnlisted(p3.page, "lab", "Ferritin zanzibarite", "first measure");
    await doctor1.page.reload();
    await doctor1.page.getByRole("button", { name: `Open patient ${id3}` }).click();
    await doctor1.page.getByRole("heading", { name: `Records of patient #${id3}` }).waitFor();
    await doctor1.page.getByLabel("Search").fill("zanzibarite");
    await indexed(doctor1.page, /^1 of \d+ indexed records match\.$/);
    await recordRow(doctor1.page, "Ferritin zanzibarite").waitFor();
    await doctor1.page.getByLabel("Search").fill("");

    await p3.page.getByRole("button", { name: `Revoke ${ANA}` }).click();
    await status(p3.page, `Access of ${ANA} revoked.`);
    await addUnlisted(p3.page, "lab", "Ferritin zanzibarite recheck", "second measure");
    await status(p3.page, /It opened a new Lab key \(epoch \d+\) for you\./);
    await p3.page.getByLabel("Search").fill("zanzibarite");
    await indexed(p3.page, /^2 of 107 indexed records match\.$/);
    await p3.page.getByLabel("Search").fill("");

    // The doctor's panel is still open: starting a search syncs the index, which drops the category.
    await doctor1.page.getByLabel("Search").fill("zanzibarite");
    await indexed(doctor1.page, /^0 of 0 indexed records match\.$/);
    expect(await recordRow(doctor1.page, "zanzibarite").count()).toBe(0);
  });

  it("Download my records: a FHIR Bundle with an entry per record and a Provenance per record carrying the chain's sha256", async () => {
    const [download] = await Promise.all([p3.page.waitForEvent("download"), p3.page.getByRole("button", { name: "Download my records" }).click()]);
    expect(download.suggestedFilename()).toBe(`ehr-patient-${id3}.fhir.json`);
    await status(p3.page, `Saved ehr-patient-${id3}.fhir.json: your profile, 107 records`);
    const bundle = JSON.parse(readFileSync(await download.path(), "utf8"));
    type Entry = { fullUrl: string; resource: { resourceType: string; target?: { reference: string }[]; extension?: { url: string; extension: { url: string; valueString: string }[] }[] } };
    const entries: Entry[] = bundle.entry;
    expect(bundle).toMatchObject({ resourceType: "Bundle", type: "collection" });
    const provenance = entries.filter((e) => e.resource.resourceType === "Provenance");
    expect(provenance).toHaveLength(107);
    const targets = new Set(provenance.map((p) => p.resource.target![0].reference));
    const records = entries.filter((e) => targets.has(e.fullUrl));
    expect(records).toHaveLength(107);
    // The UI's notes and labs are R4 as written, kept as they are; the other categories' documents are wrapped.
    const observations = Array.from({ length: 105 }, (_, i) => RECORD_CATEGORIES[i % RECORD_CATEGORIES.length]).filter((c) => c === "note" || c === "lab").length + 2;
    expect(records.filter((e) => e.resource.resourceType === "Observation")).toHaveLength(observations);
    expect(records.filter((e) => e.resource.resourceType === "DocumentReference")).toHaveLength(107 - observations);
    const chain = await CosmWasmClient.connect(deploy.rpc_url);
    const onChain = new Map<string, string>();
    for (let after: number | undefined; ; ) {
      const { records: page } = await chain.queryContractSmart(deploy.contracts.registry.address, { records_by_patient: { patient_id: id3, start_after: after, limit: 100 } });
      for (const r of page) onChain.set(String(r.id), r.latest.blob.sha256);
      if (page.length < 100) break;
      after = page.at(-1).id;
    }
    expect(onChain.size).toBe(107);
    for (const p of provenance) {
      const evidence = Object.fromEntries(p.resource.extension![0].extension.map((x) => [x.url, x.valueString]));
      expect(evidence.sha256).toBe(onChain.get(evidence.recordId));
    }
    await p3.context.close();
  });
});
