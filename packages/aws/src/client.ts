import { KMSClient } from '@aws-sdk/client-kms';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsConfig } from './config.js';

/**
 * The KMS client: the SDK's default credential chain (env, shared config/profile, web identity /
 * IRSA, container, IMDS), optionally assuming --role-arn on top. The SDK's own retries are off
 * (maxAttempts 1): core's remote call policy is the one retry layer, with its deadline and breaker.
 */
export async function createAwsKmsClient(config: AwsConfig): Promise<KMSClient> {
  const region = config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const credentials = config['role-arn']
    ? fromTemporaryCredentials({
        params: {
          RoleArn: config['role-arn'],
          RoleSessionName: config['role-session-name'],
          ...(config['external-id'] ? { ExternalId: config['external-id'] } : {}),
        },
        ...(region ? { clientConfig: { region } } : {}),
      })
    : undefined;
  const client = new KMSClient({
    maxAttempts: 1,
    ...(region ? { region } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
  try {
    await client.config.region();
  } catch {
    client.destroy();
    throw new Error('--region: no AWS region configured (set --region, AWS_REGION, or a region in the shared config)');
  }
  return client;
}
