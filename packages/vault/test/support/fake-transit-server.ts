import { createServer, type Server } from 'node:http';

/** One request the fake received. */
export interface FakeTransitRequest {
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown>;
}

/**
 * FakeTransitServer: a stand-in for the few Vault HTTP paths that reading a wrapped key takes
 * (token lookup-self, a transit key's type, transit decrypt), written from Vault's public API. It
 * records every request and answers decrypt with a chosen plaintext, for frozen vectors whose
 * transit key lived in an OpenBao dev server that is gone. Everything else gets 404.
 */
export class FakeTransitServer {
  private server: Server | undefined;
  address = '';
  /** Key type per transit key name, and what decrypt answers (base64 of the transit plaintext). */
  keyTypes: Record<string, string> = {};
  decryptPlaintext: Buffer = Buffer.alloc(0);
  readonly received: FakeTransitRequest[] = [];

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        const path = (req.url ?? '').replace(/^\/v1\//, '');
        this.received.push({ method: req.method ?? '', path, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        const json = (status: number, body: unknown) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        const key = /^transit\/(keys|decrypt)\/([^/]+)$/.exec(path);
        if (path === 'auth/token/lookup-self') return json(200, { data: { ttl: 0, renewable: false, expire_time: null } });
        if (key?.[1] === 'keys' && key[2] && this.keyTypes[key[2]])
          return json(200, { data: { type: this.keyTypes[key[2]], latest_version: 1 } });
        if (key?.[1] === 'decrypt') return json(200, { data: { plaintext: this.decryptPlaintext.toString('base64') } });
        return json(404, { errors: [] });
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.address = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}
