import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import * as v1 from '../gen/kms/v1beta1/api.js';
import * as v2 from '../gen/kms/v2/api.js';
import { formatListenAddress, grpcTarget, type ListenAddress } from './listen-address.js';
import { prepareSocketPath, removeSocketFile, setSocketMode, socketIdentity } from './socket-file.js';

export interface SocketServerOptions {
  readonly address: ListenAddress;
  /** File mode of the socket: 0o600 by default, 0o660 to admit a group. */
  readonly socketMode: number;
  readonly v2: v2.KeyManagementServiceServer;
  /** Omitted when v1beta1 is disabled. */
  readonly v1?: v1.KeyManagementServiceServer;
  readonly log: Logger;
}

/** grpc-js serving KMS v2 and (optionally) v1beta1 on one unix socket. */
export class SocketServer {
  private readonly server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  private listening = false;
  private boundIdentity = '';

  constructor(private readonly opts: SocketServerOptions) {
    this.server.addService(v2.KeyManagementServiceService, opts.v2);
    if (opts.v1) this.server.addService(v1.KeyManagementServiceService, opts.v1);
  }

  get isListening(): boolean {
    return this.listening;
  }

  async listen(): Promise<void> {
    const { address } = this.opts;
    if (address.kind === 'path') await prepareSocketPath(address.path);
    // The socket is created by bind(2) with the process umask: narrow it so the file is never
    // wider than 0600, not even for the moment before the chmod below.
    const previousUmask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.bindAsync(grpcTarget(address), ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      throw new Error(`cannot listen on ${formatListenAddress(address)}: ${(err as Error).message}`);
    } finally {
      process.umask(previousUmask);
    }
    if (address.kind === 'path') {
      await setSocketMode(address.path, this.opts.socketMode);
      this.boundIdentity = await socketIdentity(address.path);
    } else {
      // An abstract socket has no file, so no mode: any process in the network namespace can
      // connect (and decrypt). Say so, every start.
      this.opts.log.warn({ name: address.name }, 'abstract socket: no file permissions protect it; prefer a socket path');
    }
    this.listening = true;
  }

  /**
   * Stop accepting calls, let in-flight calls finish for up to `graceMs`, then cut the rest and
   * remove the socket file.
   */
  async close(graceMs: number): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.opts.log.warn({ graceMs }, 'grace period over: cancelling in-flight calls');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    if (this.opts.address.kind === 'path') await removeSocketFile(this.opts.address.path, this.boundIdentity);
  }
}
