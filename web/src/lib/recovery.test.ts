// Key escrow and wallet recovery: which categories a policy escrows (so every epoch of them carries
// shares), the settings' words, and the alert a pending recovery request raises.
import { describe, expect, it } from "vitest";
import type { RecoveryInfo } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { CATEGORIES } from "../crypto/categories";
import { epochsToEscrow, escrowedCategories, escrowSavedText, escrowStatusText, pendingRecovery, recoveryAlertText, recoveryCancelledText } from "./recovery";
import { localTime } from "./time";

const paris = (t: string) => localTime(t, { locale: "en-GB", timeZone: "Europe/Paris" });
const REQUESTED = "1796216700000000000"; // Wed, 2 Dec 2026, 14:05 CET
const NOT_BEFORE = "1796475900000000000"; // three days later
const request = (status: RecoveryInfo["status"], approvals: string[] = []): RecoveryInfo => ({
  patient_id: 7,
  new_owner: "wasm1newwalletaddress1111",
  requested_at: REQUESTED,
  not_before: NOT_BEFORE,
  approvals,
  status,
  decided_at: status === "pending" ? null : NOT_BEFORE,
  former_owner: null,
});

describe("escrowedCategories", () => {
  it("escrows only the emergency categories without recovery, and every category (profile too) with it", () => {
    expect(escrowedCategories(["allergy", "profile"], false)).toEqual(["allergy", "profile"]);
    expect(escrowedCategories([], false)).toEqual([]);
    expect(escrowedCategories([], true)).toEqual(CATEGORIES);
    expect(escrowedCategories(["allergy"], true)).toEqual(CATEGORIES);
    expect(escrowedCategories(["allergy"], true)).toContain("note");
    expect(escrowedCategories(["allergy"], true)).toContain("profile");
  });
  it("returns a copy: changing it changes neither the caller's list nor the category list", () => {
    const chosen: Category[] = ["allergy"];
    escrowedCategories(chosen, false).push("note");
    escrowedCategories(chosen, true).pop();
    expect(chosen).toEqual(["allergy"]);
    expect(CATEGORIES).toHaveLength(9);
  });
});

describe("epochsToEscrow", () => {
  const epochs = [
    { category: "lab" as const, epoch: 2 },
    { category: "note" as const, epoch: 1 },
  ];
  it("every epoch up to the current one of each escrowed category that has a key; a category never rotated has epoch 0 only", () => {
    const held = new Set(["lab/0", "lab/1", "lab/2", "note/0", "note/1", "profile/0"]);
    const hasKey = (c: Category, e: number) => held.has(`${c}/${e}`);
    expect(epochsToEscrow(["lab", "profile"], epochs, hasKey)).toEqual([
      { category: "lab", epoch: 0 },
      { category: "lab", epoch: 1 },
      { category: "lab", epoch: 2 },
      { category: "profile", epoch: 0 },
    ]);
    // with recovery, the notes the emergency choice leaves out are escrowed as well
    expect(epochsToEscrow(escrowedCategories(["profile"], true), epochs, hasKey)).toEqual(expect.arrayContaining([{ category: "note", epoch: 0 }, { category: "note", epoch: 1 }]));
    expect(epochsToEscrow(escrowedCategories(["profile"], true), epochs, hasKey)).toHaveLength(6);
  });
  it("skips an epoch nobody wrote with (no key yet), and escrows nothing for an empty policy", () => {
    const hasKey = (c: Category, e: number) => c === "lab" && e !== 1;
    expect(epochsToEscrow(["lab", "allergy"], epochs, hasKey)).toEqual([
      { category: "lab", epoch: 0 },
      { category: "lab", epoch: 2 },
    ]);
    expect(epochsToEscrow([], epochs, () => true)).toEqual([]);
  });
});

describe("escrow settings in words", () => {
  it("the status line says what opens in an emergency and whether recovery is on", () => {
    expect(escrowStatusText({ categories: ["prescription", "allergy"], recovery: false })).toBe("Now opened in an emergency: Prescription, Allergy. Wallet recovery is off.");
    expect(escrowStatusText({ categories: ["allergy"], recovery: true })).toBe("Now opened in an emergency: Allergy. Wallet recovery is on: every category is escrowed.");
    expect(escrowStatusText({ categories: [], recovery: true })).toBe("Nothing opens in an emergency. Wallet recovery is on: every category is escrowed.");
    expect(escrowStatusText({ categories: [], recovery: false })).toBe("Nothing is escrowed now: no record opens in an emergency, and a lost wallet cannot be recovered.");
  });
  it("the saved message says both choices and how many keys went to the trustees", () => {
    expect(escrowSavedText(["allergy", "profile"], false, 1)).toBe("Saved: Allergy, Profile open in an emergency; no wallet recovery (1 key escrowed with the trustees).");
    expect(escrowSavedText(["allergy"], true, 7)).toBe(
      "Saved: Allergy open in an emergency; every category is escrowed so you can recover from a lost wallet (7 keys escrowed with the trustees).",
    );
    expect(escrowSavedText([], true, 0)).toBe("Saved: nothing opens in an emergency; every category is escrowed so you can recover from a lost wallet (0 keys escrowed with the trustees).");
    expect(escrowSavedText([], false, 0)).toBe("Saved: nothing is escrowed any more; new keys are no longer escrowed.");
  });
});

describe("the recovery alert", () => {
  it("shows only for a pending request", () => {
    expect(pendingRecovery(request("pending"))).toMatchObject({ status: "pending" });
    expect(pendingRecovery(request("cancelled"))).toBeUndefined();
    expect(pendingRecovery(request("completed"))).toBeUndefined();
    expect(pendingRecovery(null)).toBeUndefined();
    expect(pendingRecovery(undefined)).toBeUndefined();
  });
  it("says when, to which wallet (short), from when trustees may approve, in local time, and what to do", () => {
    expect(recoveryAlertText(request("pending"), paris)).toBe(
      "Someone asked on Wed, 2 Dec 2026, 14:05 CET to move your patient record to the wallet wasm1neww…1111. Trustees may approve from Sat, 5 Dec 2026, 14:05 CET. If this was not you, cancel it now.",
    );
    expect(recoveryAlertText(request("pending", ["wasm1trusteeoneaddress00"]), paris)).toContain("Sat, 5 Dec 2026, 14:05 CET. 1 trustee has approved already. If this was not you");
    expect(recoveryAlertText(request("pending", ["wasm1a", "wasm1b"]), paris)).toContain(" 2 trustees have approved already. ");
  });
  it("says the request is cancelled, the wallet shortened", () => {
    expect(recoveryCancelledText("wasm1newwalletaddress1111")).toBe("Cancelled: the wallet wasm1neww…1111 will not get your patient record. The request stays in your audit log.");
  });
});
