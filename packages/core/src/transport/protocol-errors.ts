import { ServerInterceptingCall, status, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';

type Answer = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/** Why grpc-js refused a call before any handler saw it (a bounded metric label). */
export type ProtocolErrorReason = 'timeout-header' | 'compression' | 'not-protobuf' | 'too-large';

/**
 * The answers grpc-js gives by itself to requests it cannot parse, and what the plugin answers
 * instead. grpc-js says INTERNAL for a malformed grpc-timeout header, a body that does not
 * decompress, or bytes it cannot deserialize; INTERNAL means "a bug in the plugin" to operators
 * and alerts, while the fault is the caller's, so these become INVALID_ARGUMENT. Oversized
 * messages keep grpc-js's RESOURCE_EXHAUSTED and an unknown compression its UNIMPLEMENTED (both
 * as the gRPC spec has them); every one is counted and logged.
 */
const KNOWN: readonly { readonly match: RegExp; readonly code: status; readonly from: status; readonly reason: ProtocolErrorReason }[] = [
  { match: /^Invalid grpc-timeout value/, from: status.INTERNAL, code: status.INVALID_ARGUMENT, reason: 'timeout-header' },
  { match: /^Failed to decompress message/, from: status.INTERNAL, code: status.INVALID_ARGUMENT, reason: 'compression' },
  { match: /^Error deserializing request/, from: status.INTERNAL, code: status.INVALID_ARGUMENT, reason: 'not-protobuf' },
  {
    match: /^Received message compressed with unsupported encoding/,
    from: status.UNIMPLEMENTED,
    code: status.UNIMPLEMENTED,
    reason: 'compression',
  },
  {
    match: /^Received message (that decompresses to a size )?larger than max/,
    from: status.RESOURCE_EXHAUSTED,
    code: status.RESOURCE_EXHAUSTED,
    reason: 'too-large',
  },
];

/**
 * A server interceptor that relabels and reports grpc-js's own refusals. grpc-js sends these from
 * its base call object (`this.sendStatus`), which no interceptor's responder sees, so the
 * interceptor replaces `sendStatus` on that object for this one call: the statuses grpc-js makes
 * and the handler's answers both pass through it. The fuzz test in core's suite covers each
 * refusal, so a grpc-js upgrade that changes them fails there.
 */
export function protocolErrorInterceptor(onRefused: (path: string, reason: ProtocolErrorReason, code: status) => void): ServerInterceptor {
  return (method, call) => {
    const send = call.sendStatus.bind(call);
    call.sendStatus = (answer: Answer): void => {
      const known = KNOWN.find((k) => k.from === answer.code && k.match.test(answer.details ?? ''));
      if (!known) return send(answer);
      onRefused(method.path, known.reason, known.code);
      send({ ...answer, code: known.code });
    };
    return new ServerInterceptingCall(call);
  };
}
