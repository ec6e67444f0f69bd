// Print `go test -json` output as a person reads it: each test's result, and the output of
// failed ones. Exits 1 if any test or package failed.
import { readFileSync } from 'node:fs';

const events = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return { Action: 'output', Output: `${l}\n` };
    }
  });
const output = new Map();
let failed = false;
for (const e of events) {
  const key = `${e.Package} ${e.Test ?? ''}`;
  if (e.Action === 'output') output.set(key, (output.get(key) ?? '') + e.Output);
  if (e.Action === 'pass' && e.Test) console.log(`  ok   ${e.Test} (${e.Elapsed}s)`);
  if (e.Action === 'skip' && e.Test) console.log(`  skip ${e.Test}`);
  if (e.Action === 'fail') {
    failed = true;
    console.log(`  FAIL ${e.Test ?? e.Package}\n${output.get(key) ?? ''}`);
  }
}
process.exit(failed ? 1 : 0);
