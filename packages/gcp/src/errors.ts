import { grpc } from 'google-gax';
import { type ErrorClass, type KmsError } from '@k8s-kms/core';
import { classifyFailure, classOfGrpcCode } from '@k8s-kms/core/kit';

const { status } = grpc;

/** What the official client throws: a GoogleError (a gRPC status) or a transport failure. */
interface GoogleErrorShape {
  readonly code?: unknown;
  readonly details?: unknown;
}

/** grpc-js's prefix when the call credentials (google-auth-library) failed to give a token. */
const CREDENTIALS_FAILED = /^Getting metadata from plugin failed/;
/** How grpc-js reports a certificate the channel does not trust. */
const TLS_FAILURE = /certificate|self[- ]signed|CERT_|unable to verify|SSL routines|handshake/i;
/** OAuth / STS error codes a token endpoint answers with when the credential itself is refused. */
const REFUSED_CREDENTIAL = /\b(invalid_grant|invalid_client|unauthorized_client|access_denied|invalid_scope|invalid_target)\b/;

/**
 * Translate anything the Cloud KMS client throws into a KmsError. Classes follow the gRPC code
 * (core's classOfGrpcCode), with Cloud KMS's own meanings on top: INVALID_ARGUMENT on Decrypt is a
 * ciphertext that is not this key's (or whose AAD differs), and an INVALID_ARGUMENT about a CRC32C
 * checksum is data damaged in transit, retried. The service's own message (it names resources and
 * states, never data) is quoted; a credential failure's text is not (it may echo a token
 * endpoint's answer), only its OAuth error code.
 */
export function fromGcpError(operation: string, err: unknown): KmsError {
  const e = (err ?? {}) as GoogleErrorShape;
  const details = typeof e.details === 'string' ? e.details : '';
  if (CREDENTIALS_FAILED.test(details)) return credentialFailure(operation, err, e.code, details);
  if (typeof e.code !== 'number' || !(e.code in status)) return classifyFailure(`Cloud KMS ${operation}`, err);
  const code = e.code as grpc.status;
  let errorClass: ErrorClass = classOfGrpcCode(code);
  // A TLS failure (wrong --tls-ca-file, a proxy's certificate) comes as UNAVAILABLE; retrying will not fix it.
  if (code === status.UNAVAILABLE && TLS_FAILURE.test(details)) errorClass = 'user-induced';
  if (code === status.INVALID_ARGUMENT && /checksum|crc32c/i.test(details)) errorClass = 'unavailable';
  else if (code === status.INVALID_ARGUMENT && operation === 'Decrypt') errorClass = 'corrupt-ciphertext';
  // grpc-js's own UNAVAILABLE carries the transport's cause in its details ("connect ECONNREFUSED ...").
  return classifyFailure(`Cloud KMS ${operation}`, err, { errorClass, name: status[code], detail: details || undefined });
}

/**
 * The call credentials failed: no token. grpc-js passes the auth library's error code through as
 * the call's code, which for a token endpoint's answer is its HTTP status (400, 403), else a gRPC
 * code. A refused credential (an OAuth error code, 400/401/403) is the operator's to fix; the
 * rest (the token endpoint or metadata server unreachable, 5xx) may pass.
 */
function credentialFailure(operation: string, err: unknown, code: unknown, details: string): KmsError {
  const oauth = REFUSED_CREDENTIAL.exec(details)?.[1];
  const http = typeof code === 'number' && code >= 400 && code < 600 ? code : undefined;
  const refused = oauth !== undefined || http === 400 || http === 401 || http === 403;
  const errorClass: ErrorClass = refused ? 'user-induced' : http === 429 ? 'throttled' : 'unavailable';
  const why = oauth ?? (http ? `HTTP ${http}` : undefined);
  return classifyFailure(`Cloud KMS ${operation}`, err, {
    errorClass,
    name: `credentials ${refused ? 'refused' : 'unavailable'}${why ? ` (${why})` : ''}`,
    detail: 'no access token from --credentials-file or Application Default Credentials',
  });
}
