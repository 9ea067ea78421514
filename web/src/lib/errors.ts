// Turns failures into sentences a patient or doctor understands, keeping the technical detail apart.
import { CryptoError } from "../crypto/errors";
import { NodeDownError } from "./rpc";

export type ProblemKind =
  | "unauthorized"
  | "expired"
  | "node-down"
  | "ipfs-down"
  | "duplicate"
  | "not-found"
  | "integrity"
  | "keys"
  | "conflict"
  | "wallet"
  | "other";

export interface Problem {
  kind: ProblemKind;
  message: string;
  detail: string;
}

/** Failures of the IPFS node get this class so they are told apart from the chain's. */
export class IpfsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpfsError";
  }
}

/** This wallet derives another encryption key than the one registered on chain (or none is registered): writing is refused. */
export class KeyMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyMismatchError";
  }
}

/**
 * Refusals of a write that the writer's client answers by re-reading, re-sealing and sending once
 * more (ehr.ts `upload`, `saveProfile`): someone else wrote first. The contracts say so only in the
 * Display text of their errors (no error code reaches the client: the wasm module wraps the text),
 * so each pattern here is the contract's `#[error(...)]` template, kept in one place:
 *  - "version": registry VersionConflict, another version of the record (or profile) landed first;
 *  - "key-epoch": the category's key moved on between reading and writing: registry WrongKeyEpoch
 *    or StaleKeyEpoch, access EpochMismatch (another rotation landed first), HolderLeftOut or
 *    RecipientNotEntitled (someone's access changed after the readers were read).
 */
export type ChainConflict = { kind: "version"; baseVersion: number; current: number } | { kind: "key-epoch"; what: string };

const CONFLICTS: { re: RegExp; conflict: (m: RegExpMatchArray) => ChainConflict }[] = [
  // contracts/registry/src/error.rs
  { re: /version conflict: the file is based on version (\d+), but the current version is (\d+)/, conflict: (m) => ({ kind: "version", baseVersion: Number(m[1]), current: Number(m[2]) }) },
  { re: /\w+ is written under key epoch \d+, not \d+/, conflict: (m) => ({ kind: "key-epoch", what: m[0] }) },
  { re: /\w+ key epoch \d+ is stale/, conflict: (m) => ({ kind: "key-epoch", what: m[0] }) },
  // contracts/access/src/error.rs
  { re: /key epoch \d+ of \w+ cannot be opened: the next epoch is \d+/, conflict: (m) => ({ kind: "key-epoch", what: m[0] }) },
  { re: /the new \w+ key leaves out \S+, who may still read it/, conflict: (m) => ({ kind: "key-epoch", what: m[0] }) },
  { re: /\S+ may not read \w+: no new key may be wrapped to it/, conflict: (m) => ({ kind: "key-epoch", what: m[0] }) },
];

/** The conflict a failed write reports, or undefined for every other failure. */
export function chainConflict(error: unknown): ChainConflict | undefined {
  const text = error instanceof Error ? error.message : String(error);
  for (const { re, conflict } of CONFLICTS) {
    const m = re.exec(text);
    if (m) return conflict(m);
  }
  return undefined;
}

