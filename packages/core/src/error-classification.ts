import { status as GrpcStatus } from '@grpc/grpc-js';
import { KmsError, type ErrorClass } from './errors.js';

/**
 * What every backend's SDK failures have in common, classified once here so that a backend's
 * `errors.ts` is a table of its own service's error names and nothing more: network errno codes
 * and timeouts found anywhere in an error's `cause` chain, HTTP statuses, gRPC codes, and the
 * Retry-After a throttling service sends.
 */

/** Error codes (Node errno, undici, axios) that mean the endpoint cannot be reached now. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_NETWORK',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** TLS failures: the CA, server name or client certificate is wrong, which retrying will not fix. */
const TLS_CODE = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL|EPROTO/;

/** Error names of a deadline or an abort (AbortSignal.timeout, fetch, the SDKs). */
const TIMEOUT_NAMES: ReadonlySet<string> = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutError']);

/** A transport failure found in an error or its causes. */
export interface TransportFailure {
  readonly errorClass: ErrorClass;
  /** The code or name found (ECONNREFUSED, CERT_HAS_EXPIRED, TimeoutError): safe to print. */
  readonly code: string;
}

/**
 * The transport failure behind `err`, walking its `cause` chain (at most 8 deep): an unreachable
 * endpoint or a timeout is `unavailable`, a TLS verification failure `user-induced`. Undefined
 * when nothing in the chain is a transport failure.
 */
export function transportFailure(err: unknown): TransportFailure | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof e.code === 'string') {
      // HPE_*: Node's HTTP parser could not read the answer (a proxy or load balancer in the way).
      if (NETWORK_CODES.has(e.code) || e.code.startsWith('HPE_')) return { errorClass: 'unavailable', code: e.code };
      if (TLS_CODE.test(e.code)) return { errorClass: 'user-induced', code: e.code };
    }
    if (typeof e.name === 'string' && TIMEOUT_NAMES.has(e.name)) return { errorClass: 'unavailable', code: e.name };
    // Some SDKs flatten a transport error into a new Error's message ("AWS SDK error wrapper for
    // Error: connect ECONNREFUSED ...", when the original comes from another realm): a network
    // code standing as a word there counts too. Only the code is kept, never the message.
    const message = (current as { message?: unknown }).message;
    const flattened = typeof message === 'string' ? /\b(E[A-Z]{4,}|UND_ERR_[A-Z_]+)\b/.exec(message)?.[1] : undefined;
    if (flattened && NETWORK_CODES.has(flattened)) return { errorClass: 'unavailable', code: flattened };
    current = e.cause;
  }
  return undefined;
}

/**
 * The class of an HTTP answer's status. 429 is throttling; 408, 412 (Vault: a standby without an
 * active node) and 5xx mean the service cannot answer now; any other 4xx means the plugin's
 * configuration or the service's policy must change (retrying will not help).
 */
export function classOfHttpStatus(status: number): ErrorClass {
  if (status === 429) return 'throttled';
  if (status === 408 || status === 412 || status >= 500) return 'unavailable';
  if (status >= 400) return 'user-induced';
  return 'internal';
}

/** The class of a gRPC status code a backend answered (Google Cloud KMS speaks gRPC). */
export function classOfGrpcCode(code: number): ErrorClass {
  switch (code as GrpcStatus) {
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 'throttled';
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.ABORTED:
    case GrpcStatus.CANCELLED:
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
      return 'unavailable';
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.NOT_FOUND:
      return 'user-induced';
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return 'invalid-input';
    default:
      return 'internal';
  }
}

/**
 * Milliseconds a Retry-After header asks for (delay-seconds or an HTTP date), or undefined when
 * there is none or it cannot be read.
 */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What a backend knows of one failure, for {@link classifyFailure}. */
export interface FailureFacts {
  /** The class its own table gives the service's error name, if the table has it. */
  readonly errorClass?: ErrorClass | undefined;
  /** The service's error name or code, e.g. "ThrottlingException": shown in the message. */
  readonly name?: string | undefined;
  readonly httpStatus?: number | undefined;
  /** Text the service sent that is safe to quote (names ARNs, paths, policies; never a body the plugin sent). */
  readonly detail?: string | undefined;
  readonly retryAfterMs?: number | undefined;
}

/**
 * The one way a backend turns a failed call into a KmsError. The class comes from the backend's
 * table of its service's error names (`facts.errorClass`), else from the HTTP status of an
 * answer, else from a transport failure in the error's causes, else `internal`. The message names the call, the
 * error name or code and the status, and quotes only `facts.detail`: a foreign error's own message
 * may carry anything, so it is never repeated.
 */
export function classifyFailure(what: string, err: unknown, facts: FailureFacts = {}): KmsError {
  if (KmsError.is(err)) return err;
  // A service that answered said what happened: its status counts before any transport code
  // found in the error (or its message).
  const transport = facts.errorClass || facts.httpStatus !== undefined ? undefined : transportFailure(err);
  const ownName = (err as { name?: unknown } | null)?.name;
  const { httpStatus } = facts;
  // "ThrottlingException (HTTP 400)", "HTTP 503" for an answer known only by its status, "ECONNREFUSED".
  const name =
    facts.name ?? transport?.code ?? (httpStatus === undefined ? (typeof ownName === 'string' ? ownName : typeof err) : undefined);
  const shown = name === undefined ? `HTTP ${httpStatus}` : httpStatus === undefined ? name : `${name} (HTTP ${httpStatus})`;
  const errorClass = facts.errorClass ?? (httpStatus !== undefined ? classOfHttpStatus(httpStatus) : (transport?.errorClass ?? 'internal'));
  const detail = facts.detail ? `: ${facts.detail.replace(/\s+/g, ' ').trim().slice(0, 200)}` : '';
  return new KmsError(errorClass, `${what}: ${shown}${detail}`, {
    cause: err,
    ...(facts.retryAfterMs !== undefined ? { retryAfterMs: facts.retryAfterMs } : {}),
  });
}
