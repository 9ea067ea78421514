// The session against a scripted chain (CometBFT abci_query answers, decoded as the generated clients
// send them): own envelopes are paged by the chain's `next`; an envelope that does not open is skipped
// and named with its epoch and who opened it; writes follow the chain's write plan (seal, rotate with
// the plan's recipients and escrow, rotate past a key that does not open, or refuse in words).
import { fromUtf8, toUtf8 } from "@cosmjs/encoding";
import type { OfflineSigner } from "@cosmjs/proto-signing";
import { x25519 } from "@noble/curves/ed25519.js";
import { QuerySmartContractStateRequest, QuerySmartContractStateResponse } from "cosmjs-types/cosmwasm/wasm/v1/query";
import { describe, expect, it } from "vitest";
import type { AuditEntry, KeyEnvelope, WritePlanResponse } from "../contracts/EhrAccess.types";
import type { Category, PatientInfo } from "../contracts/EhrRegistry.types";
import { fromBase64, fromHex, toBase64 } from "../crypto/bytes";
import { openEnvelope, sealEnvelope } from "../crypto/envelope";
import { openShare } from "../crypto/escrow";
import { x25519FromSignature } from "../crypto/walletKey";
import type { Deploy } from "./deploy";
import { Ehr } from "./ehr";
import { KeyMismatchError } from "./errors";
import { FailoverRpc, type Send } from "./rpc";

const REGISTRY = "wasm1registry";
const ACCESS = "wasm1access";
const deploy = { chain_id: "ehr-test-1", rpc_url: "http://fake", contracts: { registry: { address: REGISTRY }, access: { address: ACCESS } }, ipfs_api_url: "http://ipfs" } as unknown as Deploy;

type Handler = (args: Record<string, unknown>) => unknown;
/** A chain that answers smart queries with `handlers[contract][query]`, recording each query. */
function fakeChain(handlers: Record<string, Record<string, Handler>>) {
  const asked: { contract: string; query: string; args: Record<string, unknown> }[] = [];
  const send: Send = async (_url, request) => {
    if (request.method !== "abci_query") throw new Error(`unexpected ${request.method}`);
    const params = request.params as { data: string };
    const { address, queryData } = QuerySmartContractStateRequest.decode(fromHex(params.data));
    const msg = JSON.parse(fromUtf8(queryData)) as Record<string, Record<string, unknown>>;
    const [query, args] = Object.entries(msg)[0];
    asked.push({ contract: address, query, args });
    const handler = handlers[address]?.[query];
    if (!handler) return { jsonrpc: "2.0", id: request.id, result: { response: { code: 5, log: `no ${query} here` } } };
    const value = QuerySmartContractStateResponse.encode({ data: toUtf8(JSON.stringify(handler(args))) }).finish();
    return { jsonrpc: "2.0", id: request.id, result: { response: { code: 0, value: toBase64(value) } } };
  };
  return { rpc: new FailoverRpc([deploy.rpc_url], send, () => undefined), asked };
}

/** A wallet whose ADR-36 signature (and so its X25519 key) is fixed by `seed`. */
function walletOf(seed: number) {
  const signature = new Uint8Array(64).fill(seed);
  return { signer: { signArbitrary: async () => ({ signature: toBase64(signature) }) }, key: x25519FromSignature(signature) };
}

const PATIENT = "wasm1patient";
const ANA = "wasm1ana";
const BEN = "wasm1ben";
const patientInfo = (owner: string, encryptionKey: Uint8Array): PatientInfo => ({
  id: 7, owner, encryption_key: toBase64(encryptionKey), profile: null, profile_version: 0, status: "active", created: "1", updated: "1",
});
const junk = () => toBase64(crypto.getRandomValues(new Uint8Array(80)));
const seal = (to: Uint8Array, key: Uint8Array, category: Category, epoch: number) => sealEnvelope(to, key, { patientId: 7, category, epoch });
const directory = { directory: ({ addresses }: Record<string, unknown>) => ({ entries: (addresses as string[]).map((address) => ({ address, provider: null })) }), config: () => ({ admin: "wasm1admin" }) };

