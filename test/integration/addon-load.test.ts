// The package with its addon absent (no build/, no prebuilds/), as users end up after a skipped or
// failed build: importing it and the command's --help, --version and usage errors still work, and the
// first call that needs native code fails with one error naming the machine, what was tried and the fix.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { packageWithoutAddon } from '../support/addon-absent.js';
import { REAL_DIR, ROOT } from '../support/helpers.js';

const pkg = packageWithoutAddon();
afterAll(() => pkg.remove());

const SET = join(REAL_DIR, 'gala-seatgeek-2014');
const verifyArgs = ['--cert', join(SET, 'merchant_cert.pem'), '--key', join(SET, 'merchant_key.TEST-KEY.pem'), join(SET, 'token.json')];
const MACHINE = `platform ${process.platform}, arch ${process.arch}`;

/** Every fix the message must name, whatever the case. */
const FIXES = [
  'npm rebuild applepay-verify',
  'npm install-scripts approve applepay-verify',
  '--ignore-scripts',
  'pnpm approve-builds',
  'onlyBuiltDependencies',
  'bun pm trust applepay-verify',
  'build-essential python3',
  'apk add --no-cache build-base python3',
  'xcode-select --install',
  'Visual Studio Build Tools',
  'RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3',
  'docs/install.md',
];

function expectExplained(text: string): void {
  expect(text).toContain('the native addon could not be loaded');
  expect(text).toContain(MACHINE);
  expect(text).toContain(`N-API ${process.versions.napi}`);
  expect(text).toContain(`ABI ${process.versions.modules}`);
  expect(text).toContain(join(pkg.dir, 'build', 'Release', 'applepay_verify.node'));
  expect(text).toContain(join(pkg.dir, 'prebuilds', `${process.platform}-${process.arch}`));
  for (const fix of FIXES) expect(text).toContain(fix);
}

describe('without the addon', () => {
  test('--help, --version and usage errors need no native code', () => {
    const help = pkg.run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage:/);
    expect(pkg.run(['--version']).stdout).toMatch(/^\d+\.\d+\.\d+/);
    const usage = pkg.run(['--no-such-flag']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--no-such-flag');
    expect(usage.stderr).not.toContain('addon');
    const json = pkg.run(['--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, code: 'USAGE' });
  });

  test('verifying a token: one error that names the machine, what was tried and every fix', () => {
    const r = pkg.run(verifyArgs);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expectExplained(r.stderr);
    const json = pkg.run(['--json', ...verifyArgs]);
    const body = JSON.parse(json.stdout) as { ok: boolean; code: string; message: string };
    expect(body).toMatchObject({ ok: false, code: 'INTERNAL' });
    expectExplained(body.message);
  });

  test('the vectors command stops at the first vector with the same explanation', () => {
    const r = pkg.run(['vectors']);
    expect(r.status).toBe(2);
    expectExplained(r.stderr);
    expect(r.stdout).not.toMatch(/FAIL/);
  });

  test('the API: import works; createVerifier throws an ApplePayError (INTERNAL) that is an AddonLoadError, every time', () => {
    const r = pkg.node(`
      import { readFileSync } from 'node:fs';
      import * as api from 'applepay-verify';
      const merchants = { certificate: readFileSync(${JSON.stringify(join(SET, 'merchant_cert.pem'))}), privateKey: readFileSync(${JSON.stringify(join(SET, 'merchant_key.TEST-KEY.pem'))}) };
      const seen = [];
      for (let i = 0; i < 2; i++) {
        try { api.createVerifier({ merchants }); seen.push('loaded'); }
        catch (e) { seen.push({ name: e.name, code: e.code, addon: e instanceof api.AddonLoadError, apple: api.isApplePayError(e), tried: e.tried.length, libc: e.platform.libc, message: e.message }); }
      }
      console.log(JSON.stringify(seen));`);
    expect(r.stderr).toBe('');
    const seen = JSON.parse(r.stdout) as {
      name: string;
      code: string;
      addon: boolean;
      apple: boolean;
      tried: number;
      libc: string | null;
      message: string;
    }[];
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s).toMatchObject({ name: 'ApplePayError', code: 'INTERNAL', addon: true, apple: true, tried: 2 });
      if (process.platform === 'linux') expect(['glibc', 'musl']).toContain(s.libc);
      expectExplained(s.message);
    }
    expect(seen[1]!.message).toBe(seen[0]!.message);
  });

  test('a prebuild for another libc is skipped and says so; one the system refuses is named with the reason', () => {
    const dir = join(pkg.dir, 'prebuilds', `${process.platform}-${process.arch}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'applepay-verify.musl.node'), 'not a shared object');
    writeFileSync(join(dir, 'applepay-verify.glibc.node'), 'not a shared object');
    const r = pkg.run(verifyArgs);
    expect(r.status).toBe(2);
    if (process.platform === 'linux') {
      const other = detectMusl() ? 'glibc' : 'musl';
      expect(r.stderr).toMatch(new RegExp(`applepay-verify\\.${other}\\.node: skipped: built for ${other}`));
      const mine = detectMusl() ? 'musl' : 'glibc';
      expect(r.stderr).toMatch(new RegExp(`applepay-verify\\.${mine}\\.node: refused: .*(invalid ELF header|too short|file too short)`));
      expect(r.stderr).toContain('the system refused it');
    }
  });
});

test('code copied out of its package (a bundle) is told to mark the package external; the installed package is not', () => {
  const installed = pkg.run(verifyArgs);
  expect(installed.stderr).not.toContain('Mark "applepay-verify" as external');
  // What a bundler leaves: the library's code inside the app's own output, next to the app's package.json.
  const app = mkdtempSync(join(tmpdir(), 'applepay-verify-bundled-'));
  try {
    cpSync(join(pkg.dir, 'dist'), join(app, 'out'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop-backend', type: 'module' }));
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'junction');
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import('./out/index.js').then((m) => m.createVerifier({ merchants: { certificate: 'x', privateKey: 'y' } })).catch((e) => console.log(e.message))`,
      ],
      { cwd: app, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stdout).toContain('the native addon could not be loaded');
    expect(r.stdout).toContain('Mark "applepay-verify" as external');
    expect(r.stdout).toContain('esbuild --external:applepay-verify');
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

function detectMusl(): boolean {
  return (
    process.report?.getReport !== undefined &&
    (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime === undefined
  );
}
