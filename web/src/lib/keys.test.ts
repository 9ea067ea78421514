// The writer follows the chain's write plan (rotate or not, who gets the new key), the sentences for keys
// that do not open, the audit's key_rotated words, and how a refused write is classified and retried
// once (errors.ts), without a chain.
import { describe, expect, it } from "vitest";
import { toBase64 } from "../crypto/bytes";
import { chainConflict, ConflictError, explain, onceMoreOnConflict, type ChainConflict } from "./errors";
import { keyRotatedText, refusedWriteText, rotationRecipients, unopenedKeyText, writeStep, type UnopenedKey } from "./keys";

const plan = (current_epoch: number, rotate: boolean, may_rotate: boolean) => ({ current_epoch, rotate, may_rotate });

describe("a write follows the chain's write plan", () => {
  it("seals under the current epoch when the plan does not rotate and this wallet opens its key", () => {
    expect(writeStep(plan(3, false, false), true)).toEqual({ kind: "seal", epoch: 3 });
    // A grantee the chain would let rotate (the key was wrapped by another grantee) still seals when its key opens.
    expect(writeStep(plan(3, false, true), true)).toEqual({ kind: "seal", epoch: 3 });
  });
  it("rotates to the next epoch when the plan says so, even holding the current key", () => {
    expect(writeStep(plan(3, true, true), true)).toEqual({ kind: "rotate", epoch: 4, reason: "plan" });
    expect(writeStep(plan(0, true, true), false)).toEqual({ kind: "rotate", epoch: 1, reason: "plan" });
  });
  it("a current key that does not open is replaced when the chain accepts it (the patient always does)", () => {
    expect(writeStep(plan(5, false, true), false)).toEqual({ kind: "rotate", epoch: 6, reason: "no-key" });
    // A first write, with no key stored for epoch 0 yet, is the same step.
    expect(writeStep(plan(0, false, true), false)).toEqual({ kind: "rotate", epoch: 1, reason: "no-key" });
  });
  it("a current key that does not open, and no rotation allowed: nothing is written, and the sentence says to ask the patient", () => {
    const step = writeStep(plan(5, false, false), false);
    expect(step).toEqual({ kind: "refused", epoch: 5, reason: "no-key" });
    expect(refusedWriteText("lab", step as Extract<typeof step, { kind: "refused" }>)).toBe(
      "The Lab key of epoch 5 does not open with your key, and only the patient may replace it now: ask the patient to renew the key (a new Lab record of theirs starts a new one). Nothing was written.",
    );
  });
  it("never sends a rotation the chain would refuse: a plan that rotates without may_rotate is a refusal", () => {
    const step = writeStep(plan(2, true, false), true);
    expect(step).toEqual({ kind: "refused", epoch: 2, reason: "not-allowed" });
    expect(refusedWriteText("note", step as Extract<typeof step, { kind: "refused" }>)).toContain("You may not write Note records of this patient now");
  });
});

describe("rotation recipients are the plan's", () => {
  const owner = "wasm1patient";
  const A = toBase64(new Uint8Array(32).fill(7));
  const C = toBase64(new Uint8Array(32).fill(9));
  it("every recipient with a published key gets an envelope; those without are skipped, not refused", () => {
    const out = rotationRecipients(
      [
        { address: "wasm1a", encryption_key: A },
        { address: "wasm1b", encryption_key: null },
        { address: "wasm1c", encryption_key: C },
      ],
      owner,
    );
    expect(out.recipients.map((r) => [r.address, toBase64(r.publicKey)])).toEqual([
      ["wasm1a", A],
      ["wasm1c", C],
    ]);
    expect(out.skipped).toEqual(["wasm1b"]);
  });
  it("never lists the patient or anyone twice (the contract refuses both)", () => {
    const out = rotationRecipients([{ address: "wasm1a", encryption_key: A }, { address: owner, encryption_key: C }, { address: "wasm1a", encryption_key: A }], owner);
    expect(out.recipients.map((r) => r.address)).toEqual(["wasm1a"]);
    expect(rotationRecipients([], owner)).toEqual({ recipients: [], skipped: [] });
  });
  it("a published key of small order is an error naming whose it is, not an envelope that opens for nobody", () => {
    const lowOrder = toBase64(new Uint8Array(32)); // all zeros
    expect(() => rotationRecipients([{ address: "wasm1bad", encryption_key: lowOrder }], owner, () => "Dr Bad")).toThrow(/The encryption key Dr Bad published is not a usable X25519 key/);
  });
});

