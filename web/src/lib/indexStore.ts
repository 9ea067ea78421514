// The browser's IndexStore: sealed search indexes (searchIndex.ts) in IndexedDB, one value per
// chain/registry/reader/patient. Only ciphertext is stored; the key never leaves the page's memory.
import type { IndexStore } from "./searchIndex";

const DB = "ehr-chain-search";
const STORE = "indexes";

const request = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB request failed"));
  });

export class IdbStore implements IndexStore {
  private db?: Promise<IDBDatabase>;

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error("IndexedDB did not open"));
    }).catch((e: unknown) => {
      this.db = undefined;
      throw e;
    });
    return this.db;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value: unknown = await request((await this.open()).transaction(STORE).objectStore(STORE).get(key));
    return value instanceof Uint8Array ? value : undefined;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await request((await this.open()).transaction(STORE, "readwrite").objectStore(STORE).put(value, key));
  }
}
