/** The failures of FORMAT.md §3 "Reading", in the order they are checked, plus envelope and key failures. */
export type CryptoErrorKind =
  | "Truncated"
  | "BadMagic"
  | "UnsupportedVersion"
  | "UnknownCategoryCode"
  | "HeaderMismatch"
  | "MissingCategoryKey"
  | "WrongKeyOrTamperedHeader"
  | "Tampered"
  | "BadEnvelope"
  | "EnvelopeDoesNotOpen"
  | "BadKey"
  | "BadShares";

export class CryptoError extends Error {
  constructor(
    readonly kind: CryptoErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "CryptoError";
  }
}
