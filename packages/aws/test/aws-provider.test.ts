import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { KMSClient } from '@aws-sdk/client-kms';
import { codeOf, InstrumentedProvider, startPlugin, type RunningPlugin } from '@k8s-kms/testkit';
import { parseAwsConfig } from '../src/config.js';
import { AwsKmsProvider } from '../src/index.js';
import { FakeKmsServer } from './support/fake-kms-server.js';
import { Moto } from './support/moto.js';

describe('the AWS KMS provider against moto', () => {
  let moto: Moto;
  const running: RunningPlugin[] = [];
  let n = 0;
  const freshAlias = async () => {
    const alias = `alias/k8s-kms-test-${++n}`;
    const key = await moto.createKey();
    await moto.createAlias(alias, key);
    return { alias, key };
  };
  const serve = async (provider: AwsKmsProvider | InstrumentedProvider, opts: Parameters<typeof startPlugin>[1] = {}) => {
    const p = await startPlugin(provider, { remote: { retries: 0 }, ...opts });
    running.push(p);
    return p;
  };

  beforeAll(async () => {
    moto = await Moto.start();
  });
  afterAll(async () => moto.stop());
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });

  it('follows a re-pointed alias: new key_id, new data under the new key, old data still decrypts', async () => {
    const { alias } = await freshAlias();
    const plugin = await serve(new AwsKmsProvider({ client: moto.client(), key: alias }));
    const before = await plugin.client.encrypt(Buffer.alloc(32, 1));
    const v1Before = await plugin.client.v1Encrypt(Buffer.alloc(32, 3));
    await moto.repoint(alias, await moto.createKey());
    await plugin.server.refreshKey();
    const after = await plugin.client.encrypt(Buffer.alloc(32, 2));
    expect(after.keyId).not.toBe(before.keyId);
    expect((await plugin.client.status()).keyId).toBe(after.keyId);
    expect(await plugin.client.decrypt(before)).toEqual(Buffer.alloc(32, 1));
    expect(await plugin.client.v1Decrypt(v1Before)).toEqual(Buffer.alloc(32, 3));
  });

  it('refuses a ciphertext that names a key in another account unless it is a --decrypt-key', async () => {
    const { alias, key } = await freshAlias();
    const plugin = await serve(new AwsKmsProvider({ client: moto.client(), key: alias }), { kekMode: 'direct' });
    const enc = await plugin.client.encrypt(Buffer.alloc(32, 8));
    // Rewrite the recorded key ARN (same length) to another account's key.
    const foreign = key.replace(/:\d{12}:/, ':999999999999:');
    const steered = Buffer.from(enc.ciphertext.toString('latin1').replace(key, foreign), 'latin1');
    await expect(plugin.client.decrypt({ ...enc, ciphertext: steered })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining('outside --key') as unknown as string,
    });
    const listed = await serve(new AwsKmsProvider({ client: moto.client(), key: alias, decryptKeys: [foreign] }), { kekMode: 'direct' });
    // Listed, the request passes the plugin's own check and KMS decides. (Real KMS refuses a blob
    // that is not under KeyId; moto does not check, so only the plugin's side is asserted here.)
    const outcome = await listed.client.decrypt({ ...enc, ciphertext: steered }).then(
      (plain) => plain.toString('hex'),
      (e: { details?: string }) => e.details ?? '',
    );
    expect(outcome).not.toContain('outside --key');
  });

  it('binds the encryption context: another context cannot decrypt', async () => {
    const { alias } = await freshAlias();
    const writer = await serve(new AwsKmsProvider({ client: moto.client(), key: alias, encryptionContext: { cluster: 'a' } }), {
      kekMode: 'direct',
    });
    const enc = await writer.client.encrypt(Buffer.alloc(32, 4));
    const other = await serve(new AwsKmsProvider({ client: moto.client(), key: alias, encryptionContext: { cluster: 'b' } }), {
      kekMode: 'direct',
    });
    expect([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION]).toContain(await codeOf(other.client.decrypt(enc)));
    expect(await writer.client.decrypt(enc)).toEqual(Buffer.alloc(32, 4));
  });

  it('holds a burst to the configured rate and fails the rest fast with RESOURCE_EXHAUSTED', async () => {
    const { alias } = await freshAlias();
    const seeder = await serve(new AwsKmsProvider({ client: moto.client(), key: alias }), { kekMode: 'direct' });
    const encs = await Promise.all(Array.from({ length: 50 }, (_, i) => seeder.client.encrypt(Buffer.alloc(32, i))));
    const provider = new InstrumentedProvider(new AwsKmsProvider({ client: moto.client(), key: alias }));
    const limited = await serve(provider, {
      kekMode: 'direct',
      remote: { retries: 2, rateLimit: { perSecond: 5, burst: 5, maxWaitMs: 0 } },
    });
    provider.reset();
    const started = performance.now();
    const results = await Promise.allSettled(encs.map((e) => limited.client.decrypt(e)));
    const seconds = (performance.now() - started) / 1000;
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'OK' : (r.reason as { code: number }).code));
    expect(provider.calls.unwrap).toBeLessThanOrEqual(5 + Math.ceil(5 * seconds));
    expect(codes.filter((c) => c === 'OK').length).toBe(provider.calls.unwrap);
    expect(new Set(codes.filter((c) => c !== 'OK'))).toEqual(new Set([Number(status.RESOURCE_EXHAUSTED)]));
    expect(seconds).toBeLessThan(5); // sanity bound, not a target: nothing piled up
  });
});

