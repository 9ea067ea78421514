// Turns failures into sentences a patient or doctor understands, keeping the technical detail apart.
import { CryptoError } from "../crypto/errors";
import { NodeDownError } from "./rpc";
import { localTime } from "./time";

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

/** A query answered that there is no such thing (the contracts answer "none" with `null`, not an error). */
export class NotFoundError extends Error {
  constructor(what: string) {
    super(`${what} was not found on the chain`);
    this.name = "NotFoundError";
  }
}

/**
 * A write this wallet cannot make with the keys it holds: its derived key is not the one registered on
 * chain (or none is registered), or the category's current key does not open here and the chain would
 * not accept a new one from it. Nothing was sent.
 */
export class KeyMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyMismatchError";
  }
}

/**
 * A contract error's stable code, its fields and its English sentence. Both contracts start the
 * Display text of every error with `[ehr:CODE key=value …] ` (packages/ehr-types/src/error_code.rs,
 * docs/contracts.md, Error codes), and that text reaches us wrapped by wasmd and CosmJS; clients go
 * by the code and fields, the sentence is only shown.
 */
export interface CodedError {
  code: string;
  fields: Record<string, string>;
  sentence: string;
}

const OPEN = "[ehr:";

/** The first tag in the text (the contract's own: caller input, which may imitate a tag, only ever follows it). */
export function parseErrorCode(error: unknown): CodedError | undefined {
  const text = error instanceof Error ? error.message : String(error);
  const at = text.indexOf(OPEN);
  if (at < 0) return undefined;
  const close = text.indexOf("]", at);
  if (close < 0) return undefined;
  const [code, ...words] = text.slice(at + OPEN.length, close).split(" ");
  if (!/^[a-z_]+$/.test(code)) return undefined;
  const fields: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf("=");
    if (eq < 0) return undefined;
    fields[word.slice(0, eq)] = word.slice(eq + 1);
  }
  let sentence = text.slice(close + 1).replace(/^ /, "");
  // wasmd appends where it failed, gas used and the SDK's error class after these markers
  for (const marker of [": execute wasm contract failed", ": query wasm contract failed"]) {
    const end = sentence.indexOf(marker);
    if (end >= 0) sentence = sentence.slice(0, end);
  }
  return { code, fields, sentence: sentence.trim() };
}

/**
 * Refusals of a write that the writer's client answers by re-reading, re-sealing and sending once
 * more (ehr.ts `upload`, `saveProfile`): someone else wrote first.
 *  - "version": `version_conflict`, another version of the record (or profile) landed first;
 *  - "key-epoch": the category's key moved on between reading and writing: `wrong_key_epoch`,
 *    `stale_key_epoch`, `epoch_mismatch` (another rotation landed first), `holder_left_out`,
 *    `recipient_not_entitled` (someone's access changed after the readers were read).
 */
export type ChainConflict = { kind: "version"; baseVersion: number; current: number } | { kind: "key-epoch"; code: string; category?: string };

const KEY_EPOCH_CODES = new Set(["wrong_key_epoch", "stale_key_epoch", "epoch_mismatch", "holder_left_out", "recipient_not_entitled"]);

