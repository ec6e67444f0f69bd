import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from '@jest/globals';
import { describeBinary } from '@k8s-kms/testkit/binary';
import { EXAMPLE_OPTIONS } from '../src/config.js';
import { ExampleStandIn } from './support/stand-in.js';

// TEMPLATE: the shared binary suite; then the binary's own tests (auth methods, ...).
let standIn: ExampleStandIn;
beforeAll(async () => {
  standIn = await new ExampleStandIn().start();
  standIn.createKey('binary');
});
afterAll(async () => standIn.stop());

describeBinary({
  name: 'kms-plugin-example',
  bin: fileURLToPath(new URL('../bin/kms-plugin-example.js', import.meta.url)),
  options: EXAMPLE_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  start: async () => ({ args: ['--address', standIn.address, '--key-name', 'binary'] }),
});
