// The patient's view: profile (decrypted here), records, who has access, requests, and the audit log.
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import type { AccessRequestInfo, AuditEntry, EscrowPolicyResponse, GrantInfo, RecoveryInfo, Scope } from "../contracts/EhrAccess.types";
import type { Category, PatientInfo, ProviderInfo } from "../contracts/EhrRegistry.types";
import { CATEGORIES, CATEGORY_CODES, RECORD_CATEGORIES } from "../crypto/categories";
import { addressesOf, AUDIT_KIND_LABELS, auditRows, type AuditRow } from "../lib/audit";
import { emergencyEndedText, endEmergencyQuestion, patientEmergencyText, reasonText, type PatientEmergency } from "../lib/capabilities";
import { grantActive, type Ehr } from "../lib/ehr";
import { addressProblem } from "../lib/listing";
import { capitalise, categoryLabels, listing, scopeWords, type Namer } from "../lib/names";
import { escrowedCategories, escrowSavedText, escrowStatusText, pendingRecovery, recoveryAlertText, recoveryCancelledText } from "../lib/recovery";
import { localTime } from "../lib/time";
import { CategoryChecks, ConfirmButton, useAction, useNames, Who } from "./common";
import { ProfileForm, profileBytes, profileOf, type Profile } from "./Profile";
import { RecordsPanel } from "./RecordsPanel";

export function PatientDashboard({ ehr, patientId, onDeleted }: { ehr: Ehr; patientId: number; onDeleted: () => void }) {
  const [patient, setPatient] = useState<PatientInfo>();
  // Bumped after every change, so grants, requests and the audit log all show its effect.
  const [changes, setChanges] = useState(0);
  const changed = useCallback(() => setChanges((n) => n + 1), []);
  const action = useAction();
  const runAction = action.run;
  const reload = useCallback(() => runAction(async () => setPatient(await ehr.patient(patientId))), [ehr, patientId, runAction]);
  useEffect(() => {
    void reload();
  }, [reload]);
  // Doctors whose emergency window on these records is open now (the chain's answer), for the notice and the card.
  const [emergencies, setEmergencies] = useState<PatientEmergency[]>([]);
  const emergencyLoad = useAction();
  const runEmergencyLoad = emergencyLoad.run;
  useEffect(() => {
    void runEmergencyLoad(async () => {
      const open = await ehr.patientEmergencies(patientId);
      await ehr.names.resolve(open.map((e) => e.doctor));
      setEmergencies(open);
    });
  }, [ehr, patientId, changes, runEmergencyLoad]);
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
      <RecoveryAlert ehr={ehr} patient={patient} changes={changes} onChanged={changed} />
      <EmergencyNotice ehr={ehr} patient={patient} emergencies={emergencies} />
      <ProfileCard ehr={ehr} patient={patient} onSaved={() => { void reload(); changed(); }} />
      <RecordsPanel ehr={ehr} patient={patient} writable={RECORD_CATEGORIES} deletable={RECORD_CATEGORIES} onChanged={changed} />
      <DownloadCard ehr={ehr} patient={patient} />
      <div className="grid2">
        <GrantsCard ehr={ehr} patient={patient} changes={changes} onChanged={changed} />
        <RequestsCard ehr={ehr} patient={patient} changes={changes} onChanged={changed} />
      </div>
      <EmergencyAccessesCard ehr={ehr} patient={patient} emergencies={emergencies} loadStatus={emergencyLoad.status} onChanged={changed} />
      <EmergencySettingsCard ehr={ehr} patient={patient} changes={changes} onChanged={changed} />
      <AuditCard ehr={ehr} patient={patient} changes={changes} />
      <DeletePatientCard ehr={ehr} patient={patient} onDeleted={onDeleted} />
    </div>
  );
}

/**
 * The notice at the top of the dashboard while a doctor's emergency window on these records is open:
 * who (the directory's name), why, what it opens and when it ends, in local time.
 */
