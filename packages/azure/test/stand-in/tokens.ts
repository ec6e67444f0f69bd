import { X509Certificate, constants, createHash, randomBytes, randomUUID, verify, type KeyObject } from 'node:crypto';

/** How a token was asked for. */
export type Grant = 'client_secret' | 'client_certificate' | 'workload_identity' | 'managed_identity';

/** An issued access token: who it is for and until when. */
interface Issued {
  readonly resource: string;
  readonly principal: string;
  readonly expires: number;
}

/** A federated identity credential: the issuer, subject and audience an app trusts, and the issuer's key. */
interface Federation {
  readonly issuer: string;
  readonly subject: string;
  readonly audience: string;
  readonly key: KeyObject;
}

interface App {
  secret?: string;
  certificates: { readonly x5t: string; readonly x5tS256: string; readonly key: KeyObject }[];
  federations: Federation[];
}

/** An Entra error answer (the OAuth error, the AADSTS code in its description). */
export class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    description: string,
  ) {
    super(`AADSTS${code}: ${description}`);
  }

  body(): unknown {
    return {
      error: this.error,
      error_description: `${this.message}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
      error_codes: [this.code],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    };
  }
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * The Entra ID side of the stand-in: the v2.0 token endpoint's client credentials grant (client
 * secret, certificate assertion, federated token of workload identity) for the apps a test
 * registers, and the IMDS managed identity endpoint. Tokens are opaque strings it remembers;
 * {@link check} is what the vault asks.
 */
export class TokenService {
  readonly tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  private readonly apps = new Map<string, App>();
  /** Managed identities the IMDS endpoint answers for: "system" and user-assigned client ids. */
  private readonly identities = new Set<string>();
  private readonly issued = new Map<string, Issued>();
  /** Token requests answered, by grant. */
  readonly granted: Record<Grant, number> = { client_secret: 0, client_certificate: 0, workload_identity: 0, managed_identity: 0 };
  /** Lifetime of the tokens it issues, in seconds. */
  lifetime = 3600;
  /** Tokens it stops accepting (as after a revocation): checked by {@link check}. */
  private readonly revoked = new Set<string>();

  /** A client id with a new client secret. */
  clientWithSecret(clientId = randomUUID()): { clientId: string; secret: string } {
    const secret = `${randomBytes(3).toString('hex')}~${randomBytes(24).toString('base64url')}`;
    this.app(clientId).secret = secret;
    return { clientId, secret };
  }

  /** Trust `certPem` (its public key signs client assertions) for `clientId`. */
  trustCertificate(clientId: string, certPem: string): void {
    const cert = new X509Certificate(certPem);
    this.app(clientId).certificates.push({
      x5t: createHash('sha1').update(cert.raw).digest('base64url'),
      x5tS256: createHash('sha256').update(cert.raw).digest('base64url'),
      key: cert.publicKey,
    });
  }

  /** Trust tokens of `issuer` (signed by `key`) for `subject` as `clientId`: a federated identity credential. */
  trustFederated(clientId: string, federation: { issuer: string; subject: string; key: KeyObject; audience?: string }): void {
    this.app(clientId).federations.push({ audience: 'api://AzureADTokenExchange', ...federation });
  }

  /** Answer IMDS for a managed identity: "system", or a user-assigned identity's client id. */
  addManagedIdentity(id: string): void {
    this.identities.add(id);
  }

  /** Stop accepting every token issued so far (the vault then answers 401). */
  revokeAll(): void {
    for (const t of this.issued.keys()) this.revoked.add(t);
  }

  /** The token's principal if it is valid for `resource`, else why not. */
  check(token: string, resource: string): { principal: string } | { error: string } {
    const t = this.issued.get(token);
    if (!t || this.revoked.has(token)) return { error: 'The access token is invalid.' };
    if (Date.now() >= t.expires) return { error: 'The access token expired.' };
    if (t.resource !== resource) return { error: `The access token is for ${t.resource}, not ${resource}.` };
    return { principal: t.principal };
  }

  /** POST /{tenant}/oauth2/v2.0/token with a client credentials grant. */
  token(tenant: string, form: URLSearchParams, tokenUrl: string): Record<string, unknown> {
    if (tenant !== this.tenantId) throw new TokenError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') {
      throw new TokenError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    const clientId = form.get('client_id') ?? '';
    const app = this.apps.get(clientId);
    if (!app)
      throw new TokenError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    const resource = resourceOf(form.get('scope'));
    let grant: Grant;
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!app.secret || secret !== app.secret) throw new TokenError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      grant = 'client_secret';
    } else if (assertion !== null && form.get('client_assertion_type') === ASSERTION_TYPE) {
      grant = this.assertion(app, clientId, assertion, tokenUrl);
    } else {
      throw new TokenError(401, 'invalid_client', 7000218, "The request body must contain 'client_assertion' or 'client_secret'.");
    }
    this.granted[grant]++;
    return { token_type: 'Bearer', expires_in: this.lifetime, ext_expires_in: this.lifetime, access_token: this.issue(resource, clientId) };
  }

  /** GET /metadata/identity/oauth2/token (IMDS) with a Metadata: true header. */
  imds(query: URLSearchParams): Record<string, string> {
    const resource = query.get('resource') ?? '';
    const id = query.get('client_id') ?? 'system';
    if (!this.identities.has(id)) {
      throw new TokenError(400, 'invalid_request', 0, `Identity not found${id === 'system' ? '' : ` (client_id ${id})`}`);
    }
    this.granted.managed_identity++;
    const expiresOn = Math.floor(Date.now() / 1000) + this.lifetime;
    return {
      access_token: this.issue(resource.replace(/\/$/, ''), id),
      client_id: id === 'system' ? 'system-assigned' : id,
      expires_in: String(this.lifetime),
      expires_on: String(expiresOn),
      ext_expires_in: String(this.lifetime),
      not_before: String(expiresOn - this.lifetime),
      resource,
      token_type: 'Bearer',
    };
  }

  /** The OpenID configuration MSAL reads for an authority. */
  openIdConfiguration(base: string, tenant: string): Record<string, unknown> {
    return {
      token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/${tenant}/v2.0`,
      authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
      tenant_region_scope: 'EU',
    };
  }

  private app(clientId: string): App {
    let app = this.apps.get(clientId);
    if (!app) {
      app = { certificates: [], federations: [] };
      this.apps.set(clientId, app);
    }
    return app;
  }

  private issue(resource: string, principal: string): string {
    const token = `standin.${randomBytes(24).toString('base64url')}`;
    this.issued.set(token, { resource, principal, expires: Date.now() + this.lifetime * 1000 });
    return token;
  }

  /** A client assertion: signed by a trusted certificate (x5t / x5t#S256), or a federated token. */
  private assertion(app: App, clientId: string, jwt: string, tokenUrl: string): Grant {
    const parsed = parseJwt(jwt);
    if (!parsed) throw new TokenError(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    const { header, claims } = parsed;
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp < now)
      throw new TokenError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
    const cert = app.certificates.find((c) => c.x5t === header.x5t || c.x5tS256 === header['x5t#S256']);
    if (cert) {
      if (!verifies(parsed, cert.key)) throw new TokenError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
      if (claims.iss !== clientId || claims.sub !== clientId || claims.aud !== tokenUrl) {
        throw new TokenError(401, 'invalid_client', 700021, 'Client assertion audience, issuer or subject is wrong.');
      }
      return 'client_certificate';
    }
    const federation = app.federations.find((f) => f.issuer === claims.iss);
    if (!federation) {
      throw new TokenError(
        401,
        'invalid_client',
        700027,
        'Client assertion contains an invalid signature: no trusted certificate or federated issuer.',
      );
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!verifies(parsed, federation.key))
      throw new TokenError(401, 'invalid_client', 700024, 'The federated token failed signature validation.');
    if (claims.sub !== federation.subject || !audiences.includes(federation.audience)) {
      throw new TokenError(400, 'invalid_request', 70021, 'No matching federated identity record found for presented assertion.');
    }
    return 'workload_identity';
  }
}

/** The resource a `.default` scope names ("https://vault.azure.net/.default" → "https://vault.azure.net"). */
function resourceOf(scope: string | null): string {
  const s = (scope ?? '').split(' ').find((x) => x.endsWith('/.default'));
  if (!s)
    throw new TokenError(
      400,
      'invalid_scope',
      1002012,
      'The provided value for scope is not valid: a client credential flow needs a .default scope.',
    );
  return s.slice(0, -'/.default'.length);
}

interface Jwt {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  readonly signed: Buffer;
  readonly signature: Buffer;
}

function parseJwt(jwt: string): Jwt | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>,
      claims: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>,
      signed: Buffer.from(`${parts[0]}.${parts[1]}`),
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

function verifies(jwt: Jwt, key: KeyObject): boolean {
  switch (jwt.header.alg) {
    case 'RS256':
      return verify('sha256', jwt.signed, key, jwt.signature);
    case 'PS256':
      return verify('sha256', jwt.signed, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jwt.signature);
    default:
      return false;
  }
}
