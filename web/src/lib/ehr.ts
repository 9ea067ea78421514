// One logged-in session: the generated query clients, the Keplr signer's signing client (loaded on
// first use), IPFS, the wallet-derived X25519 key and the category keys this wallet holds. Every chain
// write goes through here.
import type { ExecuteInstruction, SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import type { OfflineSigner } from "@cosmjs/proto-signing";
import { randomBytes } from "@noble/ciphers/utils.js";
import { EhrAccessQueryClient } from "../contracts/EhrAccess.client";
import type { AccessRequestInfo, AuditEntry, GrantInfo, KeyEnvelope, Scope } from "../contracts/EhrAccess.types";
import { EhrRegistryQueryClient } from "../contracts/EhrRegistry.client";
import type { BlobRef, Category, DesignationResponse, PatientInfo, ProviderInfo, RecordVersion } from "../contracts/EhrRegistry.types";
import { fromBase64, toBase64 } from "../crypto/bytes";
import { CryptoError } from "../crypto/errors";
import { openEnvelope, sealEnvelope } from "../crypto/envelope";
import { decryptFile, encryptFile, parseHeader, sha256Hex, type FileContext } from "../crypto/file";
import { deriveWalletKey, type ArbitrarySigner, type X25519KeyPair } from "../crypto/walletKey";
import type { Deploy } from "./deploy";
import { explain, PartlyDoneError } from "./errors";
import { Ipfs } from "./ipfs";
import { ContractQuerier } from "./query";
import { metadataOf, rowOf, type RecordMeta, type RecordRow } from "./records";

const PAGE = 100; // the contracts' maximum page size
const keyId = (patientId: number, category: Category, epoch: number) => `${patientId}/${category}/${epoch}`;

/** An encrypted file ready to register; kept by the UI so a failed upload is retried with the same bytes. */
export interface SealedFile {
  patientId: number;
  category: Category;
  recordId?: number; // set for a new version of an existing record
  bytes: Uint8Array;
  sha256: string;
  uri?: string; // set once stored in IPFS
}

export type UploadOutcome = { recordId: number; version: number; alreadyRegistered: boolean };

export interface OpenedFile {
  integrity: "verified" | "mismatch";
  problem?: string; // why there is no plaintext
  plaintext?: Uint8Array;
  meta?: RecordMeta;
}

export class Ehr {
  readonly registry: EhrRegistryQueryClient;
  readonly accessQuery: EhrAccessQueryClient;
  readonly ipfs: Ipfs;
  private readonly categoryKeys = new Map<string, Uint8Array>();
  private signingClient?: Promise<SigningCosmWasmClient>;

  private constructor(
    readonly deploy: Deploy,
    readonly address: string,
    private readonly signer: OfflineSigner,
    querier: ContractQuerier,
    readonly walletKey: X25519KeyPair,
  ) {
    this.registry = new EhrRegistryQueryClient(querier.asCosmWasmClient(), deploy.contracts.registry.address);
    this.accessQuery = new EhrAccessQueryClient(querier.asCosmWasmClient(), deploy.contracts.access.address);
    this.ipfs = new Ipfs(deploy.ipfs_api_url);
  }

  static async nodeChainId(deploy: Deploy): Promise<string> {
    return (await ContractQuerier.connect(deploy.rpc_url)).chainId();
  }

  static async open(deploy: Deploy, address: string, signer: OfflineSigner, wallet: ArbitrarySigner): Promise<Ehr> {
    const [querier, walletKey] = await Promise.all([ContractQuerier.connect(deploy.rpc_url), deriveWalletKey(wallet, deploy.chain_id, address)]);
    return new Ehr(deploy, address, signer, querier, walletKey);
  }

  /** The signing client, loaded and connected on first use (or by `preloadSigning`); a failed connection is retried on the next call. */
  private signing(): Promise<SigningCosmWasmClient> {
    this.signingClient ??= (async () => {
      const [{ SigningCosmWasmClient }, { GasPrice }] = await Promise.all([import("@cosmjs/cosmwasm-stargate"), import("@cosmjs/stargate")]);
      return SigningCosmWasmClient.connectWithSigner(this.deploy.rpc_url, this.signer, { gasPrice: GasPrice.fromString(this.deploy.gas_price) });
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

  patient(patientId: number): Promise<PatientInfo> {
    return this.registry.patient({ patientId });
  }

  provider(address: string): Promise<ProviderInfo> {
    return this.registry.provider({ address });
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
   * Executes instructions that store `own`, new category keys already in the cache; if the transaction
   * fails they are dropped from the cache again, so nothing is ever sealed under a key the chain cannot give back.
   */
  private async executeStoringKeys(patientId: number, own: KeyEnvelope[], instructions: ExecuteInstruction[]): Promise<string> {
    try {
      return await this.execute(instructions);
    } catch (e) {
      for (const envelope of own) this.categoryKeys.delete(keyId(patientId, envelope.category, envelope.epoch));
      throw e;
    }
  }
  private storeOwn = (patientId: number, own: KeyEnvelope[]): ExecuteInstruction[] =>
    own.length ? [this.acc({ store_own_envelopes: { patient_id: patientId, key_envelopes: own } })] : [];
  private reg = (msg: object): ExecuteInstruction => ({ contractAddress: this.deploy.contracts.registry.address, msg });
  private acc = (msg: object): ExecuteInstruction => ({ contractAddress: this.deploy.contracts.access.address, msg });

  // ------------------------------------------------------------------ keys

  async currentEpoch(patientId: number, category: Category): Promise<number> {
    const { epochs } = await this.accessQuery.epochs({ patientId });
    return epochs.find((e) => e.category === category)?.epoch ?? 0;
  }

  /** Opens every envelope this wallet can: the patient's own envelopes, or the current grant's. */
  async loadKeys(patient: PatientInfo): Promise<void> {
    const envelopes: KeyEnvelope[] =
      patient.owner === this.address
        ? (await this.accessQuery.ownEnvelopes({ patientId: patient.id })).key_envelopes
        : ((await this.accessQuery.grant({ patientId: patient.id, grantee: this.address })).grant?.key_envelopes ?? []);
    for (const e of envelopes) {
      const id = keyId(patient.id, e.category, e.epoch);
      if (this.categoryKeys.has(id)) continue;
      this.categoryKeys.set(id, await openEnvelope(this.walletKey.secretKey, e.envelope, { patientId: patient.id, category: e.category, epoch: e.epoch }));
    }
  }

  private keyFor = (patientId: bigint, category: Category, epoch: number) => this.categoryKeys.get(keyId(Number(patientId), category, epoch));

  /**
   * The key new files of a category are sealed with (the current epoch's). The patient creates it when
   * missing and stores its envelope on chain first, so no file is ever sealed under a key the chain cannot give back.
   */
  async writingKey(patient: PatientInfo, category: Category): Promise<{ epoch: number; key: Uint8Array }> {
    const epoch = await this.currentEpoch(patient.id, category);
    let key = this.categoryKeys.get(keyId(patient.id, category, epoch));
    if (!key) await this.loadKeys(patient);
    key = this.categoryKeys.get(keyId(patient.id, category, epoch));
    if (key) return { epoch, key };
    if (patient.owner !== this.address) throw new CryptoError("MissingCategoryKey", `no ${category} key of epoch ${epoch}`);
    const own = [await this.newOwnEnvelope(patient.id, category, epoch)];
    await this.executeStoringKeys(patient.id, own, this.storeOwn(patient.id, own));
    return { epoch, key: this.categoryKeys.get(keyId(patient.id, category, epoch))! };
  }

  private async newOwnEnvelope(patientId: number, category: Category, epoch: number): Promise<KeyEnvelope> {
    const key = randomBytes(32);
    this.categoryKeys.set(keyId(patientId, category, epoch), key);
    return { category, epoch, envelope: await sealEnvelope(this.walletKey.publicKey, key, { patientId, category, epoch }) };
  }

  /** Envelopes for a grantee: every key held for the categories (the current epoch's created when missing). */
  private async envelopesFor(patient: PatientInfo, grantee: string, categories: Category[]): Promise<{ own: KeyEnvelope[]; grantee: KeyEnvelope[] }> {
    const provider = await this.provider(grantee);
    if (!provider.encryption_key) throw new Error(`The doctor ${grantee} has not published an encryption key yet: ask them to log in once.`);
    const recipient = fromBase64(provider.encryption_key);
    await this.loadKeys(patient);
    const own: KeyEnvelope[] = [];
    const out: KeyEnvelope[] = [];
    for (const category of categories) {
      const current = await this.currentEpoch(patient.id, category);
      if (!this.categoryKeys.has(keyId(patient.id, category, current))) own.push(await this.newOwnEnvelope(patient.id, category, current));
      for (let epoch = current; epoch >= 0; epoch--) {
        const key = this.categoryKeys.get(keyId(patient.id, category, epoch));
        if (key) out.push({ category, epoch, envelope: await sealEnvelope(recipient, key, { patientId: patient.id, category, epoch }) });
      }
    }
    return { own, grantee: out };
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

  async saveProfile(patient: PatientInfo, profile: Uint8Array): Promise<void> {
    const own: KeyEnvelope[] = [];
    const epoch = await this.currentEpoch(patient.id, "profile");
    await this.loadKeys(patient);
    if (!this.categoryKeys.has(keyId(patient.id, "profile", epoch))) own.push(await this.newOwnEnvelope(patient.id, "profile", epoch));
    const key = this.categoryKeys.get(keyId(patient.id, "profile", epoch))!;
    const ctx: FileContext = { patientId: patient.id, category: "profile", epoch, recordVersion: patient.profile_version + 1 };
    const file = encryptFile(profile, ctx, key);
    const uri = await this.ipfs.add(file);
    const blob: BlobRef = { sha256: sha256Hex(file), uri, size: file.length };
    await this.executeStoringKeys(patient.id, own, [...this.storeOwn(patient.id, own), this.reg({ update_patient: { patient_id: patient.id, profile: blob } })]);
  }

  async readProfile(patient: PatientInfo): Promise<OpenedFile & { json?: Record<string, string> }> {
    if (!patient.profile) return { integrity: "verified" };
    const bytes = await this.ipfs.get(patient.profile.uri);
    if (sha256Hex(bytes) !== patient.profile.sha256) return { integrity: "mismatch" };
    await this.loadKeys(patient);
    const plaintext = decryptFile(bytes, this.keyFor);
    return { integrity: "verified", plaintext, json: JSON.parse(new TextDecoder().decode(plaintext)) };
  }

  /** Accepts a doctor's proposal and grants that doctor the chosen categories, all in one transaction. */
  async acceptProposal(patientId: number, doctor: string, scope: Scope, categories: Category[], expires: Date | null): Promise<void> {
    const provider = await this.provider(doctor);
    if (!provider.encryption_key) throw new Error(`The doctor ${doctor} has not published an encryption key yet.`);
    const recipient = fromBase64(provider.encryption_key);
    const own: KeyEnvelope[] = [];
    const shared: KeyEnvelope[] = [];
    for (const category of categories) {
      const e = await this.newOwnEnvelope(patientId, category, 0); // a new patient: every category at epoch 0
      own.push(e);
      shared.push({ category, epoch: 0, envelope: await sealEnvelope(recipient, this.categoryKeys.get(keyId(patientId, category, 0))!, { patientId, category, epoch: 0 }) });
    }
    await this.executeStoringKeys(patientId, own, [
      this.reg({ accept_patient: { patient_id: patientId, encryption_key: this.publicKeyBase64 } }),
      ...(categories.length
        ? [
            ...this.storeOwn(patientId, own),
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

  publishProviderKey(): Promise<string> {
    return this.execute([this.reg({ set_provider_key: { encryption_key: this.publicKeyBase64 } })]);
  }

  credentialDoctor(address: string): Promise<string> {
    return this.execute([this.reg({ credential_provider: { address } })]);
  }

  async providers(startAfter?: string): Promise<ProviderInfo[]> {
    return (await this.registry.providers({ startAfter, limit: PAGE })).providers;
  }

  // ------------------------------------------------------------------ records

  async recordsPage(patientId: number, category: Category | undefined, startAfter?: number): Promise<RecordRow[]> {
    const { records } = await this.registry.recordsByPatient({ patientId, category, startAfter, limit: PAGE });
    return records.map(rowOf);
  }

  async history(recordId: number): Promise<RecordVersion[]> {
    const versions: RecordVersion[] = [];
    for (;;) {
      const page = await this.registry.recordHistory({ recordId, startAfter: versions.at(-1)?.version, limit: PAGE });
      versions.push(...page.versions);
      if (page.versions.length < PAGE) return versions;
    }
  }

  /** Encrypts a new record (or a new version of `recordId`) for the patient; nothing is sent yet. */
  async seal(patient: PatientInfo, category: Category, plaintext: Uint8Array, record?: { id: number; version: number }): Promise<SealedFile> {
    const { epoch, key } = await this.writingKey(patient, category);
    const bytes = encryptFile(plaintext, { patientId: patient.id, category, epoch, recordVersion: record ? record.version + 1 : 1 }, key);
    return { patientId: patient.id, category, recordId: record?.id, bytes, sha256: sha256Hex(bytes) };
  }

  /**
   * Stores and registers a sealed file. Safe to call again after any failure: the same ciphertext is
   * looked up by its hash first (the registry refuses a hash twice), so a retry never adds a second record.
   */
  async upload(file: SealedFile): Promise<UploadOutcome> {
    const existing = await this.recordBySha256(file.patientId, file.sha256);
    if (existing) return { ...existing, alreadyRegistered: true };
    file.uri ??= await this.ipfs.add(file.bytes);
    const blob: BlobRef = { sha256: file.sha256, uri: file.uri, size: file.bytes.length };
    await this.execute([
      this.reg(
        file.recordId === undefined
          ? { add_record: { patient_id: file.patientId, category: file.category, blob } }
          : { update_record: { record_id: file.recordId, blob } },
      ),
    ]);
    const added = await this.recordBySha256(file.patientId, file.sha256);
    if (!added) throw new Error("the transaction committed but the record is not found by its hash");
    return { ...added, alreadyRegistered: false };
  }

  private async recordBySha256(patientId: number, sha256: string): Promise<{ recordId: number; version: number } | undefined> {
    try {
      const r = await this.registry.recordBySha256({ patientId, sha256 });
      return { recordId: r.id, version: r.latest.version };
    } catch (e) {
      if ((e as Error).message.includes("no record of patient")) return undefined;
      throw e;
    }
  }

  /** Fetches a version's ciphertext, re-hashes it against the chain, and decrypts it only when it matches. */
  async openBlob(patient: PatientInfo, category: Category, version: number, blob: BlobRef): Promise<OpenedFile> {
    const bytes = await this.ipfs.get(blob.uri);
    if (sha256Hex(bytes) !== blob.sha256 || bytes.length !== blob.size) return { integrity: "mismatch" };
    try {
      const epoch = parseHeader(bytes).epoch; // the file's own epoch; patient, category and version must match the chain
      if (!this.categoryKeys.has(keyId(patient.id, category, epoch))) await this.loadKeys(patient);
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

  /** Tombstones the patient: the id is never reused, the profile pointer is dropped at once. */
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
    const { own, grantee: envelopes } = await this.envelopesFor(patient, grantee, categories);
    return this.executeStoringKeys(patient.id, own, [
      ...this.storeOwn(patient.id, own),
      this.acc({ grant: { patient_id: patient.id, grantee, scope, categories, expires: expires ? chainTime(expires) : null, key_envelopes: envelopes } }),
    ]);
  }

  revoke(patientId: number, grantee: string): Promise<string> {
    return this.execute([this.acc({ revoke: { patient_id: patientId, grantee } })]);
  }

  /**
   * Revokes a grant; the contract moves its categories to new key epochs. Then every other active
   * grantee of any of those categories gets its grant re-issued (same scope, categories and expiry)
   * with the new epochs' keys, in one transaction: only the revoked doctor loses the new records.
   * Returns the addresses re-shared with.
   */
  async revokeAndReshare(patient: PatientInfo, grantee: string): Promise<string[]> {
    const grants: GrantInfo[] = [];
    for (let page = await this.grantsByPatient(patient.id); page.length; page = await this.grantsByPatient(patient.id, page.at(-1)!.grantee)) {
      grants.push(...page);
      if (page.length < PAGE) break;
    }
    const rotated = new Set(grants.find((g) => g.grantee === grantee)?.categories ?? []);
    await this.revoke(patient.id, grantee);
    const others = grants.filter((g) => g.grantee !== grantee && grantActive(g) && g.categories.some((c) => rotated.has(c)));
    if (!others.length) return [];
    const reshared = others.map((g) => g.grantee);
    try {
      await this.reshare(patient, others);
    } catch (e) {
      throw new PartlyDoneError(`Access of ${grantee} was revoked`, `sharing the new keys with ${reshared.join(", ")} failed; grant them again`, e);
    }
    return reshared;
  }

  /** Issues the grants again, unchanged but for envelopes of the current epochs' keys, in one transaction. */
  private async reshare(patient: PatientInfo, grants: GrantInfo[]): Promise<void> {
    const own: KeyEnvelope[] = [];
    const regrants: ExecuteInstruction[] = [];
    for (const g of grants) {
      const envelopes = await this.envelopesFor(patient, g.grantee, g.categories);
      own.push(...envelopes.own);
      regrants.push(this.acc({ grant: { patient_id: patient.id, grantee: g.grantee, scope: g.scope, categories: g.categories, expires: g.expires ?? null, key_envelopes: envelopes.grantee } }));
    }
    await this.executeStoringKeys(patient.id, own, [...this.storeOwn(patient.id, own), ...regrants]);
  }

  async approveRequest(patient: PatientInfo, request: AccessRequestInfo, expires: Date | null): Promise<string> {
    const { own, grantee: envelopes } = await this.envelopesFor(patient, request.requester, request.categories);
    return this.executeStoringKeys(patient.id, own, [
      ...this.storeOwn(patient.id, own),
      this.acc({ approve_request: { request_id: request.id, expires: expires ? chainTime(expires) : null, key_envelopes: envelopes } }),
    ]);
  }

  denyRequest(requestId: number): Promise<string> {
    return this.execute([this.acc({ deny_request: { request_id: requestId } })]);
  }

  requestAccess(patientId: number, scope: Scope, categories: Category[]): Promise<string> {
    return this.execute([this.acc({ request_access: { patient_id: patientId, scope, categories } })]);
  }

  emergencyAccess(patientId: number): Promise<string> {
    return this.execute([this.acc({ emergency_access: { patient_id: patientId } })]);
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

export const chainTime = (d: Date): string => (BigInt(d.getTime()) * 1_000_000n).toString();

/** A grant is usable while it has no expiry or its expiry is in the future. */
export const grantActive = (g: GrantInfo, now = new Date()): boolean => !g.expires || BigInt(g.expires) > BigInt(now.getTime()) * 1_000_000n;

const SCOPE_RANK: Record<Scope, number> = { read: 0, write: 1, manage: 2 };
/** As the contracts decide: an unexpired grant whose scope is at least `minimum` and whose categories include `category`. */
const allows = (g: GrantInfo | undefined, category: Category, minimum: Scope): boolean =>
  !!g && grantActive(g) && SCOPE_RANK[g.scope] >= SCOPE_RANK[minimum] && g.categories.includes(category);
export const mayManage = (g: GrantInfo | undefined, category: Category): boolean => allows(g, category, "manage");
export const mayWrite = (g: GrantInfo | undefined, category: Category): boolean => allows(g, category, "write");
