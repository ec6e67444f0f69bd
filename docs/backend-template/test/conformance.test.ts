import { afterAll, beforeAll } from '@jest/globals';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { parseExampleConfig } from '../src/config.js';
import { ExampleKmsProvider } from '../src/index.js';
import { ExampleStandIn } from './support/stand-in.js';

// TEMPLATE: the same suite every backend runs, against the real service's emulator or a stand-in.
let standIn: ExampleStandIn;
beforeAll(async () => {
  standIn = await new ExampleStandIn().start();
  standIn.createKey('conformance');
});
afterAll(async () => standIn.stop());

describeConformance({
  name: 'example-kms (stand-in)',
  features: { aad: 'native' },
  createProvider: async () => new ExampleKmsProvider(parseExampleConfig({ address: standIn.address, 'key-name': 'conformance' })),
  rotate: async () => standIn.rotate('conformance'),
  disableKey: async () => standIn.setEnabled('conformance', false),
  enableKey: async () => standIn.setEnabled('conformance', true),
});
