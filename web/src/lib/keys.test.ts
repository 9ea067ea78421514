// The writer's key decisions (rotate or not, who gets the new key), the audit's key_rotated words, and
// how a refused write is classified and retried once (errors.ts), without a chain.
import { describe, expect, it } from "vitest";
import { chainConflict, ConflictError, explain, onceMoreOnConflict, type ChainConflict } from "./errors";
import { keyDecision, keyRotatedText, rotationCandidates, rotationRecipients } from "./keys";

describe("rotation decision", () => {
  it("seals under the current epoch when it is fresh and this wallet holds its key", () => {
    expect(keyDecision({ epoch: 3, stale: false, unserved: [] }, true)).toEqual({ rotate: false, epoch: 3 });
  });
  it("rotates to the next epoch when a holder lost access (stale), even holding the key", () => {
    expect(keyDecision({ epoch: 3, stale: true, unserved: [] }, true)).toEqual({ rotate: true, epoch: 4, reason: "stale" });
    expect(keyDecision({ epoch: 0, stale: true, unserved: [] }, false)).toEqual({ rotate: true, epoch: 1, reason: "stale" });
  });
  it("rotates when a reader lacks the current key (unserved), even holding it", () => {
    expect(keyDecision({ epoch: 1, stale: false, unserved: ["wasm1doctor"] }, true)).toEqual({ rotate: true, epoch: 2, reason: "unserved" });
  });
  it("rotates when this wallet lacks the current key (a first write, or a key it was never handed)", () => {
    expect(keyDecision({ epoch: 0, stale: false, unserved: [] }, false)).toEqual({ rotate: true, epoch: 1, reason: "no-key" });
    expect(keyDecision({ epoch: 7, stale: false, unserved: [] }, false)).toEqual({ rotate: true, epoch: 8, reason: "no-key" });
  });
});

describe("rotation recipients", () => {
  const owner = "wasm1patient";
  it("are the readers with a registered encryption key; readers without one are skipped, not refused", () => {
    const keys = new Map([
      ["wasm1a", "KEYA"],
      ["wasm1b", null],
      ["wasm1c", "KEYC"],
    ]);
    expect(rotationRecipients(["wasm1a", "wasm1b", "wasm1c"], keys, owner)).toEqual({
      recipients: [
        { address: "wasm1a", encryptionKey: "KEYA" },
        { address: "wasm1c", encryptionKey: "KEYC" },
      ],
      skipped: ["wasm1b"],
    });
  });
  it("never list the patient or anyone twice (the contract refuses both)", () => {
    const keys = new Map([["wasm1a", "KEYA"], [owner, "KEYP"]]);
    expect(rotationRecipients(["wasm1a", owner, "wasm1a"], keys, owner).recipients).toEqual([{ address: "wasm1a", encryptionKey: "KEYA" }]);
    expect(rotationRecipients(["wasm1x"], new Map(), owner)).toEqual({ recipients: [], skipped: ["wasm1x"] });
  });
  it("candidates: the readers, then holders still entitled without being readers (emergency access); never those who lost access", () => {
    const holders = [
      { address: "wasm1expired", entitled: false },
      { address: "wasm1reader", entitled: true },
      { address: "wasm1emergency", entitled: true },
    ];
    expect(rotationCandidates(["wasm1reader", "wasm1new"], holders)).toEqual(["wasm1reader", "wasm1new", "wasm1emergency"]);
    expect(rotationCandidates([], [{ address: "wasm1revoked", entitled: false }])).toEqual([]);
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
