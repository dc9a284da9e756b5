// The test-vector corpus (test-vectors/README.md): every vector through the public API, through the
// runner module and through the `vectors` command; every error code has vectors; the corpus is current.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  ERROR_CODES,
  createVerifier,
  memoryReplayGuard,
  type ErrorCode,
  type MerchantOptions,
  type VerifierOptions,
} from '../../lib/index.js';
import { DEFAULT_VECTORS_DIR, findVectors, runVector, runVectors } from '../../lib/vectors/index.js';
import { BIN } from '../support/bin.js';
import { REAL_DIR, REAL_SETS, ROOT } from '../support/helpers.js';

const DIR = join(ROOT, 'test-vectors');
const files = findVectors(DIR);
const name = (f: string): string => relative(DIR, f).split(sep).join('/');

interface RawVector {
  description: string;
  provenance: unknown;
  token?: unknown;
  tokenText?: string;
  tokenFile?: string;
  merchants: { certificate?: string; privateKey: string; passphrase?: string; merchantIdentifier?: string }[];
  root?: string;
  now: string;
  options?: Record<string, unknown>;
  replay?: { claimed?: string[]; maxEntries?: number };
  expected: { ok: true; payment: unknown } | { ok: false; code: ErrorCode };
}

const read = (f: string): RawVector => JSON.parse(readFileSync(f, 'utf8')) as RawVector;
const vectors = files.map((f) => ({ file: f, name: name(f), v: read(f) }));

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

test('the corpus is where the runner looks by default, and is not empty', () => {
  expect(resolve(DEFAULT_VECTORS_DIR)).toBe(resolve(DIR));
  expect(files.length).toBeGreaterThan(100);
  for (const set of REAL_SETS) expect(files).toContain(join(REAL_DIR, set, 'vector.json'));
});

// Independent of lib/vectors/index.ts: the format read here by hand, the verdict asserted with vitest.
describe.each(vectors)('$name', ({ file, v }) => {
  test('gives its expected verdict through createVerifier / verifyAndDecrypt', async () => {
    const at = (p: string): Buffer => readFileSync(resolve(dirname(file), p));
    const merchants: MerchantOptions[] = v.merchants.map((m) => ({
      privateKey: at(m.privateKey),
      ...(m.certificate === undefined ? {} : { certificate: at(m.certificate) }),
      ...(m.passphrase === undefined ? {} : { passphrase: m.passphrase }),
      ...(m.merchantIdentifier === undefined ? {} : { merchantIdentifier: m.merchantIdentifier }),
    }));
    const options = {
      ...v.options,
      merchants,
      ...(v.root === undefined || v.root === 'apple' ? {} : { rootCertificate: at(v.root) }),
    } as VerifierOptions;
    const now = new Date(v.now);
    if (v.replay !== undefined) {
      const guard = memoryReplayGuard({
        clock: () => now,
        ...(v.replay.maxEntries === undefined ? {} : { maxEntries: v.replay.maxEntries }),
      });
      for (const id of v.replay.claimed ?? []) expect(await guard.claim(id, new Date(now.getTime() + 3600_000))).toBe(true);
      options.replayGuard = guard;
    }
    const token = v.token !== undefined ? v.token : v.tokenText !== undefined ? v.tokenText : at(v.tokenFile!);
    const verify = async () => createVerifier(options).verifyAndDecrypt(token, { now });
    if (v.expected.ok) {
      const result = await verify();
      expect(result.payment).toEqual(v.expected.payment);
    } else {
      await expect(verify()).rejects.toMatchObject({ name: 'ApplePayError', code: v.expected.code });
    }
  });
});

