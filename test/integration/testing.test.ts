// The test kit as a user sees it: only the package's public entry points, by their package names
// (self-reference through package.json "exports", which needs dist/ built: npm test's pretest does it).
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, ERROR_CODES, isApplePayError, type Verifier } from 'applepay-verify';
import {
  createTestPki,
  loadTestPki,
  mintToken,
  mutators,
  MUTATOR_CODES,
  presetPayment,
  PRESET_NAMES,
  TEST_ONLY_MARKER,
  testVerifierOptions,
  type MutatorName,
  type TestPki,
} from 'applepay-verify/testing';

const VERSIONS = ['EC_v1', 'RSA_v1'] as const;

let pki: TestPki;
let verifier: Verifier;
const tmp = mkdtempSync(join(tmpdir(), 'applepay-testing-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  pki = createTestPki();
  verifier = createVerifier(testVerifierOptions(pki));
});

async function refusal(v: Verifier, token: unknown): Promise<string> {
  try {
    await v.verifyAndDecrypt(token);
  } catch (err) {
    if (isApplePayError(err)) return err.code;
    throw err;
  }
  return 'ACCEPTED';
}

describe('createTestPki', () => {
  it("marks every authority TEST ONLY and carries Apple's marker extensions", () => {
    for (const name of ['root', 'intermediate', 'leafEc', 'leafRsa', 'wwdr'] as const) {
      const cert = new X509Certificate(pki[name].certificate);
      expect(cert.subject).toContain(TEST_ONLY_MARKER);
    }
    expect(new X509Certificate(pki.rootCertificate).subject).toMatch(/CN=applepay-verify TEST ONLY Root CA/);
    const hasExtension = (pem: string, oidHex: string): boolean => new X509Certificate(pem).raw.includes(Buffer.from(oidHex, 'hex'));
    // 1.2.840.113635.100.6.29 (leaf) and 1.2.840.113635.100.6.2.14 (intermediate), DER-encoded OIDs.
    expect(hasExtension(pki.leafEc.certificate, '06092a864886f76364061d')).toBe(true);
    expect(hasExtension(pki.leafRsa.certificate, '06092a864886f76364061d')).toBe(true);
    expect(hasExtension(pki.intermediate.certificate, '060a2a864886f7636406020e')).toBe(true);
    expect(new X509Certificate(pki.leafEc.certificate).publicKey.asymmetricKeyType).toBe('ec');
    expect(new X509Certificate(pki.leafRsa.certificate).publicKey.asymmetricKeyType).toBe('rsa');
    expect(pki.merchants.ec.keyType).toBe('EC');
    expect(pki.merchants.rsa.keyType).toBe('RSA');
    expect(pki.merchants.rsa.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    // The merchant certificate names its identifier the way Apple's do (.6.32 = hex SHA-256).
    const idHash = createHash('sha256').update('merchant.com.example.test').digest('hex').toUpperCase();
    expect(pki.merchants.ec.certDer.includes(Buffer.from(idHash, 'latin1'))).toBe(true);
    expect(new X509Certificate(pki.leafEc.certificate).verify(new X509Certificate(pki.intermediate.certificate).publicKey)).toBe(true);
    expect(new X509Certificate(pki.intermediate.certificate).verify(new X509Certificate(pki.rootCertificate).publicKey)).toBe(true);
  });

  it('saves to a directory and to JSON, and loads back a PKI whose tokens the saved merchants decrypt', async () => {
    const dir = join(tmp, 'saved');
    pki.save(dir);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'root.pem',
        'root.key.pem',
        'merchant-ec.pem',
        'merchant-ec.key.pem',
        'merchant-rsa.pem',
        'merchant-rsa.key.pem',
      ]),
    );
    // Private keys are written for the owner only.
    expect(statSync(join(dir, 'merchant-ec.key.pem')).mode & 0o077).toBe(0);
    const fromDir = loadTestPki(dir);
    const fromJson = loadTestPki(JSON.parse(JSON.stringify(pki)));
    const fromText = loadTestPki(JSON.stringify(pki.toJSON()));
    for (const loaded of [fromDir, fromJson, fromText]) {
      expect(loaded.rootCertificate).toBe(pki.rootCertificate);
      expect(loaded.merchants.rsa.privateKey).toBe(pki.merchants.rsa.privateKey);
      // Minted with the loaded PKI, verified with the original's options: the same PKI.
      for (const version of VERSIONS) {
        const minted = mintToken(loaded, { version });
        expect((await verifier.verifyAndDecrypt(minted.paymentData)).transactionId).toBe(minted.transactionId);
      }
    }
    // The manifest is what a service in another language reads.
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.merchants.ec.identifier).toBe('merchant.com.example.test');
    expect(manifest.merchants.ec.publicKeyHash).toBe(pki.merchants.ec.publicKeyHash.toString('base64'));
    expect(() => loadTestPki({ format: 'something else' } as never)).toThrow(/not a saved test PKI/);
    // A PKI without the marker (the package's own corpus PKI carries Apple's names) is refused.
    expect(() => loadTestPki(fileURLToPath(new URL('../../test-vectors/pki/', import.meta.url)))).toThrow(/not a TEST ONLY PKI/);
    const unmarked = pki.toJSON();
    unmarked.authorities.intermediate = {
      certificate: readFileSync(new URL('../../test-vectors/pki/intermediate.pem', import.meta.url), 'utf8'),
      privateKey: readFileSync(new URL('../../test-vectors/pki/intermediate.key.pem', import.meta.url), 'utf8'),
    };
    expect(() => loadTestPki(unmarked)).toThrow(/the intermediate certificate's subject lacks "TEST ONLY"/);
  });

  it('takes a merchant identifier, extra merchants and a label', async () => {
    const custom = createTestPki({
      merchantIdentifier: 'merchant.com.example.shop',
      extraMerchants: [{ name: 'ecNext', keyType: 'EC' }],
      label: 'custom',
    });
    expect(new X509Certificate(custom.rootCertificate).subject).toContain('TEST ONLY Root CA (custom)');
    expect(custom.merchants.ecNext?.identifier).toBe('merchant.com.example.shop');
    const v = createVerifier(testVerifierOptions(custom, { merchants: ['ecNext'] }));
    const minted = mintToken(custom, { merchant: 'ecNext' });
    const result = await v.verifyAndDecrypt(minted.paymentData);
    expect(result.merchantIdentifierHash).toBe(createHash('sha256').update('merchant.com.example.shop').digest('hex'));
    // Only ecNext is configured: a token for `ec` has an unknown key.
    expect(await refusal(v, mintToken(custom).paymentData)).toBe('MERCHANT_KEY_NOT_FOUND');
    expect(() => createTestPki({ extraMerchants: [{ name: 'ec', keyType: 'EC' }] })).toThrow(/taken/);
  });
});

