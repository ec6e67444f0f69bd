import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { connect as connectUnix } from 'node:net';

/** One gRPC request written by hand: any path, headers and framing, including broken ones. */
export interface RawRequest {
  /** e.g. "/v2.KeyManagementService/Decrypt". */
  readonly path: string;
  /** The message bytes (not necessarily valid protobuf). */
  readonly body: Uint8Array;
  /** Extra request headers (grpc-timeout, grpc-encoding, ...). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The compressed-flag byte of the gRPC frame (default 0). */
  readonly compressedFlag?: number;
  /** Override the frame's length prefix (default: the body's length). */
  readonly declaredLength?: number;
}

/** What the server answered: the gRPC status from the trailers (or headers), and its message. */
export interface RawAnswer {
  readonly status: number | undefined;
  readonly message: string;
  readonly httpStatus: number | undefined;
  /** The first response message's bytes (empty when there was none). */
  readonly body: Buffer;
}

/**
 * A client that speaks HTTP/2 to a plugin socket directly, so tests and the fuzzer can send what
 * no well-behaved gRPC client would: bad grpc-timeout headers, bodies that are not protobuf, a
 * compressed flag without compression, length prefixes that lie.
 */
export class RawGrpcClient {
  private readonly session: ClientHttp2Session;

  constructor(socketPath: string) {
    this.session = connect('http://localhost', { createConnection: () => connectUnix(socketPath) });
    this.session.on('error', () => undefined); // each request reports its own failure
  }

  call(req: RawRequest): Promise<RawAnswer> {
    const frame = Buffer.alloc(5 + req.body.length);
    frame.writeUInt8(req.compressedFlag ?? 0, 0);
    frame.writeUInt32BE(req.declaredLength ?? req.body.length, 1);
    Buffer.from(req.body).copy(frame, 5);
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: req.path,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
        ...req.headers,
      });
      let httpStatus: number | undefined;
      let status: number | undefined;
      let message = '';
      const take = (headers: Record<string, unknown>): void => {
        if (headers['grpc-status'] !== undefined) status = Number(headers['grpc-status']);
        if (typeof headers['grpc-message'] === 'string') message = decodeURIComponent(headers['grpc-message']);
      };
      stream.on('response', (headers) => {
        httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
        take(headers);
      });
      stream.on('trailers', take);
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('close', () => {
        const data = Buffer.concat(chunks);
        const body = data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : Buffer.alloc(0);
        resolve({ status, message, httpStatus, body });
      });
      stream.on('error', reject);
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}
