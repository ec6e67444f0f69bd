import { pino, stdTimeFunctions, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON logs (pino). Log only classes, codes, key_ids, uids and durations: never a request or
 * response body, a key, a token or a credential. `redact` is a second line of defence for field
 * names that could carry them if someone logged a whole object by mistake. Levels are names and
 * times ISO 8601 (`"level":"warn","time":"2026-12-01T10:00:00.000Z"`), as operators read the Go
 * plugins' logs.
 */
export function createLogger(opts: { level: LevelWithSilent; name: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'plaintext',
          'plain',
          'ciphertext',
          'cipher',
          'key',
          'kek',
          'token',
          'password',
          'secret',
          'credentials',
          '*.plaintext',
          '*.token',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    opts.destination,
  );
}
