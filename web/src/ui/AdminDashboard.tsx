// The admin's view: credential doctors, purge the stored records of deleted patients.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { ProviderInfo } from "../contracts/EhrRegistry.types";
import type { Ehr } from "../lib/ehr";
import { formatTime, nanosToDate, useAction } from "./common";

export function AdminDashboard({ ehr }: { ehr: Ehr }) {
  const [providers, setProviders] = useState<ProviderInfo[]>([]);
  const [address, setAddress] = useState("");
  const [search, setSearch] = useState("");
  const action = useAction();
  const load = useCallback(() => action.run(async () => setProviders(await ehr.providers())), [ehr, action.run]);
  useEffect(() => {
    void load();
  }, [load]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await ehr.credentialDoctor(address.trim());
      setAddress("");
      await load();
      return "Doctor credentialed.";
    });
  };
  return (
    <div data-dashboard="admin">
      <section className="card" aria-labelledby="cred-h">
        <h2 id="cred-h">Credential a doctor</h2>
        <form className="row" onSubmit={submit} aria-label="Credential a doctor">
          <label>
            Doctor's wallet address
            <input required value={address} onChange={(e) => setAddress(e.target.value)} placeholder="wasm1…" />
          </label>
          <button type="submit" disabled={action.busy}>
            Credential
          </button>
        </form>
        {action.status}
      </section>
      <PurgeCard ehr={ehr} />
      <section className="card" aria-labelledby="providers-h">
        <h2 id="providers-h">Doctors</h2>
        <div className="filters">
          <label>
            Search
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
          </label>
        </div>
        <table aria-label="Doctors">
          <thead>
            <tr><th>Address</th><th>Credentialed</th><th>Since</th><th>Encryption key</th></tr>
          </thead>
          <tbody>
            {providers.filter((p) => p.address.includes(search.trim())).map((p) => (
              <tr key={p.address}>
                <td className="mono">{p.address}</td>
                <td>{p.credentialed ? "yes" : "revoked"}</td>
                <td>{formatTime(nanosToDate(p.credentialed_at))}</td>
                <td>{p.encryption_key ? "published" : "not yet"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
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
