import type { Logger } from 'pino';
import { Backend } from './backend.js';
import { Envelope, type KekMode } from './envelope/envelope.js';
import { KekCache } from './envelope/kek-cache.js';
import { Aad } from './envelope/format.js';
import { DEFAULT_KEK_LIMITS, LocalKekManager, type LocalKekLimits } from './envelope/local-kek.js';
import { KeyStateRefresher, type RefreshOptions } from './key-state.js';
import { KmsService, type StatusVersion } from './kms-service.js';
import { HealthServer, parseHealthAddress } from './ops/health-server.js';
import { LogThrottle } from './ops/log-throttle.js';
import { createLogger } from './ops/logger.js';
import { PluginMetrics } from './ops/metrics.js';
import type { KeyProvider } from './provider.js';
import { DEFAULT_REMOTE_POLICY, RemotePolicy, type RemoteCallObserver, type RemotePolicyOptions } from './remote-policy.js';
import { v1Handlers, v2Handlers } from './transport/grpc-services.js';
import { formatListenAddress, parseListenAddress } from './transport/listen-address.js';
import { codeName } from './transport/grpc-status.js';
import { SocketServer } from './transport/socket-server.js';

/** Options of {@link createPluginServer}. Only `provider` and `listenAddr` are required. */
export interface PluginServerOptions {
  readonly provider: KeyProvider;
  /** `unix:///path/to/socket.sock` or `unix:///@abstract-name`. */
  readonly listenAddr: string;
  /** Socket file mode (default 0o600). */
  readonly socketMode?: number;
  /**
   * Accept a socket directory that group or others can write (default: refuse it, since whoever
   * can write it can replace the socket with an impostor). Only for a directory shared on purpose.
   */
  readonly allowSharedSocketDir?: boolean;
  /** `host:port` of /livez, /readyz, /healthz, /metrics; "off" (the default here) to disable. */
  readonly healthAddr?: string;
  /** Serve only KMS v2. */
  readonly disableV1?: boolean;
  /** What Status reports as version (default "v2"). */
  readonly statusVersion?: StatusVersion;
  /** "local" (default) or "direct". */
  readonly kekMode?: KekMode;
  readonly kekLimits?: Partial<LocalKekLimits>;
  /** Unwrapped local KEKs kept in memory (default 1000). */
  readonly kekCacheSize?: number;
  readonly refresh?: Partial<RefreshOptions>;
  readonly remote?: Partial<Omit<RemotePolicyOptions, 'rateLimit'>> & { rateLimit?: Partial<RemotePolicyOptions['rateLimit']> };
  /** Default: pino at "info" on stdout. */
  readonly logger?: Logger;
  /** Default: a fresh registry. */
  readonly metrics?: PluginMetrics;
  readonly runtimeVersion?: string;
  /** What `--version` prints (commit, core, SDK, Node), for the start-up log line. */
  readonly build?: string;
  /**
   * The socket file was removed or replaced while serving, so new clients cannot reach this
   * plugin: /livez fails from then on. The CLI runner exits here so that the supervisor starts a
   * fresh plugin; a library user decides. Default: log it.
   */
  readonly onSocketLost?: (reason: string) => void;
}

/** A running (or ready to run) plugin. */
export interface PluginServer {
  /** First key refresh, then listen on the socket and the health address. */
  start(): Promise<void>;
  /** Drain in-flight calls for up to `graceMs`, remove the socket, close the provider. */
  stop(graceMs?: number): Promise<void>;
  /** The socket address as written in an EncryptionConfiguration. */
  readonly socketAddress: string;
  /** The bound health address (after start), or undefined when disabled. */
  readonly healthAddress: string | undefined;
  readonly metrics: PluginMetrics;
  /** Ask the backend for its current key now, instead of at the next interval. */
  refreshKey(): Promise<void>;
}

/** The provider's own description for the start-up line; a failure there never stops a start. */
async function describe(provider: KeyProvider): Promise<unknown> {
  try {
    return await provider.describe?.();
  } catch {
    return undefined;
  }
}

/**
 * Build a KMS plugin server around any {@link KeyProvider}: the library face of k8s-kms.
 *
 * @example
 * const server = createPluginServer({ provider: myProvider, listenAddr: 'unix:///run/kms/socket.sock' });
 * await server.start();
 */
