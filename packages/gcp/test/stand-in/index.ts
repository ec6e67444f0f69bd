import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import crc32c from 'crc-32/crc32c.js';
import { loopbackCertificate } from '@k8s-kms/testkit';
import { KeyStore, StandInError, type CryptoKey, type Version } from './keys.js';
import { TokenService } from './tokens.js';

export { KeyStore, StandInError } from './keys.js';
export { TokenService, type TokenKind } from './tokens.js';

/**
 * A STAND-IN for Google Cloud KMS (no emulator of it can be installed on these machines): a gRPC
 * server of google.cloud.kms.v1.KeyManagementService, loaded from the protos that ship in
 * @google-cloud/kms, over TLS with its own CA (the official client sends OAuth tokens only over
 * TLS), plus an HTTP server for its token endpoints and a small admin API for tests that run it
 * as a process (the Go e2e). What it does not do like Cloud KMS is listed in the package README.
 */

type Unary = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

/** A fault to inject into the next `times` calls of a method. */
export type Fault =
  | { readonly kind: 'status'; readonly code: grpc.status; readonly message?: string }
  /** Encrypt: a wrong ciphertext_crc32c; Decrypt: a plaintext with one bit flipped (its CRC32C as sent is of the right one). */
  | { readonly kind: 'corrupt' }
  /** Encrypt: verified_plaintext_crc32c false, as when the request's checksum did not arrive. */
  | { readonly kind: 'unverified' };

/** The IAM permission each method needs (Cloud KMS's permission reference). */
const PERMISSION: Readonly<Record<string, string>> = {
  GetCryptoKey: 'cloudkms.cryptoKeys.get',
  GetCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.get',
  ListCryptoKeyVersions: 'cloudkms.cryptoKeyVersions.list',
  Encrypt: 'cloudkms.cryptoKeyVersions.useToEncrypt',
  Decrypt: 'cloudkms.cryptoKeyVersions.useToDecrypt',
};

const crc = (bytes: Uint8Array): number => crc32c.buf(bytes) >>> 0;
const int64 = (n: number): { value: string } => ({ value: String(n) });
const timestamp = (d: Date): { seconds: string; nanos: number } => ({
  seconds: String(Math.floor(d.getTime() / 1000)),
  nanos: (d.getTime() % 1000) * 1e6,
});

function protoRoots(): string[] {
  const require = createRequire(import.meta.url);
  const kms = dirname(require.resolve('@google-cloud/kms/package.json'));
  // google-gax (the client's dependency) ships the google/api and google/protobuf protos they import.
  const gaxMain = createRequire(join(kms, 'package.json')).resolve('google-gax');
  return [join(kms, 'build', 'protos'), join(dirname(gaxMain), '..', 'protos')];
}

export class CloudKmsStandIn {
  readonly keys = new KeyStore();
  readonly tokens: TokenService;
  /** Calls answered, by method (after authentication). */
  readonly calls: Record<string, number> = {};
  /** The principal of every call, by method. */
  readonly principals: Record<string, Set<string>> = {};
  /** x-goog-user-project values seen (the quota project a client bills). */
  readonly quotaProjects = new Set<string>();
  /** The x-goog-request-params header of the last call, by method (Cloud KMS routes by it). */
  readonly routing: Record<string, string> = {};
  /** Added before each answer. */
  latencyMs = 0;
  private readonly faults = new Map<string, Array<Fault & { times: number }>>();
  private grpcServer?: grpc.Server;
  private http?: HttpServer;
  private grpcPort = 0;
  private httpPort = 0;
  /** PEM of the certificate its gRPC endpoint serves (its own CA). */
  caPem = '';

  constructor() {
    this.tokens = new TokenService(() => this.tokenUrl);
  }

