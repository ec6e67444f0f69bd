import nodeVault from 'node-vault';
import { raceAbort } from '@k8s-kms/core/kit';

/** How to reach Vault: the address, the namespace header and the TLS settings. */
export interface VaultHttpOptions {
  readonly address: string;
  readonly namespace?: string;
  /** PEM CA bundle that signs the server certificate (default: Node's trust store). */
  readonly ca?: Buffer;
  /** Client certificate and key, for cert auth or a listener that requires one. */
  readonly clientCert?: Buffer;
  readonly clientKey?: Buffer;
  /** The name the server certificate is checked against, and the SNI. */
  readonly serverName?: string;
  readonly skipVerify?: boolean;
  /** Upper bound of one HTTP request, in ms; the caller's signal usually ends it sooner. */
  readonly requestTimeoutMs?: number;
}

/** A failed Vault request: an HTTP answer (status + Vault's `errors`) or a transport error (code). */
export class VaultCallError extends Error {
  override readonly name = 'VaultCallError';
  constructor(
    readonly path: string,
    readonly status: number | undefined,
    readonly errors: readonly string[],
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(status !== undefined ? `HTTP ${status}` : (code ?? 'request failed'), options);
  }
}

type Body = Record<string, unknown>;

/**
 * Vault's HTTP API through node-vault. node-vault builds the requests (namespace header, TLS agent);
 * this class adds what a KMS plugin needs around it: a token passed per call (never node-vault's
 * shared, environment-seeded one), the caller's AbortSignal, and errors reduced to status + Vault's
 * messages, so no request (with its token header) travels in an error.
 */
export class VaultHttp {
  private readonly client: nodeVault.client;
  private readonly timeout: number;

  constructor(readonly opts: VaultHttpOptions) {
    this.timeout = opts.requestTimeoutMs ?? 30_000;
    this.client = nodeVault({
      apiVersion: 'v1',
      endpoint: opts.address,
      // node-vault's default logger (the `debug` package, on with DEBUG=node-vault) prints request
      // bodies: plaintext keys and login credentials. Never.
      debug: () => undefined,
      requestOptions: {
        // Always explicit: node-vault would otherwise turn verification off when VAULT_SKIP_VERIFY is set.
        strictSSL: opts.skipVerify !== true,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.clientCert ? { cert: opts.clientCert } : {}),
        ...(opts.clientKey ? { key: opts.clientKey } : {}),
        // Keep connections open between calls: a TLS handshake per Decrypt would dominate its latency.
        agentOptions: { keepAlive: true, ...(opts.serverName ? { servername: opts.serverName } : {}) },
      },
    });
    // node-vault seeds these from VAULT_TOKEN / VAULT_NAMESPACE / VAULT_PREFIX (an empty option
    // falls through to the variable); the plugin uses only its own flags.
    const seeded = this.client as { token: string; namespace?: string; pathPrefix?: string };
    seeded.token = '';
    seeded.namespace = opts.namespace ?? '';
    seeded.pathPrefix = '';
  }

  /** GET `path` (below /v1/). */
  read(path: string, { token, signal }: { token?: string; signal: AbortSignal }): Promise<Body> {
    return this.send(path, signal, () => this.client.read(path, this.requestOptions(token)));
  }

  /** POST `body` to `path` (below /v1/). */
  write(path: string, body: Body, { token, signal }: { token?: string; signal: AbortSignal }): Promise<Body> {
    return this.send(path, signal, () => this.client.write(path, body, this.requestOptions(token)));
  }

  private requestOptions(token: string | undefined): Record<string, unknown> {
    return { timeout: this.timeout, headers: token ? { 'X-Vault-Token': token } : {} };
  }

  private async send(path: string, signal: AbortSignal, call: () => Promise<unknown>): Promise<Body> {
    try {
      const body = await raceAbort(call(), signal);
      return (body ?? {}) as Body;
    } catch (err) {
      if (signal.aborted && err === signal.reason) throw err;
      throw toCallError(path, err);
    }
  }
}

function toCallError(path: string, err: unknown): VaultCallError {
  const e = err as { response?: { statusCode?: number; body?: { errors?: unknown } }; code?: string };
  if (e.response?.statusCode !== undefined) {
    const errors = Array.isArray(e.response.body?.errors) ? e.response.body.errors.filter((x): x is string => typeof x === 'string') : [];
    return new VaultCallError(path, e.response.statusCode, errors, undefined);
  }
  // A transport error (axios): keep only its code. Its config carries the request headers, token
  // included, so it is not kept as the cause either.
  return new VaultCallError(path, undefined, [], typeof e.code === 'string' ? e.code : undefined);
}
