import { createServer, type Server } from 'node:http';

/**
 * FakeKmsErrorServer: a stand-in for the AWS KMS JSON protocol that answers every call with one
 * chosen error, for the failures moto cannot produce (moto lets disabled keys encrypt, and answers
 * a wrong KeyId with AccessDenied rather than IncorrectKeyException). Written from the public
 * protocol: POST /, X-Amz-Target "TrentService.<Op>", errors as JSON {"__type", "message"}.
 */
export class FakeKmsErrorServer {
  private server: Server | undefined;
  endpoint = '';
  /** The next answers: an AWS error name and HTTP status. */
  error = { type: 'ThrottlingException', status: 400 };
  requests = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.requests += 1;
      req.resume();
      req.on('end', () => {
        res.writeHead(this.error.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fake' });
        res.end(JSON.stringify({ __type: this.error.type, message: `fake ${this.error.type}` }));
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
