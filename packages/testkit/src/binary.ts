import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { createPluginClient } from '@k8s-kms/core';
import { COMMON_OPTIONS, envName, optionDefs, optionsJsonSchema, type OptionDecls } from '@k8s-kms/core/kit';
import { leaked, waitFor } from './harness.js';
import { runBinary, startPluginBinary, type RunningPluginBinary } from './plugin-binary.js';

/** A `kms-plugin-*` binary under test, against its real backend, emulator or stand-in. */
export interface BinaryTarget {
  /** The binary's name, e.g. "kms-plugin-aws". */
  readonly name: string;
  /** Path of its bin/*.js. */
  readonly bin: string;
  /** Its own option declarations (the common ones are checked too). */
  readonly options: OptionDecls;
  /** Its package README, whose flag table must list every option with its env var and default. */
  readonly readme: string;
  /**
   * The arguments and environment that make it start against its backend, called per process;
   * `dir` is a fresh folder of the suite's (removed at its end) for any file it needs.
   */
  start(dir: string): Promise<{ readonly args: readonly string[]; readonly env?: Readonly<Record<string, string | undefined>> }>;
  /** Credentials it was given, which must never appear in what it prints. */
  secrets?(): readonly string[];
  /** Values of its own options that must be refused at start (exit 2, naming the flag), beyond generated ones. */
  readonly badValues?: readonly (readonly [flag: string, value: string])[];
}

/**
 * What every k8s-kms binary must do, checked the same way for each (as `describeConformance`
 * checks every provider): --help lists every flag; --version and config-schema answer; every bad
 * flag (unknown, a bad value, a missing required one) exits 2 naming it without a stack trace;
 * KMS v2 and v1beta1 are served; each option resolves flag → env → config file → default;
 * SIGTERM under load drains, exits 0 and removes the socket; stdout and stderr carry only JSON log
 * lines and never a secret or a plaintext. Call it from a backend's test/binary.test.ts.
 */
