import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_CLASSES, type ErrorClass } from '../errors.js';
import type { KekCacheEvents } from '../envelope/kek-cache.js';
import type { BackendOperation, RemoteCallObserver } from '../remote-policy.js';

/** Buckets that resolve sub-millisecond local-KEK calls as well as slow backend round trips. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The plugin's Prometheus metrics, on a registry of its own (several servers may share a process).
 * Every label is from a closed set (API, method, gRPC code, operation, error class) except key_id,
 * which is a hash and only ever the current one: cardinality stays bounded.
 */
export class PluginMetrics implements RemoteCallObserver {
  readonly registry = new Registry();
  private readonly grpcRequests = new Counter({
    name: 'kms_plugin_grpc_requests_total',
    help: 'gRPC requests served, by API, method and status code.',
    labelNames: ['api', 'method', 'code'] as const,
    registers: [this.registry],
  });
  private readonly malformed = new Counter({
    name: 'kms_plugin_grpc_malformed_requests_total',
    help: 'Requests refused as malformed before the KMS logic ran, by reason (too-large, not-protobuf, timeout-header, compression).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly grpcLatency = new Histogram({
    name: 'kms_plugin_grpc_request_duration_seconds',
    help: 'gRPC request latency, by API and method.',
    labelNames: ['api', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly backendCalls = new Counter({
    name: 'kms_plugin_backend_calls_total',
    help: 'Calls made to the backend KMS, by operation and result (ok or error class).',
    labelNames: ['operation', 'result'] as const,
    registers: [this.registry],
  });
  private readonly backendLatency = new Histogram({
    name: 'kms_plugin_backend_call_duration_seconds',
    help: 'Backend call latency, by operation.',
    labelNames: ['operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly backendRejected = new Counter({
    name: 'kms_plugin_backend_rejections_total',
    help: 'Backend calls refused locally by the remote call policy, by reason.',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly breakerOpen = new Gauge({
    name: 'kms_plugin_backend_circuit_open',
    help: '1 while the backend circuit breaker is open or half-open.',
    registers: [this.registry],
  });
  private readonly cacheEvents = new Counter({
    name: 'kms_plugin_kek_cache_events_total',
    help: 'Local KEK cache lookups, by event (hit, miss, refused: a wrapped KEK the backend refused as corrupt within the last minute).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  private readonly cacheSize = new Gauge({
    name: 'kms_plugin_kek_cache_size',
    help: 'Unwrapped local KEKs held in memory.',
    registers: [this.registry],
  });
  private readonly kekRotations = new Counter({
    name: 'kms_plugin_local_kek_rotations_total',
    help: 'New local KEKs created, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly keyInfo = new Gauge({
    name: 'kms_plugin_key_info',
    help: 'The current key_id (a hash of the backend key version), value 1.',
    labelNames: ['provider', 'key_id'] as const,
    registers: [this.registry],
  });
  private readonly refreshes = new Counter({
    name: 'kms_plugin_key_refreshes_total',
    help: 'Background key refreshes, by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
    for (const result of ['ok', ...ERROR_CLASSES]) {
      for (const operation of ['current-key', 'wrap', 'unwrap']) this.backendCalls.inc({ operation, result }, 0);
    }
    this.cacheEvents.inc({ event: 'hit' }, 0);
    this.cacheEvents.inc({ event: 'miss' }, 0);
    this.cacheEvents.inc({ event: 'refused' }, 0);
    for (const reason of ['too-large', 'not-protobuf', 'timeout-header', 'compression']) this.malformed.inc({ reason }, 0);
  }

  grpc(api: string, method: string, code: string, seconds: number): void {
    this.grpcRequests.inc({ api, method, code });
    this.grpcLatency.observe({ api, method }, seconds);
  }

  /** A request whose body the plugin refused unread (too large, not the method's message). */
  malformedRequest(reason: string): void {
    this.malformed.inc({ reason });
  }

  /** A request grpc-js itself refused before any handler ran; `path` is the method's gRPC path. */
  protocolError(path: string, reason: string, code: string): void {
    const [, api = 'unknown', method = 'unknown'] = /^\/([a-z0-9]+)\.KeyManagementService\/(\w+)$/.exec(path) ?? [];
    this.grpcRequests.inc({ api, method, code });
    this.malformed.inc({ reason });
  }

  call(operation: BackendOperation, result: 'ok' | ErrorClass, seconds: number): void {
    this.backendCalls.inc({ operation, result });
    this.backendLatency.observe({ operation }, seconds);
  }

  rejected(operation: BackendOperation, reason: string): void {
    this.backendRejected.inc({ operation, reason });
  }

  breaker(state: 'closed' | 'open' | 'half-open'): void {
    this.breakerOpen.set(state === 'closed' ? 0 : 1);
  }

  readonly kekCache: KekCacheEvents = {
    hit: () => this.cacheEvents.inc({ event: 'hit' }),
    miss: () => this.cacheEvents.inc({ event: 'miss' }),
    refused: () => this.cacheEvents.inc({ event: 'refused' }),
    size: (n) => this.cacheSize.set(n),
  };

  kekRotated(reason: string): void {
    this.kekRotations.inc({ reason });
  }

  currentKey(provider: string, keyId: string): void {
    this.keyInfo.reset();
    this.keyInfo.set({ provider, key_id: keyId }, 1);
  }

  /**
   * A gauge a backend owns (e.g. the Vault token's remaining TTL), read at scrape time from
   * `collect`. Name it `kms_plugin_<backend>_...`; it takes no labels, so it adds one series.
   */
  backendGauge(name: string, help: string, collect: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(collect());
      },
    });
  }

  refreshed(ok: boolean): void {
    this.refreshes.inc({ result: ok ? 'ok' : 'error' });
  }
}
