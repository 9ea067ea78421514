// What the admin may list a provider under, checked in the form before anything is signed. The
// registry enforces the same rules (ehr-types validate_directory_text): display name 1–64 and
// organisation 1–96 characters (Unicode scalar values, not bytes), no leading or trailing white space,
// no control characters and no bidirectional marks, embeddings, overrides or isolates, which could make
// one name read as another. Pure functions, unit-tested.
import { fromBech32 } from "@cosmjs/encoding";

export type ListingField = "display_name" | "organization";
export type ListingRule = "empty" | "too-long" | "surrounding-space" | "control-character";

export const LISTING_MAX_CHARS: Record<ListingField, number> = { display_name: 64, organization: 96 };
const FIELD_WORDS: Record<ListingField, string> = { display_name: "The display name", organization: "The organisation" };

// Rust's char::is_whitespace (Unicode White_Space), which str::trim strips: not JavaScript's trim,
// which also strips U+FEFF and keeps U+0085.
const WHITE_SPACE = "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SURROUNDING_SPACE = new RegExp(`^[${WHITE_SPACE}]|[${WHITE_SPACE}]$`, "u");
// C0 and C1 controls (\p{Cc}, Rust's char::is_control), LRM/RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI; and
// lone surrogates, which are no character at all (the chain could not even read them).
const HIDDEN = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

export interface ListingProblem {
  field: ListingField;
  rule: ListingRule;
  message: string;
}

/** Why `text` cannot be listed as `field`, or undefined when the registry accepts it. The rules are checked in the contract's order. */
export function listingProblem(field: ListingField, text: string): ListingProblem | undefined {
  const what = FIELD_WORDS[field];
  const max = LISTING_MAX_CHARS[field];
  const chars = [...text].length; // code points, as Rust counts chars
  const problem = (rule: ListingRule, message: string): ListingProblem => ({ field, rule, message });
  if (chars === 0) return problem("empty", `${what} is required.`);
  if (chars > max) return problem("too-long", `${what} may have at most ${max} characters (this has ${chars}).`);
  if (SURROUNDING_SPACE.test(text)) return problem("surrounding-space", `${what} must not start or end with a space.`);
  if (HIDDEN.test(text)) return problem("control-character", `${what} must not contain control or text-direction characters.`);
  return undefined;
}

/** Why `address` is not an account address of this chain (bech32 with `prefix`), or undefined. */
export function addressProblem(address: string, prefix: string): string | undefined {
  if (!address) return "The doctor's wallet address is required.";
  try {
    const { prefix: got, data } = fromBech32(address, 90); // an explicit limit: the default (Infinity) is refused by @scure/base 2
    if (got !== prefix) return `This is an address of another chain: it must start with ${prefix}1.`;
    if (data.length !== 20 && data.length !== 32) return "This is not an account address.";
    return undefined;
  } catch {
    return `This is not a valid address (it starts with ${prefix}1 and has no typing errors).`;
  }
}

export interface ListingDraft {
  address: string;
  displayName: string;
  organization: string;
}

export interface ListingCheck {
  address?: string;
  displayName?: string;
  organization?: string;
  /** Set when the provider is credentialed under exactly this listing already: the registry would refuse it. */
  unchanged?: string;
}

/** Every problem of the credential form, by field; an empty object when it may be sent. */
export function checkListing(draft: ListingDraft, prefix: string, current?: { credentialed: boolean; display_name: string; organization: string }): ListingCheck {
  const out: ListingCheck = {};
  const address = addressProblem(draft.address, prefix);
  if (address) out.address = address;
  const name = listingProblem("display_name", draft.displayName);
  if (name) out.displayName = name.message;
  const org = listingProblem("organization", draft.organization);
  if (org) out.organization = org.message;
  if (current?.credentialed && current.display_name === draft.displayName && current.organization === draft.organization)
    out.unchanged = "This doctor is already credentialed under this name and organisation: change one of them to correct the listing.";
  return out;
}

export const listingOk = (c: ListingCheck): boolean => Object.keys(c).length === 0;