export function createPluginServer(opts: PluginServerOptions): PluginServer {
  const address = parseListenAddress(opts.listenAddr);
  const health = parseHealthAddress(opts.healthAddr ?? 'off');
  const log = opts.logger ?? createLogger({ level: 'info', name: `kms-plugin-${opts.provider.kind}` });
  const metrics = opts.metrics ?? new PluginMetrics();
  const remote: RemotePolicyOptions = {
    ...DEFAULT_REMOTE_POLICY,
    ...opts.remote,
    rateLimit: { ...DEFAULT_REMOTE_POLICY.rateLimit, ...opts.remote?.rateLimit },
  };
  const refreshOpts: RefreshOptions = { intervalMs: 60_000, retryMs: 2_000, ...opts.refresh };
  // A failing call asks the refresher (made below) for a prompt health check.
  let checkSoon: () => void = () => undefined;
  const observer: RemoteCallObserver = {
    call: (op, result, seconds) => {
      metrics.call(op, result, seconds);
      if ((result === 'unavailable' || result === 'throttled') && op !== 'current-key') checkSoon();
    },
    rejected: (op, reason) => metrics.rejected(op, reason),
    breaker: (state, cause) => {
      metrics.breaker(state);
      if (state === 'open') log.warn({ err: cause?.message, openForMs: remote.breakerHalfOpenAfterMs }, 'backend circuit breaker opened');
      if (state === 'closed') log.info('backend circuit breaker closed: the backend answers again');
    },
  };
  const backend = new Backend(opts.provider, new RemotePolicy(remote, observer));

  const cache = new KekCache(opts.kekCacheSize ?? 1000, (wrapped) => backend.unwrapKek(wrapped, Aad.localKek), metrics.kekCache);
  const keks = new LocalKekManager(
    { ...DEFAULT_KEK_LIMITS, ...opts.kekLimits },
    (kek, key) => backend.wrap(kek, key.version, Aad.localKek),
    (created, reason) => {
      cache.put(created.wrapped, created.kek);
      metrics.kekRotated(reason);
      log.info({ keyId: created.keyId, reason }, 'new local KEK');
    },
  );
  const envelope = new Envelope(opts.kekMode ?? 'local', backend, keks, cache);
  const refresher = new KeyStateRefresher(
    backend,
    refreshOpts,
    {
      keyChanged: (next) => {
        metrics.currentKey(opts.provider.kind, next.keyId);
        cache.forgetRefusals(); // a KEK refused under the old key may open under the new one
      },
      keyRevoked: (reason) => {
        if (cache.size > 0) log.warn({ reason }, 'backend key revoked or unusable: forgetting local KEKs');
        envelope.forget();
      },
      refreshed: (ok) => metrics.refreshed(ok),
    },
    log,
  );
  checkSoon = () => refresher.refreshSoon();
  const service = new KmsService({
    refresher,
    envelope,
    backendHealth: () => backend.health(),
    statusVersion: opts.statusVersion ?? 'v2',
    runtimeName: `k8s-kms-${opts.provider.kind}`,
    runtimeVersion: opts.runtimeVersion ?? '0.0.0',
    staleAfterMs: 2 * refreshOpts.intervalMs + remote.timeoutMs,
  });
  const protocolLog = new LogThrottle(log);
  const deps = { service, metrics, log, throttledLog: protocolLog };
  let socketLost: string | undefined;
  const socket = new SocketServer({
    address,
    socketMode: opts.socketMode ?? 0o600,
    ...(opts.allowSharedSocketDir ? { allowSharedSocketDir: true } : {}),
    v2: v2Handlers(deps),
    ...(opts.disableV1 ? {} : { v1: v1Handlers(deps) }),
    log,
    onProtocolError: (path, reason, code) => {
      metrics.protocolError(path, reason, codeName(code));
      protocolLog.warn(reason, { path, reason, code: codeName(code) }, 'request refused as malformed before it reached the plugin');
    },
    onSocketLost: (reason) => {
      socketLost = reason;
      log.error({ reason }, 'socket lost: kube-apiserver can no longer reach this plugin');
      opts.onSocketLost?.(reason);
    },
  });
  const live = (): string | undefined => socketLost ?? (socket.isListening ? undefined : 'socket not serving');
  const healthServer = health
    ? new HealthServer(
        {
          live,
          ready: () => live() ?? service.ready(),
          backend: () => service.backendProblem(),
        },
        metrics,
      )
    : undefined;
  let healthAddress: string | undefined;

  return {
    socketAddress: formatListenAddress(address),
    get healthAddress() {
      return healthAddress;
    },
    metrics,
    async start() {
      await refresher.start();
      await socket.listen();
      if (healthServer && health) healthAddress = await healthServer.listen(health.host, health.port);
      // One line that says what this process is and how it is set, for whoever reads the log first.
      log.info(
        {
          version: opts.build ?? opts.runtimeVersion,
          backend: opts.provider.kind,
          target: await describe(opts.provider),
          keyId: refresher.current?.keyId,
          listenAddr: formatListenAddress(address),
          socketMode: `0${(opts.socketMode ?? 0o600).toString(8)}`,
          healthAddr: healthAddress ?? 'off',
          v1: !opts.disableV1,
          statusVersion: opts.statusVersion ?? 'v2',
          kekMode: opts.kekMode ?? 'local',
          kekLimits: { ...DEFAULT_KEK_LIMITS, ...opts.kekLimits, cacheSize: opts.kekCacheSize ?? 1000 },
          refresh: refreshOpts,
          remote,
        },
        'serving',
      );
    },
    async stop(graceMs = 10_000) {
      refresher.stop();
      await socket.close(graceMs);
      await healthServer?.close();
      await opts.provider.close?.();
      log.info('stopped');
    },
    refreshKey: () => refresher.refresh(),
  };
}