describe('mintToken', () => {
  for (const version of VERSIONS) {
    for (const preset of PRESET_NAMES) {
      it(`${version} ${preset}: verifies and decrypts to the preset payment`, async () => {
        const minted = mintToken(pki, { version, preset });
        const result = await verifier.verifyAndDecrypt(minted.paymentData);
        expect(result.version).toBe(version);
        expect(result.payment).toEqual(minted.payment);
        expect(result.payment).toEqual(presetPayment(preset, { merchantIdentifier: 'merchant.com.example.test' }));
        expect(result.transactionId).toBe(minted.transactionId);
        expect(result.signingTime).toEqual(minted.signingTime);
        expect(result.applicationData).toBeUndefined();
      });
    }

    it(`${version}: applicationData, amount, currency, transactionId, signingTime and the Apple Pay JS wrapper`, async () => {
      const signingTime = new Date('2026-03-01T12:00:00.750Z');
      const minted = mintToken(pki, {
        version,
        applicationData: 'order-4711',
        amount: 12345,
        currencyCode: '978',
        transactionId: 'AB'.repeat(32),
        signingTime,
        wrapper: { network: 'MasterCard' },
      });
      expect(minted.token).toMatchObject({
        paymentData: minted.paymentData,
        paymentMethod: { displayName: 'MasterCard 1111', network: 'MasterCard', type: 'debit' },
        transactionIdentifier: 'AB'.repeat(32),
      });
      const v = createVerifier(testVerifierOptions(pki, { now: new Date('2026-03-01T12:01:00Z') }));
      const result = await v.verifyAndDecrypt(minted.token);
      expect(result.applicationData).toBe(createHash('sha256').update('order-4711').digest('hex'));
      expect(minted.applicationData).toBe(result.applicationData);
      expect(result.transactionId).toBe('ab'.repeat(32));
      expect(result.signingTime.toISOString()).toBe('2026-03-01T12:00:00.000Z');
      expect(result.payment.transactionAmount).toBe(12345);
      expect(result.payment.currencyCode).toBe('978');
    });
  }

  it('a merchant-token payment carries the MPAN and its merchant-token fields', async () => {
    const result = await verifier.verifyAndDecrypt(mintToken(pki, { preset: 'merchantToken', amount: 990 }).paymentData);
    expect(result.payment.merchantTokenIdentifier).toMatch(/^DNITHE/);
    expect(result.payment.merchantTokenMetadata).toMatchObject({ cardMetadata: { cardType: 'credit' } });
    expect(result.payment.authenticationResponses?.[0]).toMatchObject({
      merchantIdentifier: 'merchant.com.example.test',
      transactionAmount: '990',
    });
  });

  it('a custom payment passes through, unknown fields included', async () => {
    const payment = { ...presetPayment('3DSecure'), cardholderName: 'Jane Appleseed', futureField: [1, 2] };
    const result = await verifier.verifyAndDecrypt(mintToken(pki, { payment }).paymentData);
    expect(result.payment).toEqual(payment);
  });

  it('refuses options that would mint something other than asked', () => {
    expect(() => mintToken(pki, { version: 'EC_v2' as never })).toThrow(/version/);
    expect(() => mintToken(pki, { version: 'EC_v1', merchant: 'rsa' })).toThrow(/EC merchant/);
    expect(() => mintToken(pki, { merchant: 'nobody' })).toThrow(/no merchant/);
    expect(() => mintToken(pki, { transactionId: 'xyz' })).toThrow(/hex/);
    expect(() => mintToken(pki, { signingTime: new Date('bad') })).toThrow(/signingTime/);
    expect(() => mintToken(pki, { preset: 'cash' as never })).toThrow(/unknown preset/);
  });
});

