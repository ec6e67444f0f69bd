import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPluginClient, type PluginClient } from '@k8s-kms/core';
import { startProcess } from '@k8s-kms/testkit';
import { Moto } from '../../aws/test/support/moto.js';

/**
 * Drives Encrypt and Decrypt over the plugin's socket at several concurrencies, for the local-KEK
 * and direct modes, against a backend with a set latency. Prints throughput, p50/p99 latency, the
 * plugin's RSS and backend calls per 1,000 requests. Numbers, never assertions.
 *
 * With `--backend aws` the plugin runs the AWS provider against moto (started here, on loopback);
 * with `--backend gcp` the Cloud KMS provider against the Cloud KMS stand-in (its binary, built
 * with packages/gcp), and with `--backend azure` the Key Vault provider against the Key Vault
 * stand-in (likewise); the stand-ins' own call counts are printed beside the plugin's.
 * It also counts backend calls made while Status is polled, and the background refresh's calls.
 *
 * Usage: node dist/src/bench-socket.js [--backend local|aws|gcp|azure] [--latency-ms 40] [--seconds 2] [--concurrency 1,16,64]
 */
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const backend = arg('backend', 'local');
const latencyMs = Number(arg('latency-ms', backend === 'local' ? '40' : '0'));
const seconds = Number(arg('seconds', '2'));
const concurrencies = arg('concurrency', '1,16,64').split(',').map(Number);

interface Cell {
  mode: string;
  op: string;
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  rssMiB: number;
  backendPer1000: number;
}

let backendArgs: string[] = [];

async function startMoto(): Promise<() => Promise<void>> {
  const moto = await Moto.start();
  await moto.createAlias('alias/bench', await moto.createKey());
  backendArgs = ['aws', moto.endpoint, 'alias/bench'];
  return () => moto.stop();
}

let standInAdmin = '';

/** A stand-in as a process (packages/<pkg>/dist/test/stand-in/main.js) writing its files to a temp dir; its JSON ready line. */
async function startStandIn<T>(pkg: string, args: readonly string[]): Promise<{ stop: () => Promise<void>; ready: T }> {
  const dir = await mkdtemp(join(tmpdir(), `k8s-kms-bench-${pkg}-`));
  const main = fileURLToPath(new URL(`../../../../${pkg}/dist/test/stand-in/main.js`, import.meta.url));
  const { proc, ready } = await startProcess({
    command: process.execPath,
    args: [main, '--dir', dir, ...args],
    installedBy: `scripts/setup.sh (it builds packages/${pkg} and its stand-in)`,
    ready: async (p) => {
      const line = p.output().split('\n')[0];
      return line?.startsWith('{') ? (JSON.parse(line) as T) : undefined;
    },
  });
  return { stop: async () => void (await proc.stop()), ready };
}

/** The Cloud KMS stand-in, with one key. */
async function startGcpStandIn(): Promise<() => Promise<void>> {
  const key = 'projects/bench-project/locations/europe-west1/keyRings/bench/cryptoKeys/bench';
  const { stop, ready } = await startStandIn<{ endpoint: string; tokenUrl: string; ca: string; credentials: string }>('gcp', [
    '--key',
    key,
  ]);
  backendArgs = ['gcp', ready.endpoint, key, ready.ca, ready.credentials];
  standInAdmin = ready.tokenUrl;
  return stop;
}

let standInCa = '';

/** The Key Vault stand-in, with one RSA key and a client secret. */
async function startAzureStandIn(): Promise<() => Promise<void>> {
  const { stop, ready } = await startStandIn<{
    vaultUrl: string;
    authorityHost: string;
    tenantId: string;
    clientId: string;
    clientSecretFile: string;
    ca: string;
  }>('azure', ['--key', 'bench']);
  const options = {
    vaultUrl: ready.vaultUrl,
    keyName: 'bench',
    tenantId: ready.tenantId,
    clientId: ready.clientId,
    clientSecretFile: ready.clientSecretFile,
    authorityHost: ready.authorityHost,
    tlsCaFile: ready.ca,
    disableChallengeResourceVerification: true,
  };
  backendArgs = ['azure', JSON.stringify(options)];
  standInAdmin = ready.vaultUrl;
  standInCa = await readFile(ready.ca, 'utf8');
  return stop;
}

