// Every public error code, triggered through the public API by a realistic input and asserted.
// The last test checks that the list below covers ERROR_CODES, so a new code cannot ship untested.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ERROR_CODES, createVerifier, memoryReplayGuard, verifyAndDecrypt, type ErrorCode, type VerifierOptions } from '../../lib/index.js';
import * as der from '../../test-vectors/gen/der.js';
import { NAMES, appleIntermediateSpec, appleLeafSpec, issueCertificate } from '../../test-vectors/gen/pki.js';
import { keyFile, loadRealSet, mint, pki, testVerifier } from '../support/helpers.js';

const asserted = new Set<ErrorCode>();

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'ApplePayError', code });
  asserted.add(code);
}

function throwsWith(fn: () => unknown, code: ErrorCode): void {
  expect(fn).toThrow(expect.objectContaining({ name: 'ApplePayError', code }));
  asserted.add(code);
}

const verifier = testVerifier();

describe('configuration', () => {
  const p = pki();
  const ec = { certificate: p.merchants.ec.certPem, privateKey: keyFile(p.merchants.ec.keyPath) };
  const build = (options: Partial<VerifierOptions>) => () => createVerifier({ rootCertificate: p.root.certPem, merchants: ec, ...options });

  test('CONFIG_INVALID: options of the wrong type or value', () => {
    throwsWith(build({ maxSignatureAge: -1 }), 'CONFIG_INVALID');
    throwsWith(build({ maxClockSkew: Number.NaN }), 'CONFIG_INVALID');
    throwsWith(build({ versions: [] }), 'CONFIG_INVALID');
    throwsWith(build({ versions: ['EC_v2' as never] }), 'CONFIG_INVALID');
    throwsWith(build({ merchants: [] }), 'CONFIG_INVALID');
    throwsWith(build({ clock: 'now' as never }), 'CONFIG_INVALID');
    throwsWith(build({ maxSignatureAg: 300 } as never), 'CONFIG_INVALID');
    throwsWith(build({ merchants: { privateKey: ec.privateKey } }), 'CONFIG_INVALID');
    // The same key twice: two entries with one publicKeyHash.
    throwsWith(build({ merchants: [ec, { ...ec }] }), 'CONFIG_INVALID');
    // A merchant identifier that contradicts the certificate's extension.
    throwsWith(build({ merchants: { ...ec, merchantIdentifier: 'merchant.com.other' } }), 'CONFIG_INVALID');
  });

  test('MERCHANT_CERT_INVALID: unreadable certificate, or no merchant identifier extension', () => {
    throwsWith(build({ merchants: { ...ec, certificate: 'not a certificate' } }), 'MERCHANT_CERT_INVALID');
    throwsWith(
      build({ merchants: { ...ec, certificate: p.merchants.ec.certPem.replace(/[A-Z]/, 'A').replace('MII', 'MIJ') } }),
      'MERCHANT_CERT_INVALID',
    );
    // The WWDR look-alike is a well-formed certificate with a P-256 key but no 1.2.840.113635.100.6.32.
    throwsWith(build({ merchants: { certificate: p.wwdr.certPem, privateKey: keyFile(p.wwdr.keyPath) } }), 'MERCHANT_CERT_INVALID');
  });

  test('MERCHANT_KEY_INVALID: unreadable key, unsupported key, key of another certificate', () => {
    throwsWith(
      build({ merchants: { ...ec, privateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' } }),
      'MERCHANT_KEY_INVALID',
    );
    throwsWith(build({ merchants: { ...ec, privateKey: keyFile(p.merchants.ecRotated.keyPath) } }), 'MERCHANT_KEY_INVALID');
    // The root's key is P-384: Apple Pay merchant keys are P-256 or RSA.
    throwsWith(
      build({ merchants: { merchantIdentifier: 'merchant.com.example', privateKey: keyFile(p.root.keyPath) } }),
      'MERCHANT_KEY_INVALID',
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    throwsWith(build({ merchants: { merchantIdentifier: 'merchant.com.example', privateKey: small } }), 'MERCHANT_KEY_INVALID');
    throwsWith(
      build({ merchants: { certificate: p.merchants.ec.p12!, privateKey: p.merchants.ec.p12!, passphrase: 'wrong' } }),
      'MERCHANT_KEY_INVALID',
    );
  });

  test('ROOT_CERT_INVALID: unreadable root, or a root that is not a self-signed CA', () => {
    throwsWith(build({ rootCertificate: 'garbage' }), 'ROOT_CERT_INVALID');
    throwsWith(build({ rootCertificate: p.merchants.ec.certPem }), 'ROOT_CERT_INVALID');
  });
});

describe('token structure', () => {
  const token = mint({ version: 'EC_v1' }).paymentData;
  const text = JSON.stringify(token);

  test('TOKEN_MALFORMED: not JSON, duplicate and prototype keys, missing and mistyped fields', async () => {
    await rejectsWith(verifier.verifyAndDecrypt('{"version":'), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(Buffer.from([0x7b, 0xff, 0x7d])), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(text.replace('{', '{"data":"AAAA",')), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(text.replace('{', '{"__proto__":{},')), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(JSON.parse(text.replace('{', '{"__proto__":{"x":1},')) as unknown), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, header: undefined }), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, data: 5 }), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt([token]), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(null), 'TOKEN_MALFORMED');
  });

  test('TOKEN_MALFORMED: non-canonical base64 and hex, impossible lengths', async () => {
    const withHeader = (h: Record<string, unknown>) => ({ ...token, header: { ...token.header, ...h } });
    // URL-safe alphabet, junk, missing padding, and non-zero padding bits all decode "fine" with Buffer.
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, data: `-${token.data.slice(1)}` }), 'TOKEN_MALFORMED');
    await rejectsWith(
      verifier.verifyAndDecrypt({ ...token, data: token.data.endsWith('=') ? token.data.replace(/=+$/, '') : `${token.data}==` }),
      'TOKEN_MALFORMED',
    );
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, data: ` ${token.data}` }), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, signature: `${token.signature}AAAA=` }), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(withHeader({ publicKeyHash: 'QR==' })), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(withHeader({ transactionId: `${token.header.transactionId}0` })), 'TOKEN_MALFORMED');
    await rejectsWith(
      verifier.verifyAndDecrypt(withHeader({ transactionId: `${token.header.transactionId.slice(2)}zz` })),
      'TOKEN_MALFORMED',
    );
    await rejectsWith(verifier.verifyAndDecrypt(withHeader({ applicationData: 'abcd' })), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt(withHeader({ wrappedKey: token.header.ephemeralPublicKey })), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, data: Buffer.alloc(16).toString('base64') }), 'TOKEN_MALFORMED');
    await rejectsWith(verifier.verifyAndDecrypt({ paymentData: token, transactionIdentifier: 'AB'.repeat(32) }), 'TOKEN_MALFORMED');
  });

  test('TOKEN_TOO_LARGE: the token, or its signature, over the cap before any parsing', async () => {
    await rejectsWith(verifier.verifyAndDecrypt(`{"pad":"${'A'.repeat(70_000)}"}`), 'TOKEN_TOO_LARGE');
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, signature: Buffer.alloc(9000, 0x30).toString('base64') }), 'TOKEN_TOO_LARGE');
    // One byte over the 8 KiB cap, in as many base64 characters as 8 KiB takes.
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, signature: Buffer.alloc(8193, 0x30).toString('base64') }), 'TOKEN_TOO_LARGE');
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, data: 'A'.repeat(70_000) }), 'TOKEN_TOO_LARGE');
  });

  test('UNSUPPORTED_VERSION: an unknown version, or one the verifier does not enable', async () => {
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, version: 'EC_v2' }), 'UNSUPPORTED_VERSION');
    const ecOnly = testVerifier({ versions: ['EC_v1'] });
    await rejectsWith(ecOnly.verifyAndDecrypt(mint({ version: 'RSA_v1' }).paymentData), 'UNSUPPORTED_VERSION');
  });
});

