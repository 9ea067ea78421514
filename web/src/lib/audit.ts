// A patient's audit log in words: one sentence per entry, with names instead of addresses and every
// time in local time, and a row for each grantee whose credential the admin or a registrar withdrew (the registry keeps
// that on the provider, not in each patient's log). The `ehr audit` command says the same sentences
// (packages/ehr-client/src/directory.rs). Pure functions, unit-tested.
import type { AuditAction, AuditEntry, EmergencyReason, IdentityCheck } from "../contracts/EhrAccess.types";
import type { Category, ProviderInfo } from "../contracts/EhrRegistry.types";
import { categoryLabel, keyRotatedText } from "./keys";
import { capitalise, categoryLabels, scopeWords, shortAddress } from "./names";

/** Every action key of the generated AuditAction union ("patient_registered", "access_granted", …). */
export type AuditActionKey = AuditAction extends infer A ? (A extends unknown ? keyof A : never) : never;
/** The fields of the action `K`. */
export type AuditFields<K extends AuditActionKey> = Extract<AuditAction, { [P in K]: unknown }>[K];

/** What a sentence needs besides the entry: who an address is, and a chain time in local time. */
export interface SentenceContext {
  name: (address: string) => string;
  time: (chainTime: string) => string;
}

type Predicates = { [K in AuditActionKey]: (fields: AuditFields<K>, c: SentenceContext) => string };

/**
 * What each action says after its actor's name. Exhaustive: a new action in the generated types
 * that has no sentence here does not type-check (and audit.test.ts fails at run time too).
 */
const PREDICATES: Predicates = {
  patient_registered: () => "registered as a patient",
  patient_proposed: () => "proposed the patient record",
  patient_accepted: () => "accepted the patient record",
  patient_declined: () => "declined the patient record",
  profile_updated: (f) => `updated the profile (version ${f.version})`,
  patient_deleted: () => "deleted the patient and all records",
  record_added: (f) => `added ${categoryLabel(f.category)} record #${f.record_id}`,
  record_updated: (f) => `updated record #${f.record_id} to version ${f.version}`,
  record_deleted: (f) => `deleted record #${f.record_id}`,
  access_granted: (f, c) =>
    `gave ${c.name(f.grantee)} ${scopeWords(f.scope)} access to ${categoryLabels(f.categories)} ${f.expires ? `until ${c.time(f.expires)}` : "with no end date"}`,
  access_revoked: (f, c) => `revoked the access of ${c.name(f.grantee)}`,
  access_requested: (f) => `asked for access (request #${f.request_id})`,
  request_approved: (f) => `approved request #${f.request_id}`,
  request_denied: (f) => `denied request #${f.request_id}`,
  emergency_access: (f, c) => `broke the glass (${reasonWords(f.reason)}, ${purposeOfUse(f.reason)}): emergency read access until ${c.time(f.expires)}`,
  emergency_ended: (f, c) => `ended the emergency access of ${c.name(f.doctor)}`,
  shares_released: (f, c) => `released its key shares of ${categoryLabels(f.categories)} to ${c.name(f.doctor)}`,
  escrow_policy_set: (f) => escrowPolicyWords(f.categories, f.recovery ?? false),
  // Wallets by their short address, as the CLI says them: a wallet being moved to or from is not a
  // person the directory could name.
  recovery_requested: (f, c) => `asked to move the patient to the new wallet ${shortAddress(f.new_owner)}; trustees may approve from ${c.time(f.not_before)}`,
  recovery_cancelled: (f) => `cancelled the request to move the patient to the wallet ${shortAddress(f.new_owner)}`,
  recovery_approved: (f) => `approved moving the patient to the new wallet ${shortAddress(f.new_owner)}${f.identity_check ? ` after checking identity ${identityCheckWords(f.identity_check)}` : ""}`,
  patient_recovered: (f) =>
    `completed the recovery: the patient moved from the wallet ${shortAddress(f.former_owner)} to ${shortAddress(f.new_owner)}, and the old wallet's keys open no new record`,
  recovery_shares_released: (f) => `released its key shares of ${categoryLabels(f.categories)} to the recovered wallet ${shortAddress(f.owner)}`,
  key_rotated: (f) => keyRotatedText(f),
};

/** A chosen escrow policy in words: what opens in an emergency, and whether a lost wallet can be recovered. */
function escrowPolicyWords(categories: readonly Category[], recovery: boolean): string {
  if (!categories.length && !recovery) return "stopped escrowing keys with the trustees";
  const emergency = categories.length ? `${categoryLabels(categories)} open in an emergency` : "nothing opens in an emergency";
  return `chose the key escrow: ${emergency}; ${recovery ? "every key is escrowed so a lost wallet can be recovered" : "no wallet recovery"}`;
}

/** How a trustee checked the requester's identity, in words and with the code a trustee types (as `ehr audit` says it). */
const IDENTITY_CHECKS: Record<IdentityCheck, [words: string, code: string]> = {
  in_person_photo_id: ["in person, with a photo ID", "in-person-photo-id"],
  video_photo_id: ["on a video call, with a photo ID", "video-photo-id"],
  known_clinician: ["through a clinician who knows the patient", "known-clinician"],
  notarised_document: ["by a notarised document", "notarised-document"],
};

/** "in person, with a photo ID (in-person-photo-id)"; a check this page does not know by its own name. */
export function identityCheckWords(check: IdentityCheck): string {
  const known = IDENTITY_CHECKS[check] as [string, string] | undefined;
  return known ? `${known[0]} (${known[1]})` : `(${String(check).replace(/_/g, "-")})`;
}

