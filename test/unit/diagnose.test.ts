// diagnose and inspectToken over the whole corpus, a token signed by a leaf named as Apple's sandbox leaf,
// and the causes a payment team meets: every vector gets the cause of its class, from the verifier's
// verdict with keys and, for the classes a token shows by itself, from the token alone; conclusions never
// carry payment data.
import { X509Certificate } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { subjectCommonName } from '../../lib/x509/cert-facts.js';
import { parseCertificate } from '../../lib/x509/certificates.js';
import { main, type Io } from '../../lib/cli/main.js';
import { parseSignedData } from '../../lib/steps/signed-data.js';
import { DIAGNOSIS_CAUSES, causeOf, diagnoseToken, type Diagnosis } from '../../lib/diagnose/diagnose.js';
import {
  createInspector,
  createVerifier,
  inspectToken,
  memoryReplayGuard,
  VERIFY_CHANNEL_NAME,
  type ErrorCode,
  type VerifierOptions,
  type VerifyEvent,
} from '../../lib/index.js';
import { chainEnvironment } from '../../lib/verifier/environment.js';
import { DEFAULT_VECTORS_DIR, findVectors, loadVector, verifyVector } from '../../lib/vectors/index.js';
import * as der from '../../test-vectors/gen/der.js';
import { issueCertificate, merchantSpec } from '../../test-vectors/gen/pki.js';
import { REAL_DIR, ROOT, loadRealSet, mint, pki, testVerifier } from '../support/helpers.js';

// No real sandbox token is available to the project. The sandbox tests use the corpus's tokens signed by a
// leaf named as Apple's sandbox leaf ("ecc-smp-broker-sign_UC4-SANDBOX") under the test PKI. Under that
// root the token's environment is 'test': only a chain to Apple's root makes it 'sandbox', which no minted
// token can reach. What the name drives under any root is checked end to end: leafEnvironment, the
// SANDBOX_TOKEN_REFUSED refusal and diagnose's 'sandbox-refused' cause.
const SANDBOX_LEAF = 'ecc-smp-broker-sign_UC4-SANDBOX';
const sandboxVector = loadVector(join(DEFAULT_VECTORS_DIR, 'vectors', 'valid', 'ec-sandbox-leaf-accepted-by-default.vector.json'));
const refusedVector = loadVector(
  join(DEFAULT_VECTORS_DIR, 'vectors', 'invalid', 'SANDBOX_TOKEN_REFUSED', 'sandbox-leaf-production-only.vector.json'),
);
const sandboxExpected = sandboxVector.vector.expected as { ok: true; payment: Record<string, unknown> };
const sandbox = {
  token: sandboxVector.token as { signature: string; header: { publicKeyHash: string } },
  now: sandboxVector.now,
  rootCertificate: sandboxVector.options.rootCertificate!,
  merchants: sandboxVector.options.merchants,
  expected: sandboxExpected.payment,
};

async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => Buffer.alloc(0) };
  const status = await main(args, io);
  return { status, stdout, stderr };
}

/** Classes a token shows without any key: diagnose must find them from the token alone. */
const TOKEN_ONLY: ReadonlySet<ErrorCode> = new Set([
  'TOKEN_MALFORMED',
  'SIGNATURE_MALFORMED',
  'SIGNATURE_INVALID',
  'SIGNING_TIME_MISSING',
  'SIGNING_TIME_TOO_OLD',
  'SIGNING_TIME_IN_FUTURE',
  'LEAF_CERT_INVALID',
  'INTERMEDIATE_CERT_INVALID',
  'CHAIN_UNTRUSTED',
  'CERT_EXPIRED',
  'SANDBOX_TOKEN_REFUSED',
]);

const noSecrets = (d: Diagnosis, payment: unknown): void => {
  const text = JSON.stringify(d);
  if (payment !== null && typeof payment === 'object') {
    const p = payment as { applicationPrimaryAccountNumber?: string; paymentData?: Record<string, string> };
    if (p.applicationPrimaryAccountNumber !== undefined) expect(text).not.toContain(p.applicationPrimaryAccountNumber);
    for (const v of Object.values(p.paymentData ?? {})) if (typeof v === 'string' && v.length > 8) expect(text).not.toContain(v);
  }
  expect(text).not.toMatch(/PRIVATE KEY/);
};