/** The conflict a failed write reports, or undefined for every other failure. */
export function chainConflict(error: unknown): ChainConflict | undefined {
  const coded = parseErrorCode(error);
  if (coded?.code === "version_conflict") return { kind: "version", baseVersion: Number(coded.fields.base), current: Number(coded.fields.current) };
  if (coded && KEY_EPOCH_CODES.has(coded.code)) return { kind: "key-epoch", code: coded.code, category: coded.fields.category };
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
  if (error instanceof NotFoundError) return { kind: "not-found", message: "It was not found on the chain.", detail: error.message };
  const detail = error instanceof Error ? error.message : String(error);
  const text = detail.toLowerCase();
  const p = (kind: ProblemKind, message: string): Problem => ({ kind, message, detail });
  if (error instanceof NodeDownError)
    return p(
      "node-down",
      error.urls.length === 1
        ? `The chain node is not reachable (${error.urls[0]}). Check that the localnet is running, then try again.`
        : `None of the chain nodes is reachable (${error.urls.join(", ")}). Check that the network is running, then try again.`,
    );
  if (error instanceof IpfsError) return p("ipfs-down", "The file store (IPFS) is not reachable. Nothing was lost: try again when it is back.");
  if (error instanceof CryptoError) {
    if (error.kind === "MissingCategoryKey" || error.kind === "EnvelopeDoesNotOpen")
      return p("keys", "You do not hold the key for this record: the patient has not shared this category with you (or revoked it).");
    if (error.kind === "HeaderMismatch" || error.kind === "Tampered" || error.kind === "WrongKeyOrTamperedHeader")
      return p("integrity", "This file does not match what the chain says it should be. It is not shown.");
    return p("integrity", "This file is not a readable ehr-chain record.");
  }
  const coded = parseErrorCode(error);
  if (coded) return explainCoded(coded, p);
  // Not our contracts' (they always carry a code): the browser's, the wallet's and the node's own words.
  if (text.includes("expired")) return p("expired", "Your access has expired. Ask the patient to grant it again.");
  if (text.includes("failed to fetch") || text.includes("networkerror") || text.includes("econnrefused") || text.includes("load failed"))
    return p("node-down", "The chain node is not reachable. Check that the localnet is running, then try again.");
  if (text.includes("request rejected") || text.includes("keplr")) return p("wallet", "The wallet refused the request.");
  return p("other", `Something went wrong: ${detail}`);
}

const DIRECTORY_TEXT_RULES: Record<string, (max: string | undefined) => string> = {
  empty: () => "must not be empty",
  too_long: (max) => `at most ${max} characters`,
  surrounding_space: () => "no leading or trailing white space",
  control_character: () => "no control or text-direction characters",
};

/** A contract's refusal in words, by its code (the table in docs/contracts.md, Error codes). */
function explainCoded({ code, fields, sentence }: CodedError, p: (kind: ProblemKind, message: string) => Problem): Problem {
  switch (code) {
    case "version_conflict":
      return p("conflict", "Someone else changed this record while you were saving. Reload it, then save yours again.");
    case "wrong_key_epoch":
    case "stale_key_epoch":
    case "epoch_mismatch":
    case "holder_left_out":
    case "recipient_not_entitled":
      return p("conflict", "The keys of this category changed while you were saving. Nothing was saved: try again.");
    case "rotation_not_needed":
      return p("other", "The chain refused a new key for this category: it is not needed, and only the patient may open one now. Nothing was saved: try again.");
    case "emergency_too_soon": {
      const until = fields.until && /^\d+$/.test(fields.until) ? localTime(fields.until) : undefined;
      const patient = fields.patient ? ` for patient #${fields.patient}` : "";
      return p("other", until ? `Your last emergency window${patient} runs until ${until}: a new one may be declared from then on.` : `Your last emergency window${patient} has not reached its planned end: a new one may be declared once it has.`);
    }
    case "no_active_emergency":
      return p("other", "This doctor has no open emergency access to end (it ended or expired already).");
    case "too_many_key_holders":
      return p("other", `This category already has the most key holders the chain allows (${fields.max} besides the patient): revoke someone first.`);
    case "expiry_in_past":
      return p("other", "The expiry must be in the future.");
    case "already_credentialed":
      return p("duplicate", "This doctor is already credentialed under this name and organisation: nothing changed.");
    case "invalid_input": {
      const rule = fields.rule === "directory_text" ? DIRECTORY_TEXT_RULES[fields.text_rule] : undefined;
      if (rule) return p("other", `The ${fields.field === "organization" ? "organisation" : "display name"} was refused: ${rule(fields.max)}.`);
      if (fields.rule === "weak_public_key" || fields.rule === "public_key") return p("other", "The chain refused an encryption key: it is not a usable X25519 key. Nothing was saved.");
      if (fields.rule === "envelope" || fields.rule === "sealed_share") return p("other", `The chain refused a ${fields.rule === "envelope" ? "key envelope" : "sealed key share"} of the wrong length. Nothing was saved.`);
      break;
    }
    case "too_many_addresses":
      return p("other", "Too many names were looked up at once.");
    case "unauthorized":
    case "not_credentialed":
      return p("unauthorized", "You are not allowed to do this. The patient must grant you access first (or an admin must credential you).");
    case "duplicate_blob":
      return p("duplicate", "This file is already registered for the patient: nothing was added twice.");
    case "not_found":
      return p("not-found", "It was not found on the chain.");
  }
  return p("other", `Something went wrong: ${sentence}`);
}
