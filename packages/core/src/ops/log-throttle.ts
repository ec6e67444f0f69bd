import type { Logger } from 'pino';

/**
 * At most one log line per key and interval, carrying how many were left out since the last one:
 * for events a client can cause at any rate (malformed requests), so that a flood of them is seen
 * in the log without becoming the log.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 10_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.everyMs) {
      seen.suppressed += 1;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    this.log.warn({ ...fields, ...(seen?.suppressed ? { suppressedSinceLast: seen.suppressed } : {}) }, message);
  }
}