/** Calls the stand-in answered, by method (the backend's own count). */
async function standInCalls(): Promise<Record<string, number>> {
  if (backend === 'azure') {
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${standInAdmin}/admin/calls`, { ca: standInCa }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    return JSON.parse(text) as Record<string, number>;
  }
  return ((await (await fetch(`${standInAdmin}/admin/calls`)).json()) as { calls: Record<string, number> }).calls;
}

/** The bench server (the plugin with an instrumented provider) in a process of its own. */
async function startServer(
  mode: string,
  refreshMs = 60_000,
): Promise<{ pid: number; health: string; stop: () => Promise<void>; socket: string }> {
  const socket = join(await mkdtemp(join(tmpdir(), 'k8s-kms-bench-sock-')), 'kms.sock');
  const { proc, ready: health } = await startProcess({
    command: process.execPath,
    args: [
      fileURLToPath(new URL('./bench-server.js', import.meta.url)),
      socket,
      mode,
      String(latencyMs),
      String(refreshMs),
      ...backendArgs,
    ],
    installedBy: 'scripts/setup.sh (it builds the bench)',
    ready: async (p) => /READY (\S+)/.exec(p.output())?.[1],
  });
  return { pid: proc.pid, health, socket: `unix://${socket}`, stop: async () => void (await proc.stop()) };
}

async function backendCalls(health: string): Promise<number> {
  const text = await (await fetch(`http://${health}/metrics`)).text();
  return [...text.matchAll(/^kms_plugin_backend_calls_total\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Run `op` from `concurrency` loops for `seconds`; returns latencies in ms. */
async function drive(concurrency: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await op(n++);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

async function measure(mode: string, concurrency: number): Promise<Cell[]> {
  const server = await startServer(mode);
  const client: PluginClient = createPluginClient(server.socket, { timeoutMs: 30_000 });
  try {
    await client.encrypt(randomBytes(32)); // warm up: first local KEK, connections
    const written: Awaited<ReturnType<PluginClient['encrypt']>>[] = [];
    const cells: Cell[] = [];
    for (const op of ['Encrypt', 'Decrypt'] as const) {
      const before = await backendCalls(server.health);
      const latencies =
        op === 'Encrypt'
          ? await drive(concurrency, async () => written.push(await client.encrypt(randomBytes(32))))
          : await drive(concurrency, (i) => client.decrypt(written[i % written.length] as Parameters<PluginClient['decrypt']>[0]));
      const calls = (await backendCalls(server.health)) - before;
      cells.push({
        mode,
        op,
        concurrency,
        rps: latencies.length / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        rssMiB: await rssMiB(server.pid),
        backendPer1000: (calls / latencies.length) * 1000,
      });
    }
    return cells;
  } finally {
    client.close();
    await server.stop();
  }
}

/**
 * Backend calls caused by Status polling, measured twice. First 1,000 Status calls with the
 * refresher idle (60 s interval, first refresh already done): every backend call in that window is
 * Status's. Then no Status at all for 10 s with a 1 s refresh interval: the refresher's own rate,
 * scaled to the default 60 s interval.
 */
async function statusCost(): Promise<{ per1000Status: number; refreshPerHour: number }> {
  const idle = await startServer('local', 60_000);
  const client = createPluginClient(idle.socket);
  let per1000Status: number;
  try {
    await client.status();
    const before = await backendCalls(idle.health);
    for (let i = 0; i < 1000; i++) await client.status();
    per1000Status = (await backendCalls(idle.health)) - before;
  } finally {
    client.close();
    await idle.stop();
  }
  const busy = await startServer('local', 1000);
  try {
    const before = await backendCalls(busy.health);
    await new Promise((r) => setTimeout(r, 10_000));
    const perSecondAt1s = ((await backendCalls(busy.health)) - before) / 10;
    return { per1000Status, refreshPerHour: (perSecondAt1s * 3600) / 60 };
  } finally {
    await busy.stop();
  }
}

const stopMoto =
  backend === 'aws'
    ? await startMoto()
    : backend === 'gcp'
      ? await startGcpStandIn()
      : backend === 'azure'
        ? await startAzureStandIn()
        : async () => undefined;
const rows: Cell[] = [];
let status: Awaited<ReturnType<typeof statusCost>>;
let standInTotals: Record<string, number> | undefined;
try {
  for (const mode of ['local', 'direct']) for (const c of concurrencies) rows.push(...(await measure(mode, c)));
  status = await statusCost();
  if (backend === 'gcp' || backend === 'azure') standInTotals = await standInCalls();
} finally {
  await stopMoto();
}

const backendName =
  backend === 'aws'
    ? 'AWS provider on moto 5.2.1 (no added latency)'
    : backend === 'gcp'
      ? `Cloud KMS provider on the Cloud KMS stand-in (+ ${latencyMs} ms added latency)`
      : backend === 'azure'
        ? `Key Vault provider on the Key Vault stand-in (+ ${latencyMs} ms added latency)`
        : `local provider + ${latencyMs} ms added latency`;
console.log(
  `k8s-kms socket benchmark: ${backendName}, ${seconds} s per cell, node ${process.version}, ${process.platform}/${process.arch}`,
);
console.log('| kek mode | op | concurrency | req/s | p50 ms | p99 ms | plugin RSS MiB | backend calls / 1,000 req |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const cells = [
    r.mode,
    r.op,
    r.concurrency,
    r.rps.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.rssMiB.toFixed(0),
    r.backendPer1000.toFixed(1),
  ];
  console.log(`| ${cells.join(' | ')} |`);
}
console.log(
  `Status: ${status.per1000Status} backend calls per 1,000 Status calls. Background key refresh: ${status.refreshPerHour.toFixed(0)} current-key calls ` +
    'per hour at the default 60 s interval, whatever the Status rate (kube-apiserver polls Status about once a minute).',
);
if (standInTotals)
  console.log(
    `Calls the ${backend === 'azure' ? 'Key Vault' : 'Cloud KMS'} stand-in answered over the whole run (its own count): ${JSON.stringify(standInTotals)}`,
  );
