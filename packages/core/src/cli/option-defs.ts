/** One flag of a plugin binary: its CLI form, env var, config-file key and default. */
export interface OptionDef {
  /** Long flag name without dashes, kebab-case: "listen-addr". Also the config-file key. */
  readonly name: string;
  /** Placeholder for the value, or undefined for a boolean switch. */
  readonly value?: string;
  readonly help: string;
  readonly default?: string;
  /** Backend flags may be required; a missing one stops start-up with an error naming it. */
  readonly required?: boolean;
  /**
   * The flag may be given several times; its value is a list. Every value, from each flag, the
   * environment or each element of the config file's JSON array, is a comma-separated list of
   * items (so an item cannot contain a comma).
   */
  readonly repeatable?: boolean;
}

/** Every env var is this prefix plus the flag name in SCREAMING_SNAKE_CASE. */
export const ENV_PREFIX = 'KMS_PLUGIN_';

export function envName(name: string): string {
  return ENV_PREFIX + name.toUpperCase().replace(/-/g, '_');
}

/** The flags every k8s-kms binary has. test/readme.test.ts keeps the core README table in step. */
export const COMMON_OPTIONS: readonly OptionDef[] = [
  {
    name: 'listen-addr',
    value: 'addr',
    default: 'unix:///var/run/kmsplugin/socket.sock',
    help: 'gRPC socket: unix:///path.sock or unix:///@abstract-name',
  },
  { name: 'socket-mode', value: 'octal', default: '0600', help: 'socket file mode; 0660 admits the socket group' },
  { name: 'health-addr', value: 'host:port', default: '127.0.0.1:8787', help: '/livez /readyz /healthz /metrics address, or "off"' },
  { name: 'log-level', value: 'level', default: 'info', help: 'trace, debug, info, warn, error, fatal or silent' },
  { name: 'disable-v1', help: 'serve only KMS v2 (no v1beta1 service)' },
  { name: 'status-version', value: 'v2|v2beta1', default: 'v2', help: 'version Status reports; v2beta1 for kube-apiserver 1.27-1.28' },
  {
    name: 'kek-mode',
    value: 'local|direct',
    default: 'local',
    help: 'local: a backend-wrapped local KEK seals data keys; direct: one backend call per Encrypt/Decrypt',
  },
  { name: 'kek-max-age', value: 'duration', default: '24h', help: 'replace the local KEK after this age' },
  { name: 'kek-max-uses', value: 'n', default: '1048576', help: 'replace the local KEK after this many seals' },
  { name: 'kek-cache-size', value: 'n', default: '1000', help: 'unwrapped local KEKs kept in memory' },
  { name: 'refresh-interval', value: 'duration', default: '60s', help: 'how often to ask the backend for its current key version' },
  { name: 'refresh-retry', value: 'duration', default: '2s', help: 'retry interval after a failed refresh (until it succeeds)' },
  { name: 'backend-timeout', value: 'duration', default: '2s', help: 'deadline of one backend call attempt' },
  { name: 'backend-retries', value: 'n', default: '2', help: 'retries of a backend call (throttled/unavailable only)' },
  { name: 'backend-rate-limit', value: 'per-second', default: '100', help: 'backend calls per second; 0 turns the limit off' },
  { name: 'backend-burst', value: 'n', default: '200', help: 'backend calls allowed at once above the rate' },
  {
    name: 'backend-max-wait',
    value: 'duration',
    default: '250ms',
    help: 'longest wait for the rate limit before failing as RESOURCE_EXHAUSTED',
  },
  { name: 'backend-max-concurrency', value: 'n', default: '32', help: 'backend calls in flight at once' },
  { name: 'breaker-threshold', value: 'n', default: '5', help: 'consecutive backend failures that open the circuit breaker' },
  { name: 'breaker-open-for', value: 'duration', default: '5s', help: 'how long the open breaker waits before a trial call' },
  { name: 'shutdown-grace', value: 'duration', default: '10s', help: 'on SIGTERM, how long in-flight calls may finish' },
];