describe('diagnose over every vector of the corpus', () => {
  const files = findVectors(DEFAULT_VECTORS_DIR);
  test.each(files.map((f) => [f.slice(DEFAULT_VECTORS_DIR.length), f]))('%s', async (_name, file) => {
    const loaded = loadVector(file);
    const { merchants, rootCertificate, ...rest } = loaded.options;
    const verifier: Omit<VerifierOptions, 'merchants' | 'rootCertificate'> = { ...rest };
    const replay = loaded.vector.replay;
    if (replay !== undefined) {
      const guard = memoryReplayGuard({
        clock: () => loaded.now,
        ...(replay.maxEntries === undefined ? {} : { maxEntries: replay.maxEntries }),
      });
      for (const id of replay.claimed ?? []) await guard.claim(id, new Date(loaded.now.getTime() + 86_400_000));
      verifier.replayGuard = guard;
    }
    const root = rootCertificate === undefined ? {} : { rootCertificate };
    const withKeys = await diagnoseToken(loaded.token, { merchants, now: loaded.now, verifier, ...root });
    const expected = loaded.vector.expected;
    expect(withKeys.conclusion.length).toBeGreaterThan(40);
    noSecrets(withKeys, expected.ok ? expected.payment : null);
    if (expected.ok) {
      expect(withKeys.cause).toBe('verified');
      expect(withKeys.keys.some((k) => k.matchesToken)).toBe(true);
      return;
    }
    expect(withKeys.cause).toBe(causeOf(expected.code as ErrorCode));
    expect(withKeys.verification).toMatchObject({ ok: false, code: expected.code });

    if (expected.code === 'MERCHANT_KEY_NOT_FOUND') {
      // "Encrypted for X; you configured Y and Z."
      expect(withKeys.conclusion).toContain(withKeys.token!.publicKeyHash);
      for (const k of withKeys.keys) expect(withKeys.conclusion).toContain(k.publicKeyHash!);
      expect(withKeys.keys.every((k) => !k.matchesToken || k.publicKeyHash === withKeys.token!.publicKeyHash)).toBe(true);
    }
    if (expected.code === 'CERT_EXPIRED') {
      const t = withKeys.token!;
      expect(t.leaf?.validAtSigningTime === false || t.intermediate?.validAtSigningTime === false).toBe(true);
    }
    const options = loaded.vector.options ?? {};
    if (TOKEN_ONLY.has(expected.code as ErrorCode) && options.maxTokenBytes === undefined && options.versions === undefined) {
      const alone = await diagnoseToken(loaded.token, {
        now: loaded.now,
        verifier: { ...verifier, replayGuard: undefined } as never,
        ...root,
      });
      if (alone.token !== null) expect(alone.verification).toBeUndefined();
      expect(alone.cause).toBe(causeOf(expected.code as ErrorCode));
    }
  });
});

