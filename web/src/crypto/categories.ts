import type { Category } from "../contracts/EhrRegistry.types";

/** FORMAT.md §1: stable one-byte codes; new categories are appended, never reordered. */
export const CATEGORY_CODES: Record<Category, number> = {
  note: 0,
  lab: 1,
  imaging: 2,
  prescription: 3,
  allergy: 4,
  immunization: 5,
  encounter: 6,
  document: 7,
  profile: 8,
};
export const CATEGORIES = Object.keys(CATEGORY_CODES) as Category[];
/** The categories a record can have (the profile is the patient's own file, not a record). */
export const RECORD_CATEGORIES = CATEGORIES.filter((c) => c !== "profile");

export function categoryFromCode(code: number): Category | undefined {
  return CATEGORIES.find((c) => CATEGORY_CODES[c] === code);
}
