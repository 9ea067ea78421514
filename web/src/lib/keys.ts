// Key epochs as the chain's write plan decides them (issue 10, issue 21: the access contract's
// `write_plan`, ehr-types rules.rs): what a write does with its category's key, who gets a new
// epoch's key, and the sentences for keys that do not open. The web keeps no rule of its own about
// when to rotate or who reads: it follows the plan. Pure functions, unit-tested.
import type { KeyRecipient, WritePlanResponse } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { publicKeyOf } from "../crypto/publicKey";

/** The contracts' bound on the parties (besides the patient) that hold one epoch's key (ehr-types MAX_KEY_HOLDERS). */
export const MAX_KEY_HOLDERS = 32;

type PlanFacts = Pick<WritePlanResponse, "current_epoch" | "rotate" | "may_rotate">;

export type WriteStep =
  /** Seal under the current epoch's key, which this wallet opens. */
  | { kind: "seal"; epoch: number }
  /**
   * Open `epoch` (the current one plus 1) with a new key in the same transaction as the write:
   * "plan" when the chain's plan says the write must; "no-key" when this wallet holds no key of the
   * current epoch that opens (none was stored for it, or the one stored is junk another party wrapped)
   * and the chain accepts a rotation from it.
   */
  | { kind: "rotate"; epoch: number; reason: "plan" | "no-key" }
  /**
   * Nothing can be written: "no-key" when the current key does not open here and only the patient
   * may replace it; "not-allowed" when the chain would refuse this writer's rotation (it may not
   * write the category, or the patient is not active).
   */
  | { kind: "refused"; epoch: number; reason: "no-key" | "not-allowed" };

/** What a write does, given the chain's plan for this writer and whether this wallet opens the current epoch's key. */
export function writeStep(plan: PlanFacts, opensCurrentKey: boolean): WriteStep {
  const next = plan.current_epoch + 1;
  if (plan.rotate) return plan.may_rotate ? { kind: "rotate", epoch: next, reason: "plan" } : { kind: "refused", epoch: plan.current_epoch, reason: "not-allowed" };
  if (opensCurrentKey) return { kind: "seal", epoch: plan.current_epoch };
  if (plan.may_rotate) return { kind: "rotate", epoch: next, reason: "no-key" };
  return { kind: "refused", epoch: plan.current_epoch, reason: "no-key" };
}

/** Why nothing was written, in words (a refused `writeStep`). */
export function refusedWriteText(category: Category, step: Extract<WriteStep, { kind: "refused" }>): string {
  const label = categoryLabel(category);
  if (step.reason === "not-allowed") return `You may not write ${label} records of this patient now, so no new ${label} key can be opened. Nothing was written.`;
  return `The ${label} key of epoch ${step.epoch} does not open with your key, and only the patient may replace it now: ask the patient to renew the key (a new ${label} record of theirs starts a new one). Nothing was written.`;
}

export interface RotationRecipients {
  /** The plan's recipients with a published encryption key (raw X25519), each once, in the plan's order. */
  recipients: { address: string; publicKey: Uint8Array }[];
  /** Recipients that have not published an encryption key: they do not get the new key (the chain lets the rotation leave them out). */
  skipped: string[];
}

/**
 * Who a new epoch's key is wrapped to besides the patient: every recipient of the chain's write plan
 * that published an encryption key. The patient (who gets the own envelope) and repeats are left out,
 * as the contract refuses them; a published key the chain would not accept now (of small order, not
 * canonical) is an error naming whose it is, not an envelope that opens for nobody.
 */
export function rotationRecipients(recipients: readonly KeyRecipient[], owner: string, name: (address: string) => string = (a) => a): RotationRecipients {
  const seen = new Set<string>([owner]);
  const out: RotationRecipients = { recipients: [], skipped: [] };
  for (const { address, encryption_key } of recipients) {
    if (seen.has(address)) continue;
    seen.add(address);
    if (!encryption_key) {
      out.skipped.push(address);
      continue;
    }
    const publicKey = publicKeyOf(encryption_key);
    if (!publicKey) throw new Error(`The encryption key ${name(address)} published is not a usable X25519 key: nothing can be sealed to it. Nothing was written.`);
    out.recipients.push({ address, publicKey });
  }
  return out;
}

/** A key envelope of this wallet that did not open with its key (it was skipped; the other keys still open). */
export interface UnopenedKey {
  patientId: number;
  category: Category;
  epoch: number;
  /** Handed to this wallet as a grantee, rather than the patient's own envelope. */
  handed: boolean;
  /** Who opened the epoch (the actor of its `key_rotated` audit entry), when the log names one. */
  openedBy?: string;
  /** Whether it is the category's current epoch (new records are sealed with it until the next rotation). */
  current: boolean;
}

/**
 * What the owner of an envelope that does not open is told: whose key it was, which epoch, what that
 * means for the records sealed with it, and what happens next:
 * "The Lab key of epoch 3 (opened by Dr X) does not open with your key: records sealed with it cannot
 * be shown. Your next Lab record starts a new key."
 */
export function unopenedKeyText(u: UnopenedKey, name: (address: string) => string): string {
  const label = categoryLabel(u.category);
  const by = u.openedBy ? ` (opened by ${name(u.openedBy)})` : "";
  const which = u.handed ? `The ${label} key of epoch ${u.epoch} handed to you${by}` : `The ${label} key of epoch ${u.epoch}${by}`;
  const next = !u.current ? "" : u.handed ? ` Ask the patient to renew the ${label} key.` : ` Your next ${label} record starts a new key.`;
  return `${which} does not open with your key: records sealed with it cannot be shown.${next}`;
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
