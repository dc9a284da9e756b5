// The applepay-verify command, spawned as a user runs it: node bin/applepay-verify.js (which loads dist/).
// Asserts the scripted interface (exit status, the one --json object) and that no secret is printed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERROR_CODES } from '../../lib/index.js';
import { BIN } from '../support/bin.js';
import { REAL_APPLE_SETS, REAL_DIR, ROOT, loadRealSet, mint, pki } from '../support/helpers.js';

const PKI = join(ROOT, 'test-vectors', 'pki');
const SIGNED = new Date('2025-03-01T12:00:00Z');
const NOW = '2025-03-01T12:00:05Z';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Everything the command printed in this file, to look for secrets at the end. */
const printed: string[] = [];

function run(args: string[], input?: string, env?: Record<string, string>): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  printed.push(r.stdout, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** --json mode prints exactly one JSON object, on one line, and nothing else on stdout. */
function json(r: Run): Record<string, unknown> {
  expect(r.stdout.endsWith('\n')).toBe(true);
  expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
  const value = JSON.parse(r.stdout) as unknown;
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

let tmp: string;
const file = (name: string, content: string): string => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};
const ec = ['--cert', join(PKI, 'merchant-ec.pem'), '--key', join(PKI, 'merchant-ec.key.pem')];
const testRoot = ['--root', join(PKI, 'root.pem'), '--now', NOW];

let ecToken: string;
let ecTokenText: string;
let rotatedToken: string;
let rsaToken: string;
let emvToken: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'applepay-cli-'));
  ecTokenText = JSON.stringify(mint({ version: 'EC_v1', signingTime: SIGNED }).paymentData);
  ecToken = file('ec.json', ecTokenText);
  rotatedToken = file('rotated.json', JSON.stringify(mint({ version: 'EC_v1', signingTime: SIGNED, merchant: 'ecRotated' }).paymentData));
  rsaToken = file('rsa.json', JSON.stringify(mint({ version: 'RSA_v1', signingTime: SIGNED }).paymentData));
  emvToken = file(
    'emv.json',
    JSON.stringify(
      mint({
        version: 'EC_v1',
        signingTime: SIGNED,
        payment: {
          applicationPrimaryAccountNumber: '5413330089010012',
          applicationExpirationDate: '301130',
          currencyCode: '978',
          transactionAmount: 4250,
          cardholderName: 'Jane Appleseed',
          deviceManufacturerIdentifier: '050110030273',
          paymentDataType: 'EMV',
          paymentData: { emvData: 'nyYIw6Gy1OX2Bwg=', encryptedPINData: '8c1ab1c3d9a0ef61' },
        },
      }).paymentData,
    ),
  );
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('verifying a token', () => {
  test('a valid token: exit 0 and a readable summary on stdout', () => {
    const r = run([...ec, ...testRoot, ecToken]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^verified\n/);
    expect(r.stdout).toContain('EC_v1');
    expect(r.stdout).toContain('2025-03-01T12:00:00.000Z');
    expect(r.stderr).toBe('');
  });

  test('a rejected token: exit 1, the code on stderr, nothing on stdout', () => {
    // Against the bundled Apple root the test PKI's chain is foreign.
    const r = run([...ec, '--now', NOW, ecToken]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('CHAIN_UNTRUSTED');
  });

  test('the token from stdin with "-"', () => {
    const r = run([...ec, ...testRoot, '--json', '-'], ecTokenText);
    expect(r.status).toBe(0);
    expect(json(r)).toMatchObject({ ok: true, result: { version: 'EC_v1' } });
  });

  test('--merchant-id with --key, in place of --cert', () => {
    const r = run([
      '--merchant-id',
      pki().merchants.ec.identifier,
      '--key',
      join(PKI, 'merchant-ec.key.pem'),
      ...testRoot,
      '--json',
      ecToken,
    ]);
    expect(r.status).toBe(0);
    expect(json(r)).toMatchObject({ ok: true });
  });

  test('two --cert/--key pairs (key rotation): the token picks its key by publicKeyHash', () => {
    const rotated = ['--cert', join(PKI, 'merchant-ec-rotated.pem'), '--key', join(PKI, 'merchant-ec-rotated.key.pem')];
    for (const token of [rotatedToken, ecToken]) {
      const r = run([...ec, ...rotated, ...testRoot, '--json', token]);
      expect(r.status).toBe(0);
      expect(json(r)).toMatchObject({ ok: true });
    }
    const missing = run([...ec, ...testRoot, '--json', rotatedToken]);
    expect(missing.status).toBe(1);
    expect(json(missing)).toEqual({ ok: false, code: 'MERCHANT_KEY_NOT_FOUND', message: expect.any(String), details: expect.any(Object) });
  });

  test('an RSA_v1 token with the RSA merchant among two pairs', () => {
    const rsa = ['--cert', join(PKI, 'merchant-rsa.pem'), '--key', join(PKI, 'merchant-rsa.key.pem')];
    const r = run([...ec, ...rsa, ...testRoot, '--json', rsaToken]);
    expect(r.status).toBe(0);
    expect(json(r)).toMatchObject({ ok: true, result: { version: 'RSA_v1' } });
  });

  test('a PKCS#12 key with its passphrase, and without one (no --cert: the certificate comes from the file)', () => {
    const withPass = run(['--key', join(PKI, 'merchant-ec.p12'), '--passphrase', 'test-passphrase', ...testRoot, '--json', ecToken]);
    expect(withPass.status).toBe(0);
    expect(json(withPass)).toMatchObject({ ok: true });
    const noPass = run(['--key', join(PKI, 'merchant-ec.nopass.p12'), ...testRoot, '--json', ecToken]);
    expect(noPass.status).toBe(0);
    expect(json(noPass)).toMatchObject({ ok: true });
    const emptyPass = run(['--key', join(PKI, 'merchant-ec.nopass.p12'), '--passphrase', '', ...testRoot, '--json', ecToken]);
    expect(emptyPass.status).toBe(0);
    expect(json(emptyPass)).toMatchObject({ ok: true });
  });

  test('--passphrase-env reads the PKCS#12 passphrase from the environment', () => {
    const args = ['--key', join(PKI, 'merchant-ec.p12'), '--passphrase-env', 'P12_PASS', ...testRoot, '--json', ecToken];
    expect(run(args, undefined, { P12_PASS: 'test-passphrase' }).status).toBe(0);
    const wrong = run(args, undefined, { P12_PASS: 'wrong' });
    expect(wrong.status).toBe(2);
    expect(json(wrong)).toMatchObject({ ok: false, code: 'MERCHANT_KEY_INVALID' });
    // An unset variable is a usage error, not an empty passphrase.
    const unset = run([
      '--key',
      join(PKI, 'merchant-ec.p12'),
      '--passphrase-env',
      'APPLEPAY_VERIFY_UNSET_VARIABLE',
      ...testRoot,
      '--json',
      ecToken,
    ]);
    expect(unset.status).toBe(2);
    expect(json(unset)).toMatchObject({ ok: false, code: 'USAGE' });
  });

  test('--verbose prints the time of each step on stderr, for success and rejection', () => {
    const ok = run([...ec, ...testRoot, '--verbose', '--json', ecToken]);
    expect(ok.status).toBe(0);
    expect(json(ok)).toMatchObject({ ok: true });
    expect(ok.stderr).toMatch(
      /^applepay-verify: OK in [\d.]+ ms \(parse [\d.]+ ms, chain [\d.]+ ms, signature [\d.]+ ms, decrypt [\d.]+ ms, payment [\d.]+ ms\)\n$/,
    );
    const rejected = run([...ec, '--root', join(PKI, 'root.pem'), '--now', '2030-01-01T00:00:00Z', '--verbose', ecToken]);
    expect(rejected.status).toBe(1);
    expect(rejected.stderr).toMatch(
      /applepay-verify: SIGNING_TIME_TOO_OLD in [\d.]+ ms \(parse [\d.]+ ms, chain [\d.]+ ms, signature [\d.]+ ms\)/,
    );
  });

  test('--max-age widens the signing-time window', () => {
    const late = ['--now', '2025-03-01T12:06:40Z'];
    const tooOld = run([...ec, '--root', join(PKI, 'root.pem'), ...late, '--json', ecToken]);
    expect(tooOld.status).toBe(1);
    expect(json(tooOld)).toMatchObject({ ok: false, code: 'SIGNING_TIME_TOO_OLD' });
    const ok = run([...ec, '--root', join(PKI, 'root.pem'), ...late, '--max-age', '600', '--json', ecToken]);
    expect(ok.status).toBe(0);
  });
});

describe('--json output', () => {
  test('success with --reveal: {"ok":true,"result":{...}} with the Result fields, signingTime in ISO 8601 and the payment in full', () => {
    const r = run([...ec, ...testRoot, '--json', '--reveal', ecToken]);
    expect(r.status).toBe(0);
    const out = json(r);
    expect(Object.keys(out).sort()).toEqual(['ok', 'result']);
    const result = out.result as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual([
      'masked',
      'merchantIdentifierHash',
      'payment',
      'publicKeyHash',
      'signingTime',
      'transactionId',
      'version',
    ]);
    const token = JSON.parse(ecTokenText) as { header: { transactionId: string; publicKeyHash: string } };
    expect(result).toEqual({
      version: 'EC_v1',
      transactionId: token.header.transactionId,
      signingTime: '2025-03-01T12:00:00.000Z',
      merchantIdentifierHash: pki().merchants.ec.identifierHash.toString('hex'),
      publicKeyHash: token.header.publicKeyHash,
      payment: {
        applicationPrimaryAccountNumber: '4111111111111111',
        applicationExpirationDate: '311231',
        currencyCode: '840',
        transactionAmount: 1999,
        deviceManufacturerIdentifier: '040010030273',
        paymentDataType: '3DSecure',
        paymentData: { onlinePaymentCryptogram: 'AOA3rpYAAAAAAAAAAAAAAAAAAAA=', eciIndicator: '7' },
      },
      masked: false,
    });
    expect(r.stderr).toBe('');
  });

  test('without --reveal the PAN is masked and the cryptogram, EMV data, PIN block and cardholder name are null', () => {
    const r = run([...ec, ...testRoot, '--json', ecToken]);
    expect(r.status).toBe(0);
    const result = json(r).result as Record<string, unknown>;
    expect(result.masked).toBe(true);
    expect(result.payment).toEqual({
      applicationPrimaryAccountNumber: '************1111',
      applicationExpirationDate: '311231',
      currencyCode: '840',
      transactionAmount: 1999,
      deviceManufacturerIdentifier: '040010030273',
      paymentDataType: '3DSecure',
      paymentData: { onlinePaymentCryptogram: null, eciIndicator: '7' },
    });
    expect(r.stdout).not.toContain('4111111111111111');
    expect(r.stdout).not.toContain('AOA3rpYAAAAAAAAAAAAAAAAAAAA=');
    const emv = run([...ec, ...testRoot, '--json', emvToken]);
    const payment = (json(emv).result as { payment: Record<string, unknown> }).payment;
    expect(payment).toMatchObject({
      applicationPrimaryAccountNumber: '************0012',
      cardholderName: null,
      paymentDataType: 'EMV',
      paymentData: { emvData: null, encryptedPINData: null },
    });
    for (const secret of ['5413330089010012', 'Jane Appleseed', 'nyYIw6Gy1OX2Bwg=', '8c1ab1c3d9a0ef61'])
      expect(emv.stdout).not.toContain(secret);
    const revealed = run([...ec, ...testRoot, '--json', '--reveal', emvToken]);
    expect(revealed.stdout).toContain('5413330089010012');
    expect(revealed.stdout).toContain('Jane Appleseed');
  });

  test('rejection: {"ok":false,"code","message","details"} and exit 1', () => {
    const r = run([...ec, '--now', '2025-03-01T11:58:00Z', '--root', join(PKI, 'root.pem'), '--json', ecToken]);
    expect(r.status).toBe(1);
    const out = json(r);
    expect(Object.keys(out).sort()).toEqual(['code', 'details', 'message', 'ok']);
    expect(out).toMatchObject({ ok: false, code: 'SIGNING_TIME_IN_FUTURE', details: { signingTime: '2025-03-01T12:00:00.000Z' } });
    expect(typeof out.message).toBe('string');
    const chain = json(run([...ec, '--now', NOW, '--json', ecToken]));
    expect(chain).toMatchObject({ ok: false, code: 'CHAIN_UNTRUSTED', details: expect.any(Object) });
  });

  test('an expired token names its signing time and the --now that verifies it', () => {
    const r = run([...ec, '--root', join(PKI, 'root.pem'), '--now', '2025-03-01T12:30:00Z', ecToken]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SIGNING_TIME_TOO_OLD');
    expect(r.stderr).toContain('signed at 2025-03-01T12:00:00.000Z');
    expect(r.stderr).toContain('checked at --now 2025-03-01T12:30:00Z');
    expect(r.stderr).toContain('--now 2025-03-01T12:00:05.000Z');
    expect(r.stderr).toContain('--max-age');
    // The --now it suggests does verify the token.
    expect(run([...ec, '--root', join(PKI, 'root.pem'), '--now', '2025-03-01T12:00:05.000Z', ecToken]).status).toBe(0);
    const out = json(run([...ec, '--root', join(PKI, 'root.pem'), '--json', ecToken]));
    expect(out).toMatchObject({ ok: false, code: 'SIGNING_TIME_TOO_OLD', details: { signingTime: '2025-03-01T12:00:00.000Z' } });
    expect(out.message).toContain('checked against the current time');
  });

  test('a file that is not a token says what it is', () => {
    const cases: [string, RegExp][] = [
      [join(PKI, 'merchant-ec.key.pem'), /is a private key in PEM form \(give it with --key\), not an Apple Pay token/],
      [join(PKI, 'merchant-ec.pem'), /is a certificate in PEM form \(give it with --cert or --root\), not an Apple Pay token/],
      [join(PKI, 'merchant-ec.p12'), /is binary DER .*not an Apple Pay token/],
      [file('empty.json', ''), /is empty/],
      [file('words.txt', 'hello'), /is not JSON/],
    ];
    for (const [path, message] of cases) {
      const r = run([...ec, ...testRoot, path]);
      expect(r.status, path).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(JSON.stringify(path));
      expect(json(run([...ec, ...testRoot, '--json', path]))).toMatchObject({
        ok: false,
        code: 'USAGE',
        message: expect.stringMatching(message),
      });
    }
    // From stdin too.
    expect(run([...ec, ...testRoot, '-'], readFileSync(join(PKI, 'merchant-ec.pem'), 'utf8')).stderr).toMatch(
      /^applepay-verify: stdin is a certificate/,
    );
  });

  test('configuration errors name the flag and file, not the library option', () => {
    const cases: [string[], string, string][] = [
      [
        ['--cert', join(PKI, 'merchant-ec.pem'), '--key', join(PKI, 'merchant-ec-rotated.key.pem')],
        '--key',
        join(PKI, 'merchant-ec-rotated.key.pem'),
      ],
      [['--cert', join(PKI, 'wwdr.pem'), '--key', join(PKI, 'wwdr.key.pem')], '--cert', join(PKI, 'wwdr.pem')],
      [
        [...ec, '--cert', join(PKI, 'merchant-ec.pem'), '--key', join(PKI, 'merchant-ec.key.pem')],
        '--key',
        join(PKI, 'merchant-ec.key.pem'),
      ],
      [['--cert', join(PKI, 'merchant-ec.pem'), '--key', join(PKI, 'merchant-ec.pem')], '--key', join(PKI, 'merchant-ec.pem')],
    ];
    for (const [args, flag, path] of cases) {
      const out = json(run([...args, '--json', '--now', NOW, ecToken]));
      expect(out.message, args.join(' ')).not.toMatch(/merchants\[/);
      expect(out.message).toContain(`${flag} ${path}`);
      expect(out.details).toMatchObject({ flag });
      const human = run([...args, '--now', NOW, ecToken]);
      expect(human.stderr).not.toMatch(/merchants\[/);
      expect(human.stderr).toContain(`${flag} ${path}`);
    }
    expect(json(run([...ec, '--root', join(PKI, 'merchant-ec.pem'), '--json', ecToken]))).toMatchObject({
      code: 'ROOT_CERT_INVALID',
      details: { flag: '--root' },
    });
  });

  test("configuration errors exit 2 with the library's code", () => {
    const cases: [string[], string][] = [
      [['--cert', join(PKI, 'merchant-ec.pem'), '--key', join(PKI, 'merchant-ec-rotated.key.pem')], 'MERCHANT_KEY_INVALID'],
      [['--key', join(PKI, 'merchant-ec.p12'), '--passphrase', 'wrong'], 'MERCHANT_KEY_INVALID'],
      [['--cert', join(PKI, 'merchant-ec.pem'), '--key', join(tmp, 'no-such.key')], 'MERCHANT_KEY_INVALID'],
      [['--cert', join(tmp, 'no-such.pem'), '--key', join(PKI, 'merchant-ec.key.pem')], 'MERCHANT_CERT_INVALID'],
      [['--cert', join(PKI, 'wwdr.pem'), '--key', join(PKI, 'wwdr.key.pem')], 'MERCHANT_CERT_INVALID'],
      [[...ec, '--root', join(PKI, 'merchant-ec.pem')], 'ROOT_CERT_INVALID'],
      [[...ec, '--root', join(tmp, 'no-such-root.pem')], 'ROOT_CERT_INVALID'],
      [['--merchant-id', 'merchant.com.example', '--key', join(PKI, 'root.key.pem')], 'MERCHANT_KEY_INVALID'],
      [[...ec, '--max-age', '99999999'], 'CONFIG_INVALID'],
    ];
    for (const [args, code] of cases) {
      const r = run([...args, '--json', '--now', NOW, ecToken]);
      expect(r.status, `${code}: ${args.join(' ')}`).toBe(2);
      const out = json(r);
      expect(Object.keys(out).sort()).toEqual(['code', 'details', 'message', 'ok']);
      expect(out).toMatchObject({ ok: false, code });
      expect((ERROR_CODES as readonly string[]).includes(code)).toBe(true);
    }
  });

  test('a configuration error in human mode: exit 2, the code on stderr', () => {
    const r = run(['--cert', join(PKI, 'merchant-ec.pem'), '--key', join(PKI, 'merchant-ec-rotated.key.pem'), ecToken]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('MERCHANT_KEY_INVALID');
  });

  test('usage errors exit 2 with code USAGE', () => {
    const cases = [
      ['--bogus', ecToken],
      [...ec],
      [...ec, ecToken, ecToken],
      ['--cert', join(PKI, 'merchant-ec.pem'), ecToken],
      ['--cert', join(PKI, 'merchant-ec.pem'), '--cert', join(PKI, 'merchant-rsa.pem'), '--key', join(PKI, 'merchant-ec.key.pem'), ecToken],
      [...ec, '--merchant-id', 'merchant.com.example', ecToken],
      [...ec, '--now', 'yesterday', ecToken],
      [...ec, '--now', '2025-03-01T12:00:05', ecToken],
      [...ec, '--max-age', 'five', ecToken],
      [...ec, '--reveal=yes', ecToken],
      [...ec, join(tmp, 'no-such-token.json')],
      ['vectors', '--cert', 'x'],
    ];
    for (const args of cases) {
      const r = run([...args, '--json']);
      expect(r.status, args.join(' ')).toBe(2);
      expect(json(r)).toEqual({ ok: false, code: 'USAGE', message: expect.any(String) });
      const human = run(args);
      expect(human.status).toBe(2);
      expect(human.stdout).toBe('');
      expect(human.stderr).toMatch(/^applepay-verify: /);
    }
  });
});

describe('a closed pipe', () => {
  test('`applepay-verify vectors | head -1` ends quietly: no EPIPE, no stack trace, exit 0', () => {
    const script = `"${process.execPath}" "${BIN}" vectors | head -1; echo "status=\${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toMatch(/^PASS {2}\S+/);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toBe('status=0\n');
  });

  test('--help and --json into a closed pipe end quietly too', () => {
    for (const args of [['--help'], [...ec, ...testRoot, '--json', ecToken]]) {
      const script = `"${process.execPath}" "${BIN}" ${args.map((a) => `"${a}"`).join(' ')} | head -c 1 >/dev/null; echo "status=\${PIPESTATUS[0]}" >&2`;
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr, args.join(' ')).toBe('status=0\n');
    }
  });
});

describe('human mode', () => {
  test('masks the PAN to its last four digits and hides the cryptogram unless --reveal', () => {
    const masked = run([...ec, ...testRoot, ecToken]);
    expect(masked.status).toBe(0);
    expect(masked.stdout).toContain('************1111');
    expect(masked.stdout).not.toContain('4111111111111111');
    expect(masked.stdout).not.toContain('AOA3rpYAAAAAAAAAAAAAAAAAAAA=');
    const revealed = run([...ec, ...testRoot, '--reveal', ecToken]);
    expect(revealed.status).toBe(0);
    expect(revealed.stdout).toContain('4111111111111111');
    expect(revealed.stdout).toContain('AOA3rpYAAAAAAAAAAAAAAAAAAAA=');
  });

  test('an EMV payment: EMV data, PIN block and cardholder name hidden unless --reveal', () => {
    const masked = run([...ec, ...testRoot, emvToken]);
    expect(masked.status).toBe(0);
    expect(masked.stdout).toContain('EMV');
    expect(masked.stdout).toContain('************0012');
    for (const secret of ['5413330089010012', 'nyYIw6Gy1OX2Bwg=', '8c1ab1c3d9a0ef61', 'Jane Appleseed'])
      expect(masked.stdout).not.toContain(secret);
    const revealed = run([...ec, ...testRoot, '--reveal', emvToken]);
    for (const secret of ['5413330089010012', 'nyYIw6Gy1OX2Bwg=', '8c1ab1c3d9a0ef61', 'Jane Appleseed'])
      expect(revealed.stdout).toContain(secret);
  });

  test('--help prints usage with examples on stdout and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage:');
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('applepay-verify vectors [DIR]');
    expect(run(['-h']).stdout).toBe(r.stdout);
  });

  test('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(run(['--version']).stdout).toBe(`${pkg.version}\n`);
  });
});

/** `--json` on a real token with its merchant files, five seconds after its signing time. */
function runRealSet(set: ReturnType<typeof loadRealSet>): Run {
  const dir = join(REAL_DIR, set.name);
  const now = new Date(set.signingTime.getTime() + 5000).toISOString();
  return run([
    '--json',
    '--reveal',
    '--cert',
    join(dir, 'merchant_cert.pem'),
    '--key',
    join(dir, 'merchant_key.TEST-KEY.pem'),
    '--now',
    now,
    join(dir, 'token.json'),
  ]);
}

describe('real tokens', () => {
  test.each(REAL_APPLE_SETS)('%s: --json at its signing time prints its expected payment', (name) => {
    const set = loadRealSet(name);
    const r = runRealSet(set);
    expect(r.status).toBe(0);
    const out = json(r);
    expect(out).toMatchObject({ ok: true, result: { version: set.meta.version, signingTime: set.signingTime.toISOString() } });
    expect((out.result as { payment: unknown }).payment).toEqual(set.expected);
  });

  test('apple-sample-testca-2016-emv is rejected with LEAF_CERT_INVALID', () => {
    const r = runRealSet(loadRealSet('apple-sample-testca-2016-emv'));
    expect(r.status).toBe(1);
    expect(json(r)).toMatchObject({ ok: false, code: 'LEAF_CERT_INVALID' });
  });
});

// Runs last: every invocation above has been recorded.
test('no key material, passphrase or PAN in human mode was ever printed', () => {
  const keyFiles = [
    join(PKI, 'merchant-ec.key.pem'),
    join(PKI, 'merchant-ec-rotated.key.pem'),
    join(PKI, 'merchant-rsa.key.pem'),
    join(PKI, 'root.key.pem'),
    join(PKI, 'wwdr.key.pem'),
    ...REAL_APPLE_SETS.map((n) => join(REAL_DIR, n, 'merchant_key.TEST-KEY.pem')),
  ];
  // Every line of base64 inside the key PEMs: any of them appearing would mean key bytes leaked.
  const keyLines = keyFiles.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l)),
  );
  expect(keyLines.length).toBeGreaterThan(10);
  const all = printed.join('\n');
  expect(all.length).toBeGreaterThan(1000);
  for (const line of keyLines) expect(all).not.toContain(line);
  expect(all).not.toContain('test-passphrase');
  expect(all).not.toContain('PRIVATE KEY');
});
