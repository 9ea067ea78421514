// The audit log in words: every action of the generated AuditAction union has its sentence (the
// same as the `ehr audit` command's), names instead of addresses, local times, and the rows of
// grantees whose credential the admin withdrew.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../contracts/EhrAccess.types";
import type { ProviderInfo } from "../contracts/EhrRegistry.types";
import { addressesOf, AUDIT_ACTION_KEYS, AUDIT_KIND_LABELS, auditRows, auditSentence, type AuditActionKey, type AuditFields, type SentenceContext } from "./audit";
import { nameOf } from "./names";
import { localTime } from "./time";

const PATIENT = "wasm1patientaddressxyz";
const ANA = "wasm1doctoraddressabcd";
const BEN = "wasm1doctorwithdrawnab";
const ADMIN = "wasm1adminaddressxyzw";
const STRANGER = "wasm1strangeraddress0000";
const TRUSTEE1 = "wasm1trusteeoneaddress00";
const TRUSTEE2 = "wasm1trusteetwoaddress00";
const NEW_WALLET = "wasm1newwalletaddress1111"; // a recovery's new wallet: not a listed provider, shortened "wasm1neww…1111"
const listed = (address: string, display_name: string, organization: string, withdrawn_at?: string): ProviderInfo => ({
  address, display_name, organization, credentialed: !withdrawn_at, credentialed_at: "1", withdrawn_at: withdrawn_at ?? null, encryption_key: null,
});
const providers = new Map<string, ProviderInfo | null>([
  [ANA, listed(ANA, "Dr Ana Lima", "St Mary Hospital")],
  [BEN, listed(BEN, "Dr Ben Okafor", "Riverside Clinic", "500000000000")],
  [STRANGER, null],
]);
const paris = (t: string) => localTime(t, { locale: "en-GB", timeZone: "Europe/Paris" });
const dir = { viewer: PATIENT, admin: ADMIN, patientOwner: PATIENT, providers, trustees: [TRUSTEE1, TRUSTEE2] };
const ctx: SentenceContext = { name: (a) => nameOf(a, dir), time: paris };
const EXPIRES = "1796216700000000000"; // Wed, 2 Dec 2026, 14:05 CET

/**
 * One case at least per action key. Typed by the union: an action added to the generated types
 * without a case here does not type-check; the run-time check below catches it without tsc.
 */
