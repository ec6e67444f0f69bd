import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import * as v1 from '../gen/kms/v1beta1/api.js';
import * as v2 from '../gen/kms/v2/api.js';
import { formatListenAddress, grpcTarget, type ListenAddress } from './listen-address.js';
import { protocolErrorInterceptor, type ProtocolErrorReason } from './protocol-errors.js';
import { guardService, maxReceiveBytes } from './request-guard.js';
import { prepareSocketPath, removeSocketFile, setSocketMode, socketIdentity, socketLost } from './socket-file.js';

/** How often the socket file is checked while serving. */
const SOCKET_CHECK_MS = 1000;

export interface SocketServerOptions {
  readonly address: ListenAddress;
  /** File mode of the socket: 0o600 by default, 0o660 to admit a group. */
  readonly socketMode: number;
  /** Accept a socket directory others can write (logged as a warning at every start). */
  readonly allowSharedSocketDir?: boolean;
  readonly v2: v2.KeyManagementServiceServer;
  /** Omitted when v1beta1 is disabled. */
  readonly v1?: v1.KeyManagementServiceServer;
  readonly log: Logger;
  /** A request grpc-js refused before any handler ran (malformed header, body, compression). */
  onProtocolError(path: string, reason: ProtocolErrorReason, code: number): void;
  /**
   * The socket file was removed or replaced while serving: new clients can no longer reach this
   * plugin (or reach an impostor). Called once.
   */
  onSocketLost(reason: string): void;
}

/** grpc-js serving KMS v2 and (optionally) v1beta1 on one unix socket. */
export class SocketServer {
  private readonly server: Server;
  private listening = false;
  private boundIdentity = '';
  private watch: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SocketServerOptions) {
    const services = [guardService(v2.KeyManagementServiceService), ...(opts.v1 ? [guardService(v1.KeyManagementServiceService)] : [])];
    this.server = new Server({
      // Sized from the protocol's own limits instead of grpc-js's 4 MiB default: a request larger
      // than any method can need is refused before it is buffered.
      'grpc.max_receive_message_length': maxReceiveBytes(services),
      interceptors: [protocolErrorInterceptor((path, reason, code) => opts.onProtocolError(path, reason, code))],
    });
    const [v2Service, v1Service] = services;
    if (v2Service) this.server.addService(v2Service, opts.v2);
    if (v1Service && opts.v1) this.server.addService(v1Service, opts.v1);
  }

  get isListening(): boolean {
    return this.listening;
  }

  async listen(): Promise<void> {
    const { address } = this.opts;
    if (address.kind === 'path') {
      const warning = await prepareSocketPath(address.path, { allowShared: this.opts.allowSharedSocketDir === true });
      if (warning) this.opts.log.warn({ listenAddr: formatListenAddress(address) }, warning);
    }
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
      this.watchSocketFile(address.path);
    } else {
      // An abstract socket has no file, so no mode: any process in the network namespace can
      // connect (and decrypt). Say so, every start.
      this.opts.log.warn({ abstractName: address.name }, 'abstract socket: no file permissions protect it; prefer a socket path');
    }
    this.listening = true;
  }

  /**
   * Stop accepting calls, let in-flight calls finish for up to `graceMs`, then cut the rest and
   * remove the socket file.
   */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.watch);
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

  /**
   * A socket file deleted or renamed while serving leaves a plugin nobody can reach, and one
   * replaced by another process means kube-apiserver talks to that process: either way this
   * plugin must stop serving so that its supervisor starts a fresh one.
   */
  private watchSocketFile(path: string): void {
    let checking = false;
    this.watch = setInterval(() => {
      if (checking) return;
      checking = true;
      void socketLost(path, this.boundIdentity)
        .then((reason) => {
          if (!reason || !this.listening) return;
          clearInterval(this.watch);
          try {
            this.opts.onSocketLost(reason);
          } catch (err) {
            this.opts.log.error({ err: (err as Error).message }, 'onSocketLost failed');
          }
        })
        .finally(() => (checking = false));
    }, SOCKET_CHECK_MS);
    this.watch.unref();
  }
}
