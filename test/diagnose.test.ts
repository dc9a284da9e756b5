// diagnose and inspectToken over the whole corpus, the real sandbox token, and the causes a payment team
// meets: every vector gets the cause of its class, from the verifier's verdict with keys and, for the
// classes a token shows by itself, from the token alone; conclusions never carry payment data.
import diagnostics_channel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main, type Io } from '../lib/cli.js';
import { DIAGNOSIS_CAUSES, causeOf, diagnoseToken, type Diagnosis } from '../lib/diagnose.js';
import {
  createInspector,
  createVerifier,
  inspectToken,
  memoryReplayGuard,
  VERIFY_CHANNEL_NAME,
  type ErrorCode,
  type VerifierOptions,
  type VerifyEvent,
} from '../lib/index.js';
import { DEFAULT_VECTORS_DIR, findVectors, loadVector } from '../lib/vectors.js';
import * as der from '../test-vectors/gen/der.js';
import { issueCertificate, merchantSpec } from '../test-vectors/gen/pki.js';
import { REAL_DIR, ROOT, loadRealSet, mint, pki, testVerifier } from './helpers.js';

const SANDBOX_DIR = join(ROOT, 'test-vectors', 'sandbox', 'payu-sandbox-2018');
const sandbox = {
  token: readFileSync(join(SANDBOX_DIR, 'token.json')),
  key: readFileSync(join(SANDBOX_DIR, 'merchant_key.pem')),
  merchantIdentifier: 'merchant.sandbox.payu',
  now: new Date('2018-01-26T13:55:23Z'),
  expected: JSON.parse(readFileSync(join(SANDBOX_DIR, 'expected.json'), 'utf8')) as Record<string, unknown>,
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

describe('the real sandbox token', () => {
  test("inspectToken: sandbox by its leaf, chain to Apple's root and signature valid", () => {
    const facts = inspectToken(sandbox.token, { now: sandbox.now });
    expect(facts).toMatchObject({
      version: 'EC_v1',
      environment: 'sandbox',
      leafEnvironment: 'sandbox',
      appleRoot: true,
      chain: { ok: true },
      signature: { ok: true },
      publicKeyHash: 'zZPAYNrLOwPbRsav95FZTIYlKF6dULquEHppV6TRPmc=',
      leaf: { subject: 'ecc-smp-broker-sign_UC4-SANDBOX', validAtSigningTime: true },
    });
    expect(facts.ageMs).toBe(5000);
  });

  test('verifies, decrypts and reports environment sandbox; acceptSandbox: false refuses it with SANDBOX_TOKEN_REFUSED', async () => {
    const merchants = { privateKey: sandbox.key, merchantIdentifier: sandbox.merchantIdentifier };
    const result = await createVerifier({ merchants }).verifyAndDecrypt(sandbox.token, { now: sandbox.now });
    expect(result.environment).toBe('sandbox');
    expect(result.payment).toEqual(sandbox.expected);
    await expect(
      createVerifier({ merchants, acceptSandbox: false }).verifyAndDecrypt(sandbox.token, { now: sandbox.now }),
    ).rejects.toMatchObject({
      code: 'SANDBOX_TOKEN_REFUSED',
    });
  });

  test('diagnose names the cause: genuine sandbox, refused in production-only mode, or made for another certificate', async () => {
    const alone = await diagnoseToken(sandbox.token, { now: sandbox.now });
    expect(alone).toMatchObject({ cause: 'genuine', token: { environment: 'sandbox' } });
    const merchants = { privateKey: sandbox.key, merchantIdentifier: sandbox.merchantIdentifier };
    expect(await diagnoseToken(sandbox.token, { now: sandbox.now, merchants })).toMatchObject({ cause: 'verified' });
    const refused = await diagnoseToken(sandbox.token, { now: sandbox.now, merchants, verifier: { acceptSandbox: false } });
    expect(refused.cause).toBe('sandbox-refused');
    expect(refused.conclusion).toMatch(/sandbox/);
    // A production server's key: the hash does not match, and the conclusion says it is a sandbox token.
    const set = loadRealSet('basistheory-ec-2023-03');
    const other = await diagnoseToken(sandbox.token, {
      now: sandbox.now,
      merchants: { certificate: set.certificate, privateKey: set.privateKey },
    });
    expect(other.cause).toBe('other-certificate');
    expect(other.conclusion).toContain('zZPAYNrLOwPbRsav95FZTIYlKF6dULquEHppV6TRPmc=');
    expect(other.conclusion).toContain('aXryfzzhfHFLCl+guEkcYpVd1R+mPYEmmeu1N4aR2Ls=');
    expect(other.conclusion).toMatch(/sandbox token/);
    noSecrets(other, sandbox.expected);
  });

  test('the command: text and --json, exit 0 when genuine, 1 when refused', async () => {
    const tokenPath = join(SANDBOX_DIR, 'token.json');
    const text = await cli(['diagnose', '--now', '2018-01-26T13:55:23Z', tokenPath]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/environment\s+sandbox/);
    expect(text.stdout).toMatch(/leaf\s+ecc-smp-broker-sign_UC4-SANDBOX/);
    const refused = await cli([
      'diagnose',
      '--now',
      '2018-01-26T13:55:23Z',
      '--key',
      join(SANDBOX_DIR, 'merchant_key.pem'),
      '--merchant-id',
      sandbox.merchantIdentifier,
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
      keys: [{ matchesToken: true }],
    });
    expect(refused.stdout).not.toContain(String(sandbox.expected.applicationPrimaryAccountNumber));
    expect((await cli(['diagnose'])).status).toBe(2);
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
    const keys = createVerifier({ merchants: { privateKey: sandbox.key, merchantIdentifier: sandbox.merchantIdentifier } }).merchantKeys();
    expect(keys).toEqual([
      expect.objectContaining({
        merchantIdentifier: sandbox.merchantIdentifier,
        publicKeyHash: 'zZPAYNrLOwPbRsav95FZTIYlKF6dULquEHppV6TRPmc=',
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
      const merchants = { privateKey: sandbox.key, merchantIdentifier: sandbox.merchantIdentifier };
      await expect(
        createVerifier({ merchants, acceptSandbox: false }).verifyAndDecrypt(sandbox.token, { now: sandbox.now }),
      ).rejects.toThrow();
      expect(events).toMatchObject([
        { ok: true, code: 'OK', publicKeyHash: m.paymentData.header.publicKeyHash, environment: 'test' },
        { ok: false, code: 'SANDBOX_TOKEN_REFUSED', publicKeyHash: 'zZPAYNrLOwPbRsav95FZTIYlKF6dULquEHppV6TRPmc=', environment: 'sandbox' },
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
