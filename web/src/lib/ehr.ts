// One logged-in session: the generated query clients, the Keplr signer's signing client (loaded on
// first use), IPFS, the wallet-derived X25519 key and the category keys this wallet holds. Every chain
// write goes through here.
import type { ExecuteInstruction, SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import type { OfflineSigner } from "@cosmjs/proto-signing";
import { Comet38Client } from "@cosmjs/tendermint-rpc";
import { randomBytes } from "@noble/ciphers/utils.js";
import { EhrAccessQueryClient } from "../contracts/EhrAccess.client";
import type {
  AccessRequestInfo,
  AuditEntry,
  CapabilitiesResponse,
  CategoryEpoch,
  EmergencyEvent,
  EmergencyReason,
  EpochEscrow,
  EscrowPlan,
  EscrowPolicyResponse,
  EscrowedShare,
  GrantInfo,
  KeyEnvelope,
  RecipientEnvelope,
  RecoveryInfo,
  ReleasedShareInfo,
  Scope,
  TrusteeShare,
  TrusteesResponse,
  WritePlanResponse,
} from "../contracts/EhrAccess.types";
import { EhrRegistryQueryClient } from "../contracts/EhrRegistry.client";
import type { BlobRef, Category, DesignationResponse, PatientInfo, ProviderInfo, RecordInfo, RecordVersion } from "../contracts/EhrRegistry.types";
import { fromBase64, toBase64 } from "../crypto/bytes";
import { CryptoError } from "../crypto/errors";
import { openEnvelope, sealEnvelope } from "../crypto/envelope";
import { combineVerified, keyCommitment, openShare, sealShare, shareCommitment, splitKey, type CommittedShare } from "../crypto/escrow";
import { publicKeyOf } from "../crypto/publicKey";
import { decryptFile, encryptFile, parseHeader, sha256Hex, type FileContext } from "../crypto/file";
import { deriveWalletKey, type ArbitrarySigner, type X25519KeyPair } from "../crypto/walletKey";
import { eachLimited } from "./concurrency";
import type { Deploy } from "./deploy";
import { explain, KeyMismatchError, NotFoundError, onceMoreOnConflict } from "./errors";
import { Ipfs } from "./ipfs";
import { openWindow, readableOf, type PatientEmergency } from "./capabilities";
import { refusedWriteText, rotationRecipients, writeStep, type UnopenedKey } from "./keys";
import type { ExportInput } from "./fhirExport";
import { capitalise, listing, Names } from "./names";
import { ContractQuerier } from "./query";
import { escrowedCategories, epochsToEscrow } from "./recovery";
import type { FailoverRpc } from "./rpc";
import { metadataOf, rowOf, type RecordMeta, type RecordRow } from "./records";
import { indexKey, syncIndex, type FetchResult, type IndexData, type IndexStore, type SyncCallbacks } from "./searchIndex";

const PAGE = 100; // the contracts' maximum page size
const keyId = (patientId: number, category: Category, epoch: number) => `${patientId}/${category}/${epoch}`;
/** Chain time now (nanoseconds), by this browser's clock. */
const nowNanos = () => BigInt(Date.now()) * 1_000_000n;
/**
 * How far past its declared end (by this browser's clock) an emergency window is still asked about:
 * whether it is open is the chain's answer; this only spares asking about windows long over.
 */
const WINDOW_CLOCK_SLACK = 3_600n * 1_000_000_000n;

/** A category key that is not on chain yet: it enters the cache once the transaction storing its envelopes commits. */
interface NewKey {
  patientId: number;
  category: Category;
  epoch: number;
  key: Uint8Array;
}

/** A new key epoch of a category, sent as `RotateKey` in the same transaction as the write sealed under it. */
export interface Rotation {
  category: Category;
  epoch: number; // the current epoch plus 1
  key: Uint8Array;
  ownEnvelope: string; // to the patient's registered key
  envelopes: RecipientEnvelope[]; // to each reader with a registered encryption key
  skipped: string[]; // readers without one: they do not get this key
  escrow?: TrusteeShare[]; // one sealed share per trustee when the patient escrows the category, else empty
  escrowKeyCommitment?: string; // with `escrow`: the dealer's commitment to the new key
}

/** What escrowing one key sends: a committed share per trustee and the commitment to the key. */
interface KeyEscrow {
  shares: TrusteeShare[];
  keyCommitment: string;
}

/** The key a file is sealed with, its epoch, and the rotation that opens the epoch when the write must. */
export interface WritePlan {
  epoch: number;
  key: Uint8Array;
  rotation?: Rotation;
}

/** An encrypted file ready to register; kept by the UI so a failed upload is retried with the same bytes. */
export interface SealedFile {
  patientId: number;
  category: Category;
  recordId?: number; // set for a new version of an existing record
  baseVersion?: number; // with recordId: the version this file replaces
  epoch: number; // the key epoch the file is sealed under
  rotation?: Rotation; // sent with the write when the file opens a new epoch
  plaintext: Uint8Array; // kept to seal again when someone else wrote first
  bytes: Uint8Array;
  sha256: string;
  uri?: string; // set once stored in IPFS
}

export interface UploadOutcome {
  recordId: number;
  version: number;
  alreadyRegistered: boolean;
  /** The write opened a new key epoch: the key went to the patient and `recipients` others; `skipped` readers have no encryption key. */
  rotation?: { epoch: number; recipients: number; skipped: string[] };
  /** Another version (this one) landed first: the file was sealed again on top of it. */
  overtook?: number;
}

export interface OpenedFile {
  integrity: "verified" | "mismatch";
  problem?: string; // why there is no plaintext
  plaintext?: Uint8Array;
  meta?: RecordMeta;
}

/**
 * The wallet key of each (chain, registry, address) this page has logged in with: the wallet is asked
 * for the signature once per page session, not at every login (a re-render, a second mount, switching
 * Keplr accounts back and forth). A refused or failed request is forgotten, so "Try again" asks again.
 */
const walletKeys = new Map<string, Promise<X25519KeyPair>>();
function sessionWalletKey(wallet: ArbitrarySigner, deploy: Deploy, address: string): Promise<X25519KeyPair> {
  const scope = { chainId: deploy.chain_id, registry: deploy.contracts.registry.address };
  const id = `${scope.chainId}/${scope.registry}/${address}`;
  let key = walletKeys.get(id);
  if (!key) {
    key = deriveWalletKey(wallet, scope, address);
    walletKeys.set(id, key);
    key.catch(() => walletKeys.delete(id));
  }
  return key;
}

export class Ehr {
  readonly registry: EhrRegistryQueryClient;
  readonly accessQuery: EhrAccessQueryClient;
  readonly ipfs: Ipfs;
  /** Who the addresses on screen are (the registry's directory), cached for this session. */
  readonly names: Names;
  private readonly categoryKeys = new Map<string, Uint8Array>();
  /** Envelopes of this wallet that did not open with its key, by key id (loadKeys skips them, unopenedKeys names them). */
  private readonly unopened = new Map<string, Omit<UnopenedKey, "openedBy" | "current">>();
  /** Who opened each epoch of a patient, as far as its audit log was read. */
  private readonly openers = new Map<number, { seq?: number; by: Map<string, string> }>();
  /** The network's emergency log as far as it was read (emergencyEvents). */
  private emergencyLog: EmergencyEvent[] = [];
  private emergencyRead?: Promise<EmergencyEvent[]>;
  private searchKey?: Uint8Array;
  private signingClient?: Promise<SigningCosmWasmClient>;

  private constructor(
    readonly deploy: Deploy,
    private readonly rpc: FailoverRpc,
    readonly address: string,
    private readonly signer: OfflineSigner,
    readonly walletKey: X25519KeyPair,
  ) {
    const querier = ContractQuerier.over(rpc);
    this.registry = new EhrRegistryQueryClient(querier.asCosmWasmClient(), deploy.contracts.registry.address);
    this.accessQuery = new EhrAccessQueryClient(querier.asCosmWasmClient(), deploy.contracts.access.address);
    this.ipfs = new Ipfs(deploy.ipfs_api_url);
    this.names = new Names(this.registry, address, this.accessQuery);
  }

  /** The chain id of the first endpoint that answers (which `rpc` then stays on). */
  static nodeChainId(rpc: FailoverRpc): Promise<string> {
    return ContractQuerier.over(rpc).chainId();
  }

  /** Queries and transactions go through `rpc`, which moves to the next endpoint when one does not answer. */
  static async open(deploy: Deploy, rpc: FailoverRpc, address: string, signer: OfflineSigner, wallet: ArbitrarySigner): Promise<Ehr> {
    return new Ehr(deploy, rpc, address, signer, await sessionWalletKey(wallet, deploy, address));
  }

  /** The signing client over `rpc`, loaded on first use (or by `preloadSigning`); a failed load is retried on the next call. */
  private signing(): Promise<SigningCosmWasmClient> {
    this.signingClient ??= (async () => {
      const [{ SigningCosmWasmClient }, { GasPrice }] = await Promise.all([import("@cosmjs/cosmwasm-stargate"), import("@cosmjs/stargate")]);
      return SigningCosmWasmClient.createWithSigner(Comet38Client.create(this.rpc), this.signer, { gasPrice: GasPrice.fromString(this.deploy.gas_price) });
    })().catch((e: unknown) => {
      this.signingClient = undefined;
      throw e;
    });
    return this.signingClient;
  }

  /** Starts loading the signing client in the background once the first screen is up. */
  preloadSigning(): void {
    this.signing().catch(() => undefined);
  }

  get publicKeyBase64(): string {
    return toBase64(this.walletKey.publicKey);
  }

  designation(): Promise<DesignationResponse> {
    return this.registry.designation({ address: this.address });
  }

  /** The patient; a NotFoundError when no patient has this id. */
  async patient(patientId: number): Promise<PatientInfo> {
    const { patient } = await this.registry.patient({ patientId });
    if (!patient) throw new NotFoundError(`Patient #${patientId}`);
    return patient;
  }

  /** The provider listing of an address; a NotFoundError when it was never credentialed. */
  async provider(address: string): Promise<ProviderInfo> {
    const { provider } = await this.registry.provider({ address });
    if (!provider) throw new NotFoundError(`The doctor ${address}`);
    return provider;
  }

  /** The registered key must be this wallet's derived key, or this wallet could not open what it is sent (FORMAT.md §5). */
  keyMatches(registeredBase64: string | null | undefined): boolean {
    return registeredBase64 === this.publicKeyBase64;
  }

  private async execute(instructions: ExecuteInstruction[], memo = ""): Promise<string> {
    const res = await (await this.signing()).executeMultiple(this.address, instructions, "auto", memo);
    return res.transactionHash;
  }
  /**
   * Executes instructions that store new category keys' envelopes (`fresh`); the keys enter the cache
   * only once the transaction has committed, so nothing is ever sealed under a key the chain cannot give back.
   */
  private async executeStoringKeys(fresh: NewKey[], instructions: ExecuteInstruction[]): Promise<string> {
    const tx = await this.execute(instructions);
    for (const k of fresh) this.categoryKeys.set(keyId(k.patientId, k.category, k.epoch), k.key);
    return tx;
  }
  /** A write (`writes`), preceded in the same transaction by the `RotateKey` its file was sealed for, if any. */
  private executeWrite(patientId: number, rotation: Rotation | undefined, writes: ExecuteInstruction[]): Promise<string> {
    if (!rotation) return this.execute(writes);
    const rotate = this.acc({
      rotate_key: {
        patient_id: patientId,
        category: rotation.category,
        epoch: rotation.epoch,
        own_envelope: rotation.ownEnvelope,
        envelopes: rotation.envelopes,
        escrow: rotation.escrow ?? [],
        escrow_key_commitment: rotation.escrowKeyCommitment ?? null,
      },
    });
    return this.executeStoringKeys([{ patientId, category: rotation.category, epoch: rotation.epoch, key: rotation.key }], [rotate, ...writes]);
  }
  /**
   * The patient's envelopes of new keys (`fresh`, the keys of `own`), followed by the trustees' shares
   * of those in categories the patient escrows: an escrowed category's first key is escrowed in the
   * same transaction (the contract refuses otherwise), as the Rust client does.
   */
  private async storeOwn(patientId: number, own: KeyEnvelope[], fresh: NewKey[]): Promise<ExecuteInstruction[]> {
    if (!own.length) return [];
    const out = [this.acc({ store_own_envelopes: { patient_id: patientId, key_envelopes: own } })];
    const escrows: EpochEscrow[] = [];
    for (const k of fresh) {
      const escrow = await this.rotationEscrow(patientId, k.category, k.epoch, k.key);
      if (escrow) escrows.push({ category: k.category, epoch: k.epoch, shares: escrow.shares, key_commitment: escrow.keyCommitment });
    }
    for (let i = 0; i < escrows.length; i += MAX_ESCROWS_PER_MESSAGE)
      out.push(this.acc({ escrow_shares: { patient_id: patientId, escrows: escrows.slice(i, i + MAX_ESCROWS_PER_MESSAGE) } }));
    return out;
  }
  private reg = (msg: object): ExecuteInstruction => ({ contractAddress: this.deploy.contracts.registry.address, msg });
  private acc = (msg: object): ExecuteInstruction => ({ contractAddress: this.deploy.contracts.access.address, msg });

  // ------------------------------------------------------------------ keys

  async currentEpoch(patientId: number, category: Category): Promise<number> {
    const { epochs } = await this.accessQuery.epochs({ patientId });
    return epochs.find((e) => e.category === category)?.epoch ?? 0;
  }

  /** Every envelope wrapped to this wallet as a grantee of the patient (all categories and epochs), page by page. */
  private async heldEnvelopes(patientId: number): Promise<KeyEnvelope[]> {
    const envelopes: KeyEnvelope[] = [];
    for (;;) {
      const last = envelopes.at(-1);
      const { key_envelopes: page } = await this.accessQuery.keyEnvelopes({
        patientId,
        holder: this.address,
        startAfter: last ? { category: last.category, epoch: last.epoch } : undefined,
        limit: PAGE,
      });
      envelopes.push(...page);
      if (page.length < PAGE) return envelopes;
    }
  }

  /** The patient's own envelopes (all categories and epochs): the chain's pages, followed by their `next` until it has none. */
  private async ownEnvelopes(patientId: number): Promise<KeyEnvelope[]> {
    const envelopes: KeyEnvelope[] = [];
    let startAfter: CategoryEpoch | undefined;
    for (;;) {
      const { key_envelopes: page, next } = await this.accessQuery.ownEnvelopes({ patientId, startAfter, limit: PAGE });
      envelopes.push(...page);
      // A next that does not move on would page forever: stop there.
      if (!next || (startAfter && next.category === startAfter.category && next.epoch === startAfter.epoch)) return envelopes;
      startAfter = next;
    }
  }

  /** Every share one trustee holds for the patient, page by page. */
  private async sharesHeldBy(patientId: number, trustee: string): Promise<EscrowedShare[]> {
    const shares: EscrowedShare[] = [];
    for (;;) {
      const last = shares.at(-1);
      const { shares: page } = await this.accessQuery.escrowedShares({
        patientId,
        trustee,
        startAfter: last ? { category: last.category, epoch: last.epoch } : undefined,
        limit: PAGE,
      });
      shares.push(...page);
      if (page.length < PAGE) return shares;
    }
  }

  /**
   * Opens every envelope this wallet can: the patient's own envelopes, or those wrapped to this
   * wallet as a grantee (they stay listed after access ends: what was handed over stays readable).
   * An envelope that does not open with this wallet's key (junk a grantee stored with its rotation,
   * or a key sealed to another one) is skipped and remembered (`unopenedKeys` says whose and which
   * epoch): the other keys still open, and the files sealed with it show "no key".
   */
  async loadKeys(patient: PatientInfo): Promise<void> {
    const own = patient.owner === this.address;
    const envelopes = own ? await this.ownEnvelopes(patient.id) : await this.heldEnvelopes(patient.id);
    for (const e of envelopes) {
      const id = keyId(patient.id, e.category, e.epoch);
      if (this.categoryKeys.has(id) || this.unopened.has(id)) continue;
      try {
        this.categoryKeys.set(id, await openEnvelope(this.walletKey.secretKey, e.envelope, { patientId: patient.id, category: e.category, epoch: e.epoch }));
      } catch (err) {
        if (!(err instanceof CryptoError)) throw err;
        console.warn(`ehr: the ${own ? "own" : "handed"} envelope of patient ${patient.id} ${e.category} epoch ${e.epoch} does not open with this wallet's key: skipped`);
        this.unopened.set(id, { patientId: patient.id, category: e.category, epoch: e.epoch, handed: !own });
      }
    }
  }

  /**
   * The envelopes of the patient that did not open with this wallet's key (after loading them), each
   * with who opened its epoch (the audit log's `key_rotated` entry) and whether it is the category's
   * current epoch: for `unopenedKeyText`.
   */
  async unopenedKeys(patient: PatientInfo): Promise<UnopenedKey[]> {
    await this.loadKeys(patient);
    const mine = [...this.unopened.values()].filter((u) => u.patientId === patient.id);
    if (!mine.length) return [];
    const [{ epochs }, openers] = await Promise.all([this.accessQuery.epochs({ patientId: patient.id }), this.epochOpeners(patient.id)]);
    const current = new Map(epochs.map((e) => [e.category, e.epoch]));
    return mine
      .map((u) => ({ ...u, openedBy: openers.get(`${u.category}/${u.epoch}`), current: (current.get(u.category) ?? 0) === u.epoch }))
      .sort((a, b) => a.category.localeCompare(b.category) || a.epoch - b.epoch);
  }

  /** Who opened each (category, epoch) of the patient, from the audit log's `key_rotated` entries (read on from where the last call stopped). */
  private async epochOpeners(patientId: number): Promise<Map<string, string>> {
    const known = this.openers.get(patientId) ?? { seq: undefined as number | undefined, by: new Map<string, string>() };
    this.openers.set(patientId, known);
    for (;;) {
      const page = await this.auditLog(patientId, known.seq);
      for (const e of page) if ("key_rotated" in e.action) known.by.set(`${e.action.key_rotated.category}/${e.action.key_rotated.epoch}`, e.actor);
      if (page.length) known.seq = page.at(-1)!.seq;
      if (page.length < PAGE) return known.by;
    }
  }

  private keyFor = (patientId: bigint, category: Category, epoch: number) => this.categoryKeys.get(keyId(Number(patientId), category, epoch));

  /** What this wallet may do with the patient's records now (or `party`, another address), as the chain's rule book answers. */
  capabilities(patientId: number, party = this.address): Promise<CapabilitiesResponse> {
    return this.accessQuery.capabilities({ patientId, party });
  }

  /** The chain's write plan of this wallet for one category: the current epoch, whether to rotate, and the new key's recipients. */
  writePlan(patientId: number, category: Category): Promise<WritePlanResponse> {
    return this.accessQuery.writePlan({ patientId, category, writer: this.address });
  }

  /**
   * The key a new file of a category is sealed with, as the chain's write plan says (keys.ts
   * `writeStep`): the current epoch's, when the plan does not rotate and this wallet opens that key;
   * otherwise a new key for the next epoch, wrapped to the patient and the plan's recipients, returned
   * as the `rotation` to send in the same transaction as the write. A current key that does not open
   * here is replaced when the chain accepts it (the patient always may), else nothing is written and
   * the error says why.
   */
  async writingKey(patient: PatientInfo, category: Category): Promise<WritePlan> {
    await this.ensureRegisteredKey(patient);
    const plan = await this.writePlan(patient.id, category);
    let key: Uint8Array | undefined;
    if (!plan.rotate) {
      const id = keyId(patient.id, category, plan.current_epoch);
      key = this.categoryKeys.get(id);
      if (!key && !this.unopened.has(id)) {
        await this.loadKeys(patient);
        key = this.categoryKeys.get(id);
      }
    }
    const step = writeStep(plan, !!key);
    if (step.kind === "seal") return { epoch: step.epoch, key: key! };
    if (step.kind === "refused") throw new KeyMismatchError(refusedWriteText(category, step));
    const rotation = await this.newRotation(patient, category, step.epoch, plan);
    return { epoch: rotation.epoch, key: rotation.key, rotation };
  }

  /**
   * Refuses to seal anything while this wallet's derived key is not the one registered on chain (the
   * patient's, or this doctor's published key): what it sealed would open for nobody reading with the
   * registered key (FORMAT.md §5; the Rust client refuses the same way).
   */
  private async ensureRegisteredKey(patient: PatientInfo): Promise<void> {
    const registered = patient.owner === this.address ? patient.encryption_key : (await this.provider(this.address)).encryption_key;
    if (!registered)
      throw new KeyMismatchError("Your encryption key is not on the chain yet: publish it first (doctors: \"Publish my encryption key\"). Nothing was written.");
    if (!this.keyMatches(registered))
      throw new KeyMismatchError(
        `This wallet derives another encryption key for chain ${this.deploy.chain_id} than the one registered on the chain: writing is refused, since nothing sealed now would open with the registered key.`,
      );
  }

  /**
   * A new category key for `epoch`, sealed to the patient's registered key and to each recipient of the
   * write plan that published one, with the trustees' shares when the plan says the category is escrowed.
   */
  private async newRotation(patient: PatientInfo, category: Category, epoch: number, plan: WritePlanResponse): Promise<Rotation> {
    if (!plan.patient_key) throw new Error(`Patient #${patient.id} has no registered encryption key: nothing can be sealed for them yet.`);
    const patientKey = publicKeyOf(plan.patient_key);
    if (!patientKey) throw new Error(`The encryption key registered for patient #${patient.id} is not a usable X25519 key: nothing can be sealed for them.`);
    await this.names.resolve(plan.recipients.map((r) => r.address)).catch(() => undefined);
    const { recipients, skipped } = rotationRecipients(plan.recipients, patient.owner, (a) => this.names.nameOf(a));
    const key = randomBytes(32);
    const ctx = { patientId: patient.id, category, epoch };
    const escrow = plan.escrow ? await this.escrowShares(plan.escrow, patient.id, category, epoch, key) : undefined;
    return {
      category,
      epoch,
      key,
      ownEnvelope: await sealEnvelope(patientKey, key, ctx),
      envelopes: await Promise.all(recipients.map(async (r) => ({ recipient: r.address, envelope: await sealEnvelope(r.publicKey, key, ctx) }))),
      skipped,
      escrow: escrow?.shares ?? [],
      escrowKeyCommitment: escrow?.keyCommitment,
    };
  }

  /** A new key for (patient, category, epoch) and the patient's own envelope of it; it enters the cache once stored (executeStoringKeys). */
  private async newOwnEnvelope(patientId: number, category: Category, epoch: number): Promise<{ envelope: KeyEnvelope; fresh: NewKey }> {
    const key = randomBytes(32);
    return {
      envelope: { category, epoch, envelope: await sealEnvelope(this.walletKey.publicKey, key, { patientId, category, epoch }) },
      fresh: { patientId, category, epoch, key },
    };
  }

  // ------------------------------------------------------------------ escrow (break glass, wallet recovery)

  /** The network's trustees (threshold 0: none yet). */
  trustees(): Promise<TrusteesResponse> {
    return this.accessQuery.trustees();
  }

  /**
   * The patient's escrow policy: `categories` open in an emergency, `recovery` whether every
   * category is escrowed for a lost wallet, `escrowed` the categories the trustees hold shares of.
   */
  escrowPolicy(patientId: number): Promise<EscrowPolicyResponse> {
    return this.accessQuery.escrowPolicy({ patientId });
  }

  /**
   * `key` split into one share per trustee of the current set (threshold k), each sealed to its
   * trustee (FORMAT.md §6) and committed to, with the commitment to the key: whoever combines
   * released shares can then name a wrong one and use only the committed key.
   */
  private async escrowShares(trustees: TrusteesResponse | EscrowPlan, patientId: number, category: Category, epoch: number, key: Uint8Array): Promise<KeyEscrow> {
    if (trustees.threshold < 2 || trustees.trustees.length < trustees.threshold) throw new Error("The network has no trustees yet: nothing can be escrowed.");
    const shares = splitKey(key, trustees.threshold, trustees.trustees.length);
    const ctx = { patientId, category, epoch, setVersion: trustees.set_version };
    const sealed = await Promise.all(
      trustees.trustees.map(async (t, i) => {
        if (!t.encryption_key) throw new Error(`Trustee ${i + 1} of the network has not published its encryption key yet: nothing can be escrowed until it does.`);
        const publicKey = publicKeyOf(t.encryption_key);
        if (!publicKey) throw new Error(`Trustee ${i + 1} of the network published a key that is not a usable X25519 key: nothing can be escrowed until it publishes another.`);
        return { trustee: t.address, share: await sealShare(publicKey, shares[i], ctx), commitment: toBase64(await shareCommitment(ctx, t.address, shares[i])) };
      }),
    );
    return { shares: sealed, keyCommitment: toBase64(await keyCommitment({ patientId, category, epoch }, key)) };
  }

  /**
   * The escrow a new key of (category, epoch) must carry: the trustees' shares when the patient
   * escrows the category (for emergencies or for recovery), none otherwise.
   */
  private async rotationEscrow(patientId: number, category: Category, epoch: number, key: Uint8Array): Promise<KeyEscrow | undefined> {
    if (!(await this.escrowPolicy(patientId)).escrowed.includes(category)) return undefined;
    return this.escrowShares(await this.trustees(), patientId, category, epoch, key);
  }

  /**
   * The patient: open `categories` in an emergency (empty: none), and with `recovery` escrow every
   * category so a lost wallet can be recovered. Every epoch of each escrowed category that this
   * wallet holds a key for is split and sealed to the current trustees in the same transaction as
   * the policy (at most MAX_ESCROWS_PER_MESSAGE epochs per message), as the Rust client's
   * `set_escrow` does: the policy never names a category whose keys the trustees cannot release.
   * Epochs the current trustee set already holds are left as they are. Returns how many epochs
   * were escrowed.
   */
  async setEscrow(patient: PatientInfo, categories: Category[], recovery: boolean): Promise<number> {
    const escrows: EpochEscrow[] = [];
    const escrowed = escrowedCategories(categories, recovery);
    if (escrowed.length) {
      const trustees = await this.trustees();
      if (trustees.threshold === 0) throw new Error("The network has no trustees yet: nothing can be escrowed.");
      await this.ensureRegisteredKey(patient);
      await this.loadKeys(patient);
      const { epochs } = await this.accessQuery.epochs({ patientId: patient.id });
      const keyOf = (category: Category, epoch: number) => this.categoryKeys.get(keyId(patient.id, category, epoch));
      // Epochs the current trustee set holds already are not split again: shares of two splits of
      // one key, released in one emergency, would combine into a wrong key.
      const held = new Set(
        (await this.sharesHeldBy(patient.id, trustees.trustees[0].address))
          .filter((s) => s.set_version === trustees.set_version)
          .map((s) => `${s.category}/${s.epoch}`),
      );
      const toEscrow = epochsToEscrow(escrowed, epochs, (c, e) => !!keyOf(c, e)).filter(({ category, epoch }) => !held.has(`${category}/${epoch}`));
      for (const { category, epoch } of toEscrow) {
        const escrow = await this.escrowShares(trustees, patient.id, category, epoch, keyOf(category, epoch)!);
        escrows.push({ category, epoch, shares: escrow.shares, key_commitment: escrow.keyCommitment });
      }
    }
    const msgs = [this.acc({ set_escrow_policy: { patient_id: patient.id, categories, recovery } })];
    for (let i = 0; i < escrows.length; i += MAX_ESCROWS_PER_MESSAGE)
      msgs.push(this.acc({ escrow_shares: { patient_id: patient.id, escrows: escrows.slice(i, i + MAX_ESCROWS_PER_MESSAGE) } }));
    await this.execute(msgs);
    return escrows.length;
  }

  /** The patient's latest wallet-recovery request, if one was ever made. */
  async recovery(patientId: number): Promise<RecoveryInfo | undefined> {
    return (await this.accessQuery.recovery({ patientId })).recovery ?? undefined;
  }

  /** The patient's wallet: cancels the pending request to move the patient to another wallet. */
  cancelRecovery(patientId: number): Promise<string> {
    return this.execute([this.acc({ cancel_recovery: { patient_id: patientId } })]);
  }

  /** Every share the trustees released to this wallet for a patient, page by page. */
  async releasedShares(patientId: number): Promise<ReleasedShareInfo[]> {
    const all: ReleasedShareInfo[] = [];
    for (;;) {
      const last = all.at(-1);
      const { shares } = await this.accessQuery.releasedShares({
        patientId,
        doctor: this.address,
        startAfter: last ? { category: last.category, epoch: last.epoch, trustee: last.trustee } : undefined,
        limit: PAGE,
      });
      all.push(...shares);
      if (shares.length < PAGE) return all;
    }
  }

  /**
   * The doctor in an emergency: opens the shares released to this wallet and combines every
   * (category, epoch) that has its threshold into the session's key cache (memory only: nothing is
   * stored). A share that does not open is skipped. Returns how far each (category, epoch) has come.
   */
  async releaseProgress(patientId: number): Promise<ReleaseProgress[]> {
    return releaseProgressOf(patientId, await this.releasedShares(patientId), async (s) => {
      try {
        return await openShare(this.walletKey.secretKey, s.share, { patientId, category: s.category, epoch: s.epoch, setVersion: s.set_version });
      } catch (err) {
        if (err instanceof CryptoError) return undefined;
        throw err;
      }
    }, (category, epoch, key) => {
      const id = keyId(patientId, category, epoch);
      if (!this.categoryKeys.has(id)) this.categoryKeys.set(id, key);
    });
  }

  /** A grantee's published encryption key, checked as the chain checks keys; an error in words when there is none to seal to. */
  private async granteeKey(grantee: string): Promise<Uint8Array> {
    const provider = await this.provider(grantee);
    if (!provider.encryption_key) throw new Error(`${await this.nameFor(grantee)} has not published an encryption key yet: ask them to log in once.`);
    const key = publicKeyOf(provider.encryption_key);
    if (!key) throw new Error(`The encryption key ${this.names.nameOf(grantee)} published is not a usable X25519 key: nothing can be shared with them until they publish another.`);
    return key;
  }

  /** Envelopes for a grantee: every key held for the categories (the current epoch's created when missing). */
  private async envelopesFor(patient: PatientInfo, grantee: string, categories: Category[]): Promise<{ own: KeyEnvelope[]; fresh: NewKey[]; grantee: KeyEnvelope[] }> {
    const recipient = await this.granteeKey(grantee);
    await this.ensureRegisteredKey(patient);
    await this.loadKeys(patient);
    const own: KeyEnvelope[] = [];
    const fresh: NewKey[] = [];
    const out: KeyEnvelope[] = [];
    for (const category of categories) {
      const current = await this.currentEpoch(patient.id, category);
      let created: Uint8Array | undefined;
      // A current own envelope that does not open stays as it is (the chain keeps one per epoch): the
      // grantee gets the older keys, and the patient's next write opens a new epoch for both.
      if (!this.categoryKeys.has(keyId(patient.id, category, current)) && !this.unopened.has(keyId(patient.id, category, current))) {
        const made = await this.newOwnEnvelope(patient.id, category, current);
        own.push(made.envelope);
        fresh.push(made.fresh);
        created = made.fresh.key;
      }
      for (let epoch = current; epoch >= 0; epoch--) {
        const key = epoch === current && created ? created : this.categoryKeys.get(keyId(patient.id, category, epoch));
        if (key) out.push({ category, epoch, envelope: await sealEnvelope(recipient, key, { patientId: patient.id, category, epoch }) });
      }
    }
    return { own, fresh, grantee: out };
  }

  // ------------------------------------------------------------------ patients and providers

  /** Registers this wallet as a patient, then stores the encrypted profile (its key envelope in the same tx). */
  async registerPatient(profile: Uint8Array): Promise<number> {
    await this.execute([this.reg({ register_patient: { encryption_key: this.publicKeyBase64, profile: null } })]);
    const d = await this.designation();
    if (!d.patient_id) throw new Error("registration committed but the registry has no patient for this address");
    await this.saveProfile(await this.patient(d.patient_id), profile);
    return d.patient_id;
  }

  /**
   * Seals and stores a new profile version based on `patient.profile_version`. When another version
   * (or a new Profile key) landed first, re-reads the patient and tries once more; a second conflict
   * is a ConflictError.
   */
  async saveProfile(patient: PatientInfo, profile: Uint8Array): Promise<void> {
    await onceMoreOnConflict("your profile", async (conflict) => {
      const base = conflict ? await this.patient(patient.id) : patient;
      const { epoch, key, rotation } = await this.writingKey(base, "profile");
      const ctx: FileContext = { patientId: base.id, category: "profile", epoch, recordVersion: base.profile_version + 1 };
      const file = encryptFile(profile, ctx, key);
      const uri = await this.ipfs.add(file);
      const blob: BlobRef = { sha256: sha256Hex(file), uri, size: file.length };
      await this.executeWrite(base.id, rotation, [this.reg({ update_patient: { patient_id: base.id, base_version: base.profile_version, epoch, profile: blob } })]);
    });
  }

  /** `json` is the parsed plaintext, of any shape: read it through `profileOf`. */
  async readProfile(patient: PatientInfo): Promise<OpenedFile & { json?: unknown }> {
    if (!patient.profile) return { integrity: "verified" };
    const bytes = await this.ipfs.get(patient.profile.uri);
    if (sha256Hex(bytes) !== patient.profile.sha256) return { integrity: "mismatch" };
    await this.loadKeys(patient);
    const plaintext = decryptFile(bytes, this.keyFor);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(plaintext));
    } catch {
      json = undefined; // a profile written by another client need not be JSON: the export keeps its bytes
    }
    return { integrity: "verified", plaintext, json };
  }

  /** Accepts a doctor's proposal and grants that doctor the chosen categories, all in one transaction. */
  async acceptProposal(patientId: number, doctor: string, scope: Scope, categories: Category[], expires: Date | null): Promise<void> {
    const recipient = await this.granteeKey(doctor);
    const own: KeyEnvelope[] = [];
    const fresh: NewKey[] = [];
    const shared: KeyEnvelope[] = [];
    for (const category of categories) {
      const made = await this.newOwnEnvelope(patientId, category, 0); // a new patient: every category at epoch 0
      own.push(made.envelope);
      fresh.push(made.fresh);
      shared.push({ category, epoch: 0, envelope: await sealEnvelope(recipient, made.fresh.key, { patientId, category, epoch: 0 }) });
    }
    await this.executeStoringKeys(fresh, [
      this.reg({ accept_patient: { patient_id: patientId, encryption_key: this.publicKeyBase64 } }),
      ...(categories.length
        ? [
            ...(await this.storeOwn(patientId, own, fresh)),
            this.acc({ grant: { patient_id: patientId, grantee: doctor, scope, categories, expires: expires ? chainTime(expires) : null, key_envelopes: shared } }),
          ]
        : []),
    ]);
  }

  declineProposal(patientId: number): Promise<string> {
    return this.execute([this.reg({ decline_patient: { patient_id: patientId } })]);
  }

  proposePatient(address: string): Promise<string> {
    return this.execute([this.reg({ propose_patient: { address, profile: null } })]);
  }

  async publishProviderKey(): Promise<string> {
    const tx = await this.execute([this.reg({ set_provider_key: { encryption_key: this.publicKeyBase64 } })]);
    await this.names.refresh([this.address]);
    return tx;
  }

  /**
   * Admin: lists `address` as a credentialed provider under `displayName`, `organization` (see
   * listing.ts for the rules). Again for a credentialed provider with another name or organisation:
   * corrects the listing and keeps the credential date.
   */
  async credentialDoctor(address: string, displayName: string, organization: string): Promise<string> {
    const tx = await this.execute([this.reg({ credential_provider: { address, display_name: displayName, organization } })]);
    await this.names.refresh([address]);
    return tx;
  }

  /** Admin: withdraws a provider's credential; their grants stop at once and the keys they hold go stale. */
  async withdrawCredential(address: string): Promise<string> {
    const tx = await this.execute([this.reg({ revoke_provider: { address } })]);
    await this.names.refresh([address]);
    return tx;
  }

  async providers(startAfter?: string): Promise<ProviderInfo[]> {
    return (await this.registry.providers({ startAfter, limit: PAGE })).providers;
  }

  /** Every listed provider, page by page; they also fill the names cache. */
  async allProviders(): Promise<ProviderInfo[]> {
    const all: ProviderInfo[] = [];
    for (;;) {
      const page = await this.providers(all.at(-1)?.address);
      all.push(...page);
      if (page.length < PAGE) break;
    }
    this.names.prime(all);
    return all;
  }

  /** The name of one address (looked up if needed), capitalised for the start of a sentence. */
  private async nameFor(address: string): Promise<string> {
    await this.names.resolve([address]).catch(() => undefined);
    return capitalise(this.names.nameOf(address));
  }

  // ------------------------------------------------------------------ records

  async recordsPage(patientId: number, category: Category | undefined, startAfter?: number): Promise<RecordRow[]> {
    const { records } = await this.registry.recordsByPatient({ patientId, category, startAfter, limit: PAGE });
    return records.map(rowOf);
  }

  /** Every record of the patient, all pages of `records_by_patient`, as the chain answers. */
  async allRecords(patientId: number): Promise<RecordInfo[]> {
    const all: RecordInfo[] = [];
    for (;;) {
      const { records } = await this.registry.recordsByPatient({ patientId, startAfter: all.at(-1)?.id, limit: PAGE });
      all.push(...records);
      if (records.length < PAGE) return all;
    }
  }

  /**
   * Brings this wallet's search index of the patient (searchIndex.ts) up to date in `store`: the key
   * material is read once, then only versions newer than the indexed ones are fetched and opened.
   */
  syncSearchIndex(patient: PatientInfo, store: IndexStore, on?: SyncCallbacks): Promise<IndexData> {
    const scope = { chainId: this.deploy.chain_id, registry: this.deploy.contracts.registry.address, address: this.address };
    this.searchKey ??= indexKey(this.walletKey.secretKey, scope);
    return syncIndex(
      store,
      this.searchKey,
      { ...scope, patientId: patient.id },
      {
        records: () => this.allRecords(patient.id),
        readable: async () => readableOf(await this.capabilities(patient.id)),
        loadKeys: () => this.loadKeys(patient),
        open: async (r): Promise<FetchResult> => {
          const o = await this.openBlob(patient, r.category, r.latest.version, r.latest.blob, r.latest.epoch, false);
          return o.meta ? { kind: "opened", meta: o.meta } : { kind: "unreadable" };
        },
      },
      on,
    );
  }

  /**
   * What "Download my records" turns into the FHIR Bundle (fhirExport.ts): the profile and the latest
   * version of every record decrypted here (6 files at a time, key material read once), every grant,
   * the whole audit log and the directory names of the addresses in them. A version that does not
   * open here (no key, a file that fails its hash) is left out, as the CLI does, and named in `unread`.
   */
  async exportInput(patient: PatientInfo): Promise<{ input: ExportInput; unread: number[] }> {
    await this.loadKeys(patient);
    const records = (await this.allRecords(patient.id)).filter((r) => r.status !== "deleted");
    const opened: ExportInput["records"] = [];
    const unread: number[] = [];
    const openAll = eachLimited(records, 6, async (r) => {
      const o = await this.openBlob(patient, r.category, r.latest.version, r.latest.blob, r.latest.epoch, false);
      if (!o.plaintext) unread.push(r.id);
      else {
        const { version, epoch, author, time, blob } = r.latest;
        opened.push({ record_id: r.id, category: r.category, version, epoch, sha256: blob.sha256, uri: blob.uri, size: blob.size, author, time, plaintext: toBase64(o.plaintext) });
      }
    });
    const [profile, grants, audit] = await Promise.all([
      this.readProfile(patient),
      allPages((last?: GrantInfo) => this.grantsByPatient(patient.id, last?.grantee)),
      allPages((last?: AuditEntry) => this.auditLog(patient.id, last?.seq)),
      openAll,
    ]);
    const addresses = new Set([...opened.map((o) => o.author), ...grants.map((g) => g.grantee), ...audit.map((e) => e.actor)]);
    await this.names.resolve(addresses);
    const names: Record<string, string> = {};
    for (const a of addresses) {
      const p = this.names.provider(a);
      if (p) names[a] = listing(p);
    }
    const input: ExportInput = {
      chain_id: this.deploy.chain_id,
      registry: this.deploy.contracts.registry.address,
      exported_at: (BigInt(Date.now()) * 1_000_000n).toString(),
      patient: { id: patient.id, profile: profile.plaintext ? toBase64(profile.plaintext) : null },
      records: opened,
      grants,
      audit,
      names,
    };
    return { input, unread: unread.sort((a, b) => a - b) };
  }

  async history(recordId: number): Promise<RecordVersion[]> {
    const versions: RecordVersion[] = [];
    for (;;) {
      const page = await this.registry.recordHistory({ recordId, startAfter: versions.at(-1)?.version, limit: PAGE });
      versions.push(...page.versions);
      if (page.versions.length < PAGE) return versions;
    }
  }

  /**
   * Encrypts a new record (or a new version of `record`, based on the version given) for the
   * patient; nothing is sent yet. The file carries its key epoch and, when the write must open a new
   * epoch, the rotation to send with it.
   */
  async seal(patient: PatientInfo, category: Category, plaintext: Uint8Array, record?: { id: number; version: number }): Promise<SealedFile> {
    const { epoch, key, rotation } = await this.writingKey(patient, category);
    const bytes = encryptFile(plaintext, { patientId: patient.id, category, epoch, recordVersion: record ? record.version + 1 : 1 }, key);
    return { patientId: patient.id, category, recordId: record?.id, baseVersion: record?.version, epoch, rotation, plaintext, bytes, sha256: sha256Hex(bytes) };
  }

  /**
   * Stores and registers a sealed file. Safe to call again after any failure: the same ciphertext is
   * looked up by its hash first (the registry refuses a hash twice), so a retry never adds a second record.
   * When someone else wrote first (another version of the record, or a new key for the category:
   * errors.ts `chainConflict`), the record is read again, the same plaintext sealed anew and sent
   * once more; a second conflict is a ConflictError ("someone else changed the record").
   */
  async upload(file: SealedFile): Promise<UploadOutcome> {
    const what = file.recordId === undefined ? `the ${file.category} records` : `record #${file.recordId}`;
    return onceMoreOnConflict(what, async (conflict) => {
      if (!conflict) return this.register(file);
      const patient = await this.patient(file.patientId);
      const record = file.recordId === undefined ? undefined : { id: file.recordId, version: (await this.record(file.recordId)).latest.version };
      const out = await this.register(await this.seal(patient, file.category, file.plaintext, record));
      return conflict.kind === "version" ? { ...out, overtook: conflict.current } : out;
    });
  }

  private async register(file: SealedFile): Promise<UploadOutcome> {
    const existing = await this.recordBySha256(file.patientId, file.sha256);
    if (existing) {
      // Found by its hash: the transaction that registered it, with its rotation, committed.
      if (file.rotation) this.categoryKeys.set(keyId(file.patientId, file.category, file.rotation.epoch), file.rotation.key);
      return { ...existing, alreadyRegistered: true };
    }
    file.uri ??= await this.ipfs.add(file.bytes);
    const blob: BlobRef = { sha256: file.sha256, uri: file.uri, size: file.bytes.length };
    await this.executeWrite(file.patientId, file.rotation, [
      this.reg(
        file.recordId === undefined
          ? { add_record: { patient_id: file.patientId, category: file.category, epoch: file.epoch, blob } }
          : { update_record: { record_id: file.recordId, base_version: file.baseVersion!, epoch: file.epoch, blob } },
      ),
    ]);
    const added = await this.recordBySha256(file.patientId, file.sha256);
    if (!added) throw new Error("the transaction committed but the record is not found by its hash");
    return { ...added, alreadyRegistered: false, rotation: file.rotation && { epoch: file.rotation.epoch, recipients: file.rotation.envelopes.length, skipped: file.rotation.skipped } };
  }

  private async record(recordId: number): Promise<RecordInfo> {
    const { record } = await this.registry.record({ recordId });
    if (!record) throw new NotFoundError(`Record #${recordId}`);
    return record;
  }

  private async recordBySha256(patientId: number, sha256: string): Promise<{ recordId: number; version: number } | undefined> {
    const { record } = await this.registry.recordBySha256({ patientId, sha256 });
    return record ? { recordId: record.id, version: record.latest.version } : undefined;
  }

  /**
   * Fetches a version's ciphertext, re-hashes it against the chain, and decrypts it only when it
   * matches. `epoch` is the key epoch the chain says the file is sealed under (RecordVersion.epoch):
   * its header must say the same. A key not in the cache is looked up on chain unless `reloadKeys` is
   * false (the search index loads them once per sync, not once per file).
   */
  async openBlob(patient: PatientInfo, category: Category, version: number, blob: BlobRef, chainEpoch?: number, reloadKeys = true): Promise<OpenedFile> {
    const bytes = await this.ipfs.get(blob.uri);
    if (sha256Hex(bytes) !== blob.sha256 || bytes.length !== blob.size) return { integrity: "mismatch" };
    try {
      const epoch = chainEpoch ?? parseHeader(bytes).epoch; // patient, category, epoch and version must match the chain
      const id = keyId(patient.id, category, epoch);
      if (reloadKeys && !this.categoryKeys.has(id) && !this.unopened.has(id)) await this.loadKeys(patient);
      const plaintext = decryptFile(bytes, this.keyFor, { patientId: patient.id, category, recordVersion: version, epoch });
      return { integrity: "verified", plaintext, meta: metadataOf(plaintext) };
    } catch (e) {
      const problem = explain(e);
      if (problem.kind === "integrity") return { integrity: "mismatch", problem: problem.message };
      if (problem.kind === "keys") return { integrity: "verified", problem: problem.message };
      throw e;
    }
  }

  /** Tombstones a record: the patient, or a doctor with Manage on its category. */
  deleteRecord(recordId: number): Promise<string> {
    return this.execute([this.reg({ delete_record: { record_id: recordId } })]);
  }

  /** The patient's own act (no doctor, whatever its grant, and no admin may): tombstones the patient; the id is never reused, the profile pointer is dropped at once. */
  deletePatient(patientId: number): Promise<string> {
    return this.execute([this.reg({ delete_patient: { patient_id: patientId } })]);
  }

  /**
   * Drops up to 100 stored record entries and up to 100 grants of a deleted patient, in one
   * transaction (anyone may; the work per transaction is bounded). Returns how many of each were
   * removed: both 0 when nothing is left.
   */
  async purgeDeletedPatient(patientId: number): Promise<{ recordEntries: number; grants: number }> {
    const registry = this.deploy.contracts.registry.address;
    const access = this.deploy.contracts.access.address;
    const result = await (await this.signing()).executeMultiple(
      this.address,
      [this.reg({ purge_deleted_records: { patient_id: patientId, limit: 100 } }), this.acc({ purge_deleted_grants: { patient_id: patientId, limit: 100 } })],
      "auto",
    );
    const removedBy = (contract: string) =>
      Number(
        result.events
          .filter((event) => event.type === "wasm" && event.attributes.some((a) => a.key === "_contract_address" && a.value === contract))
          .flatMap((event) => event.attributes)
          .find((attribute) => attribute.key === "removed")?.value ?? 0,
      );
    return { recordEntries: removedBy(registry), grants: removedBy(access) };
  }

  // ------------------------------------------------------------------ grants, requests, audit

  async grant(patient: PatientInfo, grantee: string, scope: Scope, categories: Category[], expires: Date | null): Promise<string> {
    const { own, fresh, grantee: envelopes } = await this.envelopesFor(patient, grantee, categories);
    return this.executeStoringKeys(fresh, [
      ...(await this.storeOwn(patient.id, own, fresh)),
      this.acc({ grant: { patient_id: patient.id, grantee, scope, categories, expires: expires ? chainTime(expires) : null, key_envelopes: envelopes } }),
    ]);
  }

  /**
   * Removes a grant. The former grantee keeps the keys it was handed, so the categories' current
   * epochs become stale: the next write into each opens a new epoch whose key goes to the patient
   * and every remaining reader (writingKey), never to the former grantee.
   */
  revoke(patientId: number, grantee: string): Promise<string> {
    return this.execute([this.acc({ revoke: { patient_id: patientId, grantee } })]);
  }

  async approveRequest(patient: PatientInfo, request: AccessRequestInfo, expires: Date | null): Promise<string> {
    const { own, fresh, grantee: envelopes } = await this.envelopesFor(patient, request.requester, request.categories);
    return this.executeStoringKeys(fresh, [
      ...(await this.storeOwn(patient.id, own, fresh)),
      this.acc({ approve_request: { request_id: request.id, expires: expires ? chainTime(expires) : null, key_envelopes: envelopes } }),
    ]);
  }

  denyRequest(requestId: number): Promise<string> {
    return this.execute([this.acc({ deny_request: { request_id: requestId } })]);
  }

  requestAccess(patientId: number, scope: Scope, categories: Category[]): Promise<string> {
    return this.execute([this.acc({ request_access: { patient_id: patientId, scope, categories } })]);
  }

  /** Breaks the glass: time-boxed read access for `reason`, written to the patient's audit log. */
  emergencyAccess(patientId: number, reason: EmergencyReason): Promise<string> {
    return this.execute([this.acc({ emergency_access: { patient_id: patientId, reason } })]);
  }

  /**
   * The patient: ends `doctor`'s open emergency window now. The epochs the doctor was handed become
   * stale, so the next write of each rotates past it; the doctor may declare again only once the
   * window's planned end has passed.
   */
  endEmergency(patientId: number, doctor: string): Promise<string> {
    return this.execute([this.acc({ end_emergency: { patient_id: patientId, doctor } })]);
  }

  /** The network's emergency log (every declaration, in order), read on from where the last call stopped. */
  emergencyEvents(): Promise<EmergencyEvent[]> {
    const read = (this.emergencyRead ?? Promise.resolve([])).catch(() => undefined).then(async () => {
      for (;;) {
        const { emergencies } = await this.accessQuery.emergencies({ startAfter: this.emergencyLog.at(-1)?.seq, limit: PAGE });
        this.emergencyLog.push(...emergencies);
        if (emergencies.length < PAGE) return this.emergencyLog;
      }
    });
    this.emergencyRead = read;
    return read;
  }

  /**
   * The windows of the log's declarations that `filter` keeps, the latest per (patient, doctor), that
   * the chain says are open now, with what each opens (capabilities of the doctor).
   */
  private async openEmergencies(filter: (e: EmergencyEvent) => boolean): Promise<(PatientEmergency & { patientId: number })[]> {
    const latest = new Map<string, EmergencyEvent>();
    for (const e of await this.emergencyEvents()) if (filter(e)) latest.set(`${e.patient_id}/${e.doctor}`, e);
    const now = nowNanos();
    const candidates = [...latest.values()].filter((e) => BigInt(e.expires) + WINDOW_CLOCK_SLACK > now);
    const answers = await Promise.all(candidates.map(async (e) => ({ e, caps: await this.capabilities(e.patient_id, e.doctor) })));
    return answers.flatMap(({ e, caps }) => {
      const window = openWindow(caps);
      return window ? [{ patientId: e.patient_id, doctor: e.doctor, window, categories: caps.emergency_categories }] : [];
    });
  }

  /** The patient: the doctors whose emergency window on its records is open now. */
  patientEmergencies(patientId: number): Promise<PatientEmergency[]> {
    return this.openEmergencies((e) => e.patient_id === patientId);
  }

  /** This doctor's open emergency windows, one per patient. */
  myEmergencies(): Promise<(PatientEmergency & { patientId: number })[]> {
    return this.openEmergencies((e) => e.doctor === this.address);
  }

  async grantsByPatient(patientId: number, startAfter?: string): Promise<GrantInfo[]> {
    return (await this.accessQuery.grantsByPatient({ patientId, startAfter, limit: PAGE })).grants;
  }

  async grantsByGrantee(startAfter?: number): Promise<GrantInfo[]> {
    return (await this.accessQuery.grantsByGrantee({ grantee: this.address, startAfter, limit: PAGE })).grants;
  }

  async myGrant(patientId: number): Promise<GrantInfo | undefined> {
    return (await this.accessQuery.grant({ patientId, grantee: this.address })).grant ?? undefined;
  }

  async requestsByPatient(patientId: number, startAfter?: number): Promise<AccessRequestInfo[]> {
    return (await this.accessQuery.requestsByPatient({ patientId, startAfter, limit: PAGE })).requests;
  }

  async myRequests(startAfter?: number): Promise<AccessRequestInfo[]> {
    return (await this.accessQuery.requestsByRequester({ requester: this.address, startAfter, limit: PAGE })).requests;
  }

  async auditLog(patientId: number, startAfter?: number): Promise<AuditEntry[]> {
    return (await this.accessQuery.auditLog({ patientId, startAfter, limit: PAGE })).entries;
  }
}

