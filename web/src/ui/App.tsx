// Login (Keplr) and routing by the registry's on-chain designation.
import { useCallback, useEffect, useState } from "react";
import type { DesignationResponse } from "../contracts/EhrRegistry.types";
import { loadDeploy, type Deploy } from "../lib/deploy";
import { Ehr } from "../lib/ehr";
import { explain, type Problem } from "../lib/errors";
import { FailoverRpc, rpcEndpoints } from "../lib/rpc";
import { connectKeplr, type WalletState } from "../lib/wallet";
import { AdminDashboard } from "./AdminDashboard";
import { listing } from "../lib/names";
import { ProblemNotice, short, useNames } from "./common";
import { DoctorDashboard } from "./DoctorDashboard";
import { ErrorBoundary } from "./ErrorBoundary";
import { Onboarding } from "./Onboarding";
import { PatientDashboard } from "./PatientDashboard";

type Phase =
  | { at: "starting" }
  | { at: "problem"; problem: Problem }
  | { at: "wallet"; wallet: Exclude<WalletState, { status: "connected" }>; deploy: Deploy }
  | { at: "ready"; ehr: Ehr; designation: DesignationResponse };

export function App() {
  const [phase, setPhase] = useState<Phase>({ at: "starting" });

  // The phase says "starting" until the connection is made (from the first render, or set by `login`).
  useEffect(() => {
    void connect().then(setPhase);
  }, []);
  const login = useCallback(() => {
    setPhase({ at: "starting" });
    void connect().then(setPhase);
  }, []);
  useEffect(() => {
    window.addEventListener("keplr_keystorechange", login);
    return () => window.removeEventListener("keplr_keystorechange", login);
  }, [login]);

  useEffect(() => {
    if (phase.at !== "ready") return;
    // The signing client is not needed to show the dashboard; fetch it once the page is idle so the
    // first transaction does not wait for it.
    const idle = requestIdleCallback(() => phase.ehr.preloadSigning());
    return () => cancelIdleCallback(idle);
  }, [phase]);

  const refresh = useCallback(async () => {
    if (phase.at !== "ready") return;
    setPhase({ ...phase, designation: await phase.ehr.designation() });
  }, [phase]);

  return (
    <>
      <header className="top">
        <h1>ehr-chain</h1>
        {phase.at === "ready" && (
          <Me ehr={phase.ehr} designation={phase.designation} />
        )}
      </header>
      <main>
        {/* A new login (another Keplr account) starts over with a fresh boundary. */}
        <ErrorBoundary key={phase.at === "ready" ? phase.ehr.address : phase.at}>{screen(phase, login, refresh)}</ErrorBoundary>
      </main>
    </>
  );
}

/** Connects to the wallet and the chain; what to show next. */
async function connect(): Promise<Phase> {
  try {
    const deploy = await loadDeploy();
    const rpc = new FailoverRpc(rpcEndpoints(deploy));
    const wallet = await connectKeplr(deploy, await Ehr.nodeChainId(rpc), rpc.url);
    if (wallet.status !== "connected") return { at: "wallet", wallet, deploy };
    const ehr = await Ehr.open(deploy, rpc, wallet.address, wallet.signer, wallet.keplr);
    return { at: "ready", ehr, designation: await ehr.designation() };
  } catch (e) {
    return { at: "problem", problem: explain(e) };
  }
}

/** Who is signed in: the role, a doctor's listing, and the address (short, in full in the tooltip). */
function Me({ ehr, designation }: { ehr: Ehr; designation: DesignationResponse }) {
  const name = useNames(ehr);
  useEffect(() => {
    if (designation.designation === "doctor") void ehr.names.resolve([ehr.address]).catch(() => undefined);
  }, [ehr, designation]);
  const mine = name.provider(ehr.address);
  return (
    <span className="who">
      {designation.designation ?? "not registered"}
      {mine && designation.designation === "doctor" ? ` · ${listing(mine)}` : ""} ·{" "}
      <span className="mono" title={ehr.address}>
        {short(ehr.address)}
      </span>
    </span>
  );
}

function screen(phase: Phase, retry: () => void, refresh: () => void) {
  switch (phase.at) {
    case "starting":
      return <p role="status">Connecting to your wallet and the chain…</p>;
    case "problem":
      return (
        <div className="screen">
          <ProblemNotice problem={phase.problem} />
          <button type="button" onClick={retry}>
            Try again
          </button>
        </div>
      );
    case "wallet":
      return <WalletScreen wallet={phase.wallet} deploy={phase.deploy} retry={retry} />;
    case "ready": {
      const d = phase.designation;
      if (d.designation === "admin" || d.designation === "registrar") return <AdminDashboard ehr={phase.ehr} />;
      if (d.designation === "doctor") return <DoctorDashboard ehr={phase.ehr} />;
      if (d.designation === "trustee") return <TrusteeScreen />;
      if (d.designation === "patient" && d.patient_id) return <PatientDashboard ehr={phase.ehr} patientId={d.patient_id} onDeleted={refresh} />;
      return <Onboarding ehr={phase.ehr} pendingPatientId={d.pending_patient_id ?? undefined} onDone={refresh} />;
    }
  }
}

/** A trustee's work is its agent's (`ehr trustee serve`): this wallet has nothing to click here. */
function TrusteeScreen() {
  return (
    <div className="screen" data-dashboard="trustee">
      <h2>Network trustee</h2>
      <p>
        This wallet is one of the network's trustees. Its agent (<code>ehr trustee serve</code>) releases this trustee's key
        shares to doctors during an emergency and approves wallet recoveries after their waiting period; every release is in
        the patient's audit log. Nothing here needs you.
      </p>
    </div>
  );
}

function WalletScreen({ wallet, deploy, retry }: { wallet: Exclude<WalletState, { status: "connected" }>; deploy: Deploy; retry: () => void }) {
  const text = {
    missing: { h: "Keplr is not installed", p: "This app signs with the Keplr wallet. Install the Keplr browser extension, then reload this page." },
    locked: { h: "Keplr is locked or the connection was refused", p: `Unlock Keplr and allow ehr-chain (${deploy.chain_id}) to connect.` },
    "wrong-chain": { h: "Wrong chain", p: `Keplr must be on ${deploy.chain_id} (${deploy.rpc_url}).` },
  }[wallet.status];
  return (
    <section className="card screen" aria-labelledby="wallet-h" data-wallet={wallet.status}>
      <h2 id="wallet-h">{text.h}</h2>
      <p>{text.p}</p>
      {"detail" in wallet && <p className="muted">{wallet.detail}</p>}
      <button type="button" onClick={retry}>
        Try again
      </button>
    </section>
  );
}
