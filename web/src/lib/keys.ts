// Key epochs as the writer's client decides them (issue 10, the access contract's keys.rs): whether a
// write must first open a new epoch, and who gets the new key. Pure functions, unit-tested.
import type { KeyHolder, KeyHoldersResponse } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";

/** The contracts' bound on the parties (besides the patient) that hold one epoch's key (ehr-types MAX_KEY_HOLDERS). */
export const MAX_KEY_HOLDERS = 32;

export type KeyDecision =
  /** Seal under the current epoch's key. */
  | { rotate: false; epoch: number }
  /**
   * Open `epoch` (the current one plus 1) with a new key in the same transaction as the write:
   * "stale" when a holder of the current key may no longer read the category, "unserved" when a
   * party that may read it lacks the current key (a doctor credentialed again after a rotation left
   * it out, or one that published its key after its grant), "no-key" when this wallet does not hold
   * the current key.
   */
  | { rotate: true; epoch: number; reason: "stale" | "unserved" | "no-key" };

type EpochState = Pick<KeyHoldersResponse, "epoch" | "stale" | "unserved">;

/** Whether the next write must open a new epoch whatever this wallet holds (ehr-types `KeyHoldersResponse::must_rotate`). */
export function mustRotate(holders: EpochState): boolean {
  return holders.stale || holders.unserved.length > 0;
}

/** What a write into a category does with its key, given the chain's key holders and whether this wallet holds the current key. */
export function keyDecision(holders: EpochState, holdsCurrentKey: boolean): KeyDecision {
  if (holders.stale) return { rotate: true, epoch: holders.epoch + 1, reason: "stale" };
  if (holders.unserved.length > 0) return { rotate: true, epoch: holders.epoch + 1, reason: "unserved" };
  if (!holdsCurrentKey) return { rotate: true, epoch: holders.epoch + 1, reason: "no-key" };
  return { rotate: false, epoch: holders.epoch };
}

export interface RotationRecipients {
  /** Readers with a registered encryption key (base64 X25519), each once, in the readers' order. */
  recipients: { address: string; encryptionKey: string }[];
  /** Readers that have not published an encryption key: they do not get the new key (the contract lets the rotation skip them). */
  skipped: string[];
}

/**
 * The parties a new epoch's key is meant for besides the patient: every reader of the category (the
 * access contract's `readers`: grantees that may read it now), then every holder of the current key
 * that may still read it without being a reader (an active emergency access): the contract refuses
 * a rotation that leaves out a holder still entitled (HolderLeftOut).
 */
export function rotationCandidates(readers: readonly string[], holders: readonly KeyHolder[]): string[] {
  return [...new Set([...readers, ...holders.filter((h) => h.entitled).map((h) => h.address)])];
}

/**
 * Who a new epoch's key is wrapped to besides the patient: each candidate (`rotationCandidates`)
 * that has a registered encryption key. The patient (who gets the own envelope) and repeats are
 * left out, as the contract refuses them.
 */
export function rotationRecipients(candidates: readonly string[], encryptionKeys: ReadonlyMap<string, string | null | undefined>, owner: string): RotationRecipients {
  const seen = new Set<string>([owner]);
  const out: RotationRecipients = { recipients: [], skipped: [] };
  for (const address of candidates) {
    if (seen.has(address)) continue;
    seen.add(address);
    const encryptionKey = encryptionKeys.get(address);
    if (encryptionKey) out.recipients.push({ address, encryptionKey });
    else out.skipped.push(address);
  }
  return out;
}

const CATEGORY_LABEL: Record<Category, string> = {
  note: "Note",
  lab: "Lab",
  imaging: "Imaging",
  prescription: "Prescription",
  allergy: "Allergy",
  immunization: "Immunization",
  encounter: "Encounter",
  document: "Document",
  profile: "Profile",
};
export const categoryLabel = (c: Category): string => CATEGORY_LABEL[c] ?? String(c);

/**
 * The audit log's `key_rotated` entry in words, after its actor's name (the CLI says the same):
 * "made a new Lab key (epoch 2) for the patient and 1 other reader".
 */
export function keyRotatedText(a: { category: Category; epoch: number; holders: number }): string {
  const readers = a.holders === 0 ? "for the patient only" : `for the patient and ${a.holders} other reader${a.holders === 1 ? "" : "s"}`;
  return `made a new ${categoryLabel(a.category)} key (epoch ${a.epoch}) ${readers}`;
}
