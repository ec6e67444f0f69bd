import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loopbackCertificate } from '@k8s-kms/testkit';
import { KeyStore, KeyVaultError, type KeyType, type Version } from './keys.js';
import { TokenError, TokenService } from './tokens.js';

export { KeyStore, KeyVaultError, type KeyType, type Version } from './keys.js';
export { TokenService, TokenError, type Grant } from './tokens.js';

/** The Key Vault operations the stand-in counts and can inject faults into. */
export type Operation = 'create' | 'get' | 'versions' | 'rotate' | 'update' | 'wrapKey' | 'unwrapKey';

/** A fault for the next call(s) of an operation: an error answer, or a stall before answering. */
export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly code?: string; readonly message?: string; readonly retryAfter?: string }
  | { readonly kind: 'stall'; readonly ms: number };

/**
 * A STAND-IN for Azure Key Vault and Managed HSM (no emulator of it can be installed on these
 * machines), written from the public REST API (keys, API version 2025-07-01 as
 * @azure/keyvault-keys sends it) and the Entra ID v2.0 token endpoint. One HTTPS server on
 * 127.0.0.1 with a self-signed certificate serves the vault (`/keys/...`), the token endpoint
 * (`/{tenant}/oauth2/v2.0/token` and its OpenID configuration) and a small admin API; a plain
 * HTTP server serves the IMDS managed identity endpoint. The official clients
 * (@azure/keyvault-keys, @azure/identity) run against it unchanged.
 *
 * It implements: create (RSA, RSA-HSM in a vault; oct-HSM in a Managed HSM), get (current and by
 * version), the versions list, rotate, update (enabled, nbf, exp, key_ops, tags), wrapKey and
 * unwrapKey (RSA-OAEP, RSA-OAEP-256, A128/192/256KW), the 401 bearer challenge, tokens for apps
 * with a client secret, a certificate or a federated identity credential, and for managed
 * identities; Key Vault's error bodies; faults (an error answer with Retry-After, a stall).
 *
 * What it does NOT do like the real service: no RBAC or access policies (any valid token for the
 * vault's resource may do anything); no soft delete, backup, import, release or rotation policies
 * (rotate is on demand); no paging of the versions list (no nextLink); no real throttling limits
 * (429 only when injected); tokens are opaque strings, not signed JWTs, and CAE claims challenges
 * are never sent; the Managed HSM flavour serves the keys API only (no security domain, no local
 * RBAC, no /providers); key sizes and algorithms are checked only as far as the plugin and tests
 * use them; error messages are written from the documented shapes, not copied from the service.
 */
export class KeyVaultStandIn {
  readonly tokens = new TokenService();
  readonly keys: KeyStore;
  /** The resource its tokens are for: what the challenge names. */
  readonly resource: string;
  caPem = '';
  /** Requests answered per operation (after authentication), and challenges sent. */
  readonly calls: Record<Operation | 'challenge' | 'unauthorized', number> = {
    create: 0,
    get: 0,
    versions: 0,
    rotate: 0,
    update: 0,
    wrapKey: 0,
    unwrapKey: 0,
    challenge: 0,
    unauthorized: 0,
  };
  /** Every api-version query parameter seen. */
  readonly apiVersions = new Set<string>();
  /** Principals that called the keys API (a client id, "system", a user-assigned identity). */
  readonly principals = new Set<string>();
  private faults: { op: Operation; fault: Fault; times: number }[] = [];
  private server?: HttpsServer;
  private imdsServer?: HttpServer;
  private port = 0;
  private imdsPort = 0;

  constructor(readonly flavor: 'vault' | 'managedhsm' = 'vault') {
    this.resource = flavor === 'vault' ? 'https://vault.azure.net' : 'https://managedhsm.azure.net';
    this.keys = new KeyStore(flavor === 'vault' ? ['RSA', 'RSA-HSM'] : ['RSA-HSM', 'oct-HSM']);
  }

