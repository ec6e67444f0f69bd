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
  // Count leaf tests: a failing subtest also fails its parent and its package, which are not
  // counted again; a package failing with no failed test (a build error) counts once.
  const failedTests = new Map(); // package -> test names
  const failedPackages = new Set();
  for (const line of readFileSync(go, 'utf8').split('\n')) {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (e.Test && e.Action === 'pass') passed += 1;
    if (e.Action !== 'fail') continue;
    if (e.Test) failedTests.set(e.Package, [...(failedTests.get(e.Package) ?? []), e.Test]);
    else failedPackages.add(e.Package);
  }
  for (const tests of failedTests.values()) failed += tests.filter((t) => !tests.some((o) => o.startsWith(`${t}/`))).length;
  for (const pkg of failedPackages) if (!failedTests.has(pkg)) failed += 1;
} else failed += 1;

// Script checks (type check, lint, set-up, demo): one result file each, "ok" or "failed".
for (const check of readdirSync(dir).filter((f) => f.startsWith('check-'))) {
  if (readFileSync(join(dir, check), 'utf8').startsWith('ok')) passed += 1;
  else failed += 1;
}

console.log(`${passed} passed, ${failed} failed`);