const CASES: { [K in AuditActionKey]: [actor: string, fields: AuditFields<K>, sentence: string][] } = {
  patient_registered: [[PATIENT, {}, "You registered as a patient"]],
  patient_proposed: [[ANA, {}, "Dr Ana Lima, St Mary Hospital proposed the patient record"]],
  patient_accepted: [[PATIENT, {}, "You accepted the patient record"]],
  patient_declined: [[PATIENT, {}, "You declined the patient record"]],
  profile_updated: [[PATIENT, { version: 3 }, "You updated the profile (version 3)"]],
  patient_deleted: [[PATIENT, {}, "You deleted the patient and all records"]],
  record_added: [
    [ANA, { record_id: 12, category: "lab" }, "Dr Ana Lima, St Mary Hospital added Lab record #12"],
    [PATIENT, { record_id: 13, category: "immunization" }, "You added Immunization record #13"],
  ],
  record_updated: [[PATIENT, { record_id: 12, version: 2 }, "You updated record #12 to version 2"]],
  record_deleted: [[ANA, { record_id: 12 }, "Dr Ana Lima, St Mary Hospital deleted record #12"]],
  access_granted: [
    [PATIENT, { grantee: ANA, scope: "read", categories: ["lab", "note"], expires: EXPIRES }, "You gave Dr Ana Lima, St Mary Hospital read access to Lab, Note until Wed, 2 Dec 2026, 14:05 CET"],
    [PATIENT, { grantee: ANA, scope: "write", categories: ["lab"], expires: null }, "You gave Dr Ana Lima, St Mary Hospital read and write access to Lab with no end date"],
    [PATIENT, { grantee: BEN, scope: "manage", categories: ["note"] }, "You gave Dr Ben Okafor, Riverside Clinic read, write and delete access to Note with no end date"],
    [PATIENT, { grantee: STRANGER, scope: "read", categories: ["lab"], expires: null }, "You gave wasm1stra…0000 (not a listed provider) read access to Lab with no end date"],
  ],
  access_revoked: [[PATIENT, { grantee: ANA }, "You revoked the access of Dr Ana Lima, St Mary Hospital"]],
  access_requested: [[BEN, { request_id: 3 }, "Dr Ben Okafor, Riverside Clinic asked for access (request #3)"]],
  request_approved: [[PATIENT, { request_id: 3 }, "You approved request #3"]],
  request_denied: [[PATIENT, { request_id: 3 }, "You denied request #3"]],
  emergency_access: [
    [
      BEN,
      { expires: EXPIRES, reason: { incapable_patient: {} } },
      "Dr Ben Okafor, Riverside Clinic broke the glass (treatment of a patient who cannot consent, ETREAT): emergency read access until Wed, 2 Dec 2026, 14:05 CET",
    ],
    [
      ANA,
      { expires: EXPIRES, reason: { other: { code: "MASS-CASUALTY" } } },
      "Dr Ana Lima, St Mary Hospital broke the glass (reason code MASS-CASUALTY, BTG): emergency read access until Wed, 2 Dec 2026, 14:05 CET",
    ],
  ],
  emergency_ended: [
    [PATIENT, { doctor: BEN }, "You ended the emergency access of Dr Ben Okafor, Riverside Clinic"],
    [PATIENT, { doctor: STRANGER }, "You ended the emergency access of wasm1stra…0000 (not a listed provider)"],
  ],
  shares_released: [
    [TRUSTEE2, { doctor: BEN, categories: ["allergy", "profile"] }, "Trustee 2 of the network released its key shares of Allergy, Profile to Dr Ben Okafor, Riverside Clinic"],
    [TRUSTEE1, { doctor: ANA, categories: ["allergy"] }, "Trustee 1 of the network released its key shares of Allergy to Dr Ana Lima, St Mary Hospital"],
  ],
  escrow_policy_set: [
    [PATIENT, { categories: ["allergy", "prescription"], recovery: false }, "You chose the key escrow: Allergy, Prescription open in an emergency; no wallet recovery"],
    [PATIENT, { categories: ["allergy"] }, "You chose the key escrow: Allergy open in an emergency; no wallet recovery"], // logged before recovery existed
    [PATIENT, { categories: [], recovery: true }, "You chose the key escrow: nothing opens in an emergency; every key is escrowed so a lost wallet can be recovered"],
    [PATIENT, { categories: ["profile"], recovery: true }, "You chose the key escrow: Profile open in an emergency; every key is escrowed so a lost wallet can be recovered"],
    [PATIENT, { categories: [], recovery: false }, "You stopped escrowing keys with the trustees"],
  ],
  recovery_requested: [
    [NEW_WALLET, { new_owner: NEW_WALLET, not_before: EXPIRES }, "Wasm1neww…1111 asked to move the patient to the new wallet wasm1neww…1111; trustees may approve from Wed, 2 Dec 2026, 14:05 CET"],
  ],
  recovery_cancelled: [[PATIENT, { new_owner: NEW_WALLET }, "You cancelled the request to move the patient to the wallet wasm1neww…1111"]],
  recovery_approved: [
    [TRUSTEE1, { new_owner: NEW_WALLET }, "Trustee 1 of the network approved moving the patient to the new wallet wasm1neww…1111"], // logged before identity checks
    [TRUSTEE1, { new_owner: NEW_WALLET, identity_check: null }, "Trustee 1 of the network approved moving the patient to the new wallet wasm1neww…1111"],
    [
      TRUSTEE1,
      { new_owner: NEW_WALLET, identity_check: "in_person_photo_id" },
      "Trustee 1 of the network approved moving the patient to the new wallet wasm1neww…1111 after checking identity in person, with a photo ID (in-person-photo-id)",
    ],
    [
      TRUSTEE2,
      { new_owner: NEW_WALLET, identity_check: "video_photo_id" },
      "Trustee 2 of the network approved moving the patient to the new wallet wasm1neww…1111 after checking identity on a video call, with a photo ID (video-photo-id)",
    ],
    [
      TRUSTEE1,
      { new_owner: NEW_WALLET, identity_check: "known_clinician" },
      "Trustee 1 of the network approved moving the patient to the new wallet wasm1neww…1111 after checking identity through a clinician who knows the patient (known-clinician)",
    ],
    [
      TRUSTEE2,
      { new_owner: NEW_WALLET, identity_check: "notarised_document" },
      "Trustee 2 of the network approved moving the patient to the new wallet wasm1neww…1111 after checking identity by a notarised document (notarised-document)",
    ],
  ],
  patient_recovered: [
    [
      TRUSTEE2,
      { former_owner: PATIENT, new_owner: NEW_WALLET },
      "Trustee 2 of the network completed the recovery: the patient moved from the wallet wasm1pati…sxyz to wasm1neww…1111, and the old wallet's keys open no new record",
    ],
  ],
  recovery_shares_released: [
    [TRUSTEE1, { owner: NEW_WALLET, categories: ["note", "lab", "profile"] }, "Trustee 1 of the network released its key shares of Note, Lab, Profile to the recovered wallet wasm1neww…1111"],
  ],
  key_rotated: [
    [PATIENT, { category: "lab", epoch: 2, holders: 1 }, "You made a new Lab key (epoch 2) for the patient and 1 other reader"],
    [ANA, { category: "lab", epoch: 4, holders: 2 }, "Dr Ana Lima, St Mary Hospital made a new Lab key (epoch 4) for the patient and 2 other readers"],
    [PATIENT, { category: "allergy", epoch: 2, holders: 0 }, "You made a new Allergy key (epoch 2) for the patient only"],
  ],
};

