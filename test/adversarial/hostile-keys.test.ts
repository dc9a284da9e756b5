// The crash class of issue 10: untrusted key bytes must never reach a node:crypto call that can abort
// the process (Node 20 asserts on e.g. an EC point at infinity once a KeyObject is made and its details
// read). Every hostile key, in every place a token or configuration carries a key, runs in a child
// process: a regression is a failed test with the child's exit status, not a dead test runner.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { inspectSpki, PublicKeyError } from '../../lib/x509/public-key.js';
import { appleLeafSpec, issueCertificate } from '../../test-vectors/gen/pki.js';
import { BIN } from '../support/bin.js';
import { hostileKeys, hostilePrivateKeys } from './fixtures/hostile-keys.js';
import { ROOT, mint, pki } from '../support/helpers.js';

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

function runChild(script: string): { status: number | null; signal: string | null; lines: Record<string, unknown>[]; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'test', 'adversarial', 'fixtures', script)], {
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, signal: r.signal, lines, stderr: r.stderr };
}

// What each place must answer for an invalid key, and for a valid key of a type it does not use.
function expectedCodes(role: string, invalid: boolean, spkiLength: number): string[] {
  switch (role) {
    case 'leaf':
      return invalid ? ['SIGNATURE_MALFORMED'] : ['LEAF_CERT_INVALID'];
    case 'intermediate':
      return invalid ? ['SIGNATURE_MALFORMED'] : ['CHAIN_UNTRUSTED'];
    case 'extra certificate':
      return ['SIGNATURE_MALFORMED'];
    case 'ephemeralPublicKey':
      return spkiLength > 512 ? ['TOKEN_MALFORMED'] : ['EPHEMERAL_KEY_INVALID'];
    case 'merchant certificate':
      return invalid ? ['MERCHANT_CERT_INVALID'] : ['MERCHANT_KEY_INVALID'];
    case 'root':
      // A valid key of another type is refused when it cannot sign; a P-384 root that is not the test root anchors nothing.
      return invalid ? ['ROOT_CERT_INVALID'] : ['ROOT_CERT_INVALID', 'configured'];
    default:
      throw new Error(`unknown role ${role}`);
  }
}