describe('AWS errors, through the real SDK against FakeKmsServer', () => {
  let fake: FakeKmsServer;
  beforeAll(async () => {
    fake = await new FakeKmsServer().start();
  });
  afterAll(async () => fake.stop());

  const providerFor = (endpoint: string) =>
    new AwsKmsProvider({
      client: new KMSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 }),
      key: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
    });
  const wrapped = Buffer.concat([
    Buffer.of(1, 0, 75),
    Buffer.from('arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555'),
    Buffer.alloc(40, 9),
  ]);
  const signal = new AbortController().signal;

  it.each([
    ['ThrottlingException', 400, 'throttled'],
    ['LimitExceededException', 400, 'throttled'],
    ['AccessDeniedException', 400, 'user-induced'],
    ['DisabledException', 400, 'user-induced'],
    ['KMSInvalidStateException', 400, 'user-induced'],
    ['NotFoundException', 400, 'user-induced'],
    ['IncorrectKeyException', 400, 'corrupt-ciphertext'],
    ['KeyUnavailableException', 500, 'unavailable'],
    ['InvalidCiphertextException', 400, 'corrupt-ciphertext'],
    ['KMSInternalException', 500, 'unavailable'],
    ['SomethingNew', 503, 'unavailable'],
  ])('maps %s (HTTP %d) to %s, naming it', async (type, httpStatus, errorClass) => {
    fake.answer = { error: type, status: httpStatus };
    const err = await providerFor(fake.endpoint)
      .unwrap(wrapped, { aad: Buffer.from('x'), signal })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ errorClass, message: expect.stringContaining(`AWS KMS Decrypt: ${type}`) as unknown as string });
  });

  it('classifies a credential-source failure as retryable and does not repeat its message', async () => {
    const { fromAwsError } = await import('../src/errors.js');
    const err = Object.assign(new Error('credential_process printed SECRET-abc123'), { name: 'CredentialsProviderError' });
    expect(fromAwsError('DescribeKey', err)).toMatchObject({
      errorClass: 'unavailable',
      message: 'AWS KMS DescribeKey: CredentialsProviderError',
    });
  });

  it('maps an unreachable endpoint to unavailable', async () => {
    const err = await providerFor('http://127.0.0.1:9')
      .currentKey({ signal })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ errorClass: 'unavailable' });
  });

  it('retries backend throttling and answers RESOURCE_EXHAUSTED when it persists', async () => {
    fake.answer = { error: 'ThrottlingException', status: 400 };
    const provider = new InstrumentedProvider(providerFor(fake.endpoint));
    const plugin = await startPlugin(provider, {
      kekMode: 'direct',
      remote: { retries: 2, retryBaseMs: 5, retryMaxMs: 10, breakerThreshold: 100 },
    });
    try {
      provider.reset();
      const ct = Buffer.concat([Buffer.of(0x02), wrapped]);
      expect(await codeOf(plugin.client.decrypt({ ciphertext: ct, keyId: 'aws-kms:x' }))).toBe(status.RESOURCE_EXHAUSTED);
      expect(provider.calls.unwrap).toBe(3);
    } finally {
      await plugin.stop();
    }
  });
});

describe('kms-plugin-aws configuration', () => {
  it('names the flag of each bad value', () => {
    expect(() =>
      parseAwsConfig({ key: 'not a key!', 'decrypt-key': [], 'encryption-context': [], 'role-session-name': 'k8s-kms' }),
    ).toThrow('--key: must be a key id');
    expect(() =>
      parseAwsConfig({ key: 'alias/a', 'decrypt-key': [], 'encryption-context': ['novalue'], 'role-session-name': 'k8s-kms' }),
    ).toThrow('--encryption-context: each must be key=value');
    expect(() =>
      parseAwsConfig({ key: 'alias/a', 'decrypt-key': [], 'encryption-context': ['k8s-kms.dev/aad=x'], 'role-session-name': 'k8s-kms' }),
    ).toThrow('--encryption-context: k8s-kms.dev/aad is set by the plugin');
    expect(() =>
      parseAwsConfig({ key: 'alias/a', 'decrypt-key': [], 'encryption-context': [], 'role-session-name': 'k8s-kms', 'external-id': 'abc' }),
    ).toThrow('--external-id: needs --role-arn');
    expect(() =>
      parseAwsConfig({ key: 'alias/a', 'decrypt-key': [], 'encryption-context': [], 'role-session-name': 'k8s-kms', region: 'mars' }),
    ).toThrow('--region');
  });

  it('accepts every key form AWS accepts', () => {
    for (const key of [
      '1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'alias/ExampleAlias',
      'arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias',
    ]) {
      expect(parseAwsConfig({ key, 'decrypt-key': [], 'encryption-context': ['a=b=c'], 'role-session-name': 'k8s-kms' })).toMatchObject({
        key,
        'encryption-context': { a: 'b=c' },
      });
    }
  });
});
