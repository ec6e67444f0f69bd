// One closing line over every suite: "N passed, N failed" (jest tests, go tests, the type check).
import { existsSync, readFileSync } from 'node:fs';
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
  for (const line of readFileSync(go, 'utf8').split('\n')) {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (e.Test && e.Action === 'pass') passed += 1;
    if (e.Action === 'fail') failed += 1; // a failed test, or a package that failed to build
  }
} else failed += 1;

for (const check of ['typecheck', 'lint']) {
  if (existsSync(join(dir, check)) && readFileSync(join(dir, check), 'utf8').includes('ok')) passed += 1;
  else failed += 1;
}

console.log(`${passed} passed, ${failed} failed`);
