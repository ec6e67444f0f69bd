import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { createKeyringIfMissing, LocalKeyProvider, rotateKeyring } from '../src/index.js';

let keyFile = '';

describeConformance({
  name: 'local',
  async createProvider() {
    keyFile = join(await mkdtemp(join(tmpdir(), 'k8s-kms-local-')), 'keyring.json');
    await createKeyringIfMissing(keyFile);
    return LocalKeyProvider.open(keyFile);
  },
  async rotate() {
    await rotateKeyring(keyFile);
  },
});