describe('signature', () => {
  test('SIGNATURE_MALFORMED: attached content, two signers, no certificates, CRLs, random bytes, wrong versions', async () => {
    const cases = [
      { attachContent: Buffer.from('forged content') },
      { extraSigners: 1 },
      { noCertificates: true },
      { includeCrls: true },
      { signedDataVersion: 3 },
      { signerInfoVersion: 3 },
      { omitContentTypeAttr: true },
      { omitMessageDigest: true },
      { omitSignedAttributes: true },
      { contentTypeOid: '1.2.840.113549.1.7.2' },
      { eContentTypeOid: '1.2.840.113549.1.7.2' },
    ];
    for (const cms of cases) {
      await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', cms }).paymentData), 'SIGNATURE_MALFORMED');
    }
    const token = mint({ version: 'EC_v1' }).paymentData;
    await rejectsWith(verifier.verifyAndDecrypt({ ...token, signature: Buffer.alloc(2200, 7).toString('base64') }), 'SIGNATURE_MALFORMED');
  });

  test('signed attributes: each type at most once, and CMSAlgorithmProtection naming the algorithms in use', async () => {
    // Validly signed in both cases: only the attribute rules can refuse them.
    const attribute = (type: string, value: Buffer) => der.sequence([der.oid(type), der.set([value])]);
    const secondDigest = attribute('1.2.840.113549.1.9.4', der.octetString(Buffer.alloc(32)));
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', cms: { extraSignedAttributes: [secondDigest] } }).paymentData),
      'SIGNATURE_MALFORMED',
    );
    const protection = (signatureOid: string) =>
      attribute(
        '1.2.840.113549.1.9.52',
        der.sequence([der.sequence([der.oid('2.16.840.1.101.3.4.2.1')]), der.retagImplicit(1, der.sequence([der.oid(signatureOid)]))]),
      );
    const claimsSha384 = protection('1.2.840.10045.4.3.3');
    await rejectsWith(
      verifier.verifyAndDecrypt(
        mint({ version: 'EC_v1', cms: { omitAlgorithmProtection: true, extraSignedAttributes: [claimsSha384] } }).paymentData,
      ),
      'SIGNATURE_INVALID',
    );
    // The same attribute naming the algorithm actually used passes: the check is not a blanket refusal.
    const honest = protection('1.2.840.10045.4.3.2');
    await expect(
      verifier.verifyAndDecrypt(
        mint({ version: 'EC_v1', cms: { omitAlgorithmProtection: true, extraSignedAttributes: [honest] } }).paymentData,
      ),
    ).resolves.toBeDefined();
  });

  test('SIGNATURE_INVALID: tampered data, wrong digest, wrong algorithms, signature by another key', async () => {
    const good = mint({ version: 'EC_v1' }).paymentData;
    const tampered = Buffer.from(good.data, 'base64');
    tampered[0]! ^= 1;
    await rejectsWith(verifier.verifyAndDecrypt({ ...good, data: tampered.toString('base64') }), 'SIGNATURE_INVALID');
    await rejectsWith(
      verifier.verifyAndDecrypt({ ...good, header: { ...good.header, transactionId: 'ff'.repeat(32) } }),
      'SIGNATURE_INVALID',
    );
    const other = mint({ version: 'EC_v1' }).paymentData;
    // Apple's applicationData is hex; one C implementation base64-decoded it instead.
    await rejectsWith(
      verifier.verifyAndDecrypt({ ...good, header: { ...good.header, applicationData: 'ab'.repeat(32) } }),
      'SIGNATURE_INVALID',
    );
    await rejectsWith(verifier.verifyAndDecrypt({ ...good, signature: other.signature }), 'SIGNATURE_INVALID');
    for (const cms of [
      { messageDigestOverride: Buffer.alloc(32) },
      { signedContentOverride: Buffer.from('other bytes') },
      { signatureAlgorithmOid: '1.2.840.10045.4.3.3' },
      { digestAlgorithmOid: '2.16.840.1.101.3.4.2.2' },
    ]) {
      await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', cms }).paymentData), 'SIGNATURE_INVALID');
    }
    const p = pki();
    // The leaf's certificate, but a signature made with another key.
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signer: { certDer: p.leafEc.certDer, key: p.merchants.ec.key } }).paymentData),
      'SIGNATURE_INVALID',
    );
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'RSA_v1', signer: { certDer: p.leafRsa.certDer, key: p.merchants.rsa.key } }).paymentData),
      'SIGNATURE_INVALID',
    );
  });

  test('SIGNING_TIME_MISSING', async () => {
    await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime: null }).paymentData), 'SIGNING_TIME_MISSING');
  });

  test('SIGNING_TIME_TOO_OLD and SIGNING_TIME_IN_FUTURE, at the configured limits', async () => {
    const t = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000);
    const token = mint({ version: 'EC_v1', signingTime: t }).paymentData;
    await rejectsWith(verifier.verifyAndDecrypt(token, { now: new Date(t.getTime() + 301_000) }), 'SIGNING_TIME_TOO_OLD');
    await rejectsWith(verifier.verifyAndDecrypt(token, { now: new Date(t.getTime() - 61_000) }), 'SIGNING_TIME_IN_FUTURE');
    await expect(verifier.verifyAndDecrypt(token, { now: new Date(t.getTime() + 300_000) })).resolves.toBeDefined();
    await expect(verifier.verifyAndDecrypt(token, { now: new Date(t.getTime() - 60_000) })).resolves.toBeDefined();
    const strict = testVerifier({ maxSignatureAge: 10, maxClockSkew: 0, clock: () => new Date(t.getTime() + 11_000) });
    await rejectsWith(strict.verifyAndDecrypt(token), 'SIGNING_TIME_TOO_OLD');
  });
});

