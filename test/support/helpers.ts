// Shared fixtures for the pipeline tests: the real tokens, the test PKI, and verifiers wired to them.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVerifier, type Verifier, type VerifierOptions } from '../../lib/index.js';
import { loadTestPki, mintToken, type MintOptions, type MintedToken, type TestPki } from '../../test-vectors/gen/token.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const REAL_DIR = join(ROOT, 'test-vectors', 'real');

export interface RealSet {
  name: string;
  token: Record<string, unknown>;
  fullToken: Record<string, unknown> | null;
  certificate: string;
  privateKey: string;
  expected: Record<string, unknown>;
  meta: { signingTime: string; transactionId: string; publicKeyHash: string; merchantIdHashHex: string; version: string };
  signingTime: Date;
}

const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

export function loadRealSet(name: string): RealSet {
  const dir = join(REAL_DIR, name);
  const meta = readJson(join(dir, 'meta.json')) as unknown as RealSet['meta'];
  let fullToken: Record<string, unknown> | null = null;
  try {
    fullToken = readJson(join(dir, 'token.full.json'));
  } catch {
    fullToken = null;
  }
  return {
    name,
    token: readJson(join(dir, 'token.json')),
    fullToken,
    certificate: readFileSync(join(dir, 'merchant_cert.pem'), 'utf8'),
    privateKey: readFileSync(join(dir, 'merchant_key.TEST-KEY.pem'), 'utf8'),
    expected: readJson(join(dir, 'expected.json')),
    meta,
    // meta.json writes OpenSSL's "Mar 20 20:46:55 2023 GMT"; Date reads that form.
    signingTime: new Date(meta.signingTime),
  };
}

export const REAL_SETS = readdirSync(REAL_DIR).filter((n) => statSync(join(REAL_DIR, n)).isDirectory());
/** The sets that Apple's production PKI signed; the test-CA set must be rejected. */
export const REAL_APPLE_SETS = REAL_SETS.filter((n) => n !== 'apple-sample-testca-2016-emv');

let pkiCache: TestPki | undefined;
export function pki(): TestPki {
  pkiCache ??= loadTestPki();
  return pkiCache;
}

/** A verifier that trusts the test PKI's root, with every test merchant configured. */
export function testVerifier(overrides: Partial<VerifierOptions> = {}): Verifier {
  const p = pki();
  return createVerifier({
    rootCertificate: p.root.certPem,
    merchants: [
      { certificate: p.merchants.ec.certPem, privateKey: readFileSync(p.merchants.ec.keyPath) },
      { certificate: p.merchants.rsa.certPem, privateKey: readFileSync(p.merchants.rsa.keyPath) },
      { certificate: p.merchants.zero.certPem, privateKey: readFileSync(p.merchants.zero.keyPath) },
    ],
    ...overrides,
  });
}

/** A token signed now (or at `signingTime`), with the verifier's clock expected to match. */
export function mint(options: Partial<MintOptions> & Pick<MintOptions, 'version'>): MintedToken {
  return mintToken(pki(), options);
}

export function keyFile(path: string): Buffer {
  return readFileSync(path);
}
