// `applepay-verify mint`, spawned as a user runs it: a PKI directory made by --init-pki, tokens the
// verify command accepts with that root and refuses with Apple's, and every --mutate giving its code.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MUTATOR_CODES } from '../../lib/testing/index.js';
import { BIN } from '../support/bin.js';
import { ROOT } from '../support/helpers.js';

let tmp: string;
let pkiDir: string;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function verifyJson(file: string, version: 'EC_v1' | 'RSA_v1', root = true): Record<string, unknown> {
  const m = version === 'EC_v1' ? 'merchant-ec' : 'merchant-rsa';
  const args = ['--json', '--cert', join(pkiDir, `${m}.pem`), '--key', join(pkiDir, `${m}.key.pem`)];
  if (root) args.push('--root', join(pkiDir, 'root.pem'));
  return JSON.parse(run([...args, file]).stdout) as Record<string, unknown>;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'applepay-mint-'));
  pkiDir = join(tmp, 'pki');
  const r = run(['mint', '--init-pki', pkiDir, '--merchant-id', 'merchant.com.example.cli']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toContain('TEST ONLY');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('applepay-verify mint', () => {
  it('--init-pki writes the PKI files and refuses to overwrite them', () => {
    for (const f of ['root.pem', 'merchant-ec.pem', 'merchant-ec.key.pem', 'merchant-rsa.pem', 'merchant-rsa.key.pem', 'manifest.json']) {
      expect(existsSync(join(pkiDir, f))).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(pkiDir, 'manifest.json'), 'utf8')).merchants.ec.identifier).toBe('merchant.com.example.cli');
    const again = run(['mint', '--init-pki', pkiDir]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already holds a PKI/);
  });

  for (const version of ['EC_v1', 'RSA_v1'] as const) {
    it(`${version}: a token the verify command accepts with the test root and refuses with Apple's`, () => {
      const out = join(tmp, `${version}.json`);
      const r = run([
        'mint',
        '--pki',
        pkiDir,
        '--version',
        version,
        '--preset',
        'EMV',
        '--amount',
        '500',
        '--currency',
        '978',
        '--application-data',
        'order-9',
        '--wrapper',
        '--out',
        out,
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${version} token for merchant.com.example.cli`);
      const token = JSON.parse(readFileSync(out, 'utf8'));
      expect(Object.keys(token).sort()).toEqual(['paymentData', 'paymentMethod', 'transactionIdentifier']);
      const ok = verifyJson(out, version);
      expect(ok).toMatchObject({
        ok: true,
        result: { version, payment: { paymentDataType: 'EMV', transactionAmount: 500, currencyCode: '978' } },
      });
      expect(verifyJson(out, version, false)).toMatchObject({ ok: false, code: 'CHAIN_UNTRUSTED' });
    });
  }

  it('writes the token to stdout without --out, with a merchant token preset and a fixed signing time', () => {
    const r = run([
      'mint',
      '--pki',
      pkiDir,
      '--preset',
      'merchantToken',
      '--signing-time',
      '2026-01-02T03:04:05Z',
      '--transaction-id',
      'ABCD'.repeat(16),
    ]);
    expect(r.status, r.stderr).toBe(0);
    const pd = JSON.parse(r.stdout);
    expect(pd.version).toBe('EC_v1');
    expect(pd.header.transactionId).toBe('ABCD'.repeat(16));
    const file = join(tmp, 'stdout.json');
    spawnSync('sh', ['-c', 'cat > "$0"', file], { input: r.stdout });
    const args = [
      '--json',
      '--now',
      '2026-01-02T03:04:30Z',
      '--cert',
      join(pkiDir, 'merchant-ec.pem'),
      '--key',
      join(pkiDir, 'merchant-ec.key.pem'),
      '--root',
      join(pkiDir, 'root.pem'),
      file,
    ];
    expect(JSON.parse(run(args).stdout)).toMatchObject({
      ok: true,
      result: { transactionId: 'abcd'.repeat(16), payment: { merchantTokenIdentifier: expect.any(String) } },
    });
  });

  for (const [name, code] of Object.entries(MUTATOR_CODES)) {
    it(`--mutate ${name}: the verify command refuses it with ${code}`, () => {
      const out = join(tmp, `${name}.json`);
      const r = run(['mint', '--pki', pkiDir, '--mutate', name, '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`refuses it with ${code}`);
      expect(verifyJson(out, 'EC_v1')).toMatchObject({ ok: false, code });
    });
  }

  it('usage errors exit 2 and say what is wrong', () => {
    const cases: [string[], RegExp][] = [
      [['mint'], /--pki DIR/],
      [['mint', '--pki', join(tmp, 'nothing-here')], /cannot read a test PKI/],
      [['mint', '--pki', join(ROOT, 'test-vectors', 'pki')], /not a TEST ONLY PKI/],
      [['mint', '--pki', pkiDir, '--version', 'EC_v2'], /--version/],
      [['mint', '--pki', pkiDir, '--preset', 'cash'], /--preset/],
      [['mint', '--pki', pkiDir, '--amount', '-1'], /--amount/],
      [['mint', '--pki', pkiDir, '--signing-time', 'yesterday'], /--signing-time/],
      [['mint', '--pki', pkiDir, '--mutate', 'nope'], /--mutate/],
      [['mint', '--pki', pkiDir, '--merchant', 'nobody'], /no merchant/],
      [['mint', '--pki', pkiDir, '--bogus'], /bogus/],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it("is in the command's help, and has its own", () => {
    expect(run(['--help']).stdout).toContain('applepay-verify mint --pki DIR');
    const help = run(['mint', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--init-pki DIR');
    for (const name of Object.keys(MUTATOR_CODES)) expect(help.stdout).toContain(name);
  });
});
