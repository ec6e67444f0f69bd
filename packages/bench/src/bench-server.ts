import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { AwsKmsProvider } from '@k8s-kms/aws';
import { createLogger, createPluginServer, type KekMode, type KeyProvider } from '@k8s-kms/core';
import { createAzureKeyVaultProvider, type AzureKeyVaultOptions } from '@k8s-kms/azure';
import { createGcpKmsProvider } from '@k8s-kms/gcp';
import { createKeyringIfMissing, LocalKeyProvider } from '@k8s-kms/local';
import { InstrumentedProvider } from '@k8s-kms/testkit';

/**
 * The plugin under benchmark, in a process of its own (so its RSS is its own): the real local
 * provider, the AWS provider against an AWS KMS endpoint (moto), or the Cloud KMS provider
 * against the Cloud KMS stand-in, the Key Vault provider against the Key Vault stand-in, behind an optional added latency standing in for a remote KMS
 * round trip.
 * argv: <socket path> <kek-mode> <latency ms> <refresh ms> [aws <endpoint> <key> | gcp <endpoint> <key> <ca file> <credentials file>
 *   | azure <options JSON>].
 * Prints "READY <health address>".
 */
const [socket, mode, latency, refreshMs, backend, endpoint, key, caFile, credentialsFile] = process.argv.slice(2);
async function realProvider(): Promise<KeyProvider> {
  if (backend === 'aws' && endpoint && key) {
    const client = new KMSClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      maxAttempts: 1,
    });
    return new AwsKmsProvider({ client, key });
  }
  if (backend === 'gcp' && endpoint && key) {
    return createGcpKmsProvider({ key, endpoint, tlsCaFile: caFile, credentialsFile });
  }
  if (backend === 'azure' && endpoint) {
    return createAzureKeyVaultProvider(JSON.parse(endpoint) as AzureKeyVaultOptions);
  }
  const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-bench-'));
  const keyFile = join(dir, 'keyring.json');
  await createKeyringIfMissing(keyFile);
  return LocalKeyProvider.open(keyFile);
}
const provider = new InstrumentedProvider(await realProvider());
provider.latencyMs = Number(latency);
const server = createPluginServer({
  provider,
  listenAddr: `unix://${socket}`,
  healthAddr: '127.0.0.1:0',
  kekMode: mode as KekMode,
  refresh: { intervalMs: Number(refreshMs) },
  logger: createLogger({ level: 'error', name: 'bench' }),
  // Measure the plugin, not the limiter: no rate limit, room for every concurrent call.
  remote: { rateLimit: { perSecond: 0 }, maxConcurrency: 256, timeoutMs: 10_000 },
});
await server.start();
process.stdout.write(`READY ${server.healthAddress}\n`);
process.on('SIGTERM', () => void server.stop(1000).then(() => process.exit(0)));
