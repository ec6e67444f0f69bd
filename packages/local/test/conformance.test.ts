import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConformance } from '@k8s-kms/testkit/conformance';
import { createKeyringIfMissing, LocalKeyProvider, rotateKeyring } from '../src/index.js';

let keyFile = '';
let disabled: string | undefined;

describeConformance({
  name: 'local',
  features: { aad: 'native' },
  async createProvider() {
    if (!keyFile) {
      keyFile = join(await mkdtemp(join(tmpdir(), 'k8s-kms-local-')), 'keyring.json');
      await createKeyringIfMissing(keyFile);
    }
    return LocalKeyProvider.open(keyFile);
  },
  async rotate() {
    await rotateKeyring(keyFile);
  },
  // A key file that no longer reads (as root, a chmod would not stop the plugin reading it).
  async disableKey() {
    disabled = await readFile(keyFile, 'utf8');
    await writeFile(keyFile, '{"not": "a keyring"}', { mode: 0o600 });
  },
  async enableKey() {
    if (disabled !== undefined) await writeFile(keyFile, disabled, { mode: 0o600 });
  },
  async recreateKey() {
    await rm(keyFile);
    await createKeyringIfMissing(keyFile);
  },
});