/** The trustees' message bound: at most this many epochs in one `escrow_shares` (ehr-types MAX_ESCROWS_PER_MESSAGE). */
export const MAX_ESCROWS_PER_MESSAGE = 16;

/** How far a doctor's emergency key release has come for one (category, epoch). */
export interface ReleaseProgress {
  category: Category;
  epoch: number;
  released: number;
  needed: number;
  /** Whether the key was combined (k shares of one trustee-set version arrived and opened). */
  open: boolean;
  /** Trustees whose released share did not open with this wallet's key: skipped, not counted. */
  unopened: string[];
  /** Trustees whose share opened but does not match the patient's commitment: set aside, not counted. */
  wrong: string[];
}

/**
 * Groups released shares by (category, epoch, set version), opens them (`open` returns undefined for
 * one that does not open: skipped, and named in its row's `unopened`) and combines each group that
 * reached its threshold (`found`). One row per (category, epoch): the group that opened, else the one
 * with the most shares.
 */
export async function releaseProgressOf(
  patientId: number,
  released: readonly ReleasedShareInfo[],
  open: (s: ReleasedShareInfo) => Promise<Uint8Array | undefined>,
  found: (category: Category, epoch: number, key: Uint8Array) => void,
): Promise<ReleaseProgress[]> {
  type Group = { category: Category; epoch: number; setVersion: number; threshold: number; shares: CommittedShare[]; keyCommitment?: Uint8Array; unopened: string[] };
  const groups = new Map<string, Group>();
  for (const s of released) {
    const opened = await open(s);
    const id = `${s.category}/${s.epoch}/${s.set_version}`;
    const g = groups.get(id) ?? { category: s.category, epoch: s.epoch, setVersion: s.set_version, threshold: s.threshold, shares: [], unopened: [] };
    groups.set(id, g);
    if (s.key_commitment && !g.keyCommitment) g.keyCommitment = fromBase64(s.key_commitment);
    if (!opened) {
      if (!g.unopened.includes(s.trustee)) g.unopened.push(s.trustee);
    } else if (!g.shares.some((x) => x.share[0] === opened[0])) g.shares.push({ trustee: s.trustee, share: opened, commitment: s.commitment ? fromBase64(s.commitment) : undefined });
  }
  const rows = new Map<string, ReleaseProgress>();
  for (const g of groups.values()) {
    const ctx = { patientId, category: g.category, epoch: g.epoch, setVersion: g.setVersion };
    // A wrong share is named and set aside; a key that does not match the patient's commitment is never used.
    const { key, rejected } = g.shares.length >= g.threshold ? await combineVerified(g.shares, ctx, g.keyCommitment, g.threshold) : { key: undefined, rejected: [] };
    if (key) found(g.category, g.epoch, key);
    const row = { category: g.category, epoch: g.epoch, released: g.shares.length - rejected.length, needed: g.threshold, open: !!key, unopened: g.unopened, wrong: rejected };
    const id = `${g.category}/${g.epoch}`;
    const prev = rows.get(id);
    if (!prev || (!prev.open && (row.open || row.released > prev.released))) rows.set(id, row);
  }
  return [...rows.values()];
}

/** Every item of a listing the contracts answer 100 at a time, `page` asked for the items after the last one. */
async function allPages<T>(page: (last?: T) => Promise<T[]>): Promise<T[]> {
  const all: T[] = [];
  for (;;) {
    const items = await page(all.at(-1));
    all.push(...items);
    if (items.length < PAGE) return all;
  }
}

export const chainTime = (d: Date): string => (BigInt(d.getTime()) * 1_000_000n).toString();

/**
 * Whether a grant's expiry is still ahead by this browser's clock: for showing "expired" next to a
 * grant. What a party may do is the chain's answer (`capabilities`), not this.
 */
export const grantActive = (g: GrantInfo, now = new Date()): boolean => !g.expires || BigInt(g.expires) > BigInt(now.getTime()) * 1_000_000n;

