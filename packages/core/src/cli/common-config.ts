import { z } from 'zod';
import type { PluginServerOptions } from '../plugin-server.js';
import { parseDuration } from './duration.js';
import { ConfigError } from '../config-error.js';

/** Resolved raw values, keyed by flag name. */
export type RawValue = string | boolean | readonly string[] | undefined;
export type RawValues = Readonly<Record<string, RawValue>>;

const duration = z.string().transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const count = (min: number) => z.coerce.number().int().min(min);

/** Schema of the common flags; a failure names the flag (see `formatIssues`). */
const commonSchema = z.object({
  'listen-addr': z.string().min(1),
  'socket-mode': z
    .string()
    .regex(/^0?[0-7]{3}$/, 'must be an octal mode like 0600')
    .transform((v) => parseInt(v, 8))
    .refine((m) => (m & 0o007) === 0, 'must not grant access to other users: anyone who can open the socket can decrypt'),
  'health-addr': z.string(),
  'log-level': z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  'disable-v1': z.boolean(),
  'status-version': z.enum(['v2', 'v2beta1']),
  'kek-mode': z.enum(['local', 'direct']),
  'kek-max-age': duration.refine((ms) => ms >= 1000, 'must be at least 1s'),
  'kek-max-uses': count(1).max(2 ** 32, 'must not exceed 2^32 (NIST SP 800-38D limit for random GCM nonces)'),
  'kek-cache-size': count(1),
  'refresh-interval': duration.refine((ms) => ms >= 100, 'must be at least 100ms'),
  'refresh-retry': duration.refine((ms) => ms >= 10, 'must be at least 10ms'),
  'backend-timeout': duration.refine((ms) => ms >= 10, 'must be at least 10ms'),
  'backend-retries': count(0).max(10),
  'backend-rate-limit': z.coerce.number().min(0),
  'backend-burst': count(1),
  'backend-max-wait': duration,
  'backend-max-concurrency': count(1),
  'breaker-threshold': count(1),
  'breaker-open-for': duration.refine((ms) => ms >= 100, 'must be at least 100ms (0 would make the breaker a no-op)'),
  'shutdown-grace': duration,
});

export type CommonConfig = z.output<typeof commonSchema>;

/** Validate the common flags, or throw an error naming each bad flag. */
export function parseCommonConfig(raw: RawValues): CommonConfig {
  const result = commonSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error));
  return result.data;
}

/** "--flag: message" lines from a zod error whose paths are flag names. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n');
}

/** The server options the common flags stand for. */
export function serverOptionsFrom(c: CommonConfig): Omit<PluginServerOptions, 'provider' | 'logger' | 'metrics'> {
  return {
    listenAddr: c['listen-addr'],
    socketMode: c['socket-mode'],
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