/** A break-glass reason in words: "treatment of a patient who cannot consent" or "reason code MASS-CASUALTY". */
export function reasonWords(reason: EmergencyReason | null | undefined): string {
  if (reason && "other" in reason) return `reason code ${reason.other.code}`;
  return "treatment of a patient who cannot consent";
}

/** The FHIR PurposeOfUse code of a reason: ETREAT for an incapable patient, BTG otherwise. */
export const purposeOfUse = (reason: EmergencyReason | null | undefined): "ETREAT" | "BTG" =>
  reason && "other" in reason ? "BTG" : "ETREAT";

/** The keys that have a sentence, in the union's order. */
export const AUDIT_ACTION_KEYS = Object.keys(PREDICATES) as AuditActionKey[];

/** What the audit filter calls each kind of row. */
export const AUDIT_KIND_LABELS: { [K in AuditActionKey | "credential_withdrawn"]: string } = {
  patient_registered: "Registration",
  patient_proposed: "Proposal",
  patient_accepted: "Proposal accepted",
  patient_declined: "Proposal declined",
  profile_updated: "Profile updated",
  patient_deleted: "Patient deleted",
  record_added: "Record added",
  record_updated: "Record updated",
  record_deleted: "Record deleted",
  access_granted: "Access granted",
  access_revoked: "Access revoked",
  access_requested: "Access requested",
  request_approved: "Request approved",
  request_denied: "Request denied",
  emergency_access: "Emergency access",
  emergency_ended: "Emergency access ended",
  shares_released: "Key shares released",
  escrow_policy_set: "Key escrow settings",
  recovery_requested: "Recovery requested",
  recovery_cancelled: "Recovery cancelled",
  recovery_approved: "Recovery approved",
  patient_recovered: "Wallet recovered",
  recovery_shares_released: "Key shares released for recovery",
  key_rotated: "New key",
  credential_withdrawn: "Credential withdrawn",
};

/** The one key of an entry's action (a newer contract's action is a key this UI does not know). */
export const actionKey = (action: AuditAction): AuditActionKey => Object.keys(action)[0] as AuditActionKey;

/** One entry as a sentence: "You gave Dr Ana Lima, St Mary Hospital read access to Lab until Wed, 2 Dec 2026, 14:05 CET". */
export function auditSentence(entry: Pick<AuditEntry, "actor" | "action">, c: SentenceContext): string {
  const key = actionKey(entry.action);
  const fields = (entry.action as Record<string, unknown>)[key];
  const predicate = PREDICATES[key] as ((f: unknown, c: SentenceContext) => string) | undefined;
  const what = predicate ? predicate(fields, c) : `did something this page does not know (${String(key).replace(/_/g, " ")})`;
  return capitalise(`${c.name(entry.actor)} ${what}`);
}

/** The row a withdrawn grantee gets in the patient's log. */
export const withdrawnSentence = (grantee: string, c: Pick<SentenceContext, "name">): string =>
  `The network withdrew the credential of ${c.name(grantee)}; their access ended`;

export interface AuditRow {
  /** Unique in the list: the entry's seq, or "withdrawn/<grantee>". */
  key: string;
  /** The chain log's place; absent for a credential withdrawal. */
  seq?: number;
  /** Chain time (nanoseconds). */
  time: string;
  kind: AuditActionKey | "credential_withdrawn";
  /** Who acted (the admin for a withdrawal, when known): for a tooltip, never shown as text. */
  actor?: string;
  text: string;
  emergency: boolean;
}

export interface AuditDirectory extends SentenceContext {
  provider: (address: string) => Pick<ProviderInfo, "withdrawn_at"> | undefined;
  admin?: string;
}

/** Every address an entry names besides its actor (grantees, emergency doctors): looked up before the log shows. */
export function addressesOf(action: AuditAction): string[] {
  if ("access_granted" in action) return [action.access_granted.grantee];
  if ("access_revoked" in action) return [action.access_revoked.grantee];
  if ("emergency_ended" in action) return [action.emergency_ended.doctor];
  if ("shares_released" in action) return [action.shares_released.doctor];
  return [];
}

/** The grantees an entry names. */
function granteeOf(action: AuditAction): string | undefined {
  if ("access_granted" in action) return action.access_granted.grantee;
  if ("access_revoked" in action) return action.access_revoked.grantee;
  return undefined;
}

/**
 * The log's entries in words, plus for every grantee named in them whose directory entry has a
 * `withdrawn_at`, a row at that time. Sorted by time, oldest first; a withdrawal sorts after the
 * entries of the same time.
 */
export function auditRows(entries: readonly AuditEntry[], d: AuditDirectory): AuditRow[] {
  const rows: AuditRow[] = entries.map((e) => ({
    key: String(e.seq),
    seq: e.seq,
    time: e.time,
    kind: actionKey(e.action),
    actor: e.actor,
    text: auditSentence(e, d),
    emergency: "emergency_access" in e.action || "shares_released" in e.action || "emergency_ended" in e.action,
  }));
  const grantees = new Set(entries.map((e) => granteeOf(e.action)).filter((g): g is string => !!g));
  for (const grantee of grantees) {
    const withdrawn = d.provider(grantee)?.withdrawn_at;
    if (!withdrawn) continue;
    rows.push({ key: `withdrawn/${grantee}`, time: withdrawn, kind: "credential_withdrawn", actor: d.admin, text: withdrawnSentence(grantee, d), emergency: false });
  }
  const order = (r: AuditRow) => [BigInt(r.time), r.seq === undefined ? 1 : 0, r.seq ?? 0] as const;
  return rows.sort((a, b) => {
    const [ta, wa, sa] = order(a);
    const [tb, wb, sb] = order(b);
    return ta < tb ? -1 : ta > tb ? 1 : wa - wb || sa - sb || a.key.localeCompare(b.key);
  });
}
