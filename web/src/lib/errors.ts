// Turns failures into sentences a patient or doctor understands, keeping the technical detail apart.
import { CryptoError } from "../crypto/errors";

export type ProblemKind =
  | "unauthorized"
  | "expired"
  | "node-down"
  | "ipfs-down"
  | "duplicate"
  | "not-found"
  | "integrity"
  | "keys"
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

/** A step of a multi-transaction action failed after earlier steps committed: both are told. */
export class PartlyDoneError extends Error {
  constructor(
    readonly done: string,
    readonly failed: string,
    readonly reason: unknown,
  ) {
    super(`${done}, but ${failed}: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "PartlyDoneError";
  }
}

export function explain(error: unknown): Problem {
  if (error instanceof PartlyDoneError) {
    const inner = explain(error.reason);
    return { kind: inner.kind, message: `${error.done}, but ${error.failed}. ${inner.message}`, detail: error.message };
  }
  const detail = error instanceof Error ? error.message : String(error);
  const text = detail.toLowerCase();
  const p = (kind: ProblemKind, message: string): Problem => ({ kind, message, detail });
  if (error instanceof IpfsError) return p("ipfs-down", "The file store (IPFS) is not reachable. Nothing was lost: try again when it is back.");
  if (error instanceof CryptoError) {
    if (error.kind === "MissingCategoryKey" || error.kind === "EnvelopeDoesNotOpen")
      return p("keys", "You do not hold the key for this record: the patient has not shared this category with you (or revoked it).");
    if (error.kind === "HeaderMismatch" || error.kind === "Tampered" || error.kind === "WrongKeyOrTamperedHeader")
      return p("integrity", "This file does not match what the chain says it should be. It is not shown.");
    return p("integrity", "This file is not a readable ehr-chain record.");
  }
  if (text.includes("is not in the future")) return p("other", "The expiry must be in the future.");
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
