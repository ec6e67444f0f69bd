import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';

/**
 * TEMPLATE: the stand-in of Example KMS, written from its public API (here: imaginary), for when
 * no emulator can be installed. Name what it does not do like the real service, e.g.: no IAM, no
 * quotas, no key rotation schedule, errors only for what the tests need. Keep it a library plus a
 * bin (test/support/stand-in-main.ts) so that jest and the Go e2e start the same thing.
 */
export class ExampleStandIn {
  private server: Server | undefined;
  address = '';
  private readonly keys = new Map<string, { versions: Buffer[]; created: string; enabled: boolean }>();

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        const json = (status: number, body: unknown) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        const m = /^\/v1\/keys\/([^/]+)(?:\/versions\/(\d+):(encrypt|decrypt))?$/.exec(req.url ?? '');
        const key = m?.[1] ? this.keys.get(m[1]) : undefined;
        if (!m || !key) return json(404, { error: { name: 'NotFound', message: 'no such key' } });
        if (!m[3]) return json(200, { version: key.versions.length, created: key.created, state: key.enabled ? 'ENABLED' : 'DISABLED' });
        const material = key.versions[Number(m[2]) - 1];
        if (!material) return json(404, { error: { name: 'NotFound', message: 'no such version' } });
        const body = JSON.parse(text) as { plaintext?: string; ciphertext?: string; aad: string };
        const aad = Buffer.from(body.aad, 'base64');
        if (m[3] === 'encrypt') {
          const iv = randomBytes(12);
          const c = createCipheriv('aes-256-gcm', material, iv).setAAD(aad);
          const ct = Buffer.concat([iv, c.update(Buffer.from(body.plaintext ?? '', 'base64')), c.final(), c.getAuthTag()]);
          return json(200, { ciphertext: ct.toString('base64') });
        }
        try {
          const ct = Buffer.from(body.ciphertext ?? '', 'base64');
          const d = createDecipheriv('aes-256-gcm', material, ct.subarray(0, 12)).setAAD(aad);
          d.setAuthTag(ct.subarray(ct.length - 16));
          return json(200, { plaintext: Buffer.concat([d.update(ct.subarray(12, ct.length - 16)), d.final()]).toString('base64') });
        } catch {
          return json(400, { error: { name: 'InvalidCiphertext', message: 'ciphertext does not open' } });
        }
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.address = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  createKey(name: string): void {
    this.keys.set(name, { versions: [randomBytes(32)], created: new Date().toISOString(), enabled: true });
  }

  rotate(name: string): void {
    this.keys.get(name)?.versions.push(randomBytes(32));
  }

  setEnabled(name: string, enabled: boolean): void {
    const key = this.keys.get(name);
    if (key) key.enabled = enabled;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}