export function describeBinary(target: BinaryTarget): void {
  describe(`the ${target.name} binary (shared binary suite)`, () => {
    const own = optionDefs(target.options);
    const all = optionDefs({ ...COMMON_OPTIONS, ...target.options });
    const printed: string[] = [];
    /** Output of the processes that served: JSON log lines only. */
    const served: string[] = [];
    const plaintexts: Buffer[] = [];
    let dir: string;
    const run = (args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}) => {
      const r = runBinary(target.bin, args, env);
      printed.push(r.stdout, r.stderr);
      return r;
    };
    let n = 0;
    const startArgs = async () => {
      const own = join(dir, `start-${++n}`);
      await mkdir(own);
      return target.start(own);
    };
    const serve = async (extraArgs: readonly string[] = [], extraEnv: Readonly<Record<string, string | undefined>> = {}) => {
      const { args, env } = await startArgs();
      return startPluginBinary(target.bin, { args: [...args, ...extraArgs], env: { ...env, ...extraEnv } });
    };
    const finish = async (p: RunningPluginBinary) => {
      const code = await p.stop();
      printed.push(p.output());
      served.push(p.output());
      return code;
    };
    const fresh = () => {
      const p = randomBytes(32);
      plaintexts.push(p);
      return p;
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'k8s-kms-binary-suite-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
      const text = printed.join('\n');
      expect(leaked(text, plaintexts)).toEqual([]);
      expect(leaked(text, target.secrets?.() ?? [])).toEqual([]);
    });

    it('lists every flag in --help, with the env var convention and the exit codes', () => {
      const help = run(['--help']);
      expect(help.code).toBe(0);
      for (const def of all) expect([def.name, help.stdout.includes(`--${def.name}`)]).toEqual([def.name, true]);
      expect(help.stdout).toContain(envName('listen-addr'));
      expect(help.stdout).toContain('2 for a configuration error');
    });

    it('prints its version, commit, core, SDK and Node.js versions', () => {
      const r = run(['--version']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(
        new RegExp(`^${target.name} \\d+\\.\\d+\\.\\d+ \\(commit ([0-9a-f]{12}(-dirty)?|unknown); @k8s-kms/core `),
      );
      expect(r.stdout).toContain(`node ${process.version}`);
    });

    it('prints the JSON Schema of its config file: every option, and nothing else allowed', () => {
      const r = run(['config-schema']);
      expect(r.code).toBe(0);
      const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown>; additionalProperties: boolean };
      expect(Object.keys(schema.properties).sort()).toEqual(all.map((d) => d.name).sort());
      expect(schema.additionalProperties).toBe(false);
      expect(schema).toEqual(optionsJsonSchema({ ...COMMON_OPTIONS, ...target.options }, `${target.name} options`));
    });

    it('documents each of its options in its README with the env var and the default', () => {
      const readme = readFileSync(target.readme, 'utf8').split('\n');
      for (const def of own) {
        const row = readme.find((line) => line.startsWith(`| \`--${def.name}`)) ?? `(no row for --${def.name})`;
        expect(row).toContain(`\`${envName(def.name)}\``);
        if (def.default) expect(row).toContain(`\`${def.default}\``);
      }
    });

    it('refuses an unknown flag, and a flag without its value, with exit 2 and no stack trace', () => {
      for (const args of [['--no-such-flag'], [`--${own.find((d) => d.value)?.name ?? 'listen-addr'}`]]) {
        const r = run(args);
        expect([args, r.code]).toEqual([args, 2]);
        expect(r.stderr).toMatch(/unknown option '--no-such-flag'|argument missing/);
        expect(r.stderr).not.toContain('    at ');
      }
    });

    it('refuses each missing required option and each bad value at start with exit 2, naming the flag', async () => {
      const { args, env } = await startArgs();
      const without = (flag: string): string[] => {
        const out: string[] = [];
        for (let i = 0; i < args.length; i++) {
          if (args[i] === `--${flag}`) i += 1;
          else out.push(args[i] ?? '');
        }
        return out;
      };
      const base = ['--listen-addr', `unix://${dir}/refused.sock`, '--health-addr', 'off'];
      const cases: (readonly [string, readonly string[]])[] = [
        ...own.filter((d) => d.required).map((d) => [d.name, [...base, ...without(d.name)]] as const),
        ...generatedBadValues(target.options).map(([flag, value]) => [flag, [...base, ...args, `--${flag}`, value]] as const),
        ...(target.badValues ?? []).map(([flag, value]) => [flag, [...base, ...args, `--${flag}`, value]] as const),
        ['kek-max-age', [...base, ...args, '--kek-max-age', 'forever']],
        ['socket-mode', [...base, ...args, '--socket-mode', '0666']],
      ];
      for (const [flag, argv] of cases) {
        const r = run(argv, { ...env, ...(own.find((d) => d.name === flag)?.required ? { [envName(flag)]: '' } : {}) });
        expect([flag, r.code]).toEqual([flag, 2]);
        expect([flag, r.stderr.includes(`--${flag}`)]).toEqual([flag, true]);
        expect(r.stderr).not.toContain('    at ');
      }
    });

    it('serves KMS v2 and v1beta1 against its backend', async () => {
      const p = await serve();
      try {
        const s = await p.client.status();
        expect(s).toMatchObject({
          version: 'v2',
          healthz: 'ok',
          keyId: expect.stringMatching(/^[a-z0-9-]+:[A-Za-z0-9_-]{32}$/) as unknown as string,
        });
        const seed = fresh();
        const enc = await p.client.encrypt(seed, 'binary-suite');
        expect(enc.keyId).toBe(s.keyId);
        expect(await p.client.decrypt(enc)).toEqual(seed);
        const dek = fresh();
        expect(await p.client.v1Decrypt(await p.client.v1Encrypt(dek))).toEqual(dek);
        expect((await p.client.v1Version()).runtimeName).toMatch(/^k8s-kms-/);
      } finally {
        expect(await finish(p)).toBe(0);
      }
    });

    it('resolves options from the command line, then the environment, then the config file, then the default', async () => {
      const config = join(dir, 'precedence.json');
      await writeFile(config, JSON.stringify({ 'status-version': 'v2beta1', 'socket-mode': '0660', 'kek-mode': 'direct' }));
      const { args, env } = await startArgs();
      // --socket-mode: flag (0640) beats env (0620) beats file (0660); --kek-mode: env (local) beats
      // file (direct); --status-version: file (v2beta1) beats the default (v2).
      const p = await startPluginBinary(target.bin, {
        args: [...args, '--config', config, '--socket-mode', '0640'],
        env: { ...env, [envName('socket-mode')]: '0620', [envName('kek-mode')]: 'local' },
      });
      try {
        expect((await stat(p.socketPath)).mode & 0o777).toBe(0o640);
        expect((await p.client.status()).version).toBe('v2beta1');
        const enc = await p.client.encrypt(fresh());
        expect(Object.keys(enc.annotations)).toHaveLength(1); // local KEK mode, not direct
      } finally {
        expect(await finish(p)).toBe(0);
      }
    });

    it('drains calls in flight on SIGTERM, exits 0 and removes its socket', async () => {
      const p = await serve();
      const load = createPluginClient(p.socketAddress, { timeoutMs: 10_000 });
      try {
        const seed = fresh();
        const enc = await p.client.encrypt(seed);
        let answered = 0;
        const failures: number[] = [];
        const wrong: number[] = [];
        const loops = Array.from({ length: 16 }, async () => {
          for (;;) {
            try {
              if (!(await load.decrypt(enc)).equals(seed)) wrong.push(answered);
              answered += 1;
            } catch (err) {
              // After SIGTERM the server takes no new calls: UNAVAILABLE, never INTERNAL.
              failures.push((err as { code?: number }).code ?? -1);
              return;
            }
          }
        });
        await waitFor(async () => (answered >= 50 || failures.length > 0 ? true : undefined), 'calls under load');
        expect(failures).toEqual([]); // nothing failed before the signal
        p.proc.signal('SIGTERM');
        expect(await p.proc.waitForExit()).toBe(0);
        await Promise.all(loops);
        expect(wrong).toEqual([]);
        expect(failures.filter((c) => c !== Number(status.UNAVAILABLE))).toEqual([]);
        await expect(stat(p.socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
      } finally {
        load.close();
        await finish(p);
      }
    });

    it('prints nothing but JSON log lines while it serves, with level names and ISO times', () => {
      const lines = served
        .join('\n')
        .split('\n')
        .filter((l) => l.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const record = JSON.parse(line) as { level?: unknown; time?: unknown };
        expect(record.level).toMatch(/^(trace|debug|info|warn|error|fatal)$/);
        expect(record.time).toMatch(/^\d{4}-\d\d-\d\dT/);
      }
    });
  });
}

/** A value each typed option must refuse: not a choice, not a number, not a duration, not its pattern. */
function generatedBadValues(options: OptionDecls): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, spec] of Object.entries(options)) {
    if (!spec.value) continue;
    const schema = optionsJsonSchema({ [name]: spec }, name).properties as Record<
      string,
      { type?: string; enum?: unknown; pattern?: string; format?: string; items?: { pattern?: string } }
    >;
    const shape = schema[name];
    if (shape?.enum) out.push([name, 'not-one-of-the-choices']);
    else if (shape?.type === 'integer' || shape?.type === 'number') out.push([name, 'many']);
    else if (shape?.pattern || shape?.format || shape?.items?.pattern) out.push([name, 'a value with spaces / and slashes']);
  }
  return out;
}
