import { useCallback, useState, useSyncExternalStore, type ReactNode } from "react";
import type { Category } from "../contracts/EhrRegistry.types";
import { RECORD_CATEGORIES } from "../crypto/categories";
import type { Ehr } from "../lib/ehr";
import { explain, type Problem } from "../lib/errors";
import { categoryLabel } from "../lib/keys";
import { capitalise, shortAddress, type Namer } from "../lib/names";

export function ProblemNotice({ problem, onDismiss }: { problem: Problem; onDismiss?: () => void }) {
  return (
    <div className="notice error" role="alert" data-kind={problem.kind}>
      <strong>{problem.message}</strong>
      <details>
        <summary>Details</summary>
        <span className="mono">{problem.detail}</span>
      </details>
      {onDismiss && (
        <button type="button" className="secondary" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

export function Info({ children }: { children: ReactNode }) {
  return (
    <div className="notice info" role="status">
      {children}
    </div>
  );
}

/** Runs actions one at a time, keeping the last failure (explained) and a success message. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const [done, setDone] = useState<string>();
  const run = useCallback(async (what: () => Promise<string | void>) => {
    setBusy(true);
    setProblem(undefined);
    setDone(undefined);
    try {
      const message = await what();
      if (message) setDone(message);
      return true;
    } catch (e) {
      console.error(e);
      setProblem(explain(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const status = (
    <>
      {problem && <ProblemNotice problem={problem} onDismiss={() => setProblem(undefined)} />}
      {done && <Info>{done}</Info>}
    </>
  );
  return { busy, run, status, setProblem };
}

export function CategoryChecks({ value, onChange, allowed = RECORD_CATEGORIES, legend }: { value: Category[]; onChange: (c: Category[]) => void; allowed?: Category[]; legend: string }) {
  return (
    <fieldset className="checks">
      <legend className="muted">{legend}</legend>
      {allowed.map((c) => (
        <label key={c} className="inline">
          <input type="checkbox" checked={value.includes(c)} onChange={(e) => onChange(e.target.checked ? [...value, c] : value.filter((x) => x !== c))} />
          {categoryLabel(c)}
        </label>
      ))}
    </fieldset>
  );
}

export const short = shortAddress;

/**
 * The session's names (lib/names.ts) as seen with `patientOwner` on screen; the component re-renders
 * when names arrive or the directory is refreshed. Look addresses up with `ehr.names.resolve` when
 * loading what shows them.
 */
export function useNames(ehr: Ehr, patientOwner?: string): Namer {
  useSyncExternalStore(ehr.names.subscribe, ehr.names.getVersion);
  return ehr.names.namer(patientOwner);
}

/** A person by name ("you", "Dr Ana Lima, St Mary Hospital", …), the address in the tooltip only. Plain text: names are untrusted. */
export function Who({ address, name, start = false }: { address: string; name: Namer; start?: boolean }) {
  const text = name(address);
  return <span title={address}>{start ? capitalise(text) : text}</span>;
}

/** A destructive action behind a second, explicit click: `label` shows `question`, `confirmLabel` runs `onConfirm`. */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  busy,
  onConfirm,
  ariaLabel,
}: {
  label: string;
  question: ReactNode;
  confirmLabel: string;
  busy: boolean;
  onConfirm: () => void;
  /** The first button's accessible name, when several buttons on the page share `label`. */
  ariaLabel?: string;
}) {
  const [confirming, setConfirming] = useState(false);
  return confirming ? (
    <p>
      {question}{" "}
      <button type="button" className="danger" disabled={busy} onClick={onConfirm}>
        {confirmLabel}
      </button>{" "}
      <button type="button" className="secondary" onClick={() => setConfirming(false)}>
        Keep it
      </button>
    </p>
  ) : (
    <button type="button" className="danger" aria-label={ariaLabel} onClick={() => setConfirming(true)}>
      {label}
    </button>
  );
}
