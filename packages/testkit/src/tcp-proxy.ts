import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './process.js';

/**
 * A loopback TCP proxy to a backend that can be switched off (connections refused and cut, as an
 * endpoint that is down) and on again at the same address: an outage for a backend that cannot
 * have one itself (moto, a stand-in), without losing its state.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  /** A proxy on a free loopback port to 127.0.0.1:`targetPort`, switched on. */
  static async to(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort);
    await proxy.up();
    return proxy;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        this.server = undefined;
        reject(new Error(`the proxy cannot listen on 127.0.0.1:${this.port} again: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
      server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}