describe('certificates', () => {
  const p = pki();

  test('LEAF_CERT_INVALID: no leaf marker, or a leaf whose key does not fit the version', async () => {
    const spec = appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key });
    const unmarked = issueCertificate({ ...spec, extensions: spec.extensions.filter((e) => e.oid !== '1.2.840.113635.100.6.29') });
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signer: { certDer: unmarked, key: p.leafEc.key } }).paymentData),
      'LEAF_CERT_INVALID',
    );
    // An EC_v1 token signed by the RSA leaf (its algorithm identifier claiming ECDSA, as EC_v1 requires).
    await rejectsWith(
      verifier.verifyAndDecrypt(
        mint({
          version: 'EC_v1',
          signer: { certDer: p.leafRsa.certDer, key: p.leafRsa.key },
          cms: { signatureAlgorithmOid: '1.2.840.10045.4.3.2' },
        }).paymentData,
      ),
      'LEAF_CERT_INVALID',
    );
  });

  test('INTERMEDIATE_CERT_INVALID: no intermediate marker, or an intermediate that is not a CA', async () => {
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', certificates: [p.leafEc.certDer, p.wwdr.certDer] }).paymentData),
      'INTERMEDIATE_CERT_INVALID',
    );
    const spec = appleIntermediateSpec({ key: p.intermediate.key, issuerKey: p.root.key });
    const notCa = issueCertificate({
      ...spec,
      extensions: spec.extensions.map((e) =>
        e.oid === '2.5.29.19' ? { oid: '2.5.29.19', critical: true, value: Buffer.from('3000', 'hex') } : e,
      ),
    });
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', certificates: [p.leafEc.certDer, notCa] }).paymentData),
      'INTERMEDIATE_CERT_INVALID',
    );
  });

  test("CHAIN_UNTRUSTED: a foreign root with Apple's names, a leaf signed by another CA", async () => {
    const token = mint({ version: 'EC_v1' }).paymentData;
    // The default verifier pins the real Apple Root CA - G3; the test root only copies its names.
    const pinned = createVerifier({ merchants: { certificate: p.merchants.ec.certPem, privateKey: keyFile(p.merchants.ec.keyPath) } });
    await rejectsWith(pinned.verifyAndDecrypt(token), 'CHAIN_UNTRUSTED');
    // A leaf carrying the marker and the intermediate's name as issuer, but signed by the WWDR key.
    const forged = issueCertificate(appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.wwdr.key }));
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signer: { certDer: forged, key: p.leafEc.key } }).paymentData),
      'CHAIN_UNTRUSTED',
    );
    // Signed by the intermediate's key, but naming another issuer: the names must match as well.
    const misnamed = issueCertificate({
      ...appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key }),
      issuer: NAMES.wwdr,
    });
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signer: { certDer: misnamed, key: p.leafEc.key } }).paymentData),
      'CHAIN_UNTRUSTED',
    );
    // Including the real root in the token does not make it trusted: a third certificate is refused on sight.
    const withRoot = mint({ version: 'EC_v1', certificates: [p.leafEc.certDer, p.intermediate.certDer, p.root.certDer] }).paymentData;
    await rejectsWith(pinned.verifyAndDecrypt(withRoot), 'SIGNATURE_MALFORMED');
  });

  test('CERT_EXPIRED: a certificate not valid at the signing time', async () => {
    // The test leaf is valid from 2024-01-01.
    const before = new Date('2023-12-31T23:59:00Z');
    const token = mint({ version: 'EC_v1', signingTime: before }).paymentData;
    await rejectsWith(verifier.verifyAndDecrypt(token, { now: before }), 'CERT_EXPIRED');
    // A leaf that expires one second before the signing time.
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const expired = issueCertificate(
      appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key, notAfter: new Date(signingTime.getTime() - 1000) }),
    );
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime, signer: { certDer: expired, key: p.leafEc.key } }).paymentData, {
        now: signingTime,
      }),
      'CERT_EXPIRED',
    );
  });
});