/** The action keys of the AuditAction union, read from the generated file itself. */
function generatedActionKeys(): string[] {
  const source = readFileSync(new URL("../contracts/EhrAccess.types.ts", import.meta.url), "utf8");
  const start = source.indexOf("export type AuditAction = ");
  expect(start).toBeGreaterThan(-1);
  const body = source.slice(start, source.indexOf("\n};", start));
  return [...body.matchAll(/^ {2}(\w+): \{/gm)].map((m) => m[1]);
}

describe("audit sentences", () => {
  it("every action of the generated AuditAction union has a sentence, a label and a test case", () => {
    const keys = generatedActionKeys();
    expect(keys.length).toBeGreaterThanOrEqual(16);
    expect([...AUDIT_ACTION_KEYS].sort()).toEqual([...keys].sort());
    for (const k of keys) {
      expect(AUDIT_KIND_LABELS, k).toHaveProperty(k);
      expect(CASES[k as AuditActionKey]?.length ?? 0, `a test case for ${k}`).toBeGreaterThan(0);
    }
  });

  for (const [key, cases] of Object.entries(CASES))
    it(`${key} reads as a sentence`, () => {
      for (const [actor, fields, sentence] of cases) expect(auditSentence({ actor, action: { [key]: fields } as AuditEntry["action"] }, ctx)).toBe(sentence);
    });

  it('names from the doctor\'s side: the patient is "the patient", the doctor "you"', () => {
    const asAna: SentenceContext = { name: (a) => nameOf(a, { ...dir, viewer: ANA }), time: paris };
    expect(auditSentence({ actor: PATIENT, action: { access_granted: { grantee: ANA, scope: "read", categories: ["lab"], expires: null } } }, asAna)).toBe(
      "The patient gave you read access to Lab with no end date",
    );
    expect(auditSentence({ actor: ADMIN, action: { patient_proposed: {} } }, ctx)).toBe("The network admin proposed the patient record");
  });

  it("an action this page does not know still reads as a sentence", () => {
    expect(auditSentence({ actor: ANA, action: { consent_signed: {} } as unknown as AuditEntry["action"] }, ctx)).toBe(
      "Dr Ana Lima, St Mary Hospital did something this page does not know (consent signed)",
    );
  });
});

describe("credential withdrawals in the patient's log", () => {
  const entry = (seq: number, seconds: number, actor: string, action: AuditEntry["action"]): AuditEntry => ({ patient_id: 1, seq, time: `${seconds}000000000`, actor, action });
  const grant = (seq: number, seconds: number, grantee: string) => entry(seq, seconds, PATIENT, { access_granted: { grantee, scope: "read", categories: ["lab"], expires: null } });
  const d = { ...ctx, provider: (a: string) => providers.get(a) ?? undefined, admin: ADMIN };

  it("adds a row at the withdrawal time for each withdrawn grantee, sorted by time", () => {
    const rows = auditRows([grant(1, 100, BEN), grant(2, 200, ANA), entry(3, 900, ANA, { record_added: { record_id: 1, category: "lab" } })], d);
    expect(rows.map((r) => [r.seq, Number(BigInt(r.time) / 1_000_000_000n), r.kind, r.text])).toEqual([
      [1, 100, "access_granted", "You gave Dr Ben Okafor, Riverside Clinic read access to Lab with no end date"],
      [2, 200, "access_granted", "You gave Dr Ana Lima, St Mary Hospital read access to Lab with no end date"],
      [undefined, 500, "credential_withdrawn", "The network withdrew the credential of Dr Ben Okafor, Riverside Clinic; their access ended"],
      [3, 900, "record_added", "Dr Ana Lima, St Mary Hospital added Lab record #1"],
    ]);
    expect(rows[2]).toMatchObject({ actor: ADMIN, key: `withdrawn/${BEN}`, emergency: false });
  });

  it("one row per grantee however often they are named; a revoked grantee counts; none without a withdrawal", () => {
    const rows = auditRows([grant(1, 100, BEN), grant(2, 150, BEN), entry(3, 160, PATIENT, { access_revoked: { grantee: BEN } }), grant(4, 170, ANA)], d);
    expect(rows.filter((r) => r.kind === "credential_withdrawn")).toHaveLength(1);
    expect(auditRows([entry(1, 100, PATIENT, { access_revoked: { grantee: BEN } })], d).map((r) => r.kind)).toEqual(["access_revoked", "credential_withdrawn"]);
    expect(auditRows([grant(1, 100, ANA), grant(2, 100, STRANGER)], d).map((r) => r.kind)).toEqual(["access_granted", "access_granted"]);
  });

  it("a withdrawal sorts after the entries of the same time; entries keep their order", () => {
    const rows = auditRows([grant(2, 500, BEN), entry(1, 500, BEN, { emergency_access: { expires: EXPIRES, reason: { incapable_patient: {} } } })], d);
    expect(rows.map((r) => r.key)).toEqual(["1", "2", `withdrawn/${BEN}`]);
    expect(rows[0].emergency).toBe(true);
    expect(auditRows([entry(3, 600, ANA, { shares_released: { doctor: BEN, categories: ["allergy"] } })], d)[0].emergency).toBe(true);
    expect(auditRows([entry(4, 700, PATIENT, { emergency_ended: { doctor: BEN } })], d)[0]).toMatchObject({ emergency: true, kind: "emergency_ended" });
    expect(auditRows([entry(5, 800, PATIENT, { record_added: { record_id: 1, category: "lab" } })], d)[0].emergency).toBe(false);
  });

  it("the addresses an entry names besides its actor are the ones looked up before the log shows", () => {
    expect(addressesOf({ access_granted: { grantee: ANA, scope: "read", categories: ["lab"], expires: null } })).toEqual([ANA]);
    expect(addressesOf({ access_revoked: { grantee: BEN } })).toEqual([BEN]);
    expect(addressesOf({ emergency_ended: { doctor: BEN } })).toEqual([BEN]);
    expect(addressesOf({ shares_released: { doctor: ANA, categories: ["allergy"] } })).toEqual([ANA]);
    expect(addressesOf({ record_added: { record_id: 1, category: "lab" } })).toEqual([]);
  });
});
