// Test-only: what Keplr's signArbitrary does with a software key (ADR-36 amino sign doc, secp256k1,
// RFC 6979, low-S), done with CosmJS so that the keys stay in the Node test process.
import { Secp256k1HdWallet, type StdSignature } from "@cosmjs/amino";
import { toBase64 } from "@cosmjs/encoding";

export function adr36SignDoc(signer: string, data: string) {
  return {
    chain_id: "",
    account_number: "0",
    sequence: "0",
    fee: { gas: "0", amount: [] },
    msgs: [{ type: "sign/MsgSignData", value: { signer, data: toBase64(new TextEncoder().encode(data)) } }],
    memo: "",
  };
}

export async function signArbitrary(wallet: Secp256k1HdWallet, signer: string, data: string): Promise<StdSignature> {
  const { signature } = await wallet.signAmino(signer, adr36SignDoc(signer, data));
  return signature;
}
