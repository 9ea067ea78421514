// The patient's view: profile (decrypted here), records, who has access, requests, and the audit log.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { AccessRequestInfo, AuditEntry, GrantInfo, Scope } from "../contracts/EhrAccess.types";
import type { Category, PatientInfo, ProviderInfo } from "../contracts/EhrRegistry.types";
import { RECORD_CATEGORIES } from "../crypto/categories";
import { grantActive, type Ehr } from "../lib/ehr";
import { keyRotatedText } from "../lib/keys";
import { CategoryChecks, ConfirmButton, formatTime, nanosToDate, short, useAction } from "./common";
import { ProfileForm, profileBytes, profileOf, type Profile } from "./Profile";
import { RecordsPanel } from "./RecordsPanel";

export function PatientDashboard({ ehr, patientId, onDeleted }: { ehr: Ehr; patientId: number; onDeleted: () => void }) {
  const [patient, setPatient] = useState<PatientInfo>();
  // Bumped after every change, so grants, requests and the audit log all show its effect.
  const [changes, setChanges] = useState(0);
  const changed = useCallback(() => setChanges((n) => n + 1), []);
  const action = useAction();
  const reload = useCallback(() => action.run(async () => setPatient(await ehr.patient(patientId))), [ehr, patientId, action.run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  if (!patient) return <>{action.status}<p role="status">Loading your records…</p></>;
  return (
    <div data-dashboard="patient">
      {action.status}
      {!ehr.keyMatches(patient.encryption_key) && (
        <div className="notice error" role="alert">
          This wallet's key differs from the one registered for patient #{patient.id}: files sealed to the registered key cannot be opened here, and
          nothing can be written from this wallet.
        </div>
      )}
      <ProfileCard ehr={ehr} patient={patient} onSaved={() => { void reload(); changed(); }} />
      <RecordsPanel ehr={ehr} patient={patient} writable={RECORD_CATEGORIES} deletable={RECORD_CATEGORIES} onChanged={changed} />
      <div className="grid2">
        <GrantsCard ehr={ehr} patient={patient} changes={changes} onChanged={changed} />
        <RequestsCard ehr={ehr} patient={patient} changes={changes} onChanged={changed} />
      </div>
      <AuditCard ehr={ehr} patientId={patient.id} changes={changes} />
      <DeletePatientCard ehr={ehr} patient={patient} onDeleted={onDeleted} />
    </div>
  );
}

/** Tombstones the patient after an explicit confirmation; the wallet may register again afterwards. */
function DeletePatientCard({ ehr, patient, onDeleted }: { ehr: Ehr; patient: PatientInfo; onDeleted: () => void }) {
  const action = useAction();
  return (
    <section className="card" aria-labelledby="delete-patient-h">
      <h2 id="delete-patient-h">Delete my patient record</h2>
      <p className="muted">
        Patient #{patient.id} becomes a tombstone: the id is never reused, the profile is unlinked at once and nobody can add or change records. The
        audit log stays.
      </p>
      {action.status}
      <ConfirmButton
        label="Delete my patient record"
        question="This cannot be undone."
        confirmLabel={`Confirm: delete patient #${patient.id}`}
        busy={action.busy}
        onConfirm={() => action.run(async () => { await ehr.deletePatient(patient.id); onDeleted(); })}
      />
    </section>
  );
}

function ProfileCard({ ehr, patient, onSaved }: { ehr: Ehr; patient: PatientInfo; onSaved: () => void }) {
  const [profile, setProfile] = useState<Profile>();
  const [integrity, setIntegrity] = useState<string>();
  const [editing, setEditing] = useState(false);
  const action = useAction();
  useEffect(() => {
    void action.run(async () => {
      const p = await ehr.readProfile(patient);
      setIntegrity(p.integrity);
      if (p.plaintext) setProfile(profileOf(p.json));
    });
  }, [ehr, patient, action.run]);
  return (
    <section className="card" aria-labelledby="profile-h">
      <h2 id="profile-h">
        My profile (patient #{patient.id}){" "}
        {integrity && <span className={`badge ${integrity}`}>{integrity === "verified" ? "✔ hash matches chain" : "✖ hash mismatch"}</span>}
      </h2>
      {action.status}
      {profile && !editing && (
        <dl className="grid2" style={{ margin: 0 }}>
          <div><dt className="muted">Name</dt><dd>{profile.name}</dd></div>
          <div><dt className="muted">Date of birth</dt><dd>{profile.birthDate || "—"}</dd></div>
          <div><dt className="muted">Gender</dt><dd>{profile.gender || "—"}</dd></div>
          <div><dt className="muted">Blood group</dt><dd>{profile.bloodGroup || "—"}</dd></div>
          <div><dt className="muted">History</dt><dd>{profile.history || "—"}</dd></div>
          <div><dt className="muted">Profile version</dt><dd>{patient.profile_version}</dd></div>
        </dl>
      )}
      {editing ? (
        <ProfileForm
          initial={profile}
          submitLabel="Save profile"
          busy={action.busy}
          onSubmit={(p) =>
            action.run(async () => {
              await ehr.saveProfile(patient, profileBytes(p));
              setEditing(false);
              onSaved();
            })
          }
        />
      ) : (
        <button type="button" className="secondary" onClick={() => setEditing(true)}>
          Edit profile
        </button>
      )}
    </section>
  );
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000);

interface CardProps {
  ehr: Ehr;
  patient: PatientInfo;
  changes: number;
  onChanged: () => void;
}

function GrantsCard({ ehr, patient, changes, onChanged }: CardProps) {
  const [grants, setGrants] = useState<GrantInfo[]>([]);
  const [doctors, setDoctors] = useState<ProviderInfo[]>([]);
  const [grantee, setGrantee] = useState("");
  const [categories, setCategories] = useState<Category[]>(["lab"]);
  const [scope, setScope] = useState<Scope>("read");
  const [expires, setExpires] = useState(inDays(30).toISOString().slice(0, 10));
  const action = useAction();
  const list = useAction(); // loads keep their own status, so a reload does not hide the action's message
  const load = useCallback(
    () =>
      list.run(async () => {
        setGrants(await ehr.grantsByPatient(patient.id));
        setDoctors((await ehr.providers()).filter((p) => p.credentialed));
      }),
    [ehr, patient.id, list.run, changes],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await ehr.grant(patient, grantee, scope, categories, expires ? new Date(`${expires}T23:59:59Z`) : null);
      onChanged();
      return `Access granted to ${short(grantee)} for ${categories.join(", ")}.`;
    });
  };
  return (
    <section className="card" aria-labelledby="grants-h">
      <h2 id="grants-h">Who can see my records</h2>
      <form className="row" onSubmit={submit} aria-label="Grant access">
        <label>
          Doctor
          <select required value={grantee} onChange={(e) => setGrantee(e.target.value)}>
            <option value="">choose…</option>
            {doctors.map((d) => (
              <option key={d.address} value={d.address} disabled={!d.encryption_key}>
                {d.address}
                {d.encryption_key ? "" : " (no key yet)"}
              </option>
            ))}
          </select>
        </label>
        <CategoryChecks legend="Categories" value={categories} onChange={setCategories} />
        <label>
          Access
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            <option value="read">read</option>
            <option value="write">read and write</option>
            <option value="manage">manage</option>
          </select>
        </label>
        <label>
          Expires
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
        <button type="submit" disabled={action.busy || !grantee || !categories.length}>
          Grant
        </button>
      </form>
      {action.status}
      {list.status}
      <table aria-label="Grants">
        <thead>
          <tr><th>Doctor</th><th>Categories</th><th>Access</th><th>Expires</th><th><span className="muted">Action</span></th></tr>
        </thead>
        <tbody>
          {grants.map((g) => (
            <tr key={g.grantee}>
              <td className="mono">{short(g.grantee)}</td>
              <td>{g.categories.join(", ")}</td>
              <td>{g.scope}</td>
              <td>{g.expires ? `${formatTime(nanosToDate(g.expires))}${grantActive(g) ? "" : " (expired)"}` : "never"}</td>
              <td>
                <button type="button" className="danger" disabled={action.busy} aria-label={`Revoke ${g.grantee}`}
                  onClick={() => action.run(async () => {
                    await ehr.revoke(patient.id, g.grantee);
                    onChanged();
                    return revokedText(short(g.grantee), g.categories);
                  })}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function RequestsCard({ ehr, patient, changes, onChanged }: CardProps) {
  const [requests, setRequests] = useState<AccessRequestInfo[]>([]);
  const [showDecided, setShowDecided] = useState(false);
  const action = useAction();
  const list = useAction();
  const load = useCallback(() => list.run(async () => setRequests(await ehr.requestsByPatient(patient.id))), [ehr, patient.id, list.run, changes]);
  useEffect(() => {
    void load();
  }, [load]);
  const shown = requests.filter((r) => showDecided || r.status === "pending");
  return (
    <section className="card" aria-labelledby="requests-h">
      <h2 id="requests-h">Access requests</h2>
      <label className="inline">
        <input type="checkbox" checked={showDecided} onChange={(e) => setShowDecided(e.target.checked)} /> show decided
      </label>
      {action.status}
      {list.status}
      {shown.length === 0 && <p className="muted">No {showDecided ? "" : "pending "}requests.</p>}
      <ul aria-label="Requests">
        {shown.map((r) => (
          <li key={r.id} data-request-id={r.id}>
            <span className="mono">{short(r.requester)}</span> asks {r.scope} on {r.categories.join(", ")} · {r.status}
            {r.status === "pending" && (
              <>
                {" "}
                <button type="button" disabled={action.busy} onClick={() => action.run(async () => { await ehr.approveRequest(patient, r, inDays(30)); onChanged(); return `Request ${r.id} approved for 30 days.`; })}>
                  Approve
                </button>{" "}
                <button type="button" className="danger" disabled={action.busy} onClick={() => action.run(async () => { await ehr.denyRequest(r.id); onChanged(); })}>
                  Deny
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function AuditCard({ ehr, patientId, changes }: { ehr: Ehr; patientId: number; changes: number }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [kind, setKind] = useState("");
  const action = useAction();
  const load = useCallback(
    (after?: number) =>
      action.run(async () => {
        const page = await ehr.auditLog(patientId, after);
        setEntries((old) => (after === undefined ? page : [...old, ...page]));
        setMore(page.length === 100);
      }),
    [ehr, patientId, action.run, changes],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const actionName = (e: AuditEntry) => Object.keys(e.action)[0];
  const kinds = [...new Set(entries.map(actionName))].sort();
  const shown = entries.filter((e) => !kind || actionName(e) === kind).reverse();
  return (
    <section className="card" aria-labelledby="audit-h">
      <h2 id="audit-h">Audit log</h2>
      <div className="filters">
        <label>
          Action
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">all</option>
            {kinds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
      </div>
      {action.status}
      <table aria-label="Audit log">
        <thead>
          <tr><th>#</th><th>Time</th><th>Who</th><th>What</th></tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.seq} className={actionName(e) === "emergency_access" ? "emergency" : undefined}>
              <td>{e.seq}</td>
              <td>{formatTime(nanosToDate(e.time))}</td>
              <td className="mono">{short(e.actor)}</td>
              <td>
                {"key_rotated" in e.action ? (
                  keyRotatedText(e.action.key_rotated)
                ) : (
                  <>
                    {actionName(e) === "emergency_access" ? <strong>⚠ emergency access</strong> : actionName(e).replace(/_/g, " ")}{" "}
                    <span className="muted">{auditDetail(Object.values(e.action)[0] as Record<string, unknown>)}</span>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {more && (
        <button type="button" className="secondary" onClick={() => load(entries.at(-1)?.seq)}>
          Load older entries
        </button>
      )}
    </section>
  );
}

/**
 * What a revoke does, said plainly: the former grantee keeps what it could already open; the next
 * record written in each of its categories gets a new key that goes to the patient and the doctors
 * who still have access, not to it.
 */
function revokedText(who: string, categories: Category[]): string {
  return `Access of ${who} revoked. The next ${categories.join(", ")} record written gets a new key that ${who} never receives; what ${who} could open before stays readable to them.`;
}

/** The fields of an audit action as text; times (nanoseconds on chain) as dates. */
function auditDetail(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${k === "expires" ? formatTime(nanosToDate(String(v))) : Array.isArray(v) ? v.join(", ") : String(v)}`)
    .join(" · ");
}
