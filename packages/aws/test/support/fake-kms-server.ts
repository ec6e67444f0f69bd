import { createServer, type Server } from 'node:http';

/** One request the fake received: its operation and JSON body. */
export interface FakeKmsRequest {
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

/**
 * FakeKmsServer: a stand-in for the AWS KMS JSON protocol, for what moto cannot do. It records
 * every request, and answers each with a chosen error (the failures moto cannot produce: moto lets
 * disabled keys encrypt, and answers a wrong KeyId with AccessDenied rather than
 * IncorrectKeyException) or, for Decrypt, a chosen plaintext (to read frozen vectors whose key
 * material no emulator holds). Written from the public protocol: POST /, X-Amz-Target
 * "TrentService.<Op>", errors as JSON {"__type", "message"}, blobs as base64.
 */
export class FakeKmsServer {
  private server: Server | undefined;
  endpoint = '';
  /** The next answers: an AWS error name and HTTP status, or a Decrypt plaintext. */
  answer: { error: string; status: number; retryAfter?: string } | { plaintext: Buffer } = { error: 'ThrottlingException', status: 400 };
  readonly received: FakeKmsRequest[] = [];

  get requests(): number {
    return this.received.length;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').replace(/^TrentService\./, '');
        this.received.push({ operation, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fake' };
        const a = this.answer;
        if ('plaintext' in a) {
          const keyId = this.received.at(-1)?.body.KeyId;
          res.writeHead(200, headers).end(JSON.stringify({ KeyId: keyId, Plaintext: a.plaintext.toString('base64') }));
          return;
        }
        res.writeHead(a.status, { ...headers, ...(a.retryAfter ? { 'retry-after': a.retryAfter } : {}) });
        res.end(JSON.stringify({ __type: a.error, message: `fake ${a.error}` }));
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}
