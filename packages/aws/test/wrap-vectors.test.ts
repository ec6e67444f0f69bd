import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import { AwsKmsProvider, RESERVED_CONTEXT_KEY } from '../src/index.js';
import { FakeKmsServer } from './support/fake-kms-server.js';

interface Vector {
  arn: string;
  plaintext: string;
  aad: string;
  wrapped: string;
}
const file = JSON.parse(readFileSync(new URL('./vectors/wrap-0x01.json', import.meta.url), 'utf8')) as {
  encryptionContext: Record<string, string>;
  vectors: Vector[];
};
const hex = (h: string) => Buffer.from(h, 'hex');
const signal = new AbortController().signal;

/**
 * The key material behind these bytes lived in a moto that is gone, so the vectors are read
 * through the real provider and SDK against FakeKmsServer: what matters forever is that the
 * provider finds the key ARN and the KMS blob in them and asks KMS exactly as 0.1.0 did.
 */
describe('frozen AWS wrap vectors (format 0x01)', () => {
  let fake: FakeKmsServer;
  beforeAll(async () => {
    fake = await new FakeKmsServer().start();
  });
  afterAll(async () => fake.stop());

  it.each(file.vectors.map((v) => [v.arn, v] as const))('reads the key ARN and blob of bytes written by 0.1.0 under %s', async (arn, v) => {
    const client = new KMSClient({ endpoint: fake.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const provider = new AwsKmsProvider({ client, key: arn, encryptionContext: file.encryptionContext });
    fake.answer = { plaintext: hex(v.plaintext) };
    const wrapped = hex(v.wrapped);
    expect(await provider.unwrap(wrapped, { aad: hex(v.aad), signal })).toEqual(hex(v.plaintext));
    const decrypt = fake.received.at(-1);
    const blob = wrapped.subarray(3 + Buffer.byteLength(arn));
    expect(decrypt).toEqual({
      operation: 'Decrypt',
      body: {
        KeyId: arn,
        CiphertextBlob: blob.toString('base64'),
        EncryptionContext: { ...file.encryptionContext, [RESERVED_CONTEXT_KEY]: hex(v.aad).toString('base64') },
      },
    });
    client.destroy();
  });
});