describe("keys that do not open, in words", () => {
  const names: Record<string, string> = { wasm1ana: "Dr Ana Lima, St Mary Hospital", wasm1patient: "you" };
  const name = (a: string) => names[a] ?? a;
  const u = (over: Partial<UnopenedKey>): UnopenedKey => ({ patientId: 1, category: "lab", epoch: 3, handed: false, current: true, ...over });
  it("the patient is told whose epoch it was, that its records cannot be shown, and that its next record starts a new key", () => {
    expect(unopenedKeyText(u({ openedBy: "wasm1ana" }), name)).toBe(
      "The Lab key of epoch 3 (opened by Dr Ana Lima, St Mary Hospital) does not open with your key: records sealed with it cannot be shown. Your next Lab record starts a new key.",
    );
  });
  it("an epoch already replaced says nothing of the next record; an epoch the log names no opener of says no name", () => {
    expect(unopenedKeyText(u({ openedBy: "wasm1ana", current: false }), name)).toBe(
      "The Lab key of epoch 3 (opened by Dr Ana Lima, St Mary Hospital) does not open with your key: records sealed with it cannot be shown.",
    );
    expect(unopenedKeyText(u({ category: "note", epoch: 0, current: false }), name)).toBe("The Note key of epoch 0 does not open with your key: records sealed with it cannot be shown.");
  });
  it("a doctor is told the key was handed to it, and to ask the patient to renew it", () => {
    expect(unopenedKeyText(u({ handed: true, openedBy: "wasm1ana" }), name)).toBe(
      "The Lab key of epoch 3 handed to you (opened by Dr Ana Lima, St Mary Hospital) does not open with your key: records sealed with it cannot be shown. Ask the patient to renew the Lab key.",
    );
  });
});

describe("audit: key_rotated in words", () => {
  it("names the category, the epoch and how many others hold the key", () => {
    expect(keyRotatedText({ category: "lab", epoch: 2, holders: 1 })).toBe("made a new Lab key (epoch 2) for the patient and 1 other reader");
    expect(keyRotatedText({ category: "note", epoch: 5, holders: 3 })).toBe("made a new Note key (epoch 5) for the patient and 3 other readers");
    expect(keyRotatedText({ category: "profile", epoch: 1, holders: 0 })).toBe("made a new Profile key (epoch 1) for the patient only");
  });
});

// The contracts' Display texts (code prefix, then the sentence) as a failed simulate/broadcast reports them (CosmJS wraps them).
const wrapped = (text: string) => new Error(`Query failed with (6): rpc error: code = Unknown desc = failed to execute message; message index: 1: ${text}: execute wasm contract failed [CosmWasm/wasmd@v0.61.14/x/wasm/keeper/keeper.go:436] with gas used: '181234': unknown request`);
const VERSION = wrapped("[ehr:version_conflict base=2 current=3] version conflict: the file is based on version 2, but the current version is 3");
const WRONG_EPOCH = wrapped("[ehr:wrong_key_epoch category=lab epoch=1 current=2] Lab is written under key epoch 2, not 1");
const STALE = wrapped("[ehr:stale_key_epoch category=note epoch=4] Note key epoch 4 is stale (someone who holds its key may no longer read it): rotate the key in the same transaction");
const EPOCH_MISMATCH = new Error("message index: 0: [ehr:epoch_mismatch category=lab epoch=3 expected=4] key epoch 3 of Lab cannot be opened: the next epoch is 4: execute wasm contract failed");
const LEFT_OUT = wrapped("[ehr:holder_left_out category=lab] the new Lab key leaves out wasm1abc, who may still read it");
const NOT_ENTITLED = wrapped("[ehr:recipient_not_entitled category=lab] wasm1abc may not read Lab: no new key may be wrapped to it");

