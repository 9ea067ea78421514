// Names instead of addresses: who an address is from the signed-in person's side ("you", a listed
// provider's "Dr Ana Lima, St Mary Hospital", "the patient", "the network admin"), looked up through
// the registry's `directory` query in batches and cached for the session. The `ehr` CLI says the same
// (packages/ehr-client/src/directory.rs). Names come from the chain: public, but typed by someone
// else, so they are only ever rendered as text (React escapes it).
import type { Scope } from "../contracts/EhrAccess.types";
import type { Category, DirectoryResponse, ProviderInfo } from "../contracts/EhrRegistry.types";
import { categoryLabel } from "./keys";

/** The registry's bound on one `directory` query (ehr-types MAX_DIRECTORY_LOOKUP). */
export const MAX_DIRECTORY_LOOKUP = 100;

/** "wasm1abcd…wxyz": enough to tell two addresses apart, not to be mistaken for a name (as the CLI shortens them). */
export function shortAddress(address: string): string {
  const chars = [...address];
  return chars.length <= 14 ? address : `${chars.slice(0, 9).join("")}…${chars.slice(-4).join("")}`;
}

/** The first letter in upper case, for a name at the start of a sentence ("You …", "The patient …"). */
export function capitalise(text: string): string {
  const [first = "", ...rest] = [...text];
  return first.toUpperCase() + rest.join("");
}

/** What a grant of `scope` lets its doctor do, in words. */
export const scopeWords = (scope: Scope): string => ({ read: "read", write: "read and write", manage: "read, write and delete" })[scope] ?? String(scope);

/** Categories by their labels: "Lab, Note". */
export const categoryLabels = (categories: readonly Category[]): string => categories.map(categoryLabel).join(", ");

/** `${display_name}, ${organization}` of a directory entry. */
export const listing = (p: Pick<ProviderInfo, "display_name" | "organization">): string => `${p.display_name}, ${p.organization}`;

export interface NameContext {
  /** The signed-in address. */
  viewer: string;
  /** The registry config's admin, once known. */
  admin?: string;
  /** The owner of the patient on screen, if any. */
  patientOwner?: string;
  /** Directory entries looked up so far: a provider, or null for an address the directory does not list. */
  providers: ReadonlyMap<string, ProviderInfo | null>;
  /** The network's trustees in the order of the access contract's `trustees` query, once known. */
  trustees?: readonly string[];
}

/**
 * Who `address` is, from the viewer's side: "you"; a listed provider (withdrawn ones too) by name and
 * organisation; "the patient" for the patient's owner when the viewer is someone else; "the network
 * admin"; a trustee as "trustee N of the network" (N its 1-based place in the `trustees` query); else a short address said to be unlisted (or only the short address while it has not been
 * looked up yet). Lower case: `capitalise` it at the start of a sentence.
 */
export function nameOf(address: string, ctx: NameContext): string {
  if (address === ctx.viewer) return "you";
  const provider = ctx.providers.get(address);
  if (provider) return listing(provider);
  if (ctx.patientOwner !== undefined && address === ctx.patientOwner) return "the patient";
  if (ctx.admin !== undefined && address === ctx.admin) return "the network admin";
  const trustee = ctx.trustees?.indexOf(address) ?? -1;
  if (trustee >= 0) return `trustee ${trustee + 1} of the network`;
  return ctx.providers.has(address) ? `${shortAddress(address)} (not a listed provider)` : shortAddress(address);
}

/** The queries the names need: the generated EhrRegistryQueryClient has both. */
export interface DirectorySource {
  directory(q: { addresses: string[] }): Promise<DirectoryResponse>;
  config(): Promise<{ admin: string }>;
}

/** The access contract's `trustees` query (the generated EhrAccessQueryClient has it). */
export interface TrusteeSource {
  trustees(): Promise<{ trustees: { address: string }[] }>;
}

/** Names bound to one patient on screen (or none): what the components call. */
export interface Namer {
  /** `nameOf`, lower case. */
  (address: string): string;
  /** The directory entry of a listed provider, if looked up. */
  provider(address: string): ProviderInfo | undefined;
}

/**
 * The session's directory cache. `resolve` looks up what is not cached yet (at most
 * MAX_DIRECTORY_LOOKUP addresses per query; addresses already being looked up are awaited, not asked
 * twice); `refresh` asks again for everything cached, after a write that changes the directory
 * (credential, withdrawal, a published key). Components subscribe to re-render when names arrive.
 */
