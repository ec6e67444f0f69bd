import { z } from 'zod';
import { ConfigError } from '@k8s-kms/core';
import { defineOptions, parseOptions, type OptionValues } from '@k8s-kms/core/kit';

/** Key ids as AWS accepts them: a key id (UUID or mrk-…), a key ARN, an alias name or an alias ARN. */
const KEY = /^(alias\/[a-zA-Z0-9/_-]{1,250}|[a-zA-Z0-9-]{1,256}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[a-zA-Z0-9/_-]+)$/;

/** Context keys we set ourselves; users may not override them. */
export const RESERVED_CONTEXT_KEY = 'k8s-kms.dev/aad';

/** The options of kms-plugin-aws, beyond the common ones. */
export const AWS_OPTIONS = defineOptions({
  key: {
    value: 'key',
    required: true,
    help: 'key id, key ARN, alias name (alias/…) or alias ARN that encrypts',
    schema: z.string().regex(KEY, 'must be a key id, key ARN, alias/NAME or alias ARN'),
  },
  'decrypt-key': {
    value: 'key',
    repeatable: true,
    help: 'an older key whose data must stay readable (repeatable)',
    schema: z.array(z.string().regex(KEY, 'each must be a key id, key ARN, alias/NAME or alias ARN')),
  },
  'encryption-context': {
    value: 'k=v',
    repeatable: true,
    help: 'encryption context pairs sent on every Encrypt and Decrypt (repeatable, comma-separated)',
    schema: z
      .array(z.string().regex(/^[^=]+=.*$/, 'each must be key=value'))
      .transform((pairs) => Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)])))
      .refine((ctx) => !(RESERVED_CONTEXT_KEY in ctx), `${RESERVED_CONTEXT_KEY} is set by the plugin`),
  },
  region: {
    value: 'region',
    help: 'AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the shared config)',
    schema: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be a region like eu-west-1')
      .optional(),
  },
  endpoint: {
    value: 'url',
    help: 'KMS endpoint: a VPC endpoint, a FIPS endpoint or an emulator',
    schema: z.url({ protocol: /^https?$/ }).optional(),
  },
  'role-arn': {
    value: 'arn',
    help: 'assume this role (STS AssumeRole) on top of the default credential chain',
    schema: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')
      .optional(),
  },
  'external-id': { value: 'id', help: 'external id for --role-arn', schema: z.string().min(2).optional() },
  'role-session-name': {
    value: 'name',
    default: 'k8s-kms',
    help: 'session name for --role-arn',
    schema: z.string().regex(/^[\w+=,.@-]{2,64}$/, 'must be 2-64 characters of [\\w+=,.@-]'),
  },
});

/** The validated options of kms-plugin-aws. */
export type AwsConfig = OptionValues<typeof AWS_OPTIONS>;

/** Validate the AWS options (defaults for those left out); a ConfigError names each bad one. */
export function parseAwsConfig(values: Readonly<Record<string, unknown>>): AwsConfig {
  const config = parseOptions(AWS_OPTIONS, values);
  if (config['external-id'] && !config['role-arn']) throw new ConfigError('--external-id: needs --role-arn');
  return config;
}