/** A write was refused twice for a conflict: someone else keeps changing the record (or its keys). */
export class ConflictError extends Error {
  constructor(
    readonly conflict: ChainConflict,
    readonly what: string, // "record #4", "your profile"
    readonly reason: unknown,
  ) {
    super(`${what}: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "ConflictError";
  }
}

/**
 * Runs a write; when it is refused for a conflict (`chainConflict`), runs it once more, told which
 * conflict (the write re-reads, re-seals and sends again); a second conflict is a ConflictError about
 * `what`. Any other failure is rethrown as it is.
 */
export async function onceMoreOnConflict<T>(what: string, attempt: (conflict?: ChainConflict) => Promise<T>): Promise<T> {
  let conflict: ChainConflict | undefined;
  try {
    return await attempt();
  } catch (e) {
    conflict = chainConflict(e);
    if (!conflict) throw e;
  }
  try {
    return await attempt(conflict);
  } catch (e) {
    const again = chainConflict(e);
    if (again) throw new ConflictError(again, what, e);
    throw e;
  }
}

export function explain(error: unknown): Problem {
  if (error instanceof ConflictError) {
    const message =
      error.conflict.kind === "version"
        ? `Someone else changed ${error.what} while you were saving (now at version ${error.conflict.current}). Your text was not saved: reload, read their version, then save yours again.`
        : `The keys of ${error.what} changed while you were saving (someone's access changed, or they wrote at the same time). Nothing was saved: try again.`;
    return { kind: "conflict", message, detail: error.message };
  }
  if (error instanceof KeyMismatchError) return { kind: "keys", message: error.message, detail: error.message };
  const detail = error instanceof Error ? error.message : String(error);
  const text = detail.toLowerCase();
  const p = (kind: ProblemKind, message: string): Problem => ({ kind, message, detail });
  if (error instanceof NodeDownError)
    return p("node-down", `No chain node answers (${error.urls.join(", ")}). Check that the localnet is running, then try again.`);
  if (error instanceof IpfsError) return p("ipfs-down", "The file store (IPFS) is not reachable. Nothing was lost: try again when it is back.");
  if (error instanceof CryptoError) {
    if (error.kind === "MissingCategoryKey" || error.kind === "EnvelopeDoesNotOpen")
      return p("keys", "You do not hold the key for this record: the patient has not shared this category with you (or revoked it).");
    if (error.kind === "HeaderMismatch" || error.kind === "Tampered" || error.kind === "WrongKeyOrTamperedHeader")
      return p("integrity", "This file does not match what the chain says it should be. It is not shown.");
    return p("integrity", "This file is not a readable ehr-chain record.");
  }
  const conflict = chainConflict(error);
  if (conflict?.kind === "version") return p("conflict", "Someone else changed this record while you were saving. Reload it, then save yours again.");
  if (conflict) return p("conflict", "The keys of this category changed while you were saving. Nothing was saved: try again.");
  if (/key holders besides the patient/.test(text))
    return p("other", "This category already has the most key holders the chain allows (32 besides the patient): revoke someone first.");
  if (text.includes("is not in the future")) return p("other", "The expiry must be in the future.");
  // contracts/registry/src/error.rs AlreadyCredentialed, ehr-types InvalidDirectoryText
  if (text.includes("already a credentialed doctor under this name"))
    return p("duplicate", "This doctor is already credentialed under this name and organisation: nothing changed.");
  const listing = /invalid (display name|organization): ([^;:]+)/.exec(detail);
  if (listing) return p("other", `The ${listing[1] === "organization" ? "organisation" : "display name"} was refused: ${listing[2].trim()}.`);
  if (/addresses asked for at once, at most/.test(text)) return p("other", "Too many names were looked up at once.");
  if (text.includes("expired")) return p("expired", "Your access has expired. Ask the patient to grant it again.");
  if (text.includes("unauthorized") || text.includes("not a credentialed doctor") || text.includes("no grant"))
    return p("unauthorized", "You are not allowed to do this. The patient must grant you access first (or an admin must credential you).");
  if (text.includes("already registered"))
    return p("duplicate", "This file is already registered for the patient: nothing was added twice.");
  if (text.includes("not found")) return p("not-found", "It was not found on the chain.");
  if (text.includes("failed to fetch") || text.includes("networkerror") || text.includes("econnrefused") || text.includes("load failed"))
    return p("node-down", "The chain node is not reachable. Check that the localnet is running, then try again.");
  if (text.includes("request rejected") || text.includes("keplr")) return p("wallet", "The wallet refused the request.");
  return p("other", `Something went wrong: ${detail}`);
}
