// kubo's RPC API (POST only, CORS set by scripts/localnet for the UI's origins).
import { IpfsError } from "./errors";

export class Ipfs {
  constructor(private readonly apiUrl: string) {}

  private async call(path: string, body?: FormData): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.apiUrl}/api/v0/${path}`, { method: "POST", body });
    } catch (e) {
      throw new IpfsError(`IPFS at ${this.apiUrl} is not reachable: ${(e as Error).message}`);
    }
    if (!res.ok) throw new IpfsError(`IPFS ${path.split("?")[0]} answered ${res.status}: ${await res.text()}`);
    return res;
  }

  /** Stores and pins the bytes; returns the `ipfs://CID` locator registered on chain. */
  async add(bytes: Uint8Array): Promise<string> {
    const form = new FormData();
    form.append("file", new Blob([bytes.slice().buffer as ArrayBuffer]), "blob");
    const res = await this.call("add?pin=true&cid-version=1&raw-leaves=true", form);
    const { Hash } = (await res.json()) as { Hash: string };
    return `ipfs://${Hash}`;
  }

  async get(uri: string): Promise<Uint8Array> {
    if (!uri.startsWith("ipfs://")) throw new IpfsError(`not an IPFS locator: ${uri}`);
    const res = await this.call(`cat?arg=${encodeURIComponent(uri.slice("ipfs://".length))}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}
