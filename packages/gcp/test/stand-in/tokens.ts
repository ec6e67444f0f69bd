import { createVerify, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';
import { StandInError } from './keys.js';

/**
 * The stand-in's identity side, written from Google's public OAuth 2.0, STS and IAM Credentials
 * APIs: service accounts with RSA keys (their self-signed JWTs are accepted as bearer tokens, as
 * Google APIs accept them; a signed assertion is exchanged at /token), workload identity
 * federation (an external subject token exchanged at /v1/token, RFC 8693) and service-account
 * impersonation (generateAccessToken). Every KMS call's bearer token is checked here.
 */

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const CLOUDKMS = 'https://www.googleapis.com/auth/cloudkms';
const KMS_AUDIENCE = 'https://cloudkms.googleapis.com/';

interface Issued {
  readonly principal: string;
  readonly expiresAt: number;
  readonly scopes: readonly string[];
}

/** Whether scopes let a token call Cloud KMS. */
const kmsScoped = (scopes: readonly string[]): boolean => scopes.includes(CLOUD_PLATFORM) || scopes.includes(CLOUDKMS);

export type TokenKind = 'self-signed-jwt' | 'jwt-bearer' | 'token-exchange' | 'impersonation';

export class TokenService {
  /** Lifetime of the access tokens the stand-in issues, in seconds (Google: 3600). */
  lifetimeSeconds = 3600;
  /** Tokens issued, by how. */
  readonly issued: Record<TokenKind, number> = { 'self-signed-jwt': 0, 'jwt-bearer': 0, 'token-exchange': 0, impersonation: 0 };
  /** Calls refused for a missing, unknown or expired token. */
  refused = 0;
  private readonly accounts = new Map<string, Map<string, KeyObject>>();
  private readonly tokens = new Map<string, Issued>();
  private readonly subjects = new Map<string, { audience: string; subject: string }>();
  private readonly impersonators = new Map<string, Set<string>>();
  private readonly seenJwts = new Set<string>();

  constructor(private readonly baseUrl: () => string) {}

  /** A new service account key, as the JSON key file `gcloud iam service-accounts keys create` writes. */
  serviceAccountKey(email: string, project = 'stand-in-project'): Record<string, string> {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyId = randomBytes(20).toString('hex');
    const keys = this.accounts.get(email) ?? new Map<string, KeyObject>();
    keys.set(keyId, publicKey);
    this.accounts.set(email, keys);
    return {
      type: 'service_account',
      project_id: project,
      private_key_id: keyId,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: String(Date.now()),
      auth_uri: `${this.baseUrl()}/o/oauth2/auth`,
      token_uri: `${this.baseUrl()}/token`,
      universe_domain: 'googleapis.com',
    };
  }

  /** Revoke every key of a service account (its JWTs and tokens stop working). */
  deleteServiceAccount(email: string): void {
    this.accounts.delete(email);
    for (const [token, t] of this.tokens) if (t.principal === email) this.tokens.delete(token);
  }

  /** Trust `subjectToken` (an OIDC token of another cloud, a file a kubelet projects) for a workload identity pool. */
  trustSubjectToken(subjectToken: string, audience: string, subject: string): void {
    this.subjects.set(subjectToken, { audience, subject });
  }

  /** The principal a workload identity pool's subject becomes. */
  static federatedPrincipal(audience: string, subject: string): string {
    return `principal://iam.googleapis.com/${audience.replace(/^\/\/iam\.googleapis\.com\//, '')}/subject/${subject}`;
  }

  /** Let `source` mint tokens for `target` (roles/iam.serviceAccountTokenCreator on it). */
  allowImpersonation(source: string, target: string): void {
    const set = this.impersonators.get(target) ?? new Set<string>();
    set.add(source);
    this.impersonators.set(target, set);
  }

  /** The principal behind an `authorization` header value, or UNAUTHENTICATED. */
  authenticate(header: string | undefined): string {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    const refuse = (why: string): never => {
      this.refused++;
      throw new StandInError(
        status.UNAUTHENTICATED,
        `Request had invalid authentication credentials (${why}). Expected OAuth 2 access token, login cookie or other valid authentication credential.`,
      );
    };
    if (!token) return refuse('no bearer token');
    const issued = this.tokens.get(token);
    if (issued) {
      if (issued.expiresAt <= Date.now()) return refuse('token expired');
      if (!kmsScoped(issued.scopes)) return refuse('token without a Cloud KMS scope');
      return issued.principal;
    }
    if (token.split('.').length === 3) {
      const claims = this.verifyJwt(token, refuse);
      const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
      if (claims.aud !== KMS_AUDIENCE && !kmsScoped(scopes)) {
        return refuse('self-signed JWT for another audience');
      }
      if (!this.seenJwts.has(token)) {
        this.seenJwts.add(token);
        this.issued['self-signed-jwt']++;
      }
      return claims.iss as string;
    }
    return refuse('unknown token');
  }

  /** Serves POST /token (OAuth 2.0 JWT bearer grant), POST /v1/token (STS) and generateAccessToken. */
  async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const reply = (code: number, answer: unknown): true => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      return true;
    };
    const oauthError = (code: number, error: string, description: string): true => reply(code, { error, error_description: description });
    if (req.method !== 'POST') return false;
    if (url.pathname === '/token' || url.pathname === '/v1/token') {
      const form = req.headers['content-type']?.includes('json')
        ? new URLSearchParams(JSON.parse(body || '{}') as Record<string, string>)
        : new URLSearchParams(body);
      const grant = form.get('grant_type');
      if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        let claims: Record<string, unknown>;
        try {
          claims = this.verifyJwt(form.get('assertion') ?? '', (why) => {
            throw new Error(why);
          });
        } catch (err) {
          return oauthError(400, 'invalid_grant', `Invalid JWT Signature (${(err as Error).message}).`);
        }
        if (claims.aud !== `${this.baseUrl()}/token`)
          return oauthError(400, 'invalid_grant', 'Invalid JWT: audience is not the token URI.');
        this.issued['jwt-bearer']++;
        const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
        return reply(200, {
          access_token: this.issue(claims.iss as string, scopes),
          expires_in: this.lifetimeSeconds,
          token_type: 'Bearer',
        });
      }
      if (grant === 'urn:ietf:params:oauth:grant-type:token-exchange') {
        const trusted = this.subjects.get(form.get('subject_token') ?? '');
        if (!trusted || trusted.audience !== form.get('audience')) {
          return oauthError(400, 'invalid_grant', 'The subject token is not valid for this audience.');
        }
        // Google's STS takes the cloud-platform scope for a federated token.
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        if (!scopes.includes(CLOUD_PLATFORM)) return oauthError(400, 'invalid_scope', 'The scope must be cloud-platform.');
        this.issued['token-exchange']++;
        return reply(200, {
          access_token: this.issue(TokenService.federatedPrincipal(trusted.audience, trusted.subject), scopes),
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'Bearer',
          expires_in: this.lifetimeSeconds,
        });
      }
      return oauthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant ?? '(none)'}`);
    }
    const target = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(url.pathname)?.[1];
    if (target) {
      let source: string;
      try {
        source = this.authenticate(req.headers.authorization);
      } catch (err) {
        return reply(401, { error: { code: 401, status: 'UNAUTHENTICATED', message: (err as Error).message } });
      }
      const email = decodeURIComponent(target);
      if (!this.accounts.has(email) || !this.impersonators.get(email)?.has(source)) {
        return reply(403, {
          error: {
            code: 403,
            status: 'PERMISSION_DENIED',
            message: `Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`,
          },
        });
      }
      const scopes = ((JSON.parse(body || '{}') as { scope?: unknown }).scope ?? []) as string[];
      this.issued.impersonation++;
      return reply(200, {
        accessToken: this.issue(email, Array.isArray(scopes) ? scopes : []),
        expireTime: new Date(Date.now() + this.lifetimeSeconds * 1000).toISOString(),
      });
    }
    return false;
  }

  private issue(principal: string, scopes: readonly string[]): string {
    const token = `ya29.stand-in.${randomUUID()}`;
    this.tokens.set(token, { principal, expiresAt: Date.now() + this.lifetimeSeconds * 1000, scopes });
    return token;
  }

  private verifyJwt(jwt: string, refuse: (why: string) => never): Record<string, unknown> {
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return refuse('not a JWT');
    let header: { alg?: string; kid?: string };
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return refuse('JWT not readable');
    }
    if (header.alg !== 'RS256') return refuse('JWT not RS256');
    const key = typeof claims.iss === 'string' ? this.accounts.get(claims.iss)?.get(header.kid ?? '') : undefined;
    if (!key) return refuse('JWT signed by an unknown key');
    if (!createVerify('RSA-SHA256').update(`${h}.${p}`).verify(key, Buffer.from(s, 'base64url'))) {
      return refuse('JWT signature invalid');
    }
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp <= now) return refuse('JWT expired');
    if (typeof claims.iat !== 'number' || claims.exp - claims.iat > 3600) return refuse('JWT lifetime over 1 h');
    return claims;
  }
}
