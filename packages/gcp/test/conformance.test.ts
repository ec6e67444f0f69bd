import { afterAll, beforeAll } from '@jest/globals';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { StandInFixture } from './support/stand-in.js';

let fx: StandInFixture;
let key: string;
let others = 0;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('conformance');
});
afterAll(async () => fx.stop());

const primary = (): string => fx.standIn.keys.key(key).primary!.name;

// Cloud KMS never deletes a crypto key or reuses its name, so there is no recreateKey scenario.
describeConformance({
  name: 'gcp-kms (Cloud KMS stand-in)',
  features: { aad: 'native' },
  createProvider: async () => fx.provider(key),
  rotate: async () => void fx.standIn.rotate(key),
  disableKey: async () => void fx.standIn.keys.setState(primary(), 'DISABLED'),
  enableKey: async () => void fx.standIn.keys.setState(primary(), 'ENABLED'),
  outage: () => fx.proxy.down(),
  recover: () => fx.proxy.up(),
  async foreignKey() {
    const other = fx.key(`conformance-other-${++others}`);
    return { writer: await fx.provider(other), reader: await fx.provider(key, { 'decrypt-key': [other] }) };
  },
  secrets: () => [fx.privateKey],
});
