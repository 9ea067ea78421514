// The admin's view: credential doctors under the name and organisation patients see, correct a
// listing, withdraw a credential, purge the stored records of deleted patients.
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import type { ProviderInfo } from "../contracts/EhrRegistry.types";
import type { Ehr } from "../lib/ehr";
import { checkListing, LISTING_MAX_CHARS, listingOk } from "../lib/listing";
import { listing } from "../lib/names";
import { localTime } from "../lib/time";
import { ConfirmButton, short, useAction } from "./common";

const EMPTY = { address: "", displayName: "", organization: "" };

export function AdminDashboard({ ehr }: { ehr: Ehr }) {
  const [providers, setProviders] = useState<ProviderInfo[]>([]);
  const [draft, setDraft] = useState(EMPTY);
  // Inline messages show once a field was left (or the form sent), not while typing the first letter.
  const [touched, setTouched] = useState<Partial<Record<keyof typeof EMPTY, boolean>>>({});
  const [search, setSearch] = useState("");
  const action = useAction();
  const list = useAction();
  const runList = list.run;
  const load = useCallback(() => runList(async () => setProviders(await ehr.allProviders())), [ehr, runList]);
  useEffect(() => {
    void load();
  }, [load]);

  const current = providers.find((p) => p.address === draft.address.trim());
  const check = useMemo(() => checkListing({ ...draft, address: draft.address.trim() }, ehr.deploy.bech32_prefix, current), [draft, ehr, current]);
  const correcting = !!current?.credentialed;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched({ address: true, displayName: true, organization: true });
    if (!listingOk(check)) return;
    const address = draft.address.trim();
    void action.run(async () => {
      await ehr.credentialDoctor(address, draft.displayName, draft.organization);
      setDraft(EMPTY);
      setTouched({});
      await load();
      const now = listing({ display_name: draft.displayName, organization: draft.organization });
      return correcting ? `The listing now reads ${now}.` : `${now} is a credentialed provider.`;
    });
  };
  const field = (key: keyof typeof EMPTY, label: string, problem: string | undefined, props: { placeholder?: string; maxChars?: number }) => {
    const id = `cred-${key}`;
    const shown = touched[key] ? problem : undefined;
    return (
      <label htmlFor={id}>
        {label}
        <input
          id={id}
          required
          value={draft[key]}
          placeholder={props.placeholder}
          aria-invalid={shown ? true : undefined}
          aria-describedby={shown ? `${id}-problem` : undefined}
          onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
          onBlur={() => setTouched({ ...touched, [key]: true })}
        />
        {shown && (
          <span id={`${id}-problem`} className="field-problem">
            {shown}
          </span>
        )}
        {props.maxChars && !shown && <span className="muted">{[...draft[key]].length}/{props.maxChars}</span>}
      </label>
    );
  };

  const q = search.trim().toLowerCase();
  const shown = providers.filter((p) => !q || `${p.display_name} ${p.organization} ${p.address}`.toLowerCase().includes(q));
  return (
    <div data-dashboard="admin">
      <section className="card" aria-labelledby="cred-h">
        <h2 id="cred-h">{correcting ? "Correct a doctor's listing" : "Credential a doctor"}</h2>
        <p className="muted">Patients choose doctors by this name and organisation: it is public on the chain.</p>
        <form className="row" onSubmit={submit} aria-label="Credential a doctor" noValidate>
          {field("address", "Doctor's wallet address", check.address, { placeholder: `${ehr.deploy.bech32_prefix}1…` })}
          {field("displayName", "Display name", check.displayName, { placeholder: "Dr Ana Lima", maxChars: LISTING_MAX_CHARS.display_name })}
          {field("organization", "Organisation", check.organization, { placeholder: "St Mary Hospital", maxChars: LISTING_MAX_CHARS.organization })}
          <button type="submit" disabled={action.busy}>
            {correcting ? "Correct listing" : "Credential"}
          </button>
          {correcting && (
            <button type="button" className="secondary" onClick={() => { setDraft(EMPTY); setTouched({}); }}>
              Cancel
            </button>
          )}
        </form>
        {check.unchanged && <p className="field-problem">{check.unchanged}</p>}
        {action.status}
      </section>
      <PurgeCard ehr={ehr} />
      <section className="card" aria-labelledby="providers-h">
        <h2 id="providers-h">Doctors</h2>
        <div className="filters">
          <label>
            Search
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name, organisation or address" />
          </label>
        </div>
        {list.status}
        <table aria-label="Doctors">
          <thead>
            <tr><th>Name</th><th>Organisation</th><th>Status</th><th>Encryption key</th><th>Address</th><th><span className="muted">Action</span></th></tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.address} data-provider={p.address}>
                <td>{p.display_name}</td>
                <td>{p.organization}</td>
                <td>
                  {p.credentialed
                    ? `credentialed since ${localTime(p.credentialed_at)}`
                    : p.withdrawn_at
                      ? `withdrawn on ${localTime(p.withdrawn_at)}`
                      : "withdrawn"}
                </td>
                <td>{p.encryption_key ? "published" : "not yet"}</td>
                <td className="mono" title={p.address}>{short(p.address)}</td>
                <td>
                  <button type="button" className="secondary" aria-label={`${p.credentialed ? "Correct the listing of" : "Credential again"} ${listing(p)}`}
                    onClick={() => { setDraft({ address: p.address, displayName: p.display_name, organization: p.organization }); setTouched({}); }}>
                    {p.credentialed ? "Correct listing" : "Credential again"}
                  </button>{" "}
                  {p.credentialed && <WithdrawButton ehr={ehr} provider={p} onDone={load} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && <p className="muted">No doctor{q ? " matches the search" : " is listed yet"}.</p>}
      </section>
    </div>
  );
}

/** Withdrawing a credential ends every grant the doctor holds at once; behind a second click. */
function WithdrawButton({ ehr, provider, onDone }: { ehr: Ehr; provider: ProviderInfo; onDone: () => void }) {
  const action = useAction();
  const name = listing(provider);
  return (
    <>
      <ConfirmButton
        label="Withdraw credential"
        question={`${name} loses access to every patient at once; the keys they hold go stale.`}
        confirmLabel={`Confirm: withdraw ${provider.display_name}`}
        busy={action.busy}
        onConfirm={() => action.run(async () => { await ehr.withdrawCredential(provider.address); onDone(); })}
      />
      {action.status}
    </>
  );
}

/** A deleted patient's record entries and grants stay in storage until purged, at most 100 of each per transaction. */
function PurgeCard({ ehr }: { ehr: Ehr }) {
  const [patientId, setPatientId] = useState("");
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const id = Number(patientId);
    void action.run(async () => {
      const removed = await ehr.purgeDeletedPatient(id);
      return removed.recordEntries || removed.grants
        ? `Removed ${removed.recordEntries} stored record entries and ${removed.grants} grant${removed.grants === 1 ? "" : "s"} of deleted patient #${id}; run it again until nothing is left.`
        : `Nothing left to purge for patient #${id}.`;
    });
  };
  return (
    <section className="card" aria-labelledby="purge-h">
      <h2 id="purge-h">Purge a deleted patient's records and grants</h2>
      <form className="row" onSubmit={submit} aria-label="Purge a deleted patient's records">
        <label>
          Deleted patient id
          <input required inputMode="numeric" pattern="[1-9][0-9]*" value={patientId} onChange={(e) => setPatientId(e.target.value)} />
        </label>
        <button type="submit" disabled={action.busy}>
          Purge up to 100 entries
        </button>
      </form>
      {action.status}
    </section>
  );
}
