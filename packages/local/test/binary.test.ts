import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { runBinary, startPluginBinary, waitFor, type RunningPluginBinary } from '@k8s-kms/testkit';
import { describeBinary } from '@k8s-kms/testkit/binary';
import { LOCAL_OPTIONS } from '../src/config.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kms-plugin-local.js');
const isRoot = process.getuid?.() === 0;
const run = (args: string[]) => runBinary(BIN, args);

describeBinary({
  name: 'kms-plugin-local',
  bin: BIN,
  options: LOCAL_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  async start(dir) {
    const keyFile = join(dir, 'local.key');
    expect(run(['init', '--key-file', keyFile]).code).toBe(0);
    return { args: ['--key-file', keyFile] };
  },
});

/**
 * How the binary runs as an unprivileged process would see things: as root (CI), inside a private
 * mount namespace where `dir` is a read-only bind mount, or without the capabilities that let root
 * read any file; as any other user, plainly (permissions then apply).
 */
function restricted(how: 'read-only-dir' | 'no-read-override', dir: string) {
  return (argv: readonly string[]): readonly [string, readonly string[]] => {
    if (!isRoot) return [process.execPath, argv];
    const node = [process.execPath, ...argv].map((a) => `'${a}'`).join(' ');
    const noOverride = ['--bounding-set', '-dac_override,-dac_read_search', '--inh-caps', '-dac_override,-dac_read_search'];
    return how === 'read-only-dir'
      ? ['unshare', ['-m', 'sh', '-c', `mount --bind '${dir}' '${dir}' && mount -o remount,ro,bind '${dir}' && exec ${node}`]]
      : ['setpriv', [...noOverride, process.execPath, ...argv]];
  };
}

describe('kms-plugin-local and its key file', () => {
  let dir: string;
  let keyFile: string;
  const running: RunningPluginBinary[] = [];
  const serve = async (args: string[], command?: ReturnType<typeof restricted>) => {
    const p = await startPluginBinary(BIN, { args, ...(command ? { command } : {}) });
    running.push(p);
    return p;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-kms-local-bin-'));
    keyFile = join(dir, 'k.json');
    expect(run(['init', '--key-file', keyFile]).code).toBe(0);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a key file readable by others, naming the file and the fix', async () => {
    await chmod(keyFile, 0o644);
    const r = run(['--key-file', keyFile, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key file ${keyFile} has mode 0644`);
    expect(r.stderr).toContain('chmod 600');
  });

  it('never serves a new root key for a key file that does not exist: exit 2 naming init, nothing created', async () => {
    const typo = join(dir, 'no-such-dir', 'k.json');
    const r = run(['--key-file', typo, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key file ${typo} does not exist: create it with "kms-plugin-local init --key-file ${typo}"`);
    await expect(stat(dirname(typo))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 's.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates a missing key file only with --create-key-file, and only in a directory that exists', async () => {
    const fresh = join(dir, 'fresh.json');
    const p = await serve(['--key-file', fresh, '--create-key-file']);
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);
    expect(await p.stop()).toBe(0);
    expect(p.output()).toContain('created a new key file with a new root key (--create-key-file)');
    const typo = join(dir, 'typo-dir', 'k.json');
    const r = run(['--key-file', typo, '--create-key-file', '--listen-addr', `unix://${dir}/c.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot create key file ${typo}: its directory ${dirname(typo)} cannot be used (ENOENT)`);
  });

  it('`init` creates a 0600 key file in a new 0700 directory, and never overwrites one', async () => {
    const path = join(dir, 'new', 'dir', 'k.json');
    const first = run(['init', '--key-file', path]);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringContaining(`created key file ${path} (mode 0600) with key version 1`) });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700);
    const again = run(['init', '--key-file', path]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`key file ${path} already exists; it was left as it is`);
  });

  it('starts from an existing key file in a read-only directory', async () => {
    const keys = join(dir, 'ro');
    await mkdir(keys);
    expect(run(['init', '--key-file', join(keys, 'k.json')]).code).toBe(0);
    if (!isRoot) await chmod(keys, 0o500);
    try {
      const p = await serve(['--key-file', join(keys, 'k.json')], restricted('read-only-dir', keys));
      expect((await p.client.status()).healthz).toBe('ok');
      expect(await p.stop()).toBe(0);
    } finally {
      await chmod(keys, 0o700);
    }
  });

  it('names EACCES and the uid when an existing key file cannot be read', async () => {
    await chmod(keyFile, 0o000);
    const argv = [BIN, '--key-file', keyFile, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off'];
    const [command, args] = restricted('no-read-override', dir)(argv);
    const r = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`key file ${keyFile} cannot be read: EACCES (permission denied to uid ${process.getuid?.()})`);
    expect(r.stderr).not.toContain('cannot create key file');
  });

  it('uses a key added by `rotate` from its next refresh, without a restart, and reads older data', async () => {
    const p = await serve(['--key-file', keyFile, '--refresh-interval', '200ms']);
    const first = await p.client.status();
    const old = await p.client.encrypt(Buffer.alloc(32, 7));
    const rotate = run(['rotate', '--key-file', keyFile]);
    expect(rotate.stdout).toBe(`added key version 2 to ${keyFile}\n`);
    const next = await waitFor(async () => {
      const s = await p.client.status();
      return s.keyId !== first.keyId ? s : undefined;
    }, 'a new key_id');
    expect(next.healthz).toBe('ok');
    const fresh = await p.client.encrypt(Buffer.alloc(32, 8));
    expect(fresh.keyId).toBe(next.keyId);
    expect(await p.client.decrypt(old)).toEqual(Buffer.alloc(32, 7));
    expect(p.output()).not.toContain(Buffer.alloc(32, 7).toString('base64'));
  });
});
