import { afterAll, beforeAll } from '@jest/globals';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import type { KeyType } from './stand-in/index.js';
import { StandInFixture } from './support/stand-in.js';

/** One run per kind of key: an RSA key in a vault (RSA-OAEP-256) and an oct-HSM key in a Managed HSM (A256KW). */
for (const [flavor, kty] of [
  ['vault', 'RSA'],
  ['managedhsm', 'oct-HSM'],
] as const satisfies readonly (readonly ['vault' | 'managedhsm', KeyType])[]) {
  let fx: StandInFixture;
  let key: string;
  let others = 0;
  beforeAll(async () => {
    fx = await StandInFixture.start(flavor);
    key = fx.key('conformance', kty);
  });
  afterAll(async () => fx.stop());

  const current = () => fx.standIn.keys.current(key);

  describeConformance({
    name: `azure-keyvault (${flavor} stand-in, ${kty} key)`,
    features: { aad: 'digest' },
    createProvider: async () => fx.provider(key),
    rotate: async () => void fx.standIn.rotate(key),
    disableKey: async () => fx.standIn.keys.update(current(), { enabled: false }),
    enableKey: async () => fx.standIn.keys.update(current(), { enabled: true }),
    outage: () => fx.proxy.down(),
    recover: () => fx.proxy.up(),
    async foreignKey() {
      const other = fx.key(`conformance-other-${++others}`, kty);
      return { writer: await fx.provider(other), reader: await fx.provider(key, { 'decrypt-key-name': [other] }) };
    },
    recreateKey: async () => {
      fx.standIn.keys.purge(key);
      fx.standIn.createKey(key, kty);
    },
    secrets: () => fx.secrets(),
  });
}
