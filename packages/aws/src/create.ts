import type { LibraryOptions } from '@k8s-kms/core';
import { flagKeyed } from '@k8s-kms/core/kit';
import { createAwsKmsClient } from './client.js';
import { AWS_OPTIONS, parseAwsConfig, type AwsConfig } from './config.js';
import { AwsKmsProvider } from './provider.js';

/** The options of {@link createAwsKmsProvider}: kms-plugin-aws's flags in camelCase, with the same defaults. */
export type AwsKmsOptions = LibraryOptions<typeof AWS_OPTIONS>;

/**
 * The AWS KMS provider as kms-plugin-aws builds it, from the same options in camelCase
 * (`{ key: 'alias/k8s', region: 'eu-west-1', encryptionContext: ['cluster=prod'] }`): the SDK's
 * default credential chain, `roleArn` assumed on top, the SDK's own retries off.
 */
export async function createAwsKmsProvider(options: AwsKmsOptions): Promise<AwsKmsProvider> {
  return awsKmsProviderFrom(parseAwsConfig(flagKeyed(AWS_OPTIONS, options)));
}

/** The provider from parsed options (the binary's path). */
export async function awsKmsProviderFrom(config: AwsConfig): Promise<AwsKmsProvider> {
  return new AwsKmsProvider({
    client: await createAwsKmsClient(config),
    key: config.key,
    decryptKeys: config['decrypt-key'],
    encryptionContext: config['encryption-context'],
  });
}
