import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { codeOf, RawGrpcClient, type RunningPlugin } from '@k8s-kms/testkit';
import { KEK_ANNOTATION } from '../src/kit.js';
import { DecryptRequest } from '../src/gen/kms/v2/api.js';
import { startFakePlugin } from './support/plugin.js';

const DECRYPT = '/v2.KeyManagementService/Decrypt';
const ENCRYPT = '/v2.KeyManagementService/Encrypt';
const V1_DECRYPT = '/v1beta1.KeyManagementService/Decrypt';
const metric = async (plugin: RunningPlugin, name: string) => plugin.server.metrics.registry.getSingleMetricAsString(name);

describe('requests the protocol does not allow', () => {
  let started: Awaited<ReturnType<typeof startFakePlugin>>;
  let raw: RawGrpcClient;
  beforeAll(async () => {
    started = await startFakePlugin();
    raw = new RawGrpcClient(started.plugin.socketPath);
  });
  afterAll(async () => {
    raw.close();
    await started.plugin.stop();
  });

  it('answers a body that is not protobuf INVALID_ARGUMENT, not INTERNAL, and counts it', async () => {
    const answer = await raw.call({ path: DECRYPT, body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]) });
    expect(answer).toMatchObject({
      status: status.INVALID_ARGUMENT,
      message: 'the request is not a valid v2.KeyManagementService Decrypt message',
    });
    expect(await metric(started.plugin, 'kms_plugin_grpc_malformed_requests_total')).toContain('reason="not-protobuf"} 1');
  });

  it.each([
    ['a grpc-timeout that is not a duration', { 'grpc-timeout': 'soon' }, 0, status.INVALID_ARGUMENT, 'timeout-header'],
    ['a gzip-flagged body that is not gzip', { 'grpc-encoding': 'gzip' }, 1, status.INVALID_ARGUMENT, 'compression'],
    ['a compressed body in an encoding nobody speaks', { 'grpc-encoding': 'brotli-9000' }, 1, status.UNIMPLEMENTED, 'compression'],
  ])('answers %s without INTERNAL, and counts it', async (_what, headers, compressedFlag, code, reason) => {
    const before = await metric(started.plugin, 'kms_plugin_grpc_malformed_requests_total');
    const answer = await raw.call({ path: ENCRYPT, body: Buffer.from([0x0a, 0x01, 0x41]), headers, compressedFlag });
    expect(answer.status).toBe(code);
    const after = await metric(started.plugin, 'kms_plugin_grpc_malformed_requests_total');
    const count = (text: string) => Number(new RegExp(`reason="${reason}"} (\\d+)`).exec(text)?.[1]);
    expect(count(after)).toBe(count(before) + 1);
  });

  it('still reads a properly gzip-compressed request', async () => {
    const body = gzipSync(Buffer.from([0x0a, 0x01, 0x41])); // EncryptRequest{plaintext: "A"}
    const answer = await raw.call({ path: ENCRYPT, body, headers: { 'grpc-encoding': 'gzip' }, compressedFlag: 1 });
    expect(answer.status).toBe(status.OK);
  });

  it('refuses a request larger than its method can need, before decoding it', async () => {
    // 45 KiB: more than a v2 Decrypt can carry (1 KiB ciphertext, 1 KiB key_id, 32 KiB of
    // annotations), less than the server-wide limit a v1beta1 Decrypt needs.
    const body = DecryptRequest.encode({
      ciphertext: Buffer.alloc(1),
      keyId: 'k',
      annotations: { 'big.example.com': Buffer.alloc(45 * 1024) },
      uid: '',
    }).finish();
    const answer = await raw.call({ path: DECRYPT, body });
    expect(answer.status).toBe(status.INVALID_ARGUMENT);
    expect(answer.message).toMatch(/^a v2.KeyManagementService Decrypt request of \d+ bytes exceeds the \d+ bytes the protocol needs$/);
  });

  it('refuses a 4 MiB request (the grpc-js default limit) with RESOURCE_EXHAUSTED, unread', async () => {
    const answer = await raw.call({ path: V1_DECRYPT, body: Buffer.alloc(4 * 1024 * 1024 - 64, 1) });
    expect(answer.status).toBe(status.RESOURCE_EXHAUSTED);
    expect(await metric(started.plugin, 'kms_plugin_grpc_malformed_requests_total')).toMatch(/reason="too-large"} [1-9]/);
  });

  it('still serves a v1beta1 Decrypt of the largest ciphertext kube-apiserver can send', async () => {
    const code = await codeOf(started.plugin.client.v1Decrypt(Buffer.alloc(0xffff, 0x11)));
    expect(code).toBe(status.INVALID_ARGUMENT); // read and refused as corrupt, not as too large
  });

  it('asks the backend once, not once per read, for a tampered KEK annotation read again and again', async () => {
    const enc = await started.plugin.client.encrypt(Buffer.alloc(32, 5));
    const annotation = Buffer.from(enc.annotations[KEK_ANNOTATION] ?? Buffer.alloc(0));
    annotation[annotation.length - 1] = (annotation[annotation.length - 1] ?? 0) ^ 1;
    started.provider.reset();
    for (let i = 0; i < 20; i++) {
      expect(await codeOf(started.plugin.client.decrypt({ ...enc, annotations: { [KEK_ANNOTATION]: annotation } }))).toBe(
        status.INVALID_ARGUMENT,
      );
    }
    expect(started.provider.calls.unwrap).toBe(1);
    expect(await metric(started.plugin, 'kms_plugin_kek_cache_events_total')).toContain('event="refused"} 19');
    expect(await started.plugin.client.decrypt(enc)).toEqual(Buffer.alloc(32, 5)); // the real one still opens
  });

  it('counts every refused request by method and code, and none as INTERNAL', async () => {
    const text = await metric(started.plugin, 'kms_plugin_grpc_requests_total');
    expect(text).not.toContain('code="INTERNAL"');
    // The bad timeout and the broken gzip body above, refused by grpc-js before any handler ran.
    expect(Number(/api="v2",method="Encrypt",code="INVALID_ARGUMENT"} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    expect(text).toContain('api="v2",method="Encrypt",code="UNIMPLEMENTED"} 1');
  });
});
