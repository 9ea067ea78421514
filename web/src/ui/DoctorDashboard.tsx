// The doctor's view: patients who granted access, their records (decrypted with the grant's keys),
// access requests, proposing a new patient, emergency access.
import { useCallback, useEffect, useEffectEvent, useRef, useState, type FormEvent } from "react";
import type { AccessRequestInfo, CapabilitiesResponse, EmergencyReason, GrantInfo, Scope } from "../contracts/EhrAccess.types";
import type { Category, PatientInfo, ProviderInfo } from "../contracts/EhrRegistry.types";
import { RECORD_CATEGORIES } from "../crypto/categories";
import { purposeOfUse, reasonWords } from "../lib/audit";
import { categoriesWith, emergencyOpensText, openWindow, reasonText, type PatientEmergency } from "../lib/capabilities";
import { grantActive, type Ehr, type ReleaseProgress } from "../lib/ehr";
import { categoryLabel } from "../lib/keys";
import { categoryLabels, listing, scopeWords } from "../lib/names";
import { localTime } from "../lib/time";
import { CategoryChecks, useAction, useNames } from "./common";
import { RecordsPanel } from "./RecordsPanel";

export function DoctorDashboard({ ehr }: { ehr: Ehr }) {
  const [me, setMe] = useState<ProviderInfo>();
  const [grants, setGrants] = useState<GrantInfo[]>([]);
  const [more, setMore] = useState(false);
  const [search, setSearch] = useState("");
  const [category, setCategory] = useState<Category | "">("");
  // The chain's answer of what this doctor may do with the selected patient (capabilities): what it writes, deletes and reads in an emergency.
  const [selected, setSelected] = useState<{ patient: PatientInfo; grant?: GrantInfo; caps: CapabilitiesResponse }>();
  // Open emergency windows of this doctor: patients it may open without a grant.
  const [emergencies, setEmergencies] = useState<(PatientEmergency & { patientId: number })[]>([]);
  // Bumped when released key shares open a key: the records panel opens again with it.
  const [emergencyKeys, setEmergencyKeys] = useState(0);
  const action = useAction();
  const runAction = action.run;

  const load = useCallback(
    (after?: number) =>
      runAction(async () => {
        const mine = await ehr.provider(ehr.address);
        ehr.names.prime([mine]);
        setMe(mine);
        const [page, open] = await Promise.all([ehr.grantsByGrantee(after), after === undefined ? ehr.myEmergencies() : undefined]);
        setGrants((old) => (after === undefined ? page : [...old, ...page]));
        if (open) setEmergencies(open);
        setMore(page.length === 100);
      }),
    [ehr, runAction],
  );
  useEffect(() => {
    void load();
  }, [load]);

  const openPatient = (patientId: number) =>
    action.run(async () => {
      const [patient, grant, caps] = await Promise.all([ehr.patient(patientId), ehr.myGrant(patientId), ehr.capabilities(patientId)]);
      setSelected({ patient, grant, caps });
    });

  const shown = grants.filter((g) => (!search || String(g.patient_id) === search.trim().replace(/^#/, "")) && (!category || g.categories.includes(category)));
  const writable = categoriesWith(selected?.caps, "write", RECORD_CATEGORIES);
  const deletable = categoriesWith(selected?.caps, "manage", RECORD_CATEGORIES);
  const emergencyWindow = openWindow(selected?.caps);
  // Patients this doctor may open only through an open emergency window (no grant row of theirs is listed).
  const emergencyRows = emergencies.filter((e) => !grants.some((g) => g.patient_id === e.patientId) && (!search || String(e.patientId) === search.trim().replace(/^#/, "")) && (!category || e.categories.includes(category)));

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
            {emergencyRows.map((e) => (
              <tr key={`emergency/${e.patientId}`} className="emergency" data-emergency-patient={e.patientId}>
                <td>#{e.patientId}</td>
                <td>{e.categories.length ? categoryLabels(e.categories) : "nothing"}</td>
                <td>
                  <span className="badge emergency">⚠ emergency</span> read ({reasonText(e.window.reason)})
                </td>
                <td>{localTime(e.window.expires)}</td>
                <td>
                  <button type="button" className="secondary" onClick={() => openPatient(e.patientId)} aria-label={`Open patient ${e.patientId}`}>
                    Open
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && emergencyRows.length === 0 && <p className="muted">No patient has granted you access{search || category ? " matching the filter" : ""}.</p>}
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
          {emergencyWindow && (
            <>
              <div className="notice info" role="status" data-emergency-until={emergencyWindow.expires}>
                Emergency read access to patient #{selected.patient.id} until {localTime(emergencyWindow.expires)} ({reasonText(emergencyWindow.reason)}): it is in the patient's
                audit log. {emergencyOpensText(selected.caps.emergency_categories)}
              </div>
              <EmergencyKeys ehr={ehr} patientId={selected.patient.id} expires={emergencyWindow.expires} onOpened={() => setEmergencyKeys((n) => n + 1)} />
            </>
          )}
          <RecordsPanel key={`${selected.patient.id}/${emergencyKeys}`} ehr={ehr} patient={selected.patient} writable={writable} deletable={deletable} />
        </>
      )}
      <BreakGlassCard ehr={ehr} onOpen={(id) => { void openPatient(id); void load(); }} />
      <div className="grid2">
        <RequestAccessCard ehr={ehr} />
        <ProposeCard ehr={ehr} />
      </div>
    </div>
  );
}

/** A reason code: 2 to 16 of A–Z, 0–9 and '-' (ehr-types validate_emergency_reason). */
export const REASON_CODE = /^[A-Z0-9-]{2,16}$/;

/** Break glass: a coded reason, then time-boxed read access written to the patient's audit log. */
function BreakGlassCard({ ehr, onOpen }: { ehr: Ehr; onOpen: (id: number) => void }) {
  const [patientId, setPatientId] = useState("");
  const [kind, setKind] = useState<"incapable" | "other">("incapable");
  const [code, setCode] = useState("");
  const action = useAction();
  const codeOk = REASON_CODE.test(code);
  // What an emergency would open for the patient typed in (the chain's answer), said before the glass is broken.
  const [opens, setOpens] = useState<{ id: string; caps?: CapabilitiesResponse }>();
  useEffect(() => {
    if (!/^[0-9]+$/.test(patientId)) return;
    let current = true;
    const timer = setTimeout(() => {
      ehr
        .capabilities(Number(patientId))
        .then((caps) => current && setOpens({ id: patientId, caps }))
        .catch(() => current && setOpens({ id: patientId }));
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [ehr, patientId, action.busy]);
  const hint = opens?.id === patientId ? opens : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (kind === "other" && !codeOk) return;
    const reason: EmergencyReason = kind === "incapable" ? { incapable_patient: {} } : { other: { code } };
    void action.run(async () => {
      const id = Number(patientId);
      await ehr.emergencyAccess(id, reason);
      const caps = await ehr.capabilities(id);
      const expires = openWindow(caps)?.expires;
      onOpen(id);
      return `You broke the glass for patient #${id} (${reasonWords(reason)}, ${purposeOfUse(reason)}): emergency read access${expires ? ` until ${localTime(expires)}` : ""}. It is written to the patient's audit log. ${emergencyOpensText(caps.emergency_categories)}`;
    });
  };
  return (
    <section className="card" aria-labelledby="break-glass-h">
      <h2 id="break-glass-h">Break glass</h2>
      <p className="muted">For an emergency only: read access for a limited time, without the patient's grant. The patient sees it, with your reason, in their audit log.</p>
      <form className="row" onSubmit={submit} aria-label="Break glass">
        <label>
          Patient id
          <input required inputMode="numeric" pattern="[0-9]+" value={patientId} onChange={(e) => setPatientId(e.target.value)} />
        </label>
        <label>
          Reason
          <select aria-label="Reason" value={kind} onChange={(e) => setKind(e.target.value as "incapable" | "other")}>
            <option value="incapable">The patient cannot consent (ETREAT)</option>
            <option value="other">Other, with a reason code (BTG)</option>
          </select>
        </label>
        {kind === "other" && (
          <label>
            Reason code
            <input
              aria-label="Reason code"
              value={code}
              onChange={(e) => setCode(e.target.value.toUpperCase())}
              placeholder="MASS-CASUALTY"
              maxLength={16}
              aria-invalid={!!code && !codeOk}
              aria-describedby="reason-code-help"
            />
            <span id="reason-code-help" className={code && !codeOk ? "error" : "muted"}>
              2 to 16 letters A–Z, digits or '-'
            </span>
          </label>
        )}
        <button type="submit" className="danger" disabled={action.busy || !patientId || (kind === "other" && !codeOk)}>
          Break glass
        </button>
      </form>
      {hint && (
        <p className="muted" aria-label="What an emergency opens" data-opens={hint.caps?.emergency_categories.join(",")}>
          {hint.caps
            ? openWindow(hint.caps)
              ? `Your emergency window for patient #${hint.id} is open until ${localTime(openWindow(hint.caps)!.expires)}. ${emergencyOpensText(hint.caps.emergency_categories)}`
              : emergencyOpensText(hint.caps.emergency_categories)
            : `There is no patient #${hint.id} on the chain.`}
        </p>
      )}
      {action.status}
    </section>
  );
}

/**
 * While the emergency window is open: polls the shares the trustees released to this doctor, combines
 * each (category, epoch) once k arrived (in memory only) and says what is still awaited.
 */
function EmergencyKeys({ ehr, patientId, expires, onOpened }: { ehr: Ehr; patientId: number; expires: string; onOpened: () => void }) {
  const [emergency, setEmergency] = useState<Category[]>(); // what the window opens: the patient's emergency categories (the chain's answer)
  const [ended, setEnded] = useState(false);
  const [threshold, setThreshold] = useState(0);
  const [progress, setProgress] = useState<ReleaseProgress[]>([]);
  const [problem, setProblem] = useState<string>();
  const opened = useRef(0);
  const announceOpened = useEffectEvent(onOpened);
  const name = useNames(ehr);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = Number(BigInt(expires) / 1_000_000n);
    const tick = async () => {
      try {
        const [caps, trustees, rows] = await Promise.all([ehr.capabilities(patientId), ehr.trustees(), ehr.releaseProgress(patientId)]);
        if (stop) return;
        setEmergency(caps.emergency_categories);
        if (!openWindow(caps)) {
          // Ended by the patient (or over): nothing more is released in it.
          setEnded(true);
          return;
        }
        setThreshold(trustees.threshold);
        await ehr.names.resolve(rows.flatMap((r) => [...r.unopened, ...r.wrong])).catch(() => undefined);
        if (stop) return;
        setProgress(rows);
        setProblem(undefined);
        const open = rows.filter((r) => r.open).length;
        if (open > opened.current) {
          opened.current = open;
          announceOpened();
        }
      } catch (e) {
        if (!stop) setProblem((e as Error).message);
      }
      if (!stop && Date.now() < end) timer = setTimeout(() => void tick(), 2000);
    };
    void tick();
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [ehr, patientId, expires]);
  if (ended) return <p className="muted" role="status">This emergency window is over (the patient ended it, or its time ran out): nothing more is released in it.</p>;
  if (emergency === undefined) return <p className="muted" role="status">Checking the trustees' key shares…</p>;
  if (!emergency.length) return <p className="muted" role="status">The patient opens no category in an emergency: nothing opens beyond what they granted you.</p>;
  const lines = emergency.map((category) => {
    const rows = progress.filter((p) => p.category === category);
    const waiting = rows.filter((r) => !r.open);
    if (rows.length && !waiting.length) return { category, text: `${categoryLabel(category)}: open`, done: true };
    const released = waiting.length ? Math.max(...waiting.map((r) => r.released)) : 0;
    const needed = waiting[0]?.needed ?? threshold;
    return { category, text: `Waiting for the trustees: ${released} of ${needed} key shares for ${categoryLabel(category)}`, done: false };
  });
  return (
    <div className="notice info" role="status" aria-label="Emergency keys">
      <ul>
        {lines.map((l) => (
          <li key={l.category} data-emergency-category={l.category} data-open={l.done}>
            {l.text}
          </li>
        ))}
      </ul>
      {progress.flatMap((r) =>
        r.wrong.map((trustee) => (
          <p key={`${r.category}/${r.epoch}/${trustee}/wrong`} className="error" data-wrong-share={`${r.category}/${r.epoch}`}>
            The key share {name(trustee)} released for {categoryLabel(r.category)} (epoch {r.epoch}) is not the one the patient escrowed with them: it is set aside.
          </p>
        )),
      )}
      {progress.flatMap((r) =>
        r.unopened.map((trustee) => (
          <p key={`${r.category}/${r.epoch}/${trustee}`} className="muted" data-unopened-share={`${r.category}/${r.epoch}`}>
            The key share {name(trustee)} released for {categoryLabel(r.category)} (epoch {r.epoch}) does not open with your key: it is not counted.
          </p>
        )),
      )}
      {problem && <p className="error">Could not read the released shares: {problem} (trying again)</p>}
    </div>
  );
}

function RequestAccessCard({ ehr }: { ehr: Ehr }) {
  const [patientId, setPatientId] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [categories, setCategories] = useState<Category[]>(["lab"]);
  const [mine, setMine] = useState<AccessRequestInfo[]>([]);
  const action = useAction();
  const runAction = action.run;
  const load = useCallback(() => runAction(async () => setMine(await ehr.myRequests())), [ehr, runAction]);
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
