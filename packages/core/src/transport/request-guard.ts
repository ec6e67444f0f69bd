import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { Limits } from '../contract-guard.js';

const MALFORMED = Symbol('k8s-kms.malformed-request');

/** What a guarded deserializer returns instead of a message it could not accept. */
export interface MalformedRequest {
  readonly [MALFORMED]: true;
  /** Bounded metric label. */
  readonly reason: 'too-large' | 'not-protobuf';
  /** For the caller: which limit or which message, never the bytes. */
  readonly message: string;
}

export function isMalformed(request: unknown): request is MalformedRequest {
  return typeof request === 'object' && request !== null && MALFORMED in request;
}

/** Room for field tags, lengths and the request uid around the fields the limits bound. */
const FRAMING_BYTES = 2 * 1024;

/**
 * The largest serialized request each method can legitimately need, from the protocol's own
 * limits (kube-apiserver never sends more): a v2 Decrypt carries at most a 1 KiB ciphertext, a
 * 1 KiB key_id and 32 KiB of annotations; a v1beta1 Decrypt at most a 64 KiB ciphertext.
 */
export const MAX_REQUEST_BYTES: Readonly<Record<string, number>> = {
  '/v2.KeyManagementService/Status': FRAMING_BYTES,
  '/v2.KeyManagementService/Encrypt': Limits.plaintextBytes + FRAMING_BYTES,
  '/v2.KeyManagementService/Decrypt': Limits.ciphertextBytes + Limits.keyIdBytes + Limits.annotationsBytes + 2 * FRAMING_BYTES,
  '/v1beta1.KeyManagementService/Version': FRAMING_BYTES,
  '/v1beta1.KeyManagementService/Encrypt': Limits.plaintextBytes + FRAMING_BYTES,
  '/v1beta1.KeyManagementService/Decrypt': Limits.v1CiphertextBytes + FRAMING_BYTES,
};

/** The receive limit of the whole server: the largest request of any method it serves. */
export function maxReceiveBytes(services: readonly ServiceDefinition[]): number {
  return Math.max(...services.flatMap((s) => Object.values<MethodDefinition<unknown, unknown>>(s).map((m) => limitOf(m.path))));
}

/**
 * A copy of a grpc-js service definition whose request deserializers never throw: a request
 * larger than its method can need, or bytes that are not the method's protobuf message, come out
 * as a {@link MalformedRequest} that the handler answers INVALID_ARGUMENT and counts. (grpc-js
 * answers a deserializer that throws with INTERNAL, before any plugin code sees the call.)
 */
export function guardService<S extends ServiceDefinition>(service: S): S {
  const guarded: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries<MethodDefinition<unknown, unknown>>(service)) {
    const max = limitOf(method.path);
    const what = method.path.slice(1).replace('/', ' ');
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        if (bytes.length > max) {
          return malformed('too-large', `a ${what} request of ${bytes.length} bytes exceeds the ${max} bytes the protocol needs`);
        }
        try {
          return method.requestDeserialize(bytes);
        } catch {
          return malformed('not-protobuf', `the request is not a valid ${what} message`);
        }
      },
    };
  }
  return guarded as S;
}

function limitOf(path: string): number {
  return MAX_REQUEST_BYTES[path] ?? FRAMING_BYTES;
}

function malformed(reason: MalformedRequest['reason'], message: string): MalformedRequest {
  return { [MALFORMED]: true, reason, message };
}
