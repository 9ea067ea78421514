// A patient's records: paginated from the chain (category filter on chain), integrity-checked and
// decrypted locally; search and the date and author filters query the encrypted search index of every
// record this wallet can read (lib/searchIndex.ts), kept up to date in the background; upload and new
// versions with safe retry.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { Category, PatientInfo, RecordVersion } from "../contracts/EhrRegistry.types";
import { toBase64 } from "../crypto/bytes";
import { RECORD_CATEGORIES } from "../crypto/categories";
import type { Ehr, SealedFile, UploadOutcome } from "../lib/ehr";
import { categoryLabel, unopenedKeyText, type UnopenedKey } from "../lib/keys";
import { type Namer } from "../lib/names";
import { IdbStore } from "../lib/indexStore";
import { byNewest, fromChainTime, recordDocument, type RecordRow } from "../lib/records";
import { isSearch, queryIndex, searchable, type IndexEntry, type IndexQuery, type Searchable, type SyncProgress } from "../lib/searchIndex";
import { localTime } from "../lib/time";
import { ConfirmButton, Info, useAction, useNames, Who } from "./common";

const SHOWN = 20;
const indexStore = new IdbStore();

/** A search hit as a row: it was opened and checked against the chain's hash when it was indexed. */
const rowOfEntry = (e: IndexEntry, patientId: number): RecordRow => ({
  id: e.id,
  patientId,
  category: e.category,
  version: e.version,
  epoch: e.epoch,
  author: e.author,
  createdBy: e.author,
  time: fromChainTime(e.time),
  sha256: e.sha256,
  uri: e.uri,
  size: e.size,
  integrity: "verified",
  deleted: false,
  meta: e.meta,
});
interface Props {
  ehr: Ehr;
  patient: PatientInfo;
  /** Categories this wallet may add or update records in. */
  writable: Category[];
  /** Categories whose records this person may delete (the patient: all; a doctor: those granted Manage). */
  deletable: Category[];
  /** Called after a record was added or updated. */
  onChanged?: () => void;
}

