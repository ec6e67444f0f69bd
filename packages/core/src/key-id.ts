import { createHash } from 'node:crypto';
import { needs } from './errors.js';
import { checkKind } from './provider-guard.js';

/** kube-apiserver rejects a key_id longer than 1 KiB. */
export const MAX_KEY_ID_BYTES = 1024;

/**
 * Derive the key_id kube-apiserver sees from the backend's key version identity.
 * Hashed, so it leaks no resource names into etcd; collision-free in practice (192 bits),
 * so two different key versions never share a key_id; stable for one version, so
 * kube-apiserver re-seeds only when the backend key really rotates.
 */
export function deriveKeyId(kind: string, versionId: string): string {
  checkKind(kind);
  needs(versionId.length > 0, 'internal', 'provider returned an empty key version id');
  const digest = createHash('sha256').update('k8s-kms/key-id/v1\0').update(kind).update('\0').update(versionId).digest();
  return `${kind}:${digest.subarray(0, 24).toString('base64url')}`;
}
