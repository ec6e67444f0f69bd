// One closing line over every suite: "N passed, N failed" (jest tests, go tests, script checks).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
let passed = 0;
let failed = 0;

const jest = join(dir, 'jest.json');
if (existsSync(jest)) {
  const r = JSON.parse(readFileSync(jest, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
} else failed += 1;

const go = join(dir, 'go.json');
if (existsSync(go)) {
  // Count leaf tests only, passed and failed alike: a test with subtests passes or fails with them
  // and is not counted again; a package failing with no failed test (a build error) counts once.
  const results = new Map(); // "package test" -> pass | fail
  const failedPackages = new Set();
  for (const line of readFileSync(go, 'utf8').split('\n')) {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (e.Action !== 'pass' && e.Action !== 'fail') continue;
    if (e.Test) results.set(`${e.Package} ${e.Test}`, e.Action);
    else if (e.Action === 'fail') failedPackages.add(e.Package);
  }
  const keys = [...results.keys()];
  let goFailed = 0;
  for (const [key, action] of results) {
    if (keys.some((k) => k.startsWith(`${key}/`))) continue; // a parent
    if (action === 'pass') passed += 1;
    else goFailed += 1;
  }
  const packagesWithFailures = new Set([...results].filter(([, a]) => a === 'fail').map(([k]) => k.split(' ')[0]));
  for (const pkg of failedPackages) if (!packagesWithFailures.has(pkg)) goFailed += 1;
  // go test failed before it could report a test (a module or build error): one failure.
  const rc = existsSync(join(dir, 'go.rc')) ? readFileSync(join(dir, 'go.rc'), 'utf8').trim() : '1';
  if (rc !== '0' && goFailed === 0) goFailed = 1;
  failed += goFailed;
} else failed += 1;

// Script checks (type check, lint, set-up, demo): one result file each, "ok" or "failed".
for (const check of readdirSync(dir).filter((f) => f.startsWith('check-'))) {
  if (readFileSync(join(dir, check), 'utf8').startsWith('ok')) passed += 1;
  else failed += 1;
}

console.log(`${passed} passed, ${failed} failed`);
