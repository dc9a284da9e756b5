// Issue 10's classes 2 to 5 through the public API, each on tokens that verify but for the one thing
// changed: the signed-content boundary (one payment, two transactionIds), bytes inside Apple's
// certificates that no signature covers or that a lenient reader skips, RFC 5280 on the chain, and
// input that can be read two ways. (Class 1, the crash, is test/adversarial/hostile-keys.test.ts.)
import { describe, expect, test } from 'vitest';
import { ApplePayError, createVerifier, type ErrorCode } from '../../lib/index.js';
import * as der from '../../test-vectors/gen/der.js';
import { OID, appleRootSpec, ext, toPem } from '../../test-vectors/gen/pki.js';
import { buildCertificate, certificateVariantToken, certificateVariants } from './fixtures/cert-variants.js';
import { REAL_SETS, loadRealSet, mint, pki, testVerifier } from '../support/helpers.js';

function codeOf(fn: () => unknown): ErrorCode | 'OK' {
  try {
    fn();
    return 'OK';
  } catch (err) {
    if (err instanceof ApplePayError) return err.code;
    throw err;
  }
}

const b64 = (b: Buffer): string => b.toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

describe('the signed content has one reading: transactionId and applicationData are 32 bytes each', () => {
  const verifier = testVerifier();

  for (const version of ['EC_v1', 'RSA_v1'] as const) {
    test(`${version}: applicationData moved onto the end of transactionId (a 64-byte id, same signature) is TOKEN_MALFORMED`, async () => {
      const applicationData = 'ab'.repeat(32);
      const { paymentData } = mint({ version, applicationData });
      expect(codeOf(() => verifier.verifyAndDecryptSync(paymentData))).toBe('OK');
      const { applicationData: _moved, ...header } = paymentData.header;
      const replayed = { ...paymentData, header: { ...header, transactionId: paymentData.header.transactionId + applicationData } };
      expect(codeOf(() => verifier.verifyAndDecryptSync(replayed))).toBe('TOKEN_MALFORMED');
      await expect(verifier.verifyAndDecrypt(replayed)).rejects.toMatchObject({
        code: 'TOKEN_MALFORMED',
        details: { field: 'header.transactionId' },
      });
    });

    test(`${version}: the last 16 or 32 bytes of data moved into transactionId are TOKEN_MALFORMED`, () => {
      const { paymentData } = mint({ version });
      const data = unb64(paymentData.data);
      for (const n of [16, 32]) {
        const moved = {
          ...paymentData,
          data: b64(data.subarray(0, data.length - n)),
          header: {
            ...paymentData.header,
            transactionId: data.subarray(data.length - n).toString('hex') + paymentData.header.transactionId,
          },
        };
        expect(codeOf(() => verifier.verifyAndDecryptSync(moved))).toBe('TOKEN_MALFORMED');
      }
    });

    test(`${version}: transactionId of 31 or 33 bytes is TOKEN_MALFORMED; 32 bytes with leading zeros verifies`, () => {
      for (const transactionId of ['00'.repeat(31), '00'.repeat(33), 'ff'.repeat(16)]) {
        expect(codeOf(() => verifier.verifyAndDecryptSync(mint({ version, transactionId }).paymentData))).toBe('TOKEN_MALFORMED');
      }
      expect(codeOf(() => verifier.verifyAndDecryptSync(mint({ version, transactionId: `0000${'7'.repeat(60)}` }).paymentData))).toBe('OK');
    });

    test(`${version}: applicationData dropped and its bytes taken as the transactionId (the data absorbing the old id) fails decryption, before any replay claim`, async () => {
      const applicationData = 'cd'.repeat(32);
      const { paymentData } = mint({ version, applicationData });
      const data = unb64(paymentData.data);
      const { applicationData: _dropped, ...header } = paymentData.header;
      const shifted = {
        ...paymentData,
        data: b64(Buffer.concat([data, Buffer.from(paymentData.header.transactionId, 'hex')])),
        header: { ...header, transactionId: applicationData },
      };
      const claims: string[] = [];
      const guarded = testVerifier({ replayGuard: { claim: async (id) => (claims.push(id), true) } });
      await expect(guarded.verifyAndDecrypt(shifted)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
      expect(claims).toEqual([]);
    });
  }

  test('EC_v1: a byte moved across the ephemeralPublicKey | data boundary (either way) is refused as an invalid ephemeral key', () => {
    const { paymentData } = mint({ version: 'EC_v1' });
    const key = unb64(paymentData.header.ephemeralPublicKey!);
    const data = unb64(paymentData.data);
    const longer = {
      ...paymentData,
      data: b64(data.subarray(1)),
      header: { ...paymentData.header, ephemeralPublicKey: b64(Buffer.concat([key, data.subarray(0, 1)])) },
    };
    const shorter = {
      ...paymentData,
      data: b64(Buffer.concat([key.subarray(-1), data])),
      header: { ...paymentData.header, ephemeralPublicKey: b64(key.subarray(0, -1)) },
    };
    expect(codeOf(() => verifier.verifyAndDecryptSync(longer))).toBe('EPHEMERAL_KEY_INVALID');
    expect(codeOf(() => verifier.verifyAndDecryptSync(shorter))).toBe('EPHEMERAL_KEY_INVALID');
  });

  test('RSA_v1: a byte moved across the wrappedKey | data boundary (wrappedKey no longer the modulus size) is refused', () => {
    const { paymentData } = mint({ version: 'RSA_v1' });
    const key = unb64(paymentData.header.wrappedKey!);
    const data = unb64(paymentData.data);
    const longer = {
      ...paymentData,
      data: b64(data.subarray(1)),
      header: { ...paymentData.header, wrappedKey: b64(Buffer.concat([key, data.subarray(0, 1)])) },
    };
    const shorter = {
      ...paymentData,
      data: b64(Buffer.concat([key.subarray(-1), data])),
      header: { ...paymentData.header, wrappedKey: b64(key.subarray(0, -1)) },
    };
    expect(codeOf(() => verifier.verifyAndDecryptSync(longer))).toBe('DECRYPTION_FAILED');
    // 255 bytes is below any modulus the package accepts, so the parse refuses it already.
    expect(codeOf(() => verifier.verifyAndDecryptSync(shorter))).toBe('TOKEN_MALFORMED');
  });

  test('every real token has a 32-byte transactionId (and applicationData, where present, 32 bytes) and still verifies', () => {
    for (const name of REAL_SETS) {
      const set = loadRealSet(name);
      const header = set.token.header as { transactionId: string; applicationData?: string };
      expect(header.transactionId.length, name).toBe(64);
      if (header.applicationData !== undefined) expect(header.applicationData.length, name).toBe(64);
    }
  });
});

describe('a certificate is exactly tbsCertificate, signatureAlgorithm, signatureValue, read as strict DER', () => {
  const verifier = testVerifier();
  const variants = new Map(certificateVariants(pki()).map((v) => [v.name, v]));
  const verdict = (name: string): ErrorCode | 'OK' => {
    const v = variants.get(name);
    if (v === undefined) throw new Error(`no variant ${name}`);
    return codeOf(() => verifier.verifyAndDecryptSync(certificateVariantToken(pki(), v).minted.paymentData));
  };

  test('controls: the unchanged leaf and intermediate, re-issued, verify', () => {
    expect(verdict('leaf: unchanged')).toBe('OK');
    expect(verdict('intermediate: unchanged')).toBe('OK');
  });

  // Each is a certificate its issuer signed (or whose outer bytes no signature covers) that a lenient
  // reader accepts: every one must be SIGNATURE_MALFORMED, in the leaf and in the intermediate.
  const STRUCTURAL = [
    'an element after signatureValue',
    'two elements after signatureValue',
    'an OCTET STRING after signatureValue',
    'signatureValue with one unused bit',
    'an element after the extensions',
    'a NULL after the extensions',
    'issuerUniqueID',
    'subjectUniqueID',
    'version 1 with extensions',
    'version 2 with extensions',
    'version 4',
    'version with a non-minimal INTEGER',
    'version field holding two values',
    'serial with a non-minimal INTEGER',
    'serial negative',
    'serial zero',
    'serial of 21 octets',
    'serial with a long-form length',
    'subject with a long-form length',
    'issuer with an empty RDN',
    'subject with an empty RDN',
    'subject attribute with a third element',
    'subject CN not valid UTF-8',
    'validity with a third time',
    'validity UTCTime without seconds',
    'validity with fractional seconds',
    'SPKI with a third field',
    'SPKI key BIT STRING with an unused bit',
    'SPKI ecPublicKey with NULL parameters',
    'SPKI algorithm with an extra parameter',
    'SPKI with the same key compressed',
    'an empty extensions list',
    'extensions field holding two lists',
    'a duplicate extension',
    'basicConstraints with explicit critical FALSE',
    'keyUsage critical encoded as 0x01',
    'keyUsage value with trailing bytes',
    'subjectKeyIdentifier value with trailing bytes',
    'an extension with a third field',
    'an extension whose value is not DER',
    'an extension whose value is empty',
    'an extension id with a non-minimal arc',
    'a constructed extension value',
    'keyUsage with trailing zero bits',
    'keyUsage with no bit set',
    'basicConstraints with a trailing NULL',
    'inner and outer algorithm with NULL parameters',
    'outer algorithm with a long-form length',
  ];
  for (const role of ['leaf', 'intermediate'] as const) {
    test(`${role}: every structural defect is SIGNATURE_MALFORMED`, () => {
      const wrong = STRUCTURAL.map((n) => `${role}: ${n}`)
        .map((name) => [name, verdict(name)] as const)
        .filter(([, code]) => code !== 'SIGNATURE_MALFORMED');
      expect(wrong).toEqual([]);
    });
  }

  test('an element appended inside the real Apple leaf after signatureValue is refused (a real token)', () => {
    const set = loadRealSet('basistheory-ec-2023-03');
    const real = createVerifier({ merchants: { certificate: set.certificate, privateKey: set.privateKey } });
    expect(codeOf(() => real.verifyAndDecryptSync(set.token, { now: set.signingTime }))).toBe('OK');
    const cms = unb64(set.token.signature as string);
    // The leaf is the first certificate: SEQUENCE with a two-byte length inside the [0] certificate set.
    const leafAt = cms.indexOf(Buffer.from([0x30, 0x82]), cms.indexOf(Buffer.from([0xa0, 0x80]), 20));
    const leafLength = cms.readUInt16BE(leafAt + 2);
    const leaf = cms.subarray(leafAt, leafAt + 4 + leafLength);
    const grown = Buffer.concat([Buffer.from([0x30, 0x82]), Buffer.alloc(2), leaf.subarray(4), der.nullValue()]);
    grown.writeUInt16BE(leafLength + 2, 2);
    const signature = Buffer.concat([cms.subarray(0, leafAt), grown, cms.subarray(leafAt + leaf.length)]);
    expect(codeOf(() => real.verifyAndDecryptSync({ ...set.token, signature: b64(signature) }, { now: set.signingTime }))).toBe(
      'SIGNATURE_MALFORMED',
    );
  });
});

describe('RFC 5280 on the chain: keyUsage, basicConstraints, critical extensions', () => {
  const verifier = testVerifier();
  const variants = new Map(certificateVariants(pki()).map((v) => [v.name, v]));
  const verdict = (name: string): ErrorCode | 'OK' =>
    codeOf(() => verifier.verifyAndDecryptSync(certificateVariantToken(pki(), variants.get(name)!).minted.paymentData));

  test.each([
    ['leaf: keyUsage keyEncipherment only', 'LEAF_CERT_INVALID'],
    ['leaf: no keyUsage', 'LEAF_CERT_INVALID'],
    ['leaf: keyUsage digitalSignature and keyCertSign', 'LEAF_CERT_INVALID'],
    ['leaf: keyUsage all bits', 'LEAF_CERT_INVALID'],
    ['leaf: basicConstraints cA TRUE', 'LEAF_CERT_INVALID'],
    ['leaf: basicConstraints cA FALSE with a path length', 'LEAF_CERT_INVALID'],
    ['leaf: an unknown critical extension', 'LEAF_CERT_INVALID'],
    ['leaf: a critical extendedKeyUsage', 'LEAF_CERT_INVALID'],
    ['leaf: a critical certificatePolicies', 'LEAF_CERT_INVALID'],
    ['leaf: no authorityKeyIdentifier', 'LEAF_CERT_INVALID'],
    ['leaf: a critical authorityKeyIdentifier', 'LEAF_CERT_INVALID'],
    ['leaf: empty subject', 'LEAF_CERT_INVALID'],
    ['intermediate: keyUsage cRLSign only', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: keyUsage digitalSignature only', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: no keyUsage', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: basicConstraints cA FALSE', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: no basicConstraints', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: basicConstraints not critical', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: an unknown critical extension', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: a critical extendedKeyUsage', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: no subjectKeyIdentifier', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: no authorityKeyIdentifier', 'INTERMEDIATE_CERT_INVALID'],
    ['intermediate: basicConstraints negative path length', 'SIGNATURE_MALFORMED'],
    // Allowed: the leaf below the intermediate is no CA, so any path length fits.
    ['intermediate: basicConstraints path length 0', 'OK'],
    ['intermediate: keyUsage keyCertSign only', 'OK'],
    ['leaf: keyUsage digitalSignature and keyEncipherment', 'OK'],
    ['leaf: an unknown non-critical extension', 'OK'],
    ['leaf: no basicConstraints', 'OK'],
  ] as const)('%s: %s', (name, code) => {
    expect(verdict(name)).toBe(code);
  });

  test('a root whose path length, keyUsage or critical extensions forbid the intermediate is ROOT_CERT_INVALID at configuration', () => {
    const p = pki();
    const spec = appleRootSpec({ key: p.root.key });
    const rootWith = (extensions: typeof spec.extensions): string => toPem(buildCertificate({ ...spec, extensions }));
    const merchants = [{ certificate: p.merchants.ec.certPem, privateKey: p.merchants.ec.key.export({ format: 'pem', type: 'pkcs8' }) }];
    const configure = (root: string): ErrorCode | 'OK' => codeOf(() => createVerifier({ rootCertificate: root, merchants }));
    const others = spec.extensions.filter((e) => e.oid !== OID.basicConstraints && e.oid !== OID.keyUsage);
    expect(configure(rootWith([...others, ext.basicConstraints(true, 0), ext.keyUsage(['keyCertSign', 'cRLSign'])]))).toBe(
      'ROOT_CERT_INVALID',
    );
    expect(configure(rootWith([...others, ext.basicConstraints(true), ext.keyUsage(['cRLSign'])]))).toBe('ROOT_CERT_INVALID');
    expect(configure(rootWith([...spec.extensions, { oid: '1.3.6.1.4.1.11129.99.6', critical: true, value: der.nullValue() }]))).toBe(
      'ROOT_CERT_INVALID',
    );
    // Controls: path length 1 and no keyUsage at all are fine.
    expect(configure(rootWith([...others, ext.basicConstraints(true, 1), ext.keyUsage(['keyCertSign'])]))).toBe('OK');
    expect(configure(rootWith([...others, ext.basicConstraints(true)]))).toBe('OK');
  });
});

describe('input that can be read two ways is refused', () => {
  const verifier = testVerifier();

  test('a complete paymentData that also has a paymentData member (either order) is TOKEN_MALFORMED', () => {
    const outer = mint({ version: 'EC_v1' }).paymentData;
    const inner = mint({ version: 'EC_v1' }).paymentData;
    expect(codeOf(() => verifier.verifyAndDecryptSync({ ...outer, paymentData: inner }))).toBe('TOKEN_MALFORMED');
    expect(codeOf(() => verifier.verifyAndDecryptSync({ paymentData: inner, ...outer }))).toBe('TOKEN_MALFORMED');
    // As JSON text too, and with only part of a paymentData beside the member.
    expect(codeOf(() => verifier.verifyAndDecryptSync(JSON.stringify({ paymentData: inner, header: outer.header })))).toBe(
      'TOKEN_MALFORMED',
    );
    expect(codeOf(() => verifier.verifyAndDecryptSync({ paymentData: inner, version: 'EC_v1' }))).toBe('TOKEN_MALFORMED');
  });

  test('a wrapper whose paymentData holds another paymentData, and a paymentData carrying wrapper members, are TOKEN_MALFORMED', () => {
    const inner = mint({ version: 'EC_v1' }).paymentData;
    const other = mint({ version: 'EC_v1' }).paymentData;
    expect(codeOf(() => verifier.verifyAndDecryptSync({ paymentData: { ...inner, paymentData: other } }))).toBe('TOKEN_MALFORMED');
    expect(codeOf(() => verifier.verifyAndDecryptSync({ ...inner, transactionIdentifier: other.header.transactionId.toUpperCase() }))).toBe(
      'TOKEN_MALFORMED',
    );
    expect(codeOf(() => verifier.verifyAndDecryptSync({ ...inner, paymentMethod: { network: 'Visa' } }))).toBe('TOKEN_MALFORMED');
  });

  test('controls: the plain paymentData and the Apple Pay JS wrapper both verify', () => {
    const inner = mint({ version: 'EC_v1' }).paymentData;
    expect(codeOf(() => verifier.verifyAndDecryptSync(inner))).toBe('OK');
    const wrapped = mint({ version: 'EC_v1' }).paymentData;
    expect(
      codeOf(() =>
        verifier.verifyAndDecryptSync({
          paymentData: wrapped,
          paymentMethod: { network: 'Visa' },
          transactionIdentifier: wrapped.header.transactionId.toUpperCase(),
        }),
      ),
    ).toBe('OK');
  });
});
