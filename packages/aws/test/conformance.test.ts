import { afterAll, beforeAll } from '@jest/globals';
import { DisableKeyCommand, DescribeKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { TcpProxy } from '@k8s-kms/testkit';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { AwsKmsProvider } from '../src/index.js';
import { Moto, MOTO_SECRET } from './support/moto.js';

let moto: Moto;
let proxy: TcpProxy;
const alias = 'alias/k8s-kms-conformance';

beforeAll(async () => {
  moto = await Moto.start();
  proxy = await TcpProxy.to(Number(new URL(moto.endpoint).port));
  await moto.createAlias(alias, await moto.createKey());
});
afterAll(async () => {
  await proxy.down();
  await moto.stop();
});

/** The bare key id the alias points at now (moto's DisableKey wants it, not the ARN). */
async function currentKeyId(): Promise<string> {
  const out = await moto.client().send(new DescribeKeyCommand({ KeyId: alias }));
  return out.KeyMetadata?.KeyId ?? '';
}

describeConformance({
  name: 'aws-kms (moto)',
  features: { aad: 'native' },
  async createProvider() {
    // Through the proxy, so that an outage is the endpoint going away with moto's keys kept.
    const client = new KMSClient({
      endpoint: proxy.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDMOTOTEST', secretAccessKey: MOTO_SECRET },
      maxAttempts: 1,
    });
    return new AwsKmsProvider({ client, key: alias, encryptionContext: { cluster: 'conformance' } });
  },
  // Re-pointing the alias is how AWS users move to a new key (moto's RotateKeyOnDemand keeps the material).
  async rotate() {
    await moto.repoint(alias, await moto.createKey());
  },
  // moto lets a disabled key encrypt, but DescribeKey reports it Disabled, which the provider acts on.
  async disableKey() {
    await moto.client().send(new DisableKeyCommand({ KeyId: await currentKeyId() }));
  },
  async enableKey() {
    await moto.client().send(new EnableKeyCommand({ KeyId: await currentKeyId() }));
  },
  outage: () => proxy.down(),
  recover: () => proxy.up(),
  secrets: () => [MOTO_SECRET],
});
