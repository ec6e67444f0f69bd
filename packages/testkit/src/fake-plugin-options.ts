import { z } from 'zod';
import { defineOptions, schemas } from '@k8s-kms/core/kit';

/** The options of kms-plugin-fake, beyond the common ones. */
export const FAKE_OPTIONS = defineOptions({
  'fake-key-id': {
    value: 'id',
    required: true,
    help: 'id of the in-memory key (its key material is random per process)',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_-]'),
  },
  'fake-latency': { value: 'duration', default: '0s', help: 'added to every backend call', schema: schemas.duration() },
  'fake-secret': { value: 'secret', secret: true, help: 'a credential the fake never logs', schema: z.string().min(8).optional() },
});
