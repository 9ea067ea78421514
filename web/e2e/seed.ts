// Test-only, written straight through CosmJS (not the UI) with the UI's own crypto: a patient with many
// real records (each an encrypted record document in kubo, registered with add_records, sealed under
// category keys whose envelopes, wrapped to the patient's wallet-derived key, are on chain), and a grant
// with an expiry in seconds (the UI's grant form takes a day), sharing the patient's keys as the UI does.
import { Secp256k1HdWallet } from "@cosmjs/amino";
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";
import { randomBytes } from "@noble/ciphers/utils.js";
import type { Category } from "../src/contracts/EhrRegistry.types";
import { toBase64 } from "../src/crypto/bytes";
import { RECORD_CATEGORIES } from "../src/crypto/categories";
import { openEnvelope, sealEnvelope } from "../src/crypto/envelope";
import { encryptFile, sha256Hex } from "../src/crypto/file";
import { keyDerivationMessage, x25519FromSignature } from "../src/crypto/walletKey";
import type { KeyEnvelope, Scope } from "../src/contracts/EhrAccess.types";
import { fromBase64 } from "../src/crypto/bytes";
import { recordDocument, toChainTime } from "../src/lib/records";
import { signArbitrary } from "./adr36";
import { account, deploy } from "./harness";

async function ipfsAdd(bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([bytes.slice().buffer as ArrayBuffer]), "blob");
  const res = await fetch(`${deploy.ipfs_api_url}/api/v0/add?pin=true&cid-version=1&raw-leaves=true`, { method: "POST", body: form });
  return `ipfs://${((await res.json()) as { Hash: string }).Hash}`;
}

/** The localnet account `name`: a signing client and its wallet-derived X25519 key (the UI's, FORMAT.md §5). */
async function signerOf(name: string) {
  const me = account(name);
  const direct = await DirectSecp256k1HdWallet.fromMnemonic(me.mnemonic, { prefix: deploy.bech32_prefix });
  const amino = await Secp256k1HdWallet.fromMnemonic(me.mnemonic, { prefix: deploy.bech32_prefix });
  const client = await SigningCosmWasmClient.connectWithSigner(deploy.rpc_url, direct, { gasPrice: GasPrice.fromString(deploy.gas_price) });
  const wallet = x25519FromSignature(Buffer.from((await signArbitrary(amino, me.address, keyDerivationMessage({ chainId: deploy.chain_id, registry: deploy.contracts.registry.address }))).signature, "base64"));
  return { me, client, wallet };
}

/**
 * Registers the localnet account `name` as a patient and adds `count` records titled "Record <i>", rotating
 * through the record categories, `perTx` per transaction; `extraText` adds words to record i's notes. Returns the patient id.
 */
export async function seedPatientRecords(name: string, count: number, perTx: number, extraText: (i: number) => string = () => ""): Promise<number> {
  const { me, client, wallet } = await signerOf(name);
  const reg = deploy.contracts.registry.address;
  const acc = deploy.contracts.access.address;

  await client.execute(me.address, reg, { register_patient: { encryption_key: toBase64(wallet.publicKey), profile: null } }, "auto");
  const { patient_id: patientId } = await client.queryContractSmart(reg, { designation: { address: me.address } });
  const keys = new Map<Category, Uint8Array>(RECORD_CATEGORIES.map((c) => [c, randomBytes(32)]));
  const envelopes = await Promise.all(
    RECORD_CATEGORIES.map(async (c) => ({ category: c, epoch: 0, envelope: await sealEnvelope(wallet.publicKey, keys.get(c)!, { patientId, category: c, epoch: 0 }) })),
  );
  await client.execute(me.address, acc, { store_own_envelopes: { patient_id: patientId, key_envelopes: envelopes } }, "auto");
  for (let start = 0; start < count; start += perTx) {
    const indexes = Array.from({ length: Math.min(perTx, count - start) }, (_, k) => start + k);
    const records = await Promise.all(
      indexes.map(async (i) => {
        const category = RECORD_CATEGORIES[i % RECORD_CATEGORIES.length];
        const day = new Date(Date.UTC(2020, 0, 1) + (i % 2000) * 86_400_000).toISOString().slice(0, 10);
        const document = recordDocument(category, { title: `Record ${i}`, date: day, text: `benchmark entry ${i} ${i % 7 === 0 ? "asthma" : "routine"}${extraText(i)}` });
        const file = encryptFile(document, { patientId, category, epoch: 0, recordVersion: 1 }, keys.get(category)!);
        return { category, epoch: 0, blob: { sha256: sha256Hex(file), uri: await ipfsAdd(file), size: file.length } };
      }),
    );
    await client.execute(me.address, reg, { add_records: { patient_id: patientId, records } }, "auto");
  }
  return patientId;
}

/**
 * The patient (localnet account `name`) grants `grantee` `scope` on `categories` until `seconds` from
 * now, with envelopes of every key of those categories the patient holds (as the UI's grant does).
 * Returns the expiry.
 */
export async function grantForSeconds(name: string, patientId: number, grantee: string, scope: Scope, categories: Category[], seconds: number): Promise<Date> {
  const { me, client, wallet } = await signerOf(name);
  const reg = deploy.contracts.registry.address;
  const acc = deploy.contracts.access.address;
  const { provider: { encryption_key: doctorKey } } = await client.queryContractSmart(reg, { provider: { address: grantee } });
  const own: { key_envelopes: KeyEnvelope[] } = await client.queryContractSmart(acc, { own_envelopes: { patient_id: patientId } });
  const key_envelopes = await Promise.all(
    own.key_envelopes
      .filter((e) => categories.includes(e.category))
      .map(async ({ category, epoch, envelope }) => {
        const ctx = { patientId, category, epoch };
        return { category, epoch, envelope: await sealEnvelope(fromBase64(doctorKey), await openEnvelope(wallet.secretKey, envelope, ctx), ctx) };
      }),
  );
  const expires = new Date(Date.now() + seconds * 1000);
  await client.execute(me.address, acc, { grant: { patient_id: patientId, grantee, scope, categories, expires: toChainTime(expires), key_envelopes } }, "auto");
  return expires;
}

/** Sends one contract message as the localnet account `name`, through CosmJS (not the UI); the error is the chain's refusal. */
export async function executeAs(name: string, contract: string, msg: object): Promise<string> {
  const { me, client } = await signerOf(name);
  return (await client.execute(me.address, contract, msg, "auto")).transactionHash;
}
