// An address without a role: register as a patient, or answer a doctor's proposal.
import { useEffect, useState, type FormEvent } from "react";
import type { Scope } from "../contracts/EhrAccess.types";
import type { Category, PatientInfo } from "../contracts/EhrRegistry.types";
import type { Ehr } from "../lib/ehr";
import { scopeWords } from "../lib/names";
import { CategoryChecks, useAction, useNames, Who } from "./common";
import { ProfileForm, profileBytes, type Profile } from "./Profile";

export function Onboarding({ ehr, pendingPatientId, onDone }: { ehr: Ehr; pendingPatientId?: number; onDone: () => void }) {
  const action = useAction();
  const runAction = action.run;
  const [proposal, setProposal] = useState<PatientInfo>();
  const [categories, setCategories] = useState<Category[]>(["note", "lab"]);
  const [scope, setScope] = useState<Scope>("write");
  const name = useNames(ehr, proposal?.owner);
  useEffect(() => {
    if (pendingPatientId)
      void runAction(async () => {
        const p = await ehr.patient(pendingPatientId);
        if (p.proposed_by) await ehr.names.resolve([p.proposed_by]);
        setProposal(p);
      });
  }, [ehr, pendingPatientId, runAction]);

  const register = (p: Profile) => action.run(async () => {
    await ehr.registerPatient(profileBytes(p));
    onDone();
  });

  return (
    <>
      {action.status}
      {proposal?.proposed_by && (
        <section className="card" aria-labelledby="proposal-h">
          <h2 id="proposal-h">
            <Who address={proposal.proposed_by} name={name} start /> proposes to add you as patient #{proposal.id}
          </h2>
          <form
            className="row"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              void action.run(async () => {
                await ehr.acceptProposal(proposal.id, proposal.proposed_by!, scope, categories, null);
                onDone();
              });
            }}
          >
            <CategoryChecks legend="Share these categories with this doctor" value={categories} onChange={setCategories} />
            <label>
              Access
              <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
                <option value="read">{scopeWords("read")}</option>
                <option value="write">{scopeWords("write")}</option>
              </select>
            </label>
            <button type="submit" disabled={action.busy}>
              Accept
            </button>
            <button type="button" className="danger" disabled={action.busy} onClick={() => action.run(async () => { await ehr.declineProposal(proposal.id); onDone(); })}>
              Decline
            </button>
          </form>
        </section>
      )}
      <section className="card" aria-labelledby="register-h">
        <h2 id="register-h">Register as a patient</h2>
        <p className="muted">Your profile is encrypted in this browser with a key derived from your wallet; the chain only stores its hash.</p>
        <ProfileForm submitLabel="Register" busy={action.busy} onSubmit={register} />
      </section>
    </>
  );
}
