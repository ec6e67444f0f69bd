const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's duration syntax ("250ms", "1h30m", "0"), also given as the JSON Schema's pattern. */
export const GO_DURATION = /^(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/**
 * Parse a duration the way Go's time.ParseDuration reads it, which is what Kubernetes operators
 * type everywhere else ("250ms", "30s", "1h30m", "1.5h", "0"), into whole milliseconds.
 * Negative durations are refused: no flag of the plugin has a use for one.
 */
export function parseDuration(value: string): number {
  const text = value.trim();
  const invalid = (): Error => new Error(`"${value}" is not a duration like 250ms, 30s, 5m, 1h30m or 24h`);
  if (!GO_DURATION.test(text)) throw invalid();
  if (text === '0') return 0;
  let total = 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  while (part.lastIndex < text.length) {
    const match = part.exec(text);
    const unit = match?.[2];
    if (!match?.[1] || unit === undefined) throw invalid();
    total += Number(match[1]) * (UNIT_MS[unit] ?? 0);
  }
  return Math.round(total);
}
