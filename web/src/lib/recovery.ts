// The patient's key escrow and wallet recovery in words and rules: which categories a policy
// escrows (the access contract's `escrowed`), what the settings say, and the alert a pending
// recovery request raises. Pure functions, unit-tested.
import type { CategoryEpoch, EscrowPolicyResponse, RecoveryInfo } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { CATEGORIES } from "../crypto/categories";
import { categoryLabels, shortAddress } from "./names";

/**
 * The categories whose every epoch the trustees must hold shares of: every category when the
 * patient escrows for recovery, else the ones opened in an emergency (as the contract decides, so
 * the client never leaves an escrowed epoch without shares).
 */
export function escrowedCategories(emergency: readonly Category[], recovery: boolean): Category[] {
  return recovery ? [...CATEGORIES] : [...emergency];
}

/**
 * The (category, epoch) pairs saving a policy escrows: every epoch up to the current one (`epochs`,
 * the access contract's) of every escrowed category that has a key (`hasKey`). An epoch nobody wrote
 * with has none yet: the first write makes one and escrows it with its rotation.
 */
export function epochsToEscrow(escrowed: readonly Category[], epochs: readonly CategoryEpoch[], hasKey: (category: Category, epoch: number) => boolean): CategoryEpoch[] {
  const out: CategoryEpoch[] = [];
  for (const category of escrowed) {
    const current = epochs.find((e) => e.category === category)?.epoch ?? 0;
    for (let epoch = 0; epoch <= current; epoch++) if (hasKey(category, epoch)) out.push({ category, epoch });
  }
  return out;
}

/** The escrow status line: what opens in an emergency, and whether a lost wallet can be recovered. */
export function escrowStatusText(policy: Pick<EscrowPolicyResponse, "categories" | "recovery">): string {
  if (!policy.categories.length && !policy.recovery) return "Nothing is escrowed now: no record opens in an emergency, and a lost wallet cannot be recovered.";
  const emergency = policy.categories.length ? `Now opened in an emergency: ${categoryLabels(policy.categories)}.` : "Nothing opens in an emergency.";
  const recovery = policy.recovery ? "Wallet recovery is on: every category is escrowed." : "Wallet recovery is off.";
  return `${emergency} ${recovery}`;
}

/** What saving the escrow settings did, `epochs` being the existing keys escrowed with it. */
export function escrowSavedText(emergency: readonly Category[], recovery: boolean, epochs: number): string {
  if (!emergency.length && !recovery) return "Saved: nothing is escrowed any more; new keys are no longer escrowed.";
  const opens = emergency.length ? `${categoryLabels(emergency)} open in an emergency` : "nothing opens in an emergency";
  const recovers = recovery ? "every category is escrowed so you can recover from a lost wallet" : "no wallet recovery";
  return `Saved: ${opens}; ${recovers} (${epochs} key${epochs === 1 ? "" : "s"} escrowed with the trustees).`;
}

/** The request the patient must act on: the latest one, while it is pending. */
export const pendingRecovery = (latest: RecoveryInfo | null | undefined): RecoveryInfo | undefined => (latest?.status === "pending" ? latest : undefined);

/** The security alert of a pending request, times in local time (`time` formats a chain time). */
export function recoveryAlertText(r: Pick<RecoveryInfo, "new_owner" | "requested_at" | "not_before" | "approvals">, time: (chainTime: string) => string): string {
  const approved = r.approvals.length ? ` ${r.approvals.length} trustee${r.approvals.length === 1 ? " has" : "s have"} approved already.` : "";
  return (
    `Someone asked on ${time(r.requested_at)} to move your patient record to the wallet ${shortAddress(r.new_owner)}. ` +
    `Trustees may approve from ${time(r.not_before)}.${approved} If this was not you, cancel it now.`
  );
}

/** What the patient sees once the request is cancelled. */
export const recoveryCancelledText = (newOwner: string): string =>
  `Cancelled: the wallet ${shortAddress(newOwner)} will not get your patient record. The request stays in your audit log.`;