function EmergencyNotice({ ehr, patient, emergencies }: { ehr: Ehr; patient: PatientInfo; emergencies: PatientEmergency[] }) {
  const name = useNames(ehr, patient.owner);
  if (!emergencies.length) return null;
  return (
    <div className="notice error" role="alert" aria-label="Emergency access">
      {emergencies.map((e) => (
        <p key={e.doctor} data-emergency-doctor={e.doctor} style={{ margin: "0.2rem 0" }}>
          <strong>⚠ {patientEmergencyText(e, capitalise(name(e.doctor)), (t) => localTime(t))}</strong>
        </p>
      ))}
      <p style={{ margin: "0.2rem 0" }}>
        If this is not an emergency you agree with, <a href="#emergency-accesses">end it under "Emergency access to my records"</a>. Everything they do is in
        your audit log.
      </p>
    </div>
  );
}

/** The open emergency windows on these records, each with "End emergency access" (after a confirmation). */
function EmergencyAccessesCard({
  ehr,
  patient,
  emergencies,
  loadStatus,
  onChanged,
}: {
  ehr: Ehr;
  patient: PatientInfo;
  emergencies: PatientEmergency[];
  loadStatus: ReactNode;
  onChanged: () => void;
}) {
  const name = useNames(ehr, patient.owner);
  const action = useAction();
  return (
    <section className="card" aria-labelledby="emergency-accesses-h" id="emergency-accesses">
      <h2 id="emergency-accesses-h">Emergency access to my records</h2>
      {loadStatus}
      {action.status}
      {emergencies.length === 0 ? (
        <p className="muted">No doctor has emergency access to your records now. Earlier emergencies are in your audit log.</p>
      ) : (
        <ul aria-label="Open emergency accesses" className="plain">
          {emergencies.map((e) => {
            const who = capitalise(name(e.doctor));
            return (
              <li key={e.doctor} data-emergency-doctor={e.doctor}>
                <p style={{ margin: "0.2rem 0" }}>
                  <span className="badge emergency">⚠ emergency</span> <strong><Who address={e.doctor} name={name} start /></strong> ({reasonText(e.window.reason)}) may
                  read {e.categories.length ? categoryLabels(e.categories) : "nothing"}: since {localTime(e.window.started)}, until {localTime(e.window.expires)}.
                </p>
                <ConfirmButton
                  label="End emergency access"
                  ariaLabel={`End the emergency access of ${who}`}
                  question={endEmergencyQuestion(who)}
                  confirmLabel={`Confirm: end the emergency access of ${who}`}
                  busy={action.busy}
                  onConfirm={() =>
                    action.run(async () => {
                      await ehr.endEmergency(patient.id, e.doctor);
                      onChanged();
                      return emergencyEndedText(who);
                    })
                  }
                />
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** What opens in an emergency unless the patient chooses otherwise (ehr-types DEFAULT_EMERGENCY_CATEGORIES). */
export const DEFAULT_EMERGENCY_CATEGORIES: Category[] = ["allergy", "prescription", "immunization", "profile"];

/**
 * The key escrow with the network's trustees: the categories opened for a doctor who breaks the
 * glass, and the opt-in to escrow every category so a lost wallet can be recovered. Saving sets the
 * policy and escrows every epoch of every escrowed category this wallet holds a key for, in one
 * transaction.
 */
function EmergencySettingsCard({ ehr, patient, changes, onChanged }: CardProps) {
  const [policy, setPolicy] = useState<EscrowPolicyResponse>();
  const [chosen, setChosen] = useState<Category[]>(DEFAULT_EMERGENCY_CATEGORIES);
  const [recovery, setRecovery] = useState(false);
  const [trustees, setTrustees] = useState<{ n: number; k: number; missingKeys: number }>();
  const action = useAction();
  const load = useAction();
  const runLoad = load.run;
  useEffect(() => {
    void runLoad(async () => {
      const [p, t] = await Promise.all([ehr.escrowPolicy(patient.id), ehr.trustees()]);
      setPolicy(p);
      if (p.categories.length) setChosen(p.categories);
      setRecovery(p.recovery);
      setTrustees({ n: t.trustees.length, k: t.threshold, missingKeys: t.trustees.filter((x) => !x.encryption_key).length });
    });
  }, [ehr, patient.id, changes, runLoad]);
  const none = trustees !== undefined && trustees.k === 0;
  const save = (chosenCategories: Category[], withRecovery: boolean) =>
    action.run(async () => {
      // In the contract's order (by category code), as the audit log will list them.
      const categories = [...chosenCategories].sort((a, b) => CATEGORY_CODES[a] - CATEGORY_CODES[b]);
      const epochs = await ehr.setEscrow(patient, categories, withRecovery);
      setPolicy({ categories, recovery: withRecovery, escrowed: escrowedCategories(categories, withRecovery) });
      onChanged();
      return escrowSavedText(categories, withRecovery, epochs);
    });
  return (
    <section className="card" aria-labelledby="emergency-h">
      <h2 id="emergency-h">Emergency access and wallet recovery</h2>
      {load.status}
      {trustees &&
        (none ? (
          <p className="muted">The network has no trustees yet: nothing can open in an emergency.</p>
        ) : (
          <>
            <p data-trustees={`${trustees.k}-of-${trustees.n}`}>
              The network has {trustees.n} trustees; any {trustees.k} of them together can open the categories you choose here for a doctor who
              breaks the glass (the emergency, its reason and every release are written to your audit log).
            </p>
            <p className="notice">
              Plainly: any {trustees.k} of the {trustees.n} trustees acting together, without any emergency, could open every record of the chosen
              categories, of every key epoch, and nothing on the chain would show it. That is the trust the network places in its trustees. With more
              than {trustees.n - trustees.k} of them unavailable, an emergency cannot open anything.
            </p>
            {trustees.missingKeys > 0 && <p className="muted">{trustees.missingKeys} trustee(s) have not published their key yet: saving will fail until they do.</p>}
          </>
        ))}
      <p className="muted" aria-label="Escrow status">
        {policy === undefined ? "" : escrowStatusText(policy)}
      </p>
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void save(chosen, recovery);
        }}
        aria-label="Emergency settings"
      >
        <CategoryChecks legend="Open in an emergency" allowed={CATEGORIES} value={chosen} onChange={setChosen} />
        <label className="inline">
          {/* Enabled once the saved policy is read, which would otherwise overwrite a choice made before. */}
          <input type="checkbox" checked={recovery} disabled={policy === undefined} onChange={(e) => setRecovery(e.target.checked)} aria-describedby="recovery-tradeoff" />
          Also escrow every category so that I can recover my records if I lose this wallet
        </label>
        <p className="muted" id="recovery-tradeoff">
          The trade-off: {trustees?.k ? `any ${trustees.k} of the ${trustees.n} trustees` : "the trustees"} together could then open every record of every
          category, not only the ones chosen above.
        </p>
        <button type="submit" disabled={action.busy || none || (!chosen.length && !recovery)}>
          Save emergency settings
        </button>{" "}
        {!!policy?.escrowed.length && (
          <button type="button" disabled={action.busy} onClick={() => void save([], false)}>
            Stop escrowing
          </button>
        )}
      </form>
      {action.status}
    </section>
  );
}

/**
 * The security alert of a pending request to move the patient to another wallet (wallet-loss
 * recovery): read with the dashboard, since the waiting period (days on a real network) leaves the
 * patient's wallet time to see it and cancel before the trustees may approve.
 */
function RecoveryAlert({ ehr, patient, changes, onChanged }: CardProps) {
  const [pending, setPending] = useState<RecoveryInfo>();
  const action = useAction();
  const load = useAction();
  const runLoad = load.run;
  useEffect(() => {
    void runLoad(async () => setPending(pendingRecovery(await ehr.recovery(patient.id))));
  }, [ehr, patient.id, changes, runLoad]);
  return (
    <>
      {load.status}
      {pending && (
        <div className="notice error" role="alert" aria-label="Recovery request">
          <strong>{recoveryAlertText(pending, (t) => localTime(t))}</strong>{" "}
          <button type="button" className="danger" disabled={action.busy}
            onClick={() => action.run(async () => {
              await ehr.cancelRecovery(patient.id);
              setPending(undefined);
              onChanged();
              return recoveryCancelledText(pending.new_owner);
            })}>
            Cancel this request
          </button>
        </div>
      )}
      {action.status}
    </>
  );
}

/**
 * "Download my records": the FHIR R4 Bundle `ehr export fhir` writes (docs/fhir.md), built in this
 * browser from the decrypted files and the chain's answers, saved as ehr-patient-<id>.fhir.json.
 */
function DownloadCard({ ehr, patient }: { ehr: Ehr; patient: PatientInfo }) {
  const action = useAction();
  const download = () =>
    action.run(async () => {
      // The exporter and its R4 element table load only when someone downloads.
      const [{ input, unread }, { bundleJson, exportFileName }] = await Promise.all([ehr.exportInput(patient), import("../lib/fhirExport")]);
      const name = exportFileName(patient.id);
      const url = URL.createObjectURL(new Blob([bundleJson(input)], { type: "application/fhir+json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.click();
      // The click has handed the Blob to the download; the URL is not needed after this task.
      setTimeout(() => URL.revokeObjectURL(url), 0);
      return `Saved ${name}: your profile, ${input.records.length} record${input.records.length === 1 ? "" : "s"}, ${input.grants.length} grant${input.grants.length === 1 ? "" : "s"} and ${input.audit.length} audit entr${input.audit.length === 1 ? "y" : "ies"}, with the chain's evidence for every record.${unread.length ? ` Left out, because they did not open here: record${unread.length === 1 ? "" : "s"} ${unread.map((id) => `#${id}`).join(", ")}.` : ""}`;
    });
  return (
    <section className="card" aria-labelledby="download-h">
      <h2 id="download-h">Download my records</h2>
      <p className="muted">
        One FHIR R4 file (a Bundle) with your profile, the latest version of every record, who may see what, and the audit log. It is decrypted in
        this browser: keep the file safe.
      </p>
      <button type="button" disabled={action.busy} onClick={() => void download()}>
        Download my records
      </button>
      {action.status}
    </section>
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
  const runAction = action.run;
  useEffect(() => {
    void runAction(async () => {
      const p = await ehr.readProfile(patient);
      setIntegrity(p.integrity);
      if (p.plaintext) setProfile(profileOf(p.json));
    });
  }, [ehr, patient, runAction]);
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
/** The end of a day picked in a date input, in the reader's time zone. */
const endOfLocalDay = (isoDate: string) => new Date(`${isoDate}T23:59:59`);
const localIsoDate = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const until = (expires: Date | string | null | undefined) => (expires ? `until ${localTime(expires)}` : "with no end date");

interface CardProps {
  ehr: Ehr;
  patient: PatientInfo;
  changes: number;
  onChanged: () => void;
}

/** "credential withdrawn on …" when the admin withdrew this grantee's credential. */
function withdrawnFlag(name: Namer, grantee: string): string | undefined {
  const p = name.provider(grantee);
  return p && !p.credentialed && p.withdrawn_at ? `credential withdrawn on ${localTime(p.withdrawn_at)}` : undefined;
}

function GrantsCard({ ehr, patient, changes, onChanged }: CardProps) {
  const [grants, setGrants] = useState<GrantInfo[]>([]);
  const [doctors, setDoctors] = useState<ProviderInfo[]>([]);
  const [chosen, setChosen] = useState("");
  const [pasted, setPasted] = useState("");
  const [categories, setCategories] = useState<Category[]>(["lab"]);
  const [scope, setScope] = useState<Scope>("read");
  const [expires, setExpires] = useState(localIsoDate(inDays(30)));
  const name = useNames(ehr, patient.owner);
  const action = useAction();
  const list = useAction(); // loads keep their own status, so a reload does not hide the action's message
  const runList = list.run;
  const load = useCallback(
    () =>
      runList(async () => {
        const [found, providers] = await Promise.all([ehr.grantsByPatient(patient.id), ehr.allProviders()]);
        await ehr.names.resolve(found.map((g) => g.grantee));
        setGrants(found);
        setDoctors(providers.filter((p) => p.credentialed).sort((a, b) => listing(a).localeCompare(listing(b))));
      }),
    [ehr, patient.id, runList],
  );
  useEffect(() => {
    void load();
  }, [load, changes]);
  const pastedProblem = pasted.trim() ? addressProblem(pasted.trim(), ehr.deploy.bech32_prefix) : undefined;
  const grantee = pasted.trim() || chosen;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (pastedProblem) return;
    const until_ = expires ? endOfLocalDay(expires) : null;
    const picked = RECORD_CATEGORIES.filter((c) => categories.includes(c)); // the order the chain keeps them in
    void action.run(async () => {
      await ehr.names.resolve([grantee]);
      const provider = ehr.names.provider(grantee);
      if (!provider) throw new Error("This address is not a listed provider: only doctors the network admin credentialed can be given access.");
      if (!provider.credentialed) throw new Error(`The credential of ${listing(provider)} was withdrawn: they cannot be given access.`);
      await ehr.grant(patient, grantee, scope, picked, until_);
      setPasted("");
      onChanged();
      return `Access granted to ${name(grantee)}: ${scopeWords(scope)} access to ${categoryLabels(picked)} ${until(until_)}.`;
    });
  };
  return (
    <section className="card" aria-labelledby="grants-h">
      <h2 id="grants-h">Who can see my records</h2>
      <form className="row" onSubmit={submit} aria-label="Grant access">
        <label>
          Doctor
          <select value={chosen} onChange={(e) => { setChosen(e.target.value); setPasted(""); }}>
            <option value="">choose…</option>
            {doctors.map((d) => (
              <option key={d.address} value={d.address} disabled={!d.encryption_key} title={d.address}>
                {listing(d)}
                {d.encryption_key ? "" : " (no encryption key yet)"}
              </option>
            ))}
          </select>
        </label>
        <label>
          or paste a wallet address
          <input value={pasted} placeholder={`${ehr.deploy.bech32_prefix}1…`} aria-invalid={pastedProblem ? true : undefined}
            onChange={(e) => { setPasted(e.target.value); setChosen(""); }} />
          {pastedProblem ? (
            <span className="field-problem">{pastedProblem}</span>
          ) : (
            pasted.trim() && name.provider(pasted.trim()) && <span className="muted">{name(pasted.trim())}</span>
          )}
        </label>
        <CategoryChecks legend="Categories" value={categories} onChange={setCategories} />
        <label>
          Access
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            <option value="read">{scopeWords("read")}</option>
            <option value="write">{scopeWords("write")}</option>
            <option value="manage">{scopeWords("manage")}</option>
          </select>
        </label>
        <label>
          Until the end of
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
        <button type="submit" disabled={action.busy || !grantee || !!pastedProblem || !categories.length}>
          Grant
        </button>
      </form>
      {action.status}
      {list.status}
      <table aria-label="Grants">
        <thead>
          <tr><th>Doctor</th><th>Categories</th><th>Access</th><th>Until</th><th><span className="muted">Action</span></th></tr>
        </thead>
        <tbody>
          {grants.map((g) => {
            const withdrawn = withdrawnFlag(name, g.grantee);
            return (
              <tr key={g.grantee}>
                <td>
                  <Who address={g.grantee} name={name} start />
                  {withdrawn && (
                    <>
                      {" "}
                      <span className="badge withdrawn">{withdrawn}</span>
                    </>
                  )}
                </td>
                <td>{categoryLabels(g.categories)}</td>
                <td>{scopeWords(g.scope)}</td>
                <td>{g.expires ? `${localTime(g.expires)}${grantActive(g) ? "" : " (expired)"}` : "no end date"}</td>
                <td>
                  <button type="button" className="danger" disabled={action.busy} aria-label={`Revoke ${name(g.grantee)}`}
                    onClick={() => action.run(async () => {
                      await ehr.revoke(patient.id, g.grantee);
                      onChanged();
                      return revokedText(name(g.grantee), g.categories);
                    })}>
                    Revoke
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {grants.length === 0 && <p className="muted">Nobody but you has access to your records.</p>}
    </section>
  );
}

function RequestsCard({ ehr, patient, changes, onChanged }: CardProps) {
  const [requests, setRequests] = useState<AccessRequestInfo[]>([]);
  const [showDecided, setShowDecided] = useState(false);
  const name = useNames(ehr, patient.owner);
  const action = useAction();
  const list = useAction();
  const runList = list.run;
  const load = useCallback(
    () =>
      runList(async () => {
        const found = await ehr.requestsByPatient(patient.id);
        await ehr.names.resolve(found.map((r) => r.requester));
        setRequests(found);
      }),
    [ehr, patient.id, runList],
  );
  useEffect(() => {
    void load();
  }, [load, changes]);
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
            <Who address={r.requester} name={name} start /> asks for {scopeWords(r.scope)} access to {categoryLabels(r.categories)}{" "}
            <span className="muted">
              (request #{r.id}, {localTime(r.created)}) · {r.status}
              {r.decided ? ` on ${localTime(r.decided)}` : ""}
            </span>
            {r.status === "pending" && (
              <>
                {" "}
                <button type="button" disabled={action.busy} aria-label={`Approve request ${r.id}`}
                  onClick={() => action.run(async () => {
                    const end = inDays(30);
                    await ehr.approveRequest(patient, r, end);
                    onChanged();
                    return `Request #${r.id} approved for 30 days: ${name(r.requester)} has ${scopeWords(r.scope)} access to ${categoryLabels(r.categories)} ${until(end)}.`;
                  })}>
                  Approve
                </button>{" "}
                <button type="button" className="danger" disabled={action.busy} aria-label={`Deny request ${r.id}`}
                  onClick={() => action.run(async () => { await ehr.denyRequest(r.id); onChanged(); return `Request #${r.id} denied.`; })}>
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

function AuditCard({ ehr, patient, changes }: { ehr: Ehr; patient: PatientInfo; changes: number }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [kind, setKind] = useState("");
  const name = useNames(ehr, patient.owner);
  const action = useAction();
  const runAction = action.run;
  const load = useCallback(
    (after?: number) =>
      runAction(async () => {
        const page = await ehr.auditLog(patient.id, after);
        // Everyone the page names, looked up before it shows: no address flashes by.
        await ehr.names.resolve(page.flatMap((e) => [e.actor, ...addressesOf(e.action)]));
        setEntries((old) => (after === undefined ? page : [...old, ...page]));
        setMore(page.length === 100);
      }),
    [ehr, patient.id, runAction],
  );
  useEffect(() => {
    void load();
  }, [load, changes]);
  const rows: AuditRow[] = auditRows(entries, { name, time: (t) => localTime(t), provider: name.provider, admin: ehr.names.networkAdmin });
  const kinds = [...new Set(rows.map((r) => r.kind))].sort();
  const shown = rows.filter((r) => !kind || r.kind === kind).reverse(); // newest first
  return (
    <section className="card" aria-labelledby="audit-h">
      <h2 id="audit-h">Audit log</h2>
      <p className="muted">Everything done with your records, as the chain recorded it. Times are in your time zone.</p>
      <div className="filters">
        <label>
          Show
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">everything</option>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {AUDIT_KIND_LABELS[k] ?? k}
              </option>
            ))}
          </select>
        </label>
      </div>
      {action.status}
      <table aria-label="Audit log">
        <thead>
          <tr><th>#</th><th>When</th><th>What happened</th></tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.key} className={r.emergency ? "emergency" : undefined} data-audit-kind={r.kind}>
              <td>{r.seq ?? ""}</td>
              <td>{localTime(r.time)}</td>
              <td title={r.actor}>
                {r.emergency && (
                  <>
                    <span className="badge emergency">⚠ emergency</span>{" "}
                  </>
                )}
                <span data-sentence>{r.text}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {more && (
        <button type="button" className="secondary" onClick={() => load(entries.at(-1)?.seq)}>
          Load later entries
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
  return `Access of ${who} revoked. The next ${categoryLabels(categories)} record written gets a new key that ${who} never receives; what ${who} could open before stays readable to them.`;
}
