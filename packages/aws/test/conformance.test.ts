import { afterAll, beforeAll } from '@jest/globals';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { AwsKmsProvider } from '../src/index.js';
import { Moto, MOTO_SECRET } from './support/moto.js';

let moto: Moto;
let alias = '';
let n = 0;

beforeAll(async () => {
  moto = await Moto.start();
});
afterAll(async () => moto.stop());

describeConformance({
  name: 'aws-kms (moto)',
  async createProvider() {
    alias = `alias/k8s-kms-conformance-${++n}`;
    await moto.createAlias(alias, await moto.createKey());
    return new AwsKmsProvider({ client: moto.client(), key: alias, encryptionContext: { cluster: 'conformance' } });
  },
  // Re-pointing the alias is how AWS users move to a new key (moto's RotateKeyOnDemand keeps the material).
  async rotate() {
    await moto.repoint(alias, await moto.createKey());
  },
  secrets: () => [MOTO_SECRET],
});
