import { fileURLToPath } from 'node:url';
import { describeBinary } from '../src/binary.js';
import { FAKE_OPTIONS } from '../src/fake-plugin-options.js';
import { FAKE_PLUGIN_BIN } from '../src/index.js';

// The binary suite on the one binary that needs no emulator: the suite's own test, so that a
// change to it is seen failing or passing here before it reaches every backend.
describeBinary({
  name: 'kms-plugin-fake',
  bin: FAKE_PLUGIN_BIN,
  options: FAKE_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  start: async () => ({ args: ['--fake-key-id', 'suite-key', '--fake-secret', 'fake-secret-never-printed'] }),
  secrets: () => ['fake-secret-never-printed'],
});