  /** https://127.0.0.1:port: the vault URL, also the authority host of its token endpoint. */
  get vaultUrl(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get authorityHost(): string {
    return this.vaultUrl;
  }

  /** http://127.0.0.1:port of the IMDS endpoint (AZURE_POD_IDENTITY_AUTHORITY_HOST for the identity library). */
  get imdsUrl(): string {
    return `http://127.0.0.1:${this.imdsPort}`;
  }

  async start(opts: { port?: number; imdsPort?: number } = {}): Promise<this> {
    const pems = await loopbackCertificate('key vault stand-in');
    this.caPem = pems.cert;
    this.server = createHttpsServer(pems, (req, res) => void this.handle(req, res));
    this.imdsServer = createHttpServer((req, res) => void this.handleImds(req, res));
    this.port = await listen(this.server, opts.port ?? 0);
    this.imdsPort = await listen(this.imdsServer, opts.imdsPort ?? 0);
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.server, this.imdsServer]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  /** A new key (version 1) of type `kty`. */
  createKey(
    name: string,
    kty: KeyType = this.flavor === 'vault' ? 'RSA' : 'oct-HSM',
    opts: Parameters<KeyStore['create']>[2] = {},
  ): Version {
    return this.keys.create(name, kty, opts);
  }

  /** A new current version of `name`, as a rotation policy makes. */
  rotate(name: string): Version {
    return this.keys.rotate(name);
  }

  count(op: Operation | 'challenge' | 'unauthorized'): number {
    return this.calls[op];
  }

  /** The next `times` calls of `op` get `fault`. */
  inject(op: Operation, fault: Fault, times = 1): void {
    this.faults.push({ op, fault, times });
  }

  clearFaults(): void {
    this.faults = [];
  }

  private takeFault(op: Operation): Fault | undefined {
    const f = this.faults.find((x) => x.op === op);
    if (!f) return undefined;
    if (--f.times <= 0) this.faults.splice(this.faults.indexOf(f), 1);
    return f.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.vaultUrl);
    const body = await readBody(req);
    try {
      const segments = url.pathname.split('/').filter(Boolean);
      if (segments[0] === 'admin') return send(res, 200, this.admin(req.method ?? 'GET', segments.slice(1).join('/'), body));
      if (segments[0] === 'keys') return await this.vault(req, res, url, segments.slice(1), body);
      if (req.method === 'GET' && segments.length === 4 && segments[1] === 'v2.0' && segments[3] === 'openid-configuration') {
        return send(res, 200, this.tokens.openIdConfiguration(this.authorityHost, segments[0]!));
      }
      if (req.method === 'POST' && segments.length === 4 && segments.slice(1).join('/') === 'oauth2/v2.0/token') {
        const tokenUrl = `${this.authorityHost}/${segments[0]}/oauth2/v2.0/token`;
        return send(res, 200, this.tokens.token(segments[0]!, new URLSearchParams(body.toString('utf8')), tokenUrl));
      }
      send(res, 404, { error: { code: 'NotFound', message: `No route for ${req.method} ${url.pathname}` } });
    } catch (err) {
      if (err instanceof KeyVaultError) return send(res, err.status, err.body());
      if (err instanceof TokenError) return send(res, err.status, err.body());
      send(res, 500, { error: { code: 'InternalError', message: 'stand-in failure' } });
    }
  }

