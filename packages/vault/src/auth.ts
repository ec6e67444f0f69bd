import { readFile, stat } from 'node:fs/promises';
import { KmsError, type Logger } from '@k8s-kms/core';
import { raceAbort } from '@k8s-kms/core/kit';
import { SERVICE_ACCOUNT_TOKEN, type AuthMethod, type VaultConfig } from './config.js';
import { fromVaultError, isPermissionDenied } from './errors.js';
import type { VaultHttp } from './vault-http.js';

/** A token and what Vault said of it. */
interface Session {
  readonly token: string;
  /** ms since the epoch; Infinity for a token without expiry (e.g. a root token). */
  readonly expiresAt: number;
  readonly renewable: boolean;
  /** The TTL Vault granted at login: renewing below a third of it means max_ttl is near. */
  readonly grantedSeconds: number;
}

/** How one auth method obtains a session. */
type Login = (http: VaultHttp, signal: AbortSignal) => Promise<Session>;

/** Renew when this fraction of the TTL is left. */
const RENEW_AT_REMAINING = 1 / 3;
/** Background renewals and logins get this long. */
const BACKGROUND_TIMEOUT_MS = 10_000;
/** After a failed background renewal or login, try again after this long (or sooner before expiry). */
const BACKGROUND_RETRY_MS = 5_000;
/** The shortest wait between two upkeep attempts. */
const MIN_UPKEEP_MS = 250;
/** A token file is checked for changes at most this often. */
const TOKEN_FILE_CHECK_MS = 1_000;

/**
 * The plugin's Vault token: obtained by the configured auth method on first use, renewed in the
 * background before it expires, obtained again when renewal is refused or max_ttl is near, and
 * on a 403 (once, coalesced across concurrent calls). With --token-file the file is re-read when it
 * changes, so an external agent can rotate the token. Tokens, secret ids and JWTs never reach a
 * log line, an error message or a metric label.
 */
export class VaultAuth {
  private session: Session | undefined;
  private loggingIn: Promise<Session> | undefined;
  private readonly validity = new Map<string, Promise<boolean>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly tokenFile?: TokenFileWatch;

  constructor(
    private readonly http: VaultHttp,
    /** The auth method, for the start-up line. */
    readonly method: AuthMethod,
    private readonly login: Login,
    private readonly log: Logger,
    tokenFile?: string,
  ) {
    if (tokenFile) this.tokenFile = new TokenFileWatch(tokenFile);
  }

  /** Build the auth of a parsed configuration (files are read at each login, not here). */
  static fromConfig(http: VaultHttp, config: VaultConfig, log: Logger): VaultAuth {
    const method = config['auth-method'];
    const mount = config['auth-mount'] ?? method;
    const login: Login =
      method === 'token'
        ? tokenLogin(config.token, config['token-file'])
        : method === 'approle'
          ? exchange(`auth/${mount}/login`, async () => ({
              role_id: config['role-id'],
              secret_id: await readSecret(config['secret-id-file'] ?? '', '--secret-id-file'),
            }))
          : method === 'cert'
            ? exchange(`auth/${mount}/login`, () => Promise.resolve(config.role ? { name: config.role } : {}))
            : exchange(`auth/${mount}/login`, async () => ({
                role: config.role,
                jwt: await readSecret(config['jwt-file'] ?? SERVICE_ACCOUNT_TOKEN, '--jwt-file'),
              }));
    return new VaultAuth(http, method, login, log, config['token-file']);
  }

  /**
   * Run `call` with a valid token. If Vault answers 403, get a token once more (log in again, or
   * re-read the token file) and retry once; a second 403 is the caller's to report.
   */
  async withToken<T>(signal: AbortSignal, call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.token(signal);
    try {
      return await call(token);
    } catch (err) {
      if (!isPermissionDenied(err) || this.closed) throw err;
      const fresh = await this.reauthenticate(token, signal);
      if (fresh === token) throw err;
      return call(fresh);
    }
  }

