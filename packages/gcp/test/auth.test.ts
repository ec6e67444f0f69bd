import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KeyProvider } from '@k8s-kms/core';
import { kmsErrorOf } from '@k8s-kms/testkit';
import { TokenService } from './stand-in/index.js';
import { POOL, StandInFixture } from './support/stand-in.js';

// Each credential file type runs the real google-auth-library flow against the stand-in's
// token endpoints; the stand-in records which principal every KMS call came from.
let fx: StandInFixture;
let key: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('auth');
});
afterAll(async () => fx.stop());

const signal = (): AbortSignal => new AbortController().signal;
/** Round trip through `provider`; returns the principals the stand-in saw on Encrypt and Decrypt since. */
async function roundTrip(provider: KeyProvider): Promise<string[]> {
  const before = new Set([...(fx.standIn.principals.Encrypt ?? []), ...(fx.standIn.principals.Decrypt ?? [])]);
  const seed = randomBytes(32);
  const aad = Buffer.from('aad');
  const version = await provider.currentKey({ signal: signal() });
  const w = await provider.wrap(seed, { key: version, aad, signal: signal() });
  expect(await provider.unwrap(w, { aad, signal: signal() })).toEqual(seed);
  return [...new Set([...(fx.standIn.principals.Encrypt ?? []), ...(fx.standIn.principals.Decrypt ?? [])])].filter((p) => !before.has(p));
}

