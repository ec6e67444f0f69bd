import { afterEach, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { codeOf, waitFor, type RunningPlugin } from '@k8s-kms/testkit';
import { KmsError } from '../src/index.js';
import { startFakePlugin } from './support/plugin.js';

const get = async (addr: string | undefined, path: string) => {
  const res = await fetch(`http://${addr}${path}`);
  return { code: res.status, body: await res.text() };
};

describe('Status and the health endpoints', () => {
  let plugin: RunningPlugin | undefined;
  afterEach(async () => plugin?.stop());

  it('answers 100 Status calls without a single backend call', async () => {
    const started = await startFakePlugin({ refresh: { intervalMs: 60_000 } });
    plugin = started.plugin;
    started.provider.reset();
    for (let i = 0; i < 100; i++) expect((await plugin.client.status()).healthz).toBe('ok');
    expect(started.provider.total()).toBe(0);
  });

  it('reports version v2beta1 when configured for kube-apiserver 1.27-1.28', async () => {
    plugin = (await startFakePlugin({ statusVersion: 'v2beta1' })).plugin;
    expect((await plugin.client.status()).version).toBe('v2beta1');
  });

  it('keeps /livez up while the backend fails, and reports the failure on /healthz and in Status', async () => {
    const started = await startFakePlugin({
      healthAddr: '127.0.0.1:0',
      refresh: { intervalMs: 60_000, retryMs: 20 },
      kekMode: 'direct',
      remote: { retries: 0 },
    });
    plugin = started.plugin;
    const addr = plugin.server.healthAddress;
    expect(await get(addr, '/healthz')).toEqual({ code: 200, body: 'ok\n' });
    started.provider.failAll(() => new KmsError('unavailable', 'connection refused'));
    await plugin.server.refreshKey();
    expect(await get(addr, '/livez')).toEqual({ code: 200, body: 'ok\n' });
    expect(await get(addr, '/readyz')).toEqual({ code: 200, body: 'ok\n' });
    const health = await get(addr, '/healthz');
    expect(health.code).toBe(503);
    expect(health.body).toContain('backend unavailable: connection refused');
    const s = await plugin.client.status();
    expect(s.healthz).toContain('connection refused');
    expect(s.keyId).not.toBe(''); // the last known key_id is kept
    started.provider.heal();
    await plugin.server.refreshKey();
    expect((await get(addr, '/healthz')).code).toBe(200);
    expect((await plugin.client.status()).healthz).toBe('ok');
  });

  it('reports an open breaker in direct-mode Status and /healthz at once, naming the failure behind it', async () => {
    const started = await startFakePlugin({
      healthAddr: '127.0.0.1:0',
      kekMode: 'direct',
      refresh: { intervalMs: 60_000 }, // no refresh comes to tell: the calls themselves must
      remote: { retries: 0, breakerThreshold: 3, breakerHalfOpenAfterMs: 60_000 },
    });
    plugin = started.plugin;
    const addr = plugin.server.healthAddress;
    started.provider.failAll(() => new KmsError('unavailable', 'connect ECONNREFUSED 127.0.0.1:443'));
    for (let i = 0; i < 3; i++) expect(await codeOf(plugin.client.encrypt(Buffer.alloc(32, i)))).toBe(status.UNAVAILABLE);
    const s = await plugin.client.status();
    expect(s.healthz).toMatch(
      /^backend unavailable: backend circuit breaker open for \d+s after 3 consecutive failures; last: connect ECONNREFUSED/,
    );
    const health = await get(addr, '/healthz');
    expect(health.code).toBe(503);
    expect(health.body).toContain('circuit breaker open');
    expect(health.body).toContain('last: connect ECONNREFUSED 127.0.0.1:443');
    await expect(plugin.client.encrypt(Buffer.alloc(32))).rejects.toMatchObject({
      details: expect.stringContaining('last: connect ECONNREFUSED') as unknown as string,
    });
    expect((await get(addr, '/livez')).code).toBe(200);
  });

  it('recovers /healthz and calls soon after the backend returns, not at the refresh interval', async () => {
    const started = await startFakePlugin({
      healthAddr: '127.0.0.1:0',
      kekMode: 'direct',
      refresh: { intervalMs: 60_000, retryMs: 100 },
      remote: { retries: 0, breakerThreshold: 2, breakerHalfOpenAfterMs: 300 },
    });
    plugin = started.plugin;
    const addr = plugin.server.healthAddress;
    started.provider.failAll(() => new KmsError('unavailable', 'backend down'));
    await plugin.server.refreshKey();
    // 2.2 s of failed refreshes. Retried every 100 ms that is about 20 tries; with a backoff
    // doubling from 100 ms it would be 5, the next one seconds away and growing toward 60 s.
    await new Promise((r) => setTimeout(r, 2200));
    expect((await get(addr, '/healthz')).code).toBe(503);
    const failed = /kms_plugin_key_refreshes_total\{result="error"\} (\d+)/.exec((await get(addr, '/metrics')).body)?.[1];
    expect(Number(failed)).toBeGreaterThanOrEqual(10);
    started.provider.heal();
    await waitFor(async () => ((await get(addr, '/healthz')).code === 200 ? true : undefined), '/healthz after the backend returned', 3000);
    expect((await plugin.client.status()).healthz).toBe('ok');
    expect(await plugin.client.decrypt(await plugin.client.encrypt(Buffer.alloc(32, 1)))).toEqual(Buffer.alloc(32, 1));
  });

  it('logs the breaker opening with its cause and closing again, and the backend coming back', async () => {
    const { InstrumentedProvider, LogCapture, startPlugin } = await import('@k8s-kms/testkit');
    const { FakeMemoryProvider } = await import('@k8s-kms/testkit');
    const { createLogger } = await import('../src/index.js');
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    const logs = new LogCapture();
    plugin = await startPlugin(provider, {
      logger: createLogger({ level: 'info', name: 't', destination: logs }),
      refresh: { intervalMs: 60_000, retryMs: 50 },
      remote: { retries: 0, breakerThreshold: 2, breakerHalfOpenAfterMs: 200 },
    });
    provider.failAll(() => new KmsError('unavailable', 'backend went away'));
    await plugin.server.refreshKey();
    await waitFor(async () => (logs.text.includes('backend circuit breaker opened') ? true : undefined), 'the breaker to open');
    await new Promise((r) => setTimeout(r, 900)); // several failed trial calls (one each 200 ms)
    provider.heal();
    await waitFor(async () => (logs.text.includes('backend reachable again') ? true : undefined), 'the backend to come back');
    const lines = logs.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'backend circuit breaker opened', err: 'backend went away' }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'backend circuit breaker closed: the backend answers again' }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'backend reachable again' }));
    // The same failure repeated is logged once at warn, not once per retry.
    expect(lines.filter((l) => l.msg === 'backend key refresh failed').length).toBeLessThanOrEqual(2);
  });

  it('checks the backend again soon after a call fails, so /healthz recovers without waiting for the refresh interval', async () => {
    const started = await startFakePlugin({
      healthAddr: '127.0.0.1:0',
      refresh: { intervalMs: 60_000, retryMs: 100 },
      remote: { retries: 0 },
    });
    plugin = started.plugin;
    const addr = plugin.server.healthAddress;
    const enc = await plugin.client.encrypt(Buffer.alloc(32, 4));
    // A cold replica's Decrypt needs an unwrap; the backend blips once.
    const { InstrumentedProvider, startPlugin } = await import('@k8s-kms/testkit');
    const cold = new InstrumentedProvider(started.fake);
    const replica = await startPlugin(cold, {
      healthAddr: '127.0.0.1:0',
      refresh: { intervalMs: 60_000, retryMs: 100 },
      remote: { retries: 0 },
    });
    try {
      cold.failNext('unwrap', () => new KmsError('unavailable', 'one blip'));
      expect(await codeOf(replica.client.decrypt(enc))).toBe(status.UNAVAILABLE);
      expect((await get(replica.server.healthAddress, '/healthz')).code).toBe(503);
      await waitFor(async () => ((await get(replica.server.healthAddress, '/healthz')).code === 200 ? true : undefined), '/healthz', 3000);
      expect(cold.calls['current-key']).toBeGreaterThanOrEqual(2); // the start, and the check the failure asked for
    } finally {
      await replica.stop();
    }
    expect((await get(addr, '/healthz')).code).toBe(200);
  });

  it('stays healthy in Status during a backend outage while a local KEK can still seal', async () => {
    const started = await startFakePlugin({ refresh: { intervalMs: 60_000, retryMs: 20 }, remote: { retries: 0 } });
    plugin = started.plugin;
    const enc = await plugin.client.encrypt(Buffer.alloc(32, 7));
    started.provider.failAll(() => new KmsError('unavailable', 'connection refused'));
    await plugin.server.refreshKey();
    expect((await plugin.client.status()).healthz).toBe('ok');
    expect(await plugin.client.decrypt(enc)).toEqual(Buffer.alloc(32, 7));
    expect((await plugin.client.encrypt(Buffer.alloc(32, 8))).keyId).toBe(enc.keyId);
  });

  it('stops encrypting and forgets cached KEKs when the backend key is revoked', async () => {
    const started = await startFakePlugin({ refresh: { intervalMs: 60_000, retryMs: 20 }, remote: { retries: 0 } });
    plugin = started.plugin;
    const enc = await plugin.client.encrypt(Buffer.alloc(32, 1));
    started.provider.failAll(() => new KmsError('user-induced', 'AccessDeniedException'));
    await plugin.server.refreshKey();
    expect((await plugin.client.status()).healthz).toContain('AccessDeniedException');
    expect(await codeOf(plugin.client.encrypt(Buffer.alloc(32, 2)))).toBe(status.FAILED_PRECONDITION);
    expect(await codeOf(plugin.client.decrypt(enc))).toBe(status.FAILED_PRECONDITION);
  });

  it('refuses Encrypt for a key the backend marks unusable, naming the reason', async () => {
    const started = await startFakePlugin({ refresh: { intervalMs: 60_000 } });
    plugin = started.plugin;
    started.fake.unusableReason = 'key is Disabled';
    await plugin.server.refreshKey();
    expect((await plugin.client.status()).healthz).toBe('backend key unusable: key is Disabled');
    await expect(plugin.client.encrypt(Buffer.alloc(32))).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: 'backend key unusable: key is Disabled',
    });
  });

  it('answers UNAVAILABLE with a reason until a first key is known', async () => {
    const { InstrumentedProvider, startPlugin } = await import('@k8s-kms/testkit');
    const { FakeMemoryProvider } = await import('@k8s-kms/testkit');
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    provider.failAll(() => new KmsError('unavailable', 'no route to KMS'));
    plugin = await startPlugin(provider, {
      healthAddr: '127.0.0.1:0',
      remote: { retries: 0 },
      refresh: { intervalMs: 60_000, retryMs: 60_000 },
    });
    const s = await plugin.client.status();
    expect(s.keyId).toBe('');
    expect(s.healthz).toContain('no route to KMS');
    expect(await codeOf(plugin.client.encrypt(Buffer.alloc(32)))).toBe(status.UNAVAILABLE);
    expect((await get(plugin.server.healthAddress, '/readyz')).code).toBe(503);
    expect((await get(plugin.server.healthAddress, '/livez')).code).toBe(200);
  });

  it('exposes gRPC, backend, cache and key metrics with bounded labels', async () => {
    plugin = (await startFakePlugin({ healthAddr: '127.0.0.1:0' })).plugin;
    const enc = await plugin.client.encrypt(Buffer.alloc(32, 3));
    await plugin.client.decrypt(enc);
    await codeOf(plugin.client.decrypt({ ...enc, keyId: 'other' }));
    const { body } = await get(plugin.server.healthAddress, '/metrics');
    expect(body).toContain('kms_plugin_grpc_requests_total{api="v2",method="Encrypt",code="OK"} 1');
    expect(body).toContain('kms_plugin_grpc_requests_total{api="v2",method="Decrypt",code="INVALID_ARGUMENT"} 1');
    expect(body).toMatch(/kms_plugin_grpc_request_duration_seconds_bucket\{le="0.0001",api="v2",method="Encrypt"\}/);
    expect(body).toContain('kms_plugin_backend_calls_total{operation="wrap",result="ok"} 1');
    expect(body).toContain('kms_plugin_kek_cache_events_total{event="hit"} 2');
    expect(body).toContain('kms_plugin_kek_cache_size 1');
    expect(body).toMatch(/kms_plugin_key_info\{provider="fake",key_id="fake:[A-Za-z0-9_-]{32}"\} 1/);
    expect(body).toContain('kms_plugin_local_kek_rotations_total{reason="first"} 1');
  });
});
