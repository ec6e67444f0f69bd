import { connect, constants } from 'node:http2';
import { connect as connectUnix } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createPluginClient } from '@k8s-kms/core';
import { startPluginBinary } from '@k8s-kms/testkit';
import { localPluginArgs, peakRssMiB, pluginBinary } from './plugin-binaries.js';

/**
 * Peak memory of kms-plugin-local under 256 concurrent requests of the largest size a client can
 * send it: first 256 requests of 4 MiB (grpc-js's default limit, which the plugin no longer
 * accepts), then 256 v1beta1 Decrypts of the largest ciphertext the protocol allows (64 KiB).
 * Prints the plugin's peak RSS (VmHWM) after each wave, and whether it still serves.
 *
 * Usage: node dist/src/rss-max-requests.js [--concurrency 256] [--rounds 4]
 */
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const concurrency = Number(arg('concurrency', '256'));
const rounds = Number(arg('rounds', '4'));

const plugin = await startPluginBinary(pluginBinary('local'), { args: await localPluginArgs(), logLevel: 'info' });
const client = createPluginClient(`unix://${plugin.socketPath}`, { timeoutMs: 60_000 });
await client.status();
const idle = await peakRssMiB(plugin.proc.pid);

/** One HTTP/2 connection per request, each writing its whole body at once: the most memory a client can make the server hold. */
function send(path: string, bodyBytes: number): Promise<string> {
  return new Promise((resolve) => {
    const session = connect('http://localhost', { createConnection: () => connectUnix(plugin.socketPath) });
    session.on('error', () => resolve('session error'));
    const frame = Buffer.alloc(5 + bodyBytes);
    frame.writeUInt32BE(bodyBytes, 1);
    randomBytes(Math.min(bodyBytes, 1024)).copy(frame, 5);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
    });
    let code = 'no status';
    stream.on('response', (h) => h['grpc-status'] !== undefined && (code = String(h['grpc-status'])));
    stream.on('trailers', (h) => h['grpc-status'] !== undefined && (code = String(h['grpc-status'])));
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    stream.on('close', () => {
      session.close();
      resolve(code);
    });
    stream.end(frame);
  });
}

const waves: { what: string; path: string; bytes: number }[] = [
  { what: '4 MiB Decrypt (v2)', path: '/v2.KeyManagementService/Decrypt', bytes: 4 * 1024 * 1024 - 16 },
  { what: '4 MiB Decrypt (v1beta1)', path: '/v1beta1.KeyManagementService/Decrypt', bytes: 4 * 1024 * 1024 - 16 },
  { what: '64 KiB Decrypt (v1beta1, the protocol maximum)', path: '/v1beta1.KeyManagementService/Decrypt', bytes: 0xffff + 4 },
];
console.log(`k8s-kms peak memory under ${concurrency} concurrent maximum-size requests, ${rounds} rounds each, node ${process.version}`);
console.log(`| wave | answers | plugin peak RSS MiB (idle ${idle.toFixed(0)}) |`);
console.log('|---|---|---:|');
for (const wave of waves) {
  const codes = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    for (const code of await Promise.all(Array.from({ length: concurrency }, () => send(wave.path, wave.bytes)))) {
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }
  const answers = [...codes].map(([c, n]) => `grpc-status ${c}: ${n}`).join(', ');
  console.log(`| ${wave.what} | ${answers} | ${(await peakRssMiB(plugin.proc.pid)).toFixed(0)} |`);
}
const seed = randomBytes(32);
const ok = (await client.decrypt(await client.encrypt(seed))).equals(seed);
client.close();
console.log(`round trip afterwards: ${ok ? 'ok' : 'FAILED'}; exit after SIGTERM: ${await plugin.stop()}`);
