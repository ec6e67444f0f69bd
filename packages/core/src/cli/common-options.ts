import { z } from 'zod';
import type { PluginServerOptions } from '../plugin-server.js';
import { defineOptions, parseOptions, schemas, type OptionValues } from './options.js';

/**
 * The options every k8s-kms binary has (the core README's flag table is checked against these).
 * Minimums are the smallest values that still make sense, not recommendations.
 */
export const COMMON_OPTIONS = defineOptions({
  'listen-addr': {
    value: 'addr',
    default: 'unix:///var/run/kmsplugin/socket.sock',
    help: 'gRPC socket: unix:///path.sock or unix:///@abstract-name',
    schema: z.string().min(1),
  },
  'socket-mode': {
    value: 'octal',
    default: '0600',
    help: 'socket file mode; 0660 admits the socket group',
    schema: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'must be an octal mode like 0600')
      .transform((v) => parseInt(v, 8))
      .refine((m) => (m & 0o007) === 0, 'must not grant access to other users: anyone who can open the socket can decrypt'),
  },
  'allow-shared-socket-dir': {
    help: 'accept a socket directory that group or others can write (warns at every start); only for a directory shared on purpose',
    schema: schemas.switch(),
  },
  'health-addr': {
    value: 'host:port',
    default: '127.0.0.1:8787',
    help: '/livez /readyz /healthz /metrics address, or "off"',
    schema: z.string(),
  },
  'log-level': {
    value: 'level',
    default: 'info',
    help: 'trace, debug, info, warn, error, fatal or silent',
    schema: schemas.choice(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  },
  'disable-v1': { help: 'serve only KMS v2 (no v1beta1 service)', schema: schemas.switch() },
  'status-version': {
    value: 'v2|v2beta1',
    default: 'v2',
    help: 'version Status reports; v2beta1 for kube-apiserver 1.27-1.28',
    schema: schemas.choice(['v2', 'v2beta1']),
  },
  'kek-mode': {
    value: 'local|direct',
    default: 'local',
    help: 'local: a backend-wrapped local KEK seals data keys; direct: one backend call per Encrypt/Decrypt',
    schema: schemas.choice(['local', 'direct']),
  },
  'kek-max-age': { value: 'duration', default: '24h', help: 'replace the local KEK after this age', schema: schemas.duration(1000) },
  'kek-max-uses': {
    value: 'n',
    default: '1048576',
    help: 'replace the local KEK after this many seals',
    schema: schemas.count(1, 2 ** 32, 'must not exceed 2^32 (NIST SP 800-38D limit for random GCM nonces)'),
  },
  'kek-cache-size': { value: 'n', default: '1000', help: 'unwrapped local KEKs kept in memory', schema: schemas.count(1) },
  'refresh-interval': {
    value: 'duration',
    default: '60s',
    help: 'how often to ask the backend for its current key version',
    schema: schemas.duration(100),
  },
  'refresh-retry': {
    value: 'duration',
    default: '2s',
    help: 'retry interval after a failed refresh: fixed while the backend is down, doubling after a refusal',
    schema: schemas.duration(10),
  },
  'backend-timeout': { value: 'duration', default: '2s', help: 'deadline of one backend call attempt', schema: schemas.duration(10) },
  'backend-retries': {
    value: 'n',
    default: '2',
    help: 'retries of a backend call (throttled/unavailable only)',
    schema: schemas.count(0, 10),
  },
  'backend-rate-limit': {
    value: 'per-second',
    default: '100',
    help: 'backend calls per second; 0 turns the limit off',
    schema: z.coerce.number().min(0),
  },
  'backend-burst': { value: 'n', default: '200', help: 'backend calls allowed at once above the rate', schema: schemas.count(1) },
  'backend-max-wait': {
    value: 'duration',
    default: '250ms',
    help: 'longest wait for the rate limit before failing as RESOURCE_EXHAUSTED',
    schema: schemas.duration(),
  },
  'backend-max-concurrency': { value: 'n', default: '32', help: 'backend calls in flight at once', schema: schemas.count(1) },
  'breaker-threshold': {
    value: 'n',
    default: '5',
    help: 'consecutive backend failures that open the circuit breaker',
    schema: schemas.count(1),
  },
  'breaker-open-for': {
    value: 'duration',
    default: '5s',
    help: 'how long the open breaker waits before a trial call',
    schema: schemas.duration(100, 'must be at least 100ms (0 would make the breaker a no-op)'),
  },
  'shutdown-grace': {
    value: 'duration',
    default: '10s',
    help: 'on SIGTERM, how long in-flight calls may finish',
    schema: schemas.duration(),
  },
});

export type CommonConfig = OptionValues<typeof COMMON_OPTIONS>;

/** Validate the common options (defaults for those left out), or throw a ConfigError naming each bad one. */
export function parseCommonConfig(values: Readonly<Record<string, unknown>>): CommonConfig {
  return parseOptions(COMMON_OPTIONS, values);
}

/** The server options the common flags stand for. */
export function serverOptionsFrom(c: CommonConfig): Omit<PluginServerOptions, 'provider' | 'logger' | 'metrics'> {
  return {
    listenAddr: c['listen-addr'],
    socketMode: c['socket-mode'],
    allowSharedSocketDir: c['allow-shared-socket-dir'],
    healthAddr: c['health-addr'],
    disableV1: c['disable-v1'],
    statusVersion: c['status-version'],
    kekMode: c['kek-mode'],
    kekLimits: { maxAgeMs: c['kek-max-age'], maxUses: c['kek-max-uses'] },
    kekCacheSize: c['kek-cache-size'],
    refresh: { intervalMs: c['refresh-interval'], retryMs: c['refresh-retry'] },
    remote: {
      timeoutMs: c['backend-timeout'],
      retries: c['backend-retries'],
      rateLimit: { perSecond: c['backend-rate-limit'], burst: c['backend-burst'], maxWaitMs: c['backend-max-wait'] },
      maxConcurrency: c['backend-max-concurrency'],
      breakerThreshold: c['breaker-threshold'],
      breakerHalfOpenAfterMs: c['breaker-open-for'],
    },
  };
}