  /** The keys API: the bearer challenge, then the operation. */
  private async vault(req: IncomingMessage, res: ServerResponse, url: URL, path: string[], raw: Buffer): Promise<void> {
    const challenge = {
      'www-authenticate': `Bearer authorization="${this.authorityHost}/${this.tokens.tenantId}", resource="${this.resource}"`,
    };
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion) return send(res, 400, new KeyVaultError(400, 'BadParameter', 'The api-version query parameter is required.').body());
    this.apiVersions.add(apiVersion);
    const auth = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!auth) {
      this.calls.challenge++;
      return send(res, 401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, challenge);
    }
    const who = this.tokens.check(auth, this.resource);
    if ('error' in who) {
      this.calls.unauthorized++;
      return send(res, 401, { error: { code: 'Unauthorized', message: `AKV10032: ${who.error}` } }, challenge);
    }
    this.principals.add(who.principal);
    const method = req.method ?? 'GET';
    const [name, second, third] = path;
    if (!name) throw new KeyVaultError(400, 'BadParameter', 'A key name is required.');
    const body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    const op: Operation | undefined =
      method === 'POST' && second === 'create'
        ? 'create'
        : method === 'POST' && second === 'rotate'
          ? 'rotate'
          : method === 'GET' && second === 'versions'
            ? 'versions'
            : method === 'GET' && third === undefined
              ? 'get'
              : method === 'PATCH' && third === undefined
                ? 'update'
                : method === 'POST' && third === 'wrapkey'
                  ? 'wrapKey'
                  : method === 'POST' && third === 'unwrapkey'
                    ? 'unwrapKey'
                    : undefined;
    if (!op) throw new KeyVaultError(405, 'MethodNotAllowed', `${method} is not allowed on this resource.`);
    this.calls[op]++;
    const fault = this.takeFault(op);
    if (fault?.kind === 'stall') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'status') {
      const code = fault.code ?? (fault.status === 429 ? 'Throttled' : 'InternalServerError');
      const message =
        fault.message ??
        (fault.status === 429
          ? 'Request was not processed because too many requests were received. Reason: A1'
          : 'The service is unavailable.');
      return send(
        res,
        fault.status,
        new KeyVaultError(fault.status, code, message).body(),
        fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
      );
    }
    const attrs = (body.attributes ?? {}) as { enabled?: boolean; nbf?: number | null; exp?: number | null };
    switch (op) {
      case 'create': {
        const v = this.keys.create(name, String(body.kty) as KeyType, {
          ...(typeof body.key_size === 'number' ? { keySize: body.key_size } : {}),
          ...(Array.isArray(body.key_ops) ? { keyOps: body.key_ops as string[] } : {}),
          ...(attrs.enabled !== undefined ? { enabled: attrs.enabled } : {}),
          ...(typeof attrs.nbf === 'number' ? { nbf: attrs.nbf } : {}),
          ...(typeof attrs.exp === 'number' ? { exp: attrs.exp } : {}),
          ...(body.tags ? { tags: body.tags as Record<string, string> } : {}),
        });
        return send(res, 200, this.keys.bundle(v, this.vaultUrl));
      }
      case 'rotate':
        return send(res, 200, this.keys.bundle(this.keys.rotate(name), this.vaultUrl));
      case 'versions':
        return send(res, 200, { value: this.keys.versions(name).map((v) => this.keys.item(v, this.vaultUrl)), nextLink: null });
      case 'get': {
        const v = this.keys.version(name, second);
        if (!v.enabled) throw new KeyVaultError(403, 'Forbidden', 'Operation get is not allowed on a disabled key.', 'KeyDisabled');
        return send(res, 200, this.keys.bundle(v, this.vaultUrl));
      }
      case 'update': {
        const v = this.keys.version(name, second);
        this.keys.update(v, {
          ...(attrs.enabled !== undefined ? { enabled: attrs.enabled } : {}),
          ...(attrs.nbf !== undefined ? { nbf: attrs.nbf } : {}),
          ...(attrs.exp !== undefined ? { exp: attrs.exp } : {}),
          ...(Array.isArray(body.key_ops) ? { keyOps: body.key_ops as string[] } : {}),
          ...(body.tags ? { tags: body.tags as Record<string, string> } : {}),
        });
        return send(res, 200, this.keys.bundle(v, this.vaultUrl));
      }
      default: {
        const v = this.keys.version(name, second);
        if (typeof body.alg !== 'string' || typeof body.value !== 'string') {
          throw new KeyVaultError(400, 'BadParameter', 'Property alg and value are required.');
        }
        const out = this.keys.crypt(v, op, body.alg, Buffer.from(body.value, 'base64url'));
        return send(res, 200, { kid: `${this.vaultUrl}/keys/${v.name}/${v.version}`, value: out.toString('base64url') });
      }
    }
  }

  /** IMDS: GET /metadata/identity/oauth2/token?resource=...[&client_id=...] with Metadata: true. */
  private async handleImds(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req);
    const url = new URL(req.url ?? '/', this.imdsUrl);
    if (url.pathname.replace(/\/$/, '') !== '/metadata/identity/oauth2/token' || req.method !== 'GET')
      return send(res, 404, { error: 'not_found' });
    if (req.headers.metadata !== 'true') {
      return send(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    }
    try {
      send(res, 200, this.tokens.imds(url.searchParams));
    } catch (err) {
      if (err instanceof TokenError) return send(res, err.status, { error: err.error, error_description: err.message });
      send(res, 500, { error: 'internal' });
    }
  }

  /** The admin API (no auth: loopback, tests only): keys, rotate, calls. */
  private admin(method: string, path: string, raw: Buffer): unknown {
    const body = raw.length ? (JSON.parse(raw.toString('utf8')) as { name?: string; kty?: KeyType }) : {};
    if (method === 'GET' && path === 'calls') return this.calls;
    if (method === 'POST' && path === 'keys' && body.name) return this.keys.item(this.createKey(body.name, body.kty), this.vaultUrl);
    if (method === 'POST' && path === 'rotate' && body.name) return this.keys.item(this.rotate(body.name), this.vaultUrl);
    throw new KeyVaultError(404, 'NotFound', `No admin route ${method} /admin/${path}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-ms-request-id': randomUUID(),
    'x-ms-keyvault-service-version': '1.9.0.0 (stand-in)',
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: HttpServer | HttpsServer, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
