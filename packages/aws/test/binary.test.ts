import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPluginClient } from '@k8s-kms/core';
import { Moto, MOTO_SECRET } from './support/moto.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kms-plugin-aws.js');
const env = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDMOTOTEST', AWS_SECRET_ACCESS_KEY: MOTO_SECRET, AWS_REGION: 'us-east-1' };

/**
 * Run kms-plugin-aws against moto behind a fresh alias, wait for its socket, hand a client to
 * `use`, then SIGTERM it. Returns everything it printed and its exit code.
 */
async function withPlugin(
  moto: Moto,
  dir: string,
  name: string,
  extraArgs: string[],
  extraEnv: NodeJS.ProcessEnv,
  use: (client: ReturnType<typeof createPluginClient>) => Promise<void>,
  existingAlias?: string,
): Promise<{ output: string; exitCode: number | null }> {
  const alias = existingAlias ?? `alias/k8s-kms-${name}`;
  if (!existingAlias) await moto.createAlias(alias, await moto.createKey());
  const sock = join(dir, `${name}.sock`);
  const args = [
    BIN,
    '--listen-addr',
    `unix://${sock}`,
    '--health-addr',
    'off',
    '--key',
    alias,
    '--endpoint',
    moto.endpoint,
    '--log-level',
    'debug',
  ];
  const child = spawn(process.execPath, [...args, ...extraArgs], { env: { ...env, ...extraEnv } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  try {
    for (let i = 0; i < 200 && !(await stat(sock).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 50));
    const client = createPluginClient(`unix://${sock}`);
    try {
      await use(client);
    } finally {
      client.close();
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  return { output, exitCode: child.exitCode };
}

describe('the kms-plugin-aws binary', () => {
  let moto: Moto;
  let dir: string;
  beforeAll(async () => {
    moto = await Moto.start();
    dir = await mkdtemp(join(tmpdir(), 'k8s-kms-aws-bin-'));
  });
  afterAll(async () => {
    await moto.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists its AWS flags in --help', () => {
    const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    for (const flag of ['--key', '--decrypt-key', '--encryption-context', '--region', '--endpoint', '--role-arn', '--external-id'])
      expect(r.stdout).toContain(flag);
  });

  it.each([
    [[], {}, '--key is required'],
    [
      ['--key', 'alias/x'],
      { AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_CONFIG_FILE: '/nonexistent' },
      '--region: no AWS region configured',
    ],
    [['--key', 'alias/x', '--endpoint', 'ftp://x'], {}, '--endpoint:'],
  ])('refuses %j at start with exit 2, naming the flag', (args, extraEnv, message) => {
    const r = spawnSync(process.execPath, [BIN, '--listen-addr', `unix://${dir}/x.sock`, ...args], {
      encoding: 'utf8',
      env: { ...env, ...extraEnv },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('assumes --role-arn through STS (moto) and uses the temporary credentials for KMS', async () => {
    const role = [
      '--role-arn',
      'arn:aws:iam::123456789012:role/k8s-kms',
      '--external-id',
      'ext-1',
      '--role-session-name',
      'sts-proof-4711',
    ];
    const { output, exitCode } = await withPlugin(
      moto,
      dir,
      'assume-role',
      role,
      { AWS_ENDPOINT_URL_STS: moto.endpoint },
      async (client) => {
        expect((await client.status()).healthz).toBe('ok');
        const enc = await client.encrypt(Buffer.alloc(32, 9));
        expect(await client.decrypt(enc)).toEqual(Buffer.alloc(32, 9));
      },
    );
    // moto's record of the AssumeRole call the plugin made.
    const data = (await (await fetch(`${moto.endpoint}/moto-api/data.json`)).json()) as {
      sts: { AssumedRole: { session_name: string; external_id: string }[] };
    };
    expect(data.sts.AssumedRole).toContainEqual(expect.objectContaining({ session_name: 'sts-proof-4711', external_id: 'ext-1' }));
    expect(exitCode).toBe(0);
    expect(output).not.toContain(MOTO_SECRET);
  });

  it('binds the same encryption context whether it is given as a flag, repeated flags or the environment', async () => {
    let written: Awaited<ReturnType<ReturnType<typeof createPluginClient>['encrypt']>> | undefined;
    await withPlugin(moto, dir, 'context', ['--encryption-context', 'cluster=prod,team=kms'], {}, async (client) => {
      written = await client.encrypt(Buffer.alloc(32, 4));
    });
    const alias = 'alias/k8s-kms-context';
    const readWith = async (name: string, args: string[], env: NodeJS.ProcessEnv) => {
      let got: Buffer | number | undefined;
      // A fresh process has no KEK in memory: its Decrypt asks KMS, with its own context.
      await withPlugin(
        moto,
        dir,
        name,
        args,
        env,
        async (client) => {
          got = await client.decrypt(written!).catch((err: { code: number }) => err.code);
        },
        alias,
      );
      return got;
    };
    expect(await readWith('context-env', [], { KMS_PLUGIN_ENCRYPTION_CONTEXT: 'cluster=prod,team=kms' })).toEqual(Buffer.alloc(32, 4));
    expect(await readWith('context-flags', ['--encryption-context', 'cluster=prod', '--encryption-context', 'team=kms'], {})).toEqual(
      Buffer.alloc(32, 4),
    );
    // moto checks the context: another one does not decrypt.
    expect(await readWith('context-other', ['--encryption-context', 'cluster=prod'], {})).toBe(3); // INVALID_ARGUMENT
  });

  it("writes nothing but JSON lines, not even the SDK's Node.js support notice", async () => {
    const { output } = await withPlugin(moto, dir, 'json-only', [], {}, async (client) => {
      expect((await client.status()).healthz).toBe('ok');
    });
    for (const line of output.trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it('serves both APIs against moto through an alias, with credentials from the environment, and never logs them', async () => {
    const { output, exitCode } = await withPlugin(moto, dir, 'binary', ['--encryption-context', 'cluster=bin'], {}, async (client) => {
      expect(await client.status()).toMatchObject({ healthz: 'ok', keyId: expect.stringMatching(/^aws-kms:/) as unknown as string });
      const enc = await client.encrypt(Buffer.alloc(32, 5));
      expect(await client.decrypt(enc)).toEqual(Buffer.alloc(32, 5));
      expect(await client.v1Decrypt(await client.v1Encrypt(Buffer.alloc(32, 6)))).toEqual(Buffer.alloc(32, 6));
    });
    expect(exitCode).toBe(0);
    expect(output).not.toContain(MOTO_SECRET);
    expect(output).not.toContain(Buffer.alloc(32, 5).toString('base64'));
  });
});
