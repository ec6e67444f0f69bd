const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse a duration like "250ms", "30s", "5m", "24h" into milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!match?.[1] || !match[2]) throw new Error(`"${value}" is not a duration like 250ms, 30s, 5m or 24h`);
  return Math.round(Number(match[1]) * (UNITS[match[2]] ?? 0));
}