describe('vector files', () => {
  test('have a description, provenance, exactly one token source and a well-formed now', () => {
    for (const { name: n, v } of vectors) {
      expect(v.description.length, n).toBeGreaterThan(10);
      expect(v.provenance, n).toBeDefined();
      expect(
        [v.token, v.tokenText, v.tokenFile].filter((x) => x !== undefined),
        n,
      ).toHaveLength(1);
      expect(new Date(v.now).toISOString(), n).toBe(v.now);
    }
  });

  test('sit in valid/ or invalid/<CODE>/ according to their expectation', () => {
    for (const { name: n, v } of vectors.filter((x) => x.name.startsWith('vectors/'))) {
      const [, kind, code] = n.split('/');
      if (kind === 'valid') expect(v.expected.ok, n).toBe(true);
      else expect(v.expected, n).toEqual({ ok: false, code });
    }
  });

  test('real sets: vector.json points at the files beside it and repeats expected.json', () => {
    for (const set of REAL_SETS) {
      const v = read(join(REAL_DIR, set, 'vector.json'));
      expect(v.tokenFile).toBe('token.json');
      expect(v.merchants).toEqual([{ certificate: 'merchant_cert.pem', privateKey: 'merchant_key.TEST-KEY.pem' }]);
      expect(v.root).toBe('apple');
      expect(v.provenance).toMatchObject({ source: 'real', commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
      if (v.expected.ok) expect(v.expected.payment).toEqual(JSON.parse(readFileSync(join(REAL_DIR, set, 'expected.json'), 'utf8')));
      else expect(v.expected.code).toBe('LEAF_CERT_INVALID');
    }
  });

  test('raw-text vectors keep what a parsed object cannot: duplicate and __proto__ keys', () => {
    const byName = new Map(vectors.map((x) => [x.name, x.v]));
    expect(byName.get('vectors/invalid/TOKEN_MALFORMED/duplicate-key.vector.json')?.tokenText).toMatch(/^\{"data":"AAAA","version"/);
    expect(byName.get('vectors/invalid/TOKEN_MALFORMED/proto-key.vector.json')?.tokenText).toMatch(/^\{"__proto__":\{\},/);
  });
});

describe('error codes', () => {
  const expectedCodes = vectors.flatMap(({ v }) => (v.expected.ok ? [] : [v.expected.code]));
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const tableCodes = [...(readme.split('## Error codes')[1]?.split('\n## ')[0] ?? '').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  test('every vector expects a real code, and every code but INTERNAL has vectors', () => {
    for (const code of expectedCodes) expect(ERROR_CODES).toContain(code);
    const covered = new Set(expectedCodes);
    expect(ERROR_CODES.filter((c) => c !== 'INTERNAL' && !covered.has(c))).toEqual([]);
    // INTERNAL is a fault outside the token (e.g. a failing clock): no vector can express it.
    expect(covered.has('INTERNAL')).toBe(false);
  });

  test('the README table, lib/errors.ts and the corpus name the same codes', () => {
    const corpus = [...new Set(expectedCodes), 'INTERNAL'].sort();
    expect([...tableCodes].sort()).toEqual(corpus);
    expect([...ERROR_CODES].sort()).toEqual(corpus);
  });

  test('test-vectors/README.md counts the vectors of every code as the corpus has them, and says INTERNAL has none', () => {
    const doc = readFileSync(join(DIR, 'README.md'), 'utf8');
    const table = new Map([...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
    const generated = vectors.filter((x) => x.name.startsWith('vectors/')).flatMap(({ v }) => (v.expected.ok ? [] : [v.expected.code]));
    expect(Object.fromEntries(table)).toEqual(Object.fromEntries(ERROR_CODES.map((c) => [c, generated.filter((x) => x === c).length])));
    expect(doc).toMatch(/INTERNAL[^\n]*not reachable from a vector/);
    expect(doc).toContain(
      `writes ${files.length} vectors: ${vectors.filter((x) => x.name.startsWith('vectors/valid/')).length} valid, ${REAL_SETS.length} real sets`,
    );
  });
});

describe('the runner (lib/vectors/index.ts)', () => {
  test('passes every vector of the corpus', async () => {
    const { reports, passed, failed } = await runVectors(DIR);
    expect(reports.filter((r) => !r.passed).map((r) => `${r.name}: ${r.reason}`)).toEqual([]);
    expect(passed).toBe(files.length);
    expect(failed).toBe(0);
  });

  test('fails a vector whose expectation is wrong, and one it cannot read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'applepay-corpus-'));
    tmpDirs.push(dir);
    const source = join(DIR, 'vectors', 'valid', 'ec-3ds.vector.json');
    const good = read(source);
    // The copies live elsewhere, so their file references become absolute.
    const rewrite = (v: RawVector): RawVector => ({
      ...v,
      merchants: v.merchants.map((m) => ({
        ...m,
        privateKey: resolve(dirname(source), m.privateKey),
        ...(m.certificate === undefined ? {} : { certificate: resolve(dirname(source), m.certificate) }),
      })),
      ...(v.root === undefined || v.root === 'apple' ? {} : { root: resolve(dirname(source), v.root) }),
    });
    const wrongCode = join(dir, 'wrong-code.vector.json');
    writeFileSync(wrongCode, JSON.stringify({ ...rewrite(good), expected: { ok: false, code: 'CHAIN_UNTRUSTED' } }));
    const wrongPayment = join(dir, 'wrong-payment.vector.json');
    writeFileSync(wrongPayment, JSON.stringify({ ...rewrite(good), expected: { ok: true, payment: { other: 1 } } }));
    const badFormat = join(dir, 'bad-format.vector.json');
    writeFileSync(badFormat, JSON.stringify({ ...rewrite(good), expected: { ok: false, code: 'NOT_A_CODE' } }));
    const missingFile = join(dir, 'missing-file.vector.json');
    writeFileSync(missingFile, JSON.stringify({ ...rewrite(good), root: 'no-such-root.pem' }));
    expect(await runVector(wrongCode, dir)).toMatchObject({ passed: false, expected: 'CHAIN_UNTRUSTED', actual: 'ok' });
    expect(await runVector(wrongPayment, dir)).toMatchObject({ passed: false, reason: expect.stringContaining('payment') });
    expect(await runVector(badFormat, dir)).toMatchObject({
      passed: false,
      actual: 'unreadable',
      reason: expect.stringContaining('NOT_A_CODE'),
    });
    expect(await runVector(missingFile, dir)).toMatchObject({ passed: false, actual: 'unreadable' });
    expect(await runVectors(dir)).toMatchObject({ passed: 0, failed: 4 });
  });
});

describe('applepay-verify vectors (the real bin)', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

  test('runs the package\'s own corpus by default: one PASS line per vector, then "N passed, 0 failed"', () => {
    const r = run(['vectors']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`${files.length} passed, 0 failed`);
    const vectorLines = lines.slice(0, -1);
    expect(vectorLines).toHaveLength(files.length);
    expect(vectorLines.map((l) => l.split(/\s+/)[1]).sort()).toEqual(files.map(name).sort());
    expect(vectorLines.every((l) => l.startsWith('PASS  '))).toBe(true);
  });

  test('exits 1 and counts the failure when a vector fails; --json gives one object', () => {
    const dir = mkdtempSync(join(tmpdir(), 'applepay-corpus-bin-'));
    tmpDirs.push(dir);
    // A copy of a real set, with its expectation turned into a wrong one.
    const set = join(dir, 'gala');
    mkdirSync(set);
    for (const f of ['token.json', 'merchant_cert.pem', 'merchant_key.TEST-KEY.pem'])
      copyFileSync(join(REAL_DIR, 'gala-seatgeek-2014', f), join(set, f));
    const v = read(join(REAL_DIR, 'gala-seatgeek-2014', 'vector.json'));
    writeFileSync(join(set, 'vector.json'), JSON.stringify(v));
    writeFileSync(join(set, 'late.vector.json'), JSON.stringify({ ...v, now: '2014-10-27T20:00:00.000Z' }));
    const r = run(['vectors', dir]);
    expect(r.status).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^FAIL {2}gala\/late\.vector\.json {2}expected success, got SIGNING_TIME_TOO_OLD/);
    expect(lines[1]).toMatch(/^PASS {2}gala\/vector\.json/);
    expect(lines[2]).toBe('1 passed, 1 failed');
    const j = run(['vectors', dir, '--json']);
    expect(j.status).toBe(1);
    expect(j.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: false,
      passed: 1,
      failed: 1,
      vectors: [{ name: 'gala/late.vector.json', passed: false }, { passed: true }],
    });
  });

  test('a directory without vectors is a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'applepay-corpus-empty-'));
    tmpDirs.push(dir);
    const r = run(['vectors', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no *.vector.json');
  });
});

test('the committed corpus is what the generator makes (npm run vectors -- --check)', () => {
  const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = spawnSync(process.execPath, [tsx, join(DIR, 'gen', 'make-vectors.ts'), '--check'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain('the committed corpus is current');
  expect(r.status).toBe(0);
}, 120_000);