describe('merchant key and decryption', () => {
  const p = pki();

  test('MERCHANT_KEY_NOT_FOUND: publicKeyHash names no configured merchant', async () => {
    await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', merchant: 'ecRotated' }).paymentData), 'MERCHANT_KEY_NOT_FOUND');
    // The hash of an RSA merchant on an EC_v1 token.
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', publicKeyHashOverride: p.merchants.rsa.publicKeyHash }).paymentData),
      'MERCHANT_KEY_NOT_FOUND',
    );
  });

  test('EPHEMERAL_KEY_INVALID: signed, but not an uncompressed P-256 point on the curve', async () => {
    const valid = Buffer.from(mint({ version: 'EC_v1' }).paymentData.header.ephemeralPublicKey!, 'base64');
    const offCurve = Buffer.from(valid);
    offCurve[90]! ^= 1;
    const compressed = Buffer.concat([
      Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
      Buffer.from([2 + (valid[90]! & 1)]),
      valid.subarray(27, 59),
    ]);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' });
    for (const key of [offCurve, compressed, p384]) {
      await rejectsWith(
        verifier.verifyAndDecrypt(mint({ version: 'EC_v1', ephemeralPublicKeyOverride: key }).paymentData),
        'EPHEMERAL_KEY_INVALID',
      );
    }
  });

  test('DECRYPTION_FAILED: tampered ciphertext or tag under a valid signature, wrong key with a matching hash', async () => {
    const { paymentData } = mint({ version: 'EC_v1' });
    const data = Buffer.from(paymentData.data, 'base64');
    const badTag = Buffer.from(data);
    badTag[badTag.length - 1]! ^= 1;
    const badCiphertext = Buffer.from(data);
    badCiphertext[0]! ^= 1;
    for (const dataOverride of [badTag, badCiphertext]) {
      await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', dataOverride }).paymentData), 'DECRYPTION_FAILED');
    }
    // Encrypted to the rotated key, but naming the configured one.
    await rejectsWith(
      verifier.verifyAndDecrypt(
        mint({ version: 'EC_v1', merchant: 'ecRotated', publicKeyHashOverride: p.merchants.ec.publicKeyHash }).paymentData,
      ),
      'DECRYPTION_FAILED',
    );
    const wrapped = Buffer.from(mint({ version: 'RSA_v1' }).paymentData.header.wrappedKey!, 'base64');
    wrapped[10]! ^= 1;
    await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'RSA_v1', wrappedKeyOverride: wrapped }).paymentData), 'DECRYPTION_FAILED');
    // A 32-byte AES key wrapped correctly: the unwrap succeeds, its length does not (RSA_v1 is AES-128).
    await rejectsWith(
      verifier.verifyAndDecrypt(mint({ version: 'RSA_v1', symmetricKey: Buffer.alloc(32, 1) }).paymentData),
      'DECRYPTION_FAILED',
    );
  });

  test("PAYLOAD_INVALID: decrypted data that is not Apple's payment JSON", async () => {
    for (const payment of [
      Buffer.from('not json'),
      Buffer.from([0xc3, 0x28]),
      { paymentDataType: 'EMV' },
      { ...JSON.parse('{}'), applicationPrimaryAccountNumber: 4111 },
    ]) {
      await rejectsWith(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', payment }).paymentData), 'PAYLOAD_INVALID');
    }
  });

  test('INTERNAL: a fault outside the token (a clock that throws) fails closed', async () => {
    const broken = testVerifier({
      trackLastError: true,
      clock: () => {
        throw new Error('clock source unavailable');
      },
    });
    await rejectsWith(broken.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData), 'INTERNAL');
    expect(broken.lastError()).toMatchObject({ code: 'INTERNAL' });
    expect(broken.lastError()?.message).not.toContain('clock source');
  });
});

