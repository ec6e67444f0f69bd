import { z } from 'zod';
import type { OptionDef, RawValues } from '@k8s-kms/core';

/** The flags of kms-plugin-aws, beyond the common ones. */
export const AWS_OPTIONS: readonly OptionDef[] = [
  { name: 'key', value: 'key', required: true, help: 'key id, key ARN, alias name (alias/…) or alias ARN that encrypts' },
  { name: 'decrypt-key', value: 'key', repeatable: true, help: 'an older key whose data must stay readable (repeatable)' },
  {
    name: 'encryption-context',
    value: 'k=v',
    repeatable: true,
    help: 'encryption context pair sent on every Encrypt and Decrypt (repeatable)',
  },
  { name: 'region', value: 'region', help: 'AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the shared config)' },
  { name: 'endpoint', value: 'url', help: 'KMS endpoint: a VPC endpoint, a FIPS endpoint or an emulator' },
  { name: 'role-arn', value: 'arn', help: 'assume this role (STS AssumeRole) on top of the default credential chain' },
  { name: 'external-id', value: 'id', help: 'external id for --role-arn' },
  { name: 'role-session-name', value: 'name', default: 'k8s-kms', help: 'session name for --role-arn' },
];

/** Key ids as AWS accepts them: a key id (UUID or mrk-…), a key ARN, an alias name or an alias ARN. */
const KEY = /^(alias\/[a-zA-Z0-9/_-]{1,250}|[a-zA-Z0-9-]{1,256}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[a-zA-Z0-9/_-]+)$/;

/** Context keys we set ourselves; users may not override them. */
export const RESERVED_CONTEXT_KEY = 'k8s-kms.dev/aad';

const schema = z.object({
  key: z.string().regex(KEY, 'must be a key id, key ARN, alias/NAME or alias ARN'),
  'decrypt-key': z.array(z.string().regex(KEY, 'each must be a key id, key ARN, alias/NAME or alias ARN')),
  'encryption-context': z
    .array(z.string().regex(/^[^=]+=.*$/, 'each must be key=value'))
    .transform((pairs) => Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)])))
    .refine((ctx) => !(RESERVED_CONTEXT_KEY in ctx), `${RESERVED_CONTEXT_KEY} is set by the plugin`),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be a region like eu-west-1')
    .optional(),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  'role-arn': z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')
    .optional(),
  'external-id': z.string().min(2).optional(),
  'role-session-name': z.string().regex(/^[\w+=,.@-]{2,64}$/, 'must be 2-64 characters of [\\w+=,.@-]'),
});

export type AwsConfig = z.output<typeof schema>;

/** Validate the resolved AWS flags; errors name the flag. */
export function parseAwsConfig(values: RawValues): AwsConfig {
  const present = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) throw new Error(result.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n'));
  if (result.data['external-id'] && !result.data['role-arn']) throw new Error('--external-id: needs --role-arn');
  return result.data;
}