describe("an independent check: openssl verifies the kit's chain and signatures", () => {
  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
  it.skipIf(!haveOpenssl)('openssl cms -verify accepts EC_v1 and RSA_v1 tokens against the test root, and refuses another root', () => {
    const dir = mkdtempSync(join(tmp, 'openssl-'));
    const root = join(dir, 'root.pem');
    writeFileSync(root, pki.rootCertificate);
    const otherRoot = join(dir, 'other.pem');
    writeFileSync(otherRoot, createTestPki({ label: 'openssl' }).rootCertificate);
    for (const version of VERSIONS) {
      const { paymentData: pd } = mintToken(pki, { version, applicationData: 'x' });
      // The signed content, rebuilt from the token's fields (docs/token-format.md, signed content).
      const content = Buffer.concat([
        Buffer.from(pd.header.ephemeralPublicKey ?? pd.header.wrappedKey ?? '', 'base64'),
        Buffer.from(pd.data, 'base64'),
        Buffer.from(pd.header.transactionId, 'hex'),
        Buffer.from(pd.header.applicationData ?? '', 'hex'),
      ]);
      writeFileSync(join(dir, 'sig.der'), Buffer.from(pd.signature, 'base64'));
      writeFileSync(join(dir, 'content.bin'), content);
      const verify = (ca: string) =>
        spawnSync(
          'openssl',
          [
            'cms',
            '-verify',
            '-binary',
            '-inform',
            'DER',
            '-in',
            join(dir, 'sig.der'),
            '-content',
            join(dir, 'content.bin'),
            '-CAfile',
            ca,
            '-purpose',
            'any',
            '-out',
            join(dir, 'out.bin'),
          ],
          {
            encoding: 'utf8',
          },
        );
      const good = verify(root);
      expect(good.status, good.stderr).toBe(0);
      expect(verify(otherRoot).status).not.toBe(0);
    }
  });
});

