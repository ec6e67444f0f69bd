#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { createPluginClient } from '@k8s-kms/core';

/**
 * kms-roundtrip unix:///path.sock — one Status/Encrypt/Decrypt through KMS v2 and one
 * Version/Encrypt/Decrypt through v1beta1, printing what a person needs to see it work.
 */
const address = process.argv[2];
if (!address) {
  process.stderr.write('usage: kms-roundtrip unix:///path/to/socket.sock\n');
  process.exit(2);
}
const client = createPluginClient(address);
try {
  const status = await client.status();
  process.stdout.write(`v2 Status:   version=${status.version} healthz=${status.healthz} key_id=${status.keyId}\n`);
  const seed = randomBytes(32);
  const enc = await client.encrypt(seed, 'demo');
  const annotations = Object.entries(enc.annotations)
    .map(([k, v]) => `${k} (${v.length} bytes)`)
    .join(', ');
  process.stdout.write(
    `v2 Encrypt:  32-byte seed -> ${enc.ciphertext.length}-byte ciphertext, key_id=${enc.keyId}, annotations: ${annotations || 'none'}\n`,
  );
  const back = await client.decrypt({ ...enc, uid: 'demo' });
  process.stdout.write(`v2 Decrypt:  ${back.equals(seed) ? 'plaintext matches' : 'MISMATCH'}\n`);
  const version = await client.v1Version();
  const dek = randomBytes(32);
  const cipher = await client.v1Encrypt(dek);
  const plain = await client.v1Decrypt(cipher);
  process.stdout.write(
    `v1beta1:     ${version.runtimeName} ${version.runtimeVersion}; ${cipher.length}-byte ciphertext; ${plain.equals(dek) ? 'plaintext matches' : 'MISMATCH'}\n`,
  );
  if (!back.equals(seed) || !plain.equals(dek)) process.exitCode = 1;
} catch (err) {
  process.stderr.write(`kms-roundtrip: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  client.close();
}