  /** host:port of the KMS gRPC endpoint (TLS; trust {@link caPem}). */
  get endpoint(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  /** http://127.0.0.1:port of the token endpoints and the admin API. */
  get tokenUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start(opts: { grpcPort?: number; httpPort?: number } = {}): Promise<this> {
    const pems = await loopbackCertificate('cloudkms stand-in');
    this.caPem = pems.cert;
    const definition = loadSync('google/cloud/kms/v1/service.proto', {
      includeDirs: protoRoots(),
      keepCase: false,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      google: { cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } } };
    };
    const server = new grpc.Server();
    server.addService(loaded.google.cloud.kms.v1.KeyManagementService.service, this.handlers());
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `127.0.0.1:${opts.grpcPort ?? 0}`,
        grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(pems.cert), private_key: Buffer.from(pems.key) }]),
        (err, port) => (err ? reject(err) : resolve(port)),
      ),
    );
    this.grpcServer = server;
    this.http = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        this.serveHttp(req, res, body).catch((err: unknown) => {
          res.writeHead(500).end(String((err as Error).message));
        });
      });
    });
    await new Promise<void>((resolve) => this.http!.listen(opts.httpPort ?? 0, '127.0.0.1', resolve));
    this.httpPort = (this.http.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.grpcServer?.forceShutdown();
    this.http?.closeAllConnections();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
  }

  /** A crypto key (its key ring made if missing) with one enabled primary version. */
  createKey(name: string, purpose = 'ENCRYPT_DECRYPT'): CryptoKey {
    const ring = name.replace(/\/cryptoKeys\/[^/]+$/, '');
    if (!this.keys.hasKeyRing(ring)) this.keys.createKeyRing(ring);
    return this.keys.createCryptoKey(name, purpose);
  }

  /** A crypto key with given uid and version materials (see KeyStore.importCryptoKey), its key ring made if missing. */
  importKey(name: string, uid: Buffer, materials: readonly Buffer[]): CryptoKey {
    const ring = name.replace(/\/cryptoKeys\/[^/]+$/, '');
    if (!this.keys.hasKeyRing(ring)) this.keys.createKeyRing(ring);
    return this.keys.importCryptoKey(name, uid, materials);
  }

  /** A new version made primary, as a rotation (schedule or `gcloud kms keys versions create --primary`) does. */
  rotate(keyName: string): Version {
    const version = this.keys.createVersion(keyName);
    this.keys.setPrimary(keyName, version.name.split('/').pop()!);
    return version;
  }

  /** Inject `fault` into the next `times` calls of `method` (e.g. "Encrypt"). */
  inject(method: string, fault: Fault, times = 1): void {
    const list = this.faults.get(method) ?? [];
    list.push({ ...fault, times });
    this.faults.set(method, list);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Calls of `method` so far (every method when omitted). */
  count(method?: string): number {
    return method ? (this.calls[method] ?? 0) : Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  private takeFault(method: string): Fault | undefined {
    const list = this.faults.get(method);
    const next = list?.[0];
    if (!next) return undefined;
    if (--next.times <= 0) list.shift();
    return next;
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const unary =
      (method: string, impl: (req: Record<string, unknown>, fault: Fault | undefined) => unknown): Unary =>
      (call, callback) => {
        const answer = async (): Promise<unknown> => {
          const principal = this.tokens.authenticate(call.metadata.get('authorization')[0]?.toString());
          this.calls[method] = (this.calls[method] ?? 0) + 1;
          (this.principals[method] ??= new Set()).add(principal);
          const quota = call.metadata.get('x-goog-user-project')[0];
          if (quota) this.quotaProjects.add(quota.toString());
          this.routing[method] = call.metadata.get('x-goog-request-params')[0]?.toString() ?? '';
          if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
          const fault = this.takeFault(method);
          if (fault?.kind === 'status') throw new StandInError(fault.code, fault.message ?? `stand-in fault: ${grpc.status[fault.code]}`);
          const key = typeof call.request.name === 'string' ? call.request.name : undefined;
          if (key && /\/cryptoKeys\//.test(key)) {
            const users = this.keys.keyOf(key).users;
            if (users && !users.has(principal)) {
              throw new StandInError(
                grpc.status.PERMISSION_DENIED,
                `Permission '${PERMISSION[method] ?? 'cloudkms.cryptoKeys.update'}' denied on resource '${key}' (or it may not exist).`,
              );
            }
          }
          return impl(call.request, fault);
        };
        answer().then(
          (value) => callback(null, value),
          (err: unknown) =>
            callback(
              err instanceof StandInError
                ? { code: err.code, details: err.message }
                : { code: grpc.status.INTERNAL, details: `stand-in: ${(err as Error).message}` },
            ),
        );
      };
    const str = (v: unknown): string => (typeof v === 'string' ? v : '');
    const bytes = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));
    /** The request's Int64Value checksum, if sent, must match the data (else INVALID_ARGUMENT, as Cloud KMS answers). */
    const checksum = (sent: unknown, data: Buffer, field: string, of: string): boolean => {
      const value = (sent as { value?: string } | undefined)?.value;
      if (value === undefined) return false;
      if (Number(value) !== crc(data)) {
        throw new StandInError(grpc.status.INVALID_ARGUMENT, `The checksum in field ${field} did not match the data in field ${of}.`);
      }
      return true;
    };
    const versionView = (v: Version): Record<string, unknown> => ({
      name: v.name,
      state: v.state,
      createTime: timestamp(v.createTime),
      ...(v.destroyTime ? { destroyTime: timestamp(v.destroyTime), destroyEventTime: timestamp(v.destroyTime) } : {}),
      protectionLevel: 'SOFTWARE',
      algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION',
    });
    const keyView = (k: CryptoKey): Record<string, unknown> => ({
      name: k.name,
      purpose: k.purpose,
      createTime: timestamp(k.createTime),
      ...(k.primary && k.purpose === 'ENCRYPT_DECRYPT' ? { primary: versionView(k.primary) } : {}),
      versionTemplate: { protectionLevel: 'SOFTWARE', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' },
    });
    return {
      CreateKeyRing: unary('CreateKeyRing', (req) => {
        const name = `${str(req.parent)}/keyRings/${str(req.keyRingId)}`;
        this.keys.createKeyRing(name);
        return { name };
      }),
      GetKeyRing: unary('GetKeyRing', (req) => {
        if (!this.keys.hasKeyRing(str(req.name))) throw new StandInError(grpc.status.NOT_FOUND, `${str(req.name)} not found.`);
        return { name: req.name };
      }),
      CreateCryptoKey: unary('CreateCryptoKey', (req) => {
        const purpose = str((req.cryptoKey as { purpose?: string } | undefined)?.purpose) || 'ENCRYPT_DECRYPT';
        return keyView(
          this.keys.createCryptoKey(
            `${str(req.parent)}/cryptoKeys/${str(req.cryptoKeyId)}`,
            purpose,
            req.skipInitialVersionCreation === true,
          ),
        );
      }),
      GetCryptoKey: unary('GetCryptoKey', (req) => keyView(this.keys.key(str(req.name)))),
      CreateCryptoKeyVersion: unary('CreateCryptoKeyVersion', (req) => versionView(this.keys.createVersion(str(req.parent)))),
      GetCryptoKeyVersion: unary('GetCryptoKeyVersion', (req) => versionView(this.keys.version(str(req.name)).version)),
      ListCryptoKeyVersions: unary('ListCryptoKeyVersions', (req) => {
        const versions = this.keys.key(str(req.parent)).versions.map(versionView);
        return { cryptoKeyVersions: versions, totalSize: versions.length };
      }),
      UpdateCryptoKeyVersion: unary('UpdateCryptoKeyVersion', (req) => {
        const v = req.cryptoKeyVersion as { name?: string; state?: string } | undefined;
        const paths = (req.updateMask as { paths?: string[] } | undefined)?.paths ?? [];
        if (!paths.includes('state') || (v?.state !== 'ENABLED' && v?.state !== 'DISABLED')) {
          throw new StandInError(grpc.status.INVALID_ARGUMENT, 'The stand-in updates only the state (ENABLED or DISABLED).');
        }
        return versionView(this.keys.setState(str(v.name), v.state));
      }),
      UpdateCryptoKeyPrimaryVersion: unary('UpdateCryptoKeyPrimaryVersion', (req) =>
        keyView(this.keys.setPrimary(str(req.name), str(req.cryptoKeyVersionId))),
      ),
      DestroyCryptoKeyVersion: unary('DestroyCryptoKeyVersion', (req) => versionView(this.keys.destroy(str(req.name)))),
      Encrypt: unary('Encrypt', (req, fault) => {
        const plaintext = bytes(req.plaintext);
        const aad = bytes(req.additionalAuthenticatedData);
        const verifiedPlaintext = checksum(req.plaintextCrc32c, plaintext, 'plaintext_crc32c', 'plaintext');
        const verifiedAad = checksum(
          req.additionalAuthenticatedDataCrc32c,
          aad,
          'additional_authenticated_data_crc32c',
          'additional_authenticated_data',
        );
        const { version, ciphertext } = this.keys.encrypt(str(req.name), plaintext, aad);
        return {
          name: version.name,
          ciphertext,
          ciphertextCrc32c: int64(fault?.kind === 'corrupt' ? crc(ciphertext) ^ 1 : crc(ciphertext)),
          verifiedPlaintextCrc32c: fault?.kind === 'unverified' ? false : verifiedPlaintext,
          verifiedAdditionalAuthenticatedDataCrc32c: verifiedAad,
          protectionLevel: 'SOFTWARE',
        };
      }),
      Decrypt: unary('Decrypt', (req, fault) => {
        const ciphertext = bytes(req.ciphertext);
        const aad = bytes(req.additionalAuthenticatedData);
        checksum(req.ciphertextCrc32c, ciphertext, 'ciphertext_crc32c', 'ciphertext');
        checksum(req.additionalAuthenticatedDataCrc32c, aad, 'additional_authenticated_data_crc32c', 'additional_authenticated_data');
        const { plaintext, usedPrimary } = this.keys.decrypt(str(req.name), ciphertext, aad);
        const sentPlaintext = Buffer.from(plaintext);
        if (fault?.kind === 'corrupt') sentPlaintext[0]! ^= 1;
        return { plaintext: sentPlaintext, plaintextCrc32c: int64(crc(plaintext)), usedPrimary, protectionLevel: 'SOFTWARE' };
      }),
    };
  }

  /** Token endpoints, then the admin API (no auth: loopback, tests only). */
  private async serveHttp(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    if (await this.tokens.handle(req, res, body)) return;
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const json = (code: number, value: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    const input = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
    try {
      if (req.method === 'GET' && url.pathname === '/admin/calls') {
        return json(200, { calls: this.calls, issued: this.tokens.issued, refused: this.tokens.refused });
      }
      if (req.method === 'POST' && url.pathname === '/admin/keys') {
        return json(200, { name: this.createKey(String(input.name), typeof input.purpose === 'string' ? input.purpose : undefined).name });
      }
      if (req.method === 'POST' && url.pathname === '/admin/rotate') {
        return json(200, { primary: this.rotate(String(input.key)).name });
      }
      if (req.method === 'POST' && url.pathname === '/admin/state') {
        return json(200, { name: this.keys.setState(String(input.version), input.state === 'ENABLED' ? 'ENABLED' : 'DISABLED').name });
      }
      if (req.method === 'POST' && url.pathname === '/admin/service-accounts') {
        return json(200, this.tokens.serviceAccountKey(String(input.email)));
      }
    } catch (err) {
      return json(400, { error: (err as Error).message });
    }
    json(404, { error: `no such stand-in endpoint: ${req.method} ${url.pathname}` });
  }
}
