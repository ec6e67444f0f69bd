import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { KeyManagementServiceClient as V1Client } from '../gen/kms/v1beta1/api.js';
import { KeyManagementServiceClient as V2Client } from '../gen/kms/v2/api.js';
import { grpcTarget, parseListenAddress } from '../transport/listen-address.js';

export type { ServiceError };

/** A promise-based client of both KMS APIs on a plugin socket: for probes, tools and tests. */
export interface PluginClient {
  status(): Promise<{ version: string; healthz: string; keyId: string }>;
  encrypt(plaintext: Uint8Array, uid?: string): Promise<{ ciphertext: Buffer; keyId: string; annotations: Record<string, Buffer> }>;
  decrypt(req: { ciphertext: Uint8Array; keyId: string; annotations?: Record<string, Uint8Array>; uid?: string }): Promise<Buffer>;
  v1Version(): Promise<{ version: string; runtimeName: string; runtimeVersion: string }>;
  v1Encrypt(plain: Uint8Array): Promise<Buffer>;
  v1Decrypt(cipher: Uint8Array): Promise<Buffer>;
  close(): void;
}

/**
 * Connect to a plugin at `unix:///path.sock` or `unix:///@name`. Each call gets a deadline of
 * `timeoutMs` (kube-apiserver's default KMS timeout is 3 s).
 */
export function createPluginClient(address: string, opts: { timeoutMs?: number } = {}): PluginClient {
  const target = grpcTarget(parseListenAddress(address, 'address'));
  const v2 = new V2Client(target, credentials.createInsecure());
  const v1 = new V1Client(target, credentials.createInsecure(), { channelOverride: v2.getChannel() });
  const timeoutMs = opts.timeoutMs ?? 3000;
  const deadline = () => ({ deadline: Date.now() + timeoutMs });
  const call = <Res>(fn: (cb: (err: ServiceError | null, res: Res) => void) => void): Promise<Res> =>
    new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
  return {
    status: () => call((cb) => v2.status({}, new Metadata(), deadline(), cb)),
    encrypt: (plaintext, uid = '') => call((cb) => v2.encrypt({ plaintext: Buffer.from(plaintext), uid }, new Metadata(), deadline(), cb)),
    decrypt: async (req) => {
      const annotations = Object.fromEntries(Object.entries(req.annotations ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
      const res = await call<{ plaintext: Buffer }>((cb) =>
        v2.decrypt(
          { ciphertext: Buffer.from(req.ciphertext), keyId: req.keyId, annotations, uid: req.uid ?? '' },
          new Metadata(),
          deadline(),
          cb,
        ),
      );
      return res.plaintext;
    },
    v1Version: () => call((cb) => v1.version({ version: 'v1beta1' }, new Metadata(), deadline(), cb)),
    v1Encrypt: async (plain) =>
      (
        await call<{ cipher: Buffer }>((cb) =>
          v1.encrypt({ version: 'v1beta1', plain: Buffer.from(plain) }, new Metadata(), deadline(), cb),
        )
      ).cipher,
    v1Decrypt: async (cipher) =>
      (
        await call<{ plain: Buffer }>((cb) =>
          v1.decrypt({ version: 'v1beta1', cipher: Buffer.from(cipher) }, new Metadata(), deadline(), cb),
        )
      ).plain,
    close: () => {
      v1.close();
      v2.close();
    },
  };
}
