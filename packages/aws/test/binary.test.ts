import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBinary, startPluginBinary } from '@k8s-kms/testkit';
import { describeBinary } from '@k8s-kms/testkit/binary';
import { AWS_OPTIONS } from '../src/config.js';
import { Moto, MOTO_SECRET } from './support/moto.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kms-plugin-aws.js');
const ENV = { AWS_ACCESS_KEY_ID: 'AKIDMOTOTEST', AWS_SECRET_ACCESS_KEY: MOTO_SECRET, AWS_REGION: 'us-east-1' };

let moto: Moto;
let n = 0;
beforeAll(async () => {
  moto = await Moto.start();
});
afterAll(async () => moto.stop());

/** A fresh alias on moto, for one plugin process. */
async function aliasArgs(): Promise<string[]> {
  const alias = `alias/k8s-kms-bin-${++n}`;
  await moto.createAlias(alias, await moto.createKey());
  return ['--key', alias, '--endpoint', moto.endpoint];
}

describeBinary({
  name: 'kms-plugin-aws',
  bin: BIN,
  options: AWS_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  start: async () => ({ args: await aliasArgs(), env: ENV }),
  secrets: () => [MOTO_SECRET],
  badValues: [['external-id', 'x']],
});

describe('kms-plugin-aws against moto', () => {
  it('refuses to start without a region anywhere, naming --region', () => {
    const r = runBinary(BIN, ['--listen-addr', 'unix:///tmp/never.sock', '--health-addr', 'off', '--key', 'alias/x'], {
      ...ENV,
      AWS_REGION: '',
      AWS_DEFAULT_REGION: '',
      AWS_CONFIG_FILE: '/nonexistent',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--region: no AWS region configured');
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
    const p = await startPluginBinary(BIN, {
      args: [...(await aliasArgs()), ...role],
      env: { ...ENV, AWS_ENDPOINT_URL_STS: moto.endpoint },
    });
    expect((await p.client.status()).healthz).toBe('ok');
    const enc = await p.client.encrypt(Buffer.alloc(32, 9));
    expect(await p.client.decrypt(enc)).toEqual(Buffer.alloc(32, 9));
    expect(await p.stop()).toBe(0);
    // moto's record of the AssumeRole call the plugin made.
    const data = (await (await fetch(`${moto.endpoint}/moto-api/data.json`)).json()) as {
      sts: { AssumedRole: { session_name: string; external_id: string }[] };
    };
    expect(data.sts.AssumedRole).toContainEqual(expect.objectContaining({ session_name: 'sts-proof-4711', external_id: 'ext-1' }));
    expect(p.output()).not.toContain(MOTO_SECRET);
  });

  it('binds the same encryption context whether it is given as a flag, repeated flags or the environment', async () => {
    const key = await aliasArgs();
    const writer = await startPluginBinary(BIN, { args: [...key, '--encryption-context', 'cluster=prod,team=kms'], env: ENV });
    const written = await writer.client.encrypt(Buffer.alloc(32, 4));
    await writer.stop();
    // A fresh process has no KEK in memory: its Decrypt asks KMS, with its own context.
    const readWith = async (args: string[], env: Record<string, string>) => {
      const reader = await startPluginBinary(BIN, { args: [...key, ...args], env: { ...ENV, ...env } });
      try {
        return await reader.client.decrypt(written).catch((err: { code: number }) => err.code);
      } finally {
        await reader.stop();
      }
    };
    expect(await readWith([], { KMS_PLUGIN_ENCRYPTION_CONTEXT: 'cluster=prod,team=kms' })).toEqual(Buffer.alloc(32, 4));
    expect(await readWith(['--encryption-context', 'cluster=prod', '--encryption-context', 'team=kms'], {})).toEqual(Buffer.alloc(32, 4));
    // moto checks the context: another one does not decrypt.
    expect(await readWith(['--encryption-context', 'cluster=prod'], {})).toBe(3); // INVALID_ARGUMENT
  });
});
