import { randomBytes, randomInt } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { createPluginClient } from '@k8s-kms/core';
import { RawGrpcClient, type RawRequest } from '@k8s-kms/testkit';
import { startPluginBinary } from '@k8s-kms/testkit';
import { localPluginArgs, peakRssMiB, pluginBinary } from './plugin-binaries.js';

/**
 * Fuzzes a running kms-plugin-local over its socket with requests no kube-apiserver sends:
 * random bytes as bodies, valid requests with bytes flipped, truncated or lying length prefixes,
 * bad grpc-timeout headers, compression flags without compression, unknown encodings, unknown
 * methods, oversized bodies. Prints the gRPC codes it got, by category; the plugin must answer
 * none of them INTERNAL, never crash, and still serve a good round trip afterwards.
 *
 * Usage: node dist/src/fuzz-socket.js [--requests 20000]
 */
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const total = Number(arg('requests', '20000'));

const PATHS = [
  '/v2.KeyManagementService/Status',
  '/v2.KeyManagementService/Encrypt',
  '/v2.KeyManagementService/Decrypt',
  '/v1beta1.KeyManagementService/Version',
  '/v1beta1.KeyManagementService/Encrypt',
  '/v1beta1.KeyManagementService/Decrypt',
];
const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)] as T;
const flip = (b: Buffer): Buffer => {
  const out = Buffer.from(b);
  for (let n = randomInt(1, 4); n > 0 && out.length > 0; n--) {
    const at = randomInt(out.length);
    out[at] = (out[at] ?? 0) ^ randomInt(1, 256); // never a no-op
  }
  return out;
};

const plugin = await startPluginBinary(pluginBinary('local'), { args: await localPluginArgs(), logLevel: 'info' });
const client = createPluginClient(`unix://${plugin.socketPath}`);
const seed = randomBytes(32);
const enc = await client.encrypt(seed);
// A valid v2 DecryptRequest, encoded by hand from the proto (fields 1 ciphertext, 2 uid, 3 key_id, 4 annotations).
const field = (n: number, bytes: Buffer): Buffer => Buffer.concat([Buffer.of((n << 3) | 2), varint(bytes.length), bytes]);
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
const annotations = Object.entries(enc.annotations).map(([k, v]) => field(4, Buffer.concat([field(1, Buffer.from(k)), field(2, v)])));
const validDecrypt = Buffer.concat([field(1, enc.ciphertext), field(3, Buffer.from(enc.keyId)), ...annotations]);

const categories: Record<string, () => RawRequest> = {
  'random body': () => ({ path: pick(PATHS), body: randomBytes(randomInt(0, 512)) }),
  'flipped valid Decrypt': () => ({ path: '/v2.KeyManagementService/Decrypt', body: flip(validDecrypt) }),
  'truncated valid Decrypt': () => ({
    path: '/v2.KeyManagementService/Decrypt',
    body: validDecrypt.subarray(0, randomInt(validDecrypt.length)),
  }),
  'lying length prefix': () => ({ path: pick(PATHS), body: randomBytes(16), declaredLength: randomInt(0, 16) }),
  'bad grpc-timeout': () => ({
    path: pick(PATHS),
    body: validDecrypt,
    headers: { 'grpc-timeout': pick(['soon', '-1S', '99999999999H', 'abc', '1x', '']) },
  }),
  'compressed flag, no encoding': () => ({ path: pick(PATHS), body: randomBytes(32), compressedFlag: 1 }),
  'gzip flag, not gzip': () => ({ path: pick(PATHS), body: randomBytes(32), compressedFlag: 1, headers: { 'grpc-encoding': 'gzip' } }),
  'unknown encoding': () => ({ path: pick(PATHS), body: randomBytes(32), compressedFlag: 1, headers: { 'grpc-encoding': 'zstd-x' } }),
  'unknown method': () => ({ path: `/v2.KeyManagementService/${pick(['Rotate', 'status', 'Decrypt/'])}`, body: randomBytes(8) }),
  oversized: () => ({ path: pick(PATHS), body: randomBytes(randomInt(70 * 1024, 200 * 1024)) }),
};

const tally = new Map<string, Map<string, number>>();
const names = Object.keys(categories);
const raw = new RawGrpcClient(plugin.socketPath);
let internal = 0;
let errors = 0;
let wrongPlaintext = 0;
const started = performance.now();
for (let sent = 0; sent < total; sent += 64) {
  await Promise.all(
    Array.from({ length: Math.min(64, total - sent) }, async (_, i) => {
      const name = names[(sent + i) % names.length] ?? '';
      const answer = await raw.call((categories[name] as () => RawRequest)()).catch(() => undefined);
      const code =
        answer?.status === undefined
          ? answer
            ? `HTTP ${answer.httpStatus}`
            : 'stream error'
          : (status[answer.status] ?? String(answer.status));
      if (answer?.status === status.INTERNAL) internal += 1;
      // A Decrypt answered OK must give the one plaintext there is: a flip can only be OK where it
      // left the decoded request as it was (protobuf reads a shortened map-entry length leniently).
      if (name.includes('Decrypt') && answer?.status === status.OK && !answer.body.equals(Buffer.concat([Buffer.of(0x0a, 32), seed]))) {
        wrongPlaintext += 1;
      }
      if (!answer) errors += 1;
      const row = tally.get(name) ?? new Map<string, number>();
      row.set(code, (row.get(code) ?? 0) + 1);
      tally.set(name, row);
    }),
  );
}
raw.close();
const seconds = (performance.now() - started) / 1000;
const again = randomBytes(32);
const stillServes = (await client.decrypt(await client.encrypt(again))).equals(again);
client.close();
const peak = await peakRssMiB(plugin.proc.pid);
const exit = await plugin.stop();

console.log(`k8s-kms socket fuzz: ${total} malformed requests to kms-plugin-local in ${seconds.toFixed(1)} s, node ${process.version}`);
console.log('| category | answers |');
console.log('|---|---|');
for (const [name, row] of tally) {
  console.log(`| ${name} | ${[...row].map(([code, n]) => `${code} ${n}`).join(', ')} |`);
}
console.log(
  `INTERNAL: ${internal}; wrong plaintexts: ${wrongPlaintext}; transport errors: ${errors}; round trip afterwards: ${stillServes ? 'ok' : 'FAILED'}; ` +
    `peak RSS ${peak.toFixed(0)} MiB; exit after SIGTERM: ${exit}`,
);
if (internal > 0 || wrongPlaintext > 0 || !stillServes || exit !== 0) process.exitCode = 1;