export function RecordsPanel({ ehr, patient, writable, deletable, onChanged }: Props) {
  const [rows, setRows] = useState<RecordRow[]>([]);
  const [more, setMore] = useState(false);
  const [chainCategory, setChainCategory] = useState<Category | "">("");
  const [filter, setFilter] = useState<IndexQuery>({});
  const [shown, setShown] = useState(SHOWN);
  const [opened, setOpened] = useState<{ row: RecordRow; content?: string; history?: RecordVersion[] }>();
  // What the last change made from an opened record said (its form closes with it).
  const [notice, setNotice] = useState<string>();
  const list = useAction();
  const runList = list.run;
  const name = useNames(ehr, patient.owner);
  // Key envelopes of this wallet that did not open (skipped; the other records still show), said in words.
  const [unopened, setUnopened] = useState<UnopenedKey[]>([]);
  // The rows as last rendered, for "load more" to page on from without reloading when they change.
  const rowsRef = useRef(rows);
  useEffect(() => {
    rowsRef.current = rows;
  }, [rows]);

  const loadPage = useCallback(
    async (reset: boolean) => {
      await runList(async () => {
        const after = reset ? undefined : rowsRef.current.at(-1)?.id;
        const page = await ehr.recordsPage(patient.id, chainCategory || undefined, after);
        await ehr.names.resolve(page.map((r) => r.author));
        setRows((old) => {
          // A reload keeps what was already checked and decrypted for the same record version;
          // whether the record is deleted comes from the chain's new answer.
          const known = new Map(old.map((r) => [`${r.id}/${r.version}`, r]));
          const merged = page.map((r) => {
            const checked = known.get(`${r.id}/${r.version}`);
            return checked ? { ...checked, deleted: r.deleted } : r;
          });
          return reset ? merged : [...old, ...merged];
        });
        setMore(page.length === 100);
        if (reset) {
          // Which keys did not open is said next to the records; failing to find out hides nothing else.
          const skipped = await ehr.unopenedKeys(patient).catch(() => undefined);
          if (skipped) {
            await ehr.names.resolve(skipped.flatMap((u) => (u.openedBy ? [u.openedBy] : []))).catch(() => undefined);
            setUnopened(skipped);
          }
        }
      });
    },
    // `patient` (not only its id): opening the same patient again fetches it anew and reloads the list.
    [ehr, patient, chainCategory, runList],
  );
  useEffect(() => {
    void loadPage(true);
  }, [loadPage]);

  // The search index: synced when the panel opens, when a search starts and after every change made here.
  const [index, setIndex] = useState<Searchable[]>();
  const [indexing, setIndexing] = useState<SyncProgress>();
  const [indexProblem, setIndexProblem] = useState<string>();
  const [indexRun, setIndexRun] = useState(0);
  const reindex = () => setIndexRun((n) => n + 1);
  useEffect(() => {
    let current = true;
    ehr
      .syncSearchIndex(patient, indexStore, { progress: (p) => current && setIndexing(p), partial: (d) => current && setIndex(searchable(d.entries)) })
      .then((d) => {
        if (!current) return;
        setIndex(searchable(d.entries));
        setIndexProblem(undefined);
      })
      .catch((e: unknown) => current && setIndexProblem((e as Error).message))
      .finally(() => current && setIndexing(undefined));
    return () => {
      current = false;
    };
  }, [ehr, patient, indexRun]);

  const searching = isSearch(filter);
  // Starting a search brings the index up to date first (others may have written, or access changed).
  const changeFilter = (f: IndexQuery) => {
    if (isSearch(f) && !searching) reindex();
    setFilter(f);
  };
  const visible = useMemo(
    () =>
      searching
        ? queryIndex(index ?? [], { ...filter, category: chainCategory }, name).map((e) => rowOfEntry(e, patient.id)).sort(byNewest)
        : [...rows].sort(byNewest),
    [searching, index, filter, chainCategory, name, rows, patient.id],
  );
  const page = visible.slice(0, shown);

  // Check and decrypt what is on screen (not the whole list): fetch, re-hash against the chain, open.
  // Each (record, version) is started once, although the effect re-runs as rows update.
  const started = useRef(new Set<string>());
  useEffect(() => {
    const todo = page.filter((r) => r.integrity === "unchecked" && !started.current.has(`${r.id}/${r.version}`));
    if (!todo.length) return;
    for (const r of todo) started.current.add(`${r.id}/${r.version}`);
    void (async () => {
      for (const r of todo) {
        let update: Partial<RecordRow>;
        try {
          const o = await ehr.openBlob(patient, r.category, r.version, { sha256: r.sha256, uri: r.uri, size: r.size }, r.epoch);
          update = { integrity: o.integrity, meta: o.meta, problem: o.problem };
        } catch (e) {
          update = { integrity: "unavailable", problem: (e as Error).message };
        }
        setRows((old) => old.map((x) => (x.id === r.id && x.version === r.version ? { ...x, ...update } : x)));
      }
    })();
  }, [page, ehr, patient]);

  const open = (row: RecordRow) =>
    list.run(async () => {
      setNotice(undefined);
      const history = await ehr.history(row.id);
      await ehr.names.resolve(history.map((v) => v.author));
      if (row.integrity === "mismatch") return setOpened({ row, history });
      const o = await ehr.openBlob(patient, row.category, row.version, { sha256: row.sha256, uri: row.uri, size: row.size }, row.epoch);
      setOpened({ row: { ...row, integrity: o.integrity }, history, content: o.plaintext ? new TextDecoder().decode(o.plaintext) : undefined });
    });

  return (
    <section className="card" aria-labelledby="records-h">
      <h2 id="records-h">Records of patient #{patient.id}</h2>
      {writable.length > 0 && <UploadForm ehr={ehr} patient={patient} writable={writable} onDone={() => { void loadPage(true); reindex(); onChanged?.(); }} />}
      <div className="filters" role="search" aria-label="Filter records">
        <label>
          Category
          <select value={chainCategory} onChange={(e) => setChainCategory(e.target.value as Category | "")}>
            <option value="">all</option>
            {RECORD_CATEGORIES.map((c) => (
              <option key={c} value={c}>{categoryLabel(c)}</option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" value={filter.from ?? ""} onChange={(e) => changeFilter({ ...filter, from: e.target.value })} />
        </label>
        <label>
          To
          <input type="date" value={filter.to ?? ""} onChange={(e) => changeFilter({ ...filter, to: e.target.value })} />
        </label>
        <label>
          Author
          <input value={filter.author ?? ""} placeholder="name or address" onChange={(e) => changeFilter({ ...filter, author: e.target.value })} />
        </label>
        <label>
          Search
          <input type="search" value={filter.text ?? ""} placeholder="words in decrypted records" onChange={(e) => changeFilter({ ...filter, text: e.target.value })} />
        </label>
      </div>
      {list.status}
      {unopened.length > 0 && (
        <div className="notice error" role="alert" aria-label="Keys that do not open">
          {unopened.map((u) => (
            <p key={`${u.category}/${u.epoch}`} data-unopened={`${u.category}/${u.epoch}`} style={{ margin: "0.2rem 0" }}>
              {unopenedKeyText(u, name)}
            </p>
          ))}
        </div>
      )}
      {notice && <Info>{notice}</Info>}
      <p className="muted" aria-live="polite" data-search-count={searching ? visible.length : undefined}>
        {searching
          ? `${visible.length} of ${index?.length ?? 0} indexed records match${indexing ? " so far" : ""}.`
          : `${visible.length} of ${rows.length} loaded records match${more ? " (more on chain)" : ""}.`}
      </p>
      {indexing && indexing.done < indexing.total && (
        <p className="muted" aria-label="Indexing progress">
          <progress max={indexing.total} value={indexing.done} /> Indexing for search: {indexing.done} of {indexing.total} records read…
        </p>
      )}
      {indexProblem && <p className="muted">Search covers only what was indexed before: {indexProblem}</p>}
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>Category</th>
            <th>Title</th>
            <th>Date</th>
            <th>Version</th>
            <th>Author</th>
            <th>Integrity</th>
            <th>
              <span className="muted">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {page.map((r) => (
            <tr key={r.id} data-record-id={r.id}>
              <td>{r.id}</td>
              <td>
                {categoryLabel(r.category)}
                {r.deleted && <strong> (deleted)</strong>}
              </td>
              <td>{r.integrity === "mismatch" ? "—" : (r.meta?.title ?? (r.problem ? "🔒 no key" : "…"))}</td>
              <td>{r.meta?.date || localTime(r.time)}</td>
              <td>{r.version}</td>
              <td>
                <Who address={r.author} name={name} start />
              </td>
              <td>
                <IntegrityBadge row={r} />
              </td>
              <td>
                <button type="button" className="secondary" onClick={() => open(r)} aria-label={`Open record ${r.id}`}>
                  Open
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {visible.length > shown && (
        <button type="button" className="secondary" onClick={() => setShown(shown + SHOWN)}>
          Show more
        </button>
      )}{" "}
      {more && (
        <button type="button" className="secondary" onClick={() => loadPage(false)} disabled={list.busy}>
          Load more from the chain
        </button>
      )}
      {opened && (
        <RecordDetail
          ehr={ehr}
          patient={patient}
          opened={opened}
          name={name}
          canUpdate={!opened.row.deleted && writable.includes(opened.row.category)}
          canDelete={!opened.row.deleted && deletable.includes(opened.row.category)}
          onClose={() => setOpened(undefined)}
          onUpdated={(message) => {
            setOpened(undefined);
            setNotice(message);
            void loadPage(true);
            reindex();
            onChanged?.();
          }}
        />
      )}
    </section>
  );
}

function IntegrityBadge({ row }: { row: RecordRow }) {
  const text = { verified: "✔ hash matches chain", mismatch: "✖ hash mismatch", unchecked: "checking…", unavailable: "file unavailable" }[row.integrity];
  return (
    <span className={`badge ${row.integrity}`} title={row.problem ?? row.sha256} data-integrity={row.integrity}>
      {text}
    </span>
  );
}

function RecordDetail({
  ehr,
  patient,
  opened,
  name,
  canUpdate,
  canDelete,
  onClose,
  onUpdated,
}: {
  ehr: Ehr;
  patient: PatientInfo;
  opened: { row: RecordRow; content?: string; history?: RecordVersion[] };
  name: Namer;
  canUpdate: boolean;
  canDelete: boolean;
  onClose: () => void;
  onUpdated: (message: string) => void;
}) {
  const { row, content, history } = opened;
  const removal = useAction();
  return (
    <div className="card" role="region" aria-label={`Record ${row.id}`} style={{ borderTop: "2px solid #12355b", marginTop: "1rem", paddingTop: "0.6rem" }}>
      <h3>
        Record #{row.id} ({categoryLabel(row.category)}) <IntegrityBadge row={row} />
      </h3>
      {row.integrity === "mismatch" ? (
        <div className="notice error" role="alert">
          The stored file does not match the hash on the chain: it was changed or replaced. Its content is not shown.
        </div>
      ) : content !== undefined ? (
        <pre className="content" aria-label="Decrypted content">
          {content}
        </pre>
      ) : (
        <p>{row.problem ?? "No content."}</p>
      )}
      <h4>Version history</h4>
      <ol aria-label="Version history">
        {history?.map((v) => (
          <li key={v.version}>
            v{v.version} · {localTime(v.time)} · by <Who address={v.author} name={name} /> · key epoch {v.epoch} ·{" "}
            <span className="mono" title={v.blob.sha256}>{v.blob.sha256.slice(0, 16)}…</span>
          </li>
        ))}
      </ol>
      {row.deleted && <p>This record is deleted: its versions stay on the chain as a tombstone and it can no longer change.</p>}
      {canUpdate && row.integrity !== "mismatch" && <UploadForm ehr={ehr} patient={patient} writable={[row.category]} record={{ id: row.id, version: row.version }} onDone={onUpdated} />}
      {removal.status}
      {canDelete && (
        <ConfirmButton
          label="Delete record"
          question={`Delete record #${row.id}? Its history stays on the chain as a tombstone; nobody can add versions.`}
          confirmLabel="Confirm delete"
          busy={removal.busy}
          onConfirm={() => removal.run(async () => { await ehr.deleteRecord(row.id); onUpdated(`Record #${row.id} deleted.`); })}
        />
      )}{" "}
      <button type="button" className="secondary" onClick={onClose}>
        Close
      </button>
    </div>
  );
}

/** What an upload did, in words: the record and version, a new key epoch it opened, a version it was sealed again on top of. */
function uploadText(category: Category, out: UploadOutcome, patientIsMe: boolean, name: Namer): string {
  if (out.alreadyRegistered) return `Already on the chain as record #${out.recordId} (version ${out.version}): nothing was added twice.`;
  let text = `Saved as record #${out.recordId}, version ${out.version}.`;
  if (out.overtook !== undefined)
    text += ` Someone else had saved version ${out.overtook} meanwhile: yours was sealed again on top of it, and both stay in the history.`;
  if (out.rotation) {
    const others = out.rotation.recipients ? ` and ${out.rotation.recipients} other${out.rotation.recipients === 1 ? "" : "s"} who may read it` : "";
    text += ` It opened a new ${categoryLabel(category)} key (epoch ${out.rotation.epoch}) for ${patientIsMe ? "you" : "the patient"}${others}.`;
    if (out.rotation.skipped.length)
      text += ` ${out.rotation.skipped.map(name).join(", ")} may read ${categoryLabel(category)} records but ${out.rotation.skipped.length === 1 ? "has" : "have"} published no encryption key, so ${out.rotation.skipped.length === 1 ? "does" : "do"} not get this key yet.`;
  }
  return text;
}

/** New record, or new version of `record`. The sealed file is kept after a failure: "Retry" sends the same bytes. */
function UploadForm({ ehr, patient, writable, record, onDone }: { ehr: Ehr; patient: PatientInfo; writable: Category[]; record?: { id: number; version: number }; onDone: (message: string) => void }) {
  const [category, setCategory] = useState<Category>(writable[0]);
  const [title, setTitle] = useState("");
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [text, setText] = useState("");
  const [file, setFile] = useState<File>();
  const [pending, setPending] = useState<SealedFile>();
  const action = useAction();
  const prefix = record ? `update-${record.id}` : "new";

  const send = (sealed: SealedFile) =>
    action.run(async () => {
      setPending(sealed);
      const out = await ehr.upload(sealed);
      setPending(undefined);
      setTitle("");
      setText("");
      setFile(undefined);
      await ehr.names.resolve(out.rotation?.skipped ?? []);
      const message = uploadText(sealed.category, out, patient.owner === ehr.address, ehr.names.namer(patient.owner));
      onDone(message);
      // A new version's form closes with its record: the panel shows what it said.
      return record ? undefined : message;
    });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let sealed: SealedFile | undefined;
    await action.run(async () => {
      const attachment = file ? { name: file.name, contentType: file.type || "application/octet-stream", base64: toBase64(new Uint8Array(await file.arrayBuffer())) } : undefined;
      sealed = await ehr.seal(patient, category, recordDocument(category, { title, date, text, attachment }), record);
    });
    if (sealed) await send(sealed);
  };

  return (
    <form className="row" onSubmit={submit} aria-label={record ? `New version of record ${record.id}` : "Add a record"}>
      {!record && (
        <label>
          Category
          <select id={`${prefix}-category`} value={category} onChange={(e) => setCategory(e.target.value as Category)}>
            {writable.map((c) => (
              <option key={c} value={c}>{categoryLabel(c)}</option>
            ))}
          </select>
        </label>
      )}
      <label>
        Title
        <input required value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label>
        Date
        <input type="date" value={date} onChange={(e) => setDate(e.target.value)} />
      </label>
      <label style={{ flex: "1 1 16rem" }}>
        Notes
        <textarea rows={2} value={text} onChange={(e) => setText(e.target.value)} />
      </label>
      <label>
        File (optional)
        <input type="file" onChange={(e) => setFile(e.target.files?.[0])} />
      </label>
      <button type="submit" disabled={action.busy}>
        {record ? "Save new version" : "Encrypt and upload"}
      </button>
      {pending && !action.busy && (
        <button type="button" onClick={() => send(pending)}>
          Retry upload
        </button>
      )}
      <div style={{ flexBasis: "100%" }}>{action.status}</div>
    </form>
  );
}