describe("the patient's own envelopes", () => {
  it("are read page after page by the chain's next; one that does not open is skipped and named, the others open", async () => {
    const { signer, key } = walletOf(1);
    const labKeys = [0, 1, 2, 3].map(() => crypto.getRandomValues(new Uint8Array(32)));
    const envelopes: KeyEnvelope[] = [
      { category: "lab", epoch: 0, envelope: await seal(key.publicKey, labKeys[0], "lab", 0) },
      { category: "lab", epoch: 1, envelope: await seal(key.publicKey, labKeys[1], "lab", 1) },
      { category: "lab", epoch: 2, envelope: junk() }, // Dr Ana's rotation stored junk as the patient's envelope
      { category: "lab", epoch: 3, envelope: await seal(key.publicKey, labKeys[3], "lab", 3) },
      { category: "note", epoch: 0, envelope: await seal(key.publicKey, labKeys[0], "note", 0) },
    ];
    const audit: AuditEntry[] = [
      { seq: 1, patient_id: 7, time: "1", actor: PATIENT, action: { key_rotated: { category: "lab", epoch: 1, holders: 0 } } },
      { seq: 2, patient_id: 7, time: "2", actor: ANA, action: { key_rotated: { category: "lab", epoch: 2, holders: 1 } } },
      { seq: 3, patient_id: 7, time: "3", actor: PATIENT, action: { key_rotated: { category: "lab", epoch: 3, holders: 1 } } },
    ];
    // Pages of two, like the chain's with a small limit; `next` names where the next page starts.
    const { rpc, asked } = fakeChain({
      [ACCESS]: {
        own_envelopes: ({ start_after }) => {
          const after = start_after as { category: string; epoch: number } | undefined;
          const from = after ? envelopes.findIndex((e) => e.category === after.category && e.epoch === after.epoch) + 1 : 0;
          const page = envelopes.slice(from, from + 2);
          const last = page.at(-1)!;
          return from + 2 < envelopes.length ? { key_envelopes: page, next: { category: last.category, epoch: last.epoch } } : { key_envelopes: page };
        },
        epochs: () => ({ epochs: [{ category: "lab", epoch: 3 }, { category: "note", epoch: 0 }] }),
        audit_log: ({ start_after }) => ({ entries: audit.filter((e) => e.seq > ((start_after as number | undefined) ?? 0)) }),
      },
    });
    const ehr = await Ehr.open(deploy, rpc, PATIENT, {} as OfflineSigner, signer);
    const patient = patientInfo(PATIENT, key.publicKey);
    const skipped = await ehr.unopenedKeys(patient);
    const pages = asked.filter((q) => q.query === "own_envelopes");
    expect(pages.map((q) => q.args.start_after ?? null)).toEqual([null, { category: "lab", epoch: 1 }, { category: "lab", epoch: 3 }]);
    expect(pages.every((q) => q.args.limit === 100 && q.args.patient_id === 7)).toBe(true);
    expect(skipped).toEqual([{ patientId: 7, category: "lab", epoch: 2, handed: false, openedBy: ANA, current: false }]);
    // The other keys open.
    expect((ehr as unknown as { categoryKeys: Map<string, Uint8Array> }).categoryKeys.get("7/lab/3")).toEqual(labKeys[3]);
    expect((ehr as unknown as { categoryKeys: Map<string, Uint8Array> }).categoryKeys.has("7/lab/2")).toBe(false);
  });
});

