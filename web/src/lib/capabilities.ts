// What a party may do with a patient's records now, as the chain's rule book answers it (the access
// contract's `capabilities` query, issue 21): the web shows and follows that answer instead of
// re-deriving it from grants, emergency windows and the escrow policy. Pure functions over the answer,
// plus the sentences about emergency windows. Unit-tested.
import type { CapabilitiesResponse, EmergencyReason, EmergencyWindowInfo } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { purposeOfUse, reasonWords } from "./audit";
import { categoryLabels } from "./names";

type Rights = Pick<CapabilitiesResponse, "categories">;
type Right = "read" | "write" | "manage";

/** Whether the answer grants `right` on `category` (a category the party may not read is not listed at all). */
export const may = (caps: Rights | undefined, right: Right, category: Category): boolean => !!caps?.categories.some((c) => c.category === category && c[right]);

/** The categories of `among` the answer grants `right` on, in the order of `among`. */
export const categoriesWith = (caps: Rights | undefined, right: Right, among: readonly Category[]): Category[] => among.filter((c) => may(caps, right, c));

/** The search index's test of what may be read (searchIndex.ts `planSync`). */
export const readableOf =
  (caps: Rights | undefined) =>
  (category: Category): boolean =>
    may(caps, "read", category);

/** The party's emergency window while it is open (the chain decides: declared end, ended by the patient), else undefined. */
export const openWindow = (caps: Pick<CapabilitiesResponse, "emergency"> | undefined): EmergencyWindowInfo | undefined => (caps?.emergency?.open ? caps.emergency : undefined);

/** What an emergency opens, as the doctor is told before and after breaking the glass. */
export function emergencyOpensText(categories: readonly Category[]): string {
  if (!categories.length) return "The patient opens no category in an emergency: an emergency opens nothing beyond what they granted you.";
  return `An emergency opens only ${categoryLabels(categories)} (the categories the patient chose for emergencies), for reading, once the trustees release their keys; nothing else.`;
}

/** The reason of a window in words, with its FHIR purpose code: "treatment of a patient who cannot consent, ETREAT". */
export const reasonText = (reason: EmergencyReason): string => `${reasonWords(reason)}, ${purposeOfUse(reason)}`;

/** One open emergency window of a doctor on the patient's records, as the patient's dashboard lists it. */
export interface PatientEmergency {
  doctor: string;
  window: EmergencyWindowInfo;
  /** What the window opens: the patient's emergency categories. */
  categories: Category[];
}

/**
 * The notice at the top of the patient's dashboard: who, until when (local time), why, and what it opens.
 * "Dr Ben Okafor, Riverside Clinic broke the glass (treatment of a patient who cannot consent, ETREAT):
 * they may read your Allergy, Profile records until Wed, 2 Dec 2026, 14:05 CET."
 */
export function patientEmergencyText(e: PatientEmergency, doctor: string, time: (chainTime: string) => string): string {
  const opens = e.categories.length ? `they may read your ${categoryLabels(e.categories)} records` : "it opens none of your records (you chose no category for emergencies)";
  return `${doctor} broke the glass (${reasonText(e.window.reason)}): ${opens} until ${time(e.window.expires)}.`;
}

/** What ending a window does, said before the patient confirms. */
export const endEmergencyQuestion = (doctor: string): string =>
  `End the emergency access of ${doctor} now? They keep what they have already opened; the next record written in each category they were handed gets a new key they never receive. They cannot break the glass again before the window's planned end.`;

/** Said once the window is ended. */
export const emergencyEndedText = (doctor: string): string =>
  `The emergency access of ${doctor} has ended. Your next record in each category they were handed gets a new key they never receive.`;
