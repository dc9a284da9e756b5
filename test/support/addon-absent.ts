// A copy of the compiled package with no native addon in it (no build/, no prebuilds/): what a user
// has after `npm install --ignore-scripts` on a platform without a prebuilt binary, or after pnpm 10
// skipped the build. Its dist/ is this repository's, so it is as fresh as the tests' own.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export interface AbsentPackage {
  dir: string;
  bin: string;
  run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
  node(script: string): { status: number | null; stdout: string; stderr: string };
  remove(): void;
}

export function packageWithoutAddon(): AbsentPackage {
  const base = mkdtempSync(join(tmpdir(), 'applepay-verify-noaddon-'));
  const dir = join(base, 'node_modules', 'applepay-verify');
  for (const part of ['package.json', 'dist', 'bin', 'test-vectors/real']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  // Its runtime dependencies (pkijs) from the repository's install.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'junction');
  const bin = join(dir, 'bin', 'applepay-verify.js');
  const opts = { encoding: 'utf8' as const, timeout: 30_000, cwd: base };
  return {
    dir,
    bin,
    run: (args, input) => spawnSync(process.execPath, [bin, ...args], { ...opts, input }),
    node: (script) => spawnSync(process.execPath, ['--input-type=module', '-e', script], opts),
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}
