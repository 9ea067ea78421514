import { useState, type FormEvent } from "react";
import { asIsoDate, asObject, asText } from "../lib/records";

export interface Profile {
  name: string;
  birthDate: string;
  gender: string;
  bloodGroup: string;
  history: string;
}
const EMPTY: Profile = { name: "", birthDate: "", gender: "", bloodGroup: "", history: "" };

/** The profile plaintext: a FHIR-shaped Patient resource (never on chain, only its ciphertext's hash). */
export function profileBytes(p: Profile): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ resourceType: "Patient", name: [{ text: p.name }], birthDate: p.birthDate, gender: p.gender, bloodGroup: p.bloodGroup, history: p.history }),
  );
}
/** The profile fields of a decrypted profile document, whatever the types in it (see `asText` in lib/records). */
export function profileOf(json: unknown): Profile {
  const doc = asObject(json);
  const name = Array.isArray(doc.name) ? asText(asObject(doc.name[0]).text) : asText(doc.name);
  return { name, birthDate: asIsoDate(doc.birthDate), gender: asText(doc.gender), bloodGroup: asText(doc.bloodGroup), history: asText(doc.history) };
}

export function ProfileForm({ initial = EMPTY, submitLabel, busy, onSubmit }: { initial?: Profile; submitLabel: string; busy: boolean; onSubmit: (p: Profile) => void }) {
  const [p, setP] = useState(initial);
  const field = (k: keyof Profile, label: string, type = "text") => (
    <label>
      {label}
      <input type={type} value={p[k]} onChange={(e) => setP({ ...p, [k]: e.target.value })} required={k === "name"} />
    </label>
  );
  return (
    <form
      className="row"
      aria-label="Profile"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        onSubmit(p);
      }}
    >
      {field("name", "Full name")}
      {field("birthDate", "Date of birth", "date")}
      <label>
        Gender
        <select value={p.gender} onChange={(e) => setP({ ...p, gender: e.target.value })}>
          <option value="">—</option>
          <option>female</option>
          <option>male</option>
          <option>other</option>
        </select>
      </label>
      {field("bloodGroup", "Blood group")}
      <label style={{ flex: "1 1 20rem" }}>
        Medical history
        <textarea rows={2} value={p.history} onChange={(e) => setP({ ...p, history: e.target.value })} />
      </label>
      <button type="submit" disabled={busy}>
        {submitLabel}
      </button>
    </form>
  );
}
