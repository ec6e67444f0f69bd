import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KeyVaultStandIn, type KeyType } from './index.js';

/**
 * The Key Vault stand-in as a process, for tests in other languages (the Go e2e) and the benchmark:
 *
 *   node dist/test/stand-in/main.js --dir D [--flavor vault|managedhsm] [--key NAME[:KTY] ...]
 *
 * creates the keys, registers one app with a client secret, writes D/ca.pem (its certificate,
 * for NODE_EXTRA_CA_CERTS) and D/client-secret, then prints one JSON line
 * {"vaultUrl","authorityHost","tenantId","clientId","clientSecretFile","ca"} and serves until
 * SIGTERM or SIGINT. POST /admin/rotate {"name"} rotates a key; GET /admin/calls counts calls.
 */
const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    flavor: { type: 'string', default: 'vault' },
    key: { type: 'string', multiple: true, default: [] },
    port: { type: 'string', default: '0' },
  },
});
if (!values.dir || (values.flavor !== 'vault' && values.flavor !== 'managedhsm')) {
  process.stderr.write('key-vault-stand-in: --dir is required; --flavor is vault or managedhsm\n');
  process.exit(2);
}
const standIn = await new KeyVaultStandIn(values.flavor).start({ port: Number(values.port) });
for (const spec of values.key) {
  const [name, kty] = spec.split(':');
  standIn.createKey(name!, kty as KeyType | undefined);
}
const { clientId, secret } = standIn.tokens.clientWithSecret();
const ca = join(values.dir, 'ca.pem');
const clientSecretFile = join(values.dir, 'client-secret');
writeFileSync(ca, standIn.caPem);
writeFileSync(clientSecretFile, secret, { mode: 0o600 });
process.stdout.write(
  `${JSON.stringify({ vaultUrl: standIn.vaultUrl, authorityHost: standIn.authorityHost, tenantId: standIn.tokens.tenantId, clientId, clientSecretFile, ca })}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void standIn.stop().then(() => process.exit(0));
  });
}
