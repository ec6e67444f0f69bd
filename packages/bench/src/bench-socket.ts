import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKmsClient, type KmsClient } from '@k8s-kms/core';

/**
 * Drives Encrypt and Decrypt over the plugin's socket at several concurrencies, for the local-KEK
 * and direct modes, against a backend with a set latency. Prints throughput, p50/p99 latency, the
 * plugin's RSS and backend calls per 1,000 requests. Numbers, never assertions.
 *
 * Usage: node dist/src/bench-socket.js [--latency-ms 40] [--seconds 2] [--concurrency 1,16,64]
 */
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const latencyMs = Number(arg('latency-ms', '40'));
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

async function startServer(mode: string): Promise<{ pid: number; health: string; stop: () => Promise<void>; socket: string }> {
  const socket = join(await mkdtemp(join(tmpdir(), 'k8s-kms-bench-sock-')), 'kms.sock');
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bench-server.js', import.meta.url)), socket, mode, String(latencyMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const health = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const m = /READY (\S+)/.exec(d.toString());
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return {
    pid: child.pid ?? 0,
    health,
    socket: `unix://${socket}`,
    stop: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
  };
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
  const client: KmsClient = createKmsClient(server.socket, { timeoutMs: 30_000 });
  try {
    await client.encrypt(randomBytes(32)); // warm up: first local KEK, connections
    const written: Awaited<ReturnType<KmsClient['encrypt']>>[] = [];
    const cells: Cell[] = [];
    for (const op of ['Encrypt', 'Decrypt'] as const) {
      const before = await backendCalls(server.health);
      const latencies =
        op === 'Encrypt'
          ? await drive(concurrency, async () => written.push(await client.encrypt(randomBytes(32))))
          : await drive(concurrency, (i) => client.decrypt(written[i % written.length] as Parameters<KmsClient['decrypt']>[0]));
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

const rows: Cell[] = [];
for (const mode of ['local', 'direct']) for (const c of concurrencies) rows.push(...(await measure(mode, c)));

console.log(
  `k8s-kms socket benchmark: backend latency ${latencyMs} ms, ${seconds} s per cell, node ${process.version}, ${process.platform}/${process.arch}`,
);
console.log('| kek mode | op | concurrency | req/s | p50 ms | p99 ms | plugin RSS MiB | backend calls / 1,000 req |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.mode} | ${r.op} | ${r.concurrency} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rssMiB.toFixed(0)} | ${r.backendPer1000.toFixed(1)} |`,
  );
}
