// What a party may do comes from the chain's `capabilities` answer, never from the web's reading of
// grants, windows and the escrow policy: these read the answer as it is, and say emergency windows in words.
import { describe, expect, it } from "vitest";
import type { CapabilitiesResponse, CategoryRights } from "../contracts/EhrAccess.types";
import type { Category } from "../contracts/EhrRegistry.types";
import { RECORD_CATEGORIES } from "../crypto/categories";
import { categoriesWith, emergencyOpensText, may, openWindow, patientEmergencyText, readableOf } from "./capabilities";
import { localTime } from "./time";

const right = (category: Category, read: boolean, write = false, manage = false, by_emergency = false): CategoryRights => ({ category, read, write, manage, by_emergency });
const EXPIRES = "1796216700000000000"; // Wed, 2 Dec 2026, 14:05 CET
const paris = (t: string) => localTime(t, { locale: "en-GB", timeZone: "Europe/Paris" });

// A doctor revoked from Imaging with a Write grant on Lab and an open window: the chain lists Lab (grant) and
// Allergy (the patient's emergency category), nothing else, though the doctor was once granted Imaging.
const doctor: CapabilitiesResponse = {
  owner: false,
  credentialed: true,
  categories: [right("lab", true, true), right("allergy", true, false, false, true)],
  emergency: { started: "1796213100000000000", expires: EXPIRES, ended: null, open: true, reason: { incapable_patient: {} } },
  emergency_categories: ["allergy"],
  escrowed: ["allergy"],
};

describe("rights as the chain answers them", () => {
  it("reads each right of the listed categories; an unlisted category allows nothing", () => {
    expect(may(doctor, "read", "lab")).toBe(true);
    expect(may(doctor, "write", "lab")).toBe(true);
    expect(may(doctor, "manage", "lab")).toBe(false);
    expect(may(doctor, "read", "allergy")).toBe(true);
    expect(may(doctor, "write", "allergy")).toBe(false); // an emergency never lets anyone write
    expect(may(doctor, "read", "imaging")).toBe(false);
    expect(may(undefined, "read", "lab")).toBe(false);
  });
  it("the writable and deletable categories of a dashboard, in the dashboard's order", () => {
    expect(categoriesWith(doctor, "write", RECORD_CATEGORIES)).toEqual(["lab"]);
    expect(categoriesWith(doctor, "manage", RECORD_CATEGORIES)).toEqual([]);
    expect(categoriesWith(doctor, "read", ["allergy", "imaging", "lab"])).toEqual(["allergy", "lab"]);
    const owner = { categories: RECORD_CATEGORIES.map((c) => right(c, true, true, true)) };
    expect(categoriesWith(owner, "manage", RECORD_CATEGORIES)).toEqual(RECORD_CATEGORIES);
  });
  it("the search index reads the same answer", () => {
    const readable = readableOf(doctor);
    expect(["lab", "allergy", "imaging", "note"].map((c) => readable(c as Category))).toEqual([true, true, false, false]);
  });
  it("a window counts as open only when the chain says so (ended by the patient, or past its end, it does not)", () => {
    expect(openWindow(doctor)?.expires).toBe(EXPIRES);
    expect(openWindow({ emergency: { ...doctor.emergency!, open: false, ended: "1796214000000000000" } })).toBeUndefined();
    expect(openWindow({ emergency: null })).toBeUndefined();
    expect(openWindow(undefined)).toBeUndefined();
  });
});

describe("emergency windows in words", () => {
  it("tells the doctor which categories an emergency opens, or that it opens nothing", () => {
    expect(emergencyOpensText(["prescription", "allergy"])).toBe(
      "An emergency opens only Prescription, Allergy (the categories the patient chose for emergencies), for reading, once the trustees release their keys; nothing else.",
    );
    expect(emergencyOpensText([])).toBe("The patient opens no category in an emergency: an emergency opens nothing beyond what they granted you.");
  });
  it("tells the patient who, why, what and until when, in local time", () => {
    const e = { doctor: "wasm1ben", window: doctor.emergency!, categories: ["allergy", "profile"] as Category[] };
    expect(patientEmergencyText(e, "Dr Ben Okafor, Riverside Clinic", paris)).toBe(
      "Dr Ben Okafor, Riverside Clinic broke the glass (treatment of a patient who cannot consent, ETREAT): they may read your Allergy, Profile records until Wed, 2 Dec 2026, 14:05 CET.",
    );
    const coded = { ...e, window: { ...e.window, reason: { other: { code: "MASS-CASUALTY" } } }, categories: [] };
    expect(patientEmergencyText(coded, "Dr Ben Okafor, Riverside Clinic", paris)).toBe(
      "Dr Ben Okafor, Riverside Clinic broke the glass (reason code MASS-CASUALTY, BTG): it opens none of your records (you chose no category for emergencies) until Wed, 2 Dec 2026, 14:05 CET.",
    );
  });
});
