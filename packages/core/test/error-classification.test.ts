import { describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { classifyFailure, classOfGrpcCode, classOfHttpStatus, retryAfterMs, transportFailure } from '../src/kit.js';
import { KmsError } from '../src/index.js';
import { DEFAULT_REMOTE_POLICY, RemotePolicy } from '../src/remote-policy.js';

const errno = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:443`), { code });

describe('the shared error classification', () => {
  it.each([
    ['an errno code on the error', errno('ECONNREFUSED'), 'unavailable', 'ECONNREFUSED'],
    [
      'fetch: a TypeError caused by the socket error',
      new TypeError('fetch failed', { cause: errno('ECONNRESET') }),
      'unavailable',
      'ECONNRESET',
    ],
    [
      'undici: a connect timeout two causes down',
      new Error('a', { cause: new Error('b', { cause: errno('UND_ERR_CONNECT_TIMEOUT') }) }),
      'unavailable',
      'UND_ERR_CONNECT_TIMEOUT',
    ],
    ["Node's HTTP parser (a proxy in the way)", errno('HPE_INVALID_CONSTANT'), 'unavailable', 'HPE_INVALID_CONSTANT'],
    ['AbortSignal.timeout', new DOMException('late', 'TimeoutError'), 'unavailable', 'TimeoutError'],
    ['an abort', new DOMException('stop', 'AbortError'), 'unavailable', 'AbortError'],
    ['a certificate the CA does not sign', errno('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'user-induced', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a wrong server name', errno('ERR_TLS_CERT_ALTNAME_INVALID'), 'user-induced', 'ERR_TLS_CERT_ALTNAME_INVALID'],
    [
      'an SDK that flattened the socket error into its message',
      new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9'),
      'unavailable',
      'ECONNREFUSED',
    ],
  ])('finds %s', (_what, err, errorClass, code) => {
    expect(transportFailure(err)).toEqual({ errorClass, code });
  });

  it('finds nothing in an error that is not a transport failure, and stops at 8 causes', () => {
    expect(transportFailure(new RangeError('bad input'))).toBeUndefined();
    let deep: Error = errno('ECONNREFUSED');
    for (let i = 0; i < 10; i++) deep = new Error('wrapped', { cause: deep });
    expect(transportFailure(deep)).toBeUndefined();
  });

  it.each([
    [429, 'throttled'],
    [408, 'unavailable'],
    [412, 'unavailable'],
    [500, 'unavailable'],
    [503, 'unavailable'],
    [400, 'user-induced'],
    [401, 'user-induced'],
    [403, 'user-induced'],
    [404, 'user-induced'],
  ] as const)('gives HTTP %d the class %s', (code, cls) => {
    expect(classOfHttpStatus(code)).toBe(cls);
  });

  it.each([
    [status.RESOURCE_EXHAUSTED, 'throttled'],
    [status.UNAVAILABLE, 'unavailable'],
    [status.DEADLINE_EXCEEDED, 'unavailable'],
    [status.INTERNAL, 'unavailable'],
    [status.PERMISSION_DENIED, 'user-induced'],
    [status.UNAUTHENTICATED, 'user-induced'],
    [status.FAILED_PRECONDITION, 'user-induced'],
    [status.NOT_FOUND, 'user-induced'],
    [status.INVALID_ARGUMENT, 'invalid-input'],
    [status.UNIMPLEMENTED, 'internal'],
  ] as const)('gives gRPC code %d the class %s', (code, cls) => {
    expect(classOfGrpcCode(code)).toBe(cls);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it('trusts the status of an answer over a network code its message mentions', () => {
    const answered = new Error('upstream said: connect ECONNREFUSED 10.0.0.1:443');
    expect(classifyFailure('Thing Decrypt', answered, { httpStatus: 400 })).toMatchObject({ errorClass: 'user-induced' });
  });

  it("names the call, the error name and the status, and never repeats a foreign error's message", () => {
    const leaky = Object.assign(new Error('token s.SECRET rejected'), { name: 'SdkWeirdError' });
    const err = classifyFailure('Thing Encrypt', leaky, { httpStatus: 503 });
    expect(err).toMatchObject({ errorClass: 'unavailable', message: 'Thing Encrypt: HTTP 503' });
    expect(classifyFailure('Thing Encrypt', leaky)).toMatchObject({ errorClass: 'internal', message: 'Thing Encrypt: SdkWeirdError' });
    expect(
      classifyFailure('Thing Encrypt', leaky, { name: 'Throttled', errorClass: 'throttled', httpStatus: 400, detail: 'slow down' }),
    ).toMatchObject({ errorClass: 'throttled', message: 'Thing Encrypt: Throttled (HTTP 400): slow down' });
  });

  it('recognises a KmsError thrown by a second copy of core, and retries it as its class says', async () => {
    // What a backend installed with its own copy of @k8s-kms/core throws: the same brand, another class.
    const brand: unique symbol = Symbol.for('k8s-kms.KmsError') as never;
    class SecondCopyKmsError extends Error {
      readonly [brand] = true;
      readonly errorClass = 'unavailable';
      readonly retryable = true;
      readonly retryAfterMs = undefined;
    }
    const foreign = new SecondCopyKmsError('backend down');
    expect(foreign instanceof KmsError).toBe(false);
    expect(KmsError.is(foreign)).toBe(true);
    const policy = new RemotePolicy(
      { ...DEFAULT_REMOTE_POLICY, retries: 2, retryBaseMs: 1, retryMaxMs: 2, rateLimit: { perSecond: 0, burst: 1, maxWaitMs: 0 } },
      { call: () => undefined, rejected: () => undefined, breaker: () => undefined },
    );
    let attempts = 0;
    await expect(
      policy.execute('wrap', async () => {
        if (++attempts < 3) throw foreign;
        return 'ok';
      }),
    ).resolves.toBe('ok');
    expect(attempts).toBe(3);
  });

  it('waits at least as long as the service asked before retrying, and not at all when it asks too long', async () => {
    const policy = new RemotePolicy(
      { ...DEFAULT_REMOTE_POLICY, retries: 1, retryBaseMs: 1, retryMaxMs: 500, rateLimit: { perSecond: 0, burst: 1, maxWaitMs: 0 } },
      { call: () => undefined, rejected: () => undefined, breaker: () => undefined },
    );
    const stamps: number[] = [];
    await policy.execute('unwrap', async () => {
      stamps.push(performance.now());
      if (stamps.length === 1) throw new KmsError('throttled', 'slow down', { retryAfterMs: 120 });
      return 'ok';
    });
    expect((stamps[1] ?? 0) - (stamps[0] ?? 0)).toBeGreaterThanOrEqual(115);
    let tries = 0;
    await expect(
      policy.execute('unwrap', async () => {
        tries += 1;
        throw new KmsError('throttled', 'come back in a minute', { retryAfterMs: 60_000 });
      }),
    ).rejects.toMatchObject({ errorClass: 'throttled' });
    expect(tries).toBe(1);
  });
});