describe("conflict classification", () => {
  it("reads the version conflict with both versions", () => {
    expect(chainConflict(VERSION)).toEqual({ kind: "version", baseVersion: 2, current: 3 });
  });
  it("reads every way the category's key moved on between reading and writing", () => {
    for (const e of [WRONG_EPOCH, STALE, EPOCH_MISMATCH, LEFT_OUT, NOT_ENTITLED]) expect(chainConflict(e)?.kind).toBe("key-epoch");
    expect(chainConflict(STALE)).toEqual({ kind: "key-epoch", code: "stale_key_epoch", category: "note" });
  });
  it("is no conflict for anything else", () => {
    for (const e of [
      new Error("[ehr:unauthorized] unauthorized: update record"),
      new Error("[ehr:record_deleted record=4] record 4 is deleted"),
      new Error("version conflict: the file is based on version 2, but the current version is 3"), // no code: not the contract's
      new TypeError("Failed to fetch"),
      new Error("[ehr:too_many_key_holders category=lab max=32] Lab already has 32 key holders besides the patient"),
      "version 2",
    ])
      expect(chainConflict(e)).toBeUndefined();
  });
  it("explains a conflict, raw or after the retry, in words", () => {
    expect(explain(VERSION).kind).toBe("conflict");
    expect(explain(STALE).kind).toBe("conflict");
    const twice = explain(new ConflictError({ kind: "version", baseVersion: 3, current: 4 }, "record #9", VERSION));
    expect(twice.kind).toBe("conflict");
    expect(twice.message).toContain("Someone else changed record #9");
    expect(twice.message).toContain("version 4");
    expect(twice.detail).toContain("version conflict");
    expect(explain(new ConflictError({ kind: "key-epoch", code: "stale_key_epoch", category: "lab" }, "the lab records", STALE)).message).toContain("The keys of the lab records changed");
  });
});

describe("retry once on conflict", () => {
  /** An attempt that fails with the given errors in turn, then succeeds; records what it was told. */
  const attempts = (...failures: unknown[]) => {
    const told: (ChainConflict | undefined)[] = [];
    const run = async (conflict?: ChainConflict) => {
      told.push(conflict);
      const failure = failures.shift();
      if (failure) throw failure;
      return "saved";
    };
    return { told, run };
  };
  it("succeeds at once without a second attempt", async () => {
    const a = attempts();
    await expect(onceMoreOnConflict("record #1", a.run)).resolves.toBe("saved");
    expect(a.told).toEqual([undefined]);
  });
  it("re-seals once after a version conflict, told which", async () => {
    const a = attempts(VERSION);
    await expect(onceMoreOnConflict("record #1", a.run)).resolves.toBe("saved");
    expect(a.told).toEqual([undefined, { kind: "version", baseVersion: 2, current: 3 }]);
  });
  it("re-seals once after the key moved on", async () => {
    const a = attempts(EPOCH_MISMATCH);
    await expect(onceMoreOnConflict("record #1", a.run)).resolves.toBe("saved");
    expect(a.told[1]?.kind).toBe("key-epoch");
  });
  it("a second conflict says someone else changed the record; no third attempt", async () => {
    const a = attempts(VERSION, wrapped("[ehr:version_conflict base=3 current=4] version conflict: the file is based on version 3, but the current version is 4"));
    const err = await onceMoreOnConflict("record #1", a.run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).conflict).toEqual({ kind: "version", baseVersion: 3, current: 4 });
    expect(explain(err).message).toContain("Someone else changed record #1");
    expect(a.told).toHaveLength(2);
  });
  it("any other failure is rethrown as it is, first or second time", async () => {
    const offline = new TypeError("Failed to fetch");
    const first = attempts(offline);
    await expect(onceMoreOnConflict("record #1", first.run)).rejects.toBe(offline);
    expect(first.told).toHaveLength(1);
    const second = attempts(VERSION, offline);
    await expect(onceMoreOnConflict("record #1", second.run)).rejects.toBe(offline);
  });
});
