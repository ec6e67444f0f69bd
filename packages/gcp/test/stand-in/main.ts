import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudKmsStandIn } from './index.js';

/**
 * The Cloud KMS stand-in as a process, for tests in other languages (the Go e2e):
 *
 *   node dist/test/stand-in/main.js --dir D [--key projects/p/locations/l/keyRings/r/cryptoKeys/k ...]
 *
 * creates the keys, writes D/ca.pem (the gRPC endpoint's certificate) and D/service-account.json
 * (a key of plugin@stand-in-project.iam.gserviceaccount.com), then prints one JSON line
 * {"endpoint","tokenUrl","ca","credentials"} and serves until SIGTERM or SIGINT.
 */
const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    key: { type: 'string', multiple: true, default: [] },
    'grpc-port': { type: 'string', default: '0' },
    'http-port': { type: 'string', default: '0' },
  },
});
if (!values.dir) {
  process.stderr.write('cloud-kms-stand-in: --dir is required\n');
  process.exit(2);
}
const standIn = await new CloudKmsStandIn().start({ grpcPort: Number(values['grpc-port']), httpPort: Number(values['http-port']) });
for (const key of values.key) standIn.createKey(key);
const ca = join(values.dir, 'ca.pem');
const credentials = join(values.dir, 'service-account.json');
writeFileSync(ca, standIn.caPem);
writeFileSync(credentials, JSON.stringify(standIn.tokens.serviceAccountKey('plugin@stand-in-project.iam.gserviceaccount.com')), {
  mode: 0o600,
});
process.stdout.write(`${JSON.stringify({ endpoint: standIn.endpoint, tokenUrl: standIn.tokenUrl, ca, credentials })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void standIn.stop().then(() => process.exit(0));
  });
}
