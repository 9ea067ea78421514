// The search index of issue 14: title, date and searchable text (coerceMeta) of every record of a patient
// this wallet can decrypt, so search and filters reach all of them, not only the loaded page. Pure:
// the index format, what a sync must fetch and what it must drop, the query, and the encryption at
// rest. Storage (IndexedDB in the browser) is behind `IndexStore`; the sync that talks to the chain
// is `syncIndex`, given its I/O as functions.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "@noble/ciphers/utils.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Category, RecordInfo } from "../contracts/EhrRegistry.types";
import { concat, fromUtf8, utf8 } from "../crypto/bytes";
import { eachLimited } from "./concurrency";
import { fromChainTime, type RecordMeta } from "./records";

/** One decrypted record version as indexed. `time` is the version's chain time (nanoseconds, decimal). */
export interface IndexEntry {
  id: number;
  version: number;
  category: Category;
  epoch: number;
  author: string;
  time: string;
  sha256: string;
  uri: string;
  size: number;
  meta: RecordMeta;
}

/** What is stored (encrypted): the format version and the entries by record id. */
export interface IndexData {
  format: 1;
  entries: IndexEntry[];
}

export const emptyIndex = (): IndexData => ({ format: 1, entries: [] });

// What may be read is the chain's answer (the access contract's `capabilities`, capabilities.ts
// `readableOf`): every category for the patient's owner; for anyone else what its unexpired grant
// covers, and while its emergency window is open the patient's emergency categories. What a former
// grantee was handed stays openable in the record list, but it is no longer kept in (or added to) the index.

// ------------------------------------------------------------------ the sync plan

export interface SyncPlan {
  /** Entries still current: indexed at the chain's latest version, readable, not deleted. */
  keep: IndexEntry[];
  /** Latest versions newer than the indexed ones (or not indexed), readable and not deleted: fetch and decrypt these. */
  fetch: RecordInfo[];
  /** Indexed record ids dropped: deleted, gone from the chain, or in a category no longer readable. */
  dropped: number[];
}

/** Compares the index with every record of the patient on chain (`records`, all pages). */
export function planSync(index: IndexData, records: readonly RecordInfo[], readable: (c: Category) => boolean): SyncPlan {
  const indexed = new Map(index.entries.map((e) => [e.id, e]));
  const keep: IndexEntry[] = [];
  const fetch: RecordInfo[] = [];
  for (const r of records) {
    if (r.status === "deleted" || !readable(r.category)) continue;
    const e = indexed.get(r.id);
    if (e && e.version >= r.latest.version) keep.push(e);
    else fetch.push(r);
  }
  // An entry being fetched again is not dropped: it stays until its new version opens or fails to.
  const staying = new Set([...keep.map((e) => e.id), ...fetch.map((r) => r.id)]);
  const dropped = index.entries.filter((e) => !staying.has(e.id)).map((e) => e.id);
  return { keep, fetch, dropped };
}

/** What fetching one record's latest version gave: its metadata, no key for it, or a failure to retry later. */
export type FetchResult = { kind: "opened"; meta: RecordMeta } | { kind: "unreadable" } | { kind: "unavailable" };

export const entryOf = (r: RecordInfo, meta: RecordMeta): IndexEntry => ({
  id: r.id,
  version: r.latest.version,
  category: r.category,
  epoch: r.latest.epoch,
  author: r.latest.author,
  time: r.latest.time,
  sha256: r.latest.blob.sha256,
  uri: r.latest.blob.uri,
  size: r.latest.blob.size,
  meta,
});

/**
 * The entry of a fetched record: the new version's when it opened; none when it cannot be decrypted
 * (or does not match its hash); the old entry when the file was unavailable (the next sync tries again).
 */
export function applyFetch(old: IndexEntry | undefined, r: RecordInfo, result: FetchResult): IndexEntry | undefined {
  if (result.kind === "opened") return entryOf(r, result.meta);
  return result.kind === "unavailable" ? old : undefined;
}

export const sortEntries = (entries: IndexEntry[]): IndexEntry[] => entries.sort((a, b) => a.id - b.id);

// ------------------------------------------------------------------ the query

export interface IndexQuery {
  category?: Category | "";
  from?: string; // yyyy-mm-dd, inclusive
  to?: string; // yyyy-mm-dd, inclusive
  author?: string;
  text?: string;
}

/** An entry prepared for queries: lowercased haystack and the date it is filed under. */
export interface Searchable {
  entry: IndexEntry;
  hay: string;
  date: string;
}

/** The date an entry is filed under: the document's own date, else its chain time's (as the record list shows it). */
export const entryDate = (e: IndexEntry): string => e.meta.date || fromChainTime(e.time).toISOString().slice(0, 10);

/** Done once per index change, not per keystroke. */
export const searchable = (entries: readonly IndexEntry[]): Searchable[] =>
  entries.map((entry) => ({ entry, date: entryDate(entry), hay: `${entry.meta.title} ${entry.meta.text} ${entry.category} #${entry.id}`.toLowerCase() }));

/** The query's words, lowercased: an entry matches when it contains every one (as a substring). */
export const queryTerms = (text: string | undefined): string[] => (text ?? "").toLowerCase().split(/\s+/).filter(Boolean);

/** Every entry matching all of the query; `nameOf` lets the author filter match the author's name as shown. */
export function queryIndex(items: readonly Searchable[], q: IndexQuery, nameOf?: (address: string) => string): IndexEntry[] {
  const terms = queryTerms(q.text);
  const author = q.author?.trim().toLowerCase();
  const out: IndexEntry[] = [];
  for (const { entry, hay, date } of items) {
    if (q.category && entry.category !== q.category) continue;
    if (q.from && date < q.from) continue;
    if (q.to && date > q.to) continue;
    if (author && !entry.author.toLowerCase().includes(author) && !(nameOf?.(entry.author).toLowerCase().includes(author) ?? false)) continue;
    if (!terms.every((t) => hay.includes(t))) continue;
    out.push(entry);
  }
  return out;
}