describe('safety', () => {
  it('a verifier with the default (Apple) root refuses every minted token with CHAIN_UNTRUSTED', async () => {
    const apple = createVerifier({ merchants: testVerifierOptions(pki).merchants });
    for (const version of VERSIONS) {
      for (const preset of PRESET_NAMES) {
        expect(await refusal(apple, mintToken(pki, { version, preset }).paymentData)).toBe('CHAIN_UNTRUSTED');
      }
    }
  });

  it('a verifier with another test root refuses the tokens too', async () => {
    const other = createTestPki({ label: 'other' });
    const v = createVerifier({ ...testVerifierOptions(pki), rootCertificate: other.rootCertificate });
    expect(await refusal(v, mintToken(pki).paymentData)).toBe('CHAIN_UNTRUSTED');
  });
});

describe('mutators', () => {
  it('each documented code is an error code of the library', () => {
    for (const code of Object.values(MUTATOR_CODES)) expect(ERROR_CODES).toContain(code);
    expect(Object.keys(mutators).sort()).toEqual(Object.keys(MUTATOR_CODES).sort());
  });

  for (const name of Object.keys(MUTATOR_CODES) as MutatorName[]) {
    for (const version of VERSIONS) {
      it(`${name} (${version}) gives ${MUTATOR_CODES[name]}`, async () => {
        const bad = mutators[name](pki, { version });
        expect(bad.code).toBe(MUTATOR_CODES[name]);
        expect(await refusal(verifier, bad.paymentData)).toBe(MUTATOR_CODES[name]);
        // Sync API, and through the wrapper, give the same verdict.
        expect(() => verifier.verifyAndDecryptSync(mutators[name](pki, { version, wrapper: true }).token)).toThrow(
          expect.objectContaining({ code: MUTATOR_CODES[name] }),
        );
      });
    }
  }

  it('the time mutators follow a fixed verifier clock', async () => {
    const now = new Date('2027-06-01T08:00:00Z');
    const v = createVerifier(testVerifierOptions(pki, { now }));
    expect(await refusal(v, mutators.staleSigningTime(pki, { now }).paymentData)).toBe('SIGNING_TIME_TOO_OLD');
    expect(await refusal(v, mutators.futureSigningTime(pki, { now }).paymentData)).toBe('SIGNING_TIME_IN_FUTURE');
    expect(await refusal(v, mintToken(pki, { signingTime: now }).paymentData)).toBe('ACCEPTED');
  });
});

describe('docs/testing.md', () => {
  const doc = readFileSync(new URL('../../docs/testing.md', import.meta.url), 'utf8');
  it('documents every mutator with the code it gives', () => {
    for (const [name, code] of Object.entries(MUTATOR_CODES)) {
      expect(doc).toMatch(new RegExp(`\\| \`${name}\` \\|[^\\n]*\\| \`${code}\` \\|`));
    }
  });
});

describe('README', () => {
  it('"Testing your integration" shows test/integration/testing-example.test.ts verbatim', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('## Testing your integration')[1]?.split('\n## ')[0] ?? '';
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(readFileSync(new URL('./testing-example.test.ts', import.meta.url), 'utf8'));
    expect(section).toContain('(docs/testing.md)');
  });
});
