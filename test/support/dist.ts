// The one rule for keeping dist/ fresh: every `vitest run` compiles lib/ into dist/ once, before any test
// file loads (vitest globalSetup). Worker threads, the bin and the fixtures that import dist/ then test
// the code of this checkout, never a stale build, and no test has to check timestamps.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function buildDist(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json')], { stdio: 'pipe' });
  } catch (err) {
    // A type error is `npm run typecheck`'s to report; what the tests need is an emitted dist/.
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw err;
  }
}

/** vitest globalSetup entry point. */
export default function setup(): void {
  buildDist();
}