describe('replay protection', () => {
  test('REPLAY_DETECTED: the same token accepted once, its replay refused', async () => {
    const guarded = testVerifier({ replayGuard: memoryReplayGuard() });
    const { paymentData } = mint({ version: 'EC_v1' });
    await expect(guarded.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
    await rejectsWith(guarded.verifyAndDecrypt(paymentData), 'REPLAY_DETECTED');
    // Same transactionId in other case: the id is compared decoded, not as text.
    const upper = { ...paymentData, header: { ...paymentData.header, transactionId: paymentData.header.transactionId.toUpperCase() } };
    await rejectsWith(guarded.verifyAndDecrypt(upper), 'REPLAY_DETECTED');
  });

  test('REPLAY_STORE_UNAVAILABLE: a failing store fails closed', async () => {
    const down = testVerifier({
      trackLastError: true,
      replayGuard: { claim: () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379')) },
    });
    await rejectsWith(down.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData), 'REPLAY_STORE_UNAVAILABLE');
    expect(down.lastError()?.message).not.toContain('ECONNREFUSED');
    const confused = testVerifier({ replayGuard: { claim: () => Promise.resolve('OK' as unknown as boolean) } });
    await rejectsWith(confused.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData), 'REPLAY_STORE_UNAVAILABLE');
  });

  test('a forged token never burns a genuine transactionId', async () => {
    const guarded = testVerifier({ replayGuard: memoryReplayGuard() });
    const genuine = mint({ version: 'EC_v1' });
    const forged = mint({
      version: 'EC_v1',
      transactionId: genuine.expected.transactionId,
      cms: { messageDigestOverride: Buffer.alloc(32) },
    });
    await expect(guarded.verifyAndDecrypt(forged.paymentData)).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    await expect(guarded.verifyAndDecrypt(genuine.paymentData)).resolves.toBeDefined();
  });

  test('the synchronous API refuses to run without the replay guard it was given', () => {
    const guarded = testVerifier({ replayGuard: memoryReplayGuard() });
    throwsWith(() => guarded.verifyAndDecryptSync(mint({ version: 'EC_v1' }).paymentData), 'CONFIG_INVALID');
  });
});