describe("a token signed by a leaf named as Apple's sandbox leaf (no real sandbox token is available to the project)", () => {
  test("inspectToken: the leaf claims sandbox; under the test root the environment is 'test', under Apple's root it does not chain", () => {
    const facts = inspectToken(sandbox.token, { now: sandbox.now, rootCertificate: sandbox.rootCertificate });
    expect(facts).toMatchObject({
      version: 'EC_v1',
      environment: 'test',
      leafEnvironment: 'sandbox',
      appleRoot: false,
      chain: { ok: true },
      signature: { ok: true },
      publicKeyHash: pki().merchants.ec.publicKeyHash.toString('base64'),
      leaf: { subject: SANDBOX_LEAF, validAtSigningTime: true },
    });
    expect(facts.ageMs).toBe(5000);
    // The leaf's name alone never makes a token Apple's sandbox: against Apple's root this one is untrusted.
    expect(inspectToken(sandbox.token, { now: sandbox.now })).toMatchObject({
      environment: null,
      leafEnvironment: 'sandbox',
      appleRoot: true,
      chain: { ok: false, code: 'CHAIN_UNTRUSTED' },
    });
  });

  test('inspectToken: data that the messageDigest does not cover is a signature failure, reported as a verification reports it', () => {
    const data = Buffer.from((sandbox.token as unknown as { data: string }).data, 'base64');
    data[0]! ^= 1;
    const tampered = { ...sandbox.token, data: data.toString('base64') };
    expect(inspectToken(tampered, { now: sandbox.now, rootCertificate: sandbox.rootCertificate })).toMatchObject({
      chain: { ok: true },
      signature: { ok: false, code: 'SIGNATURE_INVALID', message: 'the signed message digest does not match the token' },
    });
  });

  test("Result.environment's rule: a sandbox-named leaf under Apple's root is 'sandbox', under another root 'test'", () => {
    // Result.environment is chainEnvironment(chain). No minted token can chain to Apple's root, so the rule
    // is checked on that function with the token's own leaf and Apple's real root certificate.
    const leaf = parseSignedData(Buffer.from(sandbox.token.signature, 'base64'), 'EC_v1')
      .certificates.map((c) => parseCertificate(c))
      .find((c) => subjectCommonName(c) === SANDBOX_LEAF);
    expect(leaf).toBeDefined();
    const appleRoot = parseCertificate(readFileSync(join(ROOT, 'test-vectors', 'apple-certs', 'AppleRootCA-G3.cer')));
    const testRoot = parseCertificate(new X509Certificate(pki().root.certificate).raw);
    const productionLeaf = parseCertificate(pki().leafEc.certDer);
    expect(chainEnvironment({ leaf: leaf!, root: appleRoot })).toBe('sandbox');
    expect(chainEnvironment({ leaf: productionLeaf, root: appleRoot })).toBe('production');
    expect(chainEnvironment({ leaf: leaf!, root: testRoot })).toBe('test');
  });

  test('verifies and decrypts under the default; acceptSandbox: false refuses it with SANDBOX_TOKEN_REFUSED', async () => {
    const options = { merchants: sandbox.merchants, rootCertificate: sandbox.rootCertificate };
    const result = await createVerifier(options).verifyAndDecrypt(sandbox.token, { now: sandbox.now });
    expect(result.environment).toBe('test');
    expect(result.payment).toEqual(sandbox.expected);
    await expect(
      createVerifier({ ...options, acceptSandbox: false }).verifyAndDecrypt(sandbox.token, { now: sandbox.now }),
    ).rejects.toMatchObject({ code: 'SANDBOX_TOKEN_REFUSED' });
    // The corpus vector for the code, through the vector runner.
    expect(refusedVector.vector.expected).toEqual({ ok: false, code: 'SANDBOX_TOKEN_REFUSED' });
    expect(await verifyVector(refusedVector)).toMatchObject({ ok: false, code: 'SANDBOX_TOKEN_REFUSED' });
  });

  test('diagnose names the cause: genuine, refused in production-only mode as a sandbox leaf, or made for another certificate', async () => {
    const root = { rootCertificate: sandbox.rootCertificate };
    const alone = await diagnoseToken(sandbox.token, { now: sandbox.now, ...root });
    expect(alone).toMatchObject({ cause: 'genuine', token: { environment: 'test', leafEnvironment: 'sandbox' } });
    const merchants = sandbox.merchants;
    expect(await diagnoseToken(sandbox.token, { now: sandbox.now, merchants, ...root })).toMatchObject({ cause: 'verified' });
    const refused = await diagnoseToken(sandbox.token, { now: sandbox.now, merchants, ...root, verifier: { acceptSandbox: false } });
    expect(refused.cause).toBe('sandbox-refused');
    expect(refused.verification).toMatchObject({ ok: false, code: 'SANDBOX_TOKEN_REFUSED' });
    expect(refused.conclusion).toMatch(/sandbox leaf/);
    expect(refused.conclusion).toContain(SANDBOX_LEAF);
    // A production server's key: the hash does not match. Under a test root the token is not called an
    // Apple sandbox token, whatever its leaf is named.
    const set = loadRealSet('basistheory-ec-2023-03');
    const other = await diagnoseToken(sandbox.token, {
      now: sandbox.now,
      ...root,
      merchants: { certificate: set.certificate, privateKey: set.privateKey },
    });
    expect(other.cause).toBe('other-certificate');
    expect(other.conclusion).toContain(sandbox.token.header.publicKeyHash);
    expect(other.conclusion).toContain('aXryfzzhfHFLCl+guEkcYpVd1R+mPYEmmeu1N4aR2Ls=');
    expect(other.conclusion).not.toMatch(/It is a sandbox token/);
    noSecrets(other, sandbox.expected);
  });

  test('the command: text and --json, exit 0 when genuine, 1 when refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'applepay-sandbox-'));
    try {
      const tokenPath = join(dir, 'token.json');
      writeFileSync(tokenPath, JSON.stringify(sandbox.token));
      const pkiDir = join(ROOT, 'test-vectors', 'pki');
      const now = sandbox.now.toISOString();
      const text = await cli(['diagnose', '--root', join(pkiDir, 'root.pem'), '--now', now, tokenPath]);
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(/environment\s+test/);
      expect(text.stdout).toMatch(new RegExp(`leaf\\s+${SANDBOX_LEAF}`));
      const refused = await cli([
        'diagnose',
        '--root',
        join(pkiDir, 'root.pem'),
        '--now',
        now,
        '--cert',
        join(pkiDir, 'merchant-ec.pem'),
        '--key',
        join(pkiDir, 'merchant-ec.key.pem'),
        '--production-only',
        '--json',
        tokenPath,
      ]);
      expect(refused.status).toBe(1);
      const o = JSON.parse(refused.stdout) as Record<string, unknown>;
      expect(o).toMatchObject({
        ok: false,
        cause: 'sandbox-refused',
        verification: { code: 'SANDBOX_TOKEN_REFUSED' },
        token: { leafEnvironment: 'sandbox' },
        keys: [{ matchesToken: true }],
      });
      expect(refused.stdout).not.toContain(String(sandbox.expected.applicationPrimaryAccountNumber));
      expect((await cli(['diagnose'])).status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('environment and inspectToken on the other real tokens', () => {
  test.each([
    ['gala-seatgeek-2014', 'production'],
    ['basistheory-ec-2023-03', 'production'],
    ['basistheory-rsa-2024', 'production'],
  ])('%s is %s', async (name, environment) => {
    const set = loadRealSet(name);
    const now = new Date(set.signingTime.getTime() + 5000);
    expect(inspectToken(set.token, { now })).toMatchObject({ environment, chain: { ok: true }, signature: { ok: true } });
    const result = await createVerifier({ merchants: { certificate: set.certificate, privateKey: set.privateKey } }).verifyAndDecrypt(
      set.token,
      { now },
    );
    expect(result.environment).toBe(environment);
    // A production token passes a production-only verifier.
    await expect(
      createVerifier({ merchants: { certificate: set.certificate, privateKey: set.privateKey }, acceptSandbox: false }).verifyAndDecrypt(
        set.token,
        { now },
      ),
    ).resolves.toMatchObject({ environment });
  });

  test('a token for a newer certificate than the expired one configured: other-certificate, naming the expiry', async () => {
    const old = loadRealSet('gala-seatgeek-2014');
    const set = loadRealSet('basistheory-ec-2023-03');
    const d = await diagnoseToken(set.token, {
      now: new Date(set.signingTime.getTime() + 5000),
      merchants: { certificate: old.certificate, privateKey: old.privateKey },
    });
    expect(d.cause).toBe('other-certificate');
    expect(d.keys).toMatchObject([{ kind: 'payment-processing', matchesToken: false, notAfter: new Date('2016-11-24T12:10:10Z') }]);
    expect(d.conclusion).toMatch(/#0 had expired before the token was signed/);
  });

  test("Apple's internal test-CA token: no environment, untrusted signer", async () => {
    const set = loadRealSet('apple-sample-testca-2016-emv');
    expect(inspectToken(set.token)).toMatchObject({
      environment: null,
      leafEnvironment: null,
      chain: { ok: false, code: 'LEAF_CERT_INVALID' },
    });
    expect((await diagnoseToken(set.token)).cause).toBe('untrusted-signer');
    expect(readFileSync(join(REAL_DIR, 'apple-sample-testca-2016-emv', 'meta.json'), 'utf8')).toContain('Test ECC SMP Broker Signing UC4');
  });

  test("a chain to another root is 'test', and so is Result.environment", async () => {
    const { paymentData } = mint({ version: 'EC_v1' });
    expect(inspectToken(paymentData, { rootCertificate: pki().root.certPem })).toMatchObject({
      environment: 'test',
      leafEnvironment: 'production',
      appleRoot: false,
    });
    await expect(testVerifier().verifyAndDecrypt(paymentData)).resolves.toMatchObject({ environment: 'test' });
    // Against Apple's root the same token does not chain at all.
    expect(inspectToken(paymentData)).toMatchObject({ environment: null, chain: { ok: false, code: 'CHAIN_UNTRUSTED' } });
  });

  test('createInspector gives the facts inspectToken gives, for many tokens', () => {
    const inspector = createInspector();
    for (const name of ['gala-seatgeek-2014', 'basistheory-rsa-2024', 'apple-sample-testca-2016-emv']) {
      const set = loadRealSet(name);
      const now = new Date(set.signingTime.getTime() + 5000);
      expect(inspector.inspect(set.token, { now })).toEqual(inspectToken(set.token, { now }));
      expect(inspector.inspect(set.token, { now })).toEqual(inspectToken(set.token, { now }));
    }
    expect(createInspector({ rootCertificate: pki().root.certPem }).inspect(mint({ version: 'RSA_v1' }).paymentData)).toMatchObject({
      environment: 'test',
      signature: { ok: true },
    });
  });

  test("inspectToken throws the verifier's code for a token it cannot read", () => {
    expect(() => inspectToken('{')).toThrow(expect.objectContaining({ code: 'TOKEN_MALFORMED' }));
  });
});

describe('a Merchant Identity certificate in the configuration', () => {
  test('diagnose names it', async () => {
    const p = pki();
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spec = merchantSpec({ key: publicKey, issuerKey: p.wwdr.key, identifier: p.merchants.ec.identifier });
    const identity = issueCertificate({
      ...spec,
      extensions: [...spec.extensions!, { oid: '2.5.29.37', value: der.sequence([der.oid('1.3.6.1.5.5.7.3.2')]) }],
    });
    const { paymentData } = mint({ version: 'EC_v1' });
    const d = await diagnoseToken(paymentData, {
      rootCertificate: p.root.certPem,
      merchants: { certificate: identity, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) },
    });
    expect(d.cause).toBe('merchant-identity-certificate');
    expect(d.keys).toMatchObject([{ kind: 'merchant-identity', matchesToken: false, problem: { code: 'MERCHANT_CERT_INVALID' } }]);
    expect(d.conclusion).toMatch(/Merchant Identity certificate.*not a Payment Processing certificate/);
    expect(d.conclusion).toContain(paymentData.header.publicKeyHash);
  });
});

describe('merchantKeys() and the verify event', () => {
  test('each key with its hash and expiry; lastUsed moves when, and only when, that key decrypts', async () => {
    const p = pki();
    let now = new Date('2025-03-01T12:00:00Z');
    const options = {
      rootCertificate: p.root.certPem,
      clock: () => now,
      merchants: [
        { certificate: p.merchants.ec.certPem, privateKey: readFileSync(p.merchants.ec.keyPath) },
        { certificate: p.merchants.ecRotated.certPem, privateKey: readFileSync(p.merchants.ecRotated.keyPath) },
      ],
    };
    const verifier = createVerifier(options);
    const other = createVerifier(options);
    expect(verifier.merchantKeys()).toEqual([
      {
        index: 0,
        merchantIdentifier: p.merchants.ec.identifier,
        merchantIdentifierHash: p.merchants.ec.identifierHash.toString('hex'),
        publicKeyHash: p.merchants.ec.publicKeyHash.toString('base64'),
        type: 'ec',
        version: 'EC_v1',
        notBefore: new Date('2024-01-01T00:00:00Z'),
        notAfter: new Date('2034-01-01T00:00:00Z'),
        lastUsed: null,
      },
      expect.objectContaining({ index: 1, publicKeyHash: p.merchants.ecRotated.publicKeyHash.toString('base64'), lastUsed: null }),
    ]);
    await verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime: now }).paymentData);
    expect(verifier.merchantKeys().map((k) => k.lastUsed)).toEqual([now, null]);
    const first = now;
    now = new Date('2025-03-02T08:00:00Z');
    verifier.verifyAndDecryptSync(mint({ version: 'EC_v1', merchant: 'ecRotated', signingTime: now }).paymentData);
    expect(verifier.merchantKeys().map((k) => k.lastUsed)).toEqual([first, now]);
    // A stored token verified at its own (earlier) time does not turn lastUsed back.
    const stored = mint({ version: 'EC_v1', merchant: 'ecRotated', signingTime: first }).paymentData;
    await verifier.verifyAndDecrypt(stored, { now: first });
    expect(verifier.merchantKeys().map((k) => k.lastUsed)).toEqual([first, now]);
    // A token that fails (tampered) leaves lastUsed alone; another verifier keeps its own record.
    const tampered = mint({ version: 'EC_v1', signingTime: now, cms: { messageDigestOverride: Buffer.alloc(32) } }).paymentData;
    now = new Date('2025-03-03T08:00:00Z');
    await expect(verifier.verifyAndDecrypt(tampered)).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    expect(verifier.merchantKeys()[0]!.lastUsed).toEqual(first);
    expect(other.merchantKeys().map((k) => k.lastUsed)).toEqual([null, null]);
    // The caller's copy cannot change the verifier's record.
    verifier.merchantKeys()[0]!.lastUsed!.setTime(0);
    expect(verifier.merchantKeys()[0]!.lastUsed).toEqual(first);
  });

  test('a key configured by merchantIdentifier is listed with it, without a validity', () => {
    const ec = pki().merchants.ec;
    const keys = createVerifier({ merchants: { privateKey: readFileSync(ec.keyPath), merchantIdentifier: ec.identifier } }).merchantKeys();
    expect(keys).toEqual([
      expect.objectContaining({
        merchantIdentifier: ec.identifier,
        publicKeyHash: ec.publicKeyHash.toString('base64'),
        notAfter: null,
        lastUsed: null,
      }),
    ]);
  });

  test('the diagnostics event carries publicKeyHash and environment', async () => {
    const events: VerifyEvent[] = [];
    const listener = (e: unknown): void => void events.push(e as VerifyEvent);
    diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, listener);
    try {
      const m = mint({ version: 'EC_v1' });
      await testVerifier().verifyAndDecrypt(m.paymentData);
      await expect(
        createVerifier(refusedVector.options).verifyAndDecrypt(refusedVector.token, { now: refusedVector.now }),
      ).rejects.toThrow();
      const refusedHash = (refusedVector.token as { header: { publicKeyHash: string } }).header.publicKeyHash;
      expect(events).toMatchObject([
        { ok: true, code: 'OK', publicKeyHash: m.paymentData.header.publicKeyHash, environment: 'test' },
        { ok: false, code: 'SANDBOX_TOKEN_REFUSED', publicKeyHash: refusedHash, environment: 'test' },
      ]);
    } finally {
      diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, listener);
    }
  });
});

describe('hostile input', () => {
  test('diagnose never throws and inspectToken throws only ApplePayErrors, on signatures with random bytes changed', async () => {
    const fc = await import('fast-check');
    const set = loadRealSet('basistheory-ec-2023-03');
    const signature = Buffer.from(String(set.token.signature), 'base64');
    const now = new Date(set.signingTime.getTime() + 5000);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(signature.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (flips) => {
          const bad = Buffer.from(signature);
          for (const [i, x] of flips) bad[i] = bad[i]! ^ x;
          const token = { ...set.token, signature: bad.toString('base64') };
          try {
            inspectToken(token, { now });
          } catch (err) {
            expect(err).toMatchObject({ name: 'ApplePayError' });
          }
          const d = await diagnoseToken(token, { now, merchants: { certificate: set.certificate, privateKey: set.privateKey } });
          expect(DIAGNOSIS_CAUSES).toContain(d.cause);
          expect(d.cause).not.toBe('internal');
          expect(JSON.stringify(d)).not.toContain(String(set.expected.applicationPrimaryAccountNumber));
        },
      ),
      { numRuns: 25 },
    );
  });
});
