#!/usr/bin/env node
// The npm library face, checked as a consumer meets it: every publishable package is packed; the
// tarballs are linted (publint, arethetypeswrong) and their contents listed (no tests, no sources
// but declarations, no key material; sizes printed); then they are installed, with no workspace
// link, into a scratch project outside the repository that pins a neighbouring AWS SDK release,
// where `npm ls` must show one copy of core and of the SDK; the two library examples of
// packages/core/README.md are type-checked there (strict, NodeNext) and run, the AWS one
// against moto. Prints the install size of core + one backend. Exits non-zero on any problem.
//
// Usage: node scripts/check-packages.mjs [--keep]   (moto_server on PATH: scripts/setup-test-tools.sh)
import { execFileSync, spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** What a consumer pins next to ours: a neighbouring release of the AWS SDK. */
const NEIGHBOUR_SDK = { '@aws-sdk/client-kms': '3.1163.0' };
/** The scratch project's own tools, pinned. */
const TOOLS = { typescript: '5.9.3', '@types/node': '20.19.43' };

const problems = [];
const problem = (text) => {
  problems.push(text);
  console.log(`  PROBLEM: ${text}`);
};
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const work = mkdtempSync(join(tmpdir(), 'k8s-kms-packages-'));
try {
  // 1. Pack.
  const publishable = readdirSync(join(REPO, 'packages'))
    .map((name) => ({ name, dir: join(REPO, 'packages', name) }))
    .filter(({ dir }) => {
      try {
        return !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private;
      } catch {
        return false;
      }
    });
  const tarballs = {};
  console.log('== pack');
  for (const { dir } of publishable) {
    const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: dir }));
    tarballs[info.name] = join(work, info.filename);
    const files = info.files.map((f) => f.path);
    console.log(`${info.name}: ${info.filename}, ${kib(info.size)} packed, ${kib(info.unpackedSize)} unpacked, ${files.length} files`);
    for (const required of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts']) {
      if (!files.includes(required)) problem(`${info.name}: ${required} missing from the tarball`);
    }
    for (const f of files) {
      if (/(^|\/)(test|tests|__tests__)\//.test(f) || /\.test\.[jt]s$/.test(f)) problem(`${info.name}: ships a test file ${f}`);
      if (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) problem(`${info.name}: ships a source file ${f}`);
      if (/\.(pem|key|p12|pfx)$|(^|\/)\.env|credentials|service-account/i.test(f))
        problem(`${info.name}: ships ${f}, which looks like key material`);
    }
    const maps = files.filter((f) => f.endsWith('.js.map'));
    for (const f of maps) {
      const map = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      if (!map.sourcesContent || map.sourcesContent.some((c) => typeof c !== 'string'))
        problem(`${info.name}: ${f} points at sources it does not ship`);
    }
  }

  // 2. Lint the tarballs.
  console.log('== publint and arethetypeswrong');
  for (const [name, tarball] of Object.entries(tarballs)) {
    try {
      const out = run('npx', ['--no-install', 'publint', 'run', tarball, '--strict', '--level', 'warning'], { cwd: REPO });
      console.log(`${name}: publint ${out.trim().split('\n').at(-1)}`);
    } catch (err) {
      problem(`${name}: publint: ${(err.stdout || err.message).trim()}`);
    }
    try {
      // ESM only, by design ("type": "module", Node >= 20.11): the esm-only profile skips the CJS resolutions.
      run('npx', ['--no-install', 'attw', tarball, '--profile', 'esm-only', '--format', 'ascii'], { cwd: REPO });
      console.log(`${name}: arethetypeswrong: no problems`);
    } catch (err) {
      problem(`${name}: arethetypeswrong: ${(err.stdout || err.message).trim()}`);
    }
  }

  // 3. A scratch project outside the repository, from the tarballs alone.
  console.log('== install the tarballs into a scratch project');
  const app = join(work, 'app');
  run('mkdir', ['-p', app]);
  const deps = Object.fromEntries(
    Object.entries(tarballs)
      .filter(([name]) => name !== '@k8s-kms/testkit')
      .map(([name, file]) => [name, `file:${file}`]),
  );
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      { name: 'scratch-consumer', private: true, type: 'module', dependencies: { ...deps, ...NEIGHBOUR_SDK, ...TOOLS } },
      null,
      2,
    ),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel', 'error'], {
    cwd: app,
    env: { ...process.env, npm_config_workspaces: 'false' },
  });
  const tree = JSON.parse(run('npm', ['ls', '--all', '--json', '--long'], { cwd: app }));
  const copies = new Map();
  const walk = (node) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.path) {
        const seen = copies.get(name) ?? new Map();
        seen.set(child.path, child.version);
        copies.set(name, seen);
      }
      walk(child);
    }
  };
  walk(tree);
  for (const name of ['@k8s-kms/core', '@aws-sdk/client-kms', '@google-cloud/kms', 'google-gax', '@grpc/grpc-js', 'zod']) {
    const seen = copies.get(name);
    const versions = seen ? [...new Set(seen.values())] : [];
    console.log(`${name}: ${seen?.size ?? 0} cop${seen?.size === 1 ? 'y' : 'ies'} (${versions.join(', ') || 'none'})`);
    if (seen?.size !== 1) problem(`${name}: ${seen?.size ?? 0} copies in the consumer's tree, not one`);
  }
  if (
    copies.get('@aws-sdk/client-kms') &&
    ![...copies.get('@aws-sdk/client-kms').values()].includes(NEIGHBOUR_SDK['@aws-sdk/client-kms'])
  ) {
    problem('the consumer pinned @aws-sdk/client-kms, but another version was installed');
  }
  for (const path of [...(copies.get('@k8s-kms/core')?.keys() ?? [])]) {
    if (lstatSync(path).isSymbolicLink() || !relative(REPO, path).startsWith('..'))
      problem(`@k8s-kms/core at ${path} is a link into the workspace`);
  }

  // Install size of core + one backend: every package in their dependency closure, counted once.
  const closure = new Map();
  const collect = (node) => {
    for (const child of Object.values(node.dependencies ?? {})) {
      if (child.path && !closure.has(child.path)) {
        closure.set(child.path, true);
        collect(child);
      }
    }
  };
  for (const root of ['@k8s-kms/core', '@k8s-kms/aws']) {
    const node = tree.dependencies?.[root];
    if (node?.path) {
      closure.set(node.path, true);
      collect(node);
    }
  }
  const du = (path) => {
    let total = 0;
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue; // nested packages are counted as packages of the closure
      const p = join(path, entry.name);
      total += entry.isDirectory() ? du(p) : statSync(p).size;
    }
    return total;
  };
  const size = [...closure.keys()].reduce((sum, p) => sum + du(p), 0);
  console.log(`install size of @k8s-kms/core + @k8s-kms/aws: ${mib(size)} in ${closure.size} packages`);

  // 4. The README's library examples, type-checked strictly and run.
  console.log('== the README library examples, from the tarballs');
  const readme = readFileSync(join(REPO, 'packages/core/README.md'), 'utf8');
  const examples = [...readme.matchAll(/```ts\n\/\/ example: ([\w.-]+\.ts)\n([\s\S]*?)```/g)].map((m) => ({ file: m[1], code: m[2] }));
  if (examples.length !== 2) problem(`packages/core/README.md has ${examples.length} marked examples, not 2`);
  for (const { file, code } of examples) writeFileSync(join(app, file), code);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        verbatimModuleSyntax: true,
        skipLibCheck: false,
        outDir: 'out',
        types: ['node'],
      },
      include: examples.map((e) => e.file),
    }),
  );
  try {
    run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: app });
    console.log(
      `type-check: ${examples.map((e) => e.file).join(', ')} pass (strict, NodeNext, exactOptionalPropertyTypes, skipLibCheck off)`,
    );
  } catch (err) {
    problem(`type-check of the README examples: ${(err.stdout || err.message).trim()}`);
  }
  const moto = await startMoto();
  try {
    const alias = 'alias/k8s-secrets';
    const kms = (target, body) =>
      fetch(moto.url, {
        method: 'POST',
        headers: {
          'x-amz-target': `TrentService.${target}`,
          'content-type': 'application/x-amz-json-1.1',
          authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=00',
        },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    const created = await kms('CreateKey', {});
    await kms('CreateAlias', { AliasName: alias, TargetKeyId: created.KeyMetadata.KeyId });
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example', AWS_ENDPOINT_URL_KMS: moto.url };
    delete env.AWS_PROFILE;
    for (const { file } of examples) {
      try {
        // The plugin server logs JSON lines on stdout too: the example's own line is the one that counts.
        const out = run(process.execPath, [join('out', file.replace(/\.ts$/, '.js'))], { cwd: app, env, timeout: 60_000 });
        const result = out.split('\n').find((l) => !l.startsWith('{')) ?? '(nothing)';
        console.log(`${file}: ${result}`);
        if (!result.startsWith('round trip ok')) problem(`${file} printed "${result}"`);
      } catch (err) {
        problem(`${file} failed: ${(err.stderr || err.message).trim().split('\n').slice(0, 8).join('\n')}`);
      }
    }
  } finally {
    moto.stop();
  }

  // 5. What a release would publish (dry run: nothing leaves this machine).
  console.log('== npm publish --dry-run');
  for (const [name, tarball] of Object.entries(tarballs)) {
    try {
      run('npm', ['publish', '--dry-run', '--access', 'public', tarball], { cwd: work });
      console.log(`${name}: publish dry run ok`);
    } catch (err) {
      problem(`${name}: npm publish --dry-run: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' ')}`);
    }
  }
} finally {
  if (!process.argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
console.log(problems.length === 0 ? 'packages: no problems' : `packages: ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);

/** moto_server on a free loopback port, until stop(). */
async function startMoto() {
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const failed = new Promise((_, reject) =>
    child.once('error', () => reject(new Error('moto_server is not installed (run scripts/setup-test-tools.sh)'))),
  );
  for (let i = 0; ; i++) {
    const up = await Promise.race([
      fetch(`${url}/moto-api/`).then(
        () => true,
        () => false,
      ),
      failed,
    ]);
    if (up) break;
    if (i > 100) throw new Error('moto_server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop: () => child.kill('SIGTERM') };
}