  /** Seconds until the token expires: Infinity for a token without expiry, 0 with none or expired. */
  ttlSeconds(): number {
    if (!this.session) return 0;
    return Math.max(0, (this.session.expiresAt - Date.now()) / 1000);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async token(signal: AbortSignal): Promise<string> {
    const s = this.session;
    // Expiring soon: log in now rather than send a request that may be refused. The margin stays
    // below the background renewal point (a third of the TTL left), so renewal normally comes first.
    const margin = s ? Math.min(1_000, (s.grantedSeconds * 1000) / 6) : 0;
    if (s && s.expiresAt - Date.now() > margin && !(await this.tokenFileChanged())) return s.token;
    return (await raceAbort(this.obtain(), signal)).token;
  }

  private async tokenFileChanged(): Promise<boolean> {
    return this.tokenFile ? this.tokenFile.changed() : false;
  }

  /**
   * After a 403: a token other than `stale` if one can be had (a login, or a changed token file),
   * else `stale` itself. Vault answers 403 both for a dead token and for a path the policy does not
   * allow; lookup-self tells them apart, so a policy denial does not cost a login (and an AppRole
   * secret_id use) per call.
   */
  private async reauthenticate(stale: string, signal: AbortSignal): Promise<string> {
    const replaced = (): string | undefined => (this.session && this.session.token !== stale ? this.session.token : undefined);
    if (replaced()) return replaced() as string;
    const fileChanged = await this.tokenFileChanged();
    const valid = !fileChanged && (await raceAbort(this.stillValid(stale), signal));
    // Another caller may have logged in meanwhile: use its token rather than log in (and revoke) again.
    if (replaced()) return replaced() as string;
    if (valid) return stale;
    this.log.warn({ method: this.method }, 'Vault refused the token (403): authenticating again');
    return (await raceAbort(this.obtain(), signal)).token;
  }

  /** Whether `token` still works (lookup-self, in Vault's default policy); one check per token at a time. */
  private stillValid(token: string): Promise<boolean> {
    let check = this.validity.get(token);
    if (!check) {
      check = this.http
        .read('auth/token/lookup-self', { token, signal: AbortSignal.timeout(BACKGROUND_TIMEOUT_MS) })
        .then(
          () => true,
          (err: unknown) => {
            if (isPermissionDenied(err)) return false;
            throw err;
          },
        )
        .finally(() => this.validity.delete(token));
      this.validity.set(token, check);
    }
    return check;
  }

  /**
   * One login at a time: concurrent callers share it, each waiting only as long as its own signal
   * allows; the login itself has its own deadline, so one caller giving up does not fail the others.
   */
  private obtain(): Promise<Session> {
    if (!this.loggingIn) {
      this.loggingIn = (this.tokenFile?.mark() ?? Promise.resolve())
        .then(() => this.login(this.http, AbortSignal.timeout(BACKGROUND_TIMEOUT_MS)))
        .then((session) => {
          this.adopt(session);
          return session;
        })
        .finally(() => {
          this.loggingIn = undefined;
        });
    }
    return this.loggingIn;
  }

  private adopt(session: Session): void {
    const previous = this.session;
    this.session = session;
    const ttl = session.expiresAt === Infinity ? 'none' : `${Math.round((session.expiresAt - Date.now()) / 1000)}s`;
    const fields = { method: this.method, ttl, renewable: session.renewable };
    if (!previous) this.log.info(fields, 'logged in to Vault');
    else if (previous.token !== session.token) this.log.info(fields, 'new Vault token');
    else this.log.debug(fields, 'Vault token looked up again');
    // A token from our own login is ours to retire; one given by the operator (--token) is not.
    if (previous && previous.token !== session.token && this.method !== 'token') {
      this.http
        .write('auth/token/revoke-self', {}, { token: previous.token, signal: AbortSignal.timeout(BACKGROUND_TIMEOUT_MS) })
        .catch(() => undefined);
    }
    this.schedule();
  }

  private schedule(delayMs?: number): void {
    clearTimeout(this.timer);
    const s = this.session;
    if (this.closed || !s || s.expiresAt === Infinity) return;
    const left = s.expiresAt - Date.now();
    // Due when a third of the granted TTL is left. Past that (renewals capped by max_ttl), halve the
    // rest each time: a handful of calls until expiry, never a loop.
    const due = left - s.grantedSeconds * 1000 * RENEW_AT_REMAINING;
    const delay = delayMs ?? (due > 0 ? due : Math.max(MIN_UPKEEP_MS, left / 2));
    this.timer = setTimeout(() => void this.renewOrLogin(), Math.min(delay, 2 ** 31 - 1));
    this.timer.unref();
  }

  /** Background upkeep: renew the token; log in again when renewal is refused or max_ttl is near. */
  private async renewOrLogin(): Promise<void> {
    const s = this.session;
    if (this.closed || !s) return;
    try {
      if (s.renewable) {
        const renewed = await this.renew(s);
        if (this.session !== s) return; // replaced meanwhile (a login, a new token file)
        // Vault shortens renewals as max_ttl approaches: then a new login (if possible) is better.
        if (renewed.expiresAt - Date.now() > s.grantedSeconds * 1000 * RENEW_AT_REMAINING || this.method === 'token') {
          this.session = renewed;
          this.log.debug({ ttl: Math.round((renewed.expiresAt - Date.now()) / 1000) }, 'renewed the Vault token');
          this.schedule();
          return;
        }
      }
      await this.obtain();
    } catch (err) {
      if (this.closed || this.session !== s) return;
      const reason = fromVaultError('token upkeep', err).message;
      this.log.warn({ reason }, 'could not renew or replace the Vault token; will try again');
      const left = s.expiresAt - Date.now();
      this.schedule(left > 0 ? Math.max(MIN_UPKEEP_MS, Math.min(BACKGROUND_RETRY_MS, left / 2)) : BACKGROUND_RETRY_MS);
    }
  }

  private async renew(s: Session): Promise<Session> {
    const body = await this.http.write('auth/token/renew-self', {}, { token: s.token, signal: AbortSignal.timeout(BACKGROUND_TIMEOUT_MS) });
    const auth = body.auth as { lease_duration?: number; renewable?: boolean } | undefined;
    const seconds = auth?.lease_duration ?? 0;
    if (seconds <= 0) throw new KmsError('unavailable', 'Vault renew-self answered without a lease duration');
    return { ...s, expiresAt: expiry(seconds), renewable: auth?.renewable ?? false };
  }
}

/** Token auth: the token from the flag or the file, with its TTL from lookup-self. */
function tokenLogin(flagToken: string | undefined, file: string | undefined): Login {
  return async (http, signal) => {
    const token = flagToken ?? (await readSecret(file ?? '', '--token-file'));
    let body: Record<string, unknown>;
    try {
      body = await http.read('auth/token/lookup-self', { token, signal });
    } catch (err) {
      if (isPermissionDenied(err))
        throw new KmsError(
          'user-induced',
          "Vault refused the token (lookup-self: HTTP 403): it is invalid, expired or revoked, or its policies lack auth/token/lookup-self (Vault's default policy has it)",
        );
      throw fromVaultError('token lookup-self', err);
    }
    const data = body.data as { ttl?: number; creation_ttl?: number; renewable?: boolean; expire_time?: string | null } | undefined;
    const ttl = data?.ttl ?? 0;
    // ttl 0 means "never expires" only without an expire_time; a token in its last second has both.
    const expiresAt = data?.expire_time ? Math.min(Date.parse(data.expire_time) || Infinity, Date.now() + ttl * 1000) : expiry(ttl);
    return { token, expiresAt, renewable: data?.renewable === true, grantedSeconds: data?.creation_ttl ?? ttl };
  };
}

/** A login endpoint: POST the credentials, take `auth.client_token`. */
function exchange(path: string, credentials: () => Promise<Record<string, unknown>>): Login {
  return async (http, signal) => {
    let body: Record<string, unknown>;
    try {
      body = await http.write(path, await credentials(), { signal });
    } catch (err) {
      throw fromVaultError('login', err);
    }
    const auth = body.auth as { client_token?: string; lease_duration?: number; renewable?: boolean } | undefined;
    if (!auth?.client_token) throw new KmsError('internal', `Vault login (${path}) returned no token`);
    const ttl = auth.lease_duration ?? 0;
    return { token: auth.client_token, expiresAt: expiry(ttl), renewable: auth.renewable === true, grantedSeconds: ttl };
  };
}

function expiry(ttlSeconds: number): number {
  return ttlSeconds > 0 ? Date.now() + ttlSeconds * 1000 : Infinity;
}

/** Read a credential file; the error names the flag and the file, never the content. */
async function readSecret(path: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new KmsError('user-induced', `${flag}: cannot read ${path} (${code})`);
  }
  const value = text.trim();
  if (!value) throw new KmsError('user-induced', `${flag}: ${path} is empty`);
  return value;
}

/** Notices a token file being replaced (new mtime, size or inode), checking at most once a second. */
class TokenFileWatch {
  private seen = '';
  private checkedAt = 0;

  constructor(private readonly path: string) {}

  /** Remember the file as it is now (just before it is read for a login). */
  async mark(): Promise<void> {
    this.seen = await this.current();
    this.checkedAt = Date.now();
  }

  async changed(): Promise<boolean> {
    if (Date.now() - this.checkedAt < TOKEN_FILE_CHECK_MS) return false;
    this.checkedAt = Date.now();
    const now = await this.current();
    return now !== '' && now !== this.seen;
  }

  private async current(): Promise<string> {
    const st = await stat(this.path).catch(() => undefined);
    return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
  }
}
