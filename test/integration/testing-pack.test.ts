// applepay-verify/testing as published: `npm pack`, install the tarball into an empty project, import the
// subpath there (runtime and types), and lint the package with publint. Self-contained on purpose: it
// needs nothing from the repository but the tarball, the npm cache/registry, and the repository's
// TypeScript and @types/node for the type check.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'applepay-pack-'));
const consumer = join(work, 'consumer');
const installed = join(consumer, 'node_modules', 'applepay-verify');

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
  });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>): string {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(() => {
  // dist/ is built by npm test's pretest; --ignore-scripts keeps pack from rewriting it under running tests.
  ok(run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], REPO, 120_000));
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack made no tarball');
  rmSync(consumer, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Runs the package's install script (the addon build), as a user's install does.
  ok(run('npm', ['install', join(work, tarball), '--prefer-offline', '--no-audit', '--no-fund'], consumer, 280_000));
}, 420_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it("imports applepay-verify/testing in an empty project: mints tokens its verifier accepts and Apple's root refuses; every mutator gives its code", () => {
    writeFileSync(
      join(consumer, 'check.mjs'),
      `
import { createVerifier } from 'applepay-verify';
import { createTestPki, mintToken, mutators, testVerifierOptions, MUTATOR_CODES, PRESET_NAMES } from 'applepay-verify/testing';
const pki = createTestPki();
const verifier = createVerifier(testVerifierOptions(pki));
const apple = createVerifier({ merchants: testVerifierOptions(pki).merchants });
const out = [];
for (const version of ['EC_v1', 'RSA_v1']) {
  for (const preset of PRESET_NAMES) {
    const minted = mintToken(pki, { version, preset, applicationData: 'order', wrapper: true });
    const result = await verifier.verifyAndDecrypt(minted.token);
    const refused = await apple.verifyAndDecrypt(minted.token).then(() => 'ACCEPTED', (e) => e.code);
    out.push([version, preset, result.payment.paymentDataType, result.transactionId === minted.transactionId, refused]);
  }
  for (const [name, code] of Object.entries(MUTATOR_CODES)) {
    const bad = mutators[name](pki, { version });
    const got = await verifier.verifyAndDecrypt(bad.token).then(() => 'ACCEPTED', (e) => e.code);
    if (got !== code || bad.code !== code) out.push([version, name, got, bad.code, code]);
  }
}
console.log(JSON.stringify(out));
`,
    );
    const rows = JSON.parse(ok(run(process.execPath, ['check.mjs'], consumer, 60_000))) as unknown[][];
    expect(rows).toEqual([
      ['EC_v1', '3DSecure', '3DSecure', true, 'CHAIN_UNTRUSTED'],
      ['EC_v1', 'EMV', 'EMV', true, 'CHAIN_UNTRUSTED'],
      ['EC_v1', 'merchantToken', '3DSecure', true, 'CHAIN_UNTRUSTED'],
      ['RSA_v1', '3DSecure', '3DSecure', true, 'CHAIN_UNTRUSTED'],
      ['RSA_v1', 'EMV', 'EMV', true, 'CHAIN_UNTRUSTED'],
      ['RSA_v1', 'merchantToken', '3DSecure', true, 'CHAIN_UNTRUSTED'],
    ]);
  });

  it('publishes types for the subpath: a correct use type-checks, a wrong one does not', () => {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--typeRoots',
      join(REPO, 'node_modules', '@types'),
      '--types',
      'node',
      '--skipLibCheck',
    ];
    writeFileSync(
      join(consumer, 'good.mts'),
      `
import { createVerifier, type Result } from 'applepay-verify';
import { createTestPki, mintToken, mutators, testVerifierOptions, type MintedToken, type TestPki } from 'applepay-verify/testing';
const pki: TestPki = createTestPki({ merchantIdentifier: 'merchant.com.example.typed' });
const minted: MintedToken = mintToken(pki, { version: 'RSA_v1', preset: 'EMV', amount: 5 });
const code: string = mutators.staleSigningTime(pki).code;
const pending: Promise<Result> = createVerifier(testVerifierOptions(pki)).verifyAndDecrypt(minted.token);
const pem: string = pki.merchants.ec.certificate + code;
void pending; void pem;
`,
    );
    writeFileSync(
      join(consumer, 'bad.mts'),
      `
import { createTestPki, mintToken } from 'applepay-verify/testing';
mintToken(createTestPki(), { version: 'EC_v9', preset: 'cash' });
`,
    );
    // One compiler run for both files: errors in bad.mts only.
    const r = run(process.execPath, [tsc, ...flags, 'good.mts', 'bad.mts'], consumer, 120_000);
    expect(r.status).not.toBe(0);
    const errorFiles = [...r.stdout.matchAll(/^(\S+?)\(\d+,\d+\): error/gm)].map((m) => m[1]);
    expect(errorFiles.length).toBeGreaterThan(0);
    expect(new Set(errorFiles)).toEqual(new Set(['bad.mts']));
    expect(r.stdout).toMatch(/EC_v9/);
  });

  it('publint finds nothing to fix in the published files', () => {
    const publint = join(REPO, 'node_modules', 'publint', 'src', 'cli.js');
    const out = ok(run(process.execPath, [publint, installed, '--pack', 'false', '--strict'], REPO, 60_000));
    expect(out).toMatch(/All good/);
  });
});