/** Whether the filter asks anything of the index (an empty one shows the chain's pages as before). */
export const isSearch = (q: IndexQuery): boolean => !!(q.text?.trim() || q.from || q.to || q.author?.trim());

// ------------------------------------------------------------------ encryption at rest

const KEY_LABEL = "ehr-chain/search-index/v1";

/** Where an index belongs: the chain, the registry, the reader's address and the patient. */
export interface IndexScope {
  chainId: string;
  registry: string;
  address: string;
  patientId: number;
}

/**
 * The index key: HKDF-SHA256 of the wallet's X25519 secret, salt the fixed label, info chain id, registry
 * and address joined by NUL bytes: ehr-crypto's AtRestKey with its SEARCH_INDEX_LABEL (at_rest.rs).
 */
export const indexKey = (walletSecret: Uint8Array, s: Omit<IndexScope, "patientId">): Uint8Array =>
  hkdf(sha256, walletSecret, utf8(KEY_LABEL), utf8(`${s.chainId}\0${s.registry}\0${s.address}`), 32);

/** The store key and associated data of one patient's index. */
export const storeKey = (s: IndexScope): string => `${s.chainId}/${s.registry}/${s.address}/${s.patientId}`;

/** nonce (24 bytes) ‖ XChaCha20-Poly1305 of the JSON, bound to the store key. */
export function sealIndex(key: Uint8Array, s: IndexScope, data: IndexData): Uint8Array {
  const nonce = randomBytes(24);
  return concat(nonce, xchacha20poly1305(key, nonce, utf8(storeKey(s))).encrypt(utf8(JSON.stringify(data))));
}

/** The stored index, or an empty one when it does not open (another key, changed bytes, an older format): the sync rebuilds it. */
export function openIndex(key: Uint8Array, s: IndexScope, sealed: Uint8Array | undefined): IndexData {
  if (!sealed || sealed.length < 24 + 16) return emptyIndex();
  try {
    const data = JSON.parse(fromUtf8(xchacha20poly1305(key, sealed.subarray(0, 24), utf8(storeKey(s))).decrypt(sealed.subarray(24)))) as IndexData;
    return data.format === 1 && Array.isArray(data.entries) ? data : emptyIndex();
  } catch {
    return emptyIndex();
  }
}

/** Where sealed indexes live: IndexedDB in the browser (indexStore.ts), a Map in tests. */
export interface IndexStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
}

export class MemoryStore implements IndexStore {
  readonly values = new Map<string, Uint8Array>();
  get(key: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.values.get(key));
  }
  put(key: string, value: Uint8Array): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
}

// ------------------------------------------------------------------ the sync

export interface SyncIo {
  /** Every record of the patient (all pages of `records_by_patient`). */
  records(): Promise<RecordInfo[]>;
  /** Which categories may be read now, as the chain answers (capabilities.ts `readableOf`). */
  readable(): Promise<(c: Category) => boolean>;
  /** Loads the key material once for this sync; `open` then uses it without asking the chain again. */
  loadKeys(): Promise<void>;
  open(r: RecordInfo): Promise<FetchResult>;
}

export interface SyncProgress {
  done: number;
  total: number;
}

export interface SyncCallbacks {
  /** After every file. */
  progress?(p: SyncProgress): void;
  /** The index so far: once the plan is made, then every `saveEvery` files (not every file: it is sorted and copied). */
  partial?(index: IndexData): void;
}

/**
 * Brings the stored index up to date: lists the records, fetches and decrypts only the newer versions
 * (`parallel` at a time), drops what may no longer be read, and stores the result (also every
 * `saveEvery` opened files, so an interrupted sync keeps its work). Returns the new index.
 */
export async function syncIndex(store: IndexStore, key: Uint8Array, scope: IndexScope, io: SyncIo, on: SyncCallbacks = {}, { parallel = 6, saveEvery = 100 } = {}): Promise<IndexData> {
  const stored = openIndex(key, scope, await store.get(storeKey(scope)));
  const [records, readable] = await Promise.all([io.records(), io.readable()]);
  const plan = planSync(stored, records, readable);
  const old = new Map(stored.entries.map((e) => [e.id, e]));
  const current = new Map(plan.keep.map((e) => [e.id, e]));
  // Entries being fetched stay searchable at their old version until their new one is read.
  for (const r of plan.fetch) {
    const e = old.get(r.id);
    if (e) current.set(r.id, e);
  }
  const snapshot = (): IndexData => ({ format: 1, entries: sortEntries([...current.values()]) });
  let done = 0;
  const total = plan.fetch.length;
  on.progress?.({ done, total });
  on.partial?.(snapshot());
  if (total) await io.loadKeys();
  let sinceSave = 0;
  await eachLimited(plan.fetch, parallel, async (r) => {
    let result: FetchResult;
    try {
      result = await io.open(r);
    } catch {
      result = { kind: "unavailable" };
    }
    const e = applyFetch(old.get(r.id), r, result);
    if (e) current.set(r.id, e);
    else current.delete(r.id);
    done++;
    on.progress?.({ done, total });
    if (++sinceSave >= saveEvery) {
      sinceSave = 0;
      const partial = snapshot();
      on.partial?.(partial);
      await store.put(storeKey(scope), sealIndex(key, scope, partial));
    }
  });
  const result = snapshot();
  await store.put(storeKey(scope), sealIndex(key, scope, result));
  return result;
}
