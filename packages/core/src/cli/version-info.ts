import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version of an installed package, found from the module that depends on it (`from`, its
 * import.meta.url): for `--version`, which names the backend SDK a binary runs on. Read from the
 * package's own package.json, which many packages' export maps do not expose, by walking up from
 * its resolved entry point. "unknown" when it cannot be found.
 */
export function installedVersion(name: string, from: string): string {
  try {
    const entry = createRequire(from).resolve(name);
    return findPackageJson(dirname(entry), name)?.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The version of the package that holds the module at `url` (its own package.json). */
export function ownVersion(url: string): string {
  return findPackageJson(dirname(fileURLToPath(url)))?.version ?? 'unknown';
}

/** The commit core was built from, written into dist by `scripts/write-build-info.mjs`. */
export function buildCommit(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const file of [join(here, '..', 'build-info.json'), join(here, '..', '..', 'build-info.json')]) {
    if (!existsSync(file)) continue;
    try {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { commit?: unknown };
      if (typeof info.commit === 'string') return info.commit;
    } catch {
      // an unreadable build-info says as much as a missing one
    }
  }
  return 'unknown';
}

function findPackageJson(start: string, name?: string): { name?: string; version?: string } | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (name === undefined || pkg.name === name) return pkg;
    }
    if (dirname(dir) === dir) return undefined;
  }
}