describe('hostile public keys never reach node:crypto (child process)', () => {
  const keys = hostileKeys();

  test('every hostile key as leaf, intermediate, extra certificate, ephemeral key, merchant certificate and root (keys on every other curve Node knows: as leaf, intermediate and ephemeral key): refused with its code, sync and async', () => {
    const r = runChild('hostile-keys-child.ts');
    // An abort (Assertion failed: (ec) != nullptr) shows here as status 134 / SIGABRT.
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 2000) }).toEqual({ status: 0, signal: null, stderr: '' });
    const verdicts = r.lines.filter((l) => 'role' in l) as { key: string; role: string; codes: string[] }[];
    const byKey = new Map(keys.map((k) => [k.name, k]));
    const wrong: string[] = [];
    for (const v of verdicts) {
      if (v.role === 'merchant private key') {
        const allowed = v.key.includes('at infinity') ? ['OK', 'MERCHANT_KEY_INVALID'] : ['MERCHANT_KEY_INVALID'];
        if (!allowed.includes(v.codes[0]!)) wrong.push(`${v.key}: ${v.codes.join(',')}`);
        continue;
      }
      if (v.role === 'control') {
        expect(v.codes).toEqual(['OK', 'OK']);
        continue;
      }
      const key = byKey.get(v.key)!;
      const allowed = expectedCodes(v.role, key.invalid, key.spki.length);
      const codes = v.role === 'root' && v.codes[0] === 'configured' ? ['configured'] : v.codes;
      if (v.role === 'root' && v.codes[0] === 'configured') {
        // Configured: tokens of the test PKI must then be untrusted.
        if (!v.codes.slice(1).every((c) => c === 'CHAIN_UNTRUSTED')) wrong.push(`${v.key} / root: ${v.codes.join(',')}`);
      }
      for (const c of codes)
        if (!allowed.includes(c)) wrong.push(`${v.key} / ${v.role}: ${v.codes.join(',')} (expected ${allowed.join('|')})`);
    }
    expect(wrong).toEqual([]);
    // Six places per key (three for the keys of Node's other curves), plus the control line.
    expect(verdicts.length).toBe(keys.reduce((n, k) => n + (k.roles?.length ?? 6), 0) + hostilePrivateKeys().length + 1);
    // The diagnostics subscriber saw every verification (configuration failures publish none).
    const verifications = verdicts.reduce(
      (n, v) =>
        n +
        (v.role === 'merchant certificate' || v.role === 'merchant private key'
          ? 0
          : v.role === 'root'
            ? v.codes[0] === 'configured'
              ? v.codes.length - 1
              : 0
            : v.codes.length),
      0,
    );
    expect((r.lines.at(-1) as { events: number }).events).toBe(verifications);
  });

  test('per curve and degenerate RSA: the library refuses each invalid key structurally', () => {
    const names = keys.filter((k) => k.invalid).map((k) => k.name);
    for (const curve of ['P-256', 'P-384', 'P-521', 'secp256k1', 'brainpoolP256r1', 'secp224r1', 'sect571r1', 'SM2']) {
      expect(names).toContain(`${curve} point at infinity`);
    }
    for (const k of keys) {
      if (k.invalid) expect(() => inspectSpki(k.spki), k.name).toThrow(PublicKeyError);
      else expect(() => inspectSpki(k.spki), k.name).not.toThrow();
    }
  });

  test('valid keys of every curve and RSA size are accepted by the structural check (its curve constants are right)', () => {
    for (const namedCurve of ['P-256', 'P-384', 'P-521', 'secp256k1']) {
      for (let i = 0; i < 20; i++) {
        const spki = generateKeyPairSync('ec', { namedCurve }).publicKey.export({ type: 'spki', format: 'der' });
        expect(inspectSpki(spki)).toMatchObject({ kind: 'ec' });
      }
    }
    for (const modulusLength of [1024, 2048]) {
      const spki = generateKeyPairSync('rsa', { modulusLength }).publicKey.export({ type: 'spki', format: 'der' });
      expect(inspectSpki(spki)).toEqual({ kind: 'rsa', bits: modulusLength });
    }
  });

  test('the CLI refuses a token whose leaf key is the point at infinity (exit 1, not 134)', () => {
    const p = pki();
    const infinity = keys.find((k) => k.name === 'P-256 point at infinity')!;
    const leaf = issueCertificate({
      ...appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key }),
      publicKey: infinity.spki,
    });
    const dir = mkdtempSync(join(tmpdir(), 'applepay-hostile-'));
    try {
      for (const [name, certificates] of [
        ['leaf', [leaf, p.intermediate.certDer]],
        ['extra', [p.leafEc.certDer, p.intermediate.certDer, leaf]],
      ] as const) {
        const file = join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify(mint({ version: 'EC_v1', certificates: [...certificates] }).paymentData));
        const r = spawnSync(
          process.execPath,
          [BIN, '--json', '--root', p.root.certPath, '--cert', p.merchants.ec.certPath, '--key', p.merchants.ec.keyPath, file],
          { encoding: 'utf8', timeout: 30_000 },
        );
        expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
        expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'SIGNATURE_MALFORMED' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('property: random and mutated certificates and SPKIs through the certificate layer never crash (child process)', () => {
    const r = runChild('certificate-fuzz-child.ts');
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 2000) }).toEqual({ status: 0, signal: null, stderr: '' });
    const summary = r.lines.at(-1) as { runs: number; unexpected: string[]; accepted: number; refused: number };
    expect(summary.unexpected).toEqual([]);
    expect(summary.runs).toBeGreaterThanOrEqual(4000);
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(summary.accepted).toBeGreaterThan(0);
    expect(summary.refused).toBeGreaterThan(0);
  });
});
