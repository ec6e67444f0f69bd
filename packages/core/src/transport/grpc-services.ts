import type { handleUnaryCall, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { KmsError } from '../errors.js';
import type { KmsService } from '../kms-service.js';
import type { LogThrottle } from '../ops/log-throttle.js';
import type { PluginMetrics } from '../ops/metrics.js';
import type * as v1 from '../gen/kms/v1beta1/api.js';
import type * as v2 from '../gen/kms/v2/api.js';
import { codeName, GRPC_CODE } from './grpc-status.js';
import { isMalformed } from './request-guard.js';

interface Deps {
  readonly service: KmsService;
  readonly metrics: PluginMetrics;
  readonly log: Logger;
  /** For what a client can send at any rate (malformed requests): a line per reason and interval. */
  readonly throttledLog: LogThrottle;
}

/** The KMS v2 service implementation for grpc-js: decode, call the service, map errors once. */
export function v2Handlers(deps: Deps): v2.KeyManagementServiceServer {
  return {
    status: unary(deps, 'v2', 'Status', () => {
      const s = deps.service.status();
      return { version: s.version, healthz: s.healthz, keyId: s.keyId };
    }),
    encrypt: unary(deps, 'v2', 'Encrypt', async (req: v2.EncryptRequest, signal) => {
      const out = await deps.service.encrypt(req.plaintext, signal);
      return { ciphertext: out.ciphertext, keyId: out.keyId, annotations: out.annotations };
    }),
    decrypt: unary(deps, 'v2', 'Decrypt', async (req: v2.DecryptRequest, signal) => ({
      plaintext: await deps.service.decrypt(req.ciphertext, req.keyId, req.annotations, signal),
    })),
  };
}

/** The KMS v1beta1 service implementation for grpc-js. */
export function v1Handlers(deps: Deps): v1.KeyManagementServiceServer {
  return {
    version: unary(deps, 'v1beta1', 'Version', () => deps.service.version()),
    encrypt: unary(deps, 'v1beta1', 'Encrypt', async (req: v1.EncryptRequest, signal) => ({
      cipher: await deps.service.encryptV1(req.plain, signal),
    })),
    decrypt: unary(deps, 'v1beta1', 'Decrypt', async (req: v1.DecryptRequest, signal) => ({
      plain: await deps.service.decryptV1(req.cipher, signal),
    })),
  };
}

function unary<Req, Res>(
  deps: Deps,
  api: 'v2' | 'v1beta1',
  method: string,
  fn: (req: Req, signal: AbortSignal) => Res | Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const started = performance.now();
    const abort = new AbortController();
    const onCancel = (): void => abort.abort();
    call.once('cancelled', onCancel);
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    // setTimeout fires at once for delays over 2^31-1 ms; a deadline that far out is no deadline.
    const delay = deadlineMs - Date.now();
    const timer = Number.isFinite(delay) && delay < 2 ** 31 - 1 ? setTimeout(onCancel, Math.max(0, delay)) : undefined;
    timer?.unref();
    const uid = uidOf(call.request);

    Promise.resolve()
      .then(() => {
        const request: unknown = call.request;
        if (isMalformed(request)) {
          deps.metrics.malformedRequest(request.reason);
          deps.throttledLog.warn(request.reason, { api, method, reason: request.reason }, 'request refused as malformed');
          throw new MalformedError(request.message);
        }
        return fn(call.request, abort.signal);
      })
      .then(
        (res) => {
          const seconds = (performance.now() - started) / 1000;
          deps.metrics.grpc(api, method, 'OK', seconds);
          if (method !== 'Status') deps.log.debug({ api, method, uid, ms: seconds * 1000 }, 'request served');
          callback(null, res);
        },
        (err: unknown) => {
          // A caller that went away (deadline, cancel) is not an internal error.
          const error =
            abort.signal.aborted && !KmsError.is(err)
              ? new KmsError('unavailable', 'request cancelled or past its deadline', { cause: err })
              : KmsError.from(err);
          const code = GRPC_CODE[error.errorClass];
          const seconds = (performance.now() - started) / 1000;
          deps.metrics.grpc(api, method, codeName(code), seconds);
          if (!(err instanceof MalformedError)) {
            deps.log.warn({ api, method, uid, errorClass: error.errorClass, code: codeName(code), err: error.message }, 'request failed');
          }
          callback({ code, details: error.message });
        },
      )
      .finally(() => {
        if (timer) clearTimeout(timer);
        call.off('cancelled', onCancel);
      });
  };
}

/** A request refused unread: answered INVALID_ARGUMENT, logged through the throttle, not per request. */
class MalformedError extends KmsError {
  constructor(message: string) {
    super('invalid-input', message);
  }
}

/** The apiserver's request uid (v2 only), trimmed: it is only for correlating logs. */
function uidOf(request: unknown): string | undefined {
  const uid = (request as { uid?: unknown } | null)?.uid;
  return typeof uid === 'string' && uid.length > 0 ? uid.slice(0, 64) : undefined;
}