describe("writes follow the chain's write plan", () => {
  const trustee = x25519.keygen();
  const trustee2 = x25519.keygen();
  /**
   * A session of a new wallet (the patient's own, or a grantee's: the session caches wallet keys by
   * address) against a chain whose write plan for lab is `plan`.
   */
  async function session(asPatient: boolean, seed: number, plan: Omit<WritePlanResponse, "patient_key">, own: (key: Uint8Array) => Promise<KeyEnvelope[]>) {
    const { signer, key } = walletOf(seed);
    const address = `${asPatient ? PATIENT : ANA}${seed}`;
    const owner = asPatient ? address : PATIENT;
    const patientKey = asPatient ? key.publicKey : walletOf(1).key.publicKey;
    const envelopes = await own(key.publicKey);
    const { rpc, asked } = fakeChain({
      [ACCESS]: {
        write_plan: () => ({ ...plan, patient_key: toBase64(patientKey) }),
        own_envelopes: () => ({ key_envelopes: envelopes }),
        key_envelopes: () => ({ key_envelopes: envelopes }),
        trustees: () => ({ trustees: [], threshold: 0, set_version: 0 }),
        epochs: () => ({ epochs: [{ category: "lab", epoch: plan.current_epoch }] }),
        audit_log: () => ({ entries: [] }),
      },
      [REGISTRY]: {
        ...directory,
        provider: () => ({ provider: { address, encryption_key: toBase64(key.publicKey) } }),
      },
    });
    const ehr = await Ehr.open(deploy, rpc, address, {} as OfflineSigner, signer);
    return { ehr, key, asked, address, patient: patientInfo(owner, patientKey) };
  }
  const current = crypto.getRandomValues(new Uint8Array(32));

  it("seals under the current epoch when the plan does not rotate, whatever readers lack the key (no rule of the web's own)", async () => {
    const s = await session(true, 11, { current_epoch: 4, rotate: false, may_rotate: true, recipients: [{ address: BEN, encryption_key: toBase64(trustee.publicKey) }], escrow: null }, async (pk) => [
      { category: "lab", epoch: 4, envelope: await seal(pk, current, "lab", 4) },
    ]);
    const w = await s.ehr.writingKey(s.patient, "lab");
    expect(w).toEqual({ epoch: 4, key: current });
    expect(s.asked.find((q) => q.query === "write_plan")?.args).toEqual({ patient_id: 7, category: "lab", writer: s.address });
    expect(s.asked.some((q) => q.query === "key_holders" || q.query === "readers")).toBe(false);
  });

  it("rotates when the plan says so: the own envelope to the plan's patient key, one envelope per recipient with a key, shares for the plan's trustees", async () => {
    const plan = {
      current_epoch: 4,
      rotate: true,
      may_rotate: true,
      recipients: [
        { address: ANA, encryption_key: toBase64(trustee2.publicKey) },
        { address: BEN, encryption_key: null },
      ],
      escrow: {
        threshold: 2,
        set_version: 3,
        trustees: [
          { address: "wasm1t1", encryption_key: toBase64(trustee.publicKey) },
          { address: "wasm1t2", encryption_key: toBase64(trustee2.publicKey) },
        ],
      },
    };
    const s = await session(true, 12, plan, async (pk) => [{ category: "lab", epoch: 4, envelope: await seal(pk, current, "lab", 4) }]);
    const w = await s.ehr.writingKey(s.patient, "lab");
    expect(w.epoch).toBe(5);
    const r = w.rotation!;
    expect(r).toMatchObject({ category: "lab", epoch: 5, skipped: [BEN] });
    expect(w.key).not.toEqual(current);
    const ctx = { patientId: 7, category: "lab" as const, epoch: 5 };
    expect(fromBase64(r.ownEnvelope)).toHaveLength(80);
    expect(await openEnvelope(s.key.secretKey, r.ownEnvelope, ctx)).toEqual(w.key);
    expect(r.envelopes.map((e) => e.recipient)).toEqual([ANA]);
    expect(await openEnvelope(trustee2.secretKey, r.envelopes[0].envelope, ctx)).toEqual(w.key);
    expect(r.escrow!.map((x) => [x.trustee, fromBase64(x.share).length])).toEqual([
      ["wasm1t1", 81],
      ["wasm1t2", 81],
    ]);
    const share = await openShare(trustee.secretKey, r.escrow![0].share, { ...ctx, setVersion: 3 });
    expect(share).toHaveLength(33);
  });

  it("a current own envelope that does not open: the patient's next write rotates (the patient always may)", async () => {
    const s = await session(true, 13, { current_epoch: 3, rotate: false, may_rotate: true, recipients: [], escrow: null }, async () => [{ category: "lab", epoch: 3, envelope: junk() }]);
    const w = await s.ehr.writingKey(s.patient, "lab");
    expect(w.epoch).toBe(4);
    expect(w.rotation).toMatchObject({ epoch: 4, envelopes: [], escrow: [] });
  });

  it("a grantee whose handed key does not open and that may not rotate writes nothing, and is told to ask the patient", async () => {
    const s = await session(false, 14, { current_epoch: 3, rotate: false, may_rotate: false, recipients: [], escrow: null }, async () => [{ category: "lab", epoch: 3, envelope: junk() }]);
    const err = await s.ehr.writingKey(s.patient, "lab").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyMismatchError);
    expect((err as Error).message).toContain("The Lab key of epoch 3 does not open with your key, and only the patient may replace it now");
    // The dashboard names it as a key handed to this doctor, of the current epoch.
    expect(await s.ehr.unopenedKeys(s.patient)).toEqual([{ patientId: 7, category: "lab", epoch: 3, handed: true, current: true, openedBy: undefined }]);
    expect(s.asked.some((q) => q.query === "key_envelopes" && q.args.holder === s.address)).toBe(true);
  });
});
