// The doctor's view: patients who granted access, their records (decrypted with the grant's keys),
// access requests, proposing a new patient, emergency access.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { AccessRequestInfo, GrantInfo, Scope } from "../contracts/EhrAccess.types";
import type { Category, PatientInfo, ProviderInfo } from "../contracts/EhrRegistry.types";
import { RECORD_CATEGORIES } from "../crypto/categories";
import { grantActive, mayManage, mayWrite, type Ehr } from "../lib/ehr";
import { categoryLabel } from "../lib/keys";
import { categoryLabels, listing, scopeWords } from "../lib/names";
import { localTime } from "../lib/time";
import { CategoryChecks, useAction } from "./common";
import { RecordsPanel } from "./RecordsPanel";

export function DoctorDashboard({ ehr }: { ehr: Ehr }) {
  const [me, setMe] = useState<ProviderInfo>();
  const [grants, setGrants] = useState<GrantInfo[]>([]);
  const [more, setMore] = useState(false);
  const [search, setSearch] = useState("");
  const [category, setCategory] = useState<Category | "">("");
  const [selected, setSelected] = useState<{ patient: PatientInfo; grant?: GrantInfo; emergency?: { active: boolean; expires?: string } }>();
  const action = useAction();

  const load = useCallback(
    (after?: number) =>
      action.run(async () => {
        const mine = await ehr.provider(ehr.address);
        ehr.names.prime([mine]);
        setMe(mine);
        const page = await ehr.grantsByGrantee(after);
        setGrants((old) => (after === undefined ? page : [...old, ...page]));
        setMore(page.length === 100);
      }),
    [ehr, action.run],
  );
  useEffect(() => {
    void load();
  }, [load]);

  const openPatient = (patientId: number) =>
    action.run(async () => {
      const patient = await ehr.patient(patientId);
      const [grant, emergency] = await Promise.all([ehr.myGrant(patientId), ehr.myEmergency(patientId)]);
      setSelected({ patient, grant, emergency });
    });

  const shown = grants.filter((g) => (!search || String(g.patient_id) === search.trim().replace(/^#/, "")) && (!category || g.categories.includes(category)));
  const writable = selected ? RECORD_CATEGORIES.filter((c) => mayWrite(selected.grant, c)) : [];
  const deletable = selected ? RECORD_CATEGORIES.filter((c) => mayManage(selected.grant, c)) : [];

  return (
    <div data-dashboard="doctor">
      {action.status}
      {me && (
        <p className="muted" data-listing>
          Patients see you as <strong>{listing(me)}</strong>
          {me.credentialed ? ` (credentialed since ${localTime(me.credentialed_at)})` : ""}.
        </p>
      )}
      {me && !ehr.keyMatches(me.encryption_key) && (
        <div className="notice info" role="status">
          Patients can share records with you once your encryption key is on the chain.{" "}
          <button type="button" disabled={action.busy} onClick={() => action.run(async () => { await ehr.publishProviderKey(); await load(); return "Your encryption key is published."; })}>
            Publish my encryption key
          </button>
        </div>
      )}
      <section className="card" aria-labelledby="patients-h">
        <h2 id="patients-h">My patients</h2>
        <div className="filters" role="search" aria-label="Filter patients">
          <label>
            Patient id
            <input value={search} onChange={(e) => setSearch(e.target.value)} inputMode="numeric" placeholder="#" />
          </label>
          <label>
            Category
            <select value={category} onChange={(e) => setCategory(e.target.value as Category | "")}>
              <option value="">all</option>
              {RECORD_CATEGORIES.map((c) => (
                <option key={c} value={c}>{categoryLabel(c)}</option>
              ))}
            </select>
          </label>
        </div>
        <table aria-label="Patients who granted me access">
          <thead>
            <tr><th>Patient</th><th>Categories</th><th>Access</th><th>Until</th><th><span className="muted">Action</span></th></tr>
          </thead>
          <tbody>
            {shown.map((g) => (
              <tr key={g.patient_id}>
                <td>#{g.patient_id}</td>
                <td>{categoryLabels(g.categories)}</td>
                <td>{scopeWords(g.scope)}</td>
                <td>{g.expires ? localTime(g.expires) : "no end date"}{grantActive(g) ? "" : <strong> expired</strong>}</td>
                <td>
                  <button type="button" className="secondary" onClick={() => openPatient(g.patient_id)} aria-label={`Open patient ${g.patient_id}`}>
                    Open
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && <p className="muted">No patient has granted you access{search || category ? " matching the filter" : ""}.</p>}
        {more && (
          <button type="button" className="secondary" onClick={() => load(grants.at(-1)?.patient_id)}>
            Load more
          </button>
        )}
      </section>
      {selected?.patient.status === "deleted" && (
        <div className="notice info" role="status">
          Patient #{selected.patient.id} has deleted their patient record: there is nothing to show, and your grant no longer allows anything.
        </div>
      )}
      {selected && selected.patient.status !== "deleted" && (
        <>
          {selected.grant && !grantActive(selected.grant) && (
            <div className="notice error" role="alert">
              Your access to patient #{selected.patient.id} expired on {localTime(selected.grant.expires!)}. Ask the patient to grant it again.
            </div>
          )}
          {selected.emergency?.active && selected.emergency.expires && (
            <div className="notice info" role="status">
              Emergency read access to patient #{selected.patient.id} until {localTime(selected.emergency.expires)}: it is in the patient's audit log.
            </div>
          )}
          <RecordsPanel key={selected.patient.id} ehr={ehr} patient={selected.patient} writable={writable} deletable={deletable} />
        </>
      )}
      <div className="grid2">
        <RequestAccessCard ehr={ehr} onOpen={openPatient} />
        <ProposeCard ehr={ehr} />
      </div>
    </div>
  );
}

function RequestAccessCard({ ehr, onOpen }: { ehr: Ehr; onOpen: (id: number) => void }) {
  const [patientId, setPatientId] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [categories, setCategories] = useState<Category[]>(["lab"]);
  const [mine, setMine] = useState<AccessRequestInfo[]>([]);
  const action = useAction();
  const load = useCallback(() => action.run(async () => setMine(await ehr.myRequests())), [ehr, action.run]);
  useEffect(() => {
    void load();
  }, [load]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await ehr.requestAccess(Number(patientId), scope, categories);
      await load();
      return `Request sent to patient #${patientId}.`;
    });
  };
  return (
    <section className="card" aria-labelledby="request-h">
      <h2 id="request-h">Request access</h2>
      <form className="row" onSubmit={submit} aria-label="Request access">
        <label>
          Patient id
          <input required inputMode="numeric" pattern="[0-9]+" value={patientId} onChange={(e) => setPatientId(e.target.value)} />
        </label>
        <CategoryChecks legend="Categories" value={categories} onChange={setCategories} />
        <label>
          Access
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            <option value="read">{scopeWords("read")}</option>
            <option value="write">{scopeWords("write")}</option>
          </select>
        </label>
        <button type="submit" disabled={action.busy || !categories.length}>
          Request
        </button>
        <button type="button" className="danger" disabled={action.busy || !patientId}
          onClick={() => action.run(async () => {
            const id = Number(patientId);
            await ehr.emergencyAccess(id, { incapable_patient: {} });
            const { expires } = await ehr.myEmergency(id);
            onOpen(id);
            return `Emergency read access to patient #${id}${expires ? ` until ${localTime(expires)}` : ""}: it is written to the patient's audit log.`;
          })}>
          Emergency access
        </button>
      </form>
      {action.status}
      <ul aria-label="My requests">
        {mine.map((r) => (
          <li key={r.id}>
            Patient #{r.patient_id}: {scopeWords(r.scope)} access to {categoryLabels(r.categories)} · <strong>{r.status}</strong>{" "}
            <span className="muted">
              (asked {localTime(r.created)}
              {r.decided ? `, ${r.status} ${localTime(r.decided)}` : ""})
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ProposeCard({ ehr }: { ehr: Ehr }) {
  const [address, setAddress] = useState("");
  const action = useAction();
  return (
    <section className="card" aria-labelledby="propose-h">
      <h2 id="propose-h">Propose a new patient</h2>
      <p className="muted">The patient accepts with their own wallet and chooses what you may see.</p>
      <form
        className="row"
        aria-label="Propose a patient"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void action.run(async () => {
            await ehr.proposePatient(address.trim());
            const { pending_patient_id: id } = await ehr.registry.designation({ address: address.trim() });
            setAddress("");
            return `Proposed ${id ? `patient #${id}` : "the patient record"}: waiting for the patient to accept.`;
          });
        }}
      >
        <label>
          Patient's wallet address
          <input required value={address} onChange={(e) => setAddress(e.target.value)} placeholder="wasm1…" />
        </label>
        <button type="submit" disabled={action.busy}>
          Propose
        </button>
      </form>
      {action.status}
    </section>
  );
}
