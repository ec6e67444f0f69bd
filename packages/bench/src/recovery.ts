import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createPluginClient } from '@k8s-kms/core';
import { pluginBinary, startPluginProcess } from './plugin-process.js';

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

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

async function startMoto(): Promise<{ endpoint: string; port: number; stop(): void }> {
  const port = await freePort();
  const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  proc.on('error', () => undefined);
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${endpoint}/moto-api/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 300) throw new Error('moto_server did not start (run scripts/setup-test-tools.sh and put .cache/moto-venv/bin on PATH)');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, port, stop: () => proc.kill('SIGTERM') };
}

/** A TCP proxy to `targetPort` that can refuse connections (down) and accept them again (up). */
class SwitchableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server?.listen(this.port, '127.0.0.1', r));
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

const moto = await startMoto();
const admin = new KMSClient({
  endpoint: moto.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'recovery', secretAccessKey: 'recovery' },
});
const rows: string[] = [];
try {
  for (const mode of ['local', 'direct']) {
    const key = await admin.send(new CreateKeyCommand({}));
    const alias = `alias/recovery-${mode}`;
    await admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyMetadata?.Arn }));
    const proxy = new SwitchableProxy(await freePort(), moto.port);
    await proxy.up();
    const plugin = await startPluginProcess(
      pluginBinary('aws'),
      ['--key', alias, '--endpoint', `http://127.0.0.1:${proxy.port}`, '--region', 'us-east-1', '--kek-mode', mode],
      { AWS_ACCESS_KEY_ID: 'recovery', AWS_SECRET_ACCESS_KEY: 'recovery' },
    );
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
  moto.stop();
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