describe('Cloud KMS credentials through google-auth-library', () => {
  it('a service account key file: self-signed JWTs, checked by the stand-in against the account key', async () => {
    const email = 'sa-key@stand-in-project.iam.gserviceaccount.com';
    const file = await fx.credentialFile(fx.standIn.tokens.serviceAccountKey(email));
    const jwts = fx.standIn.tokens.issued['self-signed-jwt'];
    const provider = await fx.provider(key, { 'credentials-file': file });
    expect(await roundTrip(provider)).toEqual([email]);
    expect(fx.standIn.tokens.issued['self-signed-jwt']).toBeGreaterThan(jwts);
    // The library signs its own JWTs for a service account key: the token endpoint is never called.
    expect(fx.standIn.tokens.issued['jwt-bearer']).toBe(0);
    // The key deleted: its JWTs are refused, as user-induced (not retried).
    fx.standIn.tokens.deleteServiceAccount(email);
    const err = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([err.errorClass, err.message]).toEqual([
      'user-induced',
      expect.stringContaining(
        'Cloud KMS GetCryptoKey: UNAUTHENTICATED: Request had invalid authentication credentials (JWT signed by an unknown key)',
      ),
    ]);
    await provider.close?.();
  });

  it('workload identity federation (external_account): a subject token file exchanged at the STS endpoint', async () => {
    const { file: subject } = await fx.subjectTokenFile('system:serviceaccount:kube-system:kms-plugin');
    const exchanges = fx.standIn.tokens.issued['token-exchange'];
    const provider = await fx.provider(key, { 'credentials-file': await fx.credentialFile(fx.externalAccount(subject)) });
    expect(await roundTrip(provider)).toEqual([TokenService.federatedPrincipal(POOL, 'system:serviceaccount:kube-system:kms-plugin')]);
    expect(fx.standIn.tokens.issued['token-exchange']).toBeGreaterThan(exchanges);
    await provider.close?.();
  });

  it('workload identity federation with service account impersonation', async () => {
    const target = 'kms-user@stand-in-project.iam.gserviceaccount.com';
    fx.standIn.tokens.serviceAccountKey(target);
    const subjectName = 'system:serviceaccount:kube-system:kms-impersonator';
    const { file: subject } = await fx.subjectTokenFile(subjectName);
    const provider = await fx.provider(key, { 'credentials-file': await fx.credentialFile(fx.externalAccount(subject, target)) });
    // Not allowed yet: the IAM Credentials API refuses, which is the operator's to fix.
    const refused = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect(refused.errorClass).toBe('user-induced');
    expect(refused.message).toBe(
      'Cloud KMS GetCryptoKey: credentials refused (HTTP 403): no access token from --credentials-file or Application Default Credentials',
    );
    fx.standIn.tokens.allowImpersonation(TokenService.federatedPrincipal(POOL, subjectName), target);
    const impersonations = fx.standIn.tokens.issued.impersonation;
    expect(await roundTrip(provider)).toEqual([target]);
    expect(fx.standIn.tokens.issued.impersonation).toBeGreaterThan(impersonations);
    await provider.close?.();
  });

  // An impersonated_service_account file (gcloud's --impersonate-service-account) is read by the
  // same library, but it always calls iamcredentials.googleapis.com (it takes only the target
  // from the file's URL), so it cannot be pointed at the stand-in: untested here.

  it('renews expiring tokens without a failed call', async () => {
    const { file: subject } = await fx.subjectTokenFile('system:serviceaccount:kube-system:short-lived');
    const provider = await fx.provider(key, { 'credentials-file': await fx.credentialFile(fx.externalAccount(subject)) });
    // google-auth-library renews a token within 5 minutes of its expiry, so with lifetimes this
    // short every call renews: the point is that none of them meets an expired token.
    fx.standIn.tokens.lifetimeSeconds = 2;
    try {
      const exchanges = fx.standIn.tokens.issued['token-exchange'];
      const refused = fx.standIn.tokens.refused;
      // Calls over 5 s: every token the stand-in issued in that time expired after 2 s.
      const started = Date.now();
      let calls = 0;
      while (Date.now() - started < 5_000) {
        await roundTrip(provider);
        calls++;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(calls).toBeGreaterThan(4);
      expect(fx.standIn.tokens.refused).toBe(refused);
      expect(fx.standIn.tokens.issued['token-exchange'] - exchanges).toBeGreaterThan(2);
      // The stand-in does refuse an expired token (so the check above could fail).
      const stale = await fetch(`${fx.standIn.tokenUrl}/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          audience: POOL,
          subject_token: (await fx.subjectTokenFile('stale')).token,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          scope: 'https://www.googleapis.com/auth/cloud-platform',
        }),
      }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
      expect(fx.standIn.tokens.authenticate(`Bearer ${stale}`)).toContain('principal://');
      await new Promise((r) => setTimeout(r, 2_100));
      expect(() => fx.standIn.tokens.authenticate(`Bearer ${stale}`)).toThrow(/token expired/);
    } finally {
      fx.standIn.tokens.lifetimeSeconds = 3600;
    }
    await provider.close?.();
  });

  it('a subject token the pool does not trust: user-induced, the token never in the message', async () => {
    const file = join(fx.dir, 'untrusted-subject');
    const token = `untrusted.${randomUUID()}`;
    await writeFile(file, token);
    const provider = await fx.provider(key, { 'credentials-file': await fx.credentialFile(fx.externalAccount(file)) });
    const err = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([err.errorClass, err.message]).toEqual([
      'user-induced',
      'Cloud KMS GetCryptoKey: credentials refused (invalid_grant): no access token from --credentials-file or Application Default Credentials',
    ]);
    expect(err.message).not.toContain(token);
    await provider.close?.();
  });

  it('a token endpoint that cannot be reached is unavailable (retried), not a refused credential', async () => {
    const { file: subject } = await fx.subjectTokenFile('system:serviceaccount:kube-system:sts-down');
    const down = { ...fx.externalAccount(subject), token_url: 'http://127.0.0.1:1/v1/token' };
    const provider = await fx.provider(key, { 'credentials-file': await fx.credentialFile(down) });
    const err = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([err.errorClass, err.message]).toEqual([
      'unavailable',
      expect.stringContaining('Cloud KMS GetCryptoKey: credentials unavailable'),
    ]);
    await provider.close?.();
  });

  it('sends --quota-project as x-goog-user-project', async () => {
    const provider = await fx.provider(key, { 'quota-project': 'billing-project-1' });
    await roundTrip(provider);
    expect(fx.standIn.quotaProjects.has('billing-project-1')).toBe(true);
    await provider.close?.();
  });

  it('refuses a credential file it cannot use at start, naming it, without echoing its content', async () => {
    const secret = `secret-${randomUUID()}`;
    const notJson = join(fx.dir, 'not-json');
    await writeFile(notJson, `{"private_key": "${secret}"`);
    const wrongType = await fx.credentialFile({ type: 'api_key', private_key: secret });
    const incomplete = await fx.credentialFile({ type: 'service_account', private_key: secret });
    for (const [file, message] of [
      [join(fx.dir, 'missing.json'), `--credentials-file: cannot read ${join(fx.dir, 'missing.json')} (ENOENT)`],
      [notJson, `--credentials-file: ${notJson} is not JSON`],
      [wrongType, expect.stringMatching(/^--credentials-file: .* is not a Google credential file/)],
      [
        incomplete,
        `--credentials-file: ${incomplete} is a service_account file the auth library cannot use (a field is missing or malformed)`,
      ],
    ] as const) {
      const err = await fx.provider(key, { 'credentials-file': file }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.name).toBe('ConfigError');
      expect(err?.message).toEqual(message);
      expect(err?.message).not.toContain(secret);
    }
  });
});
