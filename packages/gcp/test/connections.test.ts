import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONNECTION_RECORDER, exerciseUnderRecorder, recordedConnections } from '@k8s-kms/testkit';
import { StandInFixture } from './support/stand-in.js';

const BIN = fileURLToPath(new URL('../bin/kms-plugin-gcp.js', import.meta.url));
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

let fx: StandInFixture;
let key: string;
let home: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('connections');
  home = await mkdtemp(join(tmpdir(), 'k8s-kms-gcp-home-'));
});
afterAll(async () => {
  await fx.stop();
  await rm(home, { recursive: true, force: true });
});

/** An environment with no Google setting at all, and a HOME without gcloud's credential file. */
function bareEnv(file: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { HOME: home, K8S_KMS_CONNECTIONS_FILE: file };
  for (const name of Object.keys(process.env)) if (/^(GOOGLE_|GCE_|METADATA_|CLOUDSDK_)/.test(name)) env[name] = undefined;
  return env;
}

describe('kms-plugin-gcp connects to nothing but its configured endpoints', () => {
  it('the recorder catches what the default client reaches for (a metadata-server probe), so the checks below can fail', async () => {
    const file = join(home, `control-${randomUUID()}.jsonl`);
    const script = "import { GoogleAuth } from 'google-auth-library'; await new GoogleAuth().getClient().catch(() => undefined);";
    const r = spawnSync(process.execPath, ['--import', CONNECTION_RECORDER, '--input-type=module', '-e', script], {
      cwd: PACKAGE,
      env: Object.fromEntries(Object.entries({ ...process.env, ...bareEnv(file) }).filter(([, v]) => v !== undefined)),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    const { connects, lookups } = await recordedConnections(file);
    expect(connects.some((c) => c.startsWith('169.254.169.254:')) || lookups.includes('metadata.google.internal.')).toBe(true);
  });

  it('with a service account key: only the KMS endpoint, no DNS lookup', async () => {
    const file = join(home, `sa-${randomUUID()}.jsonl`);
    const { connects, lookups } = await exerciseUnderRecorder(BIN, { args: fx.args(key), env: bareEnv(file), file });
    expect(connects).toEqual([`127.0.0.1:${fx.proxy.port}`]);
    expect(lookups).toEqual([]);
  });

  it('with workload identity federation: the KMS endpoint and the STS URL of the credential file, no DNS lookup', async () => {
    const file = join(home, `wif-${randomUUID()}.jsonl`);
    const { file: subject } = await fx.subjectTokenFile('system:serviceaccount:kube-system:kms-plugin');
    const credentials = await fx.credentialFile(fx.externalAccount(subject));
    const args = fx.args(key);
    args[args.indexOf('--credentials-file') + 1] = credentials;
    const { connects, lookups } = await exerciseUnderRecorder(BIN, { args, env: bareEnv(file), file });
    expect(connects).toEqual([`127.0.0.1:${fx.proxy.port}`, new URL(fx.standIn.tokenUrl).host].sort());
    expect(lookups).toEqual([]);
  });
});
