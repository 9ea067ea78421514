import { useState, type FormEvent } from "react";

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
export function profileOf(json: Record<string, unknown>): Profile {
  const name = (json.name as { text?: string }[] | undefined)?.[0]?.text ?? "";
  return { name, birthDate: String(json.birthDate ?? ""), gender: String(json.gender ?? ""), bloodGroup: String(json.bloodGroup ?? ""), history: String(json.history ?? "") };
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
