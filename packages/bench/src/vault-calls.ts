import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginClient } from '@k8s-kms/core';
import { startPluginBinary, type RunningPluginBinary } from '@k8s-kms/testkit';
import { pluginBinary } from './plugin-binaries.js';
import { OpenBao } from '../../vault/test/support/openbao.js';

/**
 * Counts the requests kms-plugin-vault makes to Vault, as Vault itself records them: a real
 * OpenBao dev server with a file audit device, the real plugin binary, and N calls of each kind over
 * its socket. Prints Vault requests per Status, Encrypt and Decrypt (cached and uncached local
 * KEK, and direct mode), per background refresh and at start-up. Numbers, never assertions.
 *
 * Usage: node dist/src/vault-calls.js [--calls 200]
 */
const calls = Number(process.argv[process.argv.indexOf('--calls') + 1] || 200);
const KEY = 'bench';
const bin = pluginBinary('vault');

const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-vault-calls-'));
const bao = await OpenBao.start({ audit: true });
const audit = bao.auditLog;
await bao.transitKey(KEY);
await bao.pluginPolicy('kms', KEY);
const tokenFile = join(dir, 'token');
const created = await bao.must('POST', 'auth/token/create', { policies: ['kms'], ttl: '24h' });
await writeFile(tokenFile, (created.auth as { client_token: string }).client_token, { mode: 0o600 });

/** Requests made with the plugin's token (its policies include "kms"), by path. */
async function pluginRequests(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await readFile(audit, 'utf8')).split('\n')) {
    if (!line.includes('"type":"request"')) continue;
    const entry = JSON.parse(line) as { auth?: { policies?: string[] }; request?: { path?: string } };
    if (!entry.auth?.policies?.includes('kms')) continue;
    const path = entry.request?.path ?? '?';
    counts.set(path, (counts.get(path) ?? 0) + 1);
  }
  return counts;
}
const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

async function requestsDuring(work: () => Promise<unknown>): Promise<{ n: number; paths: string }> {
  await new Promise((r) => setTimeout(r, 200)); // let the audit log settle
  const before = await pluginRequests();
  await work();
  await new Promise((r) => setTimeout(r, 200));
  const after = await pluginRequests();
  const delta = [...after].map(([p, n]) => [p, n - (before.get(p) ?? 0)] as const).filter(([, n]) => n > 0);
  return { n: total(after) - total(before), paths: delta.map(([p, n]) => `${p}×${n}`).join(', ') || '-' };
}

/** kms-plugin-vault against the audited OpenBao, with the plugin's token. */
function startPlugin(args: string[]): Promise<RunningPluginBinary> {
  return startPluginBinary(bin, {
    args: ['--address', bao.address, '--key-name', KEY, '--token-file', tokenFile, ...args],
    logLevel: 'warn',
  });
}

const rows: [string, number, string][] = [];
const row = (what: string, r: { n: number; paths: string }, per: number): void => {
  rows.push([what, r.n / per, r.paths]);
};

// Start-up, Status, Encrypt and cached Decrypt, local-KEK mode.
let plugin: RunningPluginBinary | undefined;
const startup = await requestsDuring(async () => (plugin = await startPlugin([])));
if (!plugin) throw new Error('unreachable');
const local = plugin;
row('start-up (token lookup, key read, fingerprint)', startup, 1);
row('Status', await requestsDuring(async () => Promise.all(Array.from({ length: calls }, () => local.client.status()))), calls);
const written: Awaited<ReturnType<PluginClient['encrypt']>>[] = [];
row(
  'Encrypt, local KEK (one wrap per new local KEK)',
  await requestsDuring(async () => {
    for (let i = 0; i < calls; i++) written.push(await local.client.encrypt(randomBytes(32)));
  }),
  calls,
);
row(
  'Decrypt, local KEK cached',
  await requestsDuring(async () => {
    for (const c of written) await local.client.decrypt(c);
  }),
  calls,
);
await local.stop();

// A fresh process: its cache is empty, so the first Decrypt of each local KEK goes to Vault.
const fresh = await startPlugin([]);
row(
  `Decrypt, local KEK uncached (${calls} ciphertexts under 1 KEK)`,
  await requestsDuring(async () => {
    for (const c of written) await fresh.client.decrypt(c);
  }),
  calls,
);
await fresh.stop();
const again = await startPlugin([]);
row(
  'Decrypt, uncached: the first call alone',
  await requestsDuring(() => again.client.decrypt(written[0] as Parameters<PluginClient['decrypt']>[0])),
  1,
);
await again.stop();

// Direct mode: every Encrypt and Decrypt is one transit call.
const direct = await startPlugin(['--kek-mode', 'direct']);
const directWritten: Awaited<ReturnType<PluginClient['encrypt']>>[] = [];
row(
  'Encrypt, direct mode',
  await requestsDuring(async () => {
    for (let i = 0; i < calls; i++) directWritten.push(await direct.client.encrypt(randomBytes(32)));
  }),
  calls,
);
row(
  'Decrypt, direct mode',
  await requestsDuring(async () => {
    for (const c of directWritten) await direct.client.decrypt(c);
  }),
  calls,
);
await direct.stop();

// Background refresh: a 1 s interval for 5 s.
const refreshing = await startPlugin(['--refresh-interval', '1s']);
row('background refresh (per refresh, 1 s interval over 5 s)', await requestsDuring(() => new Promise((r) => setTimeout(r, 5_000))), 5);
await refreshing.stop();
await bao.dispose();

console.log(`\nVault requests made by kms-plugin-vault, counted by OpenBao's audit log (${calls} calls each):\n`);
console.log('| what | Vault requests per call | requests seen |');
console.log('|---|---|---|');
for (const [what, per, paths] of rows) console.log(`| ${what} | ${Number(per.toFixed(3))} | ${paths} |`);
