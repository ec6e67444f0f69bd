// Writes dist/build-info.json: the commit this build came from, for `kms-plugin-* --version` and
// the start-up log line. "unknown" outside a git checkout (or without git), with "-dirty" when the
// tracked files differ from that commit. Run by turbo on every build (its task is not cached).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const git = (...args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
// An image build, which has no .git, passes the commit in K8S_KMS_COMMIT.
let commit = process.env.K8S_KMS_COMMIT || 'unknown';
if (!process.env.K8S_KMS_COMMIT) {
  try {
    commit = git('rev-parse', '--short=12', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '-dirty' : '');
  } catch {
    // not a checkout, or no git: "unknown"
  }
}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', `${JSON.stringify({ commit })}\n`);