export class Names {
  private readonly providers = new Map<string, ProviderInfo | null>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private admin?: string;
  private adminLookup?: Promise<void>;
  private trustees?: string[];
  private trusteeLookup?: Promise<void>;
  private readonly listeners = new Set<() => void>();
  private version = 0;
  /** The namer of each patient owner until names change: a component depending on one re-renders then. */
  private readonly namers = new Map<string | undefined, Namer>();

  constructor(
    private readonly source: DirectorySource,
    readonly viewer: string,
    private readonly trusteeSource?: TrusteeSource,
  ) {}

  /** Looks up every address not cached yet, and the registry's admin once. */
  async resolve(addresses: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [this.loadAdmin(), this.loadTrustees()];
    const todo: string[] = [];
    for (const address of new Set(addresses)) {
      if (!address || this.providers.has(address)) continue;
      const pending = this.inFlight.get(address);
      if (pending) waits.push(pending);
      else todo.push(address);
    }
    for (let i = 0; i < todo.length; i += MAX_DIRECTORY_LOOKUP) waits.push(this.lookup(todo.slice(i, i + MAX_DIRECTORY_LOOKUP)));
    await Promise.all(waits);
  }

  /** Asks the directory again for every address cached (and the admin), e.g. after a credential or a withdrawal. */
  async refresh(also: Iterable<string> = []): Promise<void> {
    const known = [...new Set([...this.providers.keys(), ...also])];
    this.adminLookup = undefined;
    this.trusteeLookup = undefined;
    const waits: Promise<void>[] = [this.loadAdmin(), this.loadTrustees()];
    for (let i = 0; i < known.length; i += MAX_DIRECTORY_LOOKUP) waits.push(this.lookup(known.slice(i, i + MAX_DIRECTORY_LOOKUP)));
    await Promise.all(waits);
  }

  /** Entries read another way (the `providers` listing): the same ProviderInfo the directory gives. */
  prime(providers: readonly ProviderInfo[]): void {
    for (const p of providers) this.providers.set(p.address, p);
    if (providers.length) this.changed();
  }

  provider(address: string): ProviderInfo | undefined {
    return this.providers.get(address) ?? undefined;
  }

  get networkAdmin(): string | undefined {
    return this.admin;
  }

  context(patientOwner?: string): NameContext {
    return { viewer: this.viewer, admin: this.admin, patientOwner, providers: this.providers, trustees: this.trustees };
  }

  nameOf(address: string, patientOwner?: string): string {
    return nameOf(address, this.context(patientOwner));
  }

  namer(patientOwner?: string): Namer {
    let namer = this.namers.get(patientOwner);
    if (!namer) {
      namer = Object.assign((address: string) => this.nameOf(address, patientOwner), { provider: (address: string) => this.provider(address) });
      this.namers.set(patientOwner, namer);
    }
    return namer;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getVersion = (): number => this.version;

  private changed(): void {
    this.version++;
    this.namers.clear();
    for (const l of this.listeners) l();
  }

  private loadAdmin(): Promise<void> {
    this.adminLookup ??= this.source.config().then(
      (c) => {
        if (c.admin !== this.admin) {
          this.admin = c.admin;
          this.changed();
        }
      },
      (e: unknown) => {
        this.adminLookup = undefined; // asked again next time
        throw e;
      },
    );
    return this.adminLookup;
  }

  private loadTrustees(): Promise<void> {
    if (!this.trusteeSource) return Promise.resolve();
    this.trusteeLookup ??= this.trusteeSource.trustees().then(
      (t) => {
        const list = t.trustees.map((x) => x.address);
        if (list.join() !== (this.trustees ?? []).join() || !this.trustees) {
          this.trustees = list;
          this.changed();
        }
      },
      (e: unknown) => {
        this.trusteeLookup = undefined; // asked again next time
        throw e;
      },
    );
    return this.trusteeLookup;
  }

  private lookup(addresses: string[]): Promise<void> {
    const done: Promise<void> = Promise.resolve()
      .then(() => this.source.directory({ addresses }))
      .then(({ entries }) => {
        for (const e of entries) this.providers.set(e.address, e.provider ?? null);
        this.changed();
      })
      .finally(() => {
        for (const a of addresses) if (this.inFlight.get(a) === done) this.inFlight.delete(a);
      });
    for (const a of addresses) this.inFlight.set(a, done);
    return done;
  }
}
