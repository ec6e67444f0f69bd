import { randomBytes } from 'node:crypto';
import { createPluginClient } from '@k8s-kms/core';
import { startPluginBinary, TcpProxy } from '@k8s-kms/testkit';
import { Moto } from '../../aws/test/support/moto.js';
import { pluginBinary } from './plugin-binaries.js';

/**
 * How fast health and calls follow a backend outage, on kms-plugin-aws against moto with default
 * flags, through a loopback TCP proxy that is switched off for the outage (connections refused,
 * as a KMS endpoint that is down). For each KEK mode it prints: when /healthz went 503 and when
 * the breaker opened after the outage began, when Status reported it (direct mode: every Encrypt
 * needs the backend), and how long after the backend's return /healthz was 200 again and an
 * Encrypt succeeded. Sampled every 100 ms. Numbers, never assertions.
 *
 * Usage: node dist/src/recovery.js [--outage-seconds 90]
 */
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const outageSeconds = Number(arg('outage-seconds', '90'));

const moto = await Moto.start();
const motoPort = Number(new URL(moto.endpoint).port);
const rows: string[] = [];
try {
  for (const mode of ['local', 'direct']) {
    const alias = `alias/recovery-${mode}`;
    await moto.createAlias(alias, await moto.createKey());
    const proxy = await TcpProxy.to(motoPort);
    const plugin = await startPluginBinary(pluginBinary('aws'), {
      args: ['--key', alias, '--endpoint', `http://127.0.0.1:${proxy.port}`, '--region', 'us-east-1', '--kek-mode', mode],
      env: { AWS_ACCESS_KEY_ID: 'recovery', AWS_SECRET_ACCESS_KEY: 'recovery' },
      logLevel: 'info',
    });
    const client = createPluginClient(`unix://${plugin.socketPath}`, { timeoutMs: 3000 });
    await client.decrypt(await client.encrypt(randomBytes(32)));
    const healthz = async () => (await fetch(`http://${plugin.health}/healthz`)).status;
    const breakerOpen = async () =>
      /^kms_plugin_backend_circuit_open 1$/m.test(await (await fetch(`http://${plugin.health}/metrics`)).text());
    const marks: Record<string, number | undefined> = {};
    const mark = (name: string, cond: boolean, since: number) => {
      if (cond && marks[name] === undefined) marks[name] = (performance.now() - since) / 1000;
    };
    // kube-apiserver's load during the outage: an Encrypt every 200 ms (its Status poll is what
    // reads healthz; here Status is read every sample).
    const load = setInterval(() => void client.encrypt(randomBytes(32)).catch(() => undefined), 200);
    const down = performance.now();
    await proxy.down();
    while (performance.now() - down < outageSeconds * 1000) {
      mark('healthz 503', (await healthz()) === 503, down);
      mark('breaker open', await breakerOpen(), down);
      mark('Status reports it', (await client.status()).healthz !== 'ok', down);
      await new Promise((r) => setTimeout(r, 100));
    }
    const up = performance.now();
    await proxy.up();
    for (;;) {
      mark('healthz 200 again', (await healthz()) === 200, up);
      const ok = await client.encrypt(randomBytes(32)).then(
        () => true,
        () => false,
      );
      mark('Encrypt ok again', ok, up);
      if ((marks['healthz 200 again'] !== undefined && marks['Encrypt ok again'] !== undefined) || performance.now() - up > 120_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(load);
    client.close();
    await plugin.stop();
    await proxy.down();
    const s = (name: string) => (marks[name] === undefined ? 'never' : `${(marks[name] ?? 0).toFixed(1)} s`);
    const statusAfterBreaker =
      marks['Status reports it'] === undefined || marks['breaker open'] === undefined
        ? 'never'
        : `${Math.max(0, (marks['Status reports it'] ?? 0) - (marks['breaker open'] ?? 0)).toFixed(1)} s`;
    rows.push(
      `| ${mode} | ${s('healthz 503')} | ${s('breaker open')} | ${s('Status reports it')} (${statusAfterBreaker} after the breaker) | ${s('healthz 200 again')} | ${s('Encrypt ok again')} |`,
    );
  }
} finally {
  await moto.stop();
}
console.log(
  `k8s-kms recovery: kms-plugin-aws on moto, default flags, a ${outageSeconds} s outage (connections refused), node ${process.version}`,
);
console.log(
  '| kek mode | /healthz 503 after | breaker open after | Status not ok after | /healthz 200 after return | Encrypt ok after return |',
);
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('(local mode: Status stays ok by design while the in-memory local KEK can still seal; "never" there is the calm behaviour.)');