describe('environment', () => {
  test("SANDBOX_TOKEN_REFUSED: a token signed by a leaf named like Apple's sandbox leaf, with acceptSandbox: false", async () => {
    const p = pki();
    const leaf = issueCertificate({
      ...appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key }),
      subject: [{ type: 'CN', value: 'ecc-smp-broker-sign_UC4-SANDBOX' }, ...NAMES.leafEc.slice(1)],
    });
    const { paymentData } = mint({ version: 'EC_v1', signer: { certDer: leaf, key: p.leafEc.key } });
    await expect(testVerifier().verifyAndDecrypt(paymentData)).resolves.toMatchObject({ environment: 'test' });
    await rejectsWith(testVerifier({ acceptSandbox: false }).verifyAndDecrypt(paymentData), 'SANDBOX_TOKEN_REFUSED');
    // Production-named leaves still pass a production-only verifier.
    await expect(testVerifier({ acceptSandbox: false }).verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).resolves.toBeDefined();
  });
});

describe('one-shot API', () => {
  test('verifyAndDecrypt(token, options) reports configuration and token failures by code', async () => {
    const set = loadRealSet('gala-seatgeek-2014');
    await rejectsWith(
      verifyAndDecrypt(set.token, { merchants: { certificate: set.certificate, privateKey: 'nope' } }),
      'MERCHANT_KEY_INVALID',
    );
    const result = await verifyAndDecrypt(set.token, {
      merchants: { certificate: set.certificate, privateKey: set.privateKey },
      now: new Date(set.signingTime.getTime() + 1000),
    });
    expect(result.payment).toEqual(set.expected);
  });
});

test('every public error code was triggered and asserted above', () => {
  // Tests in a file run in order; this one runs last.
  expect(ERROR_CODES.filter((c) => !asserted.has(c))).toEqual([]);
});
